/* sqlite_db.c: the SQLite backend of store.h: connections, statements, migrations, rows.
 *
 * WAL journal, a busy timeout, one connection per calling thread (a pthread key; the
 * store also keeps a list so close can finish them all), prepared statements cached per
 * connection, BEGIN IMMEDIATE for every read-then-write operation (so two writers never
 * both read the same "queued" row: the second waits for the lock and then sees the first
 * one's claim), versioned migrations in one table. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/jwt.h"
#include "jobcell/random.h"
#include "sqlite_creds_schema.h"
#include "sqlite_db.h"
#include "sqlite_ext.h"
#include "store_audit.h"
#include "sqlite_upkeep.h"
#include "store.h"

/* ---- connections and statements ----------------------------------------------------- */

static void conn_free(conn *c) {
    for (size_t i = 0; i < c->ncache; i++)
        sqlite3_finalize(c->cache[i].stmt);
    sqlite3_close_v2(c->db);
    free(c);
}

static void conn_unlink(jc_store *st, conn *c) {
    pthread_mutex_lock(&st->sq->lock);
    for (conn **p = &st->sq->conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&st->sq->lock);
}

/* A worker thread ends: its connection goes with it. */
static void conn_thread_exit(void *p) {
    conn *c = p;
    conn_unlink(c->st, c);
    conn_free(c);
}

int jc_sq_fail(sqlite3 *db, jc_err *err, const char *step) {
    int rc = sqlite3_extended_errcode(db);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return jc_err_set(err, JC_E_UNAVAILABLE, "store busy: %s", step);
    return jc_err_set(err, JC_E_INTERNAL, "store: %s: %s", step, sqlite3_errmsg(db));
}

static int exec_sql(sqlite3 *db, const char *sql, jc_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        jc_err_set(err, JC_E_INTERNAL, "store: %s", msg ? msg : "exec failed");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static conn *conn_open(jc_store *st, jc_err *err) {
    conn *c = calloc(1, sizeof(*c));
    if (!c)
        return jc_err_sys(err, ENOMEM, "store: connection"), NULL;
    c->st = st;
    int rc =
        sqlite3_open_v2(st->sq->path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        jc_err_set(err, JC_E_UNAVAILABLE, "store: cannot open %s: %s", st->sq->path,
                   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, st->sq->busy_timeout_ms);
    sqlite3_extended_result_codes(c->db, 1);
    /* auto_vacuum first: it only takes effect on a store that has no table yet (a new
     * one); an older store keeps its mode until `jobcell-api prune --full-vacuum`.
     * WAL: readers never block the writer; synchronous=NORMAL is durable across a process
     * crash (kill -9), which is the failure this server must survive. */
    if (exec_sql(c->db,
                 "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA "
                 "synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                 " PRAGMA temp_store=MEMORY;",
                 err) < 0) {
        conn_free(c);
        return NULL;
    }
    return c;
}

conn *jc_sq_conn(jc_store *st, jc_err *err) {
    conn *c = pthread_getspecific(st->sq->key);
    if (c)
        return c;
    c = conn_open(st, err);
    if (!c)
        return NULL;
    pthread_setspecific(st->sq->key, c);
    pthread_mutex_lock(&st->sq->lock);
    c->next = st->sq->conns;
    st->sq->conns = c;
    pthread_mutex_unlock(&st->sq->lock);
    return c;
}

/* A cached statement for a static SQL string, reset and unbound. */
sqlite3_stmt *jc_sq_prep(conn *c, const char *sql, jc_err *err) {
    for (size_t i = 0; i < c->ncache; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].stmt);
            sqlite3_clear_bindings(c->cache[i].stmt);
            return c->cache[i].stmt;
        }
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        jc_sq_fail(c->db, err, "prepare");
        return NULL;
    }
    if (c->ncache < STMT_CACHE) {
        c->cache[c->ncache].sql = sql;
        c->cache[c->ncache].stmt = s;
        c->ncache++;
    }
    return s;
}

