#!/usr/bin/env bash
# The `jobcell profile` command end to end: exit statuses, located errors, explain's
# deciding rule, diff's groups, ls. Usage: profile_cli.sh JOBCELL_BINARY SOURCE_DIR
set -uo pipefail
J=$1
SRC=$2
export JOBCELL_PROFILE_DIR=$SRC/profiles
T=$(mktemp -d /tmp/jc-profile-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
expect() { # expect NAME WANT_STATUS PATTERN -- CMD...
  local name=$1 want=$2 pattern=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [ "$status" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $name: status $status (want $want), pattern '$pattern' in:"
    echo "$out" | head -40
  fi
}

expect "check default" 0 "default.json: valid \(0 errors\)" -- "$J" profile check default
expect "check strict" 0 "strict.json: valid" -- "$J" profile check strict
expect "check network" 0 "network.json: valid" -- "$J" profile check network
expect "check counts" 0 "allowed under argument conditions: 3" -- "$J" profile check default
cat >"$T/broken.json" <<'J'
{"defaultAction": "SCMP_ACT_ERRNO", "colour": "blue",
 "syscalls": [{"names": ["execve", "write", "exit_group", "frobnicate"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["dup"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]},
              {"names": ["close"], "action": "SCMP_ACT_TRACE"}]}
J
expect "check broken: exit 1" 1 "INVALID \(4 errors\)" -- "$J" profile check "$T/broken.json"
expect "check broken: unknown field" 1 "error +colour: unknown field" -- "$J" profile check "$T/broken.json"
expect "check broken: unknown name" 1 "error +syscalls\[0\]\.names\[3\]: 'frobnicate' is not a known system call" -- "$J" profile check "$T/broken.json"
expect "check broken: arg index" 1 "error +syscalls\[1\]\.args\[0\]\.index" -- "$J" profile check "$T/broken.json"
expect "check broken: TRACE" 1 "error +syscalls\[2\]\.action: SCMP_ACT_TRACE" -- "$J" profile check "$T/broken.json"
cat >"$T/noexec.json" <<'J'
{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ERRNO"}]}
J
expect "check: execve denied" 1 "syscalls\[0\]\.action: execve must be allowed" -- "$J" profile check "$T/noexec.json"
cat >"$T/danger.json" <<'J'
{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["execve", "write", "exit_group", "ptrace", "clone", "bpf"], "action": "SCMP_ACT_ALLOW"}]}
J
expect "check: dangerous allows warned" 0 "warning +syscalls\[0\]: dangerous: ptrace is allowed: reads and writes" -- "$J" profile check "$T/danger.json"
expect "check: clone flags warned" 0 "dangerous: clone is allowed with flag" -- "$J" profile check "$T/danger.json"
expect "check: missing name" 2 "no profile named 'nosuch'" -- "$J" profile check nosuch

expect "explain: conditional rule decides" 0 "decided by syscalls\[5\] \(conditions: arg0 & 0x7e020000 == 0\)" -- "$J" profile explain default clone 'CLONE_VM|CLONE_THREAD|SIGCHLD'
expect "explain: namespace flag denied" 0 "verdict: errno 1 \(EPERM\)" -- "$J" profile explain default clone CLONE_NEWUSER
expect "explain: ENOSYS" 0 "verdict: errno 38 \(ENOSYS\)" -- "$J" profile explain default clone3
expect "explain: strict sockets" 0 "verdict: errno 1 \(EPERM\)" -- "$J" profile explain strict socket AF_VSOCK
expect "explain: filter agrees" 0 "the compiled filter agrees" -- "$J" profile explain network socket AF_INET6
expect "explain: no args on a conditional call" 0 "depends on the arguments" -- "$J" profile explain default socket
expect "explain: unknown syscall" 2 "'frobnicate' is not a known system call" -- "$J" profile explain default frobnicate
expect "explain: bad argument" 2 "is not a number" -- "$J" profile explain default socket banana

expect "diff identical" 0 "no differences" -- "$J" profile diff default "$SRC/profiles/default.json"
expect "diff default strict" 1 "decided by argument conditions" -- "$J" profile diff default strict
expect "diff shows both sides" 1 "A: allow when \(arg0 == 0 or arg0 == 8 or arg0 == 0x20000" -- "$J" profile diff default strict
expect "diff direction" 1 "allowed by A only:.*" -- "$J" profile diff default strict
expect "diff: A-only entry" 1 "msgget +A: allow +B: errno 1 \(EPERM\) \(default\)" -- "$J" profile diff default strict
expect "diff direction" 1 "allowed by B only:" -- "$J" profile diff default "$T/danger.json"

expect "ls" 0 "strict +Like default" -- "$J" profile ls
expect "explain: vsock" 0 "verdict: errno 1 \(EPERM\)" -- "$J" profile explain default socket AF_VSOCK
expect "ls broken" 1 "broken +BROKEN: .*colour: unknown field" -- "$J" profile --profile-dir "$T" ls
expect "usage" 2 "usage: jobcell profile" -- "$J" profile
expect "unknown subcommand" 2 "unknown command 'frob'" -- "$J" profile frob
expect "help" 0 "explain PROFILE SYSCALL" -- "$J" profile --help

echo "profile_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
