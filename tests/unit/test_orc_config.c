/* Orchestrator configuration: defaults, the internal key only from a file, cross-field
 * checks, URL and address parsing. */
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

#include "orchestrator/daemon.h"
#include "orchestrator/orc_config.h"

static char keyfile[64];

static int setup(void **state) {
    (void)state;
    snprintf(keyfile, sizeof(keyfile), "/tmp/jc-orc-key-XXXXXX");
    int fd = mkstemp(keyfile);
    if (fd < 0)
        return -1;
    const char *k = "0123456789abcdef0123456789abcdef-internal\n";
    if (write(fd, k, strlen(k)) != (ssize_t)strlen(k))
        return -1;
    fchmod(fd, 0600);
    close(fd);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(keyfile);
    return 0;
}

static void test_defaults_and_flags(void **state) {
    (void)state;
    char kf[128];
    snprintf(kf, sizeof(kf), "--internal-key-file=%s", keyfile);
    char *argv[] = {"jobcell-orchestrator", kf, "--slots", "16", "--state-dir", "/tmp/x", NULL};
    char *envp[] = {"JOBCELL_ORCHESTRATOR_ID=host-a", NULL};
    jc_orc_config c;
    jc_err err = {0};
    int next = 0;
    assert_int_equal(jc_orc_config_load(&c, 6, argv, envp, &next, &err), 0);
    assert_int_equal(c.slots, 16);
    assert_string_equal(c.orchestrator_id, "host-a");
    assert_string_equal(c.server_url, "http://127.0.0.1:8080");
    assert_int_equal(c.uid_base, 1879048192);
    assert_int_equal(c.internal_key.len, strlen("0123456789abcdef0123456789abcdef-internal"));
    assert_true(c.spool_fsync);
    jc_orc_config_free(&c);
}

static void test_rejections(void **state) {
    (void)state;
    jc_orc_config c;
    jc_err err = {0};
    int next;
    /* the key on the command line is refused: argv is visible to every user */
    char *a1[] = {"x", "--internal-key", "0123456789abcdef0123456789abcdef", NULL};
    char *envp[] = {NULL};
    assert_int_equal(jc_orc_config_load(&c, 3, a1, envp, &next, &err), -1);
    jc_orc_config_free(&c);
    /* no key at all */
    char *a2[] = {"x", NULL};
    assert_int_equal(jc_orc_config_load(&c, 1, a2, envp, &next, &err), -1);
    assert_string_equal(err.field, "internal_key");
    jc_orc_config_free(&c);
    /* bad id, slots out of range, https relay, unknown flag */
    char kf[128];
    snprintf(kf, sizeof(kf), "--internal-key-file=%s", keyfile);
    char *a3[] = {"x", kf, "--orchestrator-id", "Host_A", NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a3, envp, &next, &err), -1);
    assert_string_equal(err.field, "orchestrator_id");
    jc_orc_config_free(&c);
    char *a4[] = {"x", kf, "--slots", "65", NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a4, envp, &next, &err), -1);
    jc_orc_config_free(&c);
    char *a5[] = {"x", kf, "--runtime-url", "ftp://api.example:8081", NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a5, envp, &next, &err), -1);
    assert_non_null(strstr(err.msg, "runtime_url"));
    jc_orc_config_free(&c);
    /* https is accepted; a CA file only with https, and as an absolute path */
    char *a5b[] = {"x", kf, "--runtime-url", "https://api.example:8443", NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a5b, envp, &next, &err), 0);
    jc_orc_config_free(&c);
    char *a5c[] = {"x", kf, "--runtime-ca-file", "/etc/ca.pem", NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a5c, envp, &next, &err), -1);
    assert_string_equal(err.field, "runtime_ca_file");
    jc_orc_config_free(&c);
    char *a5d[] = {"x", kf, "--runtime-url", "https://h", "--runtime-ca-file", "ca.pem", NULL};
    assert_int_equal(jc_orc_config_load(&c, 6, a5d, envp, &next, &err), -1);
    assert_string_equal(err.field, "runtime_ca_file");
    jc_orc_config_free(&c);
    char *a6[] = {"x", kf, "--no-such-thing", "1", NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a6, envp, &next, &err), -1);
    assert_int_equal(err.code, JC_E_UNKNOWN_FIELD);
    jc_orc_config_free(&c);
    char *a7[] = {"x", kf, "--uid-base", "4294000000", "--slots", "64", NULL};
    assert_int_equal(jc_orc_config_load(&c, 6, a7, envp, &next, &err), -1);
    assert_string_equal(err.field, "uid_base");
    jc_orc_config_free(&c);
}

/* A file of mode `mode` holding text; the path goes into out. */
static void temp_file(char out[64], const char *text, mode_t mode) {
    snprintf(out, 64, "/tmp/jc-orc-secret-XXXXXX");
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    fchmod(fd, mode);
    close(fd);
}

