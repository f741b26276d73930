/* cgroup.c: per-sandbox control groups on cgroup v2, v1 and the hybrid layout: creation
 * with the limits, kill, accounting, removal and reconciliation. Where each controller
 * lives is cgroup_layout.c's business. */
#include "cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"

#define CPU_PERIOD_US 100000
#define MAX_RECONCILE 4096
/* Bounds of every wait: a stuck kernel or a hostile job never hangs the daemon. */
#define FREEZE_WAIT_MS 1000
#define KILL_ROUNDS 5
#define RMDIR_WAIT_MS 3000
#define POLL_MS 5

struct jc_cgroup {
    layout lay;
    char dir[MAX_HIER][CG_PATH_MAX]; /* the execution's directory, "" when not made */
    /* flock(LOCK_EX) on each directory for the handle's life: a reconcile (of this or of
     * another jobcell process sharing the hierarchy) leaves a locked group alone */
    int lock_fd[MAX_HIER];
    int v2_fd;
    int64_t peak_sampled; /* largest memory.current seen, for v2 without memory.peak */
    jc_cgroup_opts opts;
};

/* ---- small helpers ---- */

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Write value to <dir>/<file> in one write(2): cgroupfs takes each write as one command.
 * O_TRUNC without O_CREAT: a missing file is an error (a fake tree must provide it). */
static int write_file(const char *dir, const char *file, const char *value, jc_err *err) {
    char p[CG_PATH_MAX];
    if (jc_cgroup_join(p, dir, file, err) < 0)
        return -1;
    _cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return jc_err_sys(err, errno, "cgroups: open %s", p);
    size_t len = strlen(value);
    ssize_t w;
    do {
        w = write(fd, value, len);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return jc_err_sys(err, errno, "cgroups: write \"%s\" to %s", value, p);
    if ((size_t)w != len)
        return jc_err_set(err, JC_E_SYS, "cgroups: short write of \"%s\" to %s", value, p);
    return 0;
}

/* The value of "key N" in a flat-keyed file (memory.events, pids.events, cpu.stat,
 * memory.oom_control). *found tells whether the key was there. */
static int read_key(const char *dir, const char *file, const char *key, int64_t *out, bool *found,
                    jc_err *err) {
    _cleanup_free_ char *s = jc_cgroup_read(dir, file, err);
    if (!s)
        return -1;
    size_t klen = strlen(key);
    *found = false;
    *out = 0;
    for (char *line = s; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            char *end;
            errno = 0;
            long long v = strtoll(line + klen + 1, &end, 10);
            if (errno || end == line + klen + 1)
                return jc_err_set(err, JC_E_INVALID, "cgroups: %s/%s: bad value for %s", dir, file,
                                  key);
            *out = v;
            *found = true;
            return 0;
        }
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* A file holding one integer (memory.peak, cpuacct.usage, memory.max_usage_in_bytes). */
static int read_int(const char *dir, const char *file, int64_t *out, jc_err *err) {
    _cleanup_free_ char *s = jc_cgroup_read(dir, file, err);
    if (!s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || (*end && *end != '\n'))
        return jc_err_set(err, JC_E_INVALID, "cgroups: %s/%s: not an integer", dir, file);
    *out = v;
    return 0;
}

/* The pids listed in <dir>/cgroup.procs; *out is owned by the caller. */
static int read_procs(const char *dir, pid_t **out, size_t *n, jc_err *err) {
    *out = NULL;
    *n = 0;
    _cleanup_free_ char *s = jc_cgroup_read(dir, "cgroup.procs", err);
    if (!s)
        return -1;
    size_t cap = 0;
    _cleanup_free_ pid_t *pids = NULL;
    for (char *p = s; *p;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p) {
            if (*p != '\n' && *p != ' ')
                return jc_err_set(err, JC_E_INVALID, "cgroups: %s/cgroup.procs: not a pid list",
                                  dir);
            p++;
            continue;
        }
        p = end;
        if (errno || v <= 0 || v > INT_MAX)
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            pid_t *np = reallocarray(pids, ncap, sizeof(*np));
            if (!np)
                return jc_err_sys(err, ENOMEM, "cgroups: pid list");
            pids = np;
            cap = ncap;
        }
        pids[(*n)++] = (pid_t)v;
    }
    *out = steal(&pids);
    return 0;
}

