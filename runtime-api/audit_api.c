/* audit_api.c: GET /v1/audit (admin only): the audit trail, newest first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "handlers.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"

static json_t *event_json(const jc_audit_event *e) {
    json_t *o =
        json_pack("{s:I, s:o, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s}", "seq",
                  (json_int_t)e->seq, "at", jc_time_json(e->at), "kind", e->kind, "actor", "type",
                  e->actor_type, "id", e->actor, "scheme", e->scheme, "group", e->group, "outcome",
                  e->outcome, "reason", e->reason, "remote", e->remote);
    json_object_set_new(o, "key_version",
                        e->key_version[0] ? json_string(e->key_version) : json_null());
    json_object_set_new(o, "target", e->target[0] ? json_string(e->target) : json_null());
    json_object_set_new(o, "status", e->status ? json_integer(e->status) : json_null());
    json_object_set_new(o, "latency_us", json_integer(e->latency_us));
    json_object_set_new(o, "count", json_integer(e->count));
    return o;
}

static const char *nonempty(const char *s) {
    return s && *s ? s : NULL;
}

static int get_audit(jc_req *req, jc_err *err) {
    jc_api *api = jc_req_api(req);
    jc_audit_query q = {.actor = nonempty(jc_req_query(req, "actor")),
                        .outcome = nonempty(jc_req_query(req, "outcome")),
                        .kind = nonempty(jc_req_query(req, "kind")),
                        .cursor = nonempty(jc_req_query(req, "cursor")),
                        .limit = 100};
    if (q.outcome && strcmp(q.outcome, "success") != 0 && strcmp(q.outcome, "failure") != 0 &&
        strcmp(q.outcome, "denied") != 0 && strcmp(q.outcome, "error") != 0)
        return jc_err_field(err, JC_E_INVALID, "outcome",
                            "outcome must be success, failure, denied or error");
    const char *since = nonempty(jc_req_query(req, "since"));
    if (since && jc_time_parse_ms(since, &q.since) < 0)
        return jc_err_field(err, JC_E_INVALID, "since",
                            "since must be an RFC 3339 UTC time (2026-01-31T12:00:00Z)");
    const char *limit = jc_req_query(req, "limit");
    if (limit) {
        char *end;
        errno = 0;
        long long v = strtoll(limit, &end, 10);
        if (!*limit || *end || errno || v < 1 || v > 1000 || limit[0] == '+' || limit[0] == ' ')
            return jc_err_field(err, JC_E_INVALID, "limit", "limit must be an integer, 1 to 1000");
        q.limit = (size_t)v;
    }
    /* Events still in the queue belong on the page an admin asks for right after acting. */
    jc_audit_flush(api->audit, 1000);
    jc_audit_event *v = NULL;
    size_t n = 0;
    _cleanup_free_ char *next = NULL;
    if (jc_store_audit_query(api->store, &q, &v, &n, &next, err) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, event_json(&v[i]));
    free(v);
    return jc_reply_json(req, 200,
                         json_pack("{s:o, s:o}", "events", arr, "next_cursor",
                                   next ? json_string(next) : json_null()),
                         err);
}

int jc_audit_routes(jc_router *r, jc_api *api, jc_err *err) {
    (void)api;
    jc_route_opts o = {.auth = JC_AUTH_ADMIN, .group = "audit"};
    return jc_router_add(r, "GET", "/v1/audit", get_audit, &o, err);
}
