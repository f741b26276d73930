// ES module imports of the jobcell helpers (run by test_sdk.py).
import jobcell, { input, getVariable, setVariable, JobcellError } from "jobcell";

const got = await input();
let fails = 0;
function check(cond, what) {
  console.log((cond ? "ok   - " : "FAIL - ") + "node-esm: " + what);
  if (!cond) fails++;
}
check(got && got.day === "2026-11-21", "named import input()");
await setVariable("esm_key", { esm: true });
check((await getVariable("esm_key")).esm === true, "named imports setVariable/getVariable");
check(typeof jobcell.setCondition === "function" && JobcellError.name === "JobcellError", "default import and classes");
process.exitCode = fails ? 1 : 0;
