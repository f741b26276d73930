/* run_options.h: the options of `jobcell run`, parsed apart from running so that they
 * can be tested on their own. */
#ifndef JOBCELL_CLI_RUN_OPTIONS_H
#define JOBCELL_CLI_RUN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "jobcell/sandbox.h"

#define JC_RUN_MAX_BINDS 32
#define JC_RUN_MAX_ENV 256
#define JC_RUN_MAX_ALLOW 256 /* --allow, --allow-private, --deny-always, --dns each */

typedef struct jc_run_options {
    jc_sandbox_limits limits; /* 0 = default */
    const char *profile;      /* FILE or NAME; "none" = no filter; NULL = "default" */
    const char *rootfs;
    const char *sdk_dir;
    const char *cgroup_parent;
    jc_sandbox_bind binds[JC_RUN_MAX_BINDS];
    char bind_storage[JC_RUN_MAX_BINDS][2][4096];
    size_t n_binds;
    const char *env[JC_RUN_MAX_ENV + 1]; /* NULL-terminated */
    size_t n_env;
    const char *proxy_host; /* --runtime-proxy HOST:PORT */
    char proxy_host_buf[256];
    const char *proxy_port;
    unsigned slot;
    bool egress; /* --network egress */
    jc_egress_rule allow[JC_RUN_MAX_ALLOW];
    size_t n_allow;
    jc_egress_rule allow_private[JC_RUN_MAX_ALLOW];
    size_t n_allow_private;
    jc_egress_rule deny_always[JC_RUN_MAX_ALLOW];
    size_t n_deny_always;
    const char *dns[JC_RUN_MAX_ALLOW];
    size_t n_dns;
    const char *egress_pool;      /* NULL = default */
    const char *egress_state_dir; /* NULL = default */
    bool json;
    bool cleanup;
    bool timings; /* print the start-up breakdown (for the benchmark) */
    char **argv;  /* the command, NULL-terminated; NULL with --cleanup */
} jc_run_options;

/* Parse argv (argv[0] = "run"). Returns 0, 1 for --help (usage printed on stdout), or -1
 * with a message for the person in errbuf (exit 2). */
int jc_run_options_parse(int argc, char **argv, jc_run_options *o, char *errbuf, size_t errlen);

/* The --help text. */
extern const char jc_run_usage[];

#endif
