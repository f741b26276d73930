"""The API server stopped for 20 s mid-run and restarted: every result arrives (spooled
meanwhile), nothing is lost, nothing runs or ends twice. While the server is away the
orchestrator is also killed (-9) and restarted: the results come back from its disk spool."""
import os
import re
import signal
import time

import jcluster
from jcluster import check


def script(i):
    return f'for n in 1 2 3 4 5 6; do echo "job {i} tick $n"; sleep 1; done\n'


def main():
    build, source = jcluster.main_args()
    with jcluster.Cluster(build, source, slots=8, uid_slot_base=80, name="outage") as c:
        ids = [c.submit({"runtime": "bash", "script": script(i)})["id"] for i in range(12)]
        # let the first wave run, then take the server away for 20 s
        end = time.time() + 30
        while time.time() < end:
            running = sum(1 for i in ids if c.latest(c.job(i))["status"] == "running")
            if running >= 4:
                break
            time.sleep(0.2)
        check(running >= 4, "jobs did not start")
        time.sleep(1)
        c.stop_proc(c.api)
        time.sleep(20)
        # the first wave has finished meanwhile: its results wait in the spool
        depth = int(re.search(r"jobcell_orchestrator_spool_depth (\d+)", c.metrics()).group(1))
        check(depth >= 4, f"spool depth {depth} after the outage, want the first wave")
        spool = os.path.join(c.dir, "state", "spool")
        check(os.stat(spool).st_mode & 0o777 == 0o700, "spool directory is not 0700")
        files = [f for f in os.listdir(spool) if f.endswith(".spool")]
        check(len(files) == depth, f"{len(files)} spool files for a depth of {depth}")
        check(all(os.stat(os.path.join(spool, f)).st_mode & 0o777 == 0o600 for f in files),
              "spool files are not 0600")
        # lose the daemon too: only the disk has the results now
        c.orc.send_signal(signal.SIGKILL)
        c.orc.wait(10)
        c.start_orc()
        time.sleep(1)
        c.start_api()
        done = c.wait_jobs(ids, timeout=120)
        for i, jid in enumerate(ids):
            j = done[jid]
            check(len(j["executions"]) == 1, f"job {i}: {len(j['executions'])} executions")
            e = c.latest(j)
            check(e["status"] == "succeeded", f"job {i}: {e['status']}")
            want = "".join(f"job {i} tick {n}\n" for n in range(1, 7)).encode()
            got = c.logs(e["id"])
            check(got == want, f"job {i}: log {got!r}")
        m2 = c.metrics()
        check("jobcell_orchestrator_spool_depth 0" in m2, "spool not empty at the end")
        check(not [f for f in os.listdir(spool) if f.endswith(".spool")], "spool files left")
    print("ok: server outage of 20 s and a daemon restart, every result delivered once")


if __name__ == "__main__":
    main()
