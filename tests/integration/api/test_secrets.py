"""Job secrets in the API server without an orchestrator: refused without a master key
(400 naming master_key_file, nothing stored); claimed in clear only in the claim answer;
a job whose secrets no longer open (master key replaced) is failed at claim time with a
setup_error naming the step, and never handed out; the server reloads a replaced master
key file by itself; and a sealed value copied into another job's row does not open."""
import json
import os
import sqlite3
import subprocess
import time

from jcapi import BIN, Server, check, expect, finish

SECRET = "plaintext-%d-never-stored" % os.getpid()

# without master_key_file: refused, named, nothing stored
s0 = Server()
t0 = s0.token("alice")
r = expect(s0.submit(t0, {"secrets": {"TOKEN": SECRET}}), 400,
           "secrets without a master key", "invalid_field", "secrets")
check("master_key_file" in r.json.get("message", "") and SECRET.encode() not in r.body,
      "the refusal names master_key_file and not the value")
expect(s0.submit(t0, {"secrets": {}}), 201, "an empty secrets object needs no key")
s0.stop()
db = sqlite3.connect(s0.config["store_path"])
check(db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1, "the refused job was not stored")
db.close()

# with a master key
s = Server(start=False)
master = os.path.join(s.dir, "master.json")
r = subprocess.run([BIN, "keys", "master", "init", "--file", master, "--kid", "m1"],
                   capture_output=True, text=True)
check(r.returncode == 0 and r.stdout.strip() == "m1" and os.stat(master).st_mode & 0o777 == 0o600,
      "keys master init writes a 0600 file")
r = subprocess.run([BIN, "keys", "master", "init", "--file", master], capture_output=True, text=True)
check(r.returncode == 1 and "already exists" in r.stderr, "init never replaces a key file")
s.config["master_key_file"] = master
s.config["log_level"] = "info"
with open(s.cfgpath, "w") as f:
    json.dump(s.config, f)
s.start()
tok = s.token("alice")
a = expect(s.submit(tok, {"secrets": {"TOKEN": SECRET}, "env": {"PLAIN": "p"}}), 201,
           "a job with secrets")
b = expect(s.submit(tok, {"secrets": {"OTHER": "x" * 10}}), 201, "a second job with secrets")
check("secrets" not in a.json and SECRET.encode() not in a.body, "the answer has no secrets")
r = expect(s.claim(slots=1), 200, "claim the first job")
job = r.json["claims"][0]["job"]
check(job["secrets"] == {"TOKEN": SECRET} and job["env"] == {"PLAIN": "p"},
      "the claim carries the secrets in clear, env unchanged")

# move job a's sealed value into job b's row: the AAD binds it to job a
db = sqlite3.connect(s.config["store_path"])
sa = db.execute("SELECT json_extract(spec, '$.secrets') FROM jobs WHERE id = ?",
                (a.json["id"],)).fetchone()[0]
check(sa.startswith("v1.m1.") and SECRET not in sa, "the store holds only the sealed value")
db.execute("UPDATE jobs SET spec = json_set(spec, '$.secrets', ?) WHERE id = ?",
           (sa, b.json["id"]))
db.commit()
db.close()
r = expect(s.claim(slots=1), 200, "claim the job holding a copied secret")
check(r.json["claims"] == [], "a job whose secrets do not open is not handed out")
e = s.get("/v1/jobs/%s" % b.json["id"], token=tok).json["executions"][0]
res = e.get("result") or {}
check(e["status"] == "failed" and res.get("reason") == "setup_error" and
      (res.get("setup_error") or {}).get("step") == "secrets",
      "it ends failed with setup_error step secrets (%r)" % e)

# a replaced master key file (a new key under the same kid) is reloaded within a second
c = expect(s.submit(tok, {"secrets": {"TOKEN": "y"}}), 201, "a third job")
os.unlink(master)
subprocess.run([BIN, "keys", "master", "init", "--file", master, "--kid", "m1"],
               capture_output=True, check=True)
deadline = time.time() + 10
claims = None
while time.time() < deadline:
    time.sleep(0.5)
    if "master key file loaded" in s.read_log():
        claims = s.claim(slots=1).json["claims"]
        break
check(claims == [], "after the reload the old value no longer opens (%r)" % claims)
log = s.read_log()
check(SECRET not in log, "the server log never holds the plaintext")
s.stop()
import glob
for path in glob.glob(s.config["store_path"] + "*"):
    with open(path, "rb") as f:
        check(SECRET.encode() not in f.read(), "%s never holds the plaintext" % path)
finish()
