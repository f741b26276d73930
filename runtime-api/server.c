/* server.c: libmicrohttpd listeners, the router, requests and replies, waiting requests.
 *
 * Each listener is an MHD daemon with its own epoll thread pool. A request lives in a
 * jc_req from its first callback to MHD's "completed" notification: the route is chosen
 * from the headers, the body is read into memory up to the route's limit (413 as soon as
 * the limit is passed), then authentication runs and the handler is called once — or
 * again after each resumption of a suspended request. */
#include "server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "audit.h"
#include "internal_auth.h"
#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"

#define MAX_PARAMS 4
#define MAX_SEGMENTS 16
#define MAX_HEADERS 8
#define MAX_QUERY 8
#define DEFAULT_MAX_BODY (256 * 1024)

typedef struct route {
    char method[8];
    char *segments[MAX_SEGMENTS]; /* "{name}" for parameters */
    size_t nseg;
    jc_handler handler;
    jc_route_opts opts;
    struct route *next;
} route;

struct jc_router {
    jc_err_style style;
    route *head, **tail;
};

typedef struct listener {
    struct MHD_Daemon *daemon;
    jc_router *router;
    jc_api *api;
    jc_server *server;
    bool runtime;
} listener;

/* A request waiting in suspension. */
typedef struct waiter {
    struct MHD_Connection *conn;
    int64_t wake_at;
    char exe_id[JC_ID_MAX]; /* log followers: the execution; claims: "" */
    struct waiter *next;
} waiter;

struct jc_server {
    jc_api *api;
    listener main, runtime;
    pthread_mutex_t lock; /* waiters, generations, stopping */
    pthread_cond_t cond;  /* the timer thread's wake-up */
    waiter *waiters;
    uint64_t work_gen, log_gen;
    bool stopping;
    pthread_t timer;
    bool timer_started;
};

/* The single server of this process: jc_api_notify_* reach it from any thread. */
static jc_server *g_server;

struct jc_req {
    struct MHD_Connection *conn;
    listener *l;
    char method[16];
    char *path;
    char *target; /* the request target exactly as received: path and query (signed) */
    const route *route;
    char *pnames[MAX_PARAMS], *pvalues[MAX_PARAMS];
    size_t nparams;
    char *qnames[MAX_QUERY], *qvalues[MAX_QUERY];
    size_t nquery;
    char *body;
    size_t len, cap, max_body, discarded;
    bool too_large, handled, early_error;
    json_t *json;
    jc_principal principal;
    bool has_principal;
    char orc[65];
    bool has_orc;
    /* what an auth failure records beside its reason: values from the store only */
    const char *auth_scheme;
    char auth_key_id[40];
    char auth_actor[65];
    /* the answer */
    unsigned status;
    struct MHD_Response *resp;
    json_t *extra;
    char *hnames[MAX_HEADERS], *hvalues[MAX_HEADERS];
    size_t nheaders;
    bool queued;
    int64_t start_ns;
    const char *group;
    char remote[64];
    void *state;
    void (*state_free)(void *);
    jc_err early; /* an error found before the handler runs (413, 415, 404, 405) */
    /* the audit trail (audit.h): how the caller authenticated, what it did */
    const char *audit_scheme; /* static word; NULL: no authentication happened */
    char audit_actor_type[16];
    char audit_actor[130];
    char audit_key[130];
    char audit_reason[64]; /* the failure's reason or the error code ("" none) */
    bool audit_failed;
    char audit_kind[32];
    char audit_target[130];
    unsigned early_status;
    struct follow *follow;
};

/* ---- router ----------------------------------------------------------------------------- */

jc_router *jc_router_new(jc_err_style style) {
    jc_router *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->style = style;
    r->tail = &r->head;
    return r;
}

void jc_router_free(jc_router *r) {
    if (!r)
        return;
    route *x = r->head;
    while (x) {
        route *next = x->next;
        for (size_t i = 0; i < x->nseg; i++)
            free(x->segments[i]);
        free(x);
        x = next;
    }
    free(r);
}

int jc_router_add(jc_router *r, const char *method, const char *pattern, jc_handler h,
                  const jc_route_opts *opts, jc_err *err) {
    if (!r || !method || !pattern || pattern[0] != '/' || !h)
        return jc_err_set(err, JC_E_INVALID, "router: bad route %s", pattern ? pattern : "");
    route *x = calloc(1, sizeof(*x));
    if (!x)
        return jc_err_sys(err, ENOMEM, "router");
    snprintf(x->method, sizeof(x->method), "%s", method);
    x->handler = h;
    if (opts)
        x->opts = *opts;
    const char *p = pattern + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (x->nseg == MAX_SEGMENTS || n == 0) {
            for (size_t i = 0; i < x->nseg; i++)
                free(x->segments[i]);
            free(x);
            return jc_err_set(err, JC_E_INVALID, "router: bad pattern %s", pattern);
        }
        x->segments[x->nseg++] = strndup(p, n);
        p += n;
        if (*p == '/')
            p++;
    }
    *r->tail = x;
    r->tail = &x->next;
    return 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decode once. A malformed escape or a NUL byte is refused. Owned result. */
