/* pg_data.c: logs, variables, API tokens, audit events and the runtime API's reads on
 * PostgreSQL. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/random.h"
#include "pg_db.h"

/* ---- logs ----------------------------------------------------------------------------- */

typedef struct append_arg {
    const char *exe_id, *orc, *token;
    int64_t offset;
    const void *data;
    size_t len;
    jc_log_append out;
} append_arg;

static int append_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql_cap[] = "SELECT j.log_cap FROM jobs j JOIN executions e ON"
                                  " e.job_id = j.id WHERE e.id = $1";
    static const char sql_chunk[] =
        "INSERT INTO log_chunks (exe_id, off, data) VALUES ($1, $2, $3)";
    static const char sql_len[] =
        "UPDATE executions SET log_bytes = $1, log_truncated = $2 WHERE id = $3";
    append_arg *a = arg;
    memset(&a->out, 0, sizeof(a->out));
    jc_execution e;
    /* the fence locks the execution row: appends to one log are serialized */
    if (jc_pg_fence(st, c, a->exe_id, a->orc, a->token, &e, err) < 0)
        return -1;
    int64_t L = e.log_bytes;
    bool truncated = e.log_truncated;
    jc_execution_clear(&e);
    a->out.length = L;
    a->out.truncated = truncated;
    if (truncated) /* once truncated every chunk is acknowledged: a 416 would make the sender loop
                    */
        return 0;
    if (a->offset > L)
        return jc_err_set(err, JC_E_RANGE, "offset %" PRId64 " is past the end (%" PRId64 ")",
                          a->offset, L);
    int64_t end;
    if (__builtin_add_overflow(a->offset, (int64_t)a->len, &end))
        return jc_err_field(err, JC_E_INVALID, "offset", "offset too large");
    if (end <= L) /* a duplicate: already stored */
        return 0;
    PGresult *r = jc_pg_q(c, sql_cap, err, "s", a->exe_id);
    if (!r)
        return -1;
    int64_t cap = PQntuples(r) == 1 ? jc_pg_int(r, 0, 0) : 0;
    PQclear(r);
    size_t skip = (size_t)(L - a->offset);
    size_t tail = a->len - skip;
    size_t room = cap > L ? (size_t)(cap - L) : 0;
    size_t take = tail < room ? tail : room;
    if (take < tail)
        truncated = true;
    if (take > 0 &&
        jc_pg_x(c, sql_chunk, err, "sib", a->exe_id, L, (const char *)a->data + skip, take) < 0)
        return -1;
    if (jc_pg_x(c, sql_len, err, "iis", L + (int64_t)take, (int64_t)truncated, a->exe_id) < 0)
        return -1;
    a->out.length = L + (int64_t)take;
    a->out.truncated = truncated;
    a->out.appended = take;
    return 0;
}

int jc_pg_log_append(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                     int64_t offset, const void *data, size_t len, jc_log_append *out,
                     jc_err *err) {
    memset(out, 0, sizeof(*out));
    if (offset < 0)
        return jc_err_field(err, JC_E_INVALID, "offset", "offset must be 0 or more");
    append_arg a = {exe_id, orc, lease_token, offset, data, len, {0}};
    int r = jc_pg_tx(st, append_tx, &a, err);
    *out = a.out;
    return r < 0 ? -1 : 0;
}

