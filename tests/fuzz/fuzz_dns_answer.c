/* Fuzz the parser of an upstream's answer to "www.allowed.test" (A, or AAAA when the input
 * has an odd length): what it keeps must be a chain from the asked name, addresses of the
 * asked family, and our rebuilt answer must read back the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static jc_dns_answer a, back;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    jc_dns_query query;
    memset(&query, 0, sizeof(query));
    query.id = (uint16_t)((data[0] << 8) | data[1]);
    strcpy(query.q.name, "www.allowed.test");
    query.q.name_ok = true;
    query.q.qtype = (size & 1) ? 28 : 1;
    query.q.qclass = JC_DNS_CLASS_IN;
    memcpy(query.q.wire,
           "\x03www\x07"
           "allowed\x04test",
           18);
    query.q.wire_len = 18;

    if (jc_dns_answer_parse(data, size, query.id, &query.q, &a) != JC_DNS_ANSWER_OK)
        return 0;
    if (a.n_chain < 1 || a.n_chain > JC_DNS_MAX_CHAIN + 1 || strcmp(a.chain[0], query.q.name) ||
        a.n_addrs > JC_DNS_MAX_ADDRS)
        abort();
    for (size_t i = 0; i < a.n_addrs; i++)
        if (a.addrs[i].family != (query.q.qtype == 1 ? AF_INET : AF_INET6))
            abort();
    for (size_t i = 0; i < a.n_chain; i++) {
        char norm[JC_DNS_TEXT_NAME_MAX + 1];
        if (!jc_dns_name_normalize(a.chain[i], norm) || strcmp(norm, a.chain[i]) != 0)
            abort();
        for (size_t k = 0; k < i; k++)
            if (strcmp(a.chain[k], a.chain[i]) == 0)
                abort(); /* a loop got through */
    }
    if (a.rcode != JC_DNS_RCODE_NOERROR)
        return 0;
    uint8_t buf[4096];
    size_t n_addrs;
    size_t n = jc_dns_build_response(buf, sizeof(buf), &query, 0, &a, 5, 3600, &n_addrs);
    if (n == 0 || n_addrs != a.n_addrs) /* 9 names and 32 AAAA always fit in 4096 */
        abort();
    if (jc_dns_answer_parse(buf, n, query.id, &query.q, &back) != JC_DNS_ANSWER_OK ||
        back.n_chain != a.n_chain || back.n_addrs != a.n_addrs)
        abort();
    for (size_t i = 0; i < a.n_addrs; i++)
        if (memcmp(back.addrs[i].addr, a.addrs[i].addr, 16) != 0 ||
            back.addrs[i].ttl != jc_dns_addr_ttl(&a, i, 5, 3600))
            abort();
    return 0;
}
