/* signals.c: the detection scan and GET /v1/signals.
 *
 * The scan looks back over maintenance.scan_window_s (longer than its interval, so a
 * late or skipped run loses nothing) and records each hit as a signal unless the same
 * (signal, subject) was recorded within that window (so overlapping runs report it
 * once). A signal is a log line, a counter and a row; it names ids, addresses and counts,
 * never a secret, a token or a request body. A rule whose read fails makes the whole scan
 * a failure — the other rules still run, but "0 findings" is never reported for a read
 * that did not happen. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "maintenance.h"
#include "schedules.h"
#include "server.h"

typedef struct rule {
    jc_scan_rule rule;
    const char *signal;
    const char *what; /* detail: "<subject> <what> (<count>)" */
} rule;

static const rule rules[] = {
    {JC_SCAN_NEW_TOKEN_SUBMIT, "new_token_submit",
     "submitted jobs within minutes of its creation; submits"},
    {JC_SCAN_TOKEN_RATE, "token_rate", "submitted far above its owner's usual rate; submits"},
    {JC_SCAN_AUTH_BURST_ADDRESS, "auth_burst_address",
     "was the source of a burst of authentication failures; failures"},
    {JC_SCAN_AUTH_BURST_ORCHESTRATOR, "auth_burst_orchestrator",
     "was named in a burst of failed orchestrator authentications; failures"},
    {JC_SCAN_TOKEN_AFTER_END, "token_after_end",
     "had its execution token presented after it ended; requests"},
    {JC_SCAN_ORCHESTRATOR_ADDRESSES, "orchestrator_addresses",
     "was seen from several addresses at once; addresses"},
    {JC_SCAN_LEASES_LOST, "leases_lost", "lost leases repeatedly; executions lost"},
    {JC_SCAN_SECCOMP_KILL, "seccomp_kill", "was killed for a seccomp violation; count"},
    {JC_SCAN_EGRESS_DENIED, "egress_denied", "had many denied outgoing packets; denied"},
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

static struct {
    pthread_mutex_t lock;
    uint64_t recorded[NRULES];
} counters = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void query_for(const jc_api_config *cfg, const rule *r, int64_t now, jc_scan_query *q) {
    int64_t window = cfg->scan_window_s * 1000;
    *q = (jc_scan_query){.rule = r->rule, .since = now - window, .until = now};
    switch (r->rule) {
    case JC_SCAN_NEW_TOKEN_SUBMIT:
        q->p1 = cfg->sig_new_token_window_s * 1000;
        q->p2 = cfg->sig_new_token_min_submits;
        break;
    case JC_SCAN_TOKEN_RATE:
        q->p1 = cfg->sig_token_rate_min;
        q->p2 = cfg->sig_token_rate_factor;
        q->p3 = cfg->sig_token_rate_baseline_s * 1000;
        break;
    case JC_SCAN_AUTH_BURST_ADDRESS: q->p1 = cfg->sig_auth_burst_address; break;
    case JC_SCAN_AUTH_BURST_ORCHESTRATOR: q->p1 = cfg->sig_auth_burst_orchestrator; break;
    case JC_SCAN_LEASES_LOST: q->p1 = cfg->sig_leases_lost; break;
    case JC_SCAN_EGRESS_DENIED: q->p1 = cfg->sig_egress_denied; break;
    default: break;
    }
}

int jc_scan_run(jc_api *api, int64_t now, jc_scan_report *out, jc_err *err) {
    memset(out, 0, sizeof(*out));
    int64_t window = api->cfg->scan_window_s * 1000;
    int rc = 0;
    for (size_t i = 0; i < NRULES; i++) {
        jc_scan_query q;
        query_for(api->cfg, &rules[i], now, &q);
        jc_scan_hit *hits = NULL;
        size_t n = 0;
        jc_err e;
        jc_err_clear(&e);
        if (jc_store_scan(api->store, &q, &hits, &n, &e) < 0) {
            jc_log(JC_LOG_ERROR, "detection rule could not run", "signal", rules[i].signal, "error",
                   e.msg, NULL);
            if (rc == 0) {
                *err = e;
                jc_err_prefix(err, "scan %s", rules[i].signal);
            }
            rc = -1;
            continue;
        }
        out->hits += n;
        for (size_t h = 0; h < n; h++) {
            jc_signal s = {.at = now,
                           .count = hits[h].count,
                           .first_at = hits[h].first_at,
                           .last_at = hits[h].last_at};
            snprintf(s.signal, sizeof(s.signal), "%s", rules[i].signal);
            snprintf(s.subject, sizeof(s.subject), "%s", hits[h].subject);
            /* a long subject may cut the sentence short: the row keeps it whole */
            if (snprintf(s.detail, sizeof(s.detail), "%s%s%s%s %s: %" PRId64, hits[h].subject,
                         hits[h].owner[0] ? " (user " : "", hits[h].owner,
                         hits[h].owner[0] ? ")" : "", rules[i].what, hits[h].count) < 0)
                s.detail[0] = '\0';
            bool inserted = false;
            if (jc_store_signal_record(api->store, &s, window, &inserted, &e) < 0) {
                jc_log(JC_LOG_ERROR, "signal could not be recorded", "signal", s.signal, "subject",
                       s.subject, "error", e.msg, NULL);
                if (rc == 0) {
                    *err = e;
                    jc_err_prefix(err, "record %s", rules[i].signal);
                }
                rc = -1;
                continue;
            }
            if (!inserted)
                continue;
            out->recorded++;
            pthread_mutex_lock(&counters.lock);
            counters.recorded[i]++;
            pthread_mutex_unlock(&counters.lock);
            char count[24], first[32] = "", last[32] = "";
            snprintf(count, sizeof(count), "%" PRId64, s.count);
            if (s.first_at)
                jc_time_format_ms(s.first_at, first, sizeof(first));
            if (s.last_at)
                jc_time_format_ms(s.last_at, last, sizeof(last));
            jc_log(JC_LOG_WARN, "security signal", "signal", s.signal, "subject", s.subject,
                   "count", count, "first_at", first, "last_at", last, "detail", s.detail, NULL);
        }
        free(hits);
    }
    return rc;
}

char *jc_signals_metrics_text(void) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputs("# HELP jobcell_signals_total Security signals recorded by this server's scans.\n"
          "# TYPE jobcell_signals_total counter\n",
          f);
    pthread_mutex_lock(&counters.lock);
    for (size_t i = 0; i < NRULES; i++)
        fprintf(f, "jobcell_signals_total{signal=\"%s\"} %" PRIu64 "\n", rules[i].signal,
                counters.recorded[i]);
    pthread_mutex_unlock(&counters.lock);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- GET /v1/signals ------------------------------------------------------------------- */

static int list_signals(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    int64_t since = 0, after = 0, limit = 50;
    const char *v = jc_req_query(req, "since");
    if (v && *v && jc_time_parse_ms(v, &since) < 0)
        return jc_err_field(err, JC_E_INVALID, "since",
                            "since must be an RFC 3339 time (2026-11-22T14:03:07Z)");
    v = jc_req_query(req, "limit");
    if (v) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || x < 1 || x > 500)
            return jc_err_field(err, JC_E_INVALID, "limit", "limit must be between 1 and 500");
        limit = x;
    }
    v = jc_req_query(req, "cursor");
    if (v) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || x < 0)
            return jc_err_field(err, JC_E_INVALID, "cursor", "cursor is not valid");
        after = x;
    }
    jc_signal *sig = NULL;
    size_t n = 0;
    if (jc_store_signal_list(api->store, since, after, (size_t)limit + 1, &sig, &n, err) < 0)
        return -1;
    json_t *arr = json_array();
    size_t shown = n > (size_t)limit ? (size_t)limit : n;
    for (size_t i = 0; i < shown; i++) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:I, s:o, s:o, s:s}", "id",
                              (json_int_t)sig[i].seq, "signal", sig[i].signal, "subject",
                              sig[i].subject, "at", jc_time_json(sig[i].at), "count",
                              (json_int_t)sig[i].count, "first_at", jc_time_json(sig[i].first_at),
                              "last_at", jc_time_json(sig[i].last_at), "detail", sig[i].detail);
        json_array_append_new(arr, o);
    }
    json_t *next = json_null();
    if (n > (size_t)limit)
        next = json_sprintf("%" PRId64, sig[shown - 1].seq);
    free(sig);
    return jc_reply_json(req, 200, json_pack("{s:o, s:o}", "signals", arr, "next_cursor", next),
                         err);
}

int jc_signal_routes(jc_router *r, jc_api *api, jc_err *err) {
    (void)api;
    jc_route_opts o = {.auth = JC_AUTH_ADMIN, .group = "signals"};
    return jc_router_add(r, "GET", "/v1/signals", list_signals, &o, err);
}
