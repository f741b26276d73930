#!/bin/bash
# bench/runtime_api: the runtime API's hot path (token verification, claim check, rate
# limit bucket, variable read) against the same server's static /health, with wrk over
# keep-alive connections, in one run. Prints requests/s, p50/p99 and the ratio.
#
#   bench/runtime_api/run.sh [BUILD_DIR] [SECONDS] [CONNECTIONS] [THREADS] [ROUNDS]
#
# The two loads alternate for ROUNDS rounds (the median is reported), so a busy machine
# disturbs both alike.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
secs=${2:-10}
conns=${3:-32}
threads=${4:-2}
rounds=${5:-3}
api_bin=$build/runtime-api/jobcell-api
mint=$build/tests/jc-mint-token
for b in "$api_bin" "$mint" "$(command -v wrk)" "$(command -v python3)"; do
    [[ -x $b ]] || { echo "missing $b (build first; wrk and python3 must be installed)" >&2; exit 1; }
done
dir=$(mktemp -d)
pid=""
cleanup() {
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p1=$(port); p2=$(port)
umask 077
python3 - "$dir" "$p1" "$p2" <<'PY'
import base64, json, os, secrets, sys
d, p1, p2 = sys.argv[1], sys.argv[2], sys.argv[3]
key = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
open(os.path.join(d, "ring.json"), "w").write(json.dumps({"active": "k1", "keys": {"k1": key}}))
open(os.path.join(d, "internal.key"), "w").write(secrets.token_urlsafe(32))
open(os.path.join(d, "config.json"), "w").write(json.dumps({
    "listen": "127.0.0.1:" + p1, "runtime_listen": "127.0.0.1:" + p2,
    "store_path": os.path.join(d, "db.sqlite"), "internal_key_file": os.path.join(d, "internal.key"),
    "jwt_keyring_file": os.path.join(d, "ring.json"),
    "lease_s": 3600, "runtime": {"rate": 100000, "burst": 100000}}))
PY
"$api_bin" serve --config "$dir/config.json" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$p2/health" >/dev/null 2>&1 && break
    sleep 0.1
done
tok=$("$api_bin" token create --config "$dir/config.json" --user bench --role user | grep -o 'jct_[A-Za-z0-9_-]*' | head -1)
ikey=$(cat "$dir/internal.key")
curl -fs -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    -d '{"runtime":"bash","script":"true","timeout_s":3600}' "http://127.0.0.1:$p1/v1/jobs" >/dev/null
claim=$(curl -fs -H "Authorization: Bearer $ikey" -H 'X-Orchestrator-ID: bench-orc' \
    -H 'Content-Type: application/json' -d '{"slots":1,"wait_s":0}' "http://127.0.0.1:$p1/internal/v1/claims")
read -r exe job owner lease attempt < <(printf '%s' "$claim" | python3 -c '
import json,sys; c=json.load(sys.stdin)["claims"][0]
print(c["execution_id"], c["job_id"], c["owner"], c["lease_token"], c["attempt"])')
curl -fs -H "Authorization: Bearer $ikey" -H 'X-Orchestrator-ID: bench-orc' -H 'Content-Type: application/json' \
    -d "{\"lease_token\":\"$lease\"}" "http://127.0.0.1:$p1/internal/v1/executions/$exe/start" >/dev/null
jwt=$("$mint" --keyring "$dir/ring.json" --execution "$exe" --job "$job" --user "$owner" --orc bench-orc \
    --attempt "$attempt" --lease-token "$lease" --timeout 3600)
curl -fs -X PUT -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' \
    -d '{"value":{"region":"eu","limits":[1,2,3]}}' "http://127.0.0.1:$p2/executions/$exe/variables/bench_key" >/dev/null
export JC_BENCH_PATH="/executions/$exe/variables/bench_key" JC_BENCH_TOKEN="$jwt"

echo "wrk -t$threads -c$conns -d${secs}s per round, $rounds rounds alternating, jobcell-api on 127.0.0.1, $(nproc) CPUs"
results=()
for ((r = 1; r <= rounds; r++)); do
    h=$(wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$here/health.lua" "http://127.0.0.1:$p2" | grep '^RESULT')
    [[ -n ${JC_BENCH_PERF:-} && $r == 1 ]] && { perf record -g -o "$JC_BENCH_PERF" -p "$pid" -- sleep "$secs" >/dev/null 2>&1 & }
    v=$(wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$here/get_variable.lua" "http://127.0.0.1:$p2" | grep '^RESULT')
    results+=("$h|$v")
done
python3 - "${results[@]}" <<'PY'
import statistics, sys
def parse(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
rounds = [tuple(parse(x) for x in arg.split("|")) for arg in sys.argv[1:]]
for i, (h, v) in enumerate(rounds, 1):
    print("round %d: /health %8.0f req/s (p50 %5.0f us, p99 %6.0f us) | variable %8.0f req/s "
          "(p50 %5.0f us, p99 %6.0f us, non-200 %d) | ratio %5.1f%%"
          % (i, h["rps"], h["p50_us"], h["p99_us"], v["rps"], v["p50_us"], v["p99_us"],
             v["non200"], 100 * v["rps"] / h["rps"]))
med = lambda xs: statistics.median(xs)
hr, vr = med([h["rps"] for h, _ in rounds]), med([v["rps"] for _, v in rounds])
print("median: static /health %.0f req/s (p50 %.0f us, p99 %.0f us); runtime variable read %.0f req/s "
      "(p50 %.0f us, p99 %.0f us)" % (hr, med([h["p50_us"] for h, _ in rounds]),
                                      med([h["p99_us"] for h, _ in rounds]), vr,
                                      med([v["p50_us"] for _, v in rounds]),
                                      med([v["p99_us"] for _, v in rounds])))
print("ratio (median of rounds): %.1f%% of the static rate (target >= 50%%)"
      % med([100 * v["rps"] / h["rps"] for h, v in rounds]))
PY
