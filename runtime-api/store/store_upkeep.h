/* store_upkeep.h: the store's housekeeping and detection operations.
 *
 * Retention (what is past its time, removed in bounded batches), growth (row counts and
 * sizes per kind, space given back to the file system), maintenance leases (one run of a
 * task per tick across every server sharing the store), security signals (a table
 * deduplicated by a unique key) and the reads the detection scan runs.
 *
 * Every operation is atomic on its own. Every operation that can fail says so: a read
 * that could not run is -1 with err filled, never an empty answer — the maintenance
 * tasks above rely on that to never report success for work they could not do.
 *
 * Times are milliseconds since the epoch; `now` is always the caller's (the server's
 * clock, injectable in tests). A PostgreSQL backend implements the same contracts:
 * the lease is a conditional UPDATE, the dedup a unique key, each batch one transaction. */
#ifndef JOBCELL_STORE_UPKEEP_H
#define JOBCELL_STORE_UPKEEP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "store.h"

/* ---- retention ----------------------------------------------------------------------- */

/* What prune removes, and what /metrics measures. */
typedef enum jc_upkeep_kind {
    JC_KIND_JOBS = 0,    /* finished jobs: the job, every execution with its result */
    JC_KIND_LOGS,        /* log chunks (go with their execution) */
    JC_KIND_AUDIT,       /* audit events (the batch takes the older audit_events table; the
                          * trail of store_audit.h goes through jc_store_audit_prune) */
    JC_KIND_IDEMPOTENCY, /* stored Idempotency-Key records */
    JC_KIND_SIGNALS,     /* security signals */
    JC_KIND_ACTIVITY,    /* per-token submit counts and orchestrator addresses (scan inputs) */
    JC_KIND_VARIABLES,   /* never pruned: user data; measured only */
    JC_KIND_COUNT
} jc_upkeep_kind;

/* "jobs", "logs", "audit", "idempotency", "signals", "activity", "variables". */
const char *jc_upkeep_kind_name(jc_upkeep_kind k);

typedef struct jc_retention {
    /* A job is past its time when its latest execution is final and finished before
     * now - min(jobs_ms, the job's spec retention_days). The whole job goes: every
     * execution, result, output and log chunk (a job is never left half-pruned). */
    int64_t jobs_ms;
    int64_t audit_ms;       /* audit events by their time */
    int64_t idempotency_ms; /* idempotency records by their creation */
    int64_t signals_ms;     /* security signals by their time */
    int64_t activity_ms;    /* scan inputs by their time */
} jc_retention;

typedef struct jc_prune_counts {
    int64_t rows[JC_KIND_COUNT]; /* JC_KIND_JOBS counts jobs; executions counted apart */
    int64_t executions;
} jc_prune_counts;

/* How many rows of each kind are past their time at `now` (nothing is removed). */
int jc_store_prune_count(jc_store *st, const jc_retention *r, int64_t now, jc_prune_counts *out,
                         jc_err *err);

/* Remove one batch of one kind in ONE transaction: at most `limit` rows of the kind's
 * unit (jobs for JC_KIND_JOBS, with their executions and log chunks, however many; rows
 * otherwise). JC_KIND_LOGS and JC_KIND_VARIABLES are refused (JC_E_INVALID): logs go
 * with their jobs, variables are never pruned. `out` (added to, not reset) gets what was
 * removed; *units the number of units, so the caller stops when it is below `limit`.
 * Only rows past their time are touched, nothing else. */
int jc_store_prune_batch(jc_store *st, jc_upkeep_kind kind, const jc_retention *r, int64_t now,
                         size_t limit, jc_prune_counts *out, size_t *units, jc_err *err);

/* Give freed space back to the file system, at most max_pages pages per call. SQLite:
 * PRAGMA incremental_vacuum when the file's auto_vacuum mode is INCREMENTAL (new stores
 * are created so; *supported false for an older store until `jobcell-api prune
 * --full-vacuum`); *free_pages gets the free pages left. Other backends: a no-op with
 * *supported false. */
int jc_store_reclaim(jc_store *st, int64_t max_pages, bool *supported, int64_t *freed_pages,
                     int64_t *free_pages, jc_err *err);

/* Rewrite the whole store once (SQLite VACUUM, switching it to incremental auto-vacuum).
 * Needs the store to itself: run with every server stopped. */
int jc_store_full_vacuum(jc_store *st, jc_err *err);

