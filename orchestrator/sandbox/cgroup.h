/* cgroup.h: the control groups of one sandbox (limits, accounting, kill, removal).
 *
 * Each execution gets its own cgroup, nested under the cgroup the calling process runs in
 * (`<own>`, read per hierarchy from /proc/self/cgroup) or under a configured parent:
 * `<own>/jobcell/<name>`. The module supports cgroup v2, v1 and the hybrid layout (v1
 * controllers plus a unified hierarchy), choosing per controller where it is mounted:
 * memory, pids and cpu carry the limits, cpuacct (v1) the cpu time, freezer (v1) the
 * race-free kill. The cgroup root ("/sys/fs/cgroup") is a parameter so that the tests can
 * point the module at a fake tree.
 *
 * Every write names the file in its error. Every wait is bounded. */
#ifndef JOBCELL_SANDBOX_CGROUP_H
#define JOBCELL_SANDBOX_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobcell/error.h"

typedef struct jc_cgroup jc_cgroup;

/* A value <= 0 means "no limit" (memory: no swap either way). cpu is in cores (0.5 = a
 * CFS quota of 50 ms per 100 ms period). */
typedef struct jc_cgroup_limits {
    int64_t memory_bytes;
    int64_t pids;
    double cpu;
} jc_cgroup_limits;

/* oom: the kernel OOM-killed a process of the group (v2 memory.events oom_kill, v1
 * memory.oom_control oom_kill; on a v1 kernel without that counter: memory.failcnt > 0,
 * which the caller must pair with a SIGKILL of the job). pids_max_hit: a fork failed on
 * pids.max. memory_peak_bytes: memory.peak / memory.max_usage_in_bytes, or the largest
 * memory.current sampled by the calls of jc_cgroup_read_stats on a v2 kernel < 5.19.
 * cpu_usec: cpu.stat usage_usec (v2) or cpuacct.usage / 1000 (v1), 0 when not mounted. */
typedef struct jc_cgroup_stats {
    bool oom;
    bool pids_max_hit;
    int64_t memory_peak_bytes;
    int64_t cpu_usec;
} jc_cgroup_stats;

/* Test hooks, and where /proc/self/cgroup is read. A NULL field takes the default. */
typedef struct jc_cgroup_opts {
    const char *proc_self_cgroup; /* default "/proc/self/cgroup" */
    /* Called after the module made a cgroup directory: a fake tree populates the files the
     * kernel would create. */
    void (*after_mkdir)(const char *path, void *data);
    /* Removes a cgroup directory; default rmdir(2). A fake tree removes its files first. */
    int (*remove_dir)(const char *path, void *data);
    void *data;
} jc_cgroup_opts;

/* Create <own or parent>/jobcell/<name> in every hierarchy that holds memory, pids, cpu,
 * cpuacct or freezer, and set the limits. root: "/sys/fs/cgroup" or a fake tree. parent:
 * NULL = the caller's own cgroup per hierarchy, else an absolute cgroup path used in every
 * hierarchy (the cgroup_parent setting). name: the execution id ([A-Za-z0-9_-], ≤ 64).
 * On pure v2 with parent NULL the caller first moves itself into <own>/daemon (no process
 * may stay in an inner node) and enables +memory +pids +cpu in <own> and <own>/jobcell.
 * The handle holds an flock on each directory (O_CLOEXEC fds) until jc_cgroup_destroy:
 * a child forked without exec shares it, so the sandbox's first process must exec at once
 * (jobcell-init does), or a crash would leave a group that looks alive to a reconcile.
 * Returns an owned handle (free it with jc_cgroup_destroy), NULL on error. */
jc_cgroup *jc_cgroup_create(const char *root, const char *parent, const char *name,
                            const jc_cgroup_limits *l, jc_err *err);
/* jc_cgroup_create with hooks; opts may be NULL. */
jc_cgroup *jc_cgroup_create_opts(const char *root, const char *parent, const char *name,
                                 const jc_cgroup_limits *l, const jc_cgroup_opts *opts,
                                 jc_err *err);

/* A directory fd of the cgroup for clone3's CLONE_INTO_CGROUP when every controller is on
 * v2, else -1. Owned by the handle. */
int jc_cgroup_v2_fd(const jc_cgroup *cg);

/* The cgroup directory that holds a controller ("memory", "pids", "cpu", "cpuacct",
 * "freezer"), NULL when that controller is not mounted. Owned by the handle. */
const char *jc_cgroup_path(const jc_cgroup *cg, const char *controller);

/* Put pid into the group: written to cgroup.procs of every hierarchy (v1 and hybrid; on
 * pure v2 use CLONE_INTO_CGROUP instead, though this works there too). */
int jc_cgroup_add_pid(jc_cgroup *cg, pid_t pid, jc_err *err);

/* SIGKILL every process of the group: v2 cgroup.kill, else freeze, SIGKILL each pid, thaw
 * (v2 cgroup.freeze or the v1 freezer, so no pid is reused between read and kill). Does
 * not wait for the processes to be gone. */
int jc_cgroup_kill_all(jc_cgroup *cg, jc_err *err);

/* Read the accounting of the group into out. */
int jc_cgroup_read_stats(jc_cgroup *cg, jc_cgroup_stats *out, jc_err *err);

/* Kill what is left, remove the directories (retrying EBUSY for a bounded time) and free
 * the handle, which is gone even when -1 is returned (something could not be removed: the
 * next jc_cgroup_reconcile will). NULL is a no-op. */
int jc_cgroup_destroy(jc_cgroup *cg, jc_err *err);

/* Kill and remove every <own or parent>/jobcell/<name> in every hierarchy: what a crashed
 * daemon left behind. A group whose handle is alive in any process (it holds an flock on
 * the group's directories until jc_cgroup_destroy) is left alone, so a reconcile never
 * kills the running sandboxes of another jobcell process that shares the hierarchy. Goes
 * on after a failure. Returns how many groups it removed, or -1 with the first error. */
int jc_cgroup_reconcile(const char *root, const char *parent, jc_err *err);
int jc_cgroup_reconcile_opts(const char *root, const char *parent, const jc_cgroup_opts *opts,
                             jc_err *err);

#endif
