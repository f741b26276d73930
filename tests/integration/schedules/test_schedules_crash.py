"""Exactly once per tick with a real jobcell-api and the test clock:
 1. an every-minute schedule across kill -9 of the server at the moment of a tick and a
    restart: each minute's tick has exactly one run;
 2. two servers on the same SQLite file: every tick of every schedule fires once, never
    twice, and the two servers' fired counters add up to the number of runs."""
import atexit
import random
import signal
import time

from clock import MIN, T0, Clock, rfc3339, wait_for
from jcapi import Server, check, expect, finish

JOB = {"runtime": "bash", "script": "true"}
clock = Clock(T0 + 1000)
atexit.register(clock.cleanup)

# ---- 1. kill -9 at the tick ---------------------------------------------------------------
s = Server()
alice = s.token("alice")
r = expect(s.request("POST", "/v1/schedules", token=alice,
                     body={"cron": "* * * * *", "job": JOB, "overlap": "allow"}), 201,
           "create an every-minute schedule")
sid = r.json["id"]


def ticks(server, sched):
    r = server.get("/v1/schedules/%s/runs?limit=100" % sched, token=alice)
    return sorted(x["tick"] for x in r.json["runs"]) if r.status == 200 else None


rng = random.Random(7)
MINUTES = 8
for m in range(1, MINUTES + 1):
    clock.set(T0 + m * MIN + 100)
    if m % 2 == 0:
        # The moment of the tick: the clock moves and the server dies within 0–30 ms,
        # before, during or after the tick's transaction.
        time.sleep(rng.uniform(0, 0.03))
        s.stop(signal.SIGKILL)
        s.start()
    check(wait_for(lambda: ticks(s, sid) is not None and len(ticks(s, sid)) >= m),
          "minute %d has a run" % m)
time.sleep(0.3)
got = ticks(s, sid)
check(got == [rfc3339(T0 + m * MIN) for m in range(1, MINUTES + 1)],
      "exactly one run per minute across %d kill -9 restarts (%r)" % (MINUTES // 2, got))
s.stop()

# ---- 2. two servers, one SQLite file ------------------------------------------------------
clock.set(T0 + 100 * MIN + 1000)
a = Server()
b = Server(extra={"store_path": a.config["store_path"]})
alice = a.token("alice")
ids = []
for i in range(20):
    srv = a if i % 2 == 0 else b
    r = srv.request("POST", "/v1/schedules", token=alice,
                    body={"name": "s%d" % i, "cron": "* * * * *", "job": JOB,
                          "overlap": "allow"})
    ids.append(r.json["id"] if r.status == 201 else None)
check(all(ids), "20 schedules created through both servers")
ROUNDS = 5
for m in range(1, ROUNDS + 1):
    clock.set(T0 + (100 + m) * MIN + 200)
    check(wait_for(lambda: all(len(ticks(a, i)) >= m for i in ids), timeout=15),
          "round %d: every schedule fired" % m)
time.sleep(0.5)
want = [rfc3339(T0 + (100 + m) * MIN) for m in range(1, ROUNDS + 1)]
check(all(ticks(a, i) == want for i in ids), "every tick of every schedule fired exactly once")


def fired(server):
    for line in server.get("/metrics").body.decode().splitlines():
        if line.startswith("jobcell_schedule_ticks_fired_total "):
            return int(line.split()[1])
    return -1


fa, fb = fired(a), fired(b)
check(fa + fb == 20 * ROUNDS, "the servers fired %d + %d = %d runs" % (fa, fb, 20 * ROUNDS))
finish()
