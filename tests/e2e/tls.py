"""The orchestrator relays jobs' runtime calls to an https:// runtime URL: a TLS-terminating
forwarder (Python's ssl, a throwaway CA made with the openssl program) sits in front of the
server's runtime listener; a bash job using the SDK sets and reads a variable through it,
and every connection the relay opened was TLS, verified against runtime_ca_file."""
import os
import select
import socket
import ssl
import subprocess
import threading

import jcluster
from jcluster import check

BASH = r'''
set -e
jobcell_set_variable tls_v '{"n": 7}' >/dev/null
v=$(jobcell_get_variable tls_v)
echo "variable: $v"
echo done
'''


def make_certs(d):
    script = f"""set -e; cd {d}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=e2e-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign -keyout ca.key -out ca.pem
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout srv.key -out srv.csr
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
  -copy_extensions copy -out srv.pem
"""
    subprocess.run(["sh", "-c", script], check=True, capture_output=True)


class Forwarder:
    """TLS in on a free loopback port, plain TCP out to the runtime listener."""

    def __init__(self, d, upstream_port):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(d, "srv.pem"), os.path.join(d, "srv.key"))
        self.up = upstream_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        self.failures = 0
        self.stop = False
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        while not self.stop:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.relay, args=(raw,), daemon=True).start()

    def relay(self, raw):
        raw.settimeout(60)
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.failures += 1
            raw.close()
            return
        self.handshakes += 1
        plain = socket.create_connection(("127.0.0.1", self.up), timeout=60)
        try:
            for _ in range(100000):  # bounded: ends at either side's EOF long before
                if tls.pending():
                    ready = [tls]
                else:
                    ready, _, _ = select.select([tls, plain], [], [], 60)
                    if not ready:
                        return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (plain if s is tls else tls).sendall(data)
        except (ssl.SSLError, OSError):
            pass
        finally:
            plain.close()
            tls.close()

    def close(self):
        self.stop = True
        self.sock.close()


def main():
    build, source = jcluster.main_args()
    c = jcluster.Cluster(build, source, slots=2, uid_slot_base=128, name="tls")
    make_certs(c.dir)
    fwd = Forwarder(c.dir, c.rt_port)  # the server's runtime port, before the server starts
    base = c.orc_cmd

    def orc_cmd():
        cmd = base()
        i = cmd.index("--runtime-url")
        cmd[i + 1] = f"https://127.0.0.1:{fwd.port}"
        return cmd + ["--runtime-ca-file", os.path.join(c.dir, "ca.pem")]

    c.orc_cmd = orc_cmd
    try:
        with c:
            j = c.submit({"runtime": "bash", "script": BASH})
            done = c.wait_jobs([j["id"]], timeout=60)
            e = c.latest(done[j["id"]])
            exe = c.call("GET", f"/v1/executions/{e['id']}")
            log = c.logs(e["id"]).decode(errors="replace")
            check(exe["status"] == "succeeded", f"{exe['status']} {exe.get('result')}\n{log}")
            check('"n": 7' in log or '"n":7' in log, f"variable not read back: {log!r}")
            check(log.rstrip().endswith("done"), f"log {log!r}")
            check(fwd.handshakes >= 2, f"TLS handshakes seen: {fwd.handshakes}")
            check(fwd.failures == 0, f"TLS handshakes failed: {fwd.failures}")
            check("TLS handshake failed" not in c.orc_log(), "orchestrator logged a TLS failure")
    finally:
        fwd.close()
    print("ok: a job used the SDK through the relay to an https runtime URL")


if __name__ == "__main__":
    main()
