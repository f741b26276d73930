/* egress_spec.c: the strict parser of egress allow-list entries (egress_spec.h).
 *
 * Addresses are converted with inet_pton, which accepts only the standard forms (no
 * "010.1.1.1" octal look-alikes, no "1.2.3", no hex), and printed back with inet_ntop, so
 * what the policy enforces is exactly what the owner can read back. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/egress_spec.h"

/* An entry quoted in a message: cut so an error never grows past its buffer. */
static const char *shown(const char *entry, char *buf, size_t len) {
    size_t n = strnlen(entry, 65);
    if (n > 64) {
        snprintf(buf, len, "%.60s...", entry);
        return buf;
    }
    snprintf(buf, len, "%s", entry);
    return buf;
}

#define BAD(err, entry, ...)                                                                       \
    do {                                                                                           \
        char q_[80];                                                                               \
        char why_[160];                                                                            \
        snprintf(why_, sizeof(why_), __VA_ARGS__);                                                 \
        return jc_err_set(err, JC_E_INVALID, "egress entry \"%s\": %s",                            \
                          shown(entry, q_, sizeof(q_)), why_);                                     \
    } while (0)

/* A decimal number 1…max with no sign, no leading zero, no spaces. */
static int parse_decimal(const char *s, size_t len, unsigned long max, unsigned long *out) {
    if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
        return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* "443" or "8000-8100" */
static int parse_ports(const char *entry, const char *p, jc_egress_rule *r, jc_err *err) {
    const char *dash = strchr(p, '-');
    unsigned long a, b;
    if (!*p)
        BAD(err, entry, "the port after ':' is missing");
    if (!dash) {
        if (parse_decimal(p, strlen(p), 65535, &a) < 0 || a == 0)
            BAD(err, entry, "the port must be a number from 1 to 65535");
        r->port_min = r->port_max = (uint16_t)a;
        return 0;
    }
    if (parse_decimal(p, (size_t)(dash - p), 65535, &a) < 0 || a == 0 ||
        parse_decimal(dash + 1, strlen(dash + 1), 65535, &b) < 0 || b == 0)
        BAD(err, entry, "a port range is two numbers from 1 to 65535 joined by '-' (8000-8100)");
    if (a > b)
        BAD(err, entry, "the port range %lu-%lu runs backwards", a, b);
    r->port_min = (uint16_t)a;
    r->port_max = (uint16_t)b;
    return 0;
}

static void mask_bits(uint8_t *addr, size_t bytes, unsigned prefix, bool *had_host_bits) {
    *had_host_bits = false;
    for (size_t i = 0; i < bytes; i++) {
        unsigned keep = prefix >= (i + 1) * 8 ? 8 : (prefix > i * 8 ? prefix - (unsigned)i * 8 : 0);
        uint8_t mask = keep ? (uint8_t)(0xff << (8 - keep)) : 0;
        if (addr[i] & (uint8_t)~mask)
            *had_host_bits = true;
        addr[i] &= mask;
    }
}

/* "a.b.c.d", "a.b.c.d/n", "2001:db8::", "2001:db8::/32": an address or network. */
static int parse_network(const char *entry, const char *text, size_t len, jc_egress_rule *r,
                         jc_err *err) {
    char buf[64];
    if (len == 0)
        BAD(err, entry, "the address is missing");
    if (len >= sizeof(buf))
        BAD(err, entry, "not a valid IP address or network");
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    bool v6 = strchr(buf, ':') != NULL;
    if (strchr(buf, '%'))
        BAD(err, entry, "a zone id (%%…) is not allowed");
    memset(r->addr, 0, sizeof(r->addr));
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, r->addr) != 1)
        BAD(err, entry, "\"%s\" is not a valid %s address", buf, v6 ? "IPv6" : "IPv4");
    unsigned max = v6 ? 128 : 32;
    unsigned long prefix = max;
    if (slash && parse_decimal(slash + 1, strlen(slash + 1), max, &prefix) < 0)
        BAD(err, entry, "the prefix length after '/' must be a number from 0 to %u", max);
    bool host_bits;
    mask_bits(r->addr, v6 ? 16 : 4, (unsigned)prefix, &host_bits);
    if (host_bits) {
        char net[INET6_ADDRSTRLEN];
        inet_ntop(v6 ? AF_INET6 : AF_INET, r->addr, net, sizeof(net));
        BAD(err, entry, "the network has host bits set (did you mean %s/%lu?)", net, prefix);
    }
    r->kind = v6 ? JC_EGRESS_IPV6 : JC_EGRESS_IPV4;
    r->prefix = (unsigned)prefix;
    return 0;
}

