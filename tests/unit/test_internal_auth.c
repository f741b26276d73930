/* Unit tests of runtime-api/internal_auth.c: the replay cache (first sight, replay,
 * expiry, fail closed when full) and the per-address failure limit (block after N,
 * Retry-After seconds, end of the block, IPv6 by /64, off when 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal_auth.h"

/* A signature text whose first 8 bytes (the cache's hash) are fixed and the rest is n. */
static void sig_with(char out[65], unsigned n) {
    snprintf(out, 65, "00000000000000000000000000000000000000000000000000000000%08x", n);
}

static void test_replay(void **state) {
    (void)state;
    jc_replay_cache *c = jc_replay_cache_new(1024);
    assert_non_null(c);
    char a[65], b[65];
    sig_with(a, 1);
    sig_with(b, 2);
    assert_int_equal(jc_replay_cache_check(c, a, 1300, 1000), 0);
    assert_int_equal(jc_replay_cache_check(c, a, 1300, 1000), 1); /* a replay */
    assert_int_equal(jc_replay_cache_check(c, a, 1300, 1300), 1); /* still inside */
    assert_int_equal(jc_replay_cache_check(c, b, 1300, 1000), 0);
    /* once its timestamp has left the window the slot may be reused */
    assert_int_equal(jc_replay_cache_check(c, a, 1601, 1301), 0);
    jc_replay_cache_free(c);
}

static void test_replay_full_fails_closed(void **state) {
    (void)state;
    jc_replay_cache *c = jc_replay_cache_new(1024);
    char s[65];
    /* every signature lands in the same slot: the probe window fills, then refuses */
    unsigned accepted = 0;
    int rc = 0;
    for (unsigned i = 0; i < 100 && rc == 0; i++) {
        sig_with(s, i);
        rc = jc_replay_cache_check(c, s, 2000, 1000);
        if (rc == 0)
            accepted++;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(accepted, 32);
    /* the recorded ones are still known as replays */
    sig_with(s, 0);
    assert_int_equal(jc_replay_cache_check(c, s, 2000, 1000), 1);
    /* when they expire there is room again */
    sig_with(s, 500);
    assert_int_equal(jc_replay_cache_check(c, s, 3000, 2001), 0);
    jc_replay_cache_free(c);
}

static void test_addr_limit(void **state) {
    (void)state;
    assert_null(jc_addr_limit_new(64, 0, 60)); /* 0: off */
    assert_int_equal(jc_addr_limit_blocked(NULL, "10.0.0.1", 0), 0);
    assert_false(jc_addr_limit_fail(NULL, "10.0.0.1", 0));
    jc_addr_limit *l = jc_addr_limit_new(64, 3, 60);
    assert_non_null(l);
    int64_t t = 1000000;
    assert_false(jc_addr_limit_fail(l, "10.0.0.1", t));
    assert_false(jc_addr_limit_fail(l, "10.0.0.1", t + 10));
    assert_int_equal(jc_addr_limit_blocked(l, "10.0.0.1", t + 20), 0);
    assert_true(jc_addr_limit_fail(l, "10.0.0.1", t + 20)); /* the third starts a block */
    assert_int_equal(jc_addr_limit_blocked(l, "10.0.0.1", t + 20), 60);
    assert_int_equal(jc_addr_limit_blocked(l, "10.0.0.1", t + 59500), 1);
    assert_int_equal(jc_addr_limit_blocked(l, "10.0.0.2", t + 20), 0); /* only that address */
    assert_int_equal(jc_addr_limit_blocked(l, "10.0.0.1", t + 60020), 0);
    /* failures spread over more than a minute never block */
    for (int i = 0; i < 10; i++)
        assert_false(jc_addr_limit_fail(l, "10.0.0.3", t + (int64_t)i * 31000));
    /* IPv6: one /64 counts as one address */
    assert_false(jc_addr_limit_fail(l, "2001:db8:1:2::1", t));
    assert_false(jc_addr_limit_fail(l, "2001:db8:1:2::abcd", t));
    assert_true(jc_addr_limit_fail(l, "2001:db8:1:2:ffff::9", t));
    assert_int_equal(jc_addr_limit_blocked(l, "2001:db8:1:2::77", t + 1), 60);
    assert_int_equal(jc_addr_limit_blocked(l, "2001:db8:1:3::1", t + 1), 0);
    jc_addr_limit_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_replay_full_fails_closed),
        cmocka_unit_test(test_addr_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
