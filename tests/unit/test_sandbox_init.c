/* jobcell-init's reading of the spec fails closed: every malformed spec ends it with a
 * setup failure on the error pipe before it touches anything, and a well-formed one,
 * outside a sandbox, is refused because it is not pid 1. Runs the real binary, unprivileged
 * steps only (it never gets past the spec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

static char init_path[4096];

static int setup(void **state) {
    (void)state;
    const char *env = getenv("JOBCELL_INIT");
    const char *build = getenv("JC_BUILD_DIR");
    if (env)
        snprintf(init_path, sizeof(init_path), "%s", env);
    else
        snprintf(init_path, sizeof(init_path), "%s/cli/jobcell-init", build ? build : ".");
    return access(init_path, X_OK) == 0 ? 0 : -1;
}

typedef struct outcome {
    jc_setup_failure f;
    ssize_t got;
    int status;
} outcome;

/* Start jobcell-init with fd 3/4 wired to us, send the packets, collect the report. */
static outcome run_init(const void *const *packets, const size_t *lens, size_t n) {
    int sv[2], ep[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(pipe2(ep, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Should the pid-1 guard ever regress, what follows must not reshape the host's
         * mounts: give it a mount namespace of its own (root only; unprivileged, every
         * mount fails anyway). */
        (void)unshare(CLONE_NEWNS);
        int null = open("/dev/null", O_RDWR);
        if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(sv[1], 3) < 0 || dup2(ep[1], 4) < 0)
            _exit(99);
        execl(init_path, "jobcell-init", (char *)NULL);
        _exit(98);
    }
    close(sv[1]);
    close(ep[1]);
    for (size_t i = 0; i < n; i++)
        (void)send(sv[0], packets[i], lens[i], MSG_NOSIGNAL);
    close(sv[0]); /* EOF for a spec that wants more */
    outcome o;
    memset(&o, 0, sizeof(o));
    o.got = read(ep[0], &o.f, sizeof(o.f));
    close(ep[0]);
    assert_int_equal(waitpid(pid, &o.status, 0), pid);
    return o;
}

static void expect_failure(outcome o, const char *step, int sys_errno, const char *detail) {
    assert_int_equal(o.got, (ssize_t)sizeof(o.f));
    assert_string_equal(o.f.step, step);
    assert_int_equal(o.f.sys_errno, sys_errno);
    assert_non_null(strstr(o.f.detail, detail));
    assert_true(WIFEXITED(o.status));
    assert_int_equal(WEXITSTATUS(o.status), 125);
}

static jc_spec_header header(uint64_t len) {
    return (jc_spec_header){.magic = JC_PROTO_MAGIC, .version = JC_PROTO_VERSION, .length = len};
}

static void test_bad_header(void **state) {
    (void)state;
    jc_spec_header h = header(0);
    h.magic = 0x12345678;
    const void *p[] = {&h};
    size_t l[] = {sizeof(h)};
    expect_failure(run_init(p, l, 1), "wait-parent", EPROTO, "protocol version");
    h = header((uint64_t)JC_PROTO_MAX_SPEC + 1);
    expect_failure(run_init(p, l, 1), "wait-parent", EPROTO, "too large");
    char shortpkt[3] = {0};
    const void *p2[] = {shortpkt};
    size_t l2[] = {sizeof(shortpkt)};
    expect_failure(run_init(p2, l2, 1), "wait-parent", EPROTO, "packet of 3 bytes");
}

static void test_engine_gone(void **state) {
    (void)state;
    expect_failure(run_init(NULL, NULL, 0), "wait-parent", EPIPE, "closed the control socket");
    jc_spec_header h = header(100); /* promises 100 bytes, sends none */
    const void *p[] = {&h};
    size_t l[] = {sizeof(h)};
    expect_failure(run_init(p, l, 1), "wait-parent", EPIPE, "closed the control socket");
}

static void test_bad_records(void **state) {
    (void)state;
    struct {
        const char *name;
        uint32_t rec[4];
        size_t len;
        const char *detail;
    } cases[] = {
        {"past the end", {JC_TAG_ARGV, 100, 0, 0}, 12, "past the end"},
        {"truncated head", {JC_TAG_ARGV, 0, 0, 0}, 4, "truncated"},
        {"no NUL", {JC_TAG_ARGV, 4, 0x61616161, 0}, 12, "malformed argv"},
        {"unknown tag", {999, 0, 0, 0}, 8, "unknown spec record"},
        {"bad limits", {JC_TAG_LIMITS, 4, 0, 0}, 12, "malformed limits"},
        {"bad filter", {JC_TAG_FILTER, 4, 0, 0}, 12, "malformed seccomp filter"},
        {"empty spec", {0, 0, 0, 0}, 0, "incomplete spec"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jc_spec_header h = header(cases[i].len);
        const void *p[] = {&h, cases[i].rec};
        size_t l[] = {sizeof(h), cases[i].len};
        outcome o = run_init(p, l, cases[i].len ? 2 : 1);
        if (!strstr(o.f.detail, cases[i].detail))
            fail_msg("%s: got '%s'", cases[i].name, o.f.detail);
        expect_failure(o, "wait-parent", EPROTO, cases[i].detail);
    }
}

/* A complete spec, as the engine writes it: refused outside a sandbox. */
static void test_not_pid1(void **state) {
    (void)state;
    static const char *const argv[] = {"/bin/true", NULL};
    jc_sandbox_spec spec;
    jc_sandbox_spec_init(&spec);
    spec.exe_id = "exe_abcdefghijkl234567";
    spec.argv = argv;
    jc_sandbox_limits l;
    jc_sandbox_limits_effective(&spec.limits, &l);
    struct jc_sandbox_engine engine = {.init_fd = -1, .run_dir = "/nonexistent-run-dir"};
    size_t len = 0;
    jc_err err = {0};
    char *wire = jc_wire_spec(&engine, &spec, &l, NULL, &len, &err);
    assert_non_null(wire);
    jc_spec_header h = header(len);
    const void *p[] = {&h, wire};
    size_t lens[] = {sizeof(h), len};
    expect_failure(run_init(p, lens, 2), "wait-parent", EPERM, "first process of a sandbox");
    free(wire);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_engine_gone),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_not_pid1),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
