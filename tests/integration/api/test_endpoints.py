"""Every admin and internal endpoint's success path, validation, auth, limits, fencing,
logs, idempotency, cancel, long poll and followed logs, against a real jobcell-api."""
import http.client
import json
import socket
import threading
import time

from jcapi import Server, check, expect, finish, raw_http

s = Server()
admin = s.token("root", "admin")
alice = s.token("alice")
bob = s.token("bob")

# ---- health, metrics, profiles ----------------------------------------------------------
r = expect(s.get("/health"), 200, "GET /health")
check(r.json == {"status": "ok"}, "health body is {status: ok}")
r = expect(s.get("/v1/profiles", token=alice), 200, "GET /v1/profiles")
check(r.json == {"profiles": [{"name": "default", "description": "the default profile"},
                              {"name": "strict", "description": "fewer syscalls"}]},
      "profiles list the configured directory with descriptions")

# ---- submit and read a job ----------------------------------------------------------------
spec = {"name": "nightly-report", "runtime": "bash", "script": "echo hello",
        "input": {"day": "2026-11-21"}, "env": {"REGION": "eu"},
        "resources": {"memory_mb": 512, "pids": 100, "cpu": 0.5, "tmp_mb": 100,
                      "workspace_mb": 256, "output_mb": 16},
        "timeout_s": 300, "network": "none", "profile": "default", "priority": 0,
        "scheduled_for": None,
        "retry": {"max_attempts": 1, "backoff_s": 10, "backoff_max_s": 600, "on_failure": False}}
r = expect(s.request("POST", "/v1/jobs", body=spec, token=alice), 201, "POST /v1/jobs full spec")
job = r.json
check(job["id"].startswith("job_") and len(job["id"]) == 30, "job id is job_ + 26 chars")
check(job["owner"] == "alice" and job["status"] == "queued", "job owned by alice, queued")
check(len(job["executions"]) == 1 and job["executions"][0]["attempt"] == 1 and
      job["executions"][0]["status"] == "queued", "first execution queued, attempt 1")
check(job["input"] == {"day": "2026-11-21"} and job["env"] == {"REGION": "eu"},
      "input and env stored")
exe_id = job["executions"][0]["id"]

r = expect(s.get("/v1/jobs/" + job["id"], token=alice), 200, "GET /v1/jobs/{id} by owner")
check(r.json["executions"][0]["id"] == exe_id, "job shows its execution")
expect(s.get("/v1/jobs/" + job["id"], token=bob), 404, "user B reading user A's job",
       "not_found")
expect(s.get("/v1/executions/" + exe_id, token=bob), 404, "user B reading A's execution",
       "not_found")
expect(s.get("/v1/jobs/" + job["id"], token=admin), 200, "admin reads any job")
r = expect(s.get("/v1/executions/" + exe_id, token=alice), 200, "GET /v1/executions/{id}")
e = r.json
check(e["status"] == "queued" and e["orchestrator_id"] is None and e["log_bytes"] == 0 and
      e["condition"] is None and e["cancel_requested"] is False, "execution object fields")

# defaults
r = expect(s.submit(alice, {"script": "true"}), 201, "POST /v1/jobs minimal")
d = r.json
check(d["resources"] == {"memory_mb": 512, "pids": 100, "cpu": 0.5, "tmp_mb": 100,
                         "workspace_mb": 256, "output_mb": 16} and d["timeout_s"] == 300 and
      d["network"] == "none" and d["profile"] == "default" and d["priority"] == 0 and
      d["retry"] == {"max_attempts": 1, "backoff_s": 10, "backoff_max_s": 600,
                     "on_failure": False}, "defaults applied")

