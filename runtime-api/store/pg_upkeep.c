/* pg_upkeep.c: retention, maintenance leases, activity, detection reads and signals on
 * PostgreSQL (store_upkeep.h). The SQL follows sqlite_upkeep.c; JSON fields of specs and
 * results are read through jsonb. Space is given back by PostgreSQL's autovacuum, so
 * reclaim reports "not supported" and a full vacuum is not available here. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cleanup.h"
#include "pg_db.h"
#include "store_upkeep.h"

#define MAX_HITS 1000

/* ---- retention ----------------------------------------------------------------------- */

/* $1 now, $2 jobs_ms: jobs past their time (sqlite_upkeep.c EXPIRED_JOBS). */
#define EXPIRED_JOBS                                                                               \
    "SELECT e.job_id AS id FROM executions e JOIN jobs j ON j.id = e.job_id AND j.latest_exe ="    \
    " e.id WHERE e.status >= 3 AND e.finished_at < $1::bigint - $2::bigint"                        \
    " UNION ALL SELECT j.id FROM jobs j JOIN executions e ON e.id = j.latest_exe"                  \
    " WHERE (j.spec::jsonb ->> 'retention_days') IS NOT NULL AND e.status >= 3"                    \
    " AND e.finished_at >= $1::bigint - $2::bigint AND e.finished_at < $1::bigint -"               \
    " least($2::bigint, (j.spec::jsonb ->> 'retention_days')::numeric * 86400000)"

static int64_t keep_of(const jc_retention *r, jc_upkeep_kind kind) {
    return kind == JC_KIND_AUDIT         ? r->audit_ms
           : kind == JC_KIND_IDEMPOTENCY ? r->idempotency_ms
           : kind == JC_KIND_SIGNALS     ? r->signals_ms
                                         : r->activity_ms;
}

typedef struct count_arg {
    const jc_retention *r;
    int64_t now;
    jc_prune_counts *out;
} count_arg;

static int count_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql_jobs[] =
        "WITH x AS (" EXPIRED_JOBS ") SELECT (SELECT count(*) FROM x),"
        " (SELECT count(*) FROM executions WHERE job_id IN (SELECT id FROM x)),"
        " (SELECT count(*) FROM log_chunks WHERE exe_id IN (SELECT e.id FROM executions e"
        " WHERE e.job_id IN (SELECT id FROM x)))";
    static const struct {
        jc_upkeep_kind kind;
        const char *sql;
    } simple[] = {
        {JC_KIND_AUDIT, "SELECT (SELECT count(*) FROM audit_log WHERE at < $1) +"
                        " (SELECT count(*) FROM audit_events WHERE at < $1)"},
        {JC_KIND_IDEMPOTENCY, "SELECT count(*) FROM idempotency WHERE created_at < $1"},
        {JC_KIND_SIGNALS, "SELECT count(*) FROM signals WHERE at < $1"},
        {JC_KIND_ACTIVITY, "SELECT (SELECT count(*) FROM token_submits WHERE minute < $1::bigint /"
                           " 60000) + (SELECT count(*) FROM orchestrator_addresses WHERE"
                           " last_seen < $1)"},
    };
    (void)st;
    count_arg *a = arg;
    memset(a->out, 0, sizeof(*a->out));
    PGresult *r = jc_pg_q(c, sql_jobs, err, "ii", a->now, a->r->jobs_ms);
    if (!r)
        return -1;
    a->out->rows[JC_KIND_JOBS] = jc_pg_int(r, 0, 0);
    a->out->executions = jc_pg_int(r, 0, 1);
    a->out->rows[JC_KIND_LOGS] = jc_pg_int(r, 0, 2);
    PQclear(r);
    for (size_t i = 0; i < JC_ARRAY_LEN(simple); i++) {
        r = jc_pg_q(c, simple[i].sql, err, "i", a->now - keep_of(a->r, simple[i].kind));
        if (!r)
            return -1;
        a->out->rows[simple[i].kind] = jc_pg_int(r, 0, 0);
        PQclear(r);
    }
    return 0;
}

int jc_pg_prune_count(jc_store *st, const jc_retention *r, int64_t now, jc_prune_counts *out,
                      jc_err *err) {
    count_arg a = {r, now, out};
    return jc_pg_tx(st, count_tx, &a, err); /* one transaction: the counts of one moment */
}

