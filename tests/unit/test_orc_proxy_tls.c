/* The runtime relay toward an https runtime API, against a real TLS server on loopback.
 * A throwaway CA and certificates are made with the openssl program at test time. Checked:
 * two HTTP requests on one kept-alive connection relayed exactly both ways; 200 kB each
 * way (more than the relay's buffers) with the job's half-close passed on as close_notify;
 * the upstream closing shows the job EOF; a 300 kB answer reaches a job that reads late
 * (back-pressure with decrypted bytes held inside OpenSSL); a certificate from an untrusted CA and
 * one for another host name each give the job the JSON 503. The loop runs on the main thread; the
 * job's client and the TLS server are threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "orchestrator/loop.h"
#include "orchestrator/proxy.h"

static char dir[64];

static int listen_on(struct sockaddr_in *sa) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 64), 0);
    socklen_t sl = sizeof(*sa);
    getsockname(fd, (struct sockaddr *)sa, &sl);
    return fd;
}

static int connect_to(const struct sockaddr_in *sa) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 20}; /* a hung relay fails the test instead of hanging it */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static size_t read_all(int fd, char *buf, size_t cap) {
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap)
            break;
    }
    return n;
}

static char *path(const char *name) {
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
    return p[i];
}

/* ---- the TLS upstream ---------------------------------------------------------------- */

enum mode { ECHO, HTTP, BIG };
static int up_fd;
static enum mode up_mode;
static SSL_CTX *up_ctx;
static atomic_int up_conns, up_handshakes, up_close_notify;

/* HTTP: answer each request (up to the blank line) with a 200 whose body is the request;
 * a request saying "Connection: close" is answered, then the server closes. */
static void serve_http(SSL *s) {
    char req[4096];
    size_t n = 0;
    for (;;) {
        int r = SSL_read(s, req + n, (int)(sizeof(req) - 1 - n));
        if (r <= 0)
            return;
        n += (size_t)r;
        req[n] = '\0';
        char *end;
        while ((end = strstr(req, "\r\n\r\n"))) {
            size_t len = (size_t)(end + 4 - req);
            char resp[8192];
            int h =
                snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", len);
            memcpy(resp + h, req, len);
            if (SSL_write(s, resp, h + (int)len) <= 0)
                return;
            bool close_it = memmem(req, len, "Connection: close", 17) != NULL;
            memmove(req, req + len, n - len + 1);
            n -= len;
            if (close_it)
                return;
        }
        if (n == sizeof(req) - 1)
            return;
    }
}

/* BIG: after the request, 300 kB in 10,000-byte TLS records (the relay's buffer ends in
 * the middle of one, so OpenSSL holds bytes the socket no longer signals), then close. */
#define BIG_LEN 300000
static char big_body[BIG_LEN];
static void serve_big(SSL *s) {
    char req[1024];
    size_t n = 0;
    while (n < sizeof(req) - 1) {
        int r = SSL_read(s, req + n, (int)(sizeof(req) - 1 - n));
        if (r <= 0)
            return;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    for (size_t off = 0; off < BIG_LEN; off += 10000)
        if (SSL_write(s, big_body + off, 10000) != 10000)
            return;
}

static void serve_echo(SSL *s) {
    char buf[16384];
    int r;
    while ((r = SSL_read(s, buf, sizeof(buf))) > 0)
        if (SSL_write(s, buf, r) != r)
            return;
    if (SSL_get_error(s, r) == SSL_ERROR_ZERO_RETURN)
        atomic_fetch_add(&up_close_notify, 1);
}

static void *tls_server(void *arg) {
    (void)arg;
    for (int i = 0; i < 64; i++) {
        int c = accept(up_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        atomic_fetch_add(&up_conns, 1);
        SSL *s = SSL_new(up_ctx);
        SSL_set_fd(s, c);
        if (SSL_accept(s) == 1) {
            atomic_fetch_add(&up_handshakes, 1);
            if (up_mode == ECHO)
                serve_echo(s);
            else if (up_mode == BIG)
                serve_big(s);
            else
                serve_http(s);
            SSL_shutdown(s);
        }
        SSL_free(s);
        close(c);
    }
    return NULL;
}

static pthread_t server_start(const char *cert, const char *key, enum mode m,
                              struct sockaddr_in *addr) {
    up_ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(up_ctx);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(up_ctx, path(cert)), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(up_ctx, path(key), SSL_FILETYPE_PEM), 1);
    up_mode = m;
    atomic_store(&up_conns, 0);
    atomic_store(&up_handshakes, 0);
    atomic_store(&up_close_notify, 0);
    up_fd = listen_on(addr);
    pthread_t t;
    pthread_create(&t, NULL, tls_server, NULL);
    return t;
}

static void server_stop(pthread_t t) {
    shutdown(up_fd, SHUT_RDWR);
    pthread_join(t, NULL);
    close(up_fd);
    SSL_CTX_free(up_ctx);
}

/* ---- the loop and the job's side ------------------------------------------------------ */

typedef struct ctx {
    struct sockaddr_in job_addr;
    atomic_int done;
    int result; /* 0 ok, else the line of the failed check */
    char got[8192];
    size_t got_len;
} ctx;

typedef struct run {
    ctx c;
    jc_loop *loop;
    int lfd;
    jc_proxy *p;
    jc_proxy_stats st;
} run;

static void on_tick(jc_timer *t, void *data) {
    run *r = data;
    if (atomic_load(&r->c.done))
        jc_loop_stop(r->loop);
    else
        jc_timer_arm(t, 5);
}

static void relay_start(run *r, const struct sockaddr_in *up, const char *host) {
    r->loop = jc_loop_new(NULL);
    r->lfd = listen_on(&r->c.job_addr);
    r->p =
        jc_proxy_new(r->loop, r->lfd, (const struct sockaddr *)up, sizeof(*up), 16, &r->st, NULL);
    assert_non_null(r->p);
    jc_err err = {0};
    SSL_CTX *tls = jc_proxy_tls_ctx(path("ca.pem"), &err);
    assert_non_null(tls);
    assert_int_equal(jc_proxy_set_tls(r->p, tls, host, &err), 0);
    SSL_CTX_free(tls); /* the relay holds its own reference */
}

static void relay_run(run *r, void *(*client)(void *)) {
    jc_timer *t = jc_timer_new(r->loop, on_tick, r, NULL);
    jc_timer_arm(t, 5);
    pthread_t th;
    pthread_create(&th, NULL, client, &r->c);
    jc_loop_run(r->loop, NULL);
    pthread_join(th, NULL);
    jc_timer_free(t);
}

static void relay_stop(run *r) {
    jc_proxy_free(r->p);
    close(r->lfd);
    jc_loop_free(r->loop);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond) && c->result == 0)                                                             \
            c->result = __LINE__;                                                                  \
    } while (0)

