/* test_cgroup.c: the cgroup module against fake cgroupfs trees (v1, hybrid, v2).
 *
 * A fake tree is a temp directory laid out like /sys/fs/cgroup plus a fake
 * /proc/self/cgroup. The after_mkdir hook plays the kernel: it fills each new group with
 * the interface files a real one would have, so a missing file is a real error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jobcell/cleanup.h"
#include "orchestrator/sandbox/cgroup.h"

typedef struct fake {
    char root[256];
    char proc[300];
    bool v2;          /* pure v2 tree */
    bool no_memsw;    /* v1 without swap accounting */
    bool no_pids_max; /* a broken kernel: pids.max missing */
    bool no_kill;     /* v2 before 5.14: no cgroup.kill */
    bool no_peak;     /* v2 before 5.19: no memory.peak */
    jc_cgroup_opts opts;
} fake;

static void put(const char *dir, const char *file, const char *content) {
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* The content of dir/file, trailing newline removed; "<absent>" when it does not exist. */
static const char *get(const char *dir, const char *file) {
    static char buf[4096];
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, file);
    FILE *f = fopen(p, "r");
    if (!f)
        return "<absent>";
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    return buf;
}

static bool exists(const char *path) {
    return access(path, F_OK) == 0;
}

static void mkdirs(const char *root, const char *rel) {
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    }
    mkdir(p, 0755);
}

static void fake_kernel_files(const char *path, void *data) {
    fake *f = data;
    put(path, "cgroup.procs", "");
    if (f->v2) {
        put(path, "cgroup.subtree_control", "");
        put(path, "cgroup.controllers", "cpu memory pids");
        put(path, "cgroup.events", "populated 0\nfrozen 0\n");
        put(path, "cgroup.freeze", "0");
        if (!f->no_kill)
            put(path, "cgroup.kill", "");
        put(path, "memory.max", "max");
        put(path, "memory.swap.max", "max");
        put(path, "memory.oom.group", "0");
        put(path, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
        put(path, "memory.current", "0");
        if (!f->no_peak)
            put(path, "memory.peak", "0");
        if (!f->no_pids_max)
            put(path, "pids.max", "max");
        put(path, "pids.events", "max 0\n");
        put(path, "cpu.max", "max 100000");
        put(path, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
        return;
    }
    char hier[4096];
    snprintf(hier, sizeof(hier), "%s/", f->root);
    const char *rel = path + strlen(hier);
    put(path, "tasks", "");
    put(path, "notify_on_release", "0");
    if (strncmp(rel, "memory/", 7) == 0) {
        put(path, "memory.limit_in_bytes", "9223372036854771712");
        if (!f->no_memsw)
            put(path, "memory.memsw.limit_in_bytes", "9223372036854771712");
        put(path, "memory.swappiness", "60");
        put(path, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
        put(path, "memory.max_usage_in_bytes", "0");
        put(path, "memory.failcnt", "0");
    } else if (strncmp(rel, "pids/", 5) == 0) {
        if (!f->no_pids_max)
            put(path, "pids.max", "max");
        put(path, "pids.events", "max 0\n");
    } else if (strncmp(rel, "cpu,cpuacct/", 12) == 0) {
        put(path, "cpu.cfs_quota_us", "-1");
        put(path, "cpu.cfs_period_us", "100000");
        put(path, "cpuacct.usage", "0");
    } else if (strncmp(rel, "cpu/", 4) == 0) {
        put(path, "cpu.cfs_quota_us", "-1");
        put(path, "cpu.cfs_period_us", "100000");
    } else if (strncmp(rel, "cpuacct/", 8) == 0) {
        put(path, "cpuacct.usage", "0");
    } else if (strncmp(rel, "freezer/", 8) == 0) {
        put(path, "freezer.state", "THAWED");
    }
}

/* rmdir of a fake group: drop its files first (cgroupfs would take the directory as is);
 * like the kernel, refuse while a pid is listed in cgroup.procs. */
static int fake_remove(const char *path, void *data) {
    (void)data;
    const char *procs = get(path, "cgroup.procs");
    if (strcmp(procs, "") != 0 && strcmp(procs, "<absent>") != 0) {
        errno = EBUSY;
        return -1;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_type == DT_REG) {
                char p[4096];
                snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    return rmdir(path);
}

static void rm_rf(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        rm_rf(p);
    }
    closedir(d);
    rmdir(path);
}

/* A hybrid tree like this host's: v1 memory, pids, cpu, cpuacct (apart), freezer, an
 * empty unified hierarchy; memory at a non-root own path. */
static fake *fake_v1(bool comount) {
    fake *f = calloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/jc-cgtest-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->proc, sizeof(f->proc), "%s/proc-self-cgroup", f->root);
    const char *ctrls[] = {"memory", "pids", "freezer"};
    for (size_t i = 0; i < 3; i++)
        mkdirs(f->root, ctrls[i]);
    mkdirs(f->root, "memory/process_api/abc");
    mkdirs(f->root, "unified");
    mkdirs(f->root, "systemd");
    char d[512];
    snprintf(d, sizeof(d), "%s/unified", f->root);
    put(d, "cgroup.controllers", "");
    if (comount) {
        mkdirs(f->root, "cpu,cpuacct");
        put(f->root, "proc-self-cgroup",
            "9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/process_api/abc\n"
            "2:cpu,cpuacct:/\n0::/\n");
    } else {
        mkdirs(f->root, "cpu");
        mkdirs(f->root, "cpuacct");
        put(f->root, "proc-self-cgroup",
            "9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/process_api/abc\n"
            "2:cpuacct:/\n1:cpu:/\n0::/\n");
    }
    f->opts = (jc_cgroup_opts){.proc_self_cgroup = f->proc,
                               .after_mkdir = fake_kernel_files,
                               .remove_dir = fake_remove,
                               .data = f};
    return f;
}

/* A pure v2 tree; this process alone in its own group /user.slice/s1. */
static fake *fake_v2(void) {
    fake *f = calloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/jc-cgtest-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    f->v2 = true;
    snprintf(f->proc, sizeof(f->proc), "%s/proc-self-cgroup", f->root);
    put(f->root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids");
    put(f->root, "cgroup.subtree_control", "cpu memory pids");
    put(f->root, "proc-self-cgroup", "0::/user.slice/s1\n");
    mkdirs(f->root, "user.slice/s1");
    char own[512], pid[32];
    snprintf(own, sizeof(own), "%s/user.slice/s1", f->root);
    fake_kernel_files(own, f);
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    put(own, "cgroup.procs", pid);
    f->opts = (jc_cgroup_opts){.proc_self_cgroup = f->proc,
                               .after_mkdir = fake_kernel_files,
                               .remove_dir = fake_remove,
                               .data = f};
    return f;
}

static void fake_free(fake *f) {
    rm_rf(f->root);
    free(f);
}

static const char *at(fake *f, const char *rel) {
    static char p[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof(p[k]), "%s/%s", f->root, rel);
    return p[k];
}

static const jc_cgroup_limits lim = {.memory_bytes = 64 << 20, .pids = 50, .cpu = 0.5};

/* A child that waits to be killed; the caller reaps it. */
static pid_t spawn_sleeper(void) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 600; i++)
            sleep(1);
        _exit(0);
    }
    return pid;
}

