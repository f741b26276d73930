/* pg_db.c: the PostgreSQL backend of store.h: the pool, statements, transactions,
 * migrations, notifications and rows.
 *
 * Every server process keeps a bounded pool of connections (store.pool_size). Each
 * connection carries a statement_timeout, so a stuck query cannot hold a worker thread
 * forever, and an idle_in_transaction_session_timeout, so a transaction abandoned by a
 * crashed thread cannot hold row locks forever. Transactions run at READ COMMITTED with
 * explicit row locks; whenever PostgreSQL nevertheless rolls one back (serialization
 * failure, deadlock) it is run again, a bounded number of times. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/jwt.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "pg_db.h"

#define TX_ATTEMPTS 10
#define IDLE_CHECK_MS 30000
#define NOTIFY_CHANNEL "jobcell_work"

/* ---- connections -------------------------------------------------------------------- */

/* PostgreSQL's notices ("relation … already exists, skipping") are not errors: dropped. */
static void quiet(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static PGconn *connect_db(struct jc_pg_store *pg, jc_err *err) {
    char options[160];
    snprintf(options, sizeof(options),
             "-c statement_timeout=%d -c idle_in_transaction_session_timeout=%d"
             " -c lock_timeout=%d",
             pg->statement_timeout_ms, pg->statement_timeout_ms * 6, pg->statement_timeout_ms);
    /* dbname first: it is expanded (a URL or a conninfo), and the keywords after it win */
    const char *keys[8] = {"dbname", "options", "application_name", "connect_timeout",
                           "client_encoding"};
    const char *vals[8] = {pg->conninfo, options, "jobcell-api", "10", "UTF8"};
    if (pg->password) { /* else: what the URL, PGPASSWORD or ~/.pgpass say */
        keys[5] = "password";
        vals[5] = pg->password;
    }
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn)
        return jc_err_sys(err, ENOMEM, "store: postgresql connection"), NULL;
    if (PQstatus(conn) != CONNECTION_OK) {
        /* libpq's message names the host and the reason, never the password */
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(conn);
        return jc_err_set(err, JC_E_UNAVAILABLE, "store: cannot connect to PostgreSQL: %s", msg),
               NULL;
    }
    PQsetNoticeProcessor(conn, quiet, NULL);
    return conn;
}

static void conn_drop(pgc *c) {
    if (c->conn)
        PQfinish(c->conn);
    c->conn = NULL;
    c->nprepared = 0;
    c->broken = false;
}

pgc *jc_pg_acquire(jc_store *st, jc_err *err) {
    struct jc_pg_store *pg = st->pg;
    int64_t deadline = jc_time_now_ms() + pg->statement_timeout_ms;
    pthread_mutex_lock(&pg->lock);
    pgc *c = NULL;
    for (;;) {
        for (int i = 0; i < pg->pool_size && !c; i++)
            if (!pg->pool[i].in_use && pg->pool[i].conn)
                c = &pg->pool[i];
        for (int i = 0; i < pg->pool_size && !c; i++)
            if (!pg->pool[i].in_use)
                c = &pg->pool[i];
        if (c)
            break;
        int64_t now = jc_time_now_ms();
        if (now >= deadline) {
            pthread_mutex_unlock(&pg->lock);
            return jc_err_set(err, JC_E_UNAVAILABLE,
                              "store busy: every PostgreSQL connection of the pool is in use"),
                   NULL;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = deadline - now;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&pg->cond, &pg->lock, &ts);
    }
    c->in_use = true;
    pthread_mutex_unlock(&pg->lock);

    /* Health: a connection that failed, or one idle long enough for the server or a
     * middlebox to have dropped it, is checked (and replaced) before it is handed out. */
    int64_t now = jc_time_now_ms();
    /* PQconsumeInput reads what is waiting without blocking (libpq's socket is
     * non-blocking): a server that closed the connection (restart, pg_terminate_backend)
     * shows up here as CONNECTION_BAD instead of as the next request's error. */
    if (c->conn && (c->broken || !PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK))
        conn_drop(c);
    if (c->conn && now - c->last_used_ms > IDLE_CHECK_MS) {
        PGresult *r = PQexec(c->conn, "SELECT 1");
        bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (!ok)
            conn_drop(c);
    }
    if (!c->conn) {
        c->conn = connect_db(pg, err);
        if (!c->conn) {
            jc_pg_release(st, c);
            return NULL;
        }
    }
    c->retry = false;
    return c;
}

