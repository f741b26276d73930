/* net.c: egress jobs' networks on the host — pool leases, nftables policy, veth pairs,
 * addresses and routes (jobcell/egress_net.h; the model is docs/networking.md).
 *
 * Links, addresses and routes go over rtnetlink (libmnl); the policy goes to nftables as
 * one text transaction per change (libnftables), so a job's chain, sets, counter and its
 * entry in the dispatch map appear and disappear together: there is no moment at which a
 * job's veth exists without its policy (the base chains drop anything from a jcv* link
 * the map does not know). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "jobcell/cleanup.h"
#include "jobcell/dns_proxy.h"
#include "jobcell/egress_net.h"
#include "jobcell/io.h"
#include "jobcell/log.h"

#include "net_internal.h"

/* ---- small helpers ---------------------------------------------------------------------- */

static void ipv4_text(uint32_t host_order, char *buf) {
    struct in_addr a = {.s_addr = htonl(host_order)};
    inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- the lease file -------------------------------------------------------------------- */

/* One line per lease: "<index> <pid> <start time> <exe id>". */
typedef struct lease {
    uint32_t index;
    pid_t pid;
    unsigned long long start;
    char exe_id[64];
} lease;

typedef struct lease_table {
    lease *v;
    size_t n, cap;
} lease_table;

/* The start time (clock ticks since boot) of a process, 0 when it does not exist: with
 * the pid, it tells a live owner from a new process that reused a dead owner's pid. */
static unsigned long long proc_start_time(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
    if (!p)
        return 0;
    /* after ") ": field 3 (state) … field 22 (starttime) */
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    return strtoull(p, NULL, 10);
}

static bool lease_alive(const lease *l) {
    unsigned long long st = proc_start_time(l->pid);
    return st != 0 && st == l->start;
}

static int leases_read(jc_egress *eg, lease_table *t, jc_err *err) {
    memset(t, 0, sizeof(*t));
    _cleanup_fclose_ FILE *f = fopen(eg->lease_path, "re");
    if (!f)
        return errno == ENOENT ? 0 : jc_err_sys(err, errno, "network: read %s", eg->lease_path);
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        lease l = {0};
        int pid;
        if (sscanf(line, "%u %d %llu %63s", &l.index, &pid, &l.start, l.exe_id) != 4 ||
            l.index >= eg->n_leases)
            continue; /* a line this code never wrote: ignore it, the next write drops it */
        l.pid = pid;
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 32;
            void *p = realloc(t->v, cap * sizeof(*t->v));
            if (!p) {
                free(t->v);
                return jc_err_set(err, JC_E_INTERNAL, "out of memory");
            }
            t->v = p;
            t->cap = cap;
        }
        t->v[t->n++] = l;
    }
    return 0;
}

static int leases_write(jc_egress *eg, const lease_table *t, jc_err *err) {
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return jc_err_sys(err, errno, "network: leases");
    for (size_t i = 0; i < t->n; i++)
        fprintf(f, "%u %d %llu %s\n", t->v[i].index, (int)t->v[i].pid, t->v[i].start,
                t->v[i].exe_id);
    if (fclose(f) != 0)
        return jc_err_sys(err, errno, "network: leases");
    /* Replaced by rename, under the pool lock. No fsync: the leases describe links and
     * chains that do not outlive a reboot either (the state directory is on /run). */
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", eg->lease_path);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return jc_err_sys(err, errno, "network: write %s", tmp);
    if (jc_write_all(fd, text, len, err) < 0)
        return jc_err_prefix(err, "network: write %s", tmp);
    if (rename(tmp, eg->lease_path) < 0)
        return jc_err_sys(err, errno, "network: rename %s", tmp);
    return 0;
}

/* flock the pool; returns the lock fd (close to unlock). */
int jc_net_pool_lock(jc_egress *eg, jc_err *err) {
    int fd = open(eg->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return jc_err_sys(err, errno, "network: open %s", eg->lock_path);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return jc_err_sys(err, e, "network: lock %s", eg->lock_path);
        }
    }
    return fd;
}

