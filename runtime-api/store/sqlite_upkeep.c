/* sqlite_upkeep.c: store_upkeep.h on SQLite.
 *
 * The maintenance statements run rarely (a prune batch, a scan every few minutes), so
 * they are prepared per call and finalized at once, keeping the per-connection statement
 * cache for the hot paths; the two writes made on requests (a submit's count, an
 * orchestrator's address) use the cache. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cleanup.h"
#include "sqlite_db.h"
#include "store_upkeep.h"

#define MAX_HITS 1000
#define DAY_MS 86400000LL

static const char *const kind_names[JC_KIND_COUNT] = {
    "jobs", "logs", "audit", "idempotency", "signals", "activity", "variables"};

const char *jc_upkeep_kind_name(jc_upkeep_kind k) {
    return (unsigned)k < JC_KIND_COUNT ? kind_names[k] : "unknown";
}

/* ---- helpers ------------------------------------------------------------------------- */

static void finalize(sqlite3_stmt **s) {
    if (*s)
        sqlite3_finalize(*s);
}
#define _cleanup_stmt_ __attribute__((cleanup(finalize)))

/* An uncached statement (finalize with _cleanup_stmt_). */
static sqlite3_stmt *prep(conn *c, const char *sql, jc_err *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK) {
        jc_sq_fail(c->db, err, "prepare");
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

/* One integer from a one-row query; -1 on error. */
static int scalar(conn *c, sqlite3_stmt *s, int64_t *out, jc_err *err) {
    int r = jc_sq_step(c, s, err);
    if (r < 0)
        return -1;
    *out = r == 1 ? sqlite3_column_int64(s, 0) : 0;
    return 0;
}

/* Run one statement with bound params, adding its row changes to *changes. */
static int run_changes(conn *c, sqlite3_stmt *s, int64_t *changes, jc_err *err) {
    if (jc_sq_step(c, s, err) < 0)
        return -1;
    if (changes)
        *changes += sqlite3_changes(c->db);
    return 0;
}

/* ---- retention ----------------------------------------------------------------------- */

/* The jobs past their time: the default cutoff through the index on finished_at, and the
 * jobs whose spec asks for less through the partial index on retention_days (only those
 * the first part did not take, so UNION ALL has no duplicate and LIMIT stops the scan
 * early: a plain UNION would read every expired row on every batch). ?1 now, ?2 jobs_ms. */
#define EXPIRED_JOBS                                                                               \
    "SELECT e.job_id AS id FROM executions e JOIN jobs j ON j.id = e.job_id AND j.latest_exe ="    \
    " e.id WHERE e.status >= 3 AND e.finished_at < ?1 - ?2"                                        \
    " UNION ALL SELECT j.id FROM jobs j JOIN executions e ON e.id = j.latest_exe"                  \
    " WHERE json_extract(j.spec, '$.retention_days') IS NOT NULL AND e.status >= 3"                \
    " AND e.finished_at >= ?1 - ?2"                                                                \
    " AND e.finished_at < ?1 - min(?2, json_extract(j.spec, '$.retention_days') * 86400000)"

int jc_sqlite_prune_count(jc_store *st, const jc_retention *r, int64_t now, jc_prune_counts *out,
                          jc_err *err) {
    memset(out, 0, sizeof(*out));
    conn *c = jc_sq_conn(st, err);
    if (!c)
        return -1;
    /* One read transaction: the counts are of one moment. */
    if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return jc_sq_fail(c->db, err, "prune count");
    int rc = -1;
    {
        _cleanup_stmt_ sqlite3_stmt *jobs =
            prep(c,
                 "WITH x AS (" EXPIRED_JOBS ") SELECT (SELECT count(*) FROM x),"
                 " (SELECT count(*) FROM executions WHERE job_id IN (SELECT id FROM x)),"
                 " (SELECT count(*) FROM log_chunks WHERE exe_id IN (SELECT e.id FROM executions e"
                 " WHERE e.job_id IN (SELECT id FROM x)))",
                 err);
        if (!jobs || jc_sq_bind(c, jobs, err, "ii", now, r->jobs_ms) < 0)
            goto out;
        int s = jc_sq_step(c, jobs, err);
        if (s < 0)
            goto out;
        if (s == 1) {
            out->rows[JC_KIND_JOBS] = sqlite3_column_int64(jobs, 0);
            out->executions = sqlite3_column_int64(jobs, 1);
            out->rows[JC_KIND_LOGS] = sqlite3_column_int64(jobs, 2);
        }
        static const struct {
            jc_upkeep_kind kind;
            const char *sql;
        } simple[] = {
            {JC_KIND_AUDIT, "SELECT (SELECT count(*) FROM audit_log WHERE at < ?1) +"
                            " (SELECT count(*) FROM audit_events WHERE at < ?1)"},
            {JC_KIND_IDEMPOTENCY, "SELECT count(*) FROM idempotency WHERE created_at < ?1"},
            {JC_KIND_SIGNALS, "SELECT count(*) FROM signals WHERE at < ?1"},
            {JC_KIND_ACTIVITY, "SELECT (SELECT count(*) FROM token_submits WHERE minute < ?1 /"
                               " 60000) + (SELECT count(*) FROM orchestrator_addresses WHERE"
                               " last_seen < ?1)"},
        };
        for (size_t i = 0; i < JC_ARRAY_LEN(simple); i++) {
            int64_t keep = simple[i].kind == JC_KIND_AUDIT         ? r->audit_ms
                           : simple[i].kind == JC_KIND_IDEMPOTENCY ? r->idempotency_ms
                           : simple[i].kind == JC_KIND_SIGNALS     ? r->signals_ms
                                                                   : r->activity_ms;
            _cleanup_stmt_ sqlite3_stmt *q = prep(c, simple[i].sql, err);
            if (!q || jc_sq_bind(c, q, err, "i", now - keep) < 0 ||
                scalar(c, q, &out->rows[simple[i].kind], err) < 0)
                goto out;
        }
    }
    rc = 0;
out:
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

static int prune_jobs(conn *c, const jc_retention *r, int64_t now, size_t limit,
                      jc_prune_counts *out, size_t *units, jc_err *err) {
    _cleanup_stmt_ sqlite3_stmt *pick = prep(c, EXPIRED_JOBS " LIMIT ?3", err);
    _cleanup_stmt_ sqlite3_stmt *logs = prep(
        c, "DELETE FROM log_chunks WHERE exe_id IN (SELECT id FROM executions WHERE job_id = ?)",
        err);
    _cleanup_stmt_ sqlite3_stmt *exes = prep(c, "DELETE FROM executions WHERE job_id = ?", err);
    _cleanup_stmt_ sqlite3_stmt *runs = prep(c, "DELETE FROM schedule_runs WHERE job_id = ?", err);
    _cleanup_stmt_ sqlite3_stmt *job = prep(c, "DELETE FROM jobs WHERE id = ?", err);
    if (!pick || !logs || !exes || !runs || !job ||
        jc_sq_bind(c, pick, err, "iii", now, r->jobs_ms, (int64_t)limit) < 0)
        return -1;
    /* The ids first (the deletes would disturb the running SELECT). */
    char(*ids)[JC_ID_MAX] = calloc(limit ? limit : 1, JC_ID_MAX);
    if (!ids)
        return jc_err_sys(err, ENOMEM, "prune");
    size_t n = 0;
    int s = 0;
    while (n < limit && (s = jc_sq_step(c, pick, err)) == 1)
        jc_sq_copy(pick, 0, ids[n++], JC_ID_MAX);
    if (n < limit && s < 0) {
        free(ids);
        return -1;
    }
    sqlite3_reset(pick);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int64_t jobs_removed = 0;
        sqlite3_stmt *steps[] = {logs, exes, runs, job};
        int64_t *counters[] = {&out->rows[JC_KIND_LOGS], &out->executions, NULL, &jobs_removed};
        for (size_t k = 0; k < 4 && rc == 0; k++) {
            sqlite3_reset(steps[k]);
            if (jc_sq_bind(c, steps[k], err, "s", ids[i]) < 0 ||
                run_changes(c, steps[k], counters[k], err) < 0)
                rc = -1;
        }
        out->rows[JC_KIND_JOBS] += jobs_removed;
    }
    free(ids);
    if (rc == 0)
        *units = n;
    return rc;
}

int jc_sqlite_prune_batch(jc_store *st, jc_upkeep_kind kind, const jc_retention *r, int64_t now,
                          size_t limit, jc_prune_counts *out, size_t *units, jc_err *err) {
    *units = 0;
    if (limit == 0)
        return 0;
    static const char *const sql[JC_KIND_COUNT] = {
        [JC_KIND_AUDIT] = "DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events"
                          " WHERE at < ?1 ORDER BY at LIMIT ?2)",
        [JC_KIND_IDEMPOTENCY] = "DELETE FROM idempotency WHERE (owner, key) IN (SELECT owner,"
                                " key FROM idempotency WHERE created_at < ?1 LIMIT ?2)",
        [JC_KIND_SIGNALS] = "DELETE FROM signals WHERE seq IN (SELECT seq FROM signals WHERE"
                            " at < ?1 ORDER BY at LIMIT ?2)",
        [JC_KIND_ACTIVITY] = "DELETE FROM token_submits WHERE (token_id, minute) IN (SELECT"
                             " token_id, minute FROM token_submits WHERE minute < ?1 / 60000"
                             " LIMIT ?2)",
    };
    if (kind != JC_KIND_JOBS && (kind >= JC_KIND_COUNT || !sql[kind]))
        return jc_err_set(err, JC_E_INVALID, "prune: %s rows are not pruned on their own",
                          jc_upkeep_kind_name(kind));
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    int rc = 0;
    if (kind == JC_KIND_JOBS) {
        rc = prune_jobs(c, r, now, limit, out, units, err);
    } else {
        int64_t keep = kind == JC_KIND_AUDIT         ? r->audit_ms
                       : kind == JC_KIND_IDEMPOTENCY ? r->idempotency_ms
                       : kind == JC_KIND_SIGNALS     ? r->signals_ms
                                                     : r->activity_ms;
        int64_t removed = 0;
        _cleanup_stmt_ sqlite3_stmt *s = prep(c, sql[kind], err);
        if (!s || jc_sq_bind(c, s, err, "ii", now - keep, (int64_t)limit) < 0 ||
            run_changes(c, s, &removed, err) < 0)
            rc = -1;
        if (rc == 0 && kind == JC_KIND_ACTIVITY && (int64_t)limit > removed) {
            _cleanup_stmt_ sqlite3_stmt *a = prep(
                c,
                "DELETE FROM orchestrator_addresses WHERE (orchestrator_id, address) IN (SELECT"
                " orchestrator_id, address FROM orchestrator_addresses WHERE last_seen < ?1"
                " LIMIT ?2)",
                err);
            if (!a || jc_sq_bind(c, a, err, "ii", now - keep, (int64_t)limit - removed) < 0 ||
                run_changes(c, a, &removed, err) < 0)
                rc = -1;
        }
        if (rc == 0) {
            out->rows[kind] += removed;
            *units = (size_t)removed;
        }
    }
    if (rc == 0 && jc_sq_commit(c, err) == 0)
        return 0;
    jc_sq_rollback(c);
    *units = 0;
    return -1;
}

static int pragma_int(conn *c, const char *sql, int64_t *out, jc_err *err) {
    _cleanup_stmt_ sqlite3_stmt *s = prep(c, sql, err);
    return s ? scalar(c, s, out, err) : -1;
}

int jc_sqlite_reclaim(jc_store *st, int64_t max_pages, bool *supported, int64_t *freed_pages,
                      int64_t *free_pages, jc_err *err) {
    *supported = false;
    *freed_pages = *free_pages = 0;
    conn *c = jc_sq_conn(st, err);
    int64_t mode, before, after;
    if (!c || pragma_int(c, "PRAGMA auto_vacuum", &mode, err) < 0 ||
        pragma_int(c, "PRAGMA freelist_count", &before, err) < 0)
        return -1;
    *free_pages = before;
    if (mode != 2) /* 2: INCREMENTAL */
        return 0;
    *supported = true;
    if (before == 0 || max_pages <= 0)
        return 0;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%" PRId64 ")", max_pages);
    _cleanup_stmt_ sqlite3_stmt *s = prep(c, sql, err);
    if (!s)
        return -1;
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1)
        ;
    if (r < 0 || pragma_int(c, "PRAGMA freelist_count", &after, err) < 0)
        return -1;
    *freed_pages = before > after ? before - after : 0;
    *free_pages = after;
    return 0;
}

