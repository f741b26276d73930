/* schedules.c: the /v1/schedules routes.
 *
 * Same rules as jobs: a user sees only its own schedules (another user's answers 404),
 * admins see all; every field typed and bounded, unknown fields rejected, errors naming
 * the field; the embedded job spec goes through the jobs' own validation. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "jobcell/cleanup.h"
#include "jobcell/cron.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "schedules.h"

#define MAX_JITTER_S 3600

static const char *const schedule_keys[] = {"name",     "cron",    "timezone", "job",
                                            "overlap",  "catchup", "jitter_s", "paused",
                                            "start_at", "end_at",  NULL};
static const char *const overlap_names[] = {"skip", "queue", "allow"};
static const char *const catchup_names[] = {"none", "one"};

static const char *scope_of(jc_req *req) {
    const jc_principal *p = jc_req_principal(req);
    return p->admin ? NULL : p->user;
}

/* 1–128 characters, no control characters (the job name rule). */
static bool name_valid(const char *s) {
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if (*p >= 0x80 && *p < 0xa0 && p > (const unsigned char *)s && p[-1] == 0xc2)
            return false;
        if (*p < 0x80 || *p >= 0xc0)
            chars++;
    }
    return chars >= 1 && chars <= 128;
}

static void audit(jc_req *req, const char *kind, const char *id) {
    jc_req_audit_op(req, kind, id); /* written with the request's outcome (audit.h) */
}

static json_t *time_or_null(int64_t ms) {
    return jc_time_json(ms);
}

static json_t *schedule_json(const jc_schedule *s) {
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:s, s:I, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
        " s:I, s:I, s:I}",
        "id", s->id, "owner", s->owner, "name", s->name, "cron", s->cron, "timezone", s->timezone,
        "job", s->job ? s->job : json_null(), "overlap", overlap_names[s->overlap], "catchup",
        catchup_names[s->catchup], "jitter_s", (json_int_t)s->jitter_s, "paused", s->paused,
        "start_at", time_or_null(s->start_at), "end_at", time_or_null(s->end_at), "created_at",
        time_or_null(s->created_at), "updated_at", time_or_null(s->updated_at), "next_run_at",
        time_or_null(s->paused ? 0 : s->next_run_at), "next_tick",
        time_or_null(s->paused ? 0 : s->next_tick), "last_tick", time_or_null(s->last_tick),
        "fired", (json_int_t)s->fired, "skipped", (json_int_t)s->skipped, "missed",
        (json_int_t)s->missed);
    if (o && s->pending_tick)
        json_object_set_new(o, "queued_tick", time_or_null(s->pending_tick));
    return o;
}

static int enum_field(const json_t *v, const char *field, const char *const *names, size_t n,
                      int *out, jc_err *err) {
    if (json_is_string(v))
        for (size_t i = 0; i < n; i++)
            if (strcmp(json_string_value(v), names[i]) == 0) {
                *out = (int)i;
                return 0;
            }
    return jc_err_field(err, JC_E_INVALID, field, "%s must be %s", field,
                        n == 3 ? "skip, queue or allow" : "none or one");
}

static int time_field(const json_t *v, const char *field, int64_t *out, jc_err *err) {
    if (!v || json_is_null(v)) {
        *out = 0;
        return 0;
    }
    int64_t ms;
    if (!json_is_string(v) || jc_time_parse_ms(json_string_value(v), &ms) < 0 || ms <= 0)
        return jc_err_field(err, JC_E_INVALID, field, "%s must be an RFC 3339 UTC time or null",
                            field);
    *out = ms;
    return 0;
}

/* Apply the members of body to s (a new schedule's defaults, or the stored one for a
 * PATCH), validating each. */
