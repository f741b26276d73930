/* sqlite_jobs.c: jobs, executions, claims, leases and the reaper on SQLite.
 *
 * Every read-then-write runs in BEGIN IMMEDIATE, so two claimers never both read the same
 * queued row: the second waits for the write lock and then sees the first one's claim. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/random.h"
#include "sqlite_db.h"
#include "sqlite_ext.h"
#include "store.h"

int jc_sqlite_execution_get(jc_store *st, const char *exe_id, jc_execution *out, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    return c ? jc_sq_exe_load(st, c, exe_id, out, err) : -1;
}

int jc_sqlite_execution_list(jc_store *st, const char *job_id, jc_execution **out, size_t *n,
                             jc_err *err) {
    static const char sql[] = "SELECT " EXE_COLS " FROM executions e JOIN jobs j ON j.id ="
                              " e.job_id WHERE e.job_id = ? ORDER BY e.attempt, e.seq";
    *out = NULL;
    *n = 0;
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "s", job_id) < 0)
        return -1;
    size_t cap = 0;
    jc_execution *v = NULL;
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1) {
        if (jc_sq_grow(&v, &cap, *n, sizeof(*v), 4) < 0) {
            sqlite3_reset(s);
            jc_executions_free(v, *n);
            *n = 0;
            return jc_err_sys(err, ENOMEM, "store: executions");
        }
        jc_sq_exe_row(st, s, &v[(*n)++]);
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
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s)
        return -1;
    if ((v ? jc_sq_bind(c, s, err, "js", v, exe_id) : jc_sq_bind(c, s, err, "is", flag, exe_id)) <
        0)
        return -1;
    if (jc_sq_run(c, s, err) < 0)
        return -1;
    if (sqlite3_changes(c->db) == 0)
        return jc_err_set(err, JC_E_LEASE_LOST, "execution %s is not running", exe_id);
    return 0;
}

int jc_sqlite_execution_set_output(jc_store *st, const char *exe_id, const json_t *output,
                                   jc_err *err) {
    static const char sql[] = "UPDATE executions SET output = ? WHERE id = ? AND status IN (1, 2)";
    if (!output)
        return jc_err_set(err, JC_E_INVALID, "no output");
    return exe_set_live(st, sql, exe_id, output, 0, err);
}

int jc_sqlite_execution_set_condition(jc_store *st, const char *exe_id, bool condition,
                                      jc_err *err) {
    static const char sql[] =
        "UPDATE executions SET condition = ? WHERE id = ? AND status IN (1, 2)";
    return exe_set_live(st, sql, exe_id, NULL, condition ? 1 : 0, err);
}

int jc_sqlite_execution_counts(jc_store *st, int64_t *counts, jc_err *err) {
    static const char sql[] = "SELECT status, count(*) FROM executions GROUP BY status";
    memset(counts, 0, sizeof(int64_t) * JC_EXE_STATUS_COUNT);
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s)
        return -1;
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1) {
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

/* A job and its first execution, inside the caller's transaction (sqlite_ext.h: schedules
 * create their runs with it in their own transaction). */
int jc_sqlite_job_insert_conn(conn *c, const jc_job_new *in, jc_err *err) {
    static const char sql_job[] =
        "INSERT INTO jobs (id, owner, name, spec, created_at, priority, timeout_s,"
        " max_attempts, backoff_s, backoff_max_s, on_failure, log_cap, latest_exe)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    const json_t *spec = in->spec;
    int64_t output_mb = spec_int(spec, "resources", "output_mb", 16);
    sqlite3_stmt *s = jc_sq_prep(c, sql_job, err);
    if (!s ||
        jc_sq_bind(
            c, s, err, "sssjiiiiiiiis", in->job_id, in->owner, in->name, spec, in->created_at,
            (int64_t)in->priority, in->timeout_s, spec_int(spec, "retry", "max_attempts", 1),
            spec_int(spec, "retry", "backoff_s", 10), spec_int(spec, "retry", "backoff_max_s", 600),
            (int64_t)json_is_true(json_object_get(json_object_get(spec, "retry"), "on_failure")),
            output_mb * 1024 * 1024, in->execution_id) < 0 ||
        jc_sq_run(c, s, err) < 0)
        return -1;
    s = jc_sq_prep(c, jc_sq_sql_exe_insert, err);
    if (!s || jc_sq_bind(c, s, err, "ssiii", in->execution_id, in->job_id, (int64_t)1,
                         (int64_t)in->priority,
                         in->scheduled_for ? in->scheduled_for : in->created_at) < 0)
        return -1;
    if ((in->scheduled_for ? sqlite3_bind_int64(s, 6, in->scheduled_for)
                           : sqlite3_bind_null(s, 6)) != SQLITE_OK ||
        sqlite3_bind_int64(s, 7, in->created_at) != SQLITE_OK) {
        jc_sq_fail(c->db, err, "bind");
        return -1;
    }
    if (jc_sq_run(c, s, err) < 0)
        return -1;
    return 0;
}

