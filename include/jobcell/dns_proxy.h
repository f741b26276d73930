/* dns_proxy.h: the name resolver an egress job talks to.
 *
 * An egress job's /etc/resolv.conf names one address: the host end of its veth pair. The
 * orchestrator (or `jobcell run`) answers DNS there with this proxy, which
 *
 *   - resolves only the host names of the job's allow-list (exact match, ASCII case
 *     insensitive; no wildcards): every other name gets NXDOMAIN without any upstream
 *     resolver seeing it, so a job cannot use DNS to reach a name, or to leak data in
 *     query names, beyond what its owner allowed;
 *   - forwards only A and AAAA questions to the upstream resolvers (random query id and
 *     source port per forwarded query, the answer matched by id, question and upstream
 *     address; a silent upstream is retried on the next one, and after
 *     JC_DNS_QUERY_DEADLINE_MS the job gets SERVFAIL); every other type for an allowed
 *     name is answered NODATA locally (NOERROR, no records): TXT, SRV, HTTPS/SVCB… would
 *     hand the job further names and addresses that the allow-list never named;
 *   - accepts from an answer only the CNAME chain that starts at the asked name and the
 *     A/AAAA records of the names on that chain; everything else in the answer (records of
 *     unrelated names, authority and additional sections, EDNS options) is dropped;
 *   - for each accepted address calls the job's jc_dns_allow_cb with the record's TTL
 *     clamped to [JC_DNS_TTL_MIN, JC_DNS_TTL_MAX], BEFORE the answer reaches the job, so the
 *     address is in the job's allow set by the time the job can connect to it;
 *   - answers the job with a rebuilt minimal message (question, chain, accepted addresses,
 *     TTLs clamped the same way, at most 512 bytes), never the upstream's bytes.
 *
 * The proxy serves UDP and TCP on each job's listen address. Its state is bounded: at most
 * JC_DNS_MAX_PENDING_PER_JOB forwarded queries in flight per job and JC_DNS_MAX_PENDING
 * overall (over that: SERVFAIL at once), at most JC_DNS_MAX_TCP_PER_JOB TCP clients per
 * job. Every byte from a job or an upstream is treated as hostile.
 *
 * Two ways to run it:
 *   - in an event loop (the orchestrator): watch jc_dns_proxy_fd() for reading (one fd
 *     that never changes for the proxy's life, whatever jobs come and go), call
 *     jc_dns_proxy_handle() when it is readable and when jc_dns_proxy_next_timeout_ms()
 *     has passed;
 *   - on a thread of its own (`jobcell run`): jc_dns_proxy_start_thread() /
 *     jc_dns_proxy_stop_thread().
 * All functions may be called from any thread (one mutex inside). The callback runs on the
 * thread that handles, with that mutex held: it must not call back into the proxy, and
 * once jc_dns_proxy_remove_job() has returned it is never called again for that job (so
 * its ctx may be freed then). Lock order: a caller must not hold a lock that its callback
 * takes while it calls jc_dns_proxy_add_job/remove_job/free (the callback may be waiting
 * for that lock with the proxy's mutex held: a deadlock). */
#ifndef JOBCELL_DNS_PROXY_H
#define JOBCELL_DNS_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "jobcell/error.h"

#define JC_DNS_TTL_MIN 5U    /* seconds: an address stays allowed at least this long */
#define JC_DNS_TTL_MAX 3600U /* seconds: and at most this long without a new lookup */
#define JC_DNS_MAX_UPSTREAMS 8
#define JC_DNS_MAX_NAMES 256 /* allowed names per job */
#define JC_DNS_MAX_PENDING_PER_JOB 64
#define JC_DNS_MAX_PENDING 1024
#define JC_DNS_MAX_TCP_PER_JOB 8
#define JC_DNS_TRY_TIMEOUT_MS 1000    /* one upstream's time to answer */
#define JC_DNS_QUERY_DEADLINE_MS 3000 /* a job's query, all tries together */

typedef struct jc_dns_proxy jc_dns_proxy;

/* Called for every address accepted from an answer: family AF_INET (addr: 4 bytes,
 * network order) or AF_INET6 (16 bytes); name is the allow-list name the job asked for
 * (lowercase, as given to jc_dns_proxy_add_job), so that a caller with per-name ports
 * knows which entry the address belongs to; ttl_s is already clamped. The same address
 * may be reported again on every lookup: the caller refreshes its timeout. */
typedef void (*jc_dns_allow_cb)(void *ctx, const char *name, int family, const void *addr,
                                uint32_t ttl_s);

/* A proxy forwarding to these upstream resolvers (1 … JC_DNS_MAX_UPSTREAMS, AF_INET or
 * AF_INET6 with their port, tried in order). Owned: jc_dns_proxy_free. */
