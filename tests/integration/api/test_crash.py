"""kill -9 of the server during a claim storm loses no execution and corrupts nothing:
after a restart every claim a client received is still held by it, the rest is claimable,
and the store passes SQLite's integrity check."""
import signal
import threading
import time

from jcapi import PG, Server, check, finish

N = 600
s = Server({"lease_s": 3, "reaper_interval_s": 1})
tok = s.token("storm")
submitted = set()
for i in range(N):
    r = s.submit(tok, {"name": "s%d" % i})
    assert r.status == 201
    submitted.add(r.json["executions"][0]["id"])

held = {}        # execution id -> lease token, claims received before the crash
owner = {}       # execution id -> the orchestrator id that claimed it
completed = set()  # completes acknowledged before the crash
lock = threading.Lock()
stop = threading.Event()


def storm(i):
    for _ in range(10000):
        if stop.is_set():
            return
        try:
            r = s.claim(slots=4, orc="storm-%d" % i, timeout=5)
            if r.status != 200:
                return
            for c in r.json["claims"]:
                with lock:
                    held[c["execution_id"]] = c["lease_token"]
                    owner[c["execution_id"]] = "storm-%d" % i
            for c in r.json["claims"]:
                base = "/internal/v1/executions/%s/" % c["execution_id"]
                s.internal("POST", base + "start", {"lease_token": c["lease_token"]},
                           orc="storm-%d" % i, timeout=5)
                r2 = s.internal("POST", base + "complete",
                                {"lease_token": c["lease_token"],
                                 "result": {"reason": "exited", "exit_code": 0}},
                                orc="storm-%d" % i, timeout=5)
                if r2.status == 200:
                    with lock:
                        completed.add(c["execution_id"])
        except OSError:
            return  # the server is gone


ts = [threading.Thread(target=storm, args=(i,)) for i in range(8)]
[t.start() for t in ts]
deadline = time.time() + 20
while time.time() < deadline and len(held) < N // 3:
    time.sleep(0.01)
s.proc.send_signal(signal.SIGKILL)
s.proc.wait()
stop.set()
[t.join(30) for t in ts]
print("before the crash: %d claims received, %d completes acknowledged" %
      (len(held), len(completed)))
check(0 < len(held) < N, "the crash happened in the middle of the storm")

db = s.db()
if not PG:  # PostgreSQL keeps its own consistency across a client's kill -9
    check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check ok")
rows = dict((r[0], (r[1], r[2], r[3])) for r in
            db.execute("SELECT id, status, lease_token, attempt FROM executions"))
db.close()
check(set(rows) == submitted, "no execution lost or invented (%d in the store)" % len(rows))
check(all(rows[e][0] == 3 for e in completed), "every acknowledged complete is stored")
check(all(rows[e][0] in (1, 2, 3) and rows[e][1] == held[e] for e in held),
      "every claim a client received is still held with its lease token")
check(all(r[2] == 1 for r in rows.values()), "no attempt used up")

s.start()
# finish what the storm held, with the tokens it was given (leases extended at start)
fin_ok = True
for e, lt in held.items():
    if e in completed:
        continue
    base = "/internal/v1/executions/%s/" % e
    s.internal("POST", base + "start", {"lease_token": lt}, orc=owner[e])
    r = s.internal("POST", base + "complete",
                   {"lease_token": lt, "result": {"reason": "exited", "exit_code": 0}},
                   orc=owner[e])
    fin_ok = fin_ok and r.status == 200 and r.json["status"] == "succeeded"
check(fin_ok, "claims held across the crash complete after the restart")
after = set()
deadline = time.time() + 40
while time.time() < deadline:
    cl = s.claim(slots=64, wait_s=1, orc="after").json["claims"]
    for c in cl:
        after.add(c["execution_id"])
        base = "/internal/v1/executions/%s/" % c["execution_id"]
        s.internal("POST", base + "start", {"lease_token": c["lease_token"]}, orc="after")
        s.internal("POST", base + "complete", {"lease_token": c["lease_token"],
                                               "result": {"reason": "exited", "exit_code": 0}},
                   orc="after")
    if len(after) + len(held) >= N:
        break
check(not (after & set(held)), "nothing held across the crash was handed out again")
db = s.db()
n_ok = db.execute("SELECT count(*) FROM executions WHERE status = 3").fetchone()[0]
total = db.execute("SELECT count(*) FROM executions").fetchone()[0]
db.close()
check(n_ok == N and total == N, "all %d executions succeeded exactly once (%d)" % (N, n_ok))
finish()
