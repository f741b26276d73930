#!/usr/bin/env python3
"""Runtimes the orchestrators offer: a heartbeat and a claim name the runtimes an
orchestrator can run; a claim never receives a job of another runtime, and a job queued for
a runtime no live orchestrator offers says why it waits (GET /v1/jobs/{id}, jobcell show)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_harness import CLI_BIN, Server, eq, finish  # noqa: E402

NODE_REASON = "no orchestrator offers the node runtime"


def main():
    with Server() as s:
        alice = s.api_token("alice")

        def beat(orc, runtimes=None, extra=None):
            body = {"slots_total": 2, "slots_free": 2, "running": [], "version": "test"}
            if runtimes is not None:
                body["runtimes"] = runtimes
            body.update(extra or {})
            return s.internal("POST", "/internal/v1/orchestrators/heartbeat", body, orc)

        def claim(orc, runtimes, slots=4):
            body = {"slots": slots, "wait_s": 0}
            if runtimes is not None:
                body["runtimes"] = runtimes
            st, doc, raw, _ = s.internal("POST", "/internal/v1/claims", body, orc)
            eq(st, 200, "claim by %s %r: %r" % (orc, runtimes, raw))
            return [c["job_id"] for c in (doc or {}).get("claims", [])]

        def job(jid):
            st, doc, _, _ = s.admin("GET", "/v1/jobs/" + jid, alice)
            eq(st, 200, "GET job %s" % jid)
            return doc

        # malformed runtimes are refused, in heartbeats and claims
        for bad in (["cobol"], "bash", [1], ["bash", "bash"], {"bash": True}):
            st, doc, _, _ = beat("orc-a", bad)
            eq((st, (doc or {}).get("field")), (400, "runtimes"),
               "heartbeat runtimes %r refused" % (bad,))
            st, doc, _, _ = s.internal("POST", "/internal/v1/claims",
                                       {"slots": 1, "wait_s": 0, "runtimes": bad}, "orc-a")
            eq((st, (doc or {}).get("field")), (400, "runtimes"),
               "claim runtimes %r refused" % (bad,))
        eq(beat("orc-a", [], {"color": "red"})[0], 400, "unknown heartbeat field still refused")

        eq(beat("orc-a", ["bash"])[0], 200, "heartbeat advertising bash")
        node = s.submit(alice, {"runtime": "node", "script": "console.log(1)"})["id"]
        bash = s.submit(alice, {"runtime": "bash", "script": "echo 1"})["id"]
        d = job(node)
        eq((d.get("status"), d.get("waiting_reason")), ("queued", NODE_REASON),
           "node job queued with its reason")
        eq("waiting_reason" in job(bash), False, "a bash job has no waiting reason")

        p = subprocess.run([CLI_BIN, "show", node], capture_output=True, text=True, timeout=30,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                "HOME": "/nonexistent", "JOBCELL_URL": s.url,
                                "JOBCELL_TOKEN": alice})
        eq(p.returncode, 0, "jobcell show: %s" % p.stderr)
        eq(any(line.split() == ["waiting"] + NODE_REASON.split()
               for line in p.stdout.splitlines()), True,
           "jobcell show prints the reason: %r" % p.stdout)

        eq(claim("orc-a", ["bash"]), [bash], "a bash-only claim gets the bash job only")
        eq(claim("orc-a", ["bash"]), [], "a bash-only claim never receives the node job")
        eq(claim("orc-a", []), [], "a claim offering nothing receives nothing")
        eq(job(node).get("waiting_reason"), NODE_REASON, "still waiting after the claims")

        eq(beat("orc-a", ["bash", "node"])[0], 200, "heartbeat advertising node")
        d = job(node)
        eq((d.get("status"), "waiting_reason" in d), ("queued", False), "the reason is gone")
        eq(claim("orc-a", ["bash", "node"]), [node], "now the node job is claimable")
        eq(job(node).get("waiting_reason"), None, "a claimed job has no waiting reason")

        # an orchestrator that names no runtimes offers (and claims) every runtime
        sh = s.submit(alice, {"runtime": "sh", "script": "echo 1"})["id"]
        eq(job(sh).get("waiting_reason"), "no orchestrator offers the sh runtime", "sh waits")
        eq(beat("orc-b")[0], 200, "heartbeat without runtimes")
        eq("waiting_reason" in job(sh), False, "an orchestrator naming no runtimes offers sh")
        eq(claim("orc-b", None), [sh], "a claim naming no runtimes gets any job")
    finish()


if __name__ == "__main__":
    main()
