#!/usr/bin/env python3
"""Scripts written the way Cronium's documentation shows (cronium_corpus/: bash, Python,
Node), run unchanged against the real jobcell-api with the helpers loaded as a sandbox
loads them (BASH_ENV, PYTHONPATH, NODE_PATH, node_modules). This driver plays the
orchestrator (claim, token, run, complete) and checks the output, condition and variables
each script stored — not only its exit status."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cronium_cases  # noqa: E402
from cronium_cases import CASES, CORPUS, INPUT  # noqa: E402
from runtime_harness import SDK, Server, eq, finish  # noqa: E402

RUNTIME = cronium_cases.RUNTIME


def run_case(s, alice, script, workspace):
    path = os.path.join(CORPUS, script)
    ext = os.path.splitext(script)[1]
    text = open(path).read()
    # the sandbox has the helper file at /usr/local/bin/cronium.sh; here it is the SDK's
    text = text.replace("/usr/local/bin/cronium.sh", os.path.join(SDK, "bash", "cronium.sh"))
    job = s.submit(alice, {"name": script, "runtime": RUNTIME[ext], "script": text,
                           "input": INPUT})
    claim = s.claim()
    env = s.job_env(claim, s.mint(claim))
    env.update({"BASH_ENV": os.path.join(SDK, "bash", "jobcell.sh"),
                "PYTHONPATH": os.path.join(SDK, "python"),
                "NODE_PATH": os.path.join(SDK, "node"), "TMPDIR": workspace})
    name = {"bash": "job.sh", "python": "job.py", "node": "job" + ext}[RUNTIME[ext]]
    with open(os.path.join(workspace, name), "w") as f:
        f.write(text)
    interp = {"bash": ["bash"], "python": [sys.executable], "node": ["node"]}[RUNTIME[ext]]
    p = subprocess.run(interp + [name], cwd=workspace, env=env, capture_output=True, text=True,
                       timeout=60)
    s.complete(claim, exit_code=p.returncode)
    st, exe, _, _ = s.admin("GET", "/v1/executions/" + claim["execution_id"], alice)
    return p, exe, job


def main():
    ws = tempfile.mkdtemp(prefix="jc-corpus-")
    os.makedirs(os.path.join(ws, "node_modules"))
    os.symlink(os.path.join(SDK, "node"), os.path.join(ws, "node_modules", "jobcell"))
    os.symlink(os.path.join(SDK, "node", "cronium"), os.path.join(ws, "node_modules", "cronium"))
    try:
        with Server() as s:
            alice = s.api_token("alice")
            for script, runs, want, cond in CASES:
                for _ in range(runs):
                    p, exe, job = run_case(s, alice, script, ws)
                ok = eq(p.returncode, 0, "%s: exit status 0" % script)
                if not ok:
                    print(p.stdout + p.stderr)
                eq(exe.get("output"), cronium_cases.expected_output(script, want, job["id"]),
                   "%s: output" % script)
                if cond is not None:
                    eq(exe.get("condition"), cond, "%s: condition" % script)
            for key, value in cronium_cases.VARIABLES:
                st, doc, _, _ = s.admin("GET", "/v1/variables/" + key, alice)
                eq((st, (doc or {}).get("value")), (200, value), "variable %s stored" % key)
            for key in cronium_cases.DELETED:
                eq(s.admin("GET", "/v1/variables/" + key, alice)[0], 404,
                   "deleted variable %s is gone" % key)
    finally:
        shutil.rmtree(ws, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
