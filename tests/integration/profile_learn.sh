#!/usr/bin/env bash
# `jobcell profile learn` with real sandboxes (root): a Python script and a bash pipeline
# each give a profile that runs them, is strictly smaller than default.json, and refuses a
# workload that needs more; a dangerous call during learning is refused without
# --allow-dangerous and no profile is written.
# Usage: profile_learn.sh JOBCELL_BINARY SOURCE_DIR
set -uo pipefail
J=$1
SRC=$2
export JOBCELL_PROFILE_DIR=$SRC/profiles
if [ "$(id -u)" -ne 0 ]; then
  echo "profile_learn: needs root (real sandboxes)"
  exit 77
fi
T=$(mktemp -d /tmp/jc-profile-learn.XXXXXX)
# Our sandboxes live under a cgroup parent of their own, so that another jobcell on this
# host cleaning up its leftovers (jobcell run --cleanup) never kills them mid-test.
CGP=/jc-profile-learn-$$
cg_dirs=()
for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
  [ -e "$h/cgroup.procs" ] || continue
  mkdir -p "$h$CGP" 2>/dev/null && cg_dirs+=("$h$CGP")
done
cleanup() {
  for d in "${cg_dirs[@]}"; do
    rmdir "$d"/jobcell/* "$d"/jobcell "$d" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# allowed = unconditional + conditional, from `check`
allowed() {
  "$J" profile check "$1" | awk -F': ' '/allowed unconditionally|allowed under argument/ {s += $2} END {print s + 0}'
}
default_allowed=$(allowed default)

PY='import json, threading, hashlib
t = threading.Thread(target=lambda: None); t.start(); t.join()
print(json.dumps({"sum": sum(range(10)), "h": hashlib.sha256(b"x").hexdigest()[:8]}))'
PIPE='for i in 3 1 2; do echo $i; done | sort -n | head -2 | tr "\n" " "; echo'

check_learned() { # NAME PROFILE EXPECTED_OUTPUT CMD...
  local name=$1 prof=$2 want=$3
  shift 3
  if "$J" profile check "$prof" >"$T/check.txt" 2>&1; then ok; else bad "$name: learned profile invalid"; cat "$T/check.txt"; fi
  local n
  n=$(allowed "$prof")
  if [ "$n" -gt 0 ] && [ "$n" -lt "$default_allowed" ]; then ok; else bad "$name: learned allows $n calls, default $default_allowed"; fi
  local out
  out=$("$J" run --cgroup-parent "$CGP" --profile "$prof" -- "$@" 2>"$T/run.err")
  local st=$?
  if [ $st -eq 0 ] && [ "$out" = "$want" ]; then ok; else bad "$name: rerun status $st, output '$out'"; cat "$T/run.err"; fi
  if grep -q '"comment": "learned: first used by ' "$prof"; then ok; else bad "$name: no comment naming the first process"; fi
}

# 1. a Python script
out=$("$J" profile learn --cgroup-parent "$CGP" --out "$T/py.json" -- /usr/bin/python3 -c "$PY" 2>"$T/learn.err")
st=$?
want='{"sum": 45, "h": "2d711642"}'
if [ $st -eq 0 ] && [ "$out" = "" ] && grep -q "$want" "$T/learn.err"; then ok; else bad "learn python: status $st"; cat "$T/learn.err"; fi
check_learned python "$T/py.json" "$want" /usr/bin/python3 -c "$PY"
if grep -q 'first used by python3' "$T/py.json"; then ok; else bad "python: comment does not name python3"; fi
# a workload that needs more (a subprocess needs pipe2, fork/exec …) fails under it
if "$J" run --cgroup-parent "$CGP" --profile "$T/py.json" -- /usr/bin/python3 -c 'import subprocess; subprocess.run(["true"], check=True)' >/dev/null 2>"$T/more.err"; then
  bad "python: a workload needing more succeeded under the learned profile"
else
  if grep -q 'Operation not permitted' "$T/more.err"; then ok; else bad "python: more: not EPERM"; cat "$T/more.err"; fi
fi

# 2. a bash pipeline (profile to stdout)
"$J" profile learn --cgroup-parent "$CGP" -- bash -c "$PIPE" >"$T/pipe.json" 2>"$T/learn.err"
st=$?
if [ $st -eq 0 ] && grep -q '^1 2 $' "$T/learn.err"; then ok; else bad "learn pipeline: status $st"; cat "$T/learn.err"; fi
check_learned pipeline "$T/pipe.json" "1 2 " bash -c "$PIPE"
if grep -q 'first used by sort' "$T/pipe.json" || grep -q 'first used by head' "$T/pipe.json" || grep -q 'first used by tr' "$T/pipe.json"; then ok; else bad "pipeline: no comment names a pipeline process"; fi
# clone keeps its namespace check: learned from fork/threads, never with CLONE_NEW*
if "$J" profile explain "$T/pipe.json" clone CLONE_NEWUSER | grep -q 'verdict: errno 1'; then ok; else bad "pipeline: clone with CLONE_NEWUSER allowed"; fi

# 3. a dangerous call: refused (EPERM) while learning, named, and left out of the profile
UNSHARE='import ctypes, os
r = ctypes.CDLL(None, use_errno=True).syscall(272, 0x10000000)
print("unshare", r, os.strerror(ctypes.get_errno()))'
"$J" profile learn --cgroup-parent "$CGP" --out "$T/danger.json" -- /usr/bin/python3 -c "$UNSHARE" >/dev/null 2>"$T/d.err"
st=$?
if [ $st -eq 0 ] && grep -q 'unshare (first by python3' "$T/d.err" && grep -q 'unshare -1 Operation not permitted' "$T/d.err"; then ok; else bad "dangerous: status $st"; cat "$T/d.err"; fi
if [ -e "$T/danger.json" ] && ! grep -q '"unshare"' "$T/danger.json"; then ok; else bad "dangerous: unshare in the learned profile"; fi
if "$J" profile explain "$T/danger.json" unshare | grep -q 'verdict: errno 1 (EPERM)' && ! "$J" profile check "$T/danger.json" | grep -q 'dangerous:'; then ok; else bad "dangerous: learned profile allows a dangerous call"; fi
rm -f "$T/danger.json"
"$J" profile learn --cgroup-parent "$CGP" --allow-dangerous --out "$T/danger.json" -- /usr/bin/python3 -c "$UNSHARE" >/dev/null 2>"$T/d.err"
st=$?
if [ $st -eq 0 ] && grep -q 'DANGEROUS' "$T/danger.json" && "$J" profile check "$T/danger.json" | grep -q 'dangerous: unshare is allowed'; then ok; else bad "allow-dangerous: status $st"; cat "$T/d.err"; fi

# 4. bad usage
"$J" profile learn --cgroup-parent "$CGP" --profile strict -- true 2>/dev/null
if [ $? -eq 2 ]; then ok; else bad "learn --profile accepted"; fi

echo "profile_learn: $pass passed, $fail failed (default allows $default_allowed calls)"
[ "$fail" -eq 0 ]
