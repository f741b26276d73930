/* api_config.c: jobcell-api's configuration schema (docs/configuration.md lists it). */
#include <stddef.h>
#include <stdint.h>

#include "api.h"

#define F(k, t, m, d, lo, hi, h)                                                                   \
    { k, t, offsetof(jc_api_config, m), d, lo, hi, 0, 0, h }
#define FD(k, m, d, lo, hi, h)                                                                     \
    { k, JC_CFG_DOUBLE, offsetof(jc_api_config, m), d, 0, 0, lo, hi, h }

static const jc_cfg_field fields[] = {
    F("listen", JC_CFG_STRING, listen, "127.0.0.1:8080", 0, 0,
      "address:port of the admin (/v1) and internal (/internal/v1) API"),
    F("runtime_listen", JC_CFG_STRING, runtime_listen, "127.0.0.1:8081", 0, 0,
      "address:port of the runtime API for job scripts (empty: off)"),
    F("store_path", JC_CFG_STRING, store_path, "jobcell.db", 0, 0,
      "SQLite database file (created when absent); unused when store.url is set"),
    F("store.url", JC_CFG_STRING, store_url, "", 0, 0,
      "PostgreSQL database (postgres://… URL or key=value conninfo); empty: SQLite"),
    F("store.password", JC_CFG_SECRET, store_password, NULL, 0, 0,
      "PostgreSQL password (give store.password_file; empty: from the URL or ~/.pgpass)"),
    F("store.pool_size", JC_CFG_INT, store_pool_size, "8", 1, 256,
      "PostgreSQL connections per server process"),
    F("store.statement_timeout_ms", JC_CFG_INT, store_statement_timeout_ms, "10000", 100, 600000,
      "PostgreSQL: a statement running longer is canceled (milliseconds)"),
    F("internal_key", JC_CFG_SECRET, internal_key, NULL, 0, 0,
      "shared key of the orchestrators, at least 32 bytes (give internal_key_file)"),
    F("jwt_keyring_file", JC_CFG_STRING, jwt_keyring_file, NULL, 0, 0,
      "execution-token key ring file (JSON, mode 0600)"),
    F("master_key_file", JC_CFG_STRING, master_key_file, "", 0, 0,
      "master key file (JSON, mode 0600) that encrypts the secrets kept in the database; "
      "empty: features that store secrets are refused"),
    F("profile_dir", JC_CFG_STRING, profile_dir, "", 0, 0,
      "directory of seccomp profiles (*.json); empty: profiles/ beside the program"),
    F("log_level", JC_CFG_STRING, log_level, "info", 0, 0, "debug, info, warn or error"),
    F("threads", JC_CFG_INT, threads, "4", 1, 256, "HTTP worker threads per listener"),
    F("max_connections", JC_CFG_INT, max_connections, "1024", 1, 65536,
      "open connections per listener"),
    F("per_ip_connections", JC_CFG_INT, per_ip_connections, "64", 0, 65536,
      "open connections per client address on `listen` (0: no limit)"),
    F("request_timeout_s", JC_CFG_INT, request_timeout_s, "30", 1, 3600,
      "idle seconds before a connection is closed"),
    F("lease_s", JC_CFG_INT, lease_s, "30", 1, 3600, "lease of a claimed execution (seconds)"),
    F("reaper_interval_s", JC_CFG_INT, reaper_interval_s, "5", 1, 3600,
      "how often expired leases are looked for (seconds)"),
    F("kill_grace_s", JC_CFG_INT, kill_grace_s, "5", 0, 60,
      "SIGTERM to SIGKILL grace, counted in an execution's deadline"),
    F("metrics_require_key", JC_CFG_BOOL, metrics_require_key, "false", 0, 0,
      "require the internal key on GET /metrics"),
    F("limits.body_jobs_bytes", JC_CFG_INT, max_body_jobs, "2097152", 1024, 1073741824,
      "largest POST /v1/jobs body"),
    F("limits.body_chunk_bytes", JC_CFG_INT, max_body_chunk, "1048576", 1024, 1073741824,
      "largest log chunk and runtime output body"),
    F("limits.body_other_bytes", JC_CFG_INT, max_body_other, "262144", 1024, 1073741824,
      "largest other request body"),
    F("limits.script_bytes", JC_CFG_INT, max_script_bytes, "1048576", 1, 1073741824,
      "largest job script"),
    F("limits.input_bytes", JC_CFG_INT, max_input_bytes, "262144", 2, 1073741824,
      "largest job input (compact JSON)"),
    F("limits.env_entries", JC_CFG_INT, max_env, "64", 0, 4096, "most env entries of a job"),
    F("limits.env_value_bytes", JC_CFG_INT, max_env_value, "4096", 1, 1048576, "longest env value"),
    F("limits.output_bytes", JC_CFG_INT, max_output_bytes, "1048576", 2, 1073741824,
      "largest job output (compact JSON)"),
    F("limits.variable_bytes", JC_CFG_INT, max_variable_bytes, "65536", 2, 1073741824,
      "largest variable value (compact JSON)"),
    F("limits.memory_mb", JC_CFG_INT, max_memory_mb, "65536", 16, 65536,
      "largest resources.memory_mb"),
    F("limits.pids", JC_CFG_INT, max_pids, "32768", 8, 32768, "largest resources.pids"),
    FD("limits.cpu", max_cpu, "0", 0, 4096, "largest resources.cpu (0: the host's cores)"),
    F("limits.tmp_mb", JC_CFG_INT, max_tmp_mb, "16384", 1, 16384, "largest resources.tmp_mb"),
    F("limits.workspace_mb", JC_CFG_INT, max_workspace_mb, "16384", 1, 16384,
      "largest resources.workspace_mb"),
    F("limits.output_mb", JC_CFG_INT, max_output_mb, "1024", 1, 1024,
      "largest resources.output_mb"),
    F("limits.timeout_s", JC_CFG_INT, max_timeout_s, "86400", 1, 86400, "largest timeout_s"),
    F("limits.wait_s", JC_CFG_INT, max_wait_s, "30", 0, 300, "longest claim long-poll"),
    F("runtime.rate", JC_CFG_INT, runtime_rate, "100", 1, 100000,
      "runtime API requests per second per execution"),
    F("runtime.burst", JC_CFG_INT, runtime_burst, "200", 1, 100000,
      "runtime API burst per execution"),
    F("egress.max_rules_per_job", JC_CFG_INT, egress_max_rules, "64", 1, 1024,
      "most entries in a job's egress.allow"),
    F("idempotency_ttl_s", JC_CFG_INT, idempotency_ttl_s, "86400", 60, 2592000,
      "how long an Idempotency-Key is remembered (its records are pruned after it)"),
    F("retention.jobs_days", JC_CFG_INT, retention_jobs_days, "30", 1, 36500,
      "days a finished job (executions, results, logs) is kept; the most a job's"
      " retention_days may ask for"),
    F("retention.signals_days", JC_CFG_INT, retention_signals_days, "90", 1, 36500,
      "days a security signal is kept"),
    F("retention.activity_days", JC_CFG_INT, retention_activity_days, "8", 1, 36500,
      "days the per-token submit counts and orchestrator addresses (scan inputs) are kept"),
    F("prune.batch_rows", JC_CFG_INT, prune_batch_rows, "500", 1, 100000,
      "rows (jobs, for finished jobs) removed per transaction"),
    F("prune.pause_ms", JC_CFG_INT, prune_pause_ms, "20", 0, 10000,
      "pause between two prune transactions, so claims get the write lock"),
    F("prune.vacuum_pages", JC_CFG_INT, prune_vacuum_pages, "2000", 0, 10000000,
      "free pages given back to the file system per step, until none is left (0: none)"),
    F("maintenance.prune_interval_s", JC_CFG_INT, prune_interval_s, "600", 1, 604800,
      "how often the prune task runs (seconds)"),
    F("maintenance.scan_interval_s", JC_CFG_INT, scan_interval_s, "300", 1, 86400,
      "how often the detection scan runs (seconds)"),
    F("maintenance.scan_window_s", JC_CFG_INT, scan_window_s, "600", 1, 604800,
      "how far back the detection scan looks, and its deduplication window (seconds)"),
    F("signals.new_token_window_s", JC_CFG_INT, sig_new_token_window_s, "300", 1, 86400,
      "a token submitting this soon after its creation raises new_token_submit"),
    F("signals.new_token_min_submits", JC_CFG_INT, sig_new_token_min_submits, "1", 1, 1000000,
      "submits within that time that raise new_token_submit"),
    F("signals.token_rate_min", JC_CFG_INT, sig_token_rate_min, "100", 1, 100000000,
      "submits by one token in the scan window before token_rate is considered"),
    F("signals.token_rate_factor", JC_CFG_INT, sig_token_rate_factor, "10", 1, 1000000,
      "token_rate fires above this many times the owner's usual rate"),
    F("signals.token_rate_baseline_s", JC_CFG_INT, sig_token_rate_baseline_s, "604800", 3600,
      31536000, "the period the owner's usual rate is measured over (seconds)"),
    F("signals.auth_burst_address", JC_CFG_INT, sig_auth_burst_address, "20", 1, 100000000,
      "authentication failures from one address in the window that raise auth_burst_address"),
    F("signals.auth_burst_orchestrator", JC_CFG_INT, sig_auth_burst_orchestrator, "10", 1,
      100000000,
      "authentication failures naming one orchestrator id that raise"
      " auth_burst_orchestrator"),
    F("signals.leases_lost", JC_CFG_INT, sig_leases_lost, "3", 1, 100000000,
      "executions of one orchestrator marked lost in the window that raise leases_lost"),
    F("signals.egress_denied", JC_CFG_INT, sig_egress_denied, "20", 1, 100000000,
      "denied outgoing packets of one execution (network.denied) that raise egress_denied"),
#define T(kind, i)                                                                                 \
    F("thresholds." kind "_rows", JC_CFG_INT, threshold_rows[i], "0", 0, INT64_MAX,                \
      "rows of " kind " above which a warning is logged (0: no threshold)"),                       \
        F("thresholds." kind "_bytes", JC_CFG_INT, threshold_bytes[i], "0", 0, INT64_MAX,          \
          "bytes of " kind " above which a warning is logged (0: no threshold)")
    T("jobs", 0),
    T("logs", 1),
    T("audit", 2),
    T("idempotency", 3),
    T("signals", 4),
    T("activity", 5),
    T("variables", 6),
#undef T
    F("thresholds.store_bytes", JC_CFG_INT, threshold_store_bytes, "0", 0, INT64_MAX,
      "size of the whole store above which a warning is logged (0: no threshold)"),
    F("audit.queue_size", JC_CFG_INT, audit_queue, "8192", 16, 1048576,
      "audit events held in memory before new ones are dropped (and counted)"),
    F("audit.aggregate_s", JC_CFG_INT, audit_aggregate_s, "10", 0, 3600,
      "window of aggregated successful machine authentications (0: one row per request)"),
    F("audit.retention_days", JC_CFG_INT, audit_retention_days, "90", 1, 36500,
      "days audit events are kept before the prune task deletes them"),
    F("internal_auth.require_hmac", JC_CFG_BOOL, require_hmac, "false", 0, 0,
      "refuse the shared internal key: every internal request must be signed"),
    F("internal_auth.rotation_grace_s", JC_CFG_INT, rotation_grace_s, "86400", 0, 2592000,
      "how long a rotated-out orchestrator secret stays valid (seconds)"),
    F("internal_auth.replay_cache_entries", JC_CFG_INT, replay_cache_entries, "131072", 1024,
      16777216, "signed requests remembered against replay (about 300 s of traffic)"),
    F("internal_auth.key_cache_ms", JC_CFG_INT, key_cache_ms, "1000", 0, 60000,
      "how long an opened orchestrator credential is reused before the store is read again; "
      "a revocation takes effect within this time (0: read every time)"),
    F("auth_fail_limit.per_minute", JC_CFG_INT, auth_fail_per_minute, "20", 0, 1000000,
      "authentication failures a minute from one address before it is blocked (0: no limit)"),
    F("auth_fail_limit.block_s", JC_CFG_INT, auth_fail_block_s, "60", 1, 86400,
      "how long a blocked address gets 429 (seconds)"),
};

