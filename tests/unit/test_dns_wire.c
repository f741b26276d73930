/* The resolver proxy's message parser and builder, and its upstream list: every verdict of
 * the query parser, the CNAME-chain rules of the answer parser, the bounds of the builder. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns_wire.h"
#include "jobcell/dns_proxy.h"

/* ---- a tiny message writer for the tests ------------------------------------------------ */

typedef struct msg {
    uint8_t b[4096];
    size_t n;
} msg;

static void u8(msg *m, unsigned v) {
    m->b[m->n++] = (uint8_t)v;
}
static void u16(msg *m, unsigned v) {
    u8(m, v >> 8);
    u8(m, v & 0xFF);
}
static void u32(msg *m, uint32_t v) {
    u16(m, v >> 16);
    u16(m, v & 0xFFFF);
}
/* a dotted name, uncompressed */
static void name(msg *m, const char *text) {
    while (*text) {
        const char *dot = strchr(text, '.');
        size_t l = dot ? (size_t)(dot - text) : strlen(text);
        u8(m, (unsigned)l);
        memcpy(m->b + m->n, text, l);
        m->n += l;
        text += l + (dot ? 1 : 0);
    }
    u8(m, 0);
}
static void header(msg *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns,
                   unsigned ar) {
    m->n = 0;
    u16(m, id);
    u16(m, flags);
    u16(m, qd);
    u16(m, an);
    u16(m, ns);
    u16(m, ar);
}
static void query(msg *m, unsigned id, const char *qname, unsigned qtype) {
    header(m, id, 0x0100, 1, 0, 0, 0);
    name(m, qname);
    u16(m, qtype);
    u16(m, JC_DNS_CLASS_IN);
}
/* a record whose owner is a pointer to offset owner (or a full name when owner_text) */
static void rr_head(msg *m, const char *owner_text, unsigned owner, unsigned type, uint32_t ttl,
                    unsigned rdlen) {
    if (owner_text)
        name(m, owner_text);
    else
        u16(m, 0xC000 | owner);
    u16(m, type);
    u16(m, JC_DNS_CLASS_IN);
    u32(m, ttl);
    u16(m, rdlen);
}
static void rr_a(msg *m, const char *owner_text, unsigned owner, uint32_t ttl, uint8_t last) {
    rr_head(m, owner_text, owner, JC_DNS_TYPE_A, ttl, 4);
    u8(m, 198);
    u8(m, 51);
    u8(m, 100);
    u8(m, last);
}
static void rr_cname(msg *m, const char *owner_text, unsigned owner, uint32_t ttl,
                     const char *target) {
    size_t at = m->n;
    rr_head(m, owner_text, owner, JC_DNS_TYPE_CNAME, ttl, 0);
    size_t rd = m->n;
    name(m, target);
    size_t rdlen = m->n - rd;
    m->b[rd - 2] = (uint8_t)(rdlen >> 8);
    m->b[rd - 1] = (uint8_t)rdlen;
    (void)at;
}
/* an upstream answer header + the question for qname/qtype */
static void answer_start(msg *m, unsigned id, unsigned rcode, unsigned an, const char *qname,
                         unsigned qtype) {
    header(m, id, 0x8180 | rcode, 1, an, 0, 0);
    name(m, qname);
    u16(m, qtype);
    u16(m, JC_DNS_CLASS_IN);
}
static jc_dns_question question(const char *qname, unsigned qtype) {
    jc_dns_question q;
    memset(&q, 0, sizeof(q));
    snprintf(q.name, sizeof(q.name), "%s", qname);
    q.name_ok = true;
    q.qtype = (uint16_t)qtype;
    q.qclass = JC_DNS_CLASS_IN;
    return q;
}

/* ---- queries -------------------------------------------------------------------------- */

static void test_query_ok(void **state) {
    (void)state;
    msg m;
    jc_dns_query q;
    query(&m, 0xBEEF, "Api.Example.COM", JC_DNS_TYPE_AAAA);
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_OK);
    assert_int_equal(q.id, 0xBEEF);
    assert_true(q.rd);
    assert_string_equal(q.q.name, "api.example.com");
    assert_true(q.q.name_ok);
    assert_int_equal(q.q.qtype, JC_DNS_TYPE_AAAA);
    assert_int_equal(q.q.wire_len, 17);
    assert_memory_equal(q.q.wire,
                        "\x03"
                        "Api",
                        4); /* the client's case is kept for the echo */

    /* with an EDNS OPT record carrying one option */
    header(&m, 7, 0x0100, 1, 0, 0, 1);
    name(&m, "example.com");
    u16(&m, JC_DNS_TYPE_A);
    u16(&m, JC_DNS_CLASS_IN);
    u8(&m, 0);
    u16(&m, JC_DNS_TYPE_OPT);
    u16(&m, 4096);
    u32(&m, 0);
    u16(&m, 4);
    u32(&m, 0x000A0000); /* COOKIE, empty: content is not looked at */
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_OK);
    assert_string_equal(q.q.name, "example.com");
}