jc_dns_proxy *jc_dns_proxy_new(const struct sockaddr_storage *upstreams, size_t n_upstreams,
                               jc_err *err);
/* Stop the thread if running, close every socket, drop every pending query. NULL is fine. */
void jc_dns_proxy_free(jc_dns_proxy *p);

/* Serve one job: bind UDP and TCP on listen_addr (the host end of the job's veth, port 53;
 * the address must already be configured), resolve only allowed_names (NULL-terminated,
 * each a host name of at most 253 bytes; a trailing dot is ignored; at most
 * JC_DNS_MAX_NAMES; none at all is valid: every query then gets NXDOMAIN). job_key is
 * unique among the proxy's jobs (the execution id). cb may be NULL. */
int jc_dns_proxy_add_job(jc_dns_proxy *p, const char *job_key, const struct sockaddr *listen_addr,
                         const char *const *allowed_names, jc_dns_allow_cb cb, void *ctx,
                         jc_err *err);
/* Stop serving a job: close its sockets, forget its pending queries. Unknown key: no-op. */
void jc_dns_proxy_remove_job(jc_dns_proxy *p, const char *job_key);

/* Event-loop mode. The fd to watch for EPOLLIN/POLLIN (owned by the proxy). */
int jc_dns_proxy_fd(const jc_dns_proxy *p);
/* Serve everything that is ready and expire what is overdue; never blocks. */
void jc_dns_proxy_handle(jc_dns_proxy *p);
/* Milliseconds until jc_dns_proxy_handle() must run again for a timeout; -1: none. */
int jc_dns_proxy_next_timeout_ms(jc_dns_proxy *p);

/* Thread mode: a thread that runs the loop above until stopped. */
int jc_dns_proxy_start_thread(jc_dns_proxy *p, jc_err *err);
/* Stop and join the thread; no-op when not running. */
void jc_dns_proxy_stop_thread(jc_dns_proxy *p);

/* Counters of one job (job_key) or of the whole proxy (job_key NULL). */
typedef struct jc_dns_stats {
    uint64_t queries;   /* well-formed queries received from the job */
    uint64_t refused;   /* names outside the allow-list (answered NXDOMAIN) */
    uint64_t nodata;    /* allowed names, types other than A/AAAA */
    uint64_t forwarded; /* sent to an upstream (retries included) */
    uint64_t answered;  /* upstream answers relayed */
    uint64_t servfail;  /* upstream silent, broken or over the pending limit */
    uint64_t formerr;   /* malformed queries */
    uint64_t addresses; /* callback calls */
} jc_dns_stats;
int jc_dns_proxy_stats(jc_dns_proxy *p, const char *job_key, jc_dns_stats *out, jc_err *err);

/* ---- upstream resolvers ------------------------------------------------------------- */

/* One resolver address: "192.0.2.53", "192.0.2.53:5353", "2001:db8::53",
 * "[2001:db8::53]:5353" (default port 53). */
int jc_dns_upstream_parse(const char *text, struct sockaddr_storage *out, jc_err *err);

/* The `nameserver` lines of a resolv.conf file, in order, at most max. Loopback addresses
 * (127.0.0.0/8, ::1) are skipped: a local stub (systemd-resolved's 127.0.0.53, dnsmasq)
 * answers from host-local sources (/etc/hosts, LLMNR/mDNS, per-link internal zones) that
 * a job must not see. Returns the number found (0 is possible), -1 on a read error. */
int jc_dns_upstreams_from_resolv_conf(const char *path, struct sockaddr_storage *out, size_t max,
                                      jc_err *err);
/* The default when `egress.resolvers` is not set: the non-loopback nameservers of
 * /etc/resolv.conf, else those of /run/systemd/resolve/resolv.conf (the real upstreams
 * behind systemd-resolved's stub). None at all is a JC_E_CONFIG error that names the key
 * to set. Returns the number found. */
int jc_dns_upstreams_default(struct sockaddr_storage *out, size_t max, jc_err *err);

/* A proxy for the configuration's resolver list (`egress.resolvers`, `jobcell run --dns`):
 * each text parsed by jc_dns_upstream_parse, or when n is 0 jc_dns_upstreams_default().
 * Errors name the bad entry. Owned: jc_dns_proxy_free. */
jc_dns_proxy *jc_dns_proxy_new_from_text(const char *const *resolvers, size_t n, jc_err *err);

/* The text of the job's /etc/resolv.conf naming resolver (its port must be 53: the C
 * library cannot be told another). Returns 0, or -1 when buf is too small. */
int jc_dns_resolv_conf_text(const struct sockaddr *resolver, char *buf, size_t len, jc_err *err);

#endif
