/* pg_jobs.c: jobs, executions, claims, leases and the reaper on PostgreSQL.
 *
 * Several servers share the database, so every rule that SQLite gets from its single
 * writer is made explicit here: claims lock the rows they take and skip the rows another
 * claimer holds (FOR UPDATE SKIP LOCKED, in one statement); every fenced call locks its
 * execution row before checking the lease; the reaper's transitions are conditional on
 * the state it read (so two reapers never both retry one execution). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/random.h"
#include "pg_db.h"

/* ---- executions ------------------------------------------------------------------------ */

int jc_pg_execution_get(jc_store *st, const char *exe_id, jc_execution *out, jc_err *err) {
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    int r = jc_pg_exe_load(st, c, exe_id, false, out, err);
    jc_pg_release(st, c);
    return r;
}

int jc_pg_execution_list(jc_store *st, const char *job_id, jc_execution **out, size_t *n,
                         jc_err *err) {
    static const char sql[] = "SELECT " PG_EXE_COLS " FROM executions e JOIN jobs j ON j.id ="
                              " e.job_id WHERE e.job_id = $1 ORDER BY e.attempt, e.seq";
    *out = NULL;
    *n = 0;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "s", job_id);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    jc_execution *v = rows ? calloc((size_t)rows, sizeof(*v)) : NULL;
    if (rows && !v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "store: executions");
    }
    for (int i = 0; i < rows; i++)
        jc_pg_exe_row(st, r, i, 0, &v[i]);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

static int exe_set_live(jc_store *st, const char *sql, const char *exe_id, const json_t *v,
                        int64_t flag, jc_err *err) {
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    int64_t n =
        v ? jc_pg_x(c, sql, err, "js", v, exe_id) : jc_pg_x(c, sql, err, "is", flag, exe_id);
    jc_pg_release(st, c);
    if (n < 0)
        return -1;
    if (n == 0)
        return jc_err_set(err, JC_E_LEASE_LOST, "execution %s is not running", exe_id);
    return 0;
}

int jc_pg_execution_set_output(jc_store *st, const char *exe_id, const json_t *output,
                               jc_err *err) {
    static const char sql[] =
        "UPDATE executions SET output = $1 WHERE id = $2 AND status IN (1, 2)";
    if (!output)
        return jc_err_set(err, JC_E_INVALID, "no output");
    return exe_set_live(st, sql, exe_id, output, 0, err);
}

int jc_pg_execution_set_condition(jc_store *st, const char *exe_id, bool condition, jc_err *err) {
    static const char sql[] =
        "UPDATE executions SET condition = $1 WHERE id = $2 AND status IN (1, 2)";
    return exe_set_live(st, sql, exe_id, NULL, condition ? 1 : 0, err);
}

int jc_pg_execution_counts(jc_store *st, int64_t *counts, jc_err *err) {
    static const char sql[] = "SELECT status, count(*) FROM executions GROUP BY status";
    memset(counts, 0, sizeof(int64_t) * JC_EXE_STATUS_COUNT);
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "");
    jc_pg_release(st, c);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t s = jc_pg_int(r, i, 0);
        if (s >= 0 && s < JC_EXE_STATUS_COUNT)
            counts[s] = jc_pg_int(r, i, 1);
    }
    PQclear(r);
    return 0;
}

/* ---- jobs ---------------------------------------------------------------------------- */