void jc_pg_release(jc_store *st, pgc *c) {
    struct jc_pg_store *pg = st->pg;
    c->last_used_ms = jc_time_now_ms();
    if (c->conn && PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
        /* never hand out a connection inside a transaction */
        PGresult *r = PQexec(c->conn, "ROLLBACK");
        PQclear(r);
        if (PQtransactionStatus(c->conn) != PQTRANS_IDLE)
            conn_drop(c);
    }
    if (c->broken)
        conn_drop(c);
    pthread_mutex_lock(&pg->lock);
    c->in_use = false;
    pthread_cond_signal(&pg->cond);
    pthread_mutex_unlock(&pg->lock);
}

/* ---- statements ----------------------------------------------------------------------- */

/* Map a failed result to a jc_err; note whether the transaction may be run again. */
static void *fail(pgc *c, PGresult *r, jc_err *err) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[200];
    snprintf(msg, sizeof(msg), "%s",
             r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(c->conn));
    msg[strcspn(msg, "\n")] = '\0';
    if (PQstatus(c->conn) != CONNECTION_OK)
        c->broken = true;
    if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
        c->retry = true;
        jc_err_set(err, JC_E_UNAVAILABLE, "store busy: %s", msg);
    } else if (state && strcmp(state, "23505") == 0) {
        jc_err_set(err, JC_E_CONFLICT, "store: already exists");
    } else if (state && (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)) {
        jc_err_set(err, JC_E_UNAVAILABLE, "store busy: a statement took too long");
    } else if (c->broken || (state && strncmp(state, "08", 2) == 0) ||
               (state && strncmp(state, "57P", 3) == 0)) {
        c->broken = true;
        jc_err_set(err, JC_E_UNAVAILABLE, "store: PostgreSQL connection lost: %s", msg);
    } else {
        jc_err_set(err, JC_E_INTERNAL, "store: %s", msg);
    }
    PQclear(r);
    return NULL;
}

#define MAX_PARAMS 24

typedef struct params {
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    int formats[MAX_PARAMS];
    char nums[MAX_PARAMS][24];
    char *owned[MAX_PARAMS];
    int n;
} params;

static void params_free(params *p) {
    for (int i = 0; i < p->n; i++)
        free(p->owned[i]);
}

