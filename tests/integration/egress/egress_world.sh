#!/usr/bin/env bash
# Egress networks, end to end, in a world of network namespaces this test makes itself:
#   host     where `jobcell run --network egress` runs (IPv4 forwarding on, only here);
#            a service of its own on 192.0.2.1:9999 and 0.0.0.0:9998
#   internet an HTTP server on 198.51.100.10 (ports 80 and 8080), a fake cloud metadata
#            server on 169.254.169.254:80 and a "private" service on 10.0.0.5:80, reached
#            from host over one veth (192.0.2.1 <-> 192.0.2.2)
# Neither namespace has a link to the machine's own network namespace, so no packet of
# this test can leave them; the machine's interfaces, routes, sysctls and firewall are
# never touched. Everything is removed on exit, even on failure.
# Usage: egress_world.sh JOBCELL [DNS-TESTS:0|1]
set -uo pipefail
JOBCELL=${1:?usage: egress_world.sh JOBCELL}
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v nft >/dev/null && command -v nsenter >/dev/null && command -v curl >/dev/null ||
  { echo "SKIP: needs nft, nsenter and curl"; exit 77; }

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
TAG=$$$RANDOM
H=jceg-h-$TAG
I=jceg-i-$TAG
STATE=$(mktemp -d /tmp/jceg-state.XXXXXX)
PIDS=()
fails=0
checks=0

cleanup() {
  exec 9>&- 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$H" 2>/dev/null
  ip netns del "$I" 2>/dev/null
  rm -rf "$STATE"
}
trap cleanup EXIT

ok() { checks=$((checks + 1)); echo "ok   $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $*"; }
inh() { ip netns exec "$H" "$@"; }
ini() { ip netns exec "$I" "$@"; }

# ---- the world ---------------------------------------------------------------------------
ip netns add "$H" || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip netns add "$I"
inh ip link set lo up
ini ip link set lo up
# the veth is created inside host and its peer moved straight into internet
inh ip link add up0 type veth peer name down0 netns "$I"
inh ip addr add 192.0.2.1/24 dev up0
inh ip link set up0 up
ini ip addr add 192.0.2.2/24 dev down0
ini ip link set down0 up
inh ip route add default via 192.0.2.2
inh sysctl -qw net.ipv4.ip_forward=1
for a in 198.51.100.10/32 169.254.169.254/32 10.0.0.5/32 198.51.100.53/32 198.51.100.54/32; do
  ini ip addr add "$a" dev lo
done

ini "$PY" "$HERE/world_server.py" 198.51.100.10:80 198.51.100.10:8080 169.254.169.254:80 \
  10.0.0.5:80 > "$STATE/internet.out" 2>&1 &
PIDS+=($!)
inh "$PY" "$HERE/world_server.py" 192.0.2.1:9999 0.0.0.0:9998 > "$STATE/host.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 150); do
  grep -q ready "$STATE/internet.out" 2>/dev/null && grep -q ready "$STATE/host.out" 2>/dev/null && break
  sleep 0.1
