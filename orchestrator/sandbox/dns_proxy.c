/* dns_proxy.c: the allow-list resolver of egress jobs (see jobcell/dns_proxy.h).
 *
 * One epoll set holds every socket: per job a UDP socket, a TCP listener and up to
 * JC_DNS_MAX_TCP_PER_JOB TCP clients; per forwarded query one connected UDP socket to the
 * upstream it is trying. A forwarded query lives in a slot of a fixed table of
 * JC_DNS_MAX_PENDING, so nothing a job sends can make the proxy allocate. Everything runs
 * under one mutex, taken by each public function: jc_dns_proxy_handle() fetches and serves
 * its events with the mutex held, so a job removed by another thread can never be served
 * (or its callback called) afterwards. */
#include "jobcell/dns_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dns_wire.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "jobcell/random.h"

#define TCP_IDLE_MS 10000 /* a TCP client that sends nothing for this long is closed */
#define TCP_BUF (2 + JC_DNS_QUERY_MAX)
#define TCP_ANSWER_MAX 4096 /* our TCP answers: the chain plus every kept address fit */
#define RECV_BURST 32       /* datagrams read per readiness event, so no job starves others */
#define MAX_TRIES (JC_DNS_QUERY_DEADLINE_MS / JC_DNS_TRY_TIMEOUT_MS) /* broken answers too */
#define LOG_REFUSED_MAX 8 /* refused names logged at info per job; the rest only counted */

enum kind { K_UDP, K_TCP_LISTEN, K_TCP_CONN, K_UPSTREAM };

typedef struct job job;

/* What an epoll event points at: every such struct starts with its kind. */
typedef struct endpoint {
    enum kind kind;
    int fd;
    job *job;
} endpoint;

typedef struct tcp_conn {
    endpoint ep;  /* kind K_TCP_CONN; fd -1 when the slot is free */
    uint32_t gen; /* bumped on every close: a pending answer for an old client is dropped */
    uint8_t buf[TCP_BUF];
    size_t have;
    bool busy; /* one query at a time: reading waits until it is answered */
    int64_t deadline_ms;
} tcp_conn;

struct job {
    char key[128];
    char (*names)[JC_DNS_TEXT_NAME_MAX + 1];
    size_t n_names;
    jc_dns_allow_cb cb;
    void *ctx;
    endpoint udp, tcp_listen;
    tcp_conn conns[JC_DNS_MAX_TCP_PER_JOB];
    unsigned pending;
    unsigned refused_logged;
    jc_dns_stats stats;
};

typedef struct pending {
    endpoint ep;    /* kind K_UPSTREAM; ep.job NULL when the slot is free */
    tcp_conn *conn; /* NULL: a UDP client at from */
    uint32_t conn_gen;
    struct sockaddr_storage from;
    socklen_t fromlen;
    jc_dns_query query;
    uint16_t id;
    unsigned next_upstream;
    unsigned tries;
    int64_t try_deadline_ms, deadline_ms;
} pending;

struct jc_dns_proxy {
    pthread_mutex_t mu;
    int epfd;
    struct sockaddr_storage upstreams[JC_DNS_MAX_UPSTREAMS];
    size_t n_upstreams;
    job **jobs;
    size_t n_jobs;
    pending *slots; /* JC_DNS_MAX_PENDING */
    unsigned n_pending;
    jc_dns_stats stats;
    pthread_t thread;
    bool thread_running;
    int stop_fd;
};

static socklen_t addr_len(int family) {
    return family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t len) {
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!inet_ntop(sa->sa_family, a, out, (socklen_t)len))
        snprintf(out, len, "?");
}

static void ep_unwatch_close(jc_dns_proxy *p, endpoint *ep) {
    if (ep->fd < 0)
        return;
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, ep->fd, NULL);
    close(ep->fd);
    ep->fd = -1;
}

static int ep_watch(jc_dns_proxy *p, endpoint *ep, uint32_t events, jc_err *err) {
    struct epoll_event ev = {.events = events, .data.ptr = ep};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, ep->fd, &ev) < 0)
        return jc_err_sys(err, errno, "dns proxy: epoll_ctl");
    return 0;
}

static void ep_set_events(jc_dns_proxy *p, endpoint *ep, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = ep};
    epoll_ctl(p->epfd, EPOLL_CTL_MOD, ep->fd, &ev);
}

