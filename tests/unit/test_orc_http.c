/* The libcurl multi client driven by the loop, against a one-shot HTTP server on a thread:
 * the key, orchestrator id and lease token headers go out, the body arrives intact, the
 * status and Retry-After come back, a refused connection is status 0 with an error, and
 * a cancelled request never calls back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jobcell/hmac_sig.h"
#include "orchestrator/http.h"
#include "orchestrator/loop.h"

static int srv_fd;
static char request[8192];
static const char *reply;

static void *serve_once(void *arg) {
    (void)arg;
    int c = accept(srv_fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t n = 0;
    /* headers, then the body by Content-Length */
    for (;;) {
        ssize_t r = read(c, request + n, sizeof(request) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        request[n] = '\0';
        char *end = strstr(request, "\r\n\r\n");
        if (end) {
            char *cl = strcasestr(request, "Content-Length:");
            size_t want = cl ? (size_t)atol(cl + 15) : 0;
            if (n - (size_t)(end + 4 - request) >= want)
                break;
        }
    }
    (void)!write(c, reply, strlen(reply));
    close(c);
    return NULL;
}

static int listen_any(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    listen(fd, 8);
    socklen_t sl = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &sl);
    *port = ntohs(a.sin_port);
    return fd;
}

typedef struct got {
    jc_loop *loop;
    int calls;
    long status;
    int64_t retry_after;
    char body[256];
    char error[256];
} got;

static void on_done(const jc_http_resp *r, void *data) {
    got *g = data;
    g->calls++;
    g->status = r->status;
    g->retry_after = r->retry_after_ms;
    snprintf(g->body, sizeof(g->body), "%s", r->body);
    snprintf(g->error, sizeof(g->error), "%s", r->error ? r->error : "");
    jc_loop_stop(g->loop);
}

static const unsigned char key[] = "0123456789abcdef0123456789abcdef-key";

static void test_request_and_answer(void **state) {
    (void)state;
    uint16_t port;
    srv_fd = listen_any(&port);
    reply = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Retry-After: 7\r\nContent-Length: 24\r\nConnection: close\r\n\r\n"
            "{\"error\":\"unavailable\"}\n";
    pthread_t t;
    pthread_create(&t, NULL, serve_once, NULL);
    got g = {.loop = jc_loop_new(NULL)};
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
    jc_http *h = jc_http_new(g.loop, url, key, sizeof(key) - 1, "host-a", NULL);
    assert_non_null(h);
    const char body[] = "log\0bytes";
    jc_http_opts o = {.method = "PUT",
                      .path = "/internal/v1/executions/exe_x/logs?offset=5",
                      .body = body,
                      .body_len = sizeof(body) - 1,
                      .content_type = "application/octet-stream",
                      .lease_token = "lt_abc"};
    assert_non_null(jc_http_request(h, &o, on_done, &g, NULL));
    assert_int_equal(jc_http_inflight(h), 1);
    jc_loop_run(g.loop, NULL);
    pthread_join(t, NULL);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.status, 503);
    assert_int_equal(g.retry_after, 7000);
    assert_string_equal(g.body, "{\"error\":\"unavailable\"}\n");
    assert_int_equal(jc_http_inflight(h), 0);
    assert_non_null(
        strstr(request, "PUT /internal/v1/executions/exe_x/logs?offset=5 HTTP/1.1\r\n"));
    assert_non_null(
        strstr(request, "Authorization: Bearer 0123456789abcdef0123456789abcdef-key\r\n"));
    assert_non_null(strstr(request, "X-Orchestrator-ID: host-a\r\n"));
    assert_non_null(strstr(request, "X-Lease-Token: lt_abc\r\n"));
    assert_non_null(strstr(request, "Content-Type: application/octet-stream\r\n"));
    char *b = strstr(request, "\r\n\r\n");
    assert_non_null(b);
    assert_memory_equal(b + 4, "log\0bytes", 9);
    jc_http_free(h);
    jc_loop_free(g.loop);
    close(srv_fd);
}

