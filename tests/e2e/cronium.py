"""Scripts written for Cronium run unchanged through a real orchestrator and real sandboxes:
every script of the Cronium-style corpus (tests/integration/cronium_corpus/, bash, Python,
Node) is submitted as a job, and the output, condition and variables each one stored are
read back through the admin API — not only the exit status."""
import os
import shutil
import subprocess
import sys

import jcluster
from jcluster import check


def main():
    build, source = jcluster.main_args()
    sys.path.insert(0, os.path.join(source, "tests", "integration"))
    import cronium_cases as cc

    if not shutil.which("node") or not shutil.which("jq") or not shutil.which("curl"):
        print("skip: the corpus needs node, jq and curl on the host")
        raise SystemExit(77)
    with jcluster.Cluster(build, source, slots=3, uid_slot_base=120, name="cronium") as c:
        # the corpus expects its jobs to belong to the user alice
        out = subprocess.run([c.bin("runtime-api", "jobcell-api"), "token", "create",
                              "--user", "alice", "--role", "admin", "--name", "alice",
                              "--store-path", os.path.join(c.dir, "jobcell.db")],
                             check=True, capture_output=True, text=True)
        c.token = out.stdout.strip()

        def submit(script):
            return c.submit({"name": script, "runtime": cc.runtime(script),
                             "script": cc.text(script), "input": cc.INPUT})["id"]

        # round 1: every script once; rounds 2-5: the counters again, one round at a time,
        # so each run of the same job sees the previous run's variable
        last = {}
        for rnd in range(1, 6):
            ids = {s: submit(s) for s, runs, _, _ in cc.CASES if runs >= rnd}
            done = c.wait_jobs(list(ids.values()), timeout=120)
            for s, jid in ids.items():
                last[s] = done[jid]
        results = {}
        for script, runs, want, cond in cc.CASES:
            j = last[script]
            e = c.latest(j)
            exe = c.call("GET", f"/v1/executions/{e['id']}")
            log = c.logs(e["id"]).decode(errors="replace")
            res = exe.get("result") or {}
            check(exe["status"] == "succeeded" and res.get("exit_code") == 0,
                  f"{script}: {exe['status']} {res}\n{log}")
            check(exe.get("output") == cc.expected_output(script, want, j["id"]),
                  f"{script}: output {exe.get('output')!r}\n{log}")
            if cond is not None:
                check(exe.get("condition") is cond,
                      f"{script}: condition {exe.get('condition')!r}, want {cond}")
            results[script] = exe
        for key, value in cc.VARIABLES:
            doc = c.call("GET", "/v1/variables/" + key)
            check(doc.get("value") == value, f"variable {key}: {doc!r}, want {value!r}")
        for key in cc.DELETED:
            try:
                c.call("GET", "/v1/variables/" + key)
                check(False, f"deleted variable {key} is still stored")
            except jcluster.HTTPError as e:
                check(e.status == 404, f"deleted variable {key}: HTTP {e.status}")
        # a key with a space was percent-encoded by the helper and refused, never stored
        try:
            c.call("GET", "/v1/variables/has%20space")
            check(False, "the refused key 'has space' is stored")
        except jcluster.HTTPError as e:
            check(e.status in (400, 404), f"key 'has space': HTTP {e.status}")
        # sourcing /usr/local/bin/cronium.sh explicitly changes nothing
        b1, b5 = results["b1_input_output.sh"], results["b5_explicit_source.sh"]
        b1["exit_code"] = b1["result"]["exit_code"]
        b5["exit_code"] = b5["result"]["exit_code"]
        for f in ("status", "exit_code", "output", "condition"):
            check(b1.get(f) == b5.get(f), f"explicit source differs in {f}: {b1.get(f)!r} "
                  f"vs {b5.get(f)!r}")
        # an unset variable reads as empty with status 0; another execution's id is a 403
        b3 = results["b3_unset_condition.sh"]
        check(b3["output"]["value"] == "" and b3["output"]["status"] == 0,
              f"unset variable in bash: {b3['output']}")
        check(results["p3_forbidden.py"]["output"]["status_code"] == 403, "python 403")
        # the orchestrator found this host's runtimes (node, jq and curl are here: all four)
        # and every job above was claimed by asking for them
        check('"runtimes":"[\\"bash\\",\\"sh\\",\\"python\\",\\"node\\"]"' in c.orc_log(),
              "orchestrator log lacks the runtimes it offers:\n" + c.orc_log()[:2000])
        j = c.job(last["b1_input_output.sh"]["id"])
        check("waiting_reason" not in j, f"finished job has a waiting reason: {j}")
    print(f"ok: {len(cc.CASES)} Cronium-style scripts through a real orchestrator "
          f"({sum(r for _, r, _, _ in cc.CASES)} jobs)")


if __name__ == "__main__":
    main()
