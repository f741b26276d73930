/* scheduler.c: the clock of jobcell-api's schedules.
 *
 * One thread. It asks the store for the earliest next run time and sleeps until then on a
 * condition variable (a timed wait, not a per-second scan of every schedule); a schedule
 * change wakes it early. When it wakes it fires every due schedule, each in its own
 * transaction (store_schedules.h), so a crash, or a second server on the same database,
 * can never fire a tick twice. It never sleeps more than a minute, so a schedule created
 * through another server sharing the database is seen within that time. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobcell/cleanup.h"
#include "jobcell/cron.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "schedules.h"

#define BATCH 256
#define MAX_SLEEP_MS 60000
#define MAX_TICKS_SCANNED 1000000

/* ---- metrics -------------------------------------------------------------------------- */

static const double lag_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 30, 60, 300};
#define NLAG (sizeof(lag_buckets) / sizeof(lag_buckets[0]))

static struct {
    pthread_mutex_t lock;
    uint64_t fired, skipped, queued, missed, triggered;
    uint64_t lag[NLAG + 1];
    uint64_t lag_count;
    double lag_sum;
} metrics = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void count_pass(const jc_scheduler_pass *p) {
    pthread_mutex_lock(&metrics.lock);
    metrics.fired += p->fired + p->released;
    metrics.skipped += p->skipped;
    metrics.queued += p->queued;
    metrics.missed += p->missed;
    pthread_mutex_unlock(&metrics.lock);
}

static void observe_lag(int64_t lag_ms) {
    double s = (double)(lag_ms < 0 ? 0 : lag_ms) / 1000.0;
    size_t i = 0;
    while (i < NLAG && s > lag_buckets[i])
        i++;
    pthread_mutex_lock(&metrics.lock);
    metrics.lag[i]++;
    metrics.lag_count++;
    metrics.lag_sum += s;
    pthread_mutex_unlock(&metrics.lock);
}

char *jc_scheduler_metrics_text(void) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    pthread_mutex_lock(&metrics.lock);
    fprintf(f,
            "# HELP jobcell_schedule_ticks_fired_total Schedule ticks that created a run"
            " (manual triggers not included).\n"
            "# TYPE jobcell_schedule_ticks_fired_total counter\n"
            "jobcell_schedule_ticks_fired_total %" PRIu64 "\n"
            "# HELP jobcell_schedule_ticks_skipped_total Ticks dropped because a run of the"
            " schedule was still live (overlap).\n"
            "# TYPE jobcell_schedule_ticks_skipped_total counter\n"
            "jobcell_schedule_ticks_skipped_total %" PRIu64 "\n"
            "# HELP jobcell_schedule_ticks_queued_total Ticks that waited for a live run"
            " (overlap queue).\n"
            "# TYPE jobcell_schedule_ticks_queued_total counter\n"
            "jobcell_schedule_ticks_queued_total %" PRIu64 "\n"
            "# HELP jobcell_schedule_ticks_missed_total Ticks that passed while the server was"
            " down (dropped, or folded into one run by catchup).\n"
            "# TYPE jobcell_schedule_ticks_missed_total counter\n"
            "jobcell_schedule_ticks_missed_total %" PRIu64 "\n"
            "# HELP jobcell_schedule_triggers_total Manual runs of schedules.\n"
            "# TYPE jobcell_schedule_triggers_total counter\n"
            "jobcell_schedule_triggers_total %" PRIu64 "\n"
            "# HELP jobcell_schedule_lag_seconds Fire time minus the tick's run time.\n"
            "# TYPE jobcell_schedule_lag_seconds histogram\n",
            metrics.fired, metrics.skipped, metrics.queued, metrics.missed, metrics.triggered);
    uint64_t cum = 0;
    for (size_t i = 0; i < NLAG; i++) {
        cum += metrics.lag[i];
        fprintf(f, "jobcell_schedule_lag_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", lag_buckets[i],
                cum);
    }
    cum += metrics.lag[NLAG];
    fprintf(f,
            "jobcell_schedule_lag_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
            "jobcell_schedule_lag_seconds_sum %.6f\n"
            "jobcell_schedule_lag_seconds_count %" PRIu64 "\n",
            cum, metrics.lag_sum, metrics.lag_count);
    pthread_mutex_unlock(&metrics.lock);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- time ----------------------------------------------------------------------------- */

