#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

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
    if (c->c_eof && c->c2u.len == 0 && !c->u_shut && !c->connecting) {
        if (c->ufd >= 0)
            shutdown(c->ufd, SHUT_WR);
        c->u_shut = true;
    }
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
        else {
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

/* Read from fd into b; returns bytes read, 0 on EOF, -1 on EAGAIN, -2 on error. */
static ssize_t fill(int fd, buf *b) {
    if (b->len == 0)
        b->start = 0;
    size_t end = b->start + b->len;
    if (end == JC_PROXY_BUF && b->start > 0) {
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
        end = b->len;
    }
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
    if (c->ufd >= 0 && !c->connecting && c->c2u.len > 0 &&
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
    free(p);
}

unsigned jc_proxy_conns(const jc_proxy *p) {
    return p->n;
}
