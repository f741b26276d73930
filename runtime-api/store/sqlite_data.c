/* sqlite_data.c: logs, variables, API tokens, audit events and the runtime API's reads
 * on SQLite. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/auth.h"
#include "jobcell/random.h"
#include "sqlite_db.h"
#include "store.h"

/* ---- logs ----------------------------------------------------------------------------- */

int jc_sqlite_log_append(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
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
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    jc_execution e;
    if (jc_sq_fence(st, c, exe_id, orc, lease_token, &e, err) < 0)
        goto fail;
    int64_t L = e.log_bytes;
    bool truncated = e.log_truncated;
    jc_execution_clear(&e);
    out->length = L;
    out->truncated = truncated;
    if (truncated) {
        /* Once truncated every chunk is acknowledged: a 416 would make the sender loop. */
        jc_sq_rollback(c);
        return 0;
    }
    if (offset > L) {
        jc_sq_rollback(c);
        return jc_err_set(err, JC_E_RANGE, "offset %" PRId64 " is past the end (%" PRId64 ")",
                          offset, L);
    }
    int64_t end;
    if (__builtin_add_overflow(offset, (int64_t)len, &end)) {
        jc_sq_rollback(c);
        return jc_err_field(err, JC_E_INVALID, "offset", "offset too large");
    }
    if (end <= L) { /* a duplicate: already stored */
        jc_sq_rollback(c);
        return 0;
    }
    sqlite3_stmt *s = jc_sq_prep(c, sql_cap, err);
    if (!s || jc_sq_bind(c, s, err, "s", exe_id) < 0)
        goto fail;
    int r = jc_sq_step(c, s, err);
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
        s = jc_sq_prep(c, sql_chunk, err);
        if (!s || jc_sq_bind(c, s, err, "sib", exe_id, L, (const char *)data + skip, take) < 0 ||
            jc_sq_run(c, s, err) < 0)
            goto fail;
    }
    s = jc_sq_prep(c, sql_len, err);
    if (!s || jc_sq_bind(c, s, err, "iis", L + (int64_t)take, (int64_t)truncated, exe_id) < 0 ||
        jc_sq_run(c, s, err) < 0 || jc_sq_commit(c, err) < 0)
        goto fail;
    out->length = L + (int64_t)take;
    out->truncated = truncated;
    out->appended = take;
    return 0;
fail:
    jc_sq_rollback(c);
    return -1;
}

int jc_sqlite_log_read(jc_store *st, const char *exe_id, int64_t offset, size_t max,
                       jc_log_read *out, jc_err *err) {
    static const char sql_chunks[] =
        "SELECT off, data FROM log_chunks WHERE exe_id = ?1 AND off + length(data) > ?2"
        " ORDER BY off";
    memset(out, 0, sizeof(*out));
    conn *c = jc_sq_conn(st, err);
    if (!c)
        return -1;
    jc_execution e;
    if (jc_sq_exe_load(st, c, exe_id, &e, err) < 0)
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
    sqlite3_stmt *s = jc_sq_prep(c, sql_chunks, err);
    if (!s || jc_sq_bind(c, s, err, "si", exe_id, offset) < 0) {
        free(buf);
        return -1;
    }
    size_t got = 0;
    int r;
    while (got < want && (r = jc_sq_step(c, s, err)) == 1) {
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

int jc_sqlite_var_get(jc_store *st, const char *owner, const char *key, jc_variable *out,
                      jc_err *err) {
    static const char sql[] = "SELECT value, updated_at FROM variables WHERE owner = ? AND key = ?";
    memset(out, 0, sizeof(*out));
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "ss", owner, key) < 0)
        return -1;
    int r = jc_sq_step(c, s, err);
    if (r == 1) {
        snprintf(out->key, sizeof(out->key), "%s", key);
        out->value = jc_sq_json(s, 0);
        out->updated_at = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (r == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "variable %s is not set", key);
    return r < 0 ? -1 : 0;
}

int jc_sqlite_var_put(jc_store *st, const char *owner, const char *key, const json_t *value,
                      int64_t now, jc_err *err) {
    static const char sql_update[] =
        "UPDATE variables SET value = ?, updated_at = ? WHERE owner = ? AND key = ?";
    static const char sql_count[] = "SELECT count(*) FROM variables WHERE owner = ?";
    static const char sql_insert[] =
        "INSERT INTO variables (owner, key, value, updated_at) VALUES (?, ?, ?, ?)";
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    sqlite3_stmt *s = jc_sq_prep(c, sql_update, err);
    if (!s || jc_sq_bind(c, s, err, "jiss", value, now, owner, key) < 0 || jc_sq_run(c, s, err) < 0)
        goto fail;
    if (sqlite3_changes(c->db) == 0) {
        s = jc_sq_prep(c, sql_count, err);
        if (!s || jc_sq_bind(c, s, err, "s", owner) < 0)
            goto fail;
        int r = jc_sq_step(c, s, err);
        int64_t count = r == 1 ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (r < 0)
            goto fail;
        if (count >= JC_STORE_VARS_PER_OWNER) {
            jc_err_set(err, JC_E_CONFLICT, "at most %d variables per user",
                       JC_STORE_VARS_PER_OWNER);
            goto fail;
        }
        s = jc_sq_prep(c, sql_insert, err);
        if (!s || jc_sq_bind(c, s, err, "ssji", owner, key, value, now) < 0 ||
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

int jc_sqlite_var_delete(jc_store *st, const char *owner, const char *key, jc_err *err) {
    static const char sql[] = "DELETE FROM variables WHERE owner = ? AND key = ?";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "ss", owner, key) < 0 || jc_sq_run(c, s, err) < 0)
        return -1;
    if (sqlite3_changes(c->db) == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "variable %s is not set", key);
    return 0;
}

int jc_sqlite_var_list(jc_store *st, const char *owner, jc_variable **out, size_t *n, jc_err *err) {
    static const char sql[] = "SELECT key, updated_at FROM variables WHERE owner = ? ORDER BY key";
    *out = NULL;
    *n = 0;
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "s", owner) < 0)
        return -1;
    jc_variable *v = NULL;
    size_t cap = 0;
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1) {
        if (jc_sq_grow(&v, &cap, *n, sizeof(*v), 16) < 0) {
            sqlite3_reset(s);
            jc_variables_free(v, *n);
            *n = 0;
            return jc_err_sys(err, ENOMEM, "store: variables");
        }
        memset(&v[*n], 0, sizeof(*v));
        jc_sq_copy(s, 0, v[*n].key, sizeof(v[*n].key));
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

int jc_sqlite_token_create(jc_store *st, const jc_api_token *tok, const char *secret_sha256,
                           jc_err *err) {
    static const char sql[] = "INSERT INTO api_tokens (id, name, user, role, sha256,"
                              " created_at) VALUES (?, ?, ?, ?, ?, ?)";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "sssssi", tok->id, tok->name, tok->user, tok->role,
                         secret_sha256, tok->created_at) < 0)
        return -1;
    return jc_sq_run(c, s, err);
}