# ---- validation ------------------------------------------------------------------------
V = [
    ({"runtime": "bash"}, "invalid_field", "script"),
    ({"script": "x"}, "invalid_field", "runtime"),
    ({"runtime": "ruby", "script": "x"}, "invalid_field", "runtime"),
    ({"runtime": "bash", "script": 5}, "invalid_field", "script"),
    ({"runtime": "bash", "script": "x" * (1024 * 1024 + 1)}, "invalid_field", "script"),
    ({"runtime": "bash", "script": "x", "input": {"a": "x" * (256 * 1024)}}, "invalid_field",
     "input"),
    ({"runtime": "bash", "script": "x", "bogus": 1}, "unknown_field", "bogus"),
    ({"runtime": "bash", "script": "x", "resources": {"gpu": 1}}, "unknown_field",
     "resources.gpu"),
    ({"runtime": "bash", "script": "x", "retry": {"forever": True}}, "unknown_field",
     "retry.forever"),
    ({"runtime": "bash", "script": "x", "env": {"lower": "x"}}, "invalid_field", "env.lower"),
    ({"runtime": "bash", "script": "x", "env": {"PATH": "/x"}}, "invalid_field", "env.PATH"),
    ({"runtime": "bash", "script": "x", "env": {"LD_PRELOAD": "x"}}, "invalid_field",
     "env.LD_PRELOAD"),
    ({"runtime": "bash", "script": "x", "env": {"JOBCELL_X": "x"}}, "invalid_field",
     "env.JOBCELL_X"),
    ({"runtime": "bash", "script": "x", "env": {"CRONIUM_X": "x"}}, "invalid_field",
     "env.CRONIUM_X"),
    ({"runtime": "bash", "script": "x", "env": {"BASH_ENV": "x"}}, "invalid_field",
     "env.BASH_ENV"),
    ({"runtime": "bash", "script": "x", "env": {"A": "x" * 4097}}, "invalid_field", "env.A"),
    ({"runtime": "bash", "script": "x", "env": {"A": 1}}, "invalid_field", "env.A"),
    ({"runtime": "bash", "script": "x", "env": {"K%d" % i: "v" for i in range(65)}},
     "invalid_field", "env"),
    ({"runtime": "bash", "script": "x", "name": ""}, "invalid_field", "name"),
    ({"runtime": "bash", "script": "x", "name": "a" * 129}, "invalid_field", "name"),
    ({"runtime": "bash", "script": "x", "name": "tab\there"}, "invalid_field", "name"),
    ({"runtime": "bash", "script": "x", "resources": {"memory_mb": 8}}, "invalid_field",
     "resources.memory_mb"),
    ({"runtime": "bash", "script": "x", "resources": {"memory_mb": 65537}}, "invalid_field",
     "resources.memory_mb"),
    ({"runtime": "bash", "script": "x", "resources": {"memory_mb": 512.0}}, "invalid_field",
     "resources.memory_mb"),
    ({"runtime": "bash", "script": "x", "resources": {"pids": 4}}, "invalid_field",
     "resources.pids"),
    ({"runtime": "bash", "script": "x", "resources": {"cpu": 0}}, "invalid_field",
     "resources.cpu"),
    ({"runtime": "bash", "script": "x", "resources": {"output_mb": 2048}}, "invalid_field",
     "resources.output_mb"),
    ({"runtime": "bash", "script": "x", "resources": {"tmp_mb": 300, "workspace_mb": 300}},
     "invalid_field", "resources.tmp_mb"),
    ({"runtime": "bash", "script": "x", "timeout_s": 0}, "invalid_field", "timeout_s"),
    ({"runtime": "bash", "script": "x", "timeout_s": 86401}, "invalid_field", "timeout_s"),
    ({"runtime": "bash", "script": "x", "network": "host"}, "invalid_field", "network"),
    ({"runtime": "bash", "script": "x", "profile": "nope"}, "invalid_field", "profile"),
    ({"runtime": "bash", "script": "x", "priority": 101}, "invalid_field", "priority"),
    ({"runtime": "bash", "script": "x", "priority": "1"}, "invalid_field", "priority"),
    ({"runtime": "bash", "script": "x", "scheduled_for": "tomorrow"}, "invalid_field",
     "scheduled_for"),
    ({"runtime": "bash", "script": "x", "retry": {"max_attempts": 0}}, "invalid_field",
     "retry.max_attempts"),
    ({"runtime": "bash", "script": "x", "retry": {"on_failure": "yes"}}, "invalid_field",
     "retry.on_failure"),
]
for body, code, field in V:
    r = expect(s.request("POST", "/v1/jobs", body=body, token=alice), 400,
               "validation %s" % field, code, field)
r = s.request("POST", "/v1/jobs", body={"runtime": "bash", "script": "x",
                                         "resources": {"tmp_mb": 300, "workspace_mb": 300}},
              token=alice)
check("resources.tmp_mb" in r.json["message"] and "resources.workspace_mb" in r.json["message"],
      "tmp+workspace error names both fields")
r = s.request("POST", "/v1/jobs", body={"runtime": "bash", "script": "x", "profile": "nope"},
              token=alice)
