/* maintenance.h: jobcell-api's own upkeep (private to runtime-api/).
 *
 * Three tasks run on one thread, each at its own interval: the reaper (expired leases),
 * prune (retention, incremental vacuum, growth measures) and scan (security signals,
 * signals.c). Every tick of a task first takes the task's lease in the store, so when
 * several servers share one store each tick runs on exactly one of them. Each run ends
 * in a recorded outcome — success only when the task did all its work — and a failed
 * task keeps GET /health "degraded" until it succeeds again. */
#ifndef JOBCELL_API_MAINTENANCE_H
#define JOBCELL_API_MAINTENANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "store_upkeep.h"

typedef enum jc_task { JC_TASK_REAPER = 0, JC_TASK_PRUNE, JC_TASK_SCAN, JC_TASK_COUNT } jc_task;

/* "reaper", "prune", "scan". */
const char *jc_task_name(jc_task t);

/* The retention of the configuration (days and seconds to ms). */
void jc_retention_from_config(const jc_api_config *cfg, jc_retention *r);

typedef struct jc_prune_report {
    jc_prune_counts removed;
    int64_t batches;
    bool vacuum_supported;
    int64_t freed_pages, free_pages;
} jc_prune_report;

/* Remove everything past its retention at `now`, in batches of prune.batch_rows with
 * prune.pause_ms between them, then give up to prune.vacuum_pages free pages back.
 * Stops early (and fails) when *stop becomes true. Shared by the prune task and
 * `jobcell-api prune`. */
int jc_prune_run(jc_store *st, const jc_api_config *cfg, int64_t now, const volatile bool *stop,
                 jc_prune_report *out, jc_err *err);

/* Start and stop the maintenance thread (one per process). */
int jc_maintenance_start(jc_api *api, jc_err *err);
void jc_maintenance_stop(void);

typedef enum jc_task_run {
    JC_TASK_RAN = 0,      /* it ran and did its work */
    JC_TASK_NOT_MINE = 1, /* another server holds this tick */
} jc_task_run;

/* Run one tick of a task as the thread does: take the lease, run, record the outcome,
 * count it. -1 when the task failed (err says why: the lease could not be taken, or the
 * work could not be done). Used by the thread and by tests. */
int jc_maintenance_tick(jc_api *api, jc_task t, jc_task_run *ran, jc_err *err);

/* The tasks failing now (GET /health): their names into names[], at most max. */
size_t jc_maintenance_failing(jc_api *api, const char **names, size_t max);

/* Metrics in the Prometheus text format (owned): task runs, failures, last success,
 * durations; store rows and bytes per kind with their thresholds; pruned rows. */
char *jc_maintenance_metrics_text(void);

/* The scan (signals.c): run every detection rule over [now - window, now] and record
 * what is new. -1 when any rule's read or any record failed (the others still ran). */
typedef struct jc_scan_report {
    size_t hits, recorded;
} jc_scan_report;
int jc_scan_run(jc_api *api, int64_t now, jc_scan_report *out, jc_err *err);
/* GET /v1/signals (admin). */
int jc_signal_routes(jc_router *r, jc_api *api, jc_err *err);
/* Signals recorded by this process, by signal (Prometheus text, owned). */
char *jc_signals_metrics_text(void);

#endif
