// Cronium-style: variables of every JSON type and unset ones; the condition.
const cronium = require("cronium");

(async () => {
  const values = { n_null: null, n_bool: true, n_int: 3, n_str: "s", n_list: [1], n_obj: { a: 1 } };
  for (const [k, v] of Object.entries(values)) await cronium.setVariable(k, v);
  const back = {};
  for (const k of Object.keys(values)) back[k] = await cronium.getVariable(k);
  await cronium.setCondition(false);
  await cronium.output({ back, unset: await cronium.getVariable("n_never_set") });
})();
