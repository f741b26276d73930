/* The scheduler against a real SQLite store with an injected clock: every pass is
 * jc_scheduler_run(store, now), so hours pass in microseconds.
 *
 * Overlap skip/queue/allow, catchup none/one after a 3-hour outage, jitter stable and
 * bounded, end_at, and two stores on one database file racing for the same ticks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "runtime-api/schedules.h"
#include "tests/pg/pgtest.h"

/* 2026-11-19T00:00:00Z, a minute boundary. */
#define T0 1795046400000LL
#define MIN 60000LL
#define HOUR 3600000LL

typedef struct fixture {
    char dir[64];
    char path[512]; /* a SQLite file, or a PostgreSQL conninfo (JC_TEST_PG: test_scheduler_pg) */
    char pgdb[64];
    jc_store *st;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/jc-sched-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    if (jc_pgtest_cluster() && jc_pgtest_create(f->pgdb, f->path, sizeof(f->path)) < 0)
        return -1;
    jc_err err;
    jc_store_options o = {.path = f->path, .busy_timeout_ms = 10000, .kill_grace_s = 5};
    f->st = jc_store_open(&o, &err);
    if (!f->st)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    jc_store_close(f->st);
    if (f->pgdb[0])
        jc_pgtest_drop(f->pgdb);
    char p[600];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A schedule created at `now`, as POST /v1/schedules stores it. */
static void make(jc_store *st, const char *cron, jc_overlap ov, jc_catchup cu, int64_t jitter_s,
                 int64_t end_at, int64_t now, jc_schedule *s) {
    memset(s, 0, sizeof(*s));
    jc_err err;
    assert_int_equal(jc_random_id("sch_", s->id, sizeof(s->id), &err), 0);
    snprintf(s->owner, sizeof(s->owner), "alice");
    snprintf(s->name, sizeof(s->name), "test");
    snprintf(s->cron, sizeof(s->cron), "%s", cron);
    snprintf(s->timezone, sizeof(s->timezone), "UTC");
    s->job = json_pack("{s:s, s:s, s:i, s:i, s:{s:i}}", "runtime", "bash", "script", "true",
                       "priority", 0, "timeout_s", 60, "resources", "output_mb", 1);
    s->overlap = ov;
    s->catchup = cu;
    s->jitter_s = jitter_s;
    s->end_at = end_at;
    s->created_at = s->updated_at = now;
    assert_int_equal(jc_schedule_next(s, now, &s->next_tick, &s->next_run_at, &err), 0);
    assert_int_equal(jc_store_schedule_create(st, s, &err), 0);
}

static size_t runs_of(jc_store *st, const char *id, jc_schedule_run **out) {
    jc_schedule_run *v = NULL;
    size_t n = 0;
    jc_err err;
    assert_int_equal(jc_store_schedule_runs(st, id, 1000, &v, &n, &err), 0);
    if (out)
        *out = v;
    else
        free(v);
    return n;
}

static jc_scheduler_pass pass(jc_store *st, int64_t now) {
    jc_scheduler_pass p;
    jc_err err;
    if (jc_scheduler_run(st, now, &p, &err) < 0)
        fail_msg("scheduler pass: %s", err.msg);
    return p;
}

/* Claim every queued execution, start them: their runs are live. */
static void start_all(jc_store *st, jc_claim **claims, size_t *n) {
    jc_err err;
    int64_t next;
    assert_int_equal(
        jc_store_claim(st, "host-a", 100, jc_time_now_ms(), 60000, claims, n, &next, &err), 0);
    for (size_t i = 0; i < *n; i++) {
        int64_t exp;
        assert_int_equal(jc_store_start(st, (*claims)[i].exe.id, "host-a",
                                        (*claims)[i].exe.lease_token, jc_time_now_ms(), 60000, &exp,
                                        &err),
                         0);
    }
}

static void finish_all(jc_store *st, jc_claim *claims, size_t n) {
    jc_err err;
    json_t *res = json_pack("{s:s, s:i}", "reason", "exited", "exit_code", 0);
    for (size_t i = 0; i < n; i++) {
        jc_exe_status status;
        assert_int_equal(jc_store_complete(st, claims[i].exe.id, "host-a",
                                           claims[i].exe.lease_token, res, jc_time_now_ms(),
                                           &status, &err),
                         0);
        assert_int_equal(status, JC_EXE_SUCCEEDED);
    }
    json_decref(res);
    jc_claims_free(claims, n);
}

static void reload(jc_store *st, jc_schedule *s) {
    jc_err err;
    char id[JC_ID_MAX];
    snprintf(id, sizeof(id), "%s", s->id);
    jc_schedule_clear(s);
    assert_int_equal(jc_store_schedule_get(st, id, NULL, s, &err), 0);
}

static void test_fires_once_per_tick(void **state) {
    fixture *f = *state;
    jc_schedule s;
    make(f->st, "*/5 * * * *", JC_OVERLAP_ALLOW, JC_CATCHUP_NONE, 0, 0, T0 + 1000, &s);
    assert_int_equal(s.next_tick, T0 + 5 * MIN);
    /* Not yet due: nothing. */
    assert_int_equal(pass(f->st, T0 + 5 * MIN - 1).fired, 0);
    /* Due: one run, and a second pass at the same instant adds nothing. */
    assert_int_equal(pass(f->st, T0 + 5 * MIN).fired, 1);
    assert_int_equal(pass(f->st, T0 + 5 * MIN + 500).fired, 0);
    assert_int_equal(runs_of(f->st, s.id, NULL), 1);
    reload(f->st, &s);
    assert_int_equal(s.next_tick, T0 + 10 * MIN);
    assert_int_equal(s.last_tick, T0 + 5 * MIN);
    assert_int_equal(s.fired, 1);
    /* Every tick for an hour, one pass a second late each: 12 runs in all. */
    for (int64_t t = T0 + 10 * MIN; t <= T0 + 60 * MIN; t += 5 * MIN)
        assert_int_equal(pass(f->st, t + 1000).fired, 1);
    jc_schedule_run *runs;
    assert_int_equal(runs_of(f->st, s.id, &runs), 12);
    assert_int_equal(runs[0].tick, T0 + 60 * MIN); /* newest first */
    assert_int_equal(runs[11].tick, T0 + 5 * MIN);
    /* Each run's job knows its schedule and tick. */
    char sid[JC_ID_MAX];
    int64_t tick;
    bool found;
    jc_err err;
    assert_int_equal(jc_store_schedule_of_job(f->st, runs[3].job_id, sid, &tick, &found, &err), 0);
    assert_true(found);
    assert_string_equal(sid, s.id);
    assert_int_equal(tick, T0 + 45 * MIN);
    free(runs);
    jc_schedule_clear(&s);
}

static void test_overlap_skip(void **state) {
    fixture *f = *state;
    jc_schedule s;
    make(f->st, "* * * * *", JC_OVERLAP_SKIP, JC_CATCHUP_NONE, 0, 0, T0, &s);
    assert_int_equal(pass(f->st, T0 + MIN).fired, 1);
    jc_claim *claims;
    size_t n;
    start_all(f->st, &claims, &n);
    assert_int_equal(n, 1);
    /* Running: the next two ticks create nothing and are counted. */
    jc_scheduler_pass p = pass(f->st, T0 + 2 * MIN);
    assert_int_equal(p.fired, 0);
    assert_int_equal(p.skipped, 1);
    assert_int_equal(pass(f->st, T0 + 3 * MIN).skipped, 1);
    finish_all(f->st, claims, n);
    /* Finished: the next tick fires again. */
    assert_int_equal(pass(f->st, T0 + 4 * MIN).fired, 1);
    assert_int_equal(runs_of(f->st, s.id, NULL), 2);
    reload(f->st, &s);
    assert_int_equal(s.skipped, 2);
    assert_int_equal(s.fired, 2);
    jc_schedule_clear(&s);
}

static void test_overlap_queue(void **state) {
    fixture *f = *state;
    jc_schedule s;
    make(f->st, "* * * * *", JC_OVERLAP_QUEUE, JC_CATCHUP_NONE, 0, 0, T0, &s);
    assert_int_equal(pass(f->st, T0 + MIN).fired, 1);
    jc_claim *claims;
    size_t n;
    start_all(f->st, &claims, &n);
    /* Tick 2 waits behind the running run; tick 3 finds the slot taken: skipped. */
    jc_scheduler_pass p = pass(f->st, T0 + 2 * MIN);
    assert_int_equal(p.queued, 1);
    assert_int_equal(p.fired + p.released, 0);
    p = pass(f->st, T0 + 3 * MIN);
    assert_int_equal(p.skipped, 1);
    assert_int_equal(p.queued, 0);
    reload(f->st, &s);
    assert_int_equal(s.pending_tick, T0 + 2 * MIN);
    assert_int_equal(runs_of(f->st, s.id, NULL), 1);
    /* The run ends: the queued tick is released (once), with its own tick time. */
    finish_all(f->st, claims, n);
    p = pass(f->st, T0 + 3 * MIN + 5000);
    assert_int_equal(p.released, 1);
    assert_int_equal(pass(f->st, T0 + 3 * MIN + 6000).released, 0);
    jc_schedule_run *runs;
    assert_int_equal(runs_of(f->st, s.id, &runs), 2);
    assert_int_equal(runs[0].tick, T0 + 2 * MIN);
    free(runs);
    reload(f->st, &s);
    assert_int_equal(s.pending_tick, 0);
    jc_schedule_clear(&s);
}

static void test_overlap_allow(void **state) {
    fixture *f = *state;
    jc_schedule s;
    make(f->st, "* * * * *", JC_OVERLAP_ALLOW, JC_CATCHUP_NONE, 0, 0, T0, &s);
    assert_int_equal(pass(f->st, T0 + MIN).fired, 1);
    jc_claim *claims;
    size_t n;
    start_all(f->st, &claims, &n);
    assert_int_equal(pass(f->st, T0 + 2 * MIN).fired, 1);
    assert_int_equal(pass(f->st, T0 + 3 * MIN).fired, 1);
    assert_int_equal(runs_of(f->st, s.id, NULL), 3);
    finish_all(f->st, claims, n);
    jc_schedule_clear(&s);
}

static void test_catchup_none_after_outage(void **state) {
    fixture *f = *state;
    jc_schedule s;
    make(f->st, "*/5 * * * *", JC_OVERLAP_ALLOW, JC_CATCHUP_NONE, 0, 0, T0, &s);
    assert_int_equal(pass(f->st, T0 + 5 * MIN).fired, 1);
    /* Down from T0+5min to T0+3h+7min: ticks 10 … 3h05 (36 of them) passed unseen. */
    jc_scheduler_pass p = pass(f->st, T0 + 3 * HOUR + 7 * MIN);
    assert_int_equal(p.fired, 0);
    assert_int_equal(p.missed, 36);
    reload(f->st, &s);
    assert_int_equal(s.next_tick, T0 + 3 * HOUR + 10 * MIN); /* only future ticks */
    assert_int_equal(s.missed, 36);
    assert_int_equal(pass(f->st, T0 + 3 * HOUR + 10 * MIN).fired, 1);
    assert_int_equal(runs_of(f->st, s.id, NULL), 2);
    jc_schedule_clear(&s);
}

static void test_catchup_one_after_outage(void **state) {
    fixture *f = *state;
    jc_schedule s;
    make(f->st, "*/5 * * * *", JC_OVERLAP_ALLOW, JC_CATCHUP_ONE, 0, 0, T0, &s);
    assert_int_equal(pass(f->st, T0 + 5 * MIN).fired, 1);
    jc_scheduler_pass p = pass(f->st, T0 + 3 * HOUR + 7 * MIN);
    assert_int_equal(p.fired, 1); /* once for all 36, never a flood */
    assert_int_equal(p.missed, 35);
    jc_schedule_run *runs;
    assert_int_equal(runs_of(f->st, s.id, &runs), 2);
    assert_int_equal(runs[0].tick, T0 + 3 * HOUR + 5 * MIN); /* the latest missed tick */
    free(runs);
    reload(f->st, &s);
    assert_int_equal(s.next_tick, T0 + 3 * HOUR + 10 * MIN);
    jc_schedule_clear(&s);
}

static void test_restart_within_grace_fires(void **state) {
    fixture *f = *state;
    jc_schedule s;
    make(f->st, "* * * * *", JC_OVERLAP_ALLOW, JC_CATCHUP_NONE, 0, 0, T0, &s);
    /* A restart 20 s after a tick is lateness, not an outage: the tick fires. */
    jc_scheduler_pass p = pass(f->st, T0 + MIN + 20000);
    assert_int_equal(p.fired, 1);
    assert_int_equal(p.missed, 0);
    /* 40 s late is past the grace: missed with catchup none. */
    p = pass(f->st, T0 + 2 * MIN + 40000);
    assert_int_equal(p.fired, 0);
    assert_int_equal(p.missed, 1);
    jc_schedule_clear(&s);
}

static void test_jitter(void **state) {
    fixture *f = *state;
    /* Stable per schedule, within [0, jitter_s], and spread across schedules. */
    int64_t distinct = 0, prev = -1;
    for (int i = 0; i < 200; i++) {
        char id[JC_ID_MAX];
        jc_err err;
        assert_int_equal(jc_random_id("sch_", id, sizeof(id), &err), 0);
        int64_t j = jc_schedule_jitter_ms(id, 30);
        assert_true(j >= 0 && j <= 30000);
        assert_int_equal(jc_schedule_jitter_ms(id, 30), j);
        distinct += j != prev;
        prev = j;
    }
    assert_true(distinct > 150);
    assert_int_equal(jc_schedule_jitter_ms("sch_x", 0), 0);
    /* The same offset on every tick, and the tick time recorded is the cron instant. */
    jc_schedule s;
    make(f->st, "*/10 * * * *", JC_OVERLAP_ALLOW, JC_CATCHUP_NONE, 120, 0, T0, &s);
    int64_t j = jc_schedule_jitter_ms(s.id, 120);
    assert_int_equal(s.next_run_at, T0 + 10 * MIN + j);
    if (j > 0)
        assert_int_equal(pass(f->st, T0 + 10 * MIN + j - 1).fired, 0);
    assert_int_equal(pass(f->st, T0 + 10 * MIN + j).fired, 1);
    reload(f->st, &s);
    assert_int_equal(s.next_run_at, T0 + 20 * MIN + j);
    assert_int_equal(pass(f->st, T0 + 20 * MIN + j).fired, 1);
    jc_schedule_run *runs;
    assert_int_equal(runs_of(f->st, s.id, &runs), 2);
    assert_int_equal(runs[0].tick, T0 + 20 * MIN);
    free(runs);
    jc_schedule_clear(&s);
}

static void test_end_at_and_start_at(void **state) {
    fixture *f = *state;
    jc_schedule s;
    /* end_at T0+3min: ticks at +1 and +2 fire, +3 is not before end_at. */
    make(f->st, "* * * * *", JC_OVERLAP_ALLOW, JC_CATCHUP_NONE, 0, T0 + 3 * MIN, T0, &s);
    assert_int_equal(pass(f->st, T0 + MIN).fired, 1);
    assert_int_equal(pass(f->st, T0 + 2 * MIN).fired, 1);
    reload(f->st, &s);
    assert_int_equal(s.next_tick, 0);
    assert_int_equal(s.next_run_at, 0);
    for (int64_t t = T0 + 3 * MIN; t < T0 + 10 * MIN; t += MIN)
        assert_int_equal(pass(f->st, t).fired, 0);
    assert_int_equal(runs_of(f->st, s.id, NULL), 2);
    jc_schedule_clear(&s);
    /* start_at is inclusive. */
    jc_schedule t = {0};
    snprintf(t.cron, sizeof(t.cron), "0 * * * *");
    snprintf(t.timezone, sizeof(t.timezone), "UTC");
    t.start_at = T0 + 5 * HOUR;
    int64_t tick, run_at;
    jc_err err;
    assert_int_equal(jc_schedule_next(&t, T0, &tick, &run_at, &err), 0);
    assert_int_equal(tick, T0 + 5 * HOUR);
}

static void test_trigger_outside_clock(void **state) {
    fixture *f = *state;
    jc_schedule s;
    make(f->st, "0 0 1 1 *", JC_OVERLAP_SKIP, JC_CATCHUP_NONE, 0, 0, T0, &s);
    char job[JC_ID_MAX], exe[JC_ID_MAX];
    jc_err err;
    assert_int_equal(jc_schedule_trigger(f->st, &s, job, exe, &err), 0);
    assert_int_equal(jc_schedule_trigger(f->st, &s, job, exe, &err), 0);
    jc_schedule_run *runs;
    assert_int_equal(runs_of(f->st, s.id, &runs), 2);
    assert_int_equal(runs[0].tick, 0);
    assert_string_equal(runs[0].job_id, job);
    assert_string_equal(runs[0].execution_id, exe);
    free(runs);
    reload(f->st, &s);
    assert_int_equal(s.next_tick, 1798761600000LL); /* 2027-01-01: the clock is untouched */
    jc_schedule_clear(&s);
}

/* ---- two stores on one file ------------------------------------------------------------ */

typedef struct racer {
    jc_store *st;
    int64_t now;
    size_t fired;
} racer;

static void *race(void *arg) {
    racer *r = arg;
    jc_scheduler_pass p;
    jc_err err;
    if (jc_scheduler_run(r->st, r->now, &p, &err) == 0)
        r->fired = p.fired;
    return NULL;
}

static void test_two_stores_never_double_fire(void **state) {
    fixture *f = *state;
    jc_err err;
    jc_store_options o = {.path = f->path, .busy_timeout_ms = 10000, .kill_grace_s = 5};
    jc_store *other = jc_store_open(&o, &err);
    assert_non_null(other);
    enum { N = 150 };
    char ids[N][JC_ID_MAX];
    for (int i = 0; i < N; i++) {
        jc_schedule s;
        make(f->st, "* * * * *", JC_OVERLAP_ALLOW, JC_CATCHUP_NONE, 0, 0, T0, &s);
        snprintf(ids[i], sizeof(ids[i]), "%s", s.id);
        jc_schedule_clear(&s);
    }
    for (int minute = 1; minute <= 3; minute++) {
        racer a = {f->st, T0 + minute * MIN, 0}, b = {other, T0 + minute * MIN, 0};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        /* Together they fired each schedule exactly once for this minute. */
        assert_int_equal(a.fired + b.fired, N);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(runs_of(f->st, ids[i], NULL), 3);
    jc_store_close(other);
}

/* The real clock thread: asleep with nothing due, woken by a change, fires when (and not
 * before) the run time comes. */
static void test_clock_thread_sleeps_and_wakes(void **state) {
    fixture *f = *state;
    jc_api api = {.store = f->st};
    jc_err err;
    jc_schedule s;
    make(f->st, "0 0 1 1 *", JC_OVERLAP_ALLOW, JC_CATCHUP_NONE, 0, 0, jc_time_now_ms(), &s);
    assert_int_equal(jc_scheduler_start(&api, &err), 0);
    usleep(100000); /* its first pass found nothing due: it sleeps (up to a minute) */
    int64_t due = jc_time_now_ms() + 500;
    s.next_tick = s.next_run_at = due;
    assert_int_equal(jc_store_schedule_update(f->st, &s, jc_time_now_ms(), &err), 0);
    jc_scheduler_wake();
    usleep(200000);
    assert_int_equal(runs_of(f->st, s.id, NULL), 0); /* not before its time */
    size_t n = 0;
    for (int i = 0; i < 300 && n == 0; i++) { /* bounded: 3 s */
        usleep(10000);
        n = runs_of(f->st, s.id, NULL);
    }
    int64_t seen = jc_time_now_ms();
    jc_scheduler_stop();
    assert_int_equal(n, 1);
    assert_true(seen >= due);
    jc_schedule_run *runs;
    assert_int_equal(runs_of(f->st, s.id, &runs), 1);
    assert_int_equal(runs[0].tick, due);
    assert_true(runs[0].fired_at >= due);
    free(runs);
    jc_schedule_clear(&s);
}

int main(void) {
    jc_log_set_level(JC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fires_once_per_tick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catchup_none_after_outage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catchup_one_after_outage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_within_grace_fires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jitter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_at_and_start_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_outside_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_stores_never_double_fire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_thread_sleeps_and_wakes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
