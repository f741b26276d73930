/* Fuzz strict base64url: decode(x) succeeds only when encode(decode(x)) == x. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t n = 0;
    unsigned char *d = jc_b64url_decode((const char *)data, size, &n, NULL);
    if (d) {
        char *e = jc_b64url_encode(d, n, NULL);
        if (!e || strlen(e) != size || memcmp(e, data, size) != 0)
            abort(); /* two encodings of the same bytes: the decoder is not strict */
        free(e);
        free(d);
    }
    return 0;
}