check("default" in r.json["message"] and "strict" in r.json["message"],
      "unknown profile error lists the known ones")
expect(s.request("POST", "/v1/jobs", raw=b"{not json", token=alice,
                 headers={"Content-Type": "application/json"}), 400, "malformed JSON",
       "bad_request")
expect(s.request("POST", "/v1/jobs", raw=b'{"runtime":"bash","runtime":"sh","script":"x"}',
                 token=alice, headers={"Content-Type": "application/json"}), 400,
       "duplicate keys", "bad_request")
expect(s.request("POST", "/v1/jobs", raw=b"runtime=bash", token=alice,
                 headers={"Content-Type": "text/plain"}), 415, "wrong media type",
       "unsupported_media_type")
big_head = ("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d" % (alice, 2 * 1024 * 1024 + 1))
st, _, b = raw_http(s.port, big_head.encode(), b"x" * (2 * 1024 * 1024 + 1))
check(st == 413 and json.loads(b)["error"] == "payload_too_large",
      "body over 2 MiB (Content-Length) -> 413 before reading it")
chunk_head = ("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
              "Content-Type: application/json\r\nTransfer-Encoding: chunked" % alice)
chunks = b"".join(b"%x\r\n%s\r\n" % (65536, b"x" * 65536) for _ in range(40)) + b"0\r\n\r\n"
st, _, b = raw_http(s.port, chunk_head.encode(), chunks)
check(st == 413 and json.loads(b)["error"] == "payload_too_large",
      "chunked body over 2 MiB -> 413 while reading")
expect(s.request("DELETE", "/v1/jobs", token=alice), 405, "wrong method",
       "method_not_allowed")
expect(s.get("/v1/nothing", token=alice), 404, "unknown path", "not_found")
r = s.submit(alice, {"resources": {"tmp_mb": 200, "workspace_mb": 312, "memory_mb": 512}})
expect(r, 201, "tmp+workspace == memory accepted")
r = s.submit(alice, {"name": "rapport été ✓"})
expect(r, 201, "UTF-8 name accepted")

# ---- auth -------------------------------------------------------------------------------
expect(s.get("/v1/jobs"), 401, "no Authorization", "unauthorized")
expect(s.get("/v1/jobs", token="jct_" + "A" * 43), 401, "unknown API token", "unauthorized")
expect(s.get("/v1/jobs", headers={"Authorization": "Basic abc"}), 401, "Basic scheme",
       "unauthorized")
expect(s.get("/v1/jobs", token=s.key), 401, "internal key on /v1", "unauthorized")
expect(s.request("POST", "/internal/v1/claims", body={"slots": 1}), 401,
       "internal without key", "unauthorized")
expect(s.request("POST", "/internal/v1/claims", body={"slots": 1},
                 headers={"Authorization": "Bearer " + "x" * 40, "X-Orchestrator-ID": "h"}),
       401, "internal wrong key", "unauthorized")
expect(s.request("POST", "/internal/v1/claims", body={"slots": 1},
                 headers={"Authorization": "Bearer " + s.key}), 401,
       "internal without X-Orchestrator-ID", "unauthorized")
expect(s.claim(orc="Bad_ID"), 401, "malformed X-Orchestrator-ID", "unauthorized")
expect(s.claim(orc="-x"), 401, "X-Orchestrator-ID starting with '-'", "unauthorized")
expect(s.claim(orc="a" * 65), 401, "X-Orchestrator-ID of 65 chars", "unauthorized")
expect(s.get("/v1/jobs", token=alice, headers={"Authorization": "bearer " + alice}), 200,
       "Bearer is case-insensitive")
m = s.get("/metrics").body.decode()
check('jobcell_auth_failures_total{group="jobs",reason="missing"}' in m and
      'jobcell_auth_failures_total{group="claims",reason="wrong_key"}' in m,
      "auth failures counted by group and reason")

# ---- list and pagination -----------------------------------------------------------------
for i in range(5):
    s.submit(bob, {"name": "b%d" % i})
r = expect(s.get("/v1/jobs?limit=2", token=bob), 200, "GET /v1/jobs?limit=2")
p1 = r.json
check([j["name"] for j in p1["jobs"]] == ["b4", "b3"] and p1["next_cursor"], "newest first")
r = s.get("/v1/jobs?limit=2&cursor=" + p1["next_cursor"], token=bob)
p2 = r.json
check([j["name"] for j in p2["jobs"]] == ["b2", "b1"], "second page")
r = s.get("/v1/jobs?limit=2&cursor=" + p2["next_cursor"], token=bob)
check([j["name"] for j in r.json["jobs"]] == ["b0"] and r.json["next_cursor"] is None,
      "last page has next_cursor null")
