#include "proxy.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "jobcell/log.h"

typedef struct buf {
    char data[JC_PROXY_BUF];
    size_t start, len;
} buf;

typedef struct conn conn;
struct conn {
    jc_proxy *p;
    int cfd, ufd; /* the job's side, the runtime API's side */
    jc_watch *cw, *uw;
    buf c2u, u2c;
    bool connecting;
    bool c_eof, u_eof;   /* FIN received */
    bool c_shut, u_shut; /* FIN sent (or nothing more will ever be sent) */
    bool answered;       /* upstream sent at least one byte */
    bool refusing;       /* our own 503 is in u2c; client bytes are discarded */
    SSL *ssl;            /* TLS toward the runtime API, or NULL for plain TCP */
    bool handshaking;    /* TLS handshake not finished */
    uint32_t hs_want;    /* what the handshake (or close_notify) waits for */
    bool r_want_w;       /* the last SSL_read needs the socket writable */
    bool w_want_r;       /* the last SSL_write needs the socket readable */
    bool ssl_shut;       /* close_notify still to send */
    conn *prev, *next;
};

struct jc_proxy {
    jc_loop *loop;
    int lfd;
    jc_watch *lw;
    struct sockaddr_storage up;
    socklen_t uplen;
    unsigned max, n;
    jc_proxy_stats *stats, own_stats;
    conn *conns;
    SSL_CTX *tls; /* NULL: plain TCP */
    char tls_host[256];
};

static const char unavailable_body[] =
    "{\"error\":\"Service Unavailable\",\"message\":\"the runtime API cannot be reached\","
    "\"code\":\"unavailable\"}";
static const char busy_body[] =
    "{\"error\":\"Service Unavailable\",\"message\":\"too many runtime connections from this "
    "job (at most 16 at once)\",\"code\":\"unavailable\"}";