static int64_t spec_int(const json_t *spec, const char *obj, const char *key, int64_t def) {
    const json_t *o = obj ? json_object_get(spec, obj) : spec;
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

int jc_pg_job_insert(pgc *c, const jc_job_new *in, jc_err *err) {
    static const char sql_job[] =
        "INSERT INTO jobs (id, owner, name, spec, runtime, created_at, priority, timeout_s,"
        " max_attempts, backoff_s, backoff_max_s, on_failure, log_cap, latest_exe)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    static const char sql_exe[] =
        "INSERT INTO executions (id, job_id, attempt, status, priority, sched, scheduled_for,"
        " created_at) VALUES ($1, $2, 1, 0, $3, $4, $5, $6)";
    const json_t *spec = in->spec;
    int64_t output_mb = spec_int(spec, "resources", "output_mb", 16);
    if (jc_pg_x(
            c, sql_job, err, "sssjsiiiiiiiis", in->job_id, in->owner, in->name, spec,
            json_string_value(json_object_get(spec, "runtime")), in->created_at,
            (int64_t)in->priority, in->timeout_s, spec_int(spec, "retry", "max_attempts", 1),
            spec_int(spec, "retry", "backoff_s", 10), spec_int(spec, "retry", "backoff_max_s", 600),
            (int64_t)json_is_true(json_object_get(json_object_get(spec, "retry"), "on_failure")),
            output_mb * 1024 * 1024, in->execution_id) < 0)
        return -1;
    if (jc_pg_x(c, sql_exe, err, "ssiiti", in->execution_id, in->job_id, (int64_t)in->priority,
                in->scheduled_for ? in->scheduled_for : in->created_at, in->scheduled_for,
                in->created_at) < 0)
        return -1;
    return 0;
}

typedef struct create_arg {
    const jc_job_new *in;
    char *replay;
} create_arg;

static int create_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql_idem_put[] =
        "INSERT INTO idempotency (owner, key, request_hash, response, created_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner, key) DO NOTHING";
    static const char sql_idem_get[] =
        "SELECT request_hash, response FROM idempotency WHERE owner = $1 AND key = $2";
    create_arg *a = arg;
    const jc_job_new *in = a->in;
    free(a->replay);
    a->replay = NULL;
    if (in->idempotency_key) {
        /* Claim the key first: a concurrent request with the same key waits here for our
         * commit and then finds the key taken. */
        int64_t n = jc_pg_x(c, sql_idem_put, err, "ssssi", in->owner, in->idempotency_key,
                            in->request_hash ? in->request_hash : "",
                            in->response ? in->response : "{}", in->created_at);
        if (n < 0)
            return -1;
        if (n == 0) {
            PGresult *r = jc_pg_q(c, sql_idem_get, err, "ss", in->owner, in->idempotency_key);
            if (!r)
                return -1;
            if (PQntuples(r) != 1) {
                PQclear(r);
                return jc_err_set(err, JC_E_UNAVAILABLE, "store busy: idempotency record");
            }
            bool same = strcmp(jc_pg_text(r, 0, 0), in->request_hash ? in->request_hash : "") == 0;
            a->replay = same ? strdup(jc_pg_text(r, 0, 1)) : NULL;
            PQclear(r);
            if (!same)
                return jc_err_field(err, JC_E_CONFLICT, "Idempotency-Key",
                                    "this Idempotency-Key was used with a different request");
            if (!a->replay)
                return jc_err_sys(err, ENOMEM, "store: idempotency");
            return 1;
        }
    }
    if (jc_pg_job_insert(c, in, err) < 0)
        return -1;
    return jc_pg_notify_work(st, c, err);
}

int jc_pg_job_create(jc_store *st, const jc_job_new *in, char **replay, jc_err *err) {
    if (replay)
        *replay = NULL;
    create_arg a = {in, NULL};
    if (jc_pg_tx(st, create_tx, &a, err) < 0) {
        free(a.replay);
        return -1;
    }
    if (replay)
        *replay = a.replay;
    else
        free(a.replay);
    return 0;
}

static const char sql_job_get[] = "SELECT " PG_JOB_COLS " FROM jobs j JOIN executions e ON e.id ="
                                  " j.latest_exe WHERE j.id = $1";

