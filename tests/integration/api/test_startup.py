"""Start-up and command-line rules: the internal key and key ring are required, --help,
migrate, token create, unknown settings, signals; and the audit trail."""
import re
import os
import signal
import subprocess

from jcapi import BIN, Server, check, expect, finish


def run(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30, env=env)


for args in (["--help"], ["serve", "--help"], ["migrate", "--help"], ["token", "--help"]):
    r = run(*args)
    check(r.returncode == 0 and "Usage: jobcell-api" in r.stdout, "%s exits 0" % " ".join(args))
check("internal_key" in run("serve", "--help").stdout, "serve --help lists the settings")
check(run().returncode == 2, "no command -> exit 2")
check(run("frobnicate").returncode == 2, "unknown command -> exit 2")

# short key: refused at start
s = Server(key="x" * 31, start=False)
rc = s.start(expect_fail=True)
check(rc != 0 and "internal_key" in s.read_log(), "a 31-byte internal key is refused at start")
# no key at all
s2 = Server(start=False)
del s2.config["internal_key_file"]
import json
with open(s2.cfgpath, "w") as f:
    json.dump(s2.config, f)
rc = s2.start(expect_fail=True)
check(rc != 0 and "internal_key" in s2.read_log(), "a missing internal key is refused")
# key file readable by others
s3 = Server(start=False)
os.chmod(s3.config["internal_key_file"], 0o644)
check(s3.start(expect_fail=True) != 0, "an internal key file readable by others is refused")
# bad key ring
s4 = Server(start=False)
with open(s4.config["jwt_keyring_file"], "w") as f:
    json.dump({"active": "k9", "keys": {"k1": "c2hvcnQ"}}, f)
rc = s4.start(expect_fail=True)
check(rc != 0, "a bad key ring is refused")
# unknown setting
s5 = Server(extra={"listen_port": 5}, start=False)
rc = s5.start(expect_fail=True)
check(rc != 0 and "listen_port" in s5.read_log(), "an unknown setting is refused, named")

# migrate and token create
s6 = Server(start=False)
import re
r = run("migrate", "--config", s6.cfgpath)
m = re.search(r"schema version (\d+)", r.stdout)
# 3 or more: the audit trail is migration 3 (later features add theirs)
check(r.returncode == 0 and m and int(m.group(1)) >= 3, "migrate prints the version")
r = run("migrate", "--config", s6.cfgpath)
check(r.returncode == 0 and ("schema version %s" % m.group(1)) in r.stdout,
      "migrate is idempotent")
r = run("token", "create", "--config", s6.cfgpath, "--user", "ann", "--role", "root")
check(r.returncode == 2, "token create with a bad role -> exit 2")
r = run("token", "create", "--config", s6.cfgpath, "--role", "user")
check(r.returncode == 2, "token create without --user -> exit 2")
r = run("token", "create", "--config", s6.cfgpath, "--user", "ann", "--role", "admin")
tok = r.stdout.strip()
check(r.returncode == 0 and tok.startswith("jct_") and len(tok) == 47,
      "token create prints a jct_ token")
db = s6.db()
hashes = [x[0] for x in db.execute("SELECT sha256 FROM api_tokens")]
db.close()
import hashlib
check(hashes == [hashlib.sha256(tok.encode()).hexdigest()] and tok not in str(hashes),
      "only the SHA-256 of the token is stored")

# the server with that store; SIGINT stops it cleanly; audit events recorded
s6.start()
expect(s6.get("/v1/jobs", token=tok), 200, "the created token works")
expect(s6.get("/v1/jobs", token="jct_" + "B" * 43), 401, "wrong token")
j = s6.submit(tok).json
s6.request("POST", "/v1/jobs/%s/cancel" % j["id"], token=tok)
s6.request("POST", "/v1/tokens", body={"name": "x"}, token=tok)
rc = s6.stop(signal.SIGINT)
check(rc == 0, "SIGINT stops the server with exit 0")
rows = s6.rows("SELECT * FROM audit_log ORDER BY seq")
kinds = [r["kind"] for r in rows]
check("auth" in kinds and "job_cancel" in kinds and kinds.count("token_create") == 2,
      "audit events: auth failure, cancel, token creations (%r)" % kinds)
check(not any("B" * 43 in json.dumps(r) for r in rows), "audit never holds the secret")
af = [r for r in rows if r["kind"] == "auth" and r["outcome"] == "failure"][0]
check(af["reason"] == "unknown_token" and af["route_group"] == "jobs" and
      af["remote"] == "127.0.0.1" and af["actor"] == "unknown" and af["scheme"] == "token",
      "auth failure audit: group, reason, remote address, unknown actor (%r)" % af)
ok = [r for r in rows if r["kind"] == "auth" and r["outcome"] == "success"]
check(ok and ok[0]["actor_type"] == "user" and ok[0]["key_version"].startswith("tok_"),
      "auth success audit: the user and the token id (%r)" % ok)
cli = [r for r in rows if r["kind"] == "token_create" and r["scheme"] == "cli"]
check(len(cli) == 1 and cli[0]["actor_type"] == "operator", "token create on the command line")
finish()
