/* admin.c: the admin API (/v1), /health and /metrics.
 *
 * Users see only what they own: another user's job, execution or token answers 404, the
 * same as one that does not exist, so ids cannot be probed. Admins see everything. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "handlers.h"
#include "internal_auth.h"
#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "maintenance.h"
#include "schedules.h"
#include "store_upkeep.h"
#include "server.h"

#define LOG_READ_MAX (16u << 20)

/* The owner filter of a principal: NULL (everything) for admins. */
static const char *scope_of(jc_req *req) {
    const jc_principal *p = jc_req_principal(req);
    return p->admin ? NULL : p->user;
}

/* Parse a query integer within [lo, hi]; absent → def. */
static int query_int(jc_req *req, const char *name, int64_t def, int64_t lo, int64_t hi,
                     int64_t *out, jc_err *err) {
    const char *v = jc_req_query(req, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi || v[0] == '+' || v[0] == ' ')
        return jc_err_field(err, JC_E_INVALID, name, "%s must be an integer between %lld and %lld",
                            name, (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

/* ---- health and metrics --------------------------------------------------------------- */

static int get_health(jc_req *req, jc_err *err) {
    jc_err e;
    jc_api *api = jc_req_api(req);
    if (jc_store_ping(api->store, &e) < 0)
        return jc_err_set(err, JC_E_UNAVAILABLE, "store unavailable");
    /* Serving, but its own upkeep is failing: still 200 (a load balancer must not take a
     * working server out for it), with the tasks named for the operator. */
    const char *failing[JC_TASK_COUNT];
    size_t n = jc_maintenance_failing(api, failing, JC_TASK_COUNT);
    if (n == 0)
        return jc_reply_json(req, 200, json_pack("{s:s}", "status", "ok"), err);
    json_t *names = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(names, json_string(failing[i]));
    return jc_reply_json(req, 200, json_pack("{s:s, s:o}", "status", "degraded", "failing", names),
                         err);
}

static int get_metrics(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    if (api->cfg->metrics_require_key) {
        const char *h = jc_req_header(req, "Authorization");
        const char *tok;
        size_t len;
        if (!h || jc_auth_parse_bearer(h, &tok, &len) < 0 ||
            !jc_auth_equal(tok, len, api->cfg->internal_key.data, api->cfg->internal_key.len)) {
            jc_req_auth_failure(req, h ? "wrong_key" : "missing");
            return jc_err_set(err, JC_E_AUTH, "authentication required");
        }
    }
    size_t len;
    _cleanup_free_ char *text = jc_metrics_render(api->metrics, api->store, &len);
    if (!text)
        return jc_err_set(err, JC_E_INTERNAL, "metrics rendering failed");
    _cleanup_free_ char *auth = api->iauth ? jc_iauth_metrics_text(api->iauth) : NULL;
    if (auth) {
        size_t alen = strlen(auth);
        char *both = realloc(text, len + alen + 1);
        if (!both)
            return jc_err_set(err, JC_E_INTERNAL, "metrics rendering failed");
        memcpy(both + len, auth, alen + 1);
        text = both;
        len += alen;
    }
    return jc_reply_bytes(req, 200, "text/plain; version=0.0.4", text, len, err);
}

/* ---- jobs ------------------------------------------------------------------------------ */

/* The job with all its executions. Owned. */
static json_t *job_with_executions(jc_api *api, const jc_job *job, jc_err *err) {
    jc_execution *exes;
    size_t n;
    if (jc_store_execution_list(api->store, job->id, &exes, &n, err) < 0)
        return NULL;
    json_t *o = jc_job_json(job, true);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, jc_execution_json(&exes[i]));
    jc_executions_free(exes, n);
    json_object_set_new(o, "executions", arr);
    return o;
}

/* The answer to a repeated submit: the job it created, as it is now, with its first
 * execution — rebuilt from the store, so no stored copy of the spec exists. A record made
 * by an older version that kept the whole answer is answered the same way (by its id). */
static int replay_answer(jc_req *req, const char *stored, jc_err *err) {
    jc_api *api = jc_req_api(req);
    _cleanup_json_ json_t *rec = json_loads(stored, 0, NULL);
    const char *id = json_string_value(json_object_get(rec, "job_id"));
    if (!id)
        id = json_string_value(json_object_get(rec, "id"));
    if (!id)
        return jc_err_set(err, JC_E_INTERNAL, "idempotency record without a job id");
    jc_req_audit_op(req, "job_submit", id);
    jc_job job;
    if (jc_store_job_get(api->store, id, jc_req_principal(req)->user, &job, err) < 0) {
        if (err->code == JC_E_NOT_FOUND)
            return jc_err_field(err, JC_E_CONFLICT, "Idempotency-Key",
                                "the job this Idempotency-Key created no longer exists");
        return -1;
    }
    jc_execution *exes = NULL;
    size_t n = 0;
    if (jc_store_execution_list(api->store, job.id, &exes, &n, err) < 0) {
        jc_job_clear(&job);
        return -1;
    }
    json_t *o = jc_job_json(&job, true);
    json_t *arr = json_array();
    if (n > 0)
        json_array_append_new(arr, jc_execution_json(&exes[0]));
    json_object_set_new(o, "executions", arr);
    jc_executions_free(exes, n);
    jc_job_clear(&job);
    return jc_reply_json(req, 201, o, err);
}

static int post_job(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    jc_req_audit_op(req, "job_submit", "");
    const jc_principal *who = jc_req_principal(req);
    json_t *body = jc_req_json(req, err);
    if (!body)
        return -1;
    const char *idem = jc_req_header(req, "Idempotency-Key");
    if (idem && (strlen(idem) == 0 || strlen(idem) > 128))
        return jc_err_field(err, JC_E_INVALID, "Idempotency-Key",
                            "Idempotency-Key must be 1 to 128 characters");
    jc_job_fields f;
    if (jc_job_validate(api, body, &f, err) < 0)
        return -1;
    _cleanup_json_ json_t *spec = f.spec;
    int64_t now = jc_time_now_ms();
    jc_job job = {.spec = spec, .created_at = now, .status = JC_EXE_QUEUED};
    jc_execution exe = {.attempt = 1,
                        .status = JC_EXE_QUEUED,
                        .created_at = now,
                        .scheduled_for = f.scheduled_for,
                        .timeout_s = f.timeout_s,
                        .condition = -1};
    if (jc_random_id("job_", job.id, sizeof(job.id), err) < 0 ||
        jc_random_id("exe_", exe.id, sizeof(exe.id), err) < 0)
        return -1;
    snprintf(job.owner, sizeof(job.owner), "%s", who->user);
    snprintf(job.name, sizeof(job.name), "%s", f.name);
    snprintf(job.latest_execution_id, sizeof(job.latest_execution_id), "%s", exe.id);
    snprintf(exe.job_id, sizeof(exe.job_id), "%s", job.id);
    snprintf(exe.owner, sizeof(exe.owner), "%s", who->user);
    jc_req_audit_op(req, "job_submit", job.id);
    if (jc_job_seal_secrets(api, f.secrets, who->user, job.id, spec, err) < 0)
        return -1;
    _cleanup_json_ json_t *answer = jc_job_json(&job, true);
    json_t *arr = json_array();
    json_array_append_new(arr, jc_execution_json(&exe));
    json_object_set_new(answer, "executions", arr);
    _cleanup_free_ char *text = json_dumps(answer, JSON_COMPACT);
    /* What an Idempotency-Key keeps is the job's id, never the answer itself: the answer
     * holds the script, input and env, which may carry secrets, and can be megabytes. A
     * replay is rebuilt from the stored job (replay_answer). */
    _cleanup_json_ json_t *stored = json_pack("{s:s}", "job_id", job.id);
    _cleanup_free_ char *stored_text = stored ? json_dumps(stored, JSON_COMPACT) : NULL;
    size_t blen;
    const char *raw = jc_req_body(req, &blen);
    char hash[65];
    jc_sha256_hex(raw, blen, hash);
    jc_job_new in = {
        .job_id = job.id,
        .execution_id = exe.id,
        .owner = who->user,
        .name = f.name,
        .spec = spec,
        .created_at = now,
        .scheduled_for = f.scheduled_for,
        .priority = f.priority,
        .timeout_s = f.timeout_s,
        .idempotency_key = idem,
        .request_hash = hash,
        .response = stored_text,
    };
    _cleanup_free_ char *replay = NULL;
    if (!text || !stored_text)
        return jc_err_sys(err, ENOMEM, "job");
    if (jc_store_job_create(api->store, &in, &replay, err) < 0)
        return -1;
    if (replay)
        return replay_answer(req, replay, err);
    jc_log(JC_LOG_INFO, "job submitted", "job", job.id, "exe", exe.id, "owner", who->user, NULL);
    /* per-token submit counts feed the detection scan; a failure to count must not lose
     * the job, but it is said */
    jc_err aerr;
    if (jc_store_activity_submit(api->store, who->token_id, who->user, now, &aerr) < 0)
        jc_log(JC_LOG_WARN, "submit not counted for the detection scan", "job", job.id, "error",
               aerr.msg, NULL);
    jc_api_notify_work(api);
    return jc_reply_bytes(req, 201, "application/json", text, strlen(text), err);
}

static int list_jobs(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    int64_t limit;
    if (query_int(req, "limit", 50, 1, 500, &limit, err) < 0)
        return -1;
    const char *status = jc_req_query(req, "status");
    int st = -1;
    if (status && *status && (st = jc_exe_status_parse(status)) < 0)
        return jc_err_field(err, JC_E_INVALID, "status",
                            "status must be one of queued, claimed, running, succeeded, failed, "
                            "canceled, lost");
    jc_job_page q = {.owner = scope_of(req),
                     .status = st,
                     .limit = (size_t)limit,
                     .cursor = jc_req_query(req, "cursor")};
    jc_job *jobs;
    size_t n;
    _cleanup_free_ char *next = NULL;
    if (jc_store_job_list(api->store, &q, &jobs, &n, &next, err) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, jc_job_json(&jobs[i], false));
    jc_jobs_free(jobs, n);
    return jc_reply_json(
        req, 200,
        json_pack("{s:o, s:o}", "jobs", arr, "next_cursor", next ? json_string(next) : json_null()),
        err);
}

static int get_job(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    jc_job job;
    if (jc_store_job_get(api->store, jc_req_param(req, "id"), scope_of(req), &job, err) < 0)
        return -1;
    json_t *o = job_with_executions(api, &job, err);
    jc_schedule_annotate(api, job.id, o);
    /* queued for a runtime no live orchestrator offers: live is heard from within one
     * lease or 30 s (three orchestrator heartbeats), whichever is longer */
    const char *rt = json_string_value(json_object_get(job.spec, "runtime"));
    bool offered = true;
    int64_t live_ms = api->cfg->lease_s * 1000 > 30000 ? api->cfg->lease_s * 1000 : 30000;
    if (o && job.status == JC_EXE_QUEUED && rt &&
        jc_store_runtime_offered(api->store, rt, jc_time_now_ms() - live_ms, &offered, err) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (o && !offered)
        json_object_set_new(o, "waiting_reason",
                            json_sprintf("no orchestrator offers the %s runtime", rt));
    jc_job_clear(&job);
    return o ? jc_reply_json(req, 200, o, err) : -1;
}

static int cancel_job(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    const char *id = jc_req_param(req, "id");
    jc_req_audit_op(req, "job_cancel", id);
    size_t blen;
    jc_req_body(req, &blen);
    if (blen && !jc_req_json_object(req, (const char *const[]){NULL}, err))
        return -1;
    jc_cancel_outcome outcome;
    if (jc_store_job_cancel(api->store, id, scope_of(req), jc_time_now_ms(), &outcome, err) < 0)
        return -1;
    jc_job job;
    if (jc_store_job_get(api->store, id, NULL, &job, err) < 0)
        return -1;
    if (outcome == JC_CANCEL_NOW)
        jc_api_notify_log(api, job.latest_execution_id);
    json_t *o = job_with_executions(api, &job, err);
    jc_job_clear(&job);
    return o ? jc_reply_json(req, 200, o, err) : -1;
}

/* ---- executions and logs ------------------------------------------------------------- */

/* An execution the principal may see (404 otherwise). */
static int visible_execution(jc_req *req, jc_execution *e, jc_err *err) {
    const char *id = jc_req_param(req, "id");
    if (jc_store_execution_get(jc_req_api(req)->store, id, e, err) < 0)
        return -1;
    const char *scope = scope_of(req);
    if (scope && strcmp(scope, e->owner) != 0) {
        jc_execution_clear(e);
        return jc_err_set(err, JC_E_NOT_FOUND, "no execution %s", id);
    }
    return 0;
}

static int get_execution(jc_req *req, jc_err *err) {
    jc_execution e;
    if (visible_execution(req, &e, err) < 0)
        return -1;
    json_t *o = jc_execution_json(&e);
    jc_schedule_annotate(jc_req_api(req), e.job_id, o);
    jc_execution_clear(&e);
    return jc_reply_json(req, 200, o, err);
}

static int get_logs(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    int64_t offset, follow;
    if (query_int(req, "offset", 0, 0, INT64_MAX, &offset, err) < 0 ||
        query_int(req, "follow", 0, 0, 1, &follow, err) < 0)
        return -1;
    jc_execution e;
    if (visible_execution(req, &e, err) < 0)
        return -1;
    int64_t length = e.log_bytes;
    char id[JC_ID_MAX];
    snprintf(id, sizeof(id), "%s", e.id);
    jc_execution_clear(&e);
    if (offset > length) {
        jc_req_error_extra(req, "length", json_integer(length));
        return jc_err_set(err, JC_E_RANGE,
                          "offset %" PRId64 " is past the end of the log (%" PRId64 " bytes)",
                          offset, length);
    }
    if (follow)
        return jc_reply_log_follow(req, id, offset, err);
    jc_log_read lr;
    if (jc_store_log_read(api->store, id, offset, LOG_READ_MAX, &lr, err) < 0) {
        if (err->code == JC_E_RANGE)
            jc_req_error_extra(req, "length", json_integer(lr.length));
        return -1;
    }
    char len_text[32];
    snprintf(len_text, sizeof(len_text), "%" PRId64, lr.length);
    jc_reply_header(req, "X-Log-Length", len_text);
    int rc = jc_reply_bytes(req, 200, "text/plain; charset=utf-8", lr.data, lr.len, err);
    free(lr.data);
    return rc;
}

/* ---- variables ------------------------------------------------------------------------- */

static const char *var_key(jc_req *req, jc_err *err) {
    const char *key = jc_req_param(req, "key");
    if (!key || !jc_variable_key_valid(key))
        return jc_err_field(err, JC_E_INVALID, "key",
                            "variable keys must match ^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"),
               NULL;
    return key;
}

static int list_vars(jc_req *req, jc_err *err) {
    jc_variable *v;
    size_t n;
    if (jc_store_var_list(jc_req_api(req)->store, jc_req_principal(req)->user, &v, &n, err) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:o}", "key", v[i].key, "updated_at",
                                             jc_time_json(v[i].updated_at)));
    jc_variables_free(v, n);
    return jc_reply_json(req, 200, json_pack("{s:o}", "variables", arr), err);
}

static int get_var(jc_req *req, jc_err *err) {
    const char *key = var_key(req, err);
    jc_variable v;
    if (!key ||
        jc_store_var_get(jc_req_api(req)->store, jc_req_principal(req)->user, key, &v, err) < 0)
        return -1;
    return jc_reply_json(req, 200,
                         json_pack("{s:s, s:o, s:o}", "key", key, "value",
                                   v.value ? v.value : json_null(), "updated_at",
                                   jc_time_json(v.updated_at)),
                         err);
}

static int put_var(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    const char *key = var_key(req, err);
    if (!key)
        return -1;
    jc_req_audit_op(req, "variable_write", key); /* the key's name, never its value */
    json_t *body = jc_req_json_object(req, (const char *const[]){"value", NULL}, err);
    if (!body)
        return -1;
    json_t *value = json_object_get(body, "value");
    if (!value)
        return jc_err_field(err, JC_E_INVALID, "value", "value is required");
    if ((int64_t)json_dumpb(value, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) >
        api->cfg->max_variable_bytes)
        return jc_err_field(err, JC_E_INVALID, "value", "value is larger than %lld bytes of JSON",
                            (long long)api->cfg->max_variable_bytes);
    int64_t now = jc_time_now_ms();
    if (jc_store_var_put(api->store, jc_req_principal(req)->user, key, value, now, err) < 0)
        return -1;
    return jc_reply_json(
        req, 200,
        json_pack("{s:s, s:O, s:o}", "key", key, "value", value, "updated_at", jc_time_json(now)),
        err);
}

static int delete_var(jc_req *req, jc_err *err) {
    const char *key = var_key(req, err);
    if (key)
        jc_req_audit_op(req, "variable_delete", key);
    if (!key ||
        jc_store_var_delete(jc_req_api(req)->store, jc_req_principal(req)->user, key, err) < 0)
        return -1;
    return jc_reply_empty(req, 204, err);
}

/* ---- tokens ---------------------------------------------------------------------------- */

static bool user_name_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@'))
            return false;
    }
    return true;
}

