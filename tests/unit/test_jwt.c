#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/b64url.h"
#include "jobcell/cleanup.h"
#include "jobcell/jwt.h"

/* 32-byte keys, base64url: k1 = bytes 0x01.., k2 = bytes 0x41.. */
static unsigned char key1[32], key2[32];
static char ring_json[512];
static jc_jwt_keyring *ring;

#define NOW 1800000000LL

static int setup(void **state) {
    (void)state;
    for (int i = 0; i < 32; i++) {
        key1[i] = (unsigned char)(i + 1);
        key2[i] = (unsigned char)(i + 0x41);
    }
    char *k1 = jc_b64url_encode(key1, 32, NULL), *k2 = jc_b64url_encode(key2, 32, NULL);
    snprintf(ring_json, sizeof(ring_json),
             "{\"active\":\"k1\",\"keys\":{\"k1\":\"%s\",\"k2\":\"%s\"}}", k1, k2);
    free(k1);
    free(k2);
    jc_err err;
    ring = jc_jwt_keyring_parse(ring_json, strlen(ring_json), "test", &err);
    assert_non_null(ring);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    jc_jwt_keyring_free(ring);
    return 0;
}

/* Build a token from raw header and payload text, signed with key (or with `sig` text). */
static char *make_token(const char *header, const char *payload, const unsigned char *key) {
    char *h = jc_b64url_encode(header, strlen(header), NULL);
    char *p = jc_b64url_encode(payload, strlen(payload), NULL);
    size_t n = strlen(h) + strlen(p) + 64;
    char *t = malloc(n);
    snprintf(t, n, "%s.%s", h, p);
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), key, 32, (unsigned char *)t, strlen(t), mac, &maclen);
    char *s = jc_b64url_encode(mac, 32, NULL);
    strcat(t, ".");
    strcat(t, s);
    free(h);
    free(p);
    free(s);
    return t;
}

static const char *good_header = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";

/* A valid payload with one claim's text replaced: fmt gets the claims in order. */
static char *payload_with(const char *iss, const char *aud, const char *scope, const char *extra,
                          long long iat, long long nbf, long long exp) {
    char *p = malloc(1024);
    snprintf(p, 1024,
             "{\"iss\":%s,\"aud\":%s,\"sub\":\"job:job_a\",\"scope\":%s,\"executionId\":\"exe_a\","
             "\"jobId\":\"job_a\",\"userId\":\"alice\",\"orc\":\"host-a\",\"attempt\":1,"
             "\"lease\":\"0123456789abcdef\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
             "\"origIat\":%lld,\"jti\":\"abc\"%s}",
             iss, aud, scope, iat, nbf, exp, iat, extra);
    return p;
}

static char *good_payload(void) {
    return payload_with("\"jobcell-orchestrator\"", "\"jobcell-runtime\"", "\"runtime\"", "", NOW,
                        NOW, NOW + 600);
}

static void expect(const char *token, jc_jwt_reason want) {
    jc_jwt_reason got = JC_JWT_OK;
    jc_err err;
    jc_err_clear(&err);
    jc_jwt_claims c;
    int r = jc_jwt_verify(ring, token, strlen(token), NOW, &c, &got, &err);
    if (want == JC_JWT_OK) {
        if (r != 0)
            fail_msg("expected success, got %s", jc_jwt_reason_name(got));
        return;
    }
    assert_int_equal(r, -1);
    if (got != want)
        fail_msg("expected %s, got %s", jc_jwt_reason_name(want), jc_jwt_reason_name(got));
    assert_int_equal(err.code, JC_E_AUTH);
}

static void expect_built(const char *header, const char *payload, const unsigned char *key,
                         jc_jwt_reason want) {
    char *t = make_token(header, payload, key);
    expect(t, want);
    free(t);
}

/* ---- RFC 7515 appendix A.1 ---- */

