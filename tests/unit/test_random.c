#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "jobcell/random.h"

static void test_ids(void **state) {
    (void)state;
    char a[JC_ID_MAX], b[JC_ID_MAX];
    assert_int_equal(jc_random_id("exe_", a, sizeof(a), NULL), 0);
    assert_int_equal(jc_random_id("exe_", b, sizeof(b), NULL), 0);
    assert_int_equal(strlen(a), 30);
    assert_true(jc_id_valid(a, "exe_", 26));
    assert_string_not_equal(a, b);
    assert_false(jc_id_valid(a, "job_", 26));
    a[10] = 'A'; /* upper case is outside the alphabet */
    assert_false(jc_id_valid(a, "exe_", 26));
    assert_false(jc_id_valid("exe_short", "exe_", 26));
}

static void test_all_symbols_appear(void **state) {
    (void)state;
    /* Every base32 symbol shows up over enough ids: no bias to a subset. */
    int seen[256] = {0};
    for (int i = 0; i < 200; i++) {
        char id[JC_ID_MAX];
        jc_random_id("job_", id, sizeof(id), NULL);
        for (const char *p = id + 4; *p; p++)
            seen[(unsigned char)*p]++;
    }
    const char *alpha = "abcdefghijklmnopqrstuvwxyz234567";
    for (const char *p = alpha; *p; p++)
        assert_true(seen[(unsigned char)*p] > 0);
}

static void test_lease_and_api_tokens(void **state) {
    (void)state;
    char lt[JC_LEASE_TOKEN_LEN + 1], tok[JC_API_TOKEN_LEN + 1];
    assert_int_equal(jc_random_lease_token(lt, sizeof(lt), NULL), 0);
    assert_true(jc_id_valid(lt, "lt_", 32));
    assert_int_equal(jc_random_api_token(tok, sizeof(tok), NULL), 0);
    assert_int_equal(strlen(tok), 47);
    assert_memory_equal(tok, "jct_", 4);
    jc_err err;
    char small[10];
    assert_int_equal(jc_random_api_token(small, sizeof(small), &err), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_all_symbols_appear),
        cmocka_unit_test(test_lease_and_api_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