static char *pct_decode(const char *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Match path against the router: 1 matched, 0 no path matched, 2 the path matched with
 * another method (405), -1 malformed path. */
static int route_match(jc_req *req, const jc_router *r) {
    char *segs[MAX_SEGMENTS];
    size_t nseg = 0;
    const char *p = req->path;
    if (*p != '/')
        return -1;
    p++;
    int rc = 0;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (nseg == MAX_SEGMENTS) {
            rc = 0;
            goto out;
        }
        segs[nseg] = pct_decode(p, n);
        if (!segs[nseg]) {
            rc = -1;
            goto out;
        }
        nseg++;
        p += n;
        if (*p == '/')
            p++;
    }
    bool path_seen = false;
    for (const route *x = r->head; x; x = x->next) {
        if (x->nseg != nseg)
            continue;
        bool ok = true;
        for (size_t i = 0; i < nseg && ok; i++) {
            if (x->segments[i][0] == '{')
                ok = segs[i][0] != '\0';
            else
                ok = strcmp(x->segments[i], segs[i]) == 0;
        }
        if (!ok)
            continue;
        path_seen = true;
        if (strcmp(x->method, req->method) != 0)
            continue;
        req->route = x;
        for (size_t i = 0; i < nseg && req->nparams < MAX_PARAMS; i++) {
            if (x->segments[i][0] != '{')
                continue;
            size_t len = strlen(x->segments[i]);
            req->pnames[req->nparams] = strndup(x->segments[i] + 1, len - 2);
            req->pvalues[req->nparams] = strdup(segs[i]);
            req->nparams++;
        }
        rc = 1;
        goto out;
    }
    rc = path_seen ? 2 : 0;
out:
    for (size_t i = 0; i < nseg; i++)
        free(segs[i]);
    return rc;
}

/* ---- errors --------------------------------------------------------------------------- */

unsigned jc_http_status(jc_errcode code) {
    switch (code) {
    case JC_E_INVALID:
    case JC_E_UNKNOWN_FIELD: return 400;
    case JC_E_AUTH: return 401;
    case JC_E_FORBIDDEN: return 403;
    case JC_E_NOT_FOUND: return 404;
    case JC_E_CONFLICT:
    case JC_E_LEASE_LOST: return 409;
    case JC_E_TOO_LARGE: return 413;
    case JC_E_UNSUPPORTED: return 415;
    case JC_E_RANGE: return 416;
    case JC_E_RATE_LIMITED: return 429;
    case JC_E_UNAVAILABLE: return 503;
    default: return 500;
    }
}

const char *jc_http_error_code(jc_errcode code, bool has_field) {
    switch (code) {
    case JC_E_INVALID: return has_field ? "invalid_field" : "bad_request";
    case JC_E_UNKNOWN_FIELD: return "unknown_field";
    case JC_E_AUTH: return "unauthorized";
    case JC_E_FORBIDDEN: return "forbidden";
    case JC_E_NOT_FOUND: return "not_found";
    case JC_E_CONFLICT: return "conflict";
    case JC_E_LEASE_LOST: return "lease_lost";
    case JC_E_TOO_LARGE: return "payload_too_large";
    case JC_E_UNSUPPORTED: return "unsupported_media_type";
    case JC_E_RANGE: return "range_not_satisfiable";
    case JC_E_RATE_LIMITED: return "rate_limited";
    case JC_E_UNAVAILABLE: return "unavailable";
    default: return "internal";
    }
}

static const char *status_text(unsigned status) {
    const char *t = MHD_get_reason_phrase_for(status);
    return t && *t ? t : "Error";
}

static struct MHD_Response *json_response(json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    size_t len = text ? strlen(text) : 0;
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return r;
}

/* Build the error answer for err (the single place a jc_err becomes a status and body). */
static void error_reply(jc_req *req, unsigned status, const jc_err *err) {
    jc_err_style style = req->l->router->style;
    bool internal = status >= 500;
    const char *message = internal ? "the server could not handle this request" : err->msg;
    if (internal && status == 503)
        message = "the service is unavailable, try again later";
    if (internal)
        jc_log(JC_LOG_ERROR, "request failed", "path", req->path, "method", req->method, "error",
               err->msg, NULL);
    const char *code = status == 405   ? "method_not_allowed"
                       : status == 404 ? "not_found"
                                       : jc_http_error_code(err->code, err->field[0] != 0);
    if (status == 413)
        code = "payload_too_large";
    json_t *body;
    if (style == JC_ERRSTYLE_RUNTIME) {
        body = json_pack("{s:s, s:s, s:s}", "error", status_text(status), "message", message,
                         "code", code);
    } else {
        body = json_pack("{s:s, s:s}", "error", code, "message", message);
        if (err->field[0] && !internal)
            json_object_set_new(body, "field", json_string(err->field));
    }
    if (req->extra && !internal)
        json_object_update(body, req->extra);
    if (!req->audit_failed)
        jc_audit_set(req->audit_reason, sizeof(req->audit_reason), code);
    if (req->resp)
        MHD_destroy_response(req->resp);
    req->resp = json_response(body);
    req->status = status;
    json_decref(body);
    bool has_retry = false;
    for (size_t i = 0; i < req->nheaders; i++)
        has_retry = has_retry || strcasecmp(req->hnames[i], "Retry-After") == 0;
    if (status == 429 && req->resp && !has_retry)
        MHD_add_response_header(req->resp, "Retry-After", "1");
}

/* ---- request accessors ---------------------------------------------------------------- */

jc_api *jc_req_api(jc_req *req) {
    return req->l->api;
}
const char *jc_req_method(jc_req *req) {
    return req->method;
}
const char *jc_req_path(jc_req *req) {
    return req->path;
}
const char *jc_req_param(jc_req *req, const char *name) {
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->pnames[i], name) == 0)
            return req->pvalues[i];
    return NULL;
}

const char *jc_req_query(jc_req *req, const char *name) {
    /* The unescape callback is the identity, so values arrive raw; decode once here and
     * keep the decoded copy with the request. */
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->qnames[i], name) == 0)
            return req->qvalues[i];
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!raw || req->nquery == MAX_QUERY)
        return NULL;
    char *d = pct_decode(raw, strlen(raw));
    if (!d)
        return NULL;
    for (char *p = d; *p; p++)
        if (*p == '+')
            *p = ' ';
    req->qnames[req->nquery] = strdup(name);
    if (!req->qnames[req->nquery]) {
        free(d);
        return NULL;
    }
    req->qvalues[req->nquery++] = d;
    return d;
}

