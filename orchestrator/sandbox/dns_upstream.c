/* dns_upstream.c: where the resolver proxy forwards to, and what a job's resolv.conf says
 * (see jobcell/dns_proxy.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cleanup.h"
#include "jobcell/dns_proxy.h"
#include "jobcell/io.h"

#define RESOLV_CONF_MAX (64 * 1024)

static bool parse_port(const char *s, uint16_t *out) {
    if (!*s || strlen(s) > 5)
        return false;
    unsigned v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        v = v * 10 + (unsigned)(*c - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

int jc_dns_upstream_parse(const char *text, struct sockaddr_storage *out, jc_err *err) {
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_text = NULL;
    uint16_t port = 53;
    size_t len = strlen(text);

    if (text[0] == '[') { /* [v6]:port or [v6] */
        const char *close = strchr(text, ']');
        if (!close || (size_t)(close - text - 1) >= sizeof(host))
            goto bad;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        if (close[1] == ':')
            port_text = close + 2;
        else if (close[1] != '\0')
            goto bad;
    } else {
        const char *colon = strchr(text, ':');
        bool one_colon = colon && !strchr(colon + 1, ':');
        size_t host_len = one_colon ? (size_t)(colon - text) : len; /* v4:port, or bare v6 */
        if (host_len >= sizeof(host))
            goto bad;
        memcpy(host, text, host_len);
        host[host_len] = '\0';
        if (one_colon)
            port_text = colon + 1;
    }
    if (port_text && !parse_port(port_text, &port))
        goto bad;

    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1 && text[0] != '[') {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return 0;
    }
bad:
    return jc_err_set(err, JC_E_INVALID,
                      "\"%.80s\" is not a resolver address (an IP address, optionally with "
                      ":port; an IPv6 address with a port in brackets)",
                      text);
}

static bool is_loopback(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a))
        return a->s6_addr[12] == 127;
    return IN6_IS_ADDR_LOOPBACK(a);
}

int jc_dns_upstreams_from_resolv_conf(const char *path, struct sockaddr_storage *out, size_t max,
                                      jc_err *err) {
    size_t len;
    _cleanup_free_ char *text = jc_read_file(path, RESOLV_CONF_MAX, &len, err);
    if (!text)
        return jc_err_prefix(err, "resolver list %s", path);
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < max;
         line = strtok_r(NULL, "\n", &save)) {
        char *word_save = NULL;
        char *key = strtok_r(line, " \t\r", &word_save);
        if (!key || strcmp(key, "nameserver") != 0)
            continue;
        char *addr = strtok_r(NULL, " \t\r", &word_save);
        /* a scoped link-local address ("fe80::1%eth0") does not parse, and is skipped: it
         * is only reachable on one of the host's own links */
        if (!addr || strchr(addr, '%') || strchr(addr, '[') || strchr(addr, ']'))
            continue;
        struct sockaddr_storage ss;
        /* resolv.conf never carries a port: a "1.2.3.4:53" there is not an address */
        if (strchr(addr, ':') && !strchr(strchr(addr, ':') + 1, ':'))
            continue;
        if (jc_dns_upstream_parse(addr, &ss, NULL) < 0 || is_loopback(&ss))
            continue;
        out[n++] = ss;
    }
    return (int)n;
}

int jc_dns_upstreams_default(struct sockaddr_storage *out, size_t max, jc_err *err) {
    static const char *const files[] = {"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"};
    for (size_t i = 0; i < JC_ARRAY_LEN(files); i++) {
        jc_err ignored;
        int n = jc_dns_upstreams_from_resolv_conf(files[i], out, max, &ignored);
        if (n > 0)
            return n;
    }
    return jc_err_set(err, JC_E_CONFIG,
                      "no upstream resolver for egress jobs: /etc/resolv.conf names none that is "
                      "not a loopback address; set egress.resolvers");
}

jc_dns_proxy *jc_dns_proxy_new_from_text(const char *const *resolvers, size_t n, jc_err *err) {
    struct sockaddr_storage up[JC_DNS_MAX_UPSTREAMS];
    int count;
    if (n == 0) {
        if ((count = jc_dns_upstreams_default(up, JC_DNS_MAX_UPSTREAMS, err)) < 0)
            return NULL;
    } else {
        if (n > JC_DNS_MAX_UPSTREAMS)
            return jc_err_set(err, JC_E_CONFIG, "egress.resolvers: at most %d resolvers",
                              JC_DNS_MAX_UPSTREAMS),
                   NULL;
        for (size_t i = 0; i < n; i++)
            if (jc_dns_upstream_parse(resolvers[i], &up[i], err) < 0)
                return jc_err_prefix(err, "egress.resolvers"), NULL;
        count = (int)n;
    }
    return jc_dns_proxy_new(up, (size_t)count, err);
}

int jc_dns_resolv_conf_text(const struct sockaddr *resolver, char *buf, size_t len, jc_err *err) {
    char addr[INET6_ADDRSTRLEN];
    uint16_t port;
    if (resolver->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)resolver;
        inet_ntop(AF_INET, &v4->sin_addr, addr, sizeof(addr));
        port = ntohs(v4->sin_port);
    } else if (resolver->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)resolver;
        inet_ntop(AF_INET6, &v6->sin6_addr, addr, sizeof(addr));
        port = ntohs(v6->sin6_port);
    } else {
        return jc_err_set(err, JC_E_INVALID, "resolv.conf: the resolver is not an IP address");
    }
    if (port != 53)
        return jc_err_set(err, JC_E_INVALID,
                          "resolv.conf: the resolver must listen on port 53, not %u", port);
    int n = snprintf(buf, len,
                     "# Written by jobcell. Only the host names of this job's allow-list "
                     "resolve;\n# every other name is answered \"does not exist\".\n"
                     "nameserver %s\noptions timeout:4 attempts:2\n",
                     addr);
    if (n < 0 || (size_t)n >= len)
        return jc_err_set(err, JC_E_TOO_LARGE, "resolv.conf: buffer too small");
    return 0;
}
