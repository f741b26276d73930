/* prune_fixture.h: the prune test's and bench/prune's shared set-up. jc_fill_finished_jobs
 * puts n finished jobs (one succeeded execution and a 6-byte log each,
 * finished at `finished` + i ms) straight into a SQLite store, for the prune test and
 * bench/prune. Test and benchmark code only: it writes the store's tables directly. */
#ifndef JOBCELL_PRUNE_FIXTURE_H
#define JOBCELL_PRUNE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "maintenance.h"

/* 0, or -1 with the SQLite error on stderr. */
int jc_fill_finished_jobs(const char *path, long n, int64_t finished);

/* A prune run on a thread of its own (jc_prune_main is its start routine): the caller
 * fills st, cfg and now, then reads rc, err and rep once done is true. */
typedef struct jc_pruner {
    jc_store *st;
    jc_api_config *cfg;
    int64_t now;
    jc_prune_report rep;
    int rc;
    jc_err err;
    volatile bool done;
} jc_pruner;

void *jc_prune_main(void *arg);

#endif