check(all(j["owner"] == "alice" for j in s.get("/v1/jobs?limit=500", token=alice).json["jobs"]),
      "a user lists only their own jobs")
check(len(s.get("/v1/jobs?limit=500", token=admin).json["jobs"]) >= 9, "admin lists all")
expect(s.get("/v1/jobs?limit=0", token=bob), 400, "limit 0", "invalid_field", "limit")
expect(s.get("/v1/jobs?limit=501", token=bob), 400, "limit 501", "invalid_field", "limit")
expect(s.get("/v1/jobs?cursor=zzz", token=bob), 400, "bad cursor", "invalid_field", "cursor")
expect(s.get("/v1/jobs?status=weird", token=bob), 400, "bad status", "invalid_field", "status")
r = s.get("/v1/jobs?status=queued&limit=500", token=bob)
check(len(r.json["jobs"]) == 5 and all(j["status"] == "queued" for j in r.json["jobs"]),
      "status filter")

# ---- idempotency -----------------------------------------------------------------------
body = {"runtime": "bash", "script": "echo once"}
r1 = expect(s.request("POST", "/v1/jobs", body=body, token=alice,
                      headers={"Idempotency-Key": "k-1"}), 201, "Idempotency-Key first")
r2 = expect(s.request("POST", "/v1/jobs", body=body, token=alice,
                      headers={"Idempotency-Key": "k-1"}), 201, "Idempotency-Key replay")
check(r1.json["id"] == r2.json["id"] and r1.body == r2.body, "replay returns the first answer")
expect(s.request("POST", "/v1/jobs", body={"runtime": "bash", "script": "echo other"},
                 token=alice, headers={"Idempotency-Key": "k-1"}), 409,
       "same key, different body", "conflict")
r3 = s.request("POST", "/v1/jobs", body=body, token=bob, headers={"Idempotency-Key": "k-1"})
check(r3.status == 201 and r3.json["id"] != r1.json["id"], "keys are per user")
expect(s.request("POST", "/v1/jobs", body=body, token=alice,
                 headers={"Idempotency-Key": "k" * 129}), 400, "Idempotency-Key too long",
       "invalid_field")

# drain everything queued so far so later claims are predictable
while True:
    r = s.claim(slots=64, orc="drain")
    if not r.json["claims"]:
        break
    for c in r.json["claims"]:
        s.internal("POST", "/internal/v1/executions/%s/start" % c["execution_id"],
                   {"lease_token": c["lease_token"]}, orc="drain")
        s.internal("POST", "/internal/v1/executions/%s/complete" % c["execution_id"],
                   {"lease_token": c["lease_token"], "result": {"reason": "exited",
                                                                 "exit_code": 0}}, orc="drain")

# ---- internal API: heartbeat, claim, start, heartbeat, logs, complete -------------------
r = expect(s.internal("POST", "/internal/v1/orchestrators/heartbeat",
                      {"slots_total": 4, "slots_free": 4, "running": [], "profiles": ["default"],
                       "version": "0.1.0"}), 200, "orchestrator heartbeat")
check("server_time" in r.json, "heartbeat answers server_time")
expect(s.internal("POST", "/internal/v1/orchestrators/heartbeat", {"slots": 1}), 400,
       "orchestrator heartbeat unknown field", "unknown_field", "slots")
expect(s.claim(slots=0), 400, "claim slots 0", "invalid_field", "slots")
expect(s.claim(slots=65), 400, "claim slots 65", "invalid_field", "slots")
expect(s.claim(wait_s=31), 400, "claim wait_s 31", "invalid_field", "wait_s")

j = s.submit(alice, {"name": "run-me", "input": {"n": 1}, "env": {"A": "b"},
                     "resources": {"output_mb": 1}}).json
r = expect(s.claim(slots=4), 200, "POST /internal/v1/claims")
cl = r.json["claims"]
check(len(cl) == 1 and cl[0]["job_id"] == j["id"] and cl[0]["owner"] == "alice" and
      cl[0]["attempt"] == 1 and cl[0]["lease_token"].startswith("lt_") and
      len(cl[0]["lease_token"]) == 35 and cl[0]["job"]["input"] == {"n": 1} and
      cl[0]["job"]["env"] == {"A": "b"} and cl[0]["job"]["script"] == "echo hi",
      "claim carries the job and a lease token")
