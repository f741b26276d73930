"""Drain on SIGTERM: running jobs finish, no new claims, clean exit; past the drain
timeout running jobs are canceled. Also: the sd_notify messages (READY, STOPPING), a
SIGHUP reload that keeps the daemon running, and the strict spool mode (spool_after_ms 0)."""
import os
import socket
import time

import jcluster
from jcluster import check


def main():
    build, source = jcluster.main_args()
    c = jcluster.Cluster(build, source, slots=3, uid_slot_base=104, drain_timeout_s=20,
                         kill_grace_s=1, name="drain")
    notify_path = os.path.join(c.dir, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(5)
    c.orc_env = {"NOTIFY_SOCKET": notify_path}
    c.orc_args = ["--spool-after-ms", "0"]  # the strict spool mode: every result on disk first
    with c:
        check(notify.recv(4096).startswith(b"READY=1"), "no READY=1 from the orchestrator")
        c.orc.send_signal(1)  # SIGHUP: reopen logs, reload profiles and keys, keep running
        time.sleep(0.5)
        check(c.orc.poll() is None, "SIGHUP stopped the orchestrator")
        check('"msg":"reloaded"' in c.orc_log(), "no reload logged after SIGHUP")
        ids = [c.submit({"runtime": "bash", "script": f"sleep 2; echo drained {i}\n"})["id"] for i in range(3)]
        for i in ids:
            c.wait_status(i, {"running"}, 30)
        c.orc.send_signal(15)
        time.sleep(0.3)
        late = c.submit({"runtime": "bash", "script": "echo late\n"})["id"]
        rc = c.orc.wait(30)
        check(rc == 0, f"orchestrator exit status {rc}")
        check(notify.recv(4096) == b"STOPPING=1", "no STOPPING=1 on SIGTERM")
        for n, i in enumerate(ids):
            e = c.latest(c.job(i))
            check(e["status"] == "succeeded", f"job {n}: {e['status']}")
            check(c.logs(e["id"]) == f"drained {n}\n".encode(), f"job {n} log")
        check(c.latest(c.job(late))["status"] == "queued", "a job was claimed while draining")

        # drain timeout: a long job is canceled when the timeout passes
        c.drain_timeout_s = 2
        c.start_orc()
        c.wait_status(late, {"succeeded"}, 30)
        long = c.submit({"runtime": "bash", "script": "sleep 100\n"})["id"]
        c.wait_status(long, {"running"}, 30)
        t0 = time.time()
        c.orc.send_signal(15)
        rc = c.orc.wait(30)
        check(rc == 0, f"orchestrator exit status {rc} after drain timeout")
        e = c.latest(c.job(long))
        check(e["status"] == "canceled", f"long job: {e['status']}")
        check(time.time() - t0 < 15, "drain timeout not applied")

        # a second signal cancels at once, whatever the drain timeout
        c.drain_timeout_s = 60
        c.start_orc()
        long2 = c.submit({"runtime": "bash", "script": "sleep 100\n"})["id"]
        c.wait_status(long2, {"running"}, 30)
        t0 = time.time()
        c.orc.send_signal(15)
        time.sleep(0.5)
        check(c.orc.poll() is None, "the orchestrator did not wait for its running job")
        c.orc.send_signal(15)
        rc = c.orc.wait(30)
        check(rc == 0, f"orchestrator exit status {rc} after a second signal")
        check(c.latest(c.job(long2))["status"] == "canceled", "second signal did not cancel")
        check(time.time() - t0 < 15, "second signal did not cancel at once")
    print("ok: drain")


if __name__ == "__main__":
    main()
