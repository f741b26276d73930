"""Several jobcell-api servers on one PostgreSQL database (run with JC_TEST_PG only).

1. A submit on one server wakes a claim long-poll waiting on another (LISTEN/NOTIFY); so
   does a requeue by another server's reaper. The wake-up latency is printed; the check
   is only that it came long before the poll's own timeout.
2. The storm: 3 servers, 8 fake orchestrators spread over them, JC_SCALE_N (20,000)
   executions submitted while they are claimed and completed. One server is killed with
   SIGKILL in the middle, together with one orchestrator attached to it (its host died):
   the other orchestrators and the submitters move to the surviving servers (as behind a
   load balancer; submits are retried with their Idempotency-Key). Afterwards: every
   submit made exactly one job, every execution was handed out once (only the claims the
   dead orchestrator had not started are handed out again, after their lease), every job
   succeeded, and the leases that expired while their server was down were reaped by the
   others (lost -> retried once, or requeued)."""
import http.client
import json
import os
import signal
import statistics
import sys
import threading
import time

from jcapi import PG, Server, check, finish, psql

if not PG:
    sys.exit("test_replicas needs JC_TEST_PG (the PostgreSQL variant)")

N = int(os.environ.get("JC_SCALE_N", "20000"))
LEASE_S = 5
SPEC = {"runtime": "bash", "script": "true",
        "retry": {"max_attempts": 2, "backoff_s": 0, "backoff_max_s": 0}}

a = Server({"lease_s": LEASE_S, "reaper_interval_s": 1, "threads": 8})
replicas = [a] + [Server({"lease_s": LEASE_S, "reaper_interval_s": 1, "threads": 8,
                          "store_path": a.config["store_path"]}) for _ in range(2)]
tok = a.token("scale")
db = a.pgdb


def sql1(q):
    return int(psql(q, db)[0][0])


class Client:
    """One keep-alive connection to a server (a fake orchestrator's or submitter's)."""

    def __init__(self, srv):
        self.srv = srv
        self.conn = None

    def post(self, path, body, headers, timeout=15):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=timeout)
        try:
            h = {"Content-Type": "application/json"}
            h.update(headers)
            self.conn.request("POST", path, body=json.dumps(body).encode(), headers=h)
            r = self.conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            raise OSError(str(e))

    def internal(self, path, body, orc, timeout=15):
        return self.post(path, body, {"Authorization": "Bearer " + self.srv.key,
                                      "X-Orchestrator-ID": orc}, timeout)


# ---- 1. wake-ups across servers ---------------------------------------------------------

def poll_latency(waiter, trigger):
    """Start a 20 s claim long-poll on `waiter`, then run trigger(); seconds from the time
    trigger() returns to the poll's answer, and the claims it got."""
    out = {}

    def poll():
        c = Client(waiter)
        out["r"] = c.internal("/internal/v1/claims", {"slots": 1, "wait_s": 20}, "waiter", 30)
        out["t"] = time.monotonic()

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.4)  # the poll is suspended on the waiting server now
    t0 = trigger()
    th.join(30)
    return out["t"] - t0, out["r"][1]["claims"]


lat = []
for i in range(5):
    sub = {}

    def submit_on_other():
        t0 = time.monotonic()  # the latency includes the submit itself
        st, body = Client(replicas[1]).post("/v1/jobs", SPEC, {"Authorization": "Bearer " + tok})
        sub["exe"] = body["executions"][0]["id"]
        return t0

    dt, claims = poll_latency(replicas[0], submit_on_other)
    lat.append(dt)
    ok = len(claims) == 1 and claims[0]["execution_id"] == sub["exe"]
    check(ok and dt < 2.0, "a submit on server B wakes a poll on server A (%.1f ms)" % (dt * 1e3))
    if ok:
        Client(replicas[0]).internal("/internal/v1/executions/%s/complete" % sub["exe"],
                                     {"lease_token": claims[0]["lease_token"],
                                      "result": {"reason": "exited", "exit_code": 0}}, "waiter")