/* A text[] literal: {"a","b"} with " and \ escaped. Owned. */
static char *text_array(const char *const *v) {
    size_t len = 3;
    for (size_t i = 0; v[i]; i++)
        len += 2 * strlen(v[i]) + 3;
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; v[i]; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *s = v[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

static int bind_va(params *p, const char *fmt, va_list ap, jc_err *err) {
    memset(p, 0, sizeof(*p));
    for (; *fmt; fmt++) {
        if (p->n == MAX_PARAMS)
            return jc_err_set(err, JC_E_INTERNAL, "store: too many parameters");
        int i = p->n++;
        switch (*fmt) {
        case 's': p->values[i] = va_arg(ap, const char *); break;
        case 'i':
            snprintf(p->nums[i], sizeof(p->nums[i]), "%" PRId64, va_arg(ap, int64_t));
            p->values[i] = p->nums[i];
            break;
        case 't': {
            int64_t v = va_arg(ap, int64_t);
            snprintf(p->nums[i], sizeof(p->nums[i]), "%" PRId64, v);
            p->values[i] = v ? p->nums[i] : NULL;
            break;
        }
        case 'b': {
            const void *d = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            if (n > INT32_MAX)
                return jc_err_set(err, JC_E_INVALID, "store: value too large");
            p->values[i] = d ? d : "";
            p->lengths[i] = (int)n;
            p->formats[i] = 1;
            break;
        }
        case 'j': {
            const json_t *v = va_arg(ap, const json_t *);
            if (v) {
                p->owned[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                if (!p->owned[i])
                    return jc_err_sys(err, ENOMEM, "store: json");
                p->values[i] = p->owned[i];
            }
            break;
        }
        case 'a': {
            const char *const *v = va_arg(ap, const char *const *);
            if (v) {
                p->owned[i] = text_array(v);
                if (!p->owned[i])
                    return jc_err_sys(err, ENOMEM, "store: array");
                p->values[i] = p->owned[i];
            }
            break;
        }
        case 'n': break;
        default: return jc_err_set(err, JC_E_INTERNAL, "store: bad parameter format");
        }
    }
    return 0;
}

/* The prepared statement of a static SQL text on this connection ("" when the cache is
 * full: the statement then runs unnamed). */
static int prepared_name(pgc *c, const char *sql, int nparams, char name[16], jc_err *err) {
    for (size_t i = 0; i < c->nprepared; i++) {
        if (c->prepared[i] == sql) {
            snprintf(name, 16, "s%zu", i);
            return 0;
        }
    }
    if (c->nprepared == PG_STMT_CACHE) {
        name[0] = '\0';
        return 0;
    }
    snprintf(name, 16, "s%zu", c->nprepared);
    PGresult *r = PQprepare(c->conn, name, sql, nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fail(c, r, err);
        return -1;
    }
    PQclear(r);
    c->prepared[c->nprepared++] = sql;
    return 0;
}

static PGresult *exec_params(pgc *c, const char *sql, const params *p, int result_format,
                             jc_err *err) {
    char name[16];
    if (prepared_name(c, sql, p->n, name, err) < 0)
        return NULL;
    PGresult *r;
    if (name[0])
        r = PQexecPrepared(c->conn, name, p->n, p->values, p->lengths, p->formats, result_format);
    else
        r = PQexecParams(c->conn, sql, p->n, NULL, p->values, p->lengths, p->formats,
                         result_format);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK)
        r = fail(c, r, err);
    return r;
}

static PGresult *query_va(pgc *c, const char *sql, int result_format, jc_err *err, const char *fmt,
                          va_list ap) {
    params p;
    if (bind_va(&p, fmt, ap, err) < 0) {
        params_free(&p);
        return NULL;
    }
    bool autocommit = PQtransactionStatus(c->conn) == PQTRANS_IDLE;
    PGresult *r = exec_params(c, sql, &p, result_format, err);
    /* A read outside a transaction on a connection the server had closed (a restart, a
     * failover, pg_terminate_backend) changed nothing: run it once more on a new one. */
    if (!r && c->broken && autocommit && strncmp(sql, "SELECT ", 7) == 0) {
        PQfinish(c->conn);
        c->nprepared = 0;
        c->broken = false;
        c->conn = connect_db(c->pg, err);
        if (c->conn)
            r = exec_params(c, sql, &p, result_format, err);
        else
            c->broken = true;
    }
    params_free(&p);
    return r;
}

PGresult *jc_pg_q(pgc *c, const char *sql, jc_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = query_va(c, sql, 0, err, fmt, ap);
    va_end(ap);
    return r;
}

PGresult *jc_pg_qbin(pgc *c, const char *sql, jc_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = query_va(c, sql, 1, err, fmt, ap);
    va_end(ap);
    return r;
}

int64_t jc_pg_x(pgc *c, const char *sql, jc_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = query_va(c, sql, 0, err, fmt, ap);
    va_end(ap);
    if (!r)
        return -1;
    int64_t n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n;
}

/* A plain command without parameters (BEGIN, COMMIT, migrations). */
static int command(pgc *c, const char *sql, jc_err *err) {
    PGresult *r = PQexec(c->conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail(c, r, err);
        return -1;
    }
    PQclear(r);
    return 0;
}

/* ---- transactions --------------------------------------------------------------------- */

static void backoff(int attempt) {
    uint32_t rnd = 0;
    jc_err ignored;
    jc_random_bytes(&rnd, sizeof(rnd), &ignored);
    long ms = (1L << (attempt < 6 ? attempt : 6)) + (long)(rnd % 8);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int run(jc_store *st, jc_pg_fn fn, void *arg, bool tx, jc_err *err) {
    for (int attempt = 0;; attempt++) {
        pgc *c = jc_pg_acquire(st, err);
        if (!c)
            return -1;
        bool committing = false;
        int r = tx ? command(c, "BEGIN", err) : 0;
        if (r == 0)
            r = fn(st, c, arg, err);
        if (r >= 0 && tx) {
            committing = true;
            if (command(c, "COMMIT", err) < 0)
                r = -1;
        }
        /* A connection lost before COMMIT was sent rolled the transaction back; one lost
         * during COMMIT may or may not have committed, so it is not run again. */
        bool again = r < 0 && (c->retry || (tx && c->broken && !committing));
        jc_pg_release(st, c);
        if (r >= 0 || !again || attempt + 1 == TX_ATTEMPTS)
            return r;
        backoff(attempt);
    }
}

int jc_pg_tx(jc_store *st, jc_pg_fn fn, void *arg, jc_err *err) {
    return run(st, fn, arg, true, err);
}

int jc_pg_run(jc_store *st, jc_pg_fn fn, void *arg, jc_err *err) {
    return run(st, fn, arg, false, err);
}

int jc_pg_notify_work(jc_store *st, pgc *c, jc_err *err) {
    static const char sql[] = "SELECT pg_notify('" NOTIFY_CHANNEL "', $1)";
    PGresult *r = jc_pg_q(c, sql, err, "s", st->pg->instance);
    PQclear(r);
    return r ? 0 : -1;
}

/* ---- columns and rows ------------------------------------------------------------------ */

bool jc_pg_null(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) != 0;
}
int64_t jc_pg_int(const PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}
const char *jc_pg_text(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}
void jc_pg_copy(const PGresult *r, int row, int col, char *out, size_t outlen) {
    snprintf(out, outlen, "%s", jc_pg_text(r, row, col));
}
json_t *jc_pg_json(const PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col))
        return NULL;
    return json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
}

