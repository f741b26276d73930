#!/usr/bin/env bash
# Integration tests of the sandbox through `jobcell run`: real sandboxes, as root.
# usage: sandbox_run.sh JOBCELL [CASE...]   (no CASE: all of them)
# Each case asserts the exact outcome (result record fields, exit status, bytes). Every
# server this starts is stopped on exit, even on failure.
set -u
JOBCELL=${1:?usage: sandbox_run.sh JOBCELL [CASE...]}
shift
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root"
  exit 77
fi
command -v jq >/dev/null || { echo "jq is required"; exit 1; }

T=$(mktemp -d /tmp/jc-sandbox-test.XXXXXX)
chmod 755 "$T" # the sandbox's root is a host uid of its own: --rootfs below must be reachable
# A uid slot of our own: other sandboxes may run on this host meanwhile.
SLOT=$((100 + $$ % 900)) # other copies of this suite may run at the same time
JOB_UID=$((1879048192 + SLOT * 65536 + 1000))
# And a cgroup parent of our own: a daemon starting meanwhile reconciles (kills and
# removes) every jobcell/* group under its own parent, which is also ours by default.
PARENT=/jc-runtest-$$
HIERARCHIES=()
for c in memory pids cpu cpuacct freezer; do
  [ -d "/sys/fs/cgroup/$c" ] && HIERARCHIES+=("/sys/fs/cgroup/$c")
done
[ -f /sys/fs/cgroup/cgroup.controllers ] && HIERARCHIES=(/sys/fs/cgroup)
for h in "${HIERARCHIES[@]}"; do mkdir -p "$h$PARENT"; done
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  for h in "${HIERARCHIES[@]}"; do
    rmdir "$h$PARENT"/jobcell/exe_* "$h$PARENT/jobcell" "$h$PARENT" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT

# A seccomp profile of our own: the point here is that a filter is loaded and enforced,
# independent of the shipped profiles. mkdir is denied with EPERM.
cat >"$T/profile.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
EOF

PASS=0
FAIL=0
OUT= ERR= RC= RES=
# run_job ARGS... : run jobcell with --json; OUT/ERR/RC/RES (the result record) are set.
run_job() {
  "$JOBCELL" run --slot $SLOT --cgroup-parent $PARENT --json --profile "$T/profile.json" "$@" >"$T/out" 2>"$T/err" </dev/null
  RC=$?
  OUT=$(tr -d '\0' <"$T/out")
  ERR=$(cat "$T/err")
  RES=$(tail -n 1 "$T/err")
}
field() { jq -r "$1" <<<"$RES"; }
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then
    PASS=$((PASS + 1))
  else
    FAIL=$((FAIL + 1))
    echo "FAIL [$CASE] $1: expected '$2', got '$3'"
    echo "  stdout: ${OUT:0:400}"
    echo "  stderr: ${ERR:0:600}"
  fi
}
check_match() { # check_match DESCRIPTION REGEX ACTUAL
  if [[ "$3" =~ $2 ]]; then
    PASS=$((PASS + 1))
  else
    FAIL=$((FAIL + 1))
    echo "FAIL [$CASE] $1: '$3' does not match /$2/"
    echo "  stderr: ${ERR:0:600}"
  fi
}

case_identity() {
  run_job -- /bin/sh -c 'id -u; id -g; id -G; grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status; hostname'
  check "exit status" 0 "$RC"
  check "reason" exited "$(field .reason)"
  local expected
  expected=$(printf '1000\n1000\n1000\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2')
  check "identity, capabilities, no_new_privs, seccomp" "$expected" "$(head -n 10 <<<"$OUT")"
  check_match "hostname" '^jc-[a-z2-7]{12}$' "$(tail -n 1 <<<"$OUT")"
  # the filter is enforced
  run_job -- /bin/sh -c 'mkdir /tmp/d 2>&1; echo rc=$?'
  check_match "seccomp denies mkdir with EPERM" 'Operation not permitted' "$OUT"
  check "mkdir failed" "rc=1" "$(tail -n 1 <<<"$OUT")"
  # setuid(0) is refused
  run_job -- /usr/bin/python3 -c 'import os
try:
    os.setuid(0); print("gained")
except PermissionError as e: print("EPERM")'
  check "setuid(0)" EPERM "$OUT"
}

