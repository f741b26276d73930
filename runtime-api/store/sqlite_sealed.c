/* sqlite_sealed.c: the SQLite side of store_sealed.h.
 *
 * job_secrets: the sealed text is the "secrets" member of jobs.spec (never returned by any
 * answer; validate.c strips it). SQLite's JSON functions read and replace it in place. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"
#include "store_creds.h"
#include "store_sealed.h"

static const char *const kinds[] = {"job_secrets", "orchestrator_secret", NULL};

const char *const *jc_store_sealed_kinds(void) {
    return kinds;
}

void jc_sealed_rows_free(jc_sealed_row *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        free(v[i].sealed);
    free(v);
}

static int creds_page(jc_store *st, int64_t after, size_t limit, jc_sealed_row **out, size_t *n,
                      char **next_cursor, jc_err *err) {
    jc_orc_cred *creds = NULL;
    size_t count = 0;
    if (jc_store_cred_sealed_page(st, after, limit, &creds, &count, err) < 0)
        return -1;
    jc_sealed_row *v = count ? calloc(count, sizeof(*v)) : NULL;
    if (count && !v) {
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
    if (count == limit) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRId64, last);
        *next_cursor = strdup(buf);
    }
    *out = v;
    *n = count;
    return 0;
}

int jc_sqlite_sealed_page(jc_store *st, const char *kind, const char *cursor, size_t limit,
                          jc_sealed_row **out, size_t *n, char **next_cursor, jc_err *err) {
    static const char sql[] =
        "SELECT seq, id, owner, json_extract(spec, '$.secrets') FROM jobs"
        " WHERE seq > ?1 AND json_type(spec, '$.secrets') = 'text' ORDER BY seq LIMIT ?2";
    *out = NULL;
    *n = 0;
    *next_cursor = NULL;
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
    if (strcmp(kind, "orchestrator_secret") == 0)
        return creds_page(st, after, limit, out, n, next_cursor, err);
    if (strcmp(kind, "job_secrets") != 0)
        return jc_err_set(err, JC_E_UNSUPPORTED, "no sealed values of kind %s here", kind);
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "ii", after, (int64_t)limit) < 0)
        return -1;
    jc_sealed_row *v = NULL;
    size_t cap = 0, count = 0;
    int64_t last = 0;
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1) {
        if (jc_sq_grow(&v, &cap, count, sizeof(*v), 64) < 0) {
            sqlite3_reset(s);
            jc_sealed_rows_free(v, count);
            return jc_err_sys(err, ENOMEM, "sealed: page");
        }
        jc_sealed_row *row = &v[count];
        memset(row, 0, sizeof(*row));
        last = sqlite3_column_int64(s, 0);
        jc_sq_copy(s, 1, row->id, sizeof(row->id));
        jc_sq_copy(s, 2, row->owner, sizeof(row->owner));
        row->sealed = strdup(jc_sq_text(s, 3));
        count++;
        if (!row->sealed) {
            sqlite3_reset(s);
            jc_sealed_rows_free(v, count);
            return jc_err_sys(err, ENOMEM, "sealed: page");
        }
    }
    sqlite3_reset(s);
    if (r < 0) {
        jc_sealed_rows_free(v, count);
        return -1;
    }
    if (count == limit) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRId64, last);
        *next_cursor = strdup(buf);
    }
    *out = v;
    *n = count;
    return 0;
}

int jc_sqlite_sealed_swap(jc_store *st, const char *kind, const char *id, const char *expected,
                          const char *replacement, bool *swapped, jc_err *err) {
    static const char sql[] = "UPDATE jobs SET spec = json_set(spec, '$.secrets', ?3)"
                              " WHERE id = ?1 AND json_extract(spec, '$.secrets') = ?2";
    *swapped = false;
    if (strcmp(kind, "orchestrator_secret") == 0) {
        jc_err e;
        if (jc_store_cred_reseal(st, id, expected, replacement, &e) == 0) {
            *swapped = true;
            return 0;
        }
        if (e.code == JC_E_CONFLICT || e.code == JC_E_NOT_FOUND)
            return 0; /* rotated, rewrapped or removed meanwhile */
        if (err)
            *err = e;
        return -1;
    }
    if (strcmp(kind, "job_secrets") != 0)
        return jc_err_set(err, JC_E_UNSUPPORTED, "no sealed values of kind %s here", kind);
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "sss", id, expected, replacement) < 0 ||
        jc_sq_run(c, s, err) < 0)
        return -1;
    *swapped = sqlite3_changes(c->db) == 1;
    return 0;
}
