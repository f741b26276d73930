/* Spool: entries survive a reopen byte for byte, come back in finish order, sequence
 * numbers continue after a restart, damaged files are set aside, modes are private. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/io.h"
#include "orchestrator/spool.h"

static char dir[256];

static int setup(void **state) {
    (void)state;
    char tmpl[] = "/tmp/jc-spool-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(dir, sizeof(dir), "%s/spool", tmpl);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void fill(jc_spool_entry *e, const char *exe, const char *log, int code) {
    memset(e, 0, sizeof(*e));
    snprintf(e->execution_id, sizeof(e->execution_id), "%s", exe);
    snprintf(e->lease_token, sizeof(e->lease_token), "lt_abcdefghijklmnopqrstuvwxyz234567");
    e->log_offset = 7;
    e->log_len = strlen(log);
    e->log = malloc(16);
    memcpy(e->log, log, e->log_len + 1 < 16 ? e->log_len + 1 : 16);
    e->result = json_pack("{s:s, s:i}", "reason", "exited", "exit_code", code);
}

static void test_roundtrip_order(void **state) {
    (void)state;
    jc_spool sp;
    jc_err err = {0};
    assert_int_equal(jc_spool_open(&sp, dir, true, &err), 0);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    jc_spool_entry a, b;
    fill(&a, "exe_aaaaaaaaaaaaaaaaaaaaaaaaaa", "first\n", 1);
    memcpy(a.log, "first\n\0binary", 13);
    a.log_len = 13; /* embedded NUL kept */
    fill(&b, "exe_bbbbbbbbbbbbbbbbbbbbbbbbbb", "", 0);
    assert_int_equal(jc_spool_write(&sp, &a, &err), 0);
    assert_int_equal(jc_spool_write(&sp, &b, &err), 0);
    assert_true(a.seq < b.seq);
    assert_int_equal(jc_spool_count(&sp), 2);
    jc_spool_close(&sp);

    /* a restart: new sequence numbers continue after the old ones */
    assert_int_equal(jc_spool_open(&sp, dir, true, &err), 0);
    assert_true(sp.next_seq > b.seq);
    jc_spool_entry *v;
    size_t n;
    assert_int_equal(jc_spool_load(&sp, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].execution_id, a.execution_id);
    assert_string_equal(v[1].execution_id, b.execution_id);
    assert_int_equal(v[0].log_len, 13);
    assert_memory_equal(v[0].log, "first\n\0binary", 13);
    assert_int_equal(v[0].log_offset, 7);
    assert_string_equal(v[0].lease_token, "lt_abcdefghijklmnopqrstuvwxyz234567");
    assert_int_equal(json_integer_value(json_object_get(v[0].result, "exit_code")), 1);
    assert_int_equal(v[1].log_len, 0);

    assert_int_equal(jc_spool_remove(&sp, &v[0], &err), 0);
    assert_int_equal(jc_spool_count(&sp), 1);
    jc_spool_entries_free(v, n);
    assert_int_equal(jc_spool_load(&sp, &v, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].execution_id, b.execution_id);
    jc_spool_entries_free(v, n);
    jc_spool_entry_clear(&a);
    jc_spool_entry_clear(&b);
    jc_spool_close(&sp);
}

static void test_damaged_set_aside(void **state) {
    (void)state;
    jc_spool sp;
    jc_err err = {0};
    assert_int_equal(jc_spool_open(&sp, dir, false, &err), 0);
    jc_spool_entry a;
    fill(&a, "exe_cccccccccccccccccccccccccc", "log", 0);
    assert_int_equal(jc_spool_write(&sp, &a, &err), 0);
    /* a torn file (header says 3 bytes of log, file has 1) and a hostile header */
    char p1[512], p2[512];
    snprintf(p1, sizeof(p1), "%s/%020llu-exe_dddddddddddddddddddddddddd.spool", dir, 900ULL);
    const char *torn = "{\"v\":1,\"execution_id\":\"exe_dddddddddddddddddddddddddd\","
                       "\"lease_token\":\"lt_x\",\"log_offset\":0,\"log_len\":3,"
                       "\"log_truncated\":false,\"result\":{}}\nx";
    assert_int_equal(jc_write_file_atomic(p1, torn, strlen(torn), 0600, &err), 0);
    snprintf(p2, sizeof(p2), "%s/%020llu-exe_eeeeeeeeeeeeeeeeeeeeeeeeee.spool", dir, 901ULL);
    const char *evil = "{\"v\":1,\"execution_id\":\"../../etc/passwd\",\"lease_token\":\"x\","
                       "\"log_offset\":0,\"log_len\":0,\"log_truncated\":false,\"result\":{}}\n";
    assert_int_equal(jc_write_file_atomic(p2, evil, strlen(evil), 0600, &err), 0);
    jc_spool_entry *v;
    size_t n;
    assert_int_equal(jc_spool_load(&sp, &v, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].execution_id, "exe_cccccccccccccccccccccccccc");
    jc_spool_entries_free(v, n);
    char bad[600];
    snprintf(bad, sizeof(bad), "%s.bad", p1);
    assert_int_equal(access(bad, F_OK), 0);
    assert_int_equal(access(p1, F_OK), -1);
    jc_spool_entry_clear(&a);
    jc_spool_close(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_set_aside, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
