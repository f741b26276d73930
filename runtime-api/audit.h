/* audit.h: the audit trail's write path: a bounded in-memory queue and one writer thread.
 *
 * A request never waits for, and never fails because of, the audit trail: jc_audit_emit
 * copies the event into a fixed-size queue under a mutex and returns; when the queue is
 * full the event is dropped and counted (jobcell_audit_dropped_total). The writer thread
 * drains the queue in batches of up to JC_AUDIT_BATCH events, one transaction each.
 *
 * Successful authentications on the hot machine paths (the internal API and the runtime
 * API: every claim, heartbeat, log chunk and job request) are aggregated, not written one
 * by one: per actor, route group, scheme and key version, one row per window
 * (audit.aggregate_s) carries the count and the mean latency. Every failure, every admin
 * API request and every data operation is written as its own row. */
#ifndef JOBCELL_API_AUDIT_H
#define JOBCELL_API_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_audit.h"

#define JC_AUDIT_BATCH 256

typedef struct jc_audit jc_audit;

/* The running server's audit queue, for /metrics (NULL when none). */
extern jc_audit *jc_audit_global;

/* Start the writer. capacity: queue slots; aggregate_s: window of aggregated successes (0:
 * write every event). Owned: jc_audit_stop. */
jc_audit *jc_audit_start(jc_store *st, size_t capacity, int64_t aggregate_s, jc_err *err);
/* Write what is queued (and the open aggregates), stop the thread, free. NULL is fine. */
void jc_audit_stop(jc_audit *a);
/* Queue one event (copied). false when it was dropped (queue full or a NULL audit). */
bool jc_audit_emit(jc_audit *a, const jc_audit_event *ev);
/* Wait until everything queued so far is written, open aggregates included (GET /v1/audit,
 * tests), at most timeout_ms. */
void jc_audit_flush(jc_audit *a, int64_t timeout_ms);
/* Prometheus text of the audit counters (owned), for /metrics. */
char *jc_audit_metrics_text(jc_audit *a);

/* GET /v1/audit (audit_api.c). */
typedef struct jc_router jc_router;
typedef struct jc_api jc_api;
int jc_audit_routes(jc_router *r, jc_api *api, jc_err *err);

/* An event of an offline command (token create, key rotation): actor type "operator", the
 * login that ran it, scheme "cli", outcome success. */
void jc_api_operator_event(jc_audit_event *ev, const char *kind, const char *target);

/* Copy text into a fixed event field, truncated. */
void jc_audit_set(char *dst, size_t cap, const char *src);
#define JC_AUDIT_SET(ev, field, src) jc_audit_set((ev)->field, sizeof((ev)->field), (src))

#endif
