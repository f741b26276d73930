"""jcluster: start a real jobcell-api and jobcell-orchestrator for end-to-end tests.

Everything lives in a fresh temporary directory (keys 0600, SQLite store, state and run
directories); ports are picked free on 127.0.0.1. Processes are started by this module
and stopped by pid, never by name, also when a test fails (use `with Cluster(...)`).
"""
import base64
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

TERMINAL = {"succeeded", "failed", "canceled", "lost"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    raise SystemExit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class HTTPError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status
        self.body = body


class Cluster:
    def __init__(self, build, source, slots=4, lease_s=None, uid_slot_base=0, drain_timeout_s=30,
                 kill_grace_s=None, name="e2e"):
        self.build = build
        self.source = source
        self.slots = slots
        self.lease_s = lease_s
        self.drain_timeout_s = drain_timeout_s
        self.kill_grace_s = kill_grace_s
        # every test gets its own uid ranges so parallel tests never share one
        self.uid_base = 0x70000000 + uid_slot_base * 65536
        self.dir = tempfile.mkdtemp(prefix=f"jc-{name}-")
        # traversable (not readable): the sandbox mounts its root under run/ from inside
        # its user namespace, where host root is nobody
        os.chmod(self.dir, 0o711)
        self.api_port = free_port()
        self.rt_port = free_port()
        self.admin_port = free_port()
        self.api = None
        self.orc = None
        self.orc_id = f"{name}-{secrets.token_hex(3)}"
        self._write_keys()
        self._make_cgroup_parent(name)
        self.token = None
        self.orc_env = None  # extra environment for the orchestrator
        self.orc_args = []   # extra flags for the orchestrator
        self.profile_dir = os.path.join(source, "profiles")  # seccomp profiles, both daemons

    # ---- set-up ----------------------------------------------------------------------
    def _secret_file(self, name, text):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, text.encode())
        os.close(fd)
        return path

    def _write_keys(self):
        self.internal_key = self._secret_file("internal.key", secrets.token_urlsafe(48) + "\n")
        k = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        self.keyring = self._secret_file("jwt-keys.json", json.dumps({"active": "k1", "keys": {"k1": k}}))

    def _make_cgroup_parent(self, name):
        """A cgroup parent of our own in every hierarchy: an orchestrator reconciles (kills)
        every jobcell/* group under its parent at start, which by default is the cgroup it
        was started in, shared with whatever else the test suite runs meanwhile."""
        self.cgroup_parent = f"/jc-e2e-{name}-{os.getpid()}"
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            roots = ["/sys/fs/cgroup"]
        else:
            roots = [f"/sys/fs/cgroup/{c}" for c in ("memory", "pids", "cpu", "cpuacct", "freezer")
                     if os.path.isdir(f"/sys/fs/cgroup/{c}")]
        self.cgroup_dirs = [r + self.cgroup_parent for r in roots]
        for d in self.cgroup_dirs:
            os.makedirs(d, exist_ok=True)

    def _remove_cgroup_parent(self):
        for d in self.cgroup_dirs:
            for sub in (os.path.join(d, "jobcell"), d):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass

    def bin(self, *parts):
        return os.path.join(self.build, *parts)

    def api_cmd(self):
        cmd = [self.bin("runtime-api", "jobcell-api"), "serve",
               "--listen", f"127.0.0.1:{self.api_port}",
               "--runtime-listen", f"127.0.0.1:{self.rt_port}",
               "--store-path", os.path.join(self.dir, "jobcell.db"),
               "--internal-key-file", self.internal_key,
               "--jwt-keyring-file", self.keyring,
               "--profile-dir", self.profile_dir]
        if self.lease_s:
            cmd += ["--lease-s", str(self.lease_s), "--reaper-interval-s", "1"]
        return cmd

    def orc_cmd(self):
        cmd = [self.bin("orchestrator", "jobcell-orchestrator"),
               "--server-url", f"http://127.0.0.1:{self.api_port}",
               "--runtime-url", f"http://127.0.0.1:{self.rt_port}",
               "--internal-key-file", self.internal_key,
               "--keyring-file", self.keyring,
               "--orchestrator-id", self.orc_id,
               "--state-dir", os.path.join(self.dir, "state"),
               "--run-dir", os.path.join(self.dir, "run"),
               "--slots", str(self.slots),
               "--uid-base", str(self.uid_base),
               "--profile-dir", self.profile_dir,
               "--sdk-dir", os.path.join(self.source, "sdk"),
               "--init-path", self.bin("orchestrator", "sandbox", "init", "jobcell-init"),
               "--admin-listen", f"127.0.0.1:{self.admin_port}",
               "--cgroup-parent", self.cgroup_parent,
               "--drain-timeout-s", str(self.drain_timeout_s),
               "--backoff-max-ms", "2000",
               "--log-file", os.path.join(self.dir, "orchestrator.log"),
               "--log-level", os.environ.get("JC_E2E_LOG_LEVEL", "info")]
        if self.kill_grace_s is not None:
            cmd += ["--kill-grace-s", str(self.kill_grace_s)]
        cmd += self.orc_args + os.environ.get("JC_E2E_ORC_ARGS", "").split()
        return cmd

    def start_api(self):
        log = open(os.path.join(self.dir, "api.log"), "ab")
        self.api = subprocess.Popen(self.api_cmd(), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        self.wait_http(f"http://127.0.0.1:{self.api_port}/health", self.api)
        if self.token is None:
            out = subprocess.run([self.bin("runtime-api", "jobcell-api"), "token", "create",
                                  "--user", "e2e", "--role", "admin", "--name", "e2e",
                                  "--store-path", os.path.join(self.dir, "jobcell.db")],
                                 check=True, capture_output=True, text=True)
            self.token = out.stdout.strip()

    def start_orc(self):
        env = dict(os.environ, **(self.orc_env or {}))
        err = open(os.path.join(self.dir, "orchestrator.stderr"), "ab")
        self.orc = subprocess.Popen(self.orc_cmd(), stdin=subprocess.DEVNULL, env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)
        err.close()
        self.wait_http(f"http://127.0.0.1:{self.admin_port}/health", self.orc)

    def wait_http(self, url, proc, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if proc.poll() is not None:
                fail(f"{proc.args[0]} exited with {proc.returncode} while starting; logs in {self.dir}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        fail(f"{url} did not answer within {timeout} s")

    def __enter__(self):
        self.start_api()
        self.start_orc()
        return self

    def stop_proc(self, proc, sig=signal.SIGTERM, timeout=30):
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            return None

    def __exit__(self, *exc):
        running = self.orc is not None and self.orc.poll() is None
        rc = self.stop_proc(self.orc)
        self.stop_proc(self.api)
        self._remove_cgroup_parent()
        if exc[0] is None and running and rc != 0:
            # a drain that fails, or a sanitizer report at exit
            exc = (SystemExit, None, None)
            print(f"FAIL: the orchestrator exited with {rc} on SIGTERM; see {self.dir}/orchestrator.stderr",
                  file=sys.stderr)
        if exc[0] is None and not os.environ.get("JC_E2E_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print(f"logs kept in {self.dir}", file=sys.stderr)
        if exc[0] is SystemExit and exc[1] is None:
            raise SystemExit(1)
        return False

    # ---- admin API -------------------------------------------------------------------
    def call(self, method, path, body=None, raw=False, headers=None):
        data = None
        h = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        req = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", data=data,
                                     method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                b = r.read()
                return b if raw else json.loads(b or b"null")
        except urllib.error.HTTPError as e:
            raise HTTPError(e.code, e.read()) from None

    def submit(self, spec):
        return self.call("POST", "/v1/jobs", spec)

    def job(self, job_id):
        return self.call("GET", f"/v1/jobs/{job_id}")

    def logs(self, exe_id):
        return self.call("GET", f"/v1/executions/{exe_id}/logs?offset=0", raw=True)

    def cancel(self, job_id):
        return self.call("POST", f"/v1/jobs/{job_id}/cancel")

    def latest(self, job):
        exes = job.get("executions") or []
        return max(exes, key=lambda e: e.get("attempt", 0)) if exes else None

    def wait_jobs(self, job_ids, timeout, want_terminal=True):
        """Poll until every job's latest execution is terminal; returns {id: job}."""
        end = time.time() + timeout
        pending = set(job_ids)
        done = {}
        while pending and time.time() < end:
            for jid in list(pending):
                j = self.job(jid)
                e = self.latest(j)
                if e and e["status"] in TERMINAL and j.get("status") in TERMINAL:
                    done[jid] = j
                    pending.discard(jid)
            if pending:
                time.sleep(0.2)
        check(not pending, f"{len(pending)} job(s) not finished after {timeout} s: {sorted(pending)[:5]}")
        return done

    def wait_status(self, job_id, statuses, timeout):
        end = time.time() + timeout
        while time.time() < end:
            j = self.job(job_id)
            e = self.latest(j)
            if e and e["status"] in statuses:
                return j
            time.sleep(0.1)
        fail(f"job {job_id} never reached {statuses}")

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def leftover_cgroups(self, exe_ids):
        """cgroups of these executions still present anywhere under /sys/fs/cgroup (other
        tests may run sandboxes at the same time: only our own ids count)."""
        found = []
        for root, dirs, _ in os.walk("/sys/fs/cgroup"):
            if os.path.basename(root) == "jobcell":
                found += [os.path.join(root, d) for d in dirs if d in exe_ids]
                dirs[:] = []
        return found

    def orc_log(self):
        try:
            with open(os.path.join(self.dir, "orchestrator.log")) as f:
                return f.read()
        except OSError:
            return ""


def main_args():
    if len(sys.argv) < 3:
        print("usage: test.py BUILD_DIR SOURCE_DIR", file=sys.stderr)
        raise SystemExit(2)
    if os.geteuid() != 0:
        print("SKIP: end-to-end tests need root (they build sandboxes)", file=sys.stderr)
        raise SystemExit(77)
    return os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