int jc_pg_job_get(jc_store *st, const char *job_id, const char *owner, jc_job *out, jc_err *err) {
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql_job_get, err, "s", job_id);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    bool found = PQntuples(r) == 1 && (!owner || strcmp(jc_pg_text(r, 0, 1), owner) == 0);
    if (found)
        jc_pg_job_row(r, 0, 0, out);
    PQclear(r);
    if (!found)
        return jc_err_set(err, JC_E_NOT_FOUND, "no job %s", job_id);
    return 0;
}

int jc_pg_job_list(jc_store *st, const jc_job_page *q, jc_job **out, size_t *n, char **next_cursor,
                   jc_err *err) {
    static const char sql[] =
        "SELECT " PG_JOB_COLS " FROM jobs j JOIN executions e ON e.id = j.latest_exe"
        " WHERE ($1::text IS NULL OR j.owner = $1::text) AND ($2::int < 0 OR e.status = $2::int)"
        " AND j.seq < $3::bigint ORDER BY j.seq DESC LIMIT $4::bigint";
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
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r =
        jc_pg_q(c, sql, err, "siii", q->owner, (int64_t)q->status, before, (int64_t)limit + 1);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    size_t rows = (size_t)PQntuples(r);
    size_t count = rows > limit ? limit : rows;
    jc_job *v = calloc(limit + 1, sizeof(*v));
    if (!v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "store: jobs");
    }
    for (size_t i = 0; i < count; i++)
        jc_pg_job_row(r, (int)i, 0, &v[i]);
    if (rows > limit) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64, jc_pg_int(r, (int)count - 1, 7));
        *next_cursor = strdup(buf);
    }
    PQclear(r);
    *out = v;
    *n = count;
    return 0;
}

typedef struct cancel_arg {
    const char *job_id, *owner;
    int64_t now;
    jc_cancel_outcome outcome;
} cancel_arg;

static int cancel_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql_get[] =
        "SELECT j.owner, e.id, e.status FROM jobs j JOIN executions e ON e.id = j.latest_exe"
        " WHERE j.id = $1 FOR UPDATE OF e";
    static const char sql_q[] =
        "UPDATE executions SET status = 5, finished_at = $1, cancel_requested = 1"
        " WHERE id = $2 AND status = 0";
    static const char sql_r[] =
        "UPDATE executions SET cancel_requested = 1 WHERE id = $1 AND status IN (1, 2)";
    (void)st;
    cancel_arg *a = arg;
    PGresult *r = jc_pg_q(c, sql_get, err, "s", a->job_id);
    if (!r)
        return -1;
    if (PQntuples(r) != 1 || (a->owner && strcmp(jc_pg_text(r, 0, 0), a->owner) != 0)) {
        PQclear(r);
        return jc_err_set(err, JC_E_NOT_FOUND, "no job %s", a->job_id);
    }
    char exe_id[JC_ID_MAX];
    jc_pg_copy(r, 0, 1, exe_id, sizeof(exe_id));
    jc_exe_status status = (jc_exe_status)jc_pg_int(r, 0, 2);
    PQclear(r);
    if (status == JC_EXE_QUEUED) {
        if (jc_pg_x(c, sql_q, err, "is", a->now, exe_id) < 0)
            return -1;
        a->outcome = JC_CANCEL_NOW;
    } else if (status == JC_EXE_CLAIMED || status == JC_EXE_RUNNING) {
        if (jc_pg_x(c, sql_r, err, "s", exe_id) < 0)
            return -1;
        a->outcome = JC_CANCEL_REQUESTED;
    } else {
        return jc_err_set(err, JC_E_CONFLICT, "job %s has already finished (%s)", a->job_id,
                          jc_exe_status_name(status));
    }
    return 0;
}

int jc_pg_job_cancel(jc_store *st, const char *job_id, const char *owner, int64_t now,
                     jc_cancel_outcome *outcome, jc_err *err) {
    cancel_arg a = {job_id, owner, now, 0};
    if (jc_pg_tx(st, cancel_tx, &a, err) < 0)
        return -1;
    *outcome = a.outcome;
    return 0;
}