static int apply_fields(jc_api *api, const json_t *body, jc_schedule *s, jc_err *err) {
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        bool known = false;
        for (size_t i = 0; schedule_keys[i]; i++)
            known = known || strcmp(key, schedule_keys[i]) == 0;
        if (!known)
            return jc_err_field(err, JC_E_UNKNOWN_FIELD, key, "unknown field '%.64s'", key);
    }
    if ((v = json_object_get(body, "name"))) {
        if (!json_is_string(v) || !name_valid(json_string_value(v)))
            return jc_err_field(err, JC_E_INVALID, "name",
                                "name must be 1 to 128 printable characters");
        snprintf(s->name, sizeof(s->name), "%s", json_string_value(v));
    }
    if ((v = json_object_get(body, "cron"))) {
        jc_cron c;
        if (!json_is_string(v))
            return jc_err_field(err, JC_E_INVALID, "cron", "cron must be a string");
        if (jc_cron_parse(json_string_value(v), &c, err) < 0)
            return -1;
        snprintf(s->cron, sizeof(s->cron), "%s", json_string_value(v));
    }
    if ((v = json_object_get(body, "timezone"))) {
        if (!json_is_string(v))
            return jc_err_field(err, JC_E_INVALID, "timezone", "timezone must be a string");
        if (!jc_tz_get(json_string_value(v), err))
            return -1;
        snprintf(s->timezone, sizeof(s->timezone), "%s", json_string_value(v));
    }
    if ((v = json_object_get(body, "job"))) {
        if (!json_is_object(v))
            return jc_err_field(err, JC_E_INVALID, "job", "job must be a job spec object");
        const json_t *when = json_object_get(v, "scheduled_for");
        if (when && !json_is_null(when))
            return jc_err_field(err, JC_E_INVALID, "job.scheduled_for",
                                "job.scheduled_for cannot be used in a schedule: the schedule"
                                " decides when its jobs run");
        jc_job_fields f;
        if (jc_job_validate(api, v, &f, err) < 0) {
            if (err) {
                char field[sizeof(err->field)];
                snprintf(field, sizeof(field), "job%s%.120s", err->field[0] ? "." : "", err->field);
                snprintf(err->field, sizeof(err->field), "%s", field);
                jc_err_prefix(err, "job");
            }
            return -1;
        }
        if (f.secrets) {
            /* secrets are sealed to one job's id; a schedule's jobs get new ids each run */
            json_decref(f.spec);
            return jc_err_field(err, JC_E_INVALID, "job.secrets",
                                "job.secrets cannot be used in a schedule");
        }
        json_decref(s->job);
        s->job = f.spec;
        if (!s->name[0])
            snprintf(s->name, sizeof(s->name), "%s", f.name);
        else if (!json_object_get(v, "name"))
            /* an unnamed job takes the schedule's name: its runs are easy to recognise */
            json_object_set_new(s->job, "name", json_string(s->name));
    }
    int e = 0;
    if ((v = json_object_get(body, "overlap"))) {
        if (enum_field(v, "overlap", overlap_names, 3, &e, err) < 0)
            return -1;
        s->overlap = (jc_overlap)e;
    }
    if ((v = json_object_get(body, "catchup"))) {
        if (enum_field(v, "catchup", catchup_names, 2, &e, err) < 0)
            return -1;
        s->catchup = (jc_catchup)e;
    }
    if ((v = json_object_get(body, "jitter_s"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > MAX_JITTER_S)
            return jc_err_field(err, JC_E_INVALID, "jitter_s",
                                "jitter_s must be an integer from 0 to %d", MAX_JITTER_S);
        s->jitter_s = json_integer_value(v);
    }
    if ((v = json_object_get(body, "paused"))) {
        if (!json_is_boolean(v))
            return jc_err_field(err, JC_E_INVALID, "paused", "paused must be true or false");
        s->paused = json_is_true(v);
    }
    if (json_object_get(body, "start_at") &&
        time_field(json_object_get(body, "start_at"), "start_at", &s->start_at, err) < 0)
        return -1;
    if (json_object_get(body, "end_at") &&
        time_field(json_object_get(body, "end_at"), "end_at", &s->end_at, err) < 0)
        return -1;
    if (s->start_at && s->end_at && s->end_at <= s->start_at)
        return jc_err_field(err, JC_E_INVALID, "end_at", "end_at must be after start_at");
    if (!s->cron[0])
        return jc_err_field(err, JC_E_INVALID, "cron", "cron is required");
    if (!s->job)
        return jc_err_field(err, JC_E_INVALID, "job", "job is required");
    return 0;
}

/* Recompute the next tick from now (after a create, an edit or a resume). */
static int reschedule(jc_schedule *s, int64_t now, jc_err *err) {
    return jc_schedule_next(s, now, &s->next_tick, &s->next_run_at, err);
}

static int reply_schedule(jc_req *req, unsigned status, const jc_schedule *s, jc_err *err) {
    json_t *o = schedule_json(s);
    if (!o)
        return jc_err_sys(err, ENOMEM, "schedule");
    return jc_reply_json(req, status, o, err);
}

static int post_schedule(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    const jc_principal *who = jc_req_principal(req);
    json_t *body = jc_req_json(req, err);
    if (!body)
        return -1;
    if (!json_is_object(body))
        return jc_err_set(err, JC_E_INVALID, "the schedule must be a JSON object");
    jc_schedule s = {.overlap = JC_OVERLAP_SKIP, .catchup = JC_CATCHUP_NONE};
    snprintf(s.timezone, sizeof(s.timezone), "UTC");
    int rc = -1;
    if (apply_fields(api, body, &s, err) < 0)
        goto out;
    int64_t now = jc_scheduler_now_ms();
    if (jc_random_id("sch_", s.id, sizeof(s.id), err) < 0 || reschedule(&s, now, err) < 0)
        goto out;
    snprintf(s.owner, sizeof(s.owner), "%s", who->user);
    s.created_at = s.updated_at = now;
    if (jc_store_schedule_create(api->store, &s, err) < 0)
        goto out;
    jc_log(JC_LOG_INFO, "schedule created", "schedule", s.id, "owner", s.owner, "cron", s.cron,
           "timezone", s.timezone, NULL);
    audit(req, "schedule_create", s.id);
    jc_scheduler_wake();
    rc = reply_schedule(req, 201, &s, err);
out:
    jc_schedule_clear(&s);
    return rc;
}

