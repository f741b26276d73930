/* bench/prune: claim latency with and without a concurrent prune of 1,000,000 finished
 * jobs, in the same run, on one SQLite store.
 *
 *   build/bench/prune [--jobs N] [--batch ROWS] [--pause MS] [--dir DIR]
 *
 * The finished jobs (one execution and one log chunk each, 60 days old) are written
 * straight into the file. Then a steady stream of work — submit, claim, start, complete,
 * one every 5 ms — runs through the store's operations (the code behind
 * POST /internal/v1/claims, without HTTP) for 20 s alone, then again while
 * jc_prune_run (the server's prune task, its configured batches and pauses) removes every
 * finished job. Prints p50/p99/max claim latency of both phases and the prune's pace. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "prune_fixture.h"
#include "jobcell/io.h"
#include "jobcell/random.h"
#include "maintenance.h"
#include "store.h"
#include "store_upkeep.h"

#define DAY 86400000LL

typedef struct samples {
    int64_t *us;
    size_t n, cap;
} samples;

static void add(samples *s, int64_t us) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->us = realloc(s->us, s->cap * sizeof(*s->us));
        if (!s->us)
            exit(1);
    }
    s->us[s->n++] = us;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, samples *s) {
    if (!s->n) {
        printf("%-28s no claims\n", what);
        return;
    }
    qsort(s->us, s->n, sizeof(*s->us), cmp);
    printf("%-28s claims %6zu  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, s->n,
           (double)s->us[s->n / 2] / 1000, (double)s->us[(s->n * 99) / 100] / 1000,
           (double)s->us[s->n - 1] / 1000);
}

/* One unit of work: submit, claim (timed), start, complete. */
static int work(jc_store *st, samples *s) {
    jc_err err;
    char job[JC_ID_MAX], exe[JC_ID_MAX];
    if (jc_random_id("job_", job, JC_ID_MAX, &err) < 0 ||
        jc_random_id("exe_", exe, JC_ID_MAX, &err) < 0)
        return -1;
    json_t *spec = json_pack("{s:s, s:s}", "runtime", "sh", "script", "true");
    jc_job_new in = {.job_id = job,
                     .execution_id = exe,
                     .owner = "bench",
                     .name = "b",
                     .spec = spec,
                     .created_at = jc_time_now_ms(),
                     .timeout_s = 60};
    char *replay = NULL;
    int rc = jc_store_job_create(st, &in, &replay, &err);
    json_decref(spec);
    if (rc < 0)
        return -1;
    jc_claim *c = NULL;
    size_t n = 0;
    int64_t due;
    int64_t t0 = jc_time_mono_ns();
    rc = jc_store_claim(st, "orc-bench", 1, jc_time_now_ms(), 30000, &c, &n, &due, &err);
    add(s, (jc_time_mono_ns() - t0) / 1000);
    if (rc < 0 || n != 1) {
        fprintf(stderr, "claim: %s (n=%zu)\n", rc < 0 ? err.msg : "nothing", n);
        jc_claims_free(c, n);
        return -1;
    }
    int64_t exp;
    jc_exe_status status;
    json_t *res = json_pack("{s:s, s:i}", "reason", "exited", "exit_code", 0);
    rc = jc_store_start(st, c[0].exe.id, "orc-bench", c[0].exe.lease_token, jc_time_now_ms(), 30000,
                        &exp, &err);
    if (rc == 0)
        rc = jc_store_complete(st, c[0].exe.id, "orc-bench", c[0].exe.lease_token, res,
                               jc_time_now_ms(), &status, &err);
    json_decref(res);
    jc_claims_free(c, n);
    return rc;
}

int main(int argc, char **argv) {
    long jobs = 1000000, batch = 500, pause = 20;
    const char *base = "/tmp";
    static const struct option opts[] = {{"jobs", required_argument, NULL, 'j'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"pause", required_argument, NULL, 'p'},
                                         {"dir", required_argument, NULL, 'd'},
                                         {0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': jobs = atol(optarg); break;
        case 'b': batch = atol(optarg); break;
        case 'p': pause = atol(optarg); break;
        case 'd': base = optarg; break;
        default:
            fprintf(stderr, "usage: prune [--jobs N] [--batch ROWS] [--pause MS] [--dir DIR]\n");
            return 2;
        }
    }
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/jc-bench-prune-XXXXXX", base);
    if (!mkdtemp(dir))
        return 1;
    char path[300];
    snprintf(path, sizeof(path), "%s/s.db", dir);
    jc_store_options o = {.path = path, .busy_timeout_ms = 10000, .kill_grace_s = 5};
    jc_err err;
    jc_store *st = jc_store_open(&o, &err);
    if (!st) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    int64_t now = jc_time_now_ms();
    int64_t t0 = jc_time_mono_ms();
    if (jc_fill_finished_jobs(path, jobs, now - 60 * DAY) < 0)
        return 1;
    printf("store: %ld finished jobs written in %.1f s\n", jobs,
           (double)(jc_time_mono_ms() - t0) / 1000);

    samples alone = {0}, during = {0};
    t0 = jc_time_mono_ms();
    while (jc_time_mono_ms() - t0 < 20000) {
        if (work(st, &alone) < 0)
            return 1;
        usleep(5000);
    }
    jc_api_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    if (jc_config_init(&jc_api_config_schema, &cfg, &err) < 0)
        return 1;
    cfg.prune_batch_rows = batch;
    cfg.prune_pause_ms = pause;
    jc_pruner p = {.st = st, .cfg = &cfg, .now = now};
    pthread_t th;
    t0 = jc_time_mono_ms();
    pthread_create(&th, NULL, jc_prune_main, &p);
    while (!p.done) {
        if (work(st, &during) < 0)
            return 1;
        usleep(5000);
    }
    pthread_join(th, NULL);
    int64_t took = jc_time_mono_ms() - t0;
    if (p.rc < 0) {
        fprintf(stderr, "prune: %s\n", p.err.msg);
        return 1;
    }
    printf("prune: %" PRId64 " jobs (%" PRId64 " executions, %" PRId64
           " log chunks) in %.1f s, %" PRId64 " batches of %ld, pause >= %ld ms; %.0f jobs/s;"
           " %" PRId64 " free pages given back\n",
           p.rep.removed.rows[JC_KIND_JOBS], p.rep.removed.executions,
           p.rep.removed.rows[JC_KIND_LOGS], (double)took / 1000, p.rep.batches, batch, pause,
           (double)p.rep.removed.rows[JC_KIND_JOBS] * 1000.0 / (double)(took ? took : 1),
           p.rep.freed_pages);
    report("claims, store alone:", &alone);
    report("claims, during the prune:", &during);
    free(alone.us);
    free(during.us);
    jc_store_close(st);
    jc_config_free(&jc_api_config_schema, &cfg);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
