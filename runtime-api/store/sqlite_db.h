/* sqlite_db.h: what the SQLite backend's files share (private to runtime-api/store/).
 *
 * One connection per calling thread, statements cached per connection by the identity of
 * their static SQL text, a printf-like binder, and the row mappings. */
#ifndef JOBCELL_STORE_SQLITE_DB_H
#define JOBCELL_STORE_SQLITE_DB_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "store.h"
#include "store_backend.h"

#define STMT_CACHE 64

typedef struct conn {
    sqlite3 *db;
    struct {
        const char *sql; /* identity of a static string */
        sqlite3_stmt *stmt;
    } cache[STMT_CACHE];
    size_t ncache;
    struct conn *next;
    jc_store *st;
} conn;

struct jc_sq_store {
    char *path;
    int busy_timeout_ms;
    pthread_key_t key;
    pthread_mutex_t lock; /* protects conns */
    conn *conns;
};

/* The calling thread's connection (opened on first use). */
conn *jc_sq_conn(jc_store *st, jc_err *err);
/* A cached statement for a static SQL string, reset and unbound. */
sqlite3_stmt *jc_sq_prep(conn *c, const char *sql, jc_err *err);
/* Bind by a format: s text (NULL → null), i int64, t time in ms (0 → null), b blob (ptr,
 * size_t), j json (NULL → null), n null. */
int jc_sq_bind(conn *c, sqlite3_stmt *s, jc_err *err, const char *fmt, ...);
/* The same on a bare handle (inside jc_sqlite_tx, which hands out the sqlite3 *). */
int jc_sq_bind_db(sqlite3 *db, sqlite3_stmt *s, jc_err *err, const char *fmt, ...);
/* Step once: 1 a row, 0 done, -1 error. */
int jc_sq_step(conn *c, sqlite3_stmt *s, jc_err *err);
/* Run a statement that returns no rows. */
int jc_sq_run(conn *c, sqlite3_stmt *s, jc_err *err);
/* The error of the last call on db: busy → JC_E_UNAVAILABLE, else JC_E_INTERNAL. */
int jc_sq_fail(sqlite3 *db, jc_err *err, const char *step);
int jc_sq_begin(conn *c, jc_err *err); /* BEGIN IMMEDIATE */
int jc_sq_commit(conn *c, jc_err *err);
void jc_sq_rollback(conn *c); /* no-op outside a transaction */

const char *jc_sq_text(sqlite3_stmt *s, int i); /* "" for NULL */
void jc_sq_copy(sqlite3_stmt *s, int i, char *out, size_t outlen);
/* Make room in *arrayp (an array of elem-byte items, *cap of them) for item n: doubles the
 * capacity, starting at `first`. -1 on overflow or allocation failure, the array unchanged
 * (the caller frees what it holds). */
int jc_sq_grow(void *arrayp, size_t *cap, size_t n, size_t elem, size_t first);
json_t *jc_sq_json(sqlite3_stmt *s, int i); /* NULL for NULL */

/* Rows: executions joined with their job (EXE_COLS), jobs joined with their latest
 * execution (JOB_COLS). */
#define EXE_COLS                                                                                   \
    "e.id, e.job_id, j.owner, e.attempt, e.status, e.orchestrator_id, e.lease_token,"              \
    " e.lease_expires_at, e.created_at, e.scheduled_for, e.claimed_at, e.started_at,"              \
    " e.finished_at, j.timeout_s, e.result, e.output, e.condition, e.log_bytes,"                   \
    " e.log_truncated, e.cancel_requested"
#define JOB_COLS "j.id, j.owner, j.name, j.spec, j.created_at, e.status, j.latest_exe, j.seq"

void jc_sq_exe_row(jc_store *st, sqlite3_stmt *s, jc_execution *e);
void jc_sq_job_row(sqlite3_stmt *s, jc_job *j);

extern const char jc_sq_sql_exe_get[];    /* one execution by id (EXE_COLS) */
extern const char jc_sq_sql_exe_insert[]; /* a new queued execution */
extern const char jc_sq_sql_job_get[];    /* one job by id (JOB_COLS) */

/* One execution, inside or outside a transaction. JC_E_NOT_FOUND when unknown. */
int jc_sq_exe_load(jc_store *st, conn *c, const char *id, jc_execution *out, jc_err *err);
/* Load an execution inside a transaction and check the fence: claimed or running, held by
 * orc (when not NULL) under lease_token. Else JC_E_LEASE_LOST. */
int jc_sq_fence(jc_store *st, conn *c, const char *exe_id, const char *orc, const char *lease_token,
                jc_execution *e, jc_err *err);

#endif