static const char rfc_token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                                "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcG"
                                "xlLmNvbS9pc19yb290Ijp0cnVlfQ."
                                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc_key[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

static void test_rfc7515_a1(void **state) {
    (void)state;
    size_t klen = 0;
    unsigned char *key = jc_b64url_decode(rfc_key, strlen(rfc_key), &klen, NULL);
    assert_non_null(key);
    assert_int_equal(klen, 64);
    json_t *payload = NULL;
    jc_jwt_reason reason;
    assert_int_equal(jc_jws_verify_hs256(rfc_token, strlen(rfc_token), key, klen, 1300819379,
                                         &payload, &reason, NULL),
                     0);
    assert_string_equal(json_string_value(json_object_get(payload, "iss")), "joe");
    assert_true(json_is_true(json_object_get(payload, "http://example.com/is_root")));
    json_decref(payload);
    payload = NULL;
    /* At exp exactly: no leeway on expiry. */
    assert_int_equal(jc_jws_verify_hs256(rfc_token, strlen(rfc_token), key, klen, 1300819380,
                                         &payload, &reason, NULL),
                     -1);
    assert_int_equal(reason, JC_JWT_EXPIRED);
    assert_null(payload);
    /* One bit of the key changed: the signature no longer matches. */
    key[0] ^= 1;
    assert_int_equal(jc_jws_verify_hs256(rfc_token, strlen(rfc_token), key, klen, 1300819379,
                                         &payload, &reason, NULL),
                     -1);
    assert_int_equal(reason, JC_JWT_BAD_SIGNATURE);
    free(key);
}

/* ---- round trip ---- */

static void test_sign_verify_roundtrip(void **state) {
    (void)state;
    jc_jwt_claims c;
    jc_err err;
    assert_int_equal(jc_jwt_claims_init(&c, "exe_x", "job_y", "alice", "host-a", 2, "lt_secret",
                                        NOW, 300, 5, &err),
                     0);
    assert_int_equal(c.exp, NOW + 300 + 5 + 60);
    assert_int_equal(c.orig_iat, NOW);
    char *t = jc_jwt_sign(ring, &c, &err);
    assert_non_null(t);
    jc_jwt_claims out;
    jc_jwt_reason reason;
    assert_int_equal(jc_jwt_verify(ring, t, strlen(t), NOW + 10, &out, &reason, &err), 0);
    assert_string_equal(out.execution_id, "exe_x");
    assert_string_equal(out.job_id, "job_y");
    assert_string_equal(out.user_id, "alice");
    assert_string_equal(out.orc, "host-a");
    assert_int_equal(out.attempt, 2);
    assert_string_equal(out.kid, "k1");
    char lease[17];
    jc_jwt_lease_hash("lt_secret", lease);
    assert_string_equal(out.lease, lease);
    assert_int_equal(strlen(out.lease), 16);
    /* Valid until exp - 1, invalid at exp. */
    assert_int_equal(jc_jwt_verify(ring, t, strlen(t), c.exp - 1, NULL, &reason, &err), 0);
    assert_int_equal(jc_jwt_verify(ring, t, strlen(t), c.exp, NULL, &reason, &err), -1);
    assert_int_equal(reason, JC_JWT_EXPIRED);
    free(t);
}

static void test_lifetime_capped_at_two_hours(void **state) {
    (void)state;
    jc_jwt_claims c;
    assert_int_equal(
        jc_jwt_claims_init(&c, "exe_x", "job_y", "u", "o", 1, "lt_z", NOW, 86400, 5, NULL), 0);
    assert_int_equal(c.exp - c.iat, 7200);
}

static void test_rotation_old_kid_still_verifies(void **state) {
    (void)state;
    jc_jwt_claims c;
    jc_jwt_claims_init(&c, "exe_x", "job_y", "u", "o", 1, "lt_z", NOW, 60, 5, NULL);
    char *t = jc_jwt_sign(ring, &c, NULL); /* signed with k1 */
    char *k1 = jc_b64url_encode(key1, 32, NULL), *k2 = jc_b64url_encode(key2, 32, NULL);
    char json[512];
    snprintf(json, sizeof(json), "{\"active\":\"k2\",\"keys\":{\"k1\":\"%s\",\"k2\":\"%s\"}}", k1,
             k2);
    jc_jwt_keyring *r2 = jc_jwt_keyring_parse(json, strlen(json), "rotated", NULL);
    assert_non_null(r2);
    assert_string_equal(jc_jwt_keyring_active(r2), "k2");
    assert_int_equal(jc_jwt_verify(r2, t, strlen(t), NOW, NULL, NULL, NULL), 0);
    /* Once k1 is retired, its tokens die. */
    snprintf(json, sizeof(json), "{\"active\":\"k2\",\"keys\":{\"k2\":\"%s\"}}", k2);
    jc_jwt_keyring *r3 = jc_jwt_keyring_parse(json, strlen(json), "retired", NULL);
    jc_jwt_reason reason;
    assert_int_equal(jc_jwt_verify(r3, t, strlen(t), NOW, NULL, &reason, NULL), -1);
    assert_int_equal(reason, JC_JWT_UNKNOWN_KID);
    jc_jwt_keyring_free(r2);
    jc_jwt_keyring_free(r3);
    free(k1);
    free(k2);
    free(t);
}

static void test_good_handmade_token_accepted(void **state) {
    (void)state;
    char *p = good_payload();
    expect_built(good_header, p, key1, JC_JWT_OK);
    free(p);
}

/* ---- header and structure rejections ---- */

static void test_alg_none(void **state) {
    (void)state;
    char *p = good_payload();
    expect_built("{\"alg\":\"none\",\"kid\":\"k1\"}", p, key1, JC_JWT_BAD_ALG);
    /* The classic form: alg none with an empty signature. */
    char *h = jc_b64url_encode("{\"alg\":\"none\"}", 14, NULL);
    char *pe = jc_b64url_encode(p, strlen(p), NULL);
    char t[2048];
    snprintf(t, sizeof(t), "%s.%s.", h, pe);
    expect(t, JC_JWT_MALFORMED);
    free(h);
    free(pe);
    free(p);
}

static void test_alg_hs384(void **state) {
    (void)state;
    char *p = good_payload();
    expect_built("{\"alg\":\"HS384\",\"kid\":\"k1\"}", p, key1, JC_JWT_BAD_ALG);
    free(p);
}

static void test_alg_rs256_with_hmac_key(void **state) {
    (void)state;
    char *p = good_payload();
    expect_built("{\"alg\":\"RS256\",\"kid\":\"k1\"}", p, key1, JC_JWT_BAD_ALG);
    free(p);
}

static void test_alg_lowercase(void **state) {
    (void)state;
    char *p = good_payload();
    expect_built("{\"alg\":\"hs256\",\"kid\":\"k1\"}", p, key1, JC_JWT_BAD_ALG);
    expect_built("{\"kid\":\"k1\"}", p, key1, JC_JWT_BAD_ALG);
    expect_built("{\"alg\":[\"HS256\"],\"kid\":\"k1\"}", p, key1, JC_JWT_BAD_ALG);
    free(p);
}

static void test_kid_missing_or_unknown(void **state) {
    (void)state;
    char *p = good_payload();
    expect_built("{\"alg\":\"HS256\"}", p, key1, JC_JWT_UNKNOWN_KID);
    expect_built("{\"alg\":\"HS256\",\"kid\":\"k9\"}", p, key1, JC_JWT_UNKNOWN_KID);
    expect_built("{\"alg\":\"HS256\",\"kid\":1}", p, key1, JC_JWT_UNKNOWN_KID);
    expect_built("{\"alg\":\"HS256\",\"kid\":\"k1\\u0000x\"}", p, key1, JC_JWT_BAD_HEADER);
    free(p);
}

static void test_signature_of_another_key(void **state) {
    (void)state;
    char *p = good_payload();
    expect_built(good_header, p, key2, JC_JWT_BAD_SIGNATURE); /* kid k1, signed with k2 */
    free(p);
}

static void test_truncated_signature(void **state) {
    (void)state;
    char *p = good_payload();
    char *t = make_token(good_header, p, key1);
    t[strlen(t) - 3] = '\0'; /* 40 characters: valid base64url of 30 bytes */
    expect(t, JC_JWT_BAD_SIGNATURE);
    free(t);
    free(p);
}

static void test_part_counts(void **state) {
    (void)state;
    expect("aaaa.bbbb", JC_JWT_MALFORMED);
    expect("aaaa.bbbb.cccc.dddd", JC_JWT_MALFORMED);
    expect("aaaa", JC_JWT_MALFORMED);
    expect("", JC_JWT_MALFORMED);
}

static void test_empty_parts(void **state) {
    (void)state;
    char *p = good_payload();
    char *t = make_token(good_header, p, key1);
    char *d1 = strchr(t, '.');
    expect(d1, JC_JWT_MALFORMED); /* ".payload.sig" */
    char buf[4096];
    snprintf(buf, sizeof(buf), "%.*s..%s", (int)(d1 - t), t, strrchr(t, '.') + 1);
    expect(buf, JC_JWT_MALFORMED);
    expect("a.b.", JC_JWT_MALFORMED);
    free(t);
    free(p);
}

static void test_padding_rejected(void **state) {
    (void)state;
    char *p = good_payload();
    char *t = make_token(good_header, p, key1);
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s=", t); /* 43-char signature padded */
    expect(buf, JC_JWT_BAD_BASE64);
    free(t);
    free(p);
}

static void test_invalid_characters(void **state) {
    (void)state;
    char *p = good_payload();
    char *t = make_token(good_header, p, key1);
    char *sig = strrchr(t, '.') + 1;
    sig[3] = '+';
    expect(t, JC_JWT_BAD_BASE64);
    free(t);
    t = make_token(good_header, p, key1);
    t[2] = '/';
    expect(t, JC_JWT_BAD_BASE64);
    free(t);
    free(p);
}

static void test_nonzero_trailing_bits(void **state) {
    (void)state;
    char *p = good_payload();
    char *t = make_token(good_header, p, key1);
    /* 43 characters carry 32 bytes: the last character's low 2 bits are padding bits.
     * Flipping one of them keeps the decoded bytes, so only the strict decoder catches it. */
    char *last = t + strlen(t) - 1;
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alpha, *last) - alpha);
    *last = alpha[v ^ 1];
    expect(t, JC_JWT_BAD_BASE64);
    free(t);
    free(p);
}

