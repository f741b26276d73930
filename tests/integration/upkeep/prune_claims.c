/* A prune of 200,000 finished jobs while claims run: every claim stays correct.
 *
 * The finished jobs are written straight into the SQLite file (one transaction, seconds
 * instead of minutes through the API); the prune then runs in a thread exactly as the
 * server's prune task does (jc_prune_run: batches, pauses), while this thread keeps
 * submitting jobs and claiming, starting and completing them through the store. Checked:
 * each claim is an execution that was queued, is claimed once, and completes; the prune
 * removes exactly the 200,000 old jobs and nothing that finished during the test. */
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

#define OLD_JOBS 200000
#define MAX_NEW 40000
#define DAY 86400000LL

static int failures;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

typedef struct new_job {
    char job[JC_ID_MAX], exe[JC_ID_MAX];
    bool claimed;
} new_job;

static int submit(jc_store *st, new_job *nj, int64_t now) {
    jc_err err;
    if (jc_random_id("job_", nj->job, JC_ID_MAX, &err) < 0 ||
        jc_random_id("exe_", nj->exe, JC_ID_MAX, &err) < 0)
        return -1;
    json_t *spec = json_pack("{s:s, s:s}", "runtime", "sh", "script", "true");
    jc_job_new in = {.job_id = nj->job,
                     .execution_id = nj->exe,
                     .owner = "alice",
                     .name = "new",
                     .spec = spec,
                     .created_at = now,
                     .timeout_s = 60};
    char *replay = NULL;
    int rc = jc_store_job_create(st, &in, &replay, &err);
    json_decref(spec);
    if (rc < 0)
        fprintf(stderr, "submit: %s\n", err.msg);
    return rc;
}

/* The index of exe among the submitted jobs, njobs when absent. Claims come in submit
 * order (same priority), so the search starts at the oldest job not yet claimed. */
static size_t find_job(const new_job *jobs, size_t njobs, size_t first_open, const char *exe) {
    for (size_t k = 0; k < njobs; k++) {
        size_t j = (first_open + k) % njobs;
        if (strcmp(jobs[j].exe, exe) == 0)
            return j;
    }
    return njobs;
}

