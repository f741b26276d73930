/* Fuzz the parser of a job's DNS query: whatever it accepts must be a name the allow-list
 * could hold (or flagged as not one), and our answer to it must fit in one UDP datagram. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jc_dns_query q;
    jc_dns_query_verdict v = jc_dns_query_parse(data, size, &q);
    if (v == JC_DNS_QUERY_DROP)
        return 0;
    uint8_t buf[JC_DNS_UDP_MAX];
    if (q.q.wire_len > JC_DNS_WIRE_NAME_MAX)
        abort();
    size_t n = jc_dns_build_response(buf, sizeof(buf), &q, JC_DNS_RCODE_NXDOMAIN, NULL, 0, 0, NULL);
    if (n < JC_DNS_HEADER_LEN || n > sizeof(buf) || buf[0] != data[0] || buf[1] != data[1])
        abort(); /* every answered query gets an answer with its id */
    if (v != JC_DNS_QUERY_OK)
        return 0;
    if (q.q.qclass != JC_DNS_CLASS_IN || q.q.wire_len == 0)
        abort();
    if (!q.q.name_ok) {
        if (q.q.name[0] != '\0')
            abort();
        return 0;
    }
    /* an accepted name is its own normal form (or the root, which no allow-list holds) */
    char norm[JC_DNS_TEXT_NAME_MAX + 1];
    if (q.q.name[0] != '\0' &&
        (!jc_dns_name_normalize(q.q.name, norm) || strcmp(norm, q.q.name) != 0))
        abort();
    /* and what we would forward reads back as the same question */
    size_t f = jc_dns_build_forward(buf, sizeof(buf), 0x1234, &q.q);
    jc_dns_query back;
    if (f == 0 || jc_dns_query_parse(buf, f, &back) != JC_DNS_QUERY_OK ||
        strcmp(back.q.name, q.q.name) != 0 || back.q.qtype != q.q.qtype)
        abort();
    return 0;
}
