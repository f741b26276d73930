/* jobcell-orchestrator: the per-host daemon. Claims executions from the API server, runs
 * each in a sandbox, relays its runtime calls, and reports logs and results back. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "orc_config.h"

extern char **environ;

static void usage(FILE *out) {
    fprintf(out, "Usage: jobcell-orchestrator [--config FILE] [--KEY VALUE]...\n\n"
                 "Runs jobs from a jobcell API server in sandboxes on this host. Needs root.\n"
                 "Every setting can come from the JSON file, from JOBCELL_<KEY> in the\n"
                 "environment, or from a flag (flags win). Secrets only from files: give\n"
                 "internal_key_file, never the key itself.\n\nSettings:\n");
    jc_config_print_help(&jc_orc_config_schema, out);
    fprintf(out, "\nSignals: TERM/INT drain (a second one cancels running jobs at once),\n"
                 "HUP reopens the log file and reloads seccomp profiles and the key ring.\n");
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("jobcell-orchestrator %s\n", JC_VERSION);
            return 0;
        }
    }
    jc_orc_config cfg;
    jc_err err = {0};
    int next = 0;
    if (jc_orc_config_load(&cfg, argc, argv, environ, &next, &err) < 0) {
        fprintf(stderr, "jobcell-orchestrator: %s\n", err.msg);
        jc_orc_config_free(&cfg);
        return 2;
    }
    if (next < argc) {
        fprintf(stderr, "jobcell-orchestrator: unexpected argument %s (see --help)\n", argv[next]);
        jc_orc_config_free(&cfg);
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "jobcell-orchestrator: must run as root (it builds sandboxes)\n");
        jc_orc_config_free(&cfg);
        return 1;
    }
    int rc = jc_orc_run(&cfg);
    jc_orc_config_free(&cfg);
    return rc;
}
