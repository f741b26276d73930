/* jobcell schedule: recurring jobs on a cron expression (add, ls, show, pause, resume,
 * trigger, rm, next). `next --cron` works without a server: it uses the same cron engine
 * as the server, so what it prints is what the server will do. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "jobcell/cron.h"
#include "jobcell/io.h"
#include "jobcell/tz.h"
#include "util_http.h"

static const char help[] =
    "usage: jobcell schedule add FILE|-\n"
    "       jobcell schedule ls\n"
    "       jobcell schedule show ID\n"
    "       jobcell schedule pause ID\n"
    "       jobcell schedule resume ID\n"
    "       jobcell schedule trigger ID\n"
    "       jobcell schedule rm ID\n"
    "       jobcell schedule next ID [-n COUNT]\n"
    "       jobcell schedule next --cron EXPR [--timezone ZONE] [-n COUNT]\n"
    "\n"
    "Run a job on a clock. `add` reads a schedule as JSON from FILE (or - for standard\n"
    "input), for example:\n"
    "\n"
    "  {\"name\": \"nightly report\", \"cron\": \"30 2 * * *\", \"timezone\": \"Europe/Prague\",\n"
    "   \"job\": {\"runtime\": \"bash\", \"script\": \"./report.sh\"}}\n"
    "\n"
    "`trigger` runs the job once now, outside the clock. `next` prints the coming fire\n"
    "times in the schedule's time zone; with --cron it checks an expression before you\n"
    "create a schedule (computed here, no server needed). See docs/schedules.md.\n"
    "\n"
    "  -n, --count COUNT  (next) how many fire times to print (1-1000, default 10)\n"
    "  --cron EXPR        (next) the expression to check\n"
    "  --timezone ZONE    (next) UTC (default) or an IANA zone such as Europe/Prague\n";

#define MAX_FILE (4u << 20)

enum { OPT_COUNT = JC_CLI_OPT_FIRST_OWN, OPT_CRON, OPT_TIMEZONE };

typedef struct options {
    long count;
    const char *cron;
    const char *timezone;
} options;

static int on_own(int opt, const char *arg, void *ctx) {
    options *o = ctx;
    if (opt == OPT_COUNT) {
        char *end;
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (!*arg || *end || errno || v < 1 || v > 1000) {
            fprintf(stderr, "jobcell: --count must be a number from 1 to 1000\n");
            return -1;
        }
        o->count = v;
        return 0;
    }
    if (opt == OPT_CRON) {
        o->cron = arg;
        return 0;
    }
    if (opt == OPT_TIMEZONE) {
        o->timezone = arg;
        return 0;
    }
    return -1;
}

/* Print the next `count` ticks of (cron, zone) after `after` (ms), within [start, end). */
static int print_next(const char *expr, const char *zone, int64_t start_at, int64_t end_at,
                      long count, int64_t after) {
    jc_cron cron;
    jc_err err;
    jc_err_clear(&err);
    if (jc_cron_parse(expr, &cron, &err) < 0) {
        fprintf(stderr, "jobcell: %s\n", err.msg);
        return JC_CLI_EXIT_USAGE;
    }
    const jc_tz *tz = jc_tz_get(zone, &err);
    if (!tz) {
        fprintf(stderr, "jobcell: %s\n", err.msg);
        return JC_CLI_EXIT_USAGE;
    }
    if (start_at && after < start_at)
        after = start_at - 1;
    int64_t t = after / 1000;
    for (long i = 0; i < count; i++) {
        if (jc_cron_next(&cron, tz, t, &t, &err) < 0 || (end_at && t * 1000 >= end_at)) {
            if (i == 0)
                printf("no fire time%s\n", end_at ? " before end_at" : "");
            break;
        }
        char local[64], utc[32];
        jc_tz_format(tz, t, local, sizeof(local));
        jc_time_format_ms(t * 1000, utc, sizeof(utc));
        printf("%s   %s\n", local, utc);
    }
    return JC_CLI_EXIT_OK;
}

