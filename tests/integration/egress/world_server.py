#!/usr/bin/env python3
"""The test world's servers: answer HTTP GET on every ADDR:PORT given, with a body that
names the address and port, so a test knows exactly which server it reached. Runs inside
the namespace the test put it in; stops on SIGTERM."""
import http.server
import signal
import sys
import threading


def serve(addr, port):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"hello from {addr}:{port}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer((addr, port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def main():
    for spec in sys.argv[1:]:
        addr, port = spec.rsplit(":", 1)
        serve(addr, int(port))
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
