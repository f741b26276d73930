/* backoff.h: exponential backoff with jitter for calls to the API server.
 *
 * The n-th consecutive failure waits min(max, base × 2^(n−1)) × U(0.5, 1.0); a server's
 * Retry-After wins when it asks for longer (capped at max as well, so a hostile or broken
 * server cannot park the daemon for an hour). Success resets it. */
#ifndef JOBCELL_ORC_BACKOFF_H
#define JOBCELL_ORC_BACKOFF_H

#include <stdint.h>

typedef struct jc_backoff {
    int64_t base_ms;
    int64_t max_ms;
    unsigned failures;
} jc_backoff;

void jc_backoff_init(jc_backoff *b, int64_t base_ms, int64_t max_ms);
/* Record a failure and return the delay before the next try. u is uniform in [0, 1)
 * (the caller's randomness, so tests can pin it); retry_after_ms is -1 when absent. */
int64_t jc_backoff_next(jc_backoff *b, double u, int64_t retry_after_ms);
void jc_backoff_reset(jc_backoff *b);
/* A uniform double in [0, 1) from the CSPRNG (0.5 if it fails). */
double jc_backoff_uniform(void);

#endif