static int query_limit(jc_req *req, int64_t def, int64_t max, size_t *out, jc_err *err) {
    const char *v = jc_req_query(req, "limit");
    if (!v) {
        *out = (size_t)def;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < 1 || x > max || v[0] == '+' || v[0] == ' ')
        return jc_err_field(err, JC_E_INVALID, "limit",
                            "limit must be an integer between 1 and %lld", (long long)max);
    *out = (size_t)x;
    return 0;
}

static int list_schedules(jc_req *req, jc_err *err) {
    size_t limit;
    if (query_limit(req, 50, 500, &limit, err) < 0)
        return -1;
    jc_schedule *v = NULL;
    size_t n = 0;
    _cleanup_free_ char *next = NULL;
    if (jc_store_schedule_list(jc_req_api(req)->store, scope_of(req), limit,
                               jc_req_query(req, "cursor"), &v, &n, &next, err) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, schedule_json(&v[i]));
    jc_schedules_free(v, n);
    return jc_reply_json(req, 200,
                         json_pack("{s:o, s:o}", "schedules", arr, "next_cursor",
                                   next ? json_string(next) : json_null()),
                         err);
}

static int get_schedule(jc_req *req, jc_err *err) {
    jc_schedule s;
    if (jc_store_schedule_get(jc_req_api(req)->store, jc_req_param(req, "id"), scope_of(req), &s,
                              err) < 0)
        return -1;
    int rc = reply_schedule(req, 200, &s, err);
    jc_schedule_clear(&s);
    return rc;
}

static int patch_schedule(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    audit(req, "schedule_update", jc_req_param(req, "id"));
    json_t *body = jc_req_json(req, err);
    if (!body)
        return -1;
    if (!json_is_object(body))
        return jc_err_set(err, JC_E_INVALID, "the change must be a JSON object");
    jc_schedule s;
    if (jc_store_schedule_get(api->store, jc_req_param(req, "id"), scope_of(req), &s, err) < 0)
        return -1;
    int rc = -1;
    int64_t now = jc_scheduler_now_ms();
    if (apply_fields(api, body, &s, err) < 0 || reschedule(&s, now, err) < 0 ||
        jc_store_schedule_update(api->store, &s, now, err) < 0)
        goto out;
    s.updated_at = now;
    jc_scheduler_wake();
    rc = reply_schedule(req, 200, &s, err);
out:
    jc_schedule_clear(&s);
    return rc;
}

static int delete_schedule(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    const char *id = jc_req_param(req, "id");
    audit(req, "schedule_delete", id);
    if (jc_store_schedule_delete(api->store, id, scope_of(req), err) < 0)
        return -1;
    jc_log(JC_LOG_INFO, "schedule deleted", "schedule", id, NULL);
    jc_scheduler_wake();
    return jc_reply_empty(req, 204, err);
}

static int set_paused(jc_req *req, bool paused, jc_err *err) {
    jc_api *api = jc_req_api(req);
    audit(req, paused ? "schedule_pause" : "schedule_resume", jc_req_param(req, "id"));
    jc_schedule s;
    if (jc_store_schedule_get(api->store, jc_req_param(req, "id"), scope_of(req), &s, err) < 0)
        return -1;
    int rc = -1;
    int64_t now = jc_scheduler_now_ms();
    /* Resuming starts from now: ticks that passed while paused were not missed, they were
     * not wanted. */
    if (s.paused != paused) {
        s.paused = paused;
        if ((!paused && reschedule(&s, now, err) < 0) ||
            jc_store_schedule_update(api->store, &s, now, err) < 0)
            goto out;
        s.updated_at = now;
        jc_scheduler_wake();
    }
    rc = reply_schedule(req, 200, &s, err);
out:
    jc_schedule_clear(&s);
    return rc;
}

static int pause_schedule(jc_req *req, jc_err *err) {
    return set_paused(req, true, err);
}

static int resume_schedule(jc_req *req, jc_err *err) {
    return set_paused(req, false, err);
}

