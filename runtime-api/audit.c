/* audit.c: see audit.h. */
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobcell/io.h"
#include "jobcell/log.h"

#define GATHER_MS 50 /* longest wait for a batch to fill */
#define AGG_MAX 512  /* distinct aggregates per window; more are written one by one */

typedef struct aggregate {
    jc_audit_event ev; /* the first event of the window, count and latency sum below */
    int64_t latency_sum;
} aggregate;

struct jc_audit {
    jc_store *st;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* writer: events arrived or stop */
    pthread_cond_t drained; /* flushers: the writer finished a batch */
    jc_audit_event *queue;  /* ring of capacity events */
    size_t capacity, head, count;
    bool stop;
    bool close_window;       /* a flush asked for the open aggregates too */
    uint64_t windows_closed; /* aggregation windows written (flushers wait for one) */
    uint64_t enqueued, dropped, written, failed, aggregated, batches_in_flight;
    int64_t aggregate_ms;
    /* writer-only state */
    aggregate *agg;
    size_t nagg;
    int64_t window_start;
};

jc_audit *jc_audit_global;

void jc_audit_set(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src ? src : "");
}

/* The hot machine paths whose successes are aggregated (audit.h). */
static bool aggregatable(const jc_audit_event *e) {
    if (strcmp(e->kind, "auth") != 0 || strcmp(e->outcome, "success") != 0)
        return false;
    return strcmp(e->actor_type, "orchestrator") == 0 || strcmp(e->actor_type, "execution") == 0;
}

static bool same_aggregate(const jc_audit_event *a, const jc_audit_event *b) {
    return strcmp(a->actor, b->actor) == 0 && strcmp(a->group, b->group) == 0 &&
           strcmp(a->scheme, b->scheme) == 0 && strcmp(a->key_version, b->key_version) == 0 &&
           strcmp(a->remote, b->remote) == 0;
}

static void write_batch(jc_audit *a, jc_audit_event *batch, size_t n) {
    if (n == 0)
        return;
    jc_err err;
    if (jc_store_audit_append(a->st, batch, n, &err) < 0) {
        jc_log(JC_LOG_ERROR, "audit write failed; events lost", "error", err.msg, NULL);
        pthread_mutex_lock(&a->lock);
        a->failed += n;
        pthread_mutex_unlock(&a->lock);
        return;
    }
    pthread_mutex_lock(&a->lock);
    a->written += n;
    pthread_mutex_unlock(&a->lock);
}

/* Close the aggregation window: one row per aggregate. */
static void flush_aggregates(jc_audit *a, jc_audit_event *scratch) {
    size_t n = 0;
    for (size_t i = 0; i < a->nagg; i++) {
        aggregate *g = &a->agg[i];
        g->ev.latency_us = g->ev.count ? g->latency_sum / g->ev.count : 0;
        scratch[n++] = g->ev;
        if (n == JC_AUDIT_BATCH) {
            write_batch(a, scratch, n);
            n = 0;
        }
    }
    write_batch(a, scratch, n);
    a->nagg = 0;
}

/* Fold aggregatable events of the batch into the window; returns the rest in place. */
static size_t fold(jc_audit *a, jc_audit_event *batch, size_t n) {
    if (a->aggregate_ms <= 0)
        return n;
    size_t keep = 0;
    uint64_t folded = 0;
    for (size_t i = 0; i < n; i++) {
        jc_audit_event *e = &batch[i];
        aggregate *g = NULL;
        if (aggregatable(e)) {
            for (size_t k = 0; k < a->nagg && !g; k++)
                if (same_aggregate(&a->agg[k].ev, e))
                    g = &a->agg[k];
            if (!g && a->nagg < AGG_MAX) {
                g = &a->agg[a->nagg++];
                g->ev = *e;
                g->ev.count = 0;
                g->latency_sum = 0;
            }
        }
        if (g) {
            g->ev.count++;
            g->latency_sum += e->latency_us;
            folded++;
        } else {
            if (keep != i)
                batch[keep] = *e;
            keep++;
        }
    }
    pthread_mutex_lock(&a->lock);
    a->aggregated += folded;
    pthread_mutex_unlock(&a->lock);
    return keep;
}