/* Bind by a format: s text (NULL → null), i int64, b blob (ptr, size_t), j json (NULL →
 * null), n null. */
static int bind_va(sqlite3 *db, sqlite3_stmt *s, jc_err *err, const char *fmt, va_list ap) {
    int rc = SQLITE_OK;
    for (int i = 1; *fmt && rc == SQLITE_OK; fmt++, i++) {
        switch (*fmt) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
            break;
        }
        case 'i': rc = sqlite3_bind_int64(s, i, va_arg(ap, int64_t)); break;
        case 't': {
            int64_t v = va_arg(ap, int64_t);
            rc = v ? sqlite3_bind_int64(s, i, v) : sqlite3_bind_null(s, i);
            break;
        }
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            rc = sqlite3_bind_blob64(s, i, p ? p : "", n, SQLITE_TRANSIENT);
            break;
        }
        case 'j': {
            const json_t *v = va_arg(ap, const json_t *);
            if (!v) {
                rc = sqlite3_bind_null(s, i);
                break;
            }
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!text) {
                rc = SQLITE_NOMEM;
                break;
            }
            rc = sqlite3_bind_text(s, i, text, -1, free);
            break;
        }
        case 'n': rc = sqlite3_bind_null(s, i); break;
        default: rc = SQLITE_MISUSE;
        }
    }
    if (rc != SQLITE_OK)
        return jc_sq_fail(db, err, "bind");
    return 0;
}

int jc_sq_bind(conn *c, sqlite3_stmt *s, jc_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = bind_va(c->db, s, err, fmt, ap);
    va_end(ap);
    return r;
}

int jc_sq_bind_db(sqlite3 *db, sqlite3_stmt *s, jc_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = bind_va(db, s, err, fmt, ap);
    va_end(ap);
    return r;
}

/* Step once: 1 a row, 0 done, -1 error. */
int jc_sq_step(conn *c, sqlite3_stmt *s, jc_err *err) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    jc_sq_fail(c->db, err, "step");
    sqlite3_reset(s);
    return -1;
}

