// Cronium-style: ES module named imports.
import { input, output, setVariable, getVariable } from "cronium";

const data = await input();
await setVariable("n_esm", { from: "esm" });
await output({ got: data, back: await getVariable("n_esm") });
