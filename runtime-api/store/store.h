/* store.h: everything jobcell-api keeps, behind one interface.
 *
 * Jobs, their executions (the attempts), claims and leases, logs, variables, API tokens,
 * audit events and idempotency records. The handlers see only the operations below: no
 * SQL, no statements, no transactions. Each operation is atomic on its own (the SQLite
 * backend runs read-then-write operations in BEGIN IMMEDIATE; the PostgreSQL backend uses
 * row locks, SELECT … FOR UPDATE SKIP LOCKED for claims, and retries a transaction that
 * lost a serialization race or a deadlock), so a handler never has to hold a lock or a
 * transaction across calls. Two backends (store_backend.h): SQLite for one server,
 * PostgreSQL for several servers sharing one database.
 *
 * Threads: a jc_store is shared by every worker thread, and any thread may call any
 * operation at any time (SQLite: one connection per calling thread; PostgreSQL: a bounded
 * pool shared by the threads).
 *
 * Times are milliseconds since the epoch (int64_t); 0 means "not set".
 * Ownership: structures filled by the store own their json_t and heap members; release
 * them with the matching *_clear() / *_free() function. */
#ifndef JOBCELL_STORE_H
#define JOBCELL_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "jobcell/random.h"

typedef struct jc_store jc_store;

#define JC_STORE_USER_MAX 129 /* user names: 1–128 bytes */
#define JC_STORE_ORC_MAX 65   /* orchestrator ids: 1–64 bytes */
#define JC_STORE_NAME_MAX 513 /* job and token names: 1–128 characters of UTF-8 */
#define JC_STORE_VAR_KEY_MAX 129
#define JC_STORE_VARS_PER_OWNER 10000
#define JC_STORE_LEASE_HASH_LEN 16

/* ---- opening ------------------------------------------------------------------------ */

typedef struct jc_store_options {
    /* Where the store lives: a SQLite database file (created when absent), or a
     * PostgreSQL database as a postgres:// (postgresql://) URL or a key=value conninfo
     * string ("host=/run/postgresql dbname=jobcell"). */
    const char *path;
    int busy_timeout_ms;  /* SQLite: how long a writer waits for the lock (default 5000) */
    int64_t kill_grace_s; /* added to timeout_s to compute an execution's deadline */
    /* PostgreSQL only (0: the default). */
    const char *password;     /* NULL: from the URL, PGPASSWORD or ~/.pgpass */
    int pool_size;            /* connections per process (default 8) */
    int statement_timeout_ms; /* a statement running longer is canceled (default 10000) */
} jc_store_options;

/* Open (and migrate) the store. Owned result: jc_store_close. */
jc_store *jc_store_open(const jc_store_options *opt, jc_err *err);
/* Close every connection and free the store. NULL is fine. */
void jc_store_close(jc_store *st);
/* Apply pending schema migrations; from and to (may be NULL) get the versions. Idempotent,
 * and safe when several servers start at once on one database. */
int jc_store_migrate(jc_store *st, int *from, int *to, jc_err *err);
/* A cheap round trip, for /health. */
int jc_store_ping(jc_store *st, jc_err *err);
/* "sqlite" or "postgresql". */
const char *jc_store_backend(const jc_store *st);
/* Call fn(arg) whenever another process sharing the database queued work (a job, a
 * retry, a requeue), so long-polls waiting here wake up. It runs on a thread of the
 * store's own; it must be quick and thread-safe. fn NULL stops the calls (and returns
 * after the last one). A no-op on SQLite (one process). */
int jc_store_on_work(jc_store *st, void (*fn)(void *arg), void *arg, jc_err *err);
/* Whether `path` names a PostgreSQL database rather than a SQLite file. */
bool jc_store_location_is_pg(const char *path);

/* ---- executions ----------------------------------------------------------------------- */

typedef enum jc_exe_status {
    JC_EXE_QUEUED = 0,
    JC_EXE_CLAIMED,
    JC_EXE_RUNNING,
    JC_EXE_SUCCEEDED,
    JC_EXE_FAILED,
    JC_EXE_CANCELED,
    JC_EXE_LOST,
    JC_EXE_STATUS_COUNT
} jc_exe_status;

/* "queued", "claimed", … */
const char *jc_exe_status_name(jc_exe_status s);
/* -1 when unknown. */
int jc_exe_status_parse(const char *name);
/* succeeded, failed, canceled, lost. */
bool jc_exe_status_final(jc_exe_status s);

