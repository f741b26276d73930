/* jobcell signals: the security signals the server's detection scan recorded (admin). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "util_http.h"

static const char help[] =
    "usage: jobcell signals [OPTIONS]\n"
    "\n"
    "List the security signals the server recorded, oldest first: new API tokens\n"
    "submitting at once or far above their owner's usual rate, bursts of failed logins\n"
    "by address or orchestrator id, execution tokens used after their run ended,\n"
    "orchestrator ids seen from two addresses or losing leases repeatedly, runs killed\n"
    "for a forbidden system call or with many denied outgoing packets. Needs an admin token.\n"
    "\n"
    "  --since WHEN  only signals recorded since WHEN: a time (2026-11-22T14:00:00Z) or\n"
    "                a duration back from now (30m, 12h, 7d); default 24h\n"
    "  --limit N     at most N signals per page (1-500, default 100)\n"
    "  --all         every signal since WHEN, page after page\n";

enum { OPT_SINCE = JC_CLI_OPT_FIRST_OWN, OPT_LIMIT, OPT_ALL };

typedef struct sig_opts {
    const char *since;
    long limit;
    bool all;
} sig_opts;

static int on_own(int opt, const char *arg, void *ctx) {
    sig_opts *o = ctx;
    char *end = NULL;
    switch (opt) {
    case OPT_SINCE: o->since = arg; return 0;
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

/* "30m", "12h", "7d" → ms; -1 when not a duration. */
static int64_t parse_duration(const char *s) {
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || n < 0 || n > 36500LL * 24 * 3600 || end[0] == '\0' || end[1] != '\0')
        return -1;
    switch (end[0]) {
    case 's': return n * 1000;
    case 'm': return n * 60000;
    case 'h': return n * 3600000;
    case 'd': return n * 86400000;
    default: return -1;
    }
}

static int signals_run(int argc, char **argv) {
    static const struct option own[] = {
        {"since", required_argument, NULL, OPT_SINCE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"all", no_argument, NULL, OPT_ALL},
        {0},
    };
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    sig_opts o = {.since = "24h", .limit = 100};
    int code;
    if (jc_cli_parse(argc, argv, own, help, &c, on_own, &o, &code) < 0)
        return code;
    if (optind != argc) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    char since[40];
    int64_t back = parse_duration(o.since);
    int64_t at;
    if (back >= 0) {
        jc_time_format_ms(jc_time_now_ms() - back, since, sizeof(since));
    } else if (jc_time_parse_ms(o.since, &at) == 0) {
        jc_time_format_ms(at, since, sizeof(since));
    } else {
        fprintf(stderr, "jobcell: --since must be a time (2026-11-22T14:00:00Z) or a duration"
                        " (30m, 12h, 7d)\n");
        return JC_CLI_EXIT_USAGE;
    }
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_free_ char *since_esc = jc_cli_escape(since);
    _cleanup_json_ json_t *all = json_array();
    _cleanup_free_ char *cursor = NULL;
    for (int page = 0; page < 100000; page++) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "/v1/signals?since=%s&limit=%ld%s%s", since_esc, o.limit,
                     cursor ? "&cursor=" : "", cursor ? cursor : "") < 0)
            return JC_CLI_EXIT_FAIL;
        _cleanup_json_ json_t *doc = jc_cli_call(&c, "GET", path, NULL, NULL);
        if (!doc)
            return JC_CLI_EXIT_FAIL;
        json_t *sigs = json_object_get(doc, "signals");
        if (page == 0 && !c.json)
            printf("%-24s %-24s %-32s %7s  %s\n", "AT", "SIGNAL", "SUBJECT", "COUNT", "DETAIL");
        size_t i;
        json_t *s;
        json_array_foreach(sigs, i, s) {
            if (c.json) {
                json_array_append(all, s);
                continue;
            }
            printf("%-24s %-24s %-32s %7lld  %s\n", jc_cli_str(s, "at"), jc_cli_str(s, "signal"),
                   jc_cli_str(s, "subject"),
                   (long long)json_integer_value(json_object_get(s, "count")),
                   jc_cli_str(s, "detail"));
        }
        free(cursor);
        cursor = NULL;
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        if (!o.all || !next)
            break;
        cursor = jc_cli_escape(next);
    }
    if (c.json)
        jc_cli_print_json(all);
    return JC_CLI_EXIT_OK;
}

JC_CLI_COMMAND(signals_cmd, .name = "signals", .summary = "list security signals (admin)",
               .run = signals_run, .order = 40)
