/* Fuzz jc_unseal: any text as a sealed value must be refused without a crash, leak or
 * undefined behaviour. The fuzzer cannot forge a GCM tag, so an accepted input means the
 * check is broken, unless it is the seed sealed below. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static jc_master_ring *ring;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ring) {
        static const char json[] = "{\"active\":\"k1\",\"keys\":{\"k1\":"
                                   "\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\"}}";
        ring = jc_master_ring_parse(json, sizeof(json) - 1, "fuzz", NULL);
        if (!ring)
            abort();
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    unsigned char *pt = NULL;
    size_t len = 0;
    jc_err err;
    if (jc_unseal(ring, "fuzz", "owner", "id", text, &pt, &len, &err) == 0) {
        /* Only the seed (plaintext "seed") opens. */
        if (len != 4 || memcmp(pt, "seed", 4) != 0)
            abort();
        free(pt);
    } else if (pt || err.code != JC_E_AUTH) {
        abort();
    }
    char kid[65];
    (void)jc_sealed_kid(text, kid, sizeof(kid));
    free(text);
    return 0;
}
