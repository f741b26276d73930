#!/usr/bin/env bash
# 200 sandboxes in a row, then the host is checked: no cgroup left in any hierarchy, no
# process of the sandboxes' id range, no mount of the sandbox root. usage: JOBCELL [RUNS]
set -u
JOBCELL=${1:?usage: sandbox_leaks.sh JOBCELL [RUNS]}
RUNS=${2:-200}
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root"
  exit 77
fi
T=$(mktemp -d /tmp/jc-sandbox-leaks.XXXXXX)
# Our own cgroup parent and uid slot: other sandboxes may run on this host meanwhile.
PARENT=/jc-leaktest-$$
SLOT=$((1000 + $$ % 900))
JOB_UID=$((1879048192 + SLOT * 65536 + 1000))
HIERARCHIES=()
for c in memory pids cpu cpuacct freezer unified; do
  if [ -d "/sys/fs/cgroup/$c" ] && { [ "$c" != unified ] || [ -s /sys/fs/cgroup/unified/cgroup.controllers ]; }; then
    HIERARCHIES+=("/sys/fs/cgroup/$c")
  fi
done
[ -f /sys/fs/cgroup/cgroup.controllers ] && HIERARCHIES=(/sys/fs/cgroup)
for h in "${HIERARCHIES[@]}"; do mkdir -p "$h$PARENT"; done
cleanup() {
  for h in "${HIERARCHIES[@]}"; do
    rmdir "$h$PARENT"/jobcell/exe_* "$h$PARENT/jobcell" "$h$PARENT" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
cat >"$T/profile.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
JSON
fail=0
ok=0
for i in $(seq "$RUNS"); do
  # every fourth run leaves a background process behind and every fourth fails setup
  case $((i % 4)) in
    0) cmd=(/bin/true) ;;
    1) cmd=(/bin/sh -c 'sleep 30 & echo $!') ;;
    2) cmd=(/no/such/command) ;;
    3) cmd=(/bin/sh -c 'exit 3') ;;
  esac
  "$JOBCELL" run --slot $SLOT --cgroup-parent $PARENT --profile "$T/profile.json" --pids 8 --memory 32 --tmp-mb 4 --workspace-mb 4 \
    -- "${cmd[@]}" >/dev/null 2>&1
  rc=$?
  want=0
  [ $((i % 4)) -eq 2 ] && want=125
  [ $((i % 4)) -eq 3 ] && want=3
  if [ "$rc" -ne "$want" ]; then
    echo "run $i (${cmd[*]}): exit $rc, expected $want"
    fail=$((fail + 1))
  else
    ok=$((ok + 1))
  fi
done

# Every hierarchy: $PARENT/jobcell must hold no execution's cgroup.
left=0
for h in "${HIERARCHIES[@]}"; do
  dir=$h$PARENT/jobcell
  [ -d "$dir" ] || continue
  n=$(find "$dir" -mindepth 1 -maxdepth 1 -type d -name 'exe_*' | wc -l)
  if [ "$n" -ne 0 ]; then
    echo "left behind in $dir: $n cgroups"
    left=$((left + n))
  fi
done
# A `jobcell run` killed with SIGKILL: its sandbox dies with it (parent-death signal), its
# cgroups stay until --cleanup removes them.
"$JOBCELL" run --slot $SLOT --cgroup-parent $PARENT --profile "$T/profile.json" -- /bin/sleep 60 \
  >/dev/null 2>&1 &
victim=$!
for _ in $(seq 50); do
  [ -n "$(find "${HIERARCHIES[0]}$PARENT/jobcell" -mindepth 1 -maxdepth 1 -type d -name 'exe_*' 2>/dev/null)" ] &&
    pgrep -u $JOB_UID -x sleep >/dev/null && break
  sleep 0.1
done
kill -9 $victim
wait $victim 2>/dev/null
for _ in $(seq 50); do pgrep -u $JOB_UID -x sleep >/dev/null || break; sleep 0.1; done
orphans=$(ps -eo uid=,stat= | awk -v u=$JOB_UID '$1 == u && $2 !~ /^Z/' | wc -l)
stale=$(find "${HIERARCHIES[0]}$PARENT/jobcell" -mindepth 1 -maxdepth 1 -type d -name 'exe_*' | wc -l)
"$JOBCELL" run --cleanup --cgroup-parent $PARENT
cleanup_rc=$?
echo "killed jobcell run: sandbox processes left $orphans, cgroups left before --cleanup $stale, --cleanup exit $cleanup_rc"
if [ "$orphans" -ne 0 ] || [ "$stale" -ne 1 ] || [ "$cleanup_rc" -ne 0 ]; then
  fail=$((fail + 1))
fi

# live processes only: the killed run's jc-init is a zombie until the host's init reaps it
procs=$(ps -eo uid=,stat= | awk -v lo=$((JOB_UID - 1000)) '$1 >= lo && $1 < lo + 65536 && $2 !~ /^Z/' | wc -l)
mounts=$(grep -c ' /run/jobcell' /proc/self/mountinfo)
echo "sandbox leaks: $ok/$RUNS runs as expected; cgroups left: $left; processes left: $procs; mounts left: $mounts"
[ "$fail" -eq 0 ] && [ "$left" -eq 0 ] && [ "$procs" -eq 0 ] && [ "$mounts" -eq 0 ]
