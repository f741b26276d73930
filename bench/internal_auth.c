/* internal_auth: the cost of signed internal requests (HMAC) against the shared bearer key,
 * measured side by side in one run on the claim path.
 *
 * Starts nothing itself (bench/internal_auth.sh starts a server and makes the credentials).
 * THREADS fake orchestrators, one keep-alive connection each, send empty claims
 * (POST /internal/v1/claims with nothing queued) as fast as they can; rounds alternate
 * between the bearer key and signed requests so both see the same machine state. Prints
 * requests per second for each scheme, their ratio and the latency p50/p99. */
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobcell/hmac_sig.h"

#define MAX_THREADS 16

typedef struct cred {
    char orc[65], key_id[48];
    unsigned char secret[32];
} cred;

static const char *url, *bearer;
static cred creds[MAX_THREADS];
static int threads = 4;
static double round_s = 2.0;
static int rounds = 3;
static bool signing; /* the current round's scheme */

typedef struct result {
    long requests, errors;
    double *lat;
    size_t nlat, cap;
} result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink(char *d, size_t sz, size_t nm, void *u) {
    (void)d;
    (void)u;
    return sz * nm;
}

typedef struct worker {
    int id;
    result r;
} worker;

static void *run(void *arg) {
    worker *w = arg;
    const cred *c = &creds[w->id];
    CURL *e = curl_easy_init();
    char full[512];
    snprintf(full, sizeof(full), "%s/internal/v1/claims", url);
    curl_easy_setopt(e, CURLOPT_URL, full);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
    double end = now_s() + round_s;
    unsigned long n = 0;
    while (now_s() < end) {
        /* every body of a thread differs within a second: the server refuses a signature it
         * has already seen (slots 1-64, two key orders, 0-15 spaces in two places) */
        char body[128];
        unsigned long k = n++;
        int slots = (int)(k % 64) + 1, a = (int)(k / 64 % 16), b = (int)(k / 1024 % 16);
        if (k / 16384 % 2)
            snprintf(body, sizeof(body), "{\"wait_s\":0,%*s\"slots\":%d%*s}", a, "", slots, b, "");
        else
            snprintf(body, sizeof(body), "{\"slots\":%d,%*s\"wait_s\":0%*s}", slots, a, "", b, "");
        struct curl_slist *h = NULL;
        char line[256];
        snprintf(line, sizeof(line), "X-Orchestrator-ID: %s", c->orc);
        h = curl_slist_append(h, line);
        h = curl_slist_append(h, "Content-Type: application/json");
        if (signing) {
            char ts[24], sig[65];
            snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
            jc_hmac_sign(c->secret, 32, "POST", "/internal/v1/claims", c->orc, ts, body,
                         strlen(body), sig, NULL);
            snprintf(line, sizeof(line), "X-JC-Key-Id: %s", c->key_id);
            h = curl_slist_append(h, line);
            snprintf(line, sizeof(line), "X-JC-Timestamp: %s", ts);
            h = curl_slist_append(h, line);
            snprintf(line, sizeof(line), "X-JC-Signature: %s", sig);
            h = curl_slist_append(h, line);
        } else {
            snprintf(line, sizeof(line), "Authorization: Bearer %s", bearer);
            h = curl_slist_append(h, line);
        }
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        double t0 = now_s();
        long status = 0;
        if (curl_easy_perform(e) == CURLE_OK)
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        double dt = now_s() - t0;
        curl_slist_free_all(h);
        if (status != 200) {
            w->r.errors++;
            continue;
        }
        w->r.requests++;
        if (w->r.nlat == w->r.cap) {
            w->r.cap = w->r.cap ? w->r.cap * 2 : 4096;
            w->r.lat = realloc(w->r.lat, w->r.cap * sizeof(double));
        }
        w->r.lat[w->r.nlat++] = dt;
    }
    curl_easy_cleanup(e);
    return NULL;
}

static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

typedef struct total {
    long requests, errors;
    double seconds;
    double *lat;
    size_t nlat;
} total;

static void one_round(total *t) {
    pthread_t th[MAX_THREADS];
    worker w[MAX_THREADS];
    memset(w, 0, sizeof(w));
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i].id = i;
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    t->seconds += now_s() - t0;
    for (int i = 0; i < threads; i++) {
        t->requests += w[i].r.requests;
        t->errors += w[i].r.errors;
        t->lat = realloc(t->lat, (t->nlat + w[i].r.nlat) * sizeof(double));
        memcpy(t->lat + t->nlat, w[i].r.lat, w[i].r.nlat * sizeof(double));
        t->nlat += w[i].r.nlat;
        free(w[i].r.lat);
    }
}

static void report(const char *name, total *t) {
    qsort(t->lat, t->nlat, sizeof(double), cmp);
    double p50 = t->nlat ? t->lat[t->nlat / 2] : 0, p99 = t->nlat ? t->lat[t->nlat * 99 / 100] : 0;
    printf("%-7s %8.0f requests/s  p50 %.3f ms  p99 %.3f ms  (%ld requests, %ld errors)\n", name,
           (double)t->requests / t->seconds, p50 * 1000, p99 * 1000, t->requests, t->errors);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--round-s") == 0 && i + 1 < argc)
            round_s = atof(argv[++i]);
        else {
            printf("Usage: internal_auth [--threads N] [--rounds N] [--round-s SECONDS]\n"
                   "Environment: JOBCELL_URL, JOBCELL_INTERNAL_KEY (the bearer key),\n"
                   "JOBCELL_CREDENTIALS (a file: one 'ORCHESTRATOR KEY_ID SECRET' per thread).\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    url = getenv("JOBCELL_URL");
    bearer = getenv("JOBCELL_INTERNAL_KEY");
    const char *cf = getenv("JOBCELL_CREDENTIALS");
    if (!url || !bearer || !cf || threads < 1 || threads > MAX_THREADS || rounds < 1) {
        fprintf(stderr, "internal_auth: set JOBCELL_URL, JOBCELL_INTERNAL_KEY and "
                        "JOBCELL_CREDENTIALS; 1-16 threads\n");
        return 2;
    }
    FILE *f = fopen(cf, "re");
    for (int i = 0; f && i < threads; i++) {
        char secret[80];
        if (fscanf(f, "%64s %47s %79s", creds[i].orc, creds[i].key_id, secret) != 3 ||
            jc_hmac_secret_parse(secret, strlen(secret), creds[i].secret, NULL) < 0) {
            fprintf(stderr, "internal_auth: %s: need %d credentials\n", cf, threads);
            return 2;
        }
    }
    if (!f)
        return 2;
    fclose(f);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    total bearer_t = {0}, hmac_t = {0};
    for (int r = 0; r < rounds; r++) {
        signing = false;
        one_round(&bearer_t);
        signing = true;
        one_round(&hmac_t);
    }
    printf("internal API, empty claims, %d connections, %d alternating rounds of %.1f s each\n",
           threads, rounds, round_s);
    report("bearer", &bearer_t);
    report("hmac", &hmac_t);
    double rb = (double)bearer_t.requests / bearer_t.seconds;
    double rh = (double)hmac_t.requests / hmac_t.seconds;
    printf("hmac/bearer throughput ratio: %.3f (HMAC costs %.1f%% of throughput)\n", rh / rb,
           (1 - rh / rb) * 100);
    free(bearer_t.lat);
    free(hmac_t.lat);
    curl_global_cleanup();
    return bearer_t.errors || hmac_t.errors ? 1 : 0;
}
