/* metrics.c: counters for /metrics, rendered in the Prometheus text format.
 *
 * Label values come from fixed sets (route groups, status codes, failure reasons chosen
 * by the code), never from a request, so the number of series stays bounded whatever a
 * client sends. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "maintenance.h"
#include "audit.h"
#include "schedules.h"

static const char *const groups[] = {"health",    "metrics", "jobs",     "executions", "logs",
                                     "variables", "tokens",  "profiles", "internal",   "claims",
                                     "runtime",   "audit",   "signals",  "other"};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))
static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define MAX_REASONS 64

struct jc_metrics {
    pthread_mutex_t lock;
    uint64_t requests[NGROUPS][600];
    uint64_t hist[NGROUPS][NBUCKETS + 1];
    double sum[NGROUPS];
    uint64_t count[NGROUPS];
    uint64_t claims;
    uint64_t leases_expired;
    struct {
        size_t group;
        char reason[48];
        uint64_t n;
    } auth[MAX_REASONS];
    size_t nauth;
    uint64_t undecided[NGROUPS];
};

static size_t group_index(const char *g) {
    for (size_t i = 0; g && i < NGROUPS; i++)
        if (strcmp(groups[i], g) == 0)
            return i;
    return NGROUPS - 1;
}

jc_metrics *jc_metrics_new(void) {
    jc_metrics *m = calloc(1, sizeof(*m));
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void jc_metrics_free(jc_metrics *m) {
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void jc_metrics_request(jc_metrics *m, const char *group, unsigned status, int64_t micros) {
    if (!m)
        return;
    size_t g = group_index(group);
    double s = (double)micros / 1e6;
    pthread_mutex_lock(&m->lock);
    if (status < 600)
        m->requests[g][status]++;
    size_t b = 0;
    while (b < NBUCKETS && s > buckets[b])
        b++;
    m->hist[g][b]++;
    m->sum[g] += s;
    m->count[g]++;
    pthread_mutex_unlock(&m->lock);
}

void jc_metrics_auth_failure(jc_metrics *m, const char *group, const char *reason) {
    if (!m)
        return;
    size_t g = group_index(group);
    pthread_mutex_lock(&m->lock);
    size_t i;
    for (i = 0; i < m->nauth; i++)
        if (m->auth[i].group == g && strcmp(m->auth[i].reason, reason) == 0)
            break;
    if (i == m->nauth && m->nauth < MAX_REASONS) {
        m->auth[i].group = g;
        snprintf(m->auth[i].reason, sizeof(m->auth[i].reason), "%s", reason);
        m->nauth++;
    }
    if (i < m->nauth)
        m->auth[i].n++;
    pthread_mutex_unlock(&m->lock);
}

void jc_metrics_auth_undecided(jc_metrics *m, const char *group) {
    if (!m)
        return;
    size_t g = group_index(group);
    pthread_mutex_lock(&m->lock);
    m->undecided[g]++;
    pthread_mutex_unlock(&m->lock);
}

void jc_metrics_claims(jc_metrics *m, size_t n) {
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->claims += n;
    pthread_mutex_unlock(&m->lock);
}

void jc_metrics_leases_expired(jc_metrics *m, size_t n) {
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->leases_expired += n;
    pthread_mutex_unlock(&m->lock);
}

/* A growing text buffer. */
typedef struct buf {
    char *p;
    size_t len, cap;
    bool failed;
} buf;

__attribute__((format(printf, 2, 3))) static void put(buf *b, const char *fmt, ...) {
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 8192;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

char *jc_metrics_render(jc_metrics *m, jc_store *st, size_t *len) {
    buf b = {0};
    int64_t counts[JC_EXE_STATUS_COUNT];
    jc_err err;
    bool have_counts = jc_store_execution_counts(st, counts, &err) == 0;
    pthread_mutex_lock(&m->lock);
    put(&b, "# HELP jobcell_http_requests_total HTTP requests by route group and status.\n"
            "# TYPE jobcell_http_requests_total counter\n");
    for (size_t g = 0; g < NGROUPS; g++)
        for (unsigned s = 100; s < 600; s++)
            if (m->requests[g][s])
                put(&b, "jobcell_http_requests_total{group=\"%s\",status=\"%u\"} %" PRIu64 "\n",
                    groups[g], s, m->requests[g][s]);
    put(&b, "# HELP jobcell_http_request_duration_seconds Request latency by route group.\n"
            "# TYPE jobcell_http_request_duration_seconds histogram\n");
    for (size_t g = 0; g < NGROUPS; g++) {
        if (!m->count[g])
            continue;
        uint64_t cum = 0;
        for (size_t i = 0; i < NBUCKETS; i++) {
            cum += m->hist[g][i];
            put(&b,
                "jobcell_http_request_duration_seconds_bucket{group=\"%s\",le=\"%g\"} %" PRIu64
                "\n",
                groups[g], buckets[i], cum);
        }
        cum += m->hist[g][NBUCKETS];
        put(&b,
            "jobcell_http_request_duration_seconds_bucket{group=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
            groups[g], cum);
        put(&b, "jobcell_http_request_duration_seconds_sum{group=\"%s\"} %.6f\n", groups[g],
            m->sum[g]);
        put(&b, "jobcell_http_request_duration_seconds_count{group=\"%s\"} %" PRIu64 "\n",
            groups[g], m->count[g]);
    }
    put(&b,
        "# HELP jobcell_claims_total Executions handed to orchestrators.\n"
        "# TYPE jobcell_claims_total counter\njobcell_claims_total %" PRIu64 "\n",
        m->claims);
    put(&b,
        "# HELP jobcell_leases_expired_total Leases that ran out (lost or re-queued).\n"
        "# TYPE jobcell_leases_expired_total counter\njobcell_leases_expired_total %" PRIu64 "\n",
        m->leases_expired);
    put(&b, "# HELP jobcell_auth_undecided_total Authentications refused because the store could"
            " not answer (failed closed), by route group.\n"
            "# TYPE jobcell_auth_undecided_total counter\n");
    for (size_t g = 0; g < NGROUPS; g++)
        if (m->undecided[g])
            put(&b, "jobcell_auth_undecided_total{group=\"%s\"} %" PRIu64 "\n", groups[g],
                m->undecided[g]);
    put(&b, "# HELP jobcell_auth_failures_total Rejected credentials by route group and reason.\n"
            "# TYPE jobcell_auth_failures_total counter\n");
    for (size_t i = 0; i < m->nauth; i++)
        put(&b, "jobcell_auth_failures_total{group=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
            groups[m->auth[i].group], m->auth[i].reason, m->auth[i].n);
    pthread_mutex_unlock(&m->lock);
    if (have_counts) {
        put(&b, "# HELP jobcell_executions Executions in the store by status.\n"
                "# TYPE jobcell_executions gauge\n");
        for (int s = 0; s < JC_EXE_STATUS_COUNT; s++)
            put(&b, "jobcell_executions{status=\"%s\"} %" PRId64 "\n",
                jc_exe_status_name((jc_exe_status)s), counts[s]);
    }
    char *audit = jc_audit_metrics_text(jc_audit_global);
    if (audit)
        put(&b, "%s", audit);
    free(audit);
    char *schedules = jc_scheduler_metrics_text();
    if (schedules)
        put(&b, "%s", schedules);
    free(schedules);
    char *upkeep = jc_maintenance_metrics_text();
    if (upkeep)
        put(&b, "%s", upkeep);
    free(upkeep);
    char *signals = jc_signals_metrics_text();
    if (signals)
        put(&b, "%s", signals);
    free(signals);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
