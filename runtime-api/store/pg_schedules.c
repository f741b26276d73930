/* pg_schedules.c: the PostgreSQL side of store_schedules.h.
 *
 * Exactly once per tick across servers: a fire locks the schedule row (FOR UPDATE), so
 * two servers firing the same schedule run one after the other, and the second finds
 * next_tick already advanced (the compare-and-set of the header); the advance itself is
 * conditional on the next_tick the caller saw; and schedule_runs keeps UNIQUE
 * (schedule_id, tick) as the last guard. The tick's job, its run record and the advance
 * commit together, or not at all. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"
#include "store_schedules.h"

#define SCHED_COLS                                                                                 \
    "id, owner, name, cron, timezone, job, overlap, catchup, jitter_s, paused, start_at,"          \
    " end_at, created_at, updated_at, next_tick, next_run_at, pending_tick, last_tick, fired,"     \
    " skipped, missed, seq"

static void from_row(const PGresult *r, int i, jc_schedule *o) {
    memset(o, 0, sizeof(*o));
    jc_pg_copy(r, i, 0, o->id, sizeof(o->id));
    jc_pg_copy(r, i, 1, o->owner, sizeof(o->owner));
    jc_pg_copy(r, i, 2, o->name, sizeof(o->name));
    jc_pg_copy(r, i, 3, o->cron, sizeof(o->cron));
    jc_pg_copy(r, i, 4, o->timezone, sizeof(o->timezone));
    o->job = json_loads(jc_pg_text(r, i, 5), 0, NULL);
    o->overlap = (jc_overlap)jc_pg_int(r, i, 6);
    o->catchup = (jc_catchup)jc_pg_int(r, i, 7);
    o->jitter_s = jc_pg_int(r, i, 8);
    o->paused = jc_pg_int(r, i, 9) != 0;
    o->start_at = jc_pg_int(r, i, 10);
    o->end_at = jc_pg_int(r, i, 11);
    o->created_at = jc_pg_int(r, i, 12);
    o->updated_at = jc_pg_int(r, i, 13);
    o->next_tick = jc_pg_int(r, i, 14);
    o->next_run_at = jc_pg_int(r, i, 15);
    o->pending_tick = jc_pg_int(r, i, 16);
    o->last_tick = jc_pg_int(r, i, 17);
    o->fired = jc_pg_int(r, i, 18);
    o->skipped = jc_pg_int(r, i, 19);
    o->missed = jc_pg_int(r, i, 20);
}

/* Rows of SCHED_COLS into an owned array (at most limit). */
static int many(const PGresult *r, size_t limit, jc_schedule **out, size_t *n, jc_err *err) {
    *out = NULL;
    *n = 0;
    size_t rows = (size_t)PQntuples(r);
    size_t k = rows < limit ? rows : limit;
    jc_schedule *v = calloc(k ? k : 1, sizeof(*v));
    if (!v)
        return jc_err_sys(err, ENOMEM, "store: schedules");
    for (size_t i = 0; i < k; i++)
        from_row(r, (int)i, &v[i]);
    *out = v;
    *n = k;
    return 0;
}

/* ---- definitions ------------------------------------------------------------------- */

static int create_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql_lock[] =
        "SELECT pg_advisory_xact_lock(hashtext('jobcell.schedules.' || $1))";
    static const char sql_count[] = "SELECT count(*) FROM schedules WHERE owner = $1";
    static const char sql_insert[] =
        "INSERT INTO schedules (id, owner, name, cron, timezone, job, overlap, catchup,"
        " jitter_s, paused, start_at, end_at, created_at, updated_at, next_tick, next_run_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
    (void)st;
    const jc_schedule *s = arg;
    PGresult *r = jc_pg_q(c, sql_lock, err, "s", s->owner);
    if (!r)
        return -1;
    PQclear(r);
    r = jc_pg_q(c, sql_count, err, "s", s->owner);
    if (!r)
        return -1;
    int64_t count = jc_pg_int(r, 0, 0);
    PQclear(r);
    if (count >= JC_SCHEDULES_PER_OWNER)
        return jc_err_set(err, JC_E_CONFLICT, "at most %d schedules per user",
                          JC_SCHEDULES_PER_OWNER);
    return jc_pg_x(c, sql_insert, err, "sssssjiiiittiitt", s->id, s->owner, s->name, s->cron,
                   s->timezone, s->job, (int64_t)s->overlap, (int64_t)s->catchup, s->jitter_s,
                   (int64_t)s->paused, s->start_at, s->end_at, s->created_at, s->updated_at,
                   s->next_tick, s->next_run_at) < 0
               ? -1
               : 0;
}

