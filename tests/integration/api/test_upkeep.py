"""Housekeeping and detection against the real jobcell-api: every security signal from a
scripted scenario over HTTP, deduplicated across overlapping scans; /v1/signals and
`jobcell signals`; a scan made to fail (a table it reads taken away) shows in /metrics and
as /health "degraded", then recovers; thresholds; retention_days validation; an idempotent
replay stores and logs no secret; `jobcell-api prune` with the test clock."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import sqlite3
import subprocess
import tempfile
import time

from jcapi import Server, check, expect, finish

CLI = os.environ.get("JC_CLI_BIN")
BIN = os.environ.get("JC_API_BIN")

master_dir = tempfile.mkdtemp(prefix="jc-master-")
master = os.path.join(master_dir, "master.json")
subprocess.run([BIN, "keys", "master", "init", "--file", master], check=True, capture_output=True,
               timeout=20)
s = Server({"master_key_file": master, "maintenance.scan_interval_s": 1, "maintenance.prune_interval_s": 1,
            "reaper_interval_s": 1, "lease_s": 2,
            "signals.auth_burst_address": 5, "signals.auth_burst_orchestrator": 5,
            "thresholds.jobs_rows": 1, "log_level": "info"})
admin = s.token("root", "admin")
alice = s.token("alice")
db_path = s.config["store_path"]


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


with open(os.path.join(s.dir, "ring.json")) as f:
    ring = json.load(f)
ring_key = base64.urlsafe_b64decode(ring["keys"]["k1"] + "==")


def mint(claim, orc):
    now = int(time.time())
    claims = {"iss": "jobcell-orchestrator", "aud": "jobcell-runtime",
              "sub": "job:" + claim["job_id"], "scope": "runtime",
              "executionId": claim["execution_id"], "jobId": claim["job_id"],
              "userId": claim["owner"], "orc": orc, "attempt": claim["attempt"],
              "lease": hashlib.sha256(claim["lease_token"].encode()).hexdigest()[:16],
              "iat": now, "nbf": now, "exp": now + 600, "origIat": now,
              "jti": b64(os.urandom(16))}
    h = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    p = b64(json.dumps(claims).encode())
    sig = hmac.new(ring_key, (h + "." + p).encode(), hashlib.sha256).digest()
    return h + "." + p + "." + b64(sig)


def run_one(orc, result, spec=None):
    """Submit a job, claim it as orc, start it, complete it with result; the claim."""
    expect(s.submit(alice, spec), 201, "submit for " + orc)
    r = s.claim(orc=orc)
    claim = r.json["claims"][0]
    exe = claim["execution_id"]
    s.internal("POST", "/internal/v1/executions/%s/start" % exe,
               {"lease_token": claim["lease_token"]}, orc=orc)
    if result is not None:
        expect(s.internal("POST", "/internal/v1/executions/%s/complete" % exe,
                          {"lease_token": claim["lease_token"], "result": result}, orc=orc),
               200, "complete " + exe)
    return claim


def signals(token=admin):
    r = s.get("/v1/signals?limit=500", token=token)
    return r


def wait_for(pred, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    check(False, what)
    return None


def metrics():
    return s.get("/metrics").body.decode()


# ---- retention_days: a job may ask for less than the server keeps, never more
expect(s.submit(alice, {"retention_days": 31}), 400, "retention_days above the server's 30",
       "invalid_field", "retention_days")
expect(s.submit(alice, {"retention_days": 0}), 400, "retention_days 0", "invalid_field",
       "retention_days")
r = expect(s.submit(alice, {"retention_days": 7}), 201, "retention_days 7")
check(r.json.get("retention_days") == 7, "the job shows its retention_days")

# ---- an idempotent replay keeps and logs no secret
secret = "jct_" + b64(os.urandom(32))
spec = {"runtime": "bash", "script": "echo hi", "secrets": {"API_TOKEN": secret}}
r1 = expect(s.request("POST", "/v1/jobs", body=spec, token=alice,
                      headers={"Idempotency-Key": "k-1"}), 201, "idempotent submit")
r2 = expect(s.request("POST", "/v1/jobs", body=spec, token=alice,
                      headers={"Idempotency-Key": "k-1"}), 201, "idempotent replay")
check(r1.json["id"] == r2.json["id"], "the replay names the same job")
check(r2.json["executions"][0]["id"] == r1.json["executions"][0]["id"],
      "the replay carries the first execution")
con = sqlite3.connect(db_path, timeout=10)
rows = con.execute("SELECT response FROM idempotency").fetchall()
con.close()
check(len(rows) == 1 and rows[0][0] == json.dumps({"job_id": r1.json["id"]}, separators=(",", ":")),
      "the idempotency record holds only the job id (%r)" % rows)
check(all(secret not in row[0] for row in rows), "no secret in the idempotency records")
check(secret not in r2.body.decode(), "the replay carries no secret")


def store_bytes():
    data = b""
    for suffix in ("", "-wal"):
        try:
            with open(db_path + suffix, "rb") as f:
                data += f.read()
        except OSError:
            pass
    return data


check(secret.encode() not in store_bytes(), "the secret is nowhere in the store file")

# ---- scripted scenario for every signal
tok_alice = s.get("/v1/tokens", token=alice).json["tokens"][0]["id"]
for _ in range(6):
    s.get("/v1/jobs", token="jct_" + "A" * 43)  # unknown API token, from 127.0.0.1
for _ in range(6):
    s.request("POST", "/internal/v1/claims", body={"slots": 1, "wait_s": 0},
              headers={"Authorization": "Bearer " + "x" * 40, "X-Orchestrator-ID": "host-evil"})
# one id from two addresses
s.internal("POST", "/internal/v1/orchestrators/heartbeat", {"slots_total": 1, "slots_free": 1},
           orc="host-b")
c2 = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10, source_address=("127.0.0.2", 0))
s.internal("POST", "/internal/v1/orchestrators/heartbeat", {"slots_total": 1, "slots_free": 1},
           orc="host-b", conn=c2)
c2.close()
# an execution token used after its execution ended
claim = run_one("host-a", None)
tok = mint(claim, "host-a")
path = "/executions/%s/input" % claim["execution_id"]
expect(s.get(path, token=tok, runtime=True), 200, "the token works while the run lives")
expect(s.internal("POST", "/internal/v1/executions/%s/complete" % claim["execution_id"],
                  {"lease_token": claim["lease_token"],
                   "result": {"reason": "exited", "exit_code": 0}}, orc="host-a"), 200, "complete")
expect(s.get(path, token=tok, runtime=True), 401, "the same token after the end")
ended_exe = claim["execution_id"]
# a seccomp kill, an egress-heavy run and one without the network field
sec = run_one("host-a", {"reason": "signaled", "exit_code": None, "signal": 31})["execution_id"]
egr = run_one("host-a", {"reason": "exited", "exit_code": 0, "network": {"denied": 40}})
egr = egr["execution_id"]
run_one("host-a", {"reason": "exited", "exit_code": 1})
# host-c loses three leases (lease 2 s, reaper every second)
for _ in range(3):
    run_one("host-c", None)

want = {("auth_burst_address", "127.0.0.1"), ("auth_burst_orchestrator", "host-evil"),
        ("orchestrator_addresses", "host-b"), ("token_after_end", ended_exe),
        ("seccomp_kill", sec), ("egress_denied", egr), ("leases_lost", "host-c"),
        ("new_token_submit", tok_alice)}


def seen():
    r = signals()
    if r.status != 200:
        return None
    got = {(x["signal"], x["subject"]) for x in r.json["signals"]}
    return r.json["signals"] if want <= got else None


sigs = wait_for(seen, "every scripted signal recorded within 15 s")
if sigs:
    pairs = [(x["signal"], x["subject"]) for x in sigs]
    check(len(pairs) == len(set(pairs)), "each (signal, subject) once")
    for x in sigs:
        check(secret not in json.dumps(x) and alice not in json.dumps(x),
              "signal %s carries no secret or token" % x["signal"])
    before = len(sigs)
    time.sleep(3.5)  # three more scans over the same window
    after = signals().json["signals"]
    check(len(after) == before, "overlapping scans add nothing (%d then %d)" % (before, len(after)))
    m = metrics()
    for sig, _ in want:
        check('jobcell_signals_total{signal="%s"} 1\n' % sig in m, "counter of " + sig + " is 1")
    log = open(os.path.join(s.dir, "server.log")).read()
    check('"msg":"security signal","signal":"seccomp_kill","subject":"%s"' % sec in log,
          "a structured log line per signal")
expect(signals(alice), 403, "a user may not read signals", "forbidden")
expect(s.get("/v1/signals?since=yesterday", token=admin), 400, "since must be a time",
       "invalid_field", "since")
r = s.get("/v1/signals?limit=2", token=admin)
check(r.status == 200 and len(r.json["signals"]) == 2 and r.json["next_cursor"], "paged")
r2 = s.get("/v1/signals?limit=500&cursor=" + r.json["next_cursor"], token=admin)
check(r2.status == 200 and r2.json["signals"][0]["id"] > r.json["signals"][1]["id"],
      "the cursor continues after the page")

# ---- the CLI
if CLI:
    base = ["--url", "http://127.0.0.1:%d" % s.port]
    out = subprocess.run([CLI, "signals", "--json", "--all", "--since", "1h"] + base,
                         capture_output=True, text=True, timeout=20,
                         env={**os.environ, "JOBCELL_TOKEN": admin})
    check(out.returncode == 0, "jobcell signals exits 0 (%s)" % out.stderr)
    try:
        listed = {(x["signal"], x["subject"]) for x in json.loads(out.stdout)}
    except ValueError:
        listed = set()
    check(want <= listed, "jobcell signals lists every signal")
    out = subprocess.run([CLI, "signals"] + base, capture_output=True, text=True, timeout=20,
                         env={**os.environ, "JOBCELL_TOKEN": alice})
    check(out.returncode == 1 and "admin" in out.stderr, "jobcell signals as a user fails")
    out = subprocess.run([CLI, "signals", "--since", "soon"] + base, capture_output=True,
                         text=True, timeout=20)
    check(out.returncode == 2, "a bad --since is bad usage")

# ---- growth: thresholds and sizes
m = wait_for(lambda: (lambda t: t if 'jobcell_store_rows{kind="jobs"}' in t else None)(metrics()),
             "store rows measured")
if m:
    check('jobcell_store_over_threshold{kind="jobs"} 1\n' in m, "jobs over their threshold")
    check('jobcell_store_over_threshold{kind="audit"} 0\n' in m, "audit has no threshold")
    check('jobcell_store_bytes{kind="store"}' in m and 'jobcell_store_bytes{kind="logs"}' in m,
          "sizes per kind")
    check('"msg":"store over its threshold","kind":"jobs"' in open(
        os.path.join(s.dir, "server.log")).read(), "a warning is logged")

# ---- a scan that cannot read is a failure, shown until it succeeds again
h = s.get("/health")
check(h.json == {"status": "ok"}, "healthy before (%r)" % h)
con = sqlite3.connect(db_path, timeout=10)
con.execute("ALTER TABLE audit_log RENAME TO audit_hidden")
con.commit()
h = wait_for(lambda: (lambda r: r if r.json.get("status") == "degraded" else None)(s.get("/health")),
             "/health turns degraded")
if h:
    check(h.status == 200 and "scan" in h.json["failing"], "degraded names the scan (%r)" % h)
m = metrics()
check('jobcell_maintenance_failures_total{task="scan"} 0\n' not in m and
      'jobcell_maintenance_failing{task="scan"} 1\n' in m, "the failure is counted")
con.execute("ALTER TABLE audit_hidden RENAME TO audit_log")
con.commit()
con.close()
wait_for(lambda: s.get("/health").json == {"status": "ok"}, "/health recovers")
check('jobcell_maintenance_failing{task="scan"} 0\n' in metrics(), "no longer failing")

# ---- prune by hand, 40 days later on the test clock
later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
waiting = expect(s.submit(alice, {"scheduled_for": later}), 201, "a job for tomorrow").json
fd, clock = tempfile.mkstemp(prefix="jc-clock-")
os.write(fd, str(int(time.time() * 1000) + 40 * 86400000).encode())
os.close(fd)
env = {**os.environ, "JOBCELL_TEST_CLOCK_FILE": clock}
out = subprocess.run([BIN, "prune", "--dry-run", "--config", s.cfgpath], capture_output=True,
                     text=True, timeout=60, env=env)
check(out.returncode == 0 and "would remove:" in out.stdout, "prune --dry-run (%s)" % out.stderr)
lines = dict(l.split(None, 1) for l in out.stdout.splitlines()[1:] if l.startswith("  "))
check(int(lines.get("jobs", "0").split()[0]) >= 7, "dry run counts the finished jobs (%r)" % lines)
r = expect(s.get("/v1/executions/" + sec, token=admin), 200, "still there after a dry run")
out = subprocess.run([BIN, "prune", "--config", s.cfgpath], capture_output=True, text=True,
                     timeout=60, env=env)
check(out.returncode == 0 and "removed:" in out.stdout, "prune (%s)" % out.stderr)
expect(s.get("/v1/executions/" + sec, token=admin), 404, "a finished execution is gone")
expect(s.get("/v1/jobs/" + waiting["id"], token=alice), 200, "a queued job stays")
out = subprocess.run([BIN, "prune", "--bogus"], capture_output=True, text=True, timeout=20)
check(out.returncode == 2, "prune: bad usage exits 2")
os.unlink(clock)

log = open(os.path.join(s.dir, "server.log")).read()
check(secret not in log, "the secret is in no log line")
check(secret.encode() not in store_bytes(), "the secret is still nowhere in the store file")
s.stop()
import shutil
shutil.rmtree(master_dir, ignore_errors=True)
finish()
