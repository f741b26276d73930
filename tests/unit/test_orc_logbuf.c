/* Log chunk batching: flush at 64 KiB or 200 ms, one chunk in flight, acks advance the
 * offset, 416 rewinds to the server's length, truncated stops everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "orchestrator/logbuf.h"

static void test_flush_by_age_and_size(void **state) {
    (void)state;
    jc_logbuf lb;
    jc_logbuf_init(&lb);
    assert_false(jc_logbuf_should_flush(&lb, 0, true)); /* nothing to send */
    assert_int_equal(jc_logbuf_append(&lb, "hello", 5, 1000, NULL), 0);
    assert_false(jc_logbuf_should_flush(&lb, 1199, false));
    assert_int_equal(jc_logbuf_flush_in(&lb, 1100), 100);
    assert_true(jc_logbuf_should_flush(&lb, 1200, false));
    assert_true(jc_logbuf_should_flush(&lb, 1000, true)); /* the job ended */
    jc_logbuf_free(&lb);

    jc_logbuf_init(&lb);
    static char big[JC_LOGBUF_FLUSH_BYTES];
    memset(big, 'x', sizeof(big));
    assert_int_equal(jc_logbuf_append(&lb, big, sizeof(big) - 1, 0, NULL), 0);
    assert_false(jc_logbuf_should_flush(&lb, 0, false));
    assert_int_equal(jc_logbuf_append(&lb, big, 1, 0, NULL), 0);
    assert_true(jc_logbuf_should_flush(&lb, 0, false)); /* 64 KiB reached */
    jc_logbuf_free(&lb);
}

static void test_take_ack_offsets(void **state) {
    (void)state;
    jc_logbuf lb;
    jc_logbuf_init(&lb);
    jc_logbuf_append(&lb, "abcdef", 6, 0, NULL);
    const unsigned char *p;
    size_t n;
    uint64_t off;
    jc_logbuf_take(&lb, &p, &n, &off);
    assert_int_equal(n, 6);
    assert_int_equal(off, 0);
    assert_memory_equal(p, "abcdef", 6);
    /* one chunk at a time: more bytes wait for the ack */
    jc_logbuf_append(&lb, "gh", 2, 10, NULL);
    assert_false(jc_logbuf_should_flush(&lb, 1000, true));
    jc_logbuf_ack(&lb, 6, false, 20);
    assert_int_equal(lb.acked, 6);
    assert_true(jc_logbuf_should_flush(&lb, 20, true));
    jc_logbuf_take(&lb, &p, &n, &off);
    assert_int_equal(off, 6);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "gh", 2);
    /* transport failure: the same bytes again */
    jc_logbuf_failed(&lb);
    jc_logbuf_take(&lb, &p, &n, &off);
    assert_int_equal(off, 6);
    assert_memory_equal(p, "gh", 2);
    jc_logbuf_ack(&lb, 8, false, 30);
    assert_true(jc_logbuf_done(&lb));
    assert_int_equal(lb.total, 8);
    jc_logbuf_free(&lb);
}

static void test_partial_ack_and_rewind(void **state) {
    (void)state;
    jc_logbuf lb;
    jc_logbuf_init(&lb);
    jc_logbuf_append(&lb, "0123456789", 10, 0, NULL);
    const unsigned char *p;
    size_t n;
    uint64_t off;
    jc_logbuf_take(&lb, &p, &n, &off);
    /* the server stored only 4 (say another copy raced): resend from 4 */
    jc_logbuf_rewind(&lb, 4, 100);
    assert_true(jc_logbuf_should_flush(&lb, 100, false)); /* at once, not after 200 ms */
    jc_logbuf_take(&lb, &p, &n, &off);
    assert_int_equal(off, 4);
    assert_int_equal(n, 6);
    assert_memory_equal(p, "456789", 6);
    jc_logbuf_ack(&lb, 10, false, 200);
    assert_true(jc_logbuf_done(&lb));
    /* a server that lost acknowledged bytes: we cannot fill the hole, so stop */
    jc_logbuf_append(&lb, "z", 1, 300, NULL);
    jc_logbuf_take(&lb, &p, &n, &off);
    jc_logbuf_rewind(&lb, 3, 300);
    assert_true(lb.broken);
    assert_true(jc_logbuf_done(&lb));
    assert_false(jc_logbuf_should_flush(&lb, 10000, true));
    jc_logbuf_free(&lb);
}

static void test_truncated_stops(void **state) {
    (void)state;
    jc_logbuf lb;
    jc_logbuf_init(&lb);
    jc_logbuf_append(&lb, "abc", 3, 0, NULL);
    const unsigned char *p;
    size_t n;
    uint64_t off;
    jc_logbuf_take(&lb, &p, &n, &off);
    jc_logbuf_ack(&lb, 2, true, 10);
    assert_true(lb.truncated);
    assert_int_equal(lb.len, 0);
    jc_logbuf_append(&lb, "more", 4, 20, NULL);
    assert_int_equal(lb.len, 0); /* not kept */
    assert_int_equal(lb.total, 7);
    assert_false(jc_logbuf_should_flush(&lb, 10000, true));
    assert_true(jc_logbuf_done(&lb));
    jc_logbuf_free(&lb);
}

static void test_chunk_max(void **state) {
    (void)state;
    jc_logbuf lb;
    jc_logbuf_init(&lb);
    static char big[JC_LOGBUF_CHUNK_MAX + 100];
    memset(big, 'y', sizeof(big));
    jc_logbuf_append(&lb, big, sizeof(big), 0, NULL);
    const unsigned char *p;
    size_t n;
    uint64_t off;
    jc_logbuf_take(&lb, &p, &n, &off);
    assert_int_equal(n, JC_LOGBUF_CHUNK_MAX);
    jc_logbuf_ack(&lb, JC_LOGBUF_CHUNK_MAX, false, 1);
    jc_logbuf_take(&lb, &p, &n, &off);
    assert_int_equal(off, JC_LOGBUF_CHUNK_MAX);
    assert_int_equal(n, 100);
    jc_logbuf_free(&lb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_by_age_and_size),
        cmocka_unit_test(test_take_ack_offsets),
        cmocka_unit_test(test_partial_ack_and_rewind),
        cmocka_unit_test(test_truncated_stops),
        cmocka_unit_test(test_chunk_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