static void test_refused_and_cancel(void **state) {
    (void)state;
    uint16_t port;
    int fd = listen_any(&port);
    close(fd); /* nothing listens there now */
    got g = {.loop = jc_loop_new(NULL)};
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    jc_http *h = jc_http_new(g.loop, url, key, sizeof(key) - 1, "host-a", NULL);
    jc_http_opts o = {.method = "POST", .path = "/internal/v1/claims", .body = "{}", .body_len = 2};
    /* a cancelled request never calls back */
    got never = {.loop = g.loop};
    jc_http_req *r = jc_http_request(h, &o, on_done, &never, NULL);
    jc_http_cancel(r);
    assert_non_null(jc_http_request(h, &o, on_done, &g, NULL));
    jc_loop_run(g.loop, NULL);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.status, 0);
    assert_true(strlen(g.error) > 0);
    assert_int_equal(g.retry_after, -1);
    assert_int_equal(never.calls, 0);
    jc_http_free(h);
    jc_loop_free(g.loop);
}

/* The value of header name in the captured request (copied into out). */
static void header_value(const char *name, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s: ", name);
    const char *p = strstr(request, pat);
    assert_non_null(p);
    p += strlen(pat);
    size_t n = strcspn(p, "\r");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* One signed request against the one-shot server: its key id, timestamp and signature. */
static void signed_once(jc_http *h, got *g, const jc_http_opts *o, char ts[24], char sig[80]) {
    pthread_t t;
    pthread_create(&t, NULL, serve_once, NULL);
    assert_non_null(jc_http_request(h, o, on_done, g, NULL));
    jc_loop_run(g->loop, NULL);
    pthread_join(t, NULL);
    assert_int_equal(g->status, 200);
    char kid[64];
    header_value("X-JC-Key-Id", kid, sizeof(kid));
    assert_string_equal(kid, "ok_aaaaaaaaaaaaaaaaaaaaaaaaaa");
    header_value("X-JC-Timestamp", ts, 24);
    header_value("X-JC-Signature", sig, 80);
    /* a signing client sends no shared key */
    assert_null(strstr(request, "Authorization:"));
}

static void test_signed(void **state) {
    (void)state;
    uint16_t port;
    srv_fd = listen_any(&port);
    reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    got g = {.loop = jc_loop_new(NULL)};
    char url[64];
    /* a base URL with a path: it is part of what is signed */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/prefix/", port);
    jc_http *h = jc_http_new(g.loop, url, NULL, 0, "host-a", NULL);
    assert_non_null(h);
    unsigned char secret[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (unsigned char)i;
    assert_int_equal(jc_http_set_signer(h, "ok_aaaaaaaaaaaaaaaaaaaaaaaaaa", secret, NULL), 0);
    const char body[] = "{\"slots\":1,\"wait_s\":0}";
    jc_http_opts o = {
        .method = "POST", .path = "/internal/v1/claims", .body = body, .body_len = strlen(body)};
    char ts1[24], sig1[80], ts2[24], sig2[80];
    signed_once(h, &g, &o, ts1, sig1);
    assert_non_null(strstr(request, "POST /prefix/internal/v1/claims HTTP/1.1\r\n"));
    jc_err err;
    assert_int_equal(jc_hmac_verify(secret, 32, "POST", "/prefix/internal/v1/claims", "host-a", ts1,
                                    body, strlen(body), sig1, &err),
                     0);
    /* the same request again at once must not repeat the signature (the server would call it
     * a replay): its timestamp moves on */
    signed_once(h, &g, &o, ts2, sig2);
    assert_string_not_equal(sig1, sig2);
    assert_int_equal(jc_hmac_verify(secret, 32, "POST", "/prefix/internal/v1/claims", "host-a", ts2,
                                    body, strlen(body), sig2, &err),
                     0);
    int64_t t1 = atoll(ts1), t2 = atoll(ts2);
    assert_true(t2 >= t1 && t2 <= t1 + 2);
    jc_http_free(h);
    jc_loop_free(g.loop);
    close(srv_fd);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_and_answer),
        cmocka_unit_test(test_refused_and_cancel),
        cmocka_unit_test(test_signed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