static void test_query_drop(void **state) {
    (void)state;
    msg m;
    jc_dns_query q;
    query(&m, 1, "example.com", JC_DNS_TYPE_A);
    assert_int_equal(jc_dns_query_parse(m.b, 11, &q), JC_DNS_QUERY_DROP);
    m.b[2] |= 0x80; /* QR: a response */
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_DROP);
}

static void test_query_formerr(void **state) {
    (void)state;
    msg m;
    jc_dns_query q;

    query(&m, 2, "example.com", JC_DNS_TYPE_A);
    assert_int_equal(jc_dns_query_parse(m.b, m.n - 1, &q), JC_DNS_QUERY_FORMERR);
    assert_int_equal(q.id, 2); /* known, so the FORMERR reaches the right query */
    m.b[m.n++] = 0;            /* a byte after the question */
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_FORMERR);

    query(&m, 2, "example.com", JC_DNS_TYPE_A);
    m.b[5] = 2; /* two questions */
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_FORMERR);
    query(&m, 2, "example.com", JC_DNS_TYPE_A);
    m.b[7] = 1; /* an answer record in a query */
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_FORMERR);
    query(&m, 2, "example.com", JC_DNS_TYPE_A);
    m.b[2] |= 0x02; /* TC */
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_FORMERR);

    /* a compression pointer in the question: nothing before it to point at */
    header(&m, 3, 0x0100, 1, 0, 0, 0);
    u16(&m, 0xC00C);
    u16(&m, 1);
    u16(&m, 1);
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_FORMERR);

    /* a label length of 64 (0x40: an obsolete extended label type) */
    header(&m, 3, 0x0100, 1, 0, 0, 0);
    u8(&m, 64);
    for (int i = 0; i < 64; i++)
        u8(&m, 'a');
    u8(&m, 0);
    u16(&m, 1);
    u16(&m, 1);
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_FORMERR);

    /* a name of 256 bytes: 4 labels of 63 + length octets + root = 257 */
    header(&m, 3, 0x0100, 1, 0, 0, 0);
    for (int l = 0; l < 4; l++) {
        u8(&m, 63);
        for (int i = 0; i < 63; i++)
            u8(&m, 'a');
    }
    u8(&m, 0);
    u16(&m, 1);
    u16(&m, 1);
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_FORMERR);

    /* an additional record that is not an OPT */
    header(&m, 3, 0x0100, 1, 0, 0, 1);
    name(&m, "example.com");
    u16(&m, 1);
    u16(&m, 1);
    rr_a(&m, "example.com", 0, 60, 1);
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_FORMERR);

    /* an OPT whose rdata runs past the end */
    header(&m, 3, 0x0100, 1, 0, 0, 1);
    name(&m, "example.com");
    u16(&m, 1);
    u16(&m, 1);
    u8(&m, 0);
    u16(&m, JC_DNS_TYPE_OPT);
    u16(&m, 512);
    u32(&m, 0);
    u16(&m, 100);
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_FORMERR);

    /* longer than any query: 600 bytes */
    query(&m, 4, "example.com", JC_DNS_TYPE_A);
    assert_int_equal(jc_dns_query_parse(m.b, 600, &q), JC_DNS_QUERY_FORMERR);
}

static void test_query_other_verdicts(void **state) {
    (void)state;
    msg m;
    jc_dns_query q;
    query(&m, 5, "example.com", JC_DNS_TYPE_A);
    m.b[2] |= 0x10; /* opcode 2: STATUS */
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_NOTIMP);

    header(&m, 5, 0x0100, 1, 0, 0, 0);
    name(&m, "version.bind");
    u16(&m, 16);
    u16(&m, 3); /* CHAOS */
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_REFUSED);

    /* a dot and a NUL inside a label: a valid wire name that no host name equals */
    header(&m, 5, 0x0100, 1, 0, 0, 0);
    u8(&m, 5);
    memcpy(m.b + m.n, "a.b\0c", 5);
    m.n += 5;
    name(&m, "com");
    u16(&m, 1);
    u16(&m, 1);
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &q), JC_DNS_QUERY_OK);
    assert_false(q.q.name_ok);
    assert_string_equal(q.q.name, "");
}

/* ---- answers -------------------------------------------------------------------------- */

