/* maintenance.c: the reaper, prune and scan tasks on one clock (maintenance.h).
 *
 * One thread sleeps on a condition variable until the earliest task is due. A due task
 * first takes its tick in the store (jc_store_task_acquire: a conditional UPDATE), so of
 * several servers sharing a store exactly one runs each tick; the others look again one
 * interval later. Prune and scan read the server's clock (jc_scheduler_now_ms: the wall
 * clock, or the test clock of the schedules); the reaper's leases and deadlines are wall
 * clock by contract, so it takes its ticks on the wall clock too.
 *
 * Outcomes are kept twice: in this process (counters, and the failing state /health
 * reports even when the store cannot be written) and in the store's task row (the view of
 * every server: a task another server ran successfully is no longer failing here). */
#include "maintenance.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "schedules.h"
#include "store_audit.h"

#define MAX_SLEEP_MS 1000

static const char *const task_names[JC_TASK_COUNT] = {"reaper", "prune", "scan"};

const char *jc_task_name(jc_task t) {
    return (unsigned)t < JC_TASK_COUNT ? task_names[t] : "unknown";
}

/* ---- state and metrics ------------------------------------------------------------------ */

static struct {
    pthread_mutex_t lock;
    uint64_t runs[JC_TASK_COUNT], failures[JC_TASK_COUNT];
    int64_t last_success[JC_TASK_COUNT], last_failure[JC_TASK_COUNT];
    int64_t duration_ms[JC_TASK_COUNT];
    bool failing[JC_TASK_COUNT];
    bool measured;
    int64_t measured_at;
    jc_store_sizes sizes;
    bool over_rows[JC_KIND_COUNT], over_bytes[JC_KIND_COUNT], over_store;
    uint64_t pruned[JC_KIND_COUNT], pruned_executions;
    uint64_t freed_pages;
} state = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t task_now(jc_task t) {
    return t == JC_TASK_REAPER ? jc_time_now_ms() : jc_scheduler_now_ms();
}

static int64_t task_interval_ms(const jc_api_config *cfg, jc_task t) {
    switch (t) {
    case JC_TASK_REAPER: return cfg->reaper_interval_s * 1000;
    case JC_TASK_PRUNE: return cfg->prune_interval_s * 1000;
    default: return cfg->scan_interval_s * 1000;
    }
}

void jc_retention_from_config(const jc_api_config *cfg, jc_retention *r) {
    const int64_t day = 86400000;
    *r = (jc_retention){
        .jobs_ms = cfg->retention_jobs_days * day,
        .audit_ms = cfg->audit_retention_days * day,
        .idempotency_ms = cfg->idempotency_ttl_s * 1000,
        .signals_ms = cfg->retention_signals_days * day,
        .activity_ms = cfg->retention_activity_days * day,
    };
}

/* ---- prune ------------------------------------------------------------------------------ */

