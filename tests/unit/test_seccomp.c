/* Unit tests of the seccomp profile module: parsing (OCI and Docker superset), located
 * errors, resolution (caps, arches, minKernel), compilation (every operator checked
 * against the compiled BPF run in user space), explain, check, diff, directory sets and
 * the learn variant. */
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobcell/seccomp.h"

static const jc_seccomp_env amd64_6 = {.arch = SCMP_ARCH_X86_64, .kernel = {6, 1, 0}};

#define BASE_RULE                                                                                  \
    "{\"names\": [\"execve\", \"write\", \"exit_group\"], \"action\": \"SCMP_ACT_ALLOW\"}"

static jc_seccomp_profile *parse(const char *text, jc_seccomp_diags *d, jc_err *err) {
    return jc_seccomp_profile_parse(text, strlen(text), "test", d, err);
}

/* Does diags hold an error at exactly `where` whose message contains `needle`? */
static bool has_diag(const jc_seccomp_diags *d, jc_seccomp_severity sev, const char *where,
                     const char *needle) {
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].severity == sev && strcmp(d->items[i].where, where) == 0 &&
            strstr(d->items[i].msg, needle))
            return true;
    return false;
}

/* Parse + resolve for amd64 / 6.1; the profile must be valid. */
typedef struct fixture {
    jc_seccomp_profile *p;
    jc_seccomp_resolved r;
} fixture;

static void load(fixture *f, const char *text, const jc_seccomp_env *env) {
    jc_err err = {0};
    jc_seccomp_diags d = {0};
    f->p = parse(text, &d, &err);
    if (!f->p)
        fail_msg("parse: %s", err.msg);
    if (jc_seccomp_resolve(f->p, env ? env : &amd64_6, &f->r, &d, &err) < 0)
        fail_msg("resolve: %s (%s)", err.msg, d.n ? d.items[0].msg : "");
    jc_seccomp_diags_free(&d);
}

static void unload(fixture *f) {
    jc_seccomp_resolved_free(&f->r);
    jc_seccomp_profile_free(f->p);
}

static char *fixture_text(const char *name) {
    const char *src = getenv("JC_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", src ? src : "..", name);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

/* ---- parsing ----------------------------------------------------------------------- */

static void test_parse_oci(void **state) {
    (void)state;
    const char *text =
        "{\"defaultAction\": \"SCMP_ACT_KILL_PROCESS\", \"architectures\": [\"SCMP_ARCH_X86_64\","
        " \"SCMP_ARCH_X86\"], \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"], \"syscalls\": [" BASE_RULE
        ", {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 97, \"args\":"
        " [{\"index\": 0, \"value\": 16, \"valueTwo\": 0, \"op\": \"SCMP_CMP_EQ\"}]},"
        " {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ERRNO\"}]}";
    jc_err err = {0};
    jc_seccomp_diags d = {0};
    jc_seccomp_profile *p = parse(text, &d, &err);
    assert_non_null(p);
    assert_int_equal(p->default_action.kind, JC_SCMP_KILL_PROCESS);
    assert_int_equal(p->narchitectures, 2);
    assert_string_equal(p->architectures[1], "SCMP_ARCH_X86");
    assert_int_equal(p->nrules, 3);
    assert_int_equal(p->rules[1].action.kind, JC_SCMP_ERRNO);
    assert_int_equal(p->rules[1].action.errno_ret, 97);
    assert_int_equal(p->rules[1].nargs, 1);
    assert_int_equal(p->rules[1].args[0].op, JC_SCMP_EQ);
    assert_int_equal(p->rules[1].args[0].value, 16);
    assert_int_equal(p->rules[1].nrs[0], SCMP_SYS(socket));
    /* errnoRet absent: EPERM, as the OCI spec says */
    assert_int_equal(p->rules[2].action.errno_ret, EPERM);
    /* flags are accepted with a warning that they are not applied */
    assert_true(has_diag(&d, JC_SCMP_DIAG_WARNING, "flags[0]", "not applied"));
    assert_int_equal(d.nerrors, 0);
    jc_seccomp_diags_free(&d);

    jc_seccomp_resolved r;
    assert_int_equal(jc_seccomp_resolve(p, &amd64_6, &r, NULL, &err), 0);
    assert_int_equal(r.narches, 2);
    assert_int_equal(r.arches[0], SCMP_ARCH_X86_64);
    assert_int_equal(r.arches[1], SCMP_ARCH_X86);
    jc_seccomp_resolved_free(&r);
    jc_seccomp_profile_free(p);
}