static int lease_take(jc_egress *eg, const char *exe_id, uint32_t *index, jc_err *err) {
    _cleanup_close_ int lk = jc_net_pool_lock(eg, err);
    if (lk < 0)
        return -1;
    lease_table t;
    if (leases_read(eg, &t, err) < 0)
        return -1;
    _cleanup_free_ uint8_t *used = calloc((eg->n_leases + 7) / 8, 1);
    int rc = -1;
    if (!used) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < t.n; i++)
        used[t.v[i].index / 8] |= (uint8_t)(1u << (t.v[i].index % 8));
    uint32_t pick = UINT32_MAX;
    for (uint32_t i = 0; i < eg->n_leases && pick == UINT32_MAX; i++)
        if (!(used[i / 8] & (1u << (i % 8))))
            pick = i;
    if (pick == UINT32_MAX) {
        jc_err_set(err, JC_E_UNAVAILABLE,
                   "network: the egress address pool %s is exhausted (%u jobs hold all its "
                   "/30 subnets)",
                   eg->pool_text, eg->n_leases);
        goto out;
    }
    lease l = {.index = pick, .pid = getpid(), .start = proc_start_time(getpid())};
    snprintf(l.exe_id, sizeof(l.exe_id), "%s", exe_id);
    if (t.n == t.cap) {
        void *p = realloc(t.v, (t.cap + 1) * sizeof(*t.v));
        if (!p) {
            jc_err_set(err, JC_E_INTERNAL, "out of memory");
            goto out;
        }
        t.v = p;
        t.cap++;
    }
    t.v[t.n++] = l;
    if (leases_write(eg, &t, err) < 0)
        goto out;
    *index = pick;
    rc = 0;
out:
    free(t.v);
    return rc;
}

static int lease_drop(jc_egress *eg, uint32_t index, jc_err *err) {
    _cleanup_close_ int lk = jc_net_pool_lock(eg, err);
    if (lk < 0)
        return -1;
    lease_table t;
    if (leases_read(eg, &t, err) < 0)
        return -1;
    size_t w = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.v[i].index != index)
            t.v[w++] = t.v[i];
    t.n = w;
    int rc = leases_write(eg, &t, err);
    free(t.v);
    return rc;
}

/* ---- the egress object ------------------------------------------------------------------ */

static int check_forwarding(jc_err *err) {
    char buf[8] = "";
    _cleanup_close_ int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
        return jc_err_sys(err, errno, "network: read net.ipv4.ip_forward");
    if (buf[0] != '1')
        return jc_err_set(err, JC_E_CONFIG,
                          "egress networking needs IPv4 forwarding: set net.ipv4.ip_forward=1 "
                          "on this host (sysctl), or run jobs with network \"none\" only");
    return 0;
}

void jc_egress_free(jc_egress *eg) {
    if (!eg)
        return;
    /* first: its thread may be in a callback that needs the rest */
    jc_dns_proxy_free(eg->dns);
    jc_net_nft_stop(eg);
    if (eg->nft)
        nft_ctx_free(eg->nft);
    if (eg->nl)
        mnl_socket_close(eg->nl);
    free(eg->state_dir);
    free(eg->lock_path);
    free(eg->lease_path);
    free(eg->deny_v4);
    free(eg->deny_v6);
    free(eg->private_v4);
    free(eg->private_v6);
    free(eg->priv_ok_v4);
    free(eg->priv_ok_v6);
    pthread_mutex_destroy(&eg->lock);
    free(eg);
}

static const char private_v4[] = "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10";
static const char private_v6[] = "fc00::/7";

