/* seal: the cost of sealing and opening one secret (lib/seal.c, AES-256-GCM).
 *
 *   build/bench/seal [ITERATIONS]
 *
 * For value sizes of 64 B, 1 KiB and 16 KiB (a job's secrets as compact JSON) it prints the
 * mean time of one jc_seal and one jc_unseal, including the base64url text and the AAD. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobcell/seal.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (iterations < 1) {
        fprintf(stderr, "usage: seal [ITERATIONS]\n");
        return 2;
    }
    static const char json[] = "{\"active\":\"m1\",\"keys\":{\"m1\":"
                               "\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\"}}";
    jc_err err;
    jc_master_ring *r = jc_master_ring_parse(json, sizeof(json) - 1, "bench", &err);
    if (!r) {
        fprintf(stderr, "seal: %s\n", err.msg);
        return 1;
    }
    const size_t sizes[] = {64, 1024, 16384};
    printf("seal/unseal, AES-256-GCM, %ld iterations each\n", iterations);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        char *value = malloc(sizes[s]);
        memset(value, 'x', sizes[s]);
        char *sealed = NULL;
        double t0 = now_ns();
        for (long i = 0; i < iterations; i++) {
            free(sealed);
            if (jc_seal(r, "job_secrets", "alice", "job_abcdefghijklmnopqrstuvwxyz", value,
                        sizes[s], &sealed, &err) < 0) {
                fprintf(stderr, "seal: %s\n", err.msg);
                return 1;
            }
        }
        double t1 = now_ns();
        for (long i = 0; i < iterations; i++) {
            unsigned char *pt = NULL;
            size_t len = 0;
            if (jc_unseal(r, "job_secrets", "alice", "job_abcdefghijklmnopqrstuvwxyz", sealed, &pt,
                          &len, &err) < 0) {
                fprintf(stderr, "unseal: %s\n", err.msg);
                return 1;
            }
            free(pt);
        }
        double t2 = now_ns();
        printf("%6zu bytes: seal %.2f us/op, unseal %.2f us/op\n", sizes[s],
               (t1 - t0) / (double)iterations / 1000.0, (t2 - t1) / (double)iterations / 1000.0);
        free(sealed);
        free(value);
    }
    jc_master_ring_free(r);
    return 0;
}
