/* sqlite_schedules.c: the SQLite side of store_schedules.h.
 *
 * Shares the calling thread's connection with sqlite.c (sqlite_ext.h), so a tick's job
 * insert and the schedule's advance commit together. Statements are prepared per call:
 * schedule operations are rare next to claims and log appends. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cleanup.h"
#include "sqlite_db.h"
#include "sqlite_ext.h"
#include "store_schedules.h"

static void finalizep(sqlite3_stmt **s) {
    if (*s)
        sqlite3_finalize(*s);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static int db_err(sqlite3 *db, jc_err *err, const char *step) {
    int rc = sqlite3_extended_errcode(db);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return jc_err_set(err, JC_E_UNAVAILABLE, "store busy: %s", step);
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return jc_err_set(err, JC_E_CONFLICT, "store: %s: already exists", step);
    return jc_err_set(err, JC_E_INTERNAL, "store: %s: %s", step, sqlite3_errmsg(db));
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, jc_err *err) {
    sqlite3_stmt *s = NULL;
    if (!db)
        return NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        db_err(db, err, "prepare");
        return NULL;
    }
    return s;
}

/* 1 a row, 0 done, -1 error. */
static int step(sqlite3 *db, sqlite3_stmt *s, jc_err *err, const char *what) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return db_err(db, err, what);
}

