/* sqlite.c: the SQLite backend of store.h.
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

#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/jwt.h"
#include "jobcell/random.h"
#include "store.h"

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

struct jc_store {
    char *path;
    int busy_timeout_ms;
    int64_t kill_grace_s;
    pthread_key_t key;
    pthread_mutex_t lock; /* protects conns */
    conn *conns;
};

/* ---- connections and statements ----------------------------------------------------- */

static void conn_free(conn *c) {
    for (size_t i = 0; i < c->ncache; i++)
        sqlite3_finalize(c->cache[i].stmt);
    sqlite3_close_v2(c->db);
    free(c);
}

static void conn_unlink(jc_store *st, conn *c) {
    pthread_mutex_lock(&st->lock);
    for (conn **p = &st->conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&st->lock);
}

/* A worker thread ends: its connection goes with it. */
static void conn_thread_exit(void *p) {
    conn *c = p;
    conn_unlink(c->st, c);
    conn_free(c);
}

static int db_fail(sqlite3 *db, jc_err *err, const char *step) {
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
    int rc = sqlite3_open_v2(
        st->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        jc_err_set(err, JC_E_UNAVAILABLE, "store: cannot open %s: %s", st->path,
                   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, st->busy_timeout_ms);
    sqlite3_extended_result_codes(c->db, 1);
    /* WAL: readers never block the writer; synchronous=NORMAL is durable across a process
     * crash (kill -9), which is the failure this server must survive. */
    if (exec_sql(c->db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                 " PRAGMA temp_store=MEMORY;",
                 err) < 0) {
        conn_free(c);
        return NULL;
    }
    return c;
}

static conn *conn_get(jc_store *st, jc_err *err) {
    conn *c = pthread_getspecific(st->key);
    if (c)
        return c;
    c = conn_open(st, err);
    if (!c)
        return NULL;
    pthread_setspecific(st->key, c);
    pthread_mutex_lock(&st->lock);
    c->next = st->conns;
    st->conns = c;
    pthread_mutex_unlock(&st->lock);
    return c;
}

/* A cached statement for a static SQL string, reset and unbound. */
static sqlite3_stmt *prep(conn *c, const char *sql, jc_err *err) {
    for (size_t i = 0; i < c->ncache; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].stmt);
            sqlite3_clear_bindings(c->cache[i].stmt);
            return c->cache[i].stmt;
        }
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        db_fail(c->db, err, "prepare");
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
static int bindf(conn *c, sqlite3_stmt *s, jc_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = SQLITE_OK;
    for (int i = 1; *fmt && rc == SQLITE_OK; fmt++, i++) {
        switch (*fmt) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
            break;
        }
        case 'i': rc = sqlite3_bind_int64(s, i, va_arg(ap, int64_t)); break;
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
    va_end(ap);
    if (rc != SQLITE_OK)
        return db_fail(c->db, err, "bind");
    return 0;
}

/* Step once: 1 a row, 0 done, -1 error. */
static int step(conn *c, sqlite3_stmt *s, jc_err *err) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    db_fail(c->db, err, "step");
    sqlite3_reset(s);
    return -1;
}

/* Run a statement that returns no rows. */
static int run(conn *c, sqlite3_stmt *s, jc_err *err) {
    int r = step(c, s, err);
    sqlite3_reset(s);
    return r < 0 ? -1 : 0;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

static int tx_begin(conn *c, jc_err *err) {
    sqlite3_stmt *s = prep(c, SQL_BEGIN, err);
    return s ? run(c, s, err) : -1;
}
static int tx_commit(conn *c, jc_err *err) {
    sqlite3_stmt *s = prep(c, SQL_COMMIT, err);
    return s ? run(c, s, err) : -1;
}
static void tx_rollback(conn *c) {
    if (sqlite3_get_autocommit(c->db))
        return;
    jc_err ignored;
    sqlite3_stmt *s = prep(c, SQL_ROLLBACK, &ignored);
    if (s)
        run(c, s, &ignored);
}

static const char *col_text(sqlite3_stmt *s, int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}
static void col_copy(sqlite3_stmt *s, int i, char *out, size_t outlen) {
    snprintf(out, outlen, "%s", col_text(s, i));
}
static json_t *col_json(sqlite3_stmt *s, int i) {
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    return json_loads(col_text(s, i), JSON_DECODE_ANY, NULL);
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
};

int jc_store_migrate(jc_store *st, int *from, int *to, jc_err *err) {
    conn *c = conn_get(st, err);
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
        db_fail(c->db, err, "schema version");
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

jc_store *jc_store_open(const jc_store_options *opt, jc_err *err) {
    if (!opt || !opt->path || !*opt->path)
        return jc_err_set(err, JC_E_CONFIG, "store: no database path"), NULL;
    jc_store *st = calloc(1, sizeof(*st));
    if (!st)
        return jc_err_sys(err, ENOMEM, "store"), NULL;
    st->path = strdup(opt->path);
    st->busy_timeout_ms = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000;
    st->kill_grace_s = opt->kill_grace_s >= 0 ? opt->kill_grace_s : 5;
    pthread_mutex_init(&st->lock, NULL);
    if (!st->path || pthread_key_create(&st->key, conn_thread_exit) != 0) {
        free(st->path);
        free(st);
        return jc_err_sys(err, ENOMEM, "store"), NULL;
    }
    if (jc_store_migrate(st, NULL, NULL, err) < 0) {
        jc_store_close(st);
        return NULL;
    }
    return st;
}

void jc_store_close(jc_store *st) {
    if (!st)
        return;
    pthread_setspecific(st->key, NULL);
    pthread_key_delete(st->key);
    pthread_mutex_lock(&st->lock);
    conn *c = st->conns;
    st->conns = NULL;
    pthread_mutex_unlock(&st->lock);
    while (c) {
        conn *next = c->next;
        conn_free(c);
        c = next;
    }
    pthread_mutex_destroy(&st->lock);
    free(st->path);
    free(st);
}

int jc_store_ping(jc_store *st, jc_err *err) {
    static const char sql[] = "SELECT 1";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s)
        return -1;
    int r = step(c, s, err);
    sqlite3_reset(s);
    return r < 0 ? -1 : 0;
}

/* ---- statuses ------------------------------------------------------------------------- */

static const char *const status_names[JC_EXE_STATUS_COUNT] = {
    "queued", "claimed", "running", "succeeded", "failed", "canceled", "lost"};

const char *jc_exe_status_name(jc_exe_status s) {
    return (unsigned)s < JC_EXE_STATUS_COUNT ? status_names[s] : "unknown";
}
int jc_exe_status_parse(const char *name) {
    for (int i = 0; i < JC_EXE_STATUS_COUNT; i++)
        if (name && strcmp(name, status_names[i]) == 0)
            return i;
    return -1;
}
bool jc_exe_status_final(jc_exe_status s) {
    return s >= JC_EXE_SUCCEEDED;
}

/* ---- row mapping ---------------------------------------------------------------------- */

#define EXE_COLS                                                                                   \
    "e.id, e.job_id, j.owner, e.attempt, e.status, e.orchestrator_id, e.lease_token,"              \
    " e.lease_expires_at, e.created_at, e.scheduled_for, e.claimed_at, e.started_at,"              \
    " e.finished_at, j.timeout_s, e.result, e.output, e.condition, e.log_bytes,"                   \
    " e.log_truncated, e.cancel_requested"

static void exe_from_row(jc_store *st, sqlite3_stmt *s, jc_execution *e) {
    memset(e, 0, sizeof(*e));
    col_copy(s, 0, e->id, sizeof(e->id));
    col_copy(s, 1, e->job_id, sizeof(e->job_id));
    col_copy(s, 2, e->owner, sizeof(e->owner));
    e->attempt = sqlite3_column_int64(s, 3);
    e->status = (jc_exe_status)sqlite3_column_int(s, 4);
    col_copy(s, 5, e->orchestrator_id, sizeof(e->orchestrator_id));
    col_copy(s, 6, e->lease_token, sizeof(e->lease_token));
    if (e->lease_token[0])
        jc_jwt_lease_hash(e->lease_token, e->lease_hash);
    e->lease_expires_at = sqlite3_column_int64(s, 7);
    e->created_at = sqlite3_column_int64(s, 8);
    e->scheduled_for = sqlite3_column_int64(s, 9);
    e->claimed_at = sqlite3_column_int64(s, 10);
    e->started_at = sqlite3_column_int64(s, 11);
    e->finished_at = sqlite3_column_int64(s, 12);
    e->timeout_s = sqlite3_column_int64(s, 13);
    e->result = col_json(s, 14);
    e->output = col_json(s, 15);
    e->condition = sqlite3_column_type(s, 16) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 16);
    e->log_bytes = sqlite3_column_int64(s, 17);
    e->log_truncated = sqlite3_column_int(s, 18) != 0;
    e->cancel_requested = sqlite3_column_int(s, 19) != 0;
    int64_t base = e->started_at ? e->started_at : e->claimed_at;
    if (base && (e->status == JC_EXE_CLAIMED || e->status == JC_EXE_RUNNING))
        e->deadline_at = base + (e->timeout_s + st->kill_grace_s + 60) * 1000;
}

