/* io.h: small system helpers: whole reads and writes, files, clocks, time formats. */
#ifndef JOBCELL_IO_H
#define JOBCELL_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobcell/error.h"

/* Write all len bytes, retrying EINTR and short writes. */
int jc_write_all(int fd, const void *buf, size_t len, jc_err *err);
/* Read exactly len bytes (EINTR retried); a short read at EOF is JC_E_INVALID. */
int jc_read_exact(int fd, void *buf, size_t len, jc_err *err);
/* Read fd to EOF into a new NUL-terminated buffer (owned by the caller), at most max
 * bytes; more is JC_E_TOO_LARGE. *len_out (may be NULL) gets the length. */
char *jc_read_fd(int fd, size_t max, size_t *len_out, jc_err *err);
/* Open path read-only (O_CLOEXEC) and read it whole, as jc_read_fd. */
char *jc_read_file(const char *path, size_t max, size_t *len_out, jc_err *err);
/* Write a file atomically: temp file in the same directory, fsync, rename, fsync dir. */
int jc_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode, jc_err *err);

/* Wall clock in milliseconds since the epoch, and a monotonic clock in milliseconds. */
int64_t jc_time_now_ms(void);
int64_t jc_time_mono_ms(void);
int64_t jc_time_mono_ns(void);
/* RFC 3339 UTC with milliseconds: "2026-11-22T14:03:07.123Z". out must hold 25 bytes. */
void jc_time_format_ms(int64_t ms, char *out, size_t outlen);
/* Parse the format above (also without milliseconds); -1 on anything else. */
int jc_time_parse_ms(const char *s, int64_t *ms_out);

#endif
