/* jobcell submit: send a job (JSON) to the server; --wait follows it to its end. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "util_http.h"
#include "util_jobs.h"

#define MAX_JOB_FILE (4u << 20)

static const char help[] =
    "usage: jobcell submit [OPTIONS] FILE|-\n"
    "\n"
    "Submit a job described by a JSON file (or standard input with -), for example\n"
    "  {\"runtime\": \"bash\", \"script\": \"echo hello\"}\n"
    "Prints the new job's id, or with --json the server's whole answer.\n"
    "\n"
    "  --wait                print the job's output as it runs and exit with its status:\n"
    "                        0 when it succeeded, its exit code when it exited non-zero,\n"
    "                        1 for any other end (killed, timed out, canceled, lost)\n"
    "  --idempotency-key K   submitting again with the same key and file returns the\n"
    "                        first job instead of a new one\n";

enum { OPT_WAIT = JC_CLI_OPT_FIRST_OWN, OPT_IDEMPOTENCY };

/* Follow the job until its latest execution is final (a retry starts a new execution,
 * which is followed too). Returns the exit code. */
static int wait_for_job(jc_cli_conn *c, const char *job_id) {
    _cleanup_free_ char *esc = jc_cli_escape(job_id);
    _cleanup_free_ char *path = NULL;
    if (!esc || asprintf(&path, "/v1/jobs/%s", esc) < 0)
        return JC_CLI_EXIT_FAIL;
    char followed[JC_CLI_ID_MAX] = "";
    for (int round = 0; round < 1000; round++) {
        _cleanup_json_ json_t *job = jc_cli_call(c, "GET", path, NULL, NULL);
        if (!job)
            return JC_CLI_EXIT_FAIL;
        json_t *exe = jc_cli_latest_execution(job);
        const char *exe_id = json_string_value(json_object_get(exe, "id"));
        const char *status = json_string_value(json_object_get(exe, "status"));
        if (!exe_id) {
            fprintf(stderr, "jobcell: job %s has no execution\n", job_id);
            return JC_CLI_EXIT_FAIL;
        }
        if (jc_cli_status_final(status) && strcmp(followed, exe_id) == 0) {
            fflush(stdout);
            if (strcmp(status, "succeeded") != 0)
                fprintf(stderr, "jobcell: job %s ended %s\n", job_id, status);
            return jc_cli_execution_exit_code(exe);
        }
        if (strcmp(followed, exe_id) != 0) {
            if (followed[0])
                fprintf(stderr, "jobcell: attempt %lld of job %s\n",
                        (long long)json_integer_value(json_object_get(exe, "attempt")), job_id);
            if (jc_cli_follow_log(c, exe_id, 0) < 0)
                return JC_CLI_EXIT_FAIL;
            snprintf(followed, sizeof(followed), "%s", exe_id);
        } else {
            sleep(1); /* the log ended but the status is not final yet */
        }
    }
    fprintf(stderr, "jobcell: stopped waiting for job %s\n", job_id);
    return JC_CLI_EXIT_FAIL;
}

static int submit_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"wait", no_argument, NULL, OPT_WAIT},
        {"idempotency-key", required_argument, NULL, OPT_IDEMPOTENCY},
        JC_CLI_COMMON_OPTIONS,
        {0},
    };
    jc_cli_conn c __attribute__((cleanup(jc_cli_conn_free))) = {0};
    bool wait = false;
    const char *idem = NULL;
    int opt, exit_now = -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (jc_cli_common_option(&c, opt, optarg, help, &exit_now)) {
            if (exit_now >= 0)
                return exit_now;
        } else if (opt == OPT_WAIT) {
            wait = true;
        } else if (opt == OPT_IDEMPOTENCY) {
            idem = optarg;
        } else {
            fputs(help, stderr);
            return JC_CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(help, stderr);
        return JC_CLI_EXIT_USAGE;
    }
    const char *file = argv[optind];
    jc_err err = {0};
    size_t len = 0;
    _cleanup_free_ char *text = strcmp(file, "-") == 0
                                    ? jc_read_fd(STDIN_FILENO, MAX_JOB_FILE, &len, &err)
                                    : jc_read_file(file, MAX_JOB_FILE, &len, &err);
    if (!text) {
        fprintf(stderr, "jobcell: %s: %s\n", file, err.msg);
        return JC_CLI_EXIT_FAIL;
    }
    json_error_t jerr;
    _cleanup_json_ json_t *spec = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(spec)) {
        fprintf(stderr, "jobcell: %s: not a JSON object (line %d: %s)\n", file, jerr.line,
                spec ? "a job is an object" : jerr.text);
        return JC_CLI_EXIT_FAIL;
    }
    if (jc_cli_connect(&c) < 0)
        return JC_CLI_EXIT_FAIL;

    jc_cli_resp r;
    _cleanup_free_ char *idem_header = NULL;
    if (idem) {
        if (strlen(idem) == 0 || strlen(idem) > 128 || strpbrk(idem, "\r\n")) {
            fprintf(stderr, "jobcell: --idempotency-key is 1 to 128 characters on one line\n");
            return JC_CLI_EXIT_USAGE;
        }
        if (asprintf(&idem_header, "Idempotency-Key: %s", idem) < 0)
            return JC_CLI_EXIT_FAIL;
        c.extra_header = idem_header;
    }
    if (jc_cli_request(&c, "POST", "/v1/jobs", text, len, &r) < 0)
        return JC_CLI_EXIT_FAIL;
    c.extra_header = NULL;
    if (r.status < 200 || r.status >= 300) {
        jc_cli_print_http_error(&r);
        jc_cli_resp_free(&r);
        return JC_CLI_EXIT_FAIL;
    }
    _cleanup_json_ json_t *job = json_loadb(r.body, r.len, 0, NULL);
    jc_cli_resp_free(&r);
    const char *job_id = json_string_value(json_object_get(job, "id"));
    if (!job_id) {
        fprintf(stderr, "jobcell: the server's answer carries no job id\n");
        return JC_CLI_EXIT_FAIL;
    }
    if (c.json)
        jc_cli_print_json(job);
    else if (!wait)
        printf("%s\n", job_id);
    else
        fprintf(stderr, "jobcell: submitted job %s\n", job_id);
    if (!wait)
        return JC_CLI_EXIT_OK;
    fflush(stdout);
    return wait_for_job(&c, job_id);
}

JC_CLI_COMMAND(submit_cmd, .name = "submit", .summary = "submit a job (JSON file or -)",
               .run = submit_run, .order = 10)