static void *writer_main(void *arg) {
    jc_audit *a = arg;
    jc_audit_event *batch = malloc(sizeof(*batch) * JC_AUDIT_BATCH);
    jc_audit_event *scratch = malloc(sizeof(*scratch) * JC_AUDIT_BATCH);
    if (!batch || !scratch) {
        jc_log(JC_LOG_ERROR, "audit writer: out of memory; audit events will be dropped", NULL);
        free(batch);
        free(scratch);
        return NULL;
    }
    a->window_start = jc_time_mono_ms();
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (a->count == 0 && !a->stop && !a->close_window) {
            int64_t deadline = jc_time_now_ms() + 200;
            struct timespec ts = {.tv_sec = deadline / 1000,
                                  .tv_nsec = (deadline % 1000) * 1000000L};
            if (pthread_cond_timedwait(&a->wake, &a->lock, &ts) == ETIMEDOUT)
                break;
        }
        /* Gather: a transaction per event would compete with the requests for SQLite's
         * one write lock; waiting up to GATHER_MS for a full batch makes it one per batch. */
        int64_t gather_end = jc_time_now_ms() + GATHER_MS;
        while (a->count > 0 && a->count < JC_AUDIT_BATCH && !a->stop && !a->close_window) {
            struct timespec ts = {.tv_sec = gather_end / 1000,
                                  .tv_nsec = (gather_end % 1000) * 1000000L};
            if (pthread_cond_timedwait(&a->wake, &a->lock, &ts) == ETIMEDOUT)
                break;
        }
        size_t n = a->count < JC_AUDIT_BATCH ? a->count : JC_AUDIT_BATCH;
        for (size_t i = 0; i < n; i++) {
            batch[i] = a->queue[a->head];
            a->head = (a->head + 1) % a->capacity;
        }
        a->count -= n;
        a->batches_in_flight++;
        bool stopping = a->stop && a->count == 0;
        bool close_now = a->close_window && a->count == 0;
        a->close_window = false;
        pthread_mutex_unlock(&a->lock);

        size_t rest = fold(a, batch, n);
        write_batch(a, batch, rest);
        if (stopping || close_now ||
            (a->nagg && jc_time_mono_ms() - a->window_start >= a->aggregate_ms)) {
            flush_aggregates(a, scratch);
            a->window_start = jc_time_mono_ms();
        }
        if (stopping || close_now) {
            pthread_mutex_lock(&a->lock);
            a->windows_closed++;
            pthread_mutex_unlock(&a->lock);
        }

        pthread_mutex_lock(&a->lock);
        a->batches_in_flight--;
        pthread_cond_broadcast(&a->drained);
        if (stopping)
            break;
    }
    pthread_mutex_unlock(&a->lock);
    free(batch);
    free(scratch);
    return NULL;
}

jc_audit *jc_audit_start(jc_store *st, size_t capacity, int64_t aggregate_s, jc_err *err) {
    jc_audit *a = calloc(1, sizeof(*a));
    if (!a) {
        jc_err_sys(err, ENOMEM, "audit");
        return NULL;
    }
    a->st = st;
    a->capacity = capacity ? capacity : 1;
    a->aggregate_ms = aggregate_s * 1000;
    a->queue = calloc(a->capacity, sizeof(*a->queue));
    a->agg = calloc(AGG_MAX, sizeof(*a->agg));
    if (!a->queue || !a->agg) {
        free(a->queue);
        free(a->agg);
        free(a);
        jc_err_sys(err, ENOMEM, "audit queue");
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    pthread_cond_init(&a->drained, NULL);
    int e = pthread_create(&a->thread, NULL, writer_main, a);
    if (e != 0) {
        pthread_cond_destroy(&a->drained);
        pthread_cond_destroy(&a->wake);
        pthread_mutex_destroy(&a->lock);
        free(a->queue);
        free(a->agg);
        free(a);
        jc_err_sys(err, e, "audit writer thread");
        return NULL;
    }
    jc_audit_global = a;
    return a;
}

bool jc_audit_emit(jc_audit *a, const jc_audit_event *ev) {
    if (!a)
        return false;
    pthread_mutex_lock(&a->lock);
    if (a->count == a->capacity || a->stop) {
        a->dropped++;
        pthread_mutex_unlock(&a->lock);
        return false;
    }
    jc_audit_event *slot = &a->queue[(a->head + a->count) % a->capacity];
    *slot = *ev;
    if (slot->at == 0)
        slot->at = jc_time_now_ms();
    if (slot->count < 1)
        slot->count = 1;
    a->count++;
    a->enqueued++;
    /* Wake the writer only for the first event, or when a batch is ready: a signal per
     * event would make every request pay for a futex wake-up. */
    if (a->count == 1 || a->count == JC_AUDIT_BATCH)
        pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    return true;
}

void jc_audit_flush(jc_audit *a, int64_t timeout_ms) {
    if (!a)
        return;
    int64_t deadline = jc_time_now_ms() + timeout_ms;
    pthread_mutex_lock(&a->lock);
    a->close_window = true;
    uint64_t seen = a->windows_closed;
    pthread_cond_signal(&a->wake);
    while ((a->count > 0 || a->batches_in_flight > 0 || a->windows_closed == seen) &&
           jc_time_now_ms() < deadline) {
        struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000L};
        pthread_cond_timedwait(&a->drained, &a->lock, &ts);
    }
    pthread_mutex_unlock(&a->lock);
}