int jc_sqlite_full_vacuum(jc_store *st, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    if (!c)
        return -1;
    /* auto_vacuum can only change through a VACUUM once tables exist */
    char *msg = NULL;
    if (sqlite3_exec(c->db, "PRAGMA auto_vacuum=INCREMENTAL; VACUUM;", NULL, NULL, &msg) !=
        SQLITE_OK) {
        jc_err_set(err, JC_E_UNAVAILABLE, "store: vacuum: %s", msg ? msg : "failed");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* ---- growth ---------------------------------------------------------------------------- */

static int kind_of_table(const char *t) {
    static const struct {
        const char *table;
        jc_upkeep_kind kind;
    } map[] = {{"jobs", JC_KIND_JOBS},
               {"executions", JC_KIND_JOBS},
               {"schedule_runs", JC_KIND_JOBS},
               {"log_chunks", JC_KIND_LOGS},
               {"audit_events", JC_KIND_AUDIT},
               {"audit_log", JC_KIND_AUDIT},
               {"idempotency", JC_KIND_IDEMPOTENCY},
               {"signals", JC_KIND_SIGNALS},
               {"token_submits", JC_KIND_ACTIVITY},
               {"orchestrator_addresses", JC_KIND_ACTIVITY},
               {"variables", JC_KIND_VARIABLES}};
    for (size_t i = 0; i < JC_ARRAY_LEN(map); i++)
        if (strcmp(map[i].table, t) == 0)
            return (int)map[i].kind;
    return -1;
}

int jc_sqlite_measure(jc_store *st, jc_store_sizes *out, jc_err *err) {
    memset(out, 0, sizeof(*out));
    conn *c = jc_sq_conn(st, err);
    if (!c)
        return -1;
    if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return jc_sq_fail(c->db, err, "measure");
    int rc = -1;
    {
        _cleanup_stmt_ sqlite3_stmt *rows =
            prep(c,
                 "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM log_chunks),"
                 " (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM audit_events),"
                 " (SELECT count(*) FROM idempotency),"
                 " (SELECT count(*) FROM signals), (SELECT count(*) FROM token_submits) + (SELECT"
                 " count(*) FROM orchestrator_addresses), (SELECT count(*) FROM variables),"
                 " (SELECT count(*) FROM executions)",
                 err);
        if (!rows || jc_sq_step(c, rows, err) != 1)
            goto out;
        for (int k = 0; k < JC_KIND_COUNT; k++)
            out->rows[k] = sqlite3_column_int64(rows, k);
        out->executions = sqlite3_column_int64(rows, JC_KIND_COUNT);
        int64_t pages, page_size, free_pages;
        if (pragma_int(c, "PRAGMA page_count", &pages, err) < 0 ||
            pragma_int(c, "PRAGMA page_size", &page_size, err) < 0 ||
            pragma_int(c, "PRAGMA freelist_count", &free_pages, err) < 0)
            goto out;
        out->file_bytes = pages * page_size;
        out->free_bytes = free_pages * page_size;
        for (int k = 0; k < JC_KIND_COUNT; k++)
            out->bytes[k] = -1;
        /* dbstat (a compile-time option of SQLite, on in Debian's) gives each table's and
         * index's pages; without it, sizes per kind stay unknown rather than guessed */
        sqlite3_stmt *sizes = NULL;
        if (sqlite3_prepare_v2(c->db,
                               "SELECT s.tbl_name, sum(d.pgsize) FROM dbstat AS d JOIN"
                               " sqlite_schema AS s ON s.name = d.name WHERE d.aggregate = 1"
                               " GROUP BY s.tbl_name",
                               -1, &sizes, NULL) == SQLITE_OK) {
            for (int k = 0; k < JC_KIND_COUNT; k++)
                out->bytes[k] = 0;
            int r;
            while ((r = jc_sq_step(c, sizes, err)) == 1) {
                int k = kind_of_table(jc_sq_text(sizes, 0));
                if (k >= 0)
                    out->bytes[k] += sqlite3_column_int64(sizes, 1);
            }
            sqlite3_finalize(sizes);
            if (r < 0)
                goto out;
        } else {
            sqlite3_finalize(sizes);
        }
    }
    rc = 0;
out:
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* ---- maintenance leases ------------------------------------------------------------------ */

int jc_sqlite_task_acquire(jc_store *st, const char *task, const char *holder, int64_t now,
                           int64_t interval_ms, bool *acquired, jc_err *err) {
    *acquired = false;
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    int64_t changed = 0;
    {
        _cleanup_stmt_ sqlite3_stmt *ins =
            prep(c, "INSERT INTO maintenance_tasks (task) VALUES (?) ON CONFLICT DO NOTHING", err);
        _cleanup_stmt_ sqlite3_stmt *upd =
            prep(c,
                 "UPDATE maintenance_tasks SET holder = ?2, next_run_at = ?3 + ?4 WHERE task = ?1"
                 " AND next_run_at <= ?3",
                 err);
        if (!ins || !upd || jc_sq_bind(c, ins, err, "s", task) < 0 ||
            run_changes(c, ins, NULL, err) < 0 ||
            jc_sq_bind(c, upd, err, "ssii", task, holder, now, interval_ms) < 0 ||
            run_changes(c, upd, &changed, err) < 0 || jc_sq_commit(c, err) < 0) {
            jc_sq_rollback(c);
            return -1;
        }
    }
    *acquired = changed == 1;
    return 0;
}

int jc_sqlite_task_record(jc_store *st, const char *task, bool ok, int64_t at, int64_t duration_ms,
                          const char *error, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    _cleanup_stmt_ sqlite3_stmt *ins =
        prep(c, "INSERT INTO maintenance_tasks (task) VALUES (?) ON CONFLICT DO NOTHING", err);
    _cleanup_stmt_ sqlite3_stmt *upd =
        prep(c,
             ok ? "UPDATE maintenance_tasks SET last_success_at = ?2, duration_ms = ?3,"
                  " last_error = '' WHERE task = ?1"
                : "UPDATE maintenance_tasks SET last_failure_at = ?2, duration_ms = ?3,"
                  " last_error = substr(?4, 1, 199), failures = failures + 1 WHERE task = ?1",
             err);
    if (!ins || !upd || jc_sq_bind(c, ins, err, "s", task) < 0 ||
        run_changes(c, ins, NULL, err) < 0 ||
        (ok ? jc_sq_bind(c, upd, err, "sii", task, at, duration_ms)
            : jc_sq_bind(c, upd, err, "siis", task, at, duration_ms, error ? error : "")) < 0 ||
        run_changes(c, upd, NULL, err) < 0 || jc_sq_commit(c, err) < 0) {
        jc_sq_rollback(c);
        return -1;
    }
    return 0;
}

int jc_sqlite_task_list(jc_store *st, jc_task_state **out, size_t *n, jc_err *err) {
    *out = NULL;
    *n = 0;
    conn *c = jc_sq_conn(st, err);
    _cleanup_stmt_ sqlite3_stmt *s =
        c ? prep(c,
                 "SELECT task, holder, next_run_at, last_success_at, last_failure_at,"
                 " duration_ms, failures, last_error FROM maintenance_tasks ORDER BY task LIMIT 64",
                 err)
          : NULL;
    if (!s)
        return -1;
    jc_task_state *v = NULL;
    size_t cap = 0, m = 0;
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1) {
        if (jc_sq_grow(&v, &cap, m, sizeof(*v), 8) < 0) {
            free(v);
            return jc_err_sys(err, ENOMEM, "store: tasks");
        }
        jc_task_state *t = &v[m++];
        memset(t, 0, sizeof(*t));
        jc_sq_copy(s, 0, t->task, sizeof(t->task));
        jc_sq_copy(s, 1, t->holder, sizeof(t->holder));
        t->next_run_at = sqlite3_column_int64(s, 2);
        t->last_success_at = sqlite3_column_int64(s, 3);
        t->last_failure_at = sqlite3_column_int64(s, 4);
        t->duration_ms = sqlite3_column_int64(s, 5);
        t->failures = sqlite3_column_int64(s, 6);
        jc_sq_copy(s, 7, t->last_error, sizeof(t->last_error));
    }
    if (r < 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = m;
    return 0;
}

/* ---- activity -------------------------------------------------------------------------- */

int jc_sqlite_activity_submit(jc_store *st, const char *token_id, const char *owner, int64_t now,
                              jc_err *err) {
    static const char sql[] =
        "INSERT INTO token_submits (token_id, owner, minute, n) VALUES (?, ?, ?, 1)"
        " ON CONFLICT (token_id, minute) DO UPDATE SET n = n + 1";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "ssi", token_id, owner, now / 60000) < 0)
        return -1;
    return jc_sq_run(c, s, err);
}

int jc_sqlite_activity_orchestrator(jc_store *st, const char *orchestrator_id, const char *address,
                                    int64_t now, jc_err *err) {
    static const char sql[] =
        "INSERT INTO orchestrator_addresses (orchestrator_id, address, first_seen, last_seen)"
        " VALUES (?1, ?2, ?3, ?3) ON CONFLICT (orchestrator_id, address) DO UPDATE SET"
        " last_seen = max(last_seen, excluded.last_seen)";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "ssi", orchestrator_id, address, now) < 0)
        return -1;
    return jc_sq_run(c, s, err);
}

