/* 25. Connect to a TCP port listening on the host's 127.0.0.1 (the runner opened it and
 * passes its port) → ECONNREFUSED/ENETUNREACH: the job's loopback is its own. Likewise the
 * host's abstract unix socket @jc-hostmark-<tag>: abstract names are per network
 * namespace, so the job's connect finds nothing (ECONNREFUSED). */
#include <stddef.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../probe.h"

int main(void) {
    probe_begin(25, "host-loopback");
    const char *port = getenv("JC_PROBE_PORT");
    if (!port || atoi(port) <= 0) {
        probe_escape("JC_PROBE_PORT not set: no host listener to try");
        return probe_end();
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        probe_expect_fail("socket(AF_INET)", -1, errno, EPERM, 0);
        return probe_end();
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char what[64];
    snprintf(what, sizeof(what), "connect 127.0.0.1:%s", port);
    EXPECT_FAIL(what, connect(fd, (struct sockaddr *)&a, sizeof(a)), ECONNREFUSED, ENETUNREACH);
    close(fd);
    const char *tag = getenv("JC_PROBE_TAG");
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!tag || fd < 0) {
        probe_escape("no JC_PROBE_TAG or no unix socket (%s)", errno_name(errno));
        return probe_end();
    }
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    int n = snprintf(u.sun_path + 1, sizeof(u.sun_path) - 1, "jc-hostmark-%s", tag);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    EXPECT_FAIL("connect the host's abstract socket", connect(fd, (struct sockaddr *)&u, len),
                ECONNREFUSED);
    close(fd);
    return probe_end();
}