static void test_length_one_mod_four(void **state) {
    (void)state;
    char *p = good_payload();
    char *t = make_token(good_header, p, key1);
    char buf[4096];
    snprintf(buf, sizeof(buf), "%sA", t); /* 44 characters: fine; 45 is ≡ 1 mod 4 */
    size_t n = strlen(buf);
    buf[n] = 'A';
    buf[n + 1] = '\0';
    expect(buf, JC_JWT_BAD_BASE64);
    free(t);
    free(p);
}

static void test_duplicate_keys(void **state) {
    (void)state;
    char *p = payload_with("\"jobcell-orchestrator\"", "\"jobcell-runtime\"", "\"runtime\"",
                           ",\"executionId\":\"exe_other\"", NOW, NOW, NOW + 600);
    expect_built(good_header, p, key1, JC_JWT_BAD_PAYLOAD);
    free(p);
    p = good_payload();
    expect_built("{\"alg\":\"HS256\",\"kid\":\"k1\",\"kid\":\"k2\"}", p, key1, JC_JWT_BAD_HEADER);
    free(p);
}

static void test_header_not_object(void **state) {
    (void)state;
    char *p = good_payload();
    expect_built("[\"HS256\"]", p, key1, JC_JWT_BAD_HEADER);
    expect_built("\"HS256\"", p, key1, JC_JWT_BAD_HEADER);
    expect_built("{\"alg\":\"HS256\"", p, key1, JC_JWT_BAD_HEADER);
    free(p);
}

