"""Leases: expiry -> lost -> retry (attempt 2, backoff with jitter) -> final; claimed but
never started -> queued again with the same attempt; heartbeats keep a lease; fencing; the
lease extension after a restart; retry on failure."""
import time

from jcapi import Server, check, expect, finish

from jcapi import INTERNAL_KEY  # noqa: F401

s = Server({"lease_s": 1, "reaper_interval_s": 1})
alice = s.token("alice")


def exe_path(c, what):
    return "/internal/v1/executions/%s/%s" % (c["execution_id"], what)


def wait_status(eid, statuses, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = s.get("/v1/executions/" + eid, token=alice).json["status"]
        if st in statuses:
            return st
        time.sleep(0.1)
    return st


# 1. lost -> retried with attempt 2 -> lost again after max_attempts (2)
j = s.submit(alice, {"retry": {"max_attempts": 2, "backoff_s": 0, "backoff_max_s": 0}}).json
c1 = s.claim().json["claims"][0]
s.internal("POST", exe_path(c1, "start"), {"lease_token": c1["lease_token"]})
st = wait_status(c1["execution_id"], ("lost",))
check(st == "lost", "running execution whose lease ran out -> lost")
e1 = s.get("/v1/executions/" + c1["execution_id"], token=alice).json
check(e1["result"] == {"reason": "lease_expired"}, "lost result reason lease_expired")
expect(s.internal("POST", exe_path(c1, "heartbeat"), {"lease_token": c1["lease_token"]}), 409,
       "heartbeat after loss", "lease_lost")
expect(s.internal("POST", exe_path(c1, "complete"),
                  {"lease_token": c1["lease_token"], "result": {"reason": "exited",
                                                                "exit_code": 0}}),
       409, "complete after loss (fencing)", "lease_lost")
check(s.get("/v1/executions/" + c1["execution_id"], token=alice).json["status"] == "lost",
      "stale complete changed nothing")
job = s.get("/v1/jobs/" + j["id"], token=alice).json
check(len(job["executions"]) == 2 and job["executions"][1]["attempt"] == 2 and
      job["executions"][1]["status"] == "queued" and job["status"] == "queued",
      "retry queued attempt 2")
c2 = s.claim().json["claims"][0]
check(c2["job_id"] == j["id"] and c2["attempt"] == 2, "attempt 2 claimed")
s.internal("POST", exe_path(c2, "start"), {"lease_token": c2["lease_token"]})
check(wait_status(c2["execution_id"], ("lost",)) == "lost", "attempt 2 lost")
time.sleep(1.5)
job = s.get("/v1/jobs/" + j["id"], token=alice).json
check(len(job["executions"]) == 2 and job["status"] == "lost",
      "no attempt 3 after max_attempts; the job ends lost")

# 2. claimed, never started -> queued again with the same attempt, old token fenced
j = s.submit(alice).json
c = s.claim().json["claims"][0]
check(wait_status(c["execution_id"], ("queued",)) == "queued",
      "claimed-but-never-started goes back to queued")
e = s.get("/v1/executions/" + c["execution_id"], token=alice).json
check(e["attempt"] == 1 and e["orchestrator_id"] is None and e["claimed_at"] is None,
      "same attempt, claim cleared")
check(len(s.get("/v1/jobs/" + j["id"], token=alice).json["executions"]) == 1,
      "no new execution for a claim lost in transit")
c_again = s.claim(orc="host-b").json["claims"][0]
check(c_again["execution_id"] == c["execution_id"] and c_again["attempt"] == 1 and
      c_again["lease_token"] != c["lease_token"], "re-claimed with a new lease token")
expect(s.internal("POST", exe_path(c, "start"), {"lease_token": c["lease_token"]}), 409,
       "the old claim's token is dead", "lease_lost")
s.internal("POST", exe_path(c_again, "start"), {"lease_token": c_again["lease_token"]},
           orc="host-b")

# 3. heartbeats keep the lease
alive = True
for _ in range(12):
    r = s.internal("POST", exe_path(c_again, "heartbeat"),
                   {"lease_token": c_again["lease_token"]}, orc="host-b")
    alive = alive and r.status == 200
    time.sleep(0.25)
check(alive and s.get("/v1/executions/" + c_again["execution_id"],
                      token=alice).json["status"] == "running",
      "heartbeats every 0.25 s keep a 1 s lease alive for 3 s")

# 4. backoff with jitter: scheduled_for in [now + 0.5*b, now + b]
j = s.submit(alice, {"retry": {"max_attempts": 3, "backoff_s": 4, "backoff_max_s": 600}}).json
c = s.claim().json["claims"][0]
s.internal("POST", exe_path(c, "start"), {"lease_token": c["lease_token"]})
wait_status(c["execution_id"], ("lost",))
job = s.get("/v1/jobs/" + j["id"], token=alice).json
db = s.db()
sched, fin = db.execute("SELECT e2.scheduled_for, e1.finished_at FROM executions e1, executions"
                        " e2 WHERE e1.id = ? AND e2.id = ?",
                        (c["execution_id"], job["executions"][1]["id"])).fetchone()
db.close()
delay = (sched - fin) / 1000.0
print("retry delay for backoff_s=4, attempt 1: %.2f s" % delay)
check(2.0 <= delay <= 4.0, "retry scheduled after backoff x U(0.5, 1)")
check(s.claim().json["claims"] == [], "a retry is not claimable before its time")

# 5. retry on failure (on_failure) -> failed after max attempts
j = s.submit(alice, {"retry": {"max_attempts": 2, "backoff_s": 0, "backoff_max_s": 0,
                               "on_failure": True}}).json
statuses = []
for attempt in (1, 2):
    cs = [x for x in s.claim(slots=8, wait_s=2).json["claims"] if x["job_id"] == j["id"]]
    check(len(cs) == 1 and cs[0]["attempt"] == attempt, "on_failure attempt %d claimed" % attempt)
    if not cs:
        break
    s.internal("POST", exe_path(cs[0], "start"), {"lease_token": cs[0]["lease_token"]})
    r = s.internal("POST", exe_path(cs[0], "complete"),
                   {"lease_token": cs[0]["lease_token"],
                    "result": {"reason": "exited", "exit_code": 2}})
    statuses.append(r.json["status"])
job = s.get("/v1/jobs/" + j["id"], token=alice).json
check(statuses == ["failed", "failed"] and len(job["executions"]) == 2 and
      job["status"] == "failed", "failed -> retried once -> failed after max attempts")

# 6. a restart extends live leases by one period before the reaper runs
j = s.submit(alice).json
c = [x for x in s.claim(slots=8).json["claims"] if x["job_id"] == j["id"]][0]
s.internal("POST", exe_path(c, "start"), {"lease_token": c["lease_token"]})
s.stop()
time.sleep(2.5)  # the 1 s lease is long gone
s.start()
r = s.internal("POST", exe_path(c, "heartbeat"), {"lease_token": c["lease_token"]})
check(r.status == 200, "after a restart the lease was extended, not lost (%r)" % r)
finish()