print("cross-server wake-up: median %.1f ms, max %.1f ms" %
      (statistics.median(lat) * 1e3, max(lat) * 1e3))

# a requeue made by another server's reaper wakes a poll too: claim on C, never start
st, body = Client(replicas[1]).post("/v1/jobs", SPEC, {"Authorization": "Bearer " + tok})
rq = body["executions"][0]["id"]
st, body = Client(replicas[2]).internal("/internal/v1/claims", {"slots": 1}, "gone-host")
check(st == 200 and [c["execution_id"] for c in body["claims"]] == [rq],
      "the job is claimed on server C")
dt, claims = poll_latency(replicas[0], time.monotonic)  # nobody submits: only the reaper
check([c["execution_id"] for c in claims] == [rq] and dt < LEASE_S + 3,
      "the expired claim is requeued and wakes the poll on server A (%.2f s)" % dt)
if claims:
    Client(replicas[0]).internal("/internal/v1/executions/%s/complete" % rq,
                                 {"lease_token": claims[0]["lease_token"],
                                  "result": {"reason": "exited", "exit_code": 0}}, "waiter")
base_jobs = sql1("SELECT count(*) FROM jobs")

# ---- 2. the storm -----------------------------------------------------------------------

lock = threading.Lock()
alive = [True, True, True]
VICTIM = 2                # the server killed mid-storm
DOOMED = "orc-2"          # attached to the victim, dies with it
killed = threading.Event()
stop = threading.Event()
job_ids = {}              # idempotency key -> job id
claims_seen = {}          # execution id -> list of orchestrators it was handed to
started_by_doomed = set()
errors = []


def next_alive(i):
    for k in range(3):
        j = (i + k) % 3
        if alive[j]:
            return j
    raise RuntimeError("no server left")


def submitter(t, count):
    r = t % 3
    c = Client(replicas[r])
    for i in range(count):
        key = "k-%d-%d" % (t, i)
        for attempt in range(20):
            try:
                st, body = c.post("/v1/jobs", SPEC, {"Authorization": "Bearer " + tok,
                                                    "Idempotency-Key": key})
                if st != 201:
                    raise RuntimeError("submit %s -> %d %r" % (key, st, body))
                with lock:
                    job_ids[key] = body["id"]
                break
            except OSError:
                r = next_alive(r + 1)  # the load balancer sends the retry elsewhere
                c = Client(replicas[r])
        else:
            errors.append("submit %s never answered" % key)


def orchestrator(i):
    name = "orc-%d" % i
    r = i % 3
    c = Client(replicas[r])
    pending = []  # the doomed one: (deadline, claim) started and not yet completed
    while not stop.is_set():
        if name == DOOMED and killed.is_set():
            return  # its host died with the server: whatever it holds is abandoned
        try:
            st, body = c.internal("/internal/v1/claims", {"slots": 16, "wait_s": 1}, name)
            if st != 200:
                errors.append("claim -> %d" % st)
                return
            got = body["claims"]
            with lock:
                for cl in got:
                    claims_seen.setdefault(cl["execution_id"], []).append(name)
            if name == DOOMED:
                for cl in got:
                    c.internal("/internal/v1/executions/%s/start" % cl["execution_id"],
                               {"lease_token": cl["lease_token"]}, name)
                    with lock:
                        started_by_doomed.add(cl["execution_id"])
                    pending.append((time.monotonic() + 0.5, cl))
                due = [p for p in pending if p[0] <= time.monotonic()]
                pending = [p for p in pending if p[0] > time.monotonic()]
                got = [p[1] for p in due]
            for cl in got:
                for attempt in range(5):
                    try:
                        st, body = c.internal(
                            "/internal/v1/executions/%s/complete" % cl["execution_id"],
                            {"lease_token": cl["lease_token"],
                             "result": {"reason": "exited", "exit_code": 0}}, name)
                        if st != 200:
                            errors.append("%s complete %s -> %d %r" %
                                          (name, cl["execution_id"], st, body))
                        break
                    except OSError:
                        if name == DOOMED:
                            return
                        r = next_alive(r + 1)
                        c = Client(replicas[r])
        except OSError:
            if name == DOOMED:
                return
            r = next_alive(r + 1)
            c = Client(replicas[r])


