/* api_claim: the claim path of jobcell-api end to end, over HTTP.
 *
 * Starts nothing itself: give it running servers (see the usage; several servers sharing
 * one PostgreSQL database are given as a comma-separated JOBCELL_URL, and the clients are
 * spread over them round robin, as a load balancer would). It submits JOBS trivial jobs
 * through /v1/jobs, then N fake orchestrators (threads, one keep-alive connection each)
 * claim, start and complete them through /internal/v1 until all are done. Prints the
 * submit rate, executions per second end to end and the claim latency p50/p99. */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_URLS 8

typedef struct opts {
    char *urls[MAX_URLS];
    int nurls;
    const char *token;
    const char *key;
    long jobs;
    int orchestrators;
    int slots;
} opts;

static opts o;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long done_count;
static double *lat;
static size_t nlat, caplat;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *d, size_t sz, size_t nm, void *u) {
    buf *b = u;
    size_t k = sz * nm;
    char *np = realloc(b->p, b->n + k + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, d, k);
    b->p = np;
    b->n += k;
    b->p[b->n] = '\0';
    return k;
}

/* POST body to path; returns the status and the parsed answer (owned) in *out. */
static long post(CURL *c, int server, struct curl_slist *h, const char *path, const char *body,
                 json_t **out) {
    char url[512];
    snprintf(url, sizeof(url), "%s%s", o.urls[server % o.nurls], path);
    buf b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (out)
        *out = b.p ? json_loads(b.p, 0, NULL) : NULL;
    free(b.p);
    return status;
}

typedef struct submit_arg {
    long count;
    int server;
} submit_arg;

static void *submitter(void *arg) {
    submit_arg *a = arg;
    long count = a->count;
    CURL *c = curl_easy_init();
    char auth[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    for (long i = 0; i < count; i++) {
        long st =
            post(c, a->server, h, "/v1/jobs", "{\"runtime\":\"sh\",\"script\":\"true\"}", NULL);
        if (st != 201) {
            fprintf(stderr, "api_claim: submit answered %ld\n", st);
            exit(1);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static void *orchestrator(void *arg) {
    int id = (int)(intptr_t)arg;
    CURL *c = curl_easy_init();
    char auth[512], orc[64], body[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.key);
    snprintf(orc, sizeof(orc), "X-Orchestrator-ID: bench-%d", id);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, orc);
    h = curl_slist_append(h, "Content-Type: application/json");
    snprintf(body, sizeof(body), "{\"slots\":%d,\"wait_s\":0}", o.slots);
    for (;;) {
        pthread_mutex_lock(&lock);
        bool finished = done_count >= o.jobs;
        pthread_mutex_unlock(&lock);
        if (finished)
            break;
        json_t *ans;
        double t0 = now_s();
        long st = post(c, id, h, "/internal/v1/claims", body, &ans);
        double dt = now_s() - t0;
        if (st != 200) {
            fprintf(stderr, "api_claim: claim answered %ld\n", st);
            exit(1);
        }
        pthread_mutex_lock(&lock);
        if (nlat == caplat) {
            caplat = caplat ? caplat * 2 : 4096;
            lat = realloc(lat, caplat * sizeof(*lat));
        }
        lat[nlat++] = dt;
        pthread_mutex_unlock(&lock);
        json_t *claims = json_object_get(ans, "claims");
        size_t i;
        json_t *cl;
        json_array_foreach(claims, i, cl) {
            const char *eid = json_string_value(json_object_get(cl, "execution_id"));
            const char *lt = json_string_value(json_object_get(cl, "lease_token"));
            char path[256], b2[256];
            snprintf(b2, sizeof(b2), "{\"lease_token\":\"%s\"}", lt);
            snprintf(path, sizeof(path), "/internal/v1/executions/%s/start", eid);
            if (post(c, id, h, path, b2, NULL) != 200)
                exit(1);
            snprintf(b2, sizeof(b2),
                     "{\"lease_token\":\"%s\",\"result\":{\"reason\":\"exited\",\"exit_code\":0}}",
                     lt);
            snprintf(path, sizeof(path), "/internal/v1/executions/%s/complete", eid);
            if (post(c, id, h, path, b2, NULL) != 200)
                exit(1);
        }
        size_t n = json_array_size(claims);
        json_decref(ans);
        pthread_mutex_lock(&lock);
        done_count += (long)n;
        pthread_mutex_unlock(&lock);
        if (n == 0) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    o.jobs = 10000;
    o.orchestrators = 4;
    o.slots = 4;
    const char *urls = getenv("JOBCELL_URL");
    o.token = getenv("JOBCELL_TOKEN");
    o.key = getenv("JOBCELL_INTERNAL_KEY");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
            o.jobs = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--orchestrators") == 0 && i + 1 < argc)
            o.orchestrators = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--slots") == 0 && i + 1 < argc)
            o.slots = (int)strtol(argv[++i], NULL, 10);
        else {
            fprintf(i + 1 < argc || strcmp(argv[i], "--help") ? stderr : stdout,
                    "Usage: api_claim [--jobs N] [--orchestrators N] [--slots N]\n"
                    "Environment: JOBCELL_URL (http://127.0.0.1:8080; several servers of one\n"
                    "PostgreSQL database: comma-separated), JOBCELL_TOKEN (an API token),\n"
                    "JOBCELL_INTERNAL_KEY (the servers' internal key).\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    char *list = urls ? strdup(urls) : NULL;
    for (char *save = NULL, *u = list ? strtok_r(list, ",", &save) : NULL; u && o.nurls < MAX_URLS;
         u = strtok_r(NULL, ",", &save))
        o.urls[o.nurls++] = u;
    if (!o.nurls || !o.token || !o.key || o.jobs < 1 || o.orchestrators < 1 || o.slots < 1 ||
        o.slots > 64) {
        fprintf(stderr, "api_claim: set JOBCELL_URL, JOBCELL_TOKEN and JOBCELL_INTERNAL_KEY\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t t[64];
    int ns = 4;
    double t0 = now_s();
    submit_arg sa[4];
    for (int i = 0; i < ns; i++) {
        sa[i].count = o.jobs / ns + (i < o.jobs % ns ? 1 : 0);
        sa[i].server = i;
        pthread_create(&t[i], NULL, submitter, &sa[i]);
    }
    for (int i = 0; i < ns; i++)
        pthread_join(t[i], NULL);
    double submit_s = now_s() - t0;
    int no = o.orchestrators > 64 ? 64 : o.orchestrators;
    t0 = now_s();
    for (int i = 0; i < no; i++)
        pthread_create(&t[i], NULL, orchestrator, (void *)(intptr_t)i);
    for (int i = 0; i < no; i++)
        pthread_join(t[i], NULL);
    double run_s = now_s() - t0;
    qsort(lat, nlat, sizeof(*lat), cmp);
    double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(nlat * 99) / 100] : 0;
    printf("jobs %ld, orchestrators %d, slots per claim %d, servers %d\n", o.jobs, no, o.slots,
           o.nurls);
    printf("submit: %.0f jobs/s (%.2f s, 4 clients)\n", (double)o.jobs / submit_s, submit_s);
    printf("claim+start+complete: %.0f executions/s end to end (%.2f s)\n",
           (double)done_count / run_s, run_s);
    printf("claim latency: p50 %.2f ms, p99 %.2f ms (%zu claim calls)\n", p50 * 1000, p99 * 1000,
           nlat);
    free(lat);
    free(list);
    curl_global_cleanup();
    return 0;
}