static void test_parse_docker_superset(void **state) {
    (void)state;
    char *text = fixture_text("tests/fixtures/docker-like.json");
    jc_err err = {0};
    jc_seccomp_diags d = {0};
    jc_seccomp_profile *p = parse(text, &d, &err);
    assert_non_null(p);
    assert_int_equal(d.nerrors, 0);
    assert_int_equal(p->narchmap, 5);
    assert_string_equal(p->archmap[0].arch, "SCMP_ARCH_X86_64");
    assert_int_equal(p->archmap[0].nsub, 2);
    assert_int_equal(p->archmap[4].nsub, 0); /* subArchitectures: null */
    /* rule 14: clone with excludes caps + arches and a comment */
    const jc_seccomp_rule *clone = &p->rules[14];
    assert_string_equal(clone->names[0], "clone");
    assert_int_equal(clone->excludes.ncaps, 1);
    assert_string_equal(clone->excludes.caps[0], "CAP_SYS_ADMIN");
    assert_int_equal(clone->excludes.narches, 2);
    assert_non_null(clone->comment);
    assert_int_equal(clone->args[0].op, JC_SCMP_MASKED_EQ);
    assert_int_equal(clone->args[0].value, 0x7E020000);
    /* mseal and listmount are newer than libseccomp: parsed, marked ignored */
    assert_int_equal(p->rules[38].nrs[0], JC_SCMP_IGNORED);
    /* archMap: x86_64 brings its sub-architectures into the filter */
    jc_seccomp_resolved r;
    assert_int_equal(jc_seccomp_resolve(p, &amd64_6, &r, NULL, &err), 0);
    assert_int_equal(r.narches, 3);
    assert_int_equal(r.arches[1], SCMP_ARCH_X86);
    assert_int_equal(r.arches[2], SCMP_ARCH_X32);
    jc_seccomp_filter f;
    assert_int_equal(jc_seccomp_compile(&r, &f, &err), 0);
    assert_true(f.len > 100);
    jc_seccomp_filter_free(&f);
    jc_seccomp_resolved_free(&r);
    jc_seccomp_profile_free(p);
    jc_seccomp_diags_free(&d);
    free(text);
}

