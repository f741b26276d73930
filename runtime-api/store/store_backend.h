/* store_backend.h: how one jc_store reaches its backend (private to runtime-api/store/).
 *
 * jc_store_open() picks a backend (SQLite for a file path, PostgreSQL for a postgres://
 * URL or a conninfo string) and every public jc_store_<op>() forwards to the backend's
 * jc_<backend>_<op>() through an operations table. The tables and the forwarding
 * functions are generated from the lists below, so adding an operation is mechanical:
 *
 *   1. declare jc_store_<op>() in its header (store.h, store_schedules.h, …);
 *   2. add one X(...) line to the list of that header here (the return type, the name
 *      without jc_store_, the parameters, and the arguments to pass on);
 *   3. write jc_sqlite_<op>() and jc_pg_<op>() with the same parameters.
 *
 * The first parameter of every operation is `jc_store *st`. */
#ifndef JOBCELL_STORE_BACKEND_H
#define JOBCELL_STORE_BACKEND_H

#include <pthread.h>

#include "store.h"
#include "store_audit.h"
#include "store_creds.h"
#include "store_export.h"
#include "store_sealed.h"
#include "store_upkeep.h"
#include "store_schedules.h"

/* store.h */
#define JC_STORE_CORE_OPS(X)                                                                       \
    X(int, migrate, (jc_store * st, int *from, int *to, jc_err *err), (st, from, to, err))         \
    X(int, ping, (jc_store * st, jc_err * err), (st, err))                                         \
    X(int, execution_get, (jc_store * st, const char *exe_id, jc_execution *out, jc_err *err),     \
      (st, exe_id, out, err))                                                                      \
    X(int, execution_list,                                                                         \
      (jc_store * st, const char *job_id, jc_execution **out, size_t *n, jc_err *err),             \
      (st, job_id, out, n, err))                                                                   \
    X(int, execution_set_output,                                                                   \
      (jc_store * st, const char *exe_id, const json_t *output, jc_err *err),                      \
      (st, exe_id, output, err))                                                                   \
    X(int, execution_set_condition,                                                                \
      (jc_store * st, const char *exe_id, bool condition, jc_err *err),                            \
      (st, exe_id, condition, err))                                                                \
    X(int, execution_counts, (jc_store * st, int64_t * counts, jc_err * err), (st, counts, err))   \
    X(int, job_create, (jc_store * st, const jc_job_new *in, char **replay, jc_err *err),          \
      (st, in, replay, err))                                                                       \
    X(int, job_get,                                                                                \
      (jc_store * st, const char *job_id, const char *owner, jc_job *out, jc_err *err),            \
      (st, job_id, owner, out, err))                                                               \
    X(int, job_list,                                                                               \
      (jc_store * st, const jc_job_page *q, jc_job **out, size_t *n, char **next_cursor,           \
       jc_err *err),                                                                               \
      (st, q, out, n, next_cursor, err))                                                           \
    X(int, job_cancel,                                                                             \
      (jc_store * st, const char *job_id, const char *owner, int64_t now,                          \
       jc_cancel_outcome *outcome, jc_err *err),                                                   \
      (st, job_id, owner, now, outcome, err))                                                      \
    X(int, claim_runtimes,                                                                         \
      (jc_store * st, const char *orchestrator_id, const char *const *runtimes, size_t slots,      \
       int64_t now, int64_t lease_ms, jc_claim **out, size_t *n, int64_t *next_due, jc_err *err),  \
      (st, orchestrator_id, runtimes, slots, now, lease_ms, out, n, next_due, err))                \
    X(int, start,                                                                                  \
      (jc_store * st, const char *exe_id, const char *orc, const char *lease_token, int64_t now,   \
       int64_t lease_ms, int64_t *lease_expires_at, jc_err *err),                                  \
      (st, exe_id, orc, lease_token, now, lease_ms, lease_expires_at, err))                        \
    X(int, heartbeat,                                                                              \
      (jc_store * st, const char *exe_id, const char *orc, const char *lease_token, int64_t now,   \
       int64_t lease_ms, int64_t *lease_expires_at, bool *cancel, jc_err *err),                    \
      (st, exe_id, orc, lease_token, now, lease_ms, lease_expires_at, cancel, err))                \
    X(int, complete,                                                                               \
      (jc_store * st, const char *exe_id, const char *orc, const char *lease_token,                \
       const json_t *result, int64_t now, jc_exe_status *status, jc_err *err),                     \
      (st, exe_id, orc, lease_token, result, now, status, err))                                    \
    X(int, reap, (jc_store * st, int64_t now, jc_reap_stats * stats, jc_err * err),                \
      (st, now, stats, err))                                                                       \
    X(int, extend_leases, (jc_store * st, int64_t now, int64_t by_ms, size_t * n, jc_err * err),   \
      (st, now, by_ms, n, err))                                                                    \
    X(int, orchestrator_seen,                                                                      \
      (jc_store * st, const char *orchestrator_id, const json_t *info, int64_t now, jc_err *err),  \
      (st, orchestrator_id, info, now, err))                                                       \
    X(int, runtime_offered,                                                                        \
      (jc_store * st, const char *runtime, int64_t since, bool *offered, jc_err *err),             \
      (st, runtime, since, offered, err))                                                          \
    X(int, log_append,                                                                             \
      (jc_store * st, const char *exe_id, const char *orc, const char *lease_token,                \
       int64_t offset, const void *data, size_t len, jc_log_append *out, jc_err *err),             \
      (st, exe_id, orc, lease_token, offset, data, len, out, err))                                 \
    X(int, log_read,                                                                               \
      (jc_store * st, const char *exe_id, int64_t offset, size_t max, jc_log_read *out,            \
       jc_err *err),                                                                               \
      (st, exe_id, offset, max, out, err))                                                         \
    X(int, var_get,                                                                                \
      (jc_store * st, const char *owner, const char *key, jc_variable *out, jc_err *err),          \
      (st, owner, key, out, err))                                                                  \
    X(int, var_put,                                                                                \
      (jc_store * st, const char *owner, const char *key, const json_t *value, int64_t now,        \
       jc_err *err),                                                                               \
      (st, owner, key, value, now, err))                                                           \
    X(int, var_delete, (jc_store * st, const char *owner, const char *key, jc_err *err),           \
      (st, owner, key, err))                                                                       \
    X(int, var_list,                                                                               \
      (jc_store * st, const char *owner, jc_variable **out, size_t *n, jc_err *err),               \
      (st, owner, out, n, err))                                                                    \
    X(int, token_create,                                                                           \
      (jc_store * st, const jc_api_token *tok, const char *secret_sha256, jc_err *err),            \
      (st, tok, secret_sha256, err))                                                               \
    X(int, token_lookup,                                                                           \
      (jc_store * st, const char *secret_sha256, jc_api_token *out, char stored_sha256[65],        \
       jc_err *err),                                                                               \
      (st, secret_sha256, out, stored_sha256, err))                                                \
    X(int, token_list,                                                                             \
      (jc_store * st, const char *user, jc_api_token **out, size_t *n, jc_err *err),               \
      (st, user, out, n, err))                                                                     \
    X(int, token_delete, (jc_store * st, const char *id, const char *user, jc_err *err),           \
      (st, id, user, err))                                                                         \
    X(int, audit,                                                                                  \
      (jc_store * st, const char *kind, const json_t *fields, int64_t now, jc_err *err),           \
      (st, kind, fields, now, err))                                                                \
    X(json_t *, audit_list, (jc_store * st, const char *kind, size_t limit, jc_err *err),          \
      (st, kind, limit, err))                                                                      \
    X(int, idempotency_expire, (jc_store * st, int64_t before, jc_err * err), (st, before, err))   \
    X(int, runtime_get,                                                                            \
      (jc_store * st, const char *exe_id, const char *key, jc_execution *exe, jc_variable *var,    \
       bool *var_found, jc_err *err),                                                              \
      (st, exe_id, key, exe, var, var_found, err))