/* RFC 1123 host name: labels of [a-z0-9-], 1…63 bytes, no '-' at either end; at most
 * 253 bytes; the last label not all digits (that would be a mistyped IPv4 address). */
static int parse_host(const char *entry, const char *text, size_t len, jc_egress_rule *r,
                      jc_err *err) {
    if (len == 0)
        BAD(err, entry, "the host name is missing");
    if (len > JC_EGRESS_HOST_MAX)
        BAD(err, entry, "a host name is at most %d characters", JC_EGRESS_HOST_MAX);
    size_t label = 0;
    bool all_digits = true;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? text[i] : '.';
        if (c == '.') {
            if (label == 0)
                BAD(err, entry, "%s",
                    i == len ? "a host name cannot end with '.'"
                             : "a host name has an empty label ('..' or a "
                               "leading '.')");
            if (text[i - 1] == '-')
                BAD(err, entry, "a host name label cannot end with '-'");
            if (i == len && all_digits)
                BAD(err, entry,
                    "not a valid IPv4 address, and a host name cannot end with a "
                    "numeric label");
            label = 0;
            all_digits = true;
            if (i < len)
                r->host[i] = '.';
            continue;
        }
        if (c == '*')
            BAD(err, entry, "wildcards are not supported: list each host name");
        if (!(isalnum((unsigned char)c) && (unsigned char)c < 0x80) && c != '-')
            BAD(err, entry,
                "a host name may contain only letters, digits, '-' and '.' (found "
                "byte 0x%02x)",
                (unsigned)(unsigned char)c);
        if (c == '-' && label == 0)
            BAD(err, entry, "a host name label cannot start with '-'");
        if (++label > 63)
            BAD(err, entry, "a host name label is at most 63 characters");
        if (!isdigit((unsigned char)c))
            all_digits = false;
        r->host[i] = (char)tolower((unsigned char)c);
    }
    r->host[len] = '\0';
    r->kind = JC_EGRESS_HOST;
    r->prefix = 0;
    return 0;
}

/* Does text look like an IPv4 address (only digits, dots and a /prefix)? */
static bool looks_ipv4(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)text[i]) && text[i] != '.' && text[i] != '/')
            return false;
    return len > 0;
}

int jc_egress_rule_parse(const char *entry, jc_egress_rule *out, jc_err *err) {
    memset(out, 0, sizeof(*out));
    if (!entry)
        return jc_err_set(err, JC_E_INVALID, "egress entry: missing");
    size_t n = strnlen(entry, JC_EGRESS_ENTRY_MAX + 1);
    if (n == 0)
        return jc_err_set(err, JC_E_INVALID, "egress entry \"\": empty");
    if (n > JC_EGRESS_ENTRY_MAX)
        BAD(err, entry, "longer than %d characters", JC_EGRESS_ENTRY_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)entry[i] <= ' ' || (unsigned char)entry[i] >= 0x7f)
            BAD(err, entry, "spaces, control characters and non-ASCII bytes are not allowed");

    if (entry[0] == '[') {
        /* [v6] or [v6/n] with an optional :ports */
        const char *close = strchr(entry, ']');
        if (!close)
            BAD(err, entry, "'[' without a closing ']'");
        if (!memchr(entry + 1, ':', (size_t)(close - entry - 1)))
            BAD(err, entry, "brackets are only for IPv6 addresses");
        if (parse_network(entry, entry + 1, (size_t)(close - entry - 1), out, err) < 0)
            return -1;
        if (close[1] == '\0')
            return 0;
        if (close[1] != ':')
            BAD(err, entry, "expected ':' and a port after ']'");
        return parse_ports(entry, close + 2, out, err);
    }
    const char *first_colon = strchr(entry, ':');
    if (first_colon && strchr(first_colon + 1, ':')) {
        /* more than one ':': a bare IPv6 address or network, never with a port */
        if (strchr(entry, ']'))
            BAD(err, entry, "']' without an opening '['");
        return parse_network(entry, entry, n, out, err);
    }
    size_t host_len = first_colon ? (size_t)(first_colon - entry) : n;
    int rc = looks_ipv4(entry, host_len) ? parse_network(entry, entry, host_len, out, err)
                                         : parse_host(entry, entry, host_len, out, err);
    if (rc < 0)
        return -1;
    if (out->kind == JC_EGRESS_HOST && memchr(entry, '/', host_len))
        BAD(err, entry, "a host name cannot have a prefix length");
    return first_colon ? parse_ports(entry, first_colon + 1, out, err) : 0;
}