static void test_errors_located(void **state) {
    (void)state;
    const char *text =
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"bogus\": 1, \"syscalls\": [" BASE_RULE ","
        " {\"names\": [\"read\", \"frobnicate\"], \"action\": \"SCMP_ACT_ALLOW\", \"extra\": true},"
        " {\"names\": [\"close\"], \"action\": \"SCMP_ACT_TRACE\"},"
        " {\"names\": [\"open\"], \"action\": \"SCMP_ACT_NOTIFY\"},"
        " {\"names\": [\"dup\"], \"action\": \"SCMP_ACT_MAYBE\"},"
        " {\"names\": [\"dup2\"], \"action\": \"SCMP_ACT_ALLOW\", \"errnoRet\": 1},"
        " {\"names\": [\"dup3\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": ["
        "   {\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"},"
        "   {\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_ROUGHLY\"},"
        "   {\"index\": 0, \"value\": -1, \"op\": \"SCMP_CMP_EQ\", \"when\": 1}]},"
        " {\"names\": [\"lseek\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": "
        "[\"SYS_ADMIN\"], \"arches\": [\"vax\"], \"minKernel\": \"five\", \"maxKernel\": \"6\"}},"
        " {\"names\": [], \"action\": \"SCMP_ACT_ALLOW\"}]}";
    jc_err err = {0};
    jc_seccomp_diags d = {0};
    assert_null(parse(text, &d, &err));
    assert_int_equal(err.code, JC_E_INVALID);
    assert_string_equal(err.field, "bogus"); /* the first error, with its location */
    assert_non_null(strstr(err.msg, "more errors"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "bogus", "unknown field"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[1].extra", "unknown field"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[1].names[1]",
                         "'frobnicate' is not a known system call"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[2].action", "SCMP_ACT_TRACE"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[3].action", "SCMP_ACT_NOTIFY"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[4].action", "unknown action"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[5].errnoRet", "only valid with"));
    assert_true(
        has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[6].args[0].index", "index 6 is out of range"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[6].args[1].op", "unknown operator"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[6].args[2].value", "integer"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[6].args[2].when", "unknown field"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[7].includes.caps[0]", "capability"));
    assert_true(
        has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[7].includes.arches[0]", "unknown architecture"));
    assert_true(
        has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[7].includes.minKernel", "not a kernel version"));
    assert_true(
        has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[7].includes.maxKernel", "unknown field"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[8].names", "at least one"));
    assert_int_equal(d.nerrors, 16);
    jc_seccomp_diags_free(&d);

    /* not JSON at all: located by line and column */
    assert_null(parse("{\"defaultAction\": }", &d, &err));
    assert_non_null(strstr(err.field, "line 1"));
    assert_non_null(strstr(err.msg, "not valid JSON"));
    jc_seccomp_diags_free(&d);
    /* duplicate keys are not silently merged */
    assert_null(parse("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultAction\": "
                      "\"SCMP_ACT_ERRNO\"}",
                      NULL, &err));
    /* a missing default action */
    assert_null(parse("{\"syscalls\": []}", &d, &err));
    assert_string_equal(err.field, "defaultAction");
    jc_seccomp_diags_free(&d);
    /* architectures and archMap together */
    assert_null(parse("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
                      "[\"SCMP_ARCH_X86_64\"], \"archMap\": []}",
                      NULL, &err));
    assert_string_equal(err.field, "archMap");
}

static void test_ignorable_names(void **state) {
    (void)state;
    fixture f;
    load(&f,
         "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" BASE_RULE
         ", {\"names\": [\"mseal\", \"getpid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
         NULL);
    assert_true(jc_seccomp_name_ignorable("mseal"));
    assert_false(jc_seccomp_name_ignorable("frobnicate"));
    jc_seccomp_verdict v;
    jc_err err = {0};
    assert_int_equal(jc_seccomp_explain(&f.r, "mseal", NULL, 0, &v, &err), 0);
    assert_true(v.ignored_name);
    assert_int_equal(v.action.kind, JC_SCMP_ERRNO); /* the default: the filter cannot name it */
    assert_int_equal(jc_seccomp_explain(&f.r, "getpid", NULL, 0, &v, &err), 0);
    assert_int_equal(v.action.kind, JC_SCMP_ALLOW);
    assert_int_equal(v.rule, 1);
    assert_int_equal(jc_seccomp_explain(&f.r, "frobnicate", NULL, 0, &v, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    unload(&f);
}

/* ---- resolution: required calls, conflicts ----------------------------------------- */

static void test_required_syscalls(void **state) {
    (void)state;
    jc_err err = {0};
    static const char *const bad[] = {
        /* execve explicitly denied in an allow-by-default profile */
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"execve\"], "
        "\"action\": \"SCMP_ACT_ERRNO\"}]}",
        /* write never allowed */
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"execve\", "
        "\"exit_group\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
        /* exit_group killed */
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"exit_group\"], "
        "\"action\": \"SCMP_ACT_KILL\"}]}",
    };
    static const char *const where[] = {"syscalls[0].action", "defaultAction",
                                        "syscalls[0].action"};
    static const char *const what[] = {"execve must be allowed", "write must be allowed",
                                       "exit_group must be allowed"};
    for (size_t i = 0; i < 3; i++) {
        jc_seccomp_diags d = {0};
        jc_seccomp_profile *p = parse(bad[i], &d, &err);
        assert_non_null(p);
        jc_seccomp_resolved r;
        assert_int_equal(jc_seccomp_resolve(p, &amd64_6, &r, &d, &err), -1);
        assert_int_equal(err.code, JC_E_INVALID);
        assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, where[i], what[i]));
        jc_seccomp_diags_free(&d);
        jc_seccomp_profile_free(p);
    }
    /* And compile_file refuses such a file end to end. */
    char path[] = "/tmp/jc-seccomp-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bad[0], strlen(bad[0])), (ssize_t)strlen(bad[0]));
    close(fd);
    jc_seccomp_filter f;
    assert_int_equal(jc_seccomp_compile_file(path, &f, &err), -1);
    assert_non_null(strstr(err.msg, "cannot be used for a job"));
    unlink(path);
}

static void test_conflicts_rejected(void **state) {
    (void)state;
    jc_err err = {0};
    jc_seccomp_diags d = {0};
    /* two unconditional rules, different actions */
    jc_seccomp_profile *p =
        parse("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" BASE_RULE
              ", {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ALLOW\"},"
              " {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_KILL\"}]}",
              &d, &err);
    assert_non_null(p);
    jc_seccomp_resolved r;
    assert_int_equal(jc_seccomp_resolve(p, &amd64_6, &r, &d, &err), -1);
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[2].names", "different actions"));
    jc_seccomp_profile_free(p);
    jc_seccomp_diags_free(&d);
    /* conditional rules with different actions for one syscall */
    p = parse("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" BASE_RULE
              ", {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": "
              "0, \"value\": 2, \"op\": \"SCMP_CMP_EQ\"}]},"
              " {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 97, "
              "\"args\": [{\"index\": 0, \"value\": 16, \"op\": \"SCMP_CMP_EQ\"}]}]}",
              &d, &err);
    assert_non_null(p);
    assert_int_equal(jc_seccomp_resolve(p, &amd64_6, &r, &d, &err), -1);
    assert_true(has_diag(&d, JC_SCMP_DIAG_ERROR, "syscalls[2].names", "conditional rules"));
    jc_seccomp_profile_free(p);
    jc_seccomp_diags_free(&d);
    /* the same conflict in a rule that does not apply to a job is no conflict */
    p = parse("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" BASE_RULE
              ", {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ALLOW\"},"
              " {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_KILL\", \"includes\": {\"caps\":"
              " [\"CAP_SYS_ADMIN\"]}}]}",
              &d, &err);
    assert_int_equal(jc_seccomp_resolve(p, &amd64_6, &r, &d, &err), 0);
    jc_seccomp_resolved_free(&r);
    jc_seccomp_profile_free(p);
    jc_seccomp_diags_free(&d);
}

/* ---- arguments: every operator, model against compiled BPF ------------------------- */

static uint32_t expected_ret(jc_seccomp_action a) {
    switch (a.kind) {
    case JC_SCMP_ALLOW: return SECCOMP_RET_ALLOW;
    case JC_SCMP_ERRNO: return SECCOMP_RET_ERRNO | (uint32_t)a.errno_ret;
    case JC_SCMP_KILL_THREAD: return SECCOMP_RET_KILL_THREAD;
    case JC_SCMP_KILL_PROCESS: return SECCOMP_RET_KILL_PROCESS;
    case JC_SCMP_TRAP: return SECCOMP_RET_TRAP;
    case JC_SCMP_LOG: return SECCOMP_RET_LOG;
    case JC_SCMP_NOTIFY: return SECCOMP_RET_USER_NOTIF;
    }
    return 0;
}

typedef struct arg_case {
    const char *syscall;
    uint64_t arg[6];
    bool allowed;
} arg_case;

static void test_args_every_operator(void **state) {
    (void)state;
    fixture f;
    load(
        &f,
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 13, \"syscalls\": [" BASE_RULE
        ", {\"names\": [\"dup\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, "
        "\"value\": 5, \"op\": \"SCMP_CMP_NE\"}]},"
        " {\"names\": [\"dup2\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 1, "
        "\"value\": 10, \"op\": \"SCMP_CMP_LT\"}]},"
        " {\"names\": [\"dup3\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 2, "
        "\"value\": 10, \"op\": \"SCMP_CMP_LE\"}]},"
        " {\"names\": [\"close\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, "
        "\"value\": 3, \"op\": \"SCMP_CMP_EQ\"}]},"
        " {\"names\": [\"lseek\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 5, "
        "\"value\": 4294967296, \"op\": \"SCMP_CMP_GE\"}]},"
        " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 3, "
        "\"value\": 100, \"op\": \"SCMP_CMP_GT\"}]},"
        " {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, "
        "\"value\": 2114060288, \"valueTwo\": 0, \"op\": \"SCMP_CMP_MASKED_EQ\"}]},"
        /* distinct arguments: AND */
        " {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, "
        "\"value\": 1, \"op\": \"SCMP_CMP_GT\"}, {\"index\": 1, \"value\": 9, \"op\": "
        "\"SCMP_CMP_EQ\"}]},"
        /* the same argument twice: OR */
        " {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, "
        "\"value\": 1, \"op\": \"SCMP_CMP_EQ\"}, {\"index\": 0, \"value\": 10, \"op\": "
        "\"SCMP_CMP_EQ\"}]},"
        /* a conditional non-allow action */
        " {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 5, \"args\": "
        "[{\"index\": 0, \"value\": 7, \"op\": \"SCMP_CMP_EQ\"}]}"
        "]}",
        NULL);
    static const arg_case cases[] = {
        {"dup", {4}, true},
        {"dup", {5}, false},
        {"dup", {5 | (1ull << 32)}, true}, /* 64-bit compare: high bits count */
        {"dup2", {0, 9}, true},
        {"dup2", {0, 10}, false},
        {"dup2", {0, 1ull << 40}, false},
        {"dup3", {0, 0, 10}, true},
        {"dup3", {0, 0, 11}, false},
        {"close", {3}, true},
        {"close", {4}, false},
        {"close", {3 | (1ull << 33)}, false},
        {"lseek", {0, 0, 0, 0, 0, 4294967296ull}, true},
        {"lseek", {0, 0, 0, 0, 0, 4294967295ull}, false},
        {"read", {0, 0, 0, 101}, true},
        {"read", {0, 0, 0, 100}, false},
        {"clone", {0x11 /* SIGCHLD */}, true},
        {"clone", {0x10000000 | 0x11}, false},      /* CLONE_NEWUSER */
        {"clone", {0x00020000}, false},             /* CLONE_NEWNS */
        {"clone", {0x40000000}, false},             /* CLONE_NEWNET */
        {"clone", {0x00010000 | 0x00000100}, true}, /* CLONE_THREAD | CLONE_VM */
        {"kill", {2, 9}, true},
        {"kill", {2, 15}, false},
        {"kill", {1, 9}, false},
        {"socket", {1}, true},
        {"socket", {10}, true},
        {"socket", {2}, false},
        {"socket", {16}, false},
    };
    jc_seccomp_filter filt;
    jc_err err = {0};
    assert_int_equal(jc_seccomp_compile(&f.r, &filt, &err), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const arg_case *c = &cases[i];
        jc_seccomp_verdict v;
        assert_int_equal(jc_seccomp_explain(&f.r, c->syscall, c->arg, 6, &v, &err), 0);
        if ((v.action.kind == JC_SCMP_ALLOW) != c->allowed)
            fail_msg("case %zu (%s): model says %d", i, c->syscall, v.action.kind);
        if (!c->allowed)
            assert_int_equal(v.action.errno_ret, 13);
        uint32_t ret = jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86_64,
                                              seccomp_syscall_resolve_name(c->syscall), c->arg);
        if (ret != expected_ret(v.action))
            fail_msg("case %zu (%s): BPF returns 0x%x, model 0x%x", i, c->syscall, ret,
                     expected_ret(v.action));
    }
    /* conditional ERRNO 5 on getpid(7), default otherwise */
    jc_seccomp_verdict v;
    uint64_t seven[6] = {7};
    assert_int_equal(jc_seccomp_explain(&f.r, "getpid", seven, 1, &v, &err), 0);
    assert_int_equal(v.action.errno_ret, 5);
    assert_int_equal(v.rule, 10);
    assert_int_equal(jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86_64, SCMP_SYS(getpid), seven),
                     SECCOMP_RET_ERRNO | 5);
    /* a call from another architecture is killed, whatever its number */
    assert_int_equal(jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86, SCMP_SYS(write), NULL),
                     SECCOMP_RET_KILL_PROCESS);
    char cond[128];
    assert_string_equal(jc_seccomp_rule_conditions(&f.p->rules[9], cond, sizeof(cond)),
                        "arg0 == 1 or arg0 == 10");
    assert_string_equal(jc_seccomp_rule_conditions(&f.p->rules[8], cond, sizeof(cond)),
                        "arg0 > 1 and arg1 == 9");
    assert_string_equal(jc_seccomp_rule_conditions(&f.p->rules[7], cond, sizeof(cond)),
                        "arg0 & 0x7e020000 == 0");
    jc_seccomp_filter_free(&filt);
    unload(&f);
}

