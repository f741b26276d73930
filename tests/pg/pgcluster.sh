#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb in a private directory, run by an
# unprivileged user (postgres, else nobody; the caller itself when not root), listening
# only on a Unix socket in that directory (no TCP), and removed on stop.
#
#   pgcluster.sh start DIR   create and start; prints the conninfo and writes DIR.url
#   pgcluster.sh stop DIR    stop (fast, then immediate) and remove DIR
#
# A cluster whose stop never comes (the test run was killed) shuts itself down after
# JC_PG_MAX_LIFE_S seconds (default 3600). JC_PG_SETTINGS replaces the test settings
# (no fsync: a test cluster holds nothing worth keeping), e.g. for a benchmark.
set -euo pipefail

# ctest runs tests in parallel and its children inherit the other tests' output pipes:
# whatever outlives this script (the server, the watchdog) must not hold them open.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

cmd=${1:?usage: pgcluster.sh start|stop DIR}
dir=${2:?usage: pgcluster.sh start|stop DIR}

bindir=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && bindir=$d
done
if [ -z "$bindir" ]; then
  echo "pgcluster: PostgreSQL server binaries not found (install the postgresql package)" >&2
  exit 1
fi

runas=()
if [ "$(id -u)" -eq 0 ]; then
  user=postgres
  id -u postgres >/dev/null 2>&1 || user=nobody
  runas=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --)
fi

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
      "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/watchdog.pid" ] && [ -z "${JC_PG_WATCHDOG:-}" ]; then
    kill -- "-$(cat "$dir/watchdog.pid")" 2>/dev/null || true # its process group
  fi
  rm -rf "$dir" "$dir.url"
}

case "$cmd" in
stop)
  stop
  ;;
start)
  stop
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ ${#runas[@]} -gt 0 ] && chown "$user:" "$dir"
  trap 'stop' ERR
  "${runas[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    false
  }
  # one line: pg_ctl puts the options into a shell command line
  fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB"
  settings=${JC_PG_SETTINGS:-"$fast -c max_connections=200"}
  settings=${settings//$'\n'/ }
  "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses='' -k $dir $settings" start >/dev/null || {
    cat "$dir/server.log" >&2
    false
  }
  trap - ERR
  life=${JC_PG_MAX_LIFE_S:-3600}
  # the watchdog: stop the cluster if nobody does (its own session and process group, so
  # that stop can end it with its sleep)
  JC_PG_WATCHDOG=1 setsid bash -c 'sleep "$0"; exec "$@"' "$life" "$(readlink -f "$0")" stop "$dir" \
    </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/watchdog.pid"
  url="host=$dir user=postgres dbname=postgres"
  echo "$url" >"$dir.url"
  echo "$url"
  ;;
*)
  echo "usage: pgcluster.sh start|stop DIR" >&2
  exit 2
  ;;
esac
