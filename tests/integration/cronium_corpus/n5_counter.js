// Cronium-style: a counter across runs, with the usual `|| 0` default.
const cronium = require("cronium");

(async () => {
  const n = ((await cronium.getVariable("n_counter")) || 0) + 1;
  await cronium.setVariable("n_counter", n);
  await cronium.output({ run: n });
})();