/* ---- includes / excludes ------------------------------------------------------------ */

static void test_includes_excludes(void **state) {
    (void)state;
    const char *text =
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" BASE_RULE ","
        /* 1 */ " {\"names\": [\"mount\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": "
        "{\"caps\": [\"CAP_SYS_ADMIN\"]}},"
        /* 2 */ " {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": "
        "{\"caps\": [\"CAP_SYS_ADMIN\"]}},"
        /* 3 */ " {\"names\": [\"arch_prctl\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": "
        "{\"arches\": [\"amd64\", \"x32\"]}},"
        /* 4 */ " {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": "
        "{\"arches\": [\"arm64\"]}},"
        /* 5 */ " {\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": "
        "{\"minKernel\": \"4.8\"}},"
        /* 6 */ " {\"names\": [\"gettid\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": "
        "{\"minKernel\": \"5.10\"}},"
        /* 7 */ " {\"names\": [\"getuid\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": "
        "{\"arches\": [\"x86_64\"], \"minKernel\": \"5.4\"}}"
        "]}";
    const jc_seccomp_env old_amd64 = {.arch = SCMP_ARCH_X86_64, .kernel = {4, 4, 0}};
    const jc_seccomp_env new_arm64 = {.arch = SCMP_ARCH_AARCH64, .kernel = {6, 6, 0}};
    fixture f;
    load(&f, text, &amd64_6);
    bool want_new_amd64[] = {true, false, true, true, true, true, false, true};
    for (size_t i = 0; i < 8; i++)
        if (f.r.applies[i] != want_new_amd64[i])
            fail_msg("amd64/6.1: rule %zu applies=%d", i, f.r.applies[i]);
    assert_non_null(strstr(f.r.why_not[1], "CAP_SYS_ADMIN"));
    assert_non_null(strstr(f.r.why_not[6], "5.10"));
    unload(&f);
    load(&f, text, &old_amd64);
    bool want_old_amd64[] = {true, false, true, true, true, false, true, false};
    for (size_t i = 0; i < 8; i++)
        if (f.r.applies[i] != want_old_amd64[i])
            fail_msg("amd64/4.4: rule %zu applies=%d", i, f.r.applies[i]);
    jc_seccomp_verdict v;
    assert_int_equal(jc_seccomp_explain(&f.r, "ptrace", NULL, 0, &v, NULL), 0);
    assert_int_equal(v.action.kind, JC_SCMP_ERRNO); /* below minKernel: default */
    unload(&f);
    load(&f, text, &new_arm64);
    bool want_arm64[] = {true, false, true, false, false, true, false, false};
    for (size_t i = 0; i < 8; i++)
        if (f.r.applies[i] != want_arm64[i])
            fail_msg("arm64/6.6: rule %zu applies=%d", i, f.r.applies[i]);
    assert_non_null(strstr(f.r.why_not[3], "arm64"));
    unload(&f);

    unsigned k[3];
    assert_int_equal(jc_seccomp_parse_kernel("6.1.0-18-amd64", k, NULL), 0);
    assert_int_equal(k[0], 6);
    assert_int_equal(k[1], 1);
    assert_int_equal(k[2], 0);
    assert_int_equal(jc_seccomp_parse_kernel("5.8", k, NULL), 0);
    assert_int_equal(k[1], 8);
    assert_int_equal(jc_seccomp_parse_kernel("linux", k, NULL), -1);
}