static int trigger_schedule(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    jc_schedule s;
    if (jc_store_schedule_get(api->store, jc_req_param(req, "id"), scope_of(req), &s, err) < 0)
        return -1;
    char job_id[JC_ID_MAX], exe_id[JC_ID_MAX];
    int rc = -1;
    if (jc_schedule_trigger(api->store, &s, job_id, exe_id, err) < 0)
        goto out;
    jc_log(JC_LOG_INFO, "schedule triggered", "schedule", s.id, "job", job_id, NULL);
    audit(req, "schedule_trigger", s.id);
    jc_api_notify_work(api);
    jc_job job;
    if (jc_store_job_get(api->store, job_id, NULL, &job, err) < 0)
        goto out;
    json_t *o = jc_job_json(&job, true);
    jc_job_clear(&job);
    jc_execution exe;
    if (jc_store_execution_get(api->store, exe_id, &exe, err) == 0) {
        json_t *arr = json_array();
        json_t *eo = jc_execution_json(&exe);
        jc_schedule_annotate(api, job_id, eo);
        json_array_append_new(arr, eo);
        json_object_set_new(o, "executions", arr);
        jc_execution_clear(&exe);
    }
    jc_schedule_annotate(api, job_id, o);
    rc = jc_reply_json(req, 201, o, err);
out:
    jc_schedule_clear(&s);
    return rc;
}

static int list_runs(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    size_t limit;
    if (query_limit(req, 20, 100, &limit, err) < 0)
        return -1;
    jc_schedule s;
    if (jc_store_schedule_get(api->store, jc_req_param(req, "id"), scope_of(req), &s, err) < 0)
        return -1;
    jc_schedule_run *runs = NULL;
    size_t n = 0;
    int rc = jc_store_schedule_runs(api->store, s.id, limit, &runs, &n, err);
    jc_schedule_clear(&s);
    if (rc < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:o, s:b, s:s, s:o}", "tick", time_or_null(runs[i].tick), "trigger",
                              runs[i].tick == 0, "job_id", runs[i].job_id, "fired_at",
                              time_or_null(runs[i].fired_at));
        jc_execution e;
        jc_err ignored;
        if (jc_store_execution_get(api->store, runs[i].execution_id, &e, &ignored) == 0) {
            json_object_set_new(o, "execution", jc_execution_json(&e));
            jc_execution_clear(&e);
        }
        json_array_append_new(arr, o);
    }
    free(runs);
    return jc_reply_json(req, 200, json_pack("{s:o}", "runs", arr), err);
}

void jc_schedule_annotate(jc_api *api, const char *job_id, json_t *obj) {
    char id[JC_ID_MAX];
    int64_t tick = 0;
    bool found = false;
    jc_err ignored;
    if (!obj || jc_store_schedule_of_job(api->store, job_id, id, &tick, &found, &ignored) < 0 ||
        !found)
        return;
    json_object_set_new(obj, "schedule",
                        json_pack("{s:s, s:o}", "id", id, "tick", time_or_null(tick)));
}

int jc_schedule_routes(jc_router *r, jc_api *api, jc_err *err) {
    size_t body = (size_t)api->cfg->max_body_jobs;
    size_t other = (size_t)api->cfg->max_body_other;
    struct {
        const char *method, *path;
        jc_handler h;
        jc_route_opts o;
    } routes[] = {
        {"POST",
         "/v1/schedules",
         post_schedule,
         {.max_body = body, .auth = JC_AUTH_USER, .group = "schedules"}},
        {"GET", "/v1/schedules", list_schedules, {.auth = JC_AUTH_USER, .group = "schedules"}},
        {"GET", "/v1/schedules/{id}", get_schedule, {.auth = JC_AUTH_USER, .group = "schedules"}},
        {"PATCH",
         "/v1/schedules/{id}",
         patch_schedule,
         {.max_body = body, .auth = JC_AUTH_USER, .group = "schedules"}},
        {"DELETE",
         "/v1/schedules/{id}",
         delete_schedule,
         {.auth = JC_AUTH_USER, .group = "schedules"}},
        {"POST",
         "/v1/schedules/{id}/pause",
         pause_schedule,
         {.max_body = other, .auth = JC_AUTH_USER, .group = "schedules"}},
        {"POST",
         "/v1/schedules/{id}/resume",
         resume_schedule,
         {.max_body = other, .auth = JC_AUTH_USER, .group = "schedules"}},
        {"POST",
         "/v1/schedules/{id}/trigger",
         trigger_schedule,
         {.max_body = other, .auth = JC_AUTH_USER, .group = "schedules"}},
        {"GET", "/v1/schedules/{id}/runs", list_runs, {.auth = JC_AUTH_USER, .group = "schedules"}},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (jc_router_add(r, routes[i].method, routes[i].path, routes[i].h, &routes[i].o, err) < 0)
            return -1;
    return 0;
}
