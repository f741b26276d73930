"""Egress jobs through the whole system: the API accepts a job with network "egress", an
orchestrator with egress.enabled claims it, the job reaches its allowed name (resolved by
the orchestrator's DNS forwarder in its event loop) and nothing else, the result record
carries the denied count, `jobcell show` prints it, and nothing is left on the host.

Everything runs in network namespaces this test creates: "host" (the API server, the
orchestrator, the sandboxes; IPv4 forwarding on) and "internet" (an HTTP server on
198.51.100.10, a fake metadata server on 169.254.169.254, a DNS server on 198.51.100.53),
linked by one veth. Neither has a link to the machine's own namespace; both are removed on
exit, failure included. The test re-runs itself inside "host"."""
import os
import subprocess
import sys
import time

import jcluster
from jcluster import check

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD = os.path.join(HERE, "..", "integration", "egress", "world_server.py")
DNS = os.path.join(HERE, "..", "integration", "dns_netns.py")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def sh(*args, ns=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def wait_ready(path, what):
    for _ in range(150):
        try:
            with open(path) as f:
                if "ready" in f.read():
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"FAIL: {what} did not start")


def outside(build, source):
    """Build the world, run this file again inside "host", take the world down."""
    tag = f"{os.getpid()}"
    host, net = f"jceg-eh-{tag}", f"jceg-ei-{tag}"
    procs = []
    tmp = f"/tmp/jceg-e2e-{tag}"
    os.makedirs(tmp, exist_ok=True)
    try:
        try:
            sh("ip", "netns", "add", host)
        except subprocess.CalledProcessError:
            print("SKIP: cannot create network namespaces", file=sys.stderr)
            return 77
        sh("ip", "netns", "add", net)
        sh("ip", "link", "set", "lo", "up", ns=host)
        sh("ip", "link", "set", "lo", "up", ns=net)
        sh("ip", "link", "add", "up0", "type", "veth", "peer", "name", "down0", "netns", net,
           ns=host)
        sh("ip", "addr", "add", "192.0.2.1/24", "dev", "up0", ns=host)
        sh("ip", "link", "set", "up0", "up", ns=host)
        sh("ip", "addr", "add", "192.0.2.2/24", "dev", "down0", ns=net)
        sh("ip", "link", "set", "down0", "up", ns=net)
        sh("ip", "route", "add", "default", "via", "192.0.2.2", ns=host)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=host)
        for a in ("198.51.100.10/32", "169.254.169.254/32", "198.51.100.53/32",
                  "198.51.100.54/32"):
            sh("ip", "addr", "add", a, "dev", "lo", ns=net)
        out = open(f"{tmp}/world.out", "w")
        procs.append(subprocess.Popen(["ip", "netns", "exec", net, PY, WORLD, "198.51.100.10:80",
                                       "198.51.100.10:8080", "169.254.169.254:80"],
                                      stdout=out, stderr=out))
        dns_out = open(f"{tmp}/dns.out", "w")
        dns = subprocess.Popen(["ip", "netns", "exec", net, PY, DNS, "upstream", f"{tmp}/dns.log"],
                               stdin=subprocess.PIPE, stdout=dns_out, stderr=dns_out)
        procs.append(dns)
        wait_ready(f"{tmp}/world.out", "the world's HTTP servers")
        wait_ready(f"{tmp}/dns.out", "the fake DNS server")
        env = dict(os.environ, JC_EGRESS_E2E_NS=host)
        return subprocess.run(["nsenter", f"--net=/run/netns/{host}", sys.executable,
                               os.path.abspath(__file__), build, source], env=env).returncode
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in (host, net):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", tmp])


SCRIPT = r"""
probe() { if b=$(curl -s -m 5 "$1"); then echo "$1 ok $b"; else echo "$1 refused $?"; fi; }
probe http://www.allowed.test/
probe http://www.allowed.test:8080/
probe http://169.254.169.254/
if getent hosts other.outside.test > /dev/null; then echo "other resolves"; else echo "other unknown"; fi
"""