int main(void) {
    char dir[] = "/tmp/jc-prune-claims-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[128];
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
    if (jc_fill_finished_jobs(path, OLD_JOBS, now - 60 * DAY) < 0)
        return 1;
    printf("filled %d finished jobs in %" PRId64 " ms\n", OLD_JOBS, jc_time_mono_ms() - t0);

    jc_api_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    if (jc_config_init(&jc_api_config_schema, &cfg, &err) < 0)
        return 1;
    cfg.prune_pause_ms = 5;
    jc_pruner p = {.st = st, .cfg = &cfg, .now = now};
    new_job *jobs = calloc(MAX_NEW, sizeof(*jobs));
    size_t njobs = 0, claims = 0, completed = 0, first_open = 0;
    int64_t max_claim_us = 0;
    pthread_t th;
    t0 = jc_time_mono_ms();
    pthread_create(&th, NULL, jc_prune_main, &p);
    /* Submit and claim until the prune is over (and at least 200 claims), bounded. */
    while ((!p.done || claims < 200) && njobs < MAX_NEW && jc_time_mono_ms() - t0 < 240000) {
        for (int k = 0; k < 2 && njobs < MAX_NEW; k++)
            if (submit(st, &jobs[njobs], jc_time_now_ms()) == 0)
                njobs++;
        jc_claim *c = NULL;
        size_t n = 0;
        int64_t due;
        int64_t c0 = jc_time_mono_ns();
        int rc = jc_store_claim(st, "orc-a", 2, jc_time_now_ms(), 30000, &c, &n, &due, &err);
        int64_t us = (jc_time_mono_ns() - c0) / 1000;
        if (us > max_claim_us)
            max_claim_us = us;
        CHECK(rc == 0, "claim failed: %s", err.msg);
        for (size_t i = 0; i < n; i++) {
            claims++;
            size_t j = find_job(jobs, njobs, first_open, c[i].exe.id);
            CHECK(j < njobs, "claimed %s, which was never submitted here", c[i].exe.id);
            if (j == njobs)
                continue;
            CHECK(!jobs[j].claimed, "%s claimed twice", c[i].exe.id);
            jobs[j].claimed = true;
            CHECK(c[i].exe.status == JC_EXE_CLAIMED, "status %d", c[i].exe.status);
            CHECK(strcmp(c[i].exe.orchestrator_id, "orc-a") == 0, "orchestrator");
            int64_t exp;
            jc_exe_status status;
            json_t *res = json_pack("{s:s, s:i}", "reason", "exited", "exit_code", 0);
            CHECK(jc_store_start(st, c[i].exe.id, "orc-a", c[i].exe.lease_token, jc_time_now_ms(),
                                 30000, &exp, &err) == 0,
                  "start: %s", err.msg);
            CHECK(jc_store_complete(st, c[i].exe.id, "orc-a", c[i].exe.lease_token, res,
                                    jc_time_now_ms(), &status, &err) == 0 &&
                      status == JC_EXE_SUCCEEDED,
                  "complete: %s", err.msg);
            json_decref(res);
            completed++;
        }
        jc_claims_free(c, n);
        while (first_open < njobs && jobs[first_open].claimed)
            first_open++;
        usleep(5000); /* a steady stream of work, not a flood */
    }
    pthread_join(th, NULL);
    int64_t elapsed = jc_time_mono_ms() - t0;
    CHECK(p.rc == 0, "prune failed: %s", p.err.msg);
    CHECK(p.rep.removed.rows[JC_KIND_JOBS] == OLD_JOBS, "pruned %" PRId64 " jobs, want %d",
          p.rep.removed.rows[JC_KIND_JOBS], OLD_JOBS);
    CHECK(p.rep.removed.executions == OLD_JOBS, "pruned executions %" PRId64,
          p.rep.removed.executions);
    CHECK(p.rep.removed.rows[JC_KIND_LOGS] == OLD_JOBS, "pruned log chunks %" PRId64,
          p.rep.removed.rows[JC_KIND_LOGS]);
    CHECK(claims >= 200, "only %zu claims ran during the prune", claims);
    CHECK(completed == claims, "completed %zu of %zu", completed, claims);
    /* every new job is still there, claimed ones succeeded */
    size_t missing = 0;
    for (size_t j = 0; j < njobs; j++) {
        jc_execution x;
        if (jc_store_execution_get(st, jobs[j].exe, &x, &err) < 0) {
            missing++;
            continue;
        }
        if (jobs[j].claimed)
            CHECK(x.status == JC_EXE_SUCCEEDED, "%s status %d", x.id, x.status);
        else
            CHECK(x.status == JC_EXE_QUEUED, "%s status %d", x.id, x.status);
        jc_execution_clear(&x);
    }
    CHECK(missing == 0, "%zu new executions disappeared", missing);
    jc_store_sizes sz;
    CHECK(jc_store_measure(st, &sz, &err) == 0, "measure: %s", err.msg);
    CHECK(sz.rows[JC_KIND_JOBS] == (int64_t)njobs, "jobs left %" PRId64 ", want %zu",
          sz.rows[JC_KIND_JOBS], njobs);
    printf("pruned %" PRId64 " jobs in %" PRId64 " batches, %" PRId64 " ms; meanwhile %zu submits,"
           " %zu claims (longest %" PRId64 " us)\n",
           p.rep.removed.rows[JC_KIND_JOBS], p.rep.batches, elapsed, njobs, claims, max_claim_us);
    free(jobs);
    jc_store_close(st);
    jc_config_free(&jc_api_config_schema, &cfg);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