check(set(cl[0]["job"].keys()) == {"runtime", "script", "input", "env", "resources",
                                   "timeout_s", "network", "profile", "secrets"},
      "claim job fields")
check(cl[0]["job"]["secrets"] == {}, "a job without secrets is claimed with an empty secrets")
c = cl[0]
eid, lt = c["execution_id"], c["lease_token"]
base = "/internal/v1/executions/" + eid
check(s.get("/v1/executions/" + eid, token=alice).json["status"] == "claimed", "now claimed")
expect(s.internal("POST", base + "/start", {"lease_token": "lt_" + "a" * 32}), 409,
       "start with a stale token", "lease_lost")
check(s.get("/v1/executions/" + eid, token=alice).json["status"] == "claimed",
      "stale start changed nothing")
r = expect(s.internal("POST", base + "/start", {"lease_token": lt}), 200, "start")
check("lease_expires_at" in r.json, "start answers lease_expires_at")
expect(s.internal("POST", base + "/start", {"lease_token": lt}), 200, "repeated start")
check(s.get("/v1/executions/" + eid, token=alice).json["status"] == "running", "now running")
expect(s.internal("POST", base + "/heartbeat", {"lease_token": lt}, orc="host-b"), 409,
       "heartbeat from another orchestrator with the right token", "lease_lost")
r = expect(s.internal("POST", base + "/heartbeat", {"lease_token": lt}), 200, "heartbeat")
check(r.json["cancel"] is False, "heartbeat cancel false")
expect(s.internal("POST", base + "/heartbeat", {"lease_token": "nope"}), 409,
       "heartbeat stale token", "lease_lost")
expect(s.internal("POST", base + "/heartbeat", {}), 400, "heartbeat without token",
       "invalid_field", "lease_token")

# logs: append, duplicate, overlap, gap, cap
def put(off, data, token=lt):
    return s.internal("PUT", "%s/logs?offset=%d" % (base, off), raw=data,
                      headers={"X-Lease-Token": token,
                               "Content-Type": "application/octet-stream"})

r = expect(put(0, b"hello "), 200, "log chunk at 0")
check(r.json == {"length": 6, "truncated": False}, "length 6")
r = expect(put(0, b"hello "), 200, "duplicate chunk")
check(r.json == {"length": 6, "truncated": False}, "duplicate changes nothing")
r = expect(put(3, b"lo world\n"), 200, "overlapping chunk")
check(r.json == {"length": 12, "truncated": False}, "overlap appends only the tail")
r = expect(put(20, b"gap"), 416, "chunk past the end", "range_not_satisfiable")
check(r.json.get("length") == 12, "416 carries the length")
expect(put(12, b"x", token="lt_" + "b" * 32), 409, "chunk with stale token", "lease_lost")
r = expect(s.get("/v1/executions/%s/logs" % eid, token=alice), 200, "GET logs")
check(r.body == b"hello world\n", "log bytes exact")
r = s.get("/v1/executions/%s/logs?offset=6" % eid, token=alice)
check(r.body == b"world\n", "log from offset")
r = expect(s.get("/v1/executions/%s/logs?offset=13" % eid, token=alice), 416,
           "GET logs past the end", "range_not_satisfiable")
check(r.json.get("length") == 12, "GET 416 carries the length")
expect(s.get("/v1/executions/%s/logs" % eid, token=bob), 404, "B reading A's logs")
# cap: output_mb 1 = 1 MiB
big = b"z" * (1024 * 1024 - 12 - 10)
r = expect(put(12, big), 200, "chunk up to near the cap")
L = r.json["length"]
r = expect(put(L, b"0123456789ABCDEF"), 200, "chunk crossing the cap")
check(r.json == {"length": 1024 * 1024, "truncated": True}, "cap reached -> truncated")
r = expect(put(1024 * 1024, b"more"), 200, "chunk after truncation")
check(r.json == {"length": 1024 * 1024, "truncated": True}, "after truncation: 200 with L")
r = expect(put(1024 * 1024 + 50, b"more"), 200, "chunk past L after truncation")
check(r.json == {"length": 1024 * 1024, "truncated": True},
      "no 416 once truncated (the sender would loop)")
