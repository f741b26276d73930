"""200 mixed jobs through one server and one orchestrator: every one reaches the right
status and reason, with its output, and its log byte-identical to what the job wrote
(up to the cap)."""
import jcluster
from jcluster import check

BIG = 300_000  # several log chunks


def expected_bytes(kind, i):
    if kind == "lines":
        return "".join(f"job {i} line {n}\n" for n in range(1, 51)).encode()
    if kind == "binary":
        return bytes((i * 31 + n) % 256 for n in range(4096))
    if kind == "big":
        return bytes((n * 7 + i) % 251 for n in range(BIG))
    if kind == "stderr":
        return f"to stderr {i}\n".encode()
    if kind == "utf8":
        return f"héllo wörld ✓ {i}\n".encode()
    return b""


def spec(kind, i):
    base = {"name": f"mixed-{kind}-{i}", "timeout_s": 60}
    if kind == "lines":
        s = {"runtime": "bash", "script": f'for n in $(seq 1 50); do echo "job {i} line $n"; done\n'}
    elif kind == "exit3":
        s = {"runtime": "bash", "script": "echo before; exit 3\n"}
    elif kind == "sh":
        s = {"runtime": "sh", "script": "echo from sh\n"}
    elif kind == "binary":
        s = {"runtime": "python", "script": f"import sys\nsys.stdout.buffer.write(bytes(({i} * 31 + n) % 256 for n in range(4096)))\n"}
    elif kind == "big":
        s = {"runtime": "python", "script": f"import sys\nsys.stdout.buffer.write(bytes((n * 7 + {i}) % 251 for n in range({BIG})))\n"}
    elif kind == "stderr":
        s = {"runtime": "bash", "script": f'echo "to stderr {i}" >&2\n'}
    elif kind == "utf8":
        s = {"runtime": "python", "script": f'print("héllo wörld ✓ {i}")\n'}
    elif kind == "output":
        s = {"runtime": "python", "script": f"import jobcell\njobcell.output({{'i': {i}, 'sq': {i * i}}})\n"}
    elif kind == "signal":
        s = {"runtime": "bash", "script": "kill -KILL $$\n"}
    elif kind == "timeout":
        s = {"runtime": "bash", "script": "echo start; sleep 30\n", "timeout_s": 3}
    elif kind == "cap":
        s = {"runtime": "python", "resources": {"output_mb": 1},
             "script": "import sys\nsys.stdout.buffer.write(b'x' * (1536 * 1024))\n"}
    base.update(s)
    return base


KINDS = ["lines", "exit3", "sh", "binary", "big", "stderr", "utf8", "output", "signal", "lines"]


def main():
    build, source = jcluster.main_args()
    plan = []
    for i in range(200):
        kind = KINDS[i % len(KINDS)]
        if i % 50 == 7:
            kind = "timeout"  # 4 of them: each costs its second and the kill grace
        if i % 50 == 23:
            kind = "cap"
        plan.append((kind, i))
    with jcluster.Cluster(build, source, slots=8, uid_slot_base=0, kill_grace_s=1, name="mixed") as c:
        jobs = {}
        for kind, i in plan:
            j = c.submit(spec(kind, i))
            jobs[j["id"]] = (kind, i)
        done = c.wait_jobs(list(jobs), timeout=240)
        for jid, (kind, i) in jobs.items():
            j = done[jid]
            check(len(j["executions"]) == 1, f"{jid}: {len(j['executions'])} executions")
            e = c.latest(j)
            exe = c.call("GET", f"/v1/executions/{e['id']}")
            r = exe.get("result") or {}
            where = f"{kind} #{i} ({e['id']})"
            want_status, want_reason = {
                "exit3": ("failed", "exited"), "signal": ("failed", "signaled"),
                "timeout": ("failed", "timeout"),
            }.get(kind, ("succeeded", "exited"))
            check(exe["status"] == want_status, f"{where}: status {exe['status']}, want {want_status}; result {r}")
            check(r.get("reason") == want_reason, f"{where}: reason {r.get('reason')}, want {want_reason}")
            check(exe["orchestrator_id"] == c.orc_id, f"{where}: orchestrator_id {exe.get('orchestrator_id')}")
            log = c.logs(e["id"])
            if kind == "exit3":
                check(r.get("exit_code") == 3 and log == b"before\n", f"{where}: exit {r.get('exit_code')} log {log[:40]!r}")
            elif kind == "signal":
                check(r.get("signal") == 9, f"{where}: signal {r.get('signal')}")
            elif kind == "sh":
                check(log == b"from sh\n", f"{where}: log {log!r}")
            elif kind == "timeout":
                # on a loaded machine the second may run out before bash prints: the log
                # must still be exactly what the job wrote
                check(log in (b"", b"start\n") and len(log) == r.get("stdout_bytes"),
                      f"{where}: log {log!r}, stdout_bytes {r.get('stdout_bytes')}")
            elif kind == "output":
                check(exe.get("output") == {"i": i, "sq": i * i}, f"{where}: output {exe.get('output')}")
            elif kind == "cap":
                check(len(log) == 1 << 20 and log == b"x" * (1 << 20), f"{where}: capped log is {len(log)} bytes")
                check(exe.get("log_truncated") is True or r.get("output_truncated") is True,
                      f"{where}: truncation not reported ({exe.get('log_truncated')}, {r.get('output_truncated')})")
            else:
                want = expected_bytes(kind, i)
                check(log == want, f"{where}: log differs ({len(log)} bytes, want {len(want)})")
                check(exe.get("log_bytes") in (None, len(want)), f"{where}: log_bytes {exe.get('log_bytes')}")
        left = c.leftover_cgroups({c.latest(done[j])["id"] for j in jobs})
        check(not left, f"cgroups left behind: {left[:3]}")
        m = c.metrics()
        check("jobcell_orchestrator_jobs_running 0" in m, "metrics: jobs still running")
        check("jobcell_orchestrator_spool_depth 0" in m, "metrics: spool not empty")
    print("ok: 200 mixed jobs")


if __name__ == "__main__":
    main()
