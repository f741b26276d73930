/* sandbox_start: how long it takes to start a sandbox and run /bin/true in it.
 *
 *   sandbox_start JOBCELL [RUNS] [PROFILE]     (root; RUNS ≥ 200 by default)
 *
 * Alternates, after a warm-up, in one run:
 *   A  `jobcell run --profile PROFILE -- /bin/true`           (the whole CLI)
 *   B  `bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp /bin/true`
 *   C  the engine in this process (what the daemon pays per job)
 *   D  the engine in this process, without a network namespace
 *   E  bwrap as B with --share-net
 *   F  the engine in this process with an egress network (veth pair, /30 lease, nftables
 *      chain, addresses, route, DNS registration, and their removal): only with
 *      JC_BENCH_EGRESS=1, which bench/sandbox_start_egress.sh sets after moving this
 *      program into a network namespace of its own (egress changes the firewall and needs
 *      IPv4 forwarding: never in the machine's own namespace)
 * and prints medians, p95, the ratio A/B, and the engine's own per-step breakdown
 * (medians over the C runs). jobcell does more than bwrap here: cgroups with limits, a
 * generated /etc, masked /proc, tmpfs /workspace, seccomp, a uid range, no capabilities. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "jobcell/io.h"
#include "jobcell/seccomp.h"

extern char **environ;

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t percentile(int64_t *v, size_t n, double p) {
    qsort(v, n, sizeof(*v), cmp_i64);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/* Spawn argv with stdio on /dev/null; return the wall time in µs, -1 on failure. */
static int64_t time_spawn(char *const argv[]) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int64_t t0 = jc_time_mono_ns();
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int64_t us = (jc_time_mono_ns() - t0) / 1000;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? us : -1;
}

static const char *const TRUE_ARGV[] = {"/bin/true", NULL};

static jc_egress *bench_egress; /* F: NULL unless JC_BENCH_EGRESS=1 */
static char bench_state[64];    /* its lease directory, removed at the end */
static jc_egress_rule bench_allow[2];

static int64_t time_engine(jc_sandbox_engine *e, const jc_seccomp_filter *filter, int i,
                           jc_sandbox_timings *t) {
    char id[40];
    snprintf(id, sizeof(id), "exe_bench%012d", i);
    jc_sandbox_spec s;
    jc_sandbox_spec_init(&s);
    s.exe_id = id;
    s.argv = TRUE_ARGV;
    s.filter = filter;
    if (bench_egress) {
        s.egress = bench_egress;
        s.egress_allow = bench_allow;
        s.n_egress_allow = 2;
    }
    jc_result r;
    jc_err err = {0};
    int64_t t0 = jc_time_mono_ns();
    if (jc_sandbox_run(e, &s, NULL, &r, t, &err) < 0 || r.reason != JC_REASON_EXITED ||
        r.exit_code != 0) {
        fprintf(stderr, "engine run failed: %s %s\n", err.msg, r.setup_error.message);
        return -1;
    }
    return (jc_time_mono_ns() - t0) / 1000;
}

typedef struct series {
    const char *name;
    int64_t *v;
    size_t n;
} series;

