/* Unit tests of the sandbox engine's pure parts: spec validation against SANDBOX.md's
 * bounds, the result record's JSON and exit status, the host id range check, and the
 * options of `jobcell run`. No process is started here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/run_options.h"
#include "internal.h"

static const char *const ARGV_TRUE[] = {"/bin/true", NULL};

static void base_spec(jc_sandbox_spec *s) {
    jc_sandbox_spec_init(s);
    s->exe_id = "exe_abcdefghijkl234567";
    s->argv = ARGV_TRUE;
}

static void expect_invalid(const jc_sandbox_spec *s, const char *field) {
    jc_err err = {0};
    assert_int_equal(jc_sandbox_spec_validate(s, &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
    assert_string_equal(err.field, field);
}

static void test_defaults(void **state) {
    (void)state;
    jc_sandbox_limits l;
    jc_sandbox_limits_default(&l);
    assert_int_equal(l.memory_mb, 512);
    assert_int_equal(l.pids, 100);
    assert_true(l.cpu == 0.5);
    assert_int_equal(l.timeout_s, 300);
    assert_int_equal(l.kill_grace_s, 5);
    assert_int_equal(l.tmp_mb, 100);
    assert_int_equal(l.workspace_mb, 256);
    assert_int_equal(l.output_mb, 16);
    jc_sandbox_spec s;
    base_spec(&s);
    assert_int_equal(s.stdin_fd, -1);
    jc_err err = {0};
    assert_int_equal(jc_sandbox_spec_validate(&s, &err), 0);
    /* kill_grace_s -1 means 0 */
    jc_sandbox_limits in = {.kill_grace_s = -1}, out;
    jc_sandbox_limits_effective(&in, &out);
    assert_int_equal(out.kill_grace_s, 0);
    assert_int_equal(out.memory_mb, 512);
}

static void test_bounds(void **state) {
    (void)state;
    jc_sandbox_spec s;
    base_spec(&s);
    s.limits.memory_mb = 15;
    expect_invalid(&s, "resources.memory_mb");
    s.limits.memory_mb = 65537;
    expect_invalid(&s, "resources.memory_mb");
    base_spec(&s);
    s.limits.pids = 7;
    expect_invalid(&s, "resources.pids");
    s.limits.pids = 32769;
    expect_invalid(&s, "resources.pids");
    base_spec(&s);
    s.limits.cpu = 0.001;
    expect_invalid(&s, "resources.cpu");
    s.limits.cpu = 100000;
    expect_invalid(&s, "resources.cpu");
    base_spec(&s);
    s.limits.timeout_s = 86401;
    expect_invalid(&s, "timeout_s");
    base_spec(&s);
    s.limits.kill_grace_s = 61;
    expect_invalid(&s, "kill_grace_s");
    base_spec(&s);
    s.limits.output_mb = 1025;
    expect_invalid(&s, "resources.output_mb");
    base_spec(&s);
    s.limits.tmp_mb = 16385;
    s.limits.memory_mb = 65536;
    expect_invalid(&s, "resources.tmp_mb");
    /* the upper bounds themselves are fine */
    base_spec(&s);
    s.limits.memory_mb = 65536;
    s.limits.pids = 32768;
    s.limits.timeout_s = 86400;
    s.limits.kill_grace_s = 60;
    s.limits.output_mb = 1024;
    jc_err err = {0};
    assert_int_equal(jc_sandbox_spec_validate(&s, &err), 0);
}

