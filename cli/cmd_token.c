/* jobcell token: API tokens (create, ls, rm). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "util_http.h"

static const char help[] =
    "usage: jobcell token create [--name NAME] [--user USER] [--role user|admin]\n"
    "       jobcell token ls\n"
    "       jobcell token rm TOKEN_ID\n"
    "\n"
    "Manage API tokens. `create` prints a new token once: store it now (for example in\n"
    "a file readable only by you, then use --token-file or JOBCELL_TOKEN_FILE). Only an\n"
    "administrator may create a token for another user or with the admin role.\n"
    "\n"
    "  --name NAME   what the token is for (default: cli)\n"
    "  --user USER   the user the token acts for (administrators only)\n"
    "  --role ROLE   user or admin (administrators only)\n";

enum { OPT_NAME = JC_CLI_OPT_FIRST_OWN, OPT_USER, OPT_ROLE };

typedef struct token_opts {
    const char *name, *user, *role;
} token_opts;

static int on_own(int opt, const char *arg, void *ctx) {
    token_opts *o = ctx;
    if (opt == OPT_NAME)
        o->name = arg;
    else if (opt == OPT_USER)
        o->user = arg;
    else if (opt == OPT_ROLE)
        o->role = arg;
    else
        return -1;
    return 0;
}

static int token_run(int argc, char **argv) {
    static const struct option own[] = {
        {"name", required_argument, NULL, OPT_NAME},
        {"user", required_argument, NULL, OPT_USER},
        {"role", required_argument, NULL, OPT_ROLE},
        {0},
    };
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    token_opts o = {.name = "cli"};
    int code;
    if (jc_cli_parse(argc, argv, own, help, &c, on_own, &o, &code) < 0)
        return code;
    int nargs = argc - optind;
    const char *verb = nargs > 0 ? argv[optind] : "";
    bool create = strcmp(verb, "create") == 0 && nargs == 1;
    bool list = strcmp(verb, "ls") == 0 && nargs == 1;
    bool rm = strcmp(verb, "rm") == 0 && nargs == 2;
    if (!create && !list && !rm) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;
    if (create) {
        _cleanup_json_ json_t *body = json_pack("{s:s}", "name", o.name);
        if (o.user)
            json_object_set_new(body, "user", json_string(o.user));
        if (o.role)
            json_object_set_new(body, "role", json_string(o.role));
        _cleanup_json_ json_t *doc = jc_cli_call(&c, "POST", "/v1/tokens", body, NULL);
        if (!doc)
            return JC_CLI_EXIT_FAIL;
        if (c.json) {
            jc_cli_print_json(doc);
        } else {
            const char *tok = json_string_value(json_object_get(doc, "token"));
            if (!tok) {
                fprintf(stderr, "jobcell: the server's answer carries no token\n");
                return JC_CLI_EXIT_FAIL;
            }
            printf("%s\n", tok);
            fprintf(stderr, "jobcell: token %s created; it is shown only this once\n",
                    jc_cli_str(doc, "id"));
        }
        return JC_CLI_EXIT_OK;
    }
    if (list) {
        _cleanup_json_ json_t *doc = jc_cli_call(&c, "GET", "/v1/tokens", NULL, NULL);
        if (!doc)
            return JC_CLI_EXIT_FAIL;
        if (c.json) {
            jc_cli_print_json(doc);
            return JC_CLI_EXIT_OK;
        }
        printf("%-30s %-20s %-16s %-6s %s\n", "ID", "NAME", "USER", "ROLE", "CREATED");
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(doc, "tokens"), i, t) {
            printf("%-30s %-20.20s %-16.16s %-6s %s\n", jc_cli_str(t, "id"), jc_cli_str(t, "name"),
                   jc_cli_str(t, "user"), jc_cli_str(t, "role"), jc_cli_str(t, "created_at"));
        }
        return JC_CLI_EXIT_OK;
    }
    _cleanup_free_ char *esc = jc_cli_escape(argv[optind + 1]);
    _cleanup_free_ char *path = NULL;
    if (!esc || asprintf(&path, "/v1/tokens/%s", esc) < 0)
        return JC_CLI_EXIT_FAIL;
    _cleanup_json_ json_t *doc = jc_cli_call(&c, "DELETE", path, NULL, NULL);
    if (!doc)
        return JC_CLI_EXIT_FAIL;
    if (!c.json)
        printf("token %s deleted\n", argv[optind + 1]);
    return JC_CLI_EXIT_OK;
}

JC_CLI_COMMAND(token_cmd, .name = "token", .summary = "create, list and delete API tokens",
               .run = token_run, .order = 16)
