/* spool.h: finished executions waiting for the API server, kept on disk.
 *
 * When a job ends, its result and every log byte the server has not yet acknowledged go
 * into one file, written atomically and fsync'd, before `complete` is first sent. The file
 * is removed only when the server has acknowledged the last log chunk and then the
 * `complete`. After a restart the daemon reads the spool back and delivers each entry in
 * the order the jobs finished, logs first. Resending is safe: the server treats a log chunk
 * it already holds and a repeated `complete` with the same lease token as duplicates.
 * Entries hold lease tokens, so the directory is 0700 and the files 0600. */
#ifndef JOBCELL_ORC_SPOOL_H
#define JOBCELL_ORC_SPOOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"

typedef struct jc_spool {
    char *dir;
    bool fsync;
    uint64_t next_seq;
} jc_spool;

typedef struct jc_spool_entry {
    uint64_t seq;
    char execution_id[64];
    char lease_token[64];
    uint64_t log_offset; /* absolute offset of log[0] */
    unsigned char *log;  /* owned */
    size_t log_len;
    bool log_truncated; /* the server already said truncated: send no log bytes */
    json_t *result;     /* owned: the result record */
} jc_spool_entry;

/* Open (create, mode 0700) the spool directory. */
int jc_spool_open(jc_spool *sp, const char *dir, bool fsync, jc_err *err);
void jc_spool_close(jc_spool *sp);
/* Write an entry; assigns e->seq. */
int jc_spool_write(jc_spool *sp, jc_spool_entry *e, jc_err *err);
/* Remove a delivered entry. */
int jc_spool_remove(jc_spool *sp, const jc_spool_entry *e, jc_err *err);
/* Read every entry, oldest first. A damaged file is renamed *.bad and skipped (logged).
 * *out (owned: jc_spool_entries_free) gets the array. */
int jc_spool_load(jc_spool *sp, jc_spool_entry **out, size_t *n, jc_err *err);
void jc_spool_entry_clear(jc_spool_entry *e);
void jc_spool_entries_free(jc_spool_entry *v, size_t n);
/* Number of entry files present. */
size_t jc_spool_count(const jc_spool *sp);

#endif
