/* runner.c: the security suite. Runs every hostile-job probe inside `jobcell run`, judges
 * each one (the probe's own verdict line, and for the attacks that end in a kill the
 * result record), then checks the host: no stray process of the run, no new file in the
 * host's /tmp, no leftover cgroup under any hierarchy's jobcell/, no new mount. Prints
 * "N of M probes contained" and exits 0 only when every probe was contained and the host
 * is clean; 77 (ctest "skipped") when it cannot run here (not root, no `jobcell run`).
 *
 * usage: security_runner --jobcell PATH --probes DIR --helper PATH [--init PATH]
 *                        [--only N,N,...] [--run-option ARG]... [--verbose]
 *                        [--runtime-proxy HOST:PORT --runtime-dir DIR --runtime-canary F]
 *
 * --run-option adds ARG to every `jobcell run` (e.g. --run-option --profile --run-option
 * none shows what the seccomp profile alone contains: those probes must then escape). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <jansson.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "jobcell/auth.h"
#include "jobcell/io.h"
#include "jobcell/random.h"

#define OUTPUT_CAP (4LL << 20) /* probe 36's --output-mb: stdout + stderr kept */
#define KILL_GRACE_MS 5000     /* SANDBOX.md: SIGTERM → SIGKILL */
#define RUN_DEADLINE_MS 120000 /* one probe run, whatever happens inside */
#define SETTLE_MS 3000         /* how long a leftover may take to disappear */

typedef enum {
    JUDGE_LINE,    /* the probe's verdict line, exit 0, reason exited */
    JUDGE_PIDS,    /* verdict line CONTAINED and reason "pids" */
    JUDGE_OOM,     /* reason "oom", no ESCAPED line */
    JUDGE_OUTPUT,  /* passed-through output at most the cap, output_truncated, exit 0 */
    JUDGE_TIMEOUT, /* reason "timeout" after SIGTERM then the grace, nothing survives */
    JUDGE_DAEMON,  /* verdict line, then the daemon it left must be gone from the host */
} judge;

typedef struct probe_def {
    int n;
    const char *name;
    const char *bin;
    judge how;
    const char *opts[12]; /* extra `jobcell run` options */
} probe_def;

/* Items 45 and 46 talk to the runtime API (--runtime-proxy, --runtime-dir). */
#define NEEDS_RUNTIME(p) ((p)->n >= 45)

static const probe_def probes[] = {
    {1, "read-shadow", "p01_read_shadow", JUDGE_LINE, {0}},
    {2, "list-processes", "p02_list_processes", JUDGE_LINE, {0}},
    {3, "kill-everything", "p03_kill_everything", JUDGE_LINE, {0}},
    {4, "mount-tmpfs", "p04_mount_tmpfs", JUDGE_LINE, {0}},
    {5, "umount", "p05_umount", JUDGE_LINE, {0}},
    {6, "unshare-user", "p06_unshare_user", JUDGE_LINE, {0}},
    {7, "namespace-fds", "p07_namespace_fds", JUDGE_LINE, {0}},
    {8, "chroot-escape", "p08_chroot_escape", JUDGE_LINE, {0}},
    {9, "ptrace", "p09_ptrace", JUDGE_LINE, {0}},
    {10, "process-vm-readv", "p10_process_vm_readv", JUDGE_LINE, {0}},
    {11, "raw-devices", "p11_raw_devices", JUDGE_LINE, {0}},
    {12, "mknod", "p12_mknod", JUDGE_LINE, {0}},
    {13, "sysrq-trigger", "p13_sysrq_trigger", JUDGE_LINE, {0}},
    {14, "core-pattern", "p14_core_pattern", JUDGE_LINE, {0}},
    {15, "kernel-memory", "p15_kernel_memory", JUDGE_LINE, {0}},
    {16, "kernel-module", "p16_kernel_module", JUDGE_LINE, {0}},
    {17, "kexec", "p17_kexec", JUDGE_LINE, {0}},
    {18, "bpf", "p18_bpf", JUDGE_LINE, {0}},
    {19, "perf-event-open", "p19_perf_event", JUDGE_LINE, {0}},
    {20, "keyctl", "p20_keyctl", JUDGE_LINE, {0}},
    {21, "io-uring", "p21_io_uring", JUDGE_LINE, {0}},
    {22, "userfaultfd", "p22_userfaultfd", JUDGE_LINE, {0}},
    {23, "raw-socket", "p23_raw_socket", JUDGE_LINE, {0}},
    {24, "netlink-route", "p24_netlink_route", JUDGE_LINE, {0}},
    {25, "host-loopback", "p25_host_loopback", JUDGE_LINE, {0}},
    {26, "internet", "p26_internet", JUDGE_LINE, {0}},
    {27, "write-root", "p27_write_root", JUDGE_LINE, {0}},
    {28, "setuid-binary", "p28_setuid_binary", JUDGE_LINE, {0}},
    {29, "file-capabilities", "p29_file_capabilities", JUDGE_LINE, {0}},
    {30, "overwrite-init-exe", "p30_overwrite_init_exe", JUDGE_LINE, {0}},
    {31, "cgroup-release-agent", "p31_cgroup_release_agent", JUDGE_LINE, {0}},
    {32, "tiocsti", "p32_tiocsti", JUDGE_LINE, {0}},
    {33,
     "fork-bomb",
     "p33_fork_bomb",
     JUDGE_PIDS,
     {"--pids", "32", "--env", "JC_PROBE_PIDS=32", "--timeout", "60"}},
    {34,
     "memory-hog",
     "p34_memory_hog",
     JUDGE_OOM,
     {"--memory", "64", "--tmp-mb", "8", "--workspace-mb", "8", "--timeout", "60"}},
    {35,
     "fill-tmpfs",
     "p35_fill_tmpfs",
     JUDGE_LINE,
     {"--memory", "128", "--tmp-mb", "8", "--workspace-mb", "12", "--env", "JC_PROBE_TMP_MB=8",
      "--env", "JC_PROBE_WORKSPACE_MB=12"}},
    {36,
     "output-flood",
     "p36_output_flood",
     JUDGE_OUTPUT,
     {"--output-mb", "4", "--env", "JC_PROBE_OUTPUT_MB=12"}},
    {37, "ignore-sigterm", "p37_ignore_sigterm", JUDGE_TIMEOUT, {"--timeout", "2", "--pids", "64"}},
    {38, "double-fork-daemon", "p38_double_fork_daemon", JUDGE_DAEMON, {0}},
    {39, "inherited-fds", "p39_inherited_fds", JUDGE_LINE, {0}},
    {40, "orchestrator-secrets", "p40_orchestrator_secrets", JUDGE_LINE, {0}},
    {41, "setuid-root", "p41_setuid_root", JUDGE_LINE, {0}},
    {42, "personality", "p42_personality", JUDGE_LINE, {"--profile", "strict"}},
    {43, "clone-namespaces", "p43_clone_namespaces", JUDGE_LINE, {0}},
    {44, "hostname", "p44_hostname", JUDGE_LINE, {0}},
    {45, "runtime-api-symlink", "p45_runtime_symlink", JUDGE_LINE, {0}},
    {46, "runtime-api-spoof", "p46_runtime_spoof", JUDGE_LINE, {0}},
};