/* ---- growth ---------------------------------------------------------------------------- */

typedef struct jc_store_sizes {
    int64_t rows[JC_KIND_COUNT];  /* JC_KIND_JOBS: jobs */
    int64_t bytes[JC_KIND_COUNT]; /* tables and their indexes; -1 when unknown */
    int64_t executions;           /* rows of executions */
    int64_t file_bytes;           /* the whole store */
    int64_t free_bytes;           /* free pages inside it */
} jc_store_sizes;

/* Count rows and measure sizes per kind. Reads every page on SQLite (dbstat): call it
 * from a maintenance task, not per request. */
int jc_store_measure(jc_store *st, jc_store_sizes *out, jc_err *err);

/* ---- maintenance leases ------------------------------------------------------------------ */

/* Take this tick of `task` for `holder`: atomically, when the task has no row yet or its
 * next_run_at <= now, set next_run_at = now + interval_ms and holder, and *acquired is
 * true; else *acquired is false and nothing changes. Two servers calling at the same tick:
 * exactly one acquires (a conditional UPDATE, checked by its row count). */
int jc_store_task_acquire(jc_store *st, const char *task, const char *holder, int64_t now,
                          int64_t interval_ms, bool *acquired, jc_err *err);

typedef struct jc_task_state {
    char task[32];
    char holder[64];
    int64_t next_run_at;
    int64_t last_success_at; /* 0: never */
    int64_t last_failure_at; /* 0: never */
    int64_t duration_ms;     /* of the last run */
    int64_t failures;        /* runs that failed, ever */
    char last_error[200];    /* one sentence, no secret; "" after a success */
} jc_task_state;

/* Record the end of a run: ok sets last_success_at and clears last_error; a failure sets
 * last_failure_at, last_error and failures + 1. duration_ms in both. */
int jc_store_task_record(jc_store *st, const char *task, bool ok, int64_t at, int64_t duration_ms,
                         const char *error, jc_err *err);
/* Every task's row, task order. Owned array (free()). */
int jc_store_task_list(jc_store *st, jc_task_state **out, size_t *n, jc_err *err);

/* ---- activity (inputs of the detection scan) ------------------------------------------ */

/* Count one submit by an API token (per-minute buckets). */
int jc_store_activity_submit(jc_store *st, const char *token_id, const char *owner, int64_t now,
                             jc_err *err);
/* Remember that an orchestrator id was seen from an address (first and last time). */
int jc_store_activity_orchestrator(jc_store *st, const char *orchestrator_id, const char *address,
                                   int64_t now, jc_err *err);

/* ---- detection reads ---------------------------------------------------------------- */

typedef enum jc_scan_rule {
    /* tokens created at or after since - p1 whose first submits came within p1 ms of
     * their creation: subject token id, count submits in that time */
    JC_SCAN_NEW_TOKEN_SUBMIT = 0,
    /* tokens with at least p1 submits in [since, until] and more than p2 times their
     * owner's average per window over the p3 ms before since: subject token id */
    JC_SCAN_TOKEN_RATE,
    /* at least p1 auth failures from one address in [since, until]: subject the address */
    JC_SCAN_AUTH_BURST_ADDRESS,
    /* at least p1 auth failures naming one orchestrator id: subject the id */
    JC_SCAN_AUTH_BURST_ORCHESTRATOR,
    /* execution tokens presented after their execution ended: subject the execution id */
    JC_SCAN_TOKEN_AFTER_END,
    /* orchestrator ids seen from two or more addresses in [since, until]: subject the id,
     * count the addresses */
    JC_SCAN_ORCHESTRATOR_ADDRESSES,
    /* at least p1 executions of one orchestrator marked lost in [since, until] */
    JC_SCAN_LEASES_LOST,
    /* executions finished in [since, until] killed by SIGSYS (a seccomp violation):
     * subject the execution id */
    JC_SCAN_SECCOMP_KILL,
    /* executions finished in [since, until] whose result's network.denied >= p1 (absent
     * field: not a hit): subject the execution id, count the denied packets */
    JC_SCAN_EGRESS_DENIED,
    JC_SCAN_RULE_COUNT
} jc_scan_rule;

typedef struct jc_scan_query {
    jc_scan_rule rule;
    int64_t since, until;
    int64_t p1, p2, p3;
} jc_scan_query;

