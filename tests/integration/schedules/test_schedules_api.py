"""/v1/schedules against a real jobcell-api with the test clock: validation, ownership,
pause/resume, trigger, runs, end_at, the schedule shown on jobs and executions, metrics."""
import atexit
import time

from clock import MIN, T0, Clock, rfc3339, wait_for
from jcapi import Server, check, expect, finish

clock = Clock(T0 + 1000)
atexit.register(clock.cleanup)
s = Server()
admin = s.token("root", "admin")
alice = s.token("alice")
bob = s.token("bob")
JOB = {"runtime": "bash", "script": "echo tick"}


def post(body, token=alice):
    return s.request("POST", "/v1/schedules", body=body, token=token)


def runs(sid, token=alice):
    r = s.get("/v1/schedules/%s/runs?limit=100" % sid, token=token)
    return r.json["runs"] if r.status == 200 else None


# ---- validation ---------------------------------------------------------------------------
expect(post({"cron": "* * * * *", "job": JOB, "bogus": 1}), 400, "unknown field",
       "unknown_field", "bogus")
r = expect(post({"cron": "*/0 * * * *", "job": JOB}), 400, "bad cron step", "invalid_field",
           "cron")
check(r.json["message"] == "cron: minute field at character 3: step 0 is out of range 1-60",
      "cron error names the field and character")
r = expect(post({"cron": "0 0 31 2 *", "job": JOB}), 400, "cron that never fires",
           "invalid_field", "cron")
expect(post({"cron": 5, "job": JOB}), 400, "cron not a string", "invalid_field", "cron")
expect(post({"job": JOB}), 400, "cron missing", "invalid_field", "cron")
expect(post({"cron": "* * * * *"}), 400, "job missing", "invalid_field", "job")
expect(post({"cron": "* * * * *", "job": {"runtime": "bash"}}), 400, "job.script missing",
       "invalid_field", "job.script")
expect(post({"cron": "* * * * *", "job": {"runtime": "bash", "script": "x", "zzz": 1}}), 400,
       "unknown field inside the job", "unknown_field", "job.zzz")
expect(post({"cron": "* * * * *", "job": dict(JOB, scheduled_for="2026-12-01T00:00:00Z")}), 400,
       "job.scheduled_for refused", "invalid_field", "job.scheduled_for")
expect(post({"cron": "* * * * *", "job": JOB, "timezone": "Mars/Olympus"}), 400,
       "unknown zone", "invalid_field", "timezone")
expect(post({"cron": "* * * * *", "job": JOB, "timezone": "../../etc/passwd"}), 400,
       "zone path traversal", "invalid_field", "timezone")
expect(post({"cron": "* * * * *", "job": JOB, "overlap": "sometimes"}), 400, "bad overlap",
       "invalid_field", "overlap")
expect(post({"cron": "* * * * *", "job": JOB, "catchup": "all"}), 400, "catchup all refused",
       "invalid_field", "catchup")
expect(post({"cron": "* * * * *", "job": JOB, "jitter_s": 3601}), 400, "jitter too large",
       "invalid_field", "jitter_s")
expect(post({"cron": "* * * * *", "job": JOB, "jitter_s": -1}), 400, "negative jitter",
       "invalid_field", "jitter_s")
expect(post({"cron": "* * * * *", "job": JOB, "paused": "yes"}), 400, "paused not a boolean",
       "invalid_field", "paused")
expect(post({"cron": "* * * * *", "job": JOB, "start_at": "2026-12-02T00:00:00Z",
             "end_at": "2026-12-01T00:00:00Z"}), 400, "end_at before start_at",
       "invalid_field", "end_at")
expect(post({"cron": "* * * * *", "job": JOB, "start_at": "tomorrow"}), 400, "bad start_at",
       "invalid_field", "start_at")
expect(post({"cron": "* * * * *", "job": JOB, "name": "x" * 129}), 400, "name too long",
       "invalid_field", "name")
expect(s.request("POST", "/v1/schedules", body={"cron": "* * * * *", "job": JOB}), 401,
       "no token")

