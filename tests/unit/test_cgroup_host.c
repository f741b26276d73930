/* test_cgroup_host.c: the cgroup module on this host's real /sys/fs/cgroup (root only).
 *
 * Everything lives under a parent of its own, /jobcell-test-<pid> in every hierarchy, so
 * that a reconcile here can never touch the groups of a real daemon or of other tests.
 * The parent is removed at the end, even after a failure (group teardown). Exit 77 (ctest
 * "skipped") when not root or when the host has no cgroup v1 memory hierarchy. */
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orchestrator/sandbox/cgroup.h"

#define ROOT "/sys/fs/cgroup"
static const char *const hier[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};
static char parent[64];

static const char *get(const char *dir, const char *file) {
    static char buf[256];
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

static bool exists(const char *p) {
    return access(p, F_OK) == 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Count jobcell/<anything> left under the test parent in any hierarchy. */
static int leftovers(bool report) {
    int n = 0;
    for (size_t i = 0; i < 5; i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s%s/jobcell", ROOT, hier[i], parent);
        DIR *d = opendir(p);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_type == DT_DIR && e->d_name[0] != '.') {
                if (report)
                    fprintf(stderr, "left behind: %s/%s\n", p, e->d_name);
                n++;
            }
        }
        closedir(d);
    }
    return n;
}

