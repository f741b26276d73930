/* Unit tests of lib/seal.c: AES-256-GCM sealing of secrets at rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/b64url.h"
#include "jobcell/seal.h"

/* k1 = 32 bytes 0x01..0x20, k2 = 32 bytes 0x41..0x60 */
#define K1 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"
#define K2 "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2A"

static jc_master_ring *parse(const char *json) {
    jc_err err;
    jc_master_ring *r = jc_master_ring_parse(json, strlen(json), "test", &err);
    return r;
}

static jc_master_ring *ring_k1(void) {
    return parse("{\"active\":\"k1\",\"keys\":{\"k1\":\"" K1 "\"}}");
}

static void assert_no_open(const jc_master_ring *r, const char *kind, const char *owner,
                           const char *id, const char *sealed) {
    unsigned char *pt = (unsigned char *)"sentinel";
    size_t len = 99;
    jc_err err;
    assert_int_equal(jc_unseal(r, kind, owner, id, sealed, &pt, &len, &err), -1);
    assert_int_equal(err.code, JC_E_AUTH);
    assert_string_equal(err.msg, "sealed value does not open (wrong key or altered)");
    assert_null(pt);
    assert_int_equal(len, 0);
}

static void test_round_trip(void **state) {
    (void)state;
    jc_master_ring *r = ring_k1();
    assert_non_null(r);
    assert_string_equal(jc_master_ring_active(r), "k1");
    const char *secret = "{\"API_KEY\":\"hunter2\"}";
    char *sealed = NULL;
    jc_err err;
    assert_int_equal(
        jc_seal(r, "job_secrets", "alice", "job_abc", secret, strlen(secret), &sealed, &err), 0);
    assert_non_null(sealed);
    assert_memory_equal(sealed, "v1.k1.", 6);
    assert_null(strstr(sealed, "hunter2"));
    /* nonce 12 bytes = 16 chars; ciphertext+tag = 21+16 = 37 bytes = 50 chars */
    assert_int_equal(strlen(sealed), 6 + 16 + 1 + 50);
    char kid[65];
    assert_int_equal(jc_sealed_kid(sealed, kid, sizeof(kid)), 0);
    assert_string_equal(kid, "k1");
    unsigned char *pt = NULL;
    size_t len = 0;
    assert_int_equal(jc_unseal(r, "job_secrets", "alice", "job_abc", sealed, &pt, &len, &err), 0);
    assert_int_equal(len, strlen(secret));
    assert_memory_equal(pt, secret, len);
    assert_int_equal(pt[len], '\0');
    OPENSSL_cleanse(pt, len);
    free(pt);

    /* Two seals of the same value differ (random nonce). */
    char *again = NULL;
    assert_int_equal(
        jc_seal(r, "job_secrets", "alice", "job_abc", secret, strlen(secret), &again, &err), 0);
    assert_string_not_equal(sealed, again);

    /* Empty plaintext round-trips too. */
    char *empty = NULL;
    assert_int_equal(jc_seal(r, "k", "", "", "", 0, &empty, &err), 0);
    assert_int_equal(jc_unseal(r, "k", "", "", empty, &pt, &len, &err), 0);
    assert_int_equal(len, 0);
    free(pt);
    free(empty);
    free(again);
    free(sealed);
    jc_master_ring_free(r);
}

static void test_aad_mismatch(void **state) {
    (void)state;
    jc_master_ring *r = ring_k1();
    char *sealed = NULL;
    assert_int_equal(jc_seal(r, "job_secrets", "alice", "job_abc", "v", 1, &sealed, NULL), 0);
    assert_no_open(r, "job_secrets", "alice", "job_abd", sealed);         /* other row */
    assert_no_open(r, "orchestrator_secret", "alice", "job_abc", sealed); /* other kind */
    assert_no_open(r, "job_secrets", "mallory", "job_abc", sealed);       /* other owner */
    /* Length-prefixed parts: shifting a byte between fields does not keep the AAD. */
    assert_no_open(r, "job_secrets", "alicej", "ob_abc", sealed);
    assert_no_open(r, "job_secretsa", "lice", "job_abc", sealed);
    free(sealed);
    jc_master_ring_free(r);
}