static job *find_job(jc_dns_proxy *p, const char *key, size_t *index) {
    for (size_t i = 0; i < p->n_jobs; i++)
        if (strcmp(p->jobs[i]->key, key) == 0) {
            if (index)
                *index = i;
            return p->jobs[i];
        }
    return NULL;
}

static bool name_allowed(const job *j, const char *name) {
    for (size_t i = 0; i < j->n_names; i++)
        if (strcmp(j->names[i], name) == 0)
            return true;
    return false;
}

/* ---- answering a client ---------------------------------------------------------------- */

static void tcp_close(jc_dns_proxy *p, tcp_conn *c) {
    ep_unwatch_close(p, &c->ep);
    c->gen++;
    c->have = 0;
    c->busy = false;
}

static void tcp_serve(jc_dns_proxy *p, tcp_conn *c);

/* Send msg to the client of a query: a datagram, or a length-prefixed message on its TCP
 * connection if that is still the one that asked. A TCP client that does not take a whole
 * answer at once is closed: it is not worth buffering for. */
static void reply(jc_dns_proxy *p, job *j, tcp_conn *conn, uint32_t gen,
                  const struct sockaddr_storage *from, socklen_t fromlen, const uint8_t *msg,
                  size_t len) {
    if (!conn) {
        sendto(j->udp.fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)from,
               fromlen);
        return;
    }
    if (conn->ep.fd < 0 || conn->gen != gen)
        return;
    uint8_t out[2 + TCP_ANSWER_MAX];
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
    memcpy(out + 2, msg, len);
    ssize_t n = send(conn->ep.fd, out, len + 2, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n != (ssize_t)(len + 2)) {
        tcp_close(p, conn);
        return;
    }
    conn->busy = false;
    conn->deadline_ms = jc_time_mono_ms() + TCP_IDLE_MS;
    ep_set_events(p, &conn->ep, EPOLLIN);
    tcp_serve(p, conn); /* a pipelined next query may already be buffered */
}

static void reply_rcode(jc_dns_proxy *p, job *j, tcp_conn *conn, uint32_t gen,
                        const struct sockaddr_storage *from, socklen_t fromlen,
                        const jc_dns_query *q, uint8_t rcode) {
    uint8_t buf[JC_DNS_UDP_MAX];
    size_t len = jc_dns_build_response(buf, sizeof(buf), q, rcode, NULL, 0, 0, NULL);
    if (len > 0)
        reply(p, j, conn, gen, from, fromlen, buf, len);
}

/* ---- forwarding ------------------------------------------------------------------------ */

static void pending_free(jc_dns_proxy *p, pending *s) {
    ep_unwatch_close(p, &s->ep);
    s->ep.job->pending--;
    p->n_pending--;
    s->ep.job = NULL;
}

static void pending_fail(jc_dns_proxy *p, pending *s) {
    job *j = s->ep.job;
    j->stats.servfail++;
    p->stats.servfail++;
    reply_rcode(p, j, s->conn, s->conn_gen, &s->from, s->fromlen, &s->query, JC_DNS_RCODE_SERVFAIL);
    pending_free(p, s);
}

/* Send the query to the next upstream on a fresh socket: a new source port (the kernel
 * picks a random free one for every unbound UDP socket) and a new random id, so an
 * off-path forger has to guess both; connect() makes the kernel drop datagrams from any
 * other address. Returns false when no upstream could even be sent to before the deadline. */
