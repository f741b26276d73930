/* orc.h: the daemon's state, shared by its modules (private to orchestrator/). */
#ifndef JOBCELL_ORC_H
#define JOBCELL_ORC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "backoff.h"
#include "http.h"
#include "jobcell/jwt.h"
#include "loop.h"
#include "orc_config.h"
#include "profiles.h"
#include "proxy.h"
#include "spool.h"

#define JC_ORC_MAX_SLOTS 64

typedef struct jc_exe jc_exe;
typedef struct jc_sandbox_engine jc_sandbox_engine;

/* Counters for /metrics. */
typedef struct jc_orc_metrics {
    uint64_t claims_requests, claims_received, claims_errors;
    uint64_t started;
    uint64_t finished[8]; /* by jc_reason */
    uint64_t lease_lost;
    uint64_t api_errors; /* transport errors and 5xx from the API server */
    uint64_t log_bytes_sent;
    uint64_t completes_sent;
    uint64_t setup_failures;
    double claim_latency_sum_s; /* claim received → sandbox running */
    uint64_t claim_latency_count;
    uint64_t claim_latency_bucket[8]; /* ≤ 0.005 0.01 0.025 0.05 0.1 0.25 1 +Inf */
    jc_proxy_stats proxy;
} jc_orc_metrics;

typedef struct jc_orc {
    jc_orc_config *cfg;
    jc_loop *loop;
    jc_http *http;
    jc_jwt_keyring *ring;
    struct stat ring_stat; /* the ring file as loaded: a replaced file is reloaded at launch */
    jc_sandbox_engine *engine;
    jc_orc_profiles *profiles;
    jc_spool spool;
    char id[65];
    char ring_path[4096];
    /* the runtimes this host offers, found at start: a JSON array, e.g. ["bash","sh"] */
    char runtimes[64];

    /* the runtime API, resolved once */
    struct sockaddr_storage runtime_addr;
    socklen_t runtime_addr_len;
    SSL_CTX *runtime_tls;   /* an https runtime API: the shared client context, else NULL */
    char runtime_host[256]; /* the name its certificate must carry */

    jc_exe *slot[JC_ORC_MAX_SLOTS]; /* the execution holding each slot (its sandbox) */
    unsigned slots_busy;
    jc_exe *exes;          /* every execution still alive (running or delivering) */
    unsigned n_delivering; /* finished, result not yet acknowledged */

    /* claim loop */
    jc_http_req *claim_req;
    jc_timer *claim_timer;
    jc_backoff claim_backoff;
    bool claiming_enabled; /* off until the old spool is delivered, and while draining */
    bool handling_claims;  /* inside the answer of a claim request */

    jc_timer *beat_timer; /* the orchestrator heartbeat */
    jc_http_req *beat_req;
    jc_timer *watchdog_timer;

    /* shutdown */
    int signals_seen;
    bool draining;
    jc_timer *drain_timer;
    jc_timer *exit_timer;
    int64_t started_ms;

    jc_orc_metrics m;
} jc_orc;

/* exe.c: one execution's life. */
/* Take a claim (one element of the claims array) into the given slot. */
int jc_exe_from_claim(jc_orc *orc, json_t *claim, unsigned slot, jc_err *err);
/* Resume delivery of a spooled entry (ownership of its contents moves). */
int jc_exe_from_spool(jc_orc *orc, jc_spool_entry *entry, jc_err *err);
/* Cancel the job (drain timeout, second signal). */
void jc_exe_cancel(jc_exe *exe, const char *why);
/* Write a finished execution's result to the spool now, if not yet (daemon exit). */
void jc_exe_spool_now(jc_exe *exe);
/* Free everything (daemon exit). The sandbox, if still running, is killed. */
void jc_exe_destroy(jc_exe *exe);
/* The execution id. */
const char *jc_exe_id(const jc_exe *exe);
bool jc_exe_running(const jc_exe *exe);
jc_exe *jc_exe_next(const jc_exe *exe);

/* daemon.c: called by exe.c when a slot frees or a delivery ends. */
void jc_orc_slot_freed(jc_orc *orc);
void jc_orc_exe_gone(jc_orc *orc);

/* Reload the key ring when its file was replaced since it was loaded (daemon.c). */
void jc_orc_ring_refresh(jc_orc *orc);

#endif
