/* 24. AF_NETLINK route socket to add an interface or address → EPERM. */
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include "../probe.h"

struct req {
    struct nlmsghdr nh;
    union {
        struct ifinfomsg ifi;
        struct ifaddrmsg ifa;
    } u;
    char attrs[256];
};

static void add_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len) {
    struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len)
        memcpy(RTA_DATA(rta), data, len);
    nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Send one request and return the kernel's answer as a negative errno (0 = accepted). */
static int request(int fd, struct req *r) {
    if (send(fd, r, r->nh.nlmsg_len, 0) < 0)
        return -errno;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0)
        return -errno;
    struct nlmsghdr *nh = (struct nlmsghdr *)buf;
    if (!NLMSG_OK(nh, (unsigned)n) || nh->nlmsg_type != NLMSG_ERROR)
        return -EPROTO;
    return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
}

static void expect_answer(const char *what, int answer) {
    if (answer == -EPERM)
        probe_note("%s: EPERM", what);
    else if (answer == 0)
        probe_escape("%s accepted by the kernel", what);
    else
        probe_escape("%s answered %s, expected EPERM", what, errno_name(-answer));
}

int main(void) {
    probe_begin(24, "netlink-route");
    errno = 0;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        probe_expect_fail("socket(AF_NETLINK, ROUTE)", -1, errno, EPERM, 0);
        return probe_end();
    }
    probe_note("socket(AF_NETLINK, ROUTE): opened");

    struct req r;
    memset(&r, 0, sizeof(r));
    r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r.nh.nlmsg_type = RTM_NEWLINK;
    r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    r.nh.nlmsg_seq = 1;
    r.u.ifi.ifi_family = AF_UNSPEC;
    add_attr(&r.nh, IFLA_IFNAME, "jcprobe0", 9);
    struct rtattr *linkinfo = (struct rtattr *)((char *)&r.nh + NLMSG_ALIGN(r.nh.nlmsg_len));
    add_attr(&r.nh, IFLA_LINKINFO, NULL, 0);
    add_attr(&r.nh, IFLA_INFO_KIND, "dummy", 6);
    linkinfo->rta_len = (unsigned short)((char *)&r.nh + r.nh.nlmsg_len - (char *)linkinfo);
    expect_answer("RTM_NEWLINK dummy jcprobe0", request(fd, &r));

    memset(&r, 0, sizeof(r));
    r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
    r.nh.nlmsg_type = RTM_NEWADDR;
    r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    r.nh.nlmsg_seq = 2;
    r.u.ifa.ifa_family = AF_INET;
    r.u.ifa.ifa_prefixlen = 24;
    r.u.ifa.ifa_index = if_nametoindex("lo");
    unsigned char addr[4] = {10, 77, 0, 1};
    add_attr(&r.nh, IFA_LOCAL, addr, 4);
    add_attr(&r.nh, IFA_ADDRESS, addr, 4);
    expect_answer("RTM_NEWADDR 10.77.0.1/24 on lo", request(fd, &r));
    close(fd);
    if (if_nametoindex("jcprobe0") != 0)
        probe_escape("interface jcprobe0 exists");
    return probe_end();
}