# ---- create, read, ownership -------------------------------------------------------------
r = expect(post({"name": "nightly", "cron": "30 2 * * *", "timezone": "Europe/Prague",
                 "job": JOB}), 201, "create a Prague schedule")
nightly = r.json
check(nightly["id"].startswith("sch_") and nightly["owner"] == "alice" and
      nightly["overlap"] == "skip" and nightly["catchup"] == "none" and
      nightly["jitter_s"] == 0 and nightly["paused"] is False, "defaults applied")
# 02:30 CET on 2026-11-19 is 01:30Z.
check(nightly["next_run_at"] == "2026-11-19T01:30:00.000Z", "next run in the zone's time")
check(nightly["job"]["timeout_s"] == 300 and nightly["job"]["resources"]["memory_mb"] == 512,
      "the job spec is stored complete, with defaults")
check(nightly["job"]["name"] == "nightly", "an unnamed job takes the schedule's name")
r = expect(post({"cron": "@daily", "job": dict(JOB, name="report")}), 201, "unnamed schedule")
check(r.json["name"] == "report" and r.json["job"]["name"] == "report",
      "an unnamed schedule takes the job's name")
expect(s.request("DELETE", "/v1/schedules/" + r.json["id"], token=alice), 204, "DELETE it")
expect(s.get("/v1/schedules/" + nightly["id"], token=bob), 404, "another user's schedule",
       "not_found")
expect(s.request("DELETE", "/v1/schedules/" + nightly["id"], token=bob), 404,
       "another user cannot delete it", "not_found")
expect(s.request("POST", "/v1/schedules/%s/trigger" % nightly["id"], token=bob), 404,
       "another user cannot trigger it", "not_found")
check(s.get("/v1/schedules", token=bob).json["schedules"] == [], "bob lists nothing")
check([x["id"] for x in s.get("/v1/schedules", token=admin).json["schedules"]] ==
      [nightly["id"]], "admin lists alice's schedule")

# ---- PATCH -------------------------------------------------------------------------------
r = expect(s.request("PATCH", "/v1/schedules/" + nightly["id"],
                     body={"cron": "0 9 * * mon-fri", "timezone": "America/New_York"},
                     token=alice), 200, "PATCH cron and timezone")
check(r.json["next_run_at"] == "2026-11-19T14:00:00.000Z" and r.json["name"] == "nightly",
      "PATCH recomputes the next run (09:00 EST = 14:00Z), keeps the rest")
expect(s.request("PATCH", "/v1/schedules/" + nightly["id"], body={"cron": "61 * * * *"},
                 token=alice), 400, "PATCH validates", "invalid_field", "cron")
expect(s.request("PATCH", "/v1/schedules/" + nightly["id"], body={"owner": "bob"},
                 token=alice), 400, "PATCH cannot change the owner", "unknown_field", "owner")

# ---- every minute: exactly one run per tick ---------------------------------------------
r = expect(post({"name": "minutely", "cron": "* * * * *", "job": JOB, "overlap": "allow"}),
           201, "create an every-minute schedule")
minutely = r.json["id"]
for m in range(1, 6):
    clock.set(T0 + m * MIN + 300)
    check(wait_for(lambda: len(runs(minutely)) == m), "minute %d fired" % m)
time.sleep(0.3)
rs = runs(minutely)
check([x["tick"] for x in rs] == [rfc3339(T0 + m * MIN) for m in range(5, 0, -1)],
      "five runs, one per tick, newest first")
exe = rs[0]["execution"]
check(exe["status"] == "queued" and rs[0]["trigger"] is False, "the run is a queued execution")
r = expect(s.get("/v1/executions/" + exe["id"], token=alice), 200, "GET the execution")
check(r.json.get("schedule") == {"id": minutely, "tick": rfc3339(T0 + 5 * MIN)},
      "the execution names its schedule and tick")