void jc_execution_clear(jc_execution *e) {
    if (!e)
        return;
    json_decref(e->result);
    json_decref(e->output);
    e->result = e->output = NULL;
}

void jc_executions_free(jc_execution *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        jc_execution_clear(&v[i]);
    free(v);
}

#define JOB_COLS "j.id, j.owner, j.name, j.spec, j.created_at, e.status, j.latest_exe, j.seq"

static void job_from_row(sqlite3_stmt *s, jc_job *j) {
    memset(j, 0, sizeof(*j));
    col_copy(s, 0, j->id, sizeof(j->id));
    col_copy(s, 1, j->owner, sizeof(j->owner));
    col_copy(s, 2, j->name, sizeof(j->name));
    j->spec = col_json(s, 3);
    j->created_at = sqlite3_column_int64(s, 4);
    j->status = (jc_exe_status)sqlite3_column_int(s, 5);
    col_copy(s, 6, j->latest_execution_id, sizeof(j->latest_execution_id));
}

void jc_job_clear(jc_job *j) {
    if (!j)
        return;
    json_decref(j->spec);
    j->spec = NULL;
}

void jc_jobs_free(jc_job *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        jc_job_clear(&v[i]);
    free(v);
}

void jc_claims_free(jc_claim *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        jc_execution_clear(&v[i].exe);
        jc_job_clear(&v[i].job);
    }
    free(v);
}

/* ---- executions ----------------------------------------------------------------------- */

static const char SQL_EXE_GET[] =
    "SELECT " EXE_COLS " FROM executions e JOIN jobs j ON j.id = e.job_id WHERE e.id = ?";

/* Read one execution inside or outside a transaction. */
static int exe_load(jc_store *st, conn *c, const char *id, jc_execution *out, jc_err *err) {
    sqlite3_stmt *s = prep(c, SQL_EXE_GET, err);
    if (!s || bindf(c, s, err, "s", id) < 0)
        return -1;
    int r = step(c, s, err);
    if (r == 1)
        exe_from_row(st, s, out);
    sqlite3_reset(s);
    if (r == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no execution %s", id);
    return r < 0 ? -1 : 0;
}

int jc_store_execution_get(jc_store *st, const char *exe_id, jc_execution *out, jc_err *err) {
    conn *c = conn_get(st, err);
    return c ? exe_load(st, c, exe_id, out, err) : -1;
}

int jc_store_execution_list(jc_store *st, const char *job_id, jc_execution **out, size_t *n,
                            jc_err *err) {
    static const char sql[] = "SELECT " EXE_COLS " FROM executions e JOIN jobs j ON j.id ="
                              " e.job_id WHERE e.job_id = ? ORDER BY e.attempt, e.seq";
    *out = NULL;
    *n = 0;
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "s", job_id) < 0)
        return -1;
    size_t cap = 0;
    jc_execution *v = NULL;
    int r;
    while ((r = step(c, s, err)) == 1) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            jc_execution *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                sqlite3_reset(s);
                jc_executions_free(v, *n);
                *n = 0;
                return jc_err_sys(err, ENOMEM, "store: executions");
            }
            v = nv;
        }
        exe_from_row(st, s, &v[(*n)++]);
    }
    sqlite3_reset(s);
    if (r < 0) {
        jc_executions_free(v, *n);
        *n = 0;
        return -1;
    }
    *out = v;
    return 0;
}

static int exe_set_live(jc_store *st, const char *sql, const char *exe_id, const json_t *v,
                        int64_t flag, jc_err *err) {
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s)
        return -1;
    if ((v ? bindf(c, s, err, "js", v, exe_id) : bindf(c, s, err, "is", flag, exe_id)) < 0)
        return -1;
    if (run(c, s, err) < 0)
        return -1;
    if (sqlite3_changes(c->db) == 0)
        return jc_err_set(err, JC_E_LEASE_LOST, "execution %s is not running", exe_id);
    return 0;
}