const char *jc_req_header(jc_req *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *jc_req_body(jc_req *req, size_t *len) {
    if (len)
        *len = req->len;
    return req->body ? req->body : "";
}

json_t *jc_req_json(jc_req *req, jc_err *err) {
    if (req->json)
        return req->json;
    if (req->len == 0)
        return jc_err_set(err, JC_E_INVALID, "the request needs a JSON body"), NULL;
    json_error_t je;
    req->json = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!req->json)
        /* jansson's text quotes the offending bytes ("invalid token near 'x'"), which would echo
         * the body and, on the runtime listener, read like a complaint about the token */
        return jc_err_set(err, JC_E_INVALID, "the body is not valid JSON (line %d, column %d)",
                          je.line, je.column),
               NULL;
    return req->json;
}

json_t *jc_req_json_object(jc_req *req, const char *const *allowed, jc_err *err) {
    json_t *j = jc_req_json(req, err);
    if (!j)
        return NULL;
    if (!json_is_object(j))
        return jc_err_set(err, JC_E_INVALID, "the body must be a JSON object"), NULL;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed && allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok)
            return jc_err_field(err, JC_E_UNKNOWN_FIELD, key, "unknown field %s", key), NULL;
    }
    return j;
}

const char *jc_req_remote(jc_req *req) {
    return req->remote;
}
const jc_principal *jc_req_principal(jc_req *req) {
    return req->has_principal ? &req->principal : NULL;
}
const char *jc_req_orchestrator(jc_req *req) {
    return req->has_orc ? req->orc : NULL;
}
void *jc_req_state(jc_req *req) {
    return req->state;
}
void jc_req_set_state(jc_req *req, void *state, void (*free_fn)(void *)) {
    req->state = state;
    req->state_free = free_fn;
}

/* ---- replies ---------------------------------------------------------------------------- */

static void set_response(jc_req *req, unsigned status, struct MHD_Response *r) {
    if (req->resp)
        MHD_destroy_response(req->resp);
    req->resp = r;
    req->status = status;
}

int jc_reply_json(jc_req *req, unsigned status, json_t *body, jc_err *err) {
    struct MHD_Response *r = json_response(body);
    json_decref(body);
    if (!r)
        return jc_err_sys(err, ENOMEM, "reply");
    set_response(req, status, r);
    return 0;
}

int jc_reply_bytes(jc_req *req, unsigned status, const char *content_type, const void *data,
                   size_t len, jc_err *err) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(len ? data : ""), MHD_RESPMEM_MUST_COPY);
    if (!r)
        return jc_err_sys(err, ENOMEM, "reply");
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    set_response(req, status, r);
    return 0;
}

int jc_reply_empty(jc_req *req, unsigned status, jc_err *err) {
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return jc_err_sys(err, ENOMEM, "reply");
    set_response(req, status, r);
    return 0;
}

int jc_reply_header(jc_req *req, const char *name, const char *value) {
    if (req->nheaders == MAX_HEADERS)
        return -1;
    req->hnames[req->nheaders] = strdup(name);
    req->hvalues[req->nheaders] = strdup(value);
    req->nheaders++;
    return 0;
}

void jc_req_error_extra(jc_req *req, const char *key, json_t *value) {
    if (!req->extra)
        req->extra = json_object();
    json_object_set_new(req->extra, key, value);
}

static void auth_failure(jc_req *req, const char *reason, const char *exe_id) {
    jc_api *api = req->l->api;
    const char *group = req->route && req->route->opts.group ? req->route->opts.group : "other";
    jc_metrics_auth_failure(api->metrics, group, reason);
    const char *scheme = req->auth_scheme ? req->auth_scheme : "";
    jc_log(JC_LOG_WARN, "authentication failed", "group", group, "reason", reason, "remote",
           req->remote, "scheme", scheme, "key", req->auth_key_id, "orchestrator", req->auth_actor,
           NULL);
    /* The runtime listener is left out: every job of a host calls from its orchestrator's
     * address, so one hostile job would block all of them (it has its own strikes). */
    if (!req->l->runtime && api->iauth &&
        jc_addr_limit_fail(api->iauth->limit, req->remote, jc_time_mono_ms())) {
        __atomic_fetch_add(&api->iauth->blocks_started, 1, __ATOMIC_RELAXED);
        jc_log(JC_LOG_WARN, "address blocked after repeated authentication failures", "remote",
               req->remote, NULL);
    }
    /* The audit event is written when the request ends (audit_request); a flood of bad
     * credentials fills the bounded audit queue and is counted as dropped, never blocks. */
    req->audit_failed = true;
    /* copied: callers pass reasons built in their own buffers ("invalid_token:expired") */
    jc_audit_set(req->audit_reason, sizeof(req->audit_reason), reason);
    /* What the detection scan groups failures by (target; the actor stays "unknown"): the
     * execution of a valid token presented after its end, or the orchestrator id a failed
     * internal call claimed when it is well formed (a malformed header is not an id). */
    const char *orc = req->l->runtime ? NULL : jc_req_header(req, "X-Orchestrator-ID");
    if (exe_id && *exe_id)
        jc_audit_set(req->audit_target, sizeof(req->audit_target), exe_id);
    else if (orc && jc_orchestrator_id_valid(orc))
        jc_audit_set(req->audit_target, sizeof(req->audit_target), orc);
}

