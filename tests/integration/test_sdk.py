#!/usr/bin/env python3
"""The bash, Python and Node helpers (sdk/) against the real jobcell-api: each language runs
a script that exercises every helper in its own execution; this driver then checks, through
the admin API, the output, condition and variables each one stored. A small fake server
checks the retry rules (5xx retried, 4xx and 501 never, connection errors bounded)."""

import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_harness import SDK, Server, check, eq, finish, free_port  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk")
NODE = shutil.which("node") or "/usr/bin/node"
BASH = shutil.which("bash") or "/bin/bash"
PY = sys.executable
INPUT = {"day": "2026-11-21", "items": [1, 2, 3]}


def no_jq_path(tmp):
    """A PATH with what the bash helper needs, but without jq."""
    d = os.path.join(tmp, "nojq-bin")
    os.makedirs(d, exist_ok=True)
    for tool in ("curl", "base64", "tr", "date", "awk", "sleep", "mv", "cat", "stat", "rm",
                 "mktemp", "env"):
        p = shutil.which(tool)
        if p and not os.path.exists(os.path.join(d, tool)):
            os.symlink(p, os.path.join(d, tool))
    return d


def run_language(s, alice, lang, tmp):
    s.submit(alice, {"name": "sdk-" + lang, "runtime": "bash", "script": "true", "input": INPUT})
    claim = s.claim()
    # minted 290 s ago with timeout 300: three quarters of its life are gone, so the helper
    # must renew it before its first call
    tok = s.mint(claim, now_offset=-290, timeout=300)
    env = s.job_env(claim, tok)
    env["TMPDIR"] = tmp
    if lang == "python":
        env["PYTHONPATH"] = os.path.join(SDK, "python")
        cmd = [PY, os.path.join(HERE, "check_python.py")]
    elif lang == "node":
        env["NODE_PATH"] = os.path.join(SDK, "node")
        cmd = [NODE, os.path.join(HERE, "check_node.js")]
    elif lang == "node-esm":
        # ES modules ignore NODE_PATH: the sandbox has /node_modules/jobcell instead
        d = os.path.join(tmp, "esm")
        os.makedirs(os.path.join(d, "node_modules"), exist_ok=True)
        link = os.path.join(d, "node_modules", "jobcell")
        if not os.path.exists(link):
            os.symlink(os.path.join(SDK, "node"), link)
        shutil.copy(os.path.join(HERE, "check_node.mjs"), os.path.join(d, "job.mjs"))
        cmd = [NODE, os.path.join(d, "job.mjs")]
    else:
        env["JC_SDK_BASH"] = os.path.join(SDK, "bash", "jobcell.sh")
        if lang == "bash-nojq":
            env["PATH"] = no_jq_path(tmp)
            env["NOJQ"] = "1"
        cmd = [BASH, os.path.join(HERE, "check_bash.sh")]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    sys.stdout.write(p.stdout)
    if p.returncode != 0:
        sys.stdout.write(p.stderr)
    eq(p.returncode, 0, "%s helpers: every check passed" % lang)
    st, exe, _, _ = s.admin("GET", "/v1/executions/" + claim["execution_id"], alice)
    if lang != "node-esm":
        eq(exe.get("output"), {"lang": lang.split("-")[0], "nested": {"list": [1, 2]}},
           "%s: output stored on the execution" % lang)
        eq(exe.get("condition"), lang != "node", "%s: condition stored" % lang)
    s.complete(claim)


def check_variables(s, alice):
    want = {"py_str": "héllo \"x\"", "py_obj": {"a": {"b": [True]}}, "js_float": -1.5,
            "js_obj": {"k": "v"}, "sh_str": "a \"quoted\" text", "sh_obj": {"a": [1, {"b": None}]},
            "esm_key": {"esm": True}}
    for k, v in want.items():
        st, doc, _, _ = s.admin("GET", "/v1/variables/" + k, alice)
        eq((st, (doc or {}).get("value")), (200, v), "variable %s as the admin API sees it" % k)
    for k in ("py_int", "js_int", "sh_num"):
        eq(s.admin("GET", "/v1/variables/" + k, alice)[0], 404, "deleted variable %s is gone" % k)


# ---- retry rules against a fake runtime API ------------------------------------------------

