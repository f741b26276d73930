/* jobcell var: your variables (the values jobs read and write through the runtime API). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "util_http.h"

static const char help[] =
    "usage: jobcell var get KEY\n"
    "       jobcell var set [--string] KEY VALUE\n"
    "       jobcell var ls\n"
    "       jobcell var rm KEY\n"
    "\n"
    "Variables are JSON values your jobs share (jobs read and write them while they run).\n"
    "`set` takes VALUE as JSON (42, true, \"text\", {\"a\": 1}); with --string VALUE is\n"
    "stored as a string as is. Use -- before a VALUE that starts with '-'. `get` prints\n"
    "the value as JSON and exits 3 when the variable is not set. Keys are 1-128 characters:\n"
    "letters, digits, '_', '.', '-', not starting with a digit, '.' or '-'.\n"
    "\n"
    "  --string   (set) store VALUE as a JSON string\n";

#define EXIT_NOT_SET 3

enum { OPT_STRING = JC_CLI_OPT_FIRST_OWN };

static int on_own(int opt, const char *arg, void *ctx) {
    (void)arg;
    if (opt != OPT_STRING)
        return -1;
    *(bool *)ctx = true;
    return 0;
}

static int var_run(int argc, char **argv) {
    static const struct option own[] = {{"string", no_argument, NULL, OPT_STRING}, {0}};
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    bool as_string = false;
    int code;
    if (jc_cli_parse(argc, argv, own, help, &c, on_own, &as_string, &code) < 0)
        return code;
    int nargs = argc - optind;
    const char *verb = nargs > 0 ? argv[optind] : "";
    bool get = strcmp(verb, "get") == 0 && nargs == 2;
    bool set = strcmp(verb, "set") == 0 && nargs == 3;
    bool list = strcmp(verb, "ls") == 0 && nargs == 1;
    bool rm = strcmp(verb, "rm") == 0 && nargs == 2;
    if (!get && !set && !list && !rm) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    _cleanup_json_ json_t *value = NULL;
    if (set) {
        const char *text = argv[optind + 2];
        json_error_t jerr;
        value = as_string ? json_string(text)
                          : json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!value) {
            fprintf(stderr,
                    "jobcell: VALUE is not JSON (%s); quote text as JSON (\"\\\"text\\\"\") or "
                    "use --string\n",
                    as_string ? "not valid UTF-8" : jerr.text);
            return JC_CLI_EXIT_USAGE;
        }
    }
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;
    if (list) {
        _cleanup_json_ json_t *doc = jc_cli_call(&c, "GET", "/v1/variables", NULL, NULL);
        if (!doc)
            return JC_CLI_EXIT_FAIL;
        if (c.json) {
            jc_cli_print_json(doc);
            return JC_CLI_EXIT_OK;
        }
        printf("%-40s %s\n", "KEY", "UPDATED");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(doc, "variables"), i, v) {
            printf("%-40s %s\n", jc_cli_str(v, "key"), jc_cli_str(v, "updated_at"));
        }
        return JC_CLI_EXIT_OK;
    }
    _cleanup_free_ char *esc = jc_cli_escape(argv[optind + 1]);
    _cleanup_free_ char *path = NULL;
    if (!esc || asprintf(&path, "/v1/variables/%s", esc) < 0)
        return JC_CLI_EXIT_FAIL;
    if (set) {
        _cleanup_json_ json_t *body = json_pack("{s:O}", "value", value);
        _cleanup_json_ json_t *doc = jc_cli_call(&c, "PUT", path, body, NULL);
        if (!doc)
            return JC_CLI_EXIT_FAIL;
        if (c.json)
            jc_cli_print_json(doc);
        return JC_CLI_EXIT_OK;
    }
    long status = 0;
    _cleanup_json_ json_t *doc = NULL;
    if (get) {
        /* an unset variable is an answer, not a failure: say so without the error line */
        jc_cli_resp r;
        if (jc_cli_request(&c, "GET", path, NULL, 0, &r) < 0)
            return JC_CLI_EXIT_FAIL;
        status = r.status;
        if (status == 404) {
            fprintf(stderr, "jobcell: variable %s is not set\n", argv[optind + 1]);
            jc_cli_resp_free(&r);
            return EXIT_NOT_SET;
        }
        if (status < 200 || status >= 300) {
            jc_cli_print_http_error(&r);
            jc_cli_resp_free(&r);
            return JC_CLI_EXIT_FAIL;
        }
        doc = json_loadb(r.body, r.len, 0, NULL);
        jc_cli_resp_free(&r);
        if (!doc) {
            fprintf(stderr, "jobcell: the server's answer is not JSON\n");
            return JC_CLI_EXIT_FAIL;
        }
        jc_cli_print_json(c.json ? doc : json_object_get(doc, "value"));
        return JC_CLI_EXIT_OK;
    }
    doc = jc_cli_call(&c, "DELETE", path, NULL, &status);
    if (!doc)
        return status == 404 ? EXIT_NOT_SET : JC_CLI_EXIT_FAIL;
    if (!c.json)
        printf("variable %s deleted\n", argv[optind + 1]);
    return JC_CLI_EXIT_OK;
}

JC_CLI_COMMAND(var_cmd, .name = "var", .summary = "get, set, list and delete variables",
               .run = var_run, .order = 15)
