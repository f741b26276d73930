#!/bin/bash
# A client that speaks to the runtime API the way Cronium's bash helper does: curl with
# Authorization, Content-Type and Accept headers, bodies built with jq, keys encoded with
# jq's @uri, status read with -w, and any 404 on a GET taken as "unset". CRONIUM_* only.
set -u
api=${CRONIUM_RUNTIME_API}
fails=0
ok() { if [[ $1 == 0 ]]; then echo "ok   - cronium-bash: $2"; else echo "FAIL - cronium-bash: $2"; fails=$((fails + 1)); fi; }
req() { # req METHOD PATH [DATA] -> prints body, sets status in $tmp.status
    local tmp; tmp=$(mktemp)
    local args=(-s -X "$1" -H "Authorization: Bearer $CRONIUM_EXECUTION_TOKEN"
        -H "Content-Type: application/json" -H "Accept: application/json" -w "%{http_code}" -o "$tmp" --max-time 30)
    [[ -n ${3:-} ]] && args+=(-d "$3")
    local code; code=$(curl "${args[@]}" "$api$2")
    cat "$tmp"; rm -f "$tmp"
    echo "$code" >"$STATUS_FILE"
}
STATUS_FILE=$(mktemp)
X=/executions/$CRONIUM_EXECUTION_ID
in=$(req GET "$X/input" | jq -c '.data // empty'); ok $? "input"
[[ $in == '{"day":"2026-11-21","items":[1,2,3]}' ]]; ok $? "input data is the job's input ($in)"
key=$(printf '%s' "cr.key-1" | jq -sRr @uri)
req PUT "$X/variables/$key" "$(jq -n --argjson v '{"n":1}' '{value: $v}')" >/dev/null
[[ $(cat "$STATUS_FILE") == 200 ]]; ok $? "set variable via PUT"
v=$(req GET "$X/variables/$key" | jq -c '.data.value // empty')
[[ $v == '{"n":1}' ]]; ok $? "get variable .data.value ($v)"
req PUT "$X/variables/cr_text" "$(jq -n --arg v "plain words" '{value: $v}')" >/dev/null
v=$(req GET "$X/variables/cr_text" | jq -r '.data.value // empty')
[[ $v == "plain words" ]]; ok $? "a non-JSON value stored as a JSON string reads back raw"
body=$(req GET "$X/variables/cr_never_set")
[[ $(cat "$STATUS_FILE") == 404 ]]; ok $? "GET of an unset variable is a 404 (the helper's 'unset')"
[[ $(printf '%s' "$body" | jq -r '.message') != null ]]; ok $? "the 404 body is JSON with a message"
req POST "$X/output" "$(jq -n --argjson d '{"from":"cronium-bash","deep":{"a":[1,{"b":2}]}}' '{data: $d}')" >/dev/null
[[ $(cat "$STATUS_FILE") == 200 ]]; ok $? "output"
req POST "$X/condition" "$(jq -n --argjson c true '{condition: $c}')" >/dev/null
[[ $(cat "$STATUS_FILE") == 200 ]]; ok $? "condition"
ev=$(req GET "$X/context" | jq -r '.data.eventId + " " + .data.eventType + " " + .data.executionId')
[[ $ev == "$CRONIUM_JOB_ID script $CRONIUM_EXECUTION_ID" ]]; ok $? "event fields ($ev)"
msg=$(req POST /tool-actions/execute "$(jq -n '{tool:"email",action:"send_message",config:{}}')" | jq -r '.message // "Unknown error"')
[[ $(cat "$STATUS_FILE") == 501 && $msg == *"not part of jobcell"* ]]; ok $? "tool action: 501 with a message ($msg)"
rm -f "$STATUS_FILE"
exit $((fails > 0))
