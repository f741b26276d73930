/* Backoff: doubling from the base, capped, jittered into [d/2, d), Retry-After honoured
 * up to the cap, reset on success. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orchestrator/backoff.h"

static void test_doubles_and_caps(void **state) {
    (void)state;
    jc_backoff b;
    jc_backoff_init(&b, 100, 1000);
    /* u = 0.999999: the delay is (almost) the full step */
    int64_t want[] = {99, 199, 399, 799, 999, 999, 999};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(jc_backoff_next(&b, 0.999999, -1), want[i]);
    jc_backoff_reset(&b);
    assert_int_equal(jc_backoff_next(&b, 0.0, -1), 50); /* u = 0: half the step */
    assert_int_equal(jc_backoff_next(&b, 0.0, -1), 100);
}

static void test_jitter_range(void **state) {
    (void)state;
    for (int i = 0; i < 1000; i++) {
        jc_backoff b;
        jc_backoff_init(&b, 200, 30000);
        double u = jc_backoff_uniform();
        assert_true(u >= 0.0 && u < 1.0);
        int64_t d = jc_backoff_next(&b, u, -1);
        assert_true(d >= 100 && d < 200);
    }
}

static void test_retry_after(void **state) {
    (void)state;
    jc_backoff b;
    jc_backoff_init(&b, 100, 10000);
    assert_int_equal(jc_backoff_next(&b, 0.0, 3000), 3000);   /* longer than ours: wins */
    assert_int_equal(jc_backoff_next(&b, 0.0, 10), 100);      /* shorter: ours */
    assert_int_equal(jc_backoff_next(&b, 0.0, 99999), 10000); /* capped */
}

static void test_no_overflow(void **state) {
    (void)state;
    jc_backoff b;
    jc_backoff_init(&b, 1, INT64_MAX / 2);
    for (int i = 0; i < 200; i++)
        assert_true(jc_backoff_next(&b, 0.5, -1) > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_and_caps),
        cmocka_unit_test(test_jitter_range),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_no_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
