// ES module entry: `import cronium, { input, output } from "cronium"`.
import mod from "./cronium.js";

export default mod;
export const {
  cronium,
  input,
  output,
  getVariable,
  setVariable,
  setCondition,
  event,
  executeToolAction,
  sendEmail,
  sendSlackMessage,
  sendDiscordMessage,
  CroniumError,
  CroniumAPIError,
  CroniumTimeoutError,
} = mod;