static const char req1[] = "GET /executions/exe_1/input HTTP/1.1\r\nHost: x\r\n\r\n";
static const char req2[] = "PUT /executions/exe_1/variables/k HTTP/1.1\r\nHost: x\r\n"
                           "Connection: close\r\n\r\n";

static void expect_answer(ctx *c, int fd, const char *req) {
    char want[1024], got[1024];
    int n = snprintf(want, sizeof(want), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(req), req);
    size_t g = 0;
    while (g < (size_t)n) {
        ssize_t r = read(fd, got + g, (size_t)n - g);
        if (r <= 0)
            break;
        g += (size_t)r;
    }
    CHECK(g == (size_t)n && memcmp(got, want, (size_t)n) == 0);
}

static void *client_keepalive(void *arg) {
    ctx *c = arg;
    int fd = connect_to(&c->job_addr);
    CHECK(fd >= 0);
    CHECK(write(fd, req1, strlen(req1)) == (ssize_t)strlen(req1));
    expect_answer(c, fd, req1);
    /* the second request on the same connection; it asks the server to close after */
    CHECK(write(fd, req2, strlen(req2)) == (ssize_t)strlen(req2));
    expect_answer(c, fd, req2);
    char b;
    CHECK(read(fd, &b, 1) == 0); /* the upstream closed: the job sees EOF */
    close(fd);
    atomic_store(&c->done, 1);
    return NULL;
}

static void test_keepalive_and_upstream_close(void **state) {
    (void)state;
    struct sockaddr_in up;
    pthread_t srv = server_start("server.pem", "server.key", HTTP, &up);
    run r = {0};
    relay_start(&r, &up, "127.0.0.1"); /* an address: checked against the IP entry */
    relay_run(&r, client_keepalive);
    assert_int_equal(r.c.result, 0);
    assert_int_equal(atomic_load(&up_conns), 1); /* both requests on one upstream connection */
    assert_int_equal(atomic_load(&up_handshakes), 1);
    assert_int_equal(r.st.bytes_up, strlen(req1) + strlen(req2));
    assert_int_equal(r.st.upstream_failed, 0);
    relay_stop(&r);
    server_stop(srv);
}

