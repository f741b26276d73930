"""Test harness for jobcell-api: a real server on free loopback ports with a temporary
store, driven over HTTP. The server is always stopped (SIGTERM, then SIGKILL) on exit.

With JC_TEST_PG set (the conninfo of the throwaway PostgreSQL cluster, tests/pg), every
store is a fresh PostgreSQL database of that cluster instead of a SQLite file, dropped at
exit; Server.db() reads it either way."""
import atexit
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("JC_API_BIN")
INTERNAL_KEY = "k" * 40
PG = os.environ.get("JC_TEST_PG") or None


def psql(sql, dbname="postgres"):
    """Run SQL on the test cluster with psql; rows as lists of strings (None for NULL)."""
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\x1f",
                          "-P", "null=\x1e", "-d", PG + " dbname=" + dbname, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("psql: %s: %s" % (sql, out.stderr))
    rows = []
    for line in out.stdout.split("\n"):
        if line == "":
            continue
        rows.append([None if v == "\x1e" else v for v in line.split("\x1f")])
    return rows


def _pg_value(v):
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        return v


def _pg_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


class PgCursor:
    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows

    def __iter__(self):
        return iter(self.rows)


class PgDb:
    """Just enough of sqlite3's connection for the tests' reads (? parameters, rows of
    ints and strings)."""

    def __init__(self, dbname):
        self.dbname = dbname

    def execute(self, sql, params=()):
        parts = sql.split("?")
        if len(parts) - 1 != len(params):
            raise ValueError("parameter count")
        text = parts[0] + "".join(_pg_literal(p) + rest for p, rest in zip(params, parts[1:]))
        text = text.replace(" user ", ' "user" ')
        return PgCursor([tuple(_pg_value(v) for v in r) for r in psql(text, self.dbname)])

    def close(self):
        pass


_pg_dbs = {}  # store_path -> database name: servers given one store_path share a database


def _pg_database(store_path):
    if store_path not in _pg_dbs:
        name = "jct_%d_%d" % (os.getpid(), len(_pg_dbs))
        psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        psql("CREATE DATABASE %s" % name)
        _pg_dbs[store_path] = name
        atexit.register(lambda: psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name))
    return _pg_dbs[store_path]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Resp(%d, %r)" % (self.status, self.body[:300])


servers = []


def dump_logs():
    for srv in servers:
        print("---- server log (%s) ----" % srv.dir)
        print(srv.read_log())


