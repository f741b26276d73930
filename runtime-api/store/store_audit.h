/* store_audit.h: the audit trail (docs/security.md "Audit trail").
 *
 * One row per event: who (actor type and id), how they authenticated (scheme, key
 * version), what (kind, route group, target), the outcome and its reason, from where, and
 * how long it took. Rows never hold a secret, a request body or a variable value: every
 * field is a fixed word, an id, or a name chosen by the server.
 *
 * Writers are the server's audit thread (batches, jc_store_audit_append) and offline
 * commands; readers page newest first. Each operation is atomic on its own. */
#ifndef JOBCELL_STORE_AUDIT_H
#define JOBCELL_STORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "store.h"

#define JC_AUDIT_WORD 32  /* kind, actor type, scheme, group, outcome */
#define JC_AUDIT_TEXT 130 /* actor, target, key version, reason */
#define JC_AUDIT_REMOTE 64

typedef struct jc_audit_event {
    int64_t seq;                    /* set by the store; 0 on append */
    int64_t at;                     /* ms since the epoch */
    char kind[JC_AUDIT_WORD];       /* "auth", "job_submit", "job_cancel", "variable_write", … */
    char actor_type[JC_AUDIT_WORD]; /* "user", "orchestrator", "execution", "operator", "unknown" */
    char actor[JC_AUDIT_TEXT];      /* user name, orchestrator id, execution id, or "unknown" */
    char scheme[JC_AUDIT_WORD];     /* "token", "bearer", "hmac", "jwt", "cli", "none" */
    char group[JC_AUDIT_WORD];      /* route group ("jobs", "claims", "runtime", …) */
    char outcome[JC_AUDIT_WORD];    /* "success", "failure" (auth), "denied", "error" */
    char reason[JC_AUDIT_TEXT];     /* a fixed word ("ok", "wrong_key", "invalid_token:expired") */
    char remote[JC_AUDIT_REMOTE];   /* peer address, "" for offline commands */
    char key_version[JC_AUDIT_TEXT]; /* kid or token id that authenticated, "" when none */
    char target[JC_AUDIT_TEXT];      /* the object acted on (job id, token id, kid, key name) */
    int64_t status;                  /* HTTP status, 0 for offline commands */
    int64_t latency_us;              /* request time, 0 when not a request */
    int64_t count;                   /* events this row stands for (aggregated successes), ≥ 1 */
} jc_audit_event;

/* Append n events in one transaction. */
int jc_store_audit_append(jc_store *st, const jc_audit_event *ev, size_t n, jc_err *err);

typedef struct jc_audit_query {
    const char *actor;   /* exact actor, NULL: any */
    const char *outcome; /* exact outcome, NULL: any */
    const char *kind;    /* exact kind, NULL: any */
    int64_t since;       /* at ≥ since (ms), 0: any */
    size_t limit;        /* 1–1000 */
    const char *cursor;  /* NULL, or a next_cursor of a previous page */
} jc_audit_query;

/* Events newest first. *out owned (free()); *next_cursor owned, NULL on the last page. A
 * malformed cursor is JC_E_INVALID with field "cursor". */
int jc_store_audit_query(jc_store *st, const jc_audit_query *q, jc_audit_event **out, size_t *n,
                         char **next_cursor, jc_err *err);

/* Delete at most max_rows events older than `before` (ms), oldest first; *deleted (may be
 * NULL) gets the count. Bounded so a housekeeping pass never holds the write lock long. */
int jc_store_audit_prune(jc_store *st, int64_t before, size_t max_rows, size_t *deleted,
                         jc_err *err);

/* The schema (appended to the migrations by sqlite_db.c). */
#define JC_SQLITE_AUDIT_SCHEMA                                                                     \
    "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"          \
    " kind TEXT NOT NULL, actor_type TEXT NOT NULL, actor TEXT NOT NULL, scheme TEXT NOT NULL,"    \
    " route_group TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL,"                     \
    " remote TEXT NOT NULL, key_version TEXT NOT NULL, target TEXT NOT NULL,"                      \
    " status INTEGER NOT NULL, latency_us INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 1);"    \
    "CREATE INDEX audit_log_at ON audit_log(at);"                                                  \
    "CREATE INDEX audit_log_actor ON audit_log(actor, seq);"

#endif
