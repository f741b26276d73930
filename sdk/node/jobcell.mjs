// ES module entry: `import jobcell, { input, output } from "jobcell"`.
import jobcell from "./jobcell.js";

export default jobcell;
export const {
  input,
  output,
  getVariable,
  setVariable,
  deleteVariable,
  setCondition,
  context,
  refreshToken,
  get_variable,
  set_variable,
  delete_variable,
  set_condition,
  refresh_token,
  Client,
  JobcellError,
  VariableNotSetError,
} = jobcell;