void jc_audit_stop(jc_audit *a) {
    if (!a)
        return;
    if (jc_audit_global == a)
        jc_audit_global = NULL;
    pthread_mutex_lock(&a->lock);
    a->stop = true;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->drained);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    free(a->queue);
    free(a->agg);
    free(a);
}

char *jc_audit_metrics_text(jc_audit *a) {
    if (!a)
        return NULL;
    pthread_mutex_lock(&a->lock);
    uint64_t dropped = a->dropped, written = a->written, failed = a->failed,
             aggregated = a->aggregated, queued = a->count;
    pthread_mutex_unlock(&a->lock);
    char *text = NULL;
    if (asprintf(&text,
                 "# HELP jobcell_audit_dropped_total Audit events dropped because the queue was "
                 "full.\n# TYPE jobcell_audit_dropped_total counter\n"
                 "jobcell_audit_dropped_total %" PRIu64 "\n"
                 "# HELP jobcell_audit_written_total Audit rows written to the store.\n"
                 "# TYPE jobcell_audit_written_total counter\n"
                 "jobcell_audit_written_total %" PRIu64 "\n"
                 "# HELP jobcell_audit_write_failed_total Audit events lost to store errors.\n"
                 "# TYPE jobcell_audit_write_failed_total counter\n"
                 "jobcell_audit_write_failed_total %" PRIu64 "\n"
                 "# HELP jobcell_audit_aggregated_total Successful machine authentications "
                 "folded into aggregate rows.\n# TYPE jobcell_audit_aggregated_total counter\n"
                 "jobcell_audit_aggregated_total %" PRIu64 "\n"
                 "# HELP jobcell_audit_queue Audit events waiting to be written.\n"
                 "# TYPE jobcell_audit_queue gauge\njobcell_audit_queue %" PRIu64 "\n",
                 dropped, written, failed, aggregated, queued) < 0)
        return NULL;
    return text;
}

void jc_api_operator_event(jc_audit_event *ev, const char *kind, const char *target) {
    memset(ev, 0, sizeof(*ev));
    ev->at = jc_time_now_ms();
    ev->count = 1;
    JC_AUDIT_SET(ev, kind, kind);
    JC_AUDIT_SET(ev, actor_type, "operator");
    /* The login running the command; a name chosen by the host, not by a caller. */
    const char *who = getenv("SUDO_USER");
    if (!who || !*who)
        who = getenv("USER");
    char uid[32];
    if (!who || !*who) {
        snprintf(uid, sizeof(uid), "uid:%u", (unsigned)getuid());
        who = uid;
    }
    JC_AUDIT_SET(ev, actor, who);
    JC_AUDIT_SET(ev, scheme, "cli");
    JC_AUDIT_SET(ev, group, "command");
    JC_AUDIT_SET(ev, outcome, "success");
    JC_AUDIT_SET(ev, reason, "ok");
    JC_AUDIT_SET(ev, target, target);
}
