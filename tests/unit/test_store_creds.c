/* Unit tests of the orchestrator credentials in the store (store_creds.h) on a temporary
 * SQLite file: add, list, lookup, revoke, rotate with its grace period, and the rewrap
 * helpers (sealed pages, compare-and-set reseal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_creds.h"

typedef struct fixture {
    char dir[64], path[128];
    jc_store *st;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/jc-creds-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
    jc_store_options o = {.path = f->path, .busy_timeout_ms = 2000};
    jc_err err;
    f->st = jc_store_open(&o, &err);
    assert_non_null(f->st);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    jc_store_close(f->st);
    const char *suffix[] = {"", "-wal", "-shm"};
    char p[160];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static jc_orc_cred cred(const char *key_id, const char *orc, const char *sealed, int64_t at) {
    jc_orc_cred c = {0};
    snprintf(c.key_id, sizeof(c.key_id), "%s", key_id);
    snprintf(c.orchestrator, sizeof(c.orchestrator), "%s", orc);
    c.sealed = (char *)sealed;
    c.created_at = at;
    return c;
}

#define K1 "ok_aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define K2 "ok_bbbbbbbbbbbbbbbbbbbbbbbbbb"
#define K3 "ok_cccccccccccccccccccccccccc"
#define K4 "ok_dddddddddddddddddddddddddd"

static void test_add_lookup_list(void **state) {
    fixture *f = *state;
    jc_err err;
    jc_orc_cred a = cred(K1, "host-a", "v1.m1.n1.c1", 1000),
                b = cred(K2, "host-b", "v1.m1.n2.c2", 2000);
    assert_int_equal(jc_store_cred_add(f->st, &a, &err), 0);
    assert_int_equal(jc_store_cred_add(f->st, &b, &err), 0);
    assert_int_equal(jc_store_cred_add(f->st, &a, &err), -1);
    assert_int_equal(err.code, JC_E_CONFLICT);
    jc_orc_cred nosecret = cred(K3, "host-a", NULL, 3000);
    assert_int_equal(jc_store_cred_add(f->st, &nosecret, &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
    jc_orc_cred got;
    assert_int_equal(jc_store_cred_lookup(f->st, K1, &got, &err), 0);
    assert_string_equal(got.orchestrator, "host-a");
    assert_string_equal(got.sealed, "v1.m1.n1.c1");
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(got.expires_at, 0);
    jc_orc_cred_clear(&got);
    assert_int_equal(jc_store_cred_lookup(f->st, K4, &got, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    jc_orc_cred *v;
    size_t n;
    assert_int_equal(jc_store_cred_list(f->st, NULL, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].key_id, K2); /* newest first */
    assert_null(v[0].sealed);             /* never a secret in a list */
    free(v);
    assert_int_equal(jc_store_cred_list(f->st, "host-a", &v, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key_id, K1);
    free(v);
}

