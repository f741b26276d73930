/* dns_wire.h: the DNS messages the resolver proxy reads and writes (RFC 1035), nothing more.
 *
 * Pure functions on byte buffers, no I/O, no allocation: a job's query, the query the
 * proxy forwards, an upstream's answer and the answer the proxy sends back. Every input is
 * hostile: sizes are checked before every read, a compressed name may only point backwards
 * (so it cannot loop) and is at most JC_DNS_WIRE_NAME_MAX bytes once expanded. */
#ifndef JOBCELL_DNS_WIRE_H
#define JOBCELL_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JC_DNS_HEADER_LEN 12
#define JC_DNS_WIRE_NAME_MAX 255 /* RFC 1035 2.3.4, length octets included */
#define JC_DNS_TEXT_NAME_MAX 253 /* the same name as dotted text, no trailing dot */
#define JC_DNS_UDP_MAX 512       /* what we answer over UDP (we never send EDNS) */
#define JC_DNS_QUERY_MAX 512     /* a job's query is never bigger; longer: FORMERR */
#define JC_DNS_UPSTREAM_UDP 1232 /* the EDNS size we announce upstream (DNS flag day 2020) */
#define JC_DNS_MAX_CHAIN 8       /* CNAME links followed from the asked name */
#define JC_DNS_MAX_ADDRS 32      /* addresses kept from one answer */

enum {
    JC_DNS_TYPE_A = 1,
    JC_DNS_TYPE_CNAME = 5,
    JC_DNS_TYPE_AAAA = 28,
    JC_DNS_TYPE_OPT = 41,
    JC_DNS_CLASS_IN = 1,
};

enum {
    JC_DNS_RCODE_NOERROR = 0,
    JC_DNS_RCODE_FORMERR = 1,
    JC_DNS_RCODE_SERVFAIL = 2,
    JC_DNS_RCODE_NXDOMAIN = 3,
    JC_DNS_RCODE_NOTIMP = 4,
    JC_DNS_RCODE_REFUSED = 5,
};

/* A question. name is lowercase dotted text without the trailing dot ("" for the root);
 * name_ok is false when a label holds a byte outside [A-Za-z0-9_-], which no allow-list
 * name can have (the text is then empty). wire/wire_len keep the name as the client sent
 * it, case included, for the echo in our answer. */
typedef struct jc_dns_question {
    char name[JC_DNS_TEXT_NAME_MAX + 1];
    bool name_ok;
    uint8_t wire[JC_DNS_WIRE_NAME_MAX];
    size_t wire_len;
    uint16_t qtype;
    uint16_t qclass;
} jc_dns_question;

typedef struct jc_dns_query {
    uint16_t id;
    bool rd; /* recursion desired, echoed */
    jc_dns_question q;
} jc_dns_query;

/* The outcome of jc_dns_query_parse. */
typedef enum jc_dns_query_verdict {
    JC_DNS_QUERY_OK = 0,
    JC_DNS_QUERY_DROP,    /* no answer at all: too short for an id, or a response (QR=1) */
    JC_DNS_QUERY_FORMERR, /* answer FORMERR: the id is known, the rest is not a query */
    JC_DNS_QUERY_NOTIMP,  /* an opcode other than QUERY */
    JC_DNS_QUERY_REFUSED, /* a class other than IN */
} jc_dns_query_verdict;

/* Parse a job's query strictly: one question, no answer or authority records, at most one
 * additional record and that an EDNS OPT, no compression in the question, nothing after
 * the last record. out->id is set whenever the verdict is not DROP. */
jc_dns_query_verdict jc_dns_query_parse(const uint8_t *msg, size_t len, jc_dns_query *out);

/* One address accepted from an answer. */
typedef struct jc_dns_addr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint32_t ttl; /* raw, before clamping */
} jc_dns_addr;

/* What the proxy keeps from an upstream answer. chain[0] is the asked name, chain[i+1] the
 * CNAME target of chain[i] (chain_ttl[i] that record's TTL); addrs are the records of the
 * asked type owned by the last name of the chain. */
typedef struct jc_dns_answer {
    uint8_t rcode;
    bool truncated;
    size_t n_chain;
    char chain[JC_DNS_MAX_CHAIN + 1][JC_DNS_TEXT_NAME_MAX + 1];
    uint32_t chain_ttl[JC_DNS_MAX_CHAIN];
    size_t n_addrs;
    jc_dns_addr addrs[JC_DNS_MAX_ADDRS];
} jc_dns_answer;

/* The outcome of jc_dns_answer_parse. */
typedef enum jc_dns_answer_verdict {
    JC_DNS_ANSWER_OK = 0,
    JC_DNS_ANSWER_MISMATCH, /* not the answer to (id, q): ignore it, keep waiting */
    JC_DNS_ANSWER_BAD,      /* it is, but malformed: give up on this upstream */
} jc_dns_answer_verdict;

/* Parse an upstream's answer to the query (id, q) that we sent. Only the answer section is
 * read; records of other classes and types, and of names off the chain, are skipped. */
jc_dns_answer_verdict jc_dns_answer_parse(const uint8_t *msg, size_t len, uint16_t id,
                                          const jc_dns_question *q, jc_dns_answer *out);

/* The query we forward: id, RD, the question (lowercase) and an EDNS OPT announcing
 * JC_DNS_UPSTREAM_UDP. Returns its length, 0 when cap is too small. */
size_t jc_dns_build_forward(uint8_t *buf, size_t cap, uint16_t id, const jc_dns_question *q);

/* Our answer to query: rcode, and when a is given (rcode NOERROR) the chain and as many
 * addresses as fit in cap, each TTL clamped to [ttl_min, ttl_max] (an address's TTL is
 * the smallest along the chain). When not even the chain fits, the answer is the question
 * alone with TC set. *n_addrs_out (may be NULL) is the number of addresses written: the
 * first ones of a->addrs. Returns the length, 0 when cap cannot hold the question. */
size_t jc_dns_build_response(uint8_t *buf, size_t cap, const jc_dns_query *query, uint8_t rcode,
                             const jc_dns_answer *a, uint32_t ttl_min, uint32_t ttl_max,
                             size_t *n_addrs_out);

/* Clamp a TTL to [min, max]. */
uint32_t jc_dns_clamp_ttl(uint32_t ttl, uint32_t min, uint32_t max);
/* The TTL of a->addrs[i] as answered and reported: the smallest TTL along the chain that
 * leads to it (the name maps to the address only while every link holds), clamped. */
uint32_t jc_dns_addr_ttl(const jc_dns_answer *a, size_t i, uint32_t min, uint32_t max);

/* Check and normalise an allow-list host name: lowercase, trailing dot dropped, labels of
 * 1–63 bytes from [a-z0-9_-], at most JC_DNS_TEXT_NAME_MAX bytes. out holds
 * JC_DNS_TEXT_NAME_MAX + 1. Returns false when it is not such a name. */
bool jc_dns_name_normalize(const char *name, char *out);

#endif
