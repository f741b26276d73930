# jobcell.sh: helpers for bash job scripts that talk to the jobcell runtime API.
#
# Source it (inside a jobcell sandbox bash jobs have it already):
#
#   source /usr/local/lib/jobcell/jobcell.sh
#   day=$(jobcell_input | jq -r .day)
#   n=$(jobcell_get_variable counter) || n=0      # status 3: the variable is not set
#   jobcell_set_variable counter "$((n + 1))"
#   jobcell_output '{"rows": 12}'
#   jobcell_set_condition true
#
# Every function prints its answer on stdout as JSON and returns 0 on success, 1 on failure
# (with the server's message on stderr), 2 on bad usage, and 3 when a variable is not set
# (jobcell_get_variable, jobcell_delete_variable). Needs curl; jq is used when present.
# Settings: JOBCELL_RUNTIME_API, JOBCELL_EXECUTION_TOKEN, JOBCELL_EXECUTION_ID (falling
# back to the CRONIUM_* names). Connection errors and 5xx answers (except 501) are retried
# up to 4 times with a growing pause; 4xx answers never are. The token is renewed when
# three quarters of its lifetime have passed; the renewed one is kept in a file only this
# user can read, so it survives the subshells of $(…).
#
# Loaded into every bash of a job, so it defines functions and nothing else happens.