int jc_store_execution_set_output(jc_store *st, const char *exe_id, const json_t *output,
                                  jc_err *err) {
    static const char sql[] = "UPDATE executions SET output = ? WHERE id = ? AND status IN (1, 2)";
    if (!output)
        return jc_err_set(err, JC_E_INVALID, "no output");
    return exe_set_live(st, sql, exe_id, output, 0, err);
}

int jc_store_execution_set_condition(jc_store *st, const char *exe_id, bool condition,
                                     jc_err *err) {
    static const char sql[] =
        "UPDATE executions SET condition = ? WHERE id = ? AND status IN (1, 2)";
    return exe_set_live(st, sql, exe_id, NULL, condition ? 1 : 0, err);
}

int jc_store_execution_counts(jc_store *st, int64_t *counts, jc_err *err) {
    static const char sql[] = "SELECT status, count(*) FROM executions GROUP BY status";
    memset(counts, 0, sizeof(int64_t) * JC_EXE_STATUS_COUNT);
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s)
        return -1;
    int r;
    while ((r = step(c, s, err)) == 1) {
        int st_i = sqlite3_column_int(s, 0);
        if (st_i >= 0 && st_i < JC_EXE_STATUS_COUNT)
            counts[st_i] = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return r < 0 ? -1 : 0;
}

/* ---- jobs ---------------------------------------------------------------------------- */

static int64_t spec_int(const json_t *spec, const char *obj, const char *key, int64_t def) {
    const json_t *o = obj ? json_object_get(spec, obj) : spec;
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

static const char SQL_EXE_INSERT[] =
    "INSERT INTO executions (id, job_id, attempt, status, priority, sched, scheduled_for,"
    " created_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?)";

int jc_store_job_create(jc_store *st, const jc_job_new *in, char **replay, jc_err *err) {
    static const char sql_idem_get[] =
        "SELECT request_hash, response FROM idempotency WHERE owner = ? AND key = ?";
    static const char sql_idem_put[] = "INSERT INTO idempotency (owner, key, request_hash,"
                                       " response, created_at) VALUES (?, ?, ?, ?, ?)";
    static const char sql_job[] =
        "INSERT INTO jobs (id, owner, name, spec, created_at, priority, timeout_s,"
        " max_attempts, backoff_s, backoff_max_s, on_failure, log_cap, latest_exe)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    if (replay)
        *replay = NULL;
    conn *c = conn_get(st, err);
    if (!c || tx_begin(c, err) < 0)
        return -1;
    sqlite3_stmt *s;
    if (in->idempotency_key) {
        s = prep(c, sql_idem_get, err);
        if (!s || bindf(c, s, err, "ss", in->owner, in->idempotency_key) < 0)
            goto fail;
        int r = step(c, s, err);
        if (r < 0)
            goto fail;
        if (r == 1) {
            bool same = strcmp(col_text(s, 0), in->request_hash ? in->request_hash : "") == 0;
            char *resp = same ? strdup(col_text(s, 1)) : NULL;
            sqlite3_reset(s);
            tx_rollback(c);
            if (!same)
                return jc_err_field(err, JC_E_CONFLICT, "Idempotency-Key",
                                    "this Idempotency-Key was used with a different request");
            if (!resp)
                return jc_err_sys(err, ENOMEM, "store: idempotency");
            *replay = resp;
            return 0;
        }
        sqlite3_reset(s);
    }
    const json_t *spec = in->spec;
    int64_t output_mb = spec_int(spec, "resources", "output_mb", 16);
    s = prep(c, sql_job, err);
    if (!s ||
        bindf(c, s, err, "sssjiiiiiiiis", in->job_id, in->owner, in->name, spec, in->created_at,
              (int64_t)in->priority, in->timeout_s, spec_int(spec, "retry", "max_attempts", 1),
              spec_int(spec, "retry", "backoff_s", 10),
              spec_int(spec, "retry", "backoff_max_s", 600),
              (int64_t)json_is_true(json_object_get(json_object_get(spec, "retry"), "on_failure")),
              output_mb * 1024 * 1024, in->execution_id) < 0 ||
        run(c, s, err) < 0)
        goto fail;
    s = prep(c, SQL_EXE_INSERT, err);
    if (!s ||
        bindf(c, s, err, "ssiii", in->execution_id, in->job_id, (int64_t)1, (int64_t)in->priority,
              in->scheduled_for ? in->scheduled_for : in->created_at) < 0)
        goto fail;
    if ((in->scheduled_for ? sqlite3_bind_int64(s, 6, in->scheduled_for)
                           : sqlite3_bind_null(s, 6)) != SQLITE_OK ||
        sqlite3_bind_int64(s, 7, in->created_at) != SQLITE_OK) {
        db_fail(c->db, err, "bind");
        goto fail;
    }
    if (run(c, s, err) < 0)
        goto fail;
    if (in->idempotency_key) {
        s = prep(c, sql_idem_put, err);
        if (!s ||
            bindf(c, s, err, "ssssi", in->owner, in->idempotency_key,
                  in->request_hash ? in->request_hash : "", in->response ? in->response : "{}",
                  in->created_at) < 0 ||
            run(c, s, err) < 0)
            goto fail;
    }
    if (tx_commit(c, err) < 0)
        goto fail;
    return 0;
fail:
    tx_rollback(c);
    return -1;
}

static const char SQL_JOB_GET[] = "SELECT " JOB_COLS " FROM jobs j JOIN executions e ON e.id ="
                                  " j.latest_exe WHERE j.id = ?";

int jc_store_job_get(jc_store *st, const char *job_id, const char *owner, jc_job *out,
                     jc_err *err) {
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, SQL_JOB_GET, err) : NULL;
    if (!s || bindf(c, s, err, "s", job_id) < 0)
        return -1;
    int r = step(c, s, err);
    if (r == 1)
        job_from_row(s, out);
    sqlite3_reset(s);
    if (r < 0)
        return -1;
    if (r == 0 || (owner && strcmp(out->owner, owner) != 0)) {
        if (r == 1)
            jc_job_clear(out);
        return jc_err_set(err, JC_E_NOT_FOUND, "no job %s", job_id);
    }
    return 0;
}

