/* pg_export.c: store_export.h on PostgreSQL. The SQL names only the tables and columns of
 * jc_store_tables (static identifiers); every value is bound. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/b64url.h"
#include "jobcell/cleanup.h"
#include "pg_db.h"
#include "store_export.h"

/* As sqlite_export.c: SELECT or INSERT … ($1, $2, …) of one table. */
static int table_sql(const jc_store_table *t, bool insert, char *sql, size_t len, jc_err *err) {
    size_t n = 0;
    int w = snprintf(sql, len, insert ? "INSERT INTO \"%s\" (" : "SELECT ", t->name);
    for (size_t i = 0; w >= 0 && (size_t)w < len - n && i < t->ncols; i++) {
        n += (size_t)w;
        w = snprintf(sql + n, len - n, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
    }
    if (w >= 0 && (size_t)w < len - n) {
        n += (size_t)w;
        if (insert) {
            w = snprintf(sql + n, len - n, ") VALUES (");
            for (size_t i = 0; w >= 0 && (size_t)w < len - n && i < t->ncols; i++) {
                n += (size_t)w;
                w = snprintf(sql + n, len - n, "%s$%zu", i ? ", " : "", i + 1);
            }
            if (w >= 0 && (size_t)w < len - n) {
                n += (size_t)w;
                w = snprintf(sql + n, len - n, ")");
            }
        } else {
            w = snprintf(sql + n, len - n, " FROM \"%s\" ORDER BY %s", t->name, t->order);
        }
    }
    if (w < 0 || (size_t)w >= len - n)
        return jc_err_set(err, JC_E_INTERNAL, "export: SQL of %s too long", t->name);
    return 0;
}

static int exec_ok(pgc *c, const char *sql, jc_err *err) {
    PGresult *r = PQexec(c->conn, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        jc_err_set(err, JC_E_INTERNAL, "store: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

static int export_tables(pgc *c, FILE *out, size_t *count, jc_err *err) {
    PGresult *v = PQexec(c->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
    int schema = PQresultStatus(v) == PGRES_TUPLES_OK ? (int)jc_pg_int(v, 0, 0) : 0;
    PQclear(v);
    if (jc_export_write_header(out, "postgresql", schema, err) < 0)
        return -1;
    for (size_t k = 0; k < jc_store_ntables; k++) {
        const jc_store_table *t = &jc_store_tables[k];
        char sql[1024];
        if (table_sql(t, false, sql, sizeof(sql), err) < 0)
            return -1;
        PGresult *r = PQexec(c->conn, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            jc_err_set(err, JC_E_INTERNAL, "export: %s: %s", t->name, PQresultErrorMessage(r));
            PQclear(r);
            return -1;
        }
        for (int i = 0; i < PQntuples(r); i++) {
            json_t *row = json_array();
            for (size_t col = 0; row && col < t->ncols; col++) {
                int ci = (int)col;
                json_t *val;
                if (jc_pg_null(r, i, ci))
                    val = json_null();
                else if (t->cols[col].type == 'i')
                    val = json_integer(jc_pg_int(r, i, ci));
                else if (t->cols[col].type == 't')
                    val = json_string(jc_pg_text(r, i, ci));
                else {
                    size_t len = 0;
                    unsigned char *bytes =
                        PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, ci), &len);
                    char *b = bytes ? jc_b64url_encode(bytes, len, err) : NULL;
                    PQfreemem(bytes);
                    val = b ? json_string(b) : NULL;
                    free(b);
                }
                if (!val || json_array_append_new(row, val) < 0) {
                    json_decref(row);
                    row = NULL;
                }
            }
            if (!row || jc_export_write_row(out, t, row, err) < 0) {
                if (!row)
                    jc_err_set(err, JC_E_INTERNAL, "export: %s: a value could not be encoded",
                               t->name);
                PQclear(r);
                return -1;
            }
            (*count)++;
        }
        PQclear(r);
    }
    return 0;
}

int jc_pg_export(jc_store *st, FILE *out, size_t *rows, jc_err *err) {
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    size_t count = 0;
    /* one snapshot of every table */
    int rc = exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    if (rc == 0)
        rc = export_tables(c, out, &count, err);
    jc_pg_release(st, c); /* rolls the read-only transaction back */
    if (rows)
        *rows = count;
    return rc;
}

static int import_rows(pgc *c, FILE *in, size_t *count, jc_err *err) {
    for (size_t k = 0; k < jc_store_ntables; k++) {
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT EXISTS (SELECT 1 FROM \"%s\")", jc_store_tables[k].name);
        PGresult *r = PQexec(c->conn, sql);
        bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        bool used = ok && strcmp(jc_pg_text(r, 0, 0), "t") == 0;
        PQclear(r);
        if (!ok)
            return jc_err_set(err, JC_E_INTERNAL, "import: cannot read %s",
                              jc_store_tables[k].name);
        if (used)
            return jc_err_set(err, JC_E_CONFLICT, "import: the store is not empty (table %s)",
                              jc_store_tables[k].name);
    }
    bool prepared[16] = {false};
    bool header = false;
    for (;;) {
        const jc_store_table *t;
        json_t *row;
        int r = jc_export_read_row(in, &header, &t, &row, err);
        if (r <= 0)
            return r;
        size_t k = (size_t)(t - jc_store_tables);
        char name[16];
        snprintf(name, sizeof(name), "import%zu", k);
        if (!prepared[k]) {
            char sql[1024];
            if (table_sql(t, true, sql, sizeof(sql), err) < 0) {
                json_decref(row);
                return -1;
            }
            PGresult *p = PQprepare(c->conn, name, sql, 0, NULL);
            bool ok = PQresultStatus(p) == PGRES_COMMAND_OK;
            if (!ok)
                jc_err_set(err, JC_E_INTERNAL, "import: %s: %s", t->name, PQresultErrorMessage(p));
            PQclear(p);
            if (!ok) {
                json_decref(row);
                return -1;
            }
            prepared[k] = true;
        }
        const char *values[32] = {0};
        int lengths[32] = {0}, formats[32] = {0};
        char nums[32][24];
        unsigned char *owned[32] = {0};
        int rc = 0;
        for (size_t i = 0; i < t->ncols && i < 32; i++) {
            json_t *v = json_array_get(row, i);
            if (json_is_null(v))
                continue;
            if (t->cols[i].type == 'i') {
                snprintf(nums[i], sizeof(nums[i]), "%lld", (long long)json_integer_value(v));
                values[i] = nums[i];
            } else if (t->cols[i].type == 't') {
                values[i] = json_string_value(v);
            } else {
                size_t len;
                owned[i] = jc_export_bytes(v, &len, err);
                if (!owned[i] || len > INT32_MAX) {
                    rc = -1;
                    break;
                }
                values[i] = (const char *)owned[i];
                lengths[i] = (int)len;
                formats[i] = 1;
            }
        }
        if (rc == 0) {
            PGresult *x = PQexecPrepared(c->conn, name, (int)t->ncols, values, lengths, formats, 0);
            if (PQresultStatus(x) != PGRES_COMMAND_OK)
                rc = jc_err_set(err, JC_E_INVALID, "import: %s: %s", t->name,
                                PQresultErrorMessage(x));
            PQclear(x);
        }
        for (size_t i = 0; i < 32; i++)
            free(owned[i]);
        json_decref(row);
        if (rc < 0)
            return -1;
        (*count)++;
    }
}

int jc_pg_import(jc_store *st, FILE *in, size_t *rows, jc_err *err) {
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    size_t count = 0;
    int rc = exec_ok(c, "BEGIN", err);
    /* the load may take longer than one statement's timeout in total, never one row */
    if (rc == 0)
        rc = exec_ok(c, "SET LOCAL idle_in_transaction_session_timeout = 0", err);
    if (rc == 0)
        rc = import_rows(c, in, &count, err);
    /* the sequences continue after the imported keys; the claim filter's runtime column
     * (PostgreSQL only) is derived from the spec */
    for (size_t k = 0; rc == 0 && k < jc_store_ntables; k++) {
        if (!jc_store_tables[k].has_seq)
            continue;
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT setval(pg_get_serial_sequence('%s', 'seq'), coalesce(max(seq), 0) + 1,"
                 " false) FROM \"%s\"",
                 jc_store_tables[k].name, jc_store_tables[k].name);
        rc = exec_ok(c, sql, err);
    }
    if (rc == 0)
        rc = exec_ok(c, "UPDATE jobs SET runtime = spec::jsonb ->> 'runtime'", err);
    if (rc == 0)
        rc = exec_ok(c, "COMMIT", err);
    /* prepared import statements are not in the cache: a fresh connection next time */
    c->broken = true;
    jc_pg_release(st, c);
    if (rc == 0 && rows)
        *rows = count;
    return rc;
}
