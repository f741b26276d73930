"""Seccomp profiles per job, reloaded on SIGHUP: a job runs under the profile it names; a
changed profile is picked up by SIGHUP; a profile broken on disk is reported in the log and
its previous compiled version is kept, and the daemon goes on running jobs."""
import json
import os
import shutil
import time

import jcluster
from jcluster import check


def without_uname(profile):
    """The same profile, with uname no longer allowed (the default action denies it)."""
    p = json.loads(json.dumps(profile))
    rules = []
    for rule in p["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != "uname"]
        if rule["names"]:
            rules.append(rule)
    p["syscalls"] = rules
    p["description"] = "default without uname (test)"
    return p


def run_uname(c):
    job = c.submit({"runtime": "bash", "script": "uname -s\n", "profile": "probe"})
    c.wait_jobs([job["id"]], 60)
    e = c.latest(c.job(job["id"]))
    return e, c.logs(e["id"])


def main():
    build, source = jcluster.main_args()
    c = jcluster.Cluster(build, source, slots=2, uid_slot_base=112, name="profiles")
    c.profile_dir = os.path.join(c.dir, "profiles")
    shutil.copytree(os.path.join(source, "profiles"), c.profile_dir)
    with open(os.path.join(source, "profiles", "default.json")) as f:
        default = json.load(f)
    probe = os.path.join(c.profile_dir, "probe.json")

    def write_probe(text):
        tmp = probe + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, probe)

    write_probe(json.dumps(dict(default, description="a copy of default (test)")))
    with c:
        # 1. the job runs under the profile it names, here a copy of default
        e, log = run_uname(c)
        check(e["status"] == "succeeded", f"uname under the copy of default: {e['status']}")
        check(log == b"Linux\n", f"uname output {log!r}")

        # 2. a changed profile takes effect after SIGHUP
        write_probe(json.dumps(without_uname(default)))
        c.orc.send_signal(1)
        time.sleep(1.0)
        e, log = run_uname(c)
        check(e["status"] == "failed" and e["result"]["exit_code"] == 1,
              f"uname denied after reload: {e['status']} {e.get('result')}")
        check(b"Operation not permitted" in log, f"uname's error: {log!r}")

        # 3. a profile broken on disk: logged, the previous compiled version kept
        write_probe('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [')
        c.orc.send_signal(1)
        deadline = time.time() + 10
        while time.time() < deadline and "keeping its previous version" not in c.orc_log():
            time.sleep(0.2)
        log_text = c.orc_log()
        broken = [json.loads(l) for l in log_text.splitlines()
                  if '"profile broken; keeping its previous version"' in l]
        check(broken and broken[-1].get("profile") == "probe",
              "no error logged for the broken profile")
        check(c.orc.poll() is None, "SIGHUP with a broken profile stopped the orchestrator")
        e, log = run_uname(c)
        check(e["status"] == "failed" and e["result"]["exit_code"] == 1,
              f"the previous (uname-denying) version was not kept: {e['status']} {log!r}")
        ok = c.submit({"runtime": "bash", "script": "echo still running\n"})
        c.wait_jobs([ok["id"]], 60)
        e = c.latest(c.job(ok["id"]))
        check(e["status"] == "succeeded" and c.logs(e["id"]) == b"still running\n",
              f"a default job after the broken reload: {e['status']}")
    print("ok: profiles chosen per job, reloaded on SIGHUP, a broken one keeps its previous version")


if __name__ == "__main__":
    main()
