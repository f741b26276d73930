// Cronium-style: event fields and a tool action's clean 501.
const cronium = require("cronium");

(async () => {
  const ev = await cronium.event();
  let status = null;
  const t0 = Date.now();
  try {
    await cronium.executeToolAction("discord", "send_message", { channelId: "1", content: "x" });
  } catch (e) {
    status = e instanceof cronium.CroniumAPIError ? e.statusCode : "other";
  }
  await cronium.output({ eventType: ev.eventType, idIsJob: ev.id === process.env.CRONIUM_JOB_ID, tool_status: status, fast: Date.now() - t0 < 2000 });
})();
