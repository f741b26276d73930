#!/usr/bin/env python3
"""The egress resolver proxy, live, in network namespaces this test creates itself.

    dns_netns.py test  DRIVER    the assertions (exit 0 pass, 1 fail, 77 skipped: not root)
    dns_netns.py bench DRIVER [SECONDS]   queries per second, direct to the upstream and
                                          through the proxy (bench/dns_proxy.sh)

Three namespaces, none linked to the machine's own network, so no packet can leave them:
  internet  198.51.100.53  a fake upstream DNS server (this file, "upstream"), logging every
            question it sees; 198.51.100.54 a second one that never answers
  host      198.51.100.1 towards "internet", 100.96.0.1 towards "job": the proxy
            (DRIVER, tests/integration/dns_proxy_driver.c) listens on 100.96.0.1:53
  job       100.96.0.2: the client (this file, "client"), and glibc's resolver through
            /etc/netns/<job>/resolv.conf, which `ip netns exec` mounts on /etc/resolv.conf
Everything is removed on exit, failure included; namespaces left by a killed earlier run
(their creator's pid is gone) are removed at start.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.abspath(__file__)
UPSTREAM = "198.51.100.53"
SILENT = "198.51.100.54"
PROXY = "100.96.0.1"
A, CNAME, TXT, AAAA = 1, 5, 16, 28
NOERROR, FORMERR, SERVFAIL, NXDOMAIN = 0, 1, 2, 3

ALLOWED = ["www.allowed.test", "short.allowed.test", "cdn.allowed.test", "many.allowed.test",
           "nx.allowed.test", "slow.allowed.test", "bad.allowed.test", "spoof.allowed.test",
           "fail.allowed.test", "WWW2.Allowed.Test."]


# ---- DNS messages ------------------------------------------------------------------------

def enc_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dec_name(msg, pos):
    """Name at pos (compression followed, bounded); returns (name, position after it)."""
    labels, end, jumps = [], None, 0
    while True:
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | msg[pos + 1]
            jumps += 1
            if jumps > 64:
                raise ValueError("pointer loop")
            continue
        if n == 0:
            return ".".join(labels), (end if end is not None else pos + 1)
        labels.append(msg[pos + 1:pos + 1 + n].decode("latin-1"))
        pos += 1 + n


def make_query(qid, name, qtype, rd=True):
    return struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0) + enc_name(name) + \
        struct.pack(">HH", qtype, 1)


def parse_response(msg):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    pos, question = 12, None
    for _ in range(qd):
        qname, pos = dec_name(msg, pos)
        question = (qname, struct.unpack(">H", msg[pos:pos + 2])[0])
        pos += 4
    answers = []
    for _ in range(an):
        owner, pos = dec_name(msg, pos)
        rtype, _cls, ttl, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
        pos += 10
        rdata = msg[pos:pos + rdlen]
        if rtype == A:
            data = socket.inet_ntop(socket.AF_INET, rdata)
        elif rtype == AAAA:
            data = socket.inet_ntop(socket.AF_INET6, rdata)
        elif rtype == CNAME:
            data = dec_name(msg, pos)[0]
        else:
            data = rdata.hex()
        answers.append([owner.lower(), rtype, ttl, data])
        pos += rdlen
    return {"id": qid, "rcode": flags & 0xF, "tc": bool(flags & 0x0200), "qr": bool(flags & 0x8000),
            "question": question, "answers": answers}


# ---- the fake upstream (runs in "internet") ----------------------------------------------

def rr(owner, rtype, ttl, rdata):
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def a(addr):
    return socket.inet_pton(socket.AF_INET, addr)


def aaaa(addr):
    return socket.inet_pton(socket.AF_INET6, addr)


def upstream_answers(qid, flags_rd, qname, qtype, question):
    """The datagrams to send back for one query ([] for none)."""
    q = b"\xc0\x0c"

    def msg(records, rcode=0, qd=question, an=None, ident=qid):
        hdr = struct.pack(">HHHHHH", ident, 0x8080 | flags_rd | rcode, 1,
                          len(records) if an is None else an, 0, 0)
        return hdr + qd + b"".join(records)

    if qname == "www.allowed.test" or qname == "www2.allowed.test":
        if qtype == A:
            return [msg([rr(q, A, 300, a("198.51.100.10"))])]
        if qtype == AAAA:
            return [msg([rr(q, AAAA, 7200, aaaa("2001:db8::10"))])]
    if qname == "short.allowed.test" and qtype == A:
        return [msg([rr(q, A, 1, a("198.51.100.11"))])]
    if qname == "cdn.allowed.test" and qtype == A:
        edge = enc_name("edge.outside.test")
        return [msg([rr(q, CNAME, 120, edge),
                     rr(enc_name("evil.outside.test"), A, 600, a("198.51.100.66")),
                     rr(enc_name("edge.outside.test"), A, 600, a("198.51.100.20"))])]
    if qname == "edge.outside.test" and qtype == A:
        return [msg([rr(q, A, 600, a("198.51.100.20"))])]
    if qname == "many.allowed.test" and qtype == AAAA:
        return [msg([rr(q, AAAA, 60, aaaa("2001:db8::%x" % (0x100 + i))) for i in range(30)])]
    if qname == "nx.allowed.test":
        return [msg([], rcode=NXDOMAIN)]
    if qname == "fail.allowed.test":
        return [msg([], rcode=SERVFAIL)]
    if qname == "slow.allowed.test":
        return []
    if qname == "bad.allowed.test":  # an answer whose owner is a pointer to itself
        loop_at = 12 + len(question)
        return [msg([struct.pack(">H", 0xC000 | loop_at) + struct.pack(">HHIH", A, 1, 60, 4) +
                     a("198.51.100.99")])]
    if qname == "spoof.allowed.test" and qtype == A:
        good = rr(q, A, 60, a("198.51.100.12"))
        other_q = enc_name("spoof.allowed.test") + struct.pack(">HH", AAAA, 1)
        return [msg([rr(q, A, 60, a("198.51.100.77"))], ident=qid ^ 0x5555),  # wrong id
                msg([rr(q, AAAA, 60, aaaa("2001:db8::77"))], qd=other_q),  # wrong question
                msg([good])]
    return [msg([], rcode=NXDOMAIN)]


def run_upstream(log_path):
    good = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    good.bind((UPSTREAM, 53))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((SILENT, 53))
    log = open(log_path, "a", buffering=1)
    print("ready", flush=True)
    import select
    while True:
        ready, _, _ = select.select([good, silent, sys.stdin], [], [])
        if sys.stdin in ready and not sys.stdin.readline():
            return
        for s in (good, silent):
            if s not in ready:
                continue
            data, peer = s.recvfrom(4096)
            try:
                qid, flags = struct.unpack(">HH", data[:4])
                qname, pos = dec_name(data, 12)
                qtype = struct.unpack(">H", data[pos:pos + 2])[0]
                question = data[12:pos + 4]
            except (ValueError, IndexError, struct.error):
                continue
            qname = qname.lower()
            log.write("%s %s %d %d\n" % (s.getsockname()[0], qname, qtype, peer[1]))
            if s is silent:
                continue
            for out in upstream_answers(qid, flags & 0x0100, qname, qtype, question):
                s.sendto(out, peer)


# ---- the client (runs in "job") ----------------------------------------------------------

def udp_exchange(server, payload, timeout, port=53):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    start = time.monotonic()
    try:
        s.sendto(payload, (server, port))
        data, _ = s.recvfrom(65535)
        return data, time.monotonic() - start
    except socket.timeout:
        return None, time.monotonic() - start
    finally:
        s.close()


def tcp_exchange(server, payload, timeout, port=53):
    s = socket.create_connection((server, port), timeout=timeout)
    try:
        s.sendall(struct.pack(">H", len(payload)) + payload)
        hdr = b""
        while len(hdr) < 2:
            chunk = s.recv(2 - len(hdr))
            if not chunk:
                return None
            hdr += chunk
        n = struct.unpack(">H", hdr)[0]
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return None
            body += chunk
        return body
    finally:
        s.close()


def run_client():
    ops = json.load(sys.stdin)
    results = []
    for op in ops:
        kind = op["op"]
        if kind == "query":
            qid = random.randrange(65536)
            payload = make_query(qid, op["name"], op["type"])
            if op.get("tcp"):
                start = time.monotonic()
                data = tcp_exchange(op.get("server", PROXY), payload, op.get("timeout", 6))
                elapsed = time.monotonic() - start
            else:
                data, elapsed = udp_exchange(op.get("server", PROXY), payload, op.get("timeout", 6))
            r = parse_response(data) if data else None
            if r:
                r["id_ok"] = r["id"] == qid
            results.append({"reply": r, "elapsed": elapsed})
        elif kind == "raw":
            data, elapsed = udp_exchange(PROXY, bytes.fromhex(op["hex"]), op.get("timeout", 1))
            results.append({"reply": data.hex() if data else None, "elapsed": elapsed})
        elif kind == "bench":
            results.append(bench_client(op["server"], op["name"], op["seconds"], op["window"]))
    json.dump(results, sys.stdout)


def bench_client(server, name, seconds, window):
    """Queries per second with `window` queries in flight, for `seconds` (bounded)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((server, 53))
    s.settimeout(2)
    done = lost = 0
    qid = 0
    end = time.monotonic() + seconds
    inflight = 0
    while inflight < window:
        qid = (qid + 1) & 0xFFFF
        s.send(make_query(qid, name, A))
        inflight += 1
    start = time.monotonic()
    while time.monotonic() < end:
        try:
            s.recv(4096)
            done += 1
        except socket.timeout:
            lost += 1
        qid = (qid + 1) & 0xFFFF
        s.send(make_query(qid, name, A))
    elapsed = time.monotonic() - start
    s.close()
    return {"qps": done / elapsed, "answered": done, "lost": lost, "seconds": elapsed}