static int error_response(char *out, size_t cap, const char *body) {
    int n = snprintf(out, cap,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static void conn_close(conn *c) {
    jc_proxy *p = c->p;
    jc_watch_remove(c->cw);
    jc_watch_remove(c->uw);
    if (c->cfd >= 0)
        close(c->cfd);
    if (c->ufd >= 0)
        close(c->ufd);
    SSL_free(c->ssl);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->n--;
    free(c);
}

static void on_client(jc_watch *w, int fd, uint32_t ev, void *data);
static void refuse(conn *c);
static void tls_shutdown(conn *c);
static void on_upstream(jc_watch *w, int fd, uint32_t ev, void *data);

/* Watch exactly the events that can make progress; none at all means "out of epoll",
 * so an EPOLLHUP we cannot act on yet does not spin the loop. */
static int want(jc_loop *loop, jc_watch **w, int fd, uint32_t ev, jc_watch_cb cb, void *data) {
    if (fd < 0 || ev == 0) {
        jc_watch_remove(*w);
        *w = NULL;
        return 0;
    }
    if (!*w) {
        *w = jc_loop_watch(loop, fd, ev, cb, data, NULL);
        return *w ? 0 : -1;
    }
    return jc_watch_set_events(*w, ev, NULL);
}

/* Pass on half-closes, close when both directions are done, recompute interest. */
static void settle(conn *c) {
    if (c->c_eof && c->c2u.len == 0 && !c->u_shut && !c->connecting && !c->handshaking) {
        if (c->ssl)
            c->ssl_shut = true; /* close_notify, sent by tls_shutdown */
        else if (c->ufd >= 0)
            shutdown(c->ufd, SHUT_WR);
        c->u_shut = true;
    }
    if (c->ssl_shut && c->hs_want == 0)
        tls_shutdown(c);
    if (c->u_eof && c->u2c.len == 0 && !c->c_shut) {
        shutdown(c->cfd, SHUT_WR);
        c->c_shut = true;
    }
    if (c->c_shut && c->u_shut && (c->u_eof || c->ufd < 0) && (c->c_eof || c->refusing)) {
        conn_close(c);
        return;
    }
    uint32_t cev = 0, uev = 0;
    if (!c->c_eof && c->c2u.len < JC_PROXY_BUF)
        cev |= EPOLLIN;
    if (c->u2c.len > 0)
        cev |= EPOLLOUT;
    if (c->ufd >= 0) {
        if (c->connecting)
            uev = EPOLLOUT;
        else if (c->ssl) {
            if (c->handshaking)
                uev = c->hs_want;
            else {
                if (!c->u_eof && c->u2c.len < JC_PROXY_BUF)
                    uev |= c->r_want_w ? EPOLLOUT : EPOLLIN;
                if (c->c2u.len > 0)
                    uev |= c->w_want_r ? EPOLLIN : EPOLLOUT;
                if (c->ssl_shut)
                    uev |= c->hs_want;
            }
        } else {
            if (!c->u_eof && c->u2c.len < JC_PROXY_BUF)
                uev |= EPOLLIN;
            if (c->c2u.len > 0)
                uev |= EPOLLOUT;
        }
    }
    if (want(c->p->loop, &c->cw, c->cfd, cev, on_client, c) < 0 ||
        want(c->p->loop, &c->uw, c->ufd, uev, on_upstream, c) < 0)
        conn_close(c);
}

/* The runtime API is unreachable: answer the job ourselves. */
static void refuse(conn *c) {
    c->p->stats->upstream_failed++;
    jc_watch_remove(c->uw);
    c->uw = NULL;
    if (c->ufd >= 0)
        close(c->ufd);
    c->ufd = -1;
    SSL_free(c->ssl);
    c->ssl = NULL;
    ERR_clear_error(); /* leave nothing behind for the next user of OpenSSL on this thread */
    c->handshaking = false;
    c->ssl_shut = false;
    c->connecting = false;
    c->u_shut = true;
    c->c2u.len = 0;
    if (c->answered) { /* mid-answer: all we can do is close */
        c->u_eof = true;
        return;
    }
    c->refusing = true;
    int n = error_response(c->u2c.data, sizeof(c->u2c.data), unavailable_body);
    c->u2c.start = 0;
    c->u2c.len = n > 0 ? (size_t)n : 0;
    c->u_eof = true;
}

/* Where the next bytes go in b (compacting it when its tail is full). */
static size_t buf_end(buf *b) {
    if (b->len == 0)
        b->start = 0;
    size_t end = b->start + b->len;
    if (end == JC_PROXY_BUF && b->start > 0) {
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
        end = b->len;
    }
    return end;
}

/* Read from fd into b; returns bytes read, 0 on EOF, -1 on EAGAIN, -2 on error. */
static ssize_t fill(int fd, buf *b) {
    size_t end = buf_end(b);
    ssize_t r = read(fd, b->data + end, JC_PROXY_BUF - end);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? -1 : -2;
    b->len += (size_t)r;
    return r;
}

/* Write b to fd; -2 on a hard error. */
static int flush(int fd, buf *b, uint64_t *counter) {
    while (b->len > 0) {
        ssize_t w = send(fd, b->data + b->start, b->len, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -2;
        b->start += (size_t)w;
        b->len -= (size_t)w;
        *counter += (uint64_t)w;
    }
    b->start = 0;
    return 0;
}

/* The TLS side. Which epoll events the upstream socket waits for follows what OpenSSL
 * asked for (SSL_ERROR_WANT_READ / WANT_WRITE), recorded in the conn and used by settle. */

/* Why a handshake failed, for the log: the certificate check's verdict when there is one. */
static void tls_reason(conn *c, int ret, char *out, size_t cap) {
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long e = ERR_peek_last_error();
    if (vr != X509_V_OK)
        snprintf(out, cap, "certificate verification failed: %s",
                 X509_verify_cert_error_string(vr));
    else if (e != 0)
        ERR_error_string_n(e, out, cap);
    else if (SSL_get_error(c->ssl, ret) == SSL_ERROR_SYSCALL && errno != 0)
        snprintf(out, cap, "%s", strerror(errno));
    else
        snprintf(out, cap, "the connection was closed during the handshake");
}

static int tls_start(conn *c) {
    jc_proxy *p = c->p;
    c->ssl = SSL_new(p->tls);
    if (!c->ssl || SSL_set_fd(c->ssl, c->ufd) != 1)
        return -1;
    unsigned char ip[16];
    bool literal =
        inet_pton(AF_INET, p->tls_host, ip) == 1 || inet_pton(AF_INET6, p->tls_host, ip) == 1;
    if (literal) { /* an address: checked against the certificate's IP entries, no SNI */
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), p->tls_host) != 1)
            return -1;
    } else if (SSL_set1_host(c->ssl, p->tls_host) != 1 ||
               SSL_set_tlsext_host_name(c->ssl, p->tls_host) != 1) {
        return -1;
    }
    SSL_set_connect_state(c->ssl);
    c->handshaking = true;
    c->hs_want = EPOLLOUT;
    return 0;
}

