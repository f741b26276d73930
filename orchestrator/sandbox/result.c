/* result.c: the result record of SANDBOX.md, its JSON and its one-line summary. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *jc_reason_name(jc_reason reason) {
    switch (reason) {
    case JC_REASON_EXITED: return "exited";
    case JC_REASON_SIGNALED: return "signaled";
    case JC_REASON_TIMEOUT: return "timeout";
    case JC_REASON_OOM: return "oom";
    case JC_REASON_PIDS: return "pids";
    case JC_REASON_CANCELED: return "canceled";
    case JC_REASON_SETUP_ERROR: return "setup_error";
    }
    return "unknown";
}

void jc_result_set_setup_error(jc_result *r, const char *step, int sys_errno, const char *message) {
    r->reason = JC_REASON_SETUP_ERROR;
    r->has_exit_code = false;
    r->exit_code = 0;
    r->signal = 0;
    r->has_setup_error = true;
    snprintf(r->setup_error.step, sizeof(r->setup_error.step), "%s", step ? step : "");
    r->setup_error.sys_errno = sys_errno;
    snprintf(r->setup_error.message, sizeof(r->setup_error.message), "%s", message ? message : "");
}

json_t *jc_result_to_json(const jc_result *r) {
    json_t *setup = json_null();
    if (r->has_setup_error)
        setup = json_pack("{s:s, s:i, s:s}", "step", r->setup_error.step, "errno",
                          r->setup_error.sys_errno, "message", r->setup_error.message);
    if (!setup)
        return NULL;
    /* json_pack keeps the order of the format: SANDBOX.md's order */
    json_t *j = json_pack(
        "{s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:b, s:o}", "reason", jc_reason_name(r->reason),
        "exit_code", r->has_exit_code ? json_integer(r->exit_code) : json_null(), "signal",
        r->signal ? json_integer(r->signal) : json_null(), "wall_ms", (json_int_t)r->wall_ms,
        "cpu_ms", (json_int_t)r->cpu_ms, "memory_peak_bytes", (json_int_t)r->memory_peak_bytes,
        "stdout_bytes", (json_int_t)r->stdout_bytes, "stderr_bytes", (json_int_t)r->stderr_bytes,
        "output_truncated", r->output_truncated, "setup_error", setup);
    if (j && r->has_network &&
        json_object_set_new(j, "network",
                            json_pack("{s:s, s:s, s:I}", "mode", "egress", "address",
                                      r->network_address, "denied",
                                      (json_int_t)r->network_denied)) < 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int jc_result_exit_status(const jc_result *r) {
    if (r->reason == JC_REASON_SETUP_ERROR)
        return 125;
    if (r->signal)
        return 128 + r->signal;
    if (r->has_exit_code)
        return r->exit_code;
    return 125;
}

void jc_result_summary(const jc_result *r, char *buf, size_t len) {
    char what[320];
    if (r->reason == JC_REASON_SETUP_ERROR)
        snprintf(what, sizeof(what), "setup_error in step %s (%s)", r->setup_error.step,
                 r->setup_error.message);
    else if (r->signal)
        snprintf(what, sizeof(what), "%s (signal %d)", jc_reason_name(r->reason), r->signal);
    else
        snprintf(what, sizeof(what), "%s (exit code %d)", jc_reason_name(r->reason), r->exit_code);
    snprintf(buf, len,
             "jobcell: %s in %lld ms, cpu %lld ms, peak memory %lld bytes, stdout %lld bytes, "
             "stderr %lld bytes%s",
             what, (long long)r->wall_ms, (long long)r->cpu_ms, (long long)r->memory_peak_bytes,
             (long long)r->stdout_bytes, (long long)r->stderr_bytes,
             r->output_truncated ? ", output truncated" : "");
    if (r->has_network) {
        size_t used = strlen(buf);
        if (used < len)
            snprintf(buf + used, len - used, ", egress %s, %lld packets denied", r->network_address,
                     (long long)r->network_denied);
    }
}