int jc_store_job_list(jc_store *st, const jc_job_page *q, jc_job **out, size_t *n,
                      char **next_cursor, jc_err *err) {
    static const char sql[] =
        "SELECT " JOB_COLS " FROM jobs j JOIN executions e ON e.id = j.latest_exe"
        " WHERE (?1 IS NULL OR j.owner = ?1) AND (?2 < 0 OR e.status = ?2) AND j.seq < ?3"
        " ORDER BY j.seq DESC LIMIT ?4";
    *out = NULL;
    *n = 0;
    *next_cursor = NULL;
    int64_t before = INT64_MAX;
    if (q->cursor) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(q->cursor, &end, 10);
        if (!*q->cursor || *end || errno || v <= 0 || q->cursor[0] == '+' || q->cursor[0] == ' ')
            return jc_err_field(err, JC_E_INVALID, "cursor", "cursor is not valid");
        before = v;
    }
    size_t limit = q->limit ? q->limit : 50;
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s ||
        bindf(c, s, err, "siii", q->owner, (int64_t)q->status, before, (int64_t)limit + 1) < 0)
        return -1;
    jc_job *v = calloc(limit + 1, sizeof(*v));
    if (!v) {
        sqlite3_reset(s);
        return jc_err_sys(err, ENOMEM, "store: jobs");
    }
    int r;
    int64_t last_seq = 0;
    size_t count = 0;
    bool more = false;
    while ((r = step(c, s, err)) == 1) {
        if (count == limit) {
            more = true;
            break;
        }
        job_from_row(s, &v[count++]);
        last_seq = sqlite3_column_int64(s, 7);
    }
    sqlite3_reset(s);
    if (r < 0) {
        jc_jobs_free(v, count);
        return -1;
    }
    if (more) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64, last_seq);
        *next_cursor = strdup(buf);
    }
    *out = v;
    *n = count;
    return 0;
}

int jc_store_job_cancel(jc_store *st, const char *job_id, const char *owner, int64_t now,
                        jc_cancel_outcome *outcome, jc_err *err) {
    static const char sql_q[] =
        "UPDATE executions SET status = 5, finished_at = ?, cancel_requested = 1"
        " WHERE id = ? AND status = 0";
    static const char sql_r[] =
        "UPDATE executions SET cancel_requested = 1 WHERE id = ? AND status IN (1, 2)";
    conn *c = conn_get(st, err);
    if (!c || tx_begin(c, err) < 0)
        return -1;
    jc_job job;
    if (jc_store_job_get(st, job_id, owner, &job, err) < 0)
        goto fail;
    jc_exe_status status = job.status;
    char exe_id[JC_ID_MAX];
    snprintf(exe_id, sizeof(exe_id), "%s", job.latest_execution_id);
    jc_job_clear(&job);
    sqlite3_stmt *s;
    if (status == JC_EXE_QUEUED) {
        s = prep(c, sql_q, err);
        if (!s || bindf(c, s, err, "is", now, exe_id) < 0 || run(c, s, err) < 0)
            goto fail;
        *outcome = JC_CANCEL_NOW;
    } else if (status == JC_EXE_CLAIMED || status == JC_EXE_RUNNING) {
        s = prep(c, sql_r, err);
        if (!s || bindf(c, s, err, "s", exe_id) < 0 || run(c, s, err) < 0)
            goto fail;
        *outcome = JC_CANCEL_REQUESTED;
    } else {
        jc_err_set(err, JC_E_CONFLICT, "job %s has already finished (%s)", job_id,
                   jc_exe_status_name(status));
        goto fail;
    }
    if (tx_commit(c, err) < 0)
        goto fail;
    return 0;
fail:
    tx_rollback(c);
    return -1;
}

/* ---- claims and leases ----------------------------------------------------------------- */