static void assert_killed(pid_t pid) {
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
}

/* ---- v1 / hybrid ---- */

static void v1_create_sets_limits(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_a1", &lim, &f->opts, &err);
    assert_non_null(cg);
    const char *mem = at(f, "memory/process_api/abc/jobcell/exe_a1");
    assert_string_equal(jc_cgroup_path(cg, "memory"), mem);
    assert_string_equal(get(mem, "memory.limit_in_bytes"), "67108864");
    /* swap 0: memory+swap limited to the same value */
    assert_string_equal(get(mem, "memory.memsw.limit_in_bytes"), "67108864");
    assert_string_equal(get(mem, "memory.swappiness"), "60");
    assert_string_equal(get(at(f, "pids/jobcell/exe_a1"), "pids.max"), "50");
    assert_string_equal(get(at(f, "cpu/jobcell/exe_a1"), "cpu.cfs_quota_us"), "50000");
    assert_string_equal(get(at(f, "cpu/jobcell/exe_a1"), "cpu.cfs_period_us"), "100000");
    assert_string_equal(jc_cgroup_path(cg, "cpuacct"), at(f, "cpuacct/jobcell/exe_a1"));
    assert_string_equal(jc_cgroup_path(cg, "freezer"), at(f, "freezer/jobcell/exe_a1"));
    assert_true(exists(at(f, "cpuacct/jobcell/exe_a1")));
    /* hybrid with an empty unified side: nothing there, and no CLONE_INTO_CGROUP */
    assert_false(exists(at(f, "unified/jobcell")));
    assert_false(exists(at(f, "systemd/jobcell")));
    assert_int_equal(jc_cgroup_v2_fd(cg), -1);
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    assert_false(exists(mem));
    assert_false(exists(at(f, "pids/jobcell/exe_a1")));
    assert_false(exists(at(f, "cpu/jobcell/exe_a1")));
    assert_false(exists(at(f, "cpuacct/jobcell/exe_a1")));
    assert_false(exists(at(f, "freezer/jobcell/exe_a1")));
    assert_true(exists(at(f, "memory/process_api/abc/jobcell"))); /* the parent stays */
    fake_free(f);
}

