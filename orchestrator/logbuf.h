/* logbuf.h: one execution's log on its way to the server.
 *
 * The log is one byte stream; the server stores it by explicit offsets (PROTOCOL.md "Log
 * chunks"). The buffer holds every byte from the last acknowledged length onward, so a
 * chunk can be resent from wherever the server says it stands (416), and a chunk is sent
 * only when none is in flight: at 64 KiB pending, 200 ms after the oldest pending byte
 * arrived, or when the job has ended. Once the server reports `truncated`, nothing more is
 * kept or sent. Pure data structure: no I/O, times passed in. */
#ifndef JOBCELL_ORC_LOGBUF_H
#define JOBCELL_ORC_LOGBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"

#define JC_LOGBUF_FLUSH_BYTES (64u << 10)
#define JC_LOGBUF_FLUSH_MS 200
#define JC_LOGBUF_CHUNK_MAX (512u << 10) /* under the server's 1 MiB body limit */

typedef struct jc_logbuf {
    uint64_t acked;      /* bytes the server has stored */
    unsigned char *data; /* bytes from `acked` onward */
    size_t len, cap;
    size_t inflight;   /* bytes of data in the chunk being sent; 0: none */
    int64_t oldest_ms; /* arrival of the oldest byte not yet sent; -1: none */
    uint64_t total;    /* bytes ever appended (acked + len, unless truncated) */
    bool truncated;    /* the server stopped storing: drop everything */
    bool broken;       /* the server lost bytes we no longer hold: stop sending */
    bool resend;       /* after a 416: send again at once */
} jc_logbuf;

void jc_logbuf_init(jc_logbuf *lb);
void jc_logbuf_free(jc_logbuf *lb);
/* Append bytes that arrived at now_ms. */
int jc_logbuf_append(jc_logbuf *lb, const void *buf, size_t n, int64_t now_ms, jc_err *err);
/* Whether a chunk should go now (final: the job has ended, flush whatever is left). */
bool jc_logbuf_should_flush(const jc_logbuf *lb, int64_t now_ms, bool final);
/* Milliseconds until should_flush turns true by age; -1 when nothing is waiting. */
int64_t jc_logbuf_flush_in(const jc_logbuf *lb, int64_t now_ms);
/* Mark the next chunk in flight: *ptr, *n and *offset describe it. */
void jc_logbuf_take(jc_logbuf *lb, const unsigned char **ptr, size_t *n, uint64_t *offset);
/* The server answered 200 {"length", "truncated"} for the chunk in flight. */
void jc_logbuf_ack(jc_logbuf *lb, uint64_t length, bool truncated, int64_t now_ms);
/* The server answered 416 {"length"}: resend from there. */
void jc_logbuf_rewind(jc_logbuf *lb, uint64_t length, int64_t now_ms);
/* The chunk in flight failed in transit: it will be resent. */
void jc_logbuf_failed(jc_logbuf *lb);
/* Nothing left to send (acknowledged up to the end, or truncated/broken). */
bool jc_logbuf_done(const jc_logbuf *lb);

#endif