/* ---- the Docker-like fixture: Docker's verdicts for a job with no capabilities ------- */

typedef struct docker_case {
    const char *syscall;
    size_t nargs;
    uint64_t args[6];
    jc_seccomp_act kind;
    int errno_ret;
} docker_case;

static void test_docker_fixture_verdicts(void **state) {
    (void)state;
    char *text = fixture_text("tests/fixtures/docker-like.json");
    fixture f;
    load(&f, text, &amd64_6);
    static const docker_case cases[] = {
        {"read", 0, {0}, JC_SCMP_ALLOW, 0},
        {"mount", 0, {0}, JC_SCMP_ERRNO, 1},   /* includes CAP_SYS_ADMIN */
        {"unshare", 0, {0}, JC_SCMP_ERRNO, 1}, /* includes CAP_SYS_ADMIN */
        {"ptrace", 0, {0}, JC_SCMP_ALLOW, 0},  /* minKernel 4.8 */
        {"process_vm_readv", 0, {0}, JC_SCMP_ERRNO, 1},
        {"clone", 1, {0x11}, JC_SCMP_ALLOW, 0}, /* excludes CAP_SYS_ADMIN → applies */
        {"clone", 1, {0x10000011}, JC_SCMP_ERRNO, 1},
        {"clone3", 0, {0}, JC_SCMP_ERRNO, 38}, /* excludes CAP_SYS_ADMIN → ENOSYS */
        {"personality", 1, {8}, JC_SCMP_ALLOW, 0},
        {"personality", 1, {0x0400000}, JC_SCMP_ERRNO, 1},
        {"arch_prctl", 0, {0}, JC_SCMP_ALLOW, 0}, /* includes amd64 */
        {"modify_ldt", 0, {0}, JC_SCMP_ALLOW, 0},
        {"socket", 1, {2}, JC_SCMP_ALLOW, 0},
        {"socket", 1, {40}, JC_SCMP_ERRNO, 1},               /* AF_VSOCK: NE fails */
        {"ioprio_set", 3, {1, 0, 0x4000}, JC_SCMP_ALLOW, 0}, /* LT 0x6000 */
        {"ioprio_set", 3, {1, 0, 0x6000}, JC_SCMP_ERRNO, 1},
        {"sched_setscheduler", 2, {0, 0}, JC_SCMP_ALLOW, 0}, /* LE 0 */
        {"sched_setscheduler", 2, {0, 1}, JC_SCMP_ERRNO, 1},
        {"setpriority", 3, {0, 0, 5}, JC_SCMP_ALLOW, 0}, /* GE 0 and LE 2 */
        {"setpriority", 3, {3, 0, 5}, JC_SCMP_ERRNO, 1},
        {"kexec_file_load", 0, {0}, JC_SCMP_KILL_PROCESS, 0},
        {"uselib", 0, {0}, JC_SCMP_ERRNO, 1},      /* excluded from 3.0 on */
        {"userfaultfd", 0, {0}, JC_SCMP_ERRNO, 1}, /* minKernel 99.0 */
        {"open_by_handle_at", 0, {0}, JC_SCMP_ERRNO, 1},
        {"getrandom", 3, {0, 0, 2}, JC_SCMP_ALLOW, 0}, /* conditional ERRNO is dead */
        {"mseal", 0, {0}, JC_SCMP_ERRNO, 1},
        {"reboot", 0, {0}, JC_SCMP_ERRNO, 1},
        {"bpf", 0, {0}, JC_SCMP_ERRNO, 1},
    };
    jc_seccomp_filter filt;
    jc_err err = {0};
    assert_int_equal(jc_seccomp_compile(&f.r, &filt, &err), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const docker_case *c = &cases[i];
        jc_seccomp_verdict v;
        if (jc_seccomp_explain(&f.r, c->syscall, c->nargs ? c->args : NULL, c->nargs, &v, &err))
            fail_msg("%s: %s", c->syscall, err.msg);
        if (v.action.kind != c->kind ||
            (c->kind == JC_SCMP_ERRNO && v.action.errno_ret != c->errno_ret))
            fail_msg("case %zu %s: verdict %d/%d, Docker's %d/%d", i, c->syscall, v.action.kind,
                     v.action.errno_ret, c->kind, c->errno_ret);
        int nr = seccomp_syscall_resolve_name(c->syscall);
        if (nr >= 0 && !(v.conditional && c->nargs == 0)) {
            uint32_t ret = jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86_64, nr, c->args);
            if (ret != expected_ret(v.action))
                fail_msg("case %zu %s: BPF 0x%x, model 0x%x", i, c->syscall, ret,
                         expected_ret(v.action));
        }
    }
    /* the rule that decides clone is the excludes one (index 14) */
    jc_seccomp_verdict v;
    uint64_t a[6] = {0x11};
    assert_int_equal(jc_seccomp_explain(&f.r, "clone", a, 1, &v, &err), 0);
    assert_int_equal(v.rule, 14);
    assert_true(v.conditional);
    /* a name that is not a system call here */
    assert_int_equal(jc_seccomp_explain(&f.r, "socketcall", NULL, 0, &v, &err), -1);
    jc_seccomp_filter_free(&filt);
    unload(&f);

    /* The same profile on s390x: the other clone rule decides (flags in arg1). */
    const jc_seccomp_env s390x = {.arch = SCMP_ARCH_S390X, .kernel = {6, 1, 0}};
    load(&f, text, &s390x);
    assert_false(f.r.applies[14]);
    assert_true(f.r.applies[15]);
    assert_false(f.r.applies[8]); /* arch_prctl: amd64 only */
    assert_true(f.r.applies[10]); /* the s390 calls */
    uint64_t s390_args[6] = {0, 0x10000000};
    assert_int_equal(jc_seccomp_explain(&f.r, "clone", s390_args, 2, &v, &err), 0);
    assert_int_equal(v.action.kind, JC_SCMP_ERRNO);
    unload(&f);
    free(text);
}