jc_egress *jc_egress_new(const jc_egress_config *cfg, jc_err *err) {
    jc_egress_config none = {0};
    if (!cfg)
        cfg = &none;
    jc_egress_rule pool;
    const char *pool_text = cfg->pool ? cfg->pool : JC_EGRESS_DEFAULT_POOL;
    if (jc_egress_cidr_parse(pool_text, &pool, err) < 0) {
        jc_err_prefix(err, "egress.pool");
        return NULL;
    }
    if (pool.kind != JC_EGRESS_IPV4 || pool.prefix < 8 || pool.prefix > 30) {
        jc_err_set(err, JC_E_CONFIG, "egress.pool must be an IPv4 network from /8 to /30");
        return NULL;
    }
    /* allow_private may only re-open parts of the private ranges */
    static const char *const priv[] = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                       "100.64.0.0/10", "fc00::/7"};
    for (size_t i = 0; i < cfg->n_allow_private; i++) {
        bool inside = false;
        for (size_t p = 0; p < sizeof(priv) / sizeof(priv[0]) && !inside; p++) {
            jc_egress_rule range;
            jc_egress_cidr_parse(priv[p], &range, NULL);
            inside = jc_egress_cidr_contains(&range, &cfg->allow_private[i]);
        }
        char t[320];
        jc_egress_rule_format(&cfg->allow_private[i], t, sizeof(t));
        if (!inside) {
            jc_err_set(err, JC_E_CONFIG,
                       "egress.allow_private: %s is not inside a private range (10/8, "
                       "172.16/12, 192.168/16, 100.64/10, fc00::/7)",
                       t);
            return NULL;
        }
        jc_egress_rule p2 = pool;
        if (jc_egress_cidr_contains(&cfg->allow_private[i], &p2) ||
            jc_egress_cidr_contains(&p2, &cfg->allow_private[i])) {
            jc_err_set(err, JC_E_CONFIG,
                       "egress.allow_private: %s overlaps the job address pool %s", t, pool_text);
            return NULL;
        }
    }
    jc_egress *eg = calloc(1, sizeof(*eg));
    if (!eg) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        return NULL;
    }
    eg->nft_fd = -1;
    pthread_mutex_init(&eg->lock, NULL);
    memcpy(&eg->pool_base, pool.addr, 4);
    eg->pool_base = ntohl(eg->pool_base);
    eg->pool_prefix = pool.prefix;
    eg->n_leases = 1u << (30 - pool.prefix);
    jc_egress_rule_format(&pool, eg->pool_text, sizeof(eg->pool_text));
    const char *dir = cfg->state_dir ? cfg->state_dir : JC_EGRESS_DEFAULT_STATE_DIR;
    char fixed_v4[160];
    /* "this network", loopback, link-local (cloud metadata), multicast and reserved, and
     * the pool: every other job */
    snprintf(fixed_v4, sizeof(fixed_v4), "0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/3, %s",
             eg->pool_text);
    if (asprintf(&eg->state_dir, "%s", dir) < 0 || asprintf(&eg->lock_path, "%s/lock", dir) < 0 ||
        asprintf(&eg->lease_path, "%s/leases", dir) < 0 ||
        !(eg->deny_v4 =
              jc_net_set_body(cfg->deny_always, cfg->n_deny_always, JC_EGRESS_IPV4, fixed_v4)) ||
        !(eg->deny_v6 = jc_net_set_body(cfg->deny_always, cfg->n_deny_always, JC_EGRESS_IPV6,
                                        "::/128, ::1/128, fe80::/10, ff00::/8, ::ffff:0:0/96")) ||
        !(eg->private_v4 = strdup(private_v4)) || !(eg->private_v6 = strdup(private_v6)) ||
        !(eg->priv_ok_v4 =
              jc_net_set_body(cfg->allow_private, cfg->n_allow_private, JC_EGRESS_IPV4, "")) ||
        !(eg->priv_ok_v6 =
              jc_net_set_body(cfg->allow_private, cfg->n_allow_private, JC_EGRESS_IPV6, ""))) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        goto fail;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        jc_err_sys(err, errno, "network: mkdir %s", dir);
        goto fail;
    }
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
        jc_err_set(err, JC_E_CONFIG, "%s must be a directory owned and writable by root only", dir);
        goto fail;
    }
    /* nftables in a helper process (see jc_net_nft_start); in this one if it cannot be had.
     * Forked before the resolver's thread exists. */
    jc_err herr = {0};
    if (jc_net_nft_start(eg, &herr) < 0) {
        jc_log(JC_LOG_WARN, "egress: nftables in-process", "error", herr.msg, NULL);
        eg->nft = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!eg->nft) {
            jc_err_set(err, JC_E_INTERNAL, "nftables: no context");
            goto fail;
        }
        nft_ctx_buffer_output(eg->nft);
        nft_ctx_buffer_error(eg->nft);
    }
    if (!(eg->nl = jc_net_nl_open(err)) || jc_net_policy_base(eg, err) < 0)
        goto fail;
    if (cfg->dns_mode != JC_EGRESS_DNS_NONE) {
        if (!(eg->dns = jc_dns_proxy_new_from_text(cfg->resolvers, cfg->n_resolvers, err))) {
            jc_err_prefix(err, "the jobs' DNS resolver (set its upstream servers explicitly)");
            goto fail;
        }
        if (cfg->dns_mode == JC_EGRESS_DNS_THREAD && jc_dns_proxy_start_thread(eg->dns, err) < 0)
            goto fail;
    }
    return eg;