t_start = time.monotonic()
subs = [threading.Thread(target=submitter, args=(t, N // 4 + (1 if t < N % 4 else 0)))
        for t in range(4)]
orcs = [threading.Thread(target=orchestrator, args=(i,)) for i in range(8)]
[t.start() for t in subs + orcs]

# kill -9 the victim once a third of the work is submitted
deadline = time.monotonic() + 300
while time.monotonic() < deadline and len(job_ids) < N // 3:
    time.sleep(0.05)
killed.set()
replicas[VICTIM].proc.send_signal(signal.SIGKILL)
replicas[VICTIM].proc.wait()
alive[VICTIM] = False
t_kill = time.monotonic()
print("server %d killed after %d submits (%.1f s)" % (VICTIM, len(job_ids), t_kill - t_start))

[t.join(600) for t in subs]
t_submitted = time.monotonic()
# every job must end succeeded, including the ones the dead orchestrator held
deadline = time.monotonic() + 240
done = 0
while time.monotonic() < deadline:
    done = sql1("SELECT count(*) FROM jobs j JOIN executions e ON e.id = j.latest_exe"
                " WHERE e.status = 3")
    if done >= N + base_jobs:
        break
    time.sleep(0.5)
t_done = time.monotonic()
stop.set()
[t.join(60) for t in orcs]
print("storm: %d jobs submitted in %.1f s, all done after %.1f s (%.0f executions/s)" %
      (len(job_ids), t_submitted - t_start, t_done - t_start, N / (t_done - t_start)))

check(not errors, "no request failed (%r)" % errors[:3])
check(len(job_ids) == N, "every submit was answered (%d of %d)" % (len(job_ids), N))
jobs_in_store = set(r[0] for r in psql("SELECT id FROM jobs", db))
check(len(set(job_ids.values())) == N and set(job_ids.values()) <= jobs_in_store,
      "every answered submit is one distinct stored job")
check(len(jobs_in_store) == N + base_jobs,
      "no job invented by the retried submits (%d stored)" % len(jobs_in_store))
check(done == N + base_jobs, "every job succeeded (%d of %d)" % (done, N + base_jobs))

dups = {e: o for e, o in claims_seen.items() if len(o) > 1}
check(all(o[0] == DOOMED and len(o) == 2 and e not in started_by_doomed
          for e, o in dups.items()),
      "every execution was handed out once; only %d claims the dead orchestrator never "
      "started were handed out again" % len(dups))
lost = [r[0] for r in psql("SELECT id FROM executions WHERE status = 6", db)]
check(set(lost) <= started_by_doomed,
      "only executions the dead orchestrator had started were lost (%d)" % len(lost))
check(len(lost) + len(dups) > 0,
      "the dead orchestrator held leases that expired while its server was down (%d lost, "
      "%d requeued)" % (len(lost), len(dups)))
twice = sql1("SELECT count(*) FROM (SELECT job_id FROM executions GROUP BY job_id"
             " HAVING count(*) > 2) x")
retried = sql1("SELECT count(*) FROM executions e JOIN executions p ON p.job_id = e.job_id"
               " AND p.attempt = 1 AND p.status = 6 WHERE e.attempt = 2 AND e.status = 3")
check(twice == 0 and retried == len(lost),
      "every lost execution was retried exactly once, by another server's reaper")
check(sql1("SELECT count(*) FROM executions WHERE status IN (0, 1, 2)") == 0,
      "nothing left queued, claimed or running")
finish()
