#include "jobcell/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

JC_PRINTF(3, 0)
static void vset(jc_err *err, jc_errcode code, const char *fmt, va_list ap) {
    err->code = code;
    err->sys_errno = 0;
    err->field[0] = '\0';
    /* A truncated message is still a useful message: the tail is what gets lost. */
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int jc_err_set(jc_err *err, jc_errcode code, const char *fmt, ...) {
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int jc_err_field(jc_err *err, jc_errcode code, const char *field, const char *fmt, ...) {
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    if (snprintf(err->field, sizeof(err->field), "%s", field ? field : "") < 0)
        err->field[0] = '\0';
    return -1;
}

int jc_err_sys(jc_err *err, int sys_errno, const char *fmt, ...) {
    if (!err)
        return -1;
    char step[192];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(step, sizeof(step), fmt, ap);
    va_end(ap);
    err->code = JC_E_SYS;
    err->sys_errno = sys_errno;
    err->field[0] = '\0';
    if (snprintf(err->msg, sizeof(err->msg), "%s: %s", step, strerror(sys_errno)) < 0)
        err->msg[0] = '\0';
    return -1;
}

int jc_err_prefix(jc_err *err, const char *fmt, ...) {
    if (!err)
        return -1;
    char ctx[192], old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* A long chain of context truncates the tail, never the buffer. */
    if (snprintf(err->msg, sizeof(err->msg), "%s: %s", ctx, old) < 0)
        err->msg[0] = '\0';
    return -1;
}

void jc_err_clear(jc_err *err) {
    if (!err)
        return;
    err->code = JC_E_OK;
    err->sys_errno = 0;
    err->field[0] = '\0';
    err->msg[0] = '\0';
}

const char *jc_errcode_name(jc_errcode code) {
    switch (code) {
    case JC_E_OK: return "ok";
    case JC_E_INVALID: return "invalid";
    case JC_E_UNKNOWN_FIELD: return "unknown_field";
    case JC_E_AUTH: return "auth";
    case JC_E_FORBIDDEN: return "forbidden";
    case JC_E_NOT_FOUND: return "not_found";
    case JC_E_CONFLICT: return "conflict";
    case JC_E_LEASE_LOST: return "lease_lost";
    case JC_E_TOO_LARGE: return "too_large";
    case JC_E_RANGE: return "range";
    case JC_E_RATE_LIMITED: return "rate_limited";
    case JC_E_UNSUPPORTED: return "unsupported";
    case JC_E_UNAVAILABLE: return "unavailable";
    case JC_E_CONFIG: return "config";
    case JC_E_SYS: return "sys";
    case JC_E_INTERNAL: return "internal";
    }
    return "internal";
}
