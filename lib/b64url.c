#include "jobcell/b64url.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "jobcell/cleanup.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int value_of(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t jc_b64url_encoded_len(size_t n) {
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

int jc_b64url_encode_to(const void *in, size_t n, char *out, size_t outlen, jc_err *err) {
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3 || outlen < jc_b64url_encoded_len(n) + 1)
        return jc_err_set(err, JC_E_INTERNAL, "base64url: output buffer too small");
    const unsigned char *p = in;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return 0;
}

char *jc_b64url_encode(const void *in, size_t n, jc_err *err) {
    size_t len = jc_b64url_encoded_len(n) + 1;
    char *out = malloc(len);
    if (!out) {
        jc_err_sys(err, ENOMEM, "base64url: allocate");
        return NULL;
    }
    if (jc_b64url_encode_to(in, n, out, len, err) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

unsigned char *jc_b64url_decode(const char *s, size_t len, size_t *out_len, jc_err *err) {
    if (len % 4 == 1) {
        jc_err_set(err, JC_E_INVALID, "base64url: impossible length %zu", len);
        return NULL;
    }
    _cleanup_free_ unsigned char *out = malloc(len / 4 * 3 + 3);
    if (!out) {
        jc_err_sys(err, ENOMEM, "base64url: allocate");
        return NULL;
    }
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = value_of((unsigned char)s[i]);
        if (v < 0) {
            jc_err_set(err, JC_E_INVALID, "base64url: invalid character at %zu", i);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, or two encodings would decode to the same bytes. */
    if (acc != 0) {
        jc_err_set(err, JC_E_INVALID, "base64url: non-zero trailing bits");
        return NULL;
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return steal(&out);
}