case_filesystem() {
  run_job -- /bin/sh -c '
    for p in /root /home /work /var /sys /etc/shadow /run /opt /srv /boot /mnt; do
      [ -e "$p" ] && echo "present $p"; done
    ls /
    echo "cwd=$(pwd) home=$HOME tmpdir=$TMPDIR path=$PATH"
    touch /x 2>&1; touch /usr/bin/x 2>&1; touch /etc/x 2>&1
    echo a > /tmp/a && echo tmp-ok; echo b > /workspace/b && echo ws-ok
    stat -c "%u:%g" /workspace
    grep -c . /etc/passwd; grep "^job:" /etc/passwd
    ls /proc | grep -E "^[0-9]+$" | wc -l
    ls /dev
    ls /proc/self/fd'
  check "exit status" 0 "$RC"
  check "no host path visible" "" "$(grep '^present' <<<"$OUT")"
  local root=""
  for d in bin dev etc lib lib32 lib64 libx32 node_modules proc sbin tmp usr workspace; do
    case $d in bin | lib | lib32 | lib64 | libx32 | sbin) [ -e "/$d" ] || continue ;; esac
    root+="$d"$'\n'
  done
  check "the root" "${root%$'\n'}" "$(sed -n '/^bin$/,/^workspace$/p' <<<"$OUT")"
  check "cwd and variables" "cwd=/workspace home=/workspace tmpdir=/tmp path=/usr/local/bin:/usr/bin:/bin" "$(grep '^cwd=' <<<"$OUT")"
  check "root, /usr, /etc read-only" 3 "$(grep -c 'Read-only file system' <<<"$OUT")"
  check "/tmp writable" tmp-ok "$(grep '^tmp-ok' <<<"$OUT")"
  check "/workspace writable" ws-ok "$(grep '^ws-ok' <<<"$OUT")"
  check "/workspace owner" 1000:1000 "$(grep -E '^[0-9]+:[0-9]+$' <<<"$OUT")"
  check "generated passwd: root, job, nobody" 3 "$(sed -n '/^1000:1000$/{n;p}' <<<"$OUT")"
  check "job's passwd entry" "job:x:1000:1000:job:/workspace:/bin/sh" "$(grep '^job:' <<<"$OUT")"
  # pid 1 (jc-init), the shell, ls, grep, wc
  check_match "only the sandbox's processes" '^[2-6]$' "$(sed -n '/^job:/{n;p}' <<<"$OUT")"
  check "/dev" "$(printf 'fd\nfull\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\nurandom\nzero')" "$(sed -n '/^fd$/,/^zero$/p' <<<"$OUT")"
  check "only fds 0-2 (and ls's own)" "$(printf '0\n1\n2\n3')" "$(tail -n 4 <<<"$OUT")"

  run_job -- /bin/sh -c 'wc -c < /proc/kallsyms; echo 1 > /proc/sysrq-trigger 2>&1 || echo sysrq-denied; echo x > /proc/sys/kernel/core_pattern 2>&1 || echo core-denied; cat /etc/shadow 2>&1 || echo no-shadow'
  check "kallsyms masked" 0 "$(head -n 1 <<<"$OUT")"
  check "sysrq-trigger not writable" 1 "$(grep -c 'sysrq-denied' <<<"$OUT")"
  check "core_pattern not writable" 1 "$(grep -c 'core-denied' <<<"$OUT")"
  check "/etc/shadow absent" 1 "$(grep -c 'no-shadow' <<<"$OUT")"

  # tmpfs sizes: ENOSPC at the limit
  run_job --tmp-mb 8 --workspace-mb 8 -- /bin/sh -c '
    dd if=/dev/zero of=/tmp/f bs=1M count=20 2>&1 | grep -o "No space left on device"; echo "tmp=$(stat -c %s /tmp/f)"
    dd if=/dev/zero of=/workspace/f bs=1M count=20 2>&1 | grep -o "No space left on device"; echo "ws=$(stat -c %s /workspace/f)"'
  check "ENOSPC in /tmp and /workspace" "$(printf 'No space left on device\ntmp=8388608\nNo space left on device\nws=8388608')" "$OUT"
  check "reason" exited "$(field .reason)"
}

