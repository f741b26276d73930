/* egress_spec.h: one entry of a job's egress allow-list, parsed strictly.
 *
 * A job with `network: "egress"` lists where it may connect (`egress.allow`). Each entry
 * is one of:
 *
 *   host.example.com          a host name: any port
 *   host.example.com:443      a host name and one port
 *   host.example.com:8000-8100  a host name and a port range
 *   198.51.100.7              an IPv4 address (a /32)
 *   203.0.113.0/24:5432       an IPv4 network and a port
 *   2001:db8::1               an IPv6 address (a /128); no port without brackets
 *   2001:db8::/32             an IPv6 network
 *   [2001:db8::1]:443         an IPv6 address and a port
 *   [2001:db8::/32]:443-444   an IPv6 network and a port range
 *
 * The parser is the one gate every entry passes (API validation, the orchestrator, the
 * CLI, the DNS forwarder), so it accepts nothing it cannot describe exactly: a network
 * with host bits set, a port 0, a range backwards, a label with an underscore, a zone
 * id, an address in a form other than the standard dotted quad or RFC 4291 text — each
 * is rejected with a message naming the entry and what is wrong with it. */
#ifndef JOBCELL_EGRESS_SPEC_H
#define JOBCELL_EGRESS_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"

#define JC_EGRESS_ENTRY_MAX 300 /* bytes of one entry's text */
#define JC_EGRESS_HOST_MAX 253  /* bytes of a host name (RFC 1035, without the final dot) */

typedef enum jc_egress_kind {
    JC_EGRESS_HOST = 1, /* a host name: addresses come from DNS at run time */
    JC_EGRESS_IPV4,
    JC_EGRESS_IPV6,
} jc_egress_kind;

typedef struct jc_egress_rule {
    jc_egress_kind kind;
    char host[JC_EGRESS_HOST_MAX + 1]; /* JC_EGRESS_HOST: lower case, no final dot */
    uint8_t addr[16];                  /* IPV4 (first 4 bytes) / IPV6: network, host bits 0 */
    unsigned prefix;                   /* IPV4 0…32, IPV6 0…128 */
    uint16_t port_min;                 /* 0 with port_max 0: every port */
    uint16_t port_max;                 /* == port_min for a single port */
} jc_egress_rule;

/* Parse one entry into *out. JC_E_INVALID with a message that quotes the entry (cut at
 * 64 bytes) and says what is wrong. */
int jc_egress_rule_parse(const char *entry, jc_egress_rule *out, jc_err *err);

/* True when the rule allows every port. */
bool jc_egress_rule_any_port(const jc_egress_rule *r);

/* The canonical text of a rule ("host.example.com:443", "[2001:db8::/32]:80-81",
 * "198.51.100.7"): parsing it gives the same rule. Returns 0, or -1 when buf is too
 * small (then buf holds "" ). 320 bytes always suffice. */
int jc_egress_rule_format(const jc_egress_rule *r, char *buf, size_t len);

/* Parse a JSON array of entries (the job spec's `egress.allow`): every element a string,
 * at most max_rules of them (0 = no limit). field_prefix names the array in errors
 * ("egress.allow" gives err->field "egress.allow[3]"). On success *out is an owned array
 * of *n rules (NULL when empty; free()). */
int jc_egress_allow_parse(const json_t *allow, size_t max_rules, const char *field_prefix,
                          jc_egress_rule **out, size_t *n, jc_err *err);

/* Parse an address or network without a port ("10.0.0.0/8", "fd00::/8", "192.0.2.1"):
 * the form of the admin lists egress.allow_private and egress.deny_always. */
int jc_egress_cidr_parse(const char *text, jc_egress_rule *out, jc_err *err);

/* Does network a contain network b entirely (same family)? */
bool jc_egress_cidr_contains(const jc_egress_rule *a, const jc_egress_rule *b);

#endif