static int setup(void **state) {
    (void)state;
    for (size_t i = 0; i < 5; i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s%s", ROOT, hier[i], parent);
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            fprintf(stderr, "mkdir %s: %s\n", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    jc_err err = {0};
    if (jc_cgroup_reconcile(ROOT, parent, &err) < 0)
        fprintf(stderr, "teardown reconcile: %s\n", err.msg);
    for (size_t i = 0; i < 5; i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s%s/jobcell", ROOT, hier[i], parent);
        rmdir(p);
        snprintf(p, sizeof(p), "%s/%s%s", ROOT, hier[i], parent);
        if (rmdir(p) < 0 && errno != ENOENT) {
            fprintf(stderr, "rmdir %s: %s\n", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* In a forked child: stdio away from the test's pipes, so that a child left by a failed
 * assertion never keeps the caller (ctest, a shell pipe) waiting. */
static void detach_stdio(void) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0), dup2(null, 1), dup2(null, 2);
    }
}

/* Wait (bounded) until cgroup.procs of dir is empty. */
static bool drained(const char *dir) {
    for (int i = 0; i < 400; i++) {
        if (strcmp(get(dir, "cgroup.procs"), "") == 0)
            return true;
        sleep_ms(5);
    }
    return false;
}

static void limits_accounting_kill_destroy(void **state) {
    (void)state;
    jc_err err = {0};
    jc_cgroup_limits l = {.memory_bytes = 32 << 20, .pids = 20, .cpu = 0.25};
    jc_cgroup *cg = jc_cgroup_create(ROOT, parent, "exe_hosttest1", &l, &err);
    if (!cg)
        fail_msg("create: %s", err.msg);
    assert_int_equal(jc_cgroup_v2_fd(cg), -1); /* v1 controllers: no CLONE_INTO_CGROUP */
    char mem[256], pids[256], cpu[256], acct[256], frz[256];
    snprintf(mem, sizeof(mem), "%s/memory%s/jobcell/exe_hosttest1", ROOT, parent);
    snprintf(pids, sizeof(pids), "%s/pids%s/jobcell/exe_hosttest1", ROOT, parent);
    snprintf(cpu, sizeof(cpu), "%s/cpu%s/jobcell/exe_hosttest1", ROOT, parent);
    snprintf(acct, sizeof(acct), "%s/cpuacct%s/jobcell/exe_hosttest1", ROOT, parent);
    snprintf(frz, sizeof(frz), "%s/freezer%s/jobcell/exe_hosttest1", ROOT, parent);
    assert_string_equal(jc_cgroup_path(cg, "memory"), mem);
    assert_string_equal(jc_cgroup_path(cg, "cpuacct"), acct);
    assert_string_equal(get(mem, "memory.limit_in_bytes"), "33554432");
    if (exists(mem) && strcmp(get(mem, "memory.memsw.limit_in_bytes"), "<absent>") != 0)
        assert_string_equal(get(mem, "memory.memsw.limit_in_bytes"), "33554432");
    else
        assert_string_equal(get(mem, "memory.swappiness"), "0");
    assert_string_equal(get(pids, "pids.max"), "20");
    assert_string_equal(get(cpu, "cpu.cfs_quota_us"), "25000");
    assert_string_equal(get(cpu, "cpu.cfs_period_us"), "100000");
    assert_string_equal(get(frz, "freezer.state"), "THAWED");

    /* a child that, once inside, burns cpu, touches 8 MiB, and forks until pids.max */
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        detach_stdio();
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        volatile unsigned long x = 0;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        do {
            for (int i = 0; i < 100000; i++)
                x += (unsigned long)i;
            clock_gettime(CLOCK_MONOTONIC, &b);
        } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 60);
        char *m = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            _exit(1);
        memset(m, 1, 8 << 20);
        int forked = 0;
        for (int i = 0; i < 40; i++) {
            pid_t p = fork();
            if (p == 0) {
                for (;;)
                    pause();
            }
            if (p < 0)
                break;
            forked++;
        }
        unsigned char n = (unsigned char)forked;
        if (write(done[1], &n, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    if (jc_cgroup_add_pid(cg, child, &err) < 0)
        fail_msg("add_pid: %s", err.msg);
    char want[32];
    snprintf(want, sizeof(want), "%d", (int)child);
    const char *dirs[] = {mem, pids, cpu, acct, frz};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(get(dirs[i], "cgroup.procs"), want);
    assert_int_equal(write(go[1], "g", 1), 1);
    unsigned char forked = 0;
    assert_int_equal(read(done[0], &forked, 1), 1);
    assert_int_equal(forked, 19); /* 20 tasks: the child and 19 more */

    jc_cgroup_stats st;
    if (jc_cgroup_read_stats(cg, &st, &err) < 0)
        fail_msg("stats: %s", err.msg);
    assert_true(st.pids_max_hit);
    assert_false(st.oom);
    assert_true(st.memory_peak_bytes >= 8 << 20);
    assert_true(st.memory_peak_bytes <= 32 << 20);
    assert_true(st.cpu_usec >= 10000); /* at least 10 of the 60 ms burnt (quota 25%) */

    if (jc_cgroup_kill_all(cg, &err) < 0)
        fail_msg("kill_all: %s", err.msg);
    int ws = 0;
    assert_int_equal(waitpid(child, &ws, 0), child);
    assert_true(WIFSIGNALED(ws));
    assert_int_equal(WTERMSIG(ws), SIGKILL);
    /* the grandchildren (reparented to our subreaper) die too */
    for (int i = 0; i < 19; i++) {
        pid_t p = waitpid(-1, &ws, 0);
        assert_true(p > 0);
        assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    }
    assert_true(drained(pids));
    assert_string_equal(get(frz, "freezer.state"), "THAWED");
    if (jc_cgroup_destroy(cg, &err) < 0)
        fail_msg("destroy: %s", err.msg);
    for (size_t i = 0; i < 5; i++)
        assert_false(exists(dirs[i]));
    assert_int_equal(leftovers(true), 0);
    close(go[0]), close(go[1]), close(done[0]), close(done[1]);
}

static void memory_hog_is_oom_killed(void **state) {
    (void)state;
    jc_err err = {0};
    jc_cgroup_limits l = {.memory_bytes = 16 << 20, .pids = 10, .cpu = 0};
    jc_cgroup *cg = jc_cgroup_create(ROOT, parent, "exe_hosttest2", &l, &err);
    if (!cg)
        fail_msg("create: %s", err.msg);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        detach_stdio();
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        char *m = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            _exit(2);
        for (size_t i = 0; i < (64u << 20); i += 4096)
            m[i] = 1;
        _exit(3); /* not reached: 64 MiB cannot fit in 16 */
    }
    if (jc_cgroup_add_pid(cg, child, &err) < 0)
        fail_msg("add_pid: %s", err.msg);
    assert_int_equal(write(go[1], "g", 1), 1);
    int ws = 0;
    assert_int_equal(waitpid(child, &ws, 0), child);
    assert_true(WIFSIGNALED(ws));
    assert_int_equal(WTERMSIG(ws), SIGKILL);
    jc_cgroup_stats st;
    if (jc_cgroup_read_stats(cg, &st, &err) < 0)
        fail_msg("stats: %s", err.msg);
    assert_true(st.oom);
    assert_false(st.pids_max_hit);
    assert_true(st.memory_peak_bytes >= 15 << 20);
    if (jc_cgroup_destroy(cg, &err) < 0)
        fail_msg("destroy: %s", err.msg);
    assert_int_equal(leftovers(true), 0);
    close(go[0]), close(go[1]);
}

static void reconcile_removes_what_a_crash_left(void **state) {
    (void)state;
    /* a "daemon" that creates a group, puts a process in it and dies without cleanup */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t daemon = fork();
    assert_true(daemon >= 0);
    if (daemon == 0) {
        jc_err err = {0};
        jc_cgroup_limits l = {.memory_bytes = 16 << 20, .pids = 10, .cpu = 0.1};
        jc_cgroup *cg = jc_cgroup_create(ROOT, parent, "exe_leaked", &l, &err);
        if (!cg)
            _exit(1);
        pid_t job = fork();
        if (job == 0) {
            /* exec, as jobcell-init is exec'd: the group's lock fds are O_CLOEXEC and must
             * not stay held by the job, or the group would look alive after the crash */
            detach_stdio();
            execl("/bin/sleep", "sleep", "600", (char *)NULL);
            _exit(127);
        }
        if (job < 0 || jc_cgroup_add_pid(cg, job, &err) < 0)
            _exit(2);
        int v = (int)job;
        if (write(ready[1], &v, sizeof(v)) != sizeof(v))
            _exit(3);
        _exit(0); /* the crash: no destroy */
    }
    close(ready[1]);
    int job = 0;
    assert_int_equal(read(ready[0], &job, sizeof(job)), sizeof(job));
    close(ready[0]);
    int ws = 0;
    assert_int_equal(waitpid(daemon, &ws, 0), daemon);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    char frz[256];
    snprintf(frz, sizeof(frz), "%s/freezer%s/jobcell/exe_leaked", ROOT, parent);
    assert_true(exists(frz));
    assert_int_equal(kill(job, 0), 0); /* the orphan lives on */
    assert_int_equal(leftovers(false), 5);

    /* a live sandbox of a running jobcell beside it: the reconcile must spare it */
    jc_err err = {0};
    jc_cgroup_limits l = {.memory_bytes = 16 << 20, .pids = 10, .cpu = 0};
    jc_cgroup *live = jc_cgroup_create(ROOT, parent, "exe_live", &l, &err);
    if (!live)
        fail_msg("create: %s", err.msg);
    pid_t busy = fork();
    if (busy == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        detach_stdio();
        for (;;)
            pause();
    }
    assert_true(busy > 0);
    if (jc_cgroup_add_pid(live, busy, &err) < 0)
        fail_msg("add_pid: %s", err.msg);

    if (jc_cgroup_reconcile(ROOT, parent, &err) < 0)
        fail_msg("reconcile: %s", err.msg);
    assert_int_equal(kill(busy, 0), 0);
    assert_true(exists(jc_cgroup_path(live, "freezer")));
    assert_int_equal(leftovers(false), 5); /* exe_live in each hierarchy, exe_leaked gone */
    /* the orphan was reparented to us (subreaper) and killed */
    assert_int_equal(waitpid(job, &ws, 0), job);
    assert_true(WIFSIGNALED(ws));
    assert_int_equal(WTERMSIG(ws), SIGKILL);
    assert_false(exists(frz));
    if (jc_cgroup_destroy(live, &err) < 0)
        fail_msg("destroy: %s", err.msg);
    assert_int_equal(waitpid(busy, &ws, 0), busy);
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    assert_int_equal(leftovers(true), 0);
}

int main(void) {
    if (geteuid() != 0 || access(ROOT "/memory/memory.limit_in_bytes", F_OK) != 0 ||
        access(ROOT "/freezer", F_OK) != 0) {
        fprintf(stderr, "test_cgroup_host: needs root and cgroup v1 (memory, freezer)\n");
        return 77;
    }
    snprintf(parent, sizeof(parent), "/jobcell-test-%d", (int)getpid());
    /* orphans of the "crashed daemon" must come back to us to be reaped */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limits_accounting_kill_destroy),
        cmocka_unit_test(memory_hog_is_oom_killed),
        cmocka_unit_test(reconcile_removes_what_a_crash_left),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    /* the last word: nothing of ours in any hierarchy */
    for (size_t i = 0; i < 5; i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s%s", ROOT, hier[i], parent);
        if (exists(p)) {
            fprintf(stderr, "left behind: %s\n", p);
            rc = 1;
        }
    }
    return rc;
}
