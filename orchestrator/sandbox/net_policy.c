/* net_policy.c: the nftables side of egress networks (net_internal.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jobcell/cleanup.h"
#include "net_internal.h"

/* Append "a, b, c" of the networks of kind into an owned string ("" when none). */
char *jc_net_set_body(const jc_egress_rule *rules, size_t n, jc_egress_kind kind,
                      const char *fixed) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputs(fixed, f);
    bool first = fixed[0] == '\0';
    for (size_t i = 0; i < n; i++) {
        if (rules[i].kind != kind)
            continue;
        char a[INET6_ADDRSTRLEN];
        inet_ntop(kind == JC_EGRESS_IPV6 ? AF_INET6 : AF_INET, rules[i].addr, a, sizeof(a));
        fprintf(f, "%s%s/%u", first ? "" : ", ", a, rules[i].prefix);
        first = false;
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Run one nftables transaction. With out, the JSON output is copied there (owned). */
/* ---- the helper process ---------------------------------------------------------------- */

#define NFT_MAX_MESSAGE (64u << 20)

typedef struct nft_request {
    uint32_t len;  /* bytes of command that follow */
    uint32_t json; /* 1: JSON output */
} nft_request;

typedef struct nft_reply {
    int32_t rc;
    uint32_t out_len; /* bytes of output, then bytes of error text, follow */
    uint32_t err_len;
} nft_reply;

static int read_full(int fd, void *buf, size_t len) {
    for (size_t off = 0; off < len;) {
        ssize_t n = read(fd, (char *)buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len) {
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, (const char *)buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* The helper: one command at a time, until its socket closes. */
_Noreturn static void helper_main(int fd, pid_t parent) {
    /* it exists only to serve its parent: it must not outlive it */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
        _exit(0);
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx)
        _exit(1);
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    unsigned flags = nft_ctx_output_get_flags(ctx);
    for (;;) {
        nft_request rq;
        if (read_full(fd, &rq, sizeof(rq)) < 0 || rq.len > NFT_MAX_MESSAGE)
            _exit(0);
        char *cmd = malloc((size_t)rq.len + 1);
        if (!cmd || read_full(fd, cmd, rq.len) < 0)
            _exit(1);
        cmd[rq.len] = '\0';
        nft_ctx_output_set_flags(ctx, rq.json ? flags | NFT_CTX_OUTPUT_JSON : flags);
        int rc = nft_run_cmd_from_buffer(ctx, cmd);
        free(cmd);
        const char *out = nft_ctx_get_output_buffer(ctx);
        const char *errtext = nft_ctx_get_error_buffer(ctx);
        size_t out_len = out ? strlen(out) : 0, err_len = errtext ? strlen(errtext) : 0;
        if (out_len > NFT_MAX_MESSAGE)
            out_len = NFT_MAX_MESSAGE;
        if (err_len > 4096)
            err_len = 4096;
        nft_reply rp = {.rc = rc, .out_len = (uint32_t)out_len, .err_len = (uint32_t)err_len};
        if (write_full(fd, &rp, sizeof(rp)) < 0 || write_full(fd, out ? out : "", out_len) < 0 ||
            write_full(fd, errtext ? errtext : "", err_len) < 0)
            _exit(1);
    }
}

int jc_net_nft_start(jc_egress *eg, jc_err *err) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return jc_err_sys(err, errno, "nftables helper: socketpair");
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return jc_err_sys(err, e, "nftables helper: fork");
    }
    if (pid == 0) {
        close(sv[0]);
        helper_main(sv[1], parent);
    }
    close(sv[1]);
    eg->nft_fd = sv[0];
    eg->nft_pid = pid;
    return 0;
}

void jc_net_nft_stop(jc_egress *eg) {
    if (eg->nft_fd < 0)
        return;
    close(eg->nft_fd);
    eg->nft_fd = -1;
    while (waitpid(eg->nft_pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Send cmd to the helper; *rc, and the output and error text (owned) back. */
static int helper_call(jc_egress *eg, const char *cmd, bool json, int *rc, char **outbuf,
                       char **errbuf, jc_err *err) {
    size_t len = strlen(cmd);
    if (len > NFT_MAX_MESSAGE)
        return jc_err_set(err, JC_E_INVALID, "nftables: command too long");
    nft_request rq = {.len = (uint32_t)len, .json = json};
    nft_reply rp;
    if (write_full(eg->nft_fd, &rq, sizeof(rq)) < 0 || write_full(eg->nft_fd, cmd, len) < 0 ||
        read_full(eg->nft_fd, &rp, sizeof(rp)) < 0 || rp.out_len > NFT_MAX_MESSAGE ||
        rp.err_len > 4096)
        return jc_err_set(err, JC_E_SYS, "nftables: the helper process is gone");
    *outbuf = malloc((size_t)rp.out_len + 1);
    *errbuf = malloc((size_t)rp.err_len + 1);
    if (!*outbuf || !*errbuf) {
        free(*outbuf);
        free(*errbuf);
        *outbuf = *errbuf = NULL;
        return jc_err_set(err, JC_E_INTERNAL, "out of memory");
    }
    if (read_full(eg->nft_fd, *outbuf, rp.out_len) < 0 ||
        read_full(eg->nft_fd, *errbuf, rp.err_len) < 0) {
        free(*outbuf);
        free(*errbuf);
        *outbuf = *errbuf = NULL;
        return jc_err_set(err, JC_E_SYS, "nftables: the helper process is gone");
    }
    (*outbuf)[rp.out_len] = '\0';
    (*errbuf)[rp.err_len] = '\0';
    *rc = rp.rc;
    return 0;
}

int jc_net_nft_run(jc_egress *eg, const char *cmd, char **out, jc_err *err) {
    int rc = -1;
    _cleanup_free_ char *outbuf = NULL, *errbuf = NULL;
    if (eg->nft_fd >= 0) {
        if (helper_call(eg, cmd, out != NULL, &rc, &outbuf, &errbuf, err) < 0)
            return -1;
    } else {
        unsigned flags = nft_ctx_output_get_flags(eg->nft);
        if (out)
            nft_ctx_output_set_flags(eg->nft, flags | NFT_CTX_OUTPUT_JSON);
        rc = nft_run_cmd_from_buffer(eg->nft, cmd);
        if (out)
            nft_ctx_output_set_flags(eg->nft, flags);
        const char *o = nft_ctx_get_output_buffer(eg->nft);
        const char *e = nft_ctx_get_error_buffer(eg->nft);
        outbuf = strdup(o ? o : "");
        errbuf = strdup(e ? e : "");
        if (!outbuf || !errbuf)
            return jc_err_set(err, JC_E_INTERNAL, "out of memory");
    }
    if (rc != 0) {
        /* the first line of nft's message names the command at fault */
        size_t n = strcspn(errbuf, "\n");
        return jc_err_set(err, JC_E_SYS, "nftables: %.*s", (int)(n < 150 ? n : 150),
                          n ? errbuf : "command failed");
    }
    if (out)
        *out = steal(&outbuf);
    return 0;
}

/* ---- nftables -------------------------------------------------------------------------- */

int jc_net_policy_base(jc_egress *eg, jc_err *err) {
    /* Every statement is idempotent but the rules: add them only with the chains, and only
     * under the pool lock so two processes starting together cannot both add them. */
    _cleanup_close_ int lk = jc_net_pool_lock(eg, err);
    if (lk < 0)
        return -1;
    jc_err probe = {0};
    _cleanup_free_ char *out = NULL;
    if (jc_net_nft_run(eg, "list chain " TABLE " forward", &out, &probe) == 0)
        return 0;
    static const char base[] =
        "add table " TABLE "\n"
        "add map " TABLE " jobs { type ifname : verdict; }\n"
        "add chain " TABLE " forward { type filter hook forward priority filter - 5; "
        "policy accept; }\n"
        "add chain " TABLE " input { type filter hook input priority filter - 5; "
        "policy accept; }\n"
        "add chain " TABLE " postrouting { type nat hook postrouting priority srcnat; "
        "policy accept; }\n"
        /* each job's own chain; a jcv* link without one (never expected) is dropped */
        "add rule " TABLE " forward iifname vmap @jobs\n"
        "add rule " TABLE " forward iifname \"" VETH_PREFIX "*\" drop\n"
        /* nothing starts a connection towards a job: only replies reach it */
        "add rule " TABLE " forward oifname \"" VETH_PREFIX "*\" ct state established,related "
        "accept\n"
        "add rule " TABLE " forward oifname \"" VETH_PREFIX "*\" drop\n"
        "add rule " TABLE " input iifname vmap @jobs\n"
        "add rule " TABLE " input iifname \"" VETH_PREFIX "*\" drop\n"
        "add rule " TABLE " postrouting iifname \"" VETH_PREFIX "*\" oifname != \"" VETH_PREFIX
        "*\" masquerade\n";
    return jc_net_nft_run(eg, base, NULL, err);
}

/* "meta l4proto { tcp, udp } th dport 443 " or "" */
static void port_match(const jc_egress_rule *r, char *buf, size_t len) {
    if (jc_egress_rule_any_port(r))
        snprintf(buf, len, " ");
    else if (r->port_min == r->port_max)
        snprintf(buf, len, " meta l4proto { tcp, udp } th dport %u ", (unsigned)r->port_min);
    else
        snprintf(buf, len, " meta l4proto { tcp, udp } th dport %u-%u ", (unsigned)r->port_min,
                 (unsigned)r->port_max);
}

/* The whole per-job transaction: counter, sets, chain, rules, dispatch entry. */
char *jc_net_policy_text(const jc_egress_net *net) {
    const jc_egress *eg = net->eg;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    uint32_t i = net->index;
    const char *d = "counter name d"; /* every drop counts */
    fprintf(f, "add counter " TABLE " d%u\n", i);
    for (size_t k = 0; k < net->n_allow; k++)
        if (net->allow[k].kind == JC_EGRESS_HOST)
            fprintf(f,
                    "add set " TABLE " h%u_%zu { type ipv4_addr; flags timeout; size %d; }\n"
                    "add set " TABLE " g%u_%zu { type ipv6_addr; flags timeout; size %d; }\n",
                    i, k, SET_SIZE, i, k, SET_SIZE);
    fprintf(f, "add chain " TABLE " j%u\n", i);
#define RULE(...)                                                                                  \
    do {                                                                                           \
        fprintf(f, "add rule " TABLE " j%u ", i);                                                  \
        fprintf(f, __VA_ARGS__);                                                                   \
        fputc('\n', f);                                                                            \
    } while (0)
    /* A job has no capability to change its address; this is for the day it could. */
    RULE("meta nfproto ipv4 ip saddr != %s %s%u drop", net->job_addr, d, i);
    RULE("ct state established,related accept");
    /* its resolver, the only service of the host it may use */
    RULE("ip daddr %s meta l4proto { tcp, udp } th dport 53 accept", net->host_addr);
    /* the host's own addresses, on every interface: its services are not the job's */
    RULE("fib daddr type local %s%u " REFUSE, d, i);
    /* loopback, cloud metadata and link-local, "this network", multicast, broadcast, the
     * pool (other jobs), and the admin's list */
    RULE("ip daddr { %s } %s%u " REFUSE, eg->deny_v4, d, i);
    RULE("ip6 daddr { %s } %s%u " REFUSE, eg->deny_v6, d, i);
    if (eg->priv_ok_v4[0])
        RULE("ip daddr { %s } ip daddr != { %s } %s%u " REFUSE, eg->private_v4, eg->priv_ok_v4, d,
             i);
    else
        RULE("ip daddr { %s } %s%u " REFUSE, eg->private_v4, d, i);
    if (eg->priv_ok_v6[0])
        RULE("ip6 daddr { %s } ip6 daddr != { %s } %s%u " REFUSE, eg->private_v6, eg->priv_ok_v6, d,
             i);
    else
        RULE("ip6 daddr { %s } %s%u " REFUSE, eg->private_v6, d, i);
    for (size_t k = 0; k < net->n_allow; k++) {
        const jc_egress_rule *r = &net->allow[k];
        char ports[64];
        port_match(r, ports, sizeof(ports));
        if (r->kind == JC_EGRESS_HOST) {
            RULE("ip daddr @h%u_%zu%saccept", i, k, ports);
            RULE("ip6 daddr @g%u_%zu%saccept", i, k, ports);
        } else {
            char a[INET6_ADDRSTRLEN];
            bool v6 = r->kind == JC_EGRESS_IPV6;
            inet_ntop(v6 ? AF_INET6 : AF_INET, r->addr, a, sizeof(a));
            RULE("%s daddr %s/%u%saccept", v6 ? "ip6" : "ip", a, r->prefix, ports);
        }
    }
    RULE("%s%u " REFUSE, d, i);
#undef RULE
    fprintf(f, "add element " TABLE " jobs { \"%s\" : goto j%u }\n", net->veth, i);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Names of the objects of one kind ("chain", "set", "counter") in table jobcell, from
 * nft's JSON listing. Owned array of owned strings, NULL-terminated. */
static char **list_objects(jc_egress *eg, const char *kind, jc_err *err) {
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "list %ss inet", kind);
    _cleanup_free_ char *text = NULL;
    if (jc_net_nft_run(eg, cmd, &text, err) < 0)
        return NULL;
    _cleanup_json_ json_t *j = json_loads(text, 0, NULL);
    json_t *items = json_object_get(j, "nftables");
    size_t n = json_array_size(items), k = 0;
    char **names = calloc(n + 1, sizeof(*names));
    if (!names) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object_get(json_array_get(items, i), kind);
        const char *table = json_string_value(json_object_get(o, "table"));
        const char *name = json_string_value(json_object_get(o, "name"));
        if (table && name && !strcmp(table, "jobcell") && (names[k] = strdup(name)))
            k++;
    }
    return names;
}

static void free_names(char **names) {
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

/* Is name "<letter><index>_<digits>" (a job's host-name set)? */
static bool job_set_name(const char *name, uint32_t index) {
    if (name[0] != 'h' && name[0] != 'g')
        return false;
    char *end;
    unsigned long v = strtoul(name + 1, &end, 10);
    return end != name + 1 && *end == '_' && v == index;
}

/* Remove a job's policy. In one transaction when everything exists; after a crash part
 * of it may be missing, and then each object is removed on its own. allow: the job's
 * allow-list, or NULL when unknown (its sets are then looked up). */
int jc_net_policy_remove(jc_egress *eg, uint32_t i, const jc_egress_rule *allow, size_t n_allow,
                         jc_err *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return jc_err_sys(err, errno, "network: policy");
    fprintf(f, "delete element " TABLE " jobs { \"" VETH_PREFIX "%u\" }\n", i);
    fprintf(f, "flush chain " TABLE " j%u\n", i);
    fprintf(f, "delete chain " TABLE " j%u\n", i);
    if (!allow) {
        jc_err ignored;
        char **sets = list_objects(eg, "set", &ignored);
        for (size_t k = 0; sets && sets[k]; k++)
            if (job_set_name(sets[k], i))
                fprintf(f, "delete set " TABLE " %s\n", sets[k]);
        free_names(sets);
    } else {
        for (size_t k = 0; k < n_allow; k++)
            if (allow[k].kind == JC_EGRESS_HOST)
                fprintf(f, "delete set " TABLE " h%u_%zu\ndelete set " TABLE " g%u_%zu\n", i, k, i,
                        k);
    }
    fprintf(f, "delete counter " TABLE " d%u\n", i);
    if (fclose(f) != 0) {
        free(text);
        return jc_err_sys(err, errno, "network: policy");
    }
    int rc = jc_net_nft_run(eg, text, NULL, err);
    if (rc < 0) {
        /* one by one, in order; what is absent is already gone */
        jc_err ignored;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            (void)jc_net_nft_run(eg, line, NULL, &ignored);
        rc = 0;
    }
    free(text);
    return rc;
}

/* Indexes of the j<N> chains in the table. */
int jc_net_policy_job_chains(jc_egress *eg, uint32_t **out, size_t *n, jc_err *err) {
    *out = NULL;
    *n = 0;
    char **names = list_objects(eg, "chain", err);
    if (!names)
        return -1;
    size_t count = 0;
    while (names[count])
        count++;
    *out = calloc(count + 1, sizeof(**out));
    if (!*out) {
        free_names(names);
        return jc_err_set(err, JC_E_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        char *end;
        if (names[i][0] != 'j' || names[i][1] < '0' || names[i][1] > '9')
            continue;
        unsigned long v = strtoul(names[i] + 1, &end, 10);
        if (*end == '\0' && v < eg->n_leases)
            (*out)[(*n)++] = (uint32_t)v;
    }
    free_names(names);
    return 0;
}