ex = s.get("/v1/executions/" + eid, token=alice).json
check(ex["log_bytes"] == 1024 * 1024 and ex["log_truncated"] is True, "execution log fields")

# complete, idempotent
res = {"reason": "exited", "exit_code": 0, "duration_ms": 12}
expect(s.internal("POST", base + "/complete", {"lease_token": "lt_" + "c" * 32, "result": res}),
       409, "complete with stale token", "lease_lost")
r = expect(s.internal("POST", base + "/complete", {"lease_token": lt, "result": res}), 200,
           "complete")
check(r.json == {"status": "succeeded"}, "exited 0 -> succeeded")
r = expect(s.internal("POST", base + "/complete",
                      {"lease_token": lt, "result": {"reason": "exited", "exit_code": 3}}),
           200, "repeated complete")
check(r.json == {"status": "succeeded"}, "repeat returns the stored status, unchanged")
ex = s.get("/v1/executions/" + eid, token=alice).json
check(ex["status"] == "succeeded" and ex["result"] == res and ex["finished_at"],
      "stored result unchanged by the repeat")
expect(s.internal("POST", base + "/heartbeat", {"lease_token": lt}), 409,
       "heartbeat after complete", "lease_lost")
expect(put(ex["log_bytes"], b"late"), 409, "log chunk after complete", "lease_lost")
check(s.get("/v1/jobs/" + j["id"], token=alice).json["status"] == "succeeded",
      "job status is its latest execution's")

# failed result
s.submit(alice)
c = s.claim().json["claims"][0]
b2 = "/internal/v1/executions/" + c["execution_id"]
s.internal("POST", b2 + "/start", {"lease_token": c["lease_token"]})
r = s.internal("POST", b2 + "/complete", {"lease_token": c["lease_token"],
                                          "result": {"reason": "exited", "exit_code": 1}})
check(r.status == 200 and r.json["status"] == "failed", "exit 1 -> failed")
r = s.internal("POST", b2 + "/complete", {"lease_token": c["lease_token"], "result": {}})
check(r.status == 400, "complete without result.reason -> 400")

# ---- cancel -------------------------------------------------------------------------------
q = s.submit(alice, {"scheduled_for": "2099-01-01T00:00:00Z"}).json
r = expect(s.request("POST", "/v1/jobs/%s/cancel" % q["id"], token=alice), 200, "cancel queued")
check(r.json["status"] == "canceled" and r.json["executions"][0]["status"] == "canceled",
      "queued -> canceled at once")
expect(s.request("POST", "/v1/jobs/%s/cancel" % q["id"], token=alice), 409,
       "cancel a finished job", "conflict")
expect(s.request("POST", "/v1/jobs/%s/cancel" % q["id"], token=bob), 404,
       "B canceling A's job", "not_found")
rj = s.submit(alice).json
c = s.claim().json["claims"][0]
check(c["job_id"] == rj["id"], "claimed the job to cancel (future job not claimable)")
b3 = "/internal/v1/executions/" + c["execution_id"]
s.internal("POST", b3 + "/start", {"lease_token": c["lease_token"]})
r = expect(s.request("POST", "/v1/jobs/%s/cancel" % rj["id"], token=alice), 200,
           "cancel running")
check(r.json["status"] == "running" and r.json["executions"][0]["cancel_requested"] is True,
      "running -> cancel_requested")
r = s.internal("POST", b3 + "/heartbeat", {"lease_token": c["lease_token"]})
check(r.status == 200 and r.json["cancel"] is True, "heartbeat answers cancel: true")
r = s.internal("POST", b3 + "/complete", {"lease_token": c["lease_token"],
                                          "result": {"reason": "killed", "signal": 15}})
check(r.json["status"] == "canceled", "completed after cancel -> canceled")
audit_ok = True  # audit rows are checked by reading the store in test_lease.py

# ---- scheduling order ----------------------------------------------------------------------
lo = s.submit(alice, {"name": "lo", "priority": -5}).json
hi = s.submit(alice, {"name": "hi", "priority": 50}).json
mid1 = s.submit(alice, {"name": "mid1", "priority": 10}).json
mid0 = s.submit(alice, {"name": "mid0", "priority": 10,
                        "scheduled_for": "2020-01-01T00:00:00Z"}).json
