/* pg_creds.c: orchestrator credentials on PostgreSQL (store_creds.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"
#include "store_creds.h"

#define CRED_COLS                                                                                  \
    "key_id, orchestrator, created_at, coalesce(revoked_at, 0), coalesce(expires_at, 0), seq"

static void cred_row(const PGresult *r, int i, jc_orc_cred *c) {
    memset(c, 0, sizeof(*c));
    jc_pg_copy(r, i, 0, c->key_id, sizeof(c->key_id));
    jc_pg_copy(r, i, 1, c->orchestrator, sizeof(c->orchestrator));
    c->created_at = jc_pg_int(r, i, 2);
    c->revoked_at = jc_pg_int(r, i, 3);
    c->expires_at = jc_pg_int(r, i, 4);
    c->seq = jc_pg_int(r, i, 5);
}

/* Rows of CRED_COLS (and sealed at column 6 when with_sealed) into an owned array. */
static int creds_of(const PGresult *r, bool with_sealed, jc_orc_cred **out, size_t *n,
                    jc_err *err) {
    int rows = PQntuples(r);
    jc_orc_cred *v = calloc(rows ? (size_t)rows : 1, sizeof(*v));
    if (!v)
        return jc_err_sys(err, ENOMEM, "store: credentials");
    for (int i = 0; i < rows; i++) {
        cred_row(r, i, &v[i]);
        if (with_sealed && !(v[i].sealed = strdup(jc_pg_text(r, i, 6)))) {
            jc_orc_creds_free(v, (size_t)i);
            return jc_err_sys(err, ENOMEM, "store: credentials");
        }
    }
    *out = v;
    *n = (size_t)rows;
    return 0;
}

int jc_pg_cred_sealed_page(jc_store *st, int64_t after_seq, size_t limit, jc_orc_cred **out,
                           size_t *n, jc_err *err) {
    static const char sql[] = "SELECT " CRED_COLS ", sealed FROM orchestrator_keys"
                              " WHERE seq > $1 ORDER BY seq LIMIT $2";
    *out = NULL;
    *n = 0;
    if (limit < 1 || limit > 1000)
        return jc_err_set(err, JC_E_INVALID, "store: page size must be 1 to 1000");
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "ii", after_seq, (int64_t)limit);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rc = creds_of(r, true, out, n, err);
    PQclear(r);
    return rc;
}

typedef struct change_arg {
    const char *key_id, *a, *b;
    int64_t now, until;
    const jc_orc_cred *cr;
    size_t rotated;
} change_arg;

/* After a conditional UPDATE changed nothing: unknown key, or it changed meanwhile. */
static int why_not(pgc *c, const char *key_id, const char *conflict, jc_err *err) {
    static const char get[] = "SELECT 1 FROM orchestrator_keys WHERE key_id = $1";
    PGresult *r = jc_pg_q(c, get, err, "s", key_id);
    if (!r)
        return -1;
    bool found = PQntuples(r) > 0;
    PQclear(r);
    if (!found)
        return jc_err_set(err, JC_E_NOT_FOUND, "no key %s", key_id);
    return jc_err_set(err, JC_E_CONFLICT, "key %s %s", key_id, conflict);
}

static int reseal_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char upd[] =
        "UPDATE orchestrator_keys SET sealed = $3 WHERE key_id = $1 AND sealed = $2";
    (void)st;
    change_arg *a = arg;
    int64_t n = jc_pg_x(c, upd, err, "sss", a->key_id, a->a, a->b);
    if (n < 0)
        return -1;
    return n == 0 ? why_not(c, a->key_id, "changed meanwhile", err) : 0;
}

int jc_pg_cred_reseal(jc_store *st, const char *key_id, const char *old_sealed,
                      const char *new_sealed, jc_err *err) {
    change_arg a = {.key_id = key_id, .a = old_sealed, .b = new_sealed};
    return jc_pg_tx(st, reseal_tx, &a, err);
}

static int insert(pgc *c, const jc_orc_cred *cr, jc_err *err) {
    static const char sql[] = "INSERT INTO orchestrator_keys (key_id, orchestrator, sealed,"
                              " created_at) VALUES ($1, $2, $3, $4)";
    if (!cr->sealed || !cr->sealed[0])
        return jc_err_set(err, JC_E_INVALID, "store: a credential needs its sealed secret");
    if (jc_pg_x(c, sql, err, "sssi", cr->key_id, cr->orchestrator, cr->sealed, cr->created_at) <
        0) {
        if (err->code == JC_E_CONFLICT)
            jc_err_set(err, JC_E_CONFLICT, "key %s already exists", cr->key_id);
        return -1;
    }
    return 0;
}

