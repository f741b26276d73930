/* Fuzz the TZif reader and the POSIX TZ rule parser with hostile bytes: a zone that loads
 * must answer lookups for any instant with an offset inside the RFC 8536 bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void probe(const jc_tz *tz) {
    const int64_t when[] = {-5000000000LL, 0, 1795000000, 4102444800LL, 253402300799LL};
    for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
        jc_tz_info info = jc_tz_lookup(tz, when[i]);
        if (info.utoff < -200 * 3600 || info.utoff > 200 * 3600 || !info.abbr)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jc_tz *tz = jc_tz_from_tzif("fuzz", data, size, NULL);
    if (tz) {
        probe(tz);
        jc_tz_free(tz);
    }
    char rule[300];
    size_t n = size < sizeof(rule) - 1 ? size : sizeof(rule) - 1;
    memcpy(rule, data, n);
    rule[n] = '\0';
    tz = jc_tz_from_posix(rule, NULL);
    if (tz) {
        probe(tz);
        jc_tz_free(tz);
    }
    return 0;
}
