/* internal_auth.h: signed internal requests and the per-address auth-failure limit
 * (private to runtime-api/).
 *
 * jc_iauth_verify() checks one HMAC-signed /internal/v1 request (include/jobcell/hmac_sig.h
 * has the scheme) against the credentials in the store: timestamp window, key owner,
 * revocation and expiry, the signature over the raw body bytes, and a bounded replay cache.
 * Every refusal has its own reason (a fixed word, safe as a metrics label and in the
 * audit trail).
 *
 * jc_addr_limit counts authentication failures per client address (IPv6 by /64, since one
 * host owns a whole /64) and blocks an address for a while after too many in a minute.
 * Both tables are fixed in size, allocated once: no request can grow them. */
#ifndef JOBCELL_API_INTERNAL_AUTH_H
#define JOBCELL_API_INTERNAL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "store.h"

typedef struct jc_master_ring jc_master_ring;

/* ---- replay cache ------------------------------------------------------------------ */

typedef struct jc_replay_cache jc_replay_cache;

/* A cache of `entries` signatures (rounded up to a power of two). Owned. */
jc_replay_cache *jc_replay_cache_new(size_t entries);
void jc_replay_cache_free(jc_replay_cache *c);
/* Record a verified signature that stays acceptable until until_s (unix seconds):
 * 0 first sight (recorded), 1 already seen and still live (a replay), -1 no room left
 * (fail closed: the request is refused, not let through unrecorded). */
int jc_replay_cache_check(jc_replay_cache *c, const char sig[64], int64_t until_s, int64_t now_s);

/* ---- per-address failure limit ------------------------------------------------------ */

typedef struct jc_addr_limit jc_addr_limit;

/* per_minute 0 turns the limit off (NULL is returned and every call below is a no-op). */
jc_addr_limit *jc_addr_limit_new(size_t entries, int64_t per_minute, int64_t block_s);
void jc_addr_limit_free(jc_addr_limit *l);
/* Seconds left of a block on addr (rounded up), 0 when it is not blocked. */
int64_t jc_addr_limit_blocked(jc_addr_limit *l, const char *addr, int64_t now_ms);
/* Count one failure from addr; true when it has just started a block. */
bool jc_addr_limit_fail(jc_addr_limit *l, const char *addr, int64_t now_ms);

/* ---- verification ------------------------------------------------------------------ */

typedef struct jc_iauth {
    jc_replay_cache *replay;
    jc_addr_limit *limit;
    /* counters for /metrics (under lock) */
    uint64_t ok_hmac, ok_bearer, blocked, blocks_started;
} jc_iauth;

typedef struct jc_iauth_request {
    const char *method, *target; /* target: path and query exactly as received */
    const char *orchestrator;    /* X-Orchestrator-ID (already checked for its form) */
    const char *key_id, *timestamp, *signature;
    const void *body;
    size_t body_len;
} jc_iauth_request;

/* What is known of the caller after a verification, for the audit trail: only values
 * taken from the store, never presented ones ("" when unknown). */
typedef struct jc_iauth_result {
    const char *reason; /* NULL on success, else a fixed word */
    char key_id[40];
    char orchestrator[65];
} jc_iauth_result;

/* Verify one signed request at now_ms. 0 when it is authentic and fresh; -1 with
 * res->reason set (err: JC_E_AUTH for a refusal, JC_E_UNAVAILABLE when the replay cache is
 * full or the store is busy). */
int jc_iauth_verify(jc_iauth *ia, jc_store *st, const jc_master_ring *ring,
                    const jc_iauth_request *in, int64_t now_ms, jc_iauth_result *res, jc_err *err);

/* Counters: a successful internal authentication by scheme, a refused blocked request. */
void jc_iauth_count_ok(jc_iauth *ia, bool hmac);
void jc_iauth_count_blocked(jc_iauth *ia);
/* Prometheus text of the counters (owned). */
char *jc_iauth_metrics_text(jc_iauth *ia);

/* `jobcell-api orchestrator …` (orchestrator_cmd.c): argv[0] is "orchestrator". Exit status. */
int jc_api_cmd_orchestrator(int argc, char **argv);

#endif