fail:
    jc_egress_free(eg);
    return NULL;
}

int64_t jc_egress_pool_free(jc_egress *eg, jc_err *err) {
    pthread_mutex_lock(&eg->lock);
    int64_t rc = -1;
    int lk = jc_net_pool_lock(eg, err);
    if (lk >= 0) {
        lease_table t;
        if (leases_read(eg, &t, err) == 0) {
            rc = (int64_t)eg->n_leases - (int64_t)t.n;
            free(t.v);
        }
        close(lk);
    }
    pthread_mutex_unlock(&eg->lock);
    return rc;
}

/* ---- one job ---------------------------------------------------------------------------- */

/* Create sockets in the namespace of netns_fd: switch this thread there, open, come back.
 * A socket keeps the namespace it was made in. */
static int sockets_in(int netns_fd, struct mnl_socket **nl, int *inet, jc_err *err) {
    _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return jc_err_sys(err, errno, "network: open this thread's namespace");
    if (setns(netns_fd, CLONE_NEWNET) < 0)
        return jc_err_sys(err, errno, "network: enter the job's namespace");
    jc_err e2 = {0};
    *nl = jc_net_nl_open(&e2);
    *inet = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int saved = errno;
    if (setns(self, CLONE_NEWNET) < 0) {
        /* this thread would now work in the job's namespace: nothing it did next would be
         * right, so the process must not go on */
        jc_log(JC_LOG_ERROR, "cannot return to the host network namespace", NULL);
        abort();
    }
    if (!*nl || *inet < 0) {
        if (*nl)
            mnl_socket_close(*nl);
        if (*inet >= 0)
            close(*inet);
        *nl = NULL;
        *inet = -1;
        if (e2.code)
            *err = e2;
        else
            jc_err_sys(err, saved, "network: socket in the job's namespace");
        return -1;
    }
    return 0;
}

static int configure_job_side(jc_egress_net *net, int netns_fd, uint32_t job, uint32_t host,
                              jc_err *err) {
    struct mnl_socket *nl = NULL;
    int inet = -1;
    if (sockets_in(netns_fd, &nl, &inet, err) < 0)
        return -1;
    uint32_t seq = 0;
    int rc = -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", JOB_IFNAME);
    if (ioctl(inet, SIOCGIFINDEX, &ifr) < 0) {
        jc_err_sys(err, errno, "network: find %s in the job's namespace", JOB_IFNAME);
        goto out;
    }
    if (jc_net_nl_add_addr(nl, &seq, ifr.ifr_ifindex, job, 30, err) < 0 ||
        jc_net_nl_link_up(nl, &seq, ifr.ifr_ifindex, err) < 0 ||
        jc_net_nl_default_route(nl, &seq, ifr.ifr_ifindex, host, err) < 0)
        goto out;
    rc = 0;
out:
    (void)net;
    mnl_socket_close(nl);
    close(inet);
    return rc;
}

static void on_resolved(void *ctx, const char *name, int family, const void *addr, uint32_t ttl_s) {
    jc_err err = {0};
    if (jc_egress_net_allow_resolved(ctx, name, family, addr, ttl_s, &err) < 0)
        jc_log(JC_LOG_WARN, "egress: could not allow a resolved address", "name", name, "error",
               err.msg, NULL);
}

/* Serve the job's DNS on its host end, for the host names of its allow-list only. */
static int dns_add(jc_egress_net *net, uint32_t host_addr, jc_err *err) {
    const char *names[JC_DNS_MAX_NAMES + 1];
    size_t n = 0;
    for (size_t k = 0; k < net->n_allow; k++) {
        if (net->allow[k].kind != JC_EGRESS_HOST)
            continue;
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(names[j], net->allow[k].host) == 0;
        if (seen)
            continue;
        if (n >= JC_DNS_MAX_NAMES)
            return jc_err_field(err, JC_E_INVALID, "egress.allow",
                                "at most %d different host names", JC_DNS_MAX_NAMES);
        names[n++] = net->allow[k].host;
    }
    names[n] = NULL;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
    sin.sin_addr.s_addr = htonl(host_addr);
    if (jc_dns_proxy_add_job(net->eg->dns, net->exe_id, (struct sockaddr *)&sin, names, on_resolved,
                             net, err) < 0)
        return jc_err_prefix(err, "network: the job's resolver");
    net->dns_added = true;
    return 0;
}

