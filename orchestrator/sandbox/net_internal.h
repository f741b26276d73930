/* net_internal.h: what the egress network modules share (private to orchestrator/sandbox/).
 *
 * net.c        the egress object, pool leases, one job's network, reconciliation
 * net_policy.c the nftables side: the base table, a job's chain, its removal
 * net_rtnl.c   links, addresses and routes over rtnetlink */
#ifndef JOBCELL_SANDBOX_NET_INTERNAL_H
#define JOBCELL_SANDBOX_NET_INTERNAL_H

#include <libmnl/libmnl.h>
#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobcell/dns_proxy.h"
#include "jobcell/egress_net.h"

struct nft_ctx;

#define TABLE "inet jobcell"
#define VETH_PREFIX "jcv"
#define PEER_PREFIX "jcp" /* the job's end, until it moves into the job's namespace */
#define JOB_IFNAME "eth0"
/* A refused packet gets an ICMP "administratively prohibited" back: the job's connect()
 * fails at once (EHOSTUNREACH) instead of hanging until its own timeout. */
#define REFUSE "reject with icmpx admin-prohibited"
#define SET_SIZE 1024 /* addresses one host-name entry may collect */
#define NL_BUF 8192   /* one rtnetlink message (MNL_SOCKET_BUFFER_SIZE is not a constant) */

struct jc_egress {
    pthread_mutex_t lock;
    uint32_t pool_base; /* host order */
    unsigned pool_prefix;
    uint32_t n_leases; /* /30s in the pool */
    char pool_text[32];
    char *state_dir;
    char *lock_path;
    char *lease_path;
    struct nft_ctx *nft; /* in this process: only when the helper could not be started */
    int nft_fd;          /* the nftables helper process (jc_net_nft_start), -1: none */
    pid_t nft_pid;
    struct mnl_socket *nl; /* rtnetlink in the host's namespace */
    uint32_t nl_seq;
    char *deny_v4, *deny_v6;       /* nft set bodies: always denied */
    char *private_v4, *private_v6; /* private ranges */
    char *priv_ok_v4, *priv_ok_v6; /* egress.allow_private ("" when none) */
    /* The jobs' resolver. Its callback takes `lock`: never call into the proxy with
     * `lock` held (dns_proxy.h's lock order). */
    jc_dns_proxy *dns;
};

struct jc_egress_net {
    jc_egress *eg;
    uint32_t index;
    char exe_id[64];
    char veth[IFNAMSIZ];
    char peer[IFNAMSIZ];
    char host_addr[INET_ADDRSTRLEN], job_addr[INET_ADDRSTRLEN];
    char resolv[128];
    bool dns_added;
    jc_egress_rule *allow; /* copy: host-name entries are matched by DNS answers */
    size_t n_allow;
};

/* net.c: flock the pool's lock file; returns the fd (close to unlock). */
int jc_net_pool_lock(jc_egress *eg, jc_err *err);

/* net_policy.c */
/* "a/n, b/m" of the networks of one kind after `fixed` (owned; "" when none). */
char *jc_net_set_body(const jc_egress_rule *rules, size_t n, jc_egress_kind kind,
                      const char *fixed);
/* Start the nftables helper: a process forked now, before any sandbox, that runs every
 * nftables command for this one. Why: each clone of a sandbox leaves every page of this
 * process write-protected (copy-on-write), so the next write to each page faults and, in
 * a VM, flushes other CPUs' TLBs; libnftables writes hundreds of pages per command, which
 * cost 10-20 ms per job in-process against under 1 ms in a process that never clones. */
int jc_net_nft_start(jc_egress *eg, jc_err *err);
/* Stop it (EOF on its socket) and reap it. */
void jc_net_nft_stop(jc_egress *eg);
/* One nftables transaction; with out, nft's JSON output (owned). */
int jc_net_nft_run(jc_egress *eg, const char *cmd, char **out, jc_err *err);
/* The table, its dispatch map and base chains, once (under the pool lock). */
int jc_net_policy_base(jc_egress *eg, jc_err *err);
/* A job's whole policy as one transaction's text (owned). */
char *jc_net_policy_text(const jc_egress_net *net);
/* Remove a job's policy; allow NULL when its allow-list is unknown (reconciliation). */
int jc_net_policy_remove(jc_egress *eg, uint32_t i, const jc_egress_rule *allow, size_t n_allow,
                         jc_err *err);
/* Indexes of the j<N> chains in the table (owned array). */
int jc_net_policy_job_chains(jc_egress *eg, uint32_t **out, size_t *n, jc_err *err);

/* net_rtnl.c: each call one request and its acknowledgement. */
typedef struct jc_net_link_list {
    char (*names)[IFNAMSIZ];
    size_t n, cap;
} jc_net_link_list;
struct mnl_socket *jc_net_nl_open(jc_err *err);
int jc_net_nl_add_veth(struct mnl_socket *nl, uint32_t *seq, const char *host,
                       const char *peer_name, jc_err *err);
/* Move link ifindex into the namespace of netns_fd, renamed new_name there. */
int jc_net_nl_move_link(struct mnl_socket *nl, uint32_t *seq, int ifindex, int netns_fd,
                        const char *new_name, jc_err *err);
int jc_net_nl_del_link(struct mnl_socket *nl, uint32_t *seq, const char *name, jc_err *err);
int jc_net_nl_link_up(struct mnl_socket *nl, uint32_t *seq, int ifindex, jc_err *err);
int jc_net_nl_add_addr(struct mnl_socket *nl, uint32_t *seq, int ifindex, uint32_t addr,
                       unsigned prefix, jc_err *err);
int jc_net_nl_default_route(struct mnl_socket *nl, uint32_t *seq, int ifindex, uint32_t gateway,
                            jc_err *err);
/* Names of this namespace's jcv* links. */
int jc_net_nl_list_veths(struct mnl_socket *nl, uint32_t *seq, jc_net_link_list *out, jc_err *err);

#endif
