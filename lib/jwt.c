#include "jobcell/jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/auth.h"
#include "jobcell/b64url.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/random.h"

#define RING_MAX_KEYS 32
#define KID_MAX 64

typedef struct ring_key {
    char kid[KID_MAX + 1];
    unsigned char *key;
    size_t len;
} ring_key;

struct jc_jwt_keyring {
    ring_key keys[RING_MAX_KEYS];
    size_t n;
    size_t active;
};

static const char *const reason_names[JC_JWT_REASON_COUNT] = {
    [JC_JWT_OK] = "ok",
    [JC_JWT_TOO_LONG] = "too_long",
    [JC_JWT_MALFORMED] = "malformed",
    [JC_JWT_BAD_BASE64] = "bad_base64",
    [JC_JWT_BAD_HEADER] = "bad_header",
    [JC_JWT_CRIT] = "crit",
    [JC_JWT_BAD_ALG] = "bad_alg",
    [JC_JWT_UNKNOWN_KID] = "unknown_kid",
    [JC_JWT_BAD_SIGNATURE] = "bad_signature",
    [JC_JWT_BAD_PAYLOAD] = "bad_payload",
    [JC_JWT_BAD_ISS] = "bad_iss",
    [JC_JWT_BAD_AUD] = "bad_aud",
    [JC_JWT_BAD_SCOPE] = "bad_scope",
    [JC_JWT_MISSING_CLAIM] = "missing_claim",
    [JC_JWT_BAD_CLAIM_TYPE] = "bad_claim_type",
    [JC_JWT_BAD_SUB] = "bad_sub",
    [JC_JWT_BAD_LIFETIME] = "bad_lifetime",
    [JC_JWT_EXPIRED] = "expired",
    [JC_JWT_NOT_YET_VALID] = "not_yet_valid",
    [JC_JWT_IAT_FUTURE] = "iat_future",
};

const char *jc_jwt_reason_name(jc_jwt_reason reason) {
    if ((unsigned)reason >= JC_JWT_REASON_COUNT)
        return "unknown";
    return reason_names[reason];
}

/* ---- key ring ---- */

static bool kid_valid(const char *kid) {
    size_t n = strlen(kid);
    if (n == 0 || n > KID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = kid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

void jc_jwt_keyring_free(jc_jwt_keyring *ring) {
    if (!ring)
        return;
    for (size_t i = 0; i < ring->n; i++) {
        if (ring->keys[i].key) {
            OPENSSL_cleanse(ring->keys[i].key, ring->keys[i].len);
            free(ring->keys[i].key);
        }
    }
    OPENSSL_cleanse(ring, sizeof(*ring));
    free(ring);
}

static void ring_freep(jc_jwt_keyring **r) {
    jc_jwt_keyring_free(*r);
}

jc_jwt_keyring *jc_jwt_keyring_parse(const char *json, size_t len, const char *source,
                                     jc_err *err) {
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        jc_err_set(err, JC_E_CONFIG, "key ring %s: not a JSON object (%s)", source,
                   root ? "wrong type" : jerr.text);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (strcmp(k, "active") != 0 && strcmp(k, "keys") != 0) {
            jc_err_field(err, JC_E_CONFIG, k, "key ring %s: unknown key '%s'", source, k);
            return NULL;
        }
    }
    json_t *active = json_object_get(root, "active");
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_string(active)) {
        jc_err_field(err, JC_E_CONFIG, "active", "key ring %s: 'active' must be a kid string",
                     source);
        return NULL;
    }
    if (!json_is_object(keys) || json_object_size(keys) == 0) {
        jc_err_field(err, JC_E_CONFIG, "keys",
                     "key ring %s: 'keys' must be an object with at least one key", source);
        return NULL;
    }
    if (json_object_size(keys) > RING_MAX_KEYS) {
        jc_err_field(err, JC_E_CONFIG, "keys", "key ring %s: more than %d keys", source,
                     RING_MAX_KEYS);
        return NULL;
    }
    __attribute__((cleanup(ring_freep))) jc_jwt_keyring *ring = calloc(1, sizeof(*ring));
    if (!ring) {
        jc_err_sys(err, ENOMEM, "key ring: allocate");
        return NULL;
    }
    bool found_active = false;
    json_object_foreach(keys, k, v) {
        if (!kid_valid(k)) {
            jc_err_field(err, JC_E_CONFIG, "keys",
                         "key ring %s: kid '%.64s' must be 1-64 characters of A-Z a-z 0-9 . _ -",
                         source, k);
            return NULL;
        }
        if (!json_is_string(v)) {
            jc_err_field(err, JC_E_CONFIG, "keys", "key ring %s: key '%s' is not a string", source,
                         k);
            return NULL;
        }
        const char *text = json_string_value(v);
        size_t tlen = json_string_length(v);
        if (memchr(text, '=', tlen)) {
            jc_err_field(err, JC_E_CONFIG, "keys",
                         "key ring %s: key '%s' is padded; use base64url without '='", source, k);
            return NULL;
        }
        jc_err derr;
        size_t klen = 0;
        unsigned char *key = jc_b64url_decode(text, tlen, &klen, &derr);
        if (!key) {
            jc_err_field(err, JC_E_CONFIG, "keys", "key ring %s: key '%s' is not base64url (%s)",
                         source, k, derr.msg);
            return NULL;
        }
        ring_key *rk = &ring->keys[ring->n++];
        (void)snprintf(rk->kid, sizeof(rk->kid), "%s", k);
        rk->key = key;
        rk->len = klen;
        if (klen < JC_AUTH_MIN_SECRET) {
            jc_err_field(err, JC_E_CONFIG, "keys",
                         "key ring %s: key '%s' is %zu bytes; at least %d are required", source, k,
                         klen, JC_AUTH_MIN_SECRET);
            return NULL;
        }
        if (strcmp(k, json_string_value(active)) == 0) {
            ring->active = ring->n - 1;
            found_active = true;
        }
    }
    if (!found_active) {
        jc_err_field(err, JC_E_CONFIG, "active", "key ring %s: active kid '%.64s' is not in keys",
                     source, json_string_value(active));
        return NULL;
    }
    return steal(&ring);
}