int jc_egress_dns_fd(const jc_egress *eg) {
    return eg->dns ? jc_dns_proxy_fd(eg->dns) : -1;
}
void jc_egress_dns_handle(jc_egress *eg) {
    if (eg->dns)
        jc_dns_proxy_handle(eg->dns);
}
int jc_egress_dns_timeout_ms(jc_egress *eg) {
    return eg->dns ? jc_dns_proxy_next_timeout_ms(eg->dns) : -1;
}

jc_egress_net *jc_egress_net_prepare(jc_egress *eg, const char *exe_id, const jc_egress_rule *allow,
                                     size_t n_allow, jc_err *err) {
    if (check_forwarding(err) < 0)
        return NULL;
    jc_egress_net *net = calloc(1, sizeof(*net));
    if (!net) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        return NULL;
    }
    net->eg = eg;
    snprintf(net->exe_id, sizeof(net->exe_id), "%s", exe_id);
    if (n_allow) {
        net->allow = calloc(n_allow, sizeof(*allow));
        if (!net->allow) {
            free(net);
            jc_err_set(err, JC_E_INTERNAL, "out of memory");
            return NULL;
        }
        memcpy(net->allow, allow, n_allow * sizeof(*allow));
        net->n_allow = n_allow;
    }
    pthread_mutex_lock(&eg->lock);
    bool have_lease = false;
    _cleanup_free_ char *policy = NULL;
    jc_err ignored;
    if (lease_take(eg, exe_id, &net->index, err) < 0)
        goto fail;
    have_lease = true;
    uint32_t base = eg->pool_base + net->index * 4;
    ipv4_text(base + 1, net->host_addr);
    ipv4_text(base + 2, net->job_addr);
    snprintf(net->veth, sizeof(net->veth), VETH_PREFIX "%u", net->index);
    snprintf(net->peer, sizeof(net->peer), PEER_PREFIX "%u", net->index);
    snprintf(net->resolv, sizeof(net->resolv), "nameserver %s\noptions timeout:2 attempts:2\n",
             net->host_addr);
    /* a leftover of a crashed owner that reconciliation has not seen yet (looked up
     * first: a delete takes the kernel's rtnl lock, a lookup does not) */
    if (if_nametoindex(net->veth) != 0)
        jc_net_nl_del_link(eg->nl, &eg->nl_seq, net->veth, &ignored);
    policy = jc_net_policy_text(net);
    if (!policy) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        goto fail;
    }
    if (jc_net_nft_run(eg, policy, NULL, err) < 0) {
        /* maybe the leftovers of a dead owner of this lease: clear them, try once more */
        jc_net_policy_remove(eg, net->index, NULL, 0, &ignored);
        jc_err_clear(err);
        if (jc_net_nft_run(eg, policy, NULL, err) < 0)
            goto fail;
    }
    /* The link and the resolver now too, in this namespace: the job's end moves into the
     * job's namespace in attach. Everything done before the clone costs less (see
     * jc_net_nft_start). */
    int ifindex = 0;
    if (jc_net_nl_add_veth(eg->nl, &eg->nl_seq, net->veth, net->peer, err) < 0 ||
        (ifindex = (int)if_nametoindex(net->veth)) == 0 ||
        jc_net_nl_add_addr(eg->nl, &eg->nl_seq, ifindex, base + 1, 30, err) < 0 ||
        jc_net_nl_link_up(eg->nl, &eg->nl_seq, ifindex, err) < 0) {
        if (ifindex == 0 && err && !err->code)
            jc_err_sys(err, errno, "network: find %s", net->veth);
        pthread_mutex_unlock(&eg->lock);
        jc_egress_net_teardown(net, NULL, &ignored);
        return NULL;
    }
    pthread_mutex_unlock(&eg->lock);
    /* the resolver, outside the lock (its callback takes it) */
    if (eg->dns && dns_add(net, base + 1, err) < 0) {
        jc_egress_net_teardown(net, NULL, &ignored);
        return NULL;
    }
    return net;
