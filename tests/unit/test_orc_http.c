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

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_and_answer),
        cmocka_unit_test(test_refused_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