int jc_pg_log_read(jc_store *st, const char *exe_id, int64_t offset, size_t max, jc_log_read *out,
                   jc_err *err) {
    static const char sql_chunks[] =
        "SELECT off, data FROM log_chunks WHERE exe_id = $1 AND off + length(data) > $2"
        " AND off < $3 ORDER BY off";
    memset(out, 0, sizeof(*out));
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    jc_execution e;
    if (jc_pg_exe_load(st, c, exe_id, false, &e, err) < 0) {
        jc_pg_release(st, c);
        return -1;
    }
    out->length = e.log_bytes;
    out->finished = jc_exe_status_final(e.status);
    jc_execution_clear(&e);
    if (offset < 0 || offset > out->length) {
        jc_pg_release(st, c);
        return jc_err_set(err, JC_E_RANGE, "offset %" PRId64 " is past the end (%" PRId64 ")",
                          offset, out->length);
    }
    int64_t avail = out->length - offset;
    size_t want = (size_t)avail < max ? (size_t)avail : max;
    if (want == 0) {
        jc_pg_release(st, c);
        return 0;
    }
    /* binary results: off is an int8 in network order, data the raw bytes */
    PGresult *r = jc_pg_qbin(c, sql_chunks, err, "sii", exe_id, offset, offset + (int64_t)want);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    char *buf = malloc(want);
    if (!buf) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "store: log read");
    }
    size_t got = 0;
    for (int i = 0; i < PQntuples(r) && got < want; i++) {
        uint64_t be;
        if (PQgetlength(r, i, 0) != 8)
            break;
        memcpy(&be, PQgetvalue(r, i, 0), 8);
        int64_t off = (int64_t)be64toh(be);
        const char *p = PQgetvalue(r, i, 1);
        size_t n = (size_t)PQgetlength(r, i, 1);
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
    PQclear(r);
    out->data = buf;
    out->len = got;
    return 0;
}

/* ---- variables ------------------------------------------------------------------------ */

int jc_pg_var_get(jc_store *st, const char *owner, const char *key, jc_variable *out, jc_err *err) {
    static const char sql[] =
        "SELECT value, updated_at FROM variables WHERE owner = $1 AND key = $2";
    memset(out, 0, sizeof(*out));
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "ss", owner, key);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    bool found = PQntuples(r) == 1;
    if (found) {
        snprintf(out->key, sizeof(out->key), "%s", key);
        out->value = jc_pg_json(r, 0, 0);
        out->updated_at = jc_pg_int(r, 0, 1);
    }
    PQclear(r);
    if (!found)
        return jc_err_set(err, JC_E_NOT_FOUND, "variable %s is not set", key);
    return 0;
}

typedef struct var_arg {
    const char *owner, *key;
    const json_t *value;
    int64_t now;
} var_arg;

static int var_put_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql_update[] =
        "UPDATE variables SET value = $1, updated_at = $2 WHERE owner = $3 AND key = $4";
    /* One owner's new keys are counted and inserted one at a time, so two servers cannot
     * both pass the limit check with the last free slot. */
    static const char sql_lock[] = "SELECT pg_advisory_xact_lock(hashtext('jobcell.vars.' || $1))";
    static const char sql_count[] = "SELECT count(*) FROM variables WHERE owner = $1";
    static const char sql_insert[] =
        "INSERT INTO variables (owner, key, value, updated_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (owner, key) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at";
    (void)st;
    var_arg *a = arg;
    int64_t n = jc_pg_x(c, sql_update, err, "jiss", a->value, a->now, a->owner, a->key);
    if (n < 0)
        return -1;
    if (n > 0)
        return 0;
    PGresult *r = jc_pg_q(c, sql_lock, err, "s", a->owner);
    if (!r)
        return -1;
    PQclear(r);
    r = jc_pg_q(c, sql_count, err, "s", a->owner);
    if (!r)
        return -1;
    int64_t count = jc_pg_int(r, 0, 0);
    PQclear(r);
    if (count >= JC_STORE_VARS_PER_OWNER)
        return jc_err_set(err, JC_E_CONFLICT, "at most %d variables per user",
                          JC_STORE_VARS_PER_OWNER);
    return jc_pg_x(c, sql_insert, err, "ssji", a->owner, a->key, a->value, a->now) < 0 ? -1 : 0;
}

int jc_pg_var_put(jc_store *st, const char *owner, const char *key, const json_t *value,
                  int64_t now, jc_err *err) {
    var_arg a = {owner, key, value, now};
    return jc_pg_tx(st, var_put_tx, &a, err);
}

typedef struct stmt_arg {
    const char *sql;
    const char *fmt;
    const char *s1, *s2;
    int64_t i1;
    int64_t changed;
} stmt_arg;