/* ---- creation ---- */

static int make_dir(const jc_cgroup_opts *o, const char *path, bool exist_ok, jc_err *err) {
    if (mkdir(path, 0755) < 0) {
        if (errno == EEXIST && exist_ok)
            return 0;
        if (errno == EEXIST)
            return jc_err_set(err, JC_E_CONFLICT, "cgroups: %s already exists", path);
        return jc_err_sys(err, errno, "cgroups: mkdir %s", path);
    }
    if (o->after_mkdir)
        o->after_mkdir(path, o->data);
    return 0;
}

static int remove_dir(const jc_cgroup_opts *o, const char *path) {
    return o->remove_dir ? o->remove_dir(path, o->data) : rmdir(path);
}

/* Enable the v2 controllers of mask in <dir>/cgroup.subtree_control, if not already. */
static int enable_controllers(const char *dir, unsigned mask, jc_err *err) {
    _cleanup_free_ char *cur = jc_cgroup_read(dir, "cgroup.subtree_control", err);
    if (!cur)
        return -1;
    char want[64] = "";
    for (int c = C_MEMORY; c <= C_CPU; c++) {
        if ((mask & (1u << c)) && !jc_cgroup_list_has(cur, jc_cgroup_ctrl_names[c], ' ')) {
            size_t l = strlen(want);
            (void)snprintf(want + l, sizeof(want) - l, "%s+%s", l ? " " : "",
                           jc_cgroup_ctrl_names[c]);
        }
    }
    if (!want[0])
        return 0;
    if (write_file(dir, "cgroup.subtree_control", want, err) < 0) {
        if (err && err->sys_errno == EBUSY)
            jc_err_set(err, JC_E_UNSUPPORTED,
                       "cgroups: cannot enable controllers in %s: it holds processes (cgroup v2 "
                       "allows none in a group with controlled children); run jobcell in a "
                       "delegated group (systemd-run --scope -p Delegate=yes …) or set "
                       "cgroup_parent",
                       dir);
        return -1;
    }
    return 0;
}

/* v2 with the caller's own group as parent: processes may live only in leaves, so the
 * caller moves itself into <own>/daemon before <own> gets controllers for its children.
 * Another process in <own> (a login shell) cannot be moved by us: say what to do. */
static int prepare_v2_own(const jc_cgroup_opts *o, const hierarchy *h, bool own, jc_err *err) {
    unsigned mask = h->ctrls & ((1u << C_MEMORY) | (1u << C_PIDS) | (1u << C_CPU));
    if (!own || strcmp(h->base, h->mount) == 0)
        return enable_controllers(h->base, mask, err);
    _cleanup_free_ char *cur = jc_cgroup_read(h->base, "cgroup.subtree_control", err);
    if (!cur)
        return -1;
    bool missing = false;
    for (int c = C_MEMORY; c <= C_CPU; c++)
        missing |= (mask & (1u << c)) && !jc_cgroup_list_has(cur, jc_cgroup_ctrl_names[c], ' ');
    if (!missing)
        return 0;
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    if (read_procs(h->base, &pids, &n, err) < 0)
        return -1;
    bool self_inside = false;
    for (size_t i = 0; i < n; i++) {
        if (pids[i] != getpid())
            return jc_err_set(err, JC_E_UNSUPPORTED,
                              "cgroups: %s holds other processes, so its children cannot get "
                              "controllers (cgroup v2 allows no process in an inner group); run "
                              "jobcell in a delegated group (systemd-run --scope -p "
                              "Delegate=yes …) or set cgroup_parent",
                              h->base);
        self_inside = true;
    }
    if (self_inside) {
        char daemon[CG_PATH_MAX], pid[24];
        if (jc_cgroup_join(daemon, h->base, "daemon", err) < 0 ||
            make_dir(o, daemon, true, err) < 0)
            return -1;
        (void)snprintf(pid, sizeof(pid), "%d", (int)getpid());
        if (write_file(daemon, "cgroup.procs", pid, err) < 0)
            return -1;
    }
    return enable_controllers(h->base, mask, err);
}