void jc_req_audit_auth(jc_req *req, const char *scheme, const char *actor_type, const char *actor,
                       const char *key_version) {
    req->audit_scheme = scheme;
    jc_audit_set(req->audit_actor_type, sizeof(req->audit_actor_type), actor_type);
    jc_audit_set(req->audit_actor, sizeof(req->audit_actor), actor);
    jc_audit_set(req->audit_key, sizeof(req->audit_key), key_version);
}

void jc_req_audit_op(jc_req *req, const char *kind, const char *target) {
    jc_audit_set(req->audit_kind, sizeof(req->audit_kind), kind);
    jc_audit_set(req->audit_target, sizeof(req->audit_target), target);
}

/* The scheme a route authenticates with, for failures (nobody was recognised). */
static const char *route_scheme(const jc_req *req) {
    if (req->l->runtime)
        return "jwt";
    switch (req->route ? req->route->opts.auth : JC_AUTH_NONE) {
    case JC_AUTH_USER:
    case JC_AUTH_ADMIN: return "token";
    case JC_AUTH_INTERNAL: return "bearer";
    default: return "none";
    }
}

/* One audit event per request that made an auth decision or a data operation. */
static void audit_request(jc_req *req, const char *group, int64_t micros) {
    jc_api *api = req->l->api;
    if (!api->audit || !req->route)
        return;
    if (!req->audit_failed && !req->audit_scheme && !req->audit_kind[0])
        return; /* public routes (/health) and requests that never reached authentication */
    jc_audit_event ev;
    memset(&ev, 0, sizeof(ev));
    unsigned status = req->status ? req->status : 500;
    JC_AUDIT_SET(&ev, group, group);
    JC_AUDIT_SET(&ev, remote, req->remote);
    ev.status = status;
    ev.latency_us = micros;
    if (req->audit_failed) {
        /* Bounded cardinality: whatever the caller presented, it is "unknown" — except an
         * orchestrator credential found in the store (its owner and key id come from the
         * store, not from the request). */
        bool known = req->auth_actor[0] != '\0';
        JC_AUDIT_SET(&ev, kind, "auth");
        JC_AUDIT_SET(&ev, actor_type, known ? "orchestrator" : "unknown");
        JC_AUDIT_SET(&ev, actor, known ? req->auth_actor : "unknown");
        JC_AUDIT_SET(&ev, key_version, req->auth_key_id);
        JC_AUDIT_SET(&ev, scheme,
                     req->auth_scheme    ? req->auth_scheme
                     : req->audit_scheme ? req->audit_scheme
                                         : route_scheme(req));
        JC_AUDIT_SET(&ev, outcome, "failure");
        JC_AUDIT_SET(&ev, reason, req->audit_reason[0] ? req->audit_reason : "unknown");
        JC_AUDIT_SET(&ev, target, req->audit_target);
    } else {
        JC_AUDIT_SET(&ev, kind, req->audit_kind[0] ? req->audit_kind : "auth");
        JC_AUDIT_SET(&ev, actor_type, req->audit_actor_type[0] ? req->audit_actor_type : "unknown");
        JC_AUDIT_SET(&ev, actor, req->audit_actor[0] ? req->audit_actor : "unknown");
        JC_AUDIT_SET(&ev, scheme, req->audit_scheme ? req->audit_scheme : route_scheme(req));
        JC_AUDIT_SET(&ev, key_version, req->audit_key);
        JC_AUDIT_SET(&ev, target, req->audit_target);
        JC_AUDIT_SET(&ev, outcome, status < 400 ? "success" : status == 403 ? "denied" : "error");
        JC_AUDIT_SET(&ev, reason,
                     status < 400           ? "ok"
                     : req->audit_reason[0] ? req->audit_reason
                                            : "error");
    }
    jc_audit_emit(api->audit, &ev);
}

void jc_req_auth_failure(jc_req *req, const char *reason) {
    auth_failure(req, reason, NULL);
}

void jc_req_auth_failure_execution(jc_req *req, const char *reason, const char *exe_id) {
    auth_failure(req, reason, exe_id);
}

/* ---- authentication -------------------------------------------------------------------- */

/* The X-JC-* headers of a request. Any header of that family commits the request to the
 * signed path: someone holding the shared key must not be able to add junk signature
 * headers and be judged by the bearer rules instead. */
typedef struct jc_headers {
    const char *key_id, *timestamp, *signature;
    unsigned count, duplicates, unknown;
} jc_headers;

static enum MHD_Result collect_jc_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value) {
    (void)kind;
    jc_headers *h = cls;
    if (strncasecmp(key, "X-JC-", 5) != 0)
        return MHD_YES;
    h->count++;
    const char **slot = strcasecmp(key, "X-JC-Key-Id") == 0      ? &h->key_id
                        : strcasecmp(key, "X-JC-Timestamp") == 0 ? &h->timestamp
                        : strcasecmp(key, "X-JC-Signature") == 0 ? &h->signature
                                                                 : NULL;
    if (!slot)
        h->unknown++;
    else if (*slot)
        h->duplicates++;
    else
        *slot = value ? value : "";
    return MHD_YES;
}

static int internal_refuse(jc_req *req, const char *reason, jc_err *err) {
    jc_req_auth_failure(req, reason);
    return jc_err_set(err, JC_E_AUTH, "invalid credentials");
}

/* /internal/v1: a signed request (X-JC-*) or, unless internal_auth.require_hmac, the shared
 * bearer key; X-Orchestrator-ID on both. */
