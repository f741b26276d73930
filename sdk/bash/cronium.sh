# cronium.sh: the names of Cronium's bash helpers, on top of jobcell's (jobcell.sh), so a
# bash script written for Cronium runs in jobcell unchanged.
#
# In a jobcell sandbox these functions are already loaded in every bash job, and this file
# is also at /usr/local/bin/cronium.sh, the path Cronium's documentation tells scripts to
# `source`: sourcing it again changes nothing.
#
# Behaviour, as Cronium documents it: values that are not JSON are stored as JSON strings;
# cronium_get_variable prints the raw value (strings without quotes) and prints nothing,
# with status 0, for an unset variable; cronium_set_condition accepts true/false, 1/0,
# yes/no, on/off; errors go to stderr as "Error: <the server's message>" with status 1.
# Tool actions (email, Slack, Discord) are not part of jobcell: they fail at once with the
# server's 501 message. Needs curl and jq. Requests are retried and the token renewed by
# jobcell.sh.

if ! declare -F _jobcell_request >/dev/null 2>&1; then
    for _cronium_sdk in "$(dirname "${BASH_SOURCE[0]}")/jobcell.sh" \
        "${JOBCELL_SDK_DIR:-/usr/local/lib/jobcell}/bash/jobcell.sh"; do
        if [[ -r $_cronium_sdk ]]; then
            # shellcheck source=jobcell.sh
            source "$_cronium_sdk"
            break
        fi
    done
    unset _cronium_sdk
fi

_cronium_err() {
    printf 'Error: %s\n' "$*" >&2
}

# _cronium_call METHOD PATH [BODY]: the answer's body; a 404 on a GET is an empty answer
# (Cronium's "unset"); other errors print "Error: <message>" and return 1.
_cronium_call() {
    local out rc
    if ! command -v jq >/dev/null 2>&1; then
        _cronium_err "Required command 'jq' not found"
        return 1
    fi
    local _JOBCELL_ERR_PREFIX="Error: "
    _jobcell_maybe_refresh
    out=$(_jobcell_request "$@")
    rc=$?
    if ((rc == 3)); then
        [[ $1 == GET ]] && return 0
        _cronium_err "not found (HTTP 404)"
        return 1
    fi
    ((rc == 0)) || return 1
    printf '%s' "$out"
}

# A value as JSON: JSON text as is, anything else as a JSON string.
_cronium_json() {
    if printf '%s' "$1" | jq -e . >/dev/null 2>&1 && [[ -n $1 ]]; then
        printf '%s' "$1"
    else
        jq -cn --arg v "$1" '$v'
    fi
}

_cronium_var_path() {
    printf '%s/variables/%s' "$(_jobcell_exe_path)" "$(_jobcell_urlencode "$1")"
}

cronium_input() {
    local body
    body=$(_cronium_call GET "$(_jobcell_exe_path)/input") || return 1
    printf '%s' "$body" | jq -r '.data // empty'
}

cronium_output() {
    local data
    data=$(_cronium_json "${1-}") || return 1
    _cronium_call POST "$(_jobcell_exe_path)/output" "{\"data\":$data}" >/dev/null
}

cronium_get_variable() {
    local body
    body=$(_cronium_call GET "$(_cronium_var_path "${1-}")") || return 1
    [[ -z $body ]] && return 0
    printf '%s' "$body" | jq -r '.data.value // empty'
}

cronium_set_variable() {
    local value
    value=$(_cronium_json "${2-}") || return 1
    _cronium_call PUT "$(_cronium_var_path "${1-}")" "{\"value\":$value}" >/dev/null
}

cronium_set_condition() {
    local c
    case ${1-} in
    true | 1 | yes | on) c=true ;;
    false | 0 | no | off) c=false ;;
    *)
        _cronium_err "Invalid condition value. Use true/false, 1/0, yes/no, or on/off"
        return 1
        ;;
    esac
    _cronium_call POST "$(_jobcell_exe_path)/condition" "{\"condition\":$c}" >/dev/null
}

cronium_event() {
    local body
    body=$(_cronium_call GET "$(_jobcell_exe_path)/context") || return 1
    [[ -n $body ]] || body='{}'
    printf '%s' "$body" | jq '.data // {}'
}

cronium_event_field() {
    cronium_event | jq -r --arg f "${1-}" '.[$f] // empty'
}

cronium_variable_exists() {
    local value
    value=$(cronium_get_variable "${1-}" 2>/dev/null)
    [[ -n $value ]]
}

# jobcell deletes the variable (Cronium stores null): either way it then reads as unset.
cronium_delete_variable() {
    local _JOBCELL_ERR_PREFIX="Error: " rc
    _jobcell_maybe_refresh
    _jobcell_request DELETE "$(_cronium_var_path "${1-}")" >/dev/null
    rc=$?
    ((rc == 0 || rc == 3))
}

cronium_increment_variable() {
    local key=${1-} by=${2:-1} current
    current=$(cronium_get_variable "$key") || return 1
    current=${current:-0}
    if [[ ! $current =~ ^-?[0-9]+$ ]]; then
        _cronium_err "Variable '$key' is not numeric"
        return 1
    fi
    if [[ ! $by =~ ^-?[0-9]+$ ]]; then
        _cronium_err "Increment '$by' is not an integer"
        return 1
    fi
    cronium_set_variable "$key" "$((current + by))" || return 1
    printf '%s\n' "$((current + by))"
}

cronium_append_variable() {
    local key=${1-} text=${2-} sep=${3-} current
    current=$(cronium_get_variable "$key") || return 1
    if [[ -z $current ]]; then
        cronium_set_variable "$key" "$text"
    else
        cronium_set_variable "$key" "$current$sep$text"
    fi
}

cronium_execute_tool_action() {
    local config=${3-}
    if ! printf '%s' "$config" | jq -e . >/dev/null 2>&1; then
        _cronium_err "Invalid JSON configuration for tool action"
        return 1
    fi
    local body payload
    payload=$(jq -cn --arg t "${1-}" --arg a "${2-}" --argjson c "$config" \
        '{tool: $t, action: $a, config: $c}') || return 1
    body=$(_cronium_call POST /tool-actions/execute "$payload") || return 1
    printf '%s' "$body" | jq '.data // empty'
}

cronium_send_email() {
    local config
    config=$(jq -cn --arg to "${1-}" --arg s "${2-}" --arg b "${3-}" \
        '{to: ($to | split(",") | map(gsub("^ +| +$"; ""))), subject: $s, body: $b}') || return 1
    cronium_execute_tool_action email send_message "$config"
}

cronium_send_slack_message() {
    local config
    config=$(jq -cn --arg c "${1-}" --arg t "${2-}" '{channel: $c, text: $t}') || return 1
    cronium_execute_tool_action slack send_message "$config"
}

cronium_send_discord_message() {
    local config
    config=$(jq -cn --arg c "${1-}" --arg t "${2-}" '{channelId: $c, content: $t}') || return 1
    cronium_execute_tool_action discord send_message "$config"
}

cronium_info() {
    echo "Cronium-compatible helpers of jobcell (bash)"
    echo "API URL: $(_jobcell_api)"
    echo "Execution ID: $(_jobcell_exe_id)"
    if [[ -n $(_jobcell_token) ]]; then echo "Token: set"; else echo "Token: not set"; fi
}