typedef struct jc_execution {
    char id[JC_ID_MAX];
    char job_id[JC_ID_MAX];
    char owner[JC_STORE_USER_MAX]; /* the job's owner */
    int64_t attempt;
    jc_exe_status status;
    /* The current claim (empty strings when queued). The lease token itself never leaves
     * the server in an execution object; lease_hash is the binding the execution token
     * carries (first 16 hex characters of SHA-256 of the lease token). */
    char orchestrator_id[JC_STORE_ORC_MAX];
    char lease_token[JC_LEASE_TOKEN_LEN + 1];
    char lease_hash[JC_STORE_LEASE_HASH_LEN + 1];
    int64_t lease_expires_at;
    int64_t created_at, scheduled_for, claimed_at, started_at, finished_at;
    int64_t timeout_s;
    /* When the execution must be over: (started_at or claimed_at) + timeout_s + kill grace
     * + 60 s; 0 while queued. A refreshed execution token never outlives it. */
    int64_t deadline_at;
    json_t *result; /* the orchestrator's result record, NULL until complete */
    json_t *output; /* set by the job through the runtime API, NULL when unset */
    int condition;  /* -1 unset, 0 false, 1 true */
    int64_t log_bytes;
    bool log_truncated;
    bool cancel_requested;
} jc_execution;

void jc_execution_clear(jc_execution *e);
/* Free an array of n executions (each cleared). */
void jc_executions_free(jc_execution *v, size_t n);

/* Fetch one execution with its claim fields. JC_E_NOT_FOUND when unknown. */
int jc_store_execution_get(jc_store *st, const char *exe_id, jc_execution *out, jc_err *err);
/* Every execution of a job, attempt order. Owned array (jc_executions_free). */
int jc_store_execution_list(jc_store *st, const char *job_id, jc_execution **out, size_t *n,
                            jc_err *err);
/* Set the job's output (a JSON value; the caller bounds its size). Only while the execution
 * is claimed or running: else JC_E_LEASE_LOST. */
int jc_store_execution_set_output(jc_store *st, const char *exe_id, const json_t *output,
                                  jc_err *err);
/* Set the job's condition, same rule. */
int jc_store_execution_set_condition(jc_store *st, const char *exe_id, bool condition, jc_err *err);
/* Number of executions in each status (counts[JC_EXE_STATUS_COUNT]). */
int jc_store_execution_counts(jc_store *st, int64_t *counts, jc_err *err);

/* ---- jobs ---------------------------------------------------------------------------- */

typedef struct jc_job {
    char id[JC_ID_MAX];
    char owner[JC_STORE_USER_MAX];
    char name[JC_STORE_NAME_MAX];
    /* The validated, complete spec (every field with its default applied): runtime,
     * script, input, env, resources, timeout_s, network, profile, priority,
     * scheduled_for, retry. */
    json_t *spec;
    int64_t created_at;
    jc_exe_status status; /* the latest execution's status */
    char latest_execution_id[JC_ID_MAX];
} jc_job;

void jc_job_clear(jc_job *j);
void jc_jobs_free(jc_job *v, size_t n);

/* What the handler decided for a new job; the store keeps it with its first execution
 * (queued, attempt 1). Ids and created_at are chosen by the caller. */
typedef struct jc_job_new {
    const char *job_id;
    const char *execution_id;
    const char *owner;
    const char *name;
    const json_t *spec;
    int64_t created_at;
    int64_t scheduled_for; /* 0: claimable at once */
    int priority;
    int64_t timeout_s;
    /* Idempotency (NULL key: none). The same owner + key within the retention returns the
     * stored answer; a different request_hash is JC_E_CONFLICT. */
    const char *idempotency_key;
    const char *request_hash; /* hex SHA-256 of the request body */
    const char *response;     /* the answer to store for replays (JSON text) */
} jc_job_new;

/* Store a job and its first execution. When the idempotency key was already used with
 * the same request, nothing is stored and *replay (owned, may be NULL when no key) gets
 * the first answer's JSON text; else *replay is NULL. */
int jc_store_job_create(jc_store *st, const jc_job_new *in, char **replay, jc_err *err);
/* One job. JC_E_NOT_FOUND when unknown, or when owner is not NULL and is not its owner
 * (another user's job does not exist for that user). */
int jc_store_job_get(jc_store *st, const char *job_id, const char *owner, jc_job *out, jc_err *err);

typedef struct jc_job_page {
    const char *owner;  /* NULL: every owner (admin) */
    int status;         /* jc_exe_status of the latest execution, or -1: any */
    size_t limit;       /* 1–500 */
    const char *cursor; /* NULL or a next_cursor of a previous page */
} jc_job_page;

