/* sqlite_upkeep.h: the SQLite schema of store_upkeep.h (private to runtime-api/store/).
 *
 * maintenance_tasks holds one row per task: its lease (next_run_at, taken by a
 * conditional UPDATE) and its last outcome. signals are deduplicated by (signal, subject)
 * inside a window; the UNIQUE key on the window's slot is the last line against two
 * writers. token_submits and orchestrator_addresses are what the detection scan reads
 * besides the audit trail and the executions. The indexes on the core tables serve
 * retention (by time) and the scan; IF NOT EXISTS because another migration may add the
 * same index on a shared table. */
#ifndef JOBCELL_STORE_SQLITE_UPKEEP_H
#define JOBCELL_STORE_SQLITE_UPKEEP_H

#define JC_SQLITE_UPKEEP_SCHEMA                                                                    \
    "CREATE TABLE maintenance_tasks (task TEXT PRIMARY KEY, holder TEXT NOT NULL DEFAULT '',"      \
    " next_run_at INTEGER NOT NULL DEFAULT 0, last_success_at INTEGER, last_failure_at INTEGER,"   \
    " duration_ms INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,"                \
    " last_error TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"                                         \
    "CREATE TABLE signals (seq INTEGER PRIMARY KEY AUTOINCREMENT, signal TEXT NOT NULL,"           \
    " subject TEXT NOT NULL, at INTEGER NOT NULL, slot INTEGER NOT NULL, count INTEGER NOT NULL,"  \
    " first_at INTEGER, last_at INTEGER, detail TEXT NOT NULL, UNIQUE (signal, subject, slot));"   \
    "CREATE INDEX upkeep_signals_subject ON signals(signal, subject, at);"                         \
    "CREATE INDEX upkeep_signals_at ON signals(at);"                                               \
    "CREATE TABLE token_submits (token_id TEXT NOT NULL, owner TEXT NOT NULL,"                     \
    " minute INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (token_id, minute)) WITHOUT ROWID;" \
    "CREATE INDEX upkeep_token_submits_minute ON token_submits(minute);"                           \
    "CREATE INDEX upkeep_token_submits_owner ON token_submits(owner, minute);"                     \
    "CREATE TABLE orchestrator_addresses (orchestrator_id TEXT NOT NULL, address TEXT NOT NULL,"   \
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"                                    \
    " PRIMARY KEY (orchestrator_id, address)) WITHOUT ROWID;"                                      \
    "CREATE INDEX upkeep_orchestrator_addresses_seen ON orchestrator_addresses(last_seen);"        \
    "CREATE INDEX IF NOT EXISTS upkeep_executions_finished ON executions(finished_at)"             \
    " WHERE status >= 3;"                                                                          \
    "CREATE INDEX IF NOT EXISTS upkeep_audit_kind_at ON audit_events(kind, at);"                   \
    "CREATE INDEX IF NOT EXISTS upkeep_audit_at ON audit_events(at);"                              \
    "CREATE INDEX IF NOT EXISTS upkeep_idempotency_created ON idempotency(created_at);"            \
    "CREATE INDEX IF NOT EXISTS upkeep_tokens_created ON api_tokens(created_at);"                  \
    "CREATE INDEX IF NOT EXISTS upkeep_jobs_retention ON jobs(id)"                                 \
    " WHERE json_extract(spec, '$.retention_days') IS NOT NULL;"

#endif