static void pause_ms(int64_t ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int jc_prune_run(jc_store *st, const jc_api_config *cfg, int64_t now, const volatile bool *stop,
                 jc_prune_report *out, jc_err *err) {
    memset(out, 0, sizeof(*out));
    jc_retention r;
    jc_retention_from_config(cfg, &r);
    static const jc_upkeep_kind kinds[] = {JC_KIND_JOBS, JC_KIND_AUDIT, JC_KIND_IDEMPOTENCY,
                                           JC_KIND_SIGNALS, JC_KIND_ACTIVITY};
    size_t limit = (size_t)cfg->prune_batch_rows;
    for (size_t i = 0; i < JC_ARRAY_LEN(kinds); i++) {
        /* Bounded: every batch removes only rows already past their time at `now`, so
         * each kind runs out; the guard is a backstop against a backend that would not. */
        for (int64_t guard = 0; guard < 100000000; guard++) {
            if (stop && *stop)
                return jc_err_set(err, JC_E_UNAVAILABLE, "prune: stopped before the end");
            size_t units = 0;
            int64_t started = jc_time_mono_ms();
            if (jc_store_prune_batch(st, kinds[i], &r, now, limit, &out->removed, &units, err) <
                0) {
                jc_err_prefix(err, "prune %s", jc_upkeep_kind_name(kinds[i]));
                return -1;
            }
            if (kinds[i] == JC_KIND_AUDIT) {
                /* the audit trail proper (store_audit.h); the batch above took the events of
                 * the older audit table */
                size_t deleted = 0;
                if (jc_store_audit_prune(st, now - r.audit_ms, limit, &deleted, err) < 0) {
                    jc_err_prefix(err, "prune audit");
                    return -1;
                }
                out->removed.rows[JC_KIND_AUDIT] += (int64_t)deleted;
                if (deleted > units)
                    units = deleted;
            }
            out->batches++;
            if (units < limit)
                break;
            /* Let claims and submits take the write lock between two batches: at least as
             * long as the batch held it. SQLite's busy handler polls a waiting writer with
             * growing sleeps, so a pause much shorter than the batch could be missed again
             * and again; a duty cycle of at most one half cannot starve it. */
            int64_t held = jc_time_mono_ms() - started;
            pause_ms(held > cfg->prune_pause_ms ? held : cfg->prune_pause_ms);
        }
    }
    /* Give the free pages back in steps of prune.vacuum_pages, pausing between steps like
     * between batches (moving pages holds the write lock too). */
    for (int64_t guard = 0; guard < 10000000; guard++) {
        if (stop && *stop)
            return jc_err_set(err, JC_E_UNAVAILABLE, "prune: stopped before the end");
        int64_t started = jc_time_mono_ms(), freed = 0;
        if (jc_store_reclaim(st, cfg->prune_vacuum_pages, &out->vacuum_supported, &freed,
                             &out->free_pages, err) < 0) {
            jc_err_prefix(err, "prune: incremental vacuum");
            return -1;
        }
        out->freed_pages += freed;
        if (!out->vacuum_supported || freed == 0 || out->free_pages == 0)
            break;
        int64_t held = jc_time_mono_ms() - started;
        pause_ms(held > cfg->prune_pause_ms ? held : cfg->prune_pause_ms);
    }
    return 0;
}

/* Measure rows and sizes, compare with the thresholds, warn on each crossing. */
static int measure(jc_api *api, jc_err *err) {
    jc_store_sizes sz;
    if (jc_store_measure(api->store, &sz, err) < 0) {
        jc_err_prefix(err, "measure the store");
        return -1;
    }
    const jc_api_config *cfg = api->cfg;
    bool over_rows[JC_KIND_COUNT], over_bytes[JC_KIND_COUNT];
    for (int k = 0; k < JC_KIND_COUNT; k++) {
        over_rows[k] = cfg->threshold_rows[k] > 0 && sz.rows[k] > cfg->threshold_rows[k];
        over_bytes[k] = cfg->threshold_bytes[k] > 0 && sz.bytes[k] > cfg->threshold_bytes[k];
        if (over_rows[k] || over_bytes[k]) {
            char rows[24], bytes[24];
            snprintf(rows, sizeof(rows), "%" PRId64, sz.rows[k]);
            snprintf(bytes, sizeof(bytes), "%" PRId64, sz.bytes[k]);
            jc_log(JC_LOG_WARN, "store over its threshold", "kind",
                   jc_upkeep_kind_name((jc_upkeep_kind)k), "rows", rows, "bytes", bytes, NULL);
        }
    }
    bool over_store = cfg->threshold_store_bytes > 0 && sz.file_bytes > cfg->threshold_store_bytes;
    if (over_store) {
        char bytes[24];
        snprintf(bytes, sizeof(bytes), "%" PRId64, sz.file_bytes);
        jc_log(JC_LOG_WARN, "store over its threshold", "kind", "store", "bytes", bytes, NULL);
    }
    pthread_mutex_lock(&state.lock);
    state.sizes = sz;
    state.measured = true;
    state.measured_at = jc_time_now_ms();
    memcpy(state.over_rows, over_rows, sizeof(over_rows));
    memcpy(state.over_bytes, over_bytes, sizeof(over_bytes));
    state.over_store = over_store;
    pthread_mutex_unlock(&state.lock);
    return 0;
}

/* ---- the tasks --------------------------------------------------------------------------- */

static volatile bool g_stop;

static int run_reaper(jc_api *api, jc_err *err) {
    jc_reap_stats st;
    if (jc_store_reap(api->store, jc_time_now_ms(), &st, err) < 0)
        return -1;
    if (st.lost || st.requeued) {
        char lost[24], requeued[24], retried[24];
        snprintf(lost, sizeof(lost), "%zu", st.lost);
        snprintf(requeued, sizeof(requeued), "%zu", st.requeued);
        snprintf(retried, sizeof(retried), "%zu", st.retried);
        jc_log(JC_LOG_INFO, "leases expired", "lost", lost, "requeued", requeued, "retried",
               retried, NULL);
        jc_metrics_leases_expired(api->metrics, st.lost + st.requeued);
        jc_api_notify_work(api);
    }
    return 0;
}

static int run_prune(jc_api *api, int64_t now, jc_err *err) {
    jc_prune_report rep;
    int rc = jc_prune_run(api->store, api->cfg, now, &g_stop, &rep, err);
    pthread_mutex_lock(&state.lock);
    for (int k = 0; k < JC_KIND_COUNT; k++)
        state.pruned[k] += (uint64_t)rep.removed.rows[k];
    state.pruned_executions += (uint64_t)rep.removed.executions;
    state.freed_pages += (uint64_t)rep.freed_pages;
    pthread_mutex_unlock(&state.lock);
    if (rep.removed.rows[JC_KIND_JOBS] || rep.removed.rows[JC_KIND_AUDIT] ||
        rep.removed.rows[JC_KIND_IDEMPOTENCY] || rep.removed.rows[JC_KIND_SIGNALS]) {
        char j[24], e[24], l[24], a[24], i[24];
        snprintf(j, sizeof(j), "%" PRId64, rep.removed.rows[JC_KIND_JOBS]);
        snprintf(e, sizeof(e), "%" PRId64, rep.removed.executions);
        snprintf(l, sizeof(l), "%" PRId64, rep.removed.rows[JC_KIND_LOGS]);
        snprintf(a, sizeof(a), "%" PRId64, rep.removed.rows[JC_KIND_AUDIT]);
        snprintf(i, sizeof(i), "%" PRId64, rep.removed.rows[JC_KIND_IDEMPOTENCY]);
        jc_log(JC_LOG_INFO, "pruned", "jobs", j, "executions", e, "log_chunks", l, "audit", a,
               "idempotency", i, NULL);
    }
    if (rc < 0)
        return -1;
    return measure(api, err);
}

static int run_scan(jc_api *api, int64_t now, jc_err *err) {
    jc_scan_report rep;
    return jc_scan_run(api, now, &rep, err);
}

static char g_holder[JC_ID_MAX];

int jc_maintenance_tick(jc_api *api, jc_task t, jc_task_run *ran, jc_err *err) {
    *ran = JC_TASK_NOT_MINE;
    if (!g_holder[0] && jc_random_id("mnt_", g_holder, sizeof(g_holder), err) < 0)
        return -1;
    int64_t now = task_now(t);
    int64_t started = jc_time_mono_ms();
    bool acquired = false;
    int rc = jc_store_task_acquire(api->store, jc_task_name(t), g_holder, now,
                                   task_interval_ms(api->cfg, t), &acquired, err);
    if (rc < 0) {
        /* could not even learn whether this tick is ours: the task did not run, which is a
         * failure of the task, not a quiet skip */
        jc_err_prefix(err, "take the %s tick", jc_task_name(t));
    } else if (!acquired) {
        return 0;
    } else {
        *ran = JC_TASK_RAN;
        switch (t) {
        case JC_TASK_REAPER: rc = run_reaper(api, err); break;
        case JC_TASK_PRUNE: rc = run_prune(api, now, err); break;
        default: rc = run_scan(api, now, err); break;
        }
    }
    int64_t duration = jc_time_mono_ms() - started;
    int64_t at = jc_time_now_ms();
    if (rc < 0 && g_stop) {
        /* the server is stopping: the run was cut short, it did not fail; the next server
         * runs the task at its next tick */
        jc_log(JC_LOG_INFO, "maintenance task interrupted by the stop", "task", jc_task_name(t),
               NULL);
        return 0;
    }
    pthread_mutex_lock(&state.lock);
    state.runs[t]++;
    state.duration_ms[t] = duration;
    if (rc < 0) {
        state.failures[t]++;
        state.last_failure[t] = at;
        state.failing[t] = true;
    } else {
        state.last_success[t] = at;
        state.failing[t] = false;
    }
    pthread_mutex_unlock(&state.lock);
    if (rc < 0)
        jc_log(JC_LOG_ERROR, "maintenance task failed", "task", jc_task_name(t), "error", err->msg,
               NULL);
    jc_err rec;
    if (jc_store_task_record(api->store, jc_task_name(t), rc == 0, at, duration,
                             rc < 0 ? err->msg : NULL, &rec) < 0)
        jc_log(JC_LOG_ERROR, "maintenance outcome not recorded", "task", jc_task_name(t), "error",
               rec.msg, NULL);
    return rc;
}

size_t jc_maintenance_failing(jc_api *api, const char **names, size_t max) {
    bool failing[JC_TASK_COUNT];
    int64_t last_failure[JC_TASK_COUNT];
    pthread_mutex_lock(&state.lock);
    memcpy(failing, state.failing, sizeof(failing));
    memcpy(last_failure, state.last_failure, sizeof(last_failure));
    pthread_mutex_unlock(&state.lock);
    /* The store's rows say what every server saw: a failure recorded there by another
     * server counts, and a success recorded after our own failure clears it. */
    jc_task_state *rows = NULL;
    size_t nrows = 0;
    jc_err err;
    if (jc_store_task_list(api->store, &rows, &nrows, &err) == 0) {
        for (size_t i = 0; i < nrows; i++) {
            for (int t = 0; t < JC_TASK_COUNT; t++) {
                if (strcmp(rows[i].task, task_names[t]) != 0)
                    continue;
                if (rows[i].last_failure_at > rows[i].last_success_at)
                    failing[t] = true;
                else if (failing[t] && rows[i].last_success_at >= last_failure[t])
                    failing[t] = false;
            }
        }
        free(rows);
    }
    size_t n = 0;
    for (int t = 0; t < JC_TASK_COUNT && n < max; t++)
        if (failing[t])
            names[n++] = task_names[t];
    return n;
}

/* ---- the thread --------------------------------------------------------------------------- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool started, stop;
} clock_state = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *maintenance_main(void *arg) {
    jc_api *api = arg;
    bool test_clock = getenv("JOBCELL_TEST_CLOCK_FILE") != NULL;
    int64_t due[JC_TASK_COUNT] = {0}; /* per task, on the task's own clock */
    pthread_mutex_lock(&clock_state.lock);
    while (!clock_state.stop) {
        pthread_mutex_unlock(&clock_state.lock);
        int64_t wait = MAX_SLEEP_MS;
        for (int t = 0; t < JC_TASK_COUNT && !g_stop; t++) {
            int64_t now = task_now((jc_task)t);
            if (now >= due[t]) {
                jc_task_run ran;
                jc_err err;
                jc_err_clear(&err);
                jc_maintenance_tick(api, (jc_task)t, &ran, &err);
                now = task_now((jc_task)t);
                due[t] = now + task_interval_ms(api->cfg, (jc_task)t);
            }
            if (due[t] - now < wait)
                wait = due[t] - now;
        }
        if (test_clock && wait > 20)
            wait = 20; /* the test clock jumps; real-time sleeps cannot follow it */
        if (wait < 1)
            wait = 1;
        pthread_mutex_lock(&clock_state.lock);
        if (clock_state.stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!clock_state.stop &&
               pthread_cond_timedwait(&clock_state.cond, &clock_state.lock, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&clock_state.lock);
    return NULL;
}

int jc_maintenance_start(jc_api *api, jc_err *err) {
    pthread_mutex_lock(&clock_state.lock);
    if (clock_state.started) {
        pthread_mutex_unlock(&clock_state.lock);
        return jc_err_set(err, JC_E_INTERNAL, "maintenance already started");
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&clock_state.cond, &attr);
    pthread_condattr_destroy(&attr);
    clock_state.stop = false;
    g_stop = false;
    int rc = pthread_create(&clock_state.thread, NULL, maintenance_main, api);
    if (rc != 0) {
        pthread_cond_destroy(&clock_state.cond);
        pthread_mutex_unlock(&clock_state.lock);
        return jc_err_sys(err, rc, "maintenance thread");
    }
    clock_state.started = true;
    pthread_mutex_unlock(&clock_state.lock);
    return 0;
}

void jc_maintenance_stop(void) {
    pthread_mutex_lock(&clock_state.lock);
    if (!clock_state.started) {
        pthread_mutex_unlock(&clock_state.lock);
        return;
    }
    clock_state.stop = true;
    g_stop = true; /* a prune in progress stops at its next batch */
    pthread_cond_signal(&clock_state.cond);
    pthread_mutex_unlock(&clock_state.lock);
    pthread_join(clock_state.thread, NULL);
    pthread_mutex_lock(&clock_state.lock);
    clock_state.started = false;
    pthread_cond_destroy(&clock_state.cond);
    pthread_mutex_unlock(&clock_state.lock);
}

/* ---- metrics ------------------------------------------------------------------------------ */

char *jc_maintenance_metrics_text(void) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    pthread_mutex_lock(&state.lock);
    fputs("# HELP jobcell_maintenance_runs_total Runs of each maintenance task by this server.\n"
          "# TYPE jobcell_maintenance_runs_total counter\n",
          f);
    for (int t = 0; t < JC_TASK_COUNT; t++)
        fprintf(f, "jobcell_maintenance_runs_total{task=\"%s\"} %" PRIu64 "\n", task_names[t],
                state.runs[t]);
    fputs("# HELP jobcell_maintenance_failures_total Runs of each maintenance task that could"
          " not do their work.\n"
          "# TYPE jobcell_maintenance_failures_total counter\n",
          f);
    for (int t = 0; t < JC_TASK_COUNT; t++)
        fprintf(f, "jobcell_maintenance_failures_total{task=\"%s\"} %" PRIu64 "\n", task_names[t],
                state.failures[t]);
    fputs("# HELP jobcell_maintenance_failing Whether the task's last run on this server"
          " failed.\n# TYPE jobcell_maintenance_failing gauge\n",
          f);
    for (int t = 0; t < JC_TASK_COUNT; t++)
        fprintf(f, "jobcell_maintenance_failing{task=\"%s\"} %d\n", task_names[t],
                state.failing[t] ? 1 : 0);
    fputs("# HELP jobcell_maintenance_last_success_timestamp_seconds When the task last"
          " succeeded on this server (0: never).\n"
          "# TYPE jobcell_maintenance_last_success_timestamp_seconds gauge\n",
          f);
    for (int t = 0; t < JC_TASK_COUNT; t++)
        fprintf(f, "jobcell_maintenance_last_success_timestamp_seconds{task=\"%s\"} %.3f\n",
                task_names[t], (double)state.last_success[t] / 1000.0);
    fputs("# HELP jobcell_maintenance_last_failure_timestamp_seconds When the task last failed"
          " on this server (0: never).\n"
          "# TYPE jobcell_maintenance_last_failure_timestamp_seconds gauge\n",
          f);
    for (int t = 0; t < JC_TASK_COUNT; t++)
        fprintf(f, "jobcell_maintenance_last_failure_timestamp_seconds{task=\"%s\"} %.3f\n",
                task_names[t], (double)state.last_failure[t] / 1000.0);
    fputs("# HELP jobcell_maintenance_duration_seconds Duration of the task's last run.\n"
          "# TYPE jobcell_maintenance_duration_seconds gauge\n",
          f);
    for (int t = 0; t < JC_TASK_COUNT; t++)
        fprintf(f, "jobcell_maintenance_duration_seconds{task=\"%s\"} %.3f\n", task_names[t],
                (double)state.duration_ms[t] / 1000.0);
    fputs("# HELP jobcell_pruned_rows_total Rows removed by retention, by kind.\n"
          "# TYPE jobcell_pruned_rows_total counter\n",
          f);
    for (int k = 0; k < JC_KIND_COUNT; k++)
        if (k != JC_KIND_VARIABLES)
            fprintf(f, "jobcell_pruned_rows_total{kind=\"%s\"} %" PRIu64 "\n",
                    jc_upkeep_kind_name((jc_upkeep_kind)k), state.pruned[k]);
    fprintf(f, "jobcell_pruned_rows_total{kind=\"executions\"} %" PRIu64 "\n",
            state.pruned_executions);
    fprintf(f,
            "# HELP jobcell_store_vacuumed_pages_total Free pages given back to the file system.\n"
            "# TYPE jobcell_store_vacuumed_pages_total counter\n"
            "jobcell_store_vacuumed_pages_total %" PRIu64 "\n",
            state.freed_pages);
    if (state.measured) {
        const jc_store_sizes *s = &state.sizes;
        fputs("# HELP jobcell_store_rows Rows in the store by kind (measured by the prune"
              " task).\n# TYPE jobcell_store_rows gauge\n",
              f);
        for (int k = 0; k < JC_KIND_COUNT; k++)
            fprintf(f, "jobcell_store_rows{kind=\"%s\"} %" PRId64 "\n",
                    jc_upkeep_kind_name((jc_upkeep_kind)k), s->rows[k]);
        fprintf(f, "jobcell_store_rows{kind=\"executions\"} %" PRId64 "\n", s->executions);
        fputs("# HELP jobcell_store_bytes Bytes in the store by kind, tables with their"
              " indexes (kind=\"store\": the whole file, kind=\"free\": its free pages).\n"
              "# TYPE jobcell_store_bytes gauge\n",
              f);
        for (int k = 0; k < JC_KIND_COUNT; k++)
            if (s->bytes[k] >= 0)
                fprintf(f, "jobcell_store_bytes{kind=\"%s\"} %" PRId64 "\n",
                        jc_upkeep_kind_name((jc_upkeep_kind)k), s->bytes[k]);
        fprintf(f, "jobcell_store_bytes{kind=\"store\"} %" PRId64 "\n", s->file_bytes);
        fprintf(f, "jobcell_store_bytes{kind=\"free\"} %" PRId64 "\n", s->free_bytes);
        fputs("# HELP jobcell_store_over_threshold Whether a kind is above its configured"
              " rows or bytes threshold.\n# TYPE jobcell_store_over_threshold gauge\n",
              f);
        for (int k = 0; k < JC_KIND_COUNT; k++)
            fprintf(f, "jobcell_store_over_threshold{kind=\"%s\"} %d\n",
                    jc_upkeep_kind_name((jc_upkeep_kind)k),
                    state.over_rows[k] || state.over_bytes[k] ? 1 : 0);
        fprintf(f, "jobcell_store_over_threshold{kind=\"store\"} %d\n", state.over_store ? 1 : 0);
        fprintf(f,
                "# HELP jobcell_store_measured_timestamp_seconds When the sizes were measured.\n"
                "# TYPE jobcell_store_measured_timestamp_seconds gauge\n"
                "jobcell_store_measured_timestamp_seconds %.3f\n",
                (double)state.measured_at / 1000.0);
    }
    pthread_mutex_unlock(&state.lock);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