def inside(build, source):
    c = jcluster.Cluster(build, source, slots=2, uid_slot_base=152, name="egress")
    c.orc_args = ["--egress.enabled", "true", "--egress.resolvers", '["198.51.100.53"]']
    with c:
        job = c.submit({"runtime": "bash", "script": SCRIPT, "network": "egress",
                        "egress": {"allow": ["www.allowed.test:80", "169.254.169.254"]}})
        c.wait_jobs([job["id"]], 120)
        e = c.latest(c.job(job["id"]))
        log = c.logs(e["id"]).decode(errors="replace")
        check(e["status"] == "succeeded", f"the egress job succeeded: {e['status']} {e.get('result')}")
        check("http://www.allowed.test/ ok hello from 198.51.100.10:80" in log,
              f"the allowed name is reachable on its port: {log!r}")
        check("http://www.allowed.test:8080/ refused" in log, "the same address, other port, refused")
        check("http://169.254.169.254/ refused" in log, "metadata refused even when allowed")
        check("other unknown" in log, "a name outside the allow-list does not resolve")
        net = (e.get("result") or {}).get("network") or {}
        check(net.get("mode") == "egress" and net.get("address", "").startswith("100.96.") and
              isinstance(net.get("denied"), int) and net["denied"] >= 2,
              f"the result record carries the network and its denied count: {net}")
        show = subprocess.run([c.bin("cli", "jobcell"), "show", e["id"],
                               "--url", f"http://127.0.0.1:{c.api_port}"],
                              env=dict(os.environ, JOBCELL_TOKEN=c.token),
                              capture_output=True, text=True)
        check(show.returncode == 0 and f"packets denied" in show.stdout and
              str(net.get("denied")) in show.stdout,
              f"jobcell show prints the network line: {show.stdout!r} {show.stderr!r}")
        # a job asking for a profile that refuses egress never gets here
        try:
            c.call("POST", "/v1/jobs", {"runtime": "bash", "script": "true", "network": "egress",
                                        "profile": "strict",
                                        "egress": {"allow": ["www.allowed.test"]}})
            check(False, "strict accepted an egress job")
        except jcluster.HTTPError as err:
            check(err.status == 400 and b'"profile"' in err.body,
                  f"strict refuses egress jobs: {err.status} {err.body!r}")
    # A pool of one /30 and two slots: the orchestrator claims no more egress work than it
    # has leases, so the second job waits queued (for this or another host) until the first
    # one's lease is back, instead of failing.
    c = jcluster.Cluster(build, source, slots=2, uid_slot_base=152, name="egress-pool")
    c.orc_args = ["--egress.enabled", "true", "--egress.resolvers", '["198.51.100.53"]',
                  "--egress.pool", "100.97.0.0/30"]
    with c:
        spec = {"runtime": "bash", "script": "sleep 2; curl -s -m 5 http://198.51.100.10/",
                "network": "egress", "egress": {"allow": ["198.51.100.10:80"]}}
        jobs = [c.submit(spec)["id"] for _ in range(2)]
        c.wait_jobs(jobs, 120)
        exes = [c.latest(c.job(j)) for j in jobs]
        check(all(e["status"] == "succeeded" for e in exes),
              f"both jobs of a one-lease pool succeeded: {[e['status'] for e in exes]}")
        first, second = sorted(exes, key=lambda e: e["started_at"])
        check(second["claimed_at"] >= first["finished_at"],
              f"the second job was claimed only once the first gave its lease back: "
              f"claimed {second['claimed_at']}, first finished {first['finished_at']}")
        check(all(e["result"]["network"]["address"] == "100.97.0.2" for e in exes),
              "both used the pool's one lease")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    rules = subprocess.run(["nft", "list", "table", "inet", "jobcell"], capture_output=True,
                           text=True).stdout
    check("jcv" not in links, "no job link is left after the orchestrator stopped")
    check("chain j" not in rules, "no job chain is left after the orchestrator stopped")
    print("ok: egress end to end (allowed name, other port, metadata, unknown name, result "
          "record, jobcell show, strict refused, a one-lease pool queues, nothing left)")
    return 0


def main():
    build, source = jcluster.main_args()
    if os.environ.get("JC_EGRESS_E2E_NS"):
        rc = inside(build, source)
        sys.exit(rc)
    sys.exit(outside(build, source))


if __name__ == "__main__":
    main()
