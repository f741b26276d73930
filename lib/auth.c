#include "jobcell/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

int jc_auth_secret_check(const char *name, size_t len, jc_err *err) {
    if (len == 0)
        return 0;
    if (len < JC_AUTH_MIN_SECRET)
        return jc_err_field(err, JC_E_CONFIG, name, "%s is %zu bytes; at least %d are required",
                            name, len, JC_AUTH_MIN_SECRET);
    return 1;
}

bool jc_orchestrator_id_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

bool jc_auth_equal(const void *presented, size_t plen, const void *expected, size_t elen) {
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    /* Hashing both sides makes the comparison independent of the presented length; the
     * length check below is on public information (the expected length is configured). */
    SHA256(presented ? presented : (const void *)"", plen, a);
    SHA256(expected ? expected : (const void *)"", elen, b);
    int diff = CRYPTO_memcmp(a, b, sizeof(a));
    return elen > 0 && plen == elen && diff == 0;
}

int jc_auth_parse_bearer(const char *header, const char **token, size_t *token_len) {
    if (!header || strncasecmp(header, "Bearer", 6) != 0 || header[6] != ' ')
        return -1;
    const char *p = header + 6;
    while (*p == ' ')
        p++;
    const char *start = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (p == start)
        return -1;
    /* Trailing spaces are tolerated; anything after them is not a bearer token. */
    const char *end = p;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return -1;
    *token = start;
    *token_len = (size_t)(end - start);
    return 0;
}

void jc_sha256_hex(const void *data, size_t len, char out[65]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    for (size_t i = 0; i < sizeof(md); i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}