typedef struct batch_arg {
    jc_upkeep_kind kind;
    const jc_retention *r;
    int64_t now;
    size_t limit;
    jc_prune_counts got; /* this batch's counts (added to the caller's after the commit) */
    size_t units;
} batch_arg;

static int prune_jobs(pgc *c, batch_arg *a, jc_err *err) {
    static const char pick[] = EXPIRED_JOBS " LIMIT $3";
    static const char del_logs[] =
        "DELETE FROM log_chunks WHERE exe_id IN (SELECT id FROM executions WHERE job_id = $1)";
    static const char del_exes[] = "DELETE FROM executions WHERE job_id = $1";
    static const char del_runs[] = "DELETE FROM schedule_runs WHERE job_id = $1";
    static const char del_job[] = "DELETE FROM jobs WHERE id = $1";
    PGresult *r = jc_pg_q(c, pick, err, "iii", a->now, a->r->jobs_ms, (int64_t)a->limit);
    if (!r)
        return -1;
    int rc = 0;
    int rows = PQntuples(r);
    for (int i = 0; i < rows && rc == 0; i++) {
        const char *id = jc_pg_text(r, i, 0);
        int64_t logs = jc_pg_x(c, del_logs, err, "s", id);
        int64_t exes = logs < 0 ? -1 : jc_pg_x(c, del_exes, err, "s", id);
        int64_t runs = exes < 0 ? -1 : jc_pg_x(c, del_runs, err, "s", id);
        int64_t job = runs < 0 ? -1 : jc_pg_x(c, del_job, err, "s", id);
        if (job < 0) {
            rc = -1;
            break;
        }
        a->got.rows[JC_KIND_LOGS] += logs;
        a->got.executions += exes;
        a->got.rows[JC_KIND_JOBS] += job;
    }
    PQclear(r);
    if (rc == 0)
        a->units = (size_t)rows;
    return rc;
}

static int batch_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char *const sql[JC_KIND_COUNT] = {
        [JC_KIND_AUDIT] = "DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events"
                          " WHERE at < $1 ORDER BY at LIMIT $2)",
        [JC_KIND_IDEMPOTENCY] = "DELETE FROM idempotency WHERE (owner, key) IN (SELECT owner,"
                                " key FROM idempotency WHERE created_at < $1 LIMIT $2)",
        [JC_KIND_SIGNALS] = "DELETE FROM signals WHERE seq IN (SELECT seq FROM signals WHERE"
                            " at < $1 ORDER BY at LIMIT $2)",
        [JC_KIND_ACTIVITY] =
            "DELETE FROM token_submits WHERE (token_id, minute) IN (SELECT"
            " token_id, minute FROM token_submits WHERE minute < $1::bigint / 60000"
            " LIMIT $2)",
    };
    static const char sql_addresses[] =
        "DELETE FROM orchestrator_addresses WHERE (orchestrator_id, address) IN (SELECT"
        " orchestrator_id, address FROM orchestrator_addresses WHERE last_seen < $1 LIMIT $2)";
    (void)st;
    batch_arg *a = arg;
    memset(&a->got, 0, sizeof(a->got));
    a->units = 0;
    if (a->kind == JC_KIND_JOBS)
        return prune_jobs(c, a, err);
    int64_t keep = keep_of(a->r, a->kind);
    int64_t removed = jc_pg_x(c, sql[a->kind], err, "ii", a->now - keep, (int64_t)a->limit);
    if (removed < 0)
        return -1;
    if (a->kind == JC_KIND_ACTIVITY && (int64_t)a->limit > removed) {
        int64_t more =
            jc_pg_x(c, sql_addresses, err, "ii", a->now - keep, (int64_t)a->limit - removed);
        if (more < 0)
            return -1;
        removed += more;
    }
    a->got.rows[a->kind] = removed;
    a->units = (size_t)removed;
    return 0;
}

int jc_pg_prune_batch(jc_store *st, jc_upkeep_kind kind, const jc_retention *r, int64_t now,
                      size_t limit, jc_prune_counts *out, size_t *units, jc_err *err) {
    *units = 0;
    if (limit == 0)
        return 0;
    if (kind >= JC_KIND_COUNT || kind == JC_KIND_LOGS || kind == JC_KIND_VARIABLES)
        return jc_err_set(err, JC_E_INVALID, "prune: %s rows are not pruned on their own",
                          jc_upkeep_kind_name(kind));
    batch_arg a = {.kind = kind, .r = r, .now = now, .limit = limit};
    if (jc_pg_tx(st, batch_tx, &a, err) < 0)
        return -1;
    for (int k = 0; k < JC_KIND_COUNT; k++)
        out->rows[k] += a.got.rows[k];
    out->executions += a.got.executions;
    *units = a.units;
    return 0;
}

