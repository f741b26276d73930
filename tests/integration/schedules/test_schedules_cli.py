"""`jobcell schedule …` and `jobcell show` against a real jobcell-api with the test clock."""
import atexit
import json
import os
import subprocess
import time

from clock import MIN, T0, Clock, wait_for
from jcapi import Server, check, finish

CLI = os.environ.get("JC_CLI_BIN")
clock = Clock(T0 + 1000)
atexit.register(clock.cleanup)
s = Server()
alice = s.token("alice")
env = dict(os.environ, JOBCELL_URL="http://127.0.0.1:%d" % s.port, JOBCELL_TOKEN=alice,
           XDG_CONFIG_HOME=s.dir)


def cli(*args, stdin=None):
    p = subprocess.run([CLI] + list(args), input=stdin, capture_output=True, text=True,
                       env=env, timeout=30)
    return p.returncode, p.stdout, p.stderr


# Local expression checks: no server involved.
rc, out, err = cli("schedule", "next", "--cron", "30 2 * * *", "--timezone", "Europe/Prague",
                   "-n", "2")
check(rc == 0 and len(out.splitlines()) == 2 and
      all(" 02:30:00 CET (+01:00)   " in l and l.endswith("T01:30:00.000Z")
          for l in out.splitlines()), "next --cron prints local and UTC times (%r)" % out)
rc, out, err = cli("schedule", "next", "--cron", "0 0 30 2 *")
check(rc == 2 and "day-of-month field at character 5" in err, "next --cron reports the error")
rc, out, err = cli("schedule", "next", "--cron", "* * * * *", "--timezone", "Nowhere/City")
check(rc == 2 and "unknown zone" in err, "next --cron rejects an unknown zone")
rc, out, err = cli("schedule", "frobnicate")
check(rc == 2, "bad usage exits 2")
rc, out, err = cli("schedule", "--help")
check(rc == 0 and "jobcell schedule add FILE|-" in out, "--help")

spec = {"name": "cli", "cron": "* * * * *", "overlap": "allow",
        "job": {"runtime": "bash", "script": "true"}}
rc, out, err = cli("schedule", "add", "-", stdin=json.dumps(spec))
check(rc == 0 and out.startswith("sch_"), "add - reads standard input (%r)" % err)
sid = out.split()[0]
rc, out, err = cli("schedule", "add", "-", stdin=json.dumps(dict(spec, cron="0 0 31 2 *")))
check(rc == 1 and "cron: day-of-month" in err, "add shows the server's error")
rc, out, err = cli("schedule", "ls")
check(rc == 0 and sid in out and "* * * * *" in out, "ls lists it")
rc, out, err = cli("schedule", "next", sid, "-n", "3")
check(rc == 0 and len(out.splitlines()) == 3 and "UTC (+00:00)" in out, "next ID")
clock.set(T0 + MIN + 200)


def run_count():
    return len(s.get("/v1/schedules/%s/runs" % sid, token=alice).json["runs"])


check(wait_for(lambda: run_count() == 1), "the schedule fired")
exe = s.get("/v1/schedules/%s/runs" % sid, token=alice).json["runs"][0]["execution"]["id"]
rc, out, err = cli("show", exe)
check(rc == 0 and "schedule     %s (tick 2026-11-19T00:01:00.000Z)" % sid in out,
      "jobcell show names the schedule and tick (%r)" % out)
rc, out, err = cli("schedule", "pause", sid)
check(rc == 0 and "paused" in out, "pause")
rc, out, err = cli("schedule", "resume", sid)
check(rc == 0 and "active" in out, "resume")
rc, out, err = cli("schedule", "trigger", sid)
check(rc == 0 and out.startswith("job job_"), "trigger")
rc, out, err = cli("schedule", "show", sid)
check(rc == 0 and "2 fired" in out and "cron         * * * * *" in out, "show (%r)" % out)
rc, out, err = cli("schedule", "rm", sid)
check(rc == 0, "rm")
rc, out, err = cli("schedule", "show", sid)
check(rc == 1 and "no schedule" in err, "show after rm fails")
finish()
