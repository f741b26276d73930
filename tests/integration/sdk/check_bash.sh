#!/bin/bash
# Every jobcell bash helper against the real runtime API (run by test_sdk.py, with and
# without jq on PATH).
set -u
source "$JC_SDK_BASH"
fails=0
check() { # check CONDITION-STATUS WHAT
    if [[ $1 == 0 ]]; then echo "ok   - bash${NOJQ:+ (no jq)}: $2"; else echo "FAIL - bash${NOJQ:+ (no jq)}: $2"; fails=$((fails + 1)); fi
}
eqs() { [[ $1 == "$2" ]]; check $? "$3 (got '$1', want '$2')"; }

eqs "$(jobcell_input)" '{"day":"2026-11-21","items":[1,2,3]}' "jobcell_input"
tokfile="${TMPDIR:-/tmp}/.jobcell-token.$JOBCELL_EXECUTION_ID"
[[ -s $tokfile && $(cat "$tokfile") != "$JOBCELL_EXECUTION_TOKEN" ]]
check $? "token renewed automatically near its expiry and kept in the token file"
[[ $(stat -c %a "$tokfile") == 600 ]]
check $? "the token file is private (0600)"

jobcell_set_variable sh_num 42; check $? "jobcell_set_variable number"
jobcell_set_variable sh_str '"a \"quoted\" text"'; check $? "jobcell_set_variable string"
jobcell_set_variable sh_obj '{"a":[1,{"b":null}]}'; check $? "jobcell_set_variable object"
eqs "$(jobcell_get_variable sh_num)" 42 "jobcell_get_variable number"
eqs "$(jobcell_get_variable sh_str)" '"a \"quoted\" text"' "jobcell_get_variable string (as JSON)"
eqs "$(jobcell_get_variable sh_obj)" '{"a":[1,{"b":null}]}' "jobcell_get_variable object"
out=$(jobcell_get_variable sh_unset); rc=$?
eqs "$rc:$out" "3:" "jobcell_get_variable of an unset key: status 3, nothing printed"
jobcell_delete_variable sh_num; eqs $? 0 "jobcell_delete_variable of a set key: 0"
jobcell_delete_variable sh_num; eqs $? 3 "jobcell_delete_variable of an unset key: 3"
err=$(jobcell_set_variable 'bad key/x' 1 2>&1 >/dev/null); rc=$?
[[ $rc == 1 && $err == *key*"(HTTP 400)"* ]]; check $? "invalid key: status 1 and the server's message ($err)"
jobcell_set_condition true; check $? "jobcell_set_condition true"
jobcell_set_condition maybe 2>/dev/null; eqs $? 2 "jobcell_set_condition refuses other words"
ctx=$(jobcell_context); check $? "jobcell_context"
[[ $ctx == *"\"executionId\":\"$JOBCELL_EXECUTION_ID\""* || $ctx == *"\"executionId\": \"$JOBCELL_EXECUTION_ID\""* ]]
check $? "jobcell_context carries the execution id"
before=$(cat "$tokfile")
jobcell_refresh_token >/dev/null; check $? "jobcell_refresh_token"
[[ $(cat "$tokfile") != "$before" ]]; check $? "jobcell_refresh_token stored a new token"
eqs "$(jobcell_get_variable sh_obj)" '{"a":[1,{"b":null}]}' "calls work with the refreshed token"
jobcell_output '{"lang":"bash","nested":{"list":[1,2]}}'; check $? "jobcell_output"
exit $((fails > 0))