static void test_tmpfs_above_memory(void **state) {
    (void)state;
    jc_sandbox_spec s;
    base_spec(&s);
    s.limits.memory_mb = 256;
    s.limits.tmp_mb = 100;
    s.limits.workspace_mb = 200;
    jc_err err = {0};
    assert_int_equal(jc_sandbox_spec_validate(&s, &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
    assert_string_equal(err.field, "resources.tmp_mb,resources.workspace_mb");
    assert_non_null(strstr(err.msg, "resources.tmp_mb (100)"));
    assert_non_null(strstr(err.msg, "resources.workspace_mb (200)"));
    assert_non_null(strstr(err.msg, "resources.memory_mb (256)"));
    /* equal is allowed */
    s.limits.workspace_mb = 156;
    assert_int_equal(jc_sandbox_spec_validate(&s, &err), 0);
    /* the defaults (100 + 256) do not fit in 300 */
    base_spec(&s);
    s.limits.memory_mb = 300;
    expect_invalid(&s, "resources.tmp_mb,resources.workspace_mb");
}

static void test_ids_argv_env(void **state) {
    (void)state;
    jc_sandbox_spec s;
    base_spec(&s);
    s.exe_id = "exe_short";
    expect_invalid(&s, "exe_id");
    s.exe_id = "job_abcdefghijkl234567";
    expect_invalid(&s, "exe_id");
    s.exe_id = "exe_ABCDEFGHIJKL234567";
    expect_invalid(&s, "exe_id");
    s.exe_id = NULL;
    expect_invalid(&s, "exe_id");

    base_spec(&s);
    static const char *const empty[] = {NULL};
    s.argv = empty;
    expect_invalid(&s, "argv");
    static const char *const blank[] = {"", NULL};
    s.argv = blank;
    expect_invalid(&s, "argv");

    base_spec(&s);
    static const char *const path_env[] = {"A=1", "PATH=/evil", NULL};
    s.env = path_env;
    expect_invalid(&s, "env");
    static const char *const home_env[] = {"HOME=/", NULL};
    s.env = home_env;
    expect_invalid(&s, "env");
    static const char *const bad_name[] = {"1A=x", NULL};
    s.env = bad_name;
    expect_invalid(&s, "env");
    static const char *const no_eq[] = {"NAME", NULL};
    s.env = no_eq;
    expect_invalid(&s, "env");
    static const char *const ok_env[] = {"JOBCELL_EXECUTION_ID=exe_x", "PATHX=1", NULL};
    s.env = ok_env;
    jc_err err = {0};
    assert_int_equal(jc_sandbox_spec_validate(&s, &err), 0);
}

static void test_files_and_binds(void **state) {
    (void)state;
    jc_sandbox_spec s;
    base_spec(&s);
    jc_sandbox_file files[2] = {{.name = "script.sh", .data = "echo", .len = 4, .mode = 0755},
                                {.name = "../x", .data = "", .len = 0, .mode = 0644}};
    s.files = files;
    s.n_files = 2;
    expect_invalid(&s, "files");
    files[1].name = "..";
    expect_invalid(&s, "files");
    files[1].name = "script.sh";
    expect_invalid(&s, "files"); /* twice */
    files[1].name = "input.json";
    files[1].mode = 04755; /* setuid */
    expect_invalid(&s, "files");
    files[1].mode = 0644;
    jc_err err = {0};
    assert_int_equal(jc_sandbox_spec_validate(&s, &err), 0);

    base_spec(&s);
    jc_sandbox_bind binds[1] = {{.src = "/srv/data", .dst = "/proc/x", .readonly = true}};
    s.binds = binds;
    s.n_binds = 1;
    expect_invalid(&s, "binds");
    binds[0].dst = "/";
    expect_invalid(&s, "binds");
    binds[0].dst = "/data/../etc";
    expect_invalid(&s, "binds");
    binds[0].dst = "relative";
    expect_invalid(&s, "binds");
    binds[0].dst = "/data";
    assert_int_equal(jc_sandbox_spec_validate(&s, &err), 0);

    base_spec(&s);
    s.rootfs = "rootfs";
    expect_invalid(&s, "rootfs");
    base_spec(&s);
    s.cgroup_parent = "system.slice";
    expect_invalid(&s, "cgroup_parent");
}

static void test_result_json(void **state) {
    (void)state;
    jc_result r = {.reason = JC_REASON_EXITED,
                   .has_exit_code = true,
                   .exit_code = 0,
                   .wall_ms = 1234,
                   .cpu_ms = 456,
                   .memory_peak_bytes = 10485760,
                   .stdout_bytes = 120};
    json_t *j = jc_result_to_json(&r);
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"reason\":\"exited\",\"exit_code\":0,\"signal\":null,\"wall_ms\":"
                              "1234,\"cpu_ms\":456,\"memory_peak_bytes\":10485760,\"stdout_bytes\":"
                              "120,\"stderr_bytes\":0,\"output_truncated\":false,\"setup_error\":"
                              "null}");
    free(text);
    json_decref(j);
    assert_int_equal(jc_result_exit_status(&r), 0);

    jc_result k = {.reason = JC_REASON_TIMEOUT, .signal = 9, .output_truncated = true};
    j = jc_result_to_json(&k);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "timeout");
    assert_true(json_is_null(json_object_get(j, "exit_code")));
    assert_int_equal(json_integer_value(json_object_get(j, "signal")), 9);
    assert_true(json_is_true(json_object_get(j, "output_truncated")));
    json_decref(j);
    assert_int_equal(jc_result_exit_status(&k), 137);

    jc_result e = {0};
    jc_result_set_setup_error(&e, "execve", 2, "execve: nosuch: No such file or directory");
    j = jc_result_to_json(&e);
    text = json_dumps(json_object_get(j, "setup_error"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"step\":\"execve\",\"errno\":2,\"message\":\"execve: nosuch: No "
                              "such file or directory\"}");
    free(text);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "setup_error");
    assert_true(json_is_null(json_object_get(j, "exit_code")));
    json_decref(j);
    assert_int_equal(jc_result_exit_status(&e), 125);

    static const char *const names[] = {"exited", "signaled", "timeout",    "oom",
                                        "pids",   "canceled", "setup_error"};
    for (int i = 0; i <= JC_REASON_SETUP_ERROR; i++)
        assert_string_equal(jc_reason_name((jc_reason)i), names[i]);

    char line[512];
    jc_result x = {.reason = JC_REASON_EXITED, .has_exit_code = true, .exit_code = 3};
    jc_result_summary(&x, line, sizeof(line));
    assert_non_null(strstr(line, "exited (exit code 3)"));
    assert_int_equal(jc_result_exit_status(&x), 3);
}

