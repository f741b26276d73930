/* internal.c: the internal API (/internal/v1) the orchestrators speak.
 *
 * The router has already checked the internal key and X-Orchestrator-ID. Every call on an
 * execution is fenced by its lease token in the store: a token that is not the current
 * one gets 409 lease_lost and changes nothing. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "store_upkeep.h"
#include "server.h"

static int64_t lease_ms(jc_api *api) {
    return api->cfg->lease_s * 1000;
}

/* "runtimes" of a heartbeat or a claim: absent, or an array of distinct runtime names. */
static bool runtimes_valid(const json_t *v) {
    static const char *const known[] = {"bash", "sh", "python", "node", NULL};
    if (!json_is_array(v) || json_array_size(v) > 4)
        return false;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        bool ok = false;
        for (size_t k = 0; json_is_string(x) && known[k]; k++)
            ok = ok || strcmp(known[k], json_string_value(x)) == 0;
        for (size_t j = 0; ok && j < i; j++)
            ok = !json_equal(json_array_get(v, j), x);
        if (!ok)
            return false;
    }
    return true;
}

static int orchestrator_heartbeat(jc_req *req, jc_err *err) {
    json_t *b = jc_req_json_object(req,
                                   (const char *const[]){"slots_total", "slots_free", "running",
                                                         "profiles", "version", "runtimes", NULL},
                                   err);
    if (!b)
        return -1;
    const char *ints[] = {"slots_total", "slots_free"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(b, ints[i]);
        if (v &&
            (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000))
            return jc_err_field(err, JC_E_INVALID, ints[i], "%s must be a non-negative integer",
                                ints[i]);
    }
    const char *arrays[] = {"running", "profiles"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(b, arrays[i]);
        if (!v)
            continue;
        size_t k;
        json_t *x;
        bool ok = json_is_array(v) && json_array_size(v) <= 4096;
        json_array_foreach(v, k, x) ok = ok && json_is_string(x);
        if (!ok)
            return jc_err_field(err, JC_E_INVALID, arrays[i], "%s must be an array of strings",
                                arrays[i]);
    }
    json_t *rts = json_object_get(b, "runtimes");
    if (rts && !runtimes_valid(rts))
        return jc_err_field(err, JC_E_INVALID, "runtimes",
                            "runtimes must be an array of distinct runtime names (bash, sh, "
                            "python, node)");
    json_t *ver = json_object_get(b, "version");
    if (ver && (!json_is_string(ver) || json_string_length(ver) > 64))
        return jc_err_field(err, JC_E_INVALID, "version", "version must be a short string");
    int64_t now = jc_time_now_ms();
    if (jc_store_orchestrator_seen(jc_req_api(req)->store, jc_req_orchestrator(req), b, now, err) <
        0)
        return -1;
    /* where the id was seen from: one id at two addresses at once is a cloned host (the
     * detection scan's orchestrator_addresses signal) */
    jc_err aerr;
    if (jc_req_remote(req)[0] &&
        jc_store_activity_orchestrator(jc_req_api(req)->store, jc_req_orchestrator(req),
                                       jc_req_remote(req), now, &aerr) < 0)
        jc_log(JC_LOG_WARN, "orchestrator address not recorded", "orchestrator",
               jc_req_orchestrator(req), "error", aerr.msg, NULL);
    return jc_reply_json(req, 200, json_pack("{s:o}", "server_time", jc_time_json(now)), err);
}

/* ---- claims (long-poll) ----------------------------------------------------------------- */

typedef struct claim_wait {
    int64_t slots;
    int64_t deadline;        /* wall clock ms */
    bool any_runtime;        /* the claim named no runtimes */
    const char *runtimes[5]; /* NULL-terminated, into names[] */
    char names[4][8];
} claim_wait;

/* A claim whose secrets cannot be opened must not run without them: it ends at once as a
 * setup_error naming the step, and its orchestrator never sees it. */
static void fail_claim_secrets(jc_api *api, const jc_claim *c, const jc_err *why) {
    _cleanup_json_ json_t *result =
        json_pack("{s:s, s:n, s:n, s:{s:s, s:i, s:s}}", "reason", "setup_error", "exit_code",
                  "signal", "setup_error", "step", "secrets", "errno", 0, "message", why->msg);
    jc_exe_status status;
    jc_err err;
    if (jc_store_complete(api->store, c->exe.id, c->exe.orchestrator_id, c->exe.lease_token, result,
                          jc_time_now_ms(), &status, &err) < 0)
        jc_log(JC_LOG_ERROR, "failing an execution whose secrets do not open failed", "exe",
               c->exe.id, "error", err.msg, NULL);
    jc_log(JC_LOG_ERROR, "job secrets do not open: execution failed", "exe", c->exe.id, "job",
           c->exe.job_id, "error", why->msg, NULL);
}

/* The claim as the orchestrator gets it, secrets opened (the only place they leave the
 * store in clear). NULL when the secrets do not open (the execution was failed). */
