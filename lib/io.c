#include "jobcell/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jobcell/cleanup.h"

int jc_write_all(int fd, const void *buf, size_t len, jc_err *err) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return jc_err_sys(err, errno, "write");
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int jc_read_exact(int fd, void *buf, size_t len, jc_err *err) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return jc_err_sys(err, errno, "read");
        }
        if (n == 0)
            return jc_err_set(err, JC_E_INVALID, "read: unexpected end of file");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

char *jc_read_fd(int fd, size_t max, size_t *len_out, jc_err *err) {
    size_t cap = 4096, len = 0;
    _cleanup_free_ char *buf = malloc(cap);
    if (!buf) {
        jc_err_sys(err, ENOMEM, "read: allocate");
        return NULL;
    }
    for (;;) {
        if (len + 1 >= cap) {
            size_t ncap;
            if (__builtin_mul_overflow(cap, 2, &ncap)) {
                jc_err_set(err, JC_E_TOO_LARGE, "read: too large");
                return NULL;
            }
            char *nb = realloc(buf, ncap);
            if (!nb) {
                jc_err_sys(err, ENOMEM, "read: allocate");
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            jc_err_sys(err, errno, "read");
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            jc_err_set(err, JC_E_TOO_LARGE, "read: larger than %zu bytes", max);
            return NULL;
        }
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return steal(&buf);
}

char *jc_read_file(const char *path, size_t max, size_t *len_out, jc_err *err) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        jc_err_sys(err, errno, "open %s", path);
        return NULL;
    }
    char *r = jc_read_fd(fd, max, len_out, err);
    if (!r)
        jc_err_prefix(err, "%s", path);
    return r;
}

int jc_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode, jc_err *err) {
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return jc_err_set(err, JC_E_INVALID, "path too long: %s", path);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return jc_err_sys(err, errno, "create %s", tmp);
    if (fchmod(fd, mode) < 0 || jc_write_all(fd, buf, len, err) < 0 || fsync(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return jc_err_sys(err, e, "write %s", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return jc_err_sys(err, e, "rename to %s", path);
    }
    char dir[4096];
    (void)snprintf(dir, sizeof(dir), "%s", path);
    _cleanup_close_ int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd); /* best effort: the file itself is already durable */
    return 0;
}

int64_t jc_time_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t jc_time_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t jc_time_mono_ms(void) {
    return jc_time_mono_ns() / 1000000;
}

void jc_time_format_ms(int64_t ms, char *out, size_t outlen) {
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    (void)snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

int jc_time_parse_ms(const char *s, int64_t *ms_out) {
    if (!s)
        return -1;
    struct tm tm = {0};
    int ms = 0, consumed = 0;
    /* Exactly YYYY-MM-DDTHH:MM:SS[.mmm]Z, nothing else: times come from users. */
    if (strlen(s) < 20)
        return -1;
    for (int i = 0; i < 19; i++) {
        char c = s[i];
        int want_digit = !(i == 4 || i == 7 || i == 10 || i == 13 || i == 16);
        if (want_digit ? (c < '0' || c > '9') : 0)
            return -1;
    }
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed != 19)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            ms = ms * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits != 3)
            return -1;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    *ms_out = (int64_t)t * 1000 + ms;
    return 0;
}
