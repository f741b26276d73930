"""Jobs use the SDK from inside the sandbox, through the orchestrator's runtime relay:
input, output, variables, condition, context, in bash, Python and (where installed) Node."""
import shutil

import jcluster
from jcluster import check

BASH = r'''
set -e
in=$(jobcell_input)
echo "input: $in"
jobcell_set_variable sdk_bash '{"n": 41}' >/dev/null
v=$(jobcell_get_variable sdk_bash)
echo "variable: $v"
jobcell_delete_variable sdk_bash >/dev/null
if jobcell_get_variable sdk_bash >/dev/null 2>&1; then echo "still set"; exit 1; else rc=$?; fi
echo "after delete: $rc"
ctx=$(jobcell_context)
echo "$ctx" | grep -q "$JOBCELL_EXECUTION_ID"
jobcell_set_condition true >/dev/null
jobcell_output '{"lang": "bash", "ok": true}' >/dev/null
echo done
'''

PY = r'''
import jobcell
data = jobcell.input()
jobcell.set_variable("sdk_py", {"list": [1, 2, 3]})
assert jobcell.get_variable("sdk_py") == {"list": [1, 2, 3]}
jobcell.delete_variable("sdk_py")
assert jobcell.get_variable("sdk_py", None) is None
ctx = jobcell.context()
assert ctx["executionId"], ctx
jobcell.set_condition(False)
jobcell.output({"lang": "python", "echo": data, "attempt": ctx["attempt"]})
print("done")
'''

NODE = r'''
const jobcell = require("jobcell");
(async () => {
  const input = await jobcell.input();
  await jobcell.setVariable("sdk_node", {x: 1});
  const v = await jobcell.getVariable("sdk_node");
  if (v.x !== 1) throw new Error("variable " + JSON.stringify(v));
  const ctx = await jobcell.context();
  await jobcell.setCondition(true);
  await jobcell.output({lang: "node", echo: input, exe: ctx.executionId});
  console.log("done");
})().catch((e) => { console.error(e); process.exit(1); });
'''


def main():
    build, source = jcluster.main_args()
    with jcluster.Cluster(build, source, slots=3, uid_slot_base=64, name="sdk") as c:
        jobs = {
            "bash": c.submit({"runtime": "bash", "script": BASH, "input": {"a": 1}}),
            "python": c.submit({"runtime": "python", "script": PY, "input": {"b": [2]}}),
        }
        if shutil.which("node"):
            jobs["node"] = c.submit({"runtime": "node", "script": NODE, "input": {"c": "3"}})
        done = c.wait_jobs([j["id"] for j in jobs.values()], timeout=90)
        for lang, j in jobs.items():
            e = c.latest(done[j["id"]])
            exe = c.call("GET", f"/v1/executions/{e['id']}")
            log = c.logs(e["id"]).decode(errors="replace")
            check(exe["status"] == "succeeded", f"{lang}: {exe['status']} {exe.get('result')}\n{log}")
            check(log.rstrip().endswith("done"), f"{lang}: log {log!r}")
            out = exe.get("output") or {}
            check(out.get("lang") == lang, f"{lang}: output {out}")
            if lang == "bash":
                check('input: {"a": 1}' in log or 'input: {"a":1}' in log, f"bash input: {log!r}")
                check("after delete: 3" in log, f"bash delete: {log!r}")
                check(exe.get("condition") is True, f"bash condition {exe.get('condition')}")
            if lang == "python":
                check(out.get("echo") == {"b": [2]} and out.get("attempt") == 1, f"python: {out}")
                check(exe.get("condition") is False, f"python condition {exe.get('condition')}")
            if lang == "node":
                check(out.get("echo") == {"c": "3"} and out.get("exe") == e["id"], f"node: {out}")
        m = c.metrics()
        check("jobcell_orchestrator_runtime_connections_total 0" not in m, "no runtime connection was relayed")
    print("ok: SDK through the relay:", ", ".join(jobs))


if __name__ == "__main__":
    main()
