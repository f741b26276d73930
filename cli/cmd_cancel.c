/* jobcell cancel: cancel a job. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "util_http.h"
#include "util_jobs.h"

static const char help[] = "usage: jobcell cancel [OPTIONS] JOB_ID\n"
                           "\n"
                           "Cancel a job: a queued job is canceled at once; a running one is\n"
                           "stopped by its host within a few seconds. A finished job cannot be\n"
                           "canceled.\n"
                           "\n";

static int cancel_run(int argc, char **argv) {
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    int code;
    if (jc_cli_parse(argc, argv, NULL, help, &c, NULL, NULL, &code) < 0)
        return code;
    if (optind != argc - 1) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_free_ char *esc = jc_cli_escape(argv[optind]);
    _cleanup_free_ char *path = NULL;
    if (!esc || asprintf(&path, "/v1/jobs/%s/cancel", esc) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_json_ json_t *job = jc_cli_call(&c, "POST", path, NULL, NULL);
    if (!job)
        return JC_CLI_EXIT_FAIL;
    if (c.json) {
        jc_cli_print_json(job);
        return JC_CLI_EXIT_OK;
    }
    json_t *exe = jc_cli_latest_execution(job);
    const char *status = json_string_value(json_object_get(exe, "status"));
    if (status && strcmp(status, "canceled") == 0)
        printf("job %s canceled\n", argv[optind]);
    else
        printf("job %s: cancel requested; it stops within a few seconds\n", argv[optind]);
    return JC_CLI_EXIT_OK;
}

JC_CLI_COMMAND(cancel_cmd, .name = "cancel", .summary = "cancel a job", .run = cancel_run,
               .order = 14)
