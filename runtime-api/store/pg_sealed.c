/* pg_sealed.c: the sealed values on PostgreSQL (store_sealed.h).
 *
 * job_secrets: the sealed text is the "secrets" member of jobs.spec (JSON text); it is
 * read and replaced through jsonb, the replacement conditional on the value read.
 * orchestrator_secret: the credentials' sealed secrets (store_creds.h), paged and
 * resealed through the credential operations. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"
#include "store_creds.h"
#include "store_sealed.h"

static int creds_page(jc_store *st, int64_t after, size_t limit, jc_sealed_row **out, size_t *n,
                      char **next_cursor, jc_err *err) {
    jc_orc_cred *creds = NULL;
    size_t count = 0;
    if (jc_pg_cred_sealed_page(st, after, limit, &creds, &count, err) < 0)
        return -1;
    jc_sealed_row *v = calloc(count ? count : 1, sizeof(*v));
    if (!v) {
        jc_orc_creds_free(creds, count);
        return jc_err_sys(err, ENOMEM, "sealed: page");
    }
    int64_t last = 0;
    for (size_t i = 0; i < count; i++) {
        snprintf(v[i].id, sizeof(v[i].id), "%s", creds[i].key_id);
        snprintf(v[i].owner, sizeof(v[i].owner), "%s", creds[i].orchestrator);
        v[i].sealed = creds[i].sealed; /* handed over */
        creds[i].sealed = NULL;
        last = creds[i].seq;
    }
    jc_orc_creds_free(creds, count);
    if (count == limit && count > 0) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRId64, last);
        *next_cursor = strdup(buf);
    }
    *out = v;
    *n = count;
    return 0;
}

int jc_pg_sealed_page(jc_store *st, const char *kind, const char *cursor, size_t limit,
                      jc_sealed_row **out, size_t *n, char **next_cursor, jc_err *err) {
    static const char sql[] =
        "SELECT seq, id, owner, spec::jsonb ->> 'secrets' FROM jobs WHERE seq > $1"
        " AND jsonb_typeof(spec::jsonb -> 'secrets') = 'string' ORDER BY seq LIMIT $2";
    *out = NULL;
    *n = 0;
    *next_cursor = NULL;
    bool creds = strcmp(kind, "orchestrator_secret") == 0;
    if (!creds && strcmp(kind, "job_secrets") != 0)
        return jc_err_set(err, JC_E_UNSUPPORTED, "no sealed values of kind %s here", kind);
    int64_t after = 0;
    if (cursor && *cursor) {
        char *end;
        errno = 0;
        long long v = strtoll(cursor, &end, 10);
        if (errno || *end || v < 0)
            return jc_err_field(err, JC_E_INVALID, "cursor", "malformed cursor");
        after = v;
    }
    if (limit < 1 || limit > 1000)
        limit = 500;
    if (creds)
        return creds_page(st, after, limit, out, n, next_cursor, err);
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "ii", after, (int64_t)limit);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    size_t rows = (size_t)PQntuples(r);
    jc_sealed_row *v = calloc(rows ? rows : 1, sizeof(*v));
    if (!v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "sealed: page");
    }
    for (size_t i = 0; i < rows; i++) {
        jc_pg_copy(r, (int)i, 1, v[i].id, sizeof(v[i].id));
        jc_pg_copy(r, (int)i, 2, v[i].owner, sizeof(v[i].owner));
        if (!(v[i].sealed = strdup(jc_pg_text(r, (int)i, 3)))) {
            PQclear(r);
            jc_sealed_rows_free(v, i);
            return jc_err_sys(err, ENOMEM, "sealed: page");
        }
    }
    if (rows == limit && rows > 0) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRId64, jc_pg_int(r, (int)rows - 1, 0));
        *next_cursor = strdup(buf);
    }
    PQclear(r);
    *out = v;
    *n = rows;
    return 0;
}

typedef struct swap_arg {
    const char *id, *expected, *replacement;
    int64_t changed;
} swap_arg;

static int swap_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql[] =
        "UPDATE jobs SET spec = jsonb_set(spec::jsonb, '{secrets}', to_jsonb($3::text))::text"
        " WHERE id = $1 AND spec::jsonb ->> 'secrets' = $2";
    (void)st;
    swap_arg *a = arg;
    a->changed = jc_pg_x(c, sql, err, "sss", a->id, a->expected, a->replacement);
    return a->changed < 0 ? -1 : 0;
}

int jc_pg_sealed_swap(jc_store *st, const char *kind, const char *id, const char *expected,
                      const char *replacement, bool *swapped, jc_err *err) {
    *swapped = false;
    if (strcmp(kind, "orchestrator_secret") == 0) {
        jc_err e;
        jc_err_clear(&e);
        if (jc_pg_cred_reseal(st, id, expected, replacement, &e) == 0) {
            *swapped = true;
            return 0;
        }
        if (e.code == JC_E_CONFLICT || e.code == JC_E_NOT_FOUND)
            return 0; /* changed or gone meanwhile: not swapped */
        if (err)
            *err = e;
        return -1;
    }
    if (strcmp(kind, "job_secrets") != 0)
        return jc_err_set(err, JC_E_UNSUPPORTED, "no sealed values of kind %s here", kind);
    swap_arg a = {id, expected, replacement, 0};
    if (jc_pg_run(st, swap_fn, &a, err) < 0)
        return -1;
    *swapped = a.changed == 1;
    return 0;
}
