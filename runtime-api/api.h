/* api.h: the jobcell-api server context shared by every handler.
 *
 * One jc_api per process: the configuration, the store, the JWT key ring, the metrics, and
 * the wake-up machinery of long-poll claims and followed logs. Handlers get it with
 * jc_req_api(). */
#ifndef JOBCELL_API_API_H
#define JOBCELL_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/config.h"
#include "jobcell/jwt.h"
#include "jobcell/seal.h"
#include "http.h"
#include "store.h"

/* The configuration (config.h schema in config.c; docs/configuration.md lists it). */
typedef struct jc_api_config {
    char *listen;         /* "127.0.0.1:8080" */
    char *runtime_listen; /* "127.0.0.1:8081"; "" disables the runtime listener */
    char *store_path;     /* SQLite database file */
    char *store_url;      /* PostgreSQL URL or conninfo; "" for SQLite */
    jc_secret store_password;
    int64_t store_pool_size;
    int64_t store_statement_timeout_ms;
    jc_secret internal_key;
    char *jwt_keyring_file;
    char *master_key_file; /* "" when secrets at rest are not configured */
    char *profile_dir;
    char *log_level;
    int64_t threads;
    int64_t max_connections;
    int64_t per_ip_connections;
    int64_t request_timeout_s;
    int64_t lease_s;
    int64_t reaper_interval_s;
    int64_t kill_grace_s;
    bool metrics_require_key;
    /* body limits (bytes) */
    int64_t max_body_jobs;
    int64_t max_body_chunk;
    int64_t max_body_other;
    /* job limits */
    int64_t max_script_bytes;
    int64_t max_input_bytes;
    int64_t max_env;
    int64_t max_env_value;
    int64_t max_output_bytes;
    int64_t max_variable_bytes;
    int64_t max_memory_mb;
    int64_t max_pids;
    double max_cpu;
    int64_t max_tmp_mb;
    int64_t max_workspace_mb;
    int64_t max_output_mb;
    int64_t max_timeout_s;
    int64_t max_wait_s;
    int64_t runtime_rate;
    int64_t runtime_burst;
    int64_t idempotency_ttl_s;
    /* retention and maintenance (maintenance.c) */
    int64_t retention_jobs_days; /* also the largest retention_days a job may ask for */
    int64_t retention_signals_days;
    int64_t retention_activity_days;
    int64_t prune_batch_rows;
    int64_t prune_pause_ms;
    int64_t prune_vacuum_pages;
    int64_t prune_interval_s;
    int64_t scan_interval_s;
    int64_t scan_window_s;
    /* detection thresholds (signals.c) */
    int64_t sig_new_token_window_s;
    int64_t sig_new_token_min_submits;
    int64_t sig_token_rate_min;
    int64_t sig_token_rate_factor;
    int64_t sig_token_rate_baseline_s;
    int64_t sig_auth_burst_address;
    int64_t sig_auth_burst_orchestrator;
    int64_t sig_leases_lost;
    int64_t sig_egress_denied;
    /* growth thresholds per kind (store_upkeep.h order; 0: none) and for the whole store */
    int64_t threshold_rows[7];
    int64_t threshold_bytes[7];
    int64_t threshold_store_bytes;
    /* the audit trail (audit.h) */
    int64_t audit_queue;
    int64_t audit_aggregate_s;
    int64_t audit_retention_days;
    /* signed internal requests and the auth-failure limit (internal_auth.c) */
    bool require_hmac;
    int64_t rotation_grace_s;
    int64_t replay_cache_entries;
    int64_t key_cache_ms;
    int64_t auth_fail_per_minute;
    int64_t auth_fail_block_s;
    int64_t egress_max_rules; /* egress.max_rules_per_job */
} jc_api_config;

extern const jc_cfg_schema jc_api_config_schema;

/* Open the store a configuration names: PostgreSQL when store.url is set, else the SQLite
 * store_path (api_config.c). Owned: jc_store_close. */
jc_store *jc_api_open_store(const jc_api_config *cfg, jc_err *err);
/* What logs and messages may say about that store (a URL may hold a password). */
const char *jc_api_store_label(const jc_api_config *cfg);

typedef struct jc_metrics jc_metrics;

struct jc_api {
    jc_api_config *cfg;
    jc_store *store;
    jc_jwt_keyring *keyring; /* loaded at start; the runtime API verifies tokens with it */
    jc_metrics *metrics;
    struct jc_audit *audit; /* the audit trail's queue (audit.h); NULL: events are not kept */
    jc_master_ring *master; /* NULL when master_key_file is not set: secrets are refused */
    char **profiles;        /* known seccomp profile names (sorted), NULL-terminated */
    char **profile_descriptions;
    size_t nprofiles;
    void *runtime_state;    /* free for the runtime routes' own state (rate limits …) */
    struct jc_iauth *iauth; /* signed-request replay cache, auth-failure limit, counters */
};

/* Key files at run time (keyring.c). Read the rings through these accessors: a reload
 * (SIGHUP, or the file changed) swaps them while requests run. */
const jc_jwt_keyring *jc_api_keyring(jc_api *api);
const jc_master_ring *jc_api_master(jc_api *api);
/* Bumped by every reload of the token key ring (caches of verified tokens check it). */
uint64_t jc_api_keyring_generation(void);
/* Reload both key files; a file that does not load keeps the previous keys (-1, logged). */
int jc_api_keys_reload(jc_api *api, const char *why);
/* Remember the identity of the files loaded at start. */
void jc_api_keys_loaded(jc_api *api);
/* Reload when either file changed since the last load (called about once a second). */
void jc_api_keys_check(jc_api *api);
/* A thread that calls jc_api_keys_check every second, and its stop. */
int jc_api_keywatch_start(jc_api *api, jc_err *err);
void jc_api_keywatch_stop(void);
/* Free the rings replaced by reloads (at exit, when no request runs). */
void jc_api_keys_free_retired(void);

/* Wake every suspended claim long-poll (work was queued). Safe from any thread. */
void jc_api_notify_work(jc_api *api);
/* Wake every follower of an execution's log (bytes were appended or it ended). */
void jc_api_notify_log(jc_api *api, const char *exe_id);

/* Metrics (metrics.c). */
jc_metrics *jc_metrics_new(void);
void jc_metrics_free(jc_metrics *m);
void jc_metrics_request(jc_metrics *m, const char *group, unsigned status, int64_t micros);
void jc_metrics_auth_failure(jc_metrics *m, const char *group, const char *reason);
/* An authentication that could not be decided (the store failed) and was refused. */
void jc_metrics_auth_undecided(jc_metrics *m, const char *group);
void jc_metrics_claims(jc_metrics *m, size_t n);
void jc_metrics_leases_expired(jc_metrics *m, size_t n);
/* Prometheus text (owned). */
char *jc_metrics_render(jc_metrics *m, jc_store *st, size_t *len);

#endif