jc_jwt_keyring *jc_jwt_keyring_load(const char *path, jc_err *err) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        jc_err_sys(err, errno, "key ring %s: open", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        jc_err_sys(err, errno, "key ring %s: stat", path);
        return NULL;
    }
    /* Anyone who can read the ring can mint tokens for every execution. */
    if (st.st_mode & 0077) {
        jc_err_set(err, JC_E_CONFIG, "key ring %s: mode %04o lets others read it; chmod 600 it",
                   path, (unsigned)(st.st_mode & 07777));
        return NULL;
    }
    size_t len = 0;
    char *text = jc_read_fd(fd, 1 << 20, &len, err);
    if (!text) {
        jc_err_prefix(err, "key ring %s", path);
        return NULL;
    }
    jc_jwt_keyring *ring = jc_jwt_keyring_parse(text, len, path, err);
    OPENSSL_cleanse(text, len);
    free(text);
    return ring;
}

const char *jc_jwt_keyring_active(const jc_jwt_keyring *ring) {
    return ring->keys[ring->active].kid;
}

size_t jc_jwt_keyring_size(const jc_jwt_keyring *ring) {
    return ring->n;
}

static const ring_key *ring_find(const jc_jwt_keyring *ring, const char *kid) {
    for (size_t i = 0; i < ring->n; i++)
        if (strcmp(ring->keys[i].kid, kid) == 0)
            return &ring->keys[i];
    return NULL;
}

/* ---- claims and signing ---- */

void jc_jwt_lease_hash(const char *lease_token, char out[17]) {
    char hex[65];
    jc_sha256_hex(lease_token, strlen(lease_token), hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

static int copy_field(char *dst, size_t cap, const char *src, const char *name, jc_err *err) {
    if (!src || !*src)
        return jc_err_field(err, JC_E_INVALID, name, "token claim %s is empty", name);
    size_t n = strlen(src);
    if (n >= cap)
        return jc_err_field(err, JC_E_INVALID, name, "token claim %s is too long", name);
    memcpy(dst, src, n + 1);
    return 0;
}

int jc_jwt_claims_init(jc_jwt_claims *c, const char *execution_id, const char *job_id,
                       const char *user_id, const char *orc, int64_t attempt,
                       const char *lease_token, int64_t now_s, int64_t timeout_s,
                       int64_t kill_grace_s, jc_err *err) {
    memset(c, 0, sizeof(*c));
    if (copy_field(c->execution_id, sizeof(c->execution_id), execution_id, "executionId", err) <
            0 ||
        copy_field(c->job_id, sizeof(c->job_id), job_id, "jobId", err) < 0 ||
        copy_field(c->user_id, sizeof(c->user_id), user_id, "userId", err) < 0 ||
        copy_field(c->orc, sizeof(c->orc), orc, "orc", err) < 0)
        return -1;
    if (!lease_token || !*lease_token)
        return jc_err_field(err, JC_E_INVALID, "lease", "token: lease token is empty");
    if (attempt < 1 || timeout_s < 0 || kill_grace_s < 0)
        return jc_err_set(err, JC_E_INVALID, "token: attempt, timeout or grace out of range");
    jc_jwt_lease_hash(lease_token, c->lease);
    c->attempt = attempt;
    c->iat = c->nbf = c->orig_iat = now_s;
    int64_t life = timeout_s + kill_grace_s + 60;
    c->exp = now_s + (life < JC_JWT_MAX_LIFETIME ? life : JC_JWT_MAX_LIFETIME);
    return jc_random_b64url(16, c->jti, sizeof(c->jti), err);
}

static int hmac_sha256(const unsigned char *key, size_t keylen, const char *data, size_t len,
                       unsigned char out[32]) {
    unsigned int outlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, len, out, &outlen) ||
        outlen != 32)
        return -1;
    return 0;
}

