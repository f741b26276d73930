/* sqlite_creds_schema.h: the SQLite table of store_creds.h (private to runtime-api/store/).
 *
 * The secret column holds jc_seal() text only, never a clear secret. */
#ifndef JOBCELL_STORE_SQLITE_CREDS_SCHEMA_H
#define JOBCELL_STORE_SQLITE_CREDS_SCHEMA_H

#define JC_SQLITE_CREDS_SCHEMA                                                                     \
    "CREATE TABLE orchestrator_keys ("                                                             \
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"                                                      \
    " key_id TEXT NOT NULL UNIQUE, orchestrator TEXT NOT NULL, sealed TEXT NOT NULL,"              \
    " created_at INTEGER NOT NULL, revoked_at INTEGER, expires_at INTEGER);"                       \
    "CREATE INDEX orchestrator_keys_owner ON orchestrator_keys(orchestrator, seq);"

#endif
