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

#include "jobcell/config.h"

typedef struct cfg {
    char *listen;
    int64_t lease_s;
    int64_t memory_mb;
    double cpu;
    bool metrics_auth;
    jc_secret internal_key;
    json_t *profiles;
} cfg;

static const jc_cfg_field fields[] = {
    {"listen", JC_CFG_STRING, offsetof(cfg, listen), "127.0.0.1:8080", 0, 0, 0, 0, "address"},
    {"lease_s", JC_CFG_INT, offsetof(cfg, lease_s), "30", 1, 3600, 0, 0, "lease seconds"},
    {"limits.memory_mb", JC_CFG_INT, offsetof(cfg, memory_mb), "512", 16, 65536, 0, 0, "memory"},
    {"limits.cpu", JC_CFG_DOUBLE, offsetof(cfg, cpu), "0.5", 0, 0, 0.01, 64, "cpu"},
    {"metrics_auth", JC_CFG_BOOL, offsetof(cfg, metrics_auth), "false", 0, 0, 0, 0, "auth"},
    {"internal_key", JC_CFG_SECRET, offsetof(cfg, internal_key), NULL, 0, 0, 0, 0, "key"},
    {"profiles", JC_CFG_JSON, offsetof(cfg, profiles), NULL, 0, 0, 0, 0, "profiles"},
};
static const jc_cfg_schema schema = {fields, sizeof(fields) / sizeof(fields[0])};

static char dir[64];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/jc-cfg-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *text, mode_t mode) {
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static void test_defaults(void **state) {
    (void)state;
    cfg c = {0};
    assert_int_equal(jc_config_init(&schema, &c, NULL), 0);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_int_equal(c.lease_s, 30);
    assert_int_equal(c.memory_mb, 512);
    assert_true(c.cpu > 0.49 && c.cpu < 0.51);
    assert_false(c.metrics_auth);
    assert_null(c.internal_key.data);
    jc_config_free(&schema, &c);
}

static void test_file_nested_and_types(void **state) {
    (void)state;
    cfg c = {0};
    jc_config_init(&schema, &c, NULL);
    const char *json = "{\"listen\":\"0.0.0.0:9\",\"limits\":{\"memory_mb\":1024,\"cpu\":2},"
                       "\"metrics_auth\":true,\"profiles\":[\"a\",\"b\"]}";
    assert_int_equal(jc_config_load_json(&schema, &c, json, strlen(json), "cfg", NULL), 0);
    assert_string_equal(c.listen, "0.0.0.0:9");
    assert_int_equal(c.memory_mb, 1024);
    assert_true(c.cpu == 2.0);
    assert_true(c.metrics_auth);
    assert_int_equal(json_array_size(c.profiles), 2);
    jc_config_free(&schema, &c);
}

static void expect_json_error(const char *json, jc_errcode code, const char *needle) {
    cfg c = {0};
    jc_config_init(&schema, &c, NULL);
    jc_err err;
    jc_err_clear(&err);
    assert_int_equal(
        jc_config_load_json(&schema, &c, json, strlen(json), "config file x.json", &err), -1);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, needle))
        fail_msg("'%s' lacks '%s'", err.msg, needle);
    jc_config_free(&schema, &c);
}

static void test_unknown_keys_named(void **state) {
    (void)state;
    expect_json_error("{\"lisen\":\"x\"}", JC_E_UNKNOWN_FIELD, "unknown key 'lisen'");
    expect_json_error("{\"limits\":{\"memory\":1}}", JC_E_UNKNOWN_FIELD,
                      "unknown key 'limits.memory'");
    expect_json_error("{\"nested\":{\"a\":1}}", JC_E_UNKNOWN_FIELD, "unknown key 'nested'");
    expect_json_error("{\"lease-s\":3}", JC_E_UNKNOWN_FIELD, "unknown key 'lease-s'");
}

static void test_bad_types_named(void **state) {
    (void)state;
    expect_json_error("{\"lease_s\":\"30\"}", JC_E_CONFIG, "lease_s must be an integer");
    expect_json_error("{\"lease_s\":30.5}", JC_E_CONFIG, "lease_s must be an integer");
    expect_json_error("{\"lease_s\":0}", JC_E_CONFIG, "lease_s must be between 1 and 3600");
    expect_json_error("{\"listen\":5}", JC_E_CONFIG, "listen must be a string");
    expect_json_error("{\"metrics_auth\":1}", JC_E_CONFIG, "metrics_auth must be true or false");
    expect_json_error("{\"limits\":{\"cpu\":100}}", JC_E_CONFIG, "limits.cpu must be between");
    expect_json_error("{\"limits\":5}", JC_E_UNKNOWN_FIELD, "unknown key 'limits'");
    expect_json_error("[1]", JC_E_CONFIG, "top level must be a JSON object");
    expect_json_error("{\"listen\":\"a\",\"listen\":\"b\"}", JC_E_CONFIG, "duplicate");
    expect_json_error("{\"listen\":", JC_E_CONFIG, "config file x.json: line 1");
}