done
grep -q ready "$STATE/internet.out" && grep -q ready "$STATE/host.out" ||
  { echo "FAIL: the world's servers did not start"; head "$STATE"/*.out; exit 1; }
# a fake DNS server on 198.51.100.53 (www.allowed.test -> 198.51.100.10, everything it is
# asked logged); it stops when its stdin closes
mkfifo "$STATE/dns.in"
ini "$PY" "$HERE/../dns_netns.py" upstream "$STATE/dns.log" < "$STATE/dns.in" > "$STATE/dns.out" 2>&1 &
PIDS+=($!)
exec 9> "$STATE/dns.in"
for _ in $(seq 150); do grep -q ready "$STATE/dns.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$STATE/dns.out" || { echo "FAIL: the fake DNS server did not start"; cat "$STATE/dns.out"; exit 1; }
# control: from the host namespace itself, the internet answers
[ "$(inh curl -s -m 2 http://198.51.100.10/)" = "hello from 198.51.100.10:80" ] ||
  { echo "FAIL: the world is not wired (host cannot reach 198.51.100.10)"; exit 1; }

# Run a job in host: jobcell run --network egress with the given options; its stdout goes
# to $STATE/out, the result record (JSON) to $STATE/result; returns jobcell's status.
job() {
  nsenter --net="/run/netns/$H" "$JOBCELL" run --json --timeout 60 --network egress \
    --egress-state-dir "$STATE/leases" --dns 198.51.100.53 "$@" > "$STATE/out" 2> "$STATE/err"
  local rc=$?
  tail -n 1 "$STATE/err" > "$STATE/result"
  return $rc
}

# The probe a job runs: for each URL, "URL ok BODY" or "URL refused CURL-EXIT".
PROBE='for u in "$@"; do b=$(curl -s -m 3 "$u"); rc=$?; if [ $rc -eq 0 ]; then echo "$u ok $b"; else echo "$u refused $rc"; fi; done'

expect_line() { # expect_line WHAT PATTERN
  if grep -qE "$2" "$STATE/out"; then ok "$1"; else bad "$1 (wanted /$2/)"; cat "$STATE/out" "$STATE/err"; fi
}

# ---- 1. the allow-list and what is always denied -----------------------------------------
job --allow 198.51.100.10:80 --allow 169.254.169.254 --allow 10.0.0.5 --allow 192.0.2.1 \
  --allow 100.96.0.0/16 -- sh -c "$PROBE" probe \
  http://198.51.100.10/ http://198.51.100.10:8080/ http://169.254.169.254/ \
  http://10.0.0.5/ http://192.0.2.1:9999/ http://100.96.0.1:9998/
rc=$?
[ $rc -eq 0 ] && ok "job 1 ran" || { bad "job 1 exit $rc"; cat "$STATE/err"; }
expect_line "allowed address and port reachable" '^http://198.51.100.10/ ok hello from 198.51.100.10:80$'
expect_line "same address, other port refused" '^http://198.51.100.10:8080/ refused'
expect_line "metadata unreachable even when allowed" '^http://169.254.169.254/ refused'
expect_line "private range unreachable when not admin-allowed" '^http://10.0.0.5/ refused'
expect_line "the host's own address unreachable" '^http://192.0.2.1:9999/ refused'
expect_line "the host end of the job's veth unreachable" '^http://100.96.0.1:9998/ refused'
denied=$(jq -r '.network.denied' "$STATE/result" 2>/dev/null)
if [ -n "$denied" ] && [ "$denied" != null ] && [ "$denied" -ge 5 ]; then
  ok "result record counts denied packets (network.denied=$denied)"
else
  bad "network.denied missing or < 5: $(cat "$STATE/result")"
fi
[ "$(jq -r '.network.address' "$STATE/result")" = "100.96.0.2" ] &&
  ok "the job got the first /30 of the pool" || bad "address: $(cat "$STATE/result")"
# a job without egress allows nothing but its own loopback, and DNS goes nowhere else
job -- sh -c "$PROBE" probe http://198.51.100.10/
expect_line "an empty allow-list reaches nothing" '^http://198.51.100.10/ refused'

# ---- 2. the admin re-opens a private range --------------------------------------------
job --allow-private 10.0.0.0/24 --allow 10.0.0.5:80 -- sh -c "$PROBE" probe http://10.0.0.5/
expect_line "private range reachable when admin-allowed and job-allowed" '^http://10.0.0.5/ ok hello from 10.0.0.5:80$'
job --allow-private 10.0.0.0/24 -- sh -c "$PROBE" probe http://10.0.0.5/
expect_line "admin-allowed private range still needs the job's allow-list" '^http://10.0.0.5/ refused'
job --deny-always 198.51.100.0/24 --allow 198.51.100.10:80 -- sh -c "$PROBE" probe http://198.51.100.10/
expect_line "egress.deny_always beats the job's allow-list" '^http://198.51.100.10/ refused'

# ---- 3. one job cannot reach another ---------------------------------------------------
nsenter --net="/run/netns/$H" "$JOBCELL" run --timeout 30 --network egress --dns 198.51.100.53 \
  --egress-state-dir "$STATE/leases" -- python3 -c '
import socket, time
s = socket.socket(); s.bind(("0.0.0.0", 7000)); s.listen(4); s.settimeout(6)
print("listening", flush=True)
try:
    c, a = s.accept(); print("accepted", a, flush=True)
except socket.timeout:
    print("nobody came", flush=True)
' > "$STATE/listener.out" 2> "$STATE/listener.err" &
LP=$!
PIDS+=($LP)
for _ in $(seq 50); do grep -q listening "$STATE/listener.out" && break; sleep 0.1; done
listener_addr=$(inh ip -4 -o addr show | awk '$2 ~ /^jcv/ {print $4}' | head -1 | cut -d/ -f1)
# the listener's job address is its host end + 1
job_addr=$("$PY" -c "import ipaddress,sys; print(ipaddress.ip_address(sys.argv[1]) + 1)" "$listener_addr")
job --allow 100.96.0.0/16 --allow "$job_addr:7000" -- sh -c \
  'python3 -c "
import socket, sys
s = socket.socket(); s.settimeout(3)
try:
    s.connect((sys.argv[1], 7000)); print(\"connected\")
except OSError as e:
    print(\"refused\", e.errno)
" '"$job_addr"
expect_line "a job cannot reach another job's address, even when allowed" '^refused'
wait "$LP"
grep -q "nobody came" "$STATE/listener.out" && ok "the listening job saw no connection" ||
  bad "the listening job: $(cat "$STATE/listener.out")"

# ---- 4. pool exhaustion ------------------------------------------------------------------
nsenter --net="/run/netns/$H" "$JOBCELL" run --network egress --dns 198.51.100.53 --egress-pool 100.97.0.0/30 \
  --egress-state-dir "$STATE/small" -- sleep 3 > /dev/null 2>&1 &
SP=$!
PIDS+=($SP)
for _ in $(seq 50); do [ -s "$STATE/small/leases" ] && break; sleep 0.1; done
nsenter --net="/run/netns/$H" "$JOBCELL" run --json --network egress --dns 198.51.100.53 --egress-pool 100.97.0.0/30 \
  --egress-state-dir "$STATE/small" -- true > /dev/null 2> "$STATE/err"
rc=$?
if [ $rc -eq 125 ] && grep -q 'pool 100.97.0.0/30 is exhausted' "$STATE/err"; then
  ok "pool exhaustion is a clear setup error (exit 125)"
else
  bad "pool exhaustion: exit $rc: $(cat "$STATE/err")"
fi
wait "$SP"

# ---- 5. a crashed owner's leftovers are reconciled ----------------------------------------
nsenter --net="/run/netns/$H" "$JOBCELL" run --network egress --dns 198.51.100.53 --egress-state-dir "$STATE/leases" \
  --allow example.com:443 -- sh -c 'echo started; exec sleep 30' > "$STATE/crash.out" 2>&1 &
CP=$!
PIDS+=($CP)
# wait until the job runs (its network is complete by then), then kill its owner
for _ in $(seq 150); do grep -q started "$STATE/crash.out" 2>/dev/null && break; sleep 0.1; done
kill -9 "$CP" 2>/dev/null
{ wait "$CP"; } 2>/dev/null
sleep 0.3
# (the listing is read whole before grep looks at it: `grep -q` stops reading at the first
# match, and under pipefail the listing's broken pipe would then count as a failure)
leftover=0
listing=$(inh nft list table inet jobcell 2>&1)
grep -q 'chain j' <<< "$listing" && leftover=1
[ $leftover -eq 1 ] && ok "a killed owner leaves its chain behind" ||
  bad "expected a leftover chain: $(inh nft list table inet jobcell 2>&1 | grep -c chain) chains"
nsenter --net="/run/netns/$H" "$JOBCELL" run --cleanup --egress-state-dir "$STATE/leases"
rc=$?
left=$(inh nft list table inet jobcell | grep -cE 'chain j|set [hg][0-9]|counter d')
if [ $rc -eq 0 ] && [ "$left" -eq 0 ] && [ ! -s "$STATE/leases/leases" ]; then
  ok "jobcell run --cleanup removed the dead execution's chain, sets, counter and lease"
else
  bad "cleanup: exit $rc, $left objects left, leases: $(cat "$STATE/leases/leases" 2>/dev/null)"
fi

# ---- 6. names: only the allow-list's resolve, and only for its ports -------------------
job --allow www.allowed.test:80 -- sh -c "$PROBE"' ; for n in www.allowed.test other.outside.test; do
    if getent hosts $n > /dev/null; then echo "resolve $n ok"; else echo "resolve $n failed"; fi; done' \
  probe http://198.51.100.10/ http://www.allowed.test/ http://www.allowed.test:8080/
expect_line "an address allowed only by name is refused before the name is looked up" '^http://198.51.100.10/ refused'
expect_line "an allowed name resolves and its address is reachable on the allowed port" '^http://www.allowed.test/ ok hello from 198.51.100.10:80$'
expect_line "the resolved address on another port is refused" '^http://www.allowed.test:8080/ refused'
expect_line "a name in the allow-list resolves" '^resolve www.allowed.test ok$'
expect_line "a name outside the allow-list does not resolve" '^resolve other.outside.test failed$'
if grep -q 'other.outside.test' "$STATE/dns.log"; then
  bad "the upstream DNS server was asked for a name outside the allow-list"
else
  ok "the upstream DNS server never saw the name outside the allow-list"
fi

# ---- 7. a hundred jobs leave nothing behind ----------------------------------------------
t0=$(date +%s%N)
n_ok=0
for i in $(seq 100); do
  nsenter --net="/run/netns/$H" "$JOBCELL" run --network egress --dns 198.51.100.53 --egress-state-dir "$STATE/leases" \
    --allow 198.51.100.10:80 --allow "host$i.example.com:443" -- true > /dev/null 2>&1 && n_ok=$((n_ok + 1))
done
t1=$(date +%s%N)
echo "     100 egress jobs in $(((t1 - t0) / 1000000)) ms"
[ $n_ok -eq 100 ] && ok "100 egress jobs ran" || bad "only $n_ok of 100 egress jobs succeeded"
links=$(inh ip -o link show | grep -c 'jcv')
routes=$(inh ip -4 route show | grep -c '100\.96\.')
objs=$(inh nft list table inet jobcell | grep -cE 'chain j|set [hg][0-9]|counter d|jcv[0-9]')
leases=$(grep -c . "$STATE/leases/leases" 2>/dev/null || true)
if [ "$links" -eq 0 ] && [ "$routes" -eq 0 ] && [ "$objs" -eq 0 ] && [ "${leases:-0}" -eq 0 ]; then
  ok "after 100 egress jobs: no veth, route, nft chain/set/counter/map entry or lease is left"
else
  bad "after 100 jobs: $links veths, $routes routes, $objs nft objects, ${leases:-0} leases"
fi

echo "$((checks - fails))/$checks checks passed"
[ $fails -eq 0 ]
