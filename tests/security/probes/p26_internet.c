/* 26. Reach the internet / any non-loopback address → ENETUNREACH. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../probe.h"

static void try4(const char *ip, int type, int port) {
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        probe_expect_fail("socket(AF_INET)", -1, errno, EPERM, 0);
        return;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    char what[96];
    snprintf(what, sizeof(what), "%s %s:%d", type == SOCK_STREAM ? "tcp connect" : "udp sendto", ip,
             port);
    if (type == SOCK_STREAM)
        EXPECT_FAIL(what, connect(fd, (struct sockaddr *)&a, sizeof(a)), ENETUNREACH);
    else
        EXPECT_FAIL(what, sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)), ENETUNREACH);
    close(fd);
}

static void try6(const char *ip, int port) {
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        probe_expect_fail("socket(AF_INET6)", -1, errno, EAFNOSUPPORT, EPERM, 0);
        return;
    }
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    char what[96];
    snprintf(what, sizeof(what), "tcp connect [%s]:%d", ip, port);
    EXPECT_FAIL(what, connect(fd, (struct sockaddr *)&a, sizeof(a)), ENETUNREACH);
    close(fd);
}

int main(void) {
    probe_begin(26, "internet");
    try4("1.1.1.1", SOCK_STREAM, 443);
    try4("8.8.8.8", SOCK_DGRAM, 53);
    try4("10.0.2.2", SOCK_STREAM, 22);        /* a typical VM host address */
    try4("172.17.0.1", SOCK_STREAM, 2375);    /* a typical container host and docker API */
    try4("169.254.169.254", SOCK_STREAM, 80); /* cloud metadata service */
    try6("2606:4700:4700::1111", 443);
    return probe_end();
}