int64_t jc_scheduler_now_ms(void) {
    /* Test-only: a file holding the scheduler's time. Read on every call so a test can move
     * the clock while the server runs. */
    const char *path = getenv("JOBCELL_TEST_CLOCK_FILE");
    if (path && *path) {
        char buf[32] = {0};
        FILE *f = fopen(path, "re");
        if (f) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            char *end;
            long long v = strtoll(buf, &end, 10);
            if (end != buf && v > 0)
                return v;
        }
    }
    return jc_time_now_ms();
}

int64_t jc_schedule_jitter_ms(const char *id, int64_t jitter_s) {
    if (jitter_s <= 0)
        return 0;
    /* FNV-1a: stable across versions and hosts, which is all this needs (not secret). */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return (int64_t)(h % (uint64_t)(jitter_s * 1000 + 1));
}

int jc_schedule_next(const jc_schedule *s, int64_t after, int64_t *tick, int64_t *run_at,
                     jc_err *err) {
    *tick = *run_at = 0;
    jc_cron cron;
    if (jc_cron_parse(s->cron, &cron, err) < 0)
        return -1;
    const jc_tz *tz = jc_tz_get(s->timezone, err);
    if (!tz)
        return -1;
    if (s->start_at && after < s->start_at)
        after = s->start_at - 1; /* start_at itself may be a tick */
    if (after < 0)
        after = 0;
    int64_t next;
    jc_err e;
    if (jc_cron_next(&cron, tz, after / 1000, &next, &e) < 0) {
        if (e.code == JC_E_NOT_FOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    if (s->end_at && next * 1000 >= s->end_at)
        return 0;
    *tick = next * 1000;
    *run_at = *tick + jc_schedule_jitter_ms(s->id, s->jitter_s);
    return 0;
}

/* ---- firing --------------------------------------------------------------------------- */

/* The job a run creates: the schedule's spec, new ids, created now (real time: claim order
 * and timeouts run on the wall clock even under a test clock). */
static int new_job(const jc_schedule *s, char job_id[JC_ID_MAX], char exe_id[JC_ID_MAX],
                   jc_job_new *out, jc_err *err) {
    if (jc_random_id("job_", job_id, JC_ID_MAX, err) < 0 ||
        jc_random_id("exe_", exe_id, JC_ID_MAX, err) < 0)
        return -1;
    const json_t *name = json_object_get(s->job, "name");
    *out = (jc_job_new){
        .job_id = job_id,
        .execution_id = exe_id,
        .owner = s->owner,
        .name = json_is_string(name) ? json_string_value(name) : s->name,
        .spec = s->job,
        .created_at = jc_time_now_ms(),
        .priority = (int)json_integer_value(json_object_get(s->job, "priority")),
        .timeout_s = json_integer_value(json_object_get(s->job, "timeout_s")),
    };
    return 0;
}

/* One due schedule's decision, made before the batch transaction. */
typedef struct plan {
    jc_schedule_fire f;
    char job_id[JC_ID_MAX], exe_id[JC_ID_MAX];
    int64_t lag;
    const jc_schedule *s;
} plan;

static int plan_one(const jc_schedule *s, int64_t now, plan *pl, jc_err *err) {
    int64_t jitter = jc_schedule_jitter_ms(s->id, s->jitter_s);
    jc_cron cron;
    const jc_tz *tz;
    if (jc_cron_parse(s->cron, &cron, err) < 0 || !(tz = jc_tz_get(s->timezone, err)))
        return -1;
    /* Every tick whose run time has come: the last one is the candidate, the others were
     * missed (the server was down, or busy). Bounded: a schedule idle for years is
     * skipped forward in at most MAX_TICKS_SCANNED steps per pass. */
    int64_t tick = s->next_tick, last = 0, k = 0;
    while (tick && tick + jitter <= now && k < MAX_TICKS_SCANNED) {
        last = tick;
        k++;
        int64_t next_s;
        jc_err e;
        if (jc_cron_next(&cron, tz, tick / 1000, &next_s, &e) < 0 ||
            (s->end_at && next_s * 1000 >= s->end_at))
            tick = 0;
        else
            tick = next_s * 1000;
    }
    if (k == MAX_TICKS_SCANNED && tick && tick + jitter <= now) {
        /* Still behind: jump to the first tick after now. */
        int64_t run_at;
        if (jc_schedule_next(s, now, &tick, &run_at, err) < 0)
            return -1;
    }
    if (k == 0) {
        /* next_run_at said due, next_tick + jitter says not (jitter changed): realign. */
        last = s->next_tick;
        tick = s->next_tick;
    }
    pl->s = s;
    pl->lag = now - (last + jitter);
    bool fire = k > 0 && (pl->lag <= JC_SCHEDULE_GRACE_MS || s->catchup == JC_CATCHUP_ONE);
    pl->f = (jc_schedule_fire){
        .kind = JC_FIRE_TICK,
        .schedule_id = s->id,
        .expect_next_tick = s->next_tick,
        .fire = fire,
        .tick = last,
        .next_tick = tick,
        .next_run_at = tick ? tick + jitter : 0,
        .missed = k > 0 ? k - (fire ? 1 : 0) : 0,
    };
    pl->job_id[0] = pl->exe_id[0] = '\0';
    if (fire && new_job(s, pl->job_id, pl->exe_id, &pl->f.job, err) < 0)
        return -1;
    return 0;
}

static void report(const plan *pl, jc_fire_outcome outcome, jc_scheduler_pass *p) {
    const jc_schedule *s = pl->s;
    if (outcome == JC_FIRE_STALE) {
        p->stale++;
        return;
    }
    if (outcome == JC_FIRE_FAILED) {
        jc_log(JC_LOG_ERROR, "schedule tick failed; it is retried on the next pass", "schedule",
               s->id, NULL);
        return;
    }
    p->missed += (size_t)pl->f.missed;
    char tick_text[32];
    jc_time_format_ms(pl->f.tick, tick_text, sizeof(tick_text));
    switch (outcome) {
    case JC_FIRED:
        p->fired++;
        observe_lag(pl->lag);
        jc_log(JC_LOG_DEBUG, "schedule fired", "schedule", s->id, "tick", tick_text, "job",
               pl->job_id, NULL);
        break;
    case JC_FIRE_SKIPPED:
        p->skipped++;
        jc_log(JC_LOG_INFO, "schedule tick skipped: previous run still live", "schedule", s->id,
               "tick", tick_text, NULL);
        break;
    case JC_FIRE_QUEUED: p->queued++; break;
    default: break;
    }
    if (pl->f.missed > 0) {
        char n[24];
        snprintf(n, sizeof(n), "%" PRId64, pl->f.missed);
        jc_log(JC_LOG_WARN, "schedule ticks missed", "schedule", s->id, "count", n, "catchup",
               s->catchup == JC_CATCHUP_ONE ? "one" : "none", NULL);
    }
}

/* Fire a batch of due schedules in one transaction. Returns how many made progress. */
static size_t fire_batch(jc_store *st, const jc_schedule *due, size_t n, int64_t now,
                         jc_scheduler_pass *p, jc_err *err, int *rc) {
    plan *plans = calloc(n ? n : 1, sizeof(*plans));
    jc_schedule_fire *fires = calloc(n ? n : 1, sizeof(*fires));
    jc_fire_outcome *out = calloc(n ? n : 1, sizeof(*out));
    size_t m = 0, progressed = 0;
    if (!plans || !fires || !out) {
        jc_err_sys(err, ENOMEM, "scheduler batch");
        *rc = -1;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        jc_err e;
        jc_err_clear(&e);
        if (plan_one(&due[i], now, &plans[m], &e) < 0) {
            jc_log(JC_LOG_ERROR, "schedule tick failed", "schedule", due[i].id, "error", e.msg,
                   NULL);
            *rc = -1;
            continue;
        }
        m++;
    }
    /* The plans hold the ids the fires point at: copy only after they stop moving. */
    for (size_t i = 0; i < m; i++) {
        fires[i] = plans[i].f;
        if (fires[i].fire) {
            fires[i].job.job_id = plans[i].job_id;
            fires[i].job.execution_id = plans[i].exe_id;
        }
    }
    if (m && jc_store_schedule_fire_many(st, fires, m, out, err) < 0) {
        *rc = -1;
        goto done;
    }
    for (size_t i = 0; i < m; i++) {
        report(&plans[i], out[i], p);
        progressed += out[i] != JC_FIRE_STALE && out[i] != JC_FIRE_FAILED;
    }
done:
    free(plans);
    free(fires);
    free(out);
    return progressed;
}

static int release_pending(jc_store *st, const jc_schedule *s, jc_scheduler_pass *p, jc_err *err) {
    char job_id[JC_ID_MAX], exe_id[JC_ID_MAX];
    jc_schedule_fire f = {.kind = JC_FIRE_PENDING, .schedule_id = s->id};
    if (new_job(s, job_id, exe_id, &f.job, err) < 0)
        return -1;
    jc_fire_outcome outcome;
    if (jc_store_schedule_fire(st, &f, &outcome, NULL, err) < 0)
        return -1;
    if (outcome == JC_FIRED) {
        p->released++;
        jc_log(JC_LOG_INFO, "schedule queued tick released", "schedule", s->id, "job", job_id,
               NULL);
    }
    return 0;
}

int jc_scheduler_run(jc_store *st, int64_t now, jc_scheduler_pass *out, jc_err *err) {
    jc_scheduler_pass p = {0};
    int rc = 0;
    /* Bounded: each batch advances every schedule it returns past now (or marks it stale
     * because another server did), so the due set shrinks; the guard is a backstop. */
    for (int guard = 0; guard < 100000; guard++) {
        jc_schedule *due = NULL;
        size_t n = 0;
        if (jc_store_schedule_due(st, now, BATCH, &due, &n, err) < 0) {
            rc = -1;
            break;
        }
        size_t progressed = fire_batch(st, due, n, now, &p, err, &rc);
        jc_schedules_free(due, n);
        if (n < BATCH || progressed == 0)
            break;
    }
    jc_schedule *pend = NULL;
    size_t n = 0;
    if (jc_store_schedule_pending(st, BATCH, &pend, &n, err) == 0) {
        for (size_t i = 0; i < n; i++) {
            jc_err e;
            if (release_pending(st, &pend[i], &p, &e) < 0)
                jc_log(JC_LOG_ERROR, "schedule queued tick failed", "schedule", pend[i].id, "error",
                       e.msg, NULL);
        }
        jc_schedules_free(pend, n);
    }
    count_pass(&p);
    if (out)
        *out = p;
    return rc;
}

int jc_schedule_trigger(jc_store *st, const jc_schedule *s, char job_id[JC_ID_MAX],
                        char exe_id[JC_ID_MAX], jc_err *err) {
    jc_schedule_fire f = {.kind = JC_FIRE_TRIGGER, .schedule_id = s->id};
    if (new_job(s, job_id, exe_id, &f.job, err) < 0)
        return -1;
    jc_fire_outcome outcome;
    if (jc_store_schedule_fire(st, &f, &outcome, NULL, err) < 0)
        return -1;
    if (outcome != JC_FIRED)
        return jc_err_set(err, JC_E_CONFLICT, "the schedule changed; try again");
    pthread_mutex_lock(&metrics.lock);
    metrics.triggered++;
    pthread_mutex_unlock(&metrics.lock);
    return 0;
}

/* ---- the thread ----------------------------------------------------------------------- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool started, stop;
    uint64_t generation; /* bumped by every wake */
    jc_api *api;
} clock_state = {.lock = PTHREAD_MUTEX_INITIALIZER};

void jc_scheduler_wake(void) {
    pthread_mutex_lock(&clock_state.lock);
    clock_state.generation++;
    if (clock_state.started)
        pthread_cond_signal(&clock_state.cond);
    pthread_mutex_unlock(&clock_state.lock);
}

static void *clock_main(void *arg) {
    jc_api *api = arg;
    bool test_clock = getenv("JOBCELL_TEST_CLOCK_FILE") != NULL;
    pthread_mutex_lock(&clock_state.lock);
    while (!clock_state.stop) {
        uint64_t gen = clock_state.generation;
        pthread_mutex_unlock(&clock_state.lock);

        int64_t now = jc_scheduler_now_ms();
        jc_scheduler_pass p;
        jc_err err;
        jc_err_clear(&err);
        bool failed = jc_scheduler_run(api->store, now, &p, &err) < 0;
        if (p.fired || p.released)
            jc_api_notify_work(api);
        int64_t next = 0;
        bool pending = false;
        if (jc_store_schedule_next_due(api->store, &next, &pending, &err) < 0)
            failed = true;
        int64_t wait = next ? next - jc_scheduler_now_ms() : MAX_SLEEP_MS;
        if (wait > MAX_SLEEP_MS)
            wait = MAX_SLEEP_MS;
        if (pending && wait > 1000)
            wait = 1000; /* a queued tick waits for a run to end: look again soon */
        if (failed && wait > 1000)
            wait = 1000;
        if (test_clock && wait > 20)
            wait = 20; /* the test clock jumps; real-time sleeps cannot follow it */
        if (wait < 0)
            wait = 0;

        pthread_mutex_lock(&clock_state.lock);
        if (clock_state.stop || clock_state.generation != gen || wait == 0)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!clock_state.stop && clock_state.generation == gen &&
               pthread_cond_timedwait(&clock_state.cond, &clock_state.lock, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&clock_state.lock);
    return NULL;
}

int jc_scheduler_start(jc_api *api, jc_err *err) {
    pthread_mutex_lock(&clock_state.lock);
    if (clock_state.started) {
        pthread_mutex_unlock(&clock_state.lock);
        return jc_err_set(err, JC_E_INTERNAL, "scheduler already started");
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&clock_state.cond, &attr);
    pthread_condattr_destroy(&attr);
    clock_state.api = api;
    clock_state.stop = false;
    int rc = pthread_create(&clock_state.thread, NULL, clock_main, api);
    if (rc != 0) {
        pthread_cond_destroy(&clock_state.cond);
        pthread_mutex_unlock(&clock_state.lock);
        return jc_err_sys(err, rc, "scheduler thread");
    }
    clock_state.started = true;
    pthread_mutex_unlock(&clock_state.lock);
    if (getenv("JOBCELL_TEST_CLOCK_FILE"))
        jc_log(JC_LOG_WARN, "scheduler uses the test clock (JOBCELL_TEST_CLOCK_FILE)", NULL);
    return 0;
}

void jc_scheduler_stop(void) {
    pthread_mutex_lock(&clock_state.lock);
    if (!clock_state.started) {
        pthread_mutex_unlock(&clock_state.lock);
        return;
    }
    clock_state.stop = true;
    pthread_cond_signal(&clock_state.cond);
    pthread_mutex_unlock(&clock_state.lock);
    pthread_join(clock_state.thread, NULL);
    pthread_mutex_lock(&clock_state.lock);
    clock_state.started = false;
    pthread_cond_destroy(&clock_state.cond);
    pthread_mutex_unlock(&clock_state.lock);
}
