#!/usr/bin/env python3
"""bench/e2e: jobs end to end through one jobcell-api and one jobcell-orchestrator.

  sudo python3 bench/e2e.py BUILD_DIR [SOURCE_DIR] [--jobs 1000] [--slots 16]

Phase 1 (free slots): 50 trivial jobs one after another, each submitted only when the
previous one has finished, so a slot is always free: submit→start latency p50/p99.
Phase 2 (burst): N trivial jobs (`true`) submitted at once; jobs/s from the first submit
to the last terminal status, submit→start p50/p99 (which now includes queueing).
Orchestrator figures: RSS when idle and its peak (VmHWM), CPU time per job.
Times are the server's own timestamps (created_at, started_at, finished_at)."""
import argparse
import concurrent.futures
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import jcluster  # noqa: E402


def ts(s):
    # 2026-11-22T14:03:07.123Z → seconds
    t = time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
    return time.mktime(t) + float("0." + s[20:23]) if len(s) > 20 else time.mktime(t)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def all_jobs(c):
    jobs, cursor = [], None
    while True:
        q = "/v1/jobs?limit=500" + (f"&cursor={cursor}" if cursor else "")
        r = c.call("GET", q)
        jobs += r["jobs"]
        cursor = r.get("next_cursor")
        if not cursor:
            return jobs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("source", nargs="?", default=os.path.join(HERE, ".."))
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--slots", type=int, default=16)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/e2e needs root (sandboxes)")
    build, source = os.path.abspath(a.build), os.path.abspath(a.source)
    spec = {"runtime": "sh", "script": "true\n"}
    with jcluster.Cluster(build, source, slots=a.slots, uid_slot_base=200, name="bench") as c:
        time.sleep(1)
        pid = c.orc.pid
        rss_idle = proc_status(pid, "VmRSS")
        anon_idle = proc_status(pid, "RssAnon")

        # phase 1: a slot is always free
        lat1 = []
        for _ in range(50):
            j = c.submit(spec)
            e = c.latest(c.wait_jobs([j["id"]], 30)[j["id"]])
            lat1.append(ts(e["started_at"]) - ts(e["created_at"]))

        # phase 2: a burst
        cpu0 = cpu_seconds(pid)
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            ids = list(ex.map(lambda _: c.submit(spec)["id"], range(a.jobs)))
        t_sub = time.time() - t0
        end = time.time() + 600
        while time.time() < end:
            jobs = [j for j in all_jobs(c) if j["id"] in set(ids)]
            if sum(j["status"] in jcluster.TERMINAL for j in jobs) == a.jobs:
                break
            time.sleep(0.5)
        wall = time.time() - t0
        cpu = cpu_seconds(pid) - cpu0
        rss_peak = proc_status(pid, "VmHWM")
        # server timestamps for exact figures
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            full = list(ex.map(c.job, ids))
        exes = [c.latest(j) for j in full]
        ok = sum(e["status"] == "succeeded" for e in exes)
        first = min(ts(e["created_at"]) for e in exes)
        last = max(ts(e["finished_at"]) for e in exes)
        lat2 = [ts(e["started_at"]) - ts(e["created_at"]) for e in exes]
        queued = [ts(e["claimed_at"]) - ts(e["created_at"]) for e in exes]
        starting = [ts(e["started_at"]) - ts(e["claimed_at"]) for e in exes]
        running = [ts(e["finished_at"]) - ts(e["started_at"]) for e in exes]
        sb_wall = [e["result"]["wall_ms"] / 1000 for e in exes if e.get("result")]

    ms = lambda x: f"{x * 1000:.0f} ms"  # noqa: E731
    print(f"bench/e2e: {a.jobs} trivial jobs, 1 server + 1 orchestrator with {a.slots} slots, {os.cpu_count()} cores")
    print(f"  succeeded                       {ok}/{a.jobs}")
    print(f"  submitted in                    {t_sub:.2f} s ({a.jobs / t_sub:.0f} submits/s)")
    print(f"  end to end                      {a.jobs / (last - first):.1f} jobs/s "
          f"(first submit → last finish {last - first:.2f} s; observed {wall:.2f} s)")
    print(f"  submit→start, slot free         p50 {ms(pct(lat1, 50))}  p99 {ms(pct(lat1, 99))}  (50 jobs in turn)")
    print(f"  submit→start, burst             p50 {ms(pct(lat2, 50))}  p99 {ms(pct(lat2, 99))}  (includes queueing)")
    print(f"  per job (p50), burst            queued {ms(pct(queued, 50))}, claim→start reported "
          f"{ms(pct(starting, 50))}, start→finish reported {ms(pct(running, 50))} "
          f"(sandbox wall {ms(pct(sb_wall, 50))})")
    print(f"  orchestrator RSS                idle {rss_idle / 1024:.1f} MiB (private {anon_idle / 1024:.1f} MiB, the rest shared "
          f"library pages), peak {rss_peak / 1024:.1f} MiB")
    print(f"  orchestrator CPU per job        {cpu / a.jobs * 1000:.2f} ms (user+sys of the daemon itself)")


if __name__ == "__main__":
    main()