static void test_env_override(void **state) {
    (void)state;
    cfg c = {0};
    jc_config_init(&schema, &c, NULL);
    char *envp[] = {"JOBCELL_LIMITS_MEMORY_MB=2048", "JOBCELL_LISTEN=[::1]:1", "OTHER=1",
                    "JOBCELL_METRICS_AUTH=yes", NULL};
    assert_int_equal(jc_config_apply_env(&schema, &c, envp, NULL), 0);
    assert_int_equal(c.memory_mb, 2048);
    assert_string_equal(c.listen, "[::1]:1");
    assert_true(c.metrics_auth);
    char *bad[] = {"JOBCELL_LEASE_S=abc", NULL};
    jc_err err;
    assert_int_equal(jc_config_apply_env(&schema, &c, bad, &err), -1);
    assert_non_null(strstr(err.msg, "environment JOBCELL_LEASE_S"));
    jc_config_free(&schema, &c);
}

static void test_full_layering(void **state) {
    (void)state;
    const char *path = write_file("c.json", "{\"lease_s\":10,\"listen\":\"file\"}", 0644);
    char pathcopy[128];
    snprintf(pathcopy, sizeof(pathcopy), "%s", path);
    cfg c = {0};
    jc_config_init(&schema, &c, NULL);
    char *envp[] = {"JOBCELL_LEASE_S=20", NULL};
    char *argv[] = {"prog", "--listen", "flag", "--config", pathcopy, "--limits.memory-mb=64",
                    "rest", NULL};
    int next = 0;
    assert_int_equal(jc_config_load(&schema, &c, 7, argv, envp, &next, NULL), 0);
    assert_int_equal(c.lease_s, 20);       /* env over file */
    assert_string_equal(c.listen, "flag"); /* flag over file */
    assert_int_equal(c.memory_mb, 64);
    assert_int_equal(next, 6);
    jc_config_free(&schema, &c);
}

static void test_unknown_flag(void **state) {
    (void)state;
    cfg c = {0};
    jc_config_init(&schema, &c, NULL);
    char *argv[] = {"prog", "--nope", "1", NULL};
    jc_err err;
    assert_int_equal(jc_config_load(&schema, &c, 3, argv, NULL, NULL, &err), -1);
    assert_int_equal(err.code, JC_E_UNKNOWN_FIELD);
    assert_non_null(strstr(err.msg, "--nope"));
    jc_config_free(&schema, &c);
}

static void test_secret_files(void **state) {
    (void)state;
    cfg c = {0};
    jc_config_init(&schema, &c, NULL);
    const char *p = write_file("key", "s3cret-value-0123456789abcdefghi\n", 0600);
    char path[128];
    snprintf(path, sizeof(path), "%s", p);
    char json[256];
    snprintf(json, sizeof(json), "{\"internal_key_file\":\"%s\"}", path);
    assert_int_equal(jc_config_load_json(&schema, &c, json, strlen(json), "cfg", NULL), 0);
    assert_int_equal(c.internal_key.len, 32); /* trailing newline stripped */
    assert_memory_equal(c.internal_key.data, "s3cret-value-0123456789abcdefghi", 32);

    /* Readable by everyone: refused, and the message says how to fix it. */
    chmod(path, 0644);
    jc_err err;
    assert_int_equal(jc_config_load_json(&schema, &c, json, strlen(json), "cfg", &err), -1);
    assert_int_equal(err.code, JC_E_CONFIG);
    assert_non_null(strstr(err.msg, "readable by everyone"));
    assert_null(strstr(err.msg, "s3cret")); /* never the secret itself */

    /* A secret is never taken from argv. */
    char *argv[] = {"prog", "--internal_key", "s3cret", NULL};
    assert_int_equal(jc_config_load(&schema, &c, 3, argv, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "give it as internal_key_file"));
    /* But its file is. */
    chmod(path, 0600);
    char flag[160];
    snprintf(flag, sizeof(flag), "--internal-key-file=%s", path);
    char *argv2[] = {"prog", flag, NULL};
    jc_secret_free(&c.internal_key);
    assert_int_equal(jc_config_load(&schema, &c, 2, argv2, NULL, NULL, &err), 0);
    assert_int_equal(c.internal_key.len, 32);
    /* And from the environment. */
    char envv[200];
    snprintf(envv, sizeof(envv), "JOBCELL_INTERNAL_KEY_FILE=%s", path);
    char *envp[] = {envv, NULL};
    jc_secret_free(&c.internal_key);
    assert_int_equal(jc_config_apply_env(&schema, &c, envp, NULL), 0);
    assert_int_equal(c.internal_key.len, 32);
    jc_config_free(&schema, &c);
    assert_null(c.internal_key.data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),           cmocka_unit_test(test_file_nested_and_types),
        cmocka_unit_test(test_unknown_keys_named), cmocka_unit_test(test_bad_types_named),
        cmocka_unit_test(test_env_override),       cmocka_unit_test(test_full_layering),
        cmocka_unit_test(test_unknown_flag),       cmocka_unit_test(test_secret_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