const jc_cfg_schema jc_api_config_schema = {fields, sizeof(fields) / sizeof(fields[0])};

/* ---- the store of a configuration ---------------------------------------------------- */

/* Where the store is: store.url (PostgreSQL) when set, else the SQLite store_path. */
static const char *store_location(const jc_api_config *cfg) {
    return cfg->store_url && *cfg->store_url ? cfg->store_url : cfg->store_path;
}

/* What the logs may say about the store: a URL may hold a password, so only the backend
 * is named for PostgreSQL. */
const char *jc_api_store_label(const jc_api_config *cfg) {
    return cfg->store_url && *cfg->store_url ? "postgresql" : cfg->store_path;
}

jc_store *jc_api_open_store(const jc_api_config *cfg, jc_err *err) {
    const char *where = store_location(cfg);
    if (cfg->store_url && *cfg->store_url && !jc_store_location_is_pg(cfg->store_url))
        return jc_err_field(err, JC_E_CONFIG, "store.url",
                            "store.url must be a postgres:// URL or a key=value conninfo"),
               NULL;
    jc_store_options o = {
        .path = where,
        .busy_timeout_ms = 10000,
        .kill_grace_s = cfg->kill_grace_s,
        .password = cfg->store_password.len ? (const char *)cfg->store_password.data : NULL,
        .pool_size = (int)cfg->store_pool_size,
        .statement_timeout_ms = (int)cfg->store_statement_timeout_ms};
    return jc_store_open(&o, err);
}