static void write_tmp(char *path, const char *text) {
    strcpy(path, "/tmp/jc-test-ids-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_uid_range(void **state) {
    (void)state;
    char subuid[64], subgid[64], passwd[64], group[64];
    write_tmp(subuid, "alice:100000:65536\n");
    write_tmp(subgid, "alice:100000:65536\n");
    write_tmp(passwd, "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n");
    write_tmp(group, "root:x:0:\nbob:x:1000:\n");
    jc_err err = {0};
    assert_int_equal(jc_uid_range_check(1879048192u, 65536, subuid, subgid, passwd, group, &err),
                     0);
    /* overlapping a subordinate range */
    assert_int_equal(jc_uid_range_check(90000, 65536, subuid, subgid, passwd, group, &err), -1);
    assert_int_equal(err.code, JC_E_CONFIG);
    assert_non_null(strstr(err.msg, "alice"));
    /* containing a user's id */
    assert_int_equal(
        jc_uid_range_check(500, 1000, "/nonexistent", "/nonexistent", passwd, group, &err), -1);
    assert_non_null(strstr(err.msg, "bob"));
    /* containing a group's id only */
    char group2[64];
    write_tmp(group2, "docker:x:300000:\n");
    assert_int_equal(jc_uid_range_check(299999, 10, "/nonexistent", "/nonexistent", "/nonexistent",
                                        group2, &err),
                     -1);
    assert_non_null(strstr(err.msg, "docker"));
    /* 0 and ranges reaching 2^32-1 are refused */
    assert_int_equal(jc_uid_range_check(0, 10, "/nonexistent", "/nonexistent", "/nonexistent",
                                        "/nonexistent", &err),
                     -1);
    assert_int_equal(jc_uid_range_check(4294967295u - 65535u, 65536, "/nonexistent", "/nonexistent",
                                        "/nonexistent", "/nonexistent", &err),
                     -1);
    unlink(subuid);
    unlink(subgid);
    unlink(passwd);
    unlink(group);
    unlink(group2);
}

static int parse(jc_run_options *o, char *err, const char *first, ...) {
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return jc_run_options_parse(argc, argv, o, err, 256);
}

static void test_run_options(void **state) {
    (void)state;
    static jc_run_options o;
    char err[256];
    assert_int_equal(parse(&o, err, "run", "--memory", "256", "--pids", "50", "--cpu", "1.5",
                           "--timeout", "10", "--tmp-mb", "20", "--workspace-mb", "30", "--profile",
                           "strict", "--bind", "/srv:/data:ro", "--bind", "/a:/b", "--env", "A=1",
                           "--runtime-proxy", "127.0.0.1:9000", "--json", "--kill-grace", "0", "--",
                           "python3", "-c", "print(1)", NULL),
                     0);
    assert_int_equal(o.limits.memory_mb, 256);
    assert_int_equal(o.limits.pids, 50);
    assert_true(o.limits.cpu == 1.5);
    assert_int_equal(o.limits.timeout_s, 10);
    assert_int_equal(o.limits.tmp_mb, 20);
    assert_int_equal(o.limits.workspace_mb, 30);
    assert_int_equal(o.limits.kill_grace_s, -1); /* 0 given: "no grace", not "default" */
    assert_string_equal(o.profile, "strict");
    assert_int_equal(o.n_binds, 2);
    assert_string_equal(o.binds[0].src, "/srv");
    assert_string_equal(o.binds[0].dst, "/data");
    assert_true(o.binds[0].readonly);
    assert_false(o.binds[1].readonly);
    assert_string_equal(o.env[0], "A=1");
    assert_null(o.env[1]);
    assert_string_equal(o.proxy_host, "127.0.0.1");
    assert_string_equal(o.proxy_port, "9000");
    assert_true(o.json);
    assert_string_equal(o.argv[0], "python3");
    assert_string_equal(o.argv[2], "print(1)");
    assert_null(o.argv[3]);

    /* options after the command belong to the command */
    assert_int_equal(parse(&o, err, "run", "ls", "--json", NULL), 0);
    assert_false(o.json);
    assert_string_equal(o.argv[1], "--json");

    assert_int_equal(parse(&o, err, "run", "--memory", "x", "--", "true", NULL), -1);
    assert_non_null(strstr(err, "--memory"));
    assert_int_equal(parse(&o, err, "run", "--memory", "-5", "--", "true", NULL), -1);
    assert_int_equal(parse(&o, err, "run", "--cpu", "abc", "--", "true", NULL), -1);
    assert_non_null(strstr(err, "--cpu"));
    assert_int_equal(parse(&o, err, "run", "--bind", "/a", "--", "true", NULL), -1);
    assert_non_null(strstr(err, "--bind"));
    assert_int_equal(parse(&o, err, "run", "--bind", "/a:/b:rw", "--", "true", NULL), -1);
    assert_int_equal(parse(&o, err, "run", "--bind", "a:/b", "--", "true", NULL), -1);
    assert_int_equal(parse(&o, err, "run", "--runtime-proxy", "localhost", "--", "true", NULL), -1);
    assert_non_null(strstr(err, "HOST:PORT"));
    assert_int_equal(parse(&o, err, "run", "--runtime-proxy", "h:70000", "--", "true", NULL), -1);
    assert_int_equal(parse(&o, err, "run", "--env", "NOVALUE", "--", "true", NULL), -1);
    assert_int_equal(parse(&o, err, "run", "--bogus", "--", "true", NULL), -1);
    assert_non_null(strstr(err, "--bogus"));
    assert_int_equal(parse(&o, err, "run", "--json", NULL), -1);
    assert_non_null(strstr(err, "no command"));
    assert_int_equal(parse(&o, err, "run", "--memory", NULL), -1);
    assert_non_null(strstr(err, "--memory needs a value"));
    assert_int_equal(parse(&o, err, "run", "--cleanup", NULL), 0);
    assert_true(o.cleanup);
    assert_int_equal(parse(&o, err, "run", "--cleanup", "--", "true", NULL), -1);
    assert_int_equal(parse(&o, err, "run", "--runtime-proxy", "[::1]:8080", "--", "t", NULL), 0);
    assert_string_equal(o.proxy_host, "::1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),           cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_tmpfs_above_memory), cmocka_unit_test(test_ids_argv_env),
        cmocka_unit_test(test_files_and_binds),    cmocka_unit_test(test_result_json),
        cmocka_unit_test(test_uid_range),          cmocka_unit_test(test_run_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