/* Jobs newest first. *next_cursor (owned) is NULL on the last page. A malformed cursor is
 * JC_E_INVALID with field "cursor". */
int jc_store_job_list(jc_store *st, const jc_job_page *q, jc_job **out, size_t *n,
                      char **next_cursor, jc_err *err);

typedef enum jc_cancel_outcome {
    JC_CANCEL_NOW = 1,       /* the latest execution was queued: it is canceled */
    JC_CANCEL_REQUESTED = 2, /* claimed or running: cancel_requested is set */
} jc_cancel_outcome;

/* Cancel a job's latest execution. A finished one is JC_E_CONFLICT. */
int jc_store_job_cancel(jc_store *st, const char *job_id, const char *owner, int64_t now,
                        jc_cancel_outcome *outcome, jc_err *err);

/* ---- claims and leases (the internal API) -------------------------------------------- */

typedef struct jc_claim {
    jc_execution exe; /* status claimed, lease_token set */
    jc_job job;
} jc_claim;

void jc_claims_free(jc_claim *v, size_t n);

/* Claim up to `slots` claimable executions (queued, scheduled_for ≤ now) for one
 * orchestrator, atomically: two claimers never receive the same execution. Order:
 * priority desc, then scheduled_for (null = creation), then creation order. Each gets a
 * new lease token and lease_expires_at = now + lease_ms. *out may be empty (n = 0).
 * *next_due (may be NULL) gets the earliest future scheduled_for of a queued execution,
 * 0 when none, so a waiting claimer knows when to look again. */
int jc_store_claim(jc_store *st, const char *orchestrator_id, size_t slots, int64_t now,
                   int64_t lease_ms, jc_claim **out, size_t *n, int64_t *next_due, jc_err *err);
/* The same, for an orchestrator that can run only some runtimes: `runtimes` (NULL:
 * every runtime) is a NULL-terminated list of runtime names; an execution whose job asks
 * for another runtime is never handed out and stays queued. */
int jc_store_claim_runtimes(jc_store *st, const char *orchestrator_id, const char *const *runtimes,
                            size_t slots, int64_t now, int64_t lease_ms, jc_claim **out, size_t *n,
                            int64_t *next_due, jc_err *err);

/* Fencing: every call below names the execution, the orchestrator calling (NULL: not
 * checked) and the lease token it holds. A token that is not the execution's current one,
 * a claim held by another orchestrator, or an execution that is no longer claimed/running,
 * is JC_E_LEASE_LOST and changes nothing. */

/* claimed → running, lease renewed. A repeat on a running execution is accepted. */
int jc_store_start(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                   int64_t now, int64_t lease_ms, int64_t *lease_expires_at, jc_err *err);
/* Renew the lease; *cancel is true when a cancel was requested. */
int jc_store_heartbeat(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                       int64_t now, int64_t lease_ms, int64_t *lease_expires_at, bool *cancel,
                       jc_err *err);
/* Record the result and the final status (succeeded when reason "exited" and exit_code 0,
 * canceled when the result's reason is "canceled" or a cancel was requested, else
 * failed), then apply the retry policy. A repeat with the lease token that completed it
 * returns the stored status, unchanged. */
int jc_store_complete(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                      const json_t *result, int64_t now, jc_exe_status *status, jc_err *err);

typedef struct jc_reap_stats {
    size_t lost;     /* running executions whose lease ran out → lost */
    size_t requeued; /* claimed, never started → queued again, same attempt */
    size_t retried;  /* new executions queued by the retry policy */
} jc_reap_stats;

/* The reaper: every claimed/running execution whose lease expired before `now`. */
int jc_store_reap(jc_store *st, int64_t now, jc_reap_stats *stats, jc_err *err);
/* After a restart: push every live lease to at least now + by_ms. */
int jc_store_extend_leases(jc_store *st, int64_t now, int64_t by_ms, size_t *n, jc_err *err);

/* Remember an orchestrator's last heartbeat (info: its heartbeat body). */
int jc_store_orchestrator_seen(jc_store *st, const char *orchestrator_id, const json_t *info,
                               int64_t now, jc_err *err);
/* Whether an orchestrator heard from at or after `since` offers `runtime`: one whose last
 * heartbeat listed it in "runtimes", or one whose heartbeat had no "runtimes" (it claims
 * every runtime). */
int jc_store_runtime_offered(jc_store *st, const char *runtime, int64_t since, bool *offered,
                             jc_err *err);

/* ---- logs ----------------------------------------------------------------------------- */

typedef struct jc_log_append {
    int64_t length;  /* bytes stored after the call (L) */
    bool truncated;  /* the cap was reached; later bytes are dropped */
    size_t appended; /* bytes of this chunk that were stored */
} jc_log_append;

