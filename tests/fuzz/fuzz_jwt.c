/* Fuzz jc_jwt_verify: any bytes as a token must be rejected or accepted without a crash,
 * leak or undefined behaviour, and an accepted token must really carry a valid signature
 * (checked by signing its claims again is not possible, so: only well-formed claims). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static jc_jwt_keyring *ring;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ring) {
        /* k1 = 32 bytes of 0x01..0x20 */
        static const char json[] = "{\"active\":\"k1\",\"keys\":{\"k1\":"
                                   "\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\"}}";
        ring = jc_jwt_keyring_parse(json, sizeof(json) - 1, "fuzz", NULL);
        if (!ring)
            abort();
    }
    jc_jwt_claims c;
    jc_jwt_reason reason = JC_JWT_OK;
    int r = jc_jwt_verify(ring, (const char *)data, size, 1800000000, &c, &reason, NULL);
    if (r == 0) {
        /* The fuzzer cannot forge an HMAC: an accepted token means verification is broken,
         * unless the input is one of our own seeds (signed with k1). */
        if (reason != JC_JWT_OK || c.attempt < 1 || strlen(c.lease) != 16)
            abort();
    } else if (reason == JC_JWT_OK || reason >= JC_JWT_REASON_COUNT) {
        abort();
    }
    json_t *payload = NULL;
    static const unsigned char key[32] = {1, 2, 3};
    if (jc_jws_verify_hs256((const char *)data, size, key, sizeof(key), 1800000000, &payload,
                            &reason, NULL) == 0)
        json_decref(payload);
    return 0;
}
