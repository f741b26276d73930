/* dns_wire.c: parse and build the few DNS messages of the resolver proxy (see dns_wire.h). */
#include "dns_wire.h"

#include <string.h>
#include <sys/socket.h>

#define FLAG_QR 0x8000U
#define FLAG_TC 0x0200U
#define FLAG_RD 0x0100U
#define FLAG_RA 0x0080U
#define MAX_POINTER_JUMPS 64 /* well above any honest name's (at most 127 labels) */
#define MAX_CNAMES 16        /* CNAME records of one answer considered for the chain */
#define MAX_CANDIDATES 64    /* address records of one answer considered */

static uint16_t get16(const uint8_t *p) {
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static bool host_char(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static char lower(uint8_t c) {
    return (char)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
}

/* A name read from a message. */
typedef struct name_buf {
    char text[JC_DNS_TEXT_NAME_MAX + 1]; /* lowercase dotted; "" when !ok */
    bool ok;                             /* every byte was a host name character */
    uint8_t wire[JC_DNS_WIRE_NAME_MAX];  /* as read, only when pointers are not allowed */
    size_t wire_len;
} name_buf;

/* Read the name at *pos. With allow_ptr, compression pointers are followed, each to a
 * position before the previous one (so they cannot loop) and at most MAX_POINTER_JUMPS;
 * *pos ends after the name's bytes in place (after the first pointer). The expanded name
 * is at most JC_DNS_WIRE_NAME_MAX bytes. Returns false when malformed. */
static bool read_name(const uint8_t *msg, size_t len, size_t *pos, bool allow_ptr, name_buf *out) {
    size_t p = *pos, total = 0, text_len = 0, limit = *pos;
    bool jumped = false;
    unsigned jumps = 0;

    out->ok = true;
    out->wire_len = 0;
    out->text[0] = '\0';
    for (;;) {
        if (p >= len)
            return false;
        uint8_t c = msg[p];
        if (c == 0) {
            total += 1;
            if (total > JC_DNS_WIRE_NAME_MAX)
                return false;
            if (!allow_ptr)
                out->wire[out->wire_len++] = 0;
            if (!jumped)
                *pos = p + 1;
            break;
        }
        if ((c & 0xC0) == 0xC0) {
            if (!allow_ptr || p + 1 >= len || ++jumps > MAX_POINTER_JUMPS)
                return false;
            size_t target = ((size_t)(c & 0x3F) << 8) | msg[p + 1];
            /* strictly decreasing targets: a pointer can never lead back to itself */
            if (target >= limit)
                return false;
            if (!jumped)
                *pos = p + 2;
            jumped = true;
            limit = target;
            p = target;
            continue;
        }
        if (c & 0xC0) /* 0x40 and 0x80: extended label types, obsolete */
            return false;
        if (p + 1 + c > len)
            return false;
        total += 1U + c;
        if (total + 1 > JC_DNS_WIRE_NAME_MAX) /* room for the root label */
            return false;
        if (!allow_ptr) {
            memcpy(out->wire + out->wire_len, msg + p, 1U + c);
            out->wire_len += 1U + c;
        }
        if (text_len > 0)
            out->text[text_len++] = '.';
        for (size_t i = 0; i < c; i++) {
            uint8_t b = msg[p + 1 + i];
            if (!host_char(b))
                out->ok = false;
            out->text[text_len++] = lower(b);
        }
        out->text[text_len] = '\0';
        p += 1U + c;
    }
    if (!out->ok)
        out->text[0] = '\0';
    return true;
}

/* ---- queries ------------------------------------------------------------------------- */

jc_dns_query_verdict jc_dns_query_parse(const uint8_t *msg, size_t len, jc_dns_query *out) {
    memset(out, 0, sizeof(*out));
    if (len < JC_DNS_HEADER_LEN)
        return JC_DNS_QUERY_DROP;
    uint16_t flags = get16(msg + 2);
    if (flags & FLAG_QR) /* a response sent to us: answering could start a loop */
        return JC_DNS_QUERY_DROP;
    out->id = get16(msg);
    out->rd = (flags & FLAG_RD) != 0;
    if (len > JC_DNS_QUERY_MAX)
        return JC_DNS_QUERY_FORMERR;
    if (((flags >> 11) & 0xF) != 0)
        return JC_DNS_QUERY_NOTIMP;
    if (flags & FLAG_TC)
        return JC_DNS_QUERY_FORMERR;
    if (get16(msg + 4) != 1 || get16(msg + 6) != 0 || get16(msg + 8) != 0 || get16(msg + 10) > 1)
        return JC_DNS_QUERY_FORMERR;
    uint16_t arcount = get16(msg + 10);

    size_t pos = JC_DNS_HEADER_LEN;
    name_buf name;
    if (!read_name(msg, len, &pos, false, &name) || len - pos < 4)
        return JC_DNS_QUERY_FORMERR;
    memcpy(out->q.name, name.text, sizeof(out->q.name));
    out->q.name_ok = name.ok;
    memcpy(out->q.wire, name.wire, name.wire_len);
    out->q.wire_len = name.wire_len;
    out->q.qtype = get16(msg + pos);
    out->q.qclass = get16(msg + pos + 2);
    pos += 4;

    if (arcount == 1) { /* only an EDNS OPT: root owner, type 41 */
        if (len - pos < 11 || msg[pos] != 0 || get16(msg + pos + 1) != JC_DNS_TYPE_OPT)
            return JC_DNS_QUERY_FORMERR;
        size_t rdlen = get16(msg + pos + 9);
        pos += 11;
        if (len - pos < rdlen)
            return JC_DNS_QUERY_FORMERR;
        pos += rdlen;
    }
    if (pos != len)
        return JC_DNS_QUERY_FORMERR;
    if (out->q.qclass != JC_DNS_CLASS_IN)
        return JC_DNS_QUERY_REFUSED;
    return JC_DNS_QUERY_OK;
}

/* ---- answers ------------------------------------------------------------------------- */

typedef struct cname_rec {
    char owner[JC_DNS_TEXT_NAME_MAX + 1];
    char target[JC_DNS_TEXT_NAME_MAX + 1];
    uint32_t ttl;
} cname_rec;

typedef struct addr_rec {
    char owner[JC_DNS_TEXT_NAME_MAX + 1];
    jc_dns_addr addr;
} addr_rec;

typedef struct answer_scratch {
    cname_rec cnames[MAX_CNAMES];
    size_t n_cnames;
    addr_rec cands[MAX_CANDIDATES];
    size_t n_cands;
} answer_scratch;

static bool in_chain(const jc_dns_answer *a, const char *name) {
    for (size_t i = 0; i < a->n_chain; i++)
        if (strcmp(a->chain[i], name) == 0)
            return true;
    return false;
}

/* Follow CNAMEs from the asked name (a->chain[0]). A link back into the chain, or a chain
 * longer than JC_DNS_MAX_CHAIN links, is an error. */
static bool build_chain(jc_dns_answer *a, const answer_scratch *s) {
    for (;;) {
        const char *end = a->chain[a->n_chain - 1];
        const cname_rec *next = NULL;
        for (size_t i = 0; i < s->n_cnames && !next; i++)
            if (strcmp(s->cnames[i].owner, end) == 0)
                next = &s->cnames[i];
        if (!next)
            return true;
        if (in_chain(a, next->target) || a->n_chain == JC_DNS_MAX_CHAIN + 1)
            return false;
        a->chain_ttl[a->n_chain - 1] = next->ttl;
        memcpy(a->chain[a->n_chain], next->target, sizeof(a->chain[0]));
        a->n_chain++;
    }
    return true;
}

/* RFC 2181 8: a TTL with the top bit set is treated as zero. */
static uint32_t sane_ttl(uint32_t ttl) {
    return (ttl & 0x80000000U) ? 0 : ttl;
}

jc_dns_answer_verdict jc_dns_answer_parse(const uint8_t *msg, size_t len, uint16_t id,
                                          const jc_dns_question *q, jc_dns_answer *out) {
    memset(out, 0, sizeof(*out));
    if (len < JC_DNS_HEADER_LEN || get16(msg) != id)
        return JC_DNS_ANSWER_MISMATCH;
    uint16_t flags = get16(msg + 2);
    if (!(flags & FLAG_QR) || ((flags >> 11) & 0xF) != 0 || get16(msg + 4) != 1)
        return JC_DNS_ANSWER_MISMATCH;
    size_t pos = JC_DNS_HEADER_LEN;
    name_buf name;
    if (!read_name(msg, len, &pos, true, &name) || len - pos < 4 || !name.ok ||
        strcmp(name.text, q->name) != 0 || get16(msg + pos) != q->qtype ||
        get16(msg + pos + 2) != q->qclass)
        return JC_DNS_ANSWER_MISMATCH;
    pos += 4;

    out->rcode = (uint8_t)(flags & 0xF);
    out->truncated = (flags & FLAG_TC) != 0;
    memcpy(out->chain[0], q->name, sizeof(out->chain[0]));
    out->n_chain = 1;
    if (out->rcode != JC_DNS_RCODE_NOERROR)
        return JC_DNS_ANSWER_OK;

    /* about 26 KiB: kept off the stack of whichever thread runs the proxy */
    static _Thread_local answer_scratch s;
    s.n_cnames = 0;
    s.n_cands = 0;
    size_t want_len = q->qtype == JC_DNS_TYPE_A ? 4 : 16;
    uint16_t ancount = get16(msg + 6);
    for (uint16_t i = 0; i < ancount; i++) {
        if (!read_name(msg, len, &pos, true, &name) || len - pos < 10)
            return JC_DNS_ANSWER_BAD;
        uint16_t type = get16(msg + pos), cls = get16(msg + pos + 2);
        uint32_t ttl = sane_ttl(get32(msg + pos + 4));
        size_t rdlen = get16(msg + pos + 8);
        pos += 10;
        if (len - pos < rdlen)
            return JC_DNS_ANSWER_BAD;
        size_t rdata = pos;
        pos += rdlen;
        if (cls != JC_DNS_CLASS_IN || !name.ok)
            continue;
        if (type == JC_DNS_TYPE_CNAME) {
            name_buf target;
            size_t tpos = rdata;
            /* the target may point anywhere before it, but must end where the rdata ends */
            if (!read_name(msg, rdata + rdlen, &tpos, true, &target) || tpos != rdata + rdlen)
                return JC_DNS_ANSWER_BAD;
            /* a CNAME to the root, or to a name that is no host name, ends the chain */
            if (!target.ok || target.text[0] == '\0' || s.n_cnames == MAX_CNAMES)
                continue;
            cname_rec *c = &s.cnames[s.n_cnames++];
            memcpy(c->owner, name.text, sizeof(c->owner));
            memcpy(c->target, target.text, sizeof(c->target));
            c->ttl = ttl;
        } else if (type == q->qtype && (type == JC_DNS_TYPE_A || type == JC_DNS_TYPE_AAAA)) {
            if (rdlen != want_len)
                return JC_DNS_ANSWER_BAD;
            if (s.n_cands == MAX_CANDIDATES)
                continue;
            addr_rec *r = &s.cands[s.n_cands++];
            memcpy(r->owner, name.text, sizeof(r->owner));
            r->addr.family = type == JC_DNS_TYPE_A ? AF_INET : AF_INET6;
            memcpy(r->addr.addr, msg + rdata, rdlen);
            r->addr.ttl = ttl;
        }
    }
    if (!build_chain(out, &s))
        return JC_DNS_ANSWER_BAD;
    /* Only the end of the chain owns addresses: a record of any other name in the answer
     * (an injected "evil.example A 10.0.0.1") never reaches the job or its allow set. */
    const char *end = out->chain[out->n_chain - 1];
    for (size_t i = 0; i < s.n_cands && out->n_addrs < JC_DNS_MAX_ADDRS; i++)
        if (strcmp(s.cands[i].owner, end) == 0)
            out->addrs[out->n_addrs++] = s.cands[i].addr;
    return JC_DNS_ANSWER_OK;
}

/* ---- building ------------------------------------------------------------------------ */

/* Encode a validated dotted name (labels of host characters, or "" for the root) into
 * wire form. Returns its length, 0 when cap is too small. */
static size_t text_to_wire(const char *text, uint8_t *out, size_t cap) {
    size_t n = 0;
    const char *p = text;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63 || n + 1 + l >= cap)
            return 0;
        out[n++] = (uint8_t)l;
        memcpy(out + n, p, l);
        n += l;
        p += l;
        if (*p == '.')
            p++;
    }
    if (n + 1 > cap)
        return 0;
    out[n++] = 0;
    return n;
}

