#include "logbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void jc_logbuf_init(jc_logbuf *lb) {
    memset(lb, 0, sizeof(*lb));
    lb->oldest_ms = -1;
}

void jc_logbuf_free(jc_logbuf *lb) {
    free(lb->data);
    jc_logbuf_init(lb);
}

int jc_logbuf_append(jc_logbuf *lb, const void *buf, size_t n, int64_t now_ms, jc_err *err) {
    if (n == 0)
        return 0;
    lb->total += n;
    if (lb->truncated || lb->broken)
        return 0;
    size_t need;
    if (__builtin_add_overflow(lb->len, n, &need))
        return jc_err_set(err, JC_E_TOO_LARGE, "log buffer: size overflow");
    if (need > lb->cap) {
        size_t cap = lb->cap ? lb->cap : 4096;
        while (cap < need) {
            if (__builtin_mul_overflow(cap, 2, &cap))
                return jc_err_set(err, JC_E_TOO_LARGE, "log buffer: size overflow");
        }
        unsigned char *p = realloc(lb->data, cap);
        if (!p)
            return jc_err_sys(err, ENOMEM, "log buffer: grow to %zu bytes", cap);
        lb->data = p;
        lb->cap = cap;
    }
    memcpy(lb->data + lb->len, buf, n);
    lb->len = need;
    if (lb->oldest_ms < 0)
        lb->oldest_ms = now_ms;
    return 0;
}

bool jc_logbuf_should_flush(const jc_logbuf *lb, int64_t now_ms, bool final) {
    if (lb->inflight || lb->len == 0 || lb->truncated || lb->broken)
        return false;
    return final || lb->resend || lb->len >= JC_LOGBUF_FLUSH_BYTES ||
           (lb->oldest_ms >= 0 && now_ms - lb->oldest_ms >= JC_LOGBUF_FLUSH_MS);
}

int64_t jc_logbuf_flush_in(const jc_logbuf *lb, int64_t now_ms) {
    if (lb->inflight || lb->len == 0 || lb->truncated || lb->broken || lb->oldest_ms < 0)
        return -1;
    if (lb->resend)
        return 0;
    int64_t left = lb->oldest_ms + JC_LOGBUF_FLUSH_MS - now_ms;
    return left > 0 ? left : 0;
}

void jc_logbuf_take(jc_logbuf *lb, const unsigned char **ptr, size_t *n, uint64_t *offset) {
    size_t take = lb->len < JC_LOGBUF_CHUNK_MAX ? lb->len : JC_LOGBUF_CHUNK_MAX;
    lb->inflight = take;
    lb->resend = false;
    *ptr = lb->data;
    *n = take;
    *offset = lb->acked;
}

/* Drop the bytes before absolute offset `length` (the server holds them). */
static void advance_to(jc_logbuf *lb, uint64_t length, int64_t now_ms) {
    if (length <= lb->acked)
        return;
    uint64_t drop = length - lb->acked;
    if (drop > lb->len)
        drop = lb->len; /* the server claims more than we sent: keep our own count */
    memmove(lb->data, lb->data + drop, lb->len - (size_t)drop);
    lb->len -= (size_t)drop;
    lb->acked += drop;
    /* what is left arrived later than what was sent; age it from now at the latest */
    lb->oldest_ms = lb->len ? now_ms : -1;
}

void jc_logbuf_ack(jc_logbuf *lb, uint64_t length, bool truncated, int64_t now_ms) {
    lb->inflight = 0;
    if (truncated) {
        lb->truncated = true;
        if (length > lb->acked)
            lb->acked = length;
        free(lb->data);
        lb->data = NULL;
        lb->len = lb->cap = 0;
        lb->oldest_ms = -1;
        return;
    }
    advance_to(lb, length, now_ms);
}

void jc_logbuf_rewind(jc_logbuf *lb, uint64_t length, int64_t now_ms) {
    lb->inflight = 0;
    if (length < lb->acked) {
        /* the server lost bytes it had acknowledged (restored from an old backup?):
         * they are gone from here too, so stop rather than send a stream with a hole */
        lb->broken = true;
        return;
    }
    advance_to(lb, length, now_ms);
    lb->resend = lb->len > 0;
}

void jc_logbuf_failed(jc_logbuf *lb) {
    lb->inflight = 0;
}

bool jc_logbuf_done(const jc_logbuf *lb) {
    return lb->truncated || lb->broken || (lb->len == 0 && lb->inflight == 0);
}