static json_t *claim_json(jc_api *api, const jc_claim *c) {
    jc_err serr;
    json_t *secrets = jc_job_open_secrets(api, &c->job, &serr);
    if (!secrets) {
        fail_claim_secrets(api, c, &serr);
        return NULL;
    }
    json_t *job = json_object();
    json_object_set_new(job, "secrets", secrets);
    static const char *const keys[] = {"runtime",   "script",  "input",   "env", "resources",
                                       "timeout_s", "network", "profile", NULL};
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(c->job.spec, keys[i]);
        if (v)
            json_object_set(job, keys[i], v);
    }
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s}", "execution_id", c->exe.id, "job_id",
                          c->exe.job_id, "attempt", (json_int_t)c->exe.attempt, "owner",
                          c->job.owner, "lease_token", c->exe.lease_token);
    json_object_set_new(o, "lease_expires_at", jc_time_json(c->exe.lease_expires_at));
    json_object_set_new(o, "job", job);
    return o;
}

static int post_claims(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    claim_wait *w = jc_req_state(req);
    if (!w) {
        json_t *b = jc_req_json_object(
            req, (const char *const[]){"slots", "wait_s", "runtimes", NULL}, err);
        if (!b)
            return -1;
        json_t *slots = json_object_get(b, "slots");
        json_t *wait = json_object_get(b, "wait_s");
        if (!json_is_integer(slots) || json_integer_value(slots) < 1 ||
            json_integer_value(slots) > 64)
            return jc_err_field(err, JC_E_INVALID, "slots", "slots must be an integer, 1 to 64");
        if (wait && (!json_is_integer(wait) || json_integer_value(wait) < 0 ||
                     json_integer_value(wait) > api->cfg->max_wait_s))
            return jc_err_field(err, JC_E_INVALID, "wait_s", "wait_s must be an integer, 0 to %lld",
                                (long long)api->cfg->max_wait_s);
        w = calloc(1, sizeof(*w));
        if (!w)
            return jc_err_sys(err, ENOMEM, "claims");
        json_t *rts = json_object_get(b, "runtimes");
        if (rts && !runtimes_valid(rts)) {
            free(w);
            return jc_err_field(err, JC_E_INVALID, "runtimes",
                                "runtimes must be an array of distinct runtime names (bash, sh, "
                                "python, node)");
        }
        w->any_runtime = rts == NULL;
        for (size_t i = 0; rts && i < json_array_size(rts); i++) {
            snprintf(w->names[i], sizeof(w->names[i]), "%s",
                     json_string_value(json_array_get(rts, i)));
            w->runtimes[i] = w->names[i];
        }
        w->slots = json_integer_value(slots);
        w->deadline = jc_time_now_ms() + (wait ? json_integer_value(wait) : 0) * 1000;
        jc_req_set_state(req, w, free);
    }
    /* Look, and when there is nothing, wait suspended; the generation read before the
     * look makes a submit that lands between the look and the wait wake us at once. */
    for (int round = 0; round < 8; round++) {
        uint64_t gen = jc_api_work_generation(api);
        int64_t now = jc_time_now_ms();
        /* An orchestrator that stopped while this poll waited: claiming for it would leave
         * the work claimed by nobody until the lease ran out. */
        if (jc_req_peer_gone(req))
            return jc_reply_json(req, 200, json_pack("{s:[]}", "claims"), err);
        jc_claim *claims;
        size_t n;
        int64_t next_due;
        if (jc_store_claim_runtimes(api->store, jc_req_orchestrator(req),
                                    w->any_runtime ? NULL : w->runtimes, (size_t)w->slots, now,
                                    lease_ms(api), &claims, &n, &next_due, err) < 0)
            return -1;
        if (n > 0 || now >= w->deadline) {
            json_t *arr = json_array();
            for (size_t i = 0; i < n; i++) {
                json_t *cj = claim_json(api, &claims[i]);
                if (!cj)
                    continue;
                json_array_append_new(arr, cj);
                jc_log(JC_LOG_INFO, "claimed", "exe", claims[i].exe.id, "job", claims[i].exe.job_id,
                       "orchestrator", jc_req_orchestrator(req), NULL);
            }
            jc_claims_free(claims, n);
            jc_metrics_claims(api->metrics, n);
            return jc_reply_json(req, 200, json_pack("{s:o}", "claims", arr), err);
        }
        jc_claims_free(claims, n);
        int64_t wake = w->deadline;
        if (next_due > now && next_due < wake)
            wake = next_due;
        int r = jc_req_wait_work(req, gen, wake);
        if (r == 1)
            return 0;
        if (r < 0) /* stopping: answer what we have (nothing) */
            w->deadline = now;
    }
    return jc_reply_json(req, 200, json_pack("{s:[]}", "claims"), err);
}

/* ---- one execution ------------------------------------------------------------------ */

static const char *lease_token_of(json_t *b, jc_err *err) {
    json_t *t = json_object_get(b, "lease_token");
    if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > 64)
        return jc_err_field(err, JC_E_INVALID, "lease_token", "lease_token is required"), NULL;
    return json_string_value(t);
}