/* Flip one bit of the decoded ciphertext||tag at byte `at` (from the end when negative). */
static char *tamper(const char *sealed, long at) {
    const char *last = strrchr(sealed, '.') + 1;
    size_t n = 0;
    unsigned char *raw = jc_b64url_decode(last, strlen(last), &n, NULL);
    assert_non_null(raw);
    size_t i = at < 0 ? n - (size_t)(-at) : (size_t)at;
    raw[i] ^= 0x01;
    char *b = jc_b64url_encode(raw, n, NULL);
    size_t prefix = (size_t)(last - sealed);
    char *out = malloc(prefix + strlen(b) + 1);
    memcpy(out, sealed, prefix);
    strcpy(out + prefix, b);
    free(raw);
    free(b);
    return out;
}

static void test_tampered(void **state) {
    (void)state;
    jc_master_ring *r = ring_k1();
    char *sealed = NULL;
    assert_int_equal(jc_seal(r, "kind", "o", "id", "0123456789", 10, &sealed, NULL), 0);
    char *bad_tag = tamper(sealed, -1);
    assert_no_open(r, "kind", "o", "id", bad_tag);
    char *bad_ct = tamper(sealed, 0);
    assert_no_open(r, "kind", "o", "id", bad_ct);
    /* A changed nonce. */
    char *bad_nonce = strdup(sealed);
    bad_nonce[6] = bad_nonce[6] == 'A' ? 'B' : 'A';
    assert_no_open(r, "kind", "o", "id", bad_nonce);
    /* Truncated tag. */
    char *trunc = strdup(sealed);
    trunc[strlen(trunc) - 4] = '\0';
    assert_no_open(r, "kind", "o", "id", trunc);
    free(trunc);
    free(bad_nonce);
    free(bad_ct);
    free(bad_tag);
    free(sealed);
    jc_master_ring_free(r);
}

static void test_wrong_and_unknown_kid(void **state) {
    (void)state;
    jc_master_ring *r1 = ring_k1();
    /* A ring where "k1" names another key: the kid matches but the key does not. */
    jc_master_ring *other = parse("{\"active\":\"k1\",\"keys\":{\"k1\":\"" K2 "\"}}");
    jc_master_ring *only2 = parse("{\"active\":\"k2\",\"keys\":{\"k2\":\"" K2 "\"}}");
    assert_non_null(other);
    assert_non_null(only2);
    char *sealed = NULL;
    assert_int_equal(jc_seal(r1, "kind", "o", "id", "secret", 6, &sealed, NULL), 0);
    assert_no_open(other, "kind", "o", "id", sealed);
    assert_no_open(only2, "kind", "o", "id", sealed);
    /* Relabelling the kid in the text breaks the AAD even when the ring has both keys. */
    jc_master_ring *both =
        parse("{\"active\":\"k2\",\"keys\":{\"k1\":\"" K1 "\",\"k2\":\"" K1 "\"}}");
    assert_non_null(both);
    char *relabel = strdup(sealed);
    relabel[4] = '2';
    assert_no_open(both, "kind", "o", "id", relabel);
    unsigned char *pt = NULL;
    size_t len = 0;
    assert_int_equal(jc_unseal(both, "kind", "o", "id", sealed, &pt, &len, NULL), 0);
    assert_memory_equal(pt, "secret", 6);
    free(pt);
    free(relabel);
    free(sealed);
    jc_master_ring_free(both);
    jc_master_ring_free(only2);
    jc_master_ring_free(other);
    jc_master_ring_free(r1);
}

static void test_rotation(void **state) {
    (void)state;
    jc_master_ring *r1 = ring_k1();
    jc_master_ring *r2 =
        parse("{\"active\":\"k2\",\"keys\":{\"k1\":\"" K1 "\",\"k2\":\"" K2 "\"}}");
    char *old = NULL, *fresh = NULL;
    assert_int_equal(jc_seal(r1, "kind", "o", "id", "abc", 3, &old, NULL), 0);
    assert_int_equal(jc_seal(r2, "kind", "o", "id", "abc", 3, &fresh, NULL), 0);
    char kid[8];
    assert_int_equal(jc_sealed_kid(fresh, kid, sizeof(kid)), 0);
    assert_string_equal(kid, "k2");
    assert_int_equal(jc_master_ring_has(r2, "k1"), 1);
    assert_int_equal(jc_master_ring_has(r1, "k2"), 0);
    unsigned char *pt = NULL;
    size_t len = 0;
    assert_int_equal(jc_unseal(r2, "kind", "o", "id", old, &pt, &len, NULL), 0);
    assert_memory_equal(pt, "abc", 3);
    free(pt);
    assert_no_open(r1, "kind", "o", "id", fresh);
    /* kid buffer too small */
    char tiny[2];
    assert_int_equal(jc_sealed_kid(fresh, tiny, sizeof(tiny)), -1);
    free(old);
    free(fresh);
    jc_master_ring_free(r2);
    jc_master_ring_free(r1);
}