static void v1_no_swap_accounting_sets_swappiness(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    f->no_memsw = true;
    jc_err err = {0};
    jc_cgroup_limits l = {.memory_bytes = 16 << 20, .pids = 0, .cpu = 0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_b", &l, &f->opts, &err);
    assert_non_null(cg);
    const char *mem = at(f, "memory/process_api/abc/jobcell/exe_b");
    assert_string_equal(get(mem, "memory.limit_in_bytes"), "16777216");
    assert_string_equal(get(mem, "memory.memsw.limit_in_bytes"), "<absent>");
    assert_string_equal(get(mem, "memory.swappiness"), "0");
    assert_string_equal(get(at(f, "pids/jobcell/exe_b"), "pids.max"), "max");
    assert_string_equal(get(at(f, "cpu/jobcell/exe_b"), "cpu.cfs_quota_us"), "-1");
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v1_comounted_cpu_cpuacct_is_one_hierarchy(void **state) {
    (void)state;
    fake *f = fake_v1(true);
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_c", &lim, &f->opts, &err);
    assert_non_null(cg);
    const char *cpu = at(f, "cpu,cpuacct/jobcell/exe_c");
    assert_string_equal(jc_cgroup_path(cg, "cpu"), cpu);
    assert_string_equal(jc_cgroup_path(cg, "cpuacct"), cpu);
    assert_string_equal(get(cpu, "cpu.cfs_quota_us"), "50000");
    put(cpu, "cpuacct.usage", "7000000\n");
    jc_cgroup_stats st;
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), 0);
    assert_int_equal(st.cpu_usec, 7000);
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    assert_false(exists(cpu));
    fake_free(f);
}