/* Run a statement that returns no rows. */
int jc_sq_run(conn *c, sqlite3_stmt *s, jc_err *err) {
    /* A write outside BEGIN IMMEDIATE starts as a reader; in WAL mode it gets
     * SQLITE_BUSY_SNAPSHOT, without the busy handler, when another writer committed after
     * its snapshot. Nothing was written then, so running it again is safe (bounded). */
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
            sqlite3_reset(s);
            return 0;
        }
        bool busy = (sqlite3_extended_errcode(c->db) & 0xff) == SQLITE_BUSY;
        sqlite3_reset(s);
        if (!busy || !sqlite3_get_autocommit(c->db) || attempt == 100)
            return jc_sq_fail(c->db, err, "step");
        struct timespec ts = {0, (long)(1 + attempt % 10) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

int jc_sq_begin(conn *c, jc_err *err) {
    sqlite3_stmt *s = jc_sq_prep(c, SQL_BEGIN, err);
    return s ? jc_sq_run(c, s, err) : -1;
}
int jc_sq_commit(conn *c, jc_err *err) {
    sqlite3_stmt *s = jc_sq_prep(c, SQL_COMMIT, err);
    return s ? jc_sq_run(c, s, err) : -1;
}
void jc_sq_rollback(conn *c) {
    if (sqlite3_get_autocommit(c->db))
        return;
    jc_err ignored;
    sqlite3_stmt *s = jc_sq_prep(c, SQL_ROLLBACK, &ignored);
    if (s)
        jc_sq_run(c, s, &ignored);
}

const char *jc_sq_text(sqlite3_stmt *s, int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}
int jc_sq_grow(void *arrayp, size_t *cap, size_t n, size_t elem, size_t first) {
    if (n < *cap)
        return 0;
    size_t ncap, bytes;
    if (*cap == 0)
        ncap = first;
    else if (__builtin_mul_overflow(*cap, 2, &ncap))
        return -1;
    if (__builtin_mul_overflow(ncap, elem, &bytes))
        return -1;
    void **p = arrayp;
    void *nv = realloc(*p, bytes);
    if (!nv)
        return -1;
    *p = nv;
    *cap = ncap;
    return 0;
}

void jc_sq_copy(sqlite3_stmt *s, int i, char *out, size_t outlen) {
    snprintf(out, outlen, "%s", jc_sq_text(s, i));
}
json_t *jc_sq_json(sqlite3_stmt *s, int i) {
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    return json_loads(jc_sq_text(s, i), JSON_DECODE_ANY, NULL);
}

/* ---- migrations ----------------------------------------------------------------------- */

static const char *const migrations[] = {
    /* 1: the first schema. Statuses are jc_exe_status numbers. sched is scheduled_for, or
     * created_at when none, so one index serves the claim order. */
    "CREATE TABLE jobs ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, priority INTEGER NOT NULL, timeout_s INTEGER NOT NULL,"
    " max_attempts INTEGER NOT NULL, backoff_s INTEGER NOT NULL,"
    " backoff_max_s INTEGER NOT NULL, on_failure INTEGER NOT NULL,"
    " log_cap INTEGER NOT NULL, latest_exe TEXT NOT NULL);"
    "CREATE INDEX jobs_owner ON jobs(owner, seq);"
    "CREATE TABLE executions ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE, job_id TEXT NOT NULL REFERENCES jobs(id),"
    " attempt INTEGER NOT NULL, status INTEGER NOT NULL, priority INTEGER NOT NULL,"
    " sched INTEGER NOT NULL, scheduled_for INTEGER, created_at INTEGER NOT NULL,"
    " orchestrator_id TEXT, lease_token TEXT, lease_expires_at INTEGER,"
    " claimed_at INTEGER, started_at INTEGER, finished_at INTEGER,"
    " completed_token TEXT, result TEXT, output TEXT, condition INTEGER,"
    " log_bytes INTEGER NOT NULL DEFAULT 0, log_truncated INTEGER NOT NULL DEFAULT 0,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX executions_job ON executions(job_id, attempt);"
    "CREATE INDEX executions_queue ON executions(priority DESC, sched, seq) WHERE status = 0;"
    "CREATE INDEX executions_lease ON executions(lease_expires_at) WHERE status IN (1, 2);"
    "CREATE TABLE log_chunks (exe_id TEXT NOT NULL, off INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY (exe_id, off)) WITHOUT ROWID;"
    "CREATE TABLE variables (owner TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL, PRIMARY KEY (owner, key)) WITHOUT ROWID;"
    "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, user TEXT NOT NULL,"
    " role TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,"
    " last_used_at INTEGER);"
    "CREATE TABLE audit_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
    " at INTEGER NOT NULL, fields TEXT NOT NULL);"
    "CREATE TABLE idempotency (owner TEXT NOT NULL, key TEXT NOT NULL,"
    " request_hash TEXT NOT NULL, response TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " PRIMARY KEY (owner, key)) WITHOUT ROWID;"
    "CREATE TABLE orchestrators (id TEXT PRIMARY KEY, info TEXT NOT NULL,"
    " last_seen INTEGER NOT NULL) WITHOUT ROWID;",
    /* 2: schedules (sqlite_schedules.c). */
    JC_SQLITE_SCHEDULES_SCHEMA,
    /* 3: the audit trail (sqlite_audit.c). */
    JC_SQLITE_AUDIT_SCHEMA,
    /* 4: orchestrator credentials (sqlite_creds.c). */
    JC_SQLITE_CREDS_SCHEMA,
    /* 5: retention, maintenance leases, security signals (sqlite_upkeep.c). */
    JC_SQLITE_UPKEEP_SCHEMA,
};

