/* prune_fixture.c: see prune_fixture.h. */
#include "prune_fixture.h"

#include <sqlite3.h>
#include <stdio.h>

int jc_fill_finished_jobs(const char *path, long n, int64_t finished) {
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *job = NULL, *exe = NULL, *chunk = NULL;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    rc |= sqlite3_prepare_v2(
        db,
        "INSERT INTO jobs (id, owner, name, spec, created_at, priority, timeout_s, max_attempts,"
        " backoff_s, backoff_max_s, on_failure, log_cap, latest_exe) VALUES (?1, 'old', 'old',"
        " '{\"runtime\":\"sh\",\"script\":\"true\"}', ?3, 0, 60, 1, 10, 600, 0, 1048576, ?2)",
        -1, &job, NULL);
    rc |= sqlite3_prepare_v2(
        db,
        "INSERT INTO executions (id, job_id, attempt, status, priority, sched, created_at,"
        " orchestrator_id, claimed_at, started_at, finished_at, result, log_bytes) VALUES (?2,"
        " ?1, 1, 3, 0, ?3, ?3, 'orc-old', ?3, ?3, ?4, '{\"reason\":\"exited\",\"exit_code\":0}',"
        " 6)",
        -1, &exe, NULL);
    rc |= sqlite3_prepare_v2(db,
                             "INSERT INTO log_chunks (exe_id, off, data) VALUES (?, 0, 'hello\n')",
                             -1, &chunk, NULL);
    for (long i = 0; rc == SQLITE_OK && i < n; i++) {
        char jid[40], eid[40];
        snprintf(jid, sizeof(jid), "job_old%019ld", i);
        snprintf(eid, sizeof(eid), "exe_old%019ld", i);
        sqlite3_bind_text(job, 1, jid, -1, SQLITE_STATIC);
        sqlite3_bind_text(job, 2, eid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(job, 3, finished - 1000);
        sqlite3_bind_text(exe, 1, jid, -1, SQLITE_STATIC);
        sqlite3_bind_text(exe, 2, eid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(exe, 3, finished - 1000);
        sqlite3_bind_int64(exe, 4, finished + i);
        sqlite3_bind_text(chunk, 1, eid, -1, SQLITE_STATIC);
        if (sqlite3_step(job) != SQLITE_DONE || sqlite3_step(exe) != SQLITE_DONE ||
            sqlite3_step(chunk) != SQLITE_DONE)
            rc = SQLITE_ERROR;
        sqlite3_reset(job);
        sqlite3_reset(exe);
        sqlite3_reset(chunk);
    }
    sqlite3_finalize(job);
    sqlite3_finalize(exe);
    sqlite3_finalize(chunk);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fprintf(stderr, "fill: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

void *jc_prune_main(void *arg) {
    jc_pruner *p = arg;
    p->rc = jc_prune_run(p->st, p->cfg, p->now, NULL, &p->rep, &p->err);
    p->done = true;
    return NULL;
}