case_limits() {
  run_job --memory 64 --tmp-mb 8 --workspace-mb 8 -- /usr/bin/python3 -c '
a = []
while True:
    a.append(bytearray(1 << 20))'
  check "memory hog: reason" oom "$(field .reason)"
  check "memory hog: exit status" 137 "$RC"
  check "memory hog: signal" 9 "$(field .signal)"
  check_match "memory hog: peak near the limit" '^(6[0-9]|7[0-9])[0-9]{6}$' "$(field .memory_peak_bytes)"

  run_job --pids 16 --timeout 3 --kill-grace 1 -- /bin/bash -c 'while :; do sleep 100 & done'
  check "fork bomb: reason" pids "$(field .reason)"
  check "fork bomb: ended by the timeout's SIGTERM" 15 "$(field .signal)"

  local t0 t1
  run_job --timeout 1 --kill-grace 2 -- /bin/bash -c 'trap "echo got-TERM" TERM; while :; do sleep 0.1; done'
  check "timeout: reason" timeout "$(field .reason)"
  check "timeout: SIGTERM seen first" got-TERM "$(head -n 1 <<<"$OUT")"
  check "timeout: killed by SIGKILL after the grace" 9 "$(field .signal)"
  check "timeout: exit status" 137 "$RC"
  check_match "timeout: wall = timeout + grace" '^(29[0-9][0-9]|3[0-9]{3}|4[0-9]{3})$' "$(field .wall_ms)"

  run_job --timeout 1 --kill-grace 1 -- /bin/bash -c 'trap "" TERM; while :; do (trap "" TERM; sleep 100) & sleep 0.1; done'
  check "SIGTERM-ignoring forker: reason" timeout "$(field .reason)"
  check "SIGTERM-ignoring forker: signal" 9 "$(field .signal)"
  # the job's uid on the host is uid_base + slot * 65536 + 1000: nothing of it may survive
  check "nothing left running as the job's host uid" "" "$(pgrep -u $JOB_UID || true)"

  run_job --timeout 5 -- /bin/sh -c '(sleep 60 &) ; echo started'
  check "double-fork daemon: job exited" exited "$(field .reason)"
  check "double-fork daemon: killed with the sandbox" "" "$(pgrep -u $JOB_UID || true)"
}

case_output() {
  run_job --output-mb 1 -- /bin/sh -c 'head -c 3000000 /dev/zero; echo err >&2'
  check "captured stdout is cut at the cap" 1048576 "$(wc -c <"$T/out")"
  check "stdout_bytes counts everything" 3000000 "$(field .stdout_bytes)"
  check "stderr_bytes" 4 "$(field .stderr_bytes)"
  check "truncated" true "$(field .output_truncated)"
  check "reason" exited "$(field .reason)"
  run_job -- /bin/sh -c 'printf abc; printf de >&2'
  check "stdout passed through" abc "$OUT"
  check "stderr passed through first" de "$(head -c 2 "$T/err")"
  check "not truncated" false "$(field .output_truncated)"
  # stdin is passed when it is not a terminal
  OUT=$(echo piped | "$JOBCELL" run --profile "$T/profile.json" -- /bin/cat 2>/dev/null)
  check "stdin passed" piped "$OUT"
}

case_setup_errors() {
  run_job -- /no/such/command
  check "missing command: exit status" 125 "$RC"
  check "missing command: reason" setup_error "$(field .reason)"
  check "missing command: step" execve "$(field .setup_error.step)"
  check "missing command: errno" 2 "$(field .setup_error.errno)"
  check "missing command: exit_code null" null "$(field .exit_code)"
  run_job -- nosuchcommand-in-path
  check "missing command in PATH: step" execve "$(field .setup_error.step)"
  check "missing command in PATH: errno" 2 "$(field .setup_error.errno)"
  run_job -- /etc/passwd
  check "not executable: errno EACCES" 13 "$(field .setup_error.errno)"
  # an SDK directory needs its mountpoint in the (root's) /usr
  mkdir -p "$T/rootfs/usr" "$T/sdk"
  run_job --rootfs "$T/rootfs" --sdk-dir "$T/sdk" -- /bin/true
  check "missing SDK mountpoint: step" mounts "$(field .setup_error.step)"
  check "missing SDK mountpoint: errno" 2 "$(field .setup_error.errno)"
  check_match "missing SDK mountpoint: named" '/usr/local/lib/jobcell' "$(field .setup_error.message)"
  # bad options: exit 2, no sandbox
  "$JOBCELL" run --profile "$T/profile.json" --memory 64 -- /bin/true >/dev/null 2>&1
  check "tmp+workspace above memory: exit 2" 2 "$?"
  MSG=$("$JOBCELL" run --profile "$T/profile.json" --memory 64 -- /bin/true 2>&1)
  check_match "names both fields" 'resources.tmp_mb.*resources.workspace_mb' "$MSG"
  "$JOBCELL" run --profile "$T/profile.json" --env PATH=/x -- /bin/true >/dev/null 2>&1
  check "reserved variable: exit 2" 2 "$?"
  "$JOBCELL" run --profile "$T/none.json" -- /bin/true >/dev/null 2>&1
  check "missing profile: exit 2" 2 "$?"
}

case_exit_status() {
  run_job -- /bin/sh -c 'exit 7'
  check "exit code" 7 "$RC"
  check "exit_code" 7 "$(field .exit_code)"
  check "signal null" null "$(field .signal)"
  run_job -- /bin/sh -c 'kill -TERM $$'
  check "killed by SIGTERM: exit status" 143 "$RC"
  check "killed by SIGTERM: reason" signaled "$(field .reason)"
  check "killed by SIGTERM: signal" 15 "$(field .signal)"
  run_job -- /bin/sh -c 'kill -SEGV $$'
  check "SIGSEGV: exit status" 139 "$RC"
  run_job --env GREETING=hello -- /bin/sh -c 'echo $GREETING'
  check "--env" hello "$OUT"
  run_job -- /bin/true
  check "true" 0 "$RC"
  check_match "cpu_ms is a number" '^[0-9]+$' "$(field .cpu_ms)"
}