int jc_sqlite_migrate(jc_store *st, int *from, int *to, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    if (!c)
        return -1;
    if (exec_sql(c->db, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    int version = 0;
    sqlite3_stmt *s = NULL;
    if (exec_sql(c->db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                 err) < 0)
        goto fail;
    if (sqlite3_prepare_v2(c->db, "SELECT max(version) FROM schema_version", -1, &s, NULL) !=
        SQLITE_OK) {
        jc_sq_fail(c->db, err, "schema version");
        goto fail;
    }
    if (sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (from)
        *from = version;
    int target = (int)JC_ARRAY_LEN(migrations);
    if (version > target) {
        jc_err_set(err, JC_E_CONFIG, "store: schema version %d is newer than this program (%d)",
                   version, target);
        goto fail;
    }
    for (int v = version; v < target; v++) {
        if (exec_sql(c->db, migrations[v], err) < 0) {
            jc_err_prefix(err, "migration %d", v + 1);
            goto fail;
        }
        char sql[96];
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version(version) VALUES (%d)", v + 1);
        if (exec_sql(c->db, sql, err) < 0)
            goto fail;
    }
    if (exec_sql(c->db, "COMMIT", err) < 0)
        goto fail;
    if (to)
        *to = target;
    return 0;
fail:
    exec_sql(c->db, "ROLLBACK", &(jc_err){0});
    return -1;
}

/* ---- open / close ------------------------------------------------------------------- */

int jc_sqlite_open(jc_store *st, const jc_store_options *opt, jc_err *err) {
    if (!opt || !opt->path || !*opt->path)
        return jc_err_set(err, JC_E_CONFIG, "store: no database path");
    struct jc_sq_store *sq = calloc(1, sizeof(*sq));
    if (!sq)
        return jc_err_sys(err, ENOMEM, "store");
    sq->path = strdup(opt->path);
    sq->busy_timeout_ms = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000;
    pthread_mutex_init(&sq->lock, NULL);
    if (!sq->path || pthread_key_create(&sq->key, conn_thread_exit) != 0) {
        pthread_mutex_destroy(&sq->lock);
        free(sq->path);
        free(sq);
        return jc_err_sys(err, ENOMEM, "store");
    }
    st->sq = sq;
    return 0;
}

void jc_sqlite_close(jc_store *st) {
    struct jc_sq_store *sq = st->sq;
    if (!sq)
        return;
    pthread_setspecific(sq->key, NULL);
    pthread_key_delete(sq->key);
    pthread_mutex_lock(&sq->lock);
    conn *c = sq->conns;
    sq->conns = NULL;
    pthread_mutex_unlock(&sq->lock);
    while (c) {
        conn *next = c->next;
        conn_free(c);
        c = next;
    }
    pthread_mutex_destroy(&sq->lock);
    free(sq->path);
    free(sq);
    st->sq = NULL;
}

static int sqlite_listen(jc_store *st, bool on, jc_err *err) {
    (void)st;
    (void)on;
    (void)err;
    return 0; /* one process: the in-process wake-up is all there is */
}

const jc_store_ops jc_sqlite_ops = {
    .name = "sqlite",
    JC_STORE_ALL_OPS(JC_STORE_OP_INIT_SQLITE).close = jc_sqlite_close,
    .listen = sqlite_listen,
};

int jc_sqlite_ping(jc_store *st, jc_err *err) {
    static const char sql[] = "SELECT 1";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s)
        return -1;
    int r = jc_sq_step(c, s, err);
    sqlite3_reset(s);
    return r < 0 ? -1 : 0;
}

/* ---- row mapping ---------------------------------------------------------------------- */

void jc_sq_exe_row(jc_store *st, sqlite3_stmt *s, jc_execution *e) {
    memset(e, 0, sizeof(*e));
    jc_sq_copy(s, 0, e->id, sizeof(e->id));
    jc_sq_copy(s, 1, e->job_id, sizeof(e->job_id));
    jc_sq_copy(s, 2, e->owner, sizeof(e->owner));
    e->attempt = sqlite3_column_int64(s, 3);
    e->status = (jc_exe_status)sqlite3_column_int(s, 4);
    jc_sq_copy(s, 5, e->orchestrator_id, sizeof(e->orchestrator_id));
    jc_sq_copy(s, 6, e->lease_token, sizeof(e->lease_token));
    if (e->lease_token[0])
        jc_jwt_lease_hash(e->lease_token, e->lease_hash);
    e->lease_expires_at = sqlite3_column_int64(s, 7);
    e->created_at = sqlite3_column_int64(s, 8);
    e->scheduled_for = sqlite3_column_int64(s, 9);
    e->claimed_at = sqlite3_column_int64(s, 10);
    e->started_at = sqlite3_column_int64(s, 11);
    e->finished_at = sqlite3_column_int64(s, 12);
    e->timeout_s = sqlite3_column_int64(s, 13);
    e->result = jc_sq_json(s, 14);
    e->output = jc_sq_json(s, 15);
    e->condition = sqlite3_column_type(s, 16) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 16);
    e->log_bytes = sqlite3_column_int64(s, 17);
    e->log_truncated = sqlite3_column_int(s, 18) != 0;
    e->cancel_requested = sqlite3_column_int(s, 19) != 0;
    int64_t base = e->started_at ? e->started_at : e->claimed_at;
    if (base && (e->status == JC_EXE_CLAIMED || e->status == JC_EXE_RUNNING))
        e->deadline_at = base + (e->timeout_s + st->kill_grace_s + 60) * 1000;
}

void jc_sq_job_row(sqlite3_stmt *s, jc_job *j) {
    memset(j, 0, sizeof(*j));
    jc_sq_copy(s, 0, j->id, sizeof(j->id));
    jc_sq_copy(s, 1, j->owner, sizeof(j->owner));
    jc_sq_copy(s, 2, j->name, sizeof(j->name));
    j->spec = jc_sq_json(s, 3);
    j->created_at = sqlite3_column_int64(s, 4);
    j->status = (jc_exe_status)sqlite3_column_int(s, 5);
    jc_sq_copy(s, 6, j->latest_execution_id, sizeof(j->latest_execution_id));
}

/* ---- executions ----------------------------------------------------------------------- */

const char jc_sq_sql_exe_get[] =
    "SELECT " EXE_COLS " FROM executions e JOIN jobs j ON j.id = e.job_id WHERE e.id = ?";

/* Read one execution inside or outside a transaction. */
int jc_sq_exe_load(jc_store *st, conn *c, const char *id, jc_execution *out, jc_err *err) {
    sqlite3_stmt *s = jc_sq_prep(c, jc_sq_sql_exe_get, err);
    if (!s || jc_sq_bind(c, s, err, "s", id) < 0)
        return -1;
    int r = jc_sq_step(c, s, err);
    if (r == 1)
        jc_sq_exe_row(st, s, out);
    sqlite3_reset(s);
    if (r == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no execution %s", id);
    return r < 0 ? -1 : 0;
}

const char jc_sq_sql_exe_insert[] =
    "INSERT INTO executions (id, job_id, attempt, status, priority, sched, scheduled_for,"
    " created_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?)";

const char jc_sq_sql_job_get[] = "SELECT " JOB_COLS " FROM jobs j JOIN executions e ON e.id ="
                                 " j.latest_exe WHERE j.id = ?";

/* Load an execution inside a transaction and check the fence. */
int jc_sq_fence(jc_store *st, conn *c, const char *exe_id, const char *orc, const char *lease_token,
                jc_execution *e, jc_err *err) {
    if (jc_sq_exe_load(st, c, exe_id, e, err) < 0)
        return -1;
    bool live = (e->status == JC_EXE_CLAIMED || e->status == JC_EXE_RUNNING) &&
                (!orc || strcmp(orc, e->orchestrator_id) == 0);
    bool match =
        lease_token && e->lease_token[0] &&
        jc_auth_equal(lease_token, strlen(lease_token), e->lease_token, strlen(e->lease_token));
    if (!live || !match) {
        jc_execution_clear(e);
        return jc_err_set(err, JC_E_LEASE_LOST, "the lease of execution %s is not held", exe_id);
    }
    return 0;
}