static void v1_stats(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_d", &lim, &f->opts, &err);
    assert_non_null(cg);
    jc_cgroup_stats st;
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), 0);
    assert_false(st.oom);
    assert_false(st.pids_max_hit);
    assert_int_equal(st.memory_peak_bytes, 0);
    assert_int_equal(st.cpu_usec, 0);
    const char *mem = jc_cgroup_path(cg, "memory");
    put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    put(mem, "memory.max_usage_in_bytes", "12345678\n");
    put(jc_cgroup_path(cg, "pids"), "pids.events", "max 3\n");
    put(jc_cgroup_path(cg, "cpuacct"), "cpuacct.usage", "5000999\n");
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), 0);
    assert_true(st.oom);
    assert_true(st.pids_max_hit);
    assert_int_equal(st.memory_peak_bytes, 12345678);
    assert_int_equal(st.cpu_usec, 5000);
    /* a kernel without the oom_kill counter: failcnt stands in */
    put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
    put(mem, "memory.failcnt", "0\n");
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), 0);
    assert_false(st.oom);
    put(mem, "memory.failcnt", "4\n");
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), 0);
    assert_true(st.oom);
    /* a garbled file is an error naming it */
    put(mem, "memory.max_usage_in_bytes", "lots\n");
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
    assert_non_null(strstr(err.msg, "memory.max_usage_in_bytes"));
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v1_add_pid_writes_every_hierarchy(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_e", &lim, &f->opts, &err);
    assert_non_null(cg);
    assert_int_equal(jc_cgroup_add_pid(cg, 4242, &err), 0);
    const char *ctrls[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(get(jc_cgroup_path(cg, ctrls[i]), "cgroup.procs"), "4242");
    for (size_t i = 0; i < 5; i++)
        put(jc_cgroup_path(cg, ctrls[i]), "cgroup.procs", "");
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v1_kill_all_freezes_kills_thaws(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_f", &lim, &f->opts, &err);
    assert_non_null(cg);
    pid_t a = spawn_sleeper(), b = spawn_sleeper();
    char procs[64];
    snprintf(procs, sizeof(procs), "%d\n%d\n", (int)a, (int)b);
    const char *fz = jc_cgroup_path(cg, "freezer");
    put(fz, "cgroup.procs", procs);
    assert_int_equal(jc_cgroup_kill_all(cg, &err), 0);
    assert_killed(a);
    assert_killed(b);
    assert_string_equal(get(fz, "freezer.state"), "THAWED");
    put(fz, "cgroup.procs", "");
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v1_destroy_kills_leftovers(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_g", &lim, &f->opts, &err);
    assert_non_null(cg);
    pid_t a = spawn_sleeper();
    char procs[32];
    snprintf(procs, sizeof(procs), "%d\n", (int)a);
    const char *fz = jc_cgroup_path(cg, "freezer");
    char fzcopy[4096];
    snprintf(fzcopy, sizeof(fzcopy), "%s", fz);
    put(fzcopy, "cgroup.procs", procs);
    /* the fake kernel keeps listing the pid after it died, so the freezer group stays
     * busy: destroy kills, retries for a bounded time, then reports that group */
    assert_int_equal(jc_cgroup_destroy(cg, &err), -1);
    assert_int_equal(err.code, JC_E_SYS);
    assert_int_equal(err.sys_errno, EBUSY);
    assert_non_null(strstr(err.msg, "freezer/jobcell/exe_g"));
    assert_killed(a);
    assert_false(exists(at(f, "memory/process_api/abc/jobcell/exe_g")));
    assert_true(exists(fzcopy));
    /* once the group is empty, a reconcile removes it */
    put(fzcopy, "cgroup.procs", "");
    assert_int_equal(jc_cgroup_reconcile_opts(f->root, NULL, &f->opts, &err), 1);
    assert_false(exists(fzcopy));
    fake_free(f);
}

static void v1_missing_file_named_and_nothing_left(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    f->no_pids_max = true;
    jc_err err = {0};
    assert_null(jc_cgroup_create_opts(f->root, NULL, "exe_h", &lim, &f->opts, &err));
    assert_int_equal(err.code, JC_E_SYS);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_non_null(strstr(err.msg, "pids/jobcell/exe_h/pids.max"));
    assert_false(exists(at(f, "memory/process_api/abc/jobcell/exe_h")));
    assert_false(exists(at(f, "pids/jobcell/exe_h")));
    fake_free(f);
}

static void rejects_bad_names_conflicts_and_missing_controllers(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    jc_err err = {0};
    assert_null(jc_cgroup_create_opts(f->root, NULL, "../../etc", &lim, &f->opts, &err));
    assert_int_equal(err.code, JC_E_INVALID);
    assert_null(jc_cgroup_create_opts(f->root, NULL, "", &lim, &f->opts, &err));
    assert_int_equal(err.code, JC_E_INVALID);
    assert_null(jc_cgroup_create_opts(f->root, "/a/../b", "exe_i", &lim, &f->opts, &err));
    assert_int_equal(err.code, JC_E_INVALID);
    assert_null(jc_cgroup_create_opts(f->root, "relative", "exe_i", &lim, &f->opts, &err));
    assert_int_equal(err.code, JC_E_INVALID);
    jc_cgroup_limits nan_cpu = lim;
    nan_cpu.cpu = 0.0 / 0.0;
    assert_null(jc_cgroup_create_opts(f->root, NULL, "exe_i", &nan_cpu, &f->opts, &err));
    assert_string_equal(err.field, "resources.cpu");

    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_i", &lim, &f->opts, &err);
    assert_non_null(cg);
    assert_null(jc_cgroup_create_opts(f->root, NULL, "exe_i", &lim, &f->opts, &err));
    assert_int_equal(err.code, JC_E_CONFLICT);
    /* the failed second create must not remove the first one's groups */
    assert_true(exists(at(f, "memory/process_api/abc/jobcell/exe_i")));
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);

    put(f->root, "proc-self-cgroup", "8:pids:/\n0::/\n"); /* no memory hierarchy */
    assert_null(jc_cgroup_create_opts(f->root, NULL, "exe_j", &lim, &f->opts, &err));
    assert_int_equal(err.code, JC_E_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "memory controller"));
    put(f->root, "proc-self-cgroup", "garbage\n");
    assert_null(jc_cgroup_create_opts(f->root, NULL, "exe_j", &lim, &f->opts, &err));
    assert_int_equal(err.code, JC_E_INVALID);
    fake_free(f);
}

static void v1_parent_override(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    const char *ctrls[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};
    for (size_t i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "%s/jobs.slice", ctrls[i]);
        mkdirs(f->root, rel);
    }
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, "/jobs.slice", "exe_k", &lim, &f->opts, &err);
    assert_non_null(cg);
    assert_string_equal(jc_cgroup_path(cg, "memory"), at(f, "memory/jobs.slice/jobcell/exe_k"));
    assert_string_equal(jc_cgroup_path(cg, "pids"), at(f, "pids/jobs.slice/jobcell/exe_k"));
    assert_false(exists(at(f, "memory/process_api/abc/jobcell")));
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v1_reconcile_kills_and_removes_leftovers(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    /* what a crashed daemon leaves: groups in some hierarchies, one with a live process */
    const char *left[] = {"memory/process_api/abc/jobcell/exe_x", "pids/jobcell/exe_x",
                          "freezer/jobcell/exe_x", "cpu/jobcell/exe_y", "pids/jobcell/exe_y"};
    for (size_t i = 0; i < 5; i++) {
        mkdirs(f->root, left[i]);
        fake_kernel_files(at(f, left[i]), f);
    }
    mkdirs(f->root, "pids/jobcell/not-ours.d"); /* not an execution name: left alone */
    pid_t a = spawn_sleeper();
    char procs[32];
    snprintf(procs, sizeof(procs), "%d\n", (int)a);
    put(at(f, "freezer/jobcell/exe_x"), "cgroup.procs", procs);
    /* the fake kernel cannot notice the death: let the kill clear the list */
    jc_err err = {0};
    assert_int_equal(jc_cgroup_reconcile_opts(f->root, NULL, &f->opts, &err), -1);
    assert_killed(a);
    assert_int_equal(err.sys_errno, EBUSY);
    put(at(f, "freezer/jobcell/exe_x"), "cgroup.procs", "");
    assert_int_equal(jc_cgroup_reconcile_opts(f->root, NULL, &f->opts, &err), 1);
    for (size_t i = 0; i < 5; i++)
        assert_false(exists(at(f, left[i])));
    assert_true(exists(at(f, "pids/jobcell/not-ours.d")));
    fake_free(f);
}

