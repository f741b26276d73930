/* 23. Raw socket (AF_PACKET, SOCK_RAW) → EPERM. */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../probe.h"

int main(void) {
    probe_begin(23, "raw-socket");
    EXPECT_FAIL("socket(AF_PACKET, SOCK_RAW)",
                socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)), EPERM);
    EXPECT_FAIL("socket(AF_PACKET, SOCK_DGRAM)",
                socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL)), EPERM);
    EXPECT_FAIL("socket(AF_INET, SOCK_RAW, ICMP)",
                socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP), EPERM);
    EXPECT_FAIL("socket(AF_INET6, SOCK_RAW, RAW)",
                socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW), EPERM);
    return probe_end();
}
