#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/b64url.h"

/* RFC 4648 §10 vectors, in the URL-safe alphabet and without padding. */
static void test_rfc4648_vectors(void **state) {
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = jc_b64url_encode(in[i], strlen(in[i]), NULL);
        assert_string_equal(e, out[i]);
        size_t n = 99;
        unsigned char *d = jc_b64url_decode(out[i], strlen(out[i]), &n, NULL);
        assert_non_null(d);
        assert_int_equal(n, strlen(in[i]));
        assert_memory_equal(d, in[i], n);
        free(e);
        free(d);
    }
}

static void test_url_safe_alphabet(void **state) {
    (void)state;
    const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char *e = jc_b64url_encode(bytes, 3, NULL);
    assert_string_equal(e, "-_-_");
    free(e);
}

static void expect_reject(const char *s, const char *why) {
    jc_err err;
    jc_err_clear(&err);
    unsigned char *d = jc_b64url_decode(s, strlen(s), NULL, &err);
    assert_null(d);
    assert_int_equal(err.code, JC_E_INVALID);
    assert_non_null(strstr(err.msg, why));
}

static void test_rejections(void **state) {
    (void)state;
    expect_reject("Zg==", "invalid character");  /* padding */
    expect_reject("Zm9v+", "impossible length"); /* length ≡ 1 mod 4 */
    expect_reject("Zm+v", "invalid character");  /* standard alphabet */
    expect_reject("Zm/v", "invalid character");
    expect_reject("Zm9 ", "invalid character");
    expect_reject("Zh", "trailing bits");  /* "Zg" is 'f'; "Zh" has a stray low bit */
    expect_reject("Zm9", "trailing bits"); /* "Zm8" is "fo" */
}

static void test_embedded_nul_rejected(void **state) {
    (void)state;
    jc_err err;
    unsigned char *d = jc_b64url_decode("Zm\0v", 4, NULL, &err);
    assert_null(d);
    assert_int_equal(err.code, JC_E_INVALID);
}

static void test_roundtrip_all_lengths(void **state) {
    (void)state;
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n < sizeof(buf); n++) {
        char *e = jc_b64url_encode(buf, n, NULL);
        assert_int_equal(strlen(e), jc_b64url_encoded_len(n));
        size_t m = 0;
        unsigned char *d = jc_b64url_decode(e, strlen(e), &m, NULL);
        assert_int_equal(m, n);
        assert_memory_equal(d, buf, n);
        free(e);
        free(d);
    }
}

static void test_encode_buffer_too_small(void **state) {
    (void)state;
    char out[4];
    jc_err err;
    assert_int_equal(jc_b64url_encode_to("foo", 3, out, sizeof(out), &err), -1);
    assert_int_equal(err.code, JC_E_INTERNAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_url_safe_alphabet),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_embedded_nul_rejected),
        cmocka_unit_test(test_roundtrip_all_lengths),
        cmocka_unit_test(test_encode_buffer_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