static char *encode_json_part(json_t *obj, jc_err *err) {
    _cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        jc_err_set(err, JC_E_INTERNAL, "token: encode JSON");
        return NULL;
    }
    return jc_b64url_encode(text, strlen(text), err);
}

char *jc_jwt_sign(const jc_jwt_keyring *ring, const jc_jwt_claims *c, jc_err *err) {
    const ring_key *key = &ring->keys[ring->active];
    _cleanup_json_ json_t *header =
        json_pack("{s:s, s:s, s:s}", "alg", "HS256", "typ", "JWT", "kid", key->kid);
    char sub[80];
    (void)snprintf(sub, sizeof(sub), "job:%s", c->job_id);
    _cleanup_json_ json_t *payload =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:s}",
                  "iss", JC_JWT_ISS, "aud", JC_JWT_AUD, "sub", sub, "scope", JC_JWT_SCOPE,
                  "executionId", c->execution_id, "jobId", c->job_id, "userId", c->user_id, "orc",
                  c->orc, "attempt", (json_int_t)c->attempt, "lease", c->lease, "iat",
                  (json_int_t)c->iat, "nbf", (json_int_t)c->nbf, "exp", (json_int_t)c->exp,
                  "origIat", (json_int_t)c->orig_iat, "jti", c->jti);
    if (!header || !payload) {
        jc_err_set(err, JC_E_INVALID, "token: claims are not valid UTF-8");
        return NULL;
    }
    _cleanup_free_ char *h = encode_json_part(header, err);
    _cleanup_free_ char *p = h ? encode_json_part(payload, err) : NULL;
    if (!p)
        return NULL;
    size_t hl = strlen(h), pl = strlen(p);
    size_t total = hl + 1 + pl + 1 + jc_b64url_encoded_len(32) + 1;
    _cleanup_free_ char *tok = malloc(total);
    if (!tok) {
        jc_err_sys(err, ENOMEM, "token: allocate");
        return NULL;
    }
    memcpy(tok, h, hl);
    tok[hl] = '.';
    memcpy(tok + hl + 1, p, pl);
    unsigned char mac[32];
    if (hmac_sha256(key->key, key->len, tok, hl + 1 + pl, mac) < 0) {
        jc_err_set(err, JC_E_INTERNAL, "token: HMAC failed");
        return NULL;
    }
    tok[hl + 1 + pl] = '.';
    if (jc_b64url_encode_to(mac, 32, tok + hl + pl + 2, total - hl - pl - 2, err) < 0)
        return NULL;
    return steal(&tok);
}

/* ---- verification ---- */

static int reject(jc_jwt_reason *reason, jc_jwt_reason r, jc_err *err) {
    if (reason)
        *reason = r;
    return jc_err_set(err, JC_E_AUTH, "invalid token: %s", jc_jwt_reason_name(r));
}

typedef struct parts {
    const char *h, *p, *s;
    size_t hl, pl, sl;
} parts;

static int split(const char *token, size_t len, parts *out, jc_jwt_reason *reason, jc_err *err) {
    if (len > JC_JWT_MAX_LEN)
        return reject(reason, JC_JWT_TOO_LONG, err);
    if (!token || memchr(token, '\0', len))
        return reject(reason, JC_JWT_MALFORMED, err);
    const char *d1 = memchr(token, '.', len);
    if (!d1)
        return reject(reason, JC_JWT_MALFORMED, err);
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return reject(reason, JC_JWT_MALFORMED, err);
    out->h = token;
    out->hl = (size_t)(d1 - token);
    out->p = d1 + 1;
    out->pl = (size_t)(d2 - d1 - 1);
    out->s = d2 + 1;
    out->sl = len - (size_t)(d2 + 1 - token);
    if (out->hl == 0 || out->pl == 0 || out->sl == 0)
        return reject(reason, JC_JWT_MALFORMED, err);
    return 0;
}

