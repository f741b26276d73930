#include "jobcell/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/b64url.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/random.h"

#define SEAL_VERSION "v1"
/* Domain separation: no other jobcell use of AES-GCM can produce the same AAD. */
#define AAD_LABEL "jobcell-seal-v1"

typedef struct master_key {
    char kid[JC_SEAL_KID_MAX + 1];
    unsigned char key[JC_SEAL_KEY_LEN];
} master_key;

struct jc_master_ring {
    master_key keys[JC_SEAL_MAX_KEYS];
    size_t n;
    size_t active;
};

int jc_seal_kid_valid(const char *kid) {
    size_t n = strlen(kid);
    if (n == 0 || n > JC_SEAL_KID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = kid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void jc_master_ring_free(jc_master_ring *r) {
    if (!r)
        return;
    OPENSSL_cleanse(r, sizeof(*r));
    free(r);
}

static void ring_freep(jc_master_ring **r) {
    jc_master_ring_free(*r);
}

static const master_key *ring_find(const jc_master_ring *r, const char *kid) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->keys[i].kid, kid) == 0)
            return &r->keys[i];
    return NULL;
}

jc_master_ring *jc_master_ring_parse(const char *json, size_t len, const char *source,
                                     jc_err *err) {
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        jc_err_set(err, JC_E_CONFIG, "master key file %s: not a JSON object", source);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (strcmp(k, "active") != 0 && strcmp(k, "keys") != 0) {
            jc_err_field(err, JC_E_CONFIG, "", "master key file %s: unknown key '%.64s'", source,
                         k);
            return NULL;
        }
    }
    json_t *active = json_object_get(root, "active");
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_string(active)) {
        jc_err_field(err, JC_E_CONFIG, "active",
                     "master key file %s: 'active' must be a kid string", source);
        return NULL;
    }
    if (!json_is_object(keys) || json_object_size(keys) == 0 ||
        json_object_size(keys) > JC_SEAL_MAX_KEYS) {
        jc_err_field(err, JC_E_CONFIG, "keys",
                     "master key file %s: 'keys' must be an object with 1 to %d keys", source,
                     JC_SEAL_MAX_KEYS);
        return NULL;
    }
    __attribute__((cleanup(ring_freep))) jc_master_ring *r = calloc(1, sizeof(*r));
    if (!r) {
        jc_err_sys(err, ENOMEM, "master key file: allocate");
        return NULL;
    }
    int found_active = 0;
    json_object_foreach(keys, k, v) {
        if (!jc_seal_kid_valid(k)) {
            jc_err_field(err, JC_E_CONFIG, "keys",
                         "master key file %s: kid '%.64s' must be 1-64 characters of A-Z a-z "
                         "0-9 _ -",
                         source, k);
            return NULL;
        }
        if (!json_is_string(v)) {
            jc_err_field(err, JC_E_CONFIG, "keys", "master key file %s: key '%s' is not a string",
                         source, k);
            return NULL;
        }
        size_t klen = 0;
        jc_err derr;
        unsigned char *key =
            jc_b64url_decode(json_string_value(v), json_string_length(v), &klen, &derr);
        if (!key || klen != JC_SEAL_KEY_LEN) {
            if (key) {
                OPENSSL_cleanse(key, klen);
                free(key);
            }
            jc_err_field(err, JC_E_CONFIG, "keys",
                         "master key file %s: key '%s' must be unpadded base64url of exactly %d "
                         "bytes",
                         source, k, JC_SEAL_KEY_LEN);
            return NULL;
        }
        master_key *mk = &r->keys[r->n];
        memcpy(mk->key, key, JC_SEAL_KEY_LEN);
        OPENSSL_cleanse(key, klen);
        free(key);
        snprintf(mk->kid, sizeof(mk->kid), "%s", k);
        if (strcmp(k, json_string_value(active)) == 0) {
            r->active = r->n;
            found_active = 1;
        }
        r->n++;
    }
    if (!found_active) {
        jc_err_field(err, JC_E_CONFIG, "active",
                     "master key file %s: active kid '%.64s' is not in 'keys'", source,
                     json_string_value(active));
        return NULL;
    }
    return steal(&r);
}

