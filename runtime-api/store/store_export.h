/* store_export.h: moving a whole store from one backend to another.
 *
 * jc_store_export() writes every table of the store as JSON lines: a first line
 * {"jobcell_export": 1, "backend": "sqlite", "schema": N}, then one line per row,
 * {"table": "jobs", "row": [values in the column order of jc_store_tables]} (text and
 * integers as JSON, NULL as null, binary log bytes as base64url). jc_store_import() loads
 * such a stream into an EMPTY store of either backend, in one transaction: all of it or
 * nothing. Ids, times, lease tokens, token hashes and order keys are kept, so cursors,
 * leases and API tokens stay valid across the move.
 *
 * Servers must be stopped while a store is exported (a running server keeps changing
 * it). */
#ifndef JOBCELL_STORE_EXPORT_H
#define JOBCELL_STORE_EXPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "store.h"

typedef struct jc_store_column {
    const char *name;
    char type; /* 'i' integer, 't' text, 'b' bytes */
} jc_store_column;

typedef struct jc_store_table {
    const char *name;
    const jc_store_column *cols;
    size_t ncols;
    const char *order; /* column list of a stable order */
    bool has_seq;      /* the first column is an auto-increment "seq" */
} jc_store_table;

/* Every table, in an order that satisfies the foreign keys when loaded. */
extern const jc_store_table jc_store_tables[];
extern const size_t jc_store_ntables;

/* Write the store to out. *rows (may be NULL) gets the number of rows written. */
int jc_store_export(jc_store *st, FILE *out, size_t *rows, jc_err *err);
/* Load an export into an empty store (JC_E_CONFLICT when it holds anything). */
int jc_store_import(jc_store *st, FILE *in, size_t *rows, jc_err *err);

/* For the backends (store_export.c). */
/* One line: {"table": t->name, "row": row}. Steals row. */
int jc_export_write_row(FILE *out, const jc_store_table *t, json_t *row, jc_err *err);
int jc_export_write_header(FILE *out, const char *backend, int schema, jc_err *err);
/* The next row of the stream: 1 with *t and *row (owned) set, 0 at the end, or -1. The
 * header line is checked and skipped (*header_seen, false at the start); every row is checked
 * against its table's columns (count and types), so a backend can bind the values as they are. */
int jc_export_read_row(FILE *in, bool *header_seen, const jc_store_table **t, json_t **row,
                       jc_err *err);
/* A 'b' value of a row: the decoded bytes (owned) and their length. */
unsigned char *jc_export_bytes(const json_t *v, size_t *len, jc_err *err);

#endif