static void test_payload_not_object(void **state) {
    (void)state;
    expect_built(good_header, "[1,2,3]", key1, JC_JWT_BAD_PAYLOAD);
    expect_built(good_header, "42", key1, JC_JWT_BAD_PAYLOAD);
    expect_built(good_header, "{\"iss\":\"\xff\xfe\"}", key1, JC_JWT_BAD_PAYLOAD); /* bad UTF-8 */
}

static void test_nul_escape_in_claim(void **state) {
    (void)state;
    char *p = payload_with("\"jobcell-orchestrator\\u0000\"", "\"jobcell-runtime\"", "\"runtime\"",
                           "", NOW, NOW, NOW + 600);
    expect_built(good_header, p, key1, JC_JWT_BAD_PAYLOAD);
    free(p);
}

static void test_wrong_iss_aud_scope(void **state) {
    (void)state;
    const char *ok_iss = "\"jobcell-orchestrator\"", *ok_aud = "\"jobcell-runtime\"",
               *ok_scope = "\"runtime\"";
    struct {
        const char *iss, *aud, *scope;
        jc_jwt_reason want;
    } cases[] = {
        {"\"someone-else\"", ok_aud, ok_scope, JC_JWT_BAD_ISS},
        {"\"Jobcell-Orchestrator\"", ok_aud, ok_scope, JC_JWT_BAD_ISS},
        {ok_iss, "\"jobcell-admin\"", ok_scope, JC_JWT_BAD_AUD},
        {ok_iss, "[\"jobcell-runtime\"]", ok_scope, JC_JWT_BAD_AUD}, /* an array is refused */
        {ok_iss, ok_aud, "\"admin\"", JC_JWT_BAD_SCOPE},
        {ok_iss, ok_aud, "\"runtime \"", JC_JWT_BAD_SCOPE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *p = payload_with(cases[i].iss, cases[i].aud, cases[i].scope, "", NOW, NOW, NOW + 600);
        expect_built(good_header, p, key1, cases[i].want);
        free(p);
    }
}

/* Remove one claim from the good payload text. */
static char *without(const char *claim) {
    char *p = good_payload();
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\":", claim);
    char *at = strstr(p, needle);
    assert_non_null(at);
    char *end = at;
    while (*end && *end != ',' && *end != '}')
        end++;
    if (*end == ',')
        end++;
    else if (at > p && at[-1] == ',')
        at--;
    memmove(at, end, strlen(end) + 1);
    return p;
}