static void test_revoke(void **state) {
    fixture *f = *state;
    jc_err err;
    jc_orc_cred a = cred(K1, "host-a", "s1", 1000);
    assert_int_equal(jc_store_cred_add(f->st, &a, &err), 0);
    assert_int_equal(jc_store_cred_revoke(f->st, K1, 5000, &err), 0);
    assert_int_equal(jc_store_cred_revoke(f->st, K1, 6000, &err), -1);
    assert_int_equal(err.code, JC_E_CONFLICT);
    assert_int_equal(jc_store_cred_revoke(f->st, K2, 6000, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    jc_orc_cred got;
    assert_int_equal(jc_store_cred_lookup(f->st, K1, &got, &err), 0);
    assert_int_equal(got.revoked_at, 5000);
    jc_orc_cred_clear(&got);
    /* a revoked key alone is nothing to rotate */
    jc_orc_cred n = cred(K2, "host-a", "s2", 7000);
    size_t rotated = 99;
    assert_int_equal(jc_store_cred_rotate(f->st, &n, 7000, 9000, &rotated, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    assert_int_equal(rotated, 0);
    assert_int_equal(jc_store_cred_lookup(f->st, K2, &got, &err), -1); /* nothing added */
}

static void test_rotate(void **state) {
    fixture *f = *state;
    jc_err err;
    jc_orc_cred a = cred(K1, "host-a", "s1", 1000), b = cred(K2, "host-b", "s2", 1000);
    assert_int_equal(jc_store_cred_add(f->st, &a, &err), 0);
    assert_int_equal(jc_store_cred_add(f->st, &b, &err), 0);
    jc_orc_cred n = cred(K3, "host-a", "s3", 2000);
    size_t rotated = 0;
    assert_int_equal(jc_store_cred_rotate(f->st, &n, 2000, 2000 + 86400000, &rotated, &err), 0);
    assert_int_equal(rotated, 1);
    jc_orc_cred got;
    assert_int_equal(jc_store_cred_lookup(f->st, K1, &got, &err), 0);
    assert_int_equal(got.expires_at, 2000 + 86400000);
    jc_orc_cred_clear(&got);
    assert_int_equal(jc_store_cred_lookup(f->st, K3, &got, &err), 0);
    assert_int_equal(got.expires_at, 0); /* the new key has no end */
    jc_orc_cred_clear(&got);
    assert_int_equal(jc_store_cred_lookup(f->st, K2, &got, &err), 0);
    assert_int_equal(got.expires_at, 0); /* another orchestrator's key is untouched */
    jc_orc_cred_clear(&got);
    /* rotating again with no grace: both live keys of host-a end now; an end already
     * sooner is kept */
    jc_orc_cred m = cred(K4, "host-a", "s4", 3000);
    assert_int_equal(jc_store_cred_rotate(f->st, &m, 3000, 3000, &rotated, &err), 0);
    assert_int_equal(rotated, 2);
    assert_int_equal(jc_store_cred_lookup(f->st, K1, &got, &err), 0);
    assert_int_equal(got.expires_at, 3000);
    jc_orc_cred_clear(&got);
    assert_int_equal(jc_store_cred_lookup(f->st, K3, &got, &err), 0);
    assert_int_equal(got.expires_at, 3000);
    jc_orc_cred_clear(&got);
}

static void test_rewrap_helpers(void **state) {
    fixture *f = *state;
    jc_err err;
    jc_orc_cred a = cred(K1, "host-a", "old1", 1000), b = cred(K2, "host-b", "old2", 1000);
    assert_int_equal(jc_store_cred_add(f->st, &a, &err), 0);
    assert_int_equal(jc_store_cred_add(f->st, &b, &err), 0);
    jc_orc_cred *v;
    size_t n;
    assert_int_equal(jc_store_cred_sealed_page(f->st, 0, 1, &v, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key_id, K1);
    assert_string_equal(v[0].sealed, "old1");
    int64_t after = v[0].seq;
    jc_orc_creds_free(v, n);
    assert_int_equal(jc_store_cred_sealed_page(f->st, after, 10, &v, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key_id, K2);
    after = v[0].seq;
    jc_orc_creds_free(v, n);
    assert_int_equal(jc_store_cred_sealed_page(f->st, after, 10, &v, &n, &err), 0);
    assert_int_equal(n, 0);
    jc_orc_creds_free(v, n);
    assert_int_equal(jc_store_cred_reseal(f->st, K1, "old1", "new1", &err), 0);
    assert_int_equal(jc_store_cred_reseal(f->st, K1, "old1", "newer", &err), -1);
    assert_int_equal(err.code, JC_E_CONFLICT);
    assert_int_equal(jc_store_cred_reseal(f->st, K3, "x", "y", &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    jc_orc_cred got;
    assert_int_equal(jc_store_cred_lookup(f->st, K1, &got, &err), 0);
    assert_string_equal(got.sealed, "new1");
    jc_orc_cred_clear(&got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_lookup_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrap_helpers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