/* ---- check ------------------------------------------------------------------------- */

static void test_check_findings(void **state) {
    (void)state;
    fixture f;
    load(
        &f,
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" BASE_RULE ","
        /* 1 */ " {\"names\": [\"ptrace\", \"getpid\", \"socket\"], \"action\": "
        "\"SCMP_ACT_ALLOW\"},"
        /* 2 */ " {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": "
        "0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]},"
        /* 3 */ " {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\"},"
        /* 4 */ " {\"names\": [\"gettid\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": "
        "0, \"value\": 0, \"op\": \"SCMP_CMP_LT\"}]},"
        /* 5 */ " {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ALLOW\"},"
        /* 6 */ " {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ALLOW\"},"
        /* 7 */ " {\"names\": [\"mount\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": "
        "{\"caps\": [\"CAP_SYS_ADMIN\"]}}"
        "]}",
        NULL);
    jc_seccomp_summary sum;
    jc_seccomp_diags d = {0};
    jc_err err = {0};
    assert_int_equal(jc_seccomp_check(&f.r, &sum, &d, &err), 0);
    /* execve write exit_group ptrace getpid socket clone */
    assert_int_equal(sum.allowed_unconditional, 7);
    assert_int_equal(sum.allowed_conditional, 1); /* gettid (unsatisfiable, but conditional) */
    assert_true(sum.filter_len > 0);
    assert_true(has_diag(&d, JC_SCMP_DIAG_WARNING, "syscalls[1]", "dangerous: ptrace"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_WARNING, "syscalls[1]", "AF_NETLINK"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_WARNING, "syscalls[1]", "AF_PACKET"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_WARNING, "syscalls[1]", "AF_VSOCK"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_WARNING, "syscalls[5]", "clone is allowed with flag"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_WARNING, "syscalls[2].names[0]",
                         "never matches 'getpid': syscalls[1]"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_WARNING, "syscalls[3]", "default action"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_WARNING, "syscalls[4]", "can never match"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_NOTE, "syscalls[6].names[0]", "also in syscalls[1]"));
    assert_true(has_diag(&d, JC_SCMP_DIAG_NOTE, "syscalls[7]", "CAP_SYS_ADMIN"));
    assert_int_equal(d.nerrors, 0);
    jc_seccomp_diags_free(&d);
    unload(&f);

    /* The shipped default profile: valid, denies the dangerous list, no dangerous warning. */
    const char *src = getenv("JC_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/profiles/default.json", src ? src : "..");
    jc_seccomp_profile *p = jc_seccomp_profile_load(path, &d, &err);
    assert_non_null(p);
    jc_seccomp_resolved r;
    assert_int_equal(jc_seccomp_resolve(p, NULL, &r, &d, &err), 0);
    assert_int_equal(jc_seccomp_check(&r, &sum, &d, &err), 0);
    for (size_t i = 0; i < d.n; i++)
        if (d.items[i].severity != JC_SCMP_DIAG_NOTE)
            fail_msg("default.json: %s: %s", d.items[i].where, d.items[i].msg);
    jc_seccomp_resolved_free(&r);
    jc_seccomp_profile_free(p);
    jc_seccomp_diags_free(&d);
}

