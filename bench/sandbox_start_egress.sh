#!/usr/bin/env bash
# sandbox_start with the egress column (F), in a network namespace of its own: egress
# networks change the firewall and need IPv4 forwarding, which only this namespace gets.
#   bench/sandbox_start_egress.sh BUILD_DIR [RUNS] [PROFILE]        (root)
set -euo pipefail
build=${1:?usage: sandbox_start_egress.sh BUILD_DIR [RUNS] [PROFILE]}
ns=jc-bench-egress-$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
# nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup tree
JC_BENCH_EGRESS=1 nsenter --net="/run/netns/$ns" "$build/bench/sandbox_start" \
  "$build/cli/jobcell" "${2:-200}" "${3:-default}"
