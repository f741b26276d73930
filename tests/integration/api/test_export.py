"""Moving a store between backends: `jobcell-api export | jobcell-api import`, SQLite ->
PostgreSQL -> SQLite (needs JC_TEST_PG).

A SQLite store with every kind of data (jobs in every state, binary log bytes, variables,
tokens, a schedule, idempotency records, audit events, a claim held by an orchestrator)
is exported, imported into an empty PostgreSQL database and exported again: the two
exports hold the same rows. A server on the PostgreSQL copy then serves it as the first
did: the token works, the job list pages the same, the log bytes are identical, the held
claim's lease token is still accepted, new jobs get new keys. Importing into a store that
is not empty, or bad input, changes nothing."""
import json
import os
import subprocess
import sys

from jcapi import BIN, PG, Server, check, expect, finish

if not PG:
    sys.exit("test_export needs JC_TEST_PG (the PostgreSQL variant)")


def run(args, stdin=None):
    return subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=120)


def rows_of(export_bytes):
    lines = export_bytes.decode().splitlines()
    head = json.loads(lines[0])
    return head, sorted(lines[1:])


# ---- a SQLite store with a bit of everything --------------------------------------------
del os.environ["JC_TEST_PG"]  # this first server is SQLite whatever the variant
import jcapi  # noqa: E402

jcapi.PG = None
src = Server({"lease_s": 60})
alice = src.token("alice")
admin = src.token("root", "admin")
jobs = []
for i in range(7):
    r = src.submit(alice, {"name": "j%d" % i, "retry": {"max_attempts": 2, "backoff_s": 0,
                                                        "backoff_max_s": 0}},
                   headers={"Idempotency-Key": "key-%d" % i})
    jobs.append(r.json)
src.internal("POST", "/internal/v1/orchestrators/heartbeat", {"slots_total": 4}, orc="host-x")
claims = src.claim(slots=3, orc="host-x").json["claims"]
done, held = claims[0], claims[1]
base = "/internal/v1/executions/%s/" % done["execution_id"]
src.internal("POST", base + "start", {"lease_token": done["lease_token"]}, orc="host-x")
payload = bytes(range(256)) * 3 + b"\x00end"
expect(src.internal("PUT", base + "logs?offset=0", raw=payload, orc="host-x",
                    headers={"X-Lease-Token": done["lease_token"],
                             "Content-Type": "application/octet-stream"}), 200, "binary log")
src.internal("POST", base + "complete", {"lease_token": done["lease_token"],
                                         "result": {"reason": "exited", "exit_code": 3}},
             orc="host-x")
src.request("POST", "/v1/jobs/%s/cancel" % jobs[6]["id"], token=alice)
src.request("PUT", "/v1/variables/colour", body={"value": {"hue": "blue", "n": [1, 2]}},
            token=alice)
sch = src.request("POST", "/v1/schedules", token=alice,
                  body={"cron": "0 3 * * *", "job": {"runtime": "sh", "script": "true"}})
check(sch.status == 201, "a schedule in the SQLite store (%r)" % sch)
page1 = src.get("/v1/jobs?limit=3", token=alice).json
src.stop()

ex1 = run(["export", "--config", src.cfgpath])
check(ex1.returncode == 0 and b"rows" in ex1.stderr, "export from SQLite (%r)" % ex1.stderr)
head1, rows1 = rows_of(ex1.stdout)
check(head1["backend"] == "sqlite" and head1["schema"] >= 2, "the export names its source")
tables = set(json.loads(r)["table"] for r in rows1)
check({"jobs", "executions", "log_chunks", "variables", "api_tokens", "audit_log",
       "idempotency", "orchestrators", "schedules"} <= tables,
      "every kind of data is exported (%s)" % sorted(tables))

# ---- into PostgreSQL ----------------------------------------------------------------------
os.environ["JC_TEST_PG"] = PG
jcapi.PG = PG
dst = Server({"lease_s": 60}, start=False)
mig = run(["migrate", "--config", dst.cfgpath])
check(mig.returncode == 0, "an empty PostgreSQL store (%r)" % mig.stderr)
bad = run(["import", "--config", dst.cfgpath], stdin=ex1.stdout +
          b"{\"table\": \"jobs\", \"row\": [1]}\n")
check(bad.returncode == 1 and b"wrong columns" in bad.stderr,
      "a damaged export is refused (%r)" % bad.stderr)
check(dst.db().execute("SELECT count(*) FROM jobs").fetchone()[0] == 0,
      "a refused import leaves nothing behind")
imp = run(["import", "--config", dst.cfgpath], stdin=ex1.stdout)
check(imp.returncode == 0, "import into PostgreSQL (%r)" % imp.stderr)
again = run(["import", "--config", dst.cfgpath], stdin=ex1.stdout)
check(again.returncode == 1 and b"not empty" in again.stderr,
      "import into a store that is not empty is refused (%r)" % again.stderr)
ex2 = run(["export", "--config", dst.cfgpath])
head2, rows2 = rows_of(ex2.stdout)
check(ex2.returncode == 0 and head2["backend"] == "postgresql", "export from PostgreSQL")
check(rows1 == rows2, "the PostgreSQL copy holds exactly the SQLite rows (%d rows)" % len(rows1))

dst.start()
r = expect(dst.get("/v1/jobs?limit=3", token=alice), 200, "the old token works on the copy")
check(r.json == page1, "the job list pages the same")
r2 = dst.get("/v1/jobs?limit=3&cursor=" + page1["next_cursor"], token=alice)
check(r2.status == 200 and len(r2.json["jobs"]) == 3, "its cursor pages on")
r = dst.get("/v1/executions/%s/logs" % done["execution_id"], token=alice)
check(r.status == 200 and r.body == payload, "the log bytes are identical")
r = dst.internal("POST", "/internal/v1/executions/%s/heartbeat" % held["execution_id"],
                 {"lease_token": held["lease_token"]}, orc="host-x")
check(r.status == 200, "a claim held across the move keeps its lease token (%r)" % r)
r = dst.submit(alice, {"name": "j1", "retry": {"max_attempts": 2, "backoff_s": 0,
                                                "backoff_max_s": 0}},
               headers={"Idempotency-Key": "key-1"})
check(r.status == 201 and r.json["id"] == jobs[1]["id"], "idempotency records moved too")
new = dst.submit(alice, {"name": "after"}).json
lst = dst.get("/v1/jobs?limit=1", token=alice).json["jobs"]
check(lst and lst[0]["id"] == new["id"], "a new job is the newest (the keys continue)")
v = dst.get("/v1/variables/colour", token=alice)
check(v.status == 200 and v.json["value"] == {"hue": "blue", "n": [1, 2]}, "variables moved")
s2 = dst.get("/v1/schedules/" + sch.json["id"], token=alice)
check(s2.status == 200 and s2.json["cron"] == "0 3 * * *", "schedules moved")
dst.stop()

# ---- and back into SQLite -----------------------------------------------------------------
ex3 = run(["export", "--config", dst.cfgpath])
del os.environ["JC_TEST_PG"]
jcapi.PG = None
back = Server(start=False)
imp = run(["import", "--config", back.cfgpath], stdin=ex3.stdout)
check(imp.returncode == 0, "import into SQLite (%r)" % imp.stderr)
ex4 = run(["export", "--config", back.cfgpath])
check(rows_of(ex4.stdout)[1] == rows_of(ex3.stdout)[1], "PostgreSQL -> SQLite keeps every row")
os.environ["JC_TEST_PG"] = PG
jcapi.PG = PG
finish()