void jc_pg_exe_row(jc_store *st, const PGresult *r, int row, int k, jc_execution *e) {
    memset(e, 0, sizeof(*e));
    jc_pg_copy(r, row, k + 0, e->id, sizeof(e->id));
    jc_pg_copy(r, row, k + 1, e->job_id, sizeof(e->job_id));
    jc_pg_copy(r, row, k + 2, e->owner, sizeof(e->owner));
    e->attempt = jc_pg_int(r, row, k + 3);
    e->status = (jc_exe_status)jc_pg_int(r, row, k + 4);
    jc_pg_copy(r, row, k + 5, e->orchestrator_id, sizeof(e->orchestrator_id));
    jc_pg_copy(r, row, k + 6, e->lease_token, sizeof(e->lease_token));
    if (e->lease_token[0])
        jc_jwt_lease_hash(e->lease_token, e->lease_hash);
    e->lease_expires_at = jc_pg_int(r, row, k + 7);
    e->created_at = jc_pg_int(r, row, k + 8);
    e->scheduled_for = jc_pg_int(r, row, k + 9);
    e->claimed_at = jc_pg_int(r, row, k + 10);
    e->started_at = jc_pg_int(r, row, k + 11);
    e->finished_at = jc_pg_int(r, row, k + 12);
    e->timeout_s = jc_pg_int(r, row, k + 13);
    e->result = jc_pg_json(r, row, k + 14);
    e->output = jc_pg_json(r, row, k + 15);
    e->condition = jc_pg_null(r, row, k + 16) ? -1 : (int)jc_pg_int(r, row, k + 16);
    e->log_bytes = jc_pg_int(r, row, k + 17);
    e->log_truncated = jc_pg_int(r, row, k + 18) != 0;
    e->cancel_requested = jc_pg_int(r, row, k + 19) != 0;
    int64_t base = e->started_at ? e->started_at : e->claimed_at;
    if (base && (e->status == JC_EXE_CLAIMED || e->status == JC_EXE_RUNNING))
        e->deadline_at = base + (e->timeout_s + st->kill_grace_s + 60) * 1000;
}