static int post_start(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    json_t *b = jc_req_json_object(req, (const char *const[]){"lease_token", NULL}, err);
    const char *tok = b ? lease_token_of(b, err) : NULL;
    int64_t expires;
    if (!tok || jc_store_start(api->store, jc_req_param(req, "id"), jc_req_orchestrator(req), tok,
                               jc_time_now_ms(), lease_ms(api), &expires, err) < 0)
        return -1;
    return jc_reply_json(req, 200, json_pack("{s:o}", "lease_expires_at", jc_time_json(expires)),
                         err);
}

static int post_heartbeat(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    json_t *b = jc_req_json_object(req, (const char *const[]){"lease_token", NULL}, err);
    const char *tok = b ? lease_token_of(b, err) : NULL;
    int64_t expires;
    bool cancel;
    if (!tok ||
        jc_store_heartbeat(api->store, jc_req_param(req, "id"), jc_req_orchestrator(req), tok,
                           jc_time_now_ms(), lease_ms(api), &expires, &cancel, err) < 0)
        return -1;
    return jc_reply_json(
        req, 200,
        json_pack("{s:o, s:b}", "lease_expires_at", jc_time_json(expires), "cancel", cancel), err);
}

static int post_complete(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    json_t *b = jc_req_json_object(req, (const char *const[]){"lease_token", "result", NULL}, err);
    const char *tok = b ? lease_token_of(b, err) : NULL;
    if (!tok)
        return -1;
    json_t *result = json_object_get(b, "result");
    if (!json_is_object(result))
        return jc_err_field(err, JC_E_INVALID, "result", "result must be an object");
    json_t *reason = json_object_get(result, "reason");
    if (!json_is_string(reason))
        return jc_err_field(err, JC_E_INVALID, "result.reason", "result.reason must be a string");
    const char *id = jc_req_param(req, "id");
    jc_exe_status status;
    if (jc_store_complete(api->store, id, jc_req_orchestrator(req), tok, result, jc_time_now_ms(),
                          &status, err) < 0)
        return -1;
    jc_log(JC_LOG_INFO, "completed", "exe", id, "status", jc_exe_status_name(status), NULL);
    jc_api_notify_log(api, id); /* followers of its log end now */
    jc_api_notify_work(api);    /* a retry may have been queued */
    return jc_reply_json(req, 200, json_pack("{s:s}", "status", jc_exe_status_name(status)), err);
}

static int put_logs(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    const char *offset_text = jc_req_query(req, "offset");
    char *end = NULL;
    errno = 0;
    long long offset = offset_text ? strtoll(offset_text, &end, 10) : -1;
    if (!offset_text || !*offset_text || *end || errno || offset < 0 || offset_text[0] == '+')
        return jc_err_field(err, JC_E_INVALID, "offset", "offset must be an integer, 0 or more");
    const char *tok = jc_req_header(req, "X-Lease-Token");
    if (!tok || !*tok)
        return jc_err_field(err, JC_E_INVALID, "X-Lease-Token", "X-Lease-Token is required");
    size_t len;
    const char *data = jc_req_body(req, &len);
    const char *id = jc_req_param(req, "id");
    jc_log_append out;
    if (jc_store_log_append(api->store, id, jc_req_orchestrator(req), tok, offset, data, len, &out,
                            err) < 0) {
        if (err->code == JC_E_RANGE)
            jc_req_error_extra(req, "length", json_integer(out.length));
        return -1;
    }
    if (out.appended)
        jc_api_notify_log(api, id);
    return jc_reply_json(
        req, 200,
        json_pack("{s:I, s:b}", "length", (json_int_t)out.length, "truncated", out.truncated), err);
}

int jc_internal_routes(jc_router *r, jc_api *api, jc_err *err) {
    const jc_api_config *c = api->cfg;
    size_t other = (size_t)c->max_body_other;
    struct {
        const char *method, *path;
        jc_handler h;
        jc_route_opts o;
    } routes[] = {
        {"POST",
         "/internal/v1/orchestrators/heartbeat",
         orchestrator_heartbeat,
         {.max_body = other, .auth = JC_AUTH_INTERNAL, .group = "internal"}},
        {"POST",
         "/internal/v1/claims",
         post_claims,
         {.max_body = other, .auth = JC_AUTH_INTERNAL, .group = "claims"}},
        {"POST",
         "/internal/v1/executions/{id}/start",
         post_start,
         {.max_body = other, .auth = JC_AUTH_INTERNAL, .group = "internal"}},
        {"POST",
         "/internal/v1/executions/{id}/heartbeat",
         post_heartbeat,
         {.max_body = other, .auth = JC_AUTH_INTERNAL, .group = "internal"}},
        {"POST",
         "/internal/v1/executions/{id}/complete",
         post_complete,
         {.max_body = other, .auth = JC_AUTH_INTERNAL, .group = "internal"}},
        {"PUT",
         "/internal/v1/executions/{id}/logs",
         put_logs,
         {.max_body = (size_t)c->max_body_chunk,
          .raw_body = true,
          .auth = JC_AUTH_INTERNAL,
          .group = "internal"}},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (jc_router_add(r, routes[i].method, routes[i].path, routes[i].h, &routes[i].o, err) < 0)
            return -1;
    return 0;
}