int jc_pg_reclaim(jc_store *st, int64_t max_pages, bool *supported, int64_t *freed_pages,
                  int64_t *free_pages, jc_err *err) {
    (void)st;
    (void)max_pages;
    (void)err;
    *supported = false; /* autovacuum gives space back to PostgreSQL */
    if (freed_pages)
        *freed_pages = 0;
    if (free_pages)
        *free_pages = 0;
    return 0;
}

int jc_pg_full_vacuum(jc_store *st, jc_err *err) {
    (void)st;
    return jc_err_set(err, JC_E_UNSUPPORTED,
                      "full vacuum is not available on the PostgreSQL store (run VACUUM FULL"
                      " from psql in a maintenance window if needed)");
}

/* ---- growth ---------------------------------------------------------------------------- */

int jc_pg_measure(jc_store *st, jc_store_sizes *out, jc_err *err) {
    static const char sql[] =
        "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM log_chunks),"
        " (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM audit_events),"
        " (SELECT count(*) FROM idempotency), (SELECT count(*) FROM signals),"
        " (SELECT count(*) FROM token_submits) + (SELECT count(*) FROM orchestrator_addresses),"
        " (SELECT count(*) FROM variables), (SELECT count(*) FROM executions),"
        " pg_database_size(current_database()),"
        " pg_total_relation_size('jobs') + pg_total_relation_size('executions') +"
        " pg_total_relation_size('schedule_runs'), pg_total_relation_size('log_chunks'),"
        " pg_total_relation_size('audit_log') + pg_total_relation_size('audit_events'),"
        " pg_total_relation_size('idempotency'), pg_total_relation_size('signals'),"
        " pg_total_relation_size('token_submits') +"
        " pg_total_relation_size('orchestrator_addresses'), pg_total_relation_size('variables')";
    memset(out, 0, sizeof(*out));
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "");
    jc_pg_release(st, c);
    if (!r)
        return -1;
    for (int k = 0; k < JC_KIND_COUNT; k++) {
        out->rows[k] = jc_pg_int(r, 0, k);
        out->bytes[k] = jc_pg_int(r, 0, JC_KIND_COUNT + 2 + k);
    }
    out->executions = jc_pg_int(r, 0, JC_KIND_COUNT);
    out->file_bytes = jc_pg_int(r, 0, JC_KIND_COUNT + 1);
    out->free_bytes = 0; /* PostgreSQL reuses dead space itself */
    PQclear(r);
    return 0;
}

/* ---- maintenance leases ------------------------------------------------------------------ */

typedef struct task_arg {
    const char *task, *holder, *error;
    int64_t now, interval_ms, duration_ms;
    bool ok;
    int64_t changed;
} task_arg;

static int acquire_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char ins[] =
        "INSERT INTO maintenance_tasks (task) VALUES ($1) ON CONFLICT DO NOTHING";
    /* conditional: of the servers whose clocks say it is time, one takes the tick */
    static const char upd[] = "UPDATE maintenance_tasks SET holder = $2, next_run_at = $3 + $4"
                              " WHERE task = $1 AND next_run_at <= $3";
    (void)st;
    task_arg *a = arg;
    if (jc_pg_x(c, ins, err, "s", a->task) < 0)
        return -1;
    a->changed = jc_pg_x(c, upd, err, "ssii", a->task, a->holder, a->now, a->interval_ms);
    return a->changed < 0 ? -1 : 0;
}

int jc_pg_task_acquire(jc_store *st, const char *task, const char *holder, int64_t now,
                       int64_t interval_ms, bool *acquired, jc_err *err) {
    *acquired = false;
    task_arg a = {.task = task, .holder = holder, .now = now, .interval_ms = interval_ms};
    if (jc_pg_tx(st, acquire_tx, &a, err) < 0)
        return -1;
    *acquired = a.changed == 1;
    return 0;
}