static int authenticate_internal(jc_req *req, jc_err *err) {
    jc_api *api = req->l->api;
    jc_headers h = {0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_jc_header, &h);
    req->auth_scheme = h.count ? "hmac" : "bearer";
    const char *orc = jc_req_header(req, "X-Orchestrator-ID");
    if (!orc || !jc_orchestrator_id_valid(orc)) {
        jc_req_auth_failure(req, orc ? "bad_orchestrator_id" : "missing_orchestrator_id");
        return jc_err_set(err, JC_E_AUTH, "missing or malformed X-Orchestrator-ID");
    }
    if (h.count) {
        if (h.unknown)
            return internal_refuse(req, "unknown_signature_header", err);
        if (h.duplicates)
            return internal_refuse(req, "duplicate_signature_header", err);
        if (!h.key_id || !h.timestamp || !h.signature)
            return internal_refuse(req, "missing_signature_header", err);
        jc_iauth_request in = {.method = req->method,
                               .target = req->target,
                               .orchestrator = orc,
                               .key_id = h.key_id,
                               .timestamp = h.timestamp,
                               .signature = h.signature,
                               .body = req->body ? req->body : "",
                               .body_len = req->len};
        jc_iauth_result res;
        if (jc_iauth_verify(api->iauth, api->store, jc_api_master(api), &in, jc_time_now_ms(), &res,
                            err) < 0) {
            snprintf(req->auth_key_id, sizeof(req->auth_key_id), "%s", res.key_id);
            snprintf(req->auth_actor, sizeof(req->auth_actor), "%s", res.orchestrator);
            if (res.reason)
                jc_req_auth_failure(req, res.reason);
            if (res.reason && strcmp(res.reason, "store_error") == 0)
                jc_metrics_auth_undecided(api->metrics, "internal"); /* refused: fail closed */
            return -1;
        }
        jc_iauth_count_ok(api->iauth, true);
        jc_req_audit_auth(req, "hmac", "orchestrator", orc, res.key_id);
    } else {
        const char *a = jc_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *token;
        size_t tlen;
        if (!a)
            return internal_refuse(req, "missing", err);
        if (api->cfg->require_hmac)
            return internal_refuse(req, "bearer_refused", err);
        if (jc_auth_parse_bearer(a, &token, &tlen) < 0)
            return internal_refuse(req, "malformed", err);
        const jc_secret *key = &api->cfg->internal_key;
        if (!jc_auth_equal(token, tlen, key->data, key->len))
            return internal_refuse(req, "wrong_key", err);
        jc_iauth_count_ok(api->iauth, false);
        jc_req_audit_auth(req, "bearer", "orchestrator", orc, "internal_key");
    }
    snprintf(req->orc, sizeof(req->orc), "%s", orc);
    req->has_orc = true;
    return 0;
}

static int authenticate(jc_req *req, jc_err *err) {
    jc_api *api = req->l->api;
    jc_route_auth kind = req->route->opts.auth;
    if (kind == JC_AUTH_NONE)
        return 0;
    if (kind == JC_AUTH_INTERNAL)
        return authenticate_internal(req, err);
    const char *h = jc_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *token;
    size_t tlen;
    if (!h) {
        jc_req_auth_failure(req, "missing");
        return jc_err_set(err, JC_E_AUTH, "authentication required");
    }
    if (jc_auth_parse_bearer(h, &token, &tlen) < 0) {
        jc_req_auth_failure(req, "malformed");
        return jc_err_set(err, JC_E_AUTH, "authentication required");
    }
    /* API tokens: the store is searched by SHA-256, so the secret never reaches it; the
     * stored hash is then compared in constant time all the same. */
    char hash[65], stored[65];
    jc_sha256_hex(token, tlen, hash);
    jc_api_token t;
    jc_err lookup;
    if (tlen != JC_API_TOKEN_LEN || strncmp(token, "jct_", 4) != 0 ||
        jc_store_token_lookup(api->store, hash, &t, stored, &lookup) < 0) {
        if (tlen == JC_API_TOKEN_LEN && lookup.code != JC_E_AUTH && lookup.code != JC_E_OK) {
            /* the store could not say: refuse (fail closed), and count it */
            const char *group =
                req->route && req->route->opts.group ? req->route->opts.group : "other";
            jc_metrics_auth_undecided(api->metrics, group);
            *err = lookup;
            return -1;
        }
        jc_req_auth_failure(req, "unknown_token");
        return jc_err_set(err, JC_E_AUTH, "invalid credentials");
    }
    if (!jc_auth_equal(hash, 64, stored, strlen(stored))) {
        jc_req_auth_failure(req, "unknown_token");
        return jc_err_set(err, JC_E_AUTH, "invalid credentials");
    }
    snprintf(req->principal.token_id, sizeof(req->principal.token_id), "%s", t.id);
    snprintf(req->principal.user, sizeof(req->principal.user), "%s", t.user);
    req->principal.admin = strcmp(t.role, "admin") == 0;
    req->has_principal = true;
    jc_req_audit_auth(req, "token", "user", t.user, t.id);
    if (kind == JC_AUTH_ADMIN && !req->principal.admin)
        return jc_err_set(err, JC_E_FORBIDDEN, "this needs an admin token");
    return 0;
}

/* ---- waiting ------------------------------------------------------------------------- */

uint64_t jc_api_work_generation(jc_api *api) {
    (void)api;
    jc_server *s = g_server;
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    uint64_t g = s->work_gen;
    pthread_mutex_unlock(&s->lock);
    return g;
}

