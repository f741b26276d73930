/* The runtime relay against real sockets on loopback: bytes pass unchanged both ways with
 * half-close, an unreachable runtime API yields a JSON 503, the 17th concurrent
 * connection is refused with a JSON 503, and freeing the relay closes the job's
 * connections. The loop runs on the main thread; clients and the upstream are threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
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

/* upstream: echo every connection until EOF, then close */
static int up_fd;
static atomic_int up_conns;
static void *echo_conn(void *arg) {
    int c = (int)(intptr_t)arg;
    char buf[65536];
    ssize_t r;
    while ((r = read(c, buf, sizeof(buf))) > 0)
        if (write(c, buf, (size_t)r) != r)
            break;
    close(c);
    return NULL;
}
static void *echo_server(void *arg) {
    (void)arg;
    for (;;) {
        int c = accept(up_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        atomic_fetch_add(&up_conns, 1);
        pthread_t t;
        pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)c);
        pthread_detach(t);
    }
}

typedef struct ctx {
    struct sockaddr_in job_addr;
    atomic_int done;
    int result; /* 0 ok, else a line number of the failed check */
    char got[4096];
    size_t got_len;
} ctx;

typedef struct run {
    ctx c; /* first: the tick gets the run through its ctx */
    jc_loop *loop;
} run;

static void on_tick(jc_timer *t, void *data) {
    run *r = data;
    if (atomic_load(&r->c.done))
        jc_loop_stop(r->loop);
    else
        jc_timer_arm(t, 5);
}

static void run_loop(run *r, void *(*client)(void *)) {
    jc_timer *t = jc_timer_new(r->loop, on_tick, &r->c, NULL);
    jc_timer_arm(t, 5);
    pthread_t th;
    pthread_create(&th, NULL, client, &r->c);
    jc_loop_run(r->loop, NULL);
    pthread_join(th, NULL);
    jc_timer_free(t);
}

static void *client_echo(void *arg) {
    ctx *c = arg;
    int fd = connect_to(&c->job_addr);
    static char big[200000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7 + 3);
    /* more than both relay buffers: back-pressure must hold, nothing lost or reordered */
    size_t off = 0;
    char *back = malloc(sizeof(big));
    size_t got = 0;
    while (off < sizeof(big)) {
        ssize_t w = write(fd, big + off, sizeof(big) - off > 8192 ? 8192 : sizeof(big) - off);
        if (w <= 0)
            break;
        off += (size_t)w;
        /* read some back to keep the echo flowing */
        while (got < off) {
            ssize_t r = read(fd, back + got, off - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    }
    shutdown(fd, SHUT_WR); /* half-close: the echo server sees EOF and closes */
    got += read_all(fd, back + got, sizeof(big) - got);
    char extra;
    ssize_t eof = read(fd, &extra, 1);
    c->result = (got == sizeof(big) && memcmp(back, big, sizeof(big)) == 0 && eof == 0) ? 0 : 1;
    free(back);
    close(fd);
    atomic_store(&c->done, 1);
    return NULL;
}

static void test_relay_bytes_and_half_close(void **state) {
    (void)state;
    struct sockaddr_in up;
    up_fd = listen_on(&up);
    pthread_t srv;
    pthread_create(&srv, NULL, echo_server, NULL);
    run r = {0};
    r.loop = jc_loop_new(NULL);
    int lfd = listen_on(&r.c.job_addr);
    jc_proxy_stats st = {0};
    jc_proxy *p = jc_proxy_new(r.loop, lfd, (struct sockaddr *)&up, sizeof(up), 16, &st, NULL);
    assert_non_null(p);
    run_loop(&r, client_echo);
    assert_int_equal(r.c.result, 0);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.bytes_up, 200000);
    assert_int_equal(st.bytes_down, 200000);
    jc_proxy_free(p);
    close(lfd);
    jc_loop_free(r.loop);
    shutdown(up_fd, SHUT_RDWR);
    close(up_fd);
    pthread_join(srv, NULL);
}

static void *client_503(void *arg) {
    ctx *c = arg;
    int fd = connect_to(&c->job_addr);
    const char *req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)!write(fd, req, strlen(req));
    c->got_len = read_all(fd, c->got, sizeof(c->got) - 1);
    c->got[c->got_len] = '\0';
    close(fd);
    atomic_store(&c->done, 1);
    return NULL;
}

static void test_unreachable_gives_json_503(void **state) {
    (void)state;
    /* a port with nothing listening: bind, learn it, close */
    struct sockaddr_in dead;
    int tmp = listen_on(&dead);
    close(tmp);
    run r = {0};
    r.loop = jc_loop_new(NULL);
    int lfd = listen_on(&r.c.job_addr);
    jc_proxy_stats st = {0};
    jc_proxy *p = jc_proxy_new(r.loop, lfd, (struct sockaddr *)&dead, sizeof(dead), 16, &st, NULL);
    run_loop(&r, client_503);
    assert_non_null(strstr(r.c.got, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(r.c.got, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(r.c.got, "\r\n\r\n{\"error\":\"Service Unavailable\",\"message\":"));
    assert_non_null(strstr(r.c.got, "\"code\":\"unavailable\"}"));
    assert_int_equal(st.upstream_failed, 1);
    jc_proxy_free(p);
    close(lfd);
    jc_loop_free(r.loop);
}

static int fds17[17];
static void *client_many(void *arg) {
    ctx *c = arg;
    /* 16 held open, then a 17th */
    for (int i = 0; i < 17; i++)
        fds17[i] = connect_to(&c->job_addr);
    c->got_len = read_all(fds17[16], c->got, sizeof(c->got) - 1);
    c->got[c->got_len] = '\0';
    atomic_store(&c->done, 1);
    return NULL;
}

static void test_seventeenth_refused(void **state) {
    (void)state;
    struct sockaddr_in up;
    up_fd = listen_on(&up);
    pthread_t srv;
    pthread_create(&srv, NULL, echo_server, NULL);
    run r = {0};
    r.loop = jc_loop_new(NULL);
    int lfd = listen_on(&r.c.job_addr);
    jc_proxy_stats st = {0};
    jc_proxy *p = jc_proxy_new(r.loop, lfd, (struct sockaddr *)&up, sizeof(up), 16, &st, NULL);
    run_loop(&r, client_many);
    assert_non_null(strstr(r.c.got, "503"));
    assert_non_null(strstr(r.c.got, "too many runtime connections"));
    assert_int_equal(st.refused, 1);
    assert_int_equal(jc_proxy_conns(p), 16);
    /* the job ends: every connection it had is closed */
    jc_proxy_free(p);
    char b;
    for (int i = 0; i < 16; i++) {
        assert_int_equal(read(fds17[i], &b, 1), 0);
        close(fds17[i]);
    }
    close(fds17[16]);
    close(lfd);
    jc_loop_free(r.loop);
    shutdown(up_fd, SHUT_RDWR);
    close(up_fd);
    pthread_join(srv, NULL);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_bytes_and_half_close),
        cmocka_unit_test(test_unreachable_gives_json_503),
        cmocka_unit_test(test_seventeenth_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