static int64_t time_member(const json_t *o, const char *key) {
    int64_t ms = 0;
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || jc_time_parse_ms(s, &ms) < 0)
        return 0;
    return ms;
}

static void print_schedule(const json_t *s) {
    printf("schedule %s\n", jc_cli_str(s, "id"));
    static const char *const keys[] = {"name",     "owner",   "cron",        "timezone",
                                       "overlap",  "catchup", "next_run_at", "last_tick",
                                       "start_at", "end_at",  "created_at",  "updated_at"};
    for (size_t i = 0; i < JC_ARRAY_LEN(keys); i++) {
        const char *v = json_string_value(json_object_get(s, keys[i]));
        if (v)
            printf("  %-12s %s\n", keys[i], v);
    }
    printf("  %-12s %lld s\n", "jitter",
           (long long)json_integer_value(json_object_get(s, "jitter_s")));
    printf("  %-12s %s\n", "state",
           json_is_true(json_object_get(s, "paused")) ? "paused" : "active");
    printf("  %-12s %lld fired, %lld skipped (overlap), %lld missed\n", "runs",
           (long long)json_integer_value(json_object_get(s, "fired")),
           (long long)json_integer_value(json_object_get(s, "skipped")),
           (long long)json_integer_value(json_object_get(s, "missed")));
    const json_t *job = json_object_get(s, "job");
    printf("  %-12s %s (%s)\n", "job", jc_cli_str(job, "name"), jc_cli_str(job, "runtime"));
}

static int list(jc_cli_conn *c) {
    _cleanup_json_ json_t *all = json_array();
    _cleanup_free_ char *cursor = NULL;
    /* Bounded: at most 100 pages of 500. */
    for (int page = 0; page < 100; page++) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *esc = cursor ? jc_cli_escape(cursor) : NULL;
        if (asprintf(&path, "/v1/schedules?limit=500%s%s", esc ? "&cursor=" : "", esc ? esc : "") <
            0)
            return JC_CLI_EXIT_FAIL;
        _cleanup_json_ json_t *doc = jc_cli_call(c, "GET", path, NULL, NULL);
        if (!doc)
            return JC_CLI_EXIT_FAIL;
        json_array_extend(all, json_object_get(doc, "schedules"));
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        free(cursor);
        cursor = next ? strdup(next) : NULL;
        if (!cursor)
            break;
    }
    if (c->json) {
        _cleanup_json_ json_t *out = json_pack("{s:O}", "schedules", all);
        jc_cli_print_json(out);
        return JC_CLI_EXIT_OK;
    }
    printf("%-30s %-20s %-16s %-16s %-8s %s\n", "ID", "NAME", "CRON", "TIMEZONE", "STATE",
           "NEXT RUN");
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s) {
        printf("%-30s %-20.20s %-16s %-16s %-8s %s\n", jc_cli_str(s, "id"), jc_cli_str(s, "name"),
               jc_cli_str(s, "cron"), jc_cli_str(s, "timezone"),
               json_is_true(json_object_get(s, "paused")) ? "paused" : "active",
               jc_cli_str(s, "next_run_at"));
    }
    return JC_CLI_EXIT_OK;
}

static int add(jc_cli_conn *c, const char *file) {
    size_t len = 0;
    jc_err err;
    jc_err_clear(&err);
    _cleanup_free_ char *text = strcmp(file, "-") == 0 ? jc_read_fd(0, MAX_FILE, &len, &err)
                                                       : jc_read_file(file, MAX_FILE, &len, &err);
    if (!text) {
        fprintf(stderr, "jobcell: %s: %s\n", file, err.msg);
        return JC_CLI_EXIT_FAIL;
    }
    json_error_t jerr;
    _cleanup_json_ json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        fprintf(stderr, "jobcell: %s: not a JSON object (%s, line %d)\n", file,
                body ? "another JSON value" : jerr.text, jerr.line);
        return JC_CLI_EXIT_USAGE;
    }
    if (jc_cli_connect(c) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_json_ json_t *doc = jc_cli_call(c, "POST", "/v1/schedules", body, NULL);
    if (!doc)
        return JC_CLI_EXIT_FAIL;
    if (c->json)
        jc_cli_print_json(doc);
    else
        printf("%s   next run %s\n", jc_cli_str(doc, "id"), jc_cli_str(doc, "next_run_at"));
    return JC_CLI_EXIT_OK;
}