static int set_limits(const hierarchy *h, const char *dir, const jc_cgroup_limits *l, jc_err *err) {
    char v[32];
    if (h->ctrls & (1u << C_MEMORY)) {
        if (l->memory_bytes > 0)
            (void)snprintf(v, sizeof(v), "%" PRId64, l->memory_bytes);
        else
            (void)snprintf(v, sizeof(v), "%s", h->v2 ? "max" : "-1");
        if (h->v2) {
            if (write_file(dir, "memory.max", v, err) < 0)
                return -1;
            /* absent only without swap accounting, where no swap can be limited */
            if (jc_cgroup_has_file(dir, "memory.swap.max") &&
                write_file(dir, "memory.swap.max", "0", err) < 0)
                return -1;
            /* one OOM kill takes the whole job: no half-dead process tree */
            if (write_file(dir, "memory.oom.group", "1", err) < 0)
                return -1;
        } else {
            /* memsw (memory + swap) must stay >= limit_in_bytes: write it second */
            if (write_file(dir, "memory.limit_in_bytes", v, err) < 0)
                return -1;
            if (jc_cgroup_has_file(dir, "memory.memsw.limit_in_bytes")) {
                if (write_file(dir, "memory.memsw.limit_in_bytes", v, err) < 0)
                    return -1;
            } else if (write_file(dir, "memory.swappiness", "0", err) < 0) {
                return -1;
            }
        }
    }
    if (h->ctrls & (1u << C_PIDS)) {
        if (l->pids > 0)
            (void)snprintf(v, sizeof(v), "%" PRId64, l->pids);
        else
            (void)snprintf(v, sizeof(v), "max");
        if (write_file(dir, "pids.max", v, err) < 0)
            return -1;
    }
    if (h->ctrls & (1u << C_CPU)) {
        long long quota = -1;
        if (l->cpu > 0) {
            double q = l->cpu * CPU_PERIOD_US;
            quota = q < 1000 ? 1000 : (long long)(q + 0.5); /* the kernel's minimum quota is 1 ms */
        }
        if (h->v2) {
            if (quota > 0)
                (void)snprintf(v, sizeof(v), "%lld %d", quota, CPU_PERIOD_US);
            else
                (void)snprintf(v, sizeof(v), "max %d", CPU_PERIOD_US);
            if (write_file(dir, "cpu.max", v, err) < 0)
                return -1;
        } else {
            (void)snprintf(v, sizeof(v), "%d", CPU_PERIOD_US);
            if (write_file(dir, "cpu.cfs_period_us", v, err) < 0)
                return -1;
            (void)snprintf(v, sizeof(v), "%lld", quota);
            if (write_file(dir, "cpu.cfs_quota_us", v, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int check_limits(const jc_cgroup_limits *l, jc_err *err) {
    if (!l)
        return jc_err_set(err, JC_E_INVALID, "cgroups: no limits given");
    if (isnan(l->cpu) || l->cpu > 1e6)
        return jc_err_field(err, JC_E_INVALID, "resources.cpu", "cgroups: cpu %g is out of range",
                            l->cpu);
    return 0;
}

static jc_cgroup *alloc_handle(const jc_cgroup_opts *opts) {
    jc_cgroup *cg = calloc(1, sizeof(*cg));
    if (!cg)
        return NULL;
    cg->v2_fd = -1;
    for (int i = 0; i < MAX_HIER; i++)
        cg->lock_fd[i] = -1;
    if (opts)
        cg->opts = *opts;
    return cg;
}

static void free_handle(jc_cgroup *cg) {
    if (cg->v2_fd >= 0)
        close(cg->v2_fd);
    for (int i = 0; i < MAX_HIER; i++) {
        if (cg->lock_fd[i] >= 0)
            close(cg->lock_fd[i]);
    }
    free(cg);
}

static int remove_dirs(jc_cgroup *cg, jc_err *err);

/* Take the group's lock in hierarchy i. Every jobcell process on a host may share the
 * hierarchies (on v1, pids and freezer often sit at the root for everyone), so a reconcile
 * must tell a crashed owner's group (lock released with its fds) from a live one. The fd
 * is O_CLOEXEC: the sandbox's processes never hold it. 1 = taken, 0 = held by another. */
static int lock_group(jc_cgroup *cg, int i, jc_err *err) {
    int fd = open(cg->dir[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return jc_err_sys(err, errno, "cgroups: open %s", cg->dir[i]);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return 0;
        return jc_err_sys(err, e, "cgroups: lock %s", cg->dir[i]);
    }
    cg->lock_fd[i] = fd;
    return 1;
}

jc_cgroup *jc_cgroup_create_opts(const char *root, const char *parent, const char *name,
                                 const jc_cgroup_limits *l, const jc_cgroup_opts *opts,
                                 jc_err *err) {
    if (jc_cgroup_check_name(name, err) < 0 || check_limits(l, err) < 0)
        return NULL;
    jc_cgroup *cg = alloc_handle(opts);
    if (!cg) {
        jc_err_sys(err, ENOMEM, "cgroups: handle");
        return NULL;
    }
    if (jc_cgroup_detect_layout(root, parent, opts, &cg->lay, err) < 0)
        goto fail;
    /* memory and pids carry the limits every job has; cpu only when one is asked for */
    for (int c = C_MEMORY; c <= C_CPU; c++) {
        if (cg->lay.of[c] < 0 && (c != C_CPU || l->cpu > 0)) {
            jc_err_set(err, JC_E_UNSUPPORTED, "cgroups: the %s controller is not mounted under %s",
                       jc_cgroup_ctrl_names[c], root);
            goto fail;
        }
    }
    for (int i = 0; i < cg->lay.n; i++) {
        const hierarchy *h = &cg->lay.h[i];
        char jobcell[CG_PATH_MAX];
        if (h->v2 && prepare_v2_own(&cg->opts, h, parent == NULL, err) < 0)
            goto fail;
        if (jc_cgroup_join(jobcell, h->base, "jobcell", err) < 0 ||
            make_dir(&cg->opts, jobcell, true, err) < 0)
            goto fail;
        if (h->v2 &&
            enable_controllers(
                jobcell, h->ctrls & ((1u << C_MEMORY) | (1u << C_PIDS) | (1u << C_CPU)), err) < 0)
            goto fail;
        char dir[CG_PATH_MAX];
        if (jc_cgroup_join(dir, jobcell, name, err) < 0 || make_dir(&cg->opts, dir, false, err) < 0)
            goto fail;
        memcpy(cg->dir[i], dir, sizeof(dir));
        int locked = lock_group(cg, i, err);
        if (locked <= 0) {
            if (locked == 0)
                jc_err_set(err, JC_E_CONFLICT, "cgroups: %s is in use", dir);
            goto fail;
        }
        if (set_limits(h, dir, l, err) < 0)
            goto fail;
    }
    if (cg->lay.n == 1 && cg->lay.h[0].v2) {
        cg->v2_fd = open(cg->dir[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cg->v2_fd < 0) {
            jc_err_sys(err, errno, "cgroups: open %s", cg->dir[0]);
            goto fail;
        }
    }
    return cg;
fail:
    (void)remove_dirs(cg, NULL);
    free_handle(cg);
    return NULL;
}

jc_cgroup *jc_cgroup_create(const char *root, const char *parent, const char *name,
                            const jc_cgroup_limits *l, jc_err *err) {
    return jc_cgroup_create_opts(root, parent, name, l, NULL, err);
}

int jc_cgroup_v2_fd(const jc_cgroup *cg) {
    return cg ? cg->v2_fd : -1;
}

const char *jc_cgroup_path(const jc_cgroup *cg, const char *controller) {
    for (int c = 0; cg && c < C_COUNT; c++) {
        if (strcmp(controller, jc_cgroup_ctrl_names[c]) == 0 && cg->lay.of[c] >= 0)
            return cg->dir[cg->lay.of[c]][0] ? cg->dir[cg->lay.of[c]] : NULL;
    }
    return NULL;
}

int jc_cgroup_add_pid(jc_cgroup *cg, pid_t pid, jc_err *err) {
    char v[24];
    (void)snprintf(v, sizeof(v), "%d", (int)pid);
    for (int i = 0; i < cg->lay.n; i++) {
        if (cg->dir[i][0] && write_file(cg->dir[i], "cgroup.procs", v, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- kill ---- */

static void kill_listed(const pid_t *pids, size_t n) {
    for (size_t i = 0; i < n; i++) {
        /* never ourselves, never init: a fake or corrupt list must not take the host */
        if (pids[i] > 1 && pids[i] != getpid())
            (void)kill(pids[i], SIGKILL);
    }
}

static int is_frozen(const char *dir, bool v2, bool *frozen, jc_err *err) {
    if (v2) {
        int64_t v;
        if (read_key(dir, "cgroup.events", "frozen", &v, frozen, err) < 0)
            return -1;
        *frozen = *frozen && v == 1;
        return 0;
    }
    _cleanup_free_ char *s = jc_cgroup_read(dir, "freezer.state", err);
    if (!s)
        return -1;
    *frozen = strncmp(s, "FROZEN", 6) == 0;
    return 0;
}

/* Freeze, SIGKILL every pid, thaw: a frozen group cannot fork, and its pids cannot exit
 * and be reused by an unrelated process between the read of cgroup.procs and kill(2).
 * The killed processes die when thawed. A group that does not reach FROZEN in time (a task
 * stuck in the kernel) is killed anyway and the round repeated. */
static int freeze_and_kill(const char *dir, bool v2, jc_err *err) {
    const char *file = v2 ? "cgroup.freeze" : "freezer.state";
    for (int round = 0; round < KILL_ROUNDS; round++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (read_procs(dir, &pids, &n, err) < 0)
            return -1;
        if (n == 0)
            return 0;
        if (write_file(dir, file, v2 ? "1" : "FROZEN", err) < 0)
            return -1;
        bool frozen = false;
        for (int waited = 0; waited <= FREEZE_WAIT_MS; waited += POLL_MS) {
            if (is_frozen(dir, v2, &frozen, err) < 0)
                return -1;
            if (frozen)
                break;
            sleep_ms(POLL_MS);
        }
        free(pids);
        pids = NULL;
        if (read_procs(dir, &pids, &n, err) < 0)
            return -1;
        kill_listed(pids, n);
        if (write_file(dir, file, v2 ? "0" : "THAWED", err) < 0)
            return -1;
        if (frozen)
            return 0;
        sleep_ms(10);
    }
    return 0;
}

/* No freezer at all: signal what is listed until the list is empty (bounded). */
static int kill_rounds(const char *dir, jc_err *err) {
    for (int round = 0; round < KILL_ROUNDS * 4; round++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (read_procs(dir, &pids, &n, err) < 0)
            return -1;
        if (n == 0)
            return 0;
        kill_listed(pids, n);
        sleep_ms(10);
    }
    return 0;
}

int jc_cgroup_kill_all(jc_cgroup *cg, jc_err *err) {
    int f = cg->lay.of[C_FREEZER];
    if (f >= 0 && cg->dir[f][0]) {
        const hierarchy *h = &cg->lay.h[f];
        if (h->v2 && jc_cgroup_has_file(cg->dir[f], "cgroup.kill"))
            return write_file(cg->dir[f], "cgroup.kill", "1", err);
        return freeze_and_kill(cg->dir[f], h->v2, err);
    }
    for (int i = 0; i < cg->lay.n; i++) {
        if (cg->dir[i][0])
            return kill_rounds(cg->dir[i], err);
    }
    return 0;
}

/* ---- accounting ---- */

int jc_cgroup_read_stats(jc_cgroup *cg, jc_cgroup_stats *out, jc_err *err) {
    memset(out, 0, sizeof(*out));
    int64_t v = 0;
    bool found = false;
    int m = cg->lay.of[C_MEMORY];
    if (m >= 0 && cg->dir[m][0]) {
        const char *dir = cg->dir[m];
        if (cg->lay.h[m].v2) {
            if (read_key(dir, "memory.events", "oom_kill", &v, &found, err) < 0)
                return -1;
            out->oom = v > 0;
            if (jc_cgroup_has_file(dir, "memory.peak")) {
                if (read_int(dir, "memory.peak", &out->memory_peak_bytes, err) < 0)
                    return -1;
            } else {
                if (read_int(dir, "memory.current", &v, err) < 0)
                    return -1;
                if (v > cg->peak_sampled)
                    cg->peak_sampled = v;
                out->memory_peak_bytes = cg->peak_sampled;
            }
        } else {
            if (read_key(dir, "memory.oom_control", "oom_kill", &v, &found, err) < 0)
                return -1;
            if (!found && read_int(dir, "memory.failcnt", &v, err) < 0)
                return -1; /* kernels before 4.13 count no OOM kills */
            out->oom = v > 0;
            if (read_int(dir, "memory.max_usage_in_bytes", &out->memory_peak_bytes, err) < 0)
                return -1;
        }
    }
    int p = cg->lay.of[C_PIDS];
    if (p >= 0 && cg->dir[p][0]) {
        if (read_key(cg->dir[p], "pids.events", "max", &v, &found, err) < 0)
            return -1;
        out->pids_max_hit = v > 0;
    }
    int a = cg->lay.of[C_CPUACCT];
    if (a >= 0 && cg->dir[a][0]) {
        if (cg->lay.h[a].v2) {
            if (read_key(cg->dir[a], "cpu.stat", "usage_usec", &out->cpu_usec, &found, err) < 0)
                return -1;
        } else {
            if (read_int(cg->dir[a], "cpuacct.usage", &v, err) < 0)
                return -1;
            out->cpu_usec = v / 1000;
        }
    }
    return 0;
}

/* ---- removal ---- */

static bool has_procs(const char *dir) {
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    return read_procs(dir, &pids, &n, NULL) == 0 && n > 0;
}

/* Child groups of an execution's group: the job cannot make them (no cgroupfs inside),
 * but what a reconcile finds is whatever is there. Depth-bounded. */
static void remove_children(const jc_cgroup_opts *o, const char *dir, int depth) {
    if (depth > 8)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
            continue;
        char sub[CG_PATH_MAX];
        if (jc_cgroup_join(sub, dir, e->d_name, NULL) < 0 || !jc_cgroup_is_dir(sub))
            continue;
        remove_children(o, sub, depth + 1);
        (void)remove_dir(o, sub);
    }
    closedir(d);
}

/* rmdir each directory; EBUSY means processes are still leaving (or a kill is needed
 * again), so retry within RMDIR_WAIT_MS. */
static int remove_dirs(jc_cgroup *cg, jc_err *err) {
    int rc = 0;
    for (int i = 0; i < cg->lay.n; i++) {
        if (!cg->dir[i][0])
            continue;
        int waited = 0;
        for (;;) {
            if (remove_dir(&cg->opts, cg->dir[i]) == 0 || errno == ENOENT) {
                cg->dir[i][0] = '\0';
                break;
            }
            int e = errno;
            if ((e != EBUSY && e != ENOTEMPTY) || waited >= RMDIR_WAIT_MS) {
                if (rc == 0)
                    rc = jc_err_sys(err, e, "cgroups: rmdir %s", cg->dir[i]);
                break;
            }
            if (e == ENOTEMPTY)
                remove_children(&cg->opts, cg->dir[i], 0);
            if (waited % 200 == 0 && has_procs(cg->dir[i]))
                (void)jc_cgroup_kill_all(cg, NULL);
            sleep_ms(POLL_MS);
            waited += POLL_MS;
        }
    }
    return rc;
}

int jc_cgroup_destroy(jc_cgroup *cg, jc_err *err) {
    if (!cg)
        return 0;
    int rc = 0;
    bool busy = false;
    for (int i = 0; i < cg->lay.n; i++)
        busy |= cg->dir[i][0] && has_procs(cg->dir[i]);
    if (busy)
        rc = jc_cgroup_kill_all(cg, err);
    if (remove_dirs(cg, rc == 0 ? err : NULL) < 0)
        rc = -1;
    free_handle(cg);
    return rc;
}

int jc_cgroup_reconcile_opts(const char *root, const char *parent, const jc_cgroup_opts *opts,
                             jc_err *err) {
    jc_cgroup *scan = alloc_handle(opts);
    if (!scan)
        return jc_err_sys(err, ENOMEM, "cgroups: reconcile");
    if (jc_cgroup_detect_layout(root, parent, opts, &scan->lay, err) < 0) {
        free_handle(scan);
        return -1;
    }
    int rc = 0, removed = 0;
    /* names first, then removal: a directory is not read while it changes */
    char(*names)[65] = calloc(MAX_RECONCILE, sizeof(*names));
    size_t nnames = 0;
    if (!names) {
        free_handle(scan);
        return jc_err_sys(err, ENOMEM, "cgroups: reconcile");
    }
    for (int i = 0; i < scan->lay.n; i++) {
        char jobcell[CG_PATH_MAX];
        if (jc_cgroup_join(jobcell, scan->lay.h[i].base, "jobcell", err) < 0) {
            rc = -1;
            continue;
        }
        DIR *d = opendir(jobcell);
        if (!d) {
            if (errno != ENOENT && rc == 0)
                rc = jc_err_sys(err, errno, "cgroups: open %s", jobcell);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) && nnames < MAX_RECONCILE) {
            char sub[CG_PATH_MAX];
            if (e->d_name[0] == '.' || jc_cgroup_check_name(e->d_name, NULL) < 0 ||
                jc_cgroup_join(sub, jobcell, e->d_name, NULL) < 0 || !jc_cgroup_is_dir(sub))
                continue;
            bool seen = false;
            for (size_t k = 0; k < nnames && !seen; k++)
                seen = strcmp(names[k], e->d_name) == 0;
            if (!seen) /* jc_cgroup_check_name bounds the length to 64 */
                memcpy(names[nnames++], e->d_name, strlen(e->d_name) + 1);
        }
        closedir(d);
    }
    /* each name becomes a handle destroyed like a live one: killed through the freezer,
     * removed in every hierarchy */
    for (size_t j = 0; j < nnames; j++) {
        jc_cgroup *cg = alloc_handle(opts);
        if (!cg) {
            rc = jc_err_sys(err, ENOMEM, "cgroups: reconcile");
            break;
        }
        cg->lay = scan->lay;
        bool live = false;
        for (int k = 0; k < cg->lay.n && !live; k++) {
            char p[CG_PATH_MAX];
            int n = snprintf(p, sizeof(p), "%s/jobcell/%s", cg->lay.h[k].base, names[j]);
            if (n > 0 && n < (int)sizeof(p) && jc_cgroup_is_dir(p)) {
                memcpy(cg->dir[k], p, sizeof(p));
                live = lock_group(cg, k, NULL) == 0; /* -1 (gone meanwhile): remove */
            }
        }
        if (live) { /* its owner is running: not ours to remove */
            free_handle(cg);
            continue;
        }
        for (int k = 0; k < cg->lay.n; k++) {
            if (cg->dir[k][0])
                remove_children(&cg->opts, cg->dir[k], 0);
        }
        jc_err one;
        if (jc_cgroup_destroy(cg, &one) == 0) {
            removed++;
        } else if (rc == 0) {
            if (err)
                *err = one;
            rc = -1;
        }
    }
    free(names);
    free_handle(scan);
    return rc < 0 ? -1 : removed;
}

int jc_cgroup_reconcile(const char *root, const char *parent, jc_err *err) {
    return jc_cgroup_reconcile_opts(root, parent, NULL, err);
}