bool jc_api_stopping(jc_api *api) {
    (void)api;
    jc_server *s = g_server;
    if (!s)
        return true;
    pthread_mutex_lock(&s->lock);
    bool st = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* Suspend conn into the waiter list, under the lock. */
static int park(jc_server *s, struct MHD_Connection *conn, const char *exe_id, uint64_t gen,
                bool log, int64_t wake_at) {
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    if ((log ? s->log_gen : s->work_gen) != gen) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    waiter *w = calloc(1, sizeof(*w));
    if (!w) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    w->conn = conn;
    w->wake_at = wake_at;
    snprintf(w->exe_id, sizeof(w->exe_id), "%s", exe_id ? exe_id : "");
    MHD_suspend_connection(conn);
    w->next = s->waiters;
    s->waiters = w;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 1;
}

bool jc_req_peer_gone(jc_req *req) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    char byte;
    /* 0 is an orderly close; pipelined bytes or EAGAIN mean the client is still there */
    ssize_t n = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && (errno == ECONNRESET || errno == ENOTCONN || errno == EPIPE));
}

int jc_req_wait_work(jc_req *req, uint64_t generation, int64_t wake_at) {
    jc_server *s = req->l->server;
    return park(s, req->conn, NULL, generation, false, wake_at);
}

/* Resume the waiters matching pred; caller holds the lock. */
static void resume_where(jc_server *s, bool all, bool work, const char *exe_id, int64_t now) {
    waiter **pp = &s->waiters;
    while (*pp) {
        waiter *w = *pp;
        bool match = all || (now && w->wake_at <= now) || (work && !w->exe_id[0]) ||
                     (exe_id && w->exe_id[0] && strcmp(w->exe_id, exe_id) == 0);
        if (match) {
            *pp = w->next;
            MHD_resume_connection(w->conn);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

void jc_api_notify_work(jc_api *api) {
    (void)api;
    jc_server *s = g_server;
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->work_gen++;
    resume_where(s, false, true, NULL, 0);
    pthread_mutex_unlock(&s->lock);
}

void jc_api_notify_log(jc_api *api, const char *exe_id) {
    (void)api;
    jc_server *s = g_server;
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->log_gen++;
    resume_where(s, false, false, exe_id, 0);
    pthread_mutex_unlock(&s->lock);
}

/* The timer thread: resumes waiters whose time has come. */
static void *timer_main(void *arg) {
    jc_server *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        int64_t now = jc_time_now_ms();
        resume_where(s, false, false, NULL, now);
        int64_t next = now + 1000;
        for (waiter *w = s->waiters; w; w = w->next)
            if (w->wake_at < next)
                next = w->wake_at;
        if (next < now + 1)
            next = now + 1;
        struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000L};
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- followed logs ------------------------------------------------------------------- */

typedef struct follow {
    jc_server *server;
    jc_api *api;
    struct MHD_Connection *conn;
    char exe_id[JC_ID_MAX];
    int64_t offset;
} follow;

static ssize_t follow_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    follow *f = cls;
    for (int tries = 0; tries < 4; tries++) {
        uint64_t gen;
        pthread_mutex_lock(&f->server->lock);
        gen = f->server->log_gen;
        bool stopping = f->server->stopping;
        pthread_mutex_unlock(&f->server->lock);
        jc_log_read lr;
        jc_err err;
        if (jc_store_log_read(f->api->store, f->exe_id, f->offset, max, &lr, &err) < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (lr.len > 0) {
            memcpy(buf, lr.data, lr.len);
            free(lr.data);
            f->offset += (int64_t)lr.len;
            return (ssize_t)lr.len;
        }
        free(lr.data);
        if (lr.finished || stopping)
            return MHD_CONTENT_READER_END_OF_STREAM;
        /* Nothing yet: sleep in suspension until a chunk is appended. The periodic wake
         * notices an execution that ended without a final chunk (reaper, cancel). */
        int r = park(f->server, f->conn, f->exe_id, gen, true, jc_time_now_ms() + 2000);
        if (r == 1)
            return 0;
        if (r < 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    return 0;
}

static void follow_free(void *cls) {
    free(cls);
}

int jc_reply_log_follow(jc_req *req, const char *exe_id, int64_t offset, jc_err *err) {
    follow *f = calloc(1, sizeof(*f));
    if (!f)
        return jc_err_sys(err, ENOMEM, "logs");
    f->server = req->l->server;
    f->api = req->l->api;
    f->conn = req->conn;
    snprintf(f->exe_id, sizeof(f->exe_id), "%s", exe_id);
    f->offset = offset;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, follow_read, f, follow_free);
    if (!r) {
        free(f);
        return jc_err_sys(err, ENOMEM, "logs");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    set_response(req, 200, r);
    return 0;
}

/* ---- the MHD callbacks ------------------------------------------------------------------ */

static void req_free(jc_req *req) {
    if (!req)
        return;
    free(req->path);
    free(req->target);
    for (size_t i = 0; i < MAX_PARAMS; i++) {
        free(req->pnames[i]);
        free(req->pvalues[i]);
    }
    for (size_t i = 0; i < req->nquery; i++) {
        free(req->qnames[i]);
        free(req->qvalues[i]);
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->hnames[i]);
        free(req->hvalues[i]);
    }
    free(req->body);
    json_decref(req->json);
    json_decref(req->extra);
    if (req->resp)
        MHD_destroy_response(req->resp);
    if (req->state_free)
        req->state_free(req->state);
    free(req);
}

/* Per-connection state: a strike count (the runtime API closes a connection after too
 * many invalid tokens on it). Allocated when the connection opens, freed when it closes. */
static void connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    (void)conn;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(unsigned));
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        free(*socket_context);
        *socket_context = NULL;
    }
}

unsigned jc_req_connection_strike(jc_req *req) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    unsigned *strikes = ci ? ci->socket_context : NULL;
    /* a connection is served by one thread at a time: no lock needed */
    return strikes ? ++*strikes : UINT_MAX;
}

