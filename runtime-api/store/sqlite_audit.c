/* sqlite_audit.c: the audit trail in SQLite (store_audit.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"
#include "store_audit.h"

int jc_sqlite_audit_append(jc_store *st, const jc_audit_event *ev, size_t n, jc_err *err) {
    static const char sql[] =
        "INSERT INTO audit_log (at, kind, actor_type, actor, scheme, route_group, outcome,"
        " reason, remote, key_version, target, status, latency_us, count)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    if (n == 0)
        return 0;
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const jc_audit_event *e = &ev[i];
        sqlite3_stmt *s = jc_sq_prep(c, sql, err);
        if (!s ||
            jc_sq_bind(c, s, err, "issssssssssiii", e->at, e->kind, e->actor_type, e->actor,
                       e->scheme, e->group, e->outcome, e->reason, e->remote, e->key_version,
                       e->target, e->status, e->latency_us,
                       e->count < 1 ? (int64_t)1 : e->count) < 0 ||
            jc_sq_run(c, s, err) < 0) {
            jc_sq_rollback(c);
            return -1;
        }
    }
    return jc_sq_commit(c, err);
}

int jc_sqlite_audit_query(jc_store *st, const jc_audit_query *q, jc_audit_event **out, size_t *n,
                          char **next_cursor, jc_err *err) {
    static const char sql[] =
        "SELECT seq, at, kind, actor_type, actor, scheme, route_group, outcome, reason, remote,"
        " key_version, target, status, latency_us, count FROM audit_log"
        " WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR outcome = ?2)"
        " AND (?3 IS NULL OR kind = ?3) AND at >= ?4 AND seq < ?5 ORDER BY seq DESC LIMIT ?6";
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
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "sssiii", q->actor, q->outcome, q->kind, q->since, before,
                         (int64_t)limit + 1) < 0)
        return -1;
    jc_audit_event *v = NULL;
    size_t cap = 0, count = 0;
    int r;
    while ((r = jc_sq_step(c, s, err)) == 1) {
        if (count == limit) { /* one more row exists: there is a next page */
            char buf[24];
            snprintf(buf, sizeof(buf), "%" PRId64, v[count - 1].seq);
            *next_cursor = strdup(buf);
            break;
        }
        if (jc_sq_grow(&v, &cap, count, sizeof(*v), 64) < 0) {
            sqlite3_reset(s);
            free(v);
            return jc_err_sys(err, ENOMEM, "audit: list");
        }
        jc_audit_event *e = &v[count++];
        memset(e, 0, sizeof(*e));
        e->seq = sqlite3_column_int64(s, 0);
        e->at = sqlite3_column_int64(s, 1);
        jc_sq_copy(s, 2, e->kind, sizeof(e->kind));
        jc_sq_copy(s, 3, e->actor_type, sizeof(e->actor_type));
        jc_sq_copy(s, 4, e->actor, sizeof(e->actor));
        jc_sq_copy(s, 5, e->scheme, sizeof(e->scheme));
        jc_sq_copy(s, 6, e->group, sizeof(e->group));
        jc_sq_copy(s, 7, e->outcome, sizeof(e->outcome));
        jc_sq_copy(s, 8, e->reason, sizeof(e->reason));
        jc_sq_copy(s, 9, e->remote, sizeof(e->remote));
        jc_sq_copy(s, 10, e->key_version, sizeof(e->key_version));
        jc_sq_copy(s, 11, e->target, sizeof(e->target));
        e->status = sqlite3_column_int64(s, 12);
        e->latency_us = sqlite3_column_int64(s, 13);
        e->count = sqlite3_column_int64(s, 14);
    }
    sqlite3_reset(s);
    if (r < 0) {
        free(v);
        free(*next_cursor);
        *next_cursor = NULL;
        return -1;
    }
    *out = v;
    *n = count;
    return 0;
}

int jc_sqlite_audit_prune(jc_store *st, int64_t before, size_t max_rows, size_t *deleted,
                          jc_err *err) {
    static const char sql[] = "DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log"
                              " WHERE at < ?1 ORDER BY seq LIMIT ?2)";
    if (deleted)
        *deleted = 0;
    conn *c = jc_sq_conn(st, err);
    sqlite3_stmt *s = c ? jc_sq_prep(c, sql, err) : NULL;
    if (!s || jc_sq_bind(c, s, err, "ii", before, (int64_t)max_rows) < 0 ||
        jc_sq_run(c, s, err) < 0)
        return -1;
    if (deleted)
        *deleted = (size_t)sqlite3_changes(c->db);
    return 0;
}