jc_master_ring *jc_master_ring_load(const char *path, jc_err *err) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        jc_err_sys(err, errno, "master key file %s: open", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        jc_err_sys(err, errno, "master key file %s: stat", path);
        return NULL;
    }
    /* Whoever reads this file opens every secret in the store. */
    if (st.st_mode & 0077) {
        jc_err_set(err, JC_E_CONFIG,
                   "master key file %s: mode %04o gives group or others access; chmod 600 it", path,
                   (unsigned)(st.st_mode & 07777));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        jc_err_set(err, JC_E_CONFIG, "master key file %s: not a regular file", path);
        return NULL;
    }
    size_t len = 0;
    char *text = jc_read_fd(fd, 64 * 1024, &len, err);
    if (!text) {
        jc_err_prefix(err, "master key file %s", path);
        return NULL;
    }
    jc_master_ring *r = jc_master_ring_parse(text, len, path, err);
    OPENSSL_cleanse(text, len);
    free(text);
    return r;
}

const char *jc_master_ring_active(const jc_master_ring *r) {
    return r->keys[r->active].kid;
}

int jc_master_ring_has(const jc_master_ring *r, const char *kid) {
    return ring_find(r, kid) != NULL;
}

/* The AAD: label, then kind, owner, id and kid, each prefixed by its 4-byte big-endian
 * length, so no two different rows share an AAD ("a"+"bc" vs "ab"+"c"). Owned. */
static unsigned char *build_aad(const char *kind, const char *owner, const char *id,
                                const char *kid, size_t *out_len, jc_err *err) {
    const char *parts[] = {kind, owner, id, kid};
    size_t total = sizeof(AAD_LABEL);
    for (size_t i = 0; i < JC_ARRAY_LEN(parts); i++) {
        size_t n = strlen(parts[i]);
        if (n > 4096) {
            jc_err_set(err, JC_E_INVALID, "seal: row name over 4096 bytes");
            return NULL;
        }
        total += 4 + n;
    }
    unsigned char *aad = malloc(total);
    if (!aad) {
        jc_err_sys(err, ENOMEM, "seal: allocate");
        return NULL;
    }
    size_t o = 0;
    memcpy(aad, AAD_LABEL, sizeof(AAD_LABEL));
    o += sizeof(AAD_LABEL);
    for (size_t i = 0; i < JC_ARRAY_LEN(parts); i++) {
        uint32_t n = (uint32_t)strlen(parts[i]);
        aad[o++] = (unsigned char)(n >> 24);
        aad[o++] = (unsigned char)(n >> 16);
        aad[o++] = (unsigned char)(n >> 8);
        aad[o++] = (unsigned char)n;
        memcpy(aad + o, parts[i], n);
        o += n;
    }
    *out_len = o;
    return aad;
}

/* The cipher, fetched once: OpenSSL 3 looks an implicit EVP_aes_256_gcm() up in its
 * provider tables on every init, which costs more than sealing a small secret. */