static void test_missing_claims(void **state) {
    (void)state;
    static const char *const claims[] = {"executionId", "jobId", "exp", "userId", "orc",
                                         "attempt",     "lease", "iat", "nbf",    "origIat",
                                         "jti",         "sub",   "iss", "aud",    "scope"};
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        char *p = without(claims[i]);
        char *t = make_token(good_header, p, key1);
        jc_jwt_reason got;
        assert_int_equal(jc_jwt_verify(ring, t, strlen(t), NOW, NULL, &got, NULL), -1);
        if (got != JC_JWT_MISSING_CLAIM)
            fail_msg("without %s: got %s", claims[i], jc_jwt_reason_name(got));
        free(t);
        free(p);
    }
}

static void test_claim_types(void **state) {
    (void)state;
    const char *iss = "\"jobcell-orchestrator\"", *aud = "\"jobcell-runtime\"", *sc = "\"runtime\"";
    /* Floats and strings where integers are required. */
    char p[1024];
    snprintf(p, sizeof(p),
             "{\"iss\":%s,\"aud\":%s,\"sub\":\"job:job_a\",\"scope\":%s,\"executionId\":\"exe_a\","
             "\"jobId\":\"job_a\",\"userId\":\"alice\",\"orc\":\"host-a\",\"attempt\":1.0,"
             "\"lease\":\"0123456789abcdef\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
             "\"origIat\":%lld,\"jti\":\"abc\"}",
             iss, aud, sc, NOW, NOW, NOW + 600, NOW);
    expect_built(good_header, p, key1, JC_JWT_BAD_CLAIM_TYPE);
    snprintf(p, sizeof(p),
             "{\"iss\":%s,\"aud\":%s,\"sub\":\"job:job_a\",\"scope\":%s,\"executionId\":\"exe_a\","
             "\"jobId\":\"job_a\",\"userId\":\"alice\",\"orc\":\"host-a\",\"attempt\":1,"
             "\"lease\":\"0123456789abcdef\",\"iat\":%lld,\"nbf\":%lld,\"exp\":\"%lld\","
             "\"origIat\":%lld,\"jti\":\"abc\"}",
             iss, aud, sc, NOW, NOW, NOW + 600, NOW);
    expect_built(good_header, p, key1, JC_JWT_BAD_CLAIM_TYPE);
    snprintf(p, sizeof(p),
             "{\"iss\":%s,\"aud\":%s,\"sub\":\"job:job_a\",\"scope\":%s,\"executionId\":7,"
             "\"jobId\":\"job_a\",\"userId\":\"alice\",\"orc\":\"host-a\",\"attempt\":1,"
             "\"lease\":\"0123456789abcdef\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
             "\"origIat\":%lld,\"jti\":\"abc\"}",
             iss, aud, sc, NOW, NOW, NOW + 600, NOW);
    expect_built(good_header, p, key1, JC_JWT_BAD_CLAIM_TYPE);
    /* lease must be 16 lowercase hex characters. */
    snprintf(p, sizeof(p),
             "{\"iss\":%s,\"aud\":%s,\"sub\":\"job:job_a\",\"scope\":%s,\"executionId\":\"exe_a\","
             "\"jobId\":\"job_a\",\"userId\":\"alice\",\"orc\":\"host-a\",\"attempt\":1,"
             "\"lease\":\"0123456789ABCDEF\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
             "\"origIat\":%lld,\"jti\":\"abc\"}",
             iss, aud, sc, NOW, NOW, NOW + 600, NOW);
    expect_built(good_header, p, key1, JC_JWT_BAD_CLAIM_TYPE);
}