int jc_pg_schedule_create(jc_store *st, const jc_schedule *s, jc_err *err) {
    return jc_pg_tx(st, create_tx, (void *)s, err) < 0 ? -1 : 0;
}

int jc_pg_schedule_get(jc_store *st, const char *id, const char *owner, jc_schedule *out,
                       jc_err *err) {
    static const char sql[] = "SELECT " SCHED_COLS " FROM schedules WHERE id = $1";
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "s", id);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    bool found = PQntuples(r) == 1 && (!owner || strcmp(jc_pg_text(r, 0, 1), owner) == 0);
    if (found)
        from_row(r, 0, out);
    PQclear(r);
    if (!found)
        return jc_err_set(err, JC_E_NOT_FOUND, "no schedule %s", id);
    return 0;
}

int jc_pg_schedule_list(jc_store *st, const char *owner, size_t limit, const char *cursor,
                        jc_schedule **out, size_t *n, char **next_cursor, jc_err *err) {
    static const char sql[] =
        "SELECT " SCHED_COLS " FROM schedules WHERE seq > $1 AND ($2::text IS NULL OR"
        " owner = $2::text) ORDER BY seq LIMIT $3";
    *next_cursor = NULL;
    *out = NULL;
    *n = 0;
    int64_t after = 0;
    if (cursor) {
        char *end;
        errno = 0;
        long long v = strtoll(cursor, &end, 10);
        if (!*cursor || *end || errno || v < 0)
            return jc_err_field(err, JC_E_INVALID, "cursor", "cursor is not valid");
        after = v;
    }
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "isi", after, owner, (int64_t)limit + 1);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rc = many(r, limit, out, n, err);
    if (rc == 0 && (size_t)PQntuples(r) > limit && *n > 0) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRId64, jc_pg_int(r, (int)*n - 1, 21));
        *next_cursor = strdup(buf);
    }
    PQclear(r);
    return rc;
}

typedef struct update_arg {
    const jc_schedule *s;
    int64_t now;
    int64_t changed;
} update_arg;

static int update_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql[] =
        "UPDATE schedules SET name = $1, cron = $2, timezone = $3, job = $4, overlap = $5,"
        " catchup = $6, jitter_s = $7, paused = $8::smallint, start_at = $9, end_at = $10,"
        " updated_at = $11, next_tick = $12, next_run_at = $13,"
        " pending_tick = CASE WHEN $8::smallint <> 0 THEN NULL ELSE pending_tick END WHERE id = "
        "$14";
    (void)st;
    update_arg *a = arg;
    const jc_schedule *s = a->s;
    a->changed = jc_pg_x(c, sql, err, "sssjiiiittitts", s->name, s->cron, s->timezone, s->job,
                         (int64_t)s->overlap, (int64_t)s->catchup, s->jitter_s, (int64_t)s->paused,
                         s->start_at, s->end_at, a->now, s->next_tick, s->next_run_at, s->id);
    return a->changed < 0 ? -1 : 0;
}

