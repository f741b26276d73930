/* net_rtnl.c: links, addresses and routes of egress networks over rtnetlink (libmnl). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "net_internal.h"

/* ---- rtnetlink ------------------------------------------------------------------------- */

/* Send one request and wait for its ACK (or error). */
static int nl_talk(struct mnl_socket *nl, uint32_t *seq, struct nlmsghdr *nlh, const char *what,
                   jc_err *err) {
    nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = ++*seq;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return jc_err_sys(err, errno, "network: %s", what);
    char buf[NL_BUF];
    for (int tries = 0; tries < 8; tries++) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return jc_err_sys(err, errno, "network: %s", what);
        int rc = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL);
        if (rc == MNL_CB_ERROR)
            return jc_err_sys(err, errno, "network: %s", what);
        if (rc == MNL_CB_STOP)
            return 0;
    }
    return jc_err_set(err, JC_E_SYS, "network: %s: no answer from the kernel", what);
}

struct mnl_socket *jc_net_nl_open(jc_err *err) {
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl) {
        jc_err_sys(err, errno, "network: open rtnetlink");
        return NULL;
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        jc_err_sys(err, errno, "network: bind rtnetlink");
        mnl_socket_close(nl);
        return NULL;
    }
    return nl;
}

/* veth pair: `host` and `peer`, both in this namespace. */
int jc_net_nl_add_veth(struct mnl_socket *nl, uint32_t *seq, const char *host,
                       const char *peer_name, jc_err *err) {
    char buf[NL_BUF];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
    pifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    return nl_talk(nl, seq, nlh, "create the veth pair", err);
}

int jc_net_nl_move_link(struct mnl_socket *nl, uint32_t *seq, int ifindex, int netns_fd,
                        const char *new_name, jc_err *err) {
    char buf[NL_BUF];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = ifindex;
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, new_name);
    return nl_talk(nl, seq, nlh, "move the job's end of the veth into its namespace", err);
}

int jc_net_nl_del_link(struct mnl_socket *nl, uint32_t *seq, const char *name, jc_err *err) {
    char buf[NL_BUF];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_DELLINK;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    return nl_talk(nl, seq, nlh, "delete the veth", err);
}

int jc_net_nl_link_up(struct mnl_socket *nl, uint32_t *seq, int ifindex, jc_err *err) {
    char buf[NL_BUF];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = ifindex;
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    return nl_talk(nl, seq, nlh, "bring the link up", err);
}

int jc_net_nl_add_addr(struct mnl_socket *nl, uint32_t *seq, int ifindex, uint32_t addr,
                       unsigned prefix, jc_err *err) {
    char buf[NL_BUF];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWADDR;
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)ifindex;
    uint32_t be = htonl(addr);
    mnl_attr_put_u32(nlh, IFA_LOCAL, be);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, be);
    return nl_talk(nl, seq, nlh, "add an address", err);
}

int jc_net_nl_default_route(struct mnl_socket *nl, uint32_t *seq, int ifindex, uint32_t gateway,
                            jc_err *err) {
    char buf[NL_BUF];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWROUTE;
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = AF_INET;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
    return nl_talk(nl, seq, nlh, "add the default route", err);
}

static int collect_link(const struct nlmsghdr *nlh, void *data) {
    jc_net_link_list *l = data;
    struct nlattr *attr;
    mnl_attr_for_each(attr, nlh, sizeof(struct ifinfomsg)) {
        if (mnl_attr_get_type(attr) != IFLA_IFNAME || mnl_attr_validate(attr, MNL_TYPE_STRING) < 0)
            continue;
        const char *name = mnl_attr_get_str(attr);
        if (strncmp(name, VETH_PREFIX, strlen(VETH_PREFIX)) != 0)
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            void *p = realloc(l->names, cap * sizeof(*l->names));
            if (!p)
                return MNL_CB_ERROR;
            l->names = p;
            l->cap = cap;
        }
        snprintf(l->names[l->n++], IFNAMSIZ, "%s", name);
    }
    return MNL_CB_OK;
}

int jc_net_nl_list_veths(struct mnl_socket *nl, uint32_t *seq, jc_net_link_list *out, jc_err *err) {
    char buf[NL_BUF];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++*seq;
    struct rtgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->rtgen_family = AF_UNSPEC;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return jc_err_sys(err, errno, "network: list links");
    for (int rounds = 0; rounds < 100000; rounds++) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return jc_err_sys(err, errno, "network: list links");
        int rc = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), collect_link,
                            out);
        if (rc == MNL_CB_ERROR)
            return jc_err_sys(err, errno, "network: list links");
        if (rc == MNL_CB_STOP)
            return 0;
    }
    return jc_err_set(err, JC_E_SYS, "network: list links: too many messages");
}