static void *client_big(void *arg) {
    ctx *c = arg;
    int fd = connect_to(&c->job_addr);
    static char big[200000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7 + 3);
    char *back = malloc(sizeof(big));
    size_t off = 0, got = 0;
    while (off < sizeof(big)) {
        ssize_t w = write(fd, big + off, sizeof(big) - off > 8192 ? 8192 : sizeof(big) - off);
        if (w <= 0)
            break;
        off += (size_t)w;
        while (got < off) {
            ssize_t r = read(fd, back + got, off - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    }
    shutdown(fd, SHUT_WR); /* becomes close_notify: the echo server stops and closes */
    got += read_all(fd, back + got, sizeof(big) - got);
    char extra;
    ssize_t eof = read(fd, &extra, 1);
    CHECK(got == sizeof(big));
    CHECK(memcmp(back, big, sizeof(big)) == 0);
    CHECK(eof == 0);
    free(back);
    close(fd);
    atomic_store(&c->done, 1);
    return NULL;
}

static void test_large_both_ways_and_half_close(void **state) {
    (void)state;
    struct sockaddr_in up;
    pthread_t srv = server_start("server.pem", "server.key", ECHO, &up);
    run r = {0};
    relay_start(&r, &up, "localhost"); /* a name: checked, and sent as SNI */
    relay_run(&r, client_big);
    assert_int_equal(r.c.result, 0);
    assert_int_equal(r.st.bytes_up, 200000);
    assert_int_equal(r.st.bytes_down, 200000);
    relay_stop(&r);
    server_stop(srv);
    assert_int_equal(atomic_load(&up_close_notify), 1);
}

static void *client_slow_reader(void *arg) {
    ctx *c = arg;
    int fd = connect_to(&c->job_addr);
    CHECK(write(fd, req1, strlen(req1)) == (ssize_t)strlen(req1));
    usleep(300 * 1000); /* let the relay's buffer and the socket buffers fill */
    char *got = malloc(BIG_LEN + 1);
    size_t n = read_all(fd, got, BIG_LEN + 1);
    CHECK(n == BIG_LEN);
    CHECK(memcmp(got, big_body, BIG_LEN) == 0);
    free(got);
    close(fd);
    atomic_store(&c->done, 1);
    return NULL;
}

static void test_large_answer_to_a_slow_reader(void **state) {
    (void)state;
    for (size_t i = 0; i < BIG_LEN; i++)
        big_body[i] = (char)(i * 13 + 5);
    struct sockaddr_in up;
    pthread_t srv = server_start("server.pem", "server.key", BIG, &up);
    run r = {0};
    relay_start(&r, &up, "localhost");
    relay_run(&r, client_slow_reader);
    assert_int_equal(r.c.result, 0);
    assert_int_equal(r.st.bytes_down, BIG_LEN);
    relay_stop(&r);
    server_stop(srv);
}

static void *client_503(void *arg) {
    ctx *c = arg;
    int fd = connect_to(&c->job_addr);
    (void)!write(fd, req1, strlen(req1));
    c->got_len = read_all(fd, c->got, sizeof(c->got) - 1);
    c->got[c->got_len] = '\0';
    close(fd);
    atomic_store(&c->done, 1);
    return NULL;
}

static void expect_503(const char *cert, const char *key, const char *host) {
    struct sockaddr_in up;
    pthread_t srv = server_start(cert, key, HTTP, &up);
    run r = {0};
    relay_start(&r, &up, host);
    relay_run(&r, client_503);
    static const char want[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Content-Length: 98\r\nConnection: close\r\n\r\n"
        "{\"error\":\"Service Unavailable\",\"message\":\"the runtime API cannot be reached\","
        "\"code\":\"unavailable\"}";
    assert_string_equal(r.c.got, want);
    assert_int_equal(r.st.upstream_failed, 1);
    assert_int_equal(r.st.bytes_up, 0); /* no request byte left the relay */
    relay_stop(&r);
    server_stop(srv);
    assert_int_equal(atomic_load(&up_handshakes), 0);
}

static void test_untrusted_ca_gives_503(void **state) {
    (void)state;
    expect_503("rogue.pem", "rogue.key", "localhost");
}

static void test_wrong_host_gives_503(void **state) {
    (void)state;
    expect_503("other.pem", "other.key", "localhost");
}

static void test_bad_ca_file_refused(void **state) {
    (void)state;
    jc_err err = {0};
    assert_null(jc_proxy_tls_ctx(path("missing.pem"), &err));
    assert_int_equal(err.code, JC_E_CONFIG);
    assert_non_null(strstr(err.msg, "runtime_ca_file"));
}

/* A CA, a server certificate for localhost and 127.0.0.1 signed by it, one for another
 * name signed by it, and one for localhost signed by a CA nobody trusts. */
static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/jc-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "set -e; cd %s; exec >log 2>&1\n"
             "ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-days 1 -subj /CN=$1 -addext basicConstraints=critical,CA:TRUE "
             "-addext keyUsage=critical,keyCertSign -keyout $1.key -out $1.pem; }\n"
             "leaf() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-subj /CN=$2 -addext subjectAltName=$3 -keyout $1.key -out $1.csr\n"
             "  openssl x509 -req -in $1.csr -CA $4.pem -CAkey $4.key -CAcreateserial -days 1 "
             "-copy_extensions copy -out $1.pem; }\n"
             "ca ca; ca rogueca\n"
             "leaf server localhost DNS:localhost,IP:127.0.0.1 ca\n"
             "leaf other other.example DNS:other.example ca\n"
             "leaf rogue localhost DNS:localhost,IP:127.0.0.1 rogueca\n",
             dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive_and_upstream_close),
        cmocka_unit_test(test_large_both_ways_and_half_close),
        cmocka_unit_test(test_large_answer_to_a_slow_reader),
        cmocka_unit_test(test_untrusted_ca_gives_503),
        cmocka_unit_test(test_wrong_host_gives_503),
        cmocka_unit_test(test_bad_ca_file_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