static void test_signing_credential(void **state) {
    (void)state;
    jc_orc_config c;
    jc_err err = {0};
    int next;
    char *envp[] = {NULL};
    char good[64], world[64], shortf[64];
    temp_file(good, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
    temp_file(world, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0644);
    temp_file(shortf, "0001020304\n", 0600);
    char sf[128], wf[128], bf[128];
    snprintf(sf, sizeof(sf), "--internal-secret-file=%s", good);
    snprintf(wf, sizeof(wf), "--internal-secret-file=%s", world);
    snprintf(bf, sizeof(bf), "--internal-secret-file=%s", shortf);
    /* a credential alone is enough: no shared key needed */
    char *a1[] = {"x", "--internal-key-id", "ok_aaaaaaaaaaaaaaaaaaaaaaaaaa", sf, NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a1, envp, &next, &err), 0);
    assert_int_equal(c.internal_secret.len, 64);
    jc_orc_config_free(&c);
    /* a secret file others can read is refused */
    char *a2[] = {"x", "--internal-key-id", "ok_aaaaaaaaaaaaaaaaaaaaaaaaaa", wf, NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a2, envp, &next, &err), -1);
    assert_non_null(strstr(err.msg, "readable by everyone"));
    jc_orc_config_free(&c);
    /* not 64 hex characters */
    char *a3[] = {"x", "--internal-key-id", "ok_aaaaaaaaaaaaaaaaaaaaaaaaaa", bf, NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a3, envp, &next, &err), -1);
    assert_non_null(strstr(err.msg, "internal_secret_file"));
    jc_orc_config_free(&c);
    /* a key id without its secret, a secret without its key id, a malformed key id */
    char *a4[] = {"x", "--internal-key-id", "ok_aaaaaaaaaaaaaaaaaaaaaaaaaa", NULL};
    assert_int_equal(jc_orc_config_load(&c, 3, a4, envp, &next, &err), -1);
    assert_string_equal(err.field, "internal_secret");
    jc_orc_config_free(&c);
    char *a5[] = {"x", sf, NULL};
    assert_int_equal(jc_orc_config_load(&c, 2, a5, envp, &next, &err), -1);
    assert_string_equal(err.field, "internal_key_id");
    jc_orc_config_free(&c);
    char *a6[] = {"x", "--internal-key-id", "key1", sf, NULL};
    assert_int_equal(jc_orc_config_load(&c, 4, a6, envp, &next, &err), -1);
    assert_string_equal(err.field, "internal_key_id");
    jc_orc_config_free(&c);
    /* the secret is never taken from argv */
    char *a7[] = {"x",
                  "--internal-key-id",
                  "ok_aaaaaaaaaaaaaaaaaaaaaaaaaa",
                  "--internal-secret",
                  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                  NULL};
    assert_int_equal(jc_orc_config_load(&c, 5, a7, envp, &next, &err), -1);
    jc_orc_config_free(&c);
    unlink(good);
    unlink(world);
    unlink(shortf);
}

static void test_url_parsing(void **state) {
    (void)state;
    char host[64];
    uint16_t port;
    assert_int_equal(
        jc_orc_parse_http_url("http://127.0.0.1:8081", host, sizeof(host), &port, NULL, NULL), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8081);
    assert_int_equal(
        jc_orc_parse_http_url("http://api.local/", host, sizeof(host), &port, NULL, NULL), 0);
    assert_string_equal(host, "api.local");
    assert_int_equal(port, 80);
    assert_int_equal(jc_orc_parse_http_url("http://[::1]:9", host, sizeof(host), &port, NULL, NULL),
                     0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9);
    bool tls = false;
    assert_int_equal(
        jc_orc_parse_http_url("https://api.local", host, sizeof(host), &port, &tls, NULL), 0);
    assert_string_equal(host, "api.local");
    assert_int_equal(port, 443);
    assert_true(tls);
    assert_int_equal(jc_orc_parse_http_url("http://h:1", host, sizeof(host), &port, &tls, NULL), 0);
    assert_false(tls);
    assert_int_equal(jc_orc_parse_http_url("https://u@h:1", host, sizeof(host), &port, NULL, NULL),
                     -1);
    assert_int_equal(jc_orc_parse_http_url("https://h:1?x", host, sizeof(host), &port, NULL, NULL),
                     -1);
    assert_int_equal(jc_orc_parse_http_url("http://h:99999", host, sizeof(host), &port, NULL, NULL),
                     -1);
    assert_int_equal(jc_orc_parse_http_url("http://h:1/x", host, sizeof(host), &port, NULL, NULL),
                     -1);
    assert_int_equal(jc_orc_parse_http_url("ftp://h", host, sizeof(host), &port, NULL, NULL), -1);
    assert_int_equal(jc_orc_split_hostport("127.0.0.1:0", host, sizeof(host), &port, NULL), 0);
    assert_int_equal(port, 0);
    assert_int_equal(jc_orc_split_hostport("nohost", host, sizeof(host), &port, NULL), -1);
}

static void test_orchestrator_id(void **state) {
    (void)state;
    char dir[] = "/tmp/jc-orc-id-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[65], b[65];
    jc_err err = {0};
    /* generated once, then read back unchanged */
    assert_int_equal(jc_orc_load_id("", dir, a, sizeof(a), &err), 0);
    assert_int_equal(strncmp(a, "orc_", 4), 0);
    assert_int_equal(strlen(a), 30);
    assert_int_equal(jc_orc_load_id("", dir, b, sizeof(b), &err), 0);
    assert_string_equal(a, b);
    char path[128];
    snprintf(path, sizeof(path), "%s/orchestrator-id", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a configured id wins; a damaged file is refused, not replaced */
    assert_int_equal(jc_orc_load_id("host-b", dir, b, sizeof(b), &err), 0);
    assert_string_equal(b, "host-b");
    FILE *f = fopen(path, "w");
    fputs("Not An Id\n", f);
    fclose(f);
    assert_int_equal(jc_orc_load_id("", dir, b, sizeof(b), &err), -1);
    assert_int_equal(err.code, JC_E_CONFIG);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejections, setup, teardown),
        cmocka_unit_test(test_signing_credential),
        cmocka_unit_test(test_url_parsing),
        cmocka_unit_test(test_orchestrator_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