/* ---- detection reads ---------------------------------------------------------------- */

/* Each rule: subject, owner, count, first_at, last_at; ?1 since, ?2 until, ?3..?5 p1..p3. */
static const char *const scan_sql[JC_SCAN_RULE_COUNT] = {
    [JC_SCAN_NEW_TOKEN_SUBMIT] =
        "SELECT t.id, t.user, sum(s.n), min(s.minute) * 60000, max(s.minute) * 60000"
        " FROM api_tokens t JOIN token_submits s ON s.token_id = t.id"
        " WHERE t.created_at >= ?1 - ?3 AND t.created_at <= ?2"
        " AND s.minute >= t.created_at / 60000 AND s.minute <= (t.created_at + ?3) / 60000"
        " GROUP BY t.id HAVING sum(s.n) >= max(?4, 1)",
    [JC_SCAN_TOKEN_RATE] =
        "WITH cur AS (SELECT token_id, owner, sum(n) AS c, min(minute) AS f, max(minute) AS l"
        " FROM token_submits WHERE minute >= ?1 / 60000 AND minute <= ?2 / 60000"
        " GROUP BY token_id HAVING sum(n) >= ?3),"
        " base AS (SELECT owner, sum(n) AS b FROM token_submits WHERE minute >= (?1 - ?5) / 60000"
        " AND minute < ?1 / 60000 AND owner IN (SELECT owner FROM cur) GROUP BY owner)"
        " SELECT cur.token_id, cur.owner, cur.c, cur.f * 60000, cur.l * 60000 FROM cur"
        " LEFT JOIN base ON base.owner = cur.owner"
        " WHERE cur.c > ?4 * coalesce(base.b, 0) * (?2 - ?1) / max(?5, 1.0)",
    /* the audit trail (store_audit.h): failed authentications are kind "auth", outcome
     * "failure"; the server puts the orchestrator id a failed internal call claimed, or
     * the execution of a token presented after its end, in target */
    [JC_SCAN_AUTH_BURST_ADDRESS] =
        "SELECT remote, '', sum(count), min(at), max(at) FROM audit_log"
        " WHERE at >= ?1 AND at <= ?2 AND kind = 'auth' AND outcome = 'failure'"
        " GROUP BY remote HAVING remote != '' AND sum(count) >= ?3",
    [JC_SCAN_AUTH_BURST_ORCHESTRATOR] =
        "SELECT target, '', sum(count), min(at), max(at) FROM audit_log"
        " WHERE at >= ?1 AND at <= ?2 AND kind = 'auth' AND outcome = 'failure'"
        " AND scheme != 'jwt' GROUP BY target HAVING target != '' AND sum(count) >= ?3",
    [JC_SCAN_TOKEN_AFTER_END] =
        "SELECT target, '', sum(count), min(at), max(at) FROM audit_log"
        " WHERE at >= ?1 AND at <= ?2 AND kind = 'auth' AND outcome = 'failure'"
        " AND reason = 'execution_not_live' GROUP BY target HAVING target != ''",
    [JC_SCAN_ORCHESTRATOR_ADDRESSES] =
        "SELECT orchestrator_id, '', count(*), min(first_seen), max(last_seen)"
        " FROM orchestrator_addresses WHERE last_seen >= ?1 AND first_seen <= ?2"
        " GROUP BY orchestrator_id HAVING count(*) >= 2",
    [JC_SCAN_LEASES_LOST] =
        "SELECT orchestrator_id, '', count(*), min(finished_at), max(finished_at)"
        " FROM executions WHERE status >= 3 AND status = 6 AND finished_at >= ?1"
        " AND finished_at <= ?2 AND orchestrator_id IS NOT NULL"
        " GROUP BY orchestrator_id HAVING count(*) >= ?3",
    [JC_SCAN_SECCOMP_KILL] = "SELECT id, '', 1, finished_at, finished_at FROM executions"
                             " WHERE status >= 3 AND finished_at >= ?1 AND finished_at <= ?2"
                             " AND ((json_extract(result, '$.reason') = 'signaled'"
                             " AND json_extract(result, '$.signal') IN (31, 'SIGSYS'))"
                             " OR json_extract(result, '$.reason') = 'seccomp')",
    [JC_SCAN_EGRESS_DENIED] =
        "SELECT id, '', json_extract(result, '$.network.denied'), finished_at, finished_at"
        " FROM executions WHERE status >= 3 AND finished_at >= ?1 AND finished_at <= ?2"
        " AND json_type(result, '$.network.denied') = 'integer'"
        " AND json_extract(result, '$.network.denied') >= max(?3, 1)",
};

