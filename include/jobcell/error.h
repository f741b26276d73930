/* error.h: the jc_err out-parameter every fallible function takes last.
 *
 * A function that fails fills the error once, at the place that knows what happened,
 * and returns -1 (or NULL). Callers that add context prefix it with jc_err_prefix();
 * they never overwrite the cause. The message is one sentence for a human that names the
 * step, field or key at fault, and never carries a secret. */
#ifndef JOBCELL_ERROR_H
#define JOBCELL_ERROR_H

#include <stddef.h>

typedef enum jc_errcode {
    JC_E_OK = 0,
    JC_E_INVALID,       /* bad input: a field, an option, a file's content */
    JC_E_UNKNOWN_FIELD, /* a key that is not part of the schema */
    JC_E_AUTH,          /* authentication failed */
    JC_E_FORBIDDEN,     /* authenticated but not allowed */
    JC_E_NOT_FOUND,
    JC_E_CONFLICT,
    JC_E_LEASE_LOST, /* fencing: the lease token is not the execution's current one */
    JC_E_TOO_LARGE,
    JC_E_RANGE, /* an offset past the end */
    JC_E_RATE_LIMITED,
    JC_E_UNSUPPORTED,
    JC_E_UNAVAILABLE,
    JC_E_CONFIG, /* configuration error: the process must not start */
    JC_E_SYS,    /* a system call failed; sys_errno holds errno */
    JC_E_INTERNAL,
} jc_errcode;

typedef struct jc_err {
    jc_errcode code;
    int sys_errno;   /* errno when code is JC_E_SYS, else 0 */
    char field[128]; /* JSON path of the field at fault, "" when none */
    char msg[256];
} jc_err;

#define JC_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Fill err (when not NULL) and return -1. */
int jc_err_set(jc_err *err, jc_errcode code, const char *fmt, ...) JC_PRINTF(3, 4);
/* Like jc_err_set, naming the field at fault (a JSON path such as "resources.memory_mb"). */
int jc_err_field(jc_err *err, jc_errcode code, const char *field, const char *fmt, ...)
    JC_PRINTF(4, 5);
/* A failed system call: msg is "<step>: <strerror>". Returns -1. */
int jc_err_sys(jc_err *err, int sys_errno, const char *fmt, ...) JC_PRINTF(3, 4);
/* Prefix the message with context: "<context>: <old message>". Returns -1. */
int jc_err_prefix(jc_err *err, const char *fmt, ...) JC_PRINTF(2, 3);
/* Reset to JC_E_OK. */
void jc_err_clear(jc_err *err);
/* A stable lowercase name for a code ("invalid", "sys", …). */
const char *jc_errcode_name(jc_errcode code);

#endif