static void test_sub_must_match_job(void **state) {
    (void)state;
    char *p = good_payload();
    char *at = strstr(p, "job:job_a");
    at[8] = 'b'; /* job:job_b */
    expect_built(good_header, p, key1, JC_JWT_BAD_SUB);
    free(p);
}

static void test_times(void **state) {
    (void)state;
    const char *iss = "\"jobcell-orchestrator\"", *aud = "\"jobcell-runtime\"", *sc = "\"runtime\"";
    struct {
        long long iat, nbf, exp;
        jc_jwt_reason want;
    } cases[] = {
        {NOW - 700, NOW - 700, NOW - 100, JC_JWT_EXPIRED},
        {NOW - 700, NOW - 700, NOW, JC_JWT_EXPIRED}, /* now == exp: expired, no leeway */
        {NOW - 700, NOW - 700, NOW + 1, JC_JWT_OK},
        {NOW, NOW + 31, NOW + 600, JC_JWT_NOT_YET_VALID},
        {NOW, NOW + 30, NOW + 600, JC_JWT_OK}, /* within the 30 s leeway */
        {NOW + 31, NOW, NOW + 600, JC_JWT_IAT_FUTURE},
        {NOW + 30, NOW, NOW + 600, JC_JWT_OK},
        {NOW, NOW, NOW + 7201, JC_JWT_BAD_LIFETIME},
        {NOW, NOW, NOW + 7200, JC_JWT_OK},
        {NOW, NOW, NOW, JC_JWT_BAD_LIFETIME},
        {-9223372036854775807LL, NOW, NOW + 10, JC_JWT_BAD_LIFETIME}, /* overflow */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *p = payload_with(iss, aud, sc, "", cases[i].iat, cases[i].nbf, cases[i].exp);
        char *t = make_token(good_header, p, key1);
        jc_jwt_reason got = JC_JWT_OK;
        int r = jc_jwt_verify(ring, t, strlen(t), NOW, NULL, &got, NULL);
        if ((cases[i].want == JC_JWT_OK) != (r == 0) || (r != 0 && got != cases[i].want))
            fail_msg("case %zu: want %s got %s", i, jc_jwt_reason_name(cases[i].want),
                     jc_jwt_reason_name(got));
        free(t);
        free(p);
    }
}

static void test_size_limit(void **state) {
    (void)state;
    char *t = malloc(JC_JWT_MAX_LEN + 2);
    memset(t, 'A', JC_JWT_MAX_LEN + 1);
    t[10] = '.';
    t[20] = '.';
    t[JC_JWT_MAX_LEN + 1] = '\0';
    expect(t, JC_JWT_TOO_LONG); /* 8193 bytes */
    t[JC_JWT_MAX_LEN] = '\0';   /* 8192 bytes: inclusive limit, so parsing goes on */
    jc_jwt_reason got;
    assert_int_equal(jc_jwt_verify(ring, t, strlen(t), NOW, NULL, &got, NULL), -1);
    assert_int_not_equal(got, JC_JWT_TOO_LONG);
    free(t);
}

static void test_nul_bytes_inside(void **state) {
    (void)state;
    char *p = good_payload();
    char *t = make_token(good_header, p, key1);
    size_t n = strlen(t);
    t[5] = '\0';
    jc_jwt_reason got;
    assert_int_equal(jc_jwt_verify(ring, t, n, NOW, NULL, &got, NULL), -1);
    assert_int_equal(got, JC_JWT_MALFORMED);
    free(t);
    free(p);
}

static void test_crit_rejected(void **state) {
    (void)state;
    char *p = good_payload();
    expect_built("{\"alg\":\"HS256\",\"kid\":\"k1\",\"crit\":[]}", p, key1, JC_JWT_CRIT);
    expect_built("{\"alg\":\"HS256\",\"kid\":\"k1\",\"crit\":[\"exp\"],\"exp\":1}", p, key1,
                 JC_JWT_CRIT);
    free(p);
}