static bool pending_try(jc_dns_proxy *p, pending *s) {
    int64_t now = jc_time_mono_ms();
    /* bounded in count as well as time: an upstream that answers garbage at once must not
     * turn one query into a storm of retries */
    for (size_t attempt = 0;
         attempt < p->n_upstreams && now < s->deadline_ms && s->tries < MAX_TRIES; attempt++) {
        ep_unwatch_close(p, &s->ep);
        const struct sockaddr_storage *up = &p->upstreams[s->next_upstream % p->n_upstreams];
        s->next_upstream++;
        s->tries++;
        jc_err err;
        if (jc_random_bytes(&s->id, sizeof(s->id), &err) < 0)
            return false;
        uint8_t buf[JC_DNS_QUERY_MAX];
        size_t len = jc_dns_build_forward(buf, sizeof(buf), s->id, &s->query.q);
        if (len == 0)
            return false;
        _cleanup_close_ int fd =
            socket(up->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        if (connect(fd, (const struct sockaddr *)up, addr_len(up->ss_family)) < 0 ||
            send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
            continue; /* unreachable right now: the next one */
        s->ep.fd = steal_fd(&fd);
        if (ep_watch(p, &s->ep, EPOLLIN, &err) < 0) {
            close(s->ep.fd);
            s->ep.fd = -1;
            return false;
        }
        s->ep.job->stats.forwarded++;
        p->stats.forwarded++;
        s->try_deadline_ms = now + JC_DNS_TRY_TIMEOUT_MS;
        if (s->try_deadline_ms > s->deadline_ms)
            s->try_deadline_ms = s->deadline_ms;
        return true;
    }
    return false;
}

static void forward(jc_dns_proxy *p, job *j, tcp_conn *conn, const struct sockaddr_storage *from,
                    socklen_t fromlen, const jc_dns_query *q) {
    uint32_t gen = conn ? conn->gen : 0;
    pending *s = NULL;
    if (j->pending < JC_DNS_MAX_PENDING_PER_JOB && p->n_pending < JC_DNS_MAX_PENDING)
        for (size_t i = 0; i < JC_DNS_MAX_PENDING && !s; i++)
            if (!p->slots[i].ep.job)
                s = &p->slots[i];
    if (!s) { /* a job flooding us gets failures, not memory */
        j->stats.servfail++;
        p->stats.servfail++;
        reply_rcode(p, j, conn, gen, from, fromlen, q, JC_DNS_RCODE_SERVFAIL);
        return;
    }
    memset(s, 0, sizeof(*s));
    s->ep.kind = K_UPSTREAM;
    s->ep.fd = -1;
    s->ep.job = j;
    s->conn = conn;
    s->conn_gen = gen;
    if (from)
        memcpy(&s->from, from, fromlen);
    s->fromlen = fromlen;
    s->query = *q;
    s->deadline_ms = jc_time_mono_ms() + JC_DNS_QUERY_DEADLINE_MS;
    j->pending++;
    p->n_pending++;
    if (!pending_try(p, s))
        pending_fail(p, s);
}

/* An upstream's datagram for slot s. */
static void upstream_answer(jc_dns_proxy *p, pending *s, const uint8_t *msg, size_t len) {
    static _Thread_local jc_dns_answer a; /* about 3 KiB, off the stack */
    job *j = s->ep.job;
    jc_dns_answer_verdict v = jc_dns_answer_parse(msg, len, s->id, &s->query.q, &a);
    if (v == JC_DNS_ANSWER_MISMATCH)
        return; /* not ours (a late or forged datagram): keep waiting */
    if (v == JC_DNS_ANSWER_BAD ||
        (a.rcode != JC_DNS_RCODE_NOERROR && a.rcode != JC_DNS_RCODE_NXDOMAIN) ||
        (a.truncated && a.n_addrs == 0)) {
        /* broken, failing or refusing upstream: the next one, while time is left */
        if (!pending_try(p, s))
            pending_fail(p, s);
        return;
    }
    uint8_t buf[TCP_ANSWER_MAX];
    size_t cap = s->conn ? sizeof(buf) : JC_DNS_UDP_MAX, n_addrs = 0;
    size_t len_out = jc_dns_build_response(buf, cap, &s->query, a.rcode, &a, JC_DNS_TTL_MIN,
                                           JC_DNS_TTL_MAX, &n_addrs);
    /* the allow set first, the answer second: the job may connect as soon as it reads it */
    for (size_t i = 0; i < n_addrs; i++) {
        if (j->cb)
            j->cb(j->ctx, s->query.q.name, a.addrs[i].family, a.addrs[i].addr,
                  jc_dns_addr_ttl(&a, i, JC_DNS_TTL_MIN, JC_DNS_TTL_MAX));
        j->stats.addresses++;
        p->stats.addresses++;
    }
    j->stats.answered++;
    p->stats.answered++;
    if (len_out > 0)
        reply(p, j, s->conn, s->conn_gen, &s->from, s->fromlen, buf, len_out);
    pending_free(p, s);
}

static void upstream_readable(jc_dns_proxy *p, pending *s) {
    uint8_t buf[4096];
    for (int i = 0; i < RECV_BURST && s->ep.job && s->ep.fd >= 0; i++) {
        ssize_t n = recv(s->ep.fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* ECONNREFUSED (ICMP port unreachable) and the like: this upstream is down */
            if (errno != EAGAIN && errno != EWOULDBLOCK && !pending_try(p, s))
                pending_fail(p, s);
            return;
        }
        upstream_answer(p, s, buf, (size_t)n);
    }
}

/* ---- queries from a job ---------------------------------------------------------------- */

static void log_refused(job *j, const jc_dns_query *q) {
    jc_log_level level = j->refused_logged < LOG_REFUSED_MAX ? JC_LOG_INFO : JC_LOG_DEBUG;
    if (level == JC_LOG_INFO)
        j->refused_logged++;
    jc_log(level, "dns: name not in the allow-list", "job", j->key, "name",
           q->q.name_ok ? q->q.name : "(not a host name)", NULL);
}

static void serve_query(jc_dns_proxy *p, job *j, tcp_conn *conn,
                        const struct sockaddr_storage *from, socklen_t fromlen, const uint8_t *msg,
                        size_t len) {
    jc_dns_query q;
    uint32_t gen = conn ? conn->gen : 0;
    jc_dns_query_verdict v = jc_dns_query_parse(msg, len, &q);
    switch (v) {
    case JC_DNS_QUERY_DROP: return;
    case JC_DNS_QUERY_FORMERR:
        j->stats.formerr++;
        p->stats.formerr++;
        reply_rcode(p, j, conn, gen, from, fromlen, &q, JC_DNS_RCODE_FORMERR);
        return;
    case JC_DNS_QUERY_NOTIMP:
        reply_rcode(p, j, conn, gen, from, fromlen, &q, JC_DNS_RCODE_NOTIMP);
        return;
    case JC_DNS_QUERY_REFUSED:
        reply_rcode(p, j, conn, gen, from, fromlen, &q, JC_DNS_RCODE_REFUSED);
        return;
    case JC_DNS_QUERY_OK: break;
    }
    j->stats.queries++;
    p->stats.queries++;
    /* NXDOMAIN, not REFUSED: the name does not exist for this job, and a stub resolver
     * must not go on to another server or search domain because of it */
    if (!q.q.name_ok || !name_allowed(j, q.q.name)) {
        j->stats.refused++;
        p->stats.refused++;
        log_refused(j, &q);
        reply_rcode(p, j, conn, gen, from, fromlen, &q, JC_DNS_RCODE_NXDOMAIN);
        return;
    }
    if (q.q.qtype != JC_DNS_TYPE_A && q.q.qtype != JC_DNS_TYPE_AAAA) {
        j->stats.nodata++;
        p->stats.nodata++;
        reply_rcode(p, j, conn, gen, from, fromlen, &q, JC_DNS_RCODE_NOERROR);
        return;
    }
    if (conn) {
        conn->busy = true; /* stop reading until this one is answered */
        ep_set_events(p, &conn->ep, 0);
    }
    forward(p, j, conn, from, fromlen, &q);
}

static void udp_readable(jc_dns_proxy *p, job *j) {
    uint8_t buf[JC_DNS_QUERY_MAX + 1];
    for (int i = 0; i < RECV_BURST; i++) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t n =
            recvfrom(j->udp.fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;
        /* a datagram longer than buf arrives cut to sizeof(buf): over JC_DNS_QUERY_MAX,
         * so the parser answers FORMERR */
        serve_query(p, j, NULL, &from, fromlen, buf, (size_t)n);
    }
}

/* Serve every complete message in c's buffer, one at a time. */
static void tcp_serve(jc_dns_proxy *p, tcp_conn *c) {
    while (!c->busy && c->ep.fd >= 0 && c->have >= 2) {
        size_t mlen = ((size_t)c->buf[0] << 8) | c->buf[1];
        if (mlen > JC_DNS_QUERY_MAX || mlen < JC_DNS_HEADER_LEN) {
            tcp_close(p, c); /* no sane query is that size: the stream cannot be trusted */
            return;
        }
        if (c->have < 2 + mlen)
            return;
        uint8_t msg[JC_DNS_QUERY_MAX];
        memcpy(msg, c->buf + 2, mlen);
        memmove(c->buf, c->buf + 2 + mlen, c->have - 2 - mlen);
        c->have -= 2 + mlen;
        serve_query(p, c->ep.job, c, NULL, 0, msg, mlen);
    }
}

static void tcp_readable(jc_dns_proxy *p, tcp_conn *c) {
    if (c->busy || c->ep.fd < 0)
        return;
    ssize_t n = recv(c->ep.fd, c->buf + c->have, sizeof(c->buf) - c->have, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        tcp_close(p, c);
        return;
    }
    c->have += (size_t)n;
    c->deadline_ms = jc_time_mono_ms() + TCP_IDLE_MS;
    tcp_serve(p, c);
}

static void tcp_accept(jc_dns_proxy *p, job *j) {
    for (int i = 0; i < JC_DNS_MAX_TCP_PER_JOB + 1; i++) {
        _cleanup_close_ int fd =
            accept4(j->tcp_listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        tcp_conn *c = NULL;
        for (size_t k = 0; k < JC_DNS_MAX_TCP_PER_JOB && !c; k++)
            if (j->conns[k].ep.fd < 0)
                c = &j->conns[k];
        if (!c)
            continue; /* over the limit: closed at once */
        c->ep.fd = steal_fd(&fd);
        c->have = 0;
        c->busy = false;
        c->deadline_ms = jc_time_mono_ms() + TCP_IDLE_MS;
        if (ep_watch(p, &c->ep, EPOLLIN, NULL) < 0)
            tcp_close(p, c);
    }
}

/* ---- timeouts -------------------------------------------------------------------------- */

static void expire(jc_dns_proxy *p) {
    int64_t now = jc_time_mono_ms();
    for (size_t i = 0; i < JC_DNS_MAX_PENDING; i++) {
        pending *s = &p->slots[i];
        if (!s->ep.job || now < s->try_deadline_ms)
            continue;
        if (now >= s->deadline_ms || !pending_try(p, s))
            pending_fail(p, s);
    }
    for (size_t k = 0; k < p->n_jobs; k++)
        for (size_t c = 0; c < JC_DNS_MAX_TCP_PER_JOB; c++) {
            tcp_conn *conn = &p->jobs[k]->conns[c];
            if (conn->ep.fd >= 0 && !conn->busy && now >= conn->deadline_ms)
                tcp_close(p, conn);
        }
}

/* ---- the proxy ------------------------------------------------------------------------- */

jc_dns_proxy *jc_dns_proxy_new(const struct sockaddr_storage *upstreams, size_t n_upstreams,
                               jc_err *err) {
    if (n_upstreams == 0 || n_upstreams > JC_DNS_MAX_UPSTREAMS)
        return jc_err_set(err, JC_E_INVALID, "dns proxy: between 1 and %d upstream resolvers",
                          JC_DNS_MAX_UPSTREAMS),
               NULL;
    for (size_t i = 0; i < n_upstreams; i++)
        if (upstreams[i].ss_family != AF_INET && upstreams[i].ss_family != AF_INET6)
            return jc_err_set(err, JC_E_INVALID,
                              "dns proxy: upstream resolver %zu is not an IP address", i + 1),
                   NULL;
    _cleanup_free_ jc_dns_proxy *p = calloc(1, sizeof(*p));
    _cleanup_free_ pending *slots = calloc(JC_DNS_MAX_PENDING, sizeof(*slots));
    if (!p || !slots)
        return jc_err_sys(err, ENOMEM, "dns proxy"), NULL;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0)
        return jc_err_sys(err, errno, "dns proxy: epoll_create1"), NULL;
    pthread_mutex_init(&p->mu, NULL);
    memcpy(p->upstreams, upstreams, n_upstreams * sizeof(*upstreams));
    p->n_upstreams = n_upstreams;
    for (size_t i = 0; i < JC_DNS_MAX_PENDING; i++)
        slots[i].ep.fd = -1;
    p->slots = steal(&slots);
    p->stop_fd = -1;
    return steal(&p);
}

static void job_free(jc_dns_proxy *p, job *j) {
    for (size_t i = 0; i < JC_DNS_MAX_PENDING; i++)
        if (p->slots[i].ep.job == j)
            pending_free(p, &p->slots[i]);
    for (size_t c = 0; c < JC_DNS_MAX_TCP_PER_JOB; c++)
        tcp_close(p, &j->conns[c]);
    ep_unwatch_close(p, &j->udp);
    ep_unwatch_close(p, &j->tcp_listen);
    free(j->names);
    free(j);
}

void jc_dns_proxy_free(jc_dns_proxy *p) {
    if (!p)
        return;
    jc_dns_proxy_stop_thread(p);
    for (size_t i = 0; i < p->n_jobs; i++)
        job_free(p, p->jobs[i]);
    free(p->jobs);
    free(p->slots);
    close(p->epfd);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static int open_listener(int type, const struct sockaddr *addr, jc_err *err) {
    char text[INET6_ADDRSTRLEN];
    addr_text(addr, text, sizeof(text));
    _cleanup_close_ int fd = socket(addr->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return jc_err_sys(err, errno, "dns proxy: socket for %s", text);
    int one = 1;
    if (type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, addr, addr_len(addr->sa_family)) < 0)
        return jc_err_sys(err, errno, "dns proxy: bind %s %s", type == SOCK_STREAM ? "tcp" : "udp",
                          text);
    if (type == SOCK_STREAM && listen(fd, 16) < 0)
        return jc_err_sys(err, errno, "dns proxy: listen tcp %s", text);
    return steal_fd(&fd);
}

static int add_job_locked(jc_dns_proxy *p, const char *job_key, const struct sockaddr *listen_addr,
                          const char *const *allowed_names, jc_dns_allow_cb cb, void *ctx,
                          jc_err *err) {
    if (!job_key || !*job_key || strlen(job_key) >= sizeof(((job *)0)->key))
        return jc_err_set(err, JC_E_INVALID, "dns proxy: a job key of 1 to 127 bytes");
    if (find_job(p, job_key, NULL))
        return jc_err_set(err, JC_E_CONFLICT, "dns proxy: job %s is already served", job_key);
    if (!listen_addr || (listen_addr->sa_family != AF_INET && listen_addr->sa_family != AF_INET6))
        return jc_err_set(err, JC_E_INVALID, "dns proxy: the listen address is not an IP address");
    size_t n = 0;
    while (allowed_names && allowed_names[n])
        if (++n > JC_DNS_MAX_NAMES)
            return jc_err_set(err, JC_E_INVALID, "dns proxy: more than %d allowed names",
                              JC_DNS_MAX_NAMES);
    _cleanup_free_ job *j = calloc(1, sizeof(*j));
    if (!j)
        return jc_err_sys(err, ENOMEM, "dns proxy");
    j->names = calloc(n ? n : 1, sizeof(*j->names));
    if (!j->names)
        return jc_err_sys(err, ENOMEM, "dns proxy");
    for (size_t i = 0; i < n; i++)
        if (!jc_dns_name_normalize(allowed_names[i], j->names[i])) {
            free(j->names);
            return jc_err_set(err, JC_E_INVALID, "dns proxy: \"%.100s\" is not a host name",
                              allowed_names[i]);
        }
    j->n_names = n;
    snprintf(j->key, sizeof(j->key), "%s", job_key);
    j->cb = cb;
    j->ctx = ctx;
    j->udp = (endpoint){.kind = K_UDP, .fd = -1, .job = j};
    j->tcp_listen = (endpoint){.kind = K_TCP_LISTEN, .fd = -1, .job = j};
    for (size_t c = 0; c < JC_DNS_MAX_TCP_PER_JOB; c++)
        j->conns[c].ep = (endpoint){.kind = K_TCP_CONN, .fd = -1, .job = j};

    job **grown = realloc(p->jobs, (p->n_jobs + 1) * sizeof(*p->jobs));
    if (!grown) {
        free(j->names);
        return jc_err_sys(err, ENOMEM, "dns proxy");
    }
    p->jobs = grown;
    if ((j->udp.fd = open_listener(SOCK_DGRAM, listen_addr, err)) < 0 ||
        (j->tcp_listen.fd = open_listener(SOCK_STREAM, listen_addr, err)) < 0 ||
        ep_watch(p, &j->udp, EPOLLIN, err) < 0 || ep_watch(p, &j->tcp_listen, EPOLLIN, err) < 0) {
        job_free(p, steal(&j));
        return jc_err_prefix(err, "job %s", job_key);
    }
    p->jobs[p->n_jobs++] = steal(&j);
    return 0;
}

int jc_dns_proxy_add_job(jc_dns_proxy *p, const char *job_key, const struct sockaddr *listen_addr,
                         const char *const *allowed_names, jc_dns_allow_cb cb, void *ctx,
                         jc_err *err) {
    pthread_mutex_lock(&p->mu);
    int r = add_job_locked(p, job_key, listen_addr, allowed_names, cb, ctx, err);
    pthread_mutex_unlock(&p->mu);
    return r;
}

void jc_dns_proxy_remove_job(jc_dns_proxy *p, const char *job_key) {
    pthread_mutex_lock(&p->mu);
    size_t i;
    job *j = find_job(p, job_key, &i);
    if (j) {
        job_free(p, j);
        p->jobs[i] = p->jobs[--p->n_jobs];
    }
    pthread_mutex_unlock(&p->mu);
}

int jc_dns_proxy_fd(const jc_dns_proxy *p) {
    return p->epfd;
}

void jc_dns_proxy_handle(jc_dns_proxy *p) {
    pthread_mutex_lock(&p->mu);
    struct epoll_event evs[64];
    int n = epoll_wait(p->epfd, evs, (int)JC_ARRAY_LEN(evs), 0);
    for (int i = 0; i < n; i++) {
        /* an endpoint closed earlier in this batch has fd -1; one reused since then just
         * finds nothing to read (every read is non-blocking) */
        endpoint *ep = evs[i].data.ptr;
        if (ep->fd < 0)
            continue;
        switch (ep->kind) {
        case K_UDP: udp_readable(p, ep->job); break;
        case K_TCP_LISTEN: tcp_accept(p, ep->job); break;
        case K_TCP_CONN: tcp_readable(p, (tcp_conn *)ep); break;
        case K_UPSTREAM:
            if (ep->job)
                upstream_readable(p, (pending *)ep);
            break;
        }
    }
    expire(p);
    pthread_mutex_unlock(&p->mu);
}

int jc_dns_proxy_next_timeout_ms(jc_dns_proxy *p) {
    pthread_mutex_lock(&p->mu);
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < JC_DNS_MAX_PENDING; i++)
        if (p->slots[i].ep.job && p->slots[i].try_deadline_ms < next)
            next = p->slots[i].try_deadline_ms;
    for (size_t k = 0; k < p->n_jobs; k++)
        for (size_t c = 0; c < JC_DNS_MAX_TCP_PER_JOB; c++) {
            const tcp_conn *conn = &p->jobs[k]->conns[c];
            if (conn->ep.fd >= 0 && !conn->busy && conn->deadline_ms < next)
                next = conn->deadline_ms;
        }
    pthread_mutex_unlock(&p->mu);
    if (next == INT64_MAX)
        return -1;
    int64_t ms = next - jc_time_mono_ms();
    return ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

static void *proxy_thread(void *arg) {
    jc_dns_proxy *p = arg;
    for (;;) {
        struct pollfd fds[2] = {{.fd = p->epfd, .events = POLLIN},
                                {.fd = p->stop_fd, .events = POLLIN}};
        int r = poll(fds, 2, jc_dns_proxy_next_timeout_ms(p));
        if (r < 0 && errno != EINTR) {
            jc_log(JC_LOG_ERROR, "dns proxy: poll failed, resolver stopped", NULL);
            return NULL;
        }
        if (fds[1].revents)
            return NULL;
        jc_dns_proxy_handle(p);
    }
}

int jc_dns_proxy_start_thread(jc_dns_proxy *p, jc_err *err) {
    if (p->thread_running)
        return jc_err_set(err, JC_E_CONFLICT, "dns proxy: the thread is already running");
    p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->stop_fd < 0)
        return jc_err_sys(err, errno, "dns proxy: eventfd");
    int e = pthread_create(&p->thread, NULL, proxy_thread, p);
    if (e != 0) {
        close(p->stop_fd);
        p->stop_fd = -1;
        return jc_err_sys(err, e, "dns proxy: pthread_create");
    }
    p->thread_running = true;
    return 0;
}

void jc_dns_proxy_stop_thread(jc_dns_proxy *p) {
    if (!p->thread_running)
        return;
    uint64_t one = 1;
    if (write(p->stop_fd, &one, sizeof(one)) != sizeof(one))
        jc_log(JC_LOG_ERROR, "dns proxy: cannot signal the thread to stop", NULL);
    pthread_join(p->thread, NULL);
    close(p->stop_fd);
    p->stop_fd = -1;
    p->thread_running = false;
}

int jc_dns_proxy_stats(jc_dns_proxy *p, const char *job_key, jc_dns_stats *out, jc_err *err) {
    int r = 0;
    pthread_mutex_lock(&p->mu);
    if (!job_key) {
        *out = p->stats;
    } else {
        job *j = find_job(p, job_key, NULL);
        if (j)
            *out = j->stats;
        else
            r = jc_err_set(err, JC_E_NOT_FOUND, "dns proxy: no job %s", job_key);
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}
