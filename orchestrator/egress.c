/* egress.c: see egress.h. */
#include "egress.h"

#include <netdb.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "jobcell/log.h"

#define MAX_LIST 256

/* A JSON array of CIDR strings into rules (config key named in errors). */
static int parse_list(const json_t *arr, const char *key, jc_egress_rule *out, size_t *n,
                      size_t room, jc_err *err) {
    if (!json_is_array(arr))
        return jc_err_field(err, JC_E_CONFIG, key, "%s must be an array of CIDR strings", key);
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        if (*n >= room)
            return jc_err_field(err, JC_E_CONFIG, key, "%s: at most %d entries", key, MAX_LIST);
        if (!json_is_string(v) || jc_egress_cidr_parse(json_string_value(v), &out[*n], err) < 0) {
            if (err)
                err->code = JC_E_CONFIG;
            return jc_err_prefix(err, "%s[%zu]", key, i);
        }
        (*n)++;
    }
    return 0;
}

/* Every address a URL's host resolves to now, as /32 or /128 rules: a job must not reach
 * the jobcell servers themselves (their internal API takes the orchestrators' key). */
static void add_url_addresses(const char *url, jc_egress_rule *out, size_t *n, size_t room) {
    char host[256];
    uint16_t port;
    bool tls;
    jc_err ignored;
    if (jc_orc_parse_http_url(url, host, sizeof(host), &port, &tls, &ignored) < 0)
        return;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return;
    for (struct addrinfo *a = res; a && *n < room; a = a->ai_next) {
        jc_egress_rule *r = &out[*n];
        memset(r, 0, sizeof(*r));
        if (a->ai_family == AF_INET) {
            r->kind = JC_EGRESS_IPV4;
            r->prefix = 32;
            memcpy(r->addr, &((struct sockaddr_in *)a->ai_addr)->sin_addr, 4);
        } else if (a->ai_family == AF_INET6) {
            r->kind = JC_EGRESS_IPV6;
            r->prefix = 128;
            memcpy(r->addr, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        (*n)++;
    }
    freeaddrinfo(res);
}

int jc_orc_egress_start(jc_orc *orc, jc_err *err) {
    const jc_orc_config *c = orc->cfg;
    orc->egress = NULL;
    if (!c->egress_enabled)
        return 0;
    static jc_egress_rule priv[MAX_LIST], deny[MAX_LIST + 16];
    size_t n_priv = 0, n_deny = 0;
    if (parse_list(c->egress_allow_private, "egress.allow_private", priv, &n_priv, MAX_LIST, err) <
            0 ||
        parse_list(c->egress_deny_always, "egress.deny_always", deny, &n_deny, MAX_LIST, err) < 0)
        return -1;
    add_url_addresses(c->server_url, deny, &n_deny, MAX_LIST + 16);
    add_url_addresses(c->runtime_url, deny, &n_deny, MAX_LIST + 16);
    const char *resolvers[MAX_LIST];
    size_t n_res = 0;
    if (!json_is_array(c->egress_resolvers))
        return jc_err_field(err, JC_E_CONFIG, "egress.resolvers",
                            "egress.resolvers must be an array of strings");
    size_t i;
    const json_t *v;
    json_array_foreach(c->egress_resolvers, i, v) {
        if (!json_is_string(v) || n_res >= MAX_LIST)
            return jc_err_field(err, JC_E_CONFIG, "egress.resolvers",
                                "egress.resolvers[%zu] must be a string", i);
        resolvers[n_res++] = json_string_value(v);
    }
    char state[4200];
    snprintf(state, sizeof(state), "%s/egress", c->run_dir);
    jc_egress_config ec = {.dns_mode = JC_EGRESS_DNS_LOOP,
                           .pool = c->egress_pool,
                           .state_dir = state,
                           .allow_private = priv,
                           .n_allow_private = n_priv,
                           .deny_always = deny,
                           .n_deny_always = n_deny,
                           .resolvers = resolvers,
                           .n_resolvers = n_res};
    if (!(orc->egress = jc_egress_new(&ec, err)))
        return jc_err_prefix(err, "egress (set egress.enabled to false to run without it)");
    jc_err rerr = {0};
    if (jc_egress_reconcile(orc->egress, &rerr) < 0)
        jc_log(JC_LOG_WARN, "egress reconcile failed", "error", rerr.msg, NULL);
    jc_log(JC_LOG_INFO, "egress networks ready", "pool", c->egress_pool, NULL);
    return 0;
}

static void rearm_dns(jc_orc *orc) {
    int ms = jc_egress_dns_timeout_ms(orc->egress);
    if (ms >= 0)
        jc_timer_arm(orc->egress_dns_timer, ms);
    else
        jc_timer_disarm(orc->egress_dns_timer);
}

static void on_dns_ready(jc_watch *w, int fd, uint32_t events, void *data) {
    (void)w;
    (void)fd;
    (void)events;
    jc_orc *orc = data;
    jc_egress_dns_handle(orc->egress);
    rearm_dns(orc);
}

static void on_dns_timer(jc_timer *t, void *data) {
    (void)t;
    jc_orc *orc = data;
    jc_egress_dns_handle(orc->egress);
    rearm_dns(orc);
}

int jc_orc_egress_attach(jc_orc *orc, jc_err *err) {
    if (!orc->egress || jc_egress_dns_fd(orc->egress) < 0)
        return 0;
    if (!(orc->egress_dns_timer = jc_timer_new(orc->loop, on_dns_timer, orc, err)) ||
        !(orc->egress_dns_watch = jc_loop_watch(orc->loop, jc_egress_dns_fd(orc->egress), EPOLLIN,
                                                on_dns_ready, orc, err)))
        return -1;
    return 0;
}

void jc_orc_egress_stop(jc_orc *orc) {
    jc_watch_remove(orc->egress_dns_watch);
    orc->egress_dns_watch = NULL;
    jc_timer_free(orc->egress_dns_timer);
    orc->egress_dns_timer = NULL;
    jc_egress_free(orc->egress);
    orc->egress = NULL;
}

int64_t jc_orc_egress_claimable(jc_orc *orc, int64_t n) {
    if (!orc->egress)
        return n;
    jc_err err = {0};
    int64_t free_leases = jc_egress_pool_free(orc->egress, &err);
    if (free_leases < 0) {
        jc_log(JC_LOG_WARN, "egress pool unreadable", "error", err.msg, NULL);
        return 0;
    }
    return free_leases < n ? free_leases : n;
}