/* Append a chunk at `offset` (PROTOCOL.md "Log chunks"), fenced by the lease token. The
 * cap is the job's resources.output_mb. offset > L (and not truncated) is JC_E_RANGE with
 * out->length = L. */
int jc_store_log_append(jc_store *st, const char *exe_id, const char *orc, const char *lease_token,
                        int64_t offset, const void *data, size_t len, jc_log_append *out,
                        jc_err *err);

typedef struct jc_log_read {
    char *data; /* owned, may be NULL when len is 0 */
    size_t len;
    int64_t length; /* total bytes stored */
    bool finished;  /* the execution is in a final status: no more bytes will come */
} jc_log_read;

/* Read up to max bytes from offset. offset > length is JC_E_RANGE (out->length set). */
int jc_store_log_read(jc_store *st, const char *exe_id, int64_t offset, size_t max,
                      jc_log_read *out, jc_err *err);

/* ---- variables (per owner, shared by all that owner's executions) --------------------- */

typedef struct jc_variable {
    char key[JC_STORE_VAR_KEY_MAX];
    json_t *value; /* NULL in listings */
    int64_t updated_at;
} jc_variable;

void jc_variables_free(jc_variable *v, size_t n);

/* JC_E_NOT_FOUND when unset. */
int jc_store_var_get(jc_store *st, const char *owner, const char *key, jc_variable *out,
                     jc_err *err);
/* Atomic last-write-wins. A new key past JC_STORE_VARS_PER_OWNER is JC_E_CONFLICT. */
int jc_store_var_put(jc_store *st, const char *owner, const char *key, const json_t *value,
                     int64_t now, jc_err *err);
/* JC_E_NOT_FOUND when unset. */
int jc_store_var_delete(jc_store *st, const char *owner, const char *key, jc_err *err);
/* Keys and update times (no values), key order. */
int jc_store_var_list(jc_store *st, const char *owner, jc_variable **out, size_t *n, jc_err *err);

/* ---- API tokens ----------------------------------------------------------------------- */

typedef struct jc_api_token {
    char id[JC_ID_MAX];
    char name[JC_STORE_NAME_MAX];
    char user[JC_STORE_USER_MAX];
    char role[16]; /* "admin" or "user" */
    int64_t created_at;
    int64_t last_used_at;
} jc_api_token;

/* Store a token by the SHA-256 (hex) of its secret; the secret itself is never stored. */
int jc_store_token_create(jc_store *st, const jc_api_token *tok, const char *secret_sha256,
                          jc_err *err);
/* Find the token whose secret hashes to secret_sha256 (the lookup is by hash; the caller
 * compares the stored hash in constant time). JC_E_AUTH when none. */
int jc_store_token_lookup(jc_store *st, const char *secret_sha256, jc_api_token *out,
                          char stored_sha256[65], jc_err *err);
/* Tokens of a user (NULL: all), newest first. Owned array (free()). */
int jc_store_token_list(jc_store *st, const char *user, jc_api_token **out, size_t *n, jc_err *err);
/* Delete one token; user not NULL limits it to that user's tokens. JC_E_NOT_FOUND. */
int jc_store_token_delete(jc_store *st, const char *id, const char *user, jc_err *err);

/* ---- audit events --------------------------------------------------------------------- */

/* Append an audit event: kind ("auth_failure", "cancel", "token_create", …) and a JSON
 * object of bounded, secret-free fields. */
int jc_store_audit(jc_store *st, const char *kind, const json_t *fields, int64_t now, jc_err *err);
/* The latest `limit` events of a kind (NULL: any), newest first, as a JSON array of
 * {"kind", "at", "fields"} (owned). */
json_t *jc_store_audit_list(jc_store *st, const char *kind, size_t limit, jc_err *err);

/* ---- housekeeping --------------------------------------------------------------------- */

/* Drop idempotency records older than `before`. */
int jc_store_idempotency_expire(jc_store *st, int64_t before, jc_err *err);

/* ---- the runtime API's hot path ------------------------------------------------------- */

/* One execution with its claim fields (result and output left NULL) and, when key is not
 * NULL, the execution owner's variable `key`, in one read: *var_found says whether it is
 * set (var then owns its value; release with jc_variables_free semantics: json_decref).
 * JC_E_NOT_FOUND when the execution is unknown. No write. */
int jc_store_runtime_get(jc_store *st, const char *exe_id, const char *key, jc_execution *exe,
                         jc_variable *var, bool *var_found, jc_err *err);

#endif
