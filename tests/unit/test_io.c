#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/io.h"

static void test_time_format_parse(void **state) {
    (void)state;
    char buf[32];
    jc_time_format_ms(1795356187123LL, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-22T14:03:07.123Z");
    int64_t ms;
    assert_int_equal(jc_time_parse_ms("2026-11-22T14:03:07.123Z", &ms), 0);
    assert_int_equal(ms, 1795356187123LL);
    assert_int_equal(jc_time_parse_ms("2026-11-22T14:03:07Z", &ms), 0);
    assert_int_equal(ms, 1795356187000LL);
    assert_int_equal(jc_time_parse_ms("2026-11-22 14:03:07Z", &ms), -1);
    assert_int_equal(jc_time_parse_ms("2026-11-22T14:03:07.12Z", &ms), -1);
    assert_int_equal(jc_time_parse_ms("2026-11-22T14:03:07+01:00", &ms), -1);
    assert_int_equal(jc_time_parse_ms("2026-13-22T14:03:07Z", &ms), -1);
    assert_int_equal(jc_time_parse_ms("2026-11-22T14:03:07.123Zjunk", &ms), -1);
    assert_int_equal(jc_time_parse_ms("", &ms), -1);
}

static void test_read_limits_and_atomic_write(void **state) {
    (void)state;
    char dir[] = "/tmp/jc-io-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/f", dir);
    assert_int_equal(jc_write_file_atomic(path, "hello", 5, 0600, NULL), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t n;
    char *s = jc_read_file(path, 100, &n, NULL);
    assert_string_equal(s, "hello");
    assert_int_equal(n, 5);
    free(s);
    jc_err err;
    assert_null(jc_read_file(path, 4, &n, &err));
    assert_int_equal(err.code, JC_E_TOO_LARGE);
    assert_null(jc_read_file("/nonexistent/x", 4, &n, &err));
    assert_int_equal(err.code, JC_E_SYS);
    assert_non_null(strstr(err.msg, "/nonexistent/x"));
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format_parse),
        cmocka_unit_test(test_read_limits_and_atomic_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