static int record_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char ins[] =
        "INSERT INTO maintenance_tasks (task) VALUES ($1) ON CONFLICT DO NOTHING";
    static const char ok[] = "UPDATE maintenance_tasks SET last_success_at = $2, duration_ms = $3,"
                             " last_error = '' WHERE task = $1";
    static const char bad[] = "UPDATE maintenance_tasks SET last_failure_at = $2, duration_ms ="
                              " $3, last_error = substr($4, 1, 199), failures = failures + 1"
                              " WHERE task = $1";
    (void)st;
    task_arg *a = arg;
    if (jc_pg_x(c, ins, err, "s", a->task) < 0)
        return -1;
    int64_t n = a->ok ? jc_pg_x(c, ok, err, "sii", a->task, a->now, a->duration_ms)
                      : jc_pg_x(c, bad, err, "siis", a->task, a->now, a->duration_ms,
                                a->error ? a->error : "");
    return n < 0 ? -1 : 0;
}

int jc_pg_task_record(jc_store *st, const char *task, bool ok, int64_t at, int64_t duration_ms,
                      const char *error, jc_err *err) {
    task_arg a = {.task = task, .error = error, .now = at, .duration_ms = duration_ms, .ok = ok};
    return jc_pg_tx(st, record_tx, &a, err);
}

int jc_pg_task_list(jc_store *st, jc_task_state **out, size_t *n, jc_err *err) {
    static const char sql[] =
        "SELECT task, holder, next_run_at, last_success_at, last_failure_at, duration_ms,"
        " failures, last_error FROM maintenance_tasks ORDER BY task COLLATE \"C\" LIMIT 64";
    *out = NULL;
    *n = 0;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "");
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    jc_task_state *v = calloc(rows ? (size_t)rows : 1, sizeof(*v));
    if (!v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "store: tasks");
    }
    for (int i = 0; i < rows; i++) {
        jc_task_state *t = &v[i];
        jc_pg_copy(r, i, 0, t->task, sizeof(t->task));
        jc_pg_copy(r, i, 1, t->holder, sizeof(t->holder));
        t->next_run_at = jc_pg_int(r, i, 2);
        t->last_success_at = jc_pg_int(r, i, 3);
        t->last_failure_at = jc_pg_int(r, i, 4);
        t->duration_ms = jc_pg_int(r, i, 5);
        t->failures = jc_pg_int(r, i, 6);
        jc_pg_copy(r, i, 7, t->last_error, sizeof(t->last_error));
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

/* ---- activity -------------------------------------------------------------------------- */

typedef struct activity_arg {
    const char *sql, *a, *b;
    int64_t v;
} activity_arg;

static int activity_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    (void)st;
    activity_arg *a = arg;
    return jc_pg_x(c, a->sql, err, "ssi", a->a, a->b, a->v) < 0 ? -1 : 0;
}

int jc_pg_activity_submit(jc_store *st, const char *token_id, const char *owner, int64_t now,
                          jc_err *err) {
    static const char sql[] =
        "INSERT INTO token_submits (token_id, owner, minute, n) VALUES ($1, $2, $3, 1)"
        " ON CONFLICT (token_id, minute) DO UPDATE SET n = token_submits.n + 1";
    activity_arg a = {sql, token_id, owner, now / 60000};
    return jc_pg_run(st, activity_fn, &a, err);
}

int jc_pg_activity_orchestrator(jc_store *st, const char *orchestrator_id, const char *address,
                                int64_t now, jc_err *err) {
    static const char sql[] =
        "INSERT INTO orchestrator_addresses (orchestrator_id, address, first_seen, last_seen)"
        " VALUES ($1, $2, $3, $3) ON CONFLICT (orchestrator_id, address) DO UPDATE SET"
        " last_seen = greatest(orchestrator_addresses.last_seen, excluded.last_seen)";
    activity_arg a = {sql, orchestrator_id, address, now};
    return jc_pg_run(st, activity_fn, &a, err);
}

/* ---- detection reads ---------------------------------------------------------------- */

/* As sqlite_upkeep.c: subject, owner, count, first_at, last_at; $1 since, $2 until,
 * $3..$5 p1..p3; nparams says how many each rule uses. */