void jc_req_close_connection(jc_req *req) {
    jc_reply_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    jc_req *req = *con_cls;
    if (!req)
        return;
    if (!req->conn) { /* only its target was seen (the request head was not complete) */
        req_free(req);
        *con_cls = NULL;
        return;
    }
    int64_t micros = (jc_time_mono_ns() - req->start_ns) / 1000;
    const char *group = req->route && req->route->opts.group ? req->route->opts.group : "other";
    if (req->l->runtime && !(req->route && req->route->opts.group))
        group = "runtime";
    jc_metrics_request(req->l->api->metrics, group, req->status ? req->status : 500, micros);
    audit_request(req, group, micros);
    req_free(req);
    *con_cls = NULL;
}

static bool json_content_type(const char *ct) {
    if (!ct)
        return false;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result queue(jc_req *req) {
    if (!req->resp) {
        jc_err e;
        jc_err_set(&e, JC_E_INTERNAL, "handler gave no answer");
        error_reply(req, 500, &e);
        if (!req->resp)
            return MHD_NO;
    }
    for (size_t i = 0; i < req->nheaders; i++)
        MHD_add_response_header(req->resp, req->hnames[i], req->hvalues[i]);
    req->queued = true;
    enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->resp);
    MHD_destroy_response(req->resp);
    req->resp = NULL;
    return r;
}

/* MHD's URI log callback: the first sight of a request, with its target exactly as sent
 * (MHD later splits off and parses the query; a signature covers the original text). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    (void)conn;
    jc_req *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->target = strdup(uri ? uri : "");
    if (!req->target) {
        free(req);
        return NULL;
    }
    return req;
}

/* Fill in a request (req from on_uri, or NULL). */
static jc_req *req_new(jc_req *req, listener *l, struct MHD_Connection *conn, const char *url,
                       const char *method) {
    if (!req)
        req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    if (!req->target)
        req->target = strdup(url);
    req->conn = conn;
    req->l = l;
    req->start_ns = jc_time_mono_ns();
    snprintf(req->method, sizeof(req->method), "%s", method);
    /* the path without its query (MHD hands the path alone, but be sure) */
    const char *q = strchr(url, '?');
    req->path = q ? strndup(url, (size_t)(q - url)) : strdup(url);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req->remote,
                      sizeof(req->remote));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->remote,
                      sizeof(req->remote));
    }
    if (!req->path || !req->target) {
        req_free(req);
        return NULL;
    }
    return req;
}

/* First look at a request: route, size and media type, before any body byte is read. */
static void req_prepare(jc_req *req) {
    jc_router *r = req->l->router;
    int m = route_match(req, r);
    if (m != 1) {
        req->early_error = true;
        req->early_status = m == 2 ? 405 : m < 0 ? 400 : 404;
        jc_err_set(&req->early, m < 0 ? JC_E_INVALID : JC_E_NOT_FOUND, "%s",
                   m == 2  ? "this method is not allowed on this path"
                   : m < 0 ? "the path is not valid"
                           : "no such path");
        return;
    }
    req->max_body = req->route->opts.max_body ? req->route->opts.max_body : DEFAULT_MAX_BODY;
    const char *cl = jc_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno || *end || v > req->max_body) {
            req->early_error = true;
            req->early_status = 413;
            jc_err_set(&req->early, JC_E_TOO_LARGE, "the body is larger than %zu bytes",
                       req->max_body);
            return;
        }
    }
    if (!req->route->opts.raw_body && !req->l->runtime) {
        const char *ct = jc_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
        bool has_body =
            (cl && strcmp(cl, "0") != 0) || jc_req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if (has_body && !json_content_type(ct)) {
            req->early_error = true;
            req->early_status = 415;
            jc_err_set(&req->early, JC_E_UNSUPPORTED, "the body must be application/json");
        }
    }
}

/* An address that failed authentication too often gets 429 on every authenticated route
 * until its block ends, whatever credentials it now shows: guessing stops there. */
static int address_blocked(jc_req *req, jc_err *err) {
    jc_api *api = req->l->api;
    if (req->l->runtime || req->route->opts.auth == JC_AUTH_NONE || !api->iauth)
        return 0;
    int64_t left = jc_addr_limit_blocked(api->iauth->limit, req->remote, jc_time_mono_ms());
    if (left <= 0)
        return 0;
    jc_iauth_count_blocked(api->iauth);
    /* audited as a refusal, not counted as another failure (the block would never end) */
    req->audit_failed = true;
    jc_audit_set(req->audit_reason, sizeof(req->audit_reason), "address_blocked");
    char ra[24];
    snprintf(ra, sizeof(ra), "%lld", (long long)left);
    jc_reply_header(req, "Retry-After", ra);
    return jc_err_set(err, JC_E_RATE_LIMITED,
                      "too many failed authentications from this address; try again later");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    listener *l = cls;
    jc_req *req = *con_cls;
    if (!req || !req->conn) {
        req = req_new(req, l, conn, url, method);
        *con_cls = req;
        if (!req)
            return MHD_NO;
        *con_cls = req;
        req_prepare(req);
        if (req->early_error && req->early_status == 413) {
            /* Answer at once: the body is never read. */
            error_reply(req, 413, &req->early);
            return queue(req);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->early_error || req->too_large) {
            /* Discard, counting: libmicrohttpd cannot answer in the middle of a body, so the
             * 413 goes out once it ends; a sender that keeps going past twice the limit is
             * cut off without an answer. */
            req->discarded += n;
            return req->discarded > req->max_body + (1u << 20) ? MHD_NO : MHD_YES;
        }
        size_t need;
        if (__builtin_add_overflow(req->len, n, &need) || need > req->max_body) {
            /* Enforced while reading: nothing past the limit is ever stored. */
            req->too_large = true;
            req->discarded = need;
            free(req->body);
            req->body = NULL;
            req->len = req->cap = 0;
            req->early_error = true;
            req->early_status = 413;
            jc_err_set(&req->early, JC_E_TOO_LARGE, "the body is larger than %zu bytes",
                       req->max_body);
            return MHD_YES;
        }
        if (need + 1 > req->cap) {
            size_t cap = req->cap ? req->cap : 4096;
            while (cap < need + 1)
                cap *= 2;
            if (cap > req->max_body + 1)
                cap = req->max_body + 1;
            char *nb = realloc(req->body, cap);
            if (!nb)
                return MHD_NO;
            req->body = nb;
            req->cap = cap;
        }
        memcpy(req->body + req->len, upload_data, n);
        req->len = need;
        req->body[req->len] = '\0';
        return MHD_YES;
    }
    if (req->queued)
        return MHD_YES;
    if (req->early_error) {
        error_reply(req, req->early_status, &req->early);
        return queue(req);
    }
    /* The whole body is here (or the request was resumed): authenticate and handle. */
    jc_err err;
    jc_err_clear(&err);
    int rc = 0;
    if (!req->handled) {
        req->handled = true;
        rc = address_blocked(req, &err);
        if (rc == 0)
            rc = authenticate(req, &err);
    }
    if (rc == 0) {
        if (req->resp) { /* a reply set before a suspension (followed logs) */
            return queue(req);
        }
        rc = req->route->handler(req, &err);
        if (rc == 0 && !req->resp)
            return MHD_YES; /* suspended: called again when resumed */
    }
    if (rc < 0)
        error_reply(req, jc_http_status(err.code), &err);
    return queue(req);
}

