/* jobcell show: a job (with its runs) or one run, including output, condition and result. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "util_http.h"
#include "util_jobs.h"

static const char help[] =
    "usage: jobcell show [OPTIONS] ID\n"
    "\n"
    "Show a job (job_…) and its runs, or one run (exe_…): status, times, the result\n"
    "(exit code, signal, resource use), and the output and condition the job set.\n"
    "\n";

static void print_compact(const char *label, const json_t *v) {
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
    printf("  %-12s %s\n", label, text ? text : "-");
    free(text);
}

/* The schedule (and tick) that created a job, when one did. */
static void print_schedule_of(const json_t *obj) {
    const json_t *sch = json_object_get(obj, "schedule");
    if (!json_is_object(sch))
        return;
    const char *tick = json_string_value(json_object_get(sch, "tick"));
    printf("  %-12s %s (%s%s)\n", "schedule", jc_cli_str(sch, "id"), tick ? "tick " : "",
           tick ? tick : "run by hand");
}

static void print_execution(const json_t *exe) {
    printf("run %s (attempt %lld)\n", jc_cli_str(exe, "id"),
           (long long)json_integer_value(json_object_get(exe, "attempt")));
    printf("  %-12s %s\n", "status", jc_cli_str(exe, "status"));
    print_schedule_of(exe);
    const char *orc = json_string_value(json_object_get(exe, "orchestrator_id"));
    if (orc)
        printf("  %-12s %s\n", "host", orc);
    static const char *const times[] = {"created_at", "claimed_at", "started_at", "finished_at"};
    for (size_t i = 0; i < JC_ARRAY_LEN(times); i++) {
        const char *t = json_string_value(json_object_get(exe, times[i]));
        if (t)
            printf("  %-12.*s %s\n", (int)(strlen(times[i]) - 3), times[i], t);
    }
    const json_t *result = json_object_get(exe, "result");
    if (result && !json_is_null(result))
        print_compact("result", result);
    /* an egress job: what its network policy refused (docs/networking.md) */
    const json_t *net = json_object_get(result, "network");
    if (json_is_object(net))
        printf("  %-12s egress from %s, %lld packets denied\n", "network",
               jc_cli_str(net, "address"),
               (long long)json_integer_value(json_object_get(net, "denied")));
    const json_t *cond = json_object_get(exe, "condition");
    print_compact("condition", cond && !json_is_null(cond) ? cond : NULL);
    const json_t *out = json_object_get(exe, "output");
    print_compact("output", out && !json_is_null(out) ? out : NULL);
    json_t *log_bytes = json_object_get(exe, "log_bytes");
    if (log_bytes)
        printf("  %-12s %lld bytes%s\n", "log", (long long)json_integer_value(log_bytes),
               json_is_true(json_object_get(exe, "log_truncated")) ? " (truncated)" : "");
    if (json_is_true(json_object_get(exe, "cancel_requested")))
        printf("  %-12s %s\n", "cancel", "requested");
}

static int show_run(int argc, char **argv) {
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    int code;
    if (jc_cli_parse(argc, argv, NULL, help, &c, NULL, NULL, &code) < 0)
        return code;
    if (optind != argc - 1) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    const char *id = argv[optind];
    bool is_exe = strncmp(id, "exe_", 4) == 0;
    if (!is_exe && strncmp(id, "job_", 4) != 0) {
        fprintf(stderr, "jobcell: '%s' is not a job id (job_…) or an execution id (exe_…)\n", id);
        return JC_CLI_EXIT_USAGE;
    }
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_free_ char *esc = jc_cli_escape(id);
    _cleanup_free_ char *path = NULL;
    if (!esc || asprintf(&path, is_exe ? "/v1/executions/%s" : "/v1/jobs/%s", esc) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_json_ json_t *doc = jc_cli_call(&c, "GET", path, NULL, NULL);
    if (!doc)
        return JC_CLI_EXIT_FAIL;
    if (c.json) {
        jc_cli_print_json(doc);
        return JC_CLI_EXIT_OK;
    }
    if (is_exe) {
        printf("job %s\n", jc_cli_str(doc, "job_id"));
        print_execution(doc);
        return JC_CLI_EXIT_OK;
    }
    json_t *spec = json_object_get(doc, "spec");
    printf("job %s\n", jc_cli_str(doc, "id"));
    printf("  %-12s %s\n", "name", jc_cli_str(doc, "name"));
    const char *owner = json_string_value(json_object_get(doc, "owner"));
    if (owner)
        printf("  %-12s %s\n", "owner", owner);
    const char *runtime = json_string_value(json_object_get(doc, "runtime"));
    printf("  %-12s %s\n", "runtime", runtime ? runtime : jc_cli_str(spec, "runtime"));
    const char *status = json_string_value(json_object_get(doc, "status"));
    printf("  %-12s %s\n", "status",
           status ? status : jc_cli_str(jc_cli_latest_execution(doc), "status"));
    printf("  %-12s %s\n", "created", jc_cli_str(doc, "created_at"));
    print_schedule_of(doc);
    const char *waiting = json_string_value(json_object_get(doc, "waiting_reason"));
    if (waiting)
        printf("  %-12s %s\n", "waiting", waiting);
    size_t i;
    json_t *exe;
    json_array_foreach(json_object_get(doc, "executions"), i, exe) {
        printf("\n");
        print_execution(exe);
    }
    return JC_CLI_EXIT_OK;
}

JC_CLI_COMMAND(show_cmd, .name = "show", .summary = "show a job or one of its runs",
               .run = show_run, .order = 12)