static json_t *token_json(const jc_api_token *t) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", t->id, "name", t->name, "user", t->user,
                          "role", t->role);
    json_object_set_new(o, "created_at", jc_time_json(t->created_at));
    return o;
}

int jc_api_token_issue(jc_store *st, const char *name, const char *user, const char *role,
                       jc_api_token *tok, char secret[JC_API_TOKEN_LEN + 1], jc_err *err) {
    memset(tok, 0, sizeof(*tok));
    if (!user_name_valid(user))
        return jc_err_field(err, JC_E_INVALID, "user",
                            "user must be 1 to 128 of A-Z a-z 0-9 . _ - @");
    if (strcmp(role, "admin") != 0 && strcmp(role, "user") != 0)
        return jc_err_field(err, JC_E_INVALID, "role", "role must be admin or user");
    if (jc_random_id("tok_", tok->id, sizeof(tok->id), err) < 0 ||
        jc_random_api_token(secret, JC_API_TOKEN_LEN + 1, err) < 0)
        return -1;
    snprintf(tok->name, sizeof(tok->name), "%s", name);
    snprintf(tok->user, sizeof(tok->user), "%s", user);
    snprintf(tok->role, sizeof(tok->role), "%s", role);
    tok->created_at = jc_time_now_ms();
    char hash[65];
    jc_sha256_hex(secret, strlen(secret), hash);
    return jc_store_token_create(st, tok, hash, err);
}