static EVP_CIPHER *gcm;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_fetch(void) {
    gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static const EVP_CIPHER *aes_gcm(void) {
    pthread_once(&gcm_once, gcm_fetch);
    return gcm ? gcm : EVP_aes_256_gcm();
}

static void ctx_freep(EVP_CIPHER_CTX **c) {
    EVP_CIPHER_CTX_free(*c);
}

int jc_seal(const jc_master_ring *r, const char *kind, const char *owner, const char *id,
            const void *pt, size_t len, char **out, jc_err *err) {
    *out = NULL;
    if (!r || !kind || !owner || !id || (!pt && len))
        return jc_err_set(err, JC_E_INTERNAL, "seal: missing argument");
    if (len > JC_SEAL_MAX_PLAINTEXT)
        return jc_err_set(err, JC_E_TOO_LARGE, "seal: value over %u bytes", JC_SEAL_MAX_PLAINTEXT);
    const master_key *mk = &r->keys[r->active];
    size_t aad_len = 0;
    _cleanup_free_ unsigned char *aad = build_aad(kind, owner, id, mk->kid, &aad_len, err);
    if (!aad)
        return -1;
    unsigned char nonce[JC_SEAL_NONCE_LEN];
    if (jc_random_bytes(nonce, sizeof(nonce), err) < 0)
        return -1;
    _cleanup_free_ unsigned char *ct = malloc(len + JC_SEAL_TAG_LEN);
    if (!ct)
        return jc_err_sys(err, ENOMEM, "seal: allocate");
    __attribute__((cleanup(ctx_freep))) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx, aes_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, JC_SEAL_NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, mk->key, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1 ||
        EVP_EncryptUpdate(ctx, ct, &outl, pt ? pt : (const void *)"", (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct + outl, &finl) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, JC_SEAL_TAG_LEN, ct + len) != 1)
        return jc_err_set(err, JC_E_INTERNAL, "seal: AES-256-GCM encryption failed");
    size_t kid_len = strlen(mk->kid);
    size_t nonce_b64 = jc_b64url_encoded_len(JC_SEAL_NONCE_LEN);
    size_t ct_b64 = jc_b64url_encoded_len(len + JC_SEAL_TAG_LEN);
    size_t total = strlen(SEAL_VERSION) + 1 + kid_len + 1 + nonce_b64 + 1 + ct_b64 + 1;
    _cleanup_free_ char *text = malloc(total);
    if (!text)
        return jc_err_sys(err, ENOMEM, "seal: allocate");
    size_t o = (size_t)snprintf(text, total, "%s.%s.", SEAL_VERSION, mk->kid);
    if (jc_b64url_encode_to(nonce, JC_SEAL_NONCE_LEN, text + o, total - o, err) < 0)
        return -1;
    o += nonce_b64;
    text[o++] = '.';
    if (jc_b64url_encode_to(ct, len + JC_SEAL_TAG_LEN, text + o, total - o, err) < 0)
        return -1;
    *out = steal(&text);
    return 0;
}

/* Split sealed text into kid, nonce and ciphertext parts (pointers into s). */
static int split_sealed(const char *s, const char **kid, size_t *kid_len, const char **nonce,
                        size_t *nonce_len, const char **ct, size_t *ct_len) {
    size_t vlen = strlen(SEAL_VERSION);
    if (strncmp(s, SEAL_VERSION ".", vlen + 1) != 0)
        return -1;
    const char *k = s + vlen + 1;
    const char *d1 = strchr(k, '.');
    if (!d1)
        return -1;
    const char *n = d1 + 1;
    const char *d2 = strchr(n, '.');
    if (!d2)
        return -1;
    const char *c = d2 + 1;
    if (strchr(c, '.'))
        return -1;
    *kid = k;
    *kid_len = (size_t)(d1 - k);
    *nonce = n;
    *nonce_len = (size_t)(d2 - n);
    *ct = c;
    *ct_len = strlen(c);
    return 0;
}

int jc_sealed_kid(const char *sealed, char *kid, size_t cap) {
    const char *k, *n, *c;
    size_t kl, nl, cl;
    if (!sealed || split_sealed(sealed, &k, &kl, &n, &nl, &c, &cl) < 0 || kl == 0 ||
        kl > JC_SEAL_KID_MAX || kl >= cap)
        return -1;
    memcpy(kid, k, kl);
    kid[kl] = '\0';
    return jc_seal_kid_valid(kid) ? 0 : -1;
}

/* One answer for every way a sealed value can fail to open: which check failed is
 * information for an attacker probing with forged rows, not for the caller. */