class Fake(http.server.BaseHTTPRequestHandler):
    counts = {}
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        full = self.path.split("/")[2] if self.path.startswith("/executions/") else "tool"
        with Fake.lock:
            Fake.counts[full] = Fake.counts.get(full, 0) + 1
            count = Fake.counts[full]
        exe = full.rsplit("-", 1)[0]  # "exe_flaky-python" → "exe_flaky": one count per language
        if exe == "exe_flaky" and count <= 2:
            status, body = 503, {"error": "Service Unavailable", "message": "try later",
                                 "code": "unavailable"}
        elif exe == "exe_bad":
            status, body = 400, {"error": "Bad Request", "message": "the fake says no",
                                 "code": "bad_request"}
        elif exe == "exe_down":
            status, body = 500, {"error": "Internal Server Error", "message": "always down",
                                 "code": "internal"}
        elif exe == "tool" or exe == "exe_501":
            status, body = 501, {"error": "Not Implemented", "message": "not here",
                                 "code": "not_implemented"}
        else:
            status, body = 200, {"success": True, "data": {"ok": 1}}
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


SNIPPETS = {
    "python": (lambda: [PY, "-c", "import jobcell,sys\n"
                        "try:\n print(jobcell.input())\n"
                        "except jobcell.JobcellError as e:\n print('ERR', e.status, e.message); sys.exit(1)"],
               {"PYTHONPATH": os.path.join(SDK, "python")}),
    "node": (lambda: [NODE, "-e", "require('jobcell').input().then(d=>console.log(JSON.stringify(d)),"
                      "e=>{console.log('ERR',e.status,e.serverMessage);process.exitCode=1})"],
             {"NODE_PATH": os.path.join(SDK, "node")}),
    "bash": (lambda: [BASH, "-c", "source \"$JC_SDK_BASH\"; jobcell_input"],
             {"JC_SDK_BASH": os.path.join(SDK, "bash", "jobcell.sh")}),
}


def run_snippet(lang, api, exe):
    argv, extra = SNIPPETS[lang]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBCELL_", "CRONIUM_"))}
    env.update(extra)
    env.update({"JOBCELL_RUNTIME_API": api, "JOBCELL_EXECUTION_ID": exe,
                "JOBCELL_EXECUTION_TOKEN": "x.y.z"})
    t0 = time.time()
    p = subprocess.run(argv(), env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr, time.time() - t0


def retry_checks(lang, api, closed):
    """The retry rules for one language (each language has its own execution ids)."""
    def run(mode):
        exe = "%s-%s" % (mode, lang)
        rc, out, took = run_snippet(lang, api if mode != "exe_x" else closed, exe)
        return rc, out, took, Fake.counts.get(exe)
    rc, out, _, n = run("exe_flaky")
    eq((rc, n), (0, 3), "%s: 503 twice is retried, then succeeds" % lang)
    rc, out, _, n = run("exe_bad")
    eq((rc, n), (1, 1), "%s: a 400 is never retried" % lang)
    check("the fake says no" in out, "%s: the 400's message is reported (%s)" % (lang, out.strip()))
    rc, out, _, n = run("exe_501")
    eq((rc, n), (1, 1), "%s: a 501 is never retried" % lang)
    rc, out, _, n = run("exe_down")
    eq((rc, n), (1, 5), "%s: a lasting 500 gives up after 4 retries" % lang)
    check("always down" in out, "%s: the 500's message is reported" % lang)
    rc, out, took, _ = run("exe_x")
    check(rc == 1 and "cannot reach" in out and took < 20,
          "%s: connection refused is retried a bounded time, then reported (%.1f s)" % (lang, took))


def test_retries():
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Fake)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    api = "http://127.0.0.1:%d" % port
    closed = "http://127.0.0.1:%d" % free_port()
    try:
        # the languages run side by side: most of the time is the helpers' back-off pauses
        workers = [threading.Thread(target=retry_checks, args=(lang, api, closed))
                   for lang in ("python", "node", "bash")]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
    finally:
        srv.shutdown()
        srv.server_close()


def main():
    tmp = tempfile.mkdtemp(prefix="jc-sdk-")
    try:
        with Server() as s:
            alice = s.api_token("alice")
            for lang in ("python", "node", "node-esm", "bash", "bash-nojq"):
                run_language(s, alice, lang, tmp)
            check_variables(s, alice)
        test_retries()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