bool jc_egress_rule_any_port(const jc_egress_rule *r) {
    return r->port_min == 0 && r->port_max == 0;
}

int jc_egress_rule_format(const jc_egress_rule *r, char *buf, size_t len) {
    char host[JC_EGRESS_HOST_MAX + 64];
    char ports[16] = "";
    if (!jc_egress_rule_any_port(r)) {
        if (r->port_min == r->port_max)
            snprintf(ports, sizeof(ports), ":%u", (unsigned)r->port_min);
        else
            snprintf(ports, sizeof(ports), ":%u-%u", (unsigned)r->port_min, (unsigned)r->port_max);
    }
    if (r->kind == JC_EGRESS_HOST) {
        snprintf(host, sizeof(host), "%s", r->host);
    } else {
        char a[INET6_ADDRSTRLEN];
        bool v6 = r->kind == JC_EGRESS_IPV6;
        if (!inet_ntop(v6 ? AF_INET6 : AF_INET, r->addr, a, sizeof(a)))
            goto too_small;
        bool full = r->prefix == (v6 ? 128u : 32u);
        bool brackets = v6 && ports[0];
        char pfx[8] = "";
        if (!full)
            snprintf(pfx, sizeof(pfx), "/%u", r->prefix);
        snprintf(host, sizeof(host), "%s%s%s%s", brackets ? "[" : "", a, pfx, brackets ? "]" : "");
    }
    int w = snprintf(buf, len, "%s%s", host, ports);
    if (w < 0 || (size_t)w >= len)
        goto too_small;
    return 0;
too_small:
    if (len)
        buf[0] = '\0';
    return -1;
}

int jc_egress_allow_parse(const json_t *allow, size_t max_rules, const char *field_prefix,
                          jc_egress_rule **out, size_t *n, jc_err *err) {
    *out = NULL;
    *n = 0;
    if (!json_is_array(allow))
        return jc_err_field(err, JC_E_INVALID, field_prefix, "%s must be an array of strings",
                            field_prefix);
    size_t count = json_array_size(allow);
    if (max_rules && count > max_rules)
        return jc_err_field(err, JC_E_INVALID, field_prefix,
                            "%s has %zu entries; at most %zu are allowed", field_prefix, count,
                            max_rules);
    if (count == 0)
        return 0;
    jc_egress_rule *rules = calloc(count, sizeof(*rules));
    if (!rules)
        return jc_err_set(err, JC_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(allow, i);
        char field[128];
        snprintf(field, sizeof(field), "%s[%zu]", field_prefix, i);
        int rc = json_is_string(e) ? jc_egress_rule_parse(json_string_value(e), &rules[i], err)
                                   : jc_err_set(err, JC_E_INVALID, "must be a string");
        if (rc < 0) {
            free(rules);
            if (err) {
                snprintf(err->field, sizeof(err->field), "%s", field);
                jc_err_prefix(err, "%s", field);
            }
            return -1;
        }
    }
    *out = rules;
    *n = count;
    return 0;
}

int jc_egress_cidr_parse(const char *text, jc_egress_rule *out, jc_err *err) {
    memset(out, 0, sizeof(*out));
    if (!text || !*text)
        return jc_err_set(err, JC_E_INVALID, "an empty address");
    size_t n = strnlen(text, 64);
    if (n >= 64)
        return jc_err_set(err, JC_E_INVALID, "\"%.40s...\": not an address or network", text);
    return parse_network(text, text, n, out, err);
}

bool jc_egress_cidr_contains(const jc_egress_rule *a, const jc_egress_rule *b) {
    if (a->kind != b->kind || a->kind == JC_EGRESS_HOST || a->prefix > b->prefix)
        return false;
    jc_egress_rule masked = *b;
    bool ignored;
    mask_bits(masked.addr, a->kind == JC_EGRESS_IPV6 ? 16 : 4, a->prefix, &ignored);
    return memcmp(masked.addr, a->addr, a->kind == JC_EGRESS_IPV6 ? 16 : 4) == 0;
}
