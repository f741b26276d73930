#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "jobcell/auth.h"

static const char key[] = "0123456789abcdef0123456789abcdef"; /* 32 bytes */

static void test_equal(void **state) {
    (void)state;
    assert_true(jc_auth_equal(key, 32, key, 32));
}

static void test_wrong_length(void **state) {
    (void)state;
    assert_false(jc_auth_equal(key, 31, key, 32));
    char longer[40];
    memcpy(longer, key, 32);
    memcpy(longer + 32, "extra!!!", 8);
    assert_false(jc_auth_equal(longer, 40, key, 32)); /* a prefix match is no match */
}

static void test_one_byte_off(void **state) {
    (void)state;
    for (size_t i = 0; i < 32; i++) {
        char k[32];
        memcpy(k, key, 32);
        k[i] ^= 0x01;
        assert_false(jc_auth_equal(k, 32, key, 32));
    }
}

static void test_empty_never_matches(void **state) {
    (void)state;
    assert_false(jc_auth_equal("", 0, "", 0));
    assert_false(jc_auth_equal(NULL, 0, NULL, 0));
}

static void test_secret_config(void **state) {
    (void)state;
    jc_err err;
    assert_int_equal(jc_auth_secret_check("internal_key", 32, &err), 1);
    assert_int_equal(jc_auth_secret_check("internal_key", 0, &err), 0); /* disabled */
    assert_int_equal(jc_auth_secret_check("internal_key", 31, &err), -1);
    assert_int_equal(err.code, JC_E_CONFIG);
    assert_string_equal(err.field, "internal_key");
    assert_non_null(strstr(err.msg, "31 bytes"));
}

static void test_parse_bearer(void **state) {
    (void)state;
    const char *t;
    size_t n;
    assert_int_equal(jc_auth_parse_bearer("Bearer abc.def", &t, &n), 0);
    assert_int_equal(n, 7);
    assert_memory_equal(t, "abc.def", 7);
    assert_int_equal(jc_auth_parse_bearer("bearer   xyz", &t, &n), 0);
    assert_memory_equal(t, "xyz", 3);
    assert_int_equal(jc_auth_parse_bearer("BEARER xyz  ", &t, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(jc_auth_parse_bearer("Bearer ", &t, &n), -1);
    assert_int_equal(jc_auth_parse_bearer("Bearer", &t, &n), -1);
    assert_int_equal(jc_auth_parse_bearer("Basic abc", &t, &n), -1);
    assert_int_equal(jc_auth_parse_bearer("Bearerabc", &t, &n), -1);
    assert_int_equal(jc_auth_parse_bearer("Bearer a b", &t, &n), -1);
    assert_int_equal(jc_auth_parse_bearer(NULL, &t, &n), -1);
}

static void test_sha256_hex(void **state) {
    (void)state;
    char out[65];
    jc_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal),         cmocka_unit_test(test_wrong_length),
        cmocka_unit_test(test_one_byte_off),  cmocka_unit_test(test_empty_never_matches),
        cmocka_unit_test(test_secret_config), cmocka_unit_test(test_parse_bearer),
        cmocka_unit_test(test_sha256_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
