/* 25. Connect to a TCP port listening on the host's 127.0.0.1 (the runner opened it and
 * passes its port) → ECONNREFUSED/ENETUNREACH: the job's loopback is its own. */
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
    return probe_end();
}
