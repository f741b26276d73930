/* store_schedules.h: schedules (recurring jobs) in the store.
 *
 * A schedule is a cron expression in a time zone plus a job spec. The store keeps the
 * definition, the next tick (the cron instant) and the next run time (the tick plus the
 * schedule's fixed jitter), and the runs (jobs) it created.
 *
 * Exactly once per tick: jc_store_schedule_fire() creates the tick's job and advances
 * the schedule in ONE transaction, guarded twice: the caller names the next_tick it saw
 * (compare-and-set: a second server that saw the same tick finds it already advanced),
 * and schedule_runs has UNIQUE (schedule_id, tick). A crash before the commit leaves
 * nothing behind; after it, everything.
 *
 * Times are milliseconds since the epoch; 0 means "not set". */
#ifndef JOBCELL_STORE_SCHEDULES_H
#define JOBCELL_STORE_SCHEDULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/cron.h"
#include "jobcell/error.h"
#include "store.h"

#define JC_SCHEDULE_TZ_MAX 129
#define JC_SCHEDULES_PER_OWNER 10000

typedef enum jc_overlap {
    JC_OVERLAP_SKIP = 0,  /* a tick while a run is live creates nothing (counted skipped) */
    JC_OVERLAP_QUEUE = 1, /* at most one tick waits for the live run to end */
    JC_OVERLAP_ALLOW = 2, /* every tick creates a run */
} jc_overlap;

typedef enum jc_catchup {
    JC_CATCHUP_NONE = 0, /* ticks missed while the server was down are dropped */
    JC_CATCHUP_ONE = 1,  /* they are fired once, together */
} jc_catchup;

typedef struct jc_schedule {
    char id[JC_ID_MAX];
    char owner[JC_STORE_USER_MAX];
    char name[JC_STORE_NAME_MAX];
    char cron[JC_CRON_EXPR_MAX + 1];
    char timezone[JC_SCHEDULE_TZ_MAX];
    json_t *job; /* the validated, complete job spec */
    jc_overlap overlap;
    jc_catchup catchup;
    int64_t jitter_s;
    bool paused;
    int64_t start_at, end_at; /* 0: none */
    int64_t created_at, updated_at;
    int64_t next_tick;    /* the next cron instant to fire; 0: none (ended) */
    int64_t next_run_at;  /* next_tick + jitter */
    int64_t pending_tick; /* overlap queue: the tick waiting for the live run; 0: none */
    int64_t last_tick;
    int64_t fired, skipped, missed; /* counters */
} jc_schedule;

void jc_schedule_clear(jc_schedule *s);
void jc_schedules_free(jc_schedule *v, size_t n);

/* Store a new schedule (every field as given). More than JC_SCHEDULES_PER_OWNER for one
 * owner is JC_E_CONFLICT. */
int jc_store_schedule_create(jc_store *st, const jc_schedule *s, jc_err *err);
/* One schedule. JC_E_NOT_FOUND when unknown or (owner not NULL) not that owner's. */
int jc_store_schedule_get(jc_store *st, const char *id, const char *owner, jc_schedule *out,
                          jc_err *err);
/* Schedules, oldest first, limit 1–500; *next_cursor (owned) NULL on the last page. */
int jc_store_schedule_list(jc_store *st, const char *owner, size_t limit, const char *cursor,
                           jc_schedule **out, size_t *n, char **next_cursor, jc_err *err);
/* Replace the definition, pause state and next tick of s->id (the counters stay). A
 * pending queued tick is dropped when the schedule is paused. JC_E_NOT_FOUND. */
int jc_store_schedule_update(jc_store *st, const jc_schedule *s, int64_t now, jc_err *err);
/* Delete a schedule (its runs' jobs stay). JC_E_NOT_FOUND. */
int jc_store_schedule_delete(jc_store *st, const char *id, const char *owner, jc_err *err);

/* Active (not paused) schedules with next_run_at <= now, earliest first, at most limit. */
int jc_store_schedule_due(jc_store *st, int64_t now, size_t limit, jc_schedule **out, size_t *n,
                          jc_err *err);
/* Active schedules holding a pending (queued) tick, at most limit. */
int jc_store_schedule_pending(jc_store *st, size_t limit, jc_schedule **out, size_t *n,
                              jc_err *err);
/* The earliest next_run_at of an active schedule (0: none), and whether any active
 * schedule holds a pending tick. */
int jc_store_schedule_next_due(jc_store *st, int64_t *next_run_at, bool *pending, jc_err *err);

typedef enum jc_fire_kind {
    JC_FIRE_TICK = 0, /* the clock: fire (or skip) a tick and advance */
    JC_FIRE_PENDING,  /* overlap queue: release the pending tick if no run is live */
    JC_FIRE_TRIGGER,  /* a manual run now, outside the clock (no overlap rule) */
} jc_fire_kind;

typedef enum jc_fire_outcome {
    JC_FIRED = 1,     /* a job was created */
    JC_FIRE_SKIPPED,  /* overlap: the tick was dropped and counted */
    JC_FIRE_QUEUED,   /* overlap queue: the tick waits for the live run */
    JC_FIRE_ADVANCED, /* nothing to fire (missed ticks): only advanced */
    JC_FIRE_STALE,    /* someone else already handled this tick (or nothing to do) */
    JC_FIRE_FAILED,   /* jc_store_schedule_fire_many: this one failed and was undone */
} jc_fire_outcome;

typedef struct jc_schedule_fire {
    jc_fire_kind kind;
    const char *schedule_id;
    int64_t expect_next_tick;       /* TICK: the next_tick the caller saw */
    bool fire;                      /* TICK: create a run for `tick` (false: only advance) */
    int64_t tick;                   /* TICK: the tick to record (fired or skipped) */
    int64_t next_tick, next_run_at; /* TICK: the new values (0: none, the schedule ended) */
    int64_t missed;                 /* TICK: ticks dropped or folded into this one */
    jc_job_new job; /* the job to create (ids, owner, spec, times chosen by the caller) */
} jc_schedule_fire;

/* Fire one schedule atomically (see the header comment). *tick_out (may be NULL) gets the
 * tick recorded for the created run (PENDING: the released tick). */
int jc_store_schedule_fire(jc_store *st, const jc_schedule_fire *f, jc_fire_outcome *outcome,
                           int64_t *tick_out, jc_err *err);

/* Fire several schedules in ONE transaction (the clock's batches: one commit instead of
 * one per tick). Each fire is its own savepoint: one that fails is undone alone and gets
 * JC_FIRE_FAILED (a tick that already exists gets JC_FIRE_STALE); the others commit. */
int jc_store_schedule_fire_many(jc_store *st, const jc_schedule_fire *f, size_t n,
                                jc_fire_outcome *outcomes, jc_err *err);

typedef struct jc_schedule_run {
    int64_t tick; /* 0: a manual trigger */
    char job_id[JC_ID_MAX];
    char execution_id[JC_ID_MAX]; /* the job's latest execution */
    int64_t fired_at;
} jc_schedule_run;

/* A schedule's runs, newest first, at most limit (owned array: free()). */
int jc_store_schedule_runs(jc_store *st, const char *schedule_id, size_t limit,
                           jc_schedule_run **out, size_t *n, jc_err *err);
/* The schedule and tick that created a job: *found false when none. */
int jc_store_schedule_of_job(jc_store *st, const char *job_id, char schedule_id[JC_ID_MAX],
                             int64_t *tick, bool *found, jc_err *err);

#endif