/* 0: done or waiting (hs_want says for what); -1: failed, logged once. */
static int tls_handshake(conn *c) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->handshaking = false;
        c->hs_want = 0;
        return 0;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->hs_want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
        return 0;
    }
    char why[256];
    tls_reason(c, r, why, sizeof(why));
    jc_log(JC_LOG_WARN, "runtime API TLS handshake failed", "host", c->p->tls_host, "reason", why,
           NULL);
    return -1;
}

/* Send close_notify (the job shut its write side and everything before it is sent). A
 * failure here only means the runtime API is already gone, which reading will show. */
static void tls_shutdown(conn *c) {
    ERR_clear_error();
    int r = SSL_shutdown(c->ssl);
    int e = r < 0 ? SSL_get_error(c->ssl, r) : SSL_ERROR_NONE;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->hs_want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
        return;
    }
    c->ssl_shut = false;
    c->hs_want = 0;
}

/* fill and flush over TLS, same return values. */
static ssize_t tls_fill(conn *c, buf *b) {
    size_t end = buf_end(b);
    ERR_clear_error();
    int r = SSL_read(c->ssl, b->data + end, (int)(JC_PROXY_BUF - end));
    c->r_want_w = false;
    if (r > 0) {
        b->len += (size_t)r;
        return r;
    }
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: return -1;
    case SSL_ERROR_WANT_WRITE: c->r_want_w = true; return -1;
    case SSL_ERROR_ZERO_RETURN: /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */ return 0;
    default: return -2;
    }
}

static int tls_flush(conn *c, buf *b, uint64_t *counter) {
    c->w_want_r = false;
    while (b->len > 0) {
        ERR_clear_error();
        int w = SSL_write(c->ssl, b->data + b->start, (int)b->len);
        if (w <= 0) {
            int e = SSL_get_error(c->ssl, w);
            if (e == SSL_ERROR_WANT_WRITE)
                return 0;
            if (e == SSL_ERROR_WANT_READ) {
                c->w_want_r = true;
                return 0;
            }
            return -2;
        }
        b->start += (size_t)w;
        b->len -= (size_t)w;
        *counter += (uint64_t)w;
    }
    b->start = 0;
    return 0;
}

/* Move what can move between the TLS session and the buffers. OpenSSL may hold decrypted
 * bytes the socket no longer shows as readable, so read until it asks to wait (or the
 * buffer is full: the job's side calls this again once it drains). -2: upstream broke. */
static int tls_pump(conn *c) {
    while (!c->u_eof && c->u2c.len < JC_PROXY_BUF) {
        ssize_t r = tls_fill(c, &c->u2c);
        if (r == -2)
            return -2;
        if (r == -1)
            break;
        if (r == 0)
            c->u_eof = true;
        else
            c->answered = true;
    }
    if (c->c2u.len > 0 && tls_flush(c, &c->c2u, &c->p->stats->bytes_up) < 0)
        return -2;
    if (c->ssl_shut)
        tls_shutdown(c);
    return 0;
}