int jc_store_claim(jc_store *st, const char *orchestrator_id, size_t slots, int64_t now,
                   int64_t lease_ms, jc_claim **out, size_t *n, int64_t *next_due, jc_err *err) {
    /* The claim is one UPDATE … RETURNING per slot inside one BEGIN IMMEDIATE: the
     * subquery picks the first claimable row in claim order, and no other writer can run
     * between that pick and the update. */
    static const char sql_claim[] =
        "UPDATE executions SET status = 1, orchestrator_id = ?1, lease_token = ?2,"
        " lease_expires_at = ?3, claimed_at = ?4"
        " WHERE seq = (SELECT seq FROM executions WHERE status = 0 AND sched <= ?4"
        " ORDER BY priority DESC, sched, seq LIMIT 1) RETURNING id";
    static const char sql_due[] = "SELECT min(sched) FROM executions WHERE status = 0";
    *out = NULL;
    *n = 0;
    if (next_due)
        *next_due = 0;
    if (slots == 0)
        return 0;
    jc_claim *v = calloc(slots, sizeof(*v));
    if (!v)
        return jc_err_sys(err, ENOMEM, "store: claims");
    conn *c = conn_get(st, err);
    if (!c || tx_begin(c, err) < 0) {
        free(v);
        return -1;
    }
    size_t count = 0;
    char ids[64][JC_ID_MAX];
    if (slots > 64)
        slots = 64;
    while (count < slots) {
        char token[JC_LEASE_TOKEN_LEN + 1];
        if (jc_random_lease_token(token, sizeof(token), err) < 0)
            goto fail;
        sqlite3_stmt *s = prep(c, sql_claim, err);
        if (!s || bindf(c, s, err, "ssii", orchestrator_id, token, now + lease_ms, now) < 0)
            goto fail;
        int r = step(c, s, err);
        if (r == 1)
            col_copy(s, 0, ids[count], sizeof(ids[count]));
        sqlite3_reset(s);
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        count++;
    }
    for (size_t i = 0; i < count; i++) {
        if (exe_load(st, c, ids[i], &v[i].exe, err) < 0)
            goto fail;
        sqlite3_stmt *s = prep(c, SQL_JOB_GET, err);
        if (!s || bindf(c, s, err, "s", v[i].exe.job_id) < 0)
            goto fail;
        int r = step(c, s, err);
        if (r == 1)
            job_from_row(s, &v[i].job);
        sqlite3_reset(s);
        if (r != 1) {
            if (r == 0)
                jc_err_set(err, JC_E_INTERNAL, "store: claimed execution without job");
            goto fail;
        }
    }
    if (count == 0 && next_due) {
        sqlite3_stmt *s = prep(c, sql_due, err);
        if (!s)
            goto fail;
        int r = step(c, s, err);
        if (r == 1 && sqlite3_column_type(s, 0) != SQLITE_NULL)
            *next_due = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (r < 0)
            goto fail;
    }
    if (tx_commit(c, err) < 0)
        goto fail;
    if (count == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = count;
    return 0;
fail:
    tx_rollback(c);
    jc_claims_free(v, slots);
    return -1;
}

/* Load an execution inside a transaction and check the fence. */
static int fence(jc_store *st, conn *c, const char *exe_id, const char *orc,
                 const char *lease_token, jc_execution *e, jc_err *err) {
    if (exe_load(st, c, exe_id, e, err) < 0)
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

int jc_store_start(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                   int64_t now, int64_t lease_ms, int64_t *lease_expires_at, jc_err *err) {
    static const char sql[] = "UPDATE executions SET status = 2, started_at ="
                              " coalesce(started_at, ?1), lease_expires_at = ?2 WHERE id = ?3";
    conn *c = conn_get(st, err);
    if (!c || tx_begin(c, err) < 0)
        return -1;
    jc_execution e;
    if (fence(st, c, exe_id, orc, lease_token, &e, err) < 0)
        goto fail;
    jc_execution_clear(&e);
    sqlite3_stmt *s = prep(c, sql, err);
    if (!s || bindf(c, s, err, "iis", now, now + lease_ms, exe_id) < 0 || run(c, s, err) < 0 ||
        tx_commit(c, err) < 0)
        goto fail;
    *lease_expires_at = now + lease_ms;
    return 0;
fail:
    tx_rollback(c);
    return -1;
}

int jc_store_heartbeat(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                       int64_t now, int64_t lease_ms, int64_t *lease_expires_at, bool *cancel,
                       jc_err *err) {
    static const char sql[] = "UPDATE executions SET lease_expires_at = ? WHERE id = ?";
    conn *c = conn_get(st, err);
    if (!c || tx_begin(c, err) < 0)
        return -1;
    jc_execution e;
    if (fence(st, c, exe_id, orc, lease_token, &e, err) < 0)
        goto fail;
    *cancel = e.cancel_requested;
    jc_execution_clear(&e);
    sqlite3_stmt *s = prep(c, sql, err);
    if (!s || bindf(c, s, err, "is", now + lease_ms, exe_id) < 0 || run(c, s, err) < 0 ||
        tx_commit(c, err) < 0)
        goto fail;
    *lease_expires_at = now + lease_ms;
    return 0;
fail:
    tx_rollback(c);
    return -1;
}

/* Queue the next attempt when the job's policy allows it. Inside a transaction. */
static int maybe_retry(jc_store *st, conn *c, const jc_execution *e, jc_exe_status final,
                       int64_t now, bool *retried, jc_err *err) {
    static const char sql_job[] = "SELECT max_attempts, backoff_s, backoff_max_s, on_failure,"
                                  " priority FROM jobs WHERE id = ?";
    static const char sql_latest[] = "UPDATE jobs SET latest_exe = ? WHERE id = ?";
    (void)st;
    *retried = false;
    if (e->cancel_requested)
        return 0;
    sqlite3_stmt *s = prep(c, sql_job, err);
    if (!s || bindf(c, s, err, "s", e->job_id) < 0)
        return -1;
    int r = step(c, s, err);
    if (r != 1) {
        sqlite3_reset(s);
        return r < 0 ? -1 : 0;
    }
    int64_t max_attempts = sqlite3_column_int64(s, 0);
    int64_t backoff_s = sqlite3_column_int64(s, 1);
    int64_t backoff_max_s = sqlite3_column_int64(s, 2);
    bool on_failure = sqlite3_column_int(s, 3) != 0;
    int64_t priority = sqlite3_column_int64(s, 4);
    sqlite3_reset(s);
    bool eligible = final == JC_EXE_LOST || (final == JC_EXE_FAILED && on_failure);
    if (!eligible || e->attempt >= max_attempts)
        return 0;
    /* delay = min(backoff_max, backoff × 2^(attempt−1)) × U(0.5, 1.0): the jitter spreads
     * the retries of many jobs that failed together. */
    double base = (double)backoff_s * ldexp(1.0, (int)(e->attempt - 1 > 60 ? 60 : e->attempt - 1));
    if (base > (double)backoff_max_s)
        base = (double)backoff_max_s;
    uint32_t rnd;
    if (jc_random_bytes(&rnd, sizeof(rnd), err) < 0)
        return -1;
    double u = 0.5 + 0.5 * ((double)rnd / 4294967296.0);
    int64_t when = now + (int64_t)(base * u * 1000.0);
    char id[JC_ID_MAX];
    if (jc_random_id("exe_", id, sizeof(id), err) < 0)
        return -1;
    s = prep(c, SQL_EXE_INSERT, err);
    if (!s ||
        bindf(c, s, err, "ssiiiii", id, e->job_id, e->attempt + 1, priority, when, when, now) < 0 ||
        run(c, s, err) < 0)
        return -1;
    s = prep(c, sql_latest, err);
    if (!s || bindf(c, s, err, "ss", id, e->job_id) < 0 || run(c, s, err) < 0)
        return -1;
    *retried = true;
    return 0;
}

static jc_exe_status status_of_result(const json_t *result, bool cancel_requested) {
    const char *reason = json_string_value(json_object_get(result, "reason"));
    const json_t *code = json_object_get(result, "exit_code");
    if (reason && strcmp(reason, "exited") == 0 && json_is_integer(code) &&
        json_integer_value(code) == 0)
        return JC_EXE_SUCCEEDED;
    if ((reason && strcmp(reason, "canceled") == 0) || cancel_requested)
        return JC_EXE_CANCELED;
    return JC_EXE_FAILED;
}

int jc_store_complete(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                      const json_t *result, int64_t now, jc_exe_status *status, jc_err *err) {
    static const char sql_done[] = "SELECT status, completed_token FROM executions WHERE id = ?";
    static const char sql[] = "UPDATE executions SET status = ?, finished_at = ?, result = ?,"
                              " completed_token = lease_token WHERE id = ?";
    conn *c = conn_get(st, err);
    if (!c || tx_begin(c, err) < 0)
        return -1;
    /* A repeat: the execution was completed with this very lease token. */
    sqlite3_stmt *s = prep(c, sql_done, err);
    if (!s || bindf(c, s, err, "s", exe_id) < 0)
        goto fail;
    int r = step(c, s, err);
    if (r < 0)
        goto fail;
    if (r == 1 && sqlite3_column_type(s, 1) != SQLITE_NULL && lease_token) {
        const char *done = col_text(s, 1);
        if (jc_auth_equal(lease_token, strlen(lease_token), done, strlen(done))) {
            *status = (jc_exe_status)sqlite3_column_int(s, 0);
            sqlite3_reset(s);
            tx_rollback(c);
            return 0;
        }
    }
    sqlite3_reset(s);
    jc_execution e;
    if (fence(st, c, exe_id, orc, lease_token, &e, err) < 0)
        goto fail;
    jc_exe_status final = status_of_result(result, e.cancel_requested);
    s = prep(c, sql, err);
    bool retried;
    if (!s || bindf(c, s, err, "iijs", (int64_t) final, now, result, exe_id) < 0 ||
        run(c, s, err) < 0 || maybe_retry(st, c, &e, final, now, &retried, err) < 0) {
        jc_execution_clear(&e);
        goto fail;
    }
    jc_execution_clear(&e);
    if (tx_commit(c, err) < 0)
        goto fail;
    *status = final;
    return 0;
fail:
    tx_rollback(c);
    return -1;
}

int jc_store_reap(jc_store *st, int64_t now, jc_reap_stats *stats, jc_err *err) {
    static const char sql_expired[] =
        "SELECT id FROM executions WHERE status IN (1, 2) AND lease_expires_at < ? LIMIT 256";
    static const char sql_requeue[] =
        "UPDATE executions SET status = 0, orchestrator_id = NULL, lease_token = NULL,"
        " lease_expires_at = NULL, claimed_at = NULL WHERE id = ?";
    static const char sql_cancel[] =
        "UPDATE executions SET status = 5, finished_at = ?, lease_expires_at = NULL WHERE id = ?";
    static const char sql_lost[] =
        "UPDATE executions SET status = 6, finished_at = ?, result = ? WHERE id = ?";
    memset(stats, 0, sizeof(*stats));
    conn *c = conn_get(st, err);
    if (!c)
        return -1;
    for (int round = 0; round < 64; round++) {
        if (tx_begin(c, err) < 0)
            return -1;
        char ids[256][JC_ID_MAX];
        size_t count = 0;
        sqlite3_stmt *s = prep(c, sql_expired, err);
        if (!s || bindf(c, s, err, "i", now) < 0)
            goto fail;
        int r;
        while ((r = step(c, s, err)) == 1 && count < 256)
            col_copy(s, 0, ids[count++], JC_ID_MAX);
        sqlite3_reset(s);
        if (r < 0)
            goto fail;
        for (size_t i = 0; i < count; i++) {
            jc_execution e;
            if (exe_load(st, c, ids[i], &e, err) < 0)
                goto fail;
            int rc = 0;
            if (e.status == JC_EXE_CLAIMED && e.cancel_requested) {
                s = prep(c, sql_cancel, err);
                rc = !s || bindf(c, s, err, "is", now, ids[i]) < 0 || run(c, s, err) < 0 ? -1 : 0;
            } else if (e.status == JC_EXE_CLAIMED) {
                /* Never started: the claim was lost in transit; the attempt is not used. */
                s = prep(c, sql_requeue, err);
                rc = !s || bindf(c, s, err, "s", ids[i]) < 0 || run(c, s, err) < 0 ? -1 : 0;
                stats->requeued++;
            } else {
                json_t *res = json_pack("{s:s}", "reason", "lease_expired");
                bool retried = false;
                s = prep(c, sql_lost, err);
                rc = !s || bindf(c, s, err, "ijs", now, res, ids[i]) < 0 || run(c, s, err) < 0 ||
                             maybe_retry(st, c, &e, JC_EXE_LOST, now, &retried, err) < 0
                         ? -1
                         : 0;
                json_decref(res);
                stats->lost++;
                stats->retried += retried;
            }
            jc_execution_clear(&e);
            if (rc < 0)
                goto fail;
        }
        if (tx_commit(c, err) < 0)
            goto fail;
        if (count < 256)
            break;
    }
    return 0;
fail:
    tx_rollback(c);
    return -1;
}

int jc_store_extend_leases(jc_store *st, int64_t now, int64_t by_ms, size_t *n, jc_err *err) {
    static const char sql[] = "UPDATE executions SET lease_expires_at = ?1 WHERE status IN"
                              " (1, 2) AND lease_expires_at < ?1";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "i", now + by_ms) < 0 || run(c, s, err) < 0)
        return -1;
    if (n)
        *n = (size_t)sqlite3_changes(c->db);
    return 0;
}

