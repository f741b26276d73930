/* sqlite_export.c: store_export.h on SQLite. The SQL names only the tables and columns of
 * jc_store_tables (static identifiers); every value is bound. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/b64url.h"
#include "jobcell/cleanup.h"
#include "sqlite_db.h"
#include "store_export.h"

static void finalizep(sqlite3_stmt **s) {
    if (*s)
        sqlite3_finalize(*s);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

/* "SELECT "a", "b" FROM "t" ORDER BY …" or "INSERT INTO "t" ("a", "b") VALUES (?, ?)". */
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
                w = snprintf(sql + n, len - n, i ? ", ?" : "?");
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

static int schema_version(sqlite3 *db) {
    sqlite3_stmt *s = NULL;
    int v = 0;
    if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &s, NULL) ==
            SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

int jc_sqlite_export(jc_store *st, FILE *out, size_t *rows, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    if (!c)
        return -1;
    size_t count = 0;
    /* one read transaction: a consistent snapshot of every table */
    if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return jc_sq_fail(c->db, err, "export: begin");
    int rc = jc_export_write_header(out, "sqlite", schema_version(c->db), err);
    for (size_t k = 0; rc == 0 && k < jc_store_ntables; k++) {
        const jc_store_table *t = &jc_store_tables[k];
        char sql[1024];
        if (table_sql(t, false, sql, sizeof(sql), err) < 0) {
            rc = -1;
            break;
        }
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK) {
            rc = jc_sq_fail(c->db, err, "export: prepare");
            break;
        }
        int r;
        while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
            json_t *row = json_array();
            for (size_t i = 0; row && i < t->ncols; i++) {
                int ci = (int)i;
                json_t *v;
                if (sqlite3_column_type(s, ci) == SQLITE_NULL)
                    v = json_null();
                else if (t->cols[i].type == 'i')
                    v = json_integer(sqlite3_column_int64(s, ci));
                else if (t->cols[i].type == 't')
                    v = json_string(jc_sq_text(s, ci));
                else {
                    char *b = jc_b64url_encode(sqlite3_column_blob(s, ci),
                                               (size_t)sqlite3_column_bytes(s, ci), err);
                    v = b ? json_string(b) : NULL;
                    free(b);
                }
                if (!v || json_array_append_new(row, v) < 0) {
                    json_decref(row);
                    row = NULL;
                }
            }
            if (!row) {
                rc = jc_err_set(err, JC_E_INTERNAL, "export: %s: a value could not be encoded",
                                t->name);
                break;
            }
            rc = jc_export_write_row(out, t, row, err);
            count++;
        }
        if (rc == 0 && r != SQLITE_DONE)
            rc = jc_sq_fail(c->db, err, "export: read");
    }
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    if (rows)
        *rows = count;
    return rc;
}

int jc_sqlite_import(jc_store *st, FILE *in, size_t *rows, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    size_t count = 0;
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < jc_store_ntables; k++) {
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT EXISTS (SELECT 1 FROM \"%s\")", jc_store_tables[k].name);
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK ||
            sqlite3_step(s) != SQLITE_ROW)
            rc = jc_sq_fail(c->db, err, "import: check");
        else if (sqlite3_column_int(s, 0))
            rc = jc_err_set(err, JC_E_CONFLICT, "import: the store is not empty (table %s)",
                            jc_store_tables[k].name);
    }
    /* one prepared INSERT per table, made on first use */
    sqlite3_stmt *ins[16] = {0};
    bool header = false;
    while (rc == 0) {
        const jc_store_table *t;
        json_t *row;
        int r = jc_export_read_row(in, &header, &t, &row, err);
        if (r <= 0) {
            rc = r;
            break;
        }
        size_t k = (size_t)(t - jc_store_tables);
        char sql[1024];
        if (!ins[k] && (table_sql(t, true, sql, sizeof(sql), err) < 0 ||
                        sqlite3_prepare_v2(c->db, sql, -1, &ins[k], NULL) != SQLITE_OK)) {
            if (err->code == JC_E_OK)
                jc_sq_fail(c->db, err, "import: prepare");
            json_decref(row);
            rc = -1;
            break;
        }
        sqlite3_stmt *s = ins[k];
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        for (size_t i = 0; rc == 0 && i < t->ncols; i++) {
            json_t *v = json_array_get(row, i);
            int ci = (int)i + 1;
            if (json_is_null(v))
                rc = sqlite3_bind_null(s, ci);
            else if (t->cols[i].type == 'i')
                rc = sqlite3_bind_int64(s, ci, json_integer_value(v));
            else if (t->cols[i].type == 't')
                rc = sqlite3_bind_text(s, ci, json_string_value(v), -1, SQLITE_TRANSIENT);
            else {
                size_t len;
                unsigned char *b = jc_export_bytes(v, &len, err);
                rc = b ? sqlite3_bind_blob64(s, ci, b, len, free) : -1;
            }
            if (rc != 0 && rc != -1)
                rc = jc_sq_fail(c->db, err, "import: bind");
        }
        json_decref(row);
        if (rc == 0 && sqlite3_step(s) != SQLITE_DONE)
            rc = jc_sq_fail(c->db, err, "import: insert");
        if (rc == 0)
            count++;
    }
    for (size_t k = 0; k < 16; k++)
        sqlite3_finalize(ins[k]);
    if (rc < 0 || jc_sq_commit(c, err) < 0) {
        jc_sq_rollback(c);
        return -1;
    }
    if (rows)
        *rows = count;
    return 0;
}