/* ---- run state ---- */

static const char *jobcell_bin, *probe_dir, *helper_bin, *init_bin;
static char suid_dir[4096];
static char tag[16];        /* random, names the processes probes leave behind: jcp<tag> */
static char host_pidns[64]; /* "pid:[N]" of the host, for probe 3's safety check */
static int listen_port;
static int listen_fd = -1;
static int unix_listen_fd = -1; /* item 25: an abstract unix socket of the host */
static char host_mark_tmp[128], host_mark_shm[128]; /* item 1: host files by a known name */
static pid_t sentinel = -1;
static bool verbose;
static const char *extra_opts[16]; /* --run-option: appended to every `jobcell run` */
static int n_extra;
static char cg_parent[64]; /* the suite's own cgroup parent, see create_cgroup_parent */
/* Items 45, 46: the runtime API that the driver (runtime_probes.py) started, the
 * directory bound at /runtime (token, exe, other, canary_path) and the secret file. */
static const char *runtime_proxy, *runtime_dir, *runtime_canary;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int64_t now_ms(void) {
    return jc_time_mono_ms();
}

/* ---- one run of `jobcell run` ---- */

typedef struct run_out {
    int status;          /* wait status of jobcell */
    char out[65536];     /* first bytes of stdout */
    long long out_bytes; /* all stdout bytes received */
    char *err;           /* stderr, whole (bounded) */
    size_t err_len;
    json_t *record; /* the result record (last JSON line of stderr), or NULL */
    bool timed_out; /* we had to kill it */
    int64_t ms;
} run_out;

static void run_free(run_out *r) {
    free(r->err);
    if (r->record)
        json_decref(r->record);
}