static int not_open(jc_err *err) {
    return jc_err_set(err, JC_E_AUTH, "sealed value does not open (wrong key or altered)");
}

int jc_unseal(const jc_master_ring *r, const char *kind, const char *owner, const char *id,
              const char *sealed, unsigned char **pt, size_t *len, jc_err *err) {
    *pt = NULL;
    *len = 0;
    if (!r || !kind || !owner || !id || !sealed)
        return jc_err_set(err, JC_E_INTERNAL, "unseal: missing argument");
    char kid[JC_SEAL_KID_MAX + 1];
    if (jc_sealed_kid(sealed, kid, sizeof(kid)) < 0)
        return not_open(err);
    const master_key *mk = ring_find(r, kid);
    if (!mk)
        return not_open(err);
    const char *k, *n, *c;
    size_t kl, nl, cl;
    if (split_sealed(sealed, &k, &kl, &n, &nl, &c, &cl) < 0)
        return not_open(err);
    if (cl > jc_b64url_encoded_len(JC_SEAL_MAX_PLAINTEXT + JC_SEAL_TAG_LEN))
        return not_open(err);
    size_t nonce_len = 0, ct_len = 0;
    _cleanup_free_ unsigned char *nonce = jc_b64url_decode(n, nl, &nonce_len, NULL);
    if (!nonce || nonce_len != JC_SEAL_NONCE_LEN)
        return not_open(err);
    _cleanup_free_ unsigned char *ct = jc_b64url_decode(c, cl, &ct_len, NULL);
    if (!ct || ct_len < JC_SEAL_TAG_LEN)
        return not_open(err);
    size_t aad_len = 0;
    _cleanup_free_ unsigned char *aad = build_aad(kind, owner, id, kid, &aad_len, err);
    if (!aad)
        return -1;
    size_t plen = ct_len - JC_SEAL_TAG_LEN;
    unsigned char *out = malloc(plen + 1);
    if (!out)
        return jc_err_sys(err, ENOMEM, "unseal: allocate");
    __attribute__((cleanup(ctx_freep))) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;
    int ok = ctx && EVP_DecryptInit_ex(ctx, aes_gcm(), NULL, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, JC_SEAL_NONCE_LEN, NULL) == 1 &&
             EVP_DecryptInit_ex(ctx, NULL, NULL, mk->key, nonce) == 1 &&
             EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1 &&
             EVP_DecryptUpdate(ctx, out, &outl, ct, (int)plen) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, JC_SEAL_TAG_LEN, ct + plen) == 1 &&
             EVP_DecryptFinal_ex(ctx, out + outl, &finl) == 1;
    if (!ok) {
        /* The unauthenticated plaintext must not survive a failed tag check. */
        OPENSSL_cleanse(out, plen + 1);
        free(out);
        return not_open(err);
    }
    out[plen] = '\0';
    *pt = out;
    *len = plen;
    return 0;
}

char *jc_master_ring_new_json(const char *kid, jc_err *err) {
    if (!kid || !jc_seal_kid_valid(kid)) {
        jc_err_set(err, JC_E_INVALID, "master key id must be 1-64 characters of A-Z a-z 0-9 _ -");
        return NULL;
    }
    char key[64];
    if (jc_random_b64url(JC_SEAL_KEY_LEN, key, sizeof(key), err) < 0)
        return NULL;
    size_t cap = 2 * strlen(kid) + sizeof(key) + 64;
    char *text = malloc(cap);
    if (!text) {
        OPENSSL_cleanse(key, sizeof(key));
        jc_err_sys(err, ENOMEM, "master key: allocate");
        return NULL;
    }
    snprintf(text, cap, "{\"active\": \"%s\", \"keys\": {\"%s\": \"%s\"}}\n", kid, kid, key);
    OPENSSL_cleanse(key, sizeof(key));
    return text;
}
