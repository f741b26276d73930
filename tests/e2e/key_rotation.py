"""Key rotation without downtime, end to end: while 50 jobs run (each calls the runtime API
before and after the rotations and prints the SHA-256 of its secret), the execution-token
key ring gets a new key which is then made active, and the master key gets a new key, made
active, and every stored secret is re-encrypted under it (rewrap). None of the 50 fails.
Retiring the old token key is refused while its tokens may live. Then break-glass:
revoke-all-tokens makes a running job's token invalid at once while the orchestrator keeps
claiming, and a new job's runtime calls work. The audit trail's filters and the key events
are checked on the way."""
import hashlib
import json
import os
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import jcluster
from jcluster import check

SCRIPT = r'''
set -e
jobcell_input >/dev/null
sleep 1
jobcell_output '{"ok": true}' >/dev/null
printf '%s' "$S" | sha256sum | cut -d' ' -f1
'''

LONG = r'''
echo "token=$JOBCELL_EXECUTION_TOKEN"
sleep 8
'''


class KeyCluster(jcluster.Cluster):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.master = os.path.join(self.dir, "master.json")
        self.keys("master", "init", "--file", self.master, "--kid", "m1")

    def api_cmd(self):
        return super().api_cmd() + ["--master-key-file", self.master, "--log-level", "info"]

    def keys(self, *args, ok=True):
        r = subprocess.run([self.bin("runtime-api", "jobcell-api"), "keys", *args],
                           capture_output=True, text=True, timeout=60)
        if ok:
            check(r.returncode == 0, f"keys {args}: {r.returncode} {r.stderr}")
        return r

    def runtime_get(self, path, token):
        req = urllib.request.Request(f"http://127.0.0.1:{self.rt_port}{path}",
                                     headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def config_file(self):
        path = os.path.join(self.dir, "keys-config.json")
        with open(path, "w") as f:
            json.dump({"store_path": os.path.join(self.dir, "jobcell.db"),
                       "master_key_file": self.master}, f)
        return path


def submit_batch(c, n, tag):
    jobs = {}
    for i in range(n):
        s = f"secret-{tag}-{i}-{os.urandom(6).hex()}"
        j = c.submit({"runtime": "bash", "script": SCRIPT, "secrets": {"S": s}, "timeout_s": 120})
        jobs[j["id"]] = hashlib.sha256(s.encode()).hexdigest()
    return jobs


def sealed_kids(c):
    db = sqlite3.connect(os.path.join(c.dir, "jobcell.db"))
    try:
        return [r[0].split(".")[1] for r in
                db.execute("SELECT json_extract(spec, '$.secrets') FROM jobs"
                           " WHERE json_type(spec, '$.secrets') = 'text'")]
    finally:
        db.close()


T0 = time.time()


def phase(what):
    print(f"[{time.time() - T0:6.1f} s] {what}", flush=True)


def main():
    build, source = jcluster.main_args()
    with KeyCluster(build, source, slots=8, uid_slot_base=144, name="keyrot") as c:
        cfg = c.config_file()
        phase("cluster up")
        jobs = submit_batch(c, 30, "a")
        phase("30 jobs submitted")
        time.sleep(1.5)
        # token key ring: add k2 everywhere (the server and the orchestrator reload it)
        c.keys("jwt", "add", "--file", c.keyring, "--kid", "k2", "--config", cfg)
        time.sleep(1.5)
        c.keys("jwt", "activate", "--file", c.keyring, "--kid", "k2", "--config", cfg)
        r = c.keys("jwt", "retire", "--file", c.keyring, "--kid", "k1", ok=False)
        check(r.returncode == 1 and "may be valid" in r.stderr,
              f"retire of the key that signed live tokens: {r.returncode} {r.stderr}")
        # master key: add m2, activate it, then re-encrypt what is stored
        c.keys("master", "add", "--file", c.master, "--kid", "m2", "--config", cfg)
        c.keys("master", "activate", "--file", c.master, "--kid", "m2", "--config", cfg)
        time.sleep(1.5)  # the server sees the file change within a second
        jobs.update(submit_batch(c, 20, "b"))
        r = c.keys("rewrap", "--config", cfg, "--batch", "7")
        check(" 0 failed" in r.stdout, f"rewrap: {r.stdout} {r.stderr}")
        r2 = c.keys("rewrap", "--config", cfg)
        check("0 re-encrypted" in r2.stdout and "50 sealed values" in r2.stdout,
              f"a second rewrap has nothing to do: {r2.stdout}")
        check(set(sealed_kids(c)) == {"m2"}, f"sealed kids after rewrap: {set(sealed_kids(c))}")

        phase("rotations done")
        done = c.wait_jobs(list(jobs), timeout=480)
        phase("50 jobs finished")
        bad = []
        for jid, want in jobs.items():
            e = c.latest(done[jid])
            log = c.logs(e["id"]).decode()
            if e["status"] != "succeeded" or log.strip() != want:
                bad.append((jid, e["status"], e.get("result"), log[-200:]))
        check(not bad, f"{len(bad)} of 50 jobs failed across the rotations: {bad[:3]}")
        print(f"ok: 50 jobs succeeded across token and master key rotations ({r.stdout.strip()})")

        # the audit trail: filters, key events, nothing secret
        for k in ("job_submit", "key_reload_jwt", "key_reload_master", "key_jwt_add",
                  "key_jwt_activate", "key_master_activate", "key_rewrap"):
            got = c.call("GET", f"/v1/audit?kind={k}")["events"]
            check(got and all(e["kind"] == k for e in got), f"audit has no {k} event")
        rotated = [e for e in c.call("GET", "/v1/audit?kind=key_reload_jwt")["events"]
                   if e["key_version"] == "k2"]
        check(rotated, "the reload to k2 is in the audit trail")
        ev = c.call("GET", "/v1/audit?kind=auth&limit=1000")["events"]
        subs = c.call("GET", "/v1/audit?kind=job_submit&limit=1000")["events"]
        check(len(subs) == 50 and all(e["actor"] == {"type": "user", "id": "e2e"} and
                                      e["scheme"] == "token" and e["outcome"] == "success"
                                      for e in subs), f"job_submit events: {len(subs)}")
        mine = c.call("GET", "/v1/audit?actor=e2e&limit=1000")["events"]
        check(mine and all(e["actor"]["id"] == "e2e" for e in mine), "actor filter")
        # runtime API successes: aggregated per execution, signed before and after k2
        first_exe = c.latest(done[next(iter(jobs))])["id"]
        last_exe = c.latest(done[list(jobs)[-1]])["id"]
        kids = {}
        for exe in (first_exe, last_exe):
            rows = c.call("GET", f"/v1/audit?actor={exe}&kind=auth")["events"]
            check(rows and all(e["scheme"] == "jwt" and e["actor"]["type"] == "execution" and
                               e["outcome"] == "success" for e in rows) and
                  sum(e["count"] for e in rows) >= 2,
                  f"runtime API successes of {exe} are audited: {rows}")
            kids[exe] = {e["key_version"] for e in rows}
        check(kids[first_exe] == {"k1"} and kids[last_exe] == {"k2"},
              f"the first job's token was signed by k1, the last one's by k2: {kids}")
        future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        check(c.call("GET", f"/v1/audit?since={future}")["events"] == [], "since filter")
        page = c.call("GET", "/v1/audit?limit=2")
        check(len(page["events"]) == 2 and page["next_cursor"], "paging")
        nxt = c.call("GET", f"/v1/audit?limit=2&cursor={page['next_cursor']}")
        check(nxt["events"][0]["seq"] < page["events"][1]["seq"], "the next page is older")

        phase("audit checked")
        # break-glass: revoke every execution token while a job runs
        long = c.submit({"runtime": "bash", "script": LONG, "timeout_s": 60})
        c.wait_status(long["id"], {"running"}, 30)
        exe_id = c.latest(c.job(long["id"]))["id"]
        token = None
        for _ in range(100):
            log = c.logs(exe_id).decode()
            if "token=" in log and log.endswith("\n"):
                token = log.split("token=", 1)[1].strip()
                break
            time.sleep(0.1)
        check(token, "the long job printed its token")
        check(c.runtime_get(f"/executions/{exe_id}/input", token) == 200, "token works before")
        r = c.keys("revoke-all-tokens", "--file", c.keyring, "--config", cfg)
        time.sleep(2)  # the server's watcher: within a second
        check(c.runtime_get(f"/executions/{exe_id}/input", token) == 401,
              "the old execution token is refused after revoke-all-tokens")
        fresh = submit_batch(c, 2, "c")
        done = c.wait_jobs(list(fresh) + [long["id"]], timeout=60)
        for jid, want in fresh.items():
            e = c.latest(done[jid])
            check(e["status"] == "succeeded" and c.logs(e["id"]).decode().strip() == want,
                  f"a job after revoke-all-tokens: {e['status']} {e.get('result')}")
        fails = c.call("GET", "/v1/audit?outcome=failure&limit=1000")["events"]
        check(fails and all(e["outcome"] == "failure" and e["actor"]["id"] == "unknown"
                            for e in fails), "outcome filter; failures have an unknown actor")
        check(any(e["reason"].startswith("invalid_token:") and e["scheme"] == "jwt"
                  for e in fails), "the refused old token is in the audit trail")
        audit_text = json.dumps(c.call("GET", "/v1/audit?limit=1000"))
        check(token not in audit_text and "secret-a-" not in audit_text,
              "no token or secret in the audit trail")
    print("ok: revoke-all-tokens killed the running token; the orchestrator kept working")


if __name__ == "__main__":
    main()
