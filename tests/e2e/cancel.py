"""Cancel of a running job that ignores SIGTERM: its whole sandbox is killed within the
kill grace after the orchestrator learns of the cancel (next heartbeat)."""
import time

import jcluster
from jcluster import check

SCRIPT = r'''
trap '' TERM
( trap '' TERM; while true; do sleep 0.2; done ) &
echo started
while true; do sleep 0.2; done
'''


def main():
    build, source = jcluster.main_args()
    lease = 6  # heartbeat every 2 s
    grace = 2
    with jcluster.Cluster(build, source, slots=2, lease_s=lease, kill_grace_s=grace,
                          uid_slot_base=96, name="cancel") as c:
        j = c.submit({"runtime": "bash", "script": SCRIPT, "timeout_s": 300})
        c.wait_status(j["id"], {"running"}, 30)
        exe_id = c.latest(c.job(j["id"]))["id"]
        time.sleep(0.5)
        t0 = time.time()
        c.cancel(j["id"])
        done = c.wait_jobs([j["id"]], timeout=30)[j["id"]]
        took = time.time() - t0
        e = c.call("GET", f"/v1/executions/{exe_id}")
        check(e["status"] == "canceled", f"status {e['status']} {e.get('result')}")
        check((e.get("result") or {}).get("reason") == "canceled", f"reason {e.get('result')}")
        # heartbeat period + grace + delivery, with slack for a loaded machine
        check(took < lease / 3 + grace + 5, f"cancel took {took:.1f} s")
        check(not c.leftover_cgroups({exe_id}), "the canceled sandbox left cgroups")
        check(c.logs(exe_id) == b"started\n", f"log {c.logs(exe_id)!r}")
    print(f"ok: cancel killed the sandbox in {took:.1f} s")


if __name__ == "__main__":
    main()
