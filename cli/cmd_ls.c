/* jobcell ls: list jobs, newest first. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "util_http.h"
#include "util_jobs.h"

static const char help[] =
    "usage: jobcell ls [OPTIONS]\n"
    "\n"
    "List your jobs, newest first (an administrator sees everyone's).\n"
    "\n"
    "  --status S   only jobs whose latest run is S (queued, claimed, running,\n"
    "               succeeded, failed, canceled, lost)\n"
    "  --limit N    at most N jobs (1-500, default 50)\n"
    "  --all        every job, page after page\n";

enum { OPT_STATUS = JC_CLI_OPT_FIRST_OWN, OPT_LIMIT, OPT_ALL };

typedef struct ls_opts {
    const char *status;
    long limit;
    bool all;
} ls_opts;

static int on_own(int opt, const char *arg, void *ctx) {
    ls_opts *o = ctx;
    char *end = NULL;
    switch (opt) {
    case OPT_STATUS: o->status = arg; return 0;
    case OPT_LIMIT:
        o->limit = strtol(arg, &end, 10);
        if (!*arg || *end || o->limit < 1 || o->limit > 500) {
            fprintf(stderr, "jobcell: --limit must be a number from 1 to 500\n");
            return -1;
        }
        return 0;
    case OPT_ALL: o->all = true; return 0;
    }
    return -1;
}

static int ls_run(int argc, char **argv) {
    static const struct option own[] = {
        {"status", required_argument, NULL, OPT_STATUS},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"all", no_argument, NULL, OPT_ALL},
        {0},
    };
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    ls_opts o = {.limit = 50};
    int code;
    if (jc_cli_parse(argc, argv, own, help, &c, on_own, &o, &code) < 0)
        return code;
    if (optind != argc) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_free_ char *status_esc = o.status ? jc_cli_escape(o.status) : NULL;
    _cleanup_json_ json_t *all = json_array();
    _cleanup_free_ char *cursor = NULL;
    for (int page = 0; page < 100000; page++) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *cursor_esc = cursor ? jc_cli_escape(cursor) : NULL;
        if (asprintf(&path, "/v1/jobs?limit=%ld%s%s%s%s", o.limit, status_esc ? "&status=" : "",
                     status_esc ? status_esc : "", cursor_esc ? "&cursor=" : "",
                     cursor_esc ? cursor_esc : "") < 0)
            return JC_CLI_EXIT_FAIL;
        _cleanup_json_ json_t *doc = jc_cli_call(&c, "GET", path, NULL, NULL);
        if (!doc)
            return JC_CLI_EXIT_FAIL;
        json_t *jobs = json_object_get(doc, "jobs");
        if (page == 0 && !c.json)
            printf("%-30s %-24s %-10s %-24s %s\n", "JOB", "NAME", "STATUS", "CREATED", "RUNTIME");
        size_t i;
        json_t *job;
        json_array_foreach(jobs, i, job) {
            if (c.json) {
                json_array_append(all, job);
                continue;
            }
            const char *status = json_string_value(json_object_get(job, "status"));
            if (!status)
                status = jc_cli_str(jc_cli_latest_execution(job), "status");
            json_t *spec = json_object_get(job, "spec");
            const char *runtime = json_string_value(json_object_get(job, "runtime"));
            if (!runtime)
                runtime = jc_cli_str(spec, "runtime");
            printf("%-30s %-24.24s %-10s %-24s %s\n", jc_cli_str(job, "id"),
                   jc_cli_str(job, "name"), status, jc_cli_str(job, "created_at"), runtime);
        }
        free(cursor);
        cursor = NULL;
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        if (!o.all || !next)
            break;
        cursor = strdup(next);
    }
    if (c.json)
        jc_cli_print_json(all);
    return JC_CLI_EXIT_OK;
}

JC_CLI_COMMAND(ls_cmd, .name = "ls", .summary = "list jobs", .run = ls_run, .order = 11)