/* ---- claims ------------------------------------------------------------------------------ */

typedef struct claim_arg {
    const char *orc;
    const char *const *runtimes;
    size_t slots;
    int64_t now, lease_ms;
    jc_claim *v;
    size_t n;
    int64_t next_due;
    bool want_next_due;
} claim_arg;

static int claim_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    /* One statement: the inner SELECT picks the first claimable rows in claim order,
     * locking them and skipping rows another claimer has locked, and the UPDATE takes
     * exactly those. Each row gets its own lease token from $2, by its rank k. */
    static const char sql_claim[] =
        "WITH picked AS (SELECT p.seq, row_number() OVER () AS k FROM (SELECT e.seq FROM"
        " executions e WHERE e.status = 0 AND e.sched <= $4 AND ($5::text[] IS NULL OR EXISTS"
        " (SELECT 1 FROM jobs r WHERE r.id = e.job_id AND r.runtime = ANY($5::text[])))"
        " ORDER BY e.priority DESC, e.sched, e.seq LIMIT $6 FOR UPDATE OF e SKIP LOCKED) p)"
        " UPDATE executions e SET status = 1, orchestrator_id = $1, lease_token ="
        " ($2::text[])[picked.k], lease_expires_at = $3, claimed_at = $4"
        " FROM picked, jobs j WHERE e.seq = picked.seq AND j.id = e.job_id"
        " RETURNING picked.k, " PG_EXE_COLS ", " PG_JOB_COLS;
    static const char sql_due[] = "SELECT min(sched) FROM executions WHERE status = 0";
    claim_arg *a = arg;
    jc_claims_free(a->v, a->n);
    a->v = NULL;
    a->n = 0;
    a->next_due = 0;
    char tokens[64][JC_LEASE_TOKEN_LEN + 1];
    const char *list[65];
    for (size_t i = 0; i < a->slots; i++) {
        if (jc_random_lease_token(tokens[i], sizeof(tokens[i]), err) < 0)
            return -1;
        list[i] = tokens[i];
    }
    list[a->slots] = NULL;
    PGresult *r = jc_pg_q(c, sql_claim, err, "saiiai", a->orc, list, a->now + a->lease_ms, a->now,
                          a->runtimes, (int64_t)a->slots);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    if (rows > 0) {
        a->v = calloc((size_t)rows, sizeof(*a->v));
        if (!a->v) {
            PQclear(r);
            return jc_err_sys(err, ENOMEM, "store: claims");
        }
        for (int i = 0; i < rows; i++) {
            /* RETURNING has no order: put each claim at its rank */
            int64_t k = jc_pg_int(r, i, 0);
            size_t at = k >= 1 && k <= rows ? (size_t)(k - 1) : (size_t)i;
            jc_pg_exe_row(st, r, i, 1, &a->v[at].exe);
            jc_pg_job_row(r, i, 1 + PG_EXE_NCOLS, &a->v[at].job);
        }
        a->n = (size_t)rows;
    }
    PQclear(r);
    if (rows == 0 && a->want_next_due) {
        r = jc_pg_q(c, sql_due, err, "");
        if (!r)
            return -1;
        a->next_due = jc_pg_int(r, 0, 0);
        PQclear(r);
    }
    return 0;
}

int jc_pg_claim_runtimes(jc_store *st, const char *orchestrator_id, const char *const *runtimes,
                         size_t slots, int64_t now, int64_t lease_ms, jc_claim **out, size_t *n,
                         int64_t *next_due, jc_err *err) {
    *out = NULL;
    *n = 0;
    if (next_due)
        *next_due = 0;
    if (slots == 0)
        return 0;
    if (slots > 64)
        slots = 64;
    claim_arg a = {.orc = orchestrator_id,
                   .runtimes = runtimes,
                   .slots = slots,
                   .now = now,
                   .lease_ms = lease_ms,
                   .want_next_due = next_due != NULL};
    if (jc_pg_run(st, claim_fn, &a, err) < 0) {
        jc_claims_free(a.v, a.n);
        return -1;
    }
    *out = a.v;
    *n = a.n;
    if (next_due)
        *next_due = a.next_due;
    return 0;
}

