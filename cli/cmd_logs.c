/* jobcell logs: print a job's output (stdout and stderr, as they arrived). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "util_http.h"
#include "util_jobs.h"

static const char help[] =
    "usage: jobcell logs [OPTIONS] ID\n"
    "\n"
    "Print the output of a job (its latest run) or of one run (an execution id, exe_…).\n"
    "\n"
    "  -f, --follow   keep printing new output until the run ends\n";

enum { OPT_FOLLOW = 'f' };

static int on_own(int opt, const char *arg, void *ctx) {
    (void)arg;
    if (opt != OPT_FOLLOW)
        return -1;
    *(bool *)ctx = true;
    return 0;
}

static int logs_run(int argc, char **argv) {
    static const struct option own[] = {{"follow", no_argument, NULL, OPT_FOLLOW}, {0}};
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    bool follow = false;
    int code;
    /* -f is the one short option: map it before the long-option parser sees it */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-f") == 0)
            argv[i] = (char *)"--follow";
    }
    if (jc_cli_parse(argc, argv, own, help, &c, on_own, &follow, &code) < 0)
        return code;
    if (optind != argc - 1) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;
    char exe[JC_CLI_ID_MAX];
    if (jc_cli_resolve_execution(&c, argv[optind], exe) < 0)
        return JC_CLI_EXIT_FAIL;
    if (follow)
        return jc_cli_follow_log(&c, exe, 0) < 0 ? JC_CLI_EXIT_FAIL : JC_CLI_EXIT_OK;
    _cleanup_free_ char *esc = jc_cli_escape(exe);
    _cleanup_free_ char *path = NULL;
    if (!esc || asprintf(&path, "/v1/executions/%s/logs?offset=0", esc) < 0)
        return JC_CLI_EXIT_FAIL;
    long status;
    size_t written;
    return jc_cli_stream(&c, path, stdout, &status, &written) < 0 ? JC_CLI_EXIT_FAIL
                                                                  : JC_CLI_EXIT_OK;
}

JC_CLI_COMMAND(logs_cmd, .name = "logs", .summary = "print a job's output", .run = logs_run,
               .order = 13)
