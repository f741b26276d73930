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
  if [ -f "$dir/watchdog.pid" ]; then
    kill "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
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
  settings=${JC_PG_SETTINGS:-"-c fsync=off -c synchronous_commit=off -c full_page_writes=off
    -c shared_buffers=32MB -c max_connections=200"}
  "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses='' -k $dir $settings" start >/dev/null || {
    cat "$dir/server.log" >&2
    false
  }
  trap - ERR
  life=${JC_PG_MAX_LIFE_S:-3600}
  # the watchdog: stop the cluster if nobody does
  (
    exec >/dev/null 2>&1 </dev/null
    sleep "$life"
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop || true
    rm -rf "$dir" "$dir.url"
  ) &
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