typedef struct jc_scan_hit {
    char subject[128];
    char owner[JC_STORE_USER_MAX]; /* token rules: the token's user; else "" */
    int64_t count;
    int64_t first_at, last_at; /* the events' times (0 when the rule has none) */
} jc_scan_hit;

/* Run one detection read. Owned array (free()); at most 1000 hits. */
int jc_store_scan(jc_store *st, const jc_scan_query *q, jc_scan_hit **out, size_t *n, jc_err *err);

/* ---- signals -------------------------------------------------------------------------- */

typedef struct jc_signal {
    int64_t seq;
    char signal[48];
    char subject[128];
    int64_t at;    /* when the scan recorded it */
    int64_t count; /* the rule's count (failures, submits, addresses, …) */
    int64_t first_at, last_at;
    char detail[256]; /* one secret-free sentence */
} jc_signal;

/* Record a signal unless one with the same (signal, subject) was recorded at or after
 * s->at - window_ms: *inserted says which. A unique key on (signal, subject, s->at /
 * window_ms) is the last line against two writers racing. s->seq is ignored. */
int jc_store_signal_record(jc_store *st, const jc_signal *s, int64_t window_ms, bool *inserted,
                           jc_err *err);
/* Signals recorded at or after since with seq > after_seq, oldest first, at most limit.
 * Owned array (free()). */
int jc_store_signal_list(jc_store *st, int64_t since, int64_t after_seq, size_t limit,
                         jc_signal **out, size_t *n, jc_err *err);

/* Every operation above for a backend's operations table, as X(return type, name without
 * jc_store_, parameters, arguments): a backend implements jc_<backend>_<name> for each. */
#define JC_STORE_UPKEEP_OPS(X)                                                                     \
    X(int, prune_count,                                                                            \
      (jc_store * st, const jc_retention *r, int64_t now, jc_prune_counts *out, jc_err *err),      \
      (st, r, now, out, err))                                                                      \
    X(int, prune_batch,                                                                            \
      (jc_store * st, jc_upkeep_kind kind, const jc_retention *r, int64_t now, size_t limit,       \
       jc_prune_counts *out, size_t *units, jc_err *err),                                          \
      (st, kind, r, now, limit, out, units, err))                                                  \
    X(int, reclaim,                                                                                \
      (jc_store * st, int64_t max_pages, bool *supported, int64_t *freed_pages,                    \
       int64_t *free_pages, jc_err *err),                                                          \
      (st, max_pages, supported, freed_pages, free_pages, err))                                    \
    X(int, full_vacuum, (jc_store * st, jc_err * err), (st, err))                                  \
    X(int, measure, (jc_store * st, jc_store_sizes * out, jc_err * err), (st, out, err))           \
    X(int, task_acquire,                                                                           \
      (jc_store * st, const char *task, const char *holder, int64_t now, int64_t interval_ms,      \
       bool *acquired, jc_err *err),                                                               \
      (st, task, holder, now, interval_ms, acquired, err))                                         \
    X(int, task_record,                                                                            \
      (jc_store * st, const char *task, bool ok, int64_t at, int64_t duration_ms,                  \
       const char *error, jc_err *err),                                                            \
      (st, task, ok, at, duration_ms, error, err))                                                 \
    X(int, task_list, (jc_store * st, jc_task_state * *out, size_t * n, jc_err * err),             \
      (st, out, n, err))                                                                           \
    X(int, activity_submit,                                                                        \
      (jc_store * st, const char *token_id, const char *owner, int64_t now, jc_err *err),          \
      (st, token_id, owner, now, err))                                                             \
    X(int, activity_orchestrator,                                                                  \
      (jc_store * st, const char *orchestrator_id, const char *address, int64_t now, jc_err *err), \
      (st, orchestrator_id, address, now, err))                                                    \
    X(int, scan,                                                                                   \
      (jc_store * st, const jc_scan_query *q, jc_scan_hit **out, size_t *n, jc_err *err),          \
      (st, q, out, n, err))                                                                        \
    X(int, signal_record,                                                                          \
      (jc_store * st, const jc_signal *s, int64_t window_ms, bool *inserted, jc_err *err),         \
      (st, s, window_ms, inserted, err))                                                           \
    X(int, signal_list,                                                                            \
      (jc_store * st, int64_t since, int64_t after_seq, size_t limit, jc_signal * *out,            \
       size_t * n, jc_err * err),                                                                  \
      (st, since, after_seq, limit, out, n, err))

#endif
