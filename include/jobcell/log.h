/* log.h: structured logging, one JSON object per line on stderr.
 *
 *   jc_log(JC_LOG_INFO, "claimed", "exe", id, "job", job_id, NULL);
 *
 * Each line has "ts" (RFC 3339 UTC, milliseconds), "level", "msg" and the key/value
 * pairs, all strings, in order. One write(2) per line, so lines from several threads never
 * interleave. Never pass a secret, a token, a variable value or a request body. */
#ifndef JOBCELL_LOG_H
#define JOBCELL_LOG_H

typedef enum jc_log_level {
    JC_LOG_DEBUG = 0,
    JC_LOG_INFO = 1,
    JC_LOG_WARN = 2,
    JC_LOG_ERROR = 3,
} jc_log_level;

/* Log a line if level is at or above the threshold. Arguments after msg are key, value
 * pairs of strings, terminated by NULL. A NULL value is written as JSON null. */
void jc_log(jc_log_level level, const char *msg, ...) __attribute__((sentinel));

/* Lines below this level are dropped (default JC_LOG_INFO). */
void jc_log_set_level(jc_log_level level);
jc_log_level jc_log_get_level(void);
/* Parse "debug", "info", "warn", "error"; -1 when unknown. */
int jc_log_level_parse(const char *name);
/* Write lines to fd instead of 2 (the caller keeps ownership). */
void jc_log_set_fd(int fd);

#endif