case_runtime_socket() {
  mkdir -p "$T/www"
  echo "hello from the runtime" >"$T/www/index.html"
  python3 - "$T/port" "$T/www" <<'EOF' &
import http.server, socketserver, sys, os, functools
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
with socketserver.TCPServer(("127.0.0.1", 0), handler) as s:
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(s.server_address[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    s.serve_forever()
EOF
  SERVER_PID=$!
  for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
  local port
  port=$(cat "$T/port")
  run_job --runtime-proxy "127.0.0.1:$port" -- /usr/bin/curl -sS -m 5 http://127.0.0.1:8081/index.html
  check "runtime socket proxied to the server" "hello from the runtime" "$OUT"
  check "exit status" 0 "$RC"
  run_job --runtime-proxy "127.0.0.1:$port" -- /usr/bin/python3 -c '
import urllib.request
for i in range(3):
    print(urllib.request.urlopen("http://127.0.0.1:8081/index.html", timeout=5).read().decode().strip())'
  check "three requests in a row" "$(printf 'hello from the runtime\nhello from the runtime\nhello from the runtime')" "$OUT"
  # the host's loopback is not the job's
  run_job -- /usr/bin/curl -sS -m 3 "http://127.0.0.1:$port/index.html"
  check "host port unreachable (curl: connection refused)" 7 "$RC"
  # without a proxy nothing listens on 8081
  run_job -- /usr/bin/curl -sS -m 3 http://127.0.0.1:8081/
  check "no runtime socket unless asked" 7 "$RC"
  run_job -- /usr/bin/curl -sS -m 3 http://1.1.1.1/
  check "no route out (curl: could not connect)" 7 "$RC"
  kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}

case_binds() {
  mkdir -p "$T/rw" "$T/ro"
  chmod 777 "$T/rw"
  echo host-file >"$T/ro/f"
  run_job --bind "$T/rw:/data" --bind "$T/ro:/input:ro" -- /bin/sh -c 'echo from-job > /data/out; cat /input/f; echo x > /input/g 2>&1'
  check "rw bind: the host sees the job's file" from-job "$(cat "$T/rw/out" 2>/dev/null)"
  check "ro bind: readable" host-file "$(head -n 1 <<<"$OUT")"
  check_match "ro bind: not writable" 'cannot create /input/g: Read-only file system' "$ERR"
  check "ro bind: nothing written" "" "$(ls "$T/ro" | grep -v '^f$')"
  run_job --bind "$T/ro:/node_modules/jobcell/x" -- /bin/true
  check "bind through a symlink refused: step" mounts "$(field .setup_error.step)"
  check "bind through a symlink refused: errno" 40 "$(field .setup_error.errno)"
}

# The shipped default profile must let ordinary scripts run (JOBCELL_PROFILE_DIR points at
# the source tree's profiles/ in ctest), and the SDK must resolve as a module.
case_default_profile() {
  "$JOBCELL" run --slot $SLOT --cgroup-parent $PARENT --json --sdk-dir "$SOURCE_DIR/sdk" -- /bin/bash -c '
    grep "^Seccomp:" /proc/self/status
    python3 -c "import json, urllib.request, subprocess; print(subprocess.run([\"echo\", \"py\"], capture_output=True, text=True).stdout.strip())"
    node -e "console.log(\"node\")"
    node --input-type=module -e "import { Client } from \"jobcell\"; console.log(typeof Client)"
    echo "{\"a\": 3}" | jq .a
    awk "BEGIN { print 4 }"
    sort -r <<<"$(printf "a\nb")" | head -n 1
    curl --version >/dev/null && echo curl' >"$T/out" 2>"$T/err" </dev/null
  RC=$?
  OUT=$(cat "$T/out")
  ERR=$(cat "$T/err")
  RES=$(tail -n 1 "$T/err")
  check "default profile: exit status" 0 "$RC"
  check "default profile: ordinary tools run" "$(printf 'Seccomp:\t2\npy\nnode\nfunction\n3\n4\nb\ncurl')" "$OUT"
}

SOURCE_DIR=${JC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CASES=("$@")
[ ${#CASES[@]} -eq 0 ] && CASES=(identity filesystem limits output setup_errors exit_status runtime_socket binds default_profile)
for CASE in "${CASES[@]}"; do
  "case_$CASE"
done
echo "sandbox integration: $PASS checks passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
