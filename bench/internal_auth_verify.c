/* internal_auth_verify: the server-side cost of verifying one signed internal request
 * (jc_iauth_verify: timestamp, store lookup, AES-GCM open of the secret, HMAC, replay
 * cache), in process, without HTTP, with and without the opened-credential cache. Uses a
 * temporary SQLite store. Prints microseconds per verification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal_auth.h"
#include "jobcell/hmac_sig.h"
#include "jobcell/seal.h"
#include "store_creds.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double run(jc_store *st, const jc_master_ring *ring, const jc_orc_cred *c,
                  const unsigned char *secret, int64_t cache_ms, int n) {
    jc_iauth ia = {.replay = jc_replay_cache_new((size_t)n * 2)};
    jc_iauth_init(&ia, cache_ms);
    char body[64], ts[24], sig[65];
    long long t = (long long)time(NULL);
    snprintf(ts, sizeof(ts), "%lld", t);
    double total = 0;
    for (int i = 0; i < n; i++) {
        snprintf(body, sizeof(body), "{\"slots\":1,\"wait_s\":0,\"n\":%d}", i);
        jc_hmac_sign(secret, 32, "POST", "/internal/v1/claims", c->orchestrator, ts, body,
                     strlen(body), sig, NULL);
        jc_iauth_request in = {.method = "POST",
                               .target = "/internal/v1/claims",
                               .orchestrator = c->orchestrator,
                               .key_id = c->key_id,
                               .timestamp = ts,
                               .signature = sig,
                               .body = body,
                               .body_len = strlen(body)};
        jc_iauth_result res;
        jc_err err;
        double t0 = now_s();
        if (jc_iauth_verify(&ia, st, ring, &in, t * 1000, &res, &err) < 0) {
            fprintf(stderr, "internal_auth_verify: refused: %s\n", res.reason);
            exit(1);
        }
        total += now_s() - t0;
    }
    jc_iauth_fini(&ia);
    jc_replay_cache_free(ia.replay);
    return total / n * 1e6;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 50000;
    if (n < 1 || n > 10000000) {
        fprintf(stderr, "usage: internal_auth_verify [N]\n");
        return 2;
    }
    char dir[] = "/tmp/jc-iauth-XXXXXX", path[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/s.db", dir);
    jc_err err;
    jc_store_options o = {.path = path, .busy_timeout_ms = 2000};
    jc_store *st = jc_store_open(&o, &err);
    unsigned char secret[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (unsigned char)(7 * i);
    /* a fixed master key (bytes 0..31): this is a benchmark, nothing is kept */
    const char *json =
        "{\"active\":\"m1\",\"keys\":{\"m1\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}}";
    jc_master_ring *ring = jc_master_ring_parse(json, strlen(json), "bench", &err);
    jc_orc_cred c = {.created_at = 1};
    snprintf(c.key_id, sizeof(c.key_id), "ok_aaaaaaaaaaaaaaaaaaaaaaaaaa");
    snprintf(c.orchestrator, sizeof(c.orchestrator), "bench-0");
    int rc = 1;
    if (!st || !ring ||
        jc_seal(ring, "orchestrator_secret", c.orchestrator, c.key_id, secret, 32, &c.sealed,
                &err) < 0 ||
        jc_store_cred_add(st, &c, &err) < 0) {
        fprintf(stderr, "internal_auth_verify: %s\n", err.msg);
        goto out;
    }
    double cached = run(st, ring, &c, secret, 1000, n);
    double uncached = run(st, ring, &c, secret, 0, n);
    printf("signed request verification, %d requests each:\n", n);
    printf("  credential cache on (key_cache_ms 1000): %.2f us per request\n", cached);
    printf("  credential cache off (key_cache_ms 0):   %.2f us per request\n", uncached);
    rc = 0;
out:
    free(c.sealed);
    jc_master_ring_free(ring);
    jc_store_close(st);
    const char *suffix[] = {"", "-wal", "-shm"};
    char p[96];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return rc;
}
