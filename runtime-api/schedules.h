/* schedules.h: recurring jobs in jobcell-api (private to runtime-api/).
 *
 * schedules.c serves /v1/schedules; scheduler.c is the clock: one thread that sleeps
 * until the earliest next run time (or until a schedule changes), fires what is due
 * through jc_store_schedule_fire(), and sleeps again. */
#ifndef JOBCELL_API_SCHEDULES_H
#define JOBCELL_API_SCHEDULES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "http.h"
#include "store_schedules.h"

/* A tick whose run time is at most this old fires even with catchup "none": a restart of a
 * few seconds is lateness, not an outage. */
#define JC_SCHEDULE_GRACE_MS 30000

/* Register the /v1/schedules routes. */
int jc_schedule_routes(jc_router *r, jc_api *api, jc_err *err);

/* Start and stop the clock thread (one per process). */
int jc_scheduler_start(jc_api *api, jc_err *err);
void jc_scheduler_stop(void);
/* A schedule was created or changed: recompute the sleep. Safe from any thread. */
void jc_scheduler_wake(void);

/* The scheduler's "now" in ms. The wall clock, unless the test-only environment variable
 * JOBCELL_TEST_CLOCK_FILE names a file holding the time in ms (tests move it forward to
 * let minutes pass instantly). Never set it in production. */
int64_t jc_scheduler_now_ms(void);

/* The schedule's fixed jitter in ms: a hash of its id, in [0, jitter_s × 1000]. */
int64_t jc_schedule_jitter_ms(const char *id, int64_t jitter_s);
/* The first tick strictly after `after` (ms) inside [start_at, end_at), and its run time
 * (tick + jitter); both 0 when the schedule has no more ticks. */
int jc_schedule_next(const jc_schedule *s, int64_t after, int64_t *tick, int64_t *run_at,
                     jc_err *err);

typedef struct jc_scheduler_pass {
    size_t fired, skipped, queued, missed, stale, released;
} jc_scheduler_pass;

/* One pass of the clock at `now` (injectable): fire or skip every due tick, release queued
 * ticks whose live run ended. Used by the thread and by tests. */
int jc_scheduler_run(jc_store *st, int64_t now, jc_scheduler_pass *out, jc_err *err);

/* Create a run of a schedule now, outside the clock (POST …/trigger). The new job's ids go
 * to job_id / exe_id. */
int jc_schedule_trigger(jc_store *st, const jc_schedule *s, char job_id[JC_ID_MAX],
                        char exe_id[JC_ID_MAX], jc_err *err);

/* Add "schedule": {"id", "tick"} to a job or execution object when a schedule created the
 * job. */
void jc_schedule_annotate(jc_api *api, const char *job_id, json_t *obj);

/* The scheduler's metrics in the Prometheus text format (owned), appended to /metrics. */
char *jc_scheduler_metrics_text(void);

#endif