void jc_pg_job_row(const PGresult *r, int row, int k, jc_job *j) {
    memset(j, 0, sizeof(*j));
    jc_pg_copy(r, row, k + 0, j->id, sizeof(j->id));
    jc_pg_copy(r, row, k + 1, j->owner, sizeof(j->owner));
    jc_pg_copy(r, row, k + 2, j->name, sizeof(j->name));
    j->spec = jc_pg_json(r, row, k + 3);
    j->created_at = jc_pg_int(r, row, k + 4);
    j->status = (jc_exe_status)jc_pg_int(r, row, k + 5);
    jc_pg_copy(r, row, k + 6, j->latest_execution_id, sizeof(j->latest_execution_id));
}

int jc_pg_exe_load(jc_store *st, pgc *c, const char *id, bool lock, jc_execution *out,
                   jc_err *err) {
    static const char sql[] =
        "SELECT " PG_EXE_COLS " FROM executions e JOIN jobs j ON j.id = e.job_id WHERE e.id = $1";
    static const char sql_lock[] = "SELECT " PG_EXE_COLS " FROM executions e JOIN jobs j ON"
                                   " j.id = e.job_id WHERE e.id = $1 FOR UPDATE OF e";
    PGresult *r = jc_pg_q(c, lock ? sql_lock : sql, err, "s", id);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    if (rows == 1)
        jc_pg_exe_row(st, r, 0, 0, out);
    PQclear(r);
    if (rows != 1)
        return jc_err_set(err, JC_E_NOT_FOUND, "no execution %s", id);
    return 0;
}