/* ---- diff -------------------------------------------------------------------------- */

static void test_diff(void **state) {
    (void)state;
    const char *a_text =
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" BASE_RULE
        ", {\"names\": [\"getpid\", \"ptrace\"], \"action\": \"SCMP_ACT_ALLOW\"},"
        " {\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38},"
        " {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, "
        "\"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}";
    const char *b_text =
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"exit_group\", "
        "\"write\", \"execve\", \"getpid\", \"gettid\"], \"action\": \"SCMP_ACT_ALLOW\"},"
        " {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, "
        "\"value\": 2, \"op\": \"SCMP_CMP_EQ\"}]}]}";
    fixture a, b;
    load(&a, a_text, NULL);
    load(&b, b_text, NULL);
    jc_seccomp_diff ab, ba, aa;
    jc_err err = {0};
    assert_int_equal(jc_seccomp_diff_compute(&a.r, &b.r, &ab, &err), 0);
    assert_int_equal(jc_seccomp_diff_compute(&b.r, &a.r, &ba, &err), 0);
    assert_int_equal(jc_seccomp_diff_compute(&a.r, &a.r, &aa, &err), 0);
    assert_int_equal(aa.n, 0);
    /* clone3 (ENOSYS vs EPERM), gettid, ptrace, socket — sorted by name */
    assert_int_equal(ab.n, 4);
    assert_string_equal(ab.items[0].syscall, "clone3");
    assert_string_equal(ab.items[1].syscall, "gettid");
    assert_string_equal(ab.items[2].syscall, "ptrace");
    assert_string_equal(ab.items[3].syscall, "socket");
    assert_int_equal(ab.items[0].a.action.errno_ret, 38);
    assert_int_equal(ab.items[0].b.action.errno_ret, 1);
    assert_non_null(strstr(ab.items[3].a_rule, "arg0 == 1"));
    assert_non_null(strstr(ab.items[3].b_rule, "arg0 == 2"));
    /* symmetric: same syscalls, sides swapped */
    assert_int_equal(ba.n, ab.n);
    for (size_t i = 0; i < ab.n; i++) {
        assert_string_equal(ab.items[i].syscall, ba.items[i].syscall);
        assert_string_equal(ab.items[i].a_rule, ba.items[i].b_rule);
        assert_string_equal(ab.items[i].b_rule, ba.items[i].a_rule);
    }
    jc_seccomp_diff_free(&ab);
    jc_seccomp_diff_free(&ba);
    jc_seccomp_diff_free(&aa);
    unload(&a);
    unload(&b);
}

