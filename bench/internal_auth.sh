#!/usr/bin/env bash
# Run bench/internal_auth against a fresh jobcell-api on loopback: a temporary store, a
# master key, one orchestrator credential per connection.
#   bench/internal_auth.sh BUILD_DIR [--threads N] [--rounds N] [--round-s SECONDS]
set -euo pipefail
build=${1:?usage: bench/internal_auth.sh BUILD_DIR [internal_auth options]}
shift
api=$build/runtime-api/jobcell-api
bench=$build/bench/internal_auth
threads=4
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = --threads ]; then threads=${args[$((i + 1))]}; fi
done
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
umask 077
b64() { head -c 32 /dev/urandom | base64 | tr -d '=\n' | tr '/+' '_-'; }
b64 > "$dir/internal.key"
printf '{"active":"k1","keys":{"k1":"%s"}}' "$(b64)" > "$dir/ring.json"
printf '{"active":"m1","keys":{"m1":"%s"}}' "$(b64)" > "$dir/master.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/config.json" <<JSON
{"listen": "127.0.0.1:$port", "runtime_listen": "", "store_path": "$dir/bench.db",
 "internal_key_file": "$dir/internal.key", "jwt_keyring_file": "$dir/ring.json",
 "master_key_file": "$dir/master.json", "log_level": "warn", "per_ip_connections": 0,
 "internal_auth": {"replay_cache_entries": 1048576}}
JSON
for ((i = 0; i < threads; i++)); do
  out=$("$api" orchestrator add "bench-$i" --config "$dir/config.json" 2>/dev/null)
  kid=$(printf '%s\n' "$out" | sed -n 's/^key_id=//p')
  sec=$(printf '%s\n' "$out" | sed -n 's/^secret=//p')
  printf 'bench-%d %s %s\n' "$i" "$kid" "$sec" >> "$dir/credentials"
done
"$api" serve --config "$dir/config.json" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.05
done
JOBCELL_URL="http://127.0.0.1:$port" JOBCELL_INTERNAL_KEY="$(cat "$dir/internal.key")" \
  JOBCELL_CREDENTIALS="$dir/credentials" "$bench" "$@"