int jc_pg_fence(jc_store *st, pgc *c, const char *exe_id, const char *orc, const char *lease_token,
                jc_execution *e, jc_err *err) {
    if (jc_pg_exe_load(st, c, exe_id, true, e, err) < 0)
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

/* ---- migrations ------------------------------------------------------------------------ */

/* Statuses are jc_exe_status numbers; flags are 0/1 smallints; times are milliseconds.
 * sched is scheduled_for, or created_at when none, so one index serves the claim order. */
static const char *const migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE jobs ("
    " seq BIGSERIAL PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL,"
    " runtime TEXT, created_at BIGINT NOT NULL, priority INTEGER NOT NULL,"
    " timeout_s BIGINT NOT NULL, max_attempts BIGINT NOT NULL, backoff_s BIGINT NOT NULL,"
    " backoff_max_s BIGINT NOT NULL, on_failure SMALLINT NOT NULL,"
    " log_cap BIGINT NOT NULL, latest_exe TEXT NOT NULL);"
    "CREATE INDEX jobs_owner ON jobs(owner, seq);"
    "CREATE TABLE executions ("
    " seq BIGSERIAL PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE, job_id TEXT NOT NULL REFERENCES jobs(id),"
    " attempt BIGINT NOT NULL, status SMALLINT NOT NULL, priority INTEGER NOT NULL,"
    " sched BIGINT NOT NULL, scheduled_for BIGINT, created_at BIGINT NOT NULL,"
    " orchestrator_id TEXT, lease_token TEXT, lease_expires_at BIGINT,"
    " claimed_at BIGINT, started_at BIGINT, finished_at BIGINT,"
    " completed_token TEXT, result TEXT, output TEXT, condition SMALLINT,"
    " log_bytes BIGINT NOT NULL DEFAULT 0, log_truncated SMALLINT NOT NULL DEFAULT 0,"
    " cancel_requested SMALLINT NOT NULL DEFAULT 0);"
    "CREATE INDEX executions_job ON executions(job_id, attempt);"
    "CREATE INDEX executions_queue ON executions(priority DESC, sched, seq) WHERE status = 0;"
    "CREATE INDEX executions_lease ON executions(lease_expires_at) WHERE status IN (1, 2);"
    "CREATE TABLE log_chunks (exe_id TEXT NOT NULL, off BIGINT NOT NULL, data BYTEA NOT NULL,"
    " PRIMARY KEY (exe_id, off));"
    "CREATE TABLE variables (owner TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " updated_at BIGINT NOT NULL, PRIMARY KEY (owner, key));"
    "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, \"user\" TEXT NOT NULL,"
    " role TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL,"
    " last_used_at BIGINT);"
    "CREATE TABLE audit_events (seq BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL,"
    " at BIGINT NOT NULL, fields TEXT NOT NULL);"
    "CREATE TABLE idempotency (owner TEXT NOT NULL, key TEXT NOT NULL,"
    " request_hash TEXT NOT NULL, response TEXT NOT NULL, created_at BIGINT NOT NULL,"
    " PRIMARY KEY (owner, key));"
    "CREATE TABLE orchestrators (id TEXT PRIMARY KEY, info TEXT NOT NULL,"
    " last_seen BIGINT NOT NULL);",
    /* 2: schedules (pg_schedules.c). UNIQUE (schedule_id, tick) is the last line of the
     * exactly-once guarantee; manual triggers have a NULL tick (NULLs are distinct). */
    "CREATE TABLE schedules ("
    " seq BIGSERIAL PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, name TEXT NOT NULL, cron TEXT NOT NULL,"
    " timezone TEXT NOT NULL, job TEXT NOT NULL, overlap INTEGER NOT NULL,"
    " catchup INTEGER NOT NULL, jitter_s BIGINT NOT NULL, paused SMALLINT NOT NULL,"
    " start_at BIGINT, end_at BIGINT, created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL, next_tick BIGINT, next_run_at BIGINT,"
    " pending_tick BIGINT, last_tick BIGINT, fired BIGINT NOT NULL DEFAULT 0,"
    " skipped BIGINT NOT NULL DEFAULT 0, missed BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX schedules_owner ON schedules(owner, seq);"
    "CREATE INDEX schedules_due ON schedules(next_run_at) WHERE paused = 0;"
    "CREATE INDEX schedules_pending ON schedules(id) WHERE pending_tick IS NOT NULL;"
    "CREATE TABLE schedule_runs ("
    " seq BIGSERIAL PRIMARY KEY,"
    " schedule_id TEXT NOT NULL, tick BIGINT, job_id TEXT NOT NULL UNIQUE,"
    " fired_at BIGINT NOT NULL, UNIQUE (schedule_id, tick));"
    "CREATE INDEX schedule_runs_schedule ON schedule_runs(schedule_id, seq);",
    /* 3: the audit trail (pg_audit.c). */
    "CREATE TABLE audit_log (seq BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL,"
    " kind TEXT NOT NULL, actor_type TEXT NOT NULL, actor TEXT NOT NULL, scheme TEXT NOT NULL,"
    " route_group TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL,"
    " remote TEXT NOT NULL, key_version TEXT NOT NULL, target TEXT NOT NULL,"
    " status BIGINT NOT NULL, latency_us BIGINT NOT NULL, count BIGINT NOT NULL DEFAULT 1);"
    "CREATE INDEX audit_log_at ON audit_log(at);"
    "CREATE INDEX audit_log_actor ON audit_log(actor, seq);",
    /* 4: orchestrator credentials (pg_creds.c); sealed holds jc_seal() text only. */
    "CREATE TABLE orchestrator_keys (seq BIGSERIAL PRIMARY KEY,"
    " key_id TEXT NOT NULL UNIQUE, orchestrator TEXT NOT NULL, sealed TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, revoked_at BIGINT, expires_at BIGINT);"
    "CREATE INDEX orchestrator_keys_owner ON orchestrator_keys(orchestrator, seq);",
    /* 5: retention, maintenance leases, security signals (pg_upkeep.c). */
    "CREATE TABLE maintenance_tasks (task TEXT PRIMARY KEY, holder TEXT NOT NULL DEFAULT '',"
    " next_run_at BIGINT NOT NULL DEFAULT 0, last_success_at BIGINT, last_failure_at BIGINT,"
    " duration_ms BIGINT NOT NULL DEFAULT 0, failures BIGINT NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE signals (seq BIGSERIAL PRIMARY KEY, signal TEXT NOT NULL,"
    " subject TEXT NOT NULL, at BIGINT NOT NULL, slot BIGINT NOT NULL, count BIGINT NOT NULL,"
    " first_at BIGINT, last_at BIGINT, detail TEXT NOT NULL, UNIQUE (signal, subject, slot));"
    "CREATE INDEX upkeep_signals_subject ON signals(signal, subject, at);"
    "CREATE INDEX upkeep_signals_at ON signals(at);"
    "CREATE TABLE token_submits (token_id TEXT NOT NULL, owner TEXT NOT NULL,"
    " minute BIGINT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (token_id, minute));"
    "CREATE INDEX upkeep_token_submits_minute ON token_submits(minute);"
    "CREATE INDEX upkeep_token_submits_owner ON token_submits(owner, minute);"
    "CREATE TABLE orchestrator_addresses (orchestrator_id TEXT NOT NULL, address TEXT NOT NULL,"
    " first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,"
    " PRIMARY KEY (orchestrator_id, address));"
    "CREATE INDEX upkeep_orchestrator_addresses_seen ON orchestrator_addresses(last_seen);"
    "CREATE INDEX upkeep_executions_finished ON executions(finished_at) WHERE status >= 3;"
    "CREATE INDEX upkeep_audit_kind_at ON audit_events(kind, at);"
    "CREATE INDEX upkeep_audit_at ON audit_events(at);"
    "CREATE INDEX upkeep_idempotency_created ON idempotency(created_at);"
    "CREATE INDEX upkeep_tokens_created ON api_tokens(created_at);"
    "CREATE INDEX upkeep_jobs_retention ON jobs(id)"
    " WHERE (spec::jsonb ->> 'retention_days') IS NOT NULL;",
};