/* A single statement with up to two text parameters (and an integer one). */
static int stmt_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    (void)st;
    stmt_arg *a = arg;
    if (strcmp(a->fmt, "ss") == 0)
        a->changed = jc_pg_x(c, a->sql, err, "ss", a->s1, a->s2);
    else if (strcmp(a->fmt, "i") == 0)
        a->changed = jc_pg_x(c, a->sql, err, "i", a->i1);
    else
        return jc_err_set(err, JC_E_INTERNAL, "store: statement format");
    return a->changed < 0 ? -1 : 0;
}

int jc_pg_var_delete(jc_store *st, const char *owner, const char *key, jc_err *err) {
    static const char sql[] = "DELETE FROM variables WHERE owner = $1 AND key = $2";
    stmt_arg a = {.sql = sql, .fmt = "ss", .s1 = owner, .s2 = key};
    if (jc_pg_run(st, stmt_fn, &a, err) < 0)
        return -1;
    if (a.changed == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "variable %s is not set", key);
    return 0;
}

int jc_pg_var_list(jc_store *st, const char *owner, jc_variable **out, size_t *n, jc_err *err) {
    static const char sql[] =
        "SELECT key, updated_at FROM variables WHERE owner = $1 ORDER BY key COLLATE \"C\"";
    *out = NULL;
    *n = 0;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "s", owner);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    jc_variable *v = rows ? calloc((size_t)rows, sizeof(*v)) : NULL;
    if (rows && !v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "store: variables");
    }
    for (int i = 0; i < rows; i++) {
        jc_pg_copy(r, i, 0, v[i].key, sizeof(v[i].key));
        v[i].updated_at = jc_pg_int(r, i, 1);
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

/* ---- API tokens ----------------------------------------------------------------------- */

typedef struct token_arg {
    const jc_api_token *tok;
    const char *sha;
} token_arg;

static int token_create_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql[] = "INSERT INTO api_tokens (id, name, \"user\", role, sha256,"
                              " created_at) VALUES ($1, $2, $3, $4, $5, $6)";
    (void)st;
    token_arg *a = arg;
    return jc_pg_x(c, sql, err, "sssssi", a->tok->id, a->tok->name, a->tok->user, a->tok->role,
                   a->sha, a->tok->created_at) < 0
               ? -1
               : 0;
}

int jc_pg_token_create(jc_store *st, const jc_api_token *tok, const char *secret_sha256,
                       jc_err *err) {
    token_arg a = {tok, secret_sha256};
    return jc_pg_run(st, token_create_fn, &a, err);
}

#define TOKEN_COLS "id, name, \"user\", role, created_at, coalesce(last_used_at, 0), sha256"

static void token_from_row(const PGresult *r, int i, jc_api_token *t) {
    memset(t, 0, sizeof(*t));
    jc_pg_copy(r, i, 0, t->id, sizeof(t->id));
    jc_pg_copy(r, i, 1, t->name, sizeof(t->name));
    jc_pg_copy(r, i, 2, t->user, sizeof(t->user));
    jc_pg_copy(r, i, 3, t->role, sizeof(t->role));
    t->created_at = jc_pg_int(r, i, 4);
    t->last_used_at = jc_pg_int(r, i, 5);
}

int jc_pg_token_lookup(jc_store *st, const char *secret_sha256, jc_api_token *out,
                       char stored_sha256[65], jc_err *err) {
    static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE sha256 = $1";
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "s", secret_sha256);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    bool found = PQntuples(r) == 1;
    if (found) {
        token_from_row(r, 0, out);
        snprintf(stored_sha256, 65, "%s", jc_pg_text(r, 0, 6));
    }
    PQclear(r);
    if (!found)
        return jc_err_set(err, JC_E_AUTH, "unknown token");
    return 0;
}

int jc_pg_token_list(jc_store *st, const char *user, jc_api_token **out, size_t *n, jc_err *err) {
    static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE $1::text IS NULL OR"
                              " \"user\" = $1::text ORDER BY created_at DESC, id COLLATE \"C\"";
    *out = NULL;
    *n = 0;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "s", user);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    jc_api_token *v = rows ? calloc((size_t)rows, sizeof(*v)) : NULL;
    if (rows && !v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "store: tokens");
    }
    for (int i = 0; i < rows; i++)
        token_from_row(r, i, &v[i]);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

