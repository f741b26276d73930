#include "backoff.h"

#include "jobcell/random.h"

void jc_backoff_init(jc_backoff *b, int64_t base_ms, int64_t max_ms) {
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms >= b->base_ms ? max_ms : b->base_ms;
    b->failures = 0;
}

int64_t jc_backoff_next(jc_backoff *b, double u, int64_t retry_after_ms) {
    if (u < 0)
        u = 0;
    if (u >= 1)
        u = 0.999999;
    int64_t d = b->base_ms;
    /* doubling stops at the cap, so the shift never overflows */
    for (unsigned i = 0; i < b->failures && d < b->max_ms; i++)
        d *= 2;
    if (d > b->max_ms)
        d = b->max_ms;
    if (b->failures < 64)
        b->failures++;
    int64_t delay = (int64_t)((double)d * (0.5 + 0.5 * u));
    if (delay < 1)
        delay = 1;
    if (retry_after_ms > delay)
        delay = retry_after_ms > b->max_ms ? b->max_ms : retry_after_ms;
    return delay;
}

void jc_backoff_reset(jc_backoff *b) {
    b->failures = 0;
}

double jc_backoff_uniform(void) {
    uint64_t r;
    if (jc_random_bytes(&r, sizeof(r), NULL) < 0)
        return 0.5;
    return (double)(r >> 11) / (double)(UINT64_C(1) << 53);
}