static int run_jobcell(const probe_def *p, run_out *r) {
    memset(r, 0, sizeof(*r));
    char probes_bind[4200], suid_bind[4200], pidns_env[128], port_env[64], tag_env[64], cmd[256];
    snprintf(probes_bind, sizeof(probes_bind), "%s:/probes:ro", probe_dir);
    snprintf(suid_bind, sizeof(suid_bind), "%s:/suid:ro", suid_dir);
    snprintf(pidns_env, sizeof(pidns_env), "JC_PROBE_HOST_PIDNS=%s", host_pidns);
    snprintf(port_env, sizeof(port_env), "JC_PROBE_PORT=%d", listen_port);
    snprintf(tag_env, sizeof(tag_env), "JC_PROBE_TAG=%s", tag);
    snprintf(cmd, sizeof(cmd), "/probes/%s", p->bin);
    const char *argv[64];
    int a = 0;
    argv[a++] = jobcell_bin;
    argv[a++] = "run";
    argv[a++] = "--json";
    argv[a++] = "--bind";
    argv[a++] = probes_bind;
    argv[a++] = "--bind";
    argv[a++] = suid_bind;
    argv[a++] = "--env";
    argv[a++] = pidns_env;
    argv[a++] = "--env";
    argv[a++] = port_env;
    argv[a++] = "--env";
    argv[a++] = tag_env;
    argv[a++] = "--cgroup-parent";
    argv[a++] = cg_parent;
    for (int i = 0; i < 12 && p->opts[i]; i++)
        argv[a++] = p->opts[i];
    for (int i = 0; i < n_extra; i++)
        argv[a++] = extra_opts[i];
    char runtime_bind[4200];
    if (NEEDS_RUNTIME(p)) {
        snprintf(runtime_bind, sizeof(runtime_bind), "%s:/runtime:ro", runtime_dir);
        argv[a++] = "--runtime-proxy";
        argv[a++] = runtime_proxy;
        argv[a++] = "--bind";
        argv[a++] = runtime_bind;
    }
    argv[a++] = "--";
    argv[a++] = cmd;
    argv[a] = NULL;

    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
        return -1;
    int64_t start = now_ms();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        execv(jobcell_bin, (char **)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    size_t err_cap = 1 << 16;
    r->err = malloc(err_cap);
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        int64_t left = RUN_DEADLINE_MS - (now_ms() - start);
        if (left <= 0 && !r->timed_out) {
            r->timed_out = true;
            kill(pid, SIGKILL); /* our own child: jobcell run */
        }
        int n = poll(fds, 2, left > 0 ? (int)(left > 1000 ? 1000 : left) : 1000);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t k = read(fds[i].fd, buf, sizeof(buf));
            if (k <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0) {
                if (r->out_bytes < (long long)sizeof(r->out) - 1) {
                    size_t room = sizeof(r->out) - 1 - (size_t)r->out_bytes;
                    memcpy(r->out + r->out_bytes, buf, (size_t)k < room ? (size_t)k : room);
                }
                r->out_bytes += k;
            } else if (r->err_len + (size_t)k < (8u << 20)) {
                while (r->err_len + (size_t)k + 1 > err_cap)
                    r->err = realloc(r->err, err_cap *= 2);
                memcpy(r->err + r->err_len, buf, (size_t)k);
                r->err_len += (size_t)k;
            }
        }
    }
    r->err[r->err_len] = '\0';
    while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR) {
    }
    r->ms = now_ms() - start;
    /* the record is the last line of stderr that parses as a JSON object */
    char *line = r->err + r->err_len;
    while (line > r->err && !r->record) {
        char *end = line;
        line--;
        while (line > r->err && line[-1] != '\n')
            line--;
        if (*line == '{') {
            char save = *end;
            *end = '\0';
            r->record = json_loads(line, 0, NULL);
            *end = save;
        }
    }
    return 0;
}

/* ---- host checks ---- */

/* A process on the host that came out of this run: its binary is one of ours, or it
 * carries the name the probes give what they leave behind. */
static int stray_processes(char *detail, size_t dlen) {
    int found = 0;
    char name[32];
    snprintf(name, sizeof(name), "jcp%s", tag);
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char p[300], exe[4096] = "", comm[64] = "";
        snprintf(p, sizeof(p), "/proc/%s/exe", e->d_name);
        ssize_t n = readlink(p, exe, sizeof(exe) - 1);
        if (n > 0)
            exe[n] = '\0';
        snprintf(p, sizeof(p), "/proc/%s/comm", e->d_name);
        FILE *f = fopen(p, "re");
        if (f) {
            if (fgets(comm, sizeof(comm), f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        /* a child of ours other than the sentinel: something the runs left to us, the
         * subreaper (a jobcell-init or jobcell run that outlived its run) */
        long ppid = -1;
        snprintf(p, sizeof(p), "/proc/%s/stat", e->d_name);
        char stat[1024] = "";
        f = fopen(p, "re");
        if (f) {
            if (fgets(stat, sizeof(stat), f)) {
                char *close_paren = strrchr(stat, ')');
                if (close_paren)
                    sscanf(close_paren + 1, " %*c %ld", &ppid);
            }
            fclose(f);
        }
        bool ours = strncmp(exe, probe_dir, strlen(probe_dir)) == 0 ||
                    strncmp(exe, suid_dir, strlen(suid_dir)) == 0 || strcmp(comm, name) == 0 ||
                    (ppid == getpid() && atoi(e->d_name) != sentinel);
        if (ours) {
            size_t l = strlen(detail);
            snprintf(detail + l, dlen - l, "%spid %s (%s, %s)", l ? ", " : "", e->d_name, comm,
                     exe);
            found++;
        }
    }
    if (d)
        closedir(d);
    return found;
}

/* Bounded wait for the strays to go: the kernel tears a pid namespace down asynchronously. */
static int stray_processes_settled(char *detail, size_t dlen) {
    int n = 0;
    for (int64_t t0 = now_ms(); now_ms() - t0 <= SETTLE_MS; sleep_ms(50)) {
        detail[0] = '\0';
        if ((n = stray_processes(detail, dlen)) == 0)
            return 0;
    }
    return n;
}

typedef struct strset {
    char **v;
    size_t n, cap;
} strset;

static void set_add(strset *s, const char *x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = strdup(x);
}

static bool set_has(const strset *s, const char *x) {
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i], x) == 0)
            return true;
    }
    return false;
}

