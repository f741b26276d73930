# Cronium-style: event fields, and a tool action (not part of jobcell: a clean 501).
id=$(cronium_event_field id); type=$(cronium_event_field type); name=$(cronium_event_field name)
if cronium_send_slack_message "#ops" "done" 2>err.txt; then tool=ok; else tool=failed; fi
cronium_set_condition off
cronium_output "$(jq -cn --arg id "$id" --arg type "$type" --arg name "$name" --arg tool "$tool" \
  --arg err "$(cat err.txt)" '{id: $id, type: $type, name: $name, tool: $tool, says_501: ($err | test("HTTP 501"))}')"
