/* Known-answer tests of lib/hmac_sig.c.
 *
 * The expected signatures were computed independently of this code with the OpenSSL
 * command line (and cross-checked with Python's hmac module):
 *
 *   KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
 *   BH=$(printf '%s' '{"slots":1,"wait_s":0}' | openssl dgst -sha256 -r | cut -d' ' -f1)
 *   printf 'POST\n/internal/v1/claims\nhost-a\n1700000000\n%s' "$BH" |
 *       openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY -r
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobcell/hmac_sig.h"

static const char key_hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char claims_body[] = "{\"slots\":1,\"wait_s\":0}";
static const char claims_sig[] = "b7270c25ec3f11dd03d533b4770697e2913b706fe7651fbf915cfb1a350f1c14";
static const char logs_sig[] = "931903279493512c7be0cef090ed47e498be6952f9ea79540a64765042efbfdb";
static const char empty_sig[] = "7516bfb486adc37dfa4f5cf3d14147d50fc68da9904816998448722d71a51bf7";

static void key(unsigned char k[32]) {
    jc_err err;
    assert_int_equal(jc_hmac_secret_parse(key_hex, strlen(key_hex), k, &err), 0);
}

static void test_canonical(void **state) {
    (void)state;
    size_t len;
    char *c = jc_hmac_canonical("POST", "/internal/v1/claims", "host-a", "1700000000", claims_body,
                                strlen(claims_body), &len);
    assert_non_null(c);
    assert_string_equal(c, "POST\n/internal/v1/claims\nhost-a\n1700000000\n"
                           "cc08e71f743cd59aee1c5eadb02d5f7b153d64fe0ea6674e9c4f4603935baf3a");
    assert_int_equal(len, strlen(c));
    free(c);
    /* a newline in a field is refused: it could make two requests sign alike */
    assert_null(jc_hmac_canonical("POST", "/a\nb", "h", "1", "", 0, &len));
    assert_null(jc_hmac_canonical("POST", "/a", NULL, "1", "", 0, &len));
}

static void test_known_answers(void **state) {
    (void)state;
    unsigned char k[32];
    key(k);
    char sig[65];
    jc_err err;
    assert_int_equal(jc_hmac_sign(k, 32, "POST", "/internal/v1/claims", "host-a", "1700000000",
                                  claims_body, strlen(claims_body), sig, &err),
                     0);
    assert_string_equal(sig, claims_sig);
    assert_int_equal(jc_hmac_sign(k, 32, "PUT", "/internal/v1/executions/exe_abc/logs?offset=10",
                                  "host-a", "1700000000", "hello\n", 6, sig, &err),
                     0);
    assert_string_equal(sig, logs_sig);
    unsigned char ff[32];
    memset(ff, 0xff, sizeof(ff));
    assert_int_equal(jc_hmac_sign(ff, 32, "GET", "/internal/v1/x", "h", "0", NULL, 0, sig, &err),
                     0);
    assert_string_equal(sig, empty_sig);
}

static void test_verify(void **state) {
    (void)state;
    unsigned char k[32];
    key(k);
    jc_err err;
    const char *b = claims_body;
    size_t n = strlen(b);
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claims", "host-a", "1700000000", b,
                                    n, claims_sig, &err),
                     0);
    /* each part of the request is covered */
    assert_int_equal(jc_hmac_verify(k, 32, "PUT", "/internal/v1/claims", "host-a", "1700000000", b,
                                    n, claims_sig, &err),
                     -1);
    assert_int_equal(err.code, JC_E_AUTH);
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claimz", "host-a", "1700000000", b,
                                    n, claims_sig, &err),
                     -1);
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claims?x=1", "host-a",
                                    "1700000000", b, n, claims_sig, &err),
                     -1);
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claims", "host-b", "1700000000", b,
                                    n, claims_sig, &err),
                     -1);
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claims", "host-a", "1700000001", b,
                                    n, claims_sig, &err),
                     -1);
    char body2[sizeof(claims_body)];
    memcpy(body2, claims_body, sizeof(body2));
    body2[10] ^= 1; /* one byte of the body */
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claims", "host-a", "1700000000",
                                    body2, n, claims_sig, &err),
                     -1);
    /* another key */
    unsigned char k2[32];
    memcpy(k2, k, 32);
    k2[31] ^= 0x80;
    assert_int_equal(jc_hmac_verify(k2, 32, "POST", "/internal/v1/claims", "host-a", "1700000000",
                                    b, n, claims_sig, &err),
                     -1);
    /* the text form is strict: upper case, short, long or empty are refused */
    char upper[65];
    for (size_t i = 0; i < 65; i++)
        upper[i] = (char)(claims_sig[i] >= 'a' && claims_sig[i] <= 'f' ? claims_sig[i] - 32
                                                                       : claims_sig[i]);
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claims", "host-a", "1700000000", b,
                                    n, upper, &err),
                     -1);
    char shortsig[65];
    memcpy(shortsig, claims_sig, 63);
    shortsig[63] = '\0';
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claims", "host-a", "1700000000", b,
                                    n, shortsig, &err),
                     -1);
    char longsig[70];
    snprintf(longsig, sizeof(longsig), "%s0", claims_sig);
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claims", "host-a", "1700000000", b,
                                    n, longsig, &err),
                     -1);
    assert_int_equal(jc_hmac_verify(k, 32, "POST", "/internal/v1/claims", "host-a", "1700000000", b,
                                    n, "", &err),
                     -1);
}

static void test_secret_text(void **state) {
    (void)state;
    unsigned char k[32];
    jc_err err;
    key(k);
    for (int i = 0; i < 32; i++)
        assert_int_equal(k[i], i);
    char text[65];
    jc_hmac_secret_format(k, text);
    assert_string_equal(text, key_hex);
    char upper[] = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
    assert_int_equal(jc_hmac_secret_parse(upper, 64, k, &err), 0);
    assert_int_equal(k[10], 10);
    assert_int_equal(jc_hmac_secret_parse(key_hex, 63, k, &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
    char bad[65];
    memcpy(bad, key_hex, 65);
    bad[5] = 'g';
    assert_int_equal(jc_hmac_secret_parse(bad, 64, k, &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
}

static void test_timestamp(void **state) {
    (void)state;
    int64_t v = -1;
    assert_int_equal(jc_hmac_timestamp_parse("1700000000", &v), 0);
    assert_int_equal(v, 1700000000);
    assert_int_equal(jc_hmac_timestamp_parse("0", &v), 0);
    assert_int_equal(v, 0);
    const char *bad[] = {"",    "01700000000",  "+1700000000",  "-1",   " 1", "1 ",
                         "1e9", "17000000000x", "123456789012", "0x10", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(jc_hmac_timestamp_parse(bad[i], &v), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical), cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_verify),    cmocka_unit_test(test_secret_text),
        cmocka_unit_test(test_timestamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