int jc_sqlite_scan(jc_store *st, const jc_scan_query *q, jc_scan_hit **out, size_t *n,
                   jc_err *err) {
    *out = NULL;
    *n = 0;
    if ((unsigned)q->rule >= JC_SCAN_RULE_COUNT)
        return jc_err_set(err, JC_E_INVALID, "scan: unknown rule");
    conn *c = jc_sq_conn(st, err);
    _cleanup_stmt_ sqlite3_stmt *s = c ? prep(c, scan_sql[q->rule], err) : NULL;
    if (!s)
        return -1;
    /* each rule uses the leading parameters it needs */
    const int64_t params[] = {q->since, q->until, q->p1, q->p2, q->p3};
    int used = sqlite3_bind_parameter_count(s);
    for (int i = 0; i < used && i < 5; i++)
        if (sqlite3_bind_int64(s, i + 1, params[i]) != SQLITE_OK)
            return jc_sq_fail(c->db, err, "bind");
    jc_scan_hit *v = NULL;
    size_t cap = 0, m = 0;
    int r;
    while (m < MAX_HITS && (r = jc_sq_step(c, s, err)) == 1) {
        if (jc_sq_grow(&v, &cap, m, sizeof(*v), 8) < 0) {
            free(v);
            return jc_err_sys(err, ENOMEM, "store: scan");
        }
        jc_scan_hit *h = &v[m++];
        memset(h, 0, sizeof(*h));
        jc_sq_copy(s, 0, h->subject, sizeof(h->subject));
        jc_sq_copy(s, 1, h->owner, sizeof(h->owner));
        h->count = sqlite3_column_int64(s, 2);
        h->first_at = sqlite3_column_int64(s, 3);
        h->last_at = sqlite3_column_int64(s, 4);
    }
    if (m < MAX_HITS && r < 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = m;
    return 0;
}

/* ---- signals -------------------------------------------------------------------------- */

int jc_sqlite_signal_record(jc_store *st, const jc_signal *sg, int64_t window_ms, bool *inserted,
                            jc_err *err) {
    *inserted = false;
    if (window_ms <= 0)
        return jc_err_set(err, JC_E_INVALID, "signal: the window must be positive");
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    int64_t seen = 0, added = 0;
    {
        _cleanup_stmt_ sqlite3_stmt *q = prep(
            c, "SELECT count(*) FROM signals WHERE signal = ? AND subject = ? AND at >= ?", err);
        _cleanup_stmt_ sqlite3_stmt *ins =
            prep(c,
                 "INSERT INTO signals (signal, subject, at, slot, count, first_at, last_at,"
                 " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                 err);
        if (!q || !ins ||
            jc_sq_bind(c, q, err, "ssi", sg->signal, sg->subject, sg->at - window_ms) < 0 ||
            scalar(c, q, &seen, err) < 0)
            goto fail;
        if (seen == 0 &&
            (jc_sq_bind(c, ins, err, "ssiiitts", sg->signal, sg->subject, sg->at,
                        sg->at / window_ms, sg->count, sg->first_at, sg->last_at, sg->detail) < 0 ||
             run_changes(c, ins, &added, err) < 0))
            goto fail;
        if (jc_sq_commit(c, err) < 0)
            goto fail;
    }
    *inserted = added == 1;
    return 0;
fail:
    jc_sq_rollback(c);
    return -1;
}

int jc_sqlite_signal_list(jc_store *st, int64_t since, int64_t after_seq, size_t limit,
                          jc_signal **out, size_t *n, jc_err *err) {
    *out = NULL;
    *n = 0;
    conn *c = jc_sq_conn(st, err);
    _cleanup_stmt_ sqlite3_stmt *s =
        c ? prep(c,
                 "SELECT seq, signal, subject, at, count, first_at, last_at, detail FROM signals"
                 " WHERE at >= ? AND seq > ? ORDER BY seq LIMIT ?",
                 err)
          : NULL;
    if (!s || jc_sq_bind(c, s, err, "iii", since, after_seq, (int64_t)limit) < 0)
        return -1;
    jc_signal *v = NULL;
    size_t cap = 0, m = 0;
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1) {
        if (jc_sq_grow(&v, &cap, m, sizeof(*v), 16) < 0) {
            free(v);
            return jc_err_sys(err, ENOMEM, "store: signals");
        }
        jc_signal *g = &v[m++];
        memset(g, 0, sizeof(*g));
        g->seq = sqlite3_column_int64(s, 0);
        jc_sq_copy(s, 1, g->signal, sizeof(g->signal));
        jc_sq_copy(s, 2, g->subject, sizeof(g->subject));
        g->at = sqlite3_column_int64(s, 3);
        g->count = sqlite3_column_int64(s, 4);
        g->first_at = sqlite3_column_int64(s, 5);
        g->last_at = sqlite3_column_int64(s, 6);
        jc_sq_copy(s, 7, g->detail, sizeof(g->detail));
    }
    if (r < 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = m;
    return 0;
}