static int add_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    (void)st;
    return insert(c, ((change_arg *)arg)->cr, err);
}

int jc_pg_cred_add(jc_store *st, const jc_orc_cred *cr, jc_err *err) {
    change_arg a = {.cr = cr};
    return jc_pg_run(st, add_fn, &a, err);
}

int jc_pg_cred_list(jc_store *st, const char *orchestrator, jc_orc_cred **out, size_t *n,
                    jc_err *err) {
    static const char sql[] = "SELECT " CRED_COLS " FROM orchestrator_keys WHERE $1::text IS NULL"
                              " OR orchestrator = $1::text ORDER BY seq DESC";
    *out = NULL;
    *n = 0;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "s", orchestrator);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rc = creds_of(r, false, out, n, err);
    PQclear(r);
    return rc;
}

int jc_pg_cred_lookup(jc_store *st, const char *key_id, jc_orc_cred *out, jc_err *err) {
    static const char sql[] = "SELECT " CRED_COLS ", sealed FROM orchestrator_keys"
                              " WHERE key_id = $1";
    memset(out, 0, sizeof(*out));
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "s", key_id);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return jc_err_set(err, JC_E_NOT_FOUND, "no such key");
    }
    cred_row(r, 0, out);
    out->sealed = strdup(jc_pg_text(r, 0, 6));
    PQclear(r);
    if (!out->sealed)
        return jc_err_sys(err, ENOMEM, "store: credential");
    return 0;
}

static int revoke_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char upd[] = "UPDATE orchestrator_keys SET revoked_at = $2"
                              " WHERE key_id = $1 AND revoked_at IS NULL";
    (void)st;
    change_arg *a = arg;
    int64_t n = jc_pg_x(c, upd, err, "si", a->key_id, a->now);
    if (n < 0)
        return -1;
    return n == 0 ? why_not(c, a->key_id, "is already revoked", err) : 0;
}

int jc_pg_cred_revoke(jc_store *st, const char *key_id, int64_t now, jc_err *err) {
    change_arg a = {.key_id = key_id, .now = now};
    return jc_pg_tx(st, revoke_tx, &a, err);
}

static int rotate_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    /* one rotation of an orchestrator at a time, across servers */
    static const char lock[] = "SELECT pg_advisory_xact_lock(hashtext('jobcell.creds.' || $1))";
    static const char live[] =
        "SELECT count(*) FROM orchestrator_keys WHERE orchestrator = $1"
        " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)";
    static const char upd[] =
        "UPDATE orchestrator_keys SET expires_at = $3"
        " WHERE orchestrator = $1 AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > $2) AND (expires_at IS NULL OR expires_at > $3)";
    (void)st;
    change_arg *a = arg;
    a->rotated = 0;
    PGresult *r = jc_pg_q(c, lock, err, "s", a->cr->orchestrator);
    if (!r)
        return -1;
    PQclear(r);
    r = jc_pg_q(c, live, err, "si", a->cr->orchestrator, a->now);
    if (!r)
        return -1;
    int64_t n = jc_pg_int(r, 0, 0);
    PQclear(r);
    if (n == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "orchestrator %s has no live key to rotate",
                          a->cr->orchestrator);
    int64_t changed = jc_pg_x(c, upd, err, "sii", a->cr->orchestrator, a->now, a->until);
    if (changed < 0 || insert(c, a->cr, err) < 0)
        return -1;
    (void)changed;
    a->rotated = (size_t)n; /* as the SQLite store: the live credentials found */
    return 0;
}

int jc_pg_cred_rotate(jc_store *st, const jc_orc_cred *cr, int64_t now, int64_t old_expires_at,
                      size_t *rotated, jc_err *err) {
    change_arg a = {.cr = cr, .now = now, .until = old_expires_at};
    if (rotated)
        *rotated = 0;
    if (jc_pg_tx(st, rotate_tx, &a, err) < 0)
        return -1;
    if (rotated)
        *rotated = a.rotated;
    return 0;
}