static void set_free(strset *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Entries of the host's /tmp that a probe could have made: our marker in the name, or an
 * owner in the sandbox id range (uid_base 0x70000000 and up). */
static void snapshot_tmp(strset *s) {
    DIR *d = opendir("/tmp");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof(p), "/tmp/%s", e->d_name);
        if (lstat(p, &st) < 0)
            continue;
        if (strstr(e->d_name, "jcprobe") || st.st_uid >= 0x70000000u || st.st_gid >= 0x70000000u)
            set_add(s, p);
    }
    if (d)
        closedir(d);
}

/* The sandboxes of this suite nest under a cgroup parent of its own in every hierarchy,
 * /jobcell-security-<pid>: the hierarchies shared with the rest of the machine (on a v1
 * host, pids, cpu and freezer usually sit at the root for everyone) then show exactly what
 * this suite's runs left behind, and no one else's. */
static const char *const cg_hierarchies[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};
static bool cg_hierarchy_dir(size_t i, char *out, size_t len) {
    snprintf(out, len, "/sys/fs/cgroup/%s", cg_hierarchies[i]);
    return access(out, F_OK) == 0;
}

static int create_cgroup_parent(void) {
    snprintf(cg_parent, sizeof(cg_parent), "/jobcell-security-%d", (int)getpid());
    char h[256], p[512];
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) { /* pure v2 */
        snprintf(p, sizeof(p), "/sys/fs/cgroup%s", cg_parent);
        return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
    }
    for (size_t i = 0; i < sizeof(cg_hierarchies) / sizeof(cg_hierarchies[0]); i++) {
        if (!cg_hierarchy_dir(i, h, sizeof(h)))
            continue;
        snprintf(p, sizeof(p), "%s%s", h, cg_parent);
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

/* Remove the parent (and its jobcell/): fails when a group is left inside. */
static bool remove_cgroup_parent(char *detail, size_t dlen) {
    bool ok = true;
    char h[256], p[600];
    size_t n = sizeof(cg_hierarchies) / sizeof(cg_hierarchies[0]);
    bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    for (size_t i = 0; i < (v2 ? 1 : n); i++) {
        if (v2)
            snprintf(h, sizeof(h), "/sys/fs/cgroup");
        else if (!cg_hierarchy_dir(i, h, sizeof(h)))
            continue;
        snprintf(p, sizeof(p), "%s%s/jobcell", h, cg_parent);
        if (rmdir(p) < 0 && errno != ENOENT) {
            size_t l = strlen(detail);
            snprintf(detail + l, dlen - l, "%srmdir %s: %s", l ? " | " : "", p, strerror(errno));
            ok = false;
        }
        snprintf(p, sizeof(p), "%s%s", h, cg_parent);
        if (rmdir(p) < 0 && errno != ENOENT) {
            size_t l = strlen(detail);
            snprintf(detail + l, dlen - l, "%srmdir %s: %s", l ? " | " : "", p, strerror(errno));
            ok = false;
        }
    }
    return ok;
}

/* Every <hierarchy><parent>/jobcell/<name> directory. */
static void snapshot_cgroups(strset *s) {
    char h[256], p[600];
    size_t n = sizeof(cg_hierarchies) / sizeof(cg_hierarchies[0]);
    bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    for (size_t i = 0; i < (v2 ? 1 : n); i++) {
        if (v2)
            snprintf(h, sizeof(h), "/sys/fs/cgroup");
        else if (!cg_hierarchy_dir(i, h, sizeof(h)))
            continue;
        snprintf(p, sizeof(p), "%s%s/jobcell", h, cg_parent);
        DIR *j = opendir(p);
        struct dirent *je;
        while (j && (je = readdir(j))) {
            if (je->d_name[0] == '.' || je->d_type != DT_DIR)
                continue;
            char q[900];
            snprintf(q, sizeof(q), "%s/%s", p, je->d_name);
            set_add(s, q);
        }
        if (j)
            closedir(j);
    }
}

/* The host's mount table as "<mount point> <fs type> <source>" lines. */
static void snapshot_mounts(strset *s) {
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[4096];
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        set_add(s, line);
    }
    if (f)
        fclose(f);
}

typedef struct host_state {
    strset tmp, cgroups, mounts;
} host_state;

static void snapshot(host_state *h) {
    memset(h, 0, sizeof(*h));
    snapshot_tmp(&h->tmp);
    snapshot_cgroups(&h->cgroups);
    snapshot_mounts(&h->mounts);
}