int jc_store_orchestrator_seen(jc_store *st, const char *orchestrator_id, const json_t *info,
                               int64_t now, jc_err *err) {
    static const char sql[] = "INSERT INTO orchestrators (id, info, last_seen) VALUES (?, ?, ?)"
                              " ON CONFLICT(id) DO UPDATE SET info = excluded.info,"
                              " last_seen = excluded.last_seen";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "sji", orchestrator_id, info, now) < 0)
        return -1;
    return run(c, s, err);
}

/* ---- logs ----------------------------------------------------------------------------- */

int jc_store_log_append(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                        int64_t offset, const void *data, size_t len, jc_log_append *out,
                        jc_err *err) {
    static const char sql_cap[] = "SELECT j.log_cap FROM jobs j JOIN executions e ON"
                                  " e.job_id = j.id WHERE e.id = ?";
    static const char sql_chunk[] = "INSERT INTO log_chunks (exe_id, off, data) VALUES (?, ?, ?)";
    static const char sql_len[] =
        "UPDATE executions SET log_bytes = ?, log_truncated = ? WHERE id = ?";
    memset(out, 0, sizeof(*out));
    if (offset < 0)
        return jc_err_field(err, JC_E_INVALID, "offset", "offset must be 0 or more");
    conn *c = conn_get(st, err);
    if (!c || tx_begin(c, err) < 0)
        return -1;
    jc_execution e;
    if (fence(st, c, exe_id, orc, lease_token, &e, err) < 0)
        goto fail;
    int64_t L = e.log_bytes;
    bool truncated = e.log_truncated;
    jc_execution_clear(&e);
    out->length = L;
    out->truncated = truncated;
    if (truncated) {
        /* Once truncated every chunk is acknowledged: a 416 would make the sender loop. */
        tx_rollback(c);
        return 0;
    }
    if (offset > L) {
        tx_rollback(c);
        return jc_err_set(err, JC_E_RANGE, "offset %" PRId64 " is past the end (%" PRId64 ")",
                          offset, L);
    }
    int64_t end;
    if (__builtin_add_overflow(offset, (int64_t)len, &end)) {
        tx_rollback(c);
        return jc_err_field(err, JC_E_INVALID, "offset", "offset too large");
    }
    if (end <= L) { /* a duplicate: already stored */
        tx_rollback(c);
        return 0;
    }
    sqlite3_stmt *s = prep(c, sql_cap, err);
    if (!s || bindf(c, s, err, "s", exe_id) < 0)
        goto fail;
    int r = step(c, s, err);
    int64_t cap = r == 1 ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (r < 0)
        goto fail;
    size_t skip = (size_t)(L - offset);
    size_t tail = len - skip;
    size_t room = cap > L ? (size_t)(cap - L) : 0;
    size_t take = tail < room ? tail : room;
    if (take < tail)
        truncated = true;
    if (take > 0) {
        s = prep(c, sql_chunk, err);
        if (!s || bindf(c, s, err, "sib", exe_id, L, (const char *)data + skip, take) < 0 ||
            run(c, s, err) < 0)
            goto fail;
    }
    s = prep(c, sql_len, err);
    if (!s || bindf(c, s, err, "iis", L + (int64_t)take, (int64_t)truncated, exe_id) < 0 ||
        run(c, s, err) < 0 || tx_commit(c, err) < 0)
        goto fail;
    out->length = L + (int64_t)take;
    out->truncated = truncated;
    out->appended = take;
    return 0;
fail:
    tx_rollback(c);
    return -1;
}

