/* orc_config.h: jobcell-orchestrator's settings (lib/config: file, JOBCELL_* env, flags). */
#ifndef JOBCELL_ORC_CONFIG_H
#define JOBCELL_ORC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "jobcell/config.h"

typedef struct jc_orc_config {
    char *server_url;          /* the internal API, "http://127.0.0.1:8080" */
    char *runtime_url;         /* the runtime API jobs are relayed to */
    char *runtime_ca_file;     /* PEM CAs for an https runtime_url; empty: the system store */
    jc_secret internal_key;    /* internal_key_file */
    char *internal_key_id;     /* this host's credential: its key id ("" when none) */
    jc_secret internal_secret; /* internal_secret_file: the credential's 64-hex secret */
    char *keyring_file;        /* the execution-token key ring (0600) */
    char *orchestrator_id;     /* empty: generated once into state_dir */
    char *state_dir;           /* spool, orchestrator id */
    char *run_dir;             /* per-execution runtime directories */
    int64_t slots;
    int64_t uid_base;
    char *profile_dir;
    char *sdk_dir;   /* empty: the installed /usr/local/lib/jobcell */
    char *init_path; /* jobcell-init; empty: beside this program */
    char *cgroup_parent;
    int64_t kill_grace_s;
    int64_t drain_timeout_s;
    int64_t claim_wait_s;
    int64_t backoff_base_ms;
    int64_t backoff_max_ms;
    char *admin_listen; /* "127.0.0.1:9464"; empty: off */
    char *log_file;     /* empty: stderr */
    char *log_level;
    bool spool_fsync;
    int64_t spool_after_ms; /* 0: spool every result before sending it */
} jc_orc_config;

extern const jc_cfg_schema jc_orc_config_schema;

/* Defaults, then --config FILE, the environment and flags; then cross-field checks.
 * *next gets the first unconsumed argument. */
int jc_orc_config_load(jc_orc_config *c, int argc, char **argv, char **envp, int *next,
                       jc_err *err);
/* Cross-field checks alone (tests call it on a config built by hand). */
int jc_orc_config_check(const jc_orc_config *c, jc_err *err);
void jc_orc_config_free(jc_orc_config *c);

/* Split "host:port" ("127.0.0.1:9464", "[::1]:9464"); host gets at most hostlen bytes. */
int jc_orc_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, jc_err *err);
/* Split an http:// or https:// URL (no path) into host and port (default 80 or 443); *tls
 * (may be NULL) tells which. */
int jc_orc_parse_http_url(const char *url, char *host, size_t hostlen, uint16_t *port, bool *tls,
                          jc_err *err);

#endif
