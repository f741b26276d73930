// A client that speaks to the runtime API the way Cronium's Node helper does: http.request
// with the three headers and the body written with req.write() (so it goes out chunked, no
// Content-Length), keep-alive off, JSON answers; a 404 on a variable read is null.
"use strict";
const http = require("http");
const api = new URL(process.env.CRONIUM_RUNTIME_API);
const exe = process.env.CRONIUM_EXECUTION_ID;
let fails = 0;
const ok = (c, w) => { console.log((c ? "ok   - " : "FAIL - ") + "cronium-node: " + w); if (!c) fails++; };

function call(method, path, data) {
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname: api.hostname, port: api.port, path, method,
      headers: { Authorization: `Bearer ${process.env.CRONIUM_EXECUTION_TOKEN}`,
                 "Content-Type": "application/json", Accept: "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        let doc = null;
        try { doc = text ? JSON.parse(text) : null; } catch (e) { return reject(new Error("non-JSON answer: " + text)); }
        if (res.statusCode >= 400) { const e = new Error(doc && doc.message); e.statusCode = res.statusCode; return reject(e); }
        resolve(doc);
      });
    });
    req.on("error", reject);
    if (data) req.write(JSON.stringify(data));
    req.end();
  });
}

async function getVariable(key) {
  try { return (await call("GET", `/executions/${exe}/variables/${encodeURIComponent(key)}`)).data.value; }
  catch (e) { if (e.statusCode === 404) return null; throw e; }
}

(async () => {
  const input = await call("GET", `/executions/${exe}/input`);
  ok(JSON.stringify(input.data) === '{"day":"2026-11-21","items":[1,2,3]}', "input");
  await call("PUT", `/executions/${exe}/variables/${encodeURIComponent("node.key")}`, { value: { deep: [1, { x: "y" }] } });
  ok(JSON.stringify(await getVariable("node.key")) === '{"deep":[1,{"x":"y"}]}', "chunked PUT then GET");
  ok((await getVariable("node_unset")) === null, "unset variable is null (404)");
  await call("POST", `/executions/${exe}/output`, { data: { from: "cronium-node" } });
  await call("POST", `/executions/${exe}/condition`, { condition: true });
  const ev = (await call("GET", `/executions/${exe}/context`)).data;
  ok(ev.eventName === "compat-node" && ev.eventType === "script", "event fields");
  try { await call("POST", "/tool-actions/execute", { tool: "discord", action: "send_message", config: {} }); ok(false, "tool action refused"); }
  catch (e) { ok(e.statusCode === 501 && /jobcell/.test(e.message), "tool action: 501 with a JSON message"); }
  process.exitCode = fails ? 1 : 0;
})().catch((e) => { console.log("FAIL - cronium-node: " + e.stack); process.exitCode = 1; });