/* tls_pump, then pass what came to the job; again while OpenSSL holds decrypted bytes of a
 * record the buffer had no room for (the socket will not wake us for those; one more round
 * takes the rest of the record). -2: the upstream broke; -3: the job's side broke. */
static int tls_move(conn *c) {
    for (int i = 0; i < 4; i++) {
        if (tls_pump(c) < 0)
            return -2;
        if (c->u2c.len > 0 && flush(c->cfd, &c->u2c, &c->p->stats->bytes_down) < 0)
            return -3;
        if (c->u_eof || c->u2c.len > 0 || SSL_pending(c->ssl) == 0)
            break;
    }
    return 0;
}

static void on_client(jc_watch *w, int fd, uint32_t ev, void *data) {
    (void)w;
    conn *c = data;
    if (ev & EPOLLERR) {
        conn_close(c);
        return;
    }
    if ((ev & (EPOLLIN | EPOLLHUP)) && !c->c_eof && c->c2u.len < JC_PROXY_BUF) {
        ssize_t r = fill(fd, &c->c2u);
        if (r == -2) {
            conn_close(c);
            return;
        }
        if (r == 0)
            c->c_eof = true;
        if (c->refusing)
            c->c2u.len = 0; /* nobody upstream: drop the request */
    }
    if ((ev & EPOLLOUT) && c->u2c.len > 0 && flush(fd, &c->u2c, &c->p->stats->bytes_down) < 0) {
        conn_close(c);
        return;
    }
    /* forward at once rather than on the next turn */
    if (c->ssl && !c->handshaking) {
        int m = tls_move(c);
        if (m == -3) {
            conn_close(c);
            return;
        }
        if (m == -2) {
            refuse(c);
            settle(c);
            return;
        }
    } else if (!c->ssl && c->ufd >= 0 && !c->connecting && c->c2u.len > 0 &&
               flush(c->ufd, &c->c2u, &c->p->stats->bytes_up) < 0) {
        conn_close(c);
        return;
    }
    settle(c);
}

static void on_upstream(jc_watch *w, int fd, uint32_t ev, void *data) {
    (void)w;
    conn *c = data;
    if (c->connecting) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
            refuse(c);
            settle(c);
            return;
        }
        if (!(ev & EPOLLOUT)) {
            settle(c);
            return;
        }
        c->connecting = false;
        if (c->p->tls && tls_start(c) < 0) {
            jc_log(JC_LOG_WARN, "runtime API TLS setup failed", "host", c->p->tls_host, NULL);
            refuse(c);
            settle(c);
            return;
        }
    }
    if (c->ssl) {
        if (c->handshaking && tls_handshake(c) < 0) {
            refuse(c);
            settle(c);
            return;
        }
        int m = c->handshaking ? 0 : tls_move(c);
        if (m == -3) {
            conn_close(c);
            return;
        }
        if (m == -2)
            refuse(c);
        settle(c);
        return;
    }
    if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->u_eof && c->u2c.len < JC_PROXY_BUF) {
        ssize_t r = fill(fd, &c->u2c);
        if (r == -2) {
            refuse(c);
            settle(c);
            return;
        }
        if (r > 0)
            c->answered = true;
        if (r == 0)
            c->u_eof = true;
    } else if ((ev & EPOLLERR)) {
        refuse(c);
        settle(c);
        return;
    }
    if (c->c2u.len > 0 && flush(fd, &c->c2u, &c->p->stats->bytes_up) < 0) {
        refuse(c);
        settle(c);
        return;
    }
    if (c->u2c.len > 0 && flush(c->cfd, &c->u2c, &c->p->stats->bytes_down) < 0) {
        conn_close(c);
        return;
    }
    settle(c);
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void on_accept(jc_watch *w, int fd, uint32_t ev, void *data) {
    (void)w;
    (void)ev;
    jc_proxy *p = data;
    for (int i = 0; i < 16; i++) { /* bounded: a job cannot starve the loop */
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return; /* EAGAIN, or an error the next event will show again */
        if (p->n >= p->max) {
            char resp[512];
            int n = error_response(resp, sizeof(resp), busy_body);
            if (n > 0)
                (void)!send(cfd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            shutdown(cfd, SHUT_WR);
            close(cfd);
            p->stats->refused++;
            continue;
        }
        conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(cfd);
            continue;
        }
        c->p = p;
        c->cfd = cfd;
        c->ufd = -1;
        c->next = p->conns;
        if (p->conns)
            p->conns->prev = c;
        p->conns = c;
        p->n++;
        p->stats->accepted++;
        nodelay(cfd);
        int ufd = socket(p->up.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ufd >= 0) {
            nodelay(ufd);
            c->ufd = ufd;
            if (connect(ufd, (struct sockaddr *)&p->up, p->uplen) == 0)
                c->connecting = false;
            else if (errno == EINPROGRESS)
                c->connecting = true;
            else
                refuse(c);
        } else {
            refuse(c);
        }
        settle(c);
    }
}

