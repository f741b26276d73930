#include "jobcell/random.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "jobcell/b64url.h"
#include "jobcell/cleanup.h"

static const char base32[] = "abcdefghijklmnopqrstuvwxyz234567";

int jc_random_bytes(void *buf, size_t len, jc_err *err) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return jc_err_sys(err, errno, "getrandom");
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* prefix + nchars base32 characters, each 5 random bits. */
static int random_base32(const char *prefix, size_t nchars, char *out, size_t outlen, jc_err *err) {
    size_t plen = strlen(prefix);
    if (outlen < plen + nchars + 1)
        return jc_err_set(err, JC_E_INTERNAL, "random id: buffer too small");
    unsigned char bytes[64];
    size_t nbytes = (nchars * 5 + 7) / 8;
    if (nbytes > sizeof(bytes))
        return jc_err_set(err, JC_E_INTERNAL, "random id: too long");
    if (jc_random_bytes(bytes, nbytes, err) < 0)
        return -1;
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < nchars; i++) {
        size_t bit = i * 5;
        unsigned v = (unsigned)bytes[bit / 8] << 8;
        if (bit / 8 + 1 < nbytes)
            v |= bytes[bit / 8 + 1];
        v = (v >> (11 - bit % 8)) & 31;
        out[plen + i] = base32[v];
    }
    out[plen + nchars] = '\0';
    explicit_bzero(bytes, sizeof(bytes));
    return 0;
}

int jc_random_id(const char *prefix, char *out, size_t outlen, jc_err *err) {
    return random_base32(prefix, 26, out, outlen, err);
}

int jc_random_lease_token(char *out, size_t outlen, jc_err *err) {
    return random_base32("lt_", 32, out, outlen, err);
}

int jc_random_b64url(size_t nbytes, char *out, size_t outlen, jc_err *err) {
    unsigned char bytes[128];
    if (nbytes > sizeof(bytes))
        return jc_err_set(err, JC_E_INTERNAL, "random: too many bytes");
    if (jc_random_bytes(bytes, nbytes, err) < 0)
        return -1;
    int r = jc_b64url_encode_to(bytes, nbytes, out, outlen, err);
    explicit_bzero(bytes, sizeof(bytes));
    return r;
}

int jc_random_api_token(char *out, size_t outlen, jc_err *err) {
    if (outlen < JC_API_TOKEN_LEN + 1)
        return jc_err_set(err, JC_E_INTERNAL, "api token: buffer too small");
    memcpy(out, "jct_", 4);
    return jc_random_b64url(32, out + 4, outlen - 4, err);
}

int jc_id_valid(const char *s, const char *prefix, size_t n) {
    if (!s)
        return 0;
    size_t plen = strlen(prefix);
    if (strncmp(s, prefix, plen) != 0 || strlen(s) != plen + n)
        return 0;
    for (size_t i = plen; i < plen + n; i++)
        if (!memchr(base32, s[i], 32) || s[i] == '\0')
            return 0;
    return 1;
}
