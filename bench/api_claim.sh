#!/usr/bin/env bash
# Run bench/api_claim against a fresh jobcell-api on loopback with a temporary store.
#   bench/api_claim.sh BUILD_DIR [--jobs N] [--orchestrators N] [--slots N]
set -euo pipefail
build=${1:?usage: bench/api_claim.sh BUILD_DIR [api_claim options]}
shift
api=$build/runtime-api/jobcell-api
bench=$build/bench/api_claim
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
umask 077
head -c 32 /dev/urandom | base64 | tr -d '=\n' | tr '/+' '_-' > "$dir/internal.key"
printf '{"active":"k1","keys":{"k1":"%s"}}' \
  "$(head -c 32 /dev/urandom | base64 | tr -d '=\n' | tr '/+' '_-')" > "$dir/ring.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/config.json" <<JSON
{"listen": "127.0.0.1:$port", "runtime_listen": "", "store_path": "$dir/bench.db",
 "internal_key_file": "$dir/internal.key", "jwt_keyring_file": "$dir/ring.json",
 "log_level": "warn", "per_ip_connections": 0}
JSON
token=$("$api" token create --config "$dir/config.json" --user bench --role admin 2>/dev/null)
"$api" serve --config "$dir/config.json" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.05
done
JOBCELL_URL="http://127.0.0.1:$port" JOBCELL_TOKEN="$token" \
  JOBCELL_INTERNAL_KEY="$(cat "$dir/internal.key")" "$bench" "$@"