jc_proxy *jc_proxy_new(jc_loop *loop, int listen_fd, const struct sockaddr *upstream,
                       socklen_t upstream_len, unsigned max_conns, jc_proxy_stats *stats,
                       jc_err *err) {
    if (upstream_len > sizeof(struct sockaddr_storage)) {
        jc_err_set(err, JC_E_INVALID, "proxy: upstream address too long");
        return NULL;
    }
    jc_proxy *p = calloc(1, sizeof(*p));
    if (!p) {
        jc_err_sys(err, ENOMEM, "proxy: allocate");
        return NULL;
    }
    p->loop = loop;
    p->lfd = listen_fd;
    memcpy(&p->up, upstream, upstream_len);
    p->uplen = upstream_len;
    p->max = max_conns ? max_conns : JC_PROXY_MAX_CONNS;
    p->stats = stats ? stats : &p->own_stats;
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
    /* on a dup: the listener belongs to the sandbox engine, which closes it */
    p->lw = jc_loop_watch_dup(loop, listen_fd, EPOLLIN, on_accept, p, err);
    if (!p->lw) {
        free(p);
        return NULL;
    }
    return p;
}

void jc_proxy_free(jc_proxy *p) {
    if (!p)
        return;
    while (p->conns)
        conn_close(p->conns);
    jc_watch_remove(p->lw);
    SSL_CTX_free(p->tls);
    free(p);
}

SSL_CTX *jc_proxy_tls_ctx(const char *ca_file, jc_err *err) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        jc_err_set(err, JC_E_INTERNAL, "TLS: cannot create a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    ERR_clear_error();
    int ok = ca_file && *ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                                 : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        char why[256];
        ERR_error_string_n(ERR_get_error(), why, sizeof(why));
        if (ca_file && *ca_file)
            jc_err_set(err, JC_E_CONFIG, "runtime_ca_file %s: cannot load: %s", ca_file, why);
        else
            jc_err_set(err, JC_E_CONFIG, "TLS: cannot load the system CA store: %s", why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int jc_proxy_set_tls(jc_proxy *p, SSL_CTX *ctx, const char *host, jc_err *err) {
    if (!ctx || !host || !*host || strlen(host) >= sizeof(p->tls_host))
        return jc_err_set(err, JC_E_INVALID, "proxy: bad TLS host");
    if (SSL_CTX_up_ref(ctx) != 1)
        return jc_err_set(err, JC_E_INTERNAL, "proxy: TLS context");
    SSL_CTX_free(p->tls);
    p->tls = ctx;
    snprintf(p->tls_host, sizeof(p->tls_host), "%s", host);
    return 0;
}

unsigned jc_proxy_conns(const jc_proxy *p) {
    return p->n;
}
