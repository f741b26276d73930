/* seccomp_compile: what a seccomp profile costs.
 *
 * For each shipped profile: the time to parse, resolve and compile it (median and p95 of
 * 200 runs; the orchestrator does this once per start or SIGHUP, never per job) and the
 * length of its BPF program; then the cost the filter adds to every system call a job
 * makes (getppid in a loop, in a child without a filter and in one under the filter).
 *
 * Usage: seccomp_compile PROFILE_DIR */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jobcell/io.h"
#include "jobcell/seccomp.h"

#define RUNS 200
#define CALLS 500000
#define ROUNDS 7

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ns per getppid() in a child, under f (NULL = no filter). */
static double syscall_ns(const jc_seccomp_filter *f) {
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (f) {
            struct sock_fprog prog = {.len = (unsigned short)f->len, .filter = f->insns};
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                _exit(1);
        }
        int64_t t0 = jc_time_mono_ns();
        for (int i = 0; i < CALLS; i++)
            syscall(SYS_getppid);
        double ns = (double)(jc_time_mono_ns() - t0) / CALLS;
        _exit(write(fds[1], &ns, sizeof(ns)) == sizeof(ns) ? 0 : 1);
    }
    close(fds[1]);
    double ns = -1;
    if (read(fds[0], &ns, sizeof(ns)) != sizeof(ns))
        ns = -1;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return ns;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: seccomp_compile PROFILE_DIR\n");
        return 2;
    }
    static const char *const names[] = {"default", "strict", "network"};
    jc_seccomp_filter keep = {0};
    printf("%-8s %12s %12s %10s\n", "profile", "median_us", "p95_us", "bpf_insns");
    for (size_t p = 0; p < 3; p++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.json", argv[1], names[p]);
        int64_t t[RUNS];
        size_t len = 0;
        for (int i = 0; i < RUNS; i++) {
            jc_seccomp_filter f;
            jc_err err = {0};
            int64_t t0 = jc_time_mono_ns();
            if (jc_seccomp_compile_file(path, &f, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            t[i] = jc_time_mono_ns() - t0;
            len = f.len;
            if (p == 0 && i == 0)
                keep = f;
            else
                jc_seccomp_filter_free(&f);
        }
        qsort(t, RUNS, sizeof(t[0]), cmp64);
        printf("%-8s %12.1f %12.1f %10zu\n", names[p], t[RUNS / 2] / 1000.0,
               t[RUNS * 95 / 100] / 1000.0, len);
    }
    /* Alternate the two and keep each one's best round: the machine is shared, and the
     * best round is the one least disturbed by others. */
    double bare = 1e18, filtered = 1e18;
    for (int r = 0; r < ROUNDS; r++) {
        double b = syscall_ns(NULL), f = syscall_ns(&keep);
        if (b > 0 && b < bare)
            bare = b;
        if (f > 0 && f < filtered)
            filtered = f;
    }
    printf("getppid, best of %d rounds of %d calls: %.1f ns without a filter, %.1f ns under "
           "default.json (%+.1f ns per system call)\n",
           ROUNDS, CALLS, bare, filtered, filtered - bare);
    jc_seccomp_filter_free(&keep);
    return 0;
}