/* ---- leases ---------------------------------------------------------------------------- */

typedef struct lease_arg {
    const char *exe_id, *orc, *token;
    int64_t now, lease_ms;
    bool cancel;
    bool start;
} lease_arg;

static int lease_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql_start[] =
        "UPDATE executions SET status = 2, started_at = coalesce(started_at, $1),"
        " lease_expires_at = $2 WHERE id = $3";
    static const char sql_beat[] = "UPDATE executions SET lease_expires_at = $2 WHERE id = $3"
                                   " AND $1::bigint IS NOT NULL";
    lease_arg *a = arg;
    jc_execution e;
    if (jc_pg_fence(st, c, a->exe_id, a->orc, a->token, &e, err) < 0)
        return -1;
    a->cancel = e.cancel_requested;
    jc_execution_clear(&e);
    return jc_pg_x(c, a->start ? sql_start : sql_beat, err, "iis", a->now, a->now + a->lease_ms,
                   a->exe_id) < 0
               ? -1
               : 0;
}

int jc_pg_start(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                int64_t now, int64_t lease_ms, int64_t *lease_expires_at, jc_err *err) {
    lease_arg a = {exe_id, orc, lease_token, now, lease_ms, false, true};
    if (jc_pg_tx(st, lease_tx, &a, err) < 0)
        return -1;
    *lease_expires_at = now + lease_ms;
    return 0;
}

int jc_pg_heartbeat(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                    int64_t now, int64_t lease_ms, int64_t *lease_expires_at, bool *cancel,
                    jc_err *err) {
    lease_arg a = {exe_id, orc, lease_token, now, lease_ms, false, false};
    if (jc_pg_tx(st, lease_tx, &a, err) < 0)
        return -1;
    *lease_expires_at = now + lease_ms;
    *cancel = a.cancel;
    return 0;
}

/* Queue the next attempt when the job's policy allows it. Inside a transaction that holds
 * the execution's row lock (and changed its status conditionally), so it runs once. */
static int maybe_retry(jc_store *st, pgc *c, const jc_execution *e, jc_exe_status final,
                       int64_t now, bool *retried, jc_err *err) {
    static const char sql_job[] = "SELECT max_attempts, backoff_s, backoff_max_s, on_failure,"
                                  " priority FROM jobs WHERE id = $1";
    static const char sql_insert[] =
        "INSERT INTO executions (id, job_id, attempt, status, priority, sched, scheduled_for,"
        " created_at) VALUES ($1, $2, $3, 0, $4, $5, $5, $6)";
    static const char sql_latest[] = "UPDATE jobs SET latest_exe = $1 WHERE id = $2";
    *retried = false;
    if (e->cancel_requested)
        return 0;
    PGresult *r = jc_pg_q(c, sql_job, err, "s", e->job_id);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return 0;
    }
    int64_t max_attempts = jc_pg_int(r, 0, 0);
    int64_t backoff_s = jc_pg_int(r, 0, 1);
    int64_t backoff_max_s = jc_pg_int(r, 0, 2);
    bool on_failure = jc_pg_int(r, 0, 3) != 0;
    int64_t priority = jc_pg_int(r, 0, 4);
    PQclear(r);
    bool eligible = final == JC_EXE_LOST || (final == JC_EXE_FAILED && on_failure);
    if (!eligible || e->attempt >= max_attempts)
        return 0;
    /* The same delay as the SQLite backend: min(backoff_max, backoff × 2^(attempt−1)) ×
     * U(0.5, 1.0). */
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
    if (jc_pg_x(c, sql_insert, err, "ssiiii", id, e->job_id, e->attempt + 1, priority, when, now) <
            0 ||
        jc_pg_x(c, sql_latest, err, "ss", id, e->job_id) < 0 || jc_pg_notify_work(st, c, err) < 0)
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

