/* fill_finished.h: put n finished jobs (one succeeded execution and a 6-byte log each,
 * finished at `finished` + i ms) straight into a SQLite store, for the prune test and
 * bench/prune. Test and benchmark code only: it writes the store's tables directly. */
#ifndef JOBCELL_FILL_FINISHED_H
#define JOBCELL_FILL_FINISHED_H

#include <stdint.h>

/* 0, or -1 with the SQLite error on stderr. */
int jc_fill_finished_jobs(const char *path, long n, int64_t finished);

#endif
