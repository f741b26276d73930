# Cronium-style: an unset variable reads as empty with status 0; conditions take yes/no.
v=$(cronium_get_variable never_set_anywhere); rc=$?
if cronium_variable_exists never_set_anywhere; then exists=true; else exists=false; fi
cronium_set_variable b_tmp 1
cronium_delete_variable b_tmp
if cronium_variable_exists b_tmp; then after=true; else after=false; fi
cronium_set_condition yes
cronium_output "$(jq -cn --arg v "$v" --argjson rc "$rc" --argjson ex "$exists" --argjson after "$after" \
  '{value: $v, status: $rc, exists: $ex, exists_after_delete: $after}')"
