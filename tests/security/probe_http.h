/* probe_http.h: the smallest HTTP/1.1 client, for the probes that talk to the runtime API
 * through the sandbox's runtime socket (127.0.0.1:8081 inside). One request per
 * connection (Connection: close), the whole answer read into a static buffer. */
#ifndef JOBCELL_SECURITY_PROBE_HTTP_H
#define JOBCELL_SECURITY_PROBE_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "probe.h"

typedef struct http_answer {
    int status; /* 0 when no HTTP answer came */
    const char *body;
    char raw[65536];
} http_answer;

/* The first line of a file the runner bound in (/runtime/<name>), or "" when absent. */
static inline const char *runtime_file(const char *name) {
    static char v[4][8192];
    static int k;
    k = (k + 1) % 4;
    char p[128];
    snprintf(p, sizeof(p), "/runtime/%s", name);
    v[k][0] = '\0';
    FILE *f = fopen(p, "re");
    if (f) {
        if (!fgets(v[k], sizeof(v[k]), f))
            v[k][0] = '\0';
        fclose(f);
    }
    v[k][strcspn(v[k], "\r\n")] = '\0';
    return v[k];
}

/* Send method path (with the token when not NULL, and body when not NULL) to
 * 127.0.0.1:8081; the answer's status and body land in *a. */
static inline void http_request(http_answer *a, const char *method, const char *path,
                                const char *token, const char *body) {
    memset(a, 0, sizeof(*a));
    a->body = "";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(8081)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(a->raw, sizeof(a->raw), "connect: %s", errno_name(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    static char req[16384];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nConnection: close\r\n"
                     "Accept: application/json\r\n%s%s%s"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, token ? "Authorization: Bearer " : "", token ? token : "",
                     token ? "\r\n" : "", body ? strlen(body) : 0, body ? body : "");
    if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
        close(fd);
        return;
    }
    size_t len = 0;
    ssize_t k;
    while (len < sizeof(a->raw) - 1 && (k = read(fd, a->raw + len, sizeof(a->raw) - 1 - len)) > 0)
        len += (size_t)k;
    close(fd);
    a->raw[len] = '\0';
    if (sscanf(a->raw, "HTTP/1.%*d %d", &a->status) != 1)
        a->status = 0;
    const char *b = strstr(a->raw, "\r\n\r\n");
    a->body = b ? b + 4 : "";
}

#endif