/* Decode one part into a JSON object. JSON_REJECT_DUPLICATES; jansson's defaults reject
 * invalid UTF-8 and \u0000. */
static json_t *decode_object(const char *s, size_t len, jc_jwt_reason bad, jc_jwt_reason *reason,
                             jc_err *err) {
    size_t dl = 0;
    _cleanup_free_ unsigned char *raw = jc_b64url_decode(s, len, &dl, NULL);
    if (!raw) {
        reject(reason, JC_JWT_BAD_BASE64, err);
        return NULL;
    }
    json_t *obj = json_loadb((const char *)raw, dl, JSON_REJECT_DUPLICATES, NULL);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        reject(reason, bad, err);
        return NULL;
    }
    return obj;
}

/* Structure, header, alg, kid lookup (ring) or fixed key, signature. Returns the payload. */
static json_t *verify_core(const jc_jwt_keyring *ring, const unsigned char *fixed_key,
                           size_t fixed_len, const char *token, size_t len, char *kid_out,
                           size_t kid_cap, jc_jwt_reason *reason, jc_err *err) {
    parts pt = {0};
    if (split(token, len, &pt, reason, err) < 0)
        return NULL;
    /* Validate all three parts' base64url before anything else is looked at. */
    size_t sig_len = 0;
    _cleanup_free_ unsigned char *sig = jc_b64url_decode(pt.s, pt.sl, &sig_len, NULL);
    if (!sig) {
        reject(reason, JC_JWT_BAD_BASE64, err);
        return NULL;
    }
    _cleanup_json_ json_t *header = decode_object(pt.h, pt.hl, JC_JWT_BAD_HEADER, reason, err);
    if (!header)
        return NULL;
    if (json_object_get(header, "crit")) {
        reject(reason, JC_JWT_CRIT, err);
        return NULL;
    }
    json_t *alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_string_length(alg) != 5) {
        reject(reason, JC_JWT_BAD_ALG, err);
        return NULL;
    }
    const unsigned char *key = fixed_key;
    size_t keylen = fixed_len;
    if (ring) {
        json_t *kid = json_object_get(header, "kid");
        const ring_key *rk = NULL;
        if (json_is_string(kid) && strlen(json_string_value(kid)) == json_string_length(kid))
            rk = ring_find(ring, json_string_value(kid));
        if (!rk) {
            reject(reason, JC_JWT_UNKNOWN_KID, err);
            return NULL;
        }
        key = rk->key;
        keylen = rk->len;
        if (kid_out)
            (void)snprintf(kid_out, kid_cap, "%s", rk->kid);
    }
    unsigned char mac[32];
    if (hmac_sha256(key, keylen, token, pt.hl + 1 + pt.pl, mac) < 0) {
        reject(reason, JC_JWT_BAD_SIGNATURE, err);
        return NULL;
    }
    if (sig_len != sizeof(mac) || CRYPTO_memcmp(mac, sig, sizeof(mac)) != 0) {
        reject(reason, JC_JWT_BAD_SIGNATURE, err);
        return NULL;
    }
    return decode_object(pt.p, pt.pl, JC_JWT_BAD_PAYLOAD, reason, err);
}

int jc_jws_verify_hs256(const char *token, size_t len, const unsigned char *key, size_t keylen,
                        int64_t now_s, json_t **payload, jc_jwt_reason *reason, jc_err *err) {
    _cleanup_json_ json_t *p = verify_core(NULL, key, keylen, token, len, NULL, 0, reason, err);
    if (!p)
        return -1;
    json_t *exp = json_object_get(p, "exp");
    if (exp && !json_is_integer(exp))
        return reject(reason, JC_JWT_BAD_CLAIM_TYPE, err);
    if (exp && !(now_s < json_integer_value(exp)))
        return reject(reason, JC_JWT_EXPIRED, err);
    if (reason)
        *reason = JC_JWT_OK;
    *payload = steal(&p);
    return 0;
}

