"""Signed internal requests end to end: the API server refuses the shared key
(internal_auth.require_hmac), the orchestrator signs every request with its own credential
and jobs run; then the credential is rotated while 50 jobs run (the orchestrator is
restarted with the new one, draining first) and none fails; the old credential is revoked;
no secret reaches a log or the store in clear."""
import base64
import json
import os
import sqlite3
import subprocess
import time
import urllib.request

import jcluster
from jcluster import check


class SignedCluster(jcluster.Cluster):
    def api_cmd(self):
        return super().api_cmd() + ["--master-key-file", self.master,
                                    "--internal-auth.require-hmac", "true",
                                    "--audit.aggregate-s", "0"]  # one audit row per request


def orchestrator_cmd(c, *args):
    env = dict(os.environ, JOBCELL_MASTER_KEY_FILE=c.master)
    r = subprocess.run([c.bin("runtime-api", "jobcell-api"), "orchestrator", *args,
                        "--store-path", os.path.join(c.dir, "jobcell.db")],
                       capture_output=True, text=True, timeout=30, env=env)
    check(r.returncode == 0, f"jobcell-api orchestrator {' '.join(args)}: {r.stderr}")
    return r.stdout


def credential(c, action, n):
    path = os.path.join(c.dir, f"orc-secret-{n}")
    out = orchestrator_cmd(c, action, c.orc_id, "--secret-file", path)
    key_id = out.strip().split("=", 1)[1]
    with open(path) as f:
        secret = f.read().strip()
    return key_id, path, secret


def api_metrics(c):
    with urllib.request.urlopen(f"http://127.0.0.1:{c.api_port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def main():
    build, source = jcluster.main_args()
    c = SignedCluster(build, source, slots=4, uid_slot_base=136, drain_timeout_s=60, name="hmac")
    k = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    c.master = c._secret_file("master.json", json.dumps({"active": "m1", "keys": {"m1": k}}))
    key1, path1, secret1 = credential(c, "add", 1)
    c.orc_args = ["--internal-key-id", key1, "--internal-secret-file", path1]
    with c:
        # jobs run with a signing orchestrator (the shared key would be refused)
        ids = [c.submit({"runtime": "bash", "script": f"echo signed {i}\n"})["id"] for i in range(4)]
        done = c.wait_jobs(ids, 60)
        check(all(c.latest(j)["status"] == "succeeded" for j in done.values()),
              "jobs run by a signing orchestrator succeed")
        m = api_metrics(c)
        check(metric(m, 'jobcell_internal_auth_total{scheme="hmac"}') > 0 and
              metric(m, 'jobcell_internal_auth_total{scheme="bearer"}') == 0,
              "every internal request was signed, none used the shared key")

        # rotation while 50 jobs run: the old secret stays valid (grace period) while the
        # orchestrator drains; the new orchestrator process signs with the new one
        ids = [c.submit({"runtime": "bash", "script": f"echo r{i}\n"})["id"] for i in range(50)]
        deadline = time.time() + 60
        while time.time() < deadline:
            started = sum(1 for i in ids if c.latest(c.job(i))["status"] != "queued")
            if started >= 8:
                break
            time.sleep(0.1)
        key2, path2, secret2 = credential(c, "rotate", 2)
        # the old credential keeps working during the grace period
        time.sleep(0.5)
        c.orc.send_signal(15)
        rc = c.orc.wait(90)
        check(rc == 0, f"the orchestrator drained and exited ({rc})")
        c.orc_args = ["--internal-key-id", key2, "--internal-secret-file", path2]
        c.start_orc()
        done = c.wait_jobs(ids, 240)
        bad = [i for i, j in done.items() if c.latest(j)["status"] != "succeeded"]
        check(len(done) == 50 and not bad, f"all 50 jobs succeeded across the rotation ({bad[:5]})")
        for n, i in enumerate(ids[:5]):
            check(c.logs(c.latest(done[i])["id"]) == f"r{n}\n".encode(), f"job r{n} log")

        # revoke the old credential: the orchestrator, now on the new one, keeps working
        orchestrator_cmd(c, "revoke", key1)
        ls = orchestrator_cmd(c, "ls")
        check(key1 in ls and "revoked" in ls and key2 in ls, "ls shows the old key revoked")
        ids = [c.submit({"runtime": "bash", "script": f"echo after {i}\n"})["id"] for i in range(3)]
        done = c.wait_jobs(ids, 60)
        check(all(c.latest(j)["status"] == "succeeded" for j in done.values()),
              "jobs run after the old credential is revoked")

        db = sqlite3.connect(os.path.join(c.dir, "jobcell.db"), timeout=10)
        rows = db.execute("SELECT reason, scheme FROM audit_log WHERE outcome = 'failure'").fetchall()
        kinds = [r[0] for r in db.execute("SELECT kind FROM audit_log")]
        schemes = {r[0] for r in db.execute("SELECT scheme FROM audit_log WHERE kind = 'auth'"
                                            " AND actor = ?", (c.orc_id,))}
        db.close()
        check(rows == [], f"no internal request was refused in the whole run ({rows[:3]})")
        check("orchestrator_key_rotate" in kinds and "orchestrator_key_revoke" in kinds,
              "the key operations are in the audit trail")
        check(schemes == {"hmac"}, f"the orchestrator authenticated by hmac only ({schemes})")
    # after the stop: neither secret anywhere in the logs or the store files
    blob = b""
    if os.path.isdir(c.dir):
        for name in ("api.log", "orchestrator.log", "orchestrator.stderr", "jobcell.db",
                     "jobcell.db-wal"):
            p = os.path.join(c.dir, name)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    blob += f.read()
        hits = sum(blob.count(s.encode()) + blob.count(bytes.fromhex(s)) for s in (secret1, secret2))
        check(hits == 0, f"no orchestrator secret in logs or store ({hits} hits)")
    print("ok: signed")


if __name__ == "__main__":
    main()