typedef struct migrate_arg {
    int from, to;
} migrate_arg;

static int migrate_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    (void)st;
    migrate_arg *m = arg;
    /* Two servers starting at once: the second waits here for the first's commit, then
     * finds nothing left to do. The key is "jobcell" in ASCII. */
    if (command(c, "SELECT pg_advisory_xact_lock(6953659297165043052)", err) < 0 ||
        command(c, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", err) < 0)
        return -1;
    PGresult *r = jc_pg_q(c, "SELECT coalesce(max(version), 0) FROM schema_version", err, "");
    if (!r)
        return -1;
    int version = (int)jc_pg_int(r, 0, 0);
    PQclear(r);
    m->from = version;
    int target = (int)JC_ARRAY_LEN(migrations);
    if (version > target)
        return jc_err_set(err, JC_E_CONFIG,
                          "store: schema version %d is newer than this program (%d)", version,
                          target);
    for (int v = version; v < target; v++) {
        if (command(c, migrations[v], err) < 0)
            return jc_err_prefix(err, "migration %d", v + 1);
        if (jc_pg_x(c, "INSERT INTO schema_version (version) VALUES ($1)", err, "i",
                    (int64_t)v + 1) < 0)
            return -1;
    }
    m->to = target;
    return 0;
}

int jc_pg_migrate(jc_store *st, int *from, int *to, jc_err *err) {
    migrate_arg m = {0, 0};
    if (jc_pg_tx(st, migrate_tx, &m, err) < 0)
        return -1;
    if (from)
        *from = m.from;
    if (to)
        *to = m.to;
    return 0;
}

static int ping_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    (void)st;
    (void)arg;
    PGresult *r = jc_pg_q(c, "SELECT 1", err, "");
    PQclear(r);
    return r ? 0 : -1;
}

int jc_pg_ping(jc_store *st, jc_err *err) {
    return jc_pg_run(st, ping_fn, NULL, err);
}

/* ---- notifications ---------------------------------------------------------------------- */

/* The listening thread: its own connection (not the pool's), LISTEN, and a poll on its
 * socket and on the stop pipe. A lost connection is reopened (once a second at most);
 * notifications sent meanwhile are lost, so a reconnect wakes the long-polls once. */
