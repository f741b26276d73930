"""Connection limits: per-address limit on `listen` but not on `runtime_listen`, the idle
request timeout, /metrics behind the internal key, and a graceful stop that answers
waiting long polls and ends followed logs."""
import http.client
import signal
import socket
import threading
import time

from jcapi import Server, check, expect, finish

s = Server({"per_ip_connections": 2, "request_timeout_s": 1, "metrics_require_key": True})
tok = s.token("alice")


def answered(port):
    """True when a request on a new connection gets an HTTP answer."""
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=3)
        c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = c.recv(100)
        c.close()
        return data.startswith(b"HTTP/1.1")
    except OSError:
        return False


# two idle connections use up the per-address allowance of `listen`
held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(2)]
time.sleep(0.2)
check(not answered(s.port), "a third connection from one address is refused on listen")
for h in held:
    h.close()
time.sleep(0.3)
check(answered(s.port), "once they close, a new connection is served")

# the runtime listener has no per-address limit
held = [socket.create_connection(("127.0.0.1", s.rport)) for _ in range(6)]
time.sleep(0.2)
check(answered(s.rport), "runtime listener serves a 7th connection from the same address")
for h in held:
    h.close()

# idle timeout: a connection that sends nothing is closed
c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
t0 = time.monotonic()
try:
    data = c.recv(10)
except OSError:
    data = b""
dt = time.monotonic() - t0
c.close()
check(data == b"" and dt < 5, "an idle connection is closed after the timeout (%.1f s)" % dt)

# metrics behind the internal key
expect(s.get("/metrics"), 401, "metrics without the key when required", "unauthorized")
r = s.request("GET", "/metrics", headers={"Authorization": "Bearer " + s.key})
check(r.status == 200 and b"jobcell_claims_total" in r.body, "metrics with the internal key")

# graceful stop: a waiting long poll is answered, a followed log ends, exit 0 (on a server
# without the tight per-address limit, which the waiting requests would hit)
s.stop()
s = Server()
tok = s.token("alice")
j = s.submit(tok).json
c = s.claim().json["claims"][0]
s.internal("POST", "/internal/v1/executions/%s/start" % c["execution_id"],
           {"lease_token": c["lease_token"]})
out = {}


def poll():
    out["claim"] = s.claim(slots=1, wait_s=25, orc="waiter")


def follow():
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    conn.request("GET", "/v1/executions/%s/logs?follow=1" % c["execution_id"],
                 headers={"Authorization": "Bearer " + tok})
    r = conn.getresponse()
    out["follow_status"] = r.status
    out["follow_body"] = r.read()
    conn.close()


ts = [threading.Thread(target=poll), threading.Thread(target=follow)]
[t.start() for t in ts]
time.sleep(0.5)
t0 = time.monotonic()
rc = s.stop(signal.SIGTERM)
dt = time.monotonic() - t0
[t.join(10) for t in ts]
check(rc == 0 and dt < 5, "SIGTERM with waiting requests stops in %.2f s, exit %r" % (dt, rc))
check("claim" in out and out["claim"].status == 200 and out["claim"].json == {"claims": []},
      "the waiting long poll was answered before the stop")
check(out.get("follow_status") == 200 and out.get("follow_body") == b"",
      "the followed log stream ended cleanly before the stop")
finish()