/* A string claim: present, a string, no NUL inside, fits. */
static int get_string(json_t *p, const char *name, char *dst, size_t cap, jc_jwt_reason *reason,
                      jc_err *err) {
    json_t *v = json_object_get(p, name);
    if (!v)
        return reject(reason, JC_JWT_MISSING_CLAIM, err);
    if (!json_is_string(v))
        return reject(reason, JC_JWT_BAD_CLAIM_TYPE, err);
    size_t n = json_string_length(v);
    if (n == 0 || n >= cap || strlen(json_string_value(v)) != n)
        return reject(reason, JC_JWT_BAD_CLAIM_TYPE, err);
    if (dst)
        memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

static int get_int(json_t *p, const char *name, int64_t *dst, jc_jwt_reason *reason, jc_err *err) {
    json_t *v = json_object_get(p, name);
    if (!v)
        return reject(reason, JC_JWT_MISSING_CLAIM, err);
    if (!json_is_integer(v))
        return reject(reason, JC_JWT_BAD_CLAIM_TYPE, err);
    *dst = json_integer_value(v);
    return 0;
}

static int exact_string(json_t *p, const char *name, const char *want, jc_jwt_reason bad,
                        jc_jwt_reason *reason, jc_err *err) {
    json_t *v = json_object_get(p, name);
    if (!v)
        return reject(reason, JC_JWT_MISSING_CLAIM, err);
    if (!json_is_string(v) || json_string_length(v) != strlen(want) ||
        strcmp(json_string_value(v), want) != 0)
        return reject(reason, bad, err);
    return 0;
}

static bool lower_hex16(const char *s) {
    if (strlen(s) != 16)
        return false;
    for (int i = 0; i < 16; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int jc_jwt_verify(const jc_jwt_keyring *ring, const char *token, size_t len, int64_t now_s,
                  jc_jwt_claims *out, jc_jwt_reason *reason, jc_err *err) {
    jc_jwt_claims c;
    memset(&c, 0, sizeof(c));
    _cleanup_json_ json_t *p =
        verify_core(ring, NULL, 0, token, len, c.kid, sizeof(c.kid), reason, err);
    if (!p)
        return -1;
    if (exact_string(p, "iss", JC_JWT_ISS, JC_JWT_BAD_ISS, reason, err) < 0 ||
        exact_string(p, "aud", JC_JWT_AUD, JC_JWT_BAD_AUD, reason, err) < 0 ||
        exact_string(p, "scope", JC_JWT_SCOPE, JC_JWT_BAD_SCOPE, reason, err) < 0)
        return -1;
    char sub[96];
    if (get_string(p, "sub", sub, sizeof(sub), reason, err) < 0 ||
        get_string(p, "executionId", c.execution_id, sizeof(c.execution_id), reason, err) < 0 ||
        get_string(p, "jobId", c.job_id, sizeof(c.job_id), reason, err) < 0 ||
        get_string(p, "userId", c.user_id, sizeof(c.user_id), reason, err) < 0 ||
        get_string(p, "orc", c.orc, sizeof(c.orc), reason, err) < 0 ||
        get_string(p, "lease", c.lease, sizeof(c.lease), reason, err) < 0 ||
        get_string(p, "jti", c.jti, sizeof(c.jti), reason, err) < 0 ||
        get_int(p, "attempt", &c.attempt, reason, err) < 0 ||
        get_int(p, "iat", &c.iat, reason, err) < 0 || get_int(p, "nbf", &c.nbf, reason, err) < 0 ||
        get_int(p, "exp", &c.exp, reason, err) < 0 ||
        get_int(p, "origIat", &c.orig_iat, reason, err) < 0)
        return -1;
    if (!lower_hex16(c.lease) || c.attempt < 1)
        return reject(reason, JC_JWT_BAD_CLAIM_TYPE, err);
    if (strncmp(sub, "job:", 4) != 0 || strcmp(sub + 4, c.job_id) != 0)
        return reject(reason, JC_JWT_BAD_SUB, err);
    /* Subtractions below are on attacker-chosen integers: check for overflow. */
    int64_t life;
    if (__builtin_sub_overflow(c.exp, c.iat, &life) || life <= 0 || life > JC_JWT_MAX_LIFETIME)
        return reject(reason, JC_JWT_BAD_LIFETIME, err);
    if (!(now_s < c.exp))
        return reject(reason, JC_JWT_EXPIRED, err);
    if (c.nbf > now_s + JC_JWT_LEEWAY)
        return reject(reason, JC_JWT_NOT_YET_VALID, err);
    if (c.iat > now_s + JC_JWT_LEEWAY)
        return reject(reason, JC_JWT_IAT_FUTURE, err);
    if (reason)
        *reason = JC_JWT_OK;
    if (out)
        *out = c;
    return 0;
}