/* store_schedules.h */
#define JC_STORE_SCHEDULE_OPS(X)                                                                   \
    X(int, schedule_create, (jc_store * st, const jc_schedule *s, jc_err *err), (st, s, err))      \
    X(int, schedule_get,                                                                           \
      (jc_store * st, const char *id, const char *owner, jc_schedule *out, jc_err *err),           \
      (st, id, owner, out, err))                                                                   \
    X(int, schedule_list,                                                                          \
      (jc_store * st, const char *owner, size_t limit, const char *cursor, jc_schedule **out,      \
       size_t *n, char **next_cursor, jc_err *err),                                                \
      (st, owner, limit, cursor, out, n, next_cursor, err))                                        \
    X(int, schedule_update, (jc_store * st, const jc_schedule *s, int64_t now, jc_err *err),       \
      (st, s, now, err))                                                                           \
    X(int, schedule_delete, (jc_store * st, const char *id, const char *owner, jc_err *err),       \
      (st, id, owner, err))                                                                        \
    X(int, schedule_due,                                                                           \
      (jc_store * st, int64_t now, size_t limit, jc_schedule * *out, size_t * n, jc_err * err),    \
      (st, now, limit, out, n, err))                                                               \
    X(int, schedule_pending,                                                                       \
      (jc_store * st, size_t limit, jc_schedule * *out, size_t * n, jc_err * err),                 \
      (st, limit, out, n, err))                                                                    \
    X(int, schedule_next_due, (jc_store * st, int64_t * next_run_at, bool *pending, jc_err *err),  \
      (st, next_run_at, pending, err))                                                             \
    X(int, schedule_fire,                                                                          \
      (jc_store * st, const jc_schedule_fire *f, jc_fire_outcome *outcome, int64_t *tick_out,      \
       jc_err *err),                                                                               \
      (st, f, outcome, tick_out, err))                                                             \
    X(int, schedule_fire_many,                                                                     \
      (jc_store * st, const jc_schedule_fire *f, size_t n, jc_fire_outcome *outcomes,              \
       jc_err *err),                                                                               \
      (st, f, n, outcomes, err))                                                                   \
    X(int, schedule_runs,                                                                          \
      (jc_store * st, const char *schedule_id, size_t limit, jc_schedule_run **out, size_t *n,     \
       jc_err *err),                                                                               \
      (st, schedule_id, limit, out, n, err))                                                       \
    X(int, schedule_of_job,                                                                        \
      (jc_store * st, const char *job_id, char schedule_id[JC_ID_MAX], int64_t *tick, bool *found, \
       jc_err *err),                                                                               \
      (st, job_id, schedule_id, tick, found, err))

