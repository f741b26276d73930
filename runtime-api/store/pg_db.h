/* pg_db.h: what the PostgreSQL backend's files share (private to runtime-api/store/).
 *
 * A bounded pool of connections per process, statements prepared once per connection
 * (keyed by the identity of their static SQL text), a printf-like binder whose values are
 * always sent as parameters (never spliced into SQL), transactions retried when
 * PostgreSQL rolled them back for a serialization failure or a deadlock, and the row
 * mappings shared with the SQLite backend's column lists. */
#ifndef JOBCELL_STORE_PG_DB_H
#define JOBCELL_STORE_PG_DB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "store.h"
#include "store_backend.h"

#define PG_STMT_CACHE 96

typedef struct pgc {
    struct jc_pg_store *pg;
    PGconn *conn;
    const char *prepared[PG_STMT_CACHE]; /* statement i is named "s<i>" */
    size_t nprepared;
    bool in_use;
    bool retry;  /* the last error rolled the transaction back: running it again is safe */
    bool broken; /* the connection failed: reset it before the next use */
    int64_t last_used_ms;
} pgc;

struct jc_pg_store {
    char *conninfo;
    char *password;
    int pool_size;
    int statement_timeout_ms;
    pthread_mutex_t lock; /* protects pool[].in_use */
    pthread_cond_t cond;  /* a connection was released */
    pgc *pool;
    /* Notifications: this process's id (a NOTIFY payload; our own are ignored) and the
     * listening thread. */
    char instance[JC_ID_MAX];
    pthread_t listener;
    bool listening;
    int stop_pipe[2];
};

/* A connection of the pool (waits for one, at most the statement timeout). */
pgc *jc_pg_acquire(jc_store *st, jc_err *err);
void jc_pg_release(jc_store *st, pgc *c);

/* Run a statement with parameters bound by a format: s text (NULL → null), i int64,
 * t time in ms (0 → null), b bytea (ptr, size_t), j json text (NULL → null), a text[]
 * (a NULL-terminated const char *const *, NULL → null), n null. Owned result (PQclear)
 * or NULL with err set. */
PGresult *jc_pg_q(pgc *c, const char *sql, jc_err *err, const char *fmt, ...);
/* The same for a statement without rows: the number of rows it changed, or -1. */
int64_t jc_pg_x(pgc *c, const char *sql, jc_err *err, const char *fmt, ...);
/* The same, asking for binary results (log chunks). */
PGresult *jc_pg_qbin(pgc *c, const char *sql, jc_err *err, const char *fmt, ...);

/* fn runs inside BEGIN … COMMIT on a pooled connection; a transaction PostgreSQL rolled
 * back (serialization failure 40001, deadlock 40P01, a connection lost before COMMIT) is
 * run again, a bounded number of times, so fn must be safe to repeat (it starts by
 * resetting its outputs). Returns fn's value, or -1. */
typedef int (*jc_pg_fn)(jc_store *st, pgc *c, void *arg, jc_err *err);
int jc_pg_tx(jc_store *st, jc_pg_fn fn, void *arg, jc_err *err);
/* The same without a transaction (one statement, or reads), retried on 40001/40P01. */
int jc_pg_run(jc_store *st, jc_pg_fn fn, void *arg, jc_err *err);

/* Tell every other server that work was queued (delivered when the transaction commits). */
int jc_pg_notify_work(jc_store *st, pgc *c, jc_err *err);

/* Columns. */
bool jc_pg_null(const PGresult *r, int row, int col);
int64_t jc_pg_int(const PGresult *r, int row, int col);      /* 0 for NULL */
const char *jc_pg_text(const PGresult *r, int row, int col); /* "" for NULL */
void jc_pg_copy(const PGresult *r, int row, int col, char *out, size_t outlen);
json_t *jc_pg_json(const PGresult *r, int row, int col); /* NULL for NULL */

/* EXE_COLS / JOB_COLS of sqlite_db.h, in the same order. */
#define PG_EXE_COLS                                                                                \
    "e.id, e.job_id, j.owner, e.attempt, e.status, e.orchestrator_id, e.lease_token,"              \
    " e.lease_expires_at, e.created_at, e.scheduled_for, e.claimed_at, e.started_at,"              \
    " e.finished_at, j.timeout_s, e.result, e.output, e.condition, e.log_bytes,"                   \
    " e.log_truncated, e.cancel_requested"
#define PG_EXE_NCOLS 20
#define PG_JOB_COLS "j.id, j.owner, j.name, j.spec, j.created_at, e.status, j.latest_exe, j.seq"

void jc_pg_exe_row(jc_store *st, const PGresult *r, int row, int col, jc_execution *e);
void jc_pg_job_row(const PGresult *r, int row, int col, jc_job *j);

/* One execution (PG_EXE_COLS), locked FOR UPDATE when `lock`. JC_E_NOT_FOUND. */
int jc_pg_exe_load(jc_store *st, pgc *c, const char *id, bool lock, jc_execution *out, jc_err *err);
/* Inside a transaction: lock the execution and check the fence (claimed or running, held
 * by orc when not NULL, under lease_token). Else JC_E_LEASE_LOST. */
int jc_pg_fence(jc_store *st, pgc *c, const char *exe_id, const char *orc, const char *lease_token,
                jc_execution *e, jc_err *err);
/* Insert a job and its first execution inside the caller's transaction. */
int jc_pg_job_insert(pgc *c, const jc_job_new *in, jc_err *err);

#endif