static void test_unknown_claims_ignored(void **state) {
    (void)state;
    char *p = payload_with("\"jobcell-orchestrator\"", "\"jobcell-runtime\"", "\"runtime\"",
                           ",\"extra\":{\"x\":1}", NOW, NOW, NOW + 600);
    expect_built("{\"alg\":\"HS256\",\"kid\":\"k1\",\"x5u\":\"http://example.invalid\"}", p, key1,
                 JC_JWT_OK);
    free(p);
}

/* ---- key ring ---- */

static void expect_ring_error(const char *json, const char *needle) {
    jc_err err;
    jc_err_clear(&err);
    jc_jwt_keyring *r = jc_jwt_keyring_parse(json, strlen(json), "t", &err);
    assert_null(r);
    assert_int_equal(err.code, JC_E_CONFIG);
    if (!strstr(err.msg, needle))
        fail_msg("'%s' does not mention '%s'", err.msg, needle);
}

static void test_keyring_errors(void **state) {
    (void)state;
    char *k = jc_b64url_encode(key1, 32, NULL);
    char *shortk = jc_b64url_encode(key1, 31, NULL);
    char json[512];
    snprintf(json, sizeof(json), "{\"active\":\"k3\",\"keys\":{\"k1\":\"%s\"}}", k);
    expect_ring_error(json, "'k3' is not in keys");
    snprintf(json, sizeof(json), "{\"active\":\"k1\",\"keys\":{\"k1\":\"%s\"}}", shortk);
    expect_ring_error(json, "'k1' is 31 bytes");
    snprintf(json, sizeof(json), "{\"active\":\"k1\",\"keys\":{\"k1\":\"%s=\"}}", k);
    expect_ring_error(json, "'k1' is padded");
    snprintf(json, sizeof(json), "{\"active\":\"k1\",\"keys\":{\"k1\":\"%s\"},\"x\":1}", k);
    expect_ring_error(json, "unknown key 'x'");
    expect_ring_error("{\"active\":\"k1\",\"keys\":{}}", "at least one key");
    expect_ring_error("[]", "not a JSON object");
    snprintf(json, sizeof(json), "{\"active\":\"k 1\",\"keys\":{\"k 1\":\"%s\"}}", k);
    expect_ring_error(json, "kid 'k 1'");
    free(k);
    free(shortk);
}

static void test_keyring_file_mode(void **state) {
    (void)state;
    char path[] = "/tmp/jc-ring-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, ring_json, strlen(ring_json)), (ssize_t)strlen(ring_json));
    close(fd);
    chmod(path, 0644);
    jc_err err;
    assert_null(jc_jwt_keyring_load(path, &err));
    assert_int_equal(err.code, JC_E_CONFIG);
    assert_non_null(strstr(err.msg, "chmod 600"));
    chmod(path, 0600);
    jc_jwt_keyring *r = jc_jwt_keyring_load(path, &err);
    assert_non_null(r);
    assert_int_equal(jc_jwt_keyring_size(r), 2);
    jc_jwt_keyring_free(r);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a1),
        cmocka_unit_test(test_sign_verify_roundtrip),
        cmocka_unit_test(test_lifetime_capped_at_two_hours),
        cmocka_unit_test(test_rotation_old_kid_still_verifies),
        cmocka_unit_test(test_good_handmade_token_accepted),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_alg_hs384),
        cmocka_unit_test(test_alg_rs256_with_hmac_key),
        cmocka_unit_test(test_alg_lowercase),
        cmocka_unit_test(test_kid_missing_or_unknown),
        cmocka_unit_test(test_signature_of_another_key),
        cmocka_unit_test(test_truncated_signature),
        cmocka_unit_test(test_part_counts),
        cmocka_unit_test(test_empty_parts),
        cmocka_unit_test(test_padding_rejected),
        cmocka_unit_test(test_invalid_characters),
        cmocka_unit_test(test_nonzero_trailing_bits),
        cmocka_unit_test(test_length_one_mod_four),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_header_not_object),
        cmocka_unit_test(test_payload_not_object),
        cmocka_unit_test(test_nul_escape_in_claim),
        cmocka_unit_test(test_wrong_iss_aud_scope),
        cmocka_unit_test(test_missing_claims),
        cmocka_unit_test(test_claim_types),
        cmocka_unit_test(test_sub_must_match_job),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_nul_bytes_inside),
        cmocka_unit_test(test_crit_rejected),
        cmocka_unit_test(test_unknown_claims_ignored),
        cmocka_unit_test(test_keyring_errors),
        cmocka_unit_test(test_keyring_file_mode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
