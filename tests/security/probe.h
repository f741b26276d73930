/* probe.h: what every hostile-job probe shares.
 *
 * A probe runs inside the sandbox as the job, attempts one attack of SANDBOX.md's list
 * ("Hostile jobs that must be contained") and checks that it failed in exactly the way the
 * contract says. It prints one line on stdout,
 *     PROBE <n> <name> CONTAINED|ESCAPED <detail>
 * and exits 0 only when contained. Any other outcome (an unexpected errno included) is
 * ESCAPED with the detail saying what happened: a probe never guesses in the sandbox's
 * favour. Built without sanitizers: it runs inside the sandbox, where the sanitizer
 * runtime's needs (/proc/self/maps, large mappings, personality) are not the point. */
#ifndef JOBCELL_SECURITY_PROBE_H
#define JOBCELL_SECURITY_PROBE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int probe_number;
static const char *probe_name;
static bool probe_escaped;
static char probe_detail[2048];

static inline void probe_begin(int n, const char *name) {
    probe_number = n;
    probe_name = name;
    probe_escaped = false;
    probe_detail[0] = '\0';
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline void probe_vnote(const char *fmt, va_list ap) {
    size_t len = strlen(probe_detail);
    if (len + 2 >= sizeof(probe_detail))
        return;
    if (len)
        probe_detail[len++] = ';', probe_detail[len++] = ' ';
    vsnprintf(probe_detail + len, sizeof(probe_detail) - len, fmt, ap);
}

/* Record an observation (kept in the detail). */
__attribute__((format(printf, 1, 2))) static inline void probe_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    probe_vnote(fmt, ap);
    va_end(ap);
}

/* Record an escape: the attack did something the contract forbids. */
__attribute__((format(printf, 1, 2))) static inline void probe_escape(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    probe_escaped = true;
    probe_note("ESCAPE: %s", buf);
}

/* The name of an errno value ("EPERM"), for details that a reader can check at a glance. */
static inline const char *errno_name(int e) {
    switch (e) {
    case 0: return "success";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY";
    case ETXTBSY: return "ETXTBSY";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    default: return strerror(e);
    }
}

/* The call described by what returned rc with errno e (captured right after the call).
 * Contained when it failed (rc < 0) with one of the allowed errnos (a list ending in 0). */
static inline bool probe_expect_fail(const char *what, long rc, int e, ...) {
    va_list ap;
    va_start(ap, e);
    bool ok = false;
    char allowed[128] = "";
    for (int a = va_arg(ap, int); a != 0; a = va_arg(ap, int)) {
        size_t l = strlen(allowed);
        snprintf(allowed + l, sizeof(allowed) - l, "%s%s", l ? "/" : "", errno_name(a));
        if (rc < 0 && e == a)
            ok = true;
    }
    va_end(ap);
    if (ok) {
        probe_note("%s: %s", what, errno_name(e));
        return true;
    }
    if (rc >= 0)
        probe_escape("%s succeeded (returned %ld), expected %s", what, rc, allowed);
    else
        probe_escape("%s failed with %s, expected %s", what, errno_name(e), allowed);
    return false;
}

/* Call, capture errno, check: EXPECT_FAIL("open /etc/shadow", open(...), ENOENT). */
#define EXPECT_FAIL(what, call, ...)                                                               \
    __extension__({                                                                                \
        errno = 0;                                                                                 \
        long rc_ = (long)(call);                                                                   \
        int e_ = errno;                                                                            \
        probe_expect_fail(what, rc_, e_, __VA_ARGS__, 0);                                          \
    })

/* Print the verdict line and return the exit status. */
static inline int probe_end(void) {
    printf("PROBE %d %s %s %s\n", probe_number, probe_name, probe_escaped ? "ESCAPED" : "CONTAINED",
           probe_detail[0] ? probe_detail : "-");
    fflush(stdout);
    return probe_escaped ? 1 : 0;
}

/* The value of a "Key:\tvalue" line of /proc/self/status, or NULL. */
static inline const char *probe_status(const char *key) {
    static char val[256];
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return NULL;
    char line[512];
    size_t kl = strlen(key);
    const char *r = NULL;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            const char *v = line + kl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(val, sizeof(val), "%s", v);
            val[strcspn(val, "\n")] = '\0';
            r = val;
            break;
        }
    }
    fclose(f);
    return r;
}

#endif