#define TOKEN_COLS "id, name, user, role, created_at, coalesce(last_used_at, 0), sha256"

static void token_from_row(sqlite3_stmt *s, jc_api_token *t) {
    memset(t, 0, sizeof(*t));
    jc_sq_copy(s, 0, t->id, sizeof(t->id));
    jc_sq_copy(s, 1, t->name, sizeof(t->name));
    jc_sq_copy(s, 2, t->user, sizeof(t->user));
    jc_sq_copy(s, 3, t->role, sizeof(t->role));
    t->created_at = sqlite3_column_int64(s, 4);
    t->last_used_at = sqlite3_column_int64(s, 5);
}

int jc_sqlite_token_lookup(jc_store *st, const char *secret_sha256, jc_api_token *out,
                           char stored_sha256[65], jc_err *err) {
    static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE sha256 = ?";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "s", secret_sha256) < 0)
        return -1;
    int r = jc_sq_step(c, s, err);
    if (r == 1) {
        token_from_row(s, out);
        snprintf(stored_sha256, 65, "%s", jc_sq_text(s, 6));
    }
    sqlite3_reset(s);
    if (r == 0)
        return jc_err_set(err, JC_E_AUTH, "unknown token");
    return r < 0 ? -1 : 0;
}

int jc_sqlite_token_list(jc_store *st, const char *user, jc_api_token **out, size_t *n,
                         jc_err *err) {
    static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE ?1 IS NULL OR"
                              " user = ?1 ORDER BY created_at DESC, id";
    *out = NULL;
    *n = 0;
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "s", user) < 0)
        return -1;
    jc_api_token *v = NULL;
    size_t cap = 0;
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1) {
        if (jc_sq_grow(&v, &cap, *n, sizeof(*v), 8) < 0) {
            sqlite3_reset(s);
            free(v);
            *n = 0;
            return jc_err_sys(err, ENOMEM, "store: tokens");
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

int jc_sqlite_token_delete(jc_store *st, const char *id, const char *user, jc_err *err) {
    static const char sql[] = "DELETE FROM api_tokens WHERE id = ?1 AND (?2 IS NULL OR user = ?2)";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "ss", id, user) < 0 || jc_sq_run(c, s, err) < 0)
        return -1;
    if (sqlite3_changes(c->db) == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no token %s", id);
    return 0;
}

/* ---- audit and housekeeping ----------------------------------------------------------- */

int jc_sqlite_audit(jc_store *st, const char *kind, const json_t *fields, int64_t now,
                    jc_err *err) {
    static const char sql[] = "INSERT INTO audit_events (kind, at, fields) VALUES (?, ?, ?)";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    json_t *empty = NULL;
    if (!fields)
        fields = empty = json_object();
    int rc = !s || jc_sq_bind(c, s, err, "sij", kind, now, fields) < 0 ? -1 : jc_sq_run(c, s, err);
    json_decref(empty);
    return rc;
}

json_t *jc_sqlite_audit_list(jc_store *st, const char *kind, size_t limit, jc_err *err) {
    static const char sql[] = "SELECT kind, at, fields FROM audit_events WHERE ?1 IS NULL OR"
                              " kind = ?1 ORDER BY seq DESC LIMIT ?2";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "si", kind, (int64_t)limit) < 0)
        return NULL;
    json_t *arr = json_array();
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1) {
        json_t *f = jc_sq_json(s, 2);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:o}", "kind", jc_sq_text(s, 0), "at",
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

int jc_sqlite_idempotency_expire(jc_store *st, int64_t before, jc_err *err) {
    static const char sql[] = "DELETE FROM idempotency WHERE created_at < ?";
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "i", before) < 0)
        return -1;
    return jc_sq_run(c, s, err);
}

/* ---- the runtime API's hot path ------------------------------------------------------- */

int jc_sqlite_runtime_get(jc_store *st, const char *exe_id, const char *key, jc_execution *exe,
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
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "ss", exe_id, key) < 0)
        return -1;
    int r = jc_sq_step(c, s, err);
    if (r == 1) {
        jc_sq_exe_row(st, s, exe);
        if (key && var && sqlite3_column_type(s, 20) != SQLITE_NULL) {
            snprintf(var->key, sizeof(var->key), "%s", key);
            var->value = jc_sq_json(s, 20);
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