# ---- the world ---------------------------------------------------------------------------

def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


class World:
    def __init__(self):
        tag = "%d-%04x" % (os.getpid(), random.randrange(65536))
        self.host, self.inet, self.job = "jcdns-%s-h" % tag, "jcdns-%s-i" % tag, "jcdns-%s-j" % tag
        self.tmp = tempfile.mkdtemp(prefix="jcdns-")
        self.procs = []
        self.etc = "/etc/netns/" + self.job

    def __enter__(self):
        remove_stale()
        try:
            for ns in (self.host, self.inet, self.job):
                sh("ip", "netns", "add", ns)
                sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", self.host, "link", "add", "up0", "type", "veth", "peer", "name",
               "down0", "netns", self.inet)
            sh("ip", "-n", self.host, "addr", "add", "198.51.100.1/24", "dev", "up0")
            sh("ip", "-n", self.inet, "addr", "add", UPSTREAM + "/24", "dev", "down0")
            sh("ip", "-n", self.inet, "addr", "add", SILENT + "/24", "dev", "down0")
            sh("ip", "-n", self.host, "link", "add", "job0", "type", "veth", "peer", "name",
               "eth0", "netns", self.job)
            sh("ip", "-n", self.host, "addr", "add", PROXY + "/30", "dev", "job0")
            sh("ip", "-n", self.job, "addr", "add", "100.96.0.2/30", "dev", "eth0")
            for ns, dev in ((self.host, "up0"), (self.inet, "down0"), (self.host, "job0"),
                            (self.job, "eth0")):
                sh("ip", "-n", ns, "link", "set", dev, "up")
            os.makedirs(self.etc)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            stop(p)
        for ns in (self.job, self.host, self.inet):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, ns, *argv):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + list(argv), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError("%s did not start (%r)" % (argv[0], line))
        return p

    def client(self, ops, timeout=120):
        r = subprocess.run(["ip", "netns", "exec", self.job, sys.executable, HERE, "client"],
                           input=json.dumps(ops), capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("client failed: " + r.stderr)
        return json.loads(r.stdout)


def stop(p):
    """Close its stdin (it exits), kill it after 10 s; returns its exit status."""
    if p.poll() is None:
        try:
            p.stdin.close()
            p.wait(timeout=10)
        except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
            p.kill()
            p.wait()
    return p.returncode


def remove_stale():
    """Namespaces of an earlier run of this test that was killed before cleaning up."""
    out = sh("ip", "netns", "list", check=False).stdout
    for line in out.splitlines():
        m = re.match(r"(jcdns-(\d+)-[0-9a-f]{4}-[hij])\b", line)
        if m and not os.path.exists("/proc/" + m.group(2)):
            sh("ip", "netns", "del", m.group(1), check=False)
            shutil.rmtree("/etc/netns/" + m.group(1), ignore_errors=True)


# ---- the test ----------------------------------------------------------------------------

class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   " + what)
        else:
            self.failed += 1
            print("FAIL " + what + ("  (%s)" % detail if detail else ""))


def start_proxy(w, driver, events, upstreams, thread=False):
    argv = [driver, "--listen", PROXY + ":53", "--events", events,
            "--resolv-conf", os.path.join(w.etc, "resolv.conf")]
    for u in upstreams:
        argv += ["--upstream", u]
    for n in ALLOWED:
        argv += ["--allow", n]
    if thread:
        argv.append("--thread")
    return w.spawn(w.host, *argv)


def run_test(driver):
    c = Checks()
    with World() as w:
        log = os.path.join(w.tmp, "upstream.log")
        events = os.path.join(w.tmp, "events")
        w.spawn(w.inet, sys.executable, HERE, "upstream", log)
        proxy = start_proxy(w, driver, events, [UPSTREAM])

        ops = [
            {"op": "query", "name": "www.allowed.test", "type": A},           # 0
            {"op": "query", "name": "WWW.Allowed.TEST", "type": AAAA},        # 1
            {"op": "query", "name": "short.allowed.test", "type": A},         # 2
            {"op": "query", "name": "outside.test", "type": A},               # 3
            {"op": "query", "name": "edge.outside.test", "type": A},          # 4
            {"op": "query", "name": "cdn.allowed.test", "type": A},           # 5
            {"op": "query", "name": "www.allowed.test", "type": TXT},         # 6
            {"op": "query", "name": "nx.allowed.test", "type": A},            # 7
            {"op": "query", "name": "many.allowed.test", "type": AAAA},       # 8
            {"op": "query", "name": "many.allowed.test", "type": AAAA, "tcp": True},  # 9
            {"op": "query", "name": "www.allowed.test", "type": A, "tcp": True},      # 10
            {"op": "query", "name": "spoof.allowed.test", "type": A},         # 11
            {"op": "query", "name": "bad.allowed.test", "type": A},           # 12
            {"op": "query", "name": "slow.allowed.test", "type": A, "timeout": 10},  # 13
            {"op": "query", "name": "fail.allowed.test", "type": A},          # 14
            # malformed: two questions (FORMERR, same id), 5 bytes (nothing), a pointer loop
            # in the question (FORMERR), a response sent to the proxy (nothing)
            {"op": "raw", "hex": (make_query(0x0A0B, "www.allowed.test", A)[:5] + b"\x02" +
                                  make_query(0, "www.allowed.test", A)[6:]).hex()},  # 15
            {"op": "raw", "hex": "0a0b010000"},                               # 16
            {"op": "raw", "hex": "0c0d01000001000000000000c00c00010001"},     # 17
            {"op": "raw", "hex": "0e0f81800001000000000000" + enc_name("www.allowed.test").hex()
                                 + "00010001"},                               # 18
            {"op": "query", "name": "www2.allowed.test", "type": A},          # 19: still alive
        ]
        r = w.client(ops)
        rep = [x["reply"] for x in r]

        def addrs(x):
            return [a[3] for a in x["answers"] if a[1] in (A, AAAA)] if x else None

        c.check("allowed name resolves (A)", rep[0] and rep[0]["rcode"] == NOERROR and
                rep[0]["id_ok"] and addrs(rep[0]) == ["198.51.100.10"] and
                rep[0]["answers"][0][2] == 300, rep[0])
        c.check("allowed name, any case, resolves (AAAA, TTL 7200 clamped to 3600)",
                rep[1] and addrs(rep[1]) == ["2001:db8::10"] and rep[1]["answers"][0][2] == 3600
                and rep[1]["question"][0] == "WWW.Allowed.TEST", rep[1])
        c.check("TTL 1 raised to 5", rep[2] and rep[2]["answers"][0][2] == 5, rep[2])
        c.check("name outside the list: NXDOMAIN", rep[3] and rep[3]["rcode"] == NXDOMAIN and
                not rep[3]["answers"], rep[3])
        c.check("CNAME target asked directly: NXDOMAIN", rep[4] and rep[4]["rcode"] == NXDOMAIN,
                rep[4])
        c.check("CNAME chain: the target's address, not the injected one",
                rep[5] and rep[5]["rcode"] == NOERROR and
                rep[5]["answers"] == [["cdn.allowed.test", CNAME, 120, "edge.outside.test"],
                                      ["edge.outside.test", A, 120, "198.51.100.20"]], rep[5])
        c.check("TXT of an allowed name: NODATA", rep[6] and rep[6]["rcode"] == NOERROR and
                rep[6]["answers"] == [], rep[6])
        c.check("upstream NXDOMAIN relayed", rep[7] and rep[7]["rcode"] == NXDOMAIN, rep[7])
        c.check("30 AAAA over UDP: the 17 that fit in 512 bytes, not truncated",
                rep[8] and len(addrs(rep[8])) == 17 and not rep[8]["tc"], rep[8])
        c.check("30 AAAA over TCP: all 30", rep[9] and len(addrs(rep[9])) == 30, rep[9])
        c.check("TCP query answered", rep[10] and addrs(rep[10]) == ["198.51.100.10"], rep[10])
        c.check("forged answers (wrong id, wrong question) ignored",
                rep[11] and addrs(rep[11]) == ["198.51.100.12"], rep[11])
        c.check("malformed upstream answer: SERVFAIL", rep[12] and rep[12]["rcode"] == SERVFAIL,
                rep[12])
        c.check("silent upstream: SERVFAIL within 5 s (%.2f s)" % r[13]["elapsed"],
                rep[13] and rep[13]["rcode"] == SERVFAIL and r[13]["elapsed"] < 5, r[13])
        c.check("upstream SERVFAIL: SERVFAIL", rep[14] and rep[14]["rcode"] == SERVFAIL, rep[14])
        c.check("two questions: FORMERR with the query's id",
                rep[15] is not None and rep[15][:4] == "0a0b" and int(rep[15][7], 16) == FORMERR,
                rep[15])
        c.check("5-byte datagram: no answer", rep[16] is None, rep[16])
        c.check("pointer in the question: FORMERR", rep[17] is not None and rep[17][:4] == "0c0d"
                and int(rep[17][7], 16) == FORMERR, rep[17])
        c.check("a response sent to the proxy: no answer", rep[18] is None, rep[18])
        c.check("allowed name given with capitals and a dot resolves after all that",
                rep[19] and addrs(rep[19]) == ["198.51.100.10"], rep[19])

        # glibc, through the resolv.conf the driver wrote
        g = subprocess.run(["ip", "netns", "exec", w.job, "getent", "ahostsv4",
                            "www.allowed.test"], capture_output=True, text=True, timeout=30)
        c.check("getent resolves an allowed name", g.returncode == 0 and
                "198.51.100.10" in g.stdout, g.stdout + g.stderr)
        g = subprocess.run(["ip", "netns", "exec", w.job, "getent", "ahostsv4",
                            "edge.outside.test"], capture_output=True, text=True, timeout=30)
        c.check("getent: a name outside the list does not resolve", g.returncode == 2,
                g.returncode)

        c.check("proxy exits cleanly (no sanitizer report)", stop(proxy) == 0)
        with open(events) as f:
            ev = f.read().splitlines()
        seen = [l for l in ev if not l.startswith("stats")]
        c.check("callback: A with its TTL", "www.allowed.test 4 198.51.100.10 300" in seen, ev)
        c.check("callback: AAAA with the clamped TTL",
                "www.allowed.test 6 2001:db8::10 3600" in seen, ev)
        c.check("callback: raised TTL", "short.allowed.test 4 198.51.100.11 5" in seen, ev)
        c.check("callback: CNAME target's address under the asked name, chain TTL",
                "cdn.allowed.test 4 198.51.100.20 120" in seen, ev)
        c.check("callback: never the injected or forged addresses",
                not any(x in l for l in seen for x in ("198.51.100.66", "198.51.100.77",
                                                       "2001:db8::77", "198.51.100.99")), ev)
        c.check("callback: the 17 AAAA sent over UDP and the 30 over TCP",
                sum(1 for l in seen if l.startswith("many.allowed.test 6 ")) == 47, ev)
        stats = [l for l in ev if l.startswith("stats")]
        # 16 well-formed queries above and 2 of getent; forwarded: 10 answered at once,
        # bad/slow/fail 3 tries each, and getent's
        c.check("counters", stats and stats[0] == (
            "stats queries=18 refused=3 nodata=1 forwarded=20 answered=11 servfail=3 "
            "formerr=2 addresses=55"), stats)

        with open(log) as f:
            seen_up = [l.split() for l in f.read().splitlines()]
        names_up = {l[1] for l in seen_up}
        c.check("upstream never saw a name outside the list",
                not names_up & {"outside.test", "edge.outside.test"}, names_up)
        c.check("upstream never saw a TXT query", all(l[2] in ("1", "28") for l in seen_up),
                seen_up)
        c.check("upstream saw the allowed names in lowercase",
                {"www.allowed.test", "www2.allowed.test"} <= names_up, names_up)
        tries = [l for l in seen_up if l[1] == "slow.allowed.test"]
        c.check("silent upstream: at most 3 tries", 1 <= len(tries) <= 3, tries)
        ports = [l[3] for l in seen_up]
        c.check("a fresh source port per forwarded query",
                len(set(ports)) >= len(ports) - 2, ports)

        # retry: the first upstream never answers, the second does; the proxy on a thread
        proxy = start_proxy(w, driver, events, [SILENT, UPSTREAM], thread=True)
        r = w.client([{"op": "query", "name": "www.allowed.test", "type": A}])
        c.check("threaded proxy stops cleanly", stop(proxy) == 0)
        x = r[0]["reply"]
        c.check("silent first upstream: answered by the second (%.2f s)" % r[0]["elapsed"],
                x and addrs(x) == ["198.51.100.10"] and r[0]["elapsed"] >= 0.9, r[0])
        with open(log) as f:
            order = [l.split()[0] for l in f.read().splitlines() if " www.allowed.test 1 " in l]
        c.check("retry went to the next upstream", order[-2:] == [SILENT, UPSTREAM], order)

    left = sh("ip", "netns", "list").stdout
    c.check("namespaces removed", w.job not in left and w.host not in left and
            w.inet not in left and not os.path.exists(w.etc), left)
    print("%d passed, %d failed" % (c.passed, c.failed))
    return 0 if c.failed == 0 else 1


def cpu_seconds(pid):
    """User + system time of a process (`ip netns exec` execs the driver: same pid)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_bench(driver, seconds=3.0):
    with World() as w:
        log = os.path.join(w.tmp, "upstream.log")
        w.spawn(w.inet, sys.executable, HERE, "upstream", log)
        proxy = start_proxy(w, driver, os.path.join(w.tmp, "events"), [UPSTREAM])
        # the job reaches the fake upstream directly only for this comparison
        sh("ip", "netns", "exec", w.host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "-n", w.job, "route", "add", "198.51.100.0/24", "via", PROXY)
        sh("ip", "-n", w.inet, "route", "add", "100.96.0.0/30", "via", "198.51.100.1")
        for window in (1, 16):
            ops = [{"op": "bench", "server": UPSTREAM, "name": "www.allowed.test",
                    "seconds": seconds, "window": window},
                   {"op": "bench", "server": PROXY, "name": "www.allowed.test",
                    "seconds": seconds, "window": window}]
            cpu_before = cpu_seconds(proxy.pid)
            direct, proxied = w.client(ops)
            cpu = cpu_seconds(proxy.pid) - cpu_before
            print("dns_proxy window=%d direct=%.0f qps proxied=%.0f qps (%.0f%%) lost=%d/%d "
                  "proxy_cpu=%.1f us/query" % (
                      window, direct["qps"], proxied["qps"], 100 * proxied["qps"] / direct["qps"],
                      direct["lost"], proxied["lost"], 1e6 * cpu / max(1, proxied["answered"])))
    return 0


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "upstream":
        run_upstream(sys.argv[2])
        return 0
    if cmd == "client":
        run_client()
        return 0
    if cmd in ("test", "bench") and len(sys.argv) in (3, 4):
        if os.geteuid() != 0 or not shutil.which("ip"):
            print("skipped: needs root and ip(8) to create network namespaces")
            return 77
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup
        if cmd == "test":
            return run_test(sys.argv[2])
        return run_bench(sys.argv[2], float(sys.argv[3]) if len(sys.argv) == 4 else 3.0)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
