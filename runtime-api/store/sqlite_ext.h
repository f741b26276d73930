/* sqlite_ext.h: what sqlite.c lends the other files of the SQLite backend (private to
 * runtime-api/store/).
 *
 * A store extension (sqlite_schedules.c) keeps its SQL in its own file but must share
 * the calling thread's connection and transaction with the core tables: a schedule tick
 * creates a job and advances the schedule in ONE transaction, or not at all. */
#ifndef JOBCELL_STORE_SQLITE_EXT_H
#define JOBCELL_STORE_SQLITE_EXT_H

#include <sqlite3.h>

#include "store.h"

/* Migration 2: the schedules tables (sqlite.c applies it in its versioned sequence).
 *
 * schedule_runs holds one row per job a schedule created. UNIQUE (schedule_id, tick) is
 * the last line of the exactly-once guarantee: even two servers that both decided to
 * fire the same tick cannot both commit it. Manual triggers have a NULL tick (NULLs are
 * distinct for UNIQUE). */
#define JC_SQLITE_SCHEDULES_SCHEMA                                                                 \
    "CREATE TABLE schedules ("                                                                     \
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"                                                      \
    " id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, name TEXT NOT NULL, cron TEXT NOT NULL,"       \
    " timezone TEXT NOT NULL, job TEXT NOT NULL, overlap INTEGER NOT NULL,"                        \
    " catchup INTEGER NOT NULL, jitter_s INTEGER NOT NULL, paused INTEGER NOT NULL,"               \
    " start_at INTEGER, end_at INTEGER, created_at INTEGER NOT NULL,"                              \
    " updated_at INTEGER NOT NULL, next_tick INTEGER, next_run_at INTEGER,"                        \
    " pending_tick INTEGER, last_tick INTEGER, fired INTEGER NOT NULL DEFAULT 0,"                  \
    " skipped INTEGER NOT NULL DEFAULT 0, missed INTEGER NOT NULL DEFAULT 0);"                     \
    "CREATE INDEX schedules_owner ON schedules(owner, seq);"                                       \
    "CREATE INDEX schedules_due ON schedules(next_run_at) WHERE paused = 0;"                       \
    "CREATE INDEX schedules_pending ON schedules(id) WHERE pending_tick IS NOT NULL;"              \
    "CREATE TABLE schedule_runs ("                                                                 \
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"                                                      \
    " schedule_id TEXT NOT NULL, tick INTEGER, job_id TEXT NOT NULL UNIQUE,"                       \
    " fired_at INTEGER NOT NULL, UNIQUE (schedule_id, tick));"                                     \
    "CREATE INDEX schedule_runs_schedule ON schedule_runs(schedule_id, seq);"

/* Run fn inside one BEGIN IMMEDIATE transaction on the calling thread's connection:
 * committed when fn returns >= 0 (its value is returned), rolled back when it returns -1.
 * (sqlite_schedules.c) */
typedef int (*jc_sqlite_tx_fn)(jc_store *st, sqlite3 *db, void *arg, jc_err *err);
int jc_sqlite_tx(jc_store *st, jc_sqlite_tx_fn fn, void *arg, jc_err *err);
/* The calling thread's connection (for reads outside a transaction). */
sqlite3 *jc_sqlite_db(jc_store *st, jc_err *err);
/* Insert a job and its first execution (jc_store_job_create without idempotency), inside
 * the caller's transaction on the calling thread's connection. */
int jc_sqlite_job_insert(jc_store *st, const jc_job_new *in, jc_err *err);

/* sqlite_jobs.c: the insert itself, on a connection (sqlite_db.h). */
struct conn;
int jc_sqlite_job_insert_conn(struct conn *c, const jc_job_new *in, jc_err *err);

#endif
