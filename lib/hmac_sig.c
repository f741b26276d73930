/* hmac_sig.c: the canonical string, HMAC-SHA256 signatures and their constant-time check. */
#include "jobcell/hmac_sig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/auth.h"

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(const unsigned char *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[in[i] >> 4];
        out[2 * i + 1] = hexdigits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_nibble(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *jc_hmac_canonical(const char *method, const char *path_query, const char *orchestrator,
                        const char *timestamp, const void *body, size_t body_len, size_t *len) {
    const char *parts[] = {method, path_query, orchestrator, timestamp};
    size_t total = 4 + 64 + 1;
    for (size_t i = 0; i < 4; i++) {
        /* a newline inside a field would let two different requests share one string */
        if (!parts[i] || strchr(parts[i], '\n'))
            return NULL;
        if (__builtin_add_overflow(total, strlen(parts[i]), &total))
            return NULL;
    }
    char *out = malloc(total);
    if (!out)
        return NULL;
    char body_hex[65];
    jc_sha256_hex(body_len ? body : (const void *)"", body_len, body_hex);
    int n = snprintf(out, total, "%s\n%s\n%s\n%s\n%s", method, path_query, orchestrator, timestamp,
                     body_hex);
    if (n < 0 || (size_t)n >= total) {
        free(out);
        return NULL;
    }
    if (len)
        *len = (size_t)n;
    return out;
}

/* The raw 32-byte MAC of a request. */
static int mac(const unsigned char *key, size_t key_len, const char *method, const char *path_query,
               const char *orchestrator, const char *timestamp, const void *body, size_t body_len,
               unsigned char out[32], jc_err *err) {
    if (!key || key_len == 0)
        return jc_err_set(err, JC_E_INVALID, "signature: no key");
    size_t clen;
    char *canon =
        jc_hmac_canonical(method, path_query, orchestrator, timestamp, body, body_len, &clen);
    if (!canon)
        return jc_err_set(err, JC_E_INVALID,
                          "signature: a request field is missing or holds a newline");
    unsigned int outlen = 0;
    unsigned char *r =
        HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)canon, clen, out, &outlen);
    free(canon);
    if (!r || outlen != 32)
        return jc_err_set(err, JC_E_INTERNAL, "signature: HMAC-SHA256 failed");
    return 0;
}

int jc_hmac_sign(const unsigned char *key, size_t key_len, const char *method,
                 const char *path_query, const char *orchestrator, const char *timestamp,
                 const void *body, size_t body_len, char sig[JC_HMAC_SIG_HEX + 1], jc_err *err) {
    unsigned char m[32];
    if (mac(key, key_len, method, path_query, orchestrator, timestamp, body, body_len, m, err) < 0)
        return -1;
    to_hex(m, sizeof(m), sig);
    OPENSSL_cleanse(m, sizeof(m));
    return 0;
}

bool jc_hmac_is_sig(const char *s) {
    if (!s)
        return false;
    size_t i = 0;
    for (; s[i]; i++)
        if (i >= JC_HMAC_SIG_HEX || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == JC_HMAC_SIG_HEX;
}

int jc_hmac_verify(const unsigned char *key, size_t key_len, const char *method,
                   const char *path_query, const char *orchestrator, const char *timestamp,
                   const void *body, size_t body_len, const char *presented, jc_err *err) {
    if (!jc_hmac_is_sig(presented))
        return jc_err_set(err, JC_E_AUTH, "bad signature");
    unsigned char want[32], got[32];
    if (mac(key, key_len, method, path_query, orchestrator, timestamp, body, body_len, want, err) <
        0)
        return -1;
    for (size_t i = 0; i < 32; i++)
        got[i] =
            (unsigned char)(hex_nibble(presented[2 * i]) << 4 | hex_nibble(presented[2 * i + 1]));
    /* the bytes, not the text, are compared, in time independent of where they differ */
    int diff = CRYPTO_memcmp(want, got, sizeof(want));
    OPENSSL_cleanse(want, sizeof(want));
    if (diff != 0)
        return jc_err_set(err, JC_E_AUTH, "bad signature");
    return 0;
}

int jc_hmac_secret_parse(const char *text, size_t len, unsigned char out[JC_HMAC_SECRET_BYTES],
                         jc_err *err) {
    if (!text || len != JC_HMAC_SECRET_HEX)
        return jc_err_set(err, JC_E_INVALID,
                          "an orchestrator secret is %d hexadecimal characters (this one has %zu)",
                          JC_HMAC_SECRET_HEX, text ? len : 0);
    unsigned bad = 0;
    for (size_t i = 0; i < JC_HMAC_SECRET_BYTES; i++) {
        int hi = hex_nibble(text[2 * i]), lo = hex_nibble(text[2 * i + 1]);
        bad |= (unsigned)(hi < 0) | (unsigned)(lo < 0);
        out[i] = (unsigned char)((hi & 15) << 4 | (lo & 15));
    }
    if (bad) {
        OPENSSL_cleanse(out, JC_HMAC_SECRET_BYTES);
        return jc_err_set(err, JC_E_INVALID,
                          "an orchestrator secret holds only hexadecimal characters");
    }
    return 0;
}

void jc_hmac_secret_format(const unsigned char secret[JC_HMAC_SECRET_BYTES],
                           char out[JC_HMAC_SECRET_HEX + 1]) {
    to_hex(secret, JC_HMAC_SECRET_BYTES, out);
}

int jc_hmac_timestamp_parse(const char *text, int64_t *out) {
    if (!text || !text[0] || (text[0] == '0' && text[1]))
        return -1;
    int64_t v = 0;
    size_t i = 0;
    for (; text[i]; i++) {
        if (i >= 11 || text[i] < '0' || text[i] > '9')
            return -1;
        v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return 0;
}