static int schedule_run(int argc, char **argv) {
    static const struct option own[] = {{"count", required_argument, NULL, OPT_COUNT},
                                        {"cron", required_argument, NULL, OPT_CRON},
                                        {"timezone", required_argument, NULL, OPT_TIMEZONE},
                                        {0}};
    /* -n is the one short option: spell it long for the shared parser. */
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    if (!args)
        return JC_CLI_EXIT_FAIL;
    for (int i = 0; i < argc; i++)
        args[i] = strcmp(argv[i], "-n") == 0 ? (char *)"--count" : argv[i];
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    options o = {.count = 10};
    int code;
    if (jc_cli_parse(argc, args, own, help, &c, on_own, &o, &code) < 0) {
        free(args);
        return code;
    }
    int nargs = argc - optind;
    const char *verb = nargs > 0 ? args[optind] : "";
    const char *arg = nargs > 1 ? args[optind + 1] : NULL;
    free(args);
    bool with_id = nargs == 2 && (strcmp(verb, "show") == 0 || strcmp(verb, "pause") == 0 ||
                                  strcmp(verb, "resume") == 0 || strcmp(verb, "trigger") == 0 ||
                                  strcmp(verb, "rm") == 0 || strcmp(verb, "next") == 0);
    if (strcmp(verb, "next") == 0 && nargs == 1 && o.cron)
        return print_next(o.cron, o.timezone ? o.timezone : "UTC", 0, 0, o.count, jc_time_now_ms());
    if ((o.cron || o.timezone) || (strcmp(verb, "next") != 0 && o.count != 10) ||
        !(with_id || (strcmp(verb, "ls") == 0 && nargs == 1) ||
          (strcmp(verb, "add") == 0 && nargs == 2))) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    if (strcmp(verb, "add") == 0)
        return add(&c, arg);
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;
    if (strcmp(verb, "ls") == 0)
        return list(&c);
    _cleanup_free_ char *esc = jc_cli_escape(arg);
    _cleanup_free_ char *path = NULL;
    const char *action = strcmp(verb, "pause") == 0     ? "/pause"
                         : strcmp(verb, "resume") == 0  ? "/resume"
                         : strcmp(verb, "trigger") == 0 ? "/trigger"
                                                        : "";
    if (!esc || asprintf(&path, "/v1/schedules/%s%s", esc, action) < 0)
        return JC_CLI_EXIT_FAIL;
    const char *method = *action ? "POST" : strcmp(verb, "rm") == 0 ? "DELETE" : "GET";
    _cleanup_json_ json_t *doc = jc_cli_call(&c, method, path, NULL, NULL);
    if (!doc)
        return JC_CLI_EXIT_FAIL;
    if (strcmp(verb, "next") == 0)
        return print_next(jc_cli_str(doc, "cron"), jc_cli_str(doc, "timezone"),
                          time_member(doc, "start_at"), time_member(doc, "end_at"), o.count,
                          jc_time_now_ms());
    if (c.json) {
        if (!json_is_null(doc))
            jc_cli_print_json(doc);
        return JC_CLI_EXIT_OK;
    }
    if (strcmp(verb, "rm") == 0)
        printf("deleted %s\n", arg);
    else if (strcmp(verb, "trigger") == 0)
        printf("job %s   run %s\n", jc_cli_str(doc, "id"),
               jc_cli_str(json_array_get(json_object_get(doc, "executions"), 0), "id"));
    else
        print_schedule(doc);
    return JC_CLI_EXIT_OK;
}

JC_CLI_COMMAND(schedule_cmd, .name = "schedule",
               .summary = "run a job on a clock (cron expressions, time zones)",
               .run = schedule_run, .order = 20)