static void reconcile_leaves_live_groups_alone(void **state) {
    (void)state;
    fake *f = fake_v1(false);
    jc_err err = {0};
    /* a live handle (this process, or another jobcell sharing the hierarchy) */
    jc_cgroup *live = jc_cgroup_create_opts(f->root, NULL, "exe_live", &lim, &f->opts, &err);
    assert_non_null(live);
    /* and a leftover of a crashed owner: no lock held on it */
    mkdirs(f->root, "pids/jobcell/exe_dead");
    fake_kernel_files(at(f, "pids/jobcell/exe_dead"), f);
    assert_int_equal(jc_cgroup_reconcile_opts(f->root, NULL, &f->opts, &err), 1);
    assert_false(exists(at(f, "pids/jobcell/exe_dead")));
    const char *ctrls[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};
    for (size_t i = 0; i < 5; i++)
        assert_true(exists(jc_cgroup_path(live, ctrls[i])));
    char mem[4096];
    snprintf(mem, sizeof(mem), "%s", jc_cgroup_path(live, "memory"));
    assert_int_equal(jc_cgroup_destroy(live, &err), 0);
    assert_false(exists(mem));
    fake_free(f);
}

/* ---- v2 ---- */

static void v2_create_moves_self_and_enables_controllers(void **state) {
    (void)state;
    fake *f = fake_v2();
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_v1", &lim, &f->opts, &err);
    assert_non_null(cg);
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    assert_string_equal(get(at(f, "user.slice/s1/daemon"), "cgroup.procs"), pid);
    assert_string_equal(get(at(f, "user.slice/s1"), "cgroup.subtree_control"),
                        "+memory +pids +cpu");
    assert_string_equal(get(at(f, "user.slice/s1/jobcell"), "cgroup.subtree_control"),
                        "+memory +pids +cpu");
    const char *d = at(f, "user.slice/s1/jobcell/exe_v1");
    assert_string_equal(jc_cgroup_path(cg, "memory"), d);
    assert_string_equal(jc_cgroup_path(cg, "freezer"), d);
    assert_string_equal(get(d, "memory.max"), "67108864");
    assert_string_equal(get(d, "memory.swap.max"), "0");
    assert_string_equal(get(d, "memory.oom.group"), "1");
    assert_string_equal(get(d, "pids.max"), "50");
    assert_string_equal(get(d, "cpu.max"), "50000 100000");
    int fd = jc_cgroup_v2_fd(cg);
    assert_true(fd >= 0);
    struct stat a, b;
    assert_int_equal(fstat(fd, &a), 0);
    assert_int_equal(stat(d, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    assert_false(exists(d));

    /* as the kernel would now show it: the daemon lives in s1/daemon and s1 has its
     * controllers; the next group still goes under s1/jobcell, not s1/daemon/jobcell */
    put(f->root, "proc-self-cgroup", "0::/user.slice/s1/daemon\n");
    put(at(f, "user.slice/s1"), "cgroup.procs", "");
    put(at(f, "user.slice/s1"), "cgroup.subtree_control", "memory pids cpu");
    put(at(f, "user.slice/s1/jobcell"), "cgroup.subtree_control", "memory pids cpu");
    jc_cgroup_limits nolimit = {0};
    cg = jc_cgroup_create_opts(f->root, NULL, "exe_v2", &nolimit, &f->opts, &err);
    assert_non_null(cg);
    d = at(f, "user.slice/s1/jobcell/exe_v2");
    assert_string_equal(jc_cgroup_path(cg, "pids"), d);
    assert_false(exists(at(f, "user.slice/s1/daemon/jobcell")));
    assert_string_equal(get(d, "memory.max"), "max");
    assert_string_equal(get(d, "pids.max"), "max");
    assert_string_equal(get(d, "cpu.max"), "max 100000");
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v2_refuses_when_others_share_own_group(void **state) {
    (void)state;
    fake *f = fake_v2();
    char procs[64];
    snprintf(procs, sizeof(procs), "1\n%d\n", (int)getpid());
    put(at(f, "user.slice/s1"), "cgroup.procs", procs);
    jc_err err = {0};
    assert_null(jc_cgroup_create_opts(f->root, NULL, "exe_v3", &lim, &f->opts, &err));
    assert_int_equal(err.code, JC_E_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "Delegate=yes"));
    assert_non_null(strstr(err.msg, "cgroup_parent"));
    assert_false(exists(at(f, "user.slice/s1/daemon")));
    assert_false(exists(at(f, "user.slice/s1/jobcell")));
    fake_free(f);
}

static void v2_parent_override(void **state) {
    (void)state;
    fake *f = fake_v2();
    mkdirs(f->root, "jobs");
    fake_kernel_files(at(f, "jobs"), f);
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, "/jobs", "exe_v4", &lim, &f->opts, &err);
    assert_non_null(cg);
    assert_string_equal(jc_cgroup_path(cg, "cpu"), at(f, "jobs/jobcell/exe_v4"));
    assert_string_equal(get(at(f, "jobs"), "cgroup.subtree_control"), "+memory +pids +cpu");
    assert_false(exists(at(f, "user.slice/s1/daemon")));
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v2_stats_with_and_without_memory_peak(void **state) {
    (void)state;
    fake *f = fake_v2();
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_v5", &lim, &f->opts, &err);
    assert_non_null(cg);
    const char *d = jc_cgroup_path(cg, "memory");
    put(d, "memory.events", "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 1\n");
    put(d, "memory.peak", "999424\n");
    put(d, "pids.events", "max 0\n");
    put(d, "cpu.stat", "usage_usec 777\nuser_usec 700\nsystem_usec 77\n");
    jc_cgroup_stats st;
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), 0);
    assert_true(st.oom);
    assert_false(st.pids_max_hit);
    assert_int_equal(st.memory_peak_bytes, 999424);
    assert_int_equal(st.cpu_usec, 777);
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);

    f->no_peak = true; /* kernel < 5.19: the largest sampled memory.current */
    cg = jc_cgroup_create_opts(f->root, NULL, "exe_v6", &lim, &f->opts, &err);
    assert_non_null(cg);
    d = jc_cgroup_path(cg, "memory");
    put(d, "pids.events", "max 5\n");
    put(d, "memory.current", "4096\n");
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), 0);
    assert_int_equal(st.memory_peak_bytes, 4096);
    assert_true(st.pids_max_hit);
    assert_false(st.oom);
    put(d, "memory.current", "1024\n");
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), 0);
    assert_int_equal(st.memory_peak_bytes, 4096);
    put(d, "memory.current", "8192\n");
    assert_int_equal(jc_cgroup_read_stats(cg, &st, &err), 0);
    assert_int_equal(st.memory_peak_bytes, 8192);
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v2_kill_uses_cgroup_kill(void **state) {
    (void)state;
    fake *f = fake_v2();
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_v7", &lim, &f->opts, &err);
    assert_non_null(cg);
    assert_int_equal(jc_cgroup_kill_all(cg, &err), 0);
    assert_string_equal(get(jc_cgroup_path(cg, "memory"), "cgroup.kill"), "1");
    assert_string_equal(get(jc_cgroup_path(cg, "memory"), "cgroup.freeze"), "0");
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v2_kill_without_cgroup_kill_freezes(void **state) {
    (void)state;
    fake *f = fake_v2();
    f->no_kill = true; /* kernel < 5.14 */
    jc_err err = {0};
    jc_cgroup *cg = jc_cgroup_create_opts(f->root, NULL, "exe_v8", &lim, &f->opts, &err);
    assert_non_null(cg);
    const char *d = jc_cgroup_path(cg, "memory");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", d);
    pid_t a = spawn_sleeper();
    char procs[32];
    snprintf(procs, sizeof(procs), "%d\n", (int)a);
    put(dir, "cgroup.procs", procs);
    put(dir, "cgroup.events", "populated 1\nfrozen 1\n");
    assert_int_equal(jc_cgroup_kill_all(cg, &err), 0);
    assert_killed(a);
    assert_string_equal(get(dir, "cgroup.freeze"), "0"); /* thawed again */
    assert_string_equal(get(dir, "cgroup.kill"), "<absent>");
    put(dir, "cgroup.procs", "");
    assert_int_equal(jc_cgroup_destroy(cg, &err), 0);
    fake_free(f);
}

static void v2_reconcile(void **state) {
    (void)state;
    fake *f = fake_v2();
    jc_err err = {0};
    put(f->root, "proc-self-cgroup", "0::/user.slice/s1/daemon\n");
    mkdirs(f->root, "user.slice/s1/daemon");
    mkdirs(f->root, "user.slice/s1/jobcell/exe_old1");
    mkdirs(f->root, "user.slice/s1/jobcell/exe_old2/stray"); /* nested: removed too */
    fake_kernel_files(at(f, "user.slice/s1/jobcell/exe_old1"), f);
    fake_kernel_files(at(f, "user.slice/s1/jobcell/exe_old2"), f);
    assert_int_equal(jc_cgroup_reconcile_opts(f->root, NULL, &f->opts, &err), 2);
    assert_false(exists(at(f, "user.slice/s1/jobcell/exe_old1")));
    assert_false(exists(at(f, "user.slice/s1/jobcell/exe_old2")));
    assert_true(exists(at(f, "user.slice/s1/jobcell")));
    assert_true(exists(at(f, "user.slice/s1/daemon")));
    fake_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v1_create_sets_limits),
        cmocka_unit_test(v1_no_swap_accounting_sets_swappiness),
        cmocka_unit_test(v1_comounted_cpu_cpuacct_is_one_hierarchy),
        cmocka_unit_test(v1_stats),
        cmocka_unit_test(v1_add_pid_writes_every_hierarchy),
        cmocka_unit_test(v1_kill_all_freezes_kills_thaws),
        cmocka_unit_test(v1_destroy_kills_leftovers),
        cmocka_unit_test(v1_missing_file_named_and_nothing_left),
        cmocka_unit_test(rejects_bad_names_conflicts_and_missing_controllers),
        cmocka_unit_test(v1_parent_override),
        cmocka_unit_test(v1_reconcile_kills_and_removes_leftovers),
        cmocka_unit_test(reconcile_leaves_live_groups_alone),
        cmocka_unit_test(v2_create_moves_self_and_enables_controllers),
        cmocka_unit_test(v2_refuses_when_others_share_own_group),
        cmocka_unit_test(v2_parent_override),
        cmocka_unit_test(v2_stats_with_and_without_memory_peak),
        cmocka_unit_test(v2_kill_uses_cgroup_kill),
        cmocka_unit_test(v2_kill_without_cgroup_kill_freezes),
        cmocka_unit_test(v2_reconcile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
