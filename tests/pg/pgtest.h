/* pgtest.h: a database of its own for a C test on the throwaway cluster (pgcluster.sh).
 *
 * JC_TEST_PG holds the cluster's conninfo when the PostgreSQL variant of a test runs;
 * jc_pgtest_create() makes a fresh, uniquely named database and gives its conninfo,
 * jc_pgtest_drop() removes it (closing whatever still uses it). Header-only. */
#ifndef JOBCELL_TESTS_PGTEST_H
#define JOBCELL_TESTS_PGTEST_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The cluster's conninfo, or NULL when this run is the SQLite variant. */
static inline const char *jc_pgtest_cluster(void) {
    const char *v = getenv("JC_TEST_PG");
    return v && *v ? v : NULL;
}

static inline int jc_pgtest_exec(const char *sql) {
    PGconn *c = PQconnectdb(jc_pgtest_cluster());
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgtest: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "pgtest: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* A new database: name gets its name, conninfo the cluster's with dbname replaced. */
static inline int jc_pgtest_create(char name[64], char *conninfo, size_t len) {
    static unsigned counter;
    snprintf(name, 64, "jct_%ld_%u", (long)getpid(), counter++);
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    if (jc_pgtest_exec(sql) < 0)
        return -1;
    /* conninfo: later keywords win, so appending dbname overrides the cluster's */
    int n = snprintf(conninfo, len, "%s dbname=%s", jc_pgtest_cluster(), name);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static inline void jc_pgtest_drop(const char *name) {
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    jc_pgtest_exec(sql);
}

#endif