static const char *text(sqlite3_stmt *s, int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

/* ---- the transaction helpers of sqlite_ext.h ------------------------------------- */

int jc_sqlite_tx(jc_store *st, jc_sqlite_tx_fn fn, void *arg, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    if (!c || jc_sq_begin(c, err) < 0)
        return -1;
    int r = fn(st, c->db, arg, err);
    if (r < 0 || jc_sq_commit(c, err) < 0) {
        jc_sq_rollback(c);
        return -1;
    }
    return r;
}

sqlite3 *jc_sqlite_db(jc_store *st, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    return c ? c->db : NULL;
}

int jc_sqlite_job_insert(jc_store *st, const jc_job_new *in, jc_err *err) {
    conn *c = jc_sq_conn(st, err);
    return c ? jc_sqlite_job_insert_conn(c, in, err) : -1;
}

#define SCHED_COLS                                                                                 \
    "id, owner, name, cron, timezone, job, overlap, catchup, jitter_s, paused, start_at,"          \
    " end_at, created_at, updated_at, next_tick, next_run_at, pending_tick, last_tick, fired,"     \
    " skipped, missed, seq"

static void from_row(sqlite3_stmt *s, jc_schedule *o) {
    memset(o, 0, sizeof(*o));
    snprintf(o->id, sizeof(o->id), "%s", text(s, 0));
    snprintf(o->owner, sizeof(o->owner), "%s", text(s, 1));
    snprintf(o->name, sizeof(o->name), "%s", text(s, 2));
    snprintf(o->cron, sizeof(o->cron), "%s", text(s, 3));
    snprintf(o->timezone, sizeof(o->timezone), "%s", text(s, 4));
    o->job = json_loads(text(s, 5), 0, NULL);
    o->overlap = (jc_overlap)sqlite3_column_int(s, 6);
    o->catchup = (jc_catchup)sqlite3_column_int(s, 7);
    o->jitter_s = sqlite3_column_int64(s, 8);
    o->paused = sqlite3_column_int(s, 9) != 0;
    o->start_at = sqlite3_column_int64(s, 10);
    o->end_at = sqlite3_column_int64(s, 11);
    o->created_at = sqlite3_column_int64(s, 12);
    o->updated_at = sqlite3_column_int64(s, 13);
    o->next_tick = sqlite3_column_int64(s, 14);
    o->next_run_at = sqlite3_column_int64(s, 15);
    o->pending_tick = sqlite3_column_int64(s, 16);
    o->last_tick = sqlite3_column_int64(s, 17);
    o->fired = sqlite3_column_int64(s, 18);
    o->skipped = sqlite3_column_int64(s, 19);
    o->missed = sqlite3_column_int64(s, 20);
}

/* Run a SELECT of SCHED_COLS into an owned array. */
static int select_many(sqlite3 *db, sqlite3_stmt *s, size_t limit, jc_schedule **out, size_t *n,
                       int64_t *last_seq, jc_err *err) {
    *out = NULL;
    *n = 0;
    jc_schedule *v = calloc(limit ? limit : 1, sizeof(*v));
    if (!v)
        return jc_err_sys(err, ENOMEM, "store: schedules");
    size_t k = 0;
    int r;
    while (k < limit && (r = step(db, s, err, "schedules")) == 1) {
        from_row(s, &v[k]);
        if (last_seq)
            *last_seq = sqlite3_column_int64(s, 21);
        k++;
    }
    if (k < limit && r < 0) {
        jc_schedules_free(v, k);
        return -1;
    }
    *out = v;
    *n = k;
    return 0;
}

/* ---- definitions ------------------------------------------------------------------- */

typedef struct create_arg {
    const jc_schedule *s;
} create_arg;

static int create_tx(jc_store *st, sqlite3 *db, void *arg, jc_err *err) {
    (void)st;
    const jc_schedule *s = ((create_arg *)arg)->s;
    _cleanup_stmt_ sqlite3_stmt *c =
        prepare(db, "SELECT count(*) FROM schedules WHERE owner = ?", err);
    if (!c || jc_sq_bind_db(db, c, err, "s", s->owner) < 0 ||
        step(db, c, err, "count schedules") != 1)
        return -1;
    if (sqlite3_column_int64(c, 0) >= JC_SCHEDULES_PER_OWNER)
        return jc_err_set(err, JC_E_CONFLICT, "at most %d schedules per user",
                          JC_SCHEDULES_PER_OWNER);
    _cleanup_stmt_ sqlite3_stmt *ins =
        prepare(db,
                "INSERT INTO schedules (id, owner, name, cron, timezone, job, overlap, catchup,"
                " jitter_s, paused, start_at, end_at, created_at, updated_at, next_tick,"
                " next_run_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                err);
    if (!ins || jc_sq_bind_db(db, ins, err, "ssssssiiiittiitt", s->id, s->owner, s->name, s->cron,
                              s->timezone, NULL, (int64_t)s->overlap, (int64_t)s->catchup,
                              s->jitter_s, (int64_t)s->paused, s->start_at, s->end_at,
                              s->created_at, s->updated_at, s->next_tick, s->next_run_at) < 0)
        return -1;
    _cleanup_free_ char *job = json_dumps(s->job, JSON_COMPACT);
    if (!job || sqlite3_bind_text(ins, 6, job, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        return jc_err_sys(err, ENOMEM, "store: schedule job");
    return step(db, ins, err, "insert schedule") < 0 ? -1 : 0;
}

int jc_sqlite_schedule_create(jc_store *st, const jc_schedule *s, jc_err *err) {
    create_arg a = {s};
    return jc_sqlite_tx(st, create_tx, &a, err) < 0 ? -1 : 0;
}

int jc_sqlite_schedule_get(jc_store *st, const char *id, const char *owner, jc_schedule *out,
                           jc_err *err) {
    sqlite3 *db = jc_sqlite_db(st, err);
    _cleanup_stmt_ sqlite3_stmt *s =
        prepare(db, "SELECT " SCHED_COLS " FROM schedules WHERE id = ?", err);
    if (!s || jc_sq_bind_db(db, s, err, "s", id) < 0)
        return -1;
    int r = step(db, s, err, "get schedule");
    if (r < 0)
        return -1;
    if (r == 0 || (owner && strcmp(text(s, 1), owner) != 0))
        return jc_err_set(err, JC_E_NOT_FOUND, "no schedule %s", id);
    from_row(s, out);
    return 0;
}

int jc_sqlite_schedule_list(jc_store *st, const char *owner, size_t limit, const char *cursor,
                            jc_schedule **out, size_t *n, char **next_cursor, jc_err *err) {
    *next_cursor = NULL;
    int64_t after = 0;
    if (cursor) {
        char *end;
        errno = 0;
        long long v = strtoll(cursor, &end, 10);
        if (!*cursor || *end || errno || v < 0)
            return jc_err_field(err, JC_E_INVALID, "cursor", "cursor is not valid");
        after = v;
    }
    sqlite3 *db = jc_sqlite_db(st, err);
    _cleanup_stmt_ sqlite3_stmt *s =
        prepare(db,
                "SELECT " SCHED_COLS " FROM schedules WHERE seq > ? AND (?2 IS NULL OR owner = ?2)"
                " ORDER BY seq LIMIT ?",
                err);
    if (!s || jc_sq_bind_db(db, s, err, "isi", after, owner, (int64_t)limit + 1) < 0)
        return -1;
    int64_t last = 0;
    if (select_many(db, s, limit, out, n, &last, err) < 0)
        return -1;
    if (*n == limit && step(db, s, err, "schedules") == 1) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRId64, last);
        *next_cursor = strdup(buf);
    }
    return 0;
}

int jc_sqlite_schedule_update(jc_store *st, const jc_schedule *s, int64_t now, jc_err *err) {
    sqlite3 *db = jc_sqlite_db(st, err);
    _cleanup_stmt_ sqlite3_stmt *u =
        prepare(db,
                "UPDATE schedules SET name = ?, cron = ?, timezone = ?, job = ?, overlap = ?,"
                " catchup = ?, jitter_s = ?, paused = ?, start_at = ?, end_at = ?, updated_at = ?,"
                " next_tick = ?, next_run_at = ?,"
                " pending_tick = CASE WHEN ?8 THEN NULL ELSE pending_tick END WHERE id = ?",
                err);
    if (!u ||
        jc_sq_bind_db(db, u, err, "sssjiiiittitts", s->name, s->cron, s->timezone, s->job,
                      (int64_t)s->overlap, (int64_t)s->catchup, s->jitter_s, (int64_t)s->paused,
                      s->start_at, s->end_at, now, s->next_tick, s->next_run_at, s->id) < 0)
        return -1;
    /* ?8 (paused) is reused in the CASE; the id is then ?14. */
    if (step(db, u, err, "update schedule") < 0)
        return -1;
    if (sqlite3_changes(db) == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no schedule %s", s->id);
    return 0;
}

int jc_sqlite_schedule_delete(jc_store *st, const char *id, const char *owner, jc_err *err) {
    sqlite3 *db = jc_sqlite_db(st, err);
    _cleanup_stmt_ sqlite3_stmt *d =
        prepare(db, "DELETE FROM schedules WHERE id = ? AND (?2 IS NULL OR owner = ?2)", err);
    if (!d || jc_sq_bind_db(db, d, err, "ss", id, owner) < 0 ||
        step(db, d, err, "delete schedule") < 0)
        return -1;
    if (sqlite3_changes(db) == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no schedule %s", id);
    return 0;
}

/* ---- the clock's queries ----------------------------------------------------------- */

int jc_sqlite_schedule_due(jc_store *st, int64_t now, size_t limit, jc_schedule **out, size_t *n,
                           jc_err *err) {
    sqlite3 *db = jc_sqlite_db(st, err);
    _cleanup_stmt_ sqlite3_stmt *s =
        prepare(db,
                "SELECT " SCHED_COLS " FROM schedules WHERE paused = 0 AND next_run_at <= ?"
                " ORDER BY next_run_at LIMIT ?",
                err);
    if (!s || jc_sq_bind_db(db, s, err, "ii", now, (int64_t)limit) < 0)
        return -1;
    return select_many(db, s, limit, out, n, NULL, err);
}

int jc_sqlite_schedule_pending(jc_store *st, size_t limit, jc_schedule **out, size_t *n,
                               jc_err *err) {
    sqlite3 *db = jc_sqlite_db(st, err);
    _cleanup_stmt_ sqlite3_stmt *s = prepare(db,
                                             "SELECT " SCHED_COLS " FROM schedules WHERE"
                                             " pending_tick IS NOT NULL AND paused = 0 LIMIT ?",
                                             err);
    if (!s || jc_sq_bind_db(db, s, err, "i", (int64_t)limit) < 0)
        return -1;
    return select_many(db, s, limit, out, n, NULL, err);
}

int jc_sqlite_schedule_next_due(jc_store *st, int64_t *next_run_at, bool *pending, jc_err *err) {
    sqlite3 *db = jc_sqlite_db(st, err);
    _cleanup_stmt_ sqlite3_stmt *s =
        prepare(db,
                "SELECT (SELECT min(next_run_at) FROM schedules WHERE paused = 0),"
                " EXISTS (SELECT 1 FROM schedules WHERE pending_tick IS NOT NULL AND paused = 0)",
                err);
    if (!s || step(db, s, err, "next due") != 1)
        return -1;
    *next_run_at = sqlite3_column_int64(s, 0);
    *pending = sqlite3_column_int(s, 1) != 0;
    return 0;
}

/* ---- firing ------------------------------------------------------------------------ */

typedef struct fire_arg {
    const jc_schedule_fire *f;
    jc_fire_outcome outcome;
    int64_t tick;
} fire_arg;

/* Runs of this schedule whose job is still queued, claimed or running. */
static int live_runs(sqlite3 *db, const char *id, int64_t *n, jc_err *err) {
    _cleanup_stmt_ sqlite3_stmt *s =
        prepare(db,
                "SELECT count(*) FROM schedule_runs r JOIN jobs j ON j.id = r.job_id"
                " JOIN executions e ON e.id = j.latest_exe"
                " WHERE r.schedule_id = ? AND e.status IN (0, 1, 2)",
                err);
    if (!s || jc_sq_bind_db(db, s, err, "s", id) < 0 || step(db, s, err, "live runs") != 1)
        return -1;
    *n = sqlite3_column_int64(s, 0);
    return 0;
}

static int create_run(jc_store *st, sqlite3 *db, const jc_schedule_fire *f, int64_t tick,
                      jc_err *err) {
    if (jc_sqlite_job_insert(st, &f->job, err) < 0)
        return -1;
    _cleanup_stmt_ sqlite3_stmt *s = prepare(
        db, "INSERT INTO schedule_runs (schedule_id, tick, job_id, fired_at) VALUES (?, ?, ?, ?)",
        err);
    if (!s || jc_sq_bind_db(db, s, err, "stsi", f->schedule_id, tick, f->job.job_id,
                            f->job.created_at) < 0)
        return -1;
    return step(db, s, err, "record run") < 0 ? -1 : 0;
}

static int fire_tx(jc_store *st, sqlite3 *db, void *arg, jc_err *err) {
    fire_arg *a = arg;
    const jc_schedule_fire *f = a->f;
    a->outcome = JC_FIRE_STALE;
    _cleanup_stmt_ sqlite3_stmt *s = prepare(
        db, "SELECT next_tick, paused, pending_tick, overlap FROM schedules WHERE id = ?", err);
    if (!s || jc_sq_bind_db(db, s, err, "s", f->schedule_id) < 0)
        return -1;
    int r = step(db, s, err, "schedule");
    if (r < 0)
        return -1;
    if (r == 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "no schedule %s", f->schedule_id);
    int64_t next_tick = sqlite3_column_int64(s, 0), pending = sqlite3_column_int64(s, 2);
    bool paused = sqlite3_column_int(s, 1) != 0;
    jc_overlap overlap = (jc_overlap)sqlite3_column_int(s, 3);

    if (f->kind == JC_FIRE_TRIGGER) {
        if (create_run(st, db, f, 0, err) < 0)
            return -1;
        a->outcome = JC_FIRED;
    } else if (f->kind == JC_FIRE_PENDING) {
        int64_t live = 0;
        if (paused || pending == 0)
            return 0;
        if (live_runs(db, f->schedule_id, &live, err) < 0)
            return -1;
        if (live > 0)
            return 0;
        if (create_run(st, db, f, pending, err) < 0)
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
            if (overlap != JC_OVERLAP_ALLOW && live_runs(db, f->schedule_id, &live, err) < 0)
                return -1;
            if (live > 0 && overlap == JC_OVERLAP_QUEUE && pending == 0) {
                pending = f->tick;
                a->outcome = JC_FIRE_QUEUED;
            } else if (live > 0) {
                skipped = 1;
                a->outcome = JC_FIRE_SKIPPED;
            } else {
                if (create_run(st, db, f, f->tick, err) < 0)
                    return -1;
                a->outcome = JC_FIRED;
                a->tick = f->tick;
            }
        }
        _cleanup_stmt_ sqlite3_stmt *u =
            prepare(db,
                    "UPDATE schedules SET next_tick = ?, next_run_at = ?, last_tick = ?,"
                    " missed = missed + ?, skipped = skipped + ?, pending_tick = ? WHERE id = ?",
                    err);
        if (!u ||
            jc_sq_bind_db(db, u, err, "ttiiits", f->next_tick, f->next_run_at, f->tick, f->missed,
                          skipped, pending, f->schedule_id) < 0 ||
            step(db, u, err, "advance schedule") < 0)
            return -1;
    }
    if (a->outcome == JC_FIRED) {
        _cleanup_stmt_ sqlite3_stmt *u = prepare(
            db, "UPDATE schedules SET fired = fired + 1, pending_tick = ? WHERE id = ?", err);
        if (!u || jc_sq_bind_db(db, u, err, "ts", pending, f->schedule_id) < 0 ||
            step(db, u, err, "count run") < 0)
            return -1;
    }
    return 0;
}

int jc_sqlite_schedule_fire(jc_store *st, const jc_schedule_fire *f, jc_fire_outcome *outcome,
                            int64_t *tick_out, jc_err *err) {
    fire_arg a = {.f = f};
    jc_err e;
    jc_err_clear(&e);
    if (jc_sqlite_tx(st, fire_tx, &a, &e) < 0) {
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

static int exec(sqlite3 *db, const char *sql, jc_err *err) {
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(db, err, sql);
    return 0;
}

static int many_tx(jc_store *st, sqlite3 *db, void *arg, jc_err *err) {
    many_arg *m = arg;
    for (size_t i = 0; i < m->n; i++) {
        if (exec(db, "SAVEPOINT fire", err) < 0)
            return -1;
        fire_arg a = {.f = &m->f[i]};
        jc_err e;
        jc_err_clear(&e);
        if (fire_tx(st, db, &a, &e) < 0) {
            /* Undo this one only: its job insert must not outlive its failed run record. */
            if (exec(db, "ROLLBACK TO fire", err) < 0)
                return -1;
            /* CONFLICT: the tick exists already; NOT_FOUND: deleted meanwhile. */
            m->out[i] = e.code == JC_E_CONFLICT || e.code == JC_E_NOT_FOUND ? JC_FIRE_STALE
                                                                            : JC_FIRE_FAILED;
        } else {
            m->out[i] = a.outcome;
        }
        if (exec(db, "RELEASE fire", err) < 0)
            return -1;
    }
    return 0;
}

int jc_sqlite_schedule_fire_many(jc_store *st, const jc_schedule_fire *f, size_t n,
                                 jc_fire_outcome *outcomes, jc_err *err) {
    many_arg m = {f, n, outcomes};
    return jc_sqlite_tx(st, many_tx, &m, err) < 0 ? -1 : 0;
}

/* ---- runs -------------------------------------------------------------------------- */

int jc_sqlite_schedule_runs(jc_store *st, const char *schedule_id, size_t limit,
                            jc_schedule_run **out, size_t *n, jc_err *err) {
    *out = NULL;
    *n = 0;
    sqlite3 *db = jc_sqlite_db(st, err);
    _cleanup_stmt_ sqlite3_stmt *s =
        prepare(db,
                "SELECT r.tick, r.job_id, j.latest_exe, r.fired_at FROM schedule_runs r"
                " JOIN jobs j ON j.id = r.job_id WHERE r.schedule_id = ? ORDER BY r.seq DESC"
                " LIMIT ?",
                err);
    if (!s || jc_sq_bind_db(db, s, err, "si", schedule_id, (int64_t)limit) < 0)
        return -1;
    jc_schedule_run *v = calloc(limit ? limit : 1, sizeof(*v));
    if (!v)
        return jc_err_sys(err, ENOMEM, "store: runs");
    size_t k = 0;
    int r;
    while (k < limit && (r = step(db, s, err, "runs")) == 1) {
        v[k].tick = sqlite3_column_int64(s, 0);
        snprintf(v[k].job_id, sizeof(v[k].job_id), "%s", text(s, 1));
        snprintf(v[k].execution_id, sizeof(v[k].execution_id), "%s", text(s, 2));
        v[k].fired_at = sqlite3_column_int64(s, 3);
        k++;
    }
    if (k < limit && r < 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = k;
    return 0;
}

int jc_sqlite_schedule_of_job(jc_store *st, const char *job_id, char schedule_id[JC_ID_MAX],
                              int64_t *tick, bool *found, jc_err *err) {
    *found = false;
    sqlite3 *db = jc_sqlite_db(st, err);
    _cleanup_stmt_ sqlite3_stmt *s =
        prepare(db, "SELECT schedule_id, tick FROM schedule_runs WHERE job_id = ?", err);
    if (!s || jc_sq_bind_db(db, s, err, "s", job_id) < 0)
        return -1;
    int r = step(db, s, err, "schedule of job");
    if (r < 0)
        return -1;
    if (r == 1) {
        snprintf(schedule_id, JC_ID_MAX, "%s", text(s, 0));
        *tick = sqlite3_column_int64(s, 1);
        *found = true;
    }
    return 0;
}