typedef struct complete_arg {
    const char *exe_id, *orc, *token;
    const json_t *result;
    int64_t now;
    jc_exe_status status;
} complete_arg;

static int complete_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql_done[] =
        "SELECT status, completed_token FROM executions WHERE id = $1 FOR UPDATE";
    static const char sql[] = "UPDATE executions SET status = $1, finished_at = $2, result = $3,"
                              " completed_token = lease_token WHERE id = $4";
    complete_arg *a = arg;
    PGresult *r = jc_pg_q(c, sql_done, err, "s", a->exe_id);
    if (!r)
        return -1;
    /* A repeat: the execution was completed with this very lease token. */
    if (PQntuples(r) == 1 && !jc_pg_null(r, 0, 1) && a->token) {
        const char *done = jc_pg_text(r, 0, 1);
        if (jc_auth_equal(a->token, strlen(a->token), done, strlen(done))) {
            a->status = (jc_exe_status)jc_pg_int(r, 0, 0);
            PQclear(r);
            return 0;
        }
    }
    PQclear(r);
    jc_execution e;
    if (jc_pg_fence(st, c, a->exe_id, a->orc, a->token, &e, err) < 0)
        return -1;
    jc_exe_status final = status_of_result(a->result, e.cancel_requested);
    bool retried;
    int rc = jc_pg_x(c, sql, err, "iijs", (int64_t) final, a->now, a->result, a->exe_id) < 0 ||
                     maybe_retry(st, c, &e, final, a->now, &retried, err) < 0
                 ? -1
                 : 0;
    jc_execution_clear(&e);
    a->status = final;
    return rc;
}

int jc_pg_complete(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                   const json_t *result, int64_t now, jc_exe_status *status, jc_err *err) {
    complete_arg a = {exe_id, orc, lease_token, result, now, 0};
    if (jc_pg_tx(st, complete_tx, &a, err) < 0)
        return -1;
    *status = a.status;
    return 0;
}

/* ---- the reaper ------------------------------------------------------------------------- */

typedef struct reap_arg {
    int64_t now;
    jc_reap_stats round; /* this round's counts (reset when the transaction is run again) */
    size_t seen;
} reap_arg;

static int reap_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    /* Another server's reaper skips the rows this one locked, and every transition below
     * is conditional on the status and the expired lease, so an execution is never made
     * lost (and retried) twice, nor after its orchestrator renewed the lease. */
    static const char sql_expired[] =
        "SELECT id FROM executions WHERE status IN (1, 2) AND lease_expires_at < $1"
        " ORDER BY lease_expires_at LIMIT 256 FOR UPDATE SKIP LOCKED";
    static const char sql_requeue[] =
        "UPDATE executions SET status = 0, orchestrator_id = NULL, lease_token = NULL,"
        " lease_expires_at = NULL, claimed_at = NULL WHERE id = $1 AND status = 1"
        " AND lease_expires_at < $2";
    static const char sql_cancel[] =
        "UPDATE executions SET status = 5, finished_at = $2, lease_expires_at = NULL"
        " WHERE id = $1 AND status = 1 AND lease_expires_at < $2";
    static const char sql_lost[] =
        "UPDATE executions SET status = 6, finished_at = $2, result = $3 WHERE id = $1"
        " AND status = 2 AND lease_expires_at < $2";
    reap_arg *a = arg;
    memset(&a->round, 0, sizeof(a->round));
    PGresult *r = jc_pg_q(c, sql_expired, err, "i", a->now);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    a->seen = (size_t)rows;
    int rc = 0;
    bool requeued = false;
    for (int i = 0; i < rows && rc == 0; i++) {
        const char *id = jc_pg_text(r, i, 0);
        jc_execution e;
        if (jc_pg_exe_load(st, c, id, false, &e, err) < 0) {
            rc = -1;
            break;
        }
        int64_t n;
        if (e.status == JC_EXE_CLAIMED && e.cancel_requested) {
            n = jc_pg_x(c, sql_cancel, err, "si", id, a->now);
        } else if (e.status == JC_EXE_CLAIMED) {
            /* Never started: the claim was lost in transit; the attempt is not used. */
            n = jc_pg_x(c, sql_requeue, err, "si", id, a->now);
            a->round.requeued += n > 0;
            requeued = requeued || n > 0;
        } else {
            json_t *res = json_pack("{s:s}", "reason", "lease_expired");
            n = jc_pg_x(c, sql_lost, err, "sij", id, a->now, res);
            json_decref(res);
            bool retried = false;
            if (n > 0 && maybe_retry(st, c, &e, JC_EXE_LOST, a->now, &retried, err) < 0)
                n = -1;
            a->round.lost += n > 0;
            a->round.retried += retried;
        }
        jc_execution_clear(&e);
        if (n < 0)
            rc = -1;
    }
    PQclear(r);
    if (rc == 0 && requeued)
        rc = jc_pg_notify_work(st, c, err);
    return rc;
}