static void test_answer_simple(void **state) {
    (void)state;
    msg m;
    jc_dns_answer a;
    jc_dns_question q = question("api.example.com", JC_DNS_TYPE_A);
    answer_start(&m, 0x1234, 0, 2, "API.example.com", JC_DNS_TYPE_A);
    rr_a(&m, NULL, 12, 300, 10);
    rr_a(&m, NULL, 12, 0x80000001U, 11); /* top bit set: TTL 0 */
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 0x1234, &q, &a), JC_DNS_ANSWER_OK);
    assert_int_equal(a.rcode, 0);
    assert_int_equal(a.n_chain, 1);
    assert_int_equal(a.n_addrs, 2);
    assert_int_equal(a.addrs[0].family, AF_INET);
    assert_memory_equal(a.addrs[0].addr, "\xc6\x33\x64\x0a", 4);
    assert_int_equal(a.addrs[0].ttl, 300);
    assert_int_equal(a.addrs[1].ttl, 0);
    assert_int_equal(jc_dns_addr_ttl(&a, 1, JC_DNS_TTL_MIN, JC_DNS_TTL_MAX), 5);
}

static void test_answer_mismatch(void **state) {
    (void)state;
    msg m;
    jc_dns_answer a;
    jc_dns_question q = question("api.example.com", JC_DNS_TYPE_A);
    answer_start(&m, 0x1234, 0, 1, "api.example.com", JC_DNS_TYPE_A);
    rr_a(&m, NULL, 12, 300, 10);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 0x1235, &q, &a), JC_DNS_ANSWER_MISMATCH);
    jc_dns_question other = question("api.example.org", JC_DNS_TYPE_A);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 0x1234, &other, &a), JC_DNS_ANSWER_MISMATCH);
    jc_dns_question aaaa = question("api.example.com", JC_DNS_TYPE_AAAA);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 0x1234, &aaaa, &a), JC_DNS_ANSWER_MISMATCH);
    m.b[2] &= 0x7F; /* not a response */
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 0x1234, &q, &a), JC_DNS_ANSWER_MISMATCH);
}

static void test_answer_chain(void **state) {
    (void)state;
    msg m;
    jc_dns_answer a;
    jc_dns_question q = question("www.allowed.test", JC_DNS_TYPE_A);
    /* www.allowed.test CNAME edge.cdn.test; an injected record of another name; edge's A;
     * an A for the asked name itself, which has a CNAME and so cannot own addresses */
    answer_start(&m, 9, 0, 4, "www.allowed.test", JC_DNS_TYPE_A);
    rr_cname(&m, NULL, 12, 600, "edge.cdn.test");
    rr_a(&m, "evil.outside.test", 0, 600, 66);
    rr_a(&m, "Edge.CDN.test", 0, 30, 20);
    rr_a(&m, NULL, 12, 600, 99);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 9, &q, &a), JC_DNS_ANSWER_OK);
    assert_int_equal(a.n_chain, 2);
    assert_string_equal(a.chain[1], "edge.cdn.test");
    assert_int_equal(a.chain_ttl[0], 600);
    assert_int_equal(a.n_addrs, 1);
    assert_int_equal(a.addrs[0].addr[3], 20);
    /* the chain's TTL bounds the address's: here the address's own 30 is lower */
    assert_int_equal(jc_dns_addr_ttl(&a, 0, 5, 3600), 30);

    /* a chain whose link has the lower TTL */
    answer_start(&m, 9, 0, 2, "www.allowed.test", JC_DNS_TYPE_A);
    rr_cname(&m, NULL, 12, 7, "edge.cdn.test");
    rr_a(&m, "edge.cdn.test", 0, 600, 20);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 9, &q, &a), JC_DNS_ANSWER_OK);
    assert_int_equal(jc_dns_addr_ttl(&a, 0, 5, 3600), 7);
    assert_int_equal(jc_dns_addr_ttl(&a, 0, 10, 3600), 10);

    /* a CNAME loop */
    answer_start(&m, 9, 0, 2, "www.allowed.test", JC_DNS_TYPE_A);
    rr_cname(&m, NULL, 12, 60, "b.test");
    rr_cname(&m, "b.test", 0, 60, "www.allowed.test");
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 9, &q, &a), JC_DNS_ANSWER_BAD);

    /* nine links: longer than JC_DNS_MAX_CHAIN */
    answer_start(&m, 9, 0, 10, "www.allowed.test", JC_DNS_TYPE_A);
    rr_cname(&m, NULL, 12, 60, "l1.test");
    char owner[16], target[16];
    for (int i = 1; i < 9; i++) {
        snprintf(owner, sizeof(owner), "l%d.test", i);
        snprintf(target, sizeof(target), "l%d.test", i + 1);
        rr_cname(&m, owner, 0, 60, target);
    }
    rr_a(&m, "l9.test", 0, 60, 1);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 9, &q, &a), JC_DNS_ANSWER_BAD);

    /* eight links are fine */
    answer_start(&m, 9, 0, 9, "www.allowed.test", JC_DNS_TYPE_A);
    rr_cname(&m, NULL, 12, 60, "l1.test");
    for (int i = 1; i < 8; i++) {
        snprintf(owner, sizeof(owner), "l%d.test", i);
        snprintf(target, sizeof(target), "l%d.test", i + 1);
        rr_cname(&m, owner, 0, 60, target);
    }
    rr_a(&m, "l8.test", 0, 60, 1);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 9, &q, &a), JC_DNS_ANSWER_OK);
    assert_int_equal(a.n_chain, 9);
    assert_int_equal(a.n_addrs, 1);
}

