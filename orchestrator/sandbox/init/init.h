/* init.h: jobcell-init's modules (the child side of the sandbox engine).
 *
 * init.c reads the spec and runs the steps of SANDBOX.md "Order of steps" in order,
 * mounts.c builds the root the job sees, job.c is the job child from fork to execve.
 * Every failing step ends the process with a jc_setup_failure on the error pipe. */
#ifndef JOBCELL_INIT_H
#define JOBCELL_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

struct sock_filter;

typedef struct init_file {
    const char *name;
    const void *data;
    size_t len;
    uint32_t mode;
} init_file;

typedef struct init_bind {
    const char *src;
    const char *dst;
    bool readonly;
} init_bind;

typedef struct init_spec {
    const char *hostname;
    const char *resolv_conf; /* NULL: no /etc/resolv.conf (no network) */
    char **argv;             /* NULL-terminated */
    char **envp;             /* NULL-terminated */
    init_file *files;
    size_t n_files;
    init_bind *binds;
    size_t n_binds;
    jc_spec_limits limits;
    const struct sock_filter *filter;
    size_t filter_len;
    uint32_t flags;
    const char *rootfs; /* "" = the host's / */
    const char *sdk;    /* NULL = none */
    const char *run_dir;
} init_spec;

/* Report a failed step on the error pipe and exit 125. Before the fork only (formats). */
_Noreturn void init_fail(const char *step, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mounts.c: step "mounts", from making / private to the read-only remount of the new
 * root; the cwd is / of the new root afterwards. */
void init_setup_mounts(const init_spec *spec);

/* job.c: the job child, from fork to execve; never returns. Async-signal-safe only. */
_Noreturn void init_run_job(const init_spec *spec, int cap_last);

#endif