fail:
    if (have_lease)
        lease_drop(eg, net->index, &ignored);
    pthread_mutex_unlock(&eg->lock);
    free(net->allow);
    free(net);
    return NULL;
}

int jc_egress_net_attach(jc_egress_net *net, pid_t pid, jc_err *err) {
    jc_egress *eg = net->eg;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    _cleanup_close_ int netns = open(path, O_RDONLY | O_CLOEXEC);
    if (netns < 0)
        return jc_err_sys(err, errno, "network: open the job's namespace");
    uint32_t base = eg->pool_base + net->index * 4;
    pthread_mutex_lock(&eg->lock);
    int rc = -1;
    int peer = (int)if_nametoindex(net->peer);
    if (peer == 0) {
        jc_err_sys(err, errno, "network: find %s", net->peer);
        goto out;
    }
    if (jc_net_nl_move_link(eg->nl, &eg->nl_seq, peer, netns, JOB_IFNAME, err) < 0 ||
        configure_job_side(net, netns, base + 2, base + 1, err) < 0)
        goto out;
    rc = 0;
out:
    pthread_mutex_unlock(&eg->lock);
    return rc; /* on failure the caller tears down: the link goes with the rest */
}

jc_egress_net *jc_egress_net_setup(jc_egress *eg, const char *exe_id, pid_t pid,
                                   const jc_egress_rule *allow, size_t n_allow, jc_err *err) {
    jc_egress_net *net = jc_egress_net_prepare(eg, exe_id, allow, n_allow, err);
    if (!net)
        return NULL;
    if (jc_egress_net_attach(net, pid, err) < 0) {
        jc_err ignored;
        jc_egress_net_teardown(net, NULL, &ignored);
        return NULL;
    }
    return net;
}

const char *jc_egress_net_resolv_conf(const jc_egress_net *net) {
    return net->resolv;
}
const char *jc_egress_net_job_addr(const jc_egress_net *net) {
    return net->job_addr;
}
const char *jc_egress_net_host_addr(const jc_egress_net *net) {
    return net->host_addr;
}

int jc_egress_net_allow_resolved(jc_egress_net *net, const char *name, int family, const void *addr,
                                 uint32_t ttl_s, jc_err *err) {
    char a[INET6_ADDRSTRLEN];
    if ((family != AF_INET && family != AF_INET6) || !inet_ntop(family, addr, a, sizeof(a)))
        return jc_err_set(err, JC_E_INVALID, "network: not an address");
    if (ttl_s == 0)
        ttl_s = 1;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return jc_err_sys(err, errno, "network: policy");
    bool any = false;
    for (size_t k = 0; k < net->n_allow; k++)
        if (net->allow[k].kind == JC_EGRESS_HOST && strcmp(net->allow[k].host, name) == 0) {
            fprintf(f, "add element " TABLE " %c%u_%zu { %s timeout %us }\n",
                    family == AF_INET ? 'h' : 'g', net->index, k, a, (unsigned)ttl_s);
            any = true;
        }
    if (fclose(f) != 0) {
        free(text);
        return jc_err_sys(err, errno, "network: policy");
    }
    int rc = 0;
    if (any) {
        pthread_mutex_lock(&net->eg->lock);
        rc = jc_net_nft_run(net->eg, text, NULL, err);
        pthread_mutex_unlock(&net->eg->lock);
    }
    free(text);
    return rc;
}

/* "packets": N of the counter in nft's JSON */
static int64_t counter_packets(const char *json) {
    const char *p = strstr(json, "\"packets\":");
    if (!p)
        return -1;
    return strtoll(p + strlen("\"packets\":"), NULL, 10);
}

static int64_t denied_locked(jc_egress_net *net, jc_err *err) {
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "list counter " TABLE " d%u", net->index);
    _cleanup_free_ char *out = NULL;
    if (jc_net_nft_run(net->eg, cmd, &out, err) < 0)
        return -1;
    int64_t n = counter_packets(out);
    if (n < 0)
        jc_err_set(err, JC_E_SYS, "nftables: no packet count for counter d%u", net->index);
    return n;
}

int64_t jc_egress_net_denied(jc_egress_net *net, jc_err *err) {
    pthread_mutex_lock(&net->eg->lock);
    int64_t n = denied_locked(net, err);
    pthread_mutex_unlock(&net->eg->lock);
    return n;
}

