/* util_jobs.c: resolving ids, following logs, and what an execution's end means. */
#include "util_jobs.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jobcell/cleanup.h"

json_t *jc_cli_latest_execution(json_t *job) {
    json_t *exes = json_object_get(job, "executions");
    size_t n = json_array_size(exes);
    return n ? json_array_get(exes, n - 1) : NULL;
}

int jc_cli_status_final(const char *status) {
    return status && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
                      strcmp(status, "canceled") == 0 || strcmp(status, "lost") == 0);
}

int jc_cli_resolve_execution(jc_cli_conn *c, const char *id, char out[JC_CLI_ID_MAX]) {
    _cleanup_free_ char *esc = jc_cli_escape(id);
    if (!esc || strlen(id) >= JC_CLI_ID_MAX) {
        fprintf(stderr, "jobcell: '%s' is not a job or execution id\n", id);
        return -1;
    }
    if (strncmp(id, "exe_", 4) == 0) {
        snprintf(out, JC_CLI_ID_MAX, "%s", id);
        return 0;
    }
    if (strncmp(id, "job_", 4) != 0) {
        fprintf(stderr, "jobcell: '%s' is not a job id (job_…) or an execution id (exe_…)\n", id);
        return -1;
    }
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "/v1/jobs/%s", esc) < 0)
        return -1;
    _cleanup_json_ json_t *job = jc_cli_call(c, "GET", path, NULL, NULL);
    if (!job)
        return -1;
    const char *exe = json_string_value(json_object_get(jc_cli_latest_execution(job), "id"));
    if (!exe) {
        fprintf(stderr, "jobcell: job %s has no execution\n", id);
        return -1;
    }
    snprintf(out, JC_CLI_ID_MAX, "%s", exe);
    return 0;
}

int jc_cli_follow_log(jc_cli_conn *c, const char *exe_id, size_t offset) {
    _cleanup_free_ char *esc = jc_cli_escape(exe_id);
    if (!esc)
        return -1;
    /* A follow stream ends when the execution ends; a stream cut by a proxy or a server
     * restart is resumed from the bytes already printed, a bounded number of times. */
    for (int attempt = 0; attempt < 20; attempt++) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "/v1/executions/%s/logs?offset=%zu&follow=1", esc, offset) < 0)
            return -1;
        long status = 0;
        size_t written = 0;
        int r = jc_cli_stream(c, path, stdout, &status, &written);
        offset += written;
        if (r == 0)
            return 0;
        if (status < 200 || status >= 300)
            return -1; /* an HTTP error: printed, not worth retrying */
        sleep(1);
    }
    fprintf(stderr, "jobcell: giving up following the log of %s\n", exe_id);
    return -1;
}

int jc_cli_execution_exit_code(const json_t *exe) {
    const char *status = json_string_value(json_object_get(exe, "status"));
    if (status && strcmp(status, "succeeded") == 0)
        return 0;
    const json_t *result = json_object_get(exe, "result");
    const char *reason = json_string_value(json_object_get(result, "reason"));
    json_int_t code = json_integer_value(json_object_get(result, "exit_code"));
    if (reason && strcmp(reason, "exited") == 0 && code > 0 && code < 256)
        return (int)code;
    return 1;
}