static void test_answer_malformed(void **state) {
    (void)state;
    msg m;
    jc_dns_answer a;
    jc_dns_question q = question("api.example.com", JC_DNS_TYPE_A);

    /* a pointer to itself */
    answer_start(&m, 1, 0, 1, "api.example.com", JC_DNS_TYPE_A);
    size_t at = m.n;
    u16(&m, 0xC000 | (unsigned)at);
    u16(&m, 1);
    u16(&m, 1);
    u32(&m, 60);
    u16(&m, 4);
    u32(&m, 0x01020304);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 1, &q, &a), JC_DNS_ANSWER_BAD);

    /* two pointers pointing at each other (each one backwards from where it sits) */
    answer_start(&m, 1, 0, 1, "api.example.com", JC_DNS_TYPE_A);
    size_t first = m.n;
    u8(&m, 1);
    u8(&m, 'x');
    u16(&m, 0xC000 | (unsigned)(first + 4)); /* forward: refused */
    u16(&m, 0xC000 | (unsigned)first);
    u16(&m, 1);
    u16(&m, 1);
    u32(&m, 60);
    u16(&m, 4);
    u32(&m, 0x01020304);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 1, &q, &a), JC_DNS_ANSWER_BAD);

    /* an A record with 5 bytes of data */
    answer_start(&m, 1, 0, 1, "api.example.com", JC_DNS_TYPE_A);
    rr_head(&m, NULL, 12, JC_DNS_TYPE_A, 60, 5);
    u32(&m, 0x01020304);
    u8(&m, 5);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 1, &q, &a), JC_DNS_ANSWER_BAD);

    /* a record that runs past the end, and a count of records larger than what is there */
    answer_start(&m, 1, 0, 1, "api.example.com", JC_DNS_TYPE_A);
    rr_a(&m, NULL, 12, 60, 1);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n - 1, 1, &q, &a), JC_DNS_ANSWER_BAD);
    m.b[7] = 2;
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 1, &q, &a), JC_DNS_ANSWER_BAD);

    /* a CNAME whose rdata length is longer than its name */
    answer_start(&m, 1, 0, 1, "api.example.com", JC_DNS_TYPE_A);
    rr_head(&m, NULL, 12, JC_DNS_TYPE_CNAME, 60, 5);
    name(&m, "b.c"); /* 5 bytes: fine */
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 1, &q, &a), JC_DNS_ANSWER_OK);
    m.b[m.n - 6] = 6;
    u8(&m, 0);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 1, &q, &a), JC_DNS_ANSWER_BAD);

    /* NXDOMAIN: the rcode, no records read */
    answer_start(&m, 1, 3, 0, "api.example.com", JC_DNS_TYPE_A);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 1, &q, &a), JC_DNS_ANSWER_OK);
    assert_int_equal(a.rcode, JC_DNS_RCODE_NXDOMAIN);
    assert_int_equal(a.n_addrs, 0);
}

static void test_answer_other_class_skipped(void **state) {
    (void)state;
    msg m;
    jc_dns_answer a;
    jc_dns_question q = question("api.example.com", JC_DNS_TYPE_A);
    answer_start(&m, 1, 0, 2, "api.example.com", JC_DNS_TYPE_A);
    u16(&m, 0xC00C);
    u16(&m, JC_DNS_TYPE_A);
    u16(&m, 3); /* CHAOS */
    u32(&m, 60);
    u16(&m, 4);
    u32(&m, 0x0A000001);
    rr_a(&m, NULL, 12, 60, 7);
    assert_int_equal(jc_dns_answer_parse(m.b, m.n, 1, &q, &a), JC_DNS_ANSWER_OK);
    assert_int_equal(a.n_addrs, 1);
    assert_int_equal(a.addrs[0].addr[3], 7);
}

/* ---- building ------------------------------------------------------------------------- */

static void test_build_forward(void **state) {
    (void)state;
    jc_dns_question q = question("api.example.com", JC_DNS_TYPE_AAAA);
    uint8_t buf[512];
    size_t n = jc_dns_build_forward(buf, sizeof(buf), 0xABCD, &q);
    assert_int_equal(n, 12 + 17 + 4 + 11);
    jc_dns_query parsed;
    assert_int_equal(jc_dns_query_parse(buf, n, &parsed), JC_DNS_QUERY_OK);
    assert_int_equal(parsed.id, 0xABCD);
    assert_true(parsed.rd);
    assert_string_equal(parsed.q.name, "api.example.com");
    assert_int_equal(parsed.q.qtype, JC_DNS_TYPE_AAAA);
    assert_int_equal(buf[n - 8], JC_DNS_UPSTREAM_UDP >> 8); /* the OPT's payload size */
    assert_int_equal(jc_dns_build_forward(buf, 20, 1, &q), 0);
}

