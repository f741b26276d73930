/* egress_net.h: the host side of egress jobs' networks (docs/networking.md).
 *
 * A job with `network: "egress"` gets, in the network namespace the sandbox made for it:
 *   - one veth pair: "eth0" inside, "jcv<N>" on the host (N = its lease in the pool);
 *   - a /30 of the pool: <net>+1 on the host end (its gateway and DNS resolver), <net>+2
 *     on eth0, and a default route via the host end. Routed, no bridge: two jobs share no
 *     link, and the policy below drops every packet from one job's subnet to another's;
 *   - one chain "j<N>" in the nftables table `inet jobcell`, reached from the forward and
 *     input hooks through the verdict map `jobs` keyed by the veth's name, created and
 *     removed in one transaction each, holding in this order: drop spoofed sources; accept
 *     replies; accept DNS to the host end; drop the host's own addresses, 127/8,
 *     169.254/16, 0/8, multicast, the whole pool, egress.deny_always, RFC 1918, 100.64/10
 *     and IPv6 ULA/link-local (minus egress.allow_private); accept the job's allow-list
 *     (addresses directly, host names through per-entry sets that DNS answers fill for
 *     the record's TTL); drop the rest. Every drop counts in the named counter "d<N>".
 *   - NAT (masquerade) of whatever leaves the host by another interface.
 *
 * Leases of the pool are shared by every jobcell process on the host (the orchestrator,
 * any number of `jobcell run`): a lease file under the state directory, changed only
 * under flock(2), records each lease with its owner's pid and start time, so a lease
 * whose owner died is found and reclaimed by jc_egress_reconcile.
 *
 * Thread-safe: one mutex inside (the DNS forwarder adds addresses from its own thread). */
#ifndef JOBCELL_EGRESS_NET_H
#define JOBCELL_EGRESS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobcell/egress_spec.h"
#include "jobcell/error.h"

#define JC_EGRESS_DEFAULT_POOL "100.96.0.0/16"
#define JC_EGRESS_DEFAULT_STATE_DIR "/run/jobcell/egress"

typedef struct jc_egress_config {
    const char *pool;      /* IPv4 network, prefix 8…30; NULL = JC_EGRESS_DEFAULT_POOL */
    const char *state_dir; /* NULL = JC_EGRESS_DEFAULT_STATE_DIR */
    /* Private ranges (inside 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) that jobs
     * may reach when their own allow-list names them. */
    const jc_egress_rule *allow_private;
    size_t n_allow_private;
    /* Networks no job may reach, whatever its allow-list says (the API server's address
     * belongs here; the orchestrator adds it itself). */
    const jc_egress_rule *deny_always;
    size_t n_deny_always;
    /* DNS forwarders for the jobs ("192.0.2.53", "[2001:db8::53]:5353"); none = the
     * nameservers of /etc/resolv.conf. */
    const char *const *resolvers;
    size_t n_resolvers;
    /* How the DNS forwarder runs: on a thread of its own (`jobcell run`), in the caller's
     * event loop (jc_egress_dns_fd / jc_egress_dns_handle), or not at all (cleanup only:
     * jobs would then resolve nothing). */
    enum { JC_EGRESS_DNS_THREAD = 0, JC_EGRESS_DNS_LOOP, JC_EGRESS_DNS_NONE } dns_mode;
} jc_egress_config;

typedef struct jc_egress jc_egress;
typedef struct jc_egress_net jc_egress_net;

/* Check the configuration, create the state directory and the base of the nftables table
 * (idempotent; other processes' job chains are left alone). Fails with a clear error
 * when IPv4 forwarding is off or nftables is unusable. Owned: jc_egress_free. */
jc_egress *jc_egress_new(const jc_egress_config *cfg, jc_err *err);
void jc_egress_free(jc_egress *eg);

/* Event-loop mode (JC_EGRESS_DNS_LOOP): the fd to watch for reading, the call to make
 * when it is readable, and the milliseconds until that call is due anyway (-1: none). */
int jc_egress_dns_fd(const jc_egress *eg);
void jc_egress_dns_handle(jc_egress *eg);
int jc_egress_dns_timeout_ms(jc_egress *eg);

/* Remove what dead owners left: for each lease whose process is gone, its veth (the
 * routes go with it), its nftables chain, sets and counter, and the lease; then any
 * jcv* link and j<N> chain that no lease covers. Goes on after a failure. */
int jc_egress_reconcile(jc_egress *eg, jc_err *err);

/* Leases free now (a hint: another process may take one before you do). */
int64_t jc_egress_pool_free(jc_egress *eg, jc_err *err);

/* Give the job whose namespaces' first process is pid its network: lease, policy, veth,
 * addresses, route. Call before the job runs a single instruction. JC_E_UNAVAILABLE when
 * the pool is exhausted. Everything made is undone on failure. */
jc_egress_net *jc_egress_net_setup(jc_egress *eg, const char *exe_id, pid_t pid,
                                   const jc_egress_rule *allow, size_t n_allow, jc_err *err);
/* The same in two halves, so that the costly half runs before the sandbox's clone (the
 * parent's pages are shared copy-on-write with the clone child until it execs, and each
 * page written then costs a fault): prepare takes the lease and installs the policy (it
 * needs no namespace: the dispatch is by the veth's name); attach creates the veth in the
 * namespace of pid, the addresses, the route and the resolver. After a failed attach,
 * call teardown. */
jc_egress_net *jc_egress_net_prepare(jc_egress *eg, const char *exe_id, const jc_egress_rule *allow,
                                     size_t n_allow, jc_err *err);
int jc_egress_net_attach(jc_egress_net *net, pid_t pid, jc_err *err);
/* "nameserver <host end>\noptions …\n" for the job's /etc/resolv.conf. */
const char *jc_egress_net_resolv_conf(const jc_egress_net *net);
/* The job's address and its gateway (= resolver), dotted quads. */
const char *jc_egress_net_job_addr(const jc_egress_net *net);
const char *jc_egress_net_host_addr(const jc_egress_net *net);
/* Allow the addresses a DNS answer gave for host name `name` (lower case) for ttl_s
 * seconds, on the ports of every allow-list entry with that name. */
int jc_egress_net_allow_resolved(jc_egress_net *net, const char *name, int family, const void *addr,
                                 uint32_t ttl_s, jc_err *err);
/* Packets the policy dropped so far (the counter), or -1 with err. */
int64_t jc_egress_net_denied(jc_egress_net *net, jc_err *err);
/* Remove the veth, the chain and the lease; *denied (may be NULL) gets the final count
 * (-1 when it could not be read). Frees net, even on failure. NULL is fine. */
int jc_egress_net_teardown(jc_egress_net *net, int64_t *denied, jc_err *err);

#endif
