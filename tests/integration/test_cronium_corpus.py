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
from runtime_harness import SDK, Server, eq, finish  # noqa: E402

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cronium_corpus")
INPUT = {"day": "2026-11-21", "n": [1, 2]}
B1 = {"got": INPUT, "nested": {"list": [1, {"deep": True}], "text": "ok"}}

# (script, runs, expected output of the last run (None: not checked), expected condition)
CASES = [
    ("b1_input_output.sh", 1, B1, None),
    ("b2_variables.sh", 1, {"text": "hello world", "num": "42", "dotted": "dotted",
                            "space_refused": True, "error": True}, None),
    ("b3_unset_condition.sh", 1, {"value": "", "status": 0, "exists": False,
                                  "exists_after_delete": False}, True),
    ("b4_counter.sh", 5, {"run": 5}, None),
    ("b5_explicit_source.sh", 1, B1, None),
    ("b6_tool_and_event.sh", 1, "b6", False),
    ("p1_input_output.py", 1, B1, None),
    ("p2_variables.py", 1, {"roundtrip": True, "unset": None}, True),
    ("p3_forbidden.py", 1, {"status_code": 403, "message": "execution ID mismatch"}, None),
    ("p4_tool_counter.py", 5, {"tool_status": 501, "fast": True, "run": 5}, None),
    ("p5_instance.py", 1, {"name": "p5_instance.py", "eventName": "p5_instance.py",
                           "userId": "alice", "input_day": "2026-11-21"}, None),
    ("n1_require.js", 1, B1, None),
    ("n2_esm.mjs", 1, {"got": INPUT, "back": {"from": "esm"}}, None),
    ("n3_variables.js", 1, {"back": {"n_null": None, "n_bool": True, "n_int": 3, "n_str": "s",
                                     "n_list": [1], "n_obj": {"a": 1}}, "unset": None}, False),
    ("n4_tool_event.js", 1, {"eventType": "script", "idIsJob": True, "tool_status": 501,
                             "fast": True}, None),
    ("n5_counter.js", 5, {"run": 5}, None),
]
RUNTIME = {".sh": "bash", ".py": "python", ".js": "node", ".mjs": "node"}


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
                "NODE_PATH": os.path.join(SDK, "node"), "TMPDIR": workspace,
                "JC_TEST_OWN_ID": claim["execution_id"]})
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
                out = exe.get("output")
                if want == "b6":
                    eq(out, {"id": job["id"], "type": "script", "name": script, "tool": "failed",
                             "says_501": True}, "%s: output" % script)
                else:
                    eq(out, want, "%s: output" % script)
                if cond is not None:
                    eq(exe.get("condition"), cond, "%s: condition" % script)
            for key, value in [("b_num", 42), ("b_float", 2.5), ("b_bool", True),
                               ("b_text", "hello world"), ("b_obj", {"a": [1, 2], "b": None}),
                               ("b_list", [1, "two", False]), ("b.dotted-key_1", "dotted"),
                               ("b_counter", 5), ("b_trail", "run1,run2,run3,run4,run5"),
                               ("p_obj", {"k": {"v": 1}}), ("p_counter", 5), ("n_counter", 5),
                               ("n_esm", {"from": "esm"})]:
                st, doc, _, _ = s.admin("GET", "/v1/variables/" + key, alice)
                eq((st, (doc or {}).get("value")), (200, value), "variable %s stored" % key)
            eq(s.admin("GET", "/v1/variables/b_tmp", alice)[0], 404, "deleted variable is gone")
    finally:
        shutil.rmtree(ws, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
