// Cronium-style: const cronium = require("cronium").
const cronium = require("cronium");

(async () => {
  const data = await cronium.input();
  await cronium.output({ got: data, nested: { list: [1, { deep: true }], text: "ok" } });
})();