/* ---- directory sets and reload ------------------------------------------------------ */

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_set_load_and_reload(void **state) {
    (void)state;
    char dir[] = "/tmp/jc-seccomp-set-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *good = "{\"description\": \"good one\", \"defaultAction\": \"SCMP_ACT_ERRNO\", "
                       "\"syscalls\": [" BASE_RULE "]}";
    write_file(dir, "good.json", good);
    write_file(dir, "other.json", good);
    write_file(dir, "Bad Name.json", good); /* not a profile name: skipped */
    write_file(dir, "notes.txt", "x");
    jc_err err = {0};
    jc_seccomp_set *s1 = jc_seccomp_set_load(dir, NULL, &err);
    assert_non_null(s1);
    assert_int_equal(s1->n, 2);
    assert_string_equal(s1->entries[0].name, "good");
    assert_string_equal(s1->entries[0].description, "good one");
    assert_null(s1->entries[0].error);
    const jc_seccomp_entry *e = jc_seccomp_set_find(s1, "good");
    assert_non_null(e);
    assert_true(e->filter.len > 0);
    assert_null(jc_seccomp_set_find(s1, "missing"));

    /* break one: a reload keeps its previous filter and reports the error */
    write_file(dir, "good.json",
               "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": "
               "[{\"names\": [\"frobnicate\"], \"action\": \"SCMP_ACT_ALLOW\"}]}");
    write_file(dir, "new.json",
               "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
               "[{\"names\": [\"execve\"], \"action\": \"SCMP_ACT_KILL\"}]}");
    jc_seccomp_set *s2 = jc_seccomp_set_load(dir, s1, &err);
    assert_non_null(s2);
    assert_int_equal(s2->n, 3);
    e = &s2->entries[0];
    assert_string_equal(e->name, "good");
    assert_non_null(e->error);
    assert_non_null(strstr(e->error, "frobnicate"));
    assert_true(e->stale);
    assert_string_equal(e->description, "good one");
    assert_int_equal(e->filter.len, s1->entries[0].filter.len);
    assert_memory_equal(e->filter.insns, s1->entries[0].filter.insns,
                        e->filter.len * sizeof(*e->filter.insns));
    assert_ptr_equal(jc_seccomp_set_find(s2, "good"), e);
    /* a new broken profile has nothing to fall back on */
    e = &s2->entries[1];
    assert_string_equal(e->name, "new");
    assert_non_null(strstr(e->error, "execve must be allowed"));
    assert_false(e->stale);
    assert_int_equal(e->filter.len, 0);
    assert_null(jc_seccomp_set_find(s2, "new"));
    jc_seccomp_set_free(s1);
    jc_seccomp_set_free(s2);

    assert_null(jc_seccomp_set_load("/nonexistent/profiles", NULL, &err));
    assert_int_equal(err.code, JC_E_SYS);

    /* locate: names in the directory, paths as given */
    char *p = jc_seccomp_locate(dir, "other", &err);
    assert_non_null(p);
    assert_non_null(strstr(p, "/other.json"));
    free(p);
    assert_null(jc_seccomp_locate(dir, "missing", &err));
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    assert_null(jc_seccomp_locate(dir, "..", &err));
    p = jc_seccomp_locate(dir, "./x.json", &err);
    assert_string_equal(p, "./x.json");
    free(p);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- learn variant ----------------------------------------------------------------- */

static void test_learn_filter(void **state) {
    (void)state;
    fixture f;
    load(&f,
         "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" BASE_RULE
         ", {\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38},"
         " {\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"},"
         " {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, "
         "\"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
         NULL);
    jc_seccomp_filter filt;
    jc_err err = {0};
    assert_int_equal(jc_seccomp_compile_learn(&f.r, &filt, &err), 0);
    uint64_t unix_args[6] = {1}, inet_args[6] = {2};
    assert_int_equal(jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86_64, SCMP_SYS(write), NULL),
                     SECCOMP_RET_ALLOW);
    assert_int_equal(jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86_64, SCMP_SYS(getpid), NULL),
                     SECCOMP_RET_USER_NOTIF);
    assert_int_equal(jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86_64, SCMP_SYS(ptrace), NULL),
                     SECCOMP_RET_USER_NOTIF);
    assert_int_equal(jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86_64, SCMP_SYS(clone3), NULL),
                     SECCOMP_RET_ERRNO | ENOSYS);
    assert_int_equal(jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86_64, SCMP_SYS(socket), unix_args),
                     SECCOMP_RET_ALLOW);
    assert_int_equal(jc_seccomp_filter_eval(&filt, SCMP_ARCH_X86_64, SCMP_SYS(socket), inet_args),
                     SECCOMP_RET_USER_NOTIF);
    jc_seccomp_filter_free(&filt);
    unload(&f);
}

static void test_dangerous_list(void **state) {
    (void)state;
    uint64_t ns[1] = {0x10000000 | 17}, plain[1] = {17}, nl[1] = {16}, inet[1] = {2};
    assert_non_null(jc_seccomp_dangerous("ptrace", NULL, 0));
    assert_non_null(jc_seccomp_dangerous("io_uring_setup", NULL, 0));
    assert_non_null(jc_seccomp_dangerous("clone", ns, 1));
    assert_null(jc_seccomp_dangerous("clone", plain, 1));
    assert_null(jc_seccomp_dangerous("clone", NULL, 0));
    assert_non_null(jc_seccomp_dangerous("socket", nl, 1));
    assert_null(jc_seccomp_dangerous("socket", inet, 1));
    uint64_t vsock[1] = {40};
    assert_non_null(jc_seccomp_dangerous("socket", vsock, 1));
    assert_null(jc_seccomp_dangerous("read", NULL, 0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_oci),
        cmocka_unit_test(test_parse_docker_superset),
        cmocka_unit_test(test_errors_located),
        cmocka_unit_test(test_ignorable_names),
        cmocka_unit_test(test_required_syscalls),
        cmocka_unit_test(test_conflicts_rejected),
        cmocka_unit_test(test_args_every_operator),
        cmocka_unit_test(test_includes_excludes),
        cmocka_unit_test(test_docker_fixture_verdicts),
        cmocka_unit_test(test_check_findings),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_set_load_and_reload),
        cmocka_unit_test(test_learn_filter),
        cmocka_unit_test(test_dangerous_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