static int post_token(jc_req *req, jc_err *err) {
    const jc_principal *who = jc_req_principal(req);
    jc_req_audit_op(req, "token_create", "");
    json_t *body =
        jc_req_json_object(req, (const char *const[]){"name", "user", "role", NULL}, err);
    if (!body)
        return -1;
    json_t *name = json_object_get(body, "name");
    json_t *user = json_object_get(body, "user");
    json_t *role = json_object_get(body, "role");
    if (!json_is_string(name) || json_string_length(name) < 1 || json_string_length(name) > 128)
        return jc_err_field(err, JC_E_INVALID, "name", "name must be 1 to 128 characters");
    if ((user && !json_is_string(user)) || (role && !json_is_string(role)))
        return jc_err_field(err, JC_E_INVALID, user && !json_is_string(user) ? "user" : "role",
                            "user and role must be strings");
    if (!who->admin && ((user && strcmp(json_string_value(user), who->user) != 0) ||
                        (role && strcmp(json_string_value(role), "user") != 0)))
        return jc_err_set(err, JC_E_FORBIDDEN, "only an admin may choose user or role");
    jc_api_token tok;
    char secret[JC_API_TOKEN_LEN + 1];
    if (jc_api_token_issue(jc_req_api(req)->store, json_string_value(name),
                           user ? json_string_value(user) : who->user,
                           role ? json_string_value(role) : "user", &tok, secret, err) < 0)
        return -1;
    jc_req_audit_op(req, "token_create", tok.id);
    json_t *o = token_json(&tok);
    json_object_set_new(o, "token", json_string(secret));
    OPENSSL_cleanse(secret, sizeof(secret));
    return jc_reply_json(req, 201, o, err);
}