fut = s.submit(alice, {"name": "future", "priority": 100,
                       "scheduled_for": "2099-01-01T00:00:00.000Z"}).json
order = [c["job_id"] for c in s.claim(slots=10).json["claims"]]
check(order == [hi["id"], mid0["id"], mid1["id"], lo["id"]],
      "claim order: priority, then scheduled_for, then creation; future not claimable")

# ---- variables ------------------------------------------------------------------------------
expect(s.request("PUT", "/v1/variables/db.url", body={"value": {"h": "x", "p": 5}},
                 token=alice), 200, "PUT variable")
r = expect(s.get("/v1/variables/db.url", token=alice), 200, "GET variable")
check(r.json["key"] == "db.url" and r.json["value"] == {"h": "x", "p": 5} and
      r.json["updated_at"], "variable value")
expect(s.get("/v1/variables/db.url", token=bob), 404, "variables are per owner", "not_found")
s.request("PUT", "/v1/variables/db.url", body={"value": 7}, token=alice)
check(s.get("/v1/variables/db.url", token=alice).json["value"] == 7, "last write wins")
r = expect(s.get("/v1/variables", token=alice), 200, "GET /v1/variables")
check([v["key"] for v in r.json["variables"]] == ["db.url"] and
      "value" not in r.json["variables"][0], "list has keys, no values")
expect(s.request("PUT", "/v1/variables/9bad", body={"value": 1}, token=alice), 400,
       "bad variable key", "invalid_field", "key")
expect(s.request("PUT", "/v1/variables/a%2Fb", body={"value": 1}, token=alice), 400,
       "key with an encoded slash is 400, not 404", "invalid_field", "key")
expect(s.request("PUT", "/v1/variables/x", body={"value": "v" * 65536}, token=alice), 400,
       "variable over 64 KiB", "invalid_field", "value")
expect(s.request("PUT", "/v1/variables/x", body={"value": 1, "ttl": 3}, token=alice), 400,
       "variable unknown field", "unknown_field", "ttl")
expect(s.request("DELETE", "/v1/variables/db.url", token=alice), 204, "DELETE variable")
expect(s.request("DELETE", "/v1/variables/db.url", token=alice), 404, "DELETE unset variable")
expect(s.get("/v1/variables/db.url", token=alice), 404, "GET unset variable")

# ---- tokens ----------------------------------------------------------------------------------
r = expect(s.request("POST", "/v1/tokens", body={"name": "ci"}, token=alice), 201,
           "POST /v1/tokens")
t = r.json
check(t["token"].startswith("jct_") and len(t["token"]) == 47 and t["user"] == "alice" and
      t["role"] == "user" and t["id"].startswith("tok_"), "new token shown once")
expect(s.get("/v1/jobs", token=t["token"]), 200, "new token works")
r = s.get("/v1/tokens", token=alice)
check(all(x["user"] == "alice" for x in r.json["tokens"]) and
      all("token" not in x for x in r.json["tokens"]), "token list: own, no secrets")
expect(s.request("POST", "/v1/tokens", body={"name": "x", "role": "admin"}, token=alice), 403,
       "user cannot mint admin", "forbidden")
expect(s.request("POST", "/v1/tokens", body={"name": "x", "user": "bob"}, token=alice), 403,
       "user cannot mint for another", "forbidden")
r = expect(s.request("POST", "/v1/tokens", body={"name": "x", "user": "carol", "role": "admin"},
                     token=admin), 201, "admin mints for another user")
check(r.json["user"] == "carol" and r.json["role"] == "admin", "admin-chosen user and role")
expect(s.request("POST", "/v1/tokens", body={"name": "x", "role": "root"}, token=admin), 400,
       "bad role", "invalid_field", "role")
expect(s.request("DELETE", "/v1/tokens/" + t["id"], token=bob), 404,
       "B deleting A's token", "not_found")
expect(s.request("DELETE", "/v1/tokens/" + t["id"], token=alice), 204, "DELETE token")
expect(s.get("/v1/jobs", token=t["token"]), 401, "deleted token refused", "unauthorized")

# ---- long poll -------------------------------------------------------------------------------
while s.claim(slots=64).json["claims"]:
    pass
result = {}


def waiter():
    t0 = time.monotonic()
    r = s.claim(slots=1, wait_s=10, orc="poller")
    result["t"] = time.monotonic()
    result["r"] = r
    result["t0"] = t0


