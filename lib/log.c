#include "jobcell/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"

static atomic_int log_level = JC_LOG_INFO;
static atomic_int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void jc_log_set_level(jc_log_level level) {
    atomic_store(&log_level, (int)level);
}

jc_log_level jc_log_get_level(void) {
    return (jc_log_level)atomic_load(&log_level);
}

int jc_log_level_parse(const char *name) {
    for (size_t i = 0; i < JC_ARRAY_LEN(level_names); i++)
        if (name && strcmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

void jc_log_set_fd(int fd) {
    atomic_store(&log_fd, fd);
}

void jc_log(jc_log_level level, const char *msg, ...) {
    if ((int)level < atomic_load(&log_level) || level > JC_LOG_ERROR)
        return;
    char ts[32];
    jc_time_format_ms(jc_time_now_ms(), ts, sizeof(ts));

    _cleanup_json_ json_t *o = json_object();
    if (!o)
        return;
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    /* json_stringn-style validation: a non-UTF-8 message must not drop the whole line. */
    json_t *m = json_string(msg ? msg : "");
    json_object_set_new(o, "msg", m ? m : json_string("(invalid utf-8)"));

    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *val = va_arg(ap, const char *);
        json_t *v = val ? json_string(val) : json_null();
        json_object_set_new(o, key, v ? v : json_string("(invalid utf-8)"));
    }
    va_end(ap);

    _cleanup_free_ char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!line)
        return;
    size_t n = strlen(line);
    _cleanup_free_ char *buf = malloc(n + 2);
    if (!buf)
        return;
    memcpy(buf, line, n);
    buf[n] = '\n';
    (void)jc_write_all(atomic_load(&log_fd), buf, n + 1, NULL);
}
