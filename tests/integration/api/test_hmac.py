"""Signed internal requests: orchestrator credentials (jobcell-api orchestrator add|ls|
revoke|rotate), every refusal of the HMAC check with its reason in the audit trail, the
rollout switch (require_hmac), least privilege between /v1 and /internal/v1, secrets never
stored or logged in clear, and the per-address auth-failure limit.

Signatures are computed here with Python's hmac module, independently of the server."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

from jcapi import BIN, Server, check, expect, finish


def master_key_file(d):
    path = os.path.join(d, "master.json")
    k = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    with open(path, "w") as f:
        json.dump({"active": "m1", "keys": {"m1": k}}, f)
    os.chmod(path, 0o600)
    return path


def make_server(extra=None):
    s = Server(start=False)
    cfg = dict(s.config)
    cfg["master_key_file"] = master_key_file(s.dir)
    cfg["auth_fail_limit"] = {"per_minute": 100000}
    cfg.update(extra or {})
    s.config = cfg
    with open(s.cfgpath, "w") as f:
        json.dump(cfg, f)
    s.start()
    return s


def orc_cmd(s, *args):
    return subprocess.run([BIN, "orchestrator", *args, "--config", s.cfgpath],
                          capture_output=True, text=True, timeout=20)


def add_key(s, name, action="add", *extra):
    r = orc_cmd(s, action, name, *extra)
    assert r.returncode == 0, r.stderr
    kv = dict(line.split("=", 1) for line in r.stdout.split())
    return kv["key_id"], kv["secret"]


def sign(secret, method, target, orc, ts, body):
    canon = "%s\n%s\n%s\n%s\n%s" % (method, target, orc, ts, hashlib.sha256(body).hexdigest())
    return hmac.new(bytes.fromhex(secret), canon.encode(), hashlib.sha256).hexdigest()


def signed(s, method, target, body=b"", orc="host-a", key=None, ts=None, sig=None,
           sign_target=None, sign_body=None, sign_orc=None, extra=None, ctype="application/json"):
    key_id, secret = key
    ts = str(int(time.time())) if ts is None else str(ts)
    if sig is None:
        sig = sign(secret, method, sign_target or target, sign_orc or orc, ts,
                   body if sign_body is None else sign_body)
    h = {"X-Orchestrator-ID": orc, "X-JC-Key-Id": key_id, "X-JC-Timestamp": ts,
         "X-JC-Signature": sig}
    if body:
        h["Content-Type"] = ctype
    h.update(extra or {})
    return s.request(method, target, raw=body, headers=h)


_seen = {}


def last_failure(s, fresh=True):
    """The newest refusal of an internal request in the audit trail, as a dict. The trail is written by a
    background writer: with fresh, wait (bounded) for an event newer than the last one seen."""
    deadline = time.time() + 5
    while True:
        db = s.db()
        try:
            row = db.execute("SELECT seq, reason, scheme, route_group, actor, actor_type,"
                             " key_version FROM audit_log WHERE outcome = 'failure'"
                             " AND route_group IN ('claims', 'internal')"
                             " ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            db.close()
        if row and (not fresh or row[0] > _seen.get(s.dir, 0)):
            break
        if time.time() > deadline:
            return {}
        time.sleep(0.02)
    _seen[s.dir] = row[0]
    f = {"reason": row[1], "scheme": row[2], "group": row[3], "actor": row[4],
         "actor_type": row[5]}
    if row[6]:
        f["key_id"] = row[6]
    return f


def refused(s, resp, reason, what, status=401):
    f = last_failure(s)
    check(resp.status == status and f.get("reason") == reason and f.get("group") in
          ("claims", "internal") and f.get("scheme") == "hmac",
          "%s -> %d, audit reason %s (got %r, %r)" % (what, status, reason, resp, f))
    return f


CLAIM = b'{"slots":1,"wait_s":0}'
_n = [0]


def fresh():
    """A claim body not sent before: two identical requests signed in the same second are
    one request sent twice (a replay), whoever sends them."""
    _n[0] += 1
    return ('{"slots":%d,"wait_s":0}' % (_n[0] % 64 + 1)).encode() + b" " * (_n[0] // 64)

s = make_server()
admin = s.token("root", "admin")

# ---- credentials: add, ls, help, usage ---------------------------------------------------
ka = add_key(s, "host-a")
kb = add_key(s, "host-b")
check(ka[0].startswith("ok_") and len(ka[1]) == 64 and all(c in "0123456789abcdef" for c in ka[1]),
      "add prints a key id and a 64-hex secret once")
r = orc_cmd(s, "ls")
check(r.returncode == 0 and ka[0] in r.stdout and kb[0] in r.stdout and ka[1] not in r.stdout
      and "active" in r.stdout, "ls lists the keys, never a secret")
r = orc_cmd(s, "add", "Bad Name")
check(r.returncode == 2, "add with a malformed orchestrator id -> exit 2")
r = orc_cmd(s, "frobnicate", "x")
check(r.returncode == 2, "unknown action -> exit 2")
r = subprocess.run([BIN, "orchestrator", "--help"], capture_output=True, text=True, timeout=20)
check(r.returncode == 0 and "rotate NAME" in r.stdout, "orchestrator --help")
secret_path = os.path.join(s.dir, "host-c.secret")
r = orc_cmd(s, "add", "host-c", "--secret-file", secret_path)
st = os.stat(secret_path)
with open(secret_path) as f:
    sc = f.read().strip()
check(r.returncode == 0 and "secret=" not in r.stdout and st.st_mode & 0o777 == 0o600
      and len(sc) == 64, "add --secret-file writes the secret to a new 0600 file only")
r = orc_cmd(s, "add", "host-c", "--secret-file", secret_path)
check(r.returncode != 0, "add --secret-file never overwrites a file")

# ---- accepted -------------------------------------------------------------------------------
expect(signed(s, "POST", "/internal/v1/claims", fresh(), key=ka), 200, "a signed claim")
hb = json.dumps({"slots_total": 1, "slots_free": 1}).encode()
expect(signed(s, "POST", "/internal/v1/orchestrators/heartbeat", hb, key=ka), 200,
       "a signed heartbeat")
expect(s.claim(), 200, "the shared bearer key still works by default (rollout)")

# a whole execution, signed: claim, start, a log chunk with a query, complete
job = s.submit(admin).json
time.sleep(0.05)
c = signed(s, "POST", "/internal/v1/claims", b'{"slots":1,"wait_s":1}', key=ka)
claims = c.json["claims"] if c.status == 200 else []
check(len(claims) == 1, "a signed claim takes the job (%r)" % c)
if claims:
    exe, lease = claims[0]["execution_id"], claims[0]["lease_token"]
    lt = json.dumps({"lease_token": lease}).encode()
    expect(signed(s, "POST", "/internal/v1/executions/%s/start" % exe, lt, key=ka), 200,
           "signed start")
    expect(signed(s, "PUT", "/internal/v1/executions/%s/logs?offset=0" % exe, b"hello\n",
                  key=ka, ctype="application/octet-stream", extra={"X-Lease-Token": lease}),
           200, "signed log chunk (path with query)")
    done = json.dumps({"lease_token": lease, "result": {"reason": "exited",
                                                           "exit_code": 0}}).encode()
    r = signed(s, "POST", "/internal/v1/executions/%s/complete" % exe, done, key=ka)
    expect(r, 200, "signed complete")
    check(r.status == 200 and r.json.get("status") == "succeeded", "the job succeeded (%r)" % r)

# ---- every refusal, with its reason ---------------------------------------------------------
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka, sig="0" * 64),
        "bad_signature", "a wrong signature")
body2 = bytearray(CLAIM)
body2[5] ^= 1
refused(s, signed(s, "POST", "/internal/v1/claims", bytes(body2), key=ka, sign_body=CLAIM),
        "bad_signature", "one byte of the body changed")
refused(s, signed(s, "POST", "/internal/v1/orchestrators/heartbeat", hb, key=ka,
                  sign_target="/internal/v1/claims"), "bad_signature", "the path changed")
refused(s, signed(s, "PUT", "/internal/v1/executions/exe_x/logs?offset=1", b"x", key=ka,
                  sign_target="/internal/v1/executions/exe_x/logs?offset=0",
                  ctype="application/octet-stream", extra={"X-Lease-Token": "lt_x"}),
        "bad_signature", "the query changed")
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka, orc="host-a",
                  sign_orc="host-b"), "bad_signature", "the orchestrator id changed")


def second_start():
    """Wait for the start of a second, so that the server's clock reads the same second as
    ours when the request arrives (the window edge is tested to the second)."""
    t = time.time()
    time.sleep(1.02 - (t - int(t)))
    return int(time.time())


now = second_start()
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka, ts=now - 301),
        "stale_timestamp", "timestamp 301 s in the past")
now = second_start()
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka, ts=now + 301),
        "stale_timestamp", "timestamp 301 s in the future")
now = second_start()
expect(signed(s, "POST", "/internal/v1/claims", fresh(), key=ka, ts=now + 300), 200,
       "timestamp 300 s in the future (the edge of the window)")
expect(signed(s, "POST", "/internal/v1/claims", fresh(), key=ka, ts=now - 299), 200,
       "timestamp 299 s in the past")
for bad_ts in ("0%d" % now, "+%d" % now, "%d.5" % now, "%d,1" % now, "1e9"):
    refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka, ts=bad_ts),
            "bad_timestamp", "timestamp %r" % bad_ts)
ts = int(time.time())
first = signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka, ts=ts)
again = signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka, ts=ts)
check(first.status == 200, "a signed request is accepted once (%r)" % first)
refused(s, again, "replay", "the same signed request again within the window")
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=kb, orc="host-a"),
        "wrong_orchestrator", "host-b's key used as host-a")
f = last_failure(s, fresh=False)
check(f.get("actor") == "host-b" and f.get("key_id") == kb[0],
      "the audit event names the key and its owner from the store (%r)" % f)
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=("ok_" + "a" * 26, ka[1])),
        "unknown_key", "an unknown key id")
f = last_failure(s, fresh=False)
check(f.get("actor") == "unknown" and "key_id" not in f,
      "an unknown caller is 'unknown', never the presented value (%r)" % f)
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka, sig="A" * 64),
        "malformed_signature", "an upper-case signature")
h = {"Authorization": "Bearer " + s.key, "X-Orchestrator-ID": "host-a",
     "Content-Type": "application/json"}
refused(s, s.request("POST", "/internal/v1/claims", raw=CLAIM,
                     headers=dict(h, **{"X-JC-Signature": "junk"})),
        "missing_signature_header", "the valid bearer key with a junk X-JC-Signature")
refused(s, s.request("POST", "/internal/v1/claims", raw=CLAIM,
                     headers=dict(h, **{"X-JC-Whatever": "1"})),
        "unknown_signature_header", "the valid bearer key with an unknown X-JC- header")
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka, extra={"X-JC-Extra": "1"}),
        "unknown_signature_header", "a valid signature with an extra X-JC- header")

# revoke
r = orc_cmd(s, "revoke", kb[0])
check(r.returncode == 0, "revoke a key")
time.sleep(1.1)  # an opened credential is reused for internal_auth.key_cache_ms (1 s)
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=kb, orc="host-b"),
        "revoked_key", "a revoked key")
r = orc_cmd(s, "revoke", kb[0])
check(r.returncode == 1 and "already revoked" in r.stderr, "revoking twice is refused")
r = orc_cmd(s, "revoke", "ok_" + "b" * 26)
check(r.returncode == 1, "revoking an unknown key is refused")

# rotate: the old key keeps working for the grace period; with --grace 0 it ends at once
ka2 = add_key(s, "host-a", "rotate")
expect(signed(s, "POST", "/internal/v1/claims", fresh(), key=ka2), 200, "the new key after rotate")
expect(signed(s, "POST", "/internal/v1/claims", fresh(), key=ka), 200,
       "the old key during its grace period")
r = orc_cmd(s, "ls", "host-a")
check("expiring" in r.stdout and "active" in r.stdout, "ls shows the old key expiring")
ka3 = add_key(s, "host-a", "rotate", "--grace", "0")
time.sleep(1.1)  # internal_auth.key_cache_ms
refused(s, signed(s, "POST", "/internal/v1/claims", CLAIM, key=ka2), "expired_key",
        "a key rotated out with --grace 0")
expect(signed(s, "POST", "/internal/v1/claims", fresh(), key=ka3), 200, "the newest key")
r = orc_cmd(s, "rotate", "nobody")
check(r.returncode == 1 and "no live key" in r.stderr, "rotate with no key to rotate is refused")
r = orc_cmd(s, "rotate", "host-a", "--secret-file", secret_path)  # that file exists
line = [l for l in orc_cmd(s, "ls", "host-a").stdout.splitlines() if ka3[0] in l]
check(r.returncode != 0 and line and " active " in line[0],
      "a rotation whose secret file cannot be written changes nothing (%r)" % line)
r = orc_cmd(s, "rotate", "host-a", "--grace", "40d")
check(r.returncode == 2, "rotate --grace over 30 days -> exit 2")

# ---- jobcell internal (the CLI signs and sends one request) ---------------------------------
CLI = os.environ.get("JC_CLI_BIN")
if CLI:
    sf = os.path.join(s.dir, "cli.secret")
    with open(sf, "w") as f:
        f.write(ka3[1] + "\n")
    os.chmod(sf, 0o600)
    bf = os.path.join(s.dir, "claim.json")
    with open(bf, "wb") as f:
        f.write(b'{"slots":3,"wait_s":0}')
    base = [CLI, "internal", "--server", "http://127.0.0.1:%d" % s.port, "--orchestrator",
            "host-a", "--key-id", ka3[0], "--secret-file", sf]
    r = subprocess.run(base + ["POST", "/internal/v1/claims", "--body", bf],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith("HTTP 200\n") and '"claims":[]' in r.stdout,
          "jobcell internal: a signed claim -> HTTP 200 (%r %r)" % (r.stdout, r.stderr))
    r = subprocess.run(base + ["POST", "/internal/v1/orchestrators/heartbeat", "--body", "-"],
                       input='{"slots_total":2}', capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith("HTTP 200"), "jobcell internal: body from stdin")
    r = subprocess.run([CLI, "internal", "--server", "http://127.0.0.1:%d" % s.port,
                        "--orchestrator", "host-b", "--key-id", ka3[0], "--secret-file", sf,
                        "POST", "/internal/v1/claims", "--body", bf],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and r.stdout.startswith("HTTP 401"),
          "jobcell internal: another orchestrator's id -> HTTP 401, exit 1 (%r)" % r.stdout)
    last_failure(s)
    r = subprocess.run([CLI, "internal", "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "usage: jobcell internal" in r.stdout, "jobcell internal --help")
    for args, what in ((["POST"], "no PATH"), (["FETCH", "/x"], "a bad method"),
                       (["POST", "/x", "--header", "X-JC-Key-Id: x"], "an X-JC- header"),
                       (["POST", "internal"], "a path without /")):
        r = subprocess.run(base + args, capture_output=True, text=True, timeout=30)
        check(r.returncode == 2, "jobcell internal with %s -> exit 2 (%d)" % (what, r.returncode))
    r = subprocess.run([CLI, "internal", "POST", "/internal/v1/claims"], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 2, "jobcell internal without a credential -> exit 2")
    os.chmod(sf, 0o644)
    r = subprocess.run(base + ["POST", "/internal/v1/claims"], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 2 and "readable by everyone" in r.stderr,
          "jobcell internal refuses a secret file others can read")
else:
    check(False, "JC_CLI_BIN is not set: the jobcell internal checks did not run")

# ---- least privilege ------------------------------------------------------------------------
r = signed(s, "GET", "/v1/jobs", b"", key=ka3)
check(r.status == 401, "an orchestrator credential cannot reach /v1 (%r)" % r)
r = s.request("GET", "/v1/jobs", headers={"Authorization": "Bearer " + s.key})
check(r.status == 401, "the internal key cannot reach /v1 (%r)" % r)
r = s.request("POST", "/internal/v1/claims", body={"slots": 1, "wait_s": 0},
              headers={"Authorization": "Bearer " + admin, "X-Orchestrator-ID": "host-a"})
f = last_failure(s)
check(r.status == 401 and f.get("reason") == "wrong_key" and f.get("scheme") == "bearer",
      "an admin API token cannot reach /internal/v1 (%r, %r)" % (r, f))

# ---- nothing secret at rest or in the logs --------------------------------------------------
s.stop()
blob = b""
for name in os.listdir(s.dir):
    if name.startswith("jobcell.db") or name == "server.log":
        with open(os.path.join(s.dir, name), "rb") as f:
            blob += f.read()
hits = 0
for _, sec in (ka, kb, ka2, ka3):
    hits += blob.count(sec.encode()) + blob.count(bytes.fromhex(sec))
check(hits == 0, "no secret in the store files or the server log, in hex or raw (%d hits)" % hits)
with open(os.path.join(s.dir, "server.log")) as f:
    log = f.read()
check('"reason":"replay"' in log and '"reason":"wrong_orchestrator"' in log,
      "refusals are logged with their reason")

# ---- require_hmac ---------------------------------------------------------------------------
s2 = make_server({"internal_auth": {"require_hmac": True}})
k2 = add_key(s2, "host-a")
r = s2.claim()
f = last_failure(s2)
check(r.status == 401 and f.get("reason") == "bearer_refused",
      "require_hmac: the bearer key is refused, reason bearer_refused (%r, %r)" % (r, f))
expect(signed(s2, "POST", "/internal/v1/claims", fresh(), key=k2), 200, "require_hmac: signed is fine")
m = s2.get("/metrics").body.decode()
check('jobcell_internal_auth_total{scheme="hmac"} 1' in m, "metrics count signed requests")
s2.stop()

# without a master key file, add is refused and names the setting
s3 = Server(start=False)
r = orc_cmd(s3, "add", "host-a")
check(r.returncode == 2 and "master_key_file" in r.stderr, "add without master_key_file -> exit 2, named")

# ---- the per-address auth-failure limit -----------------------------------------------------
s4 = make_server({"auth_fail_limit": {"per_minute": 5, "block_s": 2}})
tok = s4.token("u")
for i in range(5):
    r = s4.request("GET", "/v1/jobs", token="jct_" + "x" * 43)
check(r.status == 401, "five bad tokens -> 401")
r = s4.request("GET", "/v1/jobs", token=tok)
check(r.status == 429 and r.headers.get("retry-after") in ("1", "2"),
      "then even a good token gets 429 with Retry-After (%r %r)" % (r, r.headers))
r = s4.claim()
check(r.status == 429, "the internal API too, from that address")
check(s4.get("/health").status == 200, "unauthenticated /health still answers")
m = s4.get("/metrics").body.decode()
check("jobcell_auth_address_blocks_total 1" in m and "jobcell_auth_blocked_requests_total 2" in m,
      "blocks and blocked requests are counted in /metrics")
time.sleep(2.2)
expect(s4.request("GET", "/v1/jobs", token=tok), 200, "the block ends after block_s")
s4.stop()
finish()