/* Paths and query values are decoded by the router, once, after splitting. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls;
    (void)c;
    return strlen(s);
}

JC_PRINTF(2, 0) static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    jc_log(JC_LOG_DEBUG, "http", "detail", buf, NULL);
}

/* Parse "host:port" or "[v6]:port". */
static int parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                        jc_err *err) {
    char host[128];
    const char *colon;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host))
            return jc_err_set(err, JC_E_CONFIG, "listen address '%s' is not [host]:port", text);
        snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof(host))
            return jc_err_set(err, JC_E_CONFIG, "listen address '%s' is not host:port", text);
        snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return jc_err_set(err, JC_E_CONFIG, "listen address '%s' has a bad port", text);
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
    } else {
        return jc_err_set(err, JC_E_CONFIG, "listen address '%s': host must be an IP address",
                          text);
    }
    return 0;
}

static int listener_start(jc_server *s, listener *l, const char *addr, bool runtime, jc_err *err) {
    struct sockaddr_storage ss;
    socklen_t slen;
    if (parse_listen(addr, &ss, &slen, err) < 0)
        return -1;
    const jc_api_config *cfg = s->api->cfg;
    unsigned flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    l->server = s;
    l->api = s->api;
    l->runtime = runtime;
    unsigned threads = (unsigned)(cfg->threads > 0 ? cfg->threads : 4);
    /* Header lines up to 16 KiB must fit in the connection's memory pool, with room for
     * the rest of the request head: 64 KiB. The runtime listener carries no per-address
     * limit (every job of a host arrives from its orchestrator's address). */
    unsigned per_ip = runtime ? 0 : (unsigned)cfg->per_ip_connections;
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->request_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
        completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, connection_notify, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!l->daemon)
        return jc_err_sys(err, errno ? errno : EADDRINUSE, "cannot listen on %s", addr);
    return 0;
}

jc_server *jc_server_start(jc_api *api, jc_router *main_router, jc_router *runtime_router,
                           jc_err *err) {
    jc_server *s = calloc(1, sizeof(*s));
    if (!s) {
        jc_router_free(main_router);
        jc_router_free(runtime_router);
        return jc_err_sys(err, ENOMEM, "server"), NULL;
    }
    s->api = api;
    s->main.router = main_router;
    s->runtime.router = runtime_router;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    g_server = s;
    if (pthread_create(&s->timer, NULL, timer_main, s) != 0) {
        jc_err_sys(err, errno, "server: timer thread");
        goto fail;
    }
    s->timer_started = true;
    if (listener_start(s, &s->main, api->cfg->listen, false, err) < 0)
        goto fail;
    if (api->cfg->runtime_listen && api->cfg->runtime_listen[0] &&
        listener_start(s, &s->runtime, api->cfg->runtime_listen, true, err) < 0)
        goto fail;
    return s;
fail:
    jc_server_stop(s);
    return NULL;
}

int jc_server_port(jc_server *s, bool runtime) {
    listener *l = runtime ? &s->runtime : &s->main;
    if (!l->daemon)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : -1;
}

static unsigned active_connections(listener *l) {
    if (!l->daemon)
        return 0;
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return di ? di->num_connections : 0;
}

void jc_server_stop(jc_server *s) {
    if (!s)
        return;
    /* Stop accepting first, so nothing new arrives while we drain. */
    if (s->main.daemon)
        MHD_quiesce_daemon(s->main.daemon);
    if (s->runtime.daemon)
        MHD_quiesce_daemon(s->runtime.daemon);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    resume_where(s, true, false, NULL, 0);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (s->timer_started)
        pthread_join(s->timer, NULL);
    /* Let in-flight requests finish (bounded: idle keep-alive connections count too). */
    for (int i = 0; i < 50 && active_connections(&s->main) + active_connections(&s->runtime); i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&s->lock);
        resume_where(s, true, false, NULL, 0);
        pthread_mutex_unlock(&s->lock);
    }
    if (s->main.daemon)
        MHD_stop_daemon(s->main.daemon);
    if (s->runtime.daemon)
        MHD_stop_daemon(s->runtime.daemon);
    jc_router_free(s->main.router);
    jc_router_free(s->runtime.router);
    g_server = NULL;
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
