"""8 concurrent claimers over 2,000 executions: each execution is claimed exactly once."""
import random
import threading

from jcapi import Server, check, finish

N, CLAIMERS = 2000, 8
s = Server()
tok = s.token("loader")
submitted = set()
lock = threading.Lock()


submit_errors = []


def submitter(k):
    for i in range(N // 4):
        try:
            r = s.submit(tok, {"name": "c%d-%d" % (k, i)})
        except OSError as e:
            submit_errors.append(repr(e))
            return
        if r.status != 201:
            submit_errors.append(r)
            return
        with lock:
            submitted.add(r.json["executions"][0]["id"])


ts = [threading.Thread(target=submitter, args=(k,)) for k in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
check(len(submitted) == N and not submit_errors,
      "%d executions submitted (%r)" % (N, submit_errors[:1]))

claims = {i: [] for i in range(CLAIMERS)}
errors = []


def claimer(i):
    rnd = random.Random(i)
    empty = 0
    for _ in range(5000):
        try:
            r = s.claim(slots=rnd.randint(1, 8), orc="host-%d" % i)
        except OSError as e:
            errors.append(repr(e))
            return
        if r.status != 200:
            errors.append(r)
            return
        got = r.json["claims"]
        claims[i].extend((c["execution_id"], c["lease_token"]) for c in got)
        if not got:
            empty += 1
            if empty >= 2:
                return
        else:
            empty = 0


ts = [threading.Thread(target=claimer, args=(i,)) for i in range(CLAIMERS)]
[t.start() for t in ts]
[t.join(240) for t in ts]
check(not errors, "every claim answered 200 (%r)" % errors[:1])
all_ids = [e for i in claims for e, _ in claims[i]]
print("claims per claimer:", [len(claims[i]) for i in range(CLAIMERS)])
check(len(all_ids) == N, "2000 claims handed out (got %d)" % len(all_ids))
check(len(set(all_ids)) == len(all_ids), "no execution handed out twice")
check(set(all_ids) == submitted, "every submitted execution was claimed")
check(sum(1 for i in claims if claims[i]) >= 2, "claims were spread over several claimers")

db = s.db()
rows = dict((r[0], (r[1], r[2], r[3])) for r in
            db.execute("SELECT id, status, orchestrator_id, lease_token FROM executions"))
db.close()
ok = all(rows[e] == (1, "host-%d" % i, lt) for i in claims for e, lt in claims[i])
check(ok, "the store records each claim with the claimer and lease token it was given")
check(s.claim(slots=64).json["claims"] == [], "nothing left to claim")

# A long poll whose orchestrator went away while it waited (a daemon stopped or killed)
# must not take work on its behalf: the work would sit claimed by nobody for a lease.
import json as _json
import socket as _socket
import time as _time

body = _json.dumps({"slots": 1, "wait_s": 20}).encode()
head = ("POST /internal/v1/claims HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
        "X-Orchestrator-ID: gone-host\r\nContent-Type: application/json\r\n"
        "Content-Length: %d\r\n\r\n" % (s.key, len(body))).encode()
gone = _socket.create_connection(("127.0.0.1", s.port))
gone.sendall(head + body)
_time.sleep(0.5)  # the poll is suspended on the server now
gone.close()
_time.sleep(0.2)
late = s.submit(tok, {"name": "after-the-poller-left"}).json["executions"][0]["id"]
_time.sleep(0.5)  # the submit wakes the dead poll first
got = [c["execution_id"] for c in s.claim(slots=1, wait_s=0, orc="host-b").json["claims"]]
check(got == [late], "a poll whose caller left took nothing: the next claimer gets the job (%r)" % got)
finish()