size_t jc_dns_build_forward(uint8_t *buf, size_t cap, uint16_t id, const jc_dns_question *q) {
    if (cap < JC_DNS_HEADER_LEN)
        return 0;
    memset(buf, 0, JC_DNS_HEADER_LEN);
    put16(buf, id);
    put16(buf + 2, FLAG_RD);
    put16(buf + 4, 1);
    put16(buf + 10, 1);
    size_t n = JC_DNS_HEADER_LEN;
    size_t w = text_to_wire(q->name, buf + n, cap - n);
    if (w == 0)
        return 0;
    n += w;
    if (cap - n < 4 + 11)
        return 0;
    put16(buf + n, q->qtype);
    put16(buf + n + 2, q->qclass);
    n += 4;
    buf[n] = 0; /* OPT: root owner, type, payload size, ext rcode/version/flags, no options */
    put16(buf + n + 1, JC_DNS_TYPE_OPT);
    put16(buf + n + 3, JC_DNS_UPSTREAM_UDP);
    put32(buf + n + 5, 0);
    put16(buf + n + 9, 0);
    return n + 11;
}

uint32_t jc_dns_clamp_ttl(uint32_t ttl, uint32_t min, uint32_t max) {
    return ttl < min ? min : ttl > max ? max : ttl;
}