int jc_sqlite_job_create(jc_store *st, const jc_job_new *in, char **replay, jc_err *err) {
    static const char sql_idem_get[] =
        "SELECT request_hash, response FROM idempotency WHERE owner = ? AND key = ?";
    static const char sql_idem_put[] = "INSERT INTO idempotency (owner, key, request_hash,"
                                       " response, created_at) VALUES (?, ?, ?, ?, ?)";
    if (replay)
        *replay = NULL;
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    sqlite3_stmt *s;
    if (in->idempotency_key) {
        s = jc_sq_prep(c, sql_idem_get, err);
        if (!s || jc_sq_bind(c, s, err, "ss", in->owner, in->idempotency_key) < 0)
            goto fail;
        int r = jc_sq_step(c, s, err);
        if (r < 0)
            goto fail;
        if (r == 1) {
            bool same = strcmp(jc_sq_text(s, 0), in->request_hash ? in->request_hash : "") == 0;
            char *resp = same ? strdup(jc_sq_text(s, 1)) : NULL;
            sqlite3_reset(s);
            jc_sq_rollback(c);
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
    if (jc_sqlite_job_insert_conn(c, in, err) < 0)
        goto fail;
    if (in->idempotency_key) {
        s = jc_sq_prep(c, sql_idem_put, err);
        if (!s ||
            jc_sq_bind(c, s, err, "ssssi", in->owner, in->idempotency_key,
                       in->request_hash ? in->request_hash : "", in->response ? in->response : "{}",
                       in->created_at) < 0 ||
            jc_sq_run(c, s, err) < 0)
            goto fail;
    }
    if (jc_sq_commit(c, err) < 0)
        goto fail;
    return 0;
fail:
    jc_sq_rollback(c);
    return -1;
}

int jc_sqlite_job_get(jc_store *st, const char *job_id, const char *owner, jc_job *out,
                      jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, jc_sq_sql_job_get, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "s", job_id) < 0)
        return -1;
    int r = jc_sq_step(c, s, err);
    if (r == 1)
        jc_sq_job_row(s, out);
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

int jc_sqlite_job_list(jc_store *st, const jc_job_page *q, jc_job **out, size_t *n,
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
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s ||
        jc_sq_bind(c, s, err, "siii", q->owner, (int64_t)q->status, before, (int64_t)limit + 1) < 0)
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
    while ((r = jc_sq_step(c, s, err)) == 1) {
        if (count == limit) {
            more = true;
            break;
        }
        jc_sq_job_row(s, &v[count++]);
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

int jc_sqlite_job_cancel(jc_store *st, const char *job_id, const char *owner, int64_t now,
                         jc_cancel_outcome *outcome, jc_err *err) {
    static const char sql_q[] =
        "UPDATE executions SET status = 5, finished_at = ?, cancel_requested = 1"
        " WHERE id = ? AND status = 0";
    static const char sql_r[] =
        "UPDATE executions SET cancel_requested = 1 WHERE id = ? AND status IN (1, 2)";
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
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
        s = jc_sq_prep(c, sql_q, err);
        if (!s || jc_sq_bind(c, s, err, "is", now, exe_id) < 0 || jc_sq_run(c, s, err) < 0)
            goto fail;
        *outcome = JC_CANCEL_NOW;
    } else if (status == JC_EXE_CLAIMED || status == JC_EXE_RUNNING) {
        s = jc_sq_prep(c, sql_r, err);
        if (!s || jc_sq_bind(c, s, err, "s", exe_id) < 0 || jc_sq_run(c, s, err) < 0)
            goto fail;
        *outcome = JC_CANCEL_REQUESTED;
    } else {
        jc_err_set(err, JC_E_CONFLICT, "job %s has already finished (%s)", job_id,
                   jc_exe_status_name(status));
        goto fail;
    }
    if (jc_sq_commit(c, err) < 0)
        goto fail;
    return 0;
fail:
    jc_sq_rollback(c);
    return -1;
}

/* ---- claims and leases ----------------------------------------------------------------- */

int jc_sqlite_claim_runtimes(jc_store *st, const char *orchestrator_id, const char *const *runtimes,
                             size_t slots, int64_t now, int64_t lease_ms, jc_claim **out, size_t *n,
                             int64_t *next_due, jc_err *err) {
    /* The claim is one UPDATE … RETURNING per slot inside one BEGIN IMMEDIATE: the
     * subquery picks the first claimable row in claim order, and no other writer can run
     * between that pick and the update. */
    static const char sql_claim[] =
        "UPDATE executions SET status = 1, orchestrator_id = ?1, lease_token = ?2,"
        " lease_expires_at = ?3, claimed_at = ?4"
        " WHERE seq = (SELECT seq FROM executions WHERE status = 0 AND sched <= ?4"
        " AND (?5 IS NULL OR (SELECT json_extract(jobs.spec, '$.runtime') FROM jobs"
        " WHERE jobs.id = executions.job_id) IN (SELECT value FROM json_each(?5)))"
        " ORDER BY priority DESC, sched, seq LIMIT 1) RETURNING id";
    static const char sql_due[] = "SELECT min(sched) FROM executions WHERE status = 0";
    *out = NULL;
    *n = 0;
    if (next_due)
        *next_due = 0;
    if (slots == 0)
        return 0;
    _cleanup_json_ json_t *offer = NULL;
    if (runtimes) {
        offer = json_array();
        for (size_t i = 0; offer && runtimes[i]; i++)
            if (json_array_append_new(offer, json_string(runtimes[i])) < 0)
                return jc_err_sys(err, ENOMEM, "store: claims");
        if (!offer)
            return jc_err_sys(err, ENOMEM, "store: claims");
    }
    jc_claim *v = calloc(slots, sizeof(*v));
    if (!v)
        return jc_err_sys(err, ENOMEM, "store: claims");
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0) {
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
        sqlite3_stmt *s = jc_sq_prep(c, sql_claim, err);
        if (!s ||
            jc_sq_bind(c, s, err, "ssiij", orchestrator_id, token, now + lease_ms, now, offer) < 0)
            goto fail;
        int r = jc_sq_step(c, s, err);
        if (r == 1)
            jc_sq_copy(s, 0, ids[count], sizeof(ids[count]));
        sqlite3_reset(s);
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        count++;
    }
    for (size_t i = 0; i < count; i++) {
        if (jc_sq_exe_load(st, c, ids[i], &v[i].exe, err) < 0)
            goto fail;
        sqlite3_stmt *s = jc_sq_prep(c, jc_sq_sql_job_get, err);
        if (!s || jc_sq_bind(c, s, err, "s", v[i].exe.job_id) < 0)
            goto fail;
        int r = jc_sq_step(c, s, err);
        if (r == 1)
            jc_sq_job_row(s, &v[i].job);
        sqlite3_reset(s);
        if (r != 1) {
            if (r == 0)
                jc_err_set(err, JC_E_INTERNAL, "store: claimed execution without job");
            goto fail;
        }
    }
    if (count == 0 && next_due) {
        sqlite3_stmt *s = jc_sq_prep(c, sql_due, err);
        if (!s)
            goto fail;
        int r = jc_sq_step(c, s, err);
        if (r == 1 && sqlite3_column_type(s, 0) != SQLITE_NULL)
            *next_due = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (r < 0)
            goto fail;
    }
    if (jc_sq_commit(c, err) < 0)
        goto fail;
    if (count == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = count;
    return 0;
fail:
    jc_sq_rollback(c);
    jc_claims_free(v, slots);
    return -1;
}

int jc_sqlite_start(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                    int64_t now, int64_t lease_ms, int64_t *lease_expires_at, jc_err *err) {
    static const char sql[] = "UPDATE executions SET status = 2, started_at ="
                              " coalesce(started_at, ?1), lease_expires_at = ?2 WHERE id = ?3";
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    jc_execution e;
    if (jc_sq_fence(st, c, exe_id, orc, lease_token, &e, err) < 0)
        goto fail;
    jc_execution_clear(&e);
    sqlite3_stmt *s = jc_sq_prep(c, sql, err);
    if (!s || jc_sq_bind(c, s, err, "iis", now, now + lease_ms, exe_id) < 0 ||
        jc_sq_run(c, s, err) < 0 || jc_sq_commit(c, err) < 0)
        goto fail;
    *lease_expires_at = now + lease_ms;
    return 0;
fail:
    jc_sq_rollback(c);
    return -1;
}

int jc_sqlite_heartbeat(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                        int64_t now, int64_t lease_ms, int64_t *lease_expires_at, bool *cancel,
                        jc_err *err) {
    static const char sql[] = "UPDATE executions SET lease_expires_at = ? WHERE id = ?";
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    jc_execution e;
    if (jc_sq_fence(st, c, exe_id, orc, lease_token, &e, err) < 0)
        goto fail;
    *cancel = e.cancel_requested;
    jc_execution_clear(&e);
    sqlite3_stmt *s = jc_sq_prep(c, sql, err);
    if (!s || jc_sq_bind(c, s, err, "is", now + lease_ms, exe_id) < 0 || jc_sq_run(c, s, err) < 0 ||
        jc_sq_commit(c, err) < 0)
        goto fail;
    *lease_expires_at = now + lease_ms;
    return 0;
fail:
    jc_sq_rollback(c);
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
    sqlite3_stmt *s = jc_sq_prep(c, sql_job, err);
    if (!s || jc_sq_bind(c, s, err, "s", e->job_id) < 0)
        return -1;
    int r = jc_sq_step(c, s, err);
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
    s = jc_sq_prep(c, jc_sq_sql_exe_insert, err);
    if (!s ||
        jc_sq_bind(c, s, err, "ssiiiii", id, e->job_id, e->attempt + 1, priority, when, when, now) <
            0 ||
        jc_sq_run(c, s, err) < 0)
        return -1;
    s = jc_sq_prep(c, sql_latest, err);
    if (!s || jc_sq_bind(c, s, err, "ss", id, e->job_id) < 0 || jc_sq_run(c, s, err) < 0)
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

int jc_sqlite_complete(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                       const json_t *result, int64_t now, jc_exe_status *status, jc_err *err) {
    static const char sql_done[] = "SELECT status, completed_token FROM executions WHERE id = ?";
    static const char sql[] = "UPDATE executions SET status = ?, finished_at = ?, result = ?,"
                              " completed_token = lease_token WHERE id = ?";
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    /* A repeat: the execution was completed with this very lease token. */
    sqlite3_stmt *s = jc_sq_prep(c, sql_done, err);
    if (!s || jc_sq_bind(c, s, err, "s", exe_id) < 0)
        goto fail;
    int r = jc_sq_step(c, s, err);
    if (r < 0)
        goto fail;
    if (r == 1 && sqlite3_column_type(s, 1) != SQLITE_NULL && lease_token) {
        const char *done = jc_sq_text(s, 1);
        if (jc_auth_equal(lease_token, strlen(lease_token), done, strlen(done))) {
            *status = (jc_exe_status)sqlite3_column_int(s, 0);
            sqlite3_reset(s);
            jc_sq_rollback(c);
            return 0;
        }
    }
    sqlite3_reset(s);
    jc_execution e;
    if (jc_sq_fence(st, c, exe_id, orc, lease_token, &e, err) < 0)
        goto fail;
    jc_exe_status final = status_of_result(result, e.cancel_requested);
    s = jc_sq_prep(c, sql, err);
    bool retried;
    if (!s || jc_sq_bind(c, s, err, "iijs", (int64_t) final, now, result, exe_id) < 0 ||
        jc_sq_run(c, s, err) < 0 || maybe_retry(st, c, &e, final, now, &retried, err) < 0) {
        jc_execution_clear(&e);
        goto fail;
    }
    jc_execution_clear(&e);
    if (jc_sq_commit(c, err) < 0)
        goto fail;
    *status = final;
    return 0;
fail:
    jc_sq_rollback(c);
    return -1;
}

int jc_sqlite_reap(jc_store *st, int64_t now, jc_reap_stats *stats, jc_err *err) {
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
    conn *c = jc_sq_conn(st, err);
    if (!c)
        return -1;
    for (int round = 0; round < 64; round++) {
        if (jc_sq_begin(c, err) < 0)
            return -1;
        char ids[256][JC_ID_MAX];
        size_t count = 0;
        sqlite3_stmt *s = jc_sq_prep(c, sql_expired, err);
        if (!s || jc_sq_bind(c, s, err, "i", now) < 0)
            goto fail;
        int r;
        while ((r = jc_sq_step(c, s, err)) == 1 && count < 256)
            jc_sq_copy(s, 0, ids[count++], JC_ID_MAX);
        sqlite3_reset(s);
        if (r < 0)
            goto fail;
        for (size_t i = 0; i < count; i++) {
            jc_execution e;
            if (jc_sq_exe_load(st, c, ids[i], &e, err) < 0)
                goto fail;
            int rc = 0;
            if (e.status == JC_EXE_CLAIMED && e.cancel_requested) {
                s = jc_sq_prep(c, sql_cancel, err);
                rc = !s || jc_sq_bind(c, s, err, "is", now, ids[i]) < 0 || jc_sq_run(c, s, err) < 0
                         ? -1
                         : 0;
            } else if (e.status == JC_EXE_CLAIMED) {
                /* Never started: the claim was lost in transit; the attempt is not used. */
                s = jc_sq_prep(c, sql_requeue, err);
                rc = !s || jc_sq_bind(c, s, err, "s", ids[i]) < 0 || jc_sq_run(c, s, err) < 0 ? -1
                                                                                              : 0;
                stats->requeued++;
            } else {
                json_t *res = json_pack("{s:s}", "reason", "lease_expired");
                bool retried = false;
                s = jc_sq_prep(c, sql_lost, err);
                rc = !s || jc_sq_bind(c, s, err, "ijs", now, res, ids[i]) < 0 ||
                             jc_sq_run(c, s, err) < 0 ||
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
        if (jc_sq_commit(c, err) < 0)
            goto fail;
        if (count < 256)
            break;
    }
    return 0;
fail:
    jc_sq_rollback(c);
    return -1;
}

int jc_sqlite_extend_leases(jc_store *st, int64_t now, int64_t by_ms, size_t *n, jc_err *err) {
    static const char sql[] = "UPDATE executions SET lease_expires_at = ?1 WHERE status IN"
                              " (1, 2) AND lease_expires_at < ?1";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "i", now + by_ms) < 0 || jc_sq_run(c, s, err) < 0)
        return -1;
    if (n)
        *n = (size_t)sqlite3_changes(c->db);
    return 0;
}

int jc_sqlite_orchestrator_seen(jc_store *st, const char *orchestrator_id, const json_t *info,
                                int64_t now, jc_err *err) {
    static const char sql[] = "INSERT INTO orchestrators (id, info, last_seen) VALUES (?, ?, ?)"
                              " ON CONFLICT(id) DO UPDATE SET info = excluded.info,"
                              " last_seen = excluded.last_seen";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "sji", orchestrator_id, info, now) < 0)
        return -1;
    return jc_sq_run(c, s, err);
}

int jc_sqlite_runtime_offered(jc_store *st, const char *runtime, int64_t since, bool *offered,
                              jc_err *err) {
    static const char sql[] =
        "SELECT 1 FROM orchestrators WHERE last_seen >= ?1 AND (json_type(info, '$.runtimes')"
        " IS NULL OR EXISTS (SELECT 1 FROM json_each(info, '$.runtimes') WHERE value = ?2))"
        " LIMIT 1";
    *offered = false;
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "is", since, runtime) < 0)
        return -1;
    int r = jc_sq_step(c, s, err);
    sqlite3_reset(s);
    if (r < 0)
        return -1;
    *offered = r == 1;
    return 0;
}