static void host_state_free(host_state *h) {
    set_free(&h->tmp);
    set_free(&h->cgroups);
    set_free(&h->mounts);
}

/* Entries of now not in before, joined into detail; their count. */
static int new_entries(const strset *before, const strset *now, char *detail, size_t dlen) {
    int n = 0;
    detail[0] = '\0';
    for (size_t i = 0; i < now->n; i++) {
        if (!set_has(before, now->v[i])) {
            size_t l = strlen(detail);
            snprintf(detail + l, dlen - l, "%s%s", l ? " | " : "", now->v[i]);
            n++;
        }
    }
    return n;
}

/* Compare with the state before the suite; leftovers get SETTLE_MS to disappear (another
 * user of this machine may be running its own sandboxes meanwhile: only what stays counts). */
static bool host_clean(const host_state *before) {
    bool ok = true;
    char detail[8192];
    int n = stray_processes_settled(detail, sizeof(detail));
    printf("HOST processes %s%s%s\n", n ? "FAIL " : "OK", n ? "stray: " : "", n ? detail : "");
    ok &= n == 0;
    const char *what[] = {"tmp", "cgroups", "mounts"};
    for (int k = 0; k < 3; k++) {
        int left = 0;
        for (int64_t t0 = now_ms();; sleep_ms(100)) {
            host_state now;
            snapshot(&now);
            const strset *b = k == 0 ? &before->tmp : k == 1 ? &before->cgroups : &before->mounts;
            const strset *a = k == 0 ? &now.tmp : k == 1 ? &now.cgroups : &now.mounts;
            left = new_entries(b, a, detail, sizeof(detail));
            host_state_free(&now);
            if (left == 0 || now_ms() - t0 > SETTLE_MS)
                break;
        }
        printf("HOST %s %s%s%s\n", what[k], left ? "FAIL " : "OK", left ? "new: " : "",
               left ? detail : "");
        ok &= left == 0;
    }
    return ok;
}

/* ---- helpers the runner arranges on the host ---- */

/* Item 25: a TCP listener on the host's 127.0.0.1 (random port). */
static int start_listener(void) {
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(listen_fd, 8) < 0 || getsockname(listen_fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    listen_port = ntohs(a.sin_port);
    return 0;
}

/* Item 25 too: an abstract unix socket "@jc-hostmark-<tag>". Abstract names belong to the
 * network namespace, so a job must not reach the host's (X11, systemd, dbus use them). */
static int start_unix_listener(void) {
    unix_listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "jc-hostmark-%s", tag);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    if (unix_listen_fd < 0 || bind(unix_listen_fd, (struct sockaddr *)&a, len) < 0 ||
        listen(unix_listen_fd, 8) < 0)
        return -1;
    return 0;
}

