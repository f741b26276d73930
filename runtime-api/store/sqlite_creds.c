/* sqlite_creds.c: the SQLite side of store_creds.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"
#include "store_creds.h"

#define CRED_COLS                                                                                  \
    "key_id, orchestrator, created_at, coalesce(revoked_at, 0), coalesce(expires_at, 0), seq"

void jc_orc_cred_clear(jc_orc_cred *c) {
    if (!c)
        return;
    free(c->sealed);
    c->sealed = NULL;
}

static void cred_row(sqlite3_stmt *s, jc_orc_cred *c) {
    memset(c, 0, sizeof(*c));
    jc_sq_copy(s, 0, c->key_id, sizeof(c->key_id));
    jc_sq_copy(s, 1, c->orchestrator, sizeof(c->orchestrator));
    c->created_at = sqlite3_column_int64(s, 2);
    c->revoked_at = sqlite3_column_int64(s, 3);
    c->expires_at = sqlite3_column_int64(s, 4);
    c->seq = sqlite3_column_int64(s, 5);
}

void jc_orc_creds_free(jc_orc_cred *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        jc_orc_cred_clear(&v[i]);
    free(v);
}

int jc_sqlite_cred_sealed_page(jc_store *st, int64_t after_seq, size_t limit, jc_orc_cred **out,
                               size_t *n, jc_err *err) {
    static const char sql[] = "SELECT " CRED_COLS ", sealed FROM orchestrator_keys"
                              " WHERE seq > ?1 ORDER BY seq LIMIT ?2";
    *out = NULL;
    *n = 0;
    if (limit < 1 || limit > 1000)
        return jc_err_set(err, JC_E_INVALID, "store: page size must be 1 to 1000");
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "ii", after_seq, (int64_t)limit) < 0)
        return -1;
    jc_orc_cred *v = NULL;
    size_t cap = 0, count = 0;
    int rc;
    while ((rc = jc_sq_step(c, s, err)) == 1) {
        if (jc_sq_grow(&v, &cap, count, sizeof(*v), 16) < 0) {
            jc_orc_creds_free(v, count);
            sqlite3_reset(s);
            return jc_err_sys(err, ENOMEM, "store: credentials");
        }
        cred_row(s, &v[count]);
        v[count].sealed = strdup(jc_sq_text(s, 6));
        if (!v[count++].sealed) {
            jc_orc_creds_free(v, count);
            sqlite3_reset(s);
            return jc_err_sys(err, ENOMEM, "store: credentials");
        }
    }
    sqlite3_reset(s);
    if (rc < 0) {
        jc_orc_creds_free(v, count);
        return -1;
    }
    *out = v;
    *n = count;
    return 0;
}

int jc_sqlite_cred_reseal(jc_store *st, const char *key_id, const char *old_sealed,
                          const char *new_sealed, jc_err *err) {
    static const char upd[] =
        "UPDATE orchestrator_keys SET sealed = ?3 WHERE key_id = ?1 AND sealed = ?2";
    static const char get[] = "SELECT 1 FROM orchestrator_keys WHERE key_id = ?";
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    sqlite3_stmt *s = jc_sq_prep(c, upd, err);
    if (!s || jc_sq_bind(c, s, err, "sss", key_id, old_sealed, new_sealed) < 0 ||
        jc_sq_run(c, s, err) < 0)
        goto fail;
    if (sqlite3_changes(c->db) == 0) {
        s = jc_sq_prep(c, get, err);
        int rc = s && jc_sq_bind(c, s, err, "s", key_id) == 0 ? jc_sq_step(c, s, err) : -1;
        if (s)
            sqlite3_reset(s);
        if (rc < 0)
            goto fail;
        if (rc == 0)
            jc_err_set(err, JC_E_NOT_FOUND, "no key %s", key_id);
        else
            jc_err_set(err, JC_E_CONFLICT, "key %s changed meanwhile", key_id);
        goto fail;
    }
    return jc_sq_commit(c, err);
fail:
    jc_sq_rollback(c);
    return -1;
}

static int insert(conn *c, const jc_orc_cred *cr, jc_err *err) {
    static const char sql[] = "INSERT INTO orchestrator_keys (key_id, orchestrator, sealed,"
                              " created_at) VALUES (?, ?, ?, ?)";
    if (!cr->sealed || !cr->sealed[0])
        return jc_err_set(err, JC_E_INVALID, "store: a credential needs its sealed secret");
    sqlite3_stmt *s = jc_sq_prep(c, sql, err);
    if (!s ||
        jc_sq_bind(c, s, err, "sssi", cr->key_id, cr->orchestrator, cr->sealed, cr->created_at) < 0)
        return -1;
    if (jc_sq_run(c, s, err) < 0) {
        int x = sqlite3_extended_errcode(c->db);
        if (x == SQLITE_CONSTRAINT_UNIQUE)
            return jc_err_set(err, JC_E_CONFLICT, "key %s already exists", cr->key_id);
        return -1;
    }
    return 0;
}

int jc_sqlite_cred_add(jc_store *st, const jc_orc_cred *cr, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    return c ? insert(c, cr, err) : -1;
}

int jc_sqlite_cred_list(jc_store *st, const char *orchestrator, jc_orc_cred **out, size_t *n,
                        jc_err *err) {
    static const char sql[] = "SELECT " CRED_COLS " FROM orchestrator_keys"
                              " WHERE ?1 IS NULL OR orchestrator = ?1 ORDER BY seq DESC";
    *out = NULL;
    *n = 0;
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "s", orchestrator) < 0)
        return -1;
    jc_orc_cred *v = NULL;
    size_t cap = 0, count = 0;
    int rc;
    while ((rc = jc_sq_step(c, s, err)) == 1) {
        if (jc_sq_grow(&v, &cap, count, sizeof(*v), 8) < 0) {
            free(v);
            return jc_err_sys(err, ENOMEM, "store: credentials");
        }
        cred_row(s, &v[count++]);
    }
    if (rc < 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = count;
    return 0;
}

int jc_sqlite_cred_lookup(jc_store *st, const char *key_id, jc_orc_cred *out, jc_err *err) {
    static const char sql[] = "SELECT " CRED_COLS ", sealed FROM orchestrator_keys"
                              " WHERE key_id = ?";
    memset(out, 0, sizeof(*out));
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "s", key_id) < 0)
        return -1;
    int rc = jc_sq_step(c, s, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        sqlite3_reset(s);
        return jc_err_set(err, JC_E_NOT_FOUND, "no such key");
    }
    cred_row(s, out);
    out->sealed = strdup(jc_sq_text(s, 6));
    sqlite3_reset(s);
    if (!out->sealed)
        return jc_err_sys(err, ENOMEM, "store: credential");
    return 0;
}

int jc_sqlite_cred_revoke(jc_store *st, const char *key_id, int64_t now, jc_err *err) {
    static const char upd[] = "UPDATE orchestrator_keys SET revoked_at = ?2"
                              " WHERE key_id = ?1 AND revoked_at IS NULL";
    static const char get[] = "SELECT 1 FROM orchestrator_keys WHERE key_id = ?";
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    sqlite3_stmt *s = jc_sq_prep(c, upd, err);
    if (!s || jc_sq_bind(c, s, err, "si", key_id, now) < 0 || jc_sq_run(c, s, err) < 0)
        goto fail;
    if (sqlite3_changes(c->db) == 0) {
        s = jc_sq_prep(c, get, err);
        int rc = s && jc_sq_bind(c, s, err, "s", key_id) == 0 ? jc_sq_step(c, s, err) : -1;
        if (s)
            sqlite3_reset(s);
        if (rc < 0)
            goto fail;
        if (rc == 0)
            jc_err_set(err, JC_E_NOT_FOUND, "no key %s", key_id);
        else
            jc_err_set(err, JC_E_CONFLICT, "key %s is already revoked", key_id);
        goto fail;
    }
    return jc_sq_commit(c, err);
fail:
    jc_sq_rollback(c);
    return -1;
}

int jc_sqlite_cred_rotate(jc_store *st, const jc_orc_cred *cr, int64_t now, int64_t old_expires_at,
                          size_t *rotated, jc_err *err) {
    static const char upd[] =
        "UPDATE orchestrator_keys SET expires_at = ?3"
        " WHERE orchestrator = ?1 AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > ?2) AND (expires_at IS NULL OR expires_at > ?3)";
    static const char live[] =
        "SELECT count(*) FROM orchestrator_keys WHERE orchestrator = ?1"
        " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)";
    if (rotated)
        *rotated = 0;
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    sqlite3_stmt *s = jc_sq_prep(c, live, err);
    if (!s || jc_sq_bind(c, s, err, "si", cr->orchestrator, now) < 0 || jc_sq_step(c, s, err) < 0)
        goto fail;
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (n == 0) {
        jc_err_set(err, JC_E_NOT_FOUND, "orchestrator %s has no live key to rotate",
                   cr->orchestrator);
        goto fail;
    }
    s = jc_sq_prep(c, upd, err);
    if (!s || jc_sq_bind(c, s, err, "sii", cr->orchestrator, now, old_expires_at) < 0 ||
        jc_sq_run(c, s, err) < 0)
        goto fail;
    if (insert(c, cr, err) < 0)
        goto fail;
    if (rotated)
        *rotated = (size_t)n;
    return jc_sq_commit(c, err);
fail:
    jc_sq_rollback(c);
    return -1;
}