static void report(series *s) {
    if (s->n == 0) {
        printf("  %-52s (no successful run)\n", s->name);
        return;
    }
    int64_t med = percentile(s->v, s->n, 0.5), p95 = percentile(s->v, s->n, 0.95);
    printf("  %-52s median %7.2f ms   p95 %7.2f ms   (n=%zu)\n", s->name, (double)med / 1000.0,
           (double)p95 / 1000.0, s->n);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sandbox_start JOBCELL [RUNS] [PROFILE]\n");
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "sandbox_start: needs root\n");
        return 77;
    }
    size_t runs = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 200;
    const char *profile = argc > 3 ? argv[3] : "default";
    size_t warmup = 20;
    if (runs < 1)
        runs = 1;

    /* the same profile for the CLI and the in-process engine */
    jc_seccomp_filter filter = {0};
    const jc_seccomp_filter *fp = NULL;
    jc_err err = {0};
    if (strcmp(profile, "none") != 0) {
        char *dir = jc_seccomp_default_dir();
        char *path = jc_seccomp_locate(dir, profile, &err);
        free(dir);
        if (!path || jc_seccomp_compile_file(path, &filter, &err) < 0) {
            fprintf(stderr, "profile %s: %s (pass 'none' or a file)\n", profile, err.msg);
            free(path);
            return 1;
        }
        free(path);
        fp = &filter;
    }
    jc_sandbox_engine *engine = jc_sandbox_engine_new(NULL, &err);
    if (!engine) {
        fprintf(stderr, "engine: %s\n", err.msg);
        return 1;
    }

    char *jobcell_argv[] = {argv[1], "run", "--profile", (char *)profile, "--", "/bin/true", NULL};
    char *bwrap_argv[] = {"/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/",    "/",
                          "--proc",         "/proc",         "--dev",     "/dev", "--tmpfs",
                          "/tmp",           "/bin/true",     NULL};
    char *bwrap_net_argv[] = {"/usr/bin/bwrap",
                              "--unshare-all",
                              "--share-net",
                              "--ro-bind",
                              "/",
                              "/",
                              "--proc",
                              "/proc",
                              "--dev",
                              "/dev",
                              "--tmpfs",
                              "/tmp",
                              "/bin/true",
                              NULL};
    series s[6] = {
        {"A jobcell run -- /bin/true", calloc(runs, 8), 0},
        {"B bwrap --unshare-all ... /bin/true", calloc(runs, 8), 0},
        {"C engine in-process (the daemon's cost)", calloc(runs, 8), 0},
        {"D engine in-process, no network namespace", calloc(runs, 8), 0},
        {"E bwrap --unshare-all --share-net ...", calloc(runs, 8), 0},
        {"F engine in-process, egress network", calloc(runs, 8), 0},
    };
    int64_t *egress_steps = calloc(runs, 8), *egress_finish = calloc(runs, 8);
    size_t n_egress_steps = 0;
    const char *want_egress = getenv("JC_BENCH_EGRESS");
    size_t variants = 5;
    if (want_egress && !strcmp(want_egress, "1")) {
        /* on /run (tmpfs), like the real state directory */
        static char state[] = "/run/jc-bench-egress.XXXXXX";
        const char *resolvers[] = {"192.0.2.53"};
        if (!mkdtemp(state)) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(bench_state, sizeof(bench_state), "%s", state);
        jc_egress_config ec = {.state_dir = state,
                               .dns_mode = JC_EGRESS_DNS_LOOP,
                               .resolvers = resolvers,
                               .n_resolvers = 1};
        if (!(bench_egress = jc_egress_new(&ec, &err)) ||
            jc_egress_rule_parse("198.51.100.10:80", &bench_allow[0], &err) < 0 ||
            jc_egress_rule_parse("www.example.com:443", &bench_allow[1], &err) < 0) {
            fprintf(stderr, "egress: %s\n", err.msg);
            return 1;
        }
        variants = 6;
    }
    enum { STEPS = 11 };
    int64_t *steps[STEPS];
    for (int k = 0; k < STEPS; k++)
        steps[k] = calloc(runs, 8);
    size_t nsteps = 0;
    int failed = 0;

    for (size_t i = 0; i < warmup + runs; i++) {
        bool keep = i >= warmup;
        int64_t v;
        /* rotate the order so that no variant always follows the same one */
        for (size_t k = 0; k < variants; k++) {
            size_t which = (i + k) % variants;
            jc_sandbox_timings t;
            switch (which) {
            case 0: v = time_spawn(jobcell_argv); break;
            case 1: v = time_spawn(bwrap_argv); break;
            case 2: {
                jc_egress *saved = bench_egress;
                bench_egress = NULL;
                jc_sandbox_bench_share_net = false;
                v = time_engine(engine, fp, (int)i, &t);
                bench_egress = saved;
                if (v >= 0 && keep) {
                    const int64_t *f = (const int64_t *)&t;
                    for (int st = 0; st < STEPS; st++)
                        steps[st][nsteps] = f[st];
                    nsteps++;
                }
                break;
            }
            case 3: {
                jc_egress *saved = bench_egress;
                bench_egress = NULL;
                jc_sandbox_bench_share_net = true;
                v = time_engine(engine, fp, (int)i, &t);
                jc_sandbox_bench_share_net = false;
                bench_egress = saved;
                break;
            }
            case 4: v = time_spawn(bwrap_net_argv); break;
            default: {
                jc_egress *saved = bench_egress;
                v = time_engine(engine, fp, (int)i, &t);
                if (v >= 0 && keep) {
                    egress_steps[n_egress_steps] = t.egress_us;
                    egress_finish[n_egress_steps++] = t.finish_us;
                }
                bench_egress = saved;
                break;
            }
            }
            if (v < 0) {
                failed++;
                fprintf(stderr, "run %zu of %s failed\n", i, s[which].name);
            } else if (keep)
                s[which].v[s[which].n++] = v;
        }
    }

    printf("sandbox start-up, %zu runs each after %zu warm-up, profile %s, alternating\n", runs,
           warmup, profile);
    int64_t med_a = s[0].n ? percentile(s[0].v, s[0].n, 0.5) : 0;
    int64_t med_b = s[1].n ? percentile(s[1].v, s[1].n, 0.5) : 0;
    int64_t med_d = s[3].n ? percentile(s[3].v, s[3].n, 0.5) : 0;
    int64_t med_e = s[4].n ? percentile(s[4].v, s[4].n, 0.5) : 0;
    int64_t med_c = s[2].n ? percentile(s[2].v, s[2].n, 0.5) : 0;
    for (size_t k = 0; k < variants; k++)
        report(&s[k]);
    if (variants == 6 && s[5].n && med_c > 0) {
        int64_t med_f = percentile(s[5].v, s[5].n, 0.5);
        printf("  egress adds (median F - median C): %.2f ms\n", (double)(med_f - med_c) / 1000.0);
        printf("  egress set-up in the engine (lease, nftables, veth, addresses, route, DNS): "
               "median %.2f ms, p95 %.2f ms\n",
               (double)percentile(egress_steps, n_egress_steps, 0.5) / 1000.0,
               (double)percentile(egress_steps, n_egress_steps, 0.95) / 1000.0);
        printf("  finish with egress (includes its removal): median %.2f ms\n",
               (double)percentile(egress_finish, n_egress_steps, 0.5) / 1000.0);
    }
    if (med_b > 0)
        printf("  ratio jobcell run / bwrap (medians): %.2f\n", (double)med_a / (double)med_b);
    if (med_b > 0)
        printf("  ratio engine / bwrap (medians): %.2f\n", (double)med_c / (double)med_b);
    if (med_e > 0)
        printf("  ratio engine without netns / bwrap --share-net (medians): %.2f\n",
               (double)med_d / (double)med_e);
    static const char *const names[STEPS] = {"cgroup (create, limits)",
                                             "clone3",
                                             "maps (cgroup.procs, id maps)",
                                             "spec (serialise, send)",
                                             "jc-init exec",
                                             "mounts",
                                             "network (lo, listener)",
                                             "child (caps, ids)",
                                             "seccomp + execve",
                                             "total to running",
                                             "finish (reap, figures, rmdir)"};
    printf("engine steps over %zu in-process runs (µs):      median      p95\n", nsteps);
    for (int k = 0; k < STEPS && nsteps; k++) {
        int64_t med = percentile(steps[k], nsteps, 0.5), p95 = percentile(steps[k], nsteps, 0.95);
        printf("  %-40s %8lld %8lld\n", names[k], (long long)med, (long long)p95);
    }
    if (failed)
        printf("failed runs: %d\n", failed);
    jc_sandbox_engine_free(engine);
    jc_egress_free(bench_egress);
    if (bench_state[0]) {
        char f[96];
        snprintf(f, sizeof(f), "%s/leases", bench_state);
        unlink(f);
        snprintf(f, sizeof(f), "%s/lock", bench_state);
        unlink(f);
        rmdir(bench_state);
    }
    if (fp)
        jc_seccomp_filter_free(&filter);
    return failed ? 1 : 0;
}