static const struct {
    const char *sql;
    int nparams;
} scan_sql[JC_SCAN_RULE_COUNT] = {
    [JC_SCAN_NEW_TOKEN_SUBMIT] =
        {"SELECT t.id, t.\"user\", sum(s.n), min(s.minute) * 60000, max(s.minute) * 60000"
         " FROM api_tokens t JOIN token_submits s ON s.token_id = t.id"
         " WHERE t.created_at >= $1::bigint - $3::bigint AND t.created_at <= $2::bigint"
         " AND s.minute >= t.created_at / 60000 AND s.minute <= (t.created_at + $3::bigint) /"
         " 60000 GROUP BY t.id, t.\"user\" HAVING sum(s.n) >= greatest($4::bigint, 1)",
         4},
    [JC_SCAN_TOKEN_RATE] =
        {"WITH cur AS (SELECT token_id, owner, sum(n) AS c, min(minute) AS f, max(minute) AS l"
         " FROM token_submits WHERE minute >= $1::bigint / 60000 AND minute <= $2::bigint /"
         " 60000 GROUP BY token_id, owner HAVING sum(n) >= $3::bigint),"
         " base AS (SELECT owner, sum(n) AS b FROM token_submits WHERE minute >= ($1::bigint -"
         " $5::bigint) / 60000 AND minute < $1::bigint / 60000 AND owner IN (SELECT owner FROM"
         " cur) GROUP BY owner)"
         " SELECT cur.token_id, cur.owner, cur.c, cur.f * 60000, cur.l * 60000 FROM cur"
         " LEFT JOIN base ON base.owner = cur.owner WHERE cur.c > $4::bigint *"
         " coalesce(base.b, 0) * ($2::bigint - $1::bigint) / greatest($5::bigint, 1.0)",
         5},
    [JC_SCAN_AUTH_BURST_ADDRESS] =
        {"SELECT remote, '', sum(count), min(at), max(at) FROM audit_log"
         " WHERE at >= $1 AND at <= $2 AND kind = 'auth' AND outcome = 'failure'"
         " GROUP BY remote HAVING remote <> '' AND sum(count) >= $3",
         3},
    [JC_SCAN_AUTH_BURST_ORCHESTRATOR] =
        {"SELECT target, '', sum(count), min(at), max(at) FROM audit_log"
         " WHERE at >= $1 AND at <= $2 AND kind = 'auth' AND outcome = 'failure'"
         " AND scheme <> 'jwt' GROUP BY target HAVING target <> '' AND sum(count) >= $3",
         3},
    [JC_SCAN_TOKEN_AFTER_END] =
        {"SELECT target, '', sum(count), min(at), max(at) FROM audit_log"
         " WHERE at >= $1 AND at <= $2 AND kind = 'auth' AND outcome = 'failure'"
         " AND reason = 'execution_not_live' GROUP BY target HAVING target <> ''",
         2},
    [JC_SCAN_ORCHESTRATOR_ADDRESSES] =
        {"SELECT orchestrator_id, '', count(*), min(first_seen), max(last_seen)"
         " FROM orchestrator_addresses WHERE last_seen >= $1 AND first_seen <= $2"
         " GROUP BY orchestrator_id HAVING count(*) >= 2",
         2},
    [JC_SCAN_LEASES_LOST] =
        {"SELECT orchestrator_id, '', count(*), min(finished_at), max(finished_at)"
         " FROM executions WHERE status = 6 AND finished_at >= $1 AND finished_at <= $2"
         " AND orchestrator_id IS NOT NULL GROUP BY orchestrator_id HAVING count(*) >= $3",
         3},
    [JC_SCAN_SECCOMP_KILL] =
        {"SELECT id, '', 1, finished_at, finished_at FROM executions"
         " WHERE status >= 3 AND finished_at >= $1 AND finished_at <= $2 AND result IS NOT NULL"
         " AND ((result::jsonb ->> 'reason' = 'signaled' AND result::jsonb ->> 'signal' IN"
         " ('31', 'SIGSYS')) OR result::jsonb ->> 'reason' = 'seccomp')",
         2},
    [JC_SCAN_EGRESS_DENIED] =
        {"SELECT id, '', (result::jsonb #>> '{network,denied}')::numeric::bigint, finished_at,"
         " finished_at FROM executions WHERE status >= 3 AND finished_at >= $1"
         " AND finished_at <= $2 AND result IS NOT NULL"
         " AND jsonb_typeof(result::jsonb #> '{network,denied}') = 'number'"
         " AND (result::jsonb #>> '{network,denied}')::numeric >= greatest($3::bigint, 1)",
         3},
};