int jc_store_log_read(jc_store *st, const char *exe_id, int64_t offset, size_t max,
                      jc_log_read *out, jc_err *err) {
    static const char sql_chunks[] =
        "SELECT off, data FROM log_chunks WHERE exe_id = ?1 AND off + length(data) > ?2"
        " ORDER BY off";
    memset(out, 0, sizeof(*out));
    conn *c = conn_get(st, err);
    if (!c)
        return -1;
    jc_execution e;
    if (exe_load(st, c, exe_id, &e, err) < 0)
        return -1;
    out->length = e.log_bytes;
    out->finished = jc_exe_status_final(e.status);
    jc_execution_clear(&e);
    if (offset < 0 || offset > out->length)
        return jc_err_set(err, JC_E_RANGE, "offset %" PRId64 " is past the end (%" PRId64 ")",
                          offset, out->length);
    int64_t avail = out->length - offset;
    size_t want = (size_t)avail < max ? (size_t)avail : max;
    if (want == 0)
        return 0;
    char *buf = malloc(want);
    if (!buf)
        return jc_err_sys(err, ENOMEM, "store: log read");
    sqlite3_stmt *s = prep(c, sql_chunks, err);
    if (!s || bindf(c, s, err, "si", exe_id, offset) < 0) {
        free(buf);
        return -1;
    }
    size_t got = 0;
    int r;
    while (got < want && (r = step(c, s, err)) == 1) {
        int64_t off = sqlite3_column_int64(s, 0);
        const char *p = sqlite3_column_blob(s, 1);
        size_t n = (size_t)sqlite3_column_bytes(s, 1);
        int64_t pos = offset + (int64_t)got;
        if (off > pos)
            break; /* cannot happen: chunks are contiguous */
        size_t from = (size_t)(pos - off);
        if (from >= n)
            continue;
        size_t k = n - from;
        if (k > want - got)
            k = want - got;
        memcpy(buf + got, p + from, k);
        got += k;
    }
    sqlite3_reset(s);
    out->data = buf;
    out->len = got;
    return 0;
}

/* ---- variables ------------------------------------------------------------------------ */

void jc_variables_free(jc_variable *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        json_decref(v[i].value);
    free(v);
}

int jc_store_var_get(jc_store *st, const char *owner, const char *key, jc_variable *out,
                     jc_err *err) {
    static const char sql[] = "SELECT value, updated_at FROM variables WHERE owner = ? AND key = ?";
    memset(out, 0, sizeof(*out));
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "ss", owner, key) < 0)
        return -1;
    int r = step(c, s, err);
    if (r == 1) {
        snprintf(out->key, sizeof(out->key), "%s", key);
        out->value = col_json(s, 0);
        out->updated_at = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (r == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "variable %s is not set", key);
    return r < 0 ? -1 : 0;
}

int jc_store_var_put(jc_store *st, const char *owner, const char *key, const json_t *value,
                     int64_t now, jc_err *err) {
    static const char sql_update[] =
        "UPDATE variables SET value = ?, updated_at = ? WHERE owner = ? AND key = ?";
    static const char sql_count[] = "SELECT count(*) FROM variables WHERE owner = ?";
    static const char sql_insert[] =
        "INSERT INTO variables (owner, key, value, updated_at) VALUES (?, ?, ?, ?)";
    conn *c = conn_get(st, err);
    if (!c || tx_begin(c, err) < 0)
        return -1;
    sqlite3_stmt *s = prep(c, sql_update, err);
    if (!s || bindf(c, s, err, "jiss", value, now, owner, key) < 0 || run(c, s, err) < 0)
        goto fail;
    if (sqlite3_changes(c->db) == 0) {
        s = prep(c, sql_count, err);
        if (!s || bindf(c, s, err, "s", owner) < 0)
            goto fail;
        int r = step(c, s, err);
        int64_t count = r == 1 ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (r < 0)
            goto fail;
        if (count >= JC_STORE_VARS_PER_OWNER) {
            jc_err_set(err, JC_E_CONFLICT, "at most %d variables per user",
                       JC_STORE_VARS_PER_OWNER);
            goto fail;
        }
        s = prep(c, sql_insert, err);
        if (!s || bindf(c, s, err, "ssji", owner, key, value, now) < 0 || run(c, s, err) < 0)
            goto fail;
    }
    if (tx_commit(c, err) < 0)
        goto fail;
    return 0;
fail:
    tx_rollback(c);
    return -1;
}

int jc_store_var_delete(jc_store *st, const char *owner, const char *key, jc_err *err) {
    static const char sql[] = "DELETE FROM variables WHERE owner = ? AND key = ?";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "ss", owner, key) < 0 || run(c, s, err) < 0)
        return -1;
    if (sqlite3_changes(c->db) == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "variable %s is not set", key);
    return 0;
}

