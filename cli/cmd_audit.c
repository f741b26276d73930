/* jobcell audit: read the server's audit trail (administrators). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "util_http.h"

static const char help[] =
    "usage: jobcell audit [--actor ID] [--outcome success|failure|denied|error]\n"
    "                     [--kind KIND] [--since TIME] [--limit N]\n"
    "\n"
    "Show the server's audit trail, newest first (administrators only): every\n"
    "authentication decision and every change (job submit and cancel, variable writes,\n"
    "tokens, keys, schedules) with who did it, how they authenticated, the outcome and\n"
    "from where. Values, secrets and request bodies are never recorded.\n"
    "\n"
    "  --actor ID       only events of this user, orchestrator or execution\n"
    "                   (failed authentications are recorded as 'unknown')\n"
    "  --outcome WORD   success, failure (authentication), denied or error\n"
    "  --kind KIND      auth, job_submit, job_cancel, variable_write, token_create, …\n"
    "  --since TIME     RFC 3339 time (2026-01-31T12:00:00Z) or an age: 30m, 12h, 7d\n"
    "  --limit N        at most N events (1-1000, default 50)\n";

enum { OPT_ACTOR = JC_CLI_OPT_FIRST_OWN, OPT_OUTCOME, OPT_KIND, OPT_SINCE, OPT_LIMIT };

typedef struct audit_opts {
    const char *actor, *outcome, *kind, *since, *limit;
} audit_opts;

static int on_own(int opt, const char *arg, void *ctx) {
    audit_opts *o = ctx;
    switch (opt) {
    case OPT_ACTOR: o->actor = arg; break;
    case OPT_OUTCOME: o->outcome = arg; break;
    case OPT_KIND: o->kind = arg; break;
    case OPT_SINCE: o->since = arg; break;
    case OPT_LIMIT: o->limit = arg; break;
    default: return -1;
    }
    return 0;
}

/* "30m", "12h", "7d" → an RFC 3339 time that long ago; anything else is passed as is. */
static int since_time(const char *arg, char *out, size_t cap) {
    char *end;
    long long n = strtoll(arg, &end, 10);
    int64_t unit = 0;
    if (end != arg && n > 0 && end[0] && !end[1])
        unit = end[0] == 's'   ? 1000
               : end[0] == 'm' ? 60000
               : end[0] == 'h' ? 3600000
               : end[0] == 'd' ? 86400000
                               : 0;
    if (!unit) {
        snprintf(out, cap, "%s", arg);
        return 0;
    }
    if (n > 36500LL * 86400000 / unit)
        return -1;
    jc_time_format_ms(jc_time_now_ms() - n * unit, out, cap);
    return 0;
}

static int add_query(char **q, const char *name, const char *value) {
    if (!value)
        return 0;
    _cleanup_free_ char *esc = jc_cli_escape(value);
    char *next = NULL;
    if (!esc || asprintf(&next, "%s%s%s=%s", *q, **q ? "&" : "?", name, esc) < 0)
        return -1;
    free(*q);
    *q = next;
    return 0;
}

static int audit_run(int argc, char **argv) {
    static const struct option own[] = {
        {"actor", required_argument, NULL, OPT_ACTOR},
        {"outcome", required_argument, NULL, OPT_OUTCOME},
        {"kind", required_argument, NULL, OPT_KIND},
        {"since", required_argument, NULL, OPT_SINCE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {0},
    };
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    audit_opts o = {.limit = "50"};
    int code;
    if (jc_cli_parse(argc, argv, own, help, &c, on_own, &o, &code) < 0)
        return code;
    if (optind != argc) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    char since[40];
    if (o.since && since_time(o.since, since, sizeof(since)) < 0) {
        fprintf(stderr, "jobcell audit: --since %s is too far back\n", o.since);
        return JC_CLI_EXIT_USAGE;
    }
    _cleanup_free_ char *q = strdup("");
    if (!q || add_query(&q, "actor", o.actor) < 0 || add_query(&q, "outcome", o.outcome) < 0 ||
        add_query(&q, "kind", o.kind) < 0 || add_query(&q, "since", o.since ? since : NULL) < 0 ||
        add_query(&q, "limit", o.limit) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "/v1/audit%s", q) < 0)
        return JC_CLI_EXIT_FAIL;
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_json_ json_t *doc = jc_cli_call(&c, "GET", path, NULL, NULL);
    if (!doc)
        return JC_CLI_EXIT_FAIL;
    if (c.json) {
        jc_cli_print_json(doc);
        return JC_CLI_EXIT_OK;
    }
    printf("%-24s %-16s %-12s %-24s %-6s %-10s %-8s %-24s %s\n", "TIME", "KIND", "ACTOR TYPE",
           "ACTOR", "SCHEME", "GROUP", "OUTCOME", "REASON", "REMOTE");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "events"), i, e) {
        json_t *actor = json_object_get(e, "actor");
        json_int_t count = json_integer_value(json_object_get(e, "count"));
        printf("%-24s %-16.16s %-12.12s %-24.24s %-6.6s %-10.10s %-8.8s %-24.24s %s",
               jc_cli_str(e, "at"), jc_cli_str(e, "kind"), jc_cli_str(actor, "type"),
               jc_cli_str(actor, "id"), jc_cli_str(e, "scheme"), jc_cli_str(e, "group"),
               jc_cli_str(e, "outcome"), jc_cli_str(e, "reason"), jc_cli_str(e, "remote"));
        if (count > 1)
            printf(" (x%lld)", (long long)count);
        printf("\n");
    }
    if (json_is_string(json_object_get(doc, "next_cursor")))
        fprintf(stderr, "jobcell audit: more events are older; narrow with --since or --limit\n");
    return JC_CLI_EXIT_OK;
}

JC_CLI_COMMAND(audit_cmd, .name = "audit", .summary = "show the server's audit trail (admins)",
               .run = audit_run, .order = 18)