_jobcell_api() {
    local api=${JOBCELL_RUNTIME_API:-${CRONIUM_RUNTIME_API:-http://127.0.0.1:8081}}
    printf '%s' "${api%/}"
}

_jobcell_exe_id() {
    printf '%s' "${JOBCELL_EXECUTION_ID:-${CRONIUM_EXECUTION_ID:-}}"
}

_jobcell_token_file() {
    printf '%s/.jobcell-token.%s' "${TMPDIR:-/tmp}" "$(_jobcell_exe_id)"
}

# The newest token: a renewed one from the token file, else the environment's.
_jobcell_token() {
    local f tok=""
    f=$(_jobcell_token_file)
    if [[ -f $f && -O $f ]]; then
        IFS= read -r tok <"$f" || true
    fi
    printf '%s' "${tok:-${JOBCELL_EXECUTION_TOKEN:-${CRONIUM_EXECUTION_TOKEN:-}}}"
}

_jobcell_err() {
    printf '%s%s\n' "${_JOBCELL_ERR_PREFIX:-jobcell: }" "$*" >&2
}

# Percent-encode a string for one path segment (bytes outside A-Z a-z 0-9 - . _ ~).
_jobcell_urlencode() {
    local LC_ALL=C s=$1 out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [A-Za-z0-9._~-]) out+=$c ;;
        *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

# The "message" of an error body (jq when present, else a pattern match).
_jobcell_message() {
    local body=$1 re='"message":[[:space:]]*"(([^"\\]|\\.)*)"'
    if command -v jq >/dev/null 2>&1; then
        printf '%s' "$body" | jq -r '.message // empty' 2>/dev/null && return 0
    fi
    if [[ $body =~ $re ]]; then
        printf '%s' "${BASH_REMATCH[1]}"
    fi
}

# One claim of the token's payload (integer claims only), without verifying it.
_jobcell_claim() {
    local tok=$1 name=$2 payload json re
    payload=${tok#*.}
    payload=${payload%%.*}
    payload=$(printf '%s' "$payload" | tr '_-' '/+')
    case $((${#payload} % 4)) in
    2) payload+="==" ;;
    3) payload+="=" ;;
    esac
    json=$(printf '%s' "$payload" | base64 -d 2>/dev/null) || return 1
    re="\"$name\":[[:space:]]*([0-9]+)"
    if [[ $json =~ $re ]]; then
        printf '%s' "${BASH_REMATCH[1]}"
        return 0
    fi
    return 1
}

# Renew the token once three quarters of its lifetime have passed.
_jobcell_maybe_refresh() {
    local tok iat exp now
    tok=$(_jobcell_token)
    iat=$(_jobcell_claim "$tok" iat) || return 0
    exp=$(_jobcell_claim "$tok" exp) || return 0
    now=$(date +%s)
    if ((now < exp - (exp - iat) / 4)); then
        return 0
    fi
    # The server never moves exp past the job's deadline: once it stops moving, stop asking.
    if [[ ${_JOBCELL_AT_DEADLINE:-} == "$exp" ]]; then
        return 0
    fi
    jobcell_refresh_token >/dev/null 2>&1 || true
    if [[ $(_jobcell_claim "$(_jobcell_token)" exp) == "$exp" ]]; then
        _JOBCELL_AT_DEADLINE=$exp
    fi
    return 0
}

# _jobcell_request METHOD PATH [BODY]: prints the answer's body on success (2xx). On an
# error prints the server's message on stderr and returns 1; a 404 returns 3 silently (the
# callers decide what it means). Sets _JOBCELL_STATUS in the calling shell.
_jobcell_request() {
    local method=$1 path=$2 body=${3-} have_body=${3+1}
    local api tok out status rc attempt delay=0.25 max=4 msg
    api=$(_jobcell_api)
    _JOBCELL_STATUS=0
    if [[ -z $(_jobcell_exe_id) ]]; then
        _jobcell_err "JOBCELL_EXECUTION_ID is not set: this is not a jobcell job"
        return 1
    fi
    for ((attempt = 0; attempt <= max; attempt++)); do
        tok=$(_jobcell_token)
        if [[ -z $tok ]]; then
            _jobcell_err "JOBCELL_EXECUTION_TOKEN is not set: this is not a jobcell job"
            return 1
        fi
        # The token goes to curl through its config on stdin, never through argv, where
        # every process of the sandbox could read it.
        if [[ -n $have_body ]]; then
            out=$(printf 'header = "Authorization: Bearer %s"\n' "$tok" |
                curl -sS -K - -X "$method" --max-time 30 -H 'Accept: application/json' \
                    -H 'Content-Type: application/json' --data-binary @<(printf '%s' "$body") \
                    -w '\n%{http_code}' "$api$path" 2>/dev/null)
        else
            out=$(printf 'header = "Authorization: Bearer %s"\n' "$tok" |
                curl -sS -K - -X "$method" --max-time 30 -H 'Accept: application/json' \
                    -w '\n%{http_code}' "$api$path" 2>/dev/null)
        fi
        rc=$?
        status=${out##*$'\n'}
        out=${out%$'\n'*}
        if [[ $out == "$status" ]]; then out=""; fi
        if ((rc != 0)) || [[ ! $status =~ ^[0-9]{3}$ ]] || ((status == 0)); then
            # could not connect, connection reset, timed out
            if ((attempt < max)); then
                sleep "$delay"
                delay=$(awk "BEGIN{print $delay * 2}")
                continue
            fi
            _jobcell_err "cannot reach the runtime API at $api"
            return 1
        fi
        _JOBCELL_STATUS=$status
        if ((status >= 200 && status < 300)); then
            printf '%s' "$out"
            return 0
        fi
        # 501 is permanent (a route jobcell does not offer): retrying cannot help.
        if ((status >= 500 && status != 501 && attempt < max)); then
            sleep "$delay"
            delay=$(awk "BEGIN{print $delay * 2}")
            continue
        fi
        if ((status == 404)); then
            return 3
        fi
        msg=$(_jobcell_message "$out")
        _jobcell_err "${msg:-request failed} (HTTP $status)"
        return 1
    done
    return 1
}

# _jobcell_data BODY [value]: the "data" (or "data.value") member of an answer, as JSON.
_jobcell_data() {
    local body=$1 member=${2:-}
    if command -v jq >/dev/null 2>&1; then
        if [[ $member == value ]]; then
            printf '%s' "$body" | jq -c '.data.value'
        else
            printf '%s' "$body" | jq -c '.data'
        fi
        return
    fi
    # Without jq: the server writes {"success":true,"data":…} compactly in this order, and
    # a variable as {"key":"<key>","value":…}, where a key cannot contain a quote.
    body=${body#*\"data\":}
    body=${body%\}}
    if [[ $member == value ]]; then
        body=${body#*\"value\":}
        body=${body%\}}
    fi
    printf '%s\n' "$body"
}

_jobcell_exe_path() {
    printf '/executions/%s' "$(_jobcell_urlencode "$(_jobcell_exe_id)")"
}

_jobcell_need_key() {
    if [[ -z ${1:-} ]]; then
        _jobcell_err "usage: $2 KEY${3:+ $3}"
        return 2
    fi
}

# jobcell_input: print the job's input (JSON).
jobcell_input() {
    local body
    _jobcell_maybe_refresh
    body=$(_jobcell_request GET "$(_jobcell_exe_path)/input") || return 1
    _jobcell_data "$body"
}

# jobcell_output JSON: store the job's output (any JSON text, at most 1 MiB).
jobcell_output() {
    if (($# != 1)); then
        _jobcell_err "usage: jobcell_output JSON"
        return 2
    fi
    _jobcell_maybe_refresh
    _jobcell_request POST "$(_jobcell_exe_path)/output" "{\"data\":$1}" >/dev/null || return 1
}

# jobcell_get_variable KEY: print the variable's value (JSON); status 3 when it is not set.
jobcell_get_variable() {
    local body rc
    _jobcell_need_key "${1:-}" jobcell_get_variable || return 2
    _jobcell_maybe_refresh
    body=$(_jobcell_request GET "$(_jobcell_exe_path)/variables/$(_jobcell_urlencode "$1")")
    rc=$?
    ((rc == 0)) || return "$rc"
    _jobcell_data "$body" value
}

# jobcell_set_variable KEY JSON: set a variable (any JSON text, at most 64 KiB).
jobcell_set_variable() {
    if (($# != 2)) || [[ -z $1 ]]; then
        _jobcell_err "usage: jobcell_set_variable KEY JSON"
        return 2
    fi
    _jobcell_maybe_refresh
    _jobcell_request PUT "$(_jobcell_exe_path)/variables/$(_jobcell_urlencode "$1")" \
        "{\"value\":$2}" >/dev/null || return 1
}

# jobcell_delete_variable KEY: delete a variable; status 3 when it was not set.
jobcell_delete_variable() {
    _jobcell_need_key "${1:-}" jobcell_delete_variable || return 2
    _jobcell_maybe_refresh
    _jobcell_request DELETE "$(_jobcell_exe_path)/variables/$(_jobcell_urlencode "$1")" \
        >/dev/null
}

# jobcell_set_condition true|false: record the job's condition.
jobcell_set_condition() {
    case ${1:-} in
    true | false) ;;
    *)
        _jobcell_err "usage: jobcell_set_condition true|false"
        return 2
        ;;
    esac
    _jobcell_maybe_refresh
    _jobcell_request POST "$(_jobcell_exe_path)/condition" "{\"condition\":$1}" >/dev/null ||
        return 1
}

# jobcell_context: print facts about this execution (JSON: executionId, jobId, jobName, …).
jobcell_context() {
    local body
    _jobcell_maybe_refresh
    body=$(_jobcell_request GET "$(_jobcell_exe_path)/context") || return 1
    _jobcell_data "$body"
}

# jobcell_refresh_token: get a fresh token now (done automatically); prints {token, expiresAt}.
jobcell_refresh_token() {
    local body data tok f re='"token":"([A-Za-z0-9_.-]+)"'
    body=$(_jobcell_request POST "$(_jobcell_exe_path)/token" '{}') || return 1
    data=$(_jobcell_data "$body")
    if [[ ! $body =~ $re ]]; then
        _jobcell_err "the runtime API answered a token refresh without a token"
        return 1
    fi
    tok=${BASH_REMATCH[1]}
    f=$(_jobcell_token_file)
    # Written through a private temporary file and renamed, so a reader never sees half.
    (umask 077 && printf '%s\n' "$tok" >"$f.$$" && mv -f "$f.$$" "$f") || {
        _jobcell_err "cannot keep the renewed token in $f"
        return 1
    }
    printf '%s\n' "$data"
}

# The Cronium names (cronium_input, cronium_set_variable, …) live beside this file.
if [[ -r "$(dirname "${BASH_SOURCE[0]}")/cronium.sh" ]] && ! declare -F cronium_input >/dev/null 2>&1; then
    # shellcheck source=cronium.sh
    source "$(dirname "${BASH_SOURCE[0]}")/cronium.sh"
fi