static void test_build_response_roundtrip(void **state) {
    (void)state;
    msg m;
    jc_dns_query query_in;
    query(&m, 0x4242, "WWW.allowed.test", JC_DNS_TYPE_A);
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &query_in), JC_DNS_QUERY_OK);

    jc_dns_answer a;
    memset(&a, 0, sizeof(a));
    a.n_chain = 2;
    strcpy(a.chain[0], "www.allowed.test");
    strcpy(a.chain[1], "edge.cdn.test");
    a.chain_ttl[0] = 1;
    a.n_addrs = 2;
    a.addrs[0] = (jc_dns_addr){.family = AF_INET, .addr = {198, 51, 100, 20}, .ttl = 99999};
    a.addrs[1] = (jc_dns_addr){.family = AF_INET, .addr = {198, 51, 100, 21}, .ttl = 99999};
    uint8_t buf[512];
    size_t n_addrs = 9;
    size_t n = jc_dns_build_response(buf, sizeof(buf), &query_in, 0, &a, 5, 3600, &n_addrs);
    assert_true(n > 0);
    assert_int_equal(n_addrs, 2);
    assert_int_equal(buf[0], 0x42);
    assert_int_equal(buf[2] & 0x80, 0x80);       /* QR */
    assert_int_equal(buf[3] & 0x0F, 0);          /* NOERROR */
    assert_int_equal(buf[7], 3);                 /* CNAME + 2 A */
    assert_memory_equal(buf + 12, "\x03WWW", 4); /* the question as the client wrote it */

    /* our own answer reads back the same through the upstream parser */
    jc_dns_question q = question("www.allowed.test", JC_DNS_TYPE_A);
    jc_dns_answer back;
    assert_int_equal(jc_dns_answer_parse(buf, n, 0x4242, &q, &back), JC_DNS_ANSWER_OK);
    assert_int_equal(back.n_chain, 2);
    assert_string_equal(back.chain[1], "edge.cdn.test");
    assert_int_equal(back.chain_ttl[0], 5); /* clamped up */
    assert_int_equal(back.n_addrs, 2);
    assert_int_equal(back.addrs[1].addr[3], 21);
    assert_int_equal(back.addrs[0].ttl, 5); /* min of the chain, clamped */

    /* NXDOMAIN: header and question only */
    n = jc_dns_build_response(buf, sizeof(buf), &query_in, JC_DNS_RCODE_NXDOMAIN, NULL, 0, 0, NULL);
    assert_int_equal(n, 12 + 18 + 4);
    assert_int_equal(buf[3] & 0x0F, JC_DNS_RCODE_NXDOMAIN);
    assert_int_equal(buf[5], 1);
    assert_int_equal(buf[7], 0);
}

static void test_build_response_bounds(void **state) {
    (void)state;
    msg m;
    jc_dns_query query_in;
    query(&m, 1, "v6.allowed.test", JC_DNS_TYPE_AAAA);
    assert_int_equal(jc_dns_query_parse(m.b, m.n, &query_in), JC_DNS_QUERY_OK);
    jc_dns_answer a;
    memset(&a, 0, sizeof(a));
    a.n_chain = 1;
    strcpy(a.chain[0], "v6.allowed.test");
    a.n_addrs = JC_DNS_MAX_ADDRS;
    for (size_t i = 0; i < a.n_addrs; i++)
        a.addrs[i] = (jc_dns_addr){.family = AF_INET6, .addr = {0x20, 0x01, 0x0d, 0xb8}, .ttl = 60};
    uint8_t buf[JC_DNS_UDP_MAX];
    size_t n_addrs;
    size_t n = jc_dns_build_response(buf, sizeof(buf), &query_in, 0, &a, 5, 3600, &n_addrs);
    /* 12 + 21 (question) = 33; each AAAA 28: 17 fit in 512 */
    assert_int_equal(n_addrs, 17);
    assert_int_equal(n, 33 + 17 * 28);
    assert_int_equal(buf[7], 17);
    assert_int_equal(buf[2] & 0x02, 0); /* fewer addresses, not truncated */

    /* a chain that cannot fit: TC and the question alone */
    a.n_chain = 3;
    memset(a.chain[1], 'a', 63);
    a.chain[1][63] = '.';
    memset(a.chain[1] + 64, 'b', 63);
    a.chain[1][127] = '.';
    memset(a.chain[1] + 128, 'c', 63);
    a.chain[1][191] = '\0';
    strcpy(a.chain[2], a.chain[1]);
    a.chain[2][0] = 'z';
    n = jc_dns_build_response(buf, 300, &query_in, 0, &a, 5, 3600, &n_addrs);
    assert_int_equal(n, 33);
    assert_int_equal(buf[2] & 0x02, 0x02);
    assert_int_equal(buf[7], 0);
    assert_int_equal(n_addrs, 0);

    /* FORMERR to a query whose question could not be read: the header alone */
    jc_dns_query bad;
    memset(&bad, 0, sizeof(bad));
    bad.id = 77;
    n = jc_dns_build_response(buf, sizeof(buf), &bad, JC_DNS_RCODE_FORMERR, NULL, 0, 0, NULL);
    assert_int_equal(n, 12);
    assert_int_equal(buf[5], 0);
}