/* Did anything connect to a host listener? */
static bool listener_untouched(int fd) {
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0) {
        close(c);
        return false;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* Item 1 too: files of the host's /tmp and /dev/shm under a name the probe knows. */
static int create_host_marks(void) {
    snprintf(host_mark_tmp, sizeof(host_mark_tmp), "/tmp/jc-hostmark-%s", tag);
    snprintf(host_mark_shm, sizeof(host_mark_shm), "/dev/shm/jc-hostmark-%s", tag);
    const char *paths[] = {host_mark_tmp, host_mark_shm};
    for (int i = 0; i < 2; i++) {
        int fd = open(paths[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            return -1;
        close(fd);
    }
    return 0;
}

static void remove_host_marks(void) {
    if (host_mark_tmp[0])
        unlink(host_mark_tmp);
    if (host_mark_shm[0])
        unlink(host_mark_shm);
}

/* Item 3: a process of ours outside the sandbox that must survive the kill loop. */
static void start_sentinel(void) {
    sentinel = fork();
    if (sentinel == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (int i = 0; i < 3600; i++)
            sleep(1);
        _exit(0);
    }
}

static bool sentinel_alive(void) {
    int st;
    return sentinel > 0 && waitpid(sentinel, &st, WNOHANG) == 0 && kill(sentinel, 0) == 0;
}

/* Items 28, 29: a setuid-root copy of the id helper and one with file capabilities, in a
 * directory of the build tree bound read-only into the sandbox. */
static int install_suid_helpers(void) {
    char p[4200];
    /* beside the probes directory, by an absolute path without "..": a bind source */
    char *probes_abs = realpath(probe_dir, NULL);
    if (!probes_abs)
        return -1;
    char *slash = strrchr(probes_abs, '/');
    if (slash)
        *slash = '\0';
    snprintf(suid_dir, sizeof(suid_dir), "%s/suid-%d", probes_abs, (int)getpid());
    free(probes_abs);
    if (mkdir(suid_dir, 0755) < 0)
        return -1;
    size_t len = 0;
    char *bin = jc_read_file(helper_bin, 64 << 20, &len, NULL);
    if (!bin)
        return -1;
    const char *names[] = {"id-setuid-root", "id-filecaps"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s/%s", suid_dir, names[i]);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        if (fd < 0 || jc_write_all(fd, bin, len, NULL) < 0 || fchown(fd, 0, 0) < 0) {
            free(bin);
            return -1;
        }
        if (i == 0 && fchmod(fd, 04755) < 0) {
            free(bin);
            return -1;
        }
        if (i == 1) {
            struct vfs_cap_data data;
            memset(&data, 0, sizeof(data));
            data.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
            data.data[0].permitted =
                (1u << CAP_SYS_ADMIN) | (1u << CAP_NET_RAW) | (1u << CAP_SETUID);
            if (fsetxattr(fd, "security.capability", &data, XATTR_CAPS_SZ_2, 0) < 0) {
                fprintf(stderr, "security_runner: cannot set file capabilities on %s: %s\n", p,
                        strerror(errno));
                free(bin);
                return -1;
            }
        }
        close(fd);
    }
    free(bin);
    return 0;
}

static void remove_suid_helpers(void) {
    char p[4200];
    snprintf(p, sizeof(p), "%s/id-setuid-root", suid_dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/id-filecaps", suid_dir);
    unlink(p);
    rmdir(suid_dir);
}

/* Item 30: checksums of the host binaries a job could try to overwrite. */
static void checksum(const char *path, char out[65]) {
    size_t len = 0;
    char *b = path ? jc_read_file(path, 256 << 20, &len, NULL) : NULL;
    if (!b) {
        snprintf(out, 65, "unreadable");
        return;
    }
    jc_sha256_hex(b, len, out);
    free(b);
}

/* ---- judging ---- */

static const char *rec_str(json_t *rec, const char *key) {
    json_t *v = rec ? json_object_get(rec, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long rec_int(json_t *rec, const char *key, long long dflt) {
    json_t *v = rec ? json_object_get(rec, key) : NULL;
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* The probe's own "PROBE <n> ..." line from stdout, or NULL. */
static const char *verdict_line(const run_out *r, int n, char *buf, size_t len) {
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "PROBE %d ", n);
    for (const char *s = r->out; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t l = nl ? (size_t)(nl - s) : strlen(s);
        if (strncmp(s, prefix, strlen(prefix)) == 0) {
            snprintf(buf, len, "%.*s", (int)l, s);
            return buf;
        }
        s = nl ? nl + 1 : NULL;
    }
    return NULL;
}

typedef enum { CONTAINED, ESCAPED, ERROR } verdict;

static verdict judge_probe(const probe_def *p, run_out *r, char *detail, size_t dlen) {
    char line[4096];
    const char *v = verdict_line(r, p->n, line, sizeof(line));
    const char *reason = rec_str(r->record, "reason");
    long long exit_code = rec_int(r->record, "exit_code", -1);
    /* the probe's detail without its "PROBE n name VERDICT " head */
    const char *pd = v ? v : "";
    for (int i = 0; v && i < 4 && pd; i++) {
        pd = strchr(pd, ' ');
        if (pd)
            pd++;
    }
    if (!pd)
        pd = "";
    if (r->timed_out) {
        snprintf(detail, dlen, "jobcell run did not finish within %d s", RUN_DEADLINE_MS / 1000);
        return ERROR;
    }
    if (!r->record) {
        snprintf(detail, dlen, "no result record (jobcell exited with status %d): %.300s",
                 WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1, r->err);
        return ERROR;
    }
    if (reason && strcmp(reason, "setup_error") == 0) {
        char *se = json_dumps(json_object_get(r->record, "setup_error"), JSON_COMPACT);
        snprintf(detail, dlen, "the sandbox did not start: %s", se ? se : "?");
        free(se);
        return ERROR;
    }
    bool line_contained = v && strstr(v, " CONTAINED") && !strstr(v, " ESCAPED ");
    bool line_escaped = v && strstr(v, " ESCAPED");
    switch (p->how) {
    case JUDGE_LINE:
    case JUDGE_DAEMON:
        if (!v) {
            snprintf(detail, dlen, "no verdict line; reason %s, exit %lld: %.300s",
                     reason ? reason : "?", exit_code, r->err);
            return ESCAPED;
        }
        if (!line_contained || !reason || strcmp(reason, "exited") != 0 || exit_code != 0) {
            snprintf(detail, dlen, "%s (reason %s, exit %lld)", pd, reason ? reason : "?",
                     exit_code);
            return ESCAPED;
        }
        if (p->how == JUDGE_DAEMON) {
            char strays[4096] = "";
            if (stray_processes_settled(strays, sizeof(strays))) {
                snprintf(detail, dlen, "the daemon outlived the sandbox: %s", strays);
                return ESCAPED;
            }
            snprintf(detail, dlen, "%s; gone from the host after the run", pd);
            return CONTAINED;
        }
        snprintf(detail, dlen, "%s", pd);
        return CONTAINED;
    case JUDGE_PIDS:
        if (!reason || strcmp(reason, "pids") != 0 || !line_contained) {
            snprintf(detail, dlen, "reason %s, expected pids; %s", reason ? reason : "?",
                     v ? pd : "no verdict line");
            return ESCAPED;
        }
        snprintf(detail, dlen, "reason pids; %s", pd);
        return CONTAINED;
    case JUDGE_OOM:
        if (!reason || strcmp(reason, "oom") != 0 || line_escaped) {
            snprintf(detail, dlen, "reason %s, expected oom; %s", reason ? reason : "?",
                     v ? pd : "no verdict line");
            return ESCAPED;
        }
        snprintf(detail, dlen, "reason oom, memory_peak_bytes %lld",
                 rec_int(r->record, "memory_peak_bytes", -1));
        return CONTAINED;
    case JUDGE_OUTPUT: {
        json_t *tr = json_object_get(r->record, "output_truncated");
        bool ok = reason && strcmp(reason, "exited") == 0 && exit_code == 0 && json_is_true(tr) &&
                  r->out_bytes <= OUTPUT_CAP && r->out_bytes > 0;
        snprintf(detail, dlen,
                 "job wrote 12 MiB; %lld bytes passed through (cap %lld); output_truncated %s; "
                 "stdout_bytes %lld; reason %s, exit %lld",
                 r->out_bytes, OUTPUT_CAP, json_is_true(tr) ? "true" : "false",
                 rec_int(r->record, "stdout_bytes", -1), reason ? reason : "?", exit_code);
        return ok ? CONTAINED : ESCAPED;
    }
    case JUDGE_TIMEOUT: {
        long long wall = rec_int(r->record, "wall_ms", -1);
        bool term_first = strstr(r->err, "PROBE-NOTE got SIGTERM") != NULL;
        char strays[4096] = "";
        int n = stray_processes_settled(strays, sizeof(strays));
        bool ok = reason && strcmp(reason, "timeout") == 0 && term_first &&
                  wall >= 2000 + KILL_GRACE_MS - 200 && wall <= 2000 + KILL_GRACE_MS + 5000 &&
                  n == 0;
        snprintf(detail, dlen, "reason %s, wall_ms %lld (timeout 2 s + grace %d s), SIGTERM %s%s%s",
                 reason ? reason : "?", wall, KILL_GRACE_MS / 1000,
                 term_first ? "seen first" : "NOT seen", n ? "; survivors: " : "; none survived",
                 n ? strays : "");
        return ok ? CONTAINED : ESCAPED;
    }
    }
    return ERROR;
}

/* ---- main ---- */

static bool selected(const char *only, int n) {
    if (!only)
        return true;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", only);
    for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
        if (atoi(s) == n)
            return true;
    }
    return false;
}

static int usage(void) {
    fprintf(stderr, "usage: security_runner --jobcell PATH --probes DIR --helper PATH "
                    "[--init PATH] [--only N,N,...] [--run-option ARG]... [--verbose]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0)
            verbose = true;
        else if (i + 1 >= argc)
            return usage();
        else if (strcmp(argv[i], "--jobcell") == 0)
            jobcell_bin = argv[++i];
        else if (strcmp(argv[i], "--probes") == 0)
            probe_dir = argv[++i];
        else if (strcmp(argv[i], "--helper") == 0)
            helper_bin = argv[++i];
        else if (strcmp(argv[i], "--init") == 0)
            init_bin = argv[++i];
        else if (strcmp(argv[i], "--only") == 0)
            only = argv[++i];
        else if (strcmp(argv[i], "--runtime-proxy") == 0)
            runtime_proxy = argv[++i];
        else if (strcmp(argv[i], "--runtime-dir") == 0)
            runtime_dir = argv[++i];
        else if (strcmp(argv[i], "--runtime-canary") == 0)
            runtime_canary = argv[++i];
        else if (strcmp(argv[i], "--run-option") == 0 && n_extra < 16)
            extra_opts[n_extra++] = argv[++i];
        else
            return usage();
    }
    if (!jobcell_bin || !probe_dir || !helper_bin)
        return usage();
    /* a bind source must be an absolute path */
    char *probes_abs = realpath(probe_dir, NULL);
    if (!probes_abs) {
        fprintf(stderr, "security_runner: %s: %s\n", probe_dir, strerror(errno));
        return 2;
    }
    probe_dir = probes_abs;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (geteuid() != 0) {
        printf("security suite: skipped, `jobcell run` needs root\n");
        return 77;
    }
    /* is `jobcell run` part of this build? */
    pid_t h = fork();
    if (h == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1), dup2(null, 2);
        execl(jobcell_bin, jobcell_bin, "run", "--help", (char *)NULL);
        _exit(127);
    }
    int hs = 0;
    waitpid(h, &hs, 0);
    if (!WIFEXITED(hs) || WEXITSTATUS(hs) != 0) {
        printf("security suite: skipped, `%s run --help` fails: no sandbox in this build\n",
               jobcell_bin);
        return 77;
    }
    /* orphans of the runs come back to us, and we reap them */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    unsigned char rnd[4];
    if (jc_random_bytes(rnd, sizeof(rnd), NULL) < 0)
        return 1;
    snprintf(tag, sizeof(tag), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
    ssize_t nl = readlink("/proc/self/ns/pid", host_pidns, sizeof(host_pidns) - 1);
    if (nl <= 0)
        return 1;
    host_pidns[nl] = '\0';
    /* item 40: the caller holds a secret that must not reach the job */
    char canary[64];
    snprintf(canary, sizeof(canary), "canary-%s", tag);
    setenv("JC_SECURITY_CANARY", canary, 1);

    if (create_cgroup_parent() < 0) {
        fprintf(stderr, "security_runner: cannot create the cgroup parent %s: %s\n", cg_parent,
                strerror(errno));
        return 1;
    }
    host_state before;
    snapshot(&before);
    if (start_listener() < 0 || start_unix_listener() < 0 || create_host_marks() < 0 ||
        install_suid_helpers() < 0) {
        fprintf(stderr, "security_runner: setup failed: %s\n", strerror(errno));
        remove_suid_helpers();
        remove_host_marks();
        char ignored[256] = "";
        remove_cgroup_parent(ignored, sizeof(ignored));
        return 1;
    }
    start_sentinel();
    char sum_jobcell[65], sum_init[65], sum_after[65];
    checksum(jobcell_bin, sum_jobcell);
    checksum(init_bin, sum_init);

    int contained = 0, total = 0, not_probed = 0;
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        const probe_def *p = &probes[i];
        if (!selected(only, p->n))
            continue;
        if (NEEDS_RUNTIME(p) && (!runtime_proxy || !runtime_dir || !runtime_canary)) {
            printf("NOT PROBED %d %s: needs the runtime API (run the suite through "
                   "runtime_probes.py, which starts jobcell-api)\n",
                   p->n, p->name);
            not_probed++;
            continue;
        }
        struct stat canary_before = {0};
        if (p->n == 45 && stat(runtime_canary, &canary_before) < 0) {
            fprintf(stderr, "security_runner: %s: %s\n", runtime_canary, strerror(errno));
            return 1;
        }
        total++;
        run_out r;
        char detail[8192] = "";
        verdict v = ERROR;
        if (run_jobcell(p, &r) < 0) {
            snprintf(detail, sizeof(detail), "cannot start jobcell: %s", strerror(errno));
        } else {
            v = judge_probe(p, &r, detail, sizeof(detail));
            /* host-side conditions of the items that have them */
            if (v == CONTAINED && p->n == 3 && !sentinel_alive()) {
                v = ESCAPED;
                snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                         "; a host process died");
            }
            if (v == CONTAINED && p->n == 25 &&
                (!listener_untouched(listen_fd) || !listener_untouched(unix_listen_fd))) {
                v = ESCAPED;
                snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                         "; the host listener got a connection");
            }
            if (p->n == 45) {
                /* the secret's atime was set far in the past: any read moves it */
                struct stat after;
                bool unread = stat(runtime_canary, &after) == 0 &&
                              after.st_atim.tv_sec == canary_before.st_atim.tv_sec;
                if (!unread)
                    v = ESCAPED;
                snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                         "; the host secret file was %s", unread ? "not read (atime)" : "READ");
            }
            if (p->n == 30) {
                checksum(jobcell_bin, sum_after);
                bool same = strcmp(sum_after, sum_jobcell) == 0;
                if (init_bin) {
                    char s2[65];
                    checksum(init_bin, s2);
                    same &= strcmp(s2, sum_init) == 0;
                }
                if (!same)
                    v = ESCAPED;
                snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                         "; host binaries %s", same ? "unchanged (sha256)" : "CHANGED");
            }
            if (verbose || v != CONTAINED)
                fprintf(stderr, "--- probe %d stderr:\n%.4000s\n", p->n, r.err);
            run_free(&r);
        }
        /* reap whatever the run left to us (subreaper) */
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        printf("PROBE %d %s %s %s\n", p->n, p->name,
               v == CONTAINED ? "CONTAINED"
               : v == ESCAPED ? "ESCAPED"
                              : "ERROR",
               detail);
        contained += v == CONTAINED;
    }
    if (sentinel > 0) {
        kill(sentinel, SIGKILL); /* our own child */
        waitpid(sentinel, NULL, 0);
    }
    close(listen_fd);
    close(unix_listen_fd);
    remove_host_marks();
    remove_suid_helpers();
    bool clean = host_clean(&before);
    host_state_free(&before);
    char cg_detail[2048] = "";
    if (!remove_cgroup_parent(cg_detail, sizeof(cg_detail))) {
        printf("HOST cgroup parent FAIL %s\n", cg_detail);
        clean = false;
    }
    printf("%d of %d probes contained", contained, total);
    if (not_probed)
        printf(" (%d not probed: no runtime API)", not_probed);
    printf("\n");
    return contained == total && clean ? 0 : 1;
}
