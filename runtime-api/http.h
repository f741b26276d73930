/* http.h: the router and request/response surface every jobcell-api handler uses.
 *
 * A route is a method and a path pattern whose "{name}" segments are parameters:
 *
 *     jc_router_add(r, "GET", "/executions/{id}/variables/{key}", get_var, &opts);
 *
 * Path segments are percent-decoded once, after the path is split, so a parameter may
 * contain any byte (a "%2F" never changes which route matches). A handler reads what it
 * needs through jc_req_*, answers with one jc_reply_* call and returns 0, or returns -1
 * with err filled: the router alone turns a jc_err into the status and error body (the
 * admin/internal shape or the runtime shape, per router). Body limits are enforced while
 * the body is read (413 before the handler runs). */
#ifndef JOBCELL_API_HTTP_H
#define JOBCELL_API_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"

typedef struct jc_api jc_api; /* the server context (api.h) */
typedef struct jc_router jc_router;
typedef struct jc_req jc_req;

typedef int (*jc_handler)(jc_req *req, jc_err *err);

/* How errors look on a listener (PROTOCOL.md). */
typedef enum jc_err_style {
    JC_ERRSTYLE_API,     /* {"error": "<code>", "message", "field"?} */
    JC_ERRSTYLE_RUNTIME, /* {"error": "<HTTP status text>", "message", "code"} */
} jc_err_style;

typedef enum jc_route_auth {
    JC_AUTH_NONE = 0, /* the handler authenticates itself (or the route is public) */
    JC_AUTH_USER,     /* an API token (admin or user): jc_req_principal() is set */
    JC_AUTH_ADMIN,    /* an API token with role admin */
    JC_AUTH_INTERNAL, /* internal key + X-Orchestrator-ID: jc_req_orchestrator() is set */
} jc_route_auth;

typedef struct jc_route_opts {
    size_t max_body;    /* bytes; 0: the router's default (256 KiB) */
    bool raw_body;      /* any Content-Type (log chunks); else JSON bodies only */
    jc_route_auth auth; /* checked before the handler runs */
    const char *group;  /* metrics label ("jobs", "claims", "runtime", …); NULL: "other" */
} jc_route_opts;

/* Register a handler. The pattern starts with '/'; "{name}" segments match one non-empty
 * segment. Routes are tried in registration order. opts may be NULL. */
int jc_router_add(jc_router *r, const char *method, const char *pattern, jc_handler h,
                  const jc_route_opts *opts, jc_err *err);

/* Fill the runtime listener's routes (PROTOCOL.md "Runtime API"). Defined in runtime.c;
 * a weak empty default in main.c keeps the program buildable without it. */
void jc_runtime_routes(jc_router *r, jc_api *api);

/* ---- reading a request ---------------------------------------------------------------- */

jc_api *jc_req_api(jc_req *req);
const char *jc_req_method(jc_req *req);
const char *jc_req_path(jc_req *req);
/* A path parameter by name (decoded), or NULL. */
const char *jc_req_param(jc_req *req, const char *name);
/* A query parameter (percent-decoded), or NULL. */
const char *jc_req_query(jc_req *req, const char *name);
/* A request header (case-insensitive), or NULL. */
const char *jc_req_header(jc_req *req, const char *name);
/* The raw body (NUL-terminated; len may be NULL). Never NULL: "" when empty. */
const char *jc_req_body(jc_req *req, size_t *len);
/* The body parsed as a JSON value. An empty or malformed body is JC_E_INVALID ("bad
 * request"); duplicate keys are rejected. Borrowed: valid until the request ends. */
json_t *jc_req_json(jc_req *req, jc_err *err);
/* The body as a JSON object whose keys are all in `allowed` (NULL-terminated): another key
 * is JC_E_UNKNOWN_FIELD naming it. Borrowed. */
json_t *jc_req_json_object(jc_req *req, const char *const *allowed, jc_err *err);
/* The peer's address as text ("127.0.0.1"). */
const char *jc_req_remote(jc_req *req);

typedef struct jc_principal {
    char token_id[64];
    char user[129];
    bool admin;
} jc_principal;

/* The authenticated API token (JC_AUTH_USER/ADMIN routes), else NULL. */
const jc_principal *jc_req_principal(jc_req *req);
/* The validated X-Orchestrator-ID (JC_AUTH_INTERNAL routes), else NULL. */
const char *jc_req_orchestrator(jc_req *req);

/* ---- answering ------------------------------------------------------------------------ */

/* Answer with a JSON body; takes ownership of body (NULL: no body). */
int jc_reply_json(jc_req *req, unsigned status, json_t *body, jc_err *err);
/* Answer with bytes (copied). */
int jc_reply_bytes(jc_req *req, unsigned status, const char *content_type, const void *data,
                   size_t len, jc_err *err);
/* Answer with no body (204 and the like). */
int jc_reply_empty(jc_req *req, unsigned status, jc_err *err);
/* Add a response header to the answer (before or after the reply call). */
int jc_reply_header(jc_req *req, const char *name, const char *value);
/* Extra members for the error body of a failing handler ("length" on 416). Takes
 * ownership of value. */
void jc_req_error_extra(jc_req *req, const char *key, json_t *value);

/* The single place mapping a jc_errcode to an HTTP status. */
unsigned jc_http_status(jc_errcode code);
/* The PROTOCOL.md error code for a jc_errcode ("invalid_field", "lease_lost", …). */
const char *jc_http_error_code(jc_errcode code, bool has_field);

/* Count one strike against the request's connection; returns the connection's count so
 * far (UINT_MAX when it cannot be counted). */
unsigned jc_req_connection_strike(jc_req *req);
/* Close the connection once this answer is sent ("Connection: close"). */
void jc_req_close_connection(jc_req *req);

/* Count an authentication failure (metrics and audit): group is the route group, reason
 * a fixed word ("missing", "malformed", "wrong_key", "invalid_token:expired", …). */
void jc_req_auth_failure(jc_req *req, const char *reason);
/* The same, naming the execution the credential was for (an execution token presented
 * after its execution ended: the detection scan reports it by execution). */
void jc_req_auth_failure_execution(jc_req *req, const char *reason, const char *exe_id);
/* Record who authenticated (audit trail): scheme "token", "bearer", "hmac" or "jwt"; actor
 * type "user", "orchestrator" or "execution"; the actor's id; the key version (kid, token
 * id). The strings are copied except scheme, which must be a static word. */
void jc_req_audit_auth(jc_req *req, const char *scheme, const char *actor_type, const char *actor,
                       const char *key_version);
/* Mark the request as a data operation for the audit trail: kind ("job_submit", …) and the
 * object it acts on (an id or a name, never a value). Its outcome comes from the answer. */
void jc_req_audit_op(jc_req *req, const char *kind, const char *target);

#endif