int jc_pg_schedule_update(jc_store *st, const jc_schedule *s, int64_t now, jc_err *err) {
    update_arg a = {s, now, 0};
    if (jc_pg_run(st, update_fn, &a, err) < 0)
        return -1;
    if (a.changed == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no schedule %s", s->id);
    return 0;
}

typedef struct delete_arg {
    const char *id, *owner;
    int64_t changed;
} delete_arg;

static int delete_fn(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql[] =
        "DELETE FROM schedules WHERE id = $1 AND ($2::text IS NULL OR owner = $2::text)";
    (void)st;
    delete_arg *a = arg;
    a->changed = jc_pg_x(c, sql, err, "ss", a->id, a->owner);
    return a->changed < 0 ? -1 : 0;
}

int jc_pg_schedule_delete(jc_store *st, const char *id, const char *owner, jc_err *err) {
    delete_arg a = {id, owner, 0};
    if (jc_pg_run(st, delete_fn, &a, err) < 0)
        return -1;
    if (a.changed == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no schedule %s", id);
    return 0;
}

/* ---- the clock's queries ----------------------------------------------------------- */

int jc_pg_schedule_due(jc_store *st, int64_t now, size_t limit, jc_schedule **out, size_t *n,
                       jc_err *err) {
    static const char sql[] = "SELECT " SCHED_COLS " FROM schedules WHERE paused = 0 AND"
                              " next_run_at <= $1 ORDER BY next_run_at LIMIT $2";
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "ii", now, (int64_t)limit);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rc = many(r, limit, out, n, err);
    PQclear(r);
    return rc;
}

int jc_pg_schedule_pending(jc_store *st, size_t limit, jc_schedule **out, size_t *n, jc_err *err) {
    static const char sql[] = "SELECT " SCHED_COLS " FROM schedules WHERE"
                              " pending_tick IS NOT NULL AND paused = 0 LIMIT $1";
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "i", (int64_t)limit);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    int rc = many(r, limit, out, n, err);
    PQclear(r);
    return rc;
}

int jc_pg_schedule_next_due(jc_store *st, int64_t *next_run_at, bool *pending, jc_err *err) {
    static const char sql[] =
        "SELECT (SELECT min(next_run_at) FROM schedules WHERE paused = 0),"
        " EXISTS (SELECT 1 FROM schedules WHERE pending_tick IS NOT NULL AND paused = 0)";
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "");
    jc_pg_release(st, c);
    if (!r)
        return -1;
    *next_run_at = jc_pg_int(r, 0, 0);
    *pending = strcmp(jc_pg_text(r, 0, 1), "t") == 0;
    PQclear(r);
    return 0;
}

/* ---- firing ------------------------------------------------------------------------ */

typedef struct fire_arg {
    const jc_schedule_fire *f;
    jc_fire_outcome outcome;
    int64_t tick;
} fire_arg;

