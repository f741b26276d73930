/* server.h: the libmicrohttpd side of jobcell-api (private to runtime-api/).
 *
 * Two listeners (admin + internal on `listen`, runtime on `runtime_listen`), each with
 * its own router, the suspension of waiting requests (claim long-polls, followed logs)
 * and their wake-ups, and an orderly stop. */
#ifndef JOBCELL_API_SERVER_H
#define JOBCELL_API_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "http.h"

typedef struct jc_server jc_server;

/* Create a router; style decides the error body shape. */
jc_router *jc_router_new(jc_err_style style);
void jc_router_free(jc_router *r);

/* Register the admin (/v1), internal (/internal/v1), /health and /metrics routes. */
int jc_admin_routes(jc_router *r, jc_api *api, jc_err *err);
int jc_internal_routes(jc_router *r, jc_api *api, jc_err *err);

/* Start both listeners (the runtime one when cfg->runtime_listen is not empty). Takes
 * ownership of the routers. */
jc_server *jc_server_start(jc_api *api, jc_router *main_router, jc_router *runtime_router,
                           jc_err *err);
/* Ports actually bound (useful with port 0). */
int jc_server_port(jc_server *s, bool runtime);
/* Resume every waiting request, stop accepting, let in-flight requests finish (bounded),
 * stop the daemons and free. */
void jc_server_stop(jc_server *s);

/* ---- waiting requests ------------------------------------------------------------------ */

/* A counter bumped by every jc_api_notify_work(): read it before looking for work, pass it
 * to jc_req_wait_work(), so a submit between the look and the wait is never missed. */
uint64_t jc_api_work_generation(jc_api *api);
/* Suspend the request until work is notified or wake_at (ms, wall clock) passes; the
 * handler is then called again with the same state. Returns 1 when suspended (the handler
 * must return 0 without replying), 0 when work arrived since `generation` (look again
 * now), -1 when the server is stopping (answer at once). */
int jc_req_wait_work(jc_req *req, uint64_t generation, int64_t wake_at);
/* True when the server is stopping. */
bool jc_api_stopping(jc_api *api);
/* True when the client has closed its side of the connection (its FIN has arrived): a
 * long poll whose caller is gone must not take work on its behalf, or the work would sit
 * claimed by nobody until its lease ran out. Never consumes request bytes. */
bool jc_req_peer_gone(jc_req *req);

/* Per-request state kept across suspensions; free_fn releases it when the request ends. */
void *jc_req_state(jc_req *req);
void jc_req_set_state(jc_req *req, void *state, void (*free_fn)(void *));

/* Answer 200 text/plain with the log from offset, then every byte appended until the
 * execution ends (chunked; the connection is suspended while there is nothing to send). */
int jc_reply_log_follow(jc_req *req, const char *exe_id, int64_t offset, jc_err *err);

#endif
