// Every jobcell Node helper against the real runtime API (run by test_sdk.py).
"use strict";
const jobcell = require("jobcell");
const assert = require("assert");

let fails = 0;
function check(cond, what) {
  console.log((cond ? "ok   - " : "FAIL - ") + "node: " + what);
  if (!cond) fails++;
}

(async () => {
  const envToken = process.env.JOBCELL_EXECUTION_TOKEN;
  const input = await jobcell.input();
  check(JSON.stringify(input) === JSON.stringify({ day: "2026-11-21", items: [1, 2, 3] }), "input()");
  const c = new jobcell.Client();
  check(typeof c.token === "string", "Client() from the environment");
  const values = { js_null: null, js_bool: false, js_int: 0, js_float: -1.5, js_str: "", js_list: [[]], js_obj: { k: "v" } };
  for (const [k, v] of Object.entries(values)) await jobcell.setVariable(k, v);
  for (const [k, v] of Object.entries(values)) {
    let ok = false;
    try { assert.deepStrictEqual(await jobcell.getVariable(k), v); ok = true; } catch (_) {}
    check(ok, `getVariable(${k}) round trip`);
  }
  try {
    await jobcell.getVariable("js_unset");
    check(false, "getVariable of an unset key rejects");
  } catch (e) {
    check(e instanceof jobcell.VariableNotSetError && e.status === 404, "unset variable rejects with VariableNotSetError (404)");
  }
  check((await jobcell.getVariable("js_unset", 5)) === 5, "getVariable default");
  check((await jobcell.getVariable("js_unset", undefined)) === undefined, "getVariable default undefined");
  check((await jobcell.deleteVariable("js_int")) === true, "deleteVariable of a set key: true");
  check((await jobcell.deleteVariable("js_int")) === false, "deleteVariable of an unset key: false");
  try {
    await jobcell.setVariable("bad key/x", 1);
    check(false, "an invalid key is refused");
  } catch (e) {
    check(e instanceof jobcell.JobcellError && e.status === 400 && e.code === "invalid_field" && /key/.test(e.serverMessage),
      `invalid key: 400 with the server's message (${e.serverMessage})`);
  }
  await jobcell.setCondition(false);
  const ctx = await jobcell.context();
  check(ctx.executionId === process.env.JOBCELL_EXECUTION_ID && ctx.jobId === process.env.JOBCELL_JOB_ID, "context()");
  const r = await jobcell.refreshToken();
  check(typeof r.token === "string" && r.token !== envToken && typeof r.expiresAt === "string", "refreshToken()");
  check((await jobcell.getVariable("js_bool")) === false, "calls work with the refreshed token");
  await jobcell.output({ lang: "node", nested: { list: [1, 2] } });
  process.exitCode = fails ? 1 : 0;
})().catch((e) => {
  console.log("FAIL - node: unexpected " + e.stack);
  process.exitCode = 1;
});