/* store_export.h */
#define JC_STORE_EXPORT_OPS(X)                                                                     \
    X(int, export, (jc_store * st, FILE * out, size_t * rows, jc_err * err), (st, out, rows, err)) \
    X(int, import, (jc_store * st, FILE * in, size_t * rows, jc_err * err), (st, in, rows, err))

/* store_audit.h */
#define JC_STORE_AUDIT_OPS(X)                                                                      \
    X(int, audit_append, (jc_store * st, const jc_audit_event *ev, size_t n, jc_err *err),         \
      (st, ev, n, err))                                                                            \
    X(int, audit_query,                                                                            \
      (jc_store * st, const jc_audit_query *q, jc_audit_event **out, size_t *n,                    \
       char **next_cursor, jc_err *err),                                                           \
      (st, q, out, n, next_cursor, err))                                                           \
    X(int, audit_prune,                                                                            \
      (jc_store * st, int64_t before, size_t max_rows, size_t * deleted, jc_err * err),            \
      (st, before, max_rows, deleted, err))

/* store_creds.h */
#define JC_STORE_CREDS_OPS(X)                                                                      \
    X(int, cred_add, (jc_store * st, const jc_orc_cred *c, jc_err *err), (st, c, err))             \
    X(int, cred_list,                                                                              \
      (jc_store * st, const char *orchestrator, jc_orc_cred **out, size_t *n, jc_err *err),        \
      (st, orchestrator, out, n, err))                                                             \
    X(int, cred_lookup, (jc_store * st, const char *key_id, jc_orc_cred *out, jc_err *err),        \
      (st, key_id, out, err))                                                                      \
    X(int, cred_revoke, (jc_store * st, const char *key_id, int64_t now, jc_err *err),             \
      (st, key_id, now, err))                                                                      \
    X(int, cred_rotate,                                                                            \
      (jc_store * st, const jc_orc_cred *c, int64_t now, int64_t old_expires_at, size_t *rotated,  \
       jc_err *err),                                                                               \
      (st, c, now, old_expires_at, rotated, err))                                                  \
    X(int, cred_sealed_page,                                                                       \
      (jc_store * st, int64_t after_seq, size_t limit, jc_orc_cred * *out, size_t * n,             \
       jc_err * err),                                                                              \
      (st, after_seq, limit, out, n, err))                                                         \
    X(int, cred_reseal,                                                                            \
      (jc_store * st, const char *key_id, const char *old_sealed, const char *new_sealed,          \
       jc_err *err),                                                                               \
      (st, key_id, old_sealed, new_sealed, err))

