#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jobcell/cleanup.h"
#include "orc_config.h"

#define REQ_MAX 4096
#define MAX_CLIENTS 32

typedef struct client client;
struct client {
    jc_admin *a;
    int fd;
    jc_watch *w;
    char req[REQ_MAX + 1];
    size_t len;
    char *out;
    size_t out_len, out_off;
    client *prev, *next;
};

struct jc_admin {
    jc_loop *loop;
    int lfd;
    jc_watch *lw;
    jc_admin_handler h;
    void *data;
    unsigned n;
    client *clients;
};

static void client_close(client *c) {
    jc_admin *a = c->a;
    jc_watch_remove(c->w);
    close(c->fd);
    free(c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        a->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->n--;
    free(c);
}

static void respond(client *c, int status, const char *ctype, const char *body) {
    const char *text = status == 200   ? "OK"
                       : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed"
                       : status == 503 ? "Service Unavailable"
                                       : "Bad Request";
    size_t bl = strlen(body);
    int n = asprintf(&c->out,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, text, ctype, bl, body);
    if (n < 0) {
        c->out = NULL;
        client_close(c);
        return;
    }
    c->out_len = (size_t)n;
    c->out_off = 0;
    jc_watch_set_events(c->w, EPOLLOUT, NULL);
}

static void handle(client *c) {
    char method[8], path[256];
    if (sscanf(c->req, "%7s %255s", method, path) != 2) {
        respond(c, 400, "text/plain", "bad request\n");
        return;
    }
    if (strcmp(method, "GET") != 0) {
        respond(c, 405, "text/plain", "only GET\n");
        return;
    }
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    const char *ctype = "text/plain";
    int status = 200;
    _cleanup_free_ char *body = c->a->h(c->a->data, path, &ctype, &status);
    if (!body)
        respond(c, 404, "application/json", "{\"error\":\"not_found\"}\n");
    else
        respond(c, status, ctype, body);
}

static void on_client(jc_watch *w, int fd, uint32_t ev, void *data) {
    (void)w;
    client *c = data;
    if (ev & EPOLLERR) {
        client_close(c);
        return;
    }
    if (c->out) {
        ssize_t n = send(fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            client_close(c);
            return;
        }
        if (n > 0)
            c->out_off += (size_t)n;
        if (c->out_off == c->out_len)
            client_close(c);
        return;
    }
    ssize_t n = read(fd, c->req + c->len, REQ_MAX - c->len);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = '\0';
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
        handle(c);
    else if (c->len == REQ_MAX)
        respond(c, 400, "text/plain", "request too large\n");
}

static void on_accept(jc_watch *w, int fd, uint32_t ev, void *data) {
    (void)w;
    (void)ev;
    jc_admin *a = data;
    for (int i = 0; i < 8; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        client *c = a->n < MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(cfd);
            continue;
        }
        c->a = a;
        c->fd = cfd;
        c->w = jc_loop_watch(a->loop, cfd, EPOLLIN, on_client, c, NULL);
        if (!c->w) {
            close(cfd);
            free(c);
            continue;
        }
        c->next = a->clients;
        if (a->clients)
            a->clients->prev = c;
        a->clients = c;
        a->n++;
    }
}

jc_admin *jc_admin_new(jc_loop *loop, const char *listen_addr, jc_admin_handler h, void *data,
                       jc_err *err) {
    char host[256], portstr[8];
    uint16_t port;
    if (jc_orc_split_hostport(listen_addr, host, sizeof(host), &port, err) < 0)
        return NULL;
    snprintf(portstr, sizeof(portstr), "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0) {
        jc_err_set(err, JC_E_CONFIG, "admin_listen %s: %s", listen_addr, gai_strerror(rc));
        return NULL;
    }
    _cleanup_close_ int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        jc_err_sys(err, errno, "admin_listen %s", listen_addr);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    jc_admin *a = calloc(1, sizeof(*a));
    if (!a) {
        jc_err_sys(err, ENOMEM, "admin: allocate");
        return NULL;
    }
    a->loop = loop;
    a->h = h;
    a->data = data;
    a->lw = jc_loop_watch(loop, fd, EPOLLIN, on_accept, a, err);
    if (!a->lw) {
        free(a);
        return NULL;
    }
    a->lfd = steal_fd(&fd);
    return a;
}

int jc_admin_port(const jc_admin *a) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(a->lfd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void jc_admin_free(jc_admin *a) {
    if (!a)
        return;
    while (a->clients)
        client_close(a->clients);
    jc_watch_remove(a->lw);
    close(a->lfd);
    free(a);
}
