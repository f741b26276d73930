#!/usr/bin/env python3
"""The jobcell command's remote subcommands: the real binary against the real jobcell-api.
An orchestrator is played by this script over the internal API where a job must run."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_harness import CLI_BIN, Server, check, eq, finish, http, runtime  # noqa: E402

COMMANDS = ["submit", "ls", "show", "logs", "cancel", "token", "var", "audit"]


def cli(args, token=None, url=None, stdin=None, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCELL_")}
    env["HOME"] = env_extra.pop("HOME") if env_extra and "HOME" in env_extra else tempfile.gettempdir() + "/jc-cli-nohome"
    env.pop("XDG_CONFIG_HOME", None)
    if token:
        env["JOBCELL_TOKEN"] = token
    if url:
        env["JOBCELL_URL"] = url
    env.update(env_extra or {})
    p = subprocess.run([CLI_BIN] + args, input=stdin, capture_output=True, text=True, env=env,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def write_private(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def play_orchestrator(s, log_bytes, exit_code, delay=0.3):
    """Claim the next execution, ship its log in two chunks, complete it."""
    c = s.claim()
    lt = c["lease_token"]
    half = len(log_bytes) // 2
    for off, chunk in ((0, log_bytes[:half]), (half, log_bytes[half:])):
        time.sleep(delay)
        st, doc, raw, _ = http("PUT", s.url + "/internal/v1/executions/%s/logs?offset=%d"
                               % (c["execution_id"], off), None,
                               {"Authorization": "Bearer " + s.internal_key,
                                "X-Orchestrator-ID": c["orc"], "X-Lease-Token": lt,
                                "Content-Type": "application/octet-stream"}, raw=chunk)
        if st != 200:
            print("log chunk failed: %d %r" % (st, raw))
    time.sleep(delay)
    s.complete(c, exit_code=exit_code)
    return c


def main():
    tmp = tempfile.mkdtemp(prefix="jc-cli-")
    rc, out, _ = cli(["--help"])
    eq(rc, 0, "jobcell --help exits 0")
    for c in COMMANDS:
        check(c in out, "jobcell --help lists " + c)
        rc, hout, _ = cli([c, "--help"])
        check(rc == 0 and "usage: jobcell " + c in hout and "--json" in hout,
              "jobcell %s --help exits 0 and shows usage" % c)
    eq(cli(["var", "frobnicate"])[0], 2, "bad usage exits 2")
    eq(cli(["show"])[0], 2, "show without an id exits 2")
    eq(cli(["ls", "--limit", "0"])[0], 2, "ls --limit 0 exits 2")

    with Server() as s:
        admin = s.api_token("root", "admin")
        alice = s.api_token("alice")
        rc, out, err = cli(["ls"], url=s.url)
        check(rc == 1 and "no API token" in err, "no token: exit 1 with a hint (%s)" % err.strip())
        rc, out, err = cli(["ls"], token="jct_" + "x" * 43, url=s.url)
        check(rc == 1 and "(HTTP 401)" in err, "a wrong token: exit 1 with the server's message (%s)" % err.strip())
        rc, out, err = cli(["ls", "--url", "http://127.0.0.1:1"], token=alice)
        check(rc == 1 and "cannot reach" in err, "unreachable server: exit 1")

        # token sources: --token-file, JOBCELL_TOKEN_FILE, the config file
        tf = os.path.join(tmp, "alice.token")
        write_private(tf, alice + "\n")
        eq(cli(["ls", "--token-file", tf], url=s.url)[0], 0, "--token-file")
        eq(cli(["ls"], url=s.url, env_extra={"JOBCELL_TOKEN_FILE": tf})[0], 0, "JOBCELL_TOKEN_FILE")
        write_private(os.path.join(tmp, "open.token"), alice, 0o644)
        rc, _, err = cli(["ls", "--token-file", os.path.join(tmp, "open.token")], url=s.url)
        check(rc == 1 and "chmod 600" in err, "a token file others can read is refused")
        home = os.path.join(tmp, "home")
        os.makedirs(os.path.join(home, ".config", "jobcell"))
        cfg = os.path.join(home, ".config", "jobcell", "config.json")
        write_private(cfg, json.dumps({"url": s.url, "token_file": tf}))
        eq(cli(["ls"], env_extra={"HOME": home})[0], 0, "config file with url and token_file")
        write_private(cfg, json.dumps({"url": s.url, "token": alice}), 0o644)
        rc, _, err = cli(["ls"], env_extra={"HOME": home})
        check(rc == 1 and "chmod 600" in err, "a config file holding a token must be private")
        write_private(cfg, json.dumps({"url": s.url, "tokn": alice}))
        rc, _, err = cli(["ls"], env_extra={"HOME": home})
        check(rc == 1 and "unknown setting 'tokn'" in err, "unknown config settings are named")

        # token create (admin for bob)
        rc, out, err = cli(["token", "create", "--name", "for-bob", "--user", "bob"], admin, s.url)
        bob = out.strip()
        check(rc == 0 and bob.startswith("jct_") and len(bob) == 47, "token create prints a new token")
        rc, out, err = cli(["token", "create", "--user", "carol"], alice, s.url)
        check(rc == 1 and any(h in err for h in ("HTTP 403", "HTTP 404", "HTTP 400")),
              "a user cannot create another user's token (%s)" % err.strip())
        rc, out, _ = cli(["token", "ls", "--json"], admin, s.url)
        check(rc == 0 and "for-bob" in out, "token ls --json")

        # submit, ls, show
        job_file = os.path.join(tmp, "job.json")
        with open(job_file, "w") as f:
            json.dump({"name": "cli-one", "runtime": "bash", "script": "echo hi", "input": {"a": 1}}, f)
        rc, out, err = cli(["submit", job_file], alice, s.url)
        job1 = out.strip()
        check(rc == 0 and job1.startswith("job_"), "submit FILE prints the job id")
        rc, out, _ = cli(["submit", "-", "--json"], alice, s.url,
                         stdin=json.dumps({"name": "cli-two", "runtime": "python", "script": "print(1)"}))
        doc = json.loads(out) if rc == 0 else {}
        job2 = doc.get("id", "")
        check(rc == 0 and job2.startswith("job_") and doc.get("executions"), "submit - --json")
        rc, out, err = cli(["submit", "-"], alice, s.url, stdin=json.dumps({"runtime": "cobol", "script": "x"}))
        check(rc == 1 and "runtime" in err and "HTTP 400" in err,
              "an invalid job: exit 1 with the server's message naming the field (%s)" % err.strip())
        # audit: the admin reads the trail; filters reach the server; users are refused
        rc, out, err = cli(["audit", "--kind", "job_submit", "--actor", "alice", "--since", "1h",
                            "--json"], admin, s.url)
        doc = json.loads(out) if rc == 0 else {}
        subs = doc.get("events", [])
        check(rc == 0 and len(subs) >= 2 and all(e["kind"] == "job_submit" and
                                                e["actor"]["id"] == "alice" for e in subs) and
              {job1, job2} <= {e["target"] for e in subs}, "audit --kind --actor --json (%s)" % err)
        rc, out, err = cli(["audit", "--actor", "alice"], admin, s.url)
        check(rc == 0 and "job_submit" in out and "ACTOR" in out, "audit prints a table")
        rc, out, err = cli(["audit"], alice, s.url)
        check(rc == 1 and "HTTP 403" in err, "audit is for administrators (%s)" % err.strip())
        rc, out, err = cli(["audit", "--outcome", "maybe"], admin, s.url)
        check(rc == 1 and "outcome" in err, "a bad outcome is refused by name (%s)" % err.strip())
        rc, out, err = cli(["audit", "extra"], admin, s.url)
        check(rc == 2, "audit takes no arguments")
        rc, out, err = cli(["submit", "-"], alice, s.url, stdin="{not json")
        check(rc == 1 and "not a JSON object" in err, "a malformed file is refused before sending")
        rc, out, _ = cli(["ls"], alice, s.url)
        check(rc == 0 and job1 in out and job2 in out and "cli-one" in out and "queued" in out,
              "ls shows the jobs in a table")
        rc, out, _ = cli(["ls", "--json"], alice, s.url)
        ids = [j["id"] for j in json.loads(out)] if rc == 0 else []
        eq(ids, [job2, job1], "ls --json: newest first")
        rc, out, _ = cli(["ls"], bob, s.url)
        check(rc == 0 and job1 not in out, "bob does not see alice's jobs")
        rc, out, err = cli(["show", job1], bob, s.url)
        check(rc == 1 and "HTTP 404" in err, "bob's show of alice's job: 404")

        # run job1 through the runtime API: output and condition show up in `show`
        c = s.claim()
        tok = s.mint(c)
        runtime(s, "POST", "/executions/%s/output" % c["execution_id"], tok, {"data": {"rows": 12}})
        runtime(s, "POST", "/executions/%s/condition" % c["execution_id"], tok, {"condition": True})
        s.complete(c, exit_code=0)
        rc, out, _ = cli(["show", c["job_id"]], alice, s.url)
        check(rc == 0 and '{"rows":12}' in out and "condition" in out and "true" in out
              and "succeeded" in out and "exited" in out,
              "show: status, output, condition and result")
        rc, out, _ = cli(["show", c["execution_id"], "--json"], alice, s.url)
        d = json.loads(out) if rc == 0 else {}
        eq((d.get("output"), d.get("condition"), d.get("status")), ({"rows": 12}, True, "succeeded"),
           "show EXE --json")

        # cancel: queued → canceled; finished → 409 with the server's message
        other = c["job_id"] == job1 and job2 or job1
        rc, out, _ = cli(["cancel", other], alice, s.url)
        check(rc == 0 and "canceled" in out, "cancel a queued job")
        rc, out, err = cli(["cancel", other], alice, s.url)
        check(rc == 1 and "HTTP 409" in err, "cancel a finished job: exit 1, HTTP 409 (%s)" % err.strip())

        # submit --wait follows the log and exits with the job's status
        for code in (0, 3):
            t = threading.Thread(target=play_orchestrator, args=(s, b"hello from the job\nsecond line\n", code))
            t.start()
            rc, out, err = cli(["submit", "--wait", job_file], alice, s.url, timeout=60)
            t.join(timeout=60)
            eq(rc, code, "submit --wait exits with the job's status %d" % code)
            eq(out, "hello from the job\nsecond line\n", "submit --wait printed the log (exit %d)" % code)

        # logs and logs -f
        rc, out, _ = cli(["submit", job_file], alice, s.url)
        job3 = out.strip()
        holder = {}
        t = threading.Thread(target=lambda: holder.update(c=play_orchestrator(s, b"line one\nline two\n", 0, 0.5)))
        t.start()
        rc, out, err = cli(["logs", "-f", job3], alice, s.url, timeout=60)
        t.join(timeout=60)
        eq((rc, out), (0, "line one\nline two\n"), "logs -f follows until the run ends")
        rc, out, _ = cli(["logs", job3], alice, s.url)
        eq((rc, out), (0, "line one\nline two\n"), "logs prints the stored log")
        rc, out, _ = cli(["logs", holder["c"]["execution_id"]], alice, s.url)
        eq((rc, out), (0, "line one\nline two\n"), "logs EXE_ID")

        # variables
        eq(cli(["var", "set", "color", '"blue"'], alice, s.url)[0], 0, "var set JSON string")
        eq(cli(["var", "set", "--string", "motto", "carpe diem"], alice, s.url)[0], 0, "var set --string")
        eq(cli(["var", "set", "conf", '{"a": [1, 2]}'], alice, s.url)[0], 0, "var set object")
        eq(cli(["var", "set", "neg", "--", "-5"], alice, s.url)[0], 0, "var set -- -5")
        rc, _, err = cli(["var", "set", "bad", "not json"], alice, s.url)
        check(rc == 2 and "--string" in err, "var set of non-JSON: exit 2 with a hint")
        rc, out, _ = cli(["var", "get", "color"], alice, s.url)
        eq((rc, out.strip()), (0, '"blue"'), "var get prints JSON")
        rc, out, _ = cli(["var", "get", "motto"], alice, s.url)
        eq((rc, out.strip()), (0, '"carpe diem"'), "var get of a --string value")
        rc, out, _ = cli(["var", "get", "neg"], alice, s.url)
        eq((rc, out.strip()), (0, "-5"), "var get of a negative number")
        rc, out, _ = cli(["var", "get", "conf", "--json"], alice, s.url)
        eq((rc, json.loads(out).get("value") if rc == 0 else None), (0, {"a": [1, 2]}), "var get --json")
        rc, out, err = cli(["var", "get", "nope"], alice, s.url)
        check(rc == 3 and "not set" in err, "var get of an unset variable exits 3")
        rc, out, _ = cli(["var", "ls"], alice, s.url)
        check(rc == 0 and all(k in out for k in ("color", "motto", "conf", "neg")), "var ls")
        rc, out, _ = cli(["var", "ls"], bob, s.url)
        check(rc == 0 and "color" not in out, "bob does not see alice's variables")
        eq(cli(["var", "rm", "color"], alice, s.url)[0], 0, "var rm")
        eq(cli(["var", "rm", "color"], alice, s.url)[0], 3, "var rm of an unset variable exits 3")
        rc, _, err = cli(["var", "set", "1bad", "1"], alice, s.url)
        check(rc == 1 and "HTTP 400" in err, "var set of an invalid key: the server's message (%s)" % err.strip())
    finish()


if __name__ == "__main__":
    main()
