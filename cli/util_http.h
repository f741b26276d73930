/* util_http.h: what the remote subcommands share: where the server is, the API token, and
 * HTTP calls to the admin API through libcurl.
 *
 * The server and token come from, in order: flags (--url, --token-file, --token), the
 * environment (JOBCELL_URL, JOBCELL_TOKEN, JOBCELL_TOKEN_FILE), then the config file
 * ($XDG_CONFIG_HOME/jobcell/config.json or ~/.config/jobcell/config.json:
 * {"url": …, "token_file": …} or {"token": …} when the file is private). Every HTTP error
 * is reported on stderr with the server's message; the caller only picks the exit code. */
#ifndef JOBCELL_CLI_UTIL_HTTP_H
#define JOBCELL_CLI_UTIL_HTTP_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define JC_CLI_DEFAULT_URL "http://127.0.0.1:8080"

/* Exit codes of the remote commands. */
#define JC_CLI_EXIT_OK 0
#define JC_CLI_EXIT_FAIL 1
#define JC_CLI_EXIT_USAGE 2

/* Option values shared by every remote command (getopt_long `val`s above 255). */
enum {
    JC_CLI_OPT_URL = 256,
    JC_CLI_OPT_TOKEN,
    JC_CLI_OPT_TOKEN_FILE,
    JC_CLI_OPT_JSON,
    JC_CLI_OPT_HELP,
    JC_CLI_OPT_FIRST_OWN, /* a command's own long-only options start here */
};

#define JC_CLI_COMMON_OPTIONS                                                                      \
    {"url", required_argument, NULL, JC_CLI_OPT_URL},                                              \
        {"token", required_argument, NULL, JC_CLI_OPT_TOKEN},                                      \
        {"token-file", required_argument, NULL, JC_CLI_OPT_TOKEN_FILE},                            \
        {"json", no_argument, NULL, JC_CLI_OPT_JSON}, {                                            \
        "help", no_argument, NULL, JC_CLI_OPT_HELP                                                 \
    }

/* The help lines of the shared options, for each command's --help. */
extern const char jc_cli_common_help[];

typedef struct jc_cli_conn {
    const char *url_flag;
    const char *token_flag;
    const char *token_file_flag;
    bool json;                /* --json: machine-readable output */
    const char *extra_header; /* one more request header ("Name: value"), or NULL */
    char *url;                /* resolved, without trailing slash */
    char *token;
    size_t token_len;
} jc_cli_conn;

/* Handle a shared option; returns 1 when `opt` was one (help: prints `help` and sets
 * *exit_now to 0), 0 when it is the command's own. */
int jc_cli_common_option(jc_cli_conn *c, int opt, const char *arg, const char *help, int *exit_now);

/* Parse argv for a command with only the shared options (own == NULL) or with its own
 * long options (`own`, terminated by {0}; each handled by on_own, which returns 0 or -1 for
 * bad usage). Returns -1 when the command must exit now with *exit_code (help shown: 0;
 * bad usage: 2), else 0 with optind at the first operand. */
int jc_cli_parse(int argc, char **argv, const struct option *own, const char *help, jc_cli_conn *c,
                 int (*on_own)(int opt, const char *arg, void *ctx), void *ctx, int *exit_code);

/* Resolve the URL and token (see above). Prints the reason and returns -1 on failure. */
int jc_cli_connect(jc_cli_conn *c);
/* Wipe the token and free. */
void jc_cli_conn_free(jc_cli_conn *c);

typedef struct jc_cli_resp {
    long status;
    char *body; /* owned, NUL-terminated */
    size_t len;
} jc_cli_resp;

void jc_cli_resp_free(jc_cli_resp *r);

/* One request: path starts with "/". body may be NULL. Returns -1 (reason printed) when
 * the server could not be reached; any HTTP status is a success here. */
int jc_cli_request(jc_cli_conn *c, const char *method, const char *path, const char *body,
                   size_t body_len, jc_cli_resp *out);

/* A JSON call expecting a 2xx answer: returns the parsed body (owned; json null for an
 * empty body) or NULL after printing the server's message. body may be NULL. *status (may
 * be NULL) gets the HTTP status, 0 when the server was not reached. */
json_t *jc_cli_call(jc_cli_conn *c, const char *method, const char *path, const json_t *body,
                    long *status);

/* Print "jobcell: <server message> (HTTP <status>)" on stderr. */
void jc_cli_print_http_error(const jc_cli_resp *r);

/* Stream a GET's body to `out` as it arrives (chunked responses, follow=1). Returns -1
 * when the server could not be reached, the stream broke, or the server answered an error
 * (all printed unless quiet_break and the stream broke after some bytes). *status gets the
 * HTTP status, *written the bytes written to out. */
int jc_cli_stream(jc_cli_conn *c, const char *path, FILE *out, long *status, size_t *written);

/* Percent-encode one path segment (owned). */
char *jc_cli_escape(const char *s);

/* Print a JSON value (pretty) on stdout followed by a newline. */
void jc_cli_print_json(const json_t *v);

/* A string member or "-" when absent (for tables). */
const char *jc_cli_str(const json_t *obj, const char *key);

#endif