int jc_pg_scan(jc_store *st, const jc_scan_query *q, jc_scan_hit **out, size_t *n, jc_err *err) {
    static const char fmts[][6] = {"", "i", "ii", "iii", "iiii", "iiiii"};
    *out = NULL;
    *n = 0;
    if ((unsigned)q->rule >= JC_SCAN_RULE_COUNT)
        return jc_err_set(err, JC_E_INVALID, "scan: unknown rule");
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, scan_sql[q->rule].sql, err, fmts[scan_sql[q->rule].nparams], q->since,
                          q->until, q->p1, q->p2, q->p3);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    size_t rows = (size_t)PQntuples(r);
    if (rows > MAX_HITS)
        rows = MAX_HITS;
    jc_scan_hit *v = calloc(rows ? rows : 1, sizeof(*v));
    if (!v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "store: scan");
    }
    for (size_t i = 0; i < rows; i++) {
        int k = (int)i;
        jc_pg_copy(r, k, 0, v[i].subject, sizeof(v[i].subject));
        jc_pg_copy(r, k, 1, v[i].owner, sizeof(v[i].owner));
        v[i].count = jc_pg_int(r, k, 2);
        v[i].first_at = jc_pg_int(r, k, 3);
        v[i].last_at = jc_pg_int(r, k, 4);
    }
    PQclear(r);
    *out = v;
    *n = rows;
    return 0;
}

/* ---- signals -------------------------------------------------------------------------- */

typedef struct signal_arg {
    const jc_signal *sg;
    int64_t window_ms;
    int64_t added;
} signal_arg;

static int signal_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    /* one recorder of a (signal, subject) at a time across servers; UNIQUE (signal,
     * subject, slot) stays the last guard */
    static const char lock[] =
        "SELECT pg_advisory_xact_lock(hashtext('jobcell.signal.' || $1 || '.' || $2))";
    static const char seen[] =
        "SELECT count(*) FROM signals WHERE signal = $1 AND subject = $2 AND at >= $3";
    static const char ins[] = "INSERT INTO signals (signal, subject, at, slot, count, first_at,"
                              " last_at, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                              " ON CONFLICT DO NOTHING";
    (void)st;
    signal_arg *a = arg;
    const jc_signal *sg = a->sg;
    a->added = 0;
    PGresult *r = jc_pg_q(c, lock, err, "ss", sg->signal, sg->subject);
    if (!r)
        return -1;
    PQclear(r);
    r = jc_pg_q(c, seen, err, "ssi", sg->signal, sg->subject, sg->at - a->window_ms);
    if (!r)
        return -1;
    int64_t n = jc_pg_int(r, 0, 0);
    PQclear(r);
    if (n > 0)
        return 0;
    a->added = jc_pg_x(c, ins, err, "ssiiitts", sg->signal, sg->subject, sg->at,
                       sg->at / a->window_ms, sg->count, sg->first_at, sg->last_at, sg->detail);
    return a->added < 0 ? -1 : 0;
}

int jc_pg_signal_record(jc_store *st, const jc_signal *s, int64_t window_ms, bool *inserted,
                        jc_err *err) {
    *inserted = false;
    if (window_ms <= 0)
        return jc_err_set(err, JC_E_INVALID, "signal: the window must be positive");
    signal_arg a = {s, window_ms, 0};
    if (jc_pg_tx(st, signal_tx, &a, err) < 0)
        return -1;
    *inserted = a.added == 1;
    return 0;
}

int jc_pg_signal_list(jc_store *st, int64_t since, int64_t after_seq, size_t limit, jc_signal **out,
                      size_t *n, jc_err *err) {
    static const char sql[] =
        "SELECT seq, signal, subject, at, count, first_at, last_at, detail FROM signals"
        " WHERE at >= $1 AND seq > $2 ORDER BY seq LIMIT $3";
    *out = NULL;
    *n = 0;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "iii", since, after_seq, (int64_t)limit);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    jc_signal *v = calloc(rows ? (size_t)rows : 1, sizeof(*v));
    if (!v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "store: signals");
    }
    for (int i = 0; i < rows; i++) {
        jc_signal *g = &v[i];
        g->seq = jc_pg_int(r, i, 0);
        jc_pg_copy(r, i, 1, g->signal, sizeof(g->signal));
        jc_pg_copy(r, i, 2, g->subject, sizeof(g->subject));
        g->at = jc_pg_int(r, i, 3);
        g->count = jc_pg_int(r, i, 4);
        g->first_at = jc_pg_int(r, i, 5);
        g->last_at = jc_pg_int(r, i, 6);
        jc_pg_copy(r, i, 7, g->detail, sizeof(g->detail));
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}