th = threading.Thread(target=waiter)
th.start()
time.sleep(0.5)
t_submit = time.monotonic()
s.submit(alice, {"name": "wake"})
th.join(15)
lat = result["t"] - t_submit
print("long-poll wake-up latency after submit: %.1f ms" % (lat * 1000))
check(result["r"].status == 200 and len(result["r"].json["claims"]) == 1,
      "long poll returns the submitted job")
check(lat < 1.0, "long poll returns well within 1 s of a submit")
t0 = time.monotonic()
r = s.claim(slots=1, wait_s=1)
dt = time.monotonic() - t0
check(r.json == {"claims": []} and 0.9 <= dt < 3, "empty long poll waits wait_s (%.2fs)" % dt)

# many waiters at once do not hold worker threads (more than the 4 threads)
outs = []
ths = [threading.Thread(target=lambda: outs.append(s.claim(slots=1, wait_s=3, orc="p")))
       for _ in range(12)]
for x in ths:
    x.start()
time.sleep(0.3)
t0 = time.monotonic()
r = s.get("/health")
check(r.status == 200 and time.monotonic() - t0 < 0.5,
      "server answers while 12 long polls wait (suspended, not blocking workers)")
for x in ths:
    x.join(10)
check(len(outs) == 12 and all(o.status == 200 for o in outs), "all 12 long polls answered")

# ---- followed logs -------------------------------------------------------------------------
fj = s.submit(alice, {"name": "follow"}).json
c = s.claim(slots=1).json["claims"][0]
fb = "/internal/v1/executions/" + c["execution_id"]
s.internal("POST", fb + "/start", {"lease_token": c["lease_token"]})
s.internal("PUT", fb + "/logs?offset=0", raw=b"first\n",
           headers={"X-Lease-Token": c["lease_token"]})
got = {}


def follower():
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
    conn.request("GET", "/v1/executions/%s/logs?follow=1" % c["execution_id"],
                 headers={"Authorization": "Bearer " + alice})
    r = conn.getresponse()
    got["status"] = r.status
    got["chunked"] = r.getheader("Transfer-Encoding")
    data = b""
    while True:
        part = r.read1(65536) if hasattr(r, "read1") else r.read(1)
        if not part:
            break
        data += part
        if b"second" in data and "t_second" not in got:
            got["t_second"] = time.monotonic()
    got["body"] = data
    got["end"] = time.monotonic()
    conn.close()


ft = threading.Thread(target=follower)
ft.start()
time.sleep(0.4)
t_put = time.monotonic()
s.internal("PUT", fb + "/logs?offset=6", raw=b"second\n",
           headers={"X-Lease-Token": c["lease_token"]})
time.sleep(0.3)
t_done = time.monotonic()
s.internal("POST", fb + "/complete", {"lease_token": c["lease_token"],
                                      "result": {"reason": "exited", "exit_code": 0}})
ft.join(15)
check(got.get("status") == 200 and got.get("chunked") == "chunked", "follow=1 is chunked 200")
check(got.get("body") == b"first\nsecond\n", "follow streams old and new bytes")
check("t_second" in got and got["t_second"] - t_put < 1.0,
      "an appended chunk reaches the follower at once (%.1f ms)" %
      ((got.get("t_second", 0) - t_put) * 1000))
check(not ft.is_alive() and got["end"] - t_done < 2.0, "follow ends when the execution ends")

# ---- runtime listener -------------------------------------------------------------------------
conn = socket.create_connection(("127.0.0.1", s.rport), timeout=5)
conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"a" * 16384 +
             b"\r\nConnection: close\r\n\r\n")
data = b""
while True:
    part = conn.recv(65536)
    if not part:
        break
    data += part
conn.close()
status = int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1") else 0
check(status in (200, 404), "runtime listener accepts a 16 KiB header line (got %d)" % status)

# ---- metrics -----------------------------------------------------------------------------------
m = expect(s.get("/metrics"), 200, "GET /metrics").body.decode()
for needle in ('jobcell_http_requests_total{group="jobs",status="201"}',
               'jobcell_http_request_duration_seconds_bucket{group="claims",le="+Inf"}',
               'jobcell_executions{status="succeeded"}', "jobcell_claims_total",
               "jobcell_leases_expired_total"):
    check(needle in m, "metrics has " + needle)

rc = s.stop()
check(rc == 0, "SIGTERM stops the server cleanly (exit %r)" % rc)
finish()
