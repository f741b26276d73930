#!/usr/bin/env bash
# Run bench/api_claim against fresh jobcell-api servers on loopback.
#
#   bench/api_claim.sh BUILD_DIR [api_claim options]
#       one server on a temporary SQLite store
#   bench/api_claim.sh BUILD_DIR --matrix [api_claim options]
#       in one run: SQLite (1 server), then PostgreSQL with 1, 2 and 3 servers sharing one
#       database (a throwaway cluster, tests/pg/pgcluster.sh, with the settings printed
#       below), and a table of the figures at the end
set -euo pipefail
build=${1:?usage: bench/api_claim.sh BUILD_DIR [--matrix] [api_claim options]}
shift
matrix=0
if [ "${1:-}" = "--matrix" ]; then
  matrix=1
  shift
fi
here=$(cd "$(dirname "$0")" && pwd)
api=$build/runtime-api/jobcell-api
bench=$build/bench/api_claim
dir=$(mktemp -d)
chmod 755 "$dir"
pids=()
pgdir=
stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_servers
  if [ -n "$pgdir" ]; then "$here/../tests/pg/pgcluster.sh" stop "$pgdir" || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
umask 077
head -c 32 /dev/urandom | base64 | tr -d '=\n' | tr '/+' '_-' > "$dir/internal.key"
printf '{"active":"k1","keys":{"k1":"%s"}}' \
  "$(head -c 32 /dev/urandom | base64 | tr -d '=\n' | tr '/+' '_-')" > "$dir/ring.json"
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run_case NAME SERVERS STORE_JSON [api_claim options]: start the servers, run, stop them
run_case() {
  local name=$1 n=$2 store=$3
  shift 3
  local urls="" cfg token=
  for i in $(seq "$n"); do
    local port
    port=$(free_port)
    cfg=$dir/$name-$i.json
    cat > "$cfg" <<JSON
{"listen": "127.0.0.1:$port", "runtime_listen": "", $store,
 "internal_key_file": "$dir/internal.key", "jwt_keyring_file": "$dir/ring.json",
 "log_level": "warn", "per_ip_connections": 0}
JSON
    if [ -z "$token" ]; then
      token=$("$api" token create --config "$cfg" --user bench --role admin 2>/dev/null)
    fi
    "$api" serve --config "$cfg" 2>>"$dir/server.log" &
    pids+=($!)
    for _ in $(seq 100); do
      curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
      sleep 0.05
    done
    urls=${urls:+$urls,}http://127.0.0.1:$port
  done
  JOBCELL_URL="$urls" JOBCELL_TOKEN="$token" \
    JOBCELL_INTERNAL_KEY="$(cat "$dir/internal.key")" "$bench" "$@" | tee "$dir/$name.out"
  stop_servers
}

if [ $matrix -eq 0 ]; then
  run_case sqlite 1 "\"store_path\": \"$dir/bench.db\"" "$@"
  exit 0
fi

# The PostgreSQL cluster: durable writes (fsync on), but synchronous_commit off, which
# is what SQLite's WAL with synchronous=NORMAL gives jobcell too: a commit survives a
# crash of the server process, the last ones may be lost with the machine's power.
pgdir=$dir/pg
export JC_PG_SETTINGS="-c shared_buffers=256MB -c synchronous_commit=off -c max_connections=200"
"$here/../tests/pg/pgcluster.sh" start "$pgdir" >/dev/null
pg="host=$pgdir user=postgres"
echo "PostgreSQL: $(psql -X -A -t -d "$pg dbname=postgres" -c 'SHOW server_version')," \
  "settings: $JC_PG_SETTINGS (everything else the defaults: fsync on, WAL on disk)"
echo

echo "== SQLite, 1 server"
run_case sqlite 1 "\"store_path\": \"$dir/bench.db\"" "$@"
for n in 1 2 3; do
  psql -X -q -d "$pg dbname=postgres" -c "CREATE DATABASE bench$n"
  echo
  echo "== PostgreSQL, $n server(s)"
  run_case "pg$n" "$n" "\"store\": {\"url\": \"$pg dbname=bench$n\", \"pool_size\": 8}" "$@"
done

echo
echo "| store | servers | submit (jobs/s) | end to end (executions/s) | claim p50 | claim p99 |"
echo "|---|---|---|---|---|---|"
for name in sqlite pg1 pg2 pg3; do
  out=$dir/$name.out
  sub=$(sed -n 's/^submit: \([0-9]*\) jobs.*/\1/p' "$out")
  e2e=$(sed -n 's/^claim+start+complete: \([0-9]*\) executions.*/\1/p' "$out")
  p50=$(sed -n 's/^claim latency: p50 \([0-9.]*\) ms.*/\1/p' "$out")
  p99=$(sed -n 's/^claim latency: .*p99 \([0-9.]*\) ms.*/\1/p' "$out")
  case $name in sqlite) store=SQLite n=1 ;; *) store=PostgreSQL n=${name#pg} ;; esac
  echo "| $store | $n | $sub | $e2e | $p50 ms | $p99 ms |"
done