r = expect(s.get("/v1/jobs/" + rs[0]["job_id"], token=alice), 200, "GET the job")
check(r.json.get("schedule", {}).get("id") == minutely, "the job names its schedule")
r = s.get("/v1/schedules/" + minutely, token=alice).json
check(r["fired"] == 5 and r["last_tick"] == rfc3339(T0 + 5 * MIN) and
      r["next_run_at"] == rfc3339(T0 + 6 * MIN), "counters and next run")

# ---- pause and resume -------------------------------------------------------------------
r = expect(s.request("POST", "/v1/schedules/%s/pause" % minutely, token=alice), 200, "pause")
check(r.json["paused"] is True and r.json["next_run_at"] is None, "paused: no next run")
for m in range(6, 9):
    clock.set(T0 + m * MIN + 300)
    time.sleep(0.15)
check(len(runs(minutely)) == 5, "no runs while paused")
r = expect(s.request("POST", "/v1/schedules/%s/resume" % minutely, token=alice), 200, "resume")
check(r.json["paused"] is False and r.json["next_run_at"] == rfc3339(T0 + 9 * MIN),
      "resume continues from now, without the paused ticks")
clock.set(T0 + 9 * MIN + 300)
check(wait_for(lambda: len(runs(minutely)) == 6), "fires again after resume")
r = s.get("/v1/schedules/" + minutely, token=alice).json
check(r["missed"] == 0, "paused ticks are not counted as missed")

# ---- trigger ----------------------------------------------------------------------------
r = expect(s.request("POST", "/v1/schedules/%s/trigger" % nightly["id"], token=alice), 201,
           "trigger runs now")
check(r.json["id"].startswith("job_") and r.json["executions"][0]["status"] == "queued" and
      r.json["schedule"] == {"id": nightly["id"], "tick": None}, "trigger answers the job")
rs = runs(nightly["id"])
check(len(rs) == 1 and rs[0]["trigger"] is True and rs[0]["tick"] is None,
      "the trigger is listed as a run without a tick")

# ---- end_at -----------------------------------------------------------------------------
now = clock.now
r = expect(post({"cron": "* * * * *", "job": JOB, "overlap": "allow",
                 "end_at": rfc3339(T0 + 12 * MIN)}), 201, "schedule with end_at")
ending = r.json["id"]
for m in range(10, 15):
    clock.set(T0 + m * MIN + 300)
    time.sleep(0.15)
check(wait_for(lambda: len(runs(ending)) == 2), "ticks before end_at fired")
time.sleep(0.2)
r = s.get("/v1/schedules/" + ending, token=alice).json
check(len(runs(ending)) == 2 and r["next_run_at"] is None,
      "end_at stops firing (10 and 11 ran, 12 onward did not)")

# ---- list, delete, metrics ---------------------------------------------------------------
r = s.get("/v1/schedules?limit=2", token=alice).json
check(len(r["schedules"]) == 2 and r["next_cursor"], "list pages with a cursor")
r2 = s.get("/v1/schedules?limit=2&cursor=" + r["next_cursor"], token=alice).json
check(len(r2["schedules"]) == 1 and r2["next_cursor"] is None, "second page ends the list")
expect(s.get("/v1/schedules?limit=0", token=alice), 400, "limit bounds", "invalid_field",
       "limit")
expect(s.request("DELETE", "/v1/schedules/" + ending, token=alice), 204, "DELETE")
expect(s.get("/v1/schedules/" + ending, token=alice), 404, "deleted", "not_found")
m = s.get("/metrics").body.decode()
fired = [l for l in m.splitlines() if l.startswith("jobcell_schedule_ticks_fired_total ")]
# minutely: 5 + 1 after resume + 5 during the end_at part (10–14); ending: 2.
check(len(runs(minutely)) == 11, "the every-minute schedule kept its pace")
check(fired == ["jobcell_schedule_ticks_fired_total 13"], "metrics count fired ticks (%r)" % fired)
check("jobcell_schedule_lag_seconds_count 13" in m, "lag histogram observed every fire")
check("jobcell_schedule_triggers_total 1" in m, "the trigger is counted apart")
finish()