static int live_runs(pgc *c, const char *id, int64_t *n, jc_err *err) {
    static const char sql[] = "SELECT count(*) FROM schedule_runs r JOIN jobs j ON j.id ="
                              " r.job_id JOIN executions e ON e.id = j.latest_exe"
                              " WHERE r.schedule_id = $1 AND e.status IN (0, 1, 2)";
    PGresult *r = jc_pg_q(c, sql, err, "s", id);
    if (!r)
        return -1;
    *n = jc_pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int create_run(jc_store *st, pgc *c, const jc_schedule_fire *f, int64_t tick, jc_err *err) {
    static const char sql[] =
        "INSERT INTO schedule_runs (schedule_id, tick, job_id, fired_at) VALUES ($1, $2, $3, $4)";
    if (jc_pg_job_insert(c, &f->job, err) < 0)
        return -1;
    if (jc_pg_x(c, sql, err, "stsi", f->schedule_id, tick, f->job.job_id, f->job.created_at) < 0)
        return -1;
    return jc_pg_notify_work(st, c, err);
}

/* One fire inside the caller's transaction (jc_pg_tx, or a savepoint of fire_many). */
static int fire_one(jc_store *st, pgc *c, fire_arg *a, jc_err *err) {
    static const char sql_get[] = "SELECT next_tick, paused, pending_tick, overlap FROM schedules"
                                  " WHERE id = $1 FOR UPDATE";
    static const char sql_advance[] =
        "UPDATE schedules SET next_tick = $1, next_run_at = $2, last_tick = $3,"
        " missed = missed + $4, skipped = skipped + $5, pending_tick = $6 WHERE id = $7"
        " AND next_tick = $8";
    static const char sql_count[] =
        "UPDATE schedules SET fired = fired + 1, pending_tick = $1 WHERE id = $2";
    const jc_schedule_fire *f = a->f;
    a->outcome = JC_FIRE_STALE;
    a->tick = 0;
    PGresult *r = jc_pg_q(c, sql_get, err, "s", f->schedule_id);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return jc_err_set(err, JC_E_NOT_FOUND, "no schedule %s", f->schedule_id);
    }
    int64_t next_tick = jc_pg_int(r, 0, 0), pending = jc_pg_int(r, 0, 2);
    bool paused = jc_pg_int(r, 0, 1) != 0;
    jc_overlap overlap = (jc_overlap)jc_pg_int(r, 0, 3);
    PQclear(r);

    if (f->kind == JC_FIRE_TRIGGER) {
        if (create_run(st, c, f, 0, err) < 0)
            return -1;
        a->outcome = JC_FIRED;
    } else if (f->kind == JC_FIRE_PENDING) {
        int64_t live = 0;
        if (paused || pending == 0)
            return 0;
        if (live_runs(c, f->schedule_id, &live, err) < 0)
            return -1;
        if (live > 0)
            return 0;
        if (create_run(st, c, f, pending, err) < 0)
            return -1;
        a->outcome = JC_FIRED;
        a->tick = pending;
        pending = 0;
    } else {
        /* Compare-and-set: another server (or an earlier pass) advanced it already. */
        if (paused || next_tick == 0 || next_tick != f->expect_next_tick)
            return 0;
        int64_t skipped = 0;
        a->outcome = JC_FIRE_ADVANCED;
        if (f->fire) {
            int64_t live = 0;
            if (overlap != JC_OVERLAP_ALLOW && live_runs(c, f->schedule_id, &live, err) < 0)
                return -1;
            if (live > 0 && overlap == JC_OVERLAP_QUEUE && pending == 0) {
                pending = f->tick;
                a->outcome = JC_FIRE_QUEUED;
            } else if (live > 0) {
                skipped = 1;
                a->outcome = JC_FIRE_SKIPPED;
            } else {
                if (create_run(st, c, f, f->tick, err) < 0)
                    return -1;
                a->outcome = JC_FIRED;
                a->tick = f->tick;
            }
        }
        int64_t n = jc_pg_x(c, sql_advance, err, "ttiiitsi", f->next_tick, f->next_run_at, f->tick,
                            f->missed, skipped, pending, f->schedule_id, f->expect_next_tick);
        if (n < 0)
            return -1;
        if (n == 0) /* cannot happen under the row lock; refuse rather than fire twice */
            return jc_err_set(err, JC_E_CONFLICT, "store: schedule %s moved", f->schedule_id);
    }
    if (a->outcome == JC_FIRED && jc_pg_x(c, sql_count, err, "ts", pending, f->schedule_id) < 0)
        return -1;
    return 0;
}

static int fire_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    return fire_one(st, c, arg, err);
}

int jc_pg_schedule_fire(jc_store *st, const jc_schedule_fire *f, jc_fire_outcome *outcome,
                        int64_t *tick_out, jc_err *err) {
    fire_arg a = {.f = f};
    jc_err e;
    jc_err_clear(&e);
    if (jc_pg_tx(st, fire_tx, &a, &e) < 0) {
        /* The UNIQUE (schedule_id, tick) guard fired: this tick exists already. */
        if (e.code == JC_E_CONFLICT) {
            *outcome = JC_FIRE_STALE;
            return 0;
        }
        if (err)
            *err = e;
        return -1;
    }
    *outcome = a.outcome;
    if (tick_out)
        *tick_out = a.tick;
    return 0;
}