static void *listener_main(void *arg) {
    jc_store *st = arg;
    struct jc_pg_store *pg = st->pg;
    PGconn *conn = NULL;
    bool missed = false;
    for (;;) {
        if (!conn) {
            jc_err err;
            conn = connect_db(pg, &err);
            PGresult *r = conn ? PQexec(conn, "LISTEN " NOTIFY_CHANNEL) : NULL;
            bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) {
                if (conn)
                    PQfinish(conn);
                conn = NULL;
                jc_log(JC_LOG_WARN, "store: cannot listen for other servers' work", NULL);
                struct pollfd p = {pg->stop_pipe[0], POLLIN, 0};
                if (poll(&p, 1, 1000) > 0)
                    break;
                missed = true;
                continue;
            }
            if (missed && st->on_work)
                st->on_work(st->on_work_arg);
            missed = false;
        }
        struct pollfd fds[2] = {{PQsocket(conn), POLLIN, 0}, {pg->stop_pipe[0], POLLIN, 0}};
        int n = poll(fds, 2, 5000);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (n == 0 || !(fds[0].revents))
            continue;
        if (!PQconsumeInput(conn)) {
            PQfinish(conn);
            conn = NULL;
            missed = true;
            continue;
        }
        bool wake = false;
        PGnotify *nt;
        while ((nt = PQnotifies(conn))) {
            /* Our own submits already woke this process's long-polls. */
            if (strcmp(nt->extra, pg->instance) != 0)
                wake = true;
            PQfreemem(nt);
        }
        if (wake && st->on_work)
            st->on_work(st->on_work_arg);
    }
    if (conn)
        PQfinish(conn);
    return NULL;
}

static void listener_stop(struct jc_pg_store *pg) {
    if (!pg->listening)
        return;
    ssize_t w = write(pg->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(pg->listener, NULL);
    close(pg->stop_pipe[0]);
    close(pg->stop_pipe[1]);
    pg->listening = false;
}

int jc_pg_listen(jc_store *st, bool on, jc_err *err) {
    struct jc_pg_store *pg = st->pg;
    if (!on) {
        listener_stop(pg);
        return 0;
    }
    if (pg->listening)
        return 0;
    if (pipe2(pg->stop_pipe, O_CLOEXEC) < 0)
        return jc_err_sys(err, errno, "store: listener pipe");
    int e = pthread_create(&pg->listener, NULL, listener_main, st);
    if (e != 0) {
        close(pg->stop_pipe[0]);
        close(pg->stop_pipe[1]);
        return jc_err_sys(err, e, "store: listener thread");
    }
    pg->listening = true;
    return 0;
}

/* ---- open / close ---------------------------------------------------------------------- */

int jc_pg_open(jc_store *st, const jc_store_options *opt, jc_err *err) {
    struct jc_pg_store *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return jc_err_sys(err, ENOMEM, "store");
    pg->pool_size = opt->pool_size > 0 ? opt->pool_size : 8;
    pg->statement_timeout_ms = opt->statement_timeout_ms > 0 ? opt->statement_timeout_ms : 10000;
    pg->conninfo = strdup(opt->path);
    pg->password = opt->password ? strdup(opt->password) : NULL;
    pg->pool = calloc((size_t)pg->pool_size, sizeof(*pg->pool));
    for (int i = 0; pg->pool && i < pg->pool_size; i++)
        pg->pool[i].pg = pg;
    pg->stop_pipe[0] = pg->stop_pipe[1] = -1;
    pthread_mutex_init(&pg->lock, NULL);
    pthread_cond_init(&pg->cond, NULL);
    st->pg = pg;
    if (!pg->conninfo || !pg->pool || (opt->password && !pg->password) ||
        jc_random_id("api_", pg->instance, sizeof(pg->instance), err) < 0) {
        jc_pg_close(st);
        return jc_err_sys(err, ENOMEM, "store");
    }
    /* Connect now: a wrong URL or password is reported at start, not at the first request. */
    pgc *c = jc_pg_acquire(st, err);
    if (!c) {
        jc_pg_close(st);
        return -1;
    }
    jc_pg_release(st, c);
    return 0;
}

void jc_pg_close(jc_store *st) {
    struct jc_pg_store *pg = st->pg;
    if (!pg)
        return;
    listener_stop(pg);
    for (int i = 0; pg->pool && i < pg->pool_size; i++)
        conn_drop(&pg->pool[i]);
    free(pg->pool);
    pthread_cond_destroy(&pg->cond);
    pthread_mutex_destroy(&pg->lock);
    free(pg->conninfo);
    if (pg->password) {
        explicit_bzero(pg->password, strlen(pg->password));
        free(pg->password);
    }
    free(pg);
    st->pg = NULL;
}

const jc_store_ops jc_pg_ops = {
    .name = "postgresql",
    JC_STORE_ALL_OPS(JC_STORE_OP_INIT_PG).close = jc_pg_close,
    .listen = jc_pg_listen,
};
