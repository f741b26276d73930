"""Shared harness of the runtime API, SDK and CLI integration tests.

Starts the real jobcell-api on random ports with a temporary store, creates API tokens,
submits jobs, claims and starts them through the internal API the way an orchestrator
does, and mints execution tokens with jc-mint-token (lib/jwt, the orchestrator's code).
Everything it starts is stopped on exit, even when a test fails.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BUILD = os.environ.get("JC_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("JC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
API_BIN = os.path.join(BUILD, "runtime-api", "jobcell-api")
MINT_BIN = os.path.join(BUILD, "tests", "jc-mint-token")
CLI_BIN = os.path.join(BUILD, "cli", "jobcell")
SDK = os.path.join(SOURCE, "sdk")

FAILURES = []  # appended from several threads: list.append is atomic


def check(cond, what):
    """Record one assertion; the test exits non-zero at the end when any failed."""
    if cond:
        print("ok   - " + what)
    else:
        print("FAIL - " + what)
        FAILURES.append(what)
    return cond


def eq(got, want, what):
    return check(got == want, "%s (got %r, want %r)" % (what, got, want))


def finish():
    if FAILURES:
        print("\n%d check(s) failed:" % len(FAILURES))
        for f in FAILURES:
            print("  " + f)
        sys.exit(1)
    print("\nall checks passed")
    sys.exit(0)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def http(method, url, body=None, headers=None, raw=None, timeout=30):
    """(status, parsed JSON or None, raw bytes, headers)."""
    data = raw
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            content = r.read()
            status, rh = r.status, r.headers
    except urllib.error.HTTPError as e:
        content = e.read()
        status, rh = e.code, e.headers
    try:
        doc = json.loads(content) if content else None
    except ValueError:
        doc = None
    return status, doc, content, rh


class Server:
    """jobcell-api on random ports in a temporary directory."""

    def __init__(self, extra_config=None):
        self.dir = tempfile.mkdtemp(prefix="jc-rt-")
        self.port = free_port()
        self.rport = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.rurl = "http://127.0.0.1:%d" % self.rport
        self.internal_key = secrets.token_urlsafe(32)
        self.jwt_key = secrets.token_bytes(32)
        self.kid = "k1"
        self.keyring = os.path.join(self.dir, "keyring.json")
        self._write_private(self.keyring, json.dumps(
            {"active": self.kid, "keys": {self.kid: b64url(self.jwt_key)}}))
        self.internal_key_file = os.path.join(self.dir, "internal.key")
        self._write_private(self.internal_key_file, self.internal_key)
        cfg = {
            "listen": "127.0.0.1:%d" % self.port,
            "runtime_listen": "127.0.0.1:%d" % self.rport,
            "store_path": os.path.join(self.dir, "jobcell.db"),
            "internal_key_file": self.internal_key_file,
            "jwt_keyring_file": self.keyring,
        }
        cfg.update(extra_config or {})
        self.config = os.path.join(self.dir, "config.json")
        self._write_private(self.config, json.dumps(cfg))
        self.proc = None
        self.log = open(os.path.join(self.dir, "server.log"), "wb")

    @staticmethod
    def _write_private(path, text):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    def start(self):
        self.proc = subprocess.Popen([API_BIN, "serve", "--config", self.config],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("jobcell-api exited at start:\n" + self.server_log())
            try:
                s1, _, _, _ = http("GET", self.url + "/health", timeout=2)
                s2, _, _, _ = http("GET", self.rurl + "/health", timeout=2)
                if s1 == 200 and s2 == 200:
                    return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError("jobcell-api did not answer /health within 20 s:\n" + self.server_log())

    def server_log(self):
        self.log.flush()
        with open(os.path.join(self.dir, "server.log"), "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self):
        """Stop the server (SIGTERM) and check it exited cleanly: status 0, which under the
        sanitizers also means no leak and no undefined behaviour was reported."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc and not check(self.proc.returncode == 0,
                                   "jobcell-api exited cleanly (status %s)" % self.proc.returncode):
            print("--- server log ---\n" + self.server_log())
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None and self.proc:
            print("--- server log ---\n" + self.server_log())
        self.stop()

    # -- admin API ---------------------------------------------------------------------

    def api_token(self, user, role="user"):
        out = subprocess.run([API_BIN, "token", "create", "--config", self.config, "--user", user,
                              "--role", role], check=True, capture_output=True, text=True,
                             timeout=30)
        tok = [w for w in out.stdout.split() if w.startswith("jct_")]
        if not tok:
            raise RuntimeError("token create printed no token: %r %r" % (out.stdout, out.stderr))
        return tok[0]

    def admin(self, method, path, token, body=None):
        return http(method, self.url + path, body,
                    {"Authorization": "Bearer " + token, "Accept": "application/json"})

    def submit(self, token, spec):
        st, doc, raw, _ = self.admin("POST", "/v1/jobs", token, spec)
        if st != 201:
            raise RuntimeError("submit failed: %d %r" % (st, raw))
        return doc

    # -- internal API (what an orchestrator does) --------------------------------------

    def internal(self, method, path, body, orc="test-orc"):
        return http(method, self.url + path, body,
                    {"Authorization": "Bearer " + self.internal_key, "X-Orchestrator-ID": orc})

    def claim(self, orc="test-orc", start=True):
        """Claim the next execution; returns the claim object (with lease_token)."""
        for _ in range(50):
            st, doc, raw, _ = self.internal("POST", "/internal/v1/claims",
                                            {"slots": 1, "wait_s": 1}, orc)
            if st != 200:
                raise RuntimeError("claim failed: %d %r" % (st, raw))
            if doc["claims"]:
                c = doc["claims"][0]
                if start:
                    st, _, raw, _ = self.internal(
                        "POST", "/internal/v1/executions/%s/start" % c["execution_id"],
                        {"lease_token": c["lease_token"]}, orc)
                    if st != 200:
                        raise RuntimeError("start failed: %d %r" % (st, raw))
                c["orc"] = orc
                return c
        raise RuntimeError("nothing to claim")

    def complete(self, claim, exit_code=0):
        return self.internal("POST", "/internal/v1/executions/%s/complete" % claim["execution_id"],
                             {"lease_token": claim["lease_token"],
                              "result": {"reason": "exited", "exit_code": exit_code}},
                             claim["orc"])

    def mint(self, claim, now_offset=0, timeout=None, orc=None, attempt=None, lease=None,
             execution=None, keyring=None):
        args = [MINT_BIN, "--keyring", keyring or self.keyring,
                "--execution", execution or claim["execution_id"],
                "--job", claim["job_id"], "--user", claim["owner"],
                "--orc", orc or claim["orc"],
                "--attempt", str(attempt if attempt is not None else claim["attempt"]),
                "--lease-token", lease or claim["lease_token"],
                "--timeout", str(timeout if timeout is not None else
                                 claim["job"].get("timeout_s", 300)),
                "--now-offset", str(now_offset)]
        out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)
        return out.stdout.strip()

    def forge(self, claims, key=None, header=None):
        """A token with arbitrary header and claims, signed HS256 with key (default: the
        server's), for the rejection tests."""
        h = header or {"alg": "HS256", "typ": "JWT", "kid": self.kid}
        signing = b64url(json.dumps(h).encode()) + "." + b64url(json.dumps(claims).encode())
        mac = hmac.new(key or self.jwt_key, signing.encode(), hashlib.sha256).digest()
        return signing + "." + b64url(mac)

    def job_env(self, claim, token, cronium_only=False):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("JOBCELL_") and not k.startswith("CRONIUM_")}
        pairs = {"RUNTIME_API": self.rurl, "EXECUTION_TOKEN": token,
                 "EXECUTION_ID": claim["execution_id"], "JOB_ID": claim["job_id"]}
        for k, v in pairs.items():
            env["CRONIUM_" + k] = v
            if not cronium_only:
                env["JOBCELL_" + k] = v
        if not cronium_only:
            env["JOBCELL_ATTEMPT"] = str(claim["attempt"])
        return env


def runtime(server, method, path, token=None, body=None, raw=None, headers=None):
    hdrs = {"Accept": "application/json"}
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    hdrs.update(headers or {})
    return http(method, server.rurl + path, body, hdrs, raw=raw)