static void test_name_normalize(void **state) {
    (void)state;
    char out[JC_DNS_TEXT_NAME_MAX + 1];
    assert_true(jc_dns_name_normalize("Api.Example.COM.", out));
    assert_string_equal(out, "api.example.com");
    assert_true(jc_dns_name_normalize("_svc.x-y.test", out));
    assert_false(jc_dns_name_normalize("", out));
    assert_false(jc_dns_name_normalize(".", out));
    assert_false(jc_dns_name_normalize("a..b", out));
    assert_false(jc_dns_name_normalize(".a", out));
    assert_false(jc_dns_name_normalize("*.example.com", out));
    assert_false(jc_dns_name_normalize("a b", out));
    char long_label[80];
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    assert_false(jc_dns_name_normalize(long_label, out));
    long_label[63] = '\0';
    assert_true(jc_dns_name_normalize(long_label, out));
    char long_name[300];
    memset(long_name, 'a', 254);
    for (int i = 50; i < 254; i += 50)
        long_name[i] = '.';
    long_name[254] = '\0';
    assert_false(jc_dns_name_normalize(long_name, out));
    long_name[253] = '\0';
    assert_true(jc_dns_name_normalize(long_name, out));
}

/* ---- upstreams and resolv.conf -------------------------------------------------------- */

static void test_upstream_parse(void **state) {
    (void)state;
    struct sockaddr_storage ss;
    jc_err err;
    assert_int_equal(jc_dns_upstream_parse("192.0.2.53", &ss, &err), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 53);
    assert_int_equal(jc_dns_upstream_parse("192.0.2.53:5353", &ss, &err), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5353);
    assert_int_equal(jc_dns_upstream_parse("2001:db8::53", &ss, &err), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 53);
    assert_int_equal(jc_dns_upstream_parse("[2001:db8::53]:54", &ss, &err), 0);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 54);
    const char *bad[] = {"",
                         "dns.example.com",
                         "192.0.2.53:0",
                         "192.0.2.53:65536",
                         "192.0.2.53:x",
                         "[2001:db8::53",
                         "[2001:db8::53]x",
                         "[192.0.2.1]:53",
                         "192.0.2.256",
                         "1.2.3.4:53:53x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(jc_dns_upstream_parse(bad[i], &ss, &err), -1);
        assert_int_equal(err.code, JC_E_INVALID);
    }
}

static void test_resolv_conf(void **state) {
    (void)state;
    char path[] = "/tmp/jc_dns_resolv_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "# comment\nsearch example.com\nnameserver 127.0.0.53\n"
                        "nameserver 192.0.2.1\nnameserver ::1\nnameserver fe80::1%eth0\n"
                        "nameserver\t2001:db8::2 # trailing\nnameserver 192.0.2.9:53\n"
                        "options edns0\nnameserver 192.0.2.3\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    struct sockaddr_storage ss[4];
    jc_err err;
    assert_int_equal(jc_dns_upstreams_from_resolv_conf(path, ss, 4, &err), 3);
    char buf[64];
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss[0])->sin_addr, buf, sizeof(buf));
    assert_string_equal(buf, "192.0.2.1");
    assert_int_equal(ss[1].ss_family, AF_INET6);
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss[2])->sin_addr, buf, sizeof(buf));
    assert_string_equal(buf, "192.0.2.3");
    assert_int_equal(jc_dns_upstreams_from_resolv_conf(path, ss, 1, &err), 1);
    unlink(path);
    assert_int_equal(jc_dns_upstreams_from_resolv_conf(path, ss, 4, &err), -1);
}