int jc_store_var_list(jc_store *st, const char *owner, jc_variable **out, size_t *n, jc_err *err) {
    static const char sql[] = "SELECT key, updated_at FROM variables WHERE owner = ? ORDER BY key";
    *out = NULL;
    *n = 0;
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "s", owner) < 0)
        return -1;
    jc_variable *v = NULL;
    size_t cap = 0;
    int r;
    while ((r = step(c, s, err)) == 1) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            jc_variable *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                sqlite3_reset(s);
                jc_variables_free(v, *n);
                *n = 0;
                return jc_err_sys(err, ENOMEM, "store: variables");
            }
            v = nv;
        }
        memset(&v[*n], 0, sizeof(*v));
        col_copy(s, 0, v[*n].key, sizeof(v[*n].key));
        v[*n].updated_at = sqlite3_column_int64(s, 1);
        (*n)++;
    }
    sqlite3_reset(s);
    if (r < 0) {
        jc_variables_free(v, *n);
        *n = 0;
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- API tokens ----------------------------------------------------------------------- */

int jc_store_token_create(jc_store *st, const jc_api_token *tok, const char *secret_sha256,
                          jc_err *err) {
    static const char sql[] = "INSERT INTO api_tokens (id, name, user, role, sha256,"
                              " created_at) VALUES (?, ?, ?, ?, ?, ?)";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "sssssi", tok->id, tok->name, tok->user, tok->role, secret_sha256,
                    tok->created_at) < 0)
        return -1;
    return run(c, s, err);
}

#define TOKEN_COLS "id, name, user, role, created_at, coalesce(last_used_at, 0), sha256"

static void token_from_row(sqlite3_stmt *s, jc_api_token *t) {
    memset(t, 0, sizeof(*t));
    col_copy(s, 0, t->id, sizeof(t->id));
    col_copy(s, 1, t->name, sizeof(t->name));
    col_copy(s, 2, t->user, sizeof(t->user));
    col_copy(s, 3, t->role, sizeof(t->role));
    t->created_at = sqlite3_column_int64(s, 4);
    t->last_used_at = sqlite3_column_int64(s, 5);
}

int jc_store_token_lookup(jc_store *st, const char *secret_sha256, jc_api_token *out,
                          char stored_sha256[65], jc_err *err) {
    static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE sha256 = ?";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "s", secret_sha256) < 0)
        return -1;
    int r = step(c, s, err);
    if (r == 1) {
        token_from_row(s, out);
        snprintf(stored_sha256, 65, "%s", col_text(s, 6));
    }
    sqlite3_reset(s);
    if (r == 0)
        return jc_err_set(err, JC_E_AUTH, "unknown token");
    return r < 0 ? -1 : 0;
}

int jc_store_token_list(jc_store *st, const char *user, jc_api_token **out, size_t *n,
                        jc_err *err) {
    static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE ?1 IS NULL OR"
                              " user = ?1 ORDER BY created_at DESC, id";
    *out = NULL;
    *n = 0;
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "s", user) < 0)
        return -1;
    jc_api_token *v = NULL;
    size_t cap = 0;
    int r;
    while ((r = step(c, s, err)) == 1) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            jc_api_token *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                sqlite3_reset(s);
                free(v);
                *n = 0;
                return jc_err_sys(err, ENOMEM, "store: tokens");
            }
            v = nv;
        }
        token_from_row(s, &v[(*n)++]);
    }
    sqlite3_reset(s);
    if (r < 0) {
        free(v);
        *n = 0;
        return -1;
    }
    *out = v;
    return 0;
}

int jc_store_token_delete(jc_store *st, const char *id, const char *user, jc_err *err) {
    static const char sql[] = "DELETE FROM api_tokens WHERE id = ?1 AND (?2 IS NULL OR user = ?2)";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "ss", id, user) < 0 || run(c, s, err) < 0)
        return -1;
    if (sqlite3_changes(c->db) == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no token %s", id);
    return 0;
}

/* ---- audit and housekeeping ----------------------------------------------------------- */

int jc_store_audit(jc_store *st, const char *kind, const json_t *fields, int64_t now, jc_err *err) {
    static const char sql[] = "INSERT INTO audit_events (kind, at, fields) VALUES (?, ?, ?)";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    json_t *empty = NULL;
    if (!fields)
        fields = empty = json_object();
    int rc = !s || bindf(c, s, err, "sij", kind, now, fields) < 0 ? -1 : run(c, s, err);
    json_decref(empty);
    return rc;
}

json_t *jc_store_audit_list(jc_store *st, const char *kind, size_t limit, jc_err *err) {
    static const char sql[] = "SELECT kind, at, fields FROM audit_events WHERE ?1 IS NULL OR"
                              " kind = ?1 ORDER BY seq DESC LIMIT ?2";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "si", kind, (int64_t)limit) < 0)
        return NULL;
    json_t *arr = json_array();
    int r;
    while ((r = step(c, s, err)) == 1) {
        json_t *f = col_json(s, 2);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:o}", "kind", col_text(s, 0), "at",
                                             (json_int_t)sqlite3_column_int64(s, 1), "fields",
                                             f ? f : json_object()));
    }
    sqlite3_reset(s);
    if (r < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int jc_store_idempotency_expire(jc_store *st, int64_t before, jc_err *err) {
    static const char sql[] = "DELETE FROM idempotency WHERE created_at < ?";
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "i", before) < 0)
        return -1;
    return run(c, s, err);
}

/* ---- the runtime API's hot path ------------------------------------------------------- */

int jc_store_runtime_get(jc_store *st, const char *exe_id, const char *key, jc_execution *exe,
                         jc_variable *var, bool *var_found, jc_err *err) {
    /* EXE_COLS with result and output left out (NULL): a job's requests need the claim,
     * not its output; and the variable in the same statement, so one read transaction
     * serves the whole request */
    static const char sql[] =
        "SELECT e.id, e.job_id, j.owner, e.attempt, e.status, e.orchestrator_id, e.lease_token,"
        " e.lease_expires_at, e.created_at, e.scheduled_for, e.claimed_at, e.started_at,"
        " e.finished_at, j.timeout_s, NULL, NULL, e.condition, e.log_bytes, e.log_truncated,"
        " e.cancel_requested, v.value, v.updated_at FROM executions e JOIN jobs j ON j.id ="
        " e.job_id LEFT JOIN variables v ON v.owner = j.owner AND v.key = ?2 WHERE e.id = ?1";
    if (var)
        memset(var, 0, sizeof(*var));
    if (var_found)
        *var_found = false;
    conn *c = conn_get(st, err);
    sqlite3_stmt *s = c ? prep(c, sql, err) : NULL;
    if (!s || bindf(c, s, err, "ss", exe_id, key) < 0)
        return -1;
    int r = step(c, s, err);
    if (r == 1) {
        exe_from_row(st, s, exe);
        if (key && var && sqlite3_column_type(s, 20) != SQLITE_NULL) {
            snprintf(var->key, sizeof(var->key), "%s", key);
            var->value = col_json(s, 20);
            var->updated_at = sqlite3_column_int64(s, 21);
            if (var_found)
                *var_found = true;
        }
    }
    sqlite3_reset(s);
    if (r == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no execution %s", exe_id);
    return r < 0 ? -1 : 0;
}