int jc_pg_token_delete(jc_store *st, const char *id, const char *user, jc_err *err) {
    static const char sql[] =
        "DELETE FROM api_tokens WHERE id = $1 AND ($2::text IS NULL OR \"user\" = $2::text)";
    stmt_arg a = {.sql = sql, .fmt = "ss", .s1 = id, .s2 = user};
    if (jc_pg_run(st, stmt_fn, &a, err) < 0)
        return -1;
    if (a.changed == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no token %s", id);
    return 0;
}

/* ---- audit and housekeeping ----------------------------------------------------------- */

int jc_pg_audit(jc_store *st, const char *kind, const json_t *fields, int64_t now, jc_err *err) {
    static const char sql[] = "INSERT INTO audit_events (kind, at, fields) VALUES ($1, $2, $3)";
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    json_t *empty = NULL;
    if (!fields)
        fields = empty = json_object();
    int64_t n = jc_pg_x(c, sql, err, "sij", kind, now, fields);
    json_decref(empty);
    jc_pg_release(st, c);
    return n < 0 ? -1 : 0;
}

json_t *jc_pg_audit_list(jc_store *st, const char *kind, size_t limit, jc_err *err) {
    static const char sql[] = "SELECT kind, at, fields FROM audit_events WHERE $1::text IS NULL"
                              " OR kind = $1::text ORDER BY seq DESC LIMIT $2";
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return NULL;
    PGresult *r = jc_pg_q(c, sql, err, "si", kind, (int64_t)limit);
    jc_pg_release(st, c);
    if (!r)
        return NULL;
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++) {
        json_t *f = jc_pg_json(r, i, 2);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:o}", "kind", jc_pg_text(r, i, 0), "at",
                                             (json_int_t)jc_pg_int(r, i, 1), "fields",
                                             f ? f : json_object()));
    }
    PQclear(r);
    if (!arr)
        jc_err_sys(err, ENOMEM, "store: audit");
    return arr;
}

int jc_pg_idempotency_expire(jc_store *st, int64_t before, jc_err *err) {
    static const char sql[] = "DELETE FROM idempotency WHERE created_at < $1";
    stmt_arg a = {.sql = sql, .fmt = "i", .i1 = before};
    return jc_pg_run(st, stmt_fn, &a, err);
}

/* ---- the runtime API's hot path ------------------------------------------------------- */

int jc_pg_runtime_get(jc_store *st, const char *exe_id, const char *key, jc_execution *exe,
                      jc_variable *var, bool *var_found, jc_err *err) {
    /* PG_EXE_COLS with result and output left out (NULL), and the variable in the same
     * statement: one round trip serves the whole request */
    static const char sql[] =
        "SELECT e.id, e.job_id, j.owner, e.attempt, e.status, e.orchestrator_id, e.lease_token,"
        " e.lease_expires_at, e.created_at, e.scheduled_for, e.claimed_at, e.started_at,"
        " e.finished_at, j.timeout_s, NULL, NULL, e.condition, e.log_bytes, e.log_truncated,"
        " e.cancel_requested, v.value, v.updated_at FROM executions e JOIN jobs j ON j.id ="
        " e.job_id LEFT JOIN variables v ON v.owner = j.owner AND v.key = $2::text"
        " WHERE e.id = $1";
    if (var)
        memset(var, 0, sizeof(*var));
    if (var_found)
        *var_found = false;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "ss", exe_id, key);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    bool found = PQntuples(r) == 1;
    if (found) {
        jc_pg_exe_row(st, r, 0, 0, exe);
        if (key && var && !jc_pg_null(r, 0, 20)) {
            snprintf(var->key, sizeof(var->key), "%s", key);
            var->value = jc_pg_json(r, 0, 20);
            var->updated_at = jc_pg_int(r, 0, 21);
            if (var_found)
                *var_found = true;
        }
    }
    PQclear(r);
    if (!found)
        return jc_err_set(err, JC_E_NOT_FOUND, "no execution %s", exe_id);
    return 0;
}
