#!/usr/bin/env python3
"""Clients that drive the runtime API exactly as Cronium's helpers do (bash with curl+jq,
Python urllib, Node http with a chunked body), with only the CRONIUM_* environment, against
the real jobcell-api; then the output, condition and variables they stored are checked
through the admin API."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_harness import Server, eq, finish  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk")
INPUT = {"day": "2026-11-21", "items": [1, 2, 3]}
CASES = [
    ("compat-bash", [shutil.which("bash") or "/bin/bash", os.path.join(HERE, "cronium_style.sh")],
     {"from": "cronium-bash", "deep": {"a": [1, {"b": 2}]}}, True),
    ("compat-python", [sys.executable, os.path.join(HERE, "cronium_style.py")],
     {"from": "cronium-python", "n": [1, {"x": True}]}, False),
    ("compat-node", [shutil.which("node") or "/usr/bin/node", os.path.join(HERE, "cronium_style.js")],
     {"from": "cronium-node"}, True),
]


def main():
    with Server() as s:
        alice = s.api_token("alice")
        for name, argv, output, condition in CASES:
            s.submit(alice, {"name": name, "runtime": "bash", "script": "true", "input": INPUT})
            claim = s.claim()
            env = s.job_env(claim, s.mint(claim), cronium_only=True)
            p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            sys.stdout.write(p.stdout)
            if p.returncode:
                sys.stdout.write(p.stderr)
            eq(p.returncode, 0, "%s: every check passed" % name)
            st, exe, _, _ = s.admin("GET", "/v1/executions/" + claim["execution_id"], alice)
            eq(exe.get("output"), output, "%s: output stored" % name)
            eq(exe.get("condition"), condition, "%s: condition stored" % name)
            s.complete(claim)
        for key, value in [("cr.key-1", {"n": 1}), ("cr_text", "plain words"), ("cr_counter", 5),
                           ("node.key", {"deep": [1, {"x": "y"}]})]:
            st, doc, _, _ = s.admin("GET", "/v1/variables/" + key, alice)
            eq((st, (doc or {}).get("value")), (200, value), "variable %s as the admin API sees it" % key)
    finish()


if __name__ == "__main__":
    main()