/* store_sealed.h */
#define JC_STORE_SEALED_OPS(X)                                                                     \
    X(int, sealed_page,                                                                            \
      (jc_store * st, const char *kind, const char *cursor, size_t limit, jc_sealed_row **out,     \
       size_t *n, char **next_cursor, jc_err *err),                                                \
      (st, kind, cursor, limit, out, n, next_cursor, err))                                         \
    X(int, sealed_swap,                                                                            \
      (jc_store * st, const char *kind, const char *id, const char *expected,                      \
       const char *replacement, bool *swapped, jc_err *err),                                       \
      (st, kind, id, expected, replacement, swapped, err))

/* Every operation, for the tables. A new header's list goes here too. */
/* clang-format off */
#define JC_STORE_ALL_OPS(X)                                                                        \
    JC_STORE_CORE_OPS(X)                                                                           \
    JC_STORE_SCHEDULE_OPS(X)                                                                       \
    JC_STORE_EXPORT_OPS(X)                                                                         \
    JC_STORE_AUDIT_OPS(X)                                                                          \
    JC_STORE_CREDS_OPS(X)                                                                          \
    JC_STORE_SEALED_OPS(X)                                                                         \
    JC_STORE_UPKEEP_OPS(X)
/* clang-format on */

#define JC_STORE_OP_FIELD(ret, name, params, args) ret(*name) params;
#define JC_STORE_OP_DECL_SQLITE(ret, name, params, args) ret jc_sqlite_##name params;
#define JC_STORE_OP_DECL_PG(ret, name, params, args) ret jc_pg_##name params;
#define JC_STORE_OP_INIT_SQLITE(ret, name, params, args) .name = jc_sqlite_##name,
#define JC_STORE_OP_INIT_PG(ret, name, params, args) .name = jc_pg_##name,

typedef struct jc_store_ops {
    const char *name; /* "sqlite", "postgresql" */
    JC_STORE_ALL_OPS(JC_STORE_OP_FIELD)
    /* Free the backend's state (st->sq / st->pg); the store itself is freed by the caller. */
    void (*close)(jc_store *st);
    /* Start (on) or stop delivering other processes' work notifications to st->on_work
     * (a no-op for a backend with no other processes to hear from). */
    int (*listen)(jc_store *st, bool on, jc_err *err);
} jc_store_ops;

JC_STORE_ALL_OPS(JC_STORE_OP_DECL_SQLITE)
JC_STORE_ALL_OPS(JC_STORE_OP_DECL_PG)

struct jc_sq_store;
struct jc_pg_store;

struct jc_store {
    const jc_store_ops *ops;
    int64_t kill_grace_s;
    /* Work queued by another process (PostgreSQL LISTEN): set by jc_store_on_work. */
    void (*on_work)(void *arg);
    void *on_work_arg;
    struct jc_sq_store *sq; /* the SQLite backend's state */
    struct jc_pg_store *pg; /* the PostgreSQL backend's state */
};

/* Open the backend's state in st (st->ops is set by the caller). */
int jc_sqlite_open(jc_store *st, const jc_store_options *opt, jc_err *err);
void jc_sqlite_close(jc_store *st);
int jc_pg_open(jc_store *st, const jc_store_options *opt, jc_err *err);
void jc_pg_close(jc_store *st);
int jc_pg_listen(jc_store *st, bool on, jc_err *err);

extern const jc_store_ops jc_sqlite_ops;
extern const jc_store_ops jc_pg_ops;

#endif
