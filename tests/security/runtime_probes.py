"""The security suite with the runtime API: starts jobcell-api (random ports, temporary
store), gives the runner what items 45 and 46 need, and runs the whole suite.

    runtime_probes.py RUNNER [RUNNER ARGS...]

Two users each get a running execution (submitted, claimed and started as an
orchestrator does). The probes run as alice's execution, with her token; bob's execution
id is the one item 46 tries to spoof. Item 45 gets a secret file on the host, outside
every directory bound into the sandbox, whose atime is set in the past so that any read
of it shows. Everything started or created here is removed on exit, even on failure.
"""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import runtime_harness as rh  # noqa: E402


def job(name):
    return {"name": name, "runtime": "bash", "script": "echo probe", "input": {"who": name}}


def keep_leases(srv, claims, stop):
    """Heartbeat the claims every 5 s, as their orchestrator would: the suite runs longer
    than a lease (30 s), and a lost execution's token is dead."""
    while not stop.wait(5):
        for c in claims:
            srv.internal("POST", "/internal/v1/executions/%s/heartbeat" % c["execution_id"],
                         {"lease_token": c["lease_token"]}, c["orc"])


def main():
    if len(sys.argv) < 2:
        print("usage: runtime_probes.py RUNNER [RUNNER ARGS...]", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("security suite: skipped, `jobcell run` needs root")
        return 77
    bound = tempfile.mkdtemp(prefix="jc-rt-bound-")
    hidden = tempfile.mkdtemp(prefix="jc-rt-hidden-")
    try:
        with rh.Server() as srv:
            alice = srv.api_token("alice")
            bob = srv.api_token("bob")
            ja = srv.submit(alice, job("alice-probe"))["id"]
            jb = srv.submit(bob, job("bob-victim"))["id"]
            claims = {}
            for _ in range(2):
                c = srv.claim()
                claims[c["job_id"]] = c
            ca, cb = claims[ja], claims[jb]
            token = srv.mint(ca)
            # the sandbox's user (a high host uid) reads these through a read-only bind
            os.chmod(bound, 0o755)
            for name, value in (("token", token), ("exe", ca["execution_id"]),
                                ("other", cb["execution_id"]),
                                ("canary_path", os.path.join(hidden, "secret"))):
                with open(os.path.join(bound, name), "w") as f:
                    f.write(value + "\n")
                os.chmod(os.path.join(bound, name), 0o644)
            secret = os.path.join(hidden, "secret")
            with open(secret, "w") as f:
                f.write("JCSECRET-" + secrets.token_hex(16) + "\n")
            os.utime(secret, (946684800, 946684800))  # 2000-01-01: relatime moves it on a read
            argv = sys.argv[1:] + ["--runtime-proxy", "127.0.0.1:%d" % srv.rport,
                                   "--runtime-dir", bound, "--runtime-canary", secret]
            stop = threading.Event()
            beat = threading.Thread(target=keep_leases, args=(srv, [ca, cb], stop), daemon=True)
            beat.start()
            try:
                rc = subprocess.run(argv, timeout=900).returncode
            finally:
                stop.set()
                beat.join(timeout=30)
            if rc not in (0, 77):
                print("--- jobcell-api log (tail) ---\n" + srv.server_log()[-2000:])
            return rc
    finally:
        shutil.rmtree(bound, ignore_errors=True)
        shutil.rmtree(hidden, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
