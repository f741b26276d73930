/* pg_audit.c: the audit trail on PostgreSQL (store_audit.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"
#include "store_audit.h"

typedef struct append_arg {
    const jc_audit_event *ev;
    size_t n;
} append_arg;

static int append_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql[] =
        "INSERT INTO audit_log (at, kind, actor_type, actor, scheme, route_group, outcome,"
        " reason, remote, key_version, target, status, latency_us, count)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    (void)st;
    append_arg *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        const jc_audit_event *e = &a->ev[i];
        if (jc_pg_x(c, sql, err, "issssssssssiii", e->at, e->kind, e->actor_type, e->actor,
                    e->scheme, e->group, e->outcome, e->reason, e->remote, e->key_version,
                    e->target, e->status, e->latency_us, e->count < 1 ? (int64_t)1 : e->count) < 0)
            return -1;
    }
    return 0;
}

int jc_pg_audit_append(jc_store *st, const jc_audit_event *ev, size_t n, jc_err *err) {
    if (n == 0)
        return 0;
    append_arg a = {ev, n};
    return jc_pg_tx(st, append_tx, &a, err);
}

int jc_pg_audit_query(jc_store *st, const jc_audit_query *q, jc_audit_event **out, size_t *n,
                      char **next_cursor, jc_err *err) {
    static const char sql[] =
        "SELECT seq, at, kind, actor_type, actor, scheme, route_group, outcome, reason, remote,"
        " key_version, target, status, latency_us, count FROM audit_log"
        " WHERE ($1::text IS NULL OR actor = $1::text) AND ($2::text IS NULL OR outcome ="
        " $2::text) AND ($3::text IS NULL OR kind = $3::text) AND at >= $4 AND seq < $5"
        " ORDER BY seq DESC LIMIT $6";
    *out = NULL;
    *n = 0;
    *next_cursor = NULL;
    int64_t before = INT64_MAX;
    if (q->cursor && *q->cursor) {
        char *end;
        errno = 0;
        long long v = strtoll(q->cursor, &end, 10);
        if (errno || *end || v < 1 || q->cursor[0] == '+' || q->cursor[0] == ' ')
            return jc_err_field(err, JC_E_INVALID, "cursor", "cursor is not one this server gave");
        before = v;
    }
    size_t limit = q->limit < 1 ? 1 : q->limit > 1000 ? 1000 : q->limit;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "sssiii", q->actor, q->outcome, q->kind, q->since, before,
                          (int64_t)limit + 1);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    size_t rows = (size_t)PQntuples(r);
    size_t count = rows > limit ? limit : rows;
    jc_audit_event *v = calloc(count ? count : 1, sizeof(*v));
    if (!v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "audit: list");
    }
    for (size_t i = 0; i < count; i++) {
        int k = (int)i;
        jc_audit_event *e = &v[i];
        e->seq = jc_pg_int(r, k, 0);
        e->at = jc_pg_int(r, k, 1);
        jc_pg_copy(r, k, 2, e->kind, sizeof(e->kind));
        jc_pg_copy(r, k, 3, e->actor_type, sizeof(e->actor_type));
        jc_pg_copy(r, k, 4, e->actor, sizeof(e->actor));
        jc_pg_copy(r, k, 5, e->scheme, sizeof(e->scheme));
        jc_pg_copy(r, k, 6, e->group, sizeof(e->group));
        jc_pg_copy(r, k, 7, e->outcome, sizeof(e->outcome));
        jc_pg_copy(r, k, 8, e->reason, sizeof(e->reason));
        jc_pg_copy(r, k, 9, e->remote, sizeof(e->remote));
        jc_pg_copy(r, k, 10, e->key_version, sizeof(e->key_version));
        jc_pg_copy(r, k, 11, e->target, sizeof(e->target));
        e->status = jc_pg_int(r, k, 12);
        e->latency_us = jc_pg_int(r, k, 13);
        e->count = jc_pg_int(r, k, 14);
    }
    PQclear(r);
    if (rows > limit && count > 0) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRId64, v[count - 1].seq);
        *next_cursor = strdup(buf);
    }
    *out = v;
    *n = count;
    return 0;
}

typedef struct prune_arg {
    int64_t before, max;
    int64_t deleted;
} prune_arg;

static int prune_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql[] = "DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log"
                              " WHERE at < $1 ORDER BY seq LIMIT $2)";
    (void)st;
    prune_arg *a = arg;
    a->deleted = jc_pg_x(c, sql, err, "ii", a->before, a->max);
    return a->deleted < 0 ? -1 : 0;
}

int jc_pg_audit_prune(jc_store *st, int64_t before, size_t max_rows, size_t *deleted, jc_err *err) {
    prune_arg a = {before, (int64_t)max_rows, 0};
    if (deleted)
        *deleted = 0;
    if (jc_pg_run(st, prune_fn, &a, err) < 0)
        return -1;
    if (deleted)
        *deleted = (size_t)a.deleted;
    return 0;
}