int jc_pg_reap(jc_store *st, int64_t now, jc_reap_stats *stats, jc_err *err) {
    memset(stats, 0, sizeof(*stats));
    for (int round = 0; round < 64; round++) {
        reap_arg a = {.now = now};
        if (jc_pg_tx(st, reap_tx, &a, err) < 0)
            return -1;
        stats->lost += a.round.lost;
        stats->requeued += a.round.requeued;
        stats->retried += a.round.retried;
        if (a.seen < 256)
            break;
    }
    return 0;
}

typedef struct extend_arg {
    int64_t until;
    int64_t n;
} extend_arg;

static int extend_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql[] = "UPDATE executions SET lease_expires_at = $1 WHERE status IN"
                              " (1, 2) AND lease_expires_at < $1";
    (void)st;
    extend_arg *a = arg;
    a->n = jc_pg_x(c, sql, err, "i", a->until);
    return a->n < 0 ? -1 : 0;
}

int jc_pg_extend_leases(jc_store *st, int64_t now, int64_t by_ms, size_t *n, jc_err *err) {
    extend_arg a = {now + by_ms, 0};
    if (jc_pg_run(st, extend_fn, &a, err) < 0)
        return -1;
    if (n)
        *n = (size_t)a.n;
    return 0;
}

typedef struct seen_arg {
    const char *id;
    const json_t *info;
    int64_t now;
} seen_arg;

static int seen_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql[] = "INSERT INTO orchestrators (id, info, last_seen) VALUES ($1, $2, $3)"
                              " ON CONFLICT (id) DO UPDATE SET info = excluded.info,"
                              " last_seen = excluded.last_seen";
    (void)st;
    seen_arg *a = arg;
    return jc_pg_x(c, sql, err, "sji", a->id, a->info, a->now) < 0 ? -1 : 0;
}

int jc_pg_orchestrator_seen(jc_store *st, const char *orchestrator_id, const json_t *info,
                            int64_t now, jc_err *err) {
    seen_arg a = {orchestrator_id, info, now};
    return jc_pg_run(st, seen_fn, &a, err);
}

int jc_pg_runtime_offered(jc_store *st, const char *runtime, int64_t since, bool *offered,
                          jc_err *err) {
    static const char sql[] =
        "SELECT 1 FROM orchestrators WHERE last_seen >= $1 AND ((info::jsonb -> 'runtimes') IS"
        " NULL OR (jsonb_typeof(info::jsonb -> 'runtimes') = 'array' AND"
        " (info::jsonb -> 'runtimes') ? $2)) LIMIT 1";
    *offered = false;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "is", since, runtime);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    *offered = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}
