/* http.h: the orchestrator's HTTP client to the API server's internal API.
 *
 * libcurl's multi interface driven by the daemon's loop (curl_multi_socket_action): curl's
 * sockets are loop watches and its timeout is a loop timer, so a slow or absent server
 * never blocks supervision. Every request carries the internal key and the orchestrator
 * id; the key lives only in curl's header list and is wiped when the client is freed. */
#ifndef JOBCELL_ORC_HTTP_H
#define JOBCELL_ORC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "loop.h"

typedef struct jc_http jc_http;
typedef struct jc_http_req jc_http_req;

typedef struct jc_http_resp {
    long status;      /* 0 when no answer arrived (transport error, timeout) */
    const char *body; /* NUL-terminated; valid during the callback only */
    size_t body_len;
    int64_t retry_after_ms; /* from Retry-After (seconds), -1 when absent */
    const char *error;      /* transport error text when status is 0 */
} jc_http_resp;

typedef void (*jc_http_cb)(const jc_http_resp *resp, void *data);

/* A client for base_url ("http://127.0.0.1:8080"). key: the shared internal key bytes, sent
 * as a bearer on every request; NULL (key_len 0) for a client that signs instead. */
jc_http *jc_http_new(jc_loop *loop, const char *base_url, const unsigned char *key, size_t key_len,
                     const char *orchestrator_id, jc_err *err);
/* Sign every request from now on with this host's credential (key id and its 32-byte
 * secret, copied and wiped when the client is freed): X-JC-Key-Id, X-JC-Timestamp and
 * X-JC-Signature over the method, the path and query as sent, the orchestrator id, the
 * timestamp and the exact body bytes (include/jobcell/hmac_sig.h). */
int jc_http_set_signer(jc_http *http, const char *key_id, const unsigned char secret[32],
                       jc_err *err);
/* Abort every request in flight (their callbacks are not called) and free. */
void jc_http_free(jc_http *http);

typedef struct jc_http_opts {
    const char *method; /* "GET", "POST", "PUT" */
    const char *path;   /* "/internal/v1/claims" (appended to base_url) */
    const void *body;   /* copied */
    size_t body_len;
    const char *content_type; /* default application/json */
    const char *lease_token;  /* sent as X-Lease-Token when not NULL */
    int64_t timeout_ms;       /* whole request; 0: 30 s */
} jc_http_opts;

/* Start a request; cb is called exactly once from the loop, unless the request is
 * cancelled or the client freed first. Returns a handle valid until the callback. */
jc_http_req *jc_http_request(jc_http *http, const jc_http_opts *opts, jc_http_cb cb, void *data,
                             jc_err *err);
/* Abort a request in flight without calling its callback. NULL is fine. */
void jc_http_cancel(jc_http_req *req);
/* Requests in flight. */
unsigned jc_http_inflight(const jc_http *http);

#endif