static void test_malformed(void **state) {
    (void)state;
    jc_master_ring *r = ring_k1();
    const char *bad[] = {
        "",
        "v1",
        "v1.",
        "v1.k1",
        "v1.k1.",
        "v1.k1..",
        "v2.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "v1.k1.AAAAAAAAAAAAAAAA.AAAA",                  /* shorter than a tag */
        "v1.k1.AAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", /* nonce 11 bytes */
        "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.x",
        "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAA=",
        "v1.k.1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "v1..AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", /* well formed, wrong tag */
        "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAA AAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_no_open(r, "kind", "o", "id", bad[i]);
    char kid[65];
    assert_int_equal(jc_sealed_kid("v1..x.y", kid, sizeof(kid)), -1);
    assert_int_equal(jc_sealed_kid("nope", kid, sizeof(kid)), -1);
    jc_master_ring_free(r);
}

static void test_ring_parse_errors(void **state) {
    (void)state;
    const char *bad[] = {
        "[]",
        "{\"active\":\"k1\"}",
        "{\"active\":\"k1\",\"keys\":{}}",
        "{\"active\":\"k9\",\"keys\":{\"k1\":\"" K1 "\"}}",
        "{\"active\":\"k1\",\"keys\":{\"k1\":\"AQID\"}}",     /* 3 bytes */
        "{\"active\":\"k1\",\"keys\":{\"k1\":\"" K1 "AQ\"}}", /* 33 bytes */
        "{\"active\":\"k.1\",\"keys\":{\"k.1\":\"" K1 "\"}}", /* '.' in kid */
        "{\"active\":\"k1\",\"keys\":{\"k1\":\"" K1 "\"},\"x\":1}",
        "{\"active\":\"k1\",\"keys\":{\"k1\":\"" K1 "\",\"k1\":\"" K1 "\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        jc_err err;
        jc_master_ring *r = jc_master_ring_parse(bad[i], strlen(bad[i]), "t", &err);
        assert_null(r);
        assert_int_equal(err.code, JC_E_CONFIG);
        assert_null(strstr(err.msg, K1)); /* a key never appears in a message */
    }
}

static void test_load_mode_and_new(void **state) {
    (void)state;
    char dir[] = "/tmp/jc-seal-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/master.json", dir);
    jc_err err;
    char *json = jc_master_ring_new_json("m1", &err);
    assert_non_null(json);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0640), 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    jc_master_ring *r = jc_master_ring_load(path, &err);
    assert_null(r);
    assert_int_equal(err.code, JC_E_CONFIG);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(chmod(path, 0600), 0);
    r = jc_master_ring_load(path, &err);
    assert_non_null(r);
    assert_string_equal(jc_master_ring_active(r), "m1");
    char *s = NULL;
    assert_int_equal(jc_seal(r, "a", "b", "c", "x", 1, &s, &err), 0);
    assert_memory_equal(s, "v1.m1.", 6);
    free(s);
    jc_master_ring_free(r);
    assert_null(jc_master_ring_new_json("bad.kid", &err));
    assert_int_equal(err.code, JC_E_INVALID);
    free(json);
    unlink(path);
    rmdir(dir);
}

static void test_too_large(void **state) {
    (void)state;
    jc_master_ring *r = ring_k1();
    size_t n = JC_SEAL_MAX_PLAINTEXT + 1;
    char *big = calloc(1, n);
    char *s = NULL;
    jc_err err;
    assert_int_equal(jc_seal(r, "a", "b", "c", big, n, &s, &err), -1);
    assert_int_equal(err.code, JC_E_TOO_LARGE);
    assert_null(s);
    free(big);
    jc_master_ring_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_aad_mismatch),
        cmocka_unit_test(test_tampered),          cmocka_unit_test(test_wrong_and_unknown_kid),
        cmocka_unit_test(test_rotation),          cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_ring_parse_errors), cmocka_unit_test(test_load_mode_and_new),
        cmocka_unit_test(test_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