static int list_tokens(jc_req *req, jc_err *err) {
    jc_api_token *v;
    size_t n;
    if (jc_store_token_list(jc_req_api(req)->store, scope_of(req), &v, &n, err) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, token_json(&v[i]));
    free(v);
    return jc_reply_json(req, 200, json_pack("{s:o}", "tokens", arr), err);
}

static int delete_token(jc_req *req, jc_err *err) {
    const char *id = jc_req_param(req, "id");
    jc_req_audit_op(req, "token_delete", id);
    if (jc_store_token_delete(jc_req_api(req)->store, id, scope_of(req), err) < 0)
        return -1;
    return jc_reply_empty(req, 204, err);
}

static int list_profiles(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    json_t *arr = json_array();
    for (size_t i = 0; i < api->nprofiles; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "name", api->profiles[i], "description",
                                             api->profile_descriptions[i]));
    return jc_reply_json(req, 200, json_pack("{s:o}", "profiles", arr), err);
}

int jc_admin_routes(jc_router *r, jc_api *api, jc_err *err) {
    const jc_api_config *c = api->cfg;
    size_t other = (size_t)c->max_body_other;
    struct {
        const char *method, *path;
        jc_handler h;
        jc_route_opts o;
    } routes[] = {
        {"GET", "/health", get_health, {.group = "health"}},
        {"GET", "/metrics", get_metrics, {.group = "metrics"}},
        {"POST",
         "/v1/jobs",
         post_job,
         {.max_body = (size_t)c->max_body_jobs, .auth = JC_AUTH_USER, .group = "jobs"}},
        {"GET", "/v1/jobs", list_jobs, {.auth = JC_AUTH_USER, .group = "jobs"}},
        {"GET", "/v1/jobs/{id}", get_job, {.auth = JC_AUTH_USER, .group = "jobs"}},
        {"POST",
         "/v1/jobs/{id}/cancel",
         cancel_job,
         {.max_body = other, .auth = JC_AUTH_USER, .group = "jobs"}},
        {"GET",
         "/v1/executions/{id}",
         get_execution,
         {.auth = JC_AUTH_USER, .group = "executions"}},
        {"GET", "/v1/executions/{id}/logs", get_logs, {.auth = JC_AUTH_USER, .group = "logs"}},
        {"GET", "/v1/variables", list_vars, {.auth = JC_AUTH_USER, .group = "variables"}},
        {"GET", "/v1/variables/{key}", get_var, {.auth = JC_AUTH_USER, .group = "variables"}},
        {"PUT",
         "/v1/variables/{key}",
         put_var,
         {.max_body = other, .auth = JC_AUTH_USER, .group = "variables"}},
        {"DELETE", "/v1/variables/{key}", delete_var, {.auth = JC_AUTH_USER, .group = "variables"}},
        {"POST",
         "/v1/tokens",
         post_token,
         {.max_body = other, .auth = JC_AUTH_USER, .group = "tokens"}},
        {"GET", "/v1/tokens", list_tokens, {.auth = JC_AUTH_USER, .group = "tokens"}},
        {"DELETE", "/v1/tokens/{id}", delete_token, {.auth = JC_AUTH_USER, .group = "tokens"}},
        {"GET", "/v1/profiles", list_profiles, {.auth = JC_AUTH_USER, .group = "profiles"}},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (jc_router_add(r, routes[i].method, routes[i].path, routes[i].h, &routes[i].o, err) < 0)
            return -1;
    return 0;
}