class Server:
    def __init__(self, extra=None, key=INTERNAL_KEY, start=True, workdir=None):
        if not BIN:
            sys.exit("JC_API_BIN is not set")
        self.dir = workdir or tempfile.mkdtemp(prefix="jcapi-")
        self.own_dir = workdir is None
        self.port = free_port()
        self.rport = free_port()
        self.proc = None
        keyfile = os.path.join(self.dir, "internal.key")
        with open(keyfile, "w") as f:
            f.write(key + "\n")
        os.chmod(keyfile, 0o600)
        ring = os.path.join(self.dir, "ring.json")
        k = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        with open(ring, "w") as f:
            json.dump({"active": "k1", "keys": {"k1": k}}, f)
        os.chmod(ring, 0o600)
        prof = os.path.join(self.dir, "profiles")
        os.makedirs(prof, exist_ok=True)
        for name, desc in (("default", "the default profile"), ("strict", "fewer syscalls")):
            with open(os.path.join(prof, name + ".json"), "w") as f:
                json.dump({"description": desc, "default_action": "errno"}, f)
        self.config = {
            "listen": "127.0.0.1:%d" % self.port,
            "runtime_listen": "127.0.0.1:%d" % self.rport,
            "store_path": os.path.join(self.dir, "jobcell.db"),
            "internal_key_file": keyfile,
            "jwt_keyring_file": ring,
            "profile_dir": prof,
            "log_level": "warn",
        }
        if extra:
            self.config.update(extra)
        if PG:
            self.pgdb = _pg_database(self.config["store_path"])
            self.config.setdefault("store", {})["url"] = PG + " dbname=" + self.pgdb
        self.cfgpath = os.path.join(self.dir, "config.json")
        with open(self.cfgpath, "w") as f:
            json.dump(self.config, f)
        self.key = key
        servers.append(self)
        atexit.register(self.cleanup)
        if start:
            self.start()

    def start(self, expect_fail=False):
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.cfgpath],
                                     stdout=self.log, stderr=self.log)
        if expect_fail:
            rc = self.proc.wait(timeout=10)
            self.proc = None
            return rc
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.read_log())
            try:
                if self.get("/health").status == 200:
                    return 0
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start: " + self.read_log())

    def read_log(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        else:
            rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def cleanup(self):
        self.stop()
        if self.own_dir and os.environ.get("JC_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def db(self):
        """The store, for reads a test checks: sqlite3 or the PostgreSQL equivalent."""
        if PG:
            return PgDb(self.pgdb)
        import sqlite3
        return sqlite3.connect(self.config["store_path"])

    def rows(self, sql):
        """Rows of a query as dicts (column name -> value), on either backend."""
        if PG:
            out = subprocess.run(["psql", "-X", "-q", "-A", "-v", "ON_ERROR_STOP=1", "-F", "\x1f",
                                  "-P", "null=\x1e", "-P", "footer=off", "-d",
                                  PG + " dbname=" + self.pgdb, "-c", sql],
                                 capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                raise RuntimeError("psql: %s: %s" % (sql, out.stderr))
            lines = [l for l in out.stdout.split("\n") if l]
            names = lines[0].split("\x1f") if lines else []
            return [dict(zip(names, (_pg_value(None if v == "\x1e" else v)
                                     for v in l.split("\x1f")))) for l in lines[1:]]
        import sqlite3
        db = sqlite3.connect(self.config["store_path"])
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute(sql)]
        finally:
            db.close()

    def token(self, user, role="user"):
        out = subprocess.run([BIN, "token", "create", "--config", self.cfgpath, "--user", user,
                              "--role", role], capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    # -- HTTP --
    def request(self, method, path, body=None, headers=None, token=None, runtime=False,
                raw=None, timeout=40, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.rport if runtime else self.port,
                                               timeout=timeout)
        h = dict(headers or {})
        data = None
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = Resp(r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())
        if conn is None:
            c.close()
        return out

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def internal(self, method, path, body=None, orc="host-a", raw=None, headers=None, **kw):
        h = {"Authorization": "Bearer " + self.key, "X-Orchestrator-ID": orc}
        h.update(headers or {})
        return self.request(method, path, body=body, raw=raw, headers=h, **kw)

    def submit(self, token, spec=None, **kw):
        s = {"runtime": "bash", "script": "echo hi"}
        s.update(spec or {})
        return self.request("POST", "/v1/jobs", body=s, token=token, **kw)

    def claim(self, slots=1, wait_s=0, orc="host-a", **kw):
        return self.internal("POST", "/internal/v1/claims", {"slots": slots, "wait_s": wait_s},
                             orc=orc, **kw)


def raw_http(port, head, body=b"", timeout=10):
    """Send a raw request (head without the blank line); tolerate the server closing early.
    Returns (status, headers text, body bytes)."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(head + b"\r\n\r\n")
        try:
            for i in range(0, len(body), 65536):
                c.sendall(body[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        while True:
            try:
                part = c.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            data += part
            if b"\r\n\r\n" in data:
                h, _, rest = data.partition(b"\r\n\r\n")
                cl = [l for l in h.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(rest) >= int(cl[0].split(b":")[1]):
                    break
    finally:
        c.close()
    if not data.startswith(b"HTTP/1."):
        return 0, "", b""
    h, _, rest = data.partition(b"\r\n\r\n")
    return int(h.split(b" ")[1]), h.decode(errors="replace"), rest


failures = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        failures.append(what)


def expect(resp, status, what, error=None, field=None):
    ok = resp.status == status
    if ok and error is not None:
        try:
            j = resp.json
            ok = j.get("error") == error and (field is None or j.get("field") == field)
        except ValueError:
            ok = False
    check(ok, "%s -> %d%s%s (got %r)" % (what, status, " " + error if error else "",
                                          " field=" + field if field else "", resp))
    return resp


def finish():
    if failures:
        dump_logs()
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")
