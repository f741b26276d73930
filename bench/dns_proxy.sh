#!/usr/bin/env bash
# Queries per second through the egress resolver proxy vs straight to the same upstream, in
# one run, in network namespaces of its own (removed on exit). Needs root.
#   bench/dns_proxy.sh BUILD_DIR [SECONDS]
# The upstream is a small Python server: the "direct" figure is its ceiling, and the
# proxied one says what the proxy adds on top of it (window 1: latency; window 16: load).
set -euo pipefail
build=${1:?usage: bench/dns_proxy.sh BUILD_DIR [SECONDS]}
root=$(cd "$(dirname "$0")/.." && pwd)
exec python3 "$root/tests/integration/dns_netns.py" bench "$build/tests/dns_proxy_driver" "${2:-3}"