int jc_egress_net_teardown(jc_egress_net *net, int64_t *denied, jc_err *err) {
    if (denied)
        *denied = -1;
    if (!net)
        return 0;
    jc_egress *eg = net->eg;
    /* no callback for this job once this returns; outside the lock (lock order) */
    if (net->dns_added)
        jc_dns_proxy_remove_job(eg->dns, net->exe_id);
    pthread_mutex_lock(&eg->lock);
    jc_err e2 = {0};
    int rc = 0;
    int64_t n = denied_locked(net, &e2);
    if (denied)
        *denied = n;
    /* the link first: once it is gone no packet of the job can reach the policy */
    if (jc_net_nl_del_link(eg->nl, &eg->nl_seq, net->veth, &e2) < 0 && e2.sys_errno != ENODEV) {
        rc = -1;
        if (err)
            *err = e2;
    }
    if (jc_net_policy_remove(eg, net->index, net->allow, net->n_allow, &e2) < 0 && rc == 0) {
        rc = -1;
        if (err)
            *err = e2;
    }
    /* The lease goes back only when the link is gone: an address still configured on a
     * live veth must not be handed to another job. */
    if (rc == 0 && lease_drop(eg, net->index, &e2) < 0) {
        rc = -1;
        if (err)
            *err = e2;
    }
    pthread_mutex_unlock(&eg->lock);
    free(net->allow);
    free(net);
    return rc;
}

/* ---- reconciliation --------------------------------------------------------------------- */

int jc_egress_reconcile(jc_egress *eg, jc_err *err) {
    pthread_mutex_lock(&eg->lock);
    int rc = 0;
    jc_err e2 = {0};
    lease_table t = {0};
    jc_net_link_list links = {0};
    uint32_t *chains = NULL;
    size_t n_chains = 0;
    int lk = jc_net_pool_lock(eg, err);
    if (lk < 0) {
        pthread_mutex_unlock(&eg->lock);
        return -1;
    }
    if (leases_read(eg, &t, err) < 0) {
        rc = -1;
        goto out;
    }
    /* dead owners' leases: remove their links and policies, forget them */
    size_t w = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (lease_alive(&t.v[i])) {
            t.v[w++] = t.v[i];
            continue;
        }
        char veth[IFNAMSIZ];
        snprintf(veth, sizeof(veth), VETH_PREFIX "%u", t.v[i].index);
        jc_net_nl_del_link(eg->nl, &eg->nl_seq, veth, &e2);
        jc_net_policy_remove(eg, t.v[i].index, NULL, 0, &e2);
        jc_log(JC_LOG_INFO, "removed the network of a dead execution", "exe", t.v[i].exe_id, "link",
               veth, NULL);
    }
    bool changed = w != t.n;
    t.n = w;
    if (changed && leases_write(eg, &t, err) < 0)
        rc = -1;
    /* links and chains no lease covers (a crash between creating them and the lease file
     * being read back is impossible: the lease is written first; so these are leftovers) */
    if (jc_net_nl_list_veths(eg->nl, &eg->nl_seq, &links, &e2) == 0) {
        for (size_t i = 0; i < links.n; i++) {
            char *end;
            unsigned long idx = strtoul(links.names[i] + strlen(VETH_PREFIX), &end, 10);
            bool leased = false;
            for (size_t k = 0; k < t.n && !leased; k++)
                leased = *end == '\0' && t.v[k].index == idx;
            if (!leased && jc_net_nl_del_link(eg->nl, &eg->nl_seq, links.names[i], &e2) < 0 &&
                rc == 0) {
                rc = -1;
                if (err)
                    *err = e2;
            }
        }
    }
    if (jc_net_policy_job_chains(eg, &chains, &n_chains, &e2) == 0) {
        for (size_t i = 0; i < n_chains; i++) {
            bool leased = false;
            for (size_t k = 0; k < t.n && !leased; k++)
                leased = t.v[k].index == chains[i];
            if (!leased)
                jc_net_policy_remove(eg, chains[i], NULL, 0, &e2);
        }
    }
out:
    close(lk);
    free(t.v);
    free(links.names);
    free(chains);
    pthread_mutex_unlock(&eg->lock);
    return rc;
}