uint32_t jc_dns_addr_ttl(const jc_dns_answer *a, size_t i, uint32_t min, uint32_t max) {
    uint32_t ttl = a->addrs[i].ttl;
    for (size_t c = 0; c + 1 < a->n_chain; c++)
        if (a->chain_ttl[c] < ttl)
            ttl = a->chain_ttl[c];
    return jc_dns_clamp_ttl(ttl, min, max);
}

/* One resource record with a compressed owner; false when it does not fit. */
static bool put_rr(uint8_t *buf, size_t cap, size_t *n, size_t owner_off, uint16_t type,
                   uint32_t ttl, const uint8_t *rdata, size_t rdlen) {
    if (owner_off > 0x3FFF || cap - *n < 12 + rdlen)
        return false;
    uint8_t *p = buf + *n;
    put16(p, (uint16_t)(0xC000 | owner_off));
    put16(p + 2, type);
    put16(p + 4, JC_DNS_CLASS_IN);
    put32(p + 6, ttl);
    put16(p + 10, (uint16_t)rdlen);
    memcpy(p + 12, rdata, rdlen);
    *n += 12 + rdlen;
    return true;
}

size_t jc_dns_build_response(uint8_t *buf, size_t cap, const jc_dns_query *query, uint8_t rcode,
                             const jc_dns_answer *a, uint32_t ttl_min, uint32_t ttl_max,
                             size_t *n_addrs_out) {
    const jc_dns_question *q = &query->q;
    if (n_addrs_out)
        *n_addrs_out = 0;
    if (cap < JC_DNS_HEADER_LEN + q->wire_len + 4)
        return 0;
    memset(buf, 0, JC_DNS_HEADER_LEN);
    put16(buf, query->id);
    uint16_t flags = FLAG_QR | FLAG_RA | (query->rd ? FLAG_RD : 0) | (rcode & 0xF);
    put16(buf + 2, flags);
    size_t n = JC_DNS_HEADER_LEN;
    if (q->wire_len > 0) { /* a FORMERR to an unreadable query carries no question */
        put16(buf + 4, 1);
        memcpy(buf + n, q->wire, q->wire_len);
        n += q->wire_len;
        put16(buf + n, q->qtype);
        put16(buf + n + 2, q->qclass);
        n += 4;
    }
    if (!a || rcode != JC_DNS_RCODE_NOERROR || q->wire_len == 0)
        return n;

    size_t question_end = n, owner = JC_DNS_HEADER_LEN;
    uint16_t count = 0;
    for (size_t i = 0; i + 1 < a->n_chain; i++) {
        uint8_t target[JC_DNS_WIRE_NAME_MAX];
        size_t tlen = text_to_wire(a->chain[i + 1], target, sizeof(target));
        uint32_t ttl = jc_dns_clamp_ttl(a->chain_ttl[i], ttl_min, ttl_max);
        if (tlen == 0 || !put_rr(buf, cap, &n, owner, JC_DNS_TYPE_CNAME, ttl, target, tlen)) {
            put16(buf + 2, flags | FLAG_TC); /* the chain alone does not fit: try TCP */
            return question_end;
        }
        owner = n - tlen; /* the next record's owner is this target */
        count++;
    }
    size_t written = 0;
    for (size_t i = 0; i < a->n_addrs; i++) {
        const jc_dns_addr *ad = &a->addrs[i];
        uint32_t ttl = jc_dns_addr_ttl(a, i, ttl_min, ttl_max);
        uint16_t type = ad->family == AF_INET ? JC_DNS_TYPE_A : JC_DNS_TYPE_AAAA;
        if (!put_rr(buf, cap, &n, owner, type, ttl, ad->addr, ad->family == AF_INET ? 4 : 16))
            break; /* fewer addresses is still a correct answer */
        count++;
        written++;
    }
    put16(buf + 6, count);
    if (n_addrs_out)
        *n_addrs_out = written;
    return n;
}

bool jc_dns_name_normalize(const char *name, char *out) {
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > JC_DNS_TEXT_NAME_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)name[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (host_char(c)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
        out[i] = c == '.' ? '.' : lower(c);
    }
    if (label == 0)
        return false;
    out[len] = '\0';
    return true;
}
