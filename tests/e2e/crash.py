"""kill -9 of the orchestrator mid-run: the execution becomes `lost` once its lease runs
out and is retried by its policy; the restarted orchestrator reconciles (the old sandbox's
processes and cgroups are gone) and runs the retry; no execution ends twice. (jobcell-init
has a parent-death signal, so the sandbox's processes may already be gone when the daemon
dies; its cgroups stay until the restart reconciles them.)"""
import os
import signal
import time

import jcluster
from jcluster import check

SCRIPT = r'''
if [ "$JOBCELL_ATTEMPT" = 1 ]; then
  echo "attempt 1 sleeping"
  sleep 120
fi
echo "attempt $JOBCELL_ATTEMPT done"
'''


def pids_in_cgroups(paths):
    pids = []
    for p in paths:
        try:
            with open(os.path.join(p, "cgroup.procs")) as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return pids


def main():
    build, source = jcluster.main_args()
    with jcluster.Cluster(build, source, slots=2, lease_s=4, uid_slot_base=72, name="crash") as c:
        j = c.submit({"runtime": "bash", "script": SCRIPT, "timeout_s": 300,
                      "retry": {"max_attempts": 2, "backoff_s": 1, "backoff_max_s": 2}})
        c.wait_status(j["id"], {"running"}, 30)
        first = c.latest(c.job(j["id"]))["id"]
        time.sleep(1)  # the job is inside its sleep
        cg = c.leftover_cgroups({first})
        check(cg, "the running sandbox has no cgroup to observe")
        orphans = pids_in_cgroups(cg)
        check(orphans, "the running sandbox has no process to observe")
        c.orc.send_signal(signal.SIGKILL)
        c.orc.wait(10)
        time.sleep(0.5)
        check(any(os.path.isdir(p) for p in cg), "the sandbox's cgroups vanished with the daemon")
        # the lease runs out (4 s) and the reaper marks it lost, then queues attempt 2
        end = time.time() + 30
        while time.time() < end:
            exe = c.call("GET", f"/v1/executions/{first}")
            if exe["status"] == "lost":
                break
            time.sleep(0.2)
        check(exe["status"] == "lost", f"first execution is {exe['status']}, want lost")
        check((exe.get("result") or {}).get("reason") == "lease_expired", f"reason {exe.get('result')}")
        # the orphaned sandbox still runs until the restart reconciles it
        c.start_orc()
        done = c.wait_jobs([j["id"]], timeout=60)[j["id"]]
        exes = sorted(done["executions"], key=lambda e: e["attempt"])
        check([e["attempt"] for e in exes] == [1, 2], f"attempts {[e['attempt'] for e in exes]}")
        check(exes[1]["status"] == "succeeded", f"retry is {exes[1]['status']}")
        check(c.logs(exes[1]["id"]) == b"attempt 2 done\n", f"retry log {c.logs(exes[1]['id'])!r}")
        again = c.call("GET", f"/v1/executions/{first}")
        check(again["status"] == "lost" and again.get("finished_at") == exe.get("finished_at"),
              f"the lost execution changed after the restart: {again['status']}")
        check(not c.leftover_cgroups({first}), "the first sandbox's cgroups survived reconcile")
        # the orphan slept 120 s: only the restart's reconcile can have ended it
        end = time.time() + 5  # SIGKILLed processes take a moment to be reaped
        while time.time() < end:
            alive = [p for p in set(orphans) if os.path.exists(f"/proc/{p}")]
            if not alive:
                break
            time.sleep(0.1)
        check(not alive, f"processes of the first sandbox survived: {alive}")
        check(not any(os.path.isdir(p) for p in cg), "cgroup directories of the first sandbox survived")

        # A host cut off longer than its lease (here: the daemon stopped with SIGSTOP):
        # the server gives the execution to a new attempt; when the daemon wakes, its next
        # call gets 409 lease_lost and it kills the sandbox without reporting a result.
        j2 = c.submit({"runtime": "bash", "script": SCRIPT, "timeout_s": 300,
                       "retry": {"max_attempts": 2, "backoff_s": 1, "backoff_max_s": 2}})
        c.wait_status(j2["id"], {"running"}, 30)
        stale = c.latest(c.job(j2["id"]))["id"]
        stale_cg = c.leftover_cgroups({stale})
        c.orc.send_signal(signal.SIGSTOP)
        try:
            end = time.time() + 30
            while time.time() < end and c.call("GET", f"/v1/executions/{stale}")["status"] != "lost":
                time.sleep(0.2)
        finally:
            c.orc.send_signal(signal.SIGCONT)
        lost = c.call("GET", f"/v1/executions/{stale}")
        check(lost["status"] == "lost", f"stopped daemon's execution is {lost['status']}")
        done = c.wait_jobs([j2["id"]], timeout=60)[j2["id"]]
        exes = sorted(done["executions"], key=lambda e: e["attempt"])
        check([e["status"] for e in exes] == ["lost", "succeeded"], f"statuses {[e['status'] for e in exes]}")
        end = time.time() + 15
        while time.time() < end and (c.leftover_cgroups({stale}) or "lease_lost_total 0" in c.metrics()):
            time.sleep(0.2)
        check(not c.leftover_cgroups({stale}) and stale_cg, "the fenced-off sandbox was not killed")
        check("jobcell_orchestrator_lease_lost_total 1" in c.metrics(), "lease loss not counted")
        again = c.call("GET", f"/v1/executions/{stale}")
        check(again["status"] == "lost" and again.get("result") == lost.get("result"),
              "the fenced-off execution was completed after all")
    print("ok: crash, lost, retry, reconcile; lease lost while stopped, sandbox killed")


if __name__ == "__main__":
    main()