static void test_resolv_conf_text(void **state) {
    (void)state;
    struct sockaddr_storage ss;
    jc_err err;
    char buf[512];
    assert_int_equal(jc_dns_upstream_parse("100.96.0.1", &ss, &err), 0);
    assert_int_equal(jc_dns_resolv_conf_text((struct sockaddr *)&ss, buf, sizeof(buf), &err), 0);
    assert_non_null(strstr(buf, "\nnameserver 100.96.0.1\n"));
    assert_null(strstr(buf, "search"));
    assert_int_equal(jc_dns_resolv_conf_text((struct sockaddr *)&ss, buf, 20, &err), -1);
    assert_int_equal(jc_dns_upstream_parse("100.96.0.1:5353", &ss, &err), 0);
    assert_int_equal(jc_dns_resolv_conf_text((struct sockaddr *)&ss, buf, sizeof(buf), &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
}

static void test_proxy_new_and_add_job_errors(void **state) {
    (void)state;
    struct sockaddr_storage up = {0};
    jc_err err;
    assert_null(jc_dns_proxy_new(&up, 0, &err));
    assert_int_equal(err.code, JC_E_INVALID);
    assert_int_equal(jc_dns_upstream_parse("127.0.0.1:9", &up, &err), 0);
    jc_dns_proxy *p = jc_dns_proxy_new(&up, 1, &err);
    assert_non_null(p);
    struct sockaddr_in listen = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7F000001)};
    const char *bad_names[] = {"ok.example.com", "*.example.com", NULL};
    assert_int_equal(
        jc_dns_proxy_add_job(p, "exe_a", (struct sockaddr *)&listen, bad_names, NULL, NULL, &err),
        -1);
    assert_int_equal(err.code, JC_E_INVALID);
    assert_non_null(strstr(err.msg, "*.example.com"));
    const char *names[] = {"ok.example.com", NULL};
    assert_int_equal(
        jc_dns_proxy_add_job(p, "exe_a", (struct sockaddr *)&listen, names, NULL, NULL, &err), 0);
    assert_int_equal(
        jc_dns_proxy_add_job(p, "exe_a", (struct sockaddr *)&listen, names, NULL, NULL, &err), -1);
    assert_int_equal(err.code, JC_E_CONFLICT);
    jc_dns_stats st;
    assert_int_equal(jc_dns_proxy_stats(p, "exe_a", &st, &err), 0);
    assert_int_equal(st.queries, 0);
    jc_dns_proxy_remove_job(p, "exe_a");
    assert_int_equal(jc_dns_proxy_stats(p, "exe_a", &st, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    jc_dns_proxy_remove_job(p, "exe_a"); /* unknown: no-op */
    assert_int_equal(jc_dns_proxy_next_timeout_ms(p), -1);
    jc_dns_proxy_free(p);
}

static void test_proxy_new_from_text(void **state) {
    (void)state;
    jc_err err;
    const char *good[] = {"192.0.2.53", "[2001:db8::53]:5353"};
    jc_dns_proxy *p = jc_dns_proxy_new_from_text(good, 2, &err);
    assert_non_null(p);
    jc_dns_proxy_free(p);
    const char *bad[] = {"192.0.2.53", "resolver.example"};
    assert_null(jc_dns_proxy_new_from_text(bad, 2, &err));
    assert_int_equal(err.code, JC_E_INVALID);
    assert_non_null(strstr(err.msg, "egress.resolvers"));
    assert_non_null(strstr(err.msg, "resolver.example"));
    const char *many[JC_DNS_MAX_UPSTREAMS + 1];
    for (size_t i = 0; i < JC_DNS_MAX_UPSTREAMS + 1; i++)
        many[i] = "192.0.2.53";
    assert_null(jc_dns_proxy_new_from_text(many, JC_DNS_MAX_UPSTREAMS + 1, &err));
    assert_int_equal(err.code, JC_E_CONFIG);
}

/* ---- the proxy on loopback, on its own thread ------------------------------------------ */

typedef struct seen {
    int calls;
    char name[64];
    int family;
    uint8_t addr[16];
    uint32_t ttl;
} seen;

static void on_address(void *ctx, const char *n, int family, const void *addr, uint32_t ttl) {
    seen *s = ctx;
    s->calls++;
    snprintf(s->name, sizeof(s->name), "%s", n);
    s->family = family;
    memcpy(s->addr, addr, family == AF_INET ? 4 : 16);
    s->ttl = ttl;
}

static int udp_socket(struct sockaddr_in *bound) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7F000001)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(*bound);
    assert_int_equal(getsockname(fd, (struct sockaddr *)bound, &len), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void test_proxy_loopback_thread(void **state) {
    (void)state;
    jc_err err;
    struct sockaddr_in up_addr, listen_addr, client_addr;
    int upstream = udp_socket(&up_addr);
    int client = udp_socket(&client_addr);
    /* a free port for the proxy: bind one, note it, let it go */
    int probe = udp_socket(&listen_addr);
    close(probe);

    struct sockaddr_storage up;
    memcpy(&up, &up_addr, sizeof(up_addr));
    jc_dns_proxy *p = jc_dns_proxy_new(&up, 1, &err);
    assert_non_null(p);
    seen s = {0};
    const char *names[] = {"api.example.test", NULL};
    assert_int_equal(jc_dns_proxy_add_job(p, "exe_loop", (struct sockaddr *)&listen_addr, names,
                                          on_address, &s, &err),
                     0);
    assert_int_equal(jc_dns_proxy_start_thread(p, &err), 0);

    /* the job asks; the upstream sees a fresh id, the name in lowercase, RD and EDNS */
    msg m;
    query(&m, 0x7777, "API.example.test", JC_DNS_TYPE_A);
    assert_int_equal(
        sendto(client, m.b, m.n, 0, (struct sockaddr *)&listen_addr, sizeof(listen_addr)),
        (ssize_t)m.n);
    uint8_t buf[1024];
    struct sockaddr_in from;
    socklen_t fromlen = sizeof(from);
    ssize_t n = recvfrom(upstream, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
    assert_true(n > 0);
    jc_dns_query fwd;
    assert_int_equal(jc_dns_query_parse(buf, (size_t)n, &fwd), JC_DNS_QUERY_OK);
    assert_string_equal(fwd.q.name, "api.example.test");
    assert_memory_equal(buf + 13, "api", 3);
    assert_true(fwd.rd);

    /* a forged answer from another socket is not taken: the forward socket is connected */
    answer_start(&m, fwd.id, 0, 1, "api.example.test", JC_DNS_TYPE_A);
    rr_a(&m, NULL, 12, 42, 66);
    int forger = udp_socket(&client_addr);
    sendto(forger, m.b, m.n, 0, (struct sockaddr *)&from, fromlen);
    close(forger);
    /* the real one */
    answer_start(&m, fwd.id, 0, 1, "api.example.test", JC_DNS_TYPE_A);
    rr_a(&m, NULL, 12, 42, 10);
    assert_int_equal(sendto(upstream, m.b, m.n, 0, (struct sockaddr *)&from, fromlen),
                     (ssize_t)m.n);
    n = recv(client, buf, sizeof(buf), 0);
    assert_true(n > 0);
    jc_dns_question q = question("api.example.test", JC_DNS_TYPE_A);
    jc_dns_answer a;
    assert_int_equal(jc_dns_answer_parse(buf, (size_t)n, 0x7777, &q, &a), JC_DNS_ANSWER_OK);
    assert_int_equal(a.n_addrs, 1);
    assert_int_equal(a.addrs[0].addr[3], 10);
    /* the callback ran before the answer was sent */
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.name, "api.example.test");
    assert_int_equal(s.family, AF_INET);
    assert_memory_equal(s.addr, "\xc6\x33\x64\x0a", 4);
    assert_int_equal(s.ttl, 42);

    /* a query left pending when the job goes: no callback afterwards, no answer */
    query(&m, 0x8888, "api.example.test", JC_DNS_TYPE_A);
    sendto(client, m.b, m.n, 0, (struct sockaddr *)&listen_addr, sizeof(listen_addr));
    n = recvfrom(upstream, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
    assert_true(n > 0);
    assert_int_equal(jc_dns_query_parse(buf, (size_t)n, &fwd), JC_DNS_QUERY_OK);
    jc_dns_proxy_remove_job(p, "exe_loop");
    answer_start(&m, fwd.id, 0, 1, "api.example.test", JC_DNS_TYPE_A);
    rr_a(&m, NULL, 12, 42, 11);
    sendto(upstream, m.b, m.n, 0, (struct sockaddr *)&from, fromlen); /* may be refused */
    struct timeval tv = {.tv_usec = 300000};
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(recv(client, buf, sizeof(buf), 0), -1);
    assert_int_equal(s.calls, 1);

    jc_dns_proxy_stop_thread(p);
    jc_dns_proxy_free(p);
    close(upstream);
    close(client);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_ok),
        cmocka_unit_test(test_query_drop),
        cmocka_unit_test(test_query_formerr),
        cmocka_unit_test(test_query_other_verdicts),
        cmocka_unit_test(test_answer_simple),
        cmocka_unit_test(test_answer_mismatch),
        cmocka_unit_test(test_answer_chain),
        cmocka_unit_test(test_answer_malformed),
        cmocka_unit_test(test_answer_other_class_skipped),
        cmocka_unit_test(test_build_forward),
        cmocka_unit_test(test_build_response_roundtrip),
        cmocka_unit_test(test_build_response_bounds),
        cmocka_unit_test(test_name_normalize),
        cmocka_unit_test(test_upstream_parse),
        cmocka_unit_test(test_resolv_conf),
        cmocka_unit_test(test_resolv_conf_text),
        cmocka_unit_test(test_proxy_new_and_add_job_errors),
        cmocka_unit_test(test_proxy_new_from_text),
        cmocka_unit_test(test_proxy_loopback_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