typedef struct many_arg {
    const jc_schedule_fire *f;
    size_t n;
    jc_fire_outcome *out;
} many_arg;

static int sp(pgc *c, const char *sql, jc_err *err) {
    return jc_pg_x(c, sql, err, "") < 0 ? -1 : 0;
}

static int many_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    static const char sql_sp[] = "SAVEPOINT fire";
    static const char sql_undo[] = "ROLLBACK TO SAVEPOINT fire";
    static const char sql_release[] = "RELEASE SAVEPOINT fire";
    many_arg *m = arg;
    for (size_t i = 0; i < m->n; i++) {
        if (sp(c, sql_sp, err) < 0)
            return -1;
        fire_arg a = {.f = &m->f[i]};
        jc_err e;
        jc_err_clear(&e);
        if (fire_one(st, c, &a, &e) < 0) {
            /* a rolled-back transaction is run again whole by jc_pg_tx */
            if (c->retry || c->broken) {
                *err = e;
                return -1;
            }
            /* Undo this one only: its job insert must not outlive its failed run record. */
            if (sp(c, sql_undo, err) < 0)
                return -1;
            /* CONFLICT: the tick exists already; NOT_FOUND: deleted meanwhile. */
            m->out[i] = e.code == JC_E_CONFLICT || e.code == JC_E_NOT_FOUND ? JC_FIRE_STALE
                                                                            : JC_FIRE_FAILED;
        } else {
            m->out[i] = a.outcome;
        }
        if (sp(c, sql_release, err) < 0)
            return -1;
    }
    return 0;
}

int jc_pg_schedule_fire_many(jc_store *st, const jc_schedule_fire *f, size_t n,
                             jc_fire_outcome *outcomes, jc_err *err) {
    many_arg m = {f, n, outcomes};
    return jc_pg_tx(st, many_tx, &m, err) < 0 ? -1 : 0;
}

/* ---- runs -------------------------------------------------------------------------- */

int jc_pg_schedule_runs(jc_store *st, const char *schedule_id, size_t limit, jc_schedule_run **out,
                        size_t *n, jc_err *err) {
    static const char sql[] =
        "SELECT r.tick, r.job_id, j.latest_exe, r.fired_at FROM schedule_runs r"
        " JOIN jobs j ON j.id = r.job_id WHERE r.schedule_id = $1 ORDER BY r.seq DESC LIMIT $2";
    *out = NULL;
    *n = 0;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "si", schedule_id, (int64_t)limit);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    jc_schedule_run *v = calloc(limit ? limit : 1, sizeof(*v));
    if (!v) {
        PQclear(r);
        return jc_err_sys(err, ENOMEM, "store: runs");
    }
    size_t k = 0;
    for (int i = 0; i < PQntuples(r) && k < limit; i++, k++) {
        v[k].tick = jc_pg_int(r, i, 0);
        jc_pg_copy(r, i, 1, v[k].job_id, sizeof(v[k].job_id));
        jc_pg_copy(r, i, 2, v[k].execution_id, sizeof(v[k].execution_id));
        v[k].fired_at = jc_pg_int(r, i, 3);
    }
    PQclear(r);
    *out = v;
    *n = k;
    return 0;
}

int jc_pg_schedule_of_job(jc_store *st, const char *job_id, char schedule_id[JC_ID_MAX],
                          int64_t *tick, bool *found, jc_err *err) {
    static const char sql[] = "SELECT schedule_id, tick FROM schedule_runs WHERE job_id = $1";
    *found = false;
    pgc *c = jc_pg_acquire(st, err);
    if (!c)
        return -1;
    PGresult *r = jc_pg_q(c, sql, err, "s", job_id);
    jc_pg_release(st, c);
    if (!r)
        return -1;
    if (PQntuples(r) == 1) {
        jc_pg_copy(r, 0, 0, schedule_id, JC_ID_MAX);
        *tick = jc_pg_int(r, 0, 1);
        *found = true;
    }
    PQclear(r);
    return 0;
}
