/* seccomp.c: resolve a parsed profile for a job, compile it with libseccomp, and run a
 * compiled filter in user space (for explain and the tests).
 *
 * The compiled filter must do exactly what the resolved profile says, so compilation
 * feeds libseccomp only rules whose meaning is unambiguous (seccomp.h: "Semantics"); the
 * resolver rejects the rest before libseccomp would silently pick a winner. */
#include "jobcell/seccomp.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "seccomp_internal.h"

#define FILTER_MAX_BYTES (1u << 20) /* BPF_MAXINSNS (4096) × 8 bytes, with room */

/* ---- architectures ----------------------------------------------------------------- */

static const struct {
    uint32_t token;
    const char *names[4]; /* Go name first (what Docker's `arches` use) */
} arch_table[] = {
    {SCMP_ARCH_X86_64, {"amd64", "x86_64", "SCMP_ARCH_X86_64"}},
    {SCMP_ARCH_X86, {"386", "x86", "i386", "SCMP_ARCH_X86"}},
    {SCMP_ARCH_X32, {"x32", "SCMP_ARCH_X32"}},
    {SCMP_ARCH_ARM, {"arm", "SCMP_ARCH_ARM"}},
    {SCMP_ARCH_AARCH64, {"arm64", "aarch64", "SCMP_ARCH_AARCH64"}},
    {SCMP_ARCH_MIPS, {"mips", "SCMP_ARCH_MIPS"}},
    {SCMP_ARCH_MIPSEL, {"mipsle", "mipsel", "SCMP_ARCH_MIPSEL"}},
    {SCMP_ARCH_MIPS64, {"mips64", "SCMP_ARCH_MIPS64"}},
    {SCMP_ARCH_MIPSEL64, {"mips64le", "mipsel64", "SCMP_ARCH_MIPSEL64"}},
    {SCMP_ARCH_MIPS64N32, {"mips64n32", "SCMP_ARCH_MIPS64N32"}},
    {SCMP_ARCH_MIPSEL64N32, {"mips64len32", "mipsel64n32", "SCMP_ARCH_MIPSEL64N32"}},
    {SCMP_ARCH_PPC, {"ppc", "SCMP_ARCH_PPC"}},
    {SCMP_ARCH_PPC64, {"ppc64", "SCMP_ARCH_PPC64"}},
    {SCMP_ARCH_PPC64LE, {"ppc64le", "SCMP_ARCH_PPC64LE"}},
    {SCMP_ARCH_S390, {"s390", "SCMP_ARCH_S390"}},
    {SCMP_ARCH_S390X, {"s390x", "SCMP_ARCH_S390X"}},
    {SCMP_ARCH_PARISC, {"parisc", "SCMP_ARCH_PARISC"}},
    {SCMP_ARCH_PARISC64, {"parisc64", "SCMP_ARCH_PARISC64"}},
    {SCMP_ARCH_RISCV64, {"riscv64", "SCMP_ARCH_RISCV64"}},
};

uint32_t jc_seccomp_arch_parse(const char *name) {
    for (size_t i = 0; i < JC_ARRAY_LEN(arch_table); i++)
        for (size_t k = 0; k < JC_ARRAY_LEN(arch_table[i].names) && arch_table[i].names[k]; k++)
            if (strcmp(name, arch_table[i].names[k]) == 0)
                return arch_table[i].token;
    return 0;
}

const char *jc_seccomp_arch_go_name(uint32_t arch) {
    for (size_t i = 0; i < JC_ARRAY_LEN(arch_table); i++)
        if (arch_table[i].token == arch)
            return arch_table[i].names[0];
    return "unknown";
}

/* Architectures whose system calls a process of `native` can make, so a filter for
 * native may also cover them (libseccomp refuses arches of another byte order anyway). */
static bool arch_companion(uint32_t native, uint32_t other) {
    if (native == other)
        return true;
    if (native == SCMP_ARCH_X86_64)
        return other == SCMP_ARCH_X86 || other == SCMP_ARCH_X32;
    if (native == SCMP_ARCH_AARCH64)
        return other == SCMP_ARCH_ARM;
    if (native == SCMP_ARCH_S390X)
        return other == SCMP_ARCH_S390;
    if (native == SCMP_ARCH_PPC64LE || native == SCMP_ARCH_PPC64)
        return other == SCMP_ARCH_PPC;
    return false;
}

/* ---- kernel version ---------------------------------------------------------------- */

int jc_seccomp_parse_kernel(const char *release, unsigned kernel[3], jc_err *err) {
    kernel[0] = kernel[1] = kernel[2] = 0;
    const char *s = release;
    for (int part = 0; part < 3; part++) {
        if (!isdigit((unsigned char)*s)) {
            if (part >= 2)
                break; /* "5.8" has no patch level */
            return jc_err_set(err, JC_E_INVALID, "'%s' is not a kernel version", release);
        }
        unsigned long v = strtoul(s, (char **)&s, 10);
        if (v > 100000)
            return jc_err_set(err, JC_E_INVALID, "'%s' is not a kernel version", release);
        kernel[part] = (unsigned)v;
        if (*s != '.')
            break;
        s++;
    }
    if (s == release || (kernel[0] == 0 && kernel[1] == 0))
        return jc_err_set(err, JC_E_INVALID, "'%s' is not a kernel version", release);
    return 0;
}

static int kernel_cmp(const unsigned a[3], const unsigned b[3]) {
    for (int i = 0; i < 3; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

int jc_seccomp_env_native(jc_seccomp_env *env, jc_err *err) {
    struct utsname u;
    if (uname(&u) < 0)
        return jc_err_sys(err, errno, "uname");
    env->arch = seccomp_arch_native();
    return jc_seccomp_parse_kernel(u.release, env->kernel, err);
}

/* ---- conditions -------------------------------------------------------------------- */

bool jc_seccomp_arg_matches(const jc_seccomp_arg *a, uint64_t v) {
    switch (a->op) {
    case JC_SCMP_NE: return v != a->value;
    case JC_SCMP_LT: return v < a->value;
    case JC_SCMP_LE: return v <= a->value;
    case JC_SCMP_EQ: return v == a->value;
    case JC_SCMP_GE: return v >= a->value;
    case JC_SCMP_GT: return v > a->value;
    case JC_SCMP_MASKED_EQ: return (v & a->value) == a->value_two;
    }
    return false;
}

bool jc_seccomp_rule_matches(const jc_seccomp_rule *r, const uint64_t args[6]) {
    if (r->nargs == 0)
        return true;
    if (jc_seccomp_rule_args_repeat(r)) {
        for (size_t i = 0; i < r->nargs; i++)
            if (jc_seccomp_arg_matches(&r->args[i], args[r->args[i].index]))
                return true;
        return false;
    }
    for (size_t i = 0; i < r->nargs; i++)
        if (!jc_seccomp_arg_matches(&r->args[i], args[r->args[i].index]))
            return false;
    return true;
}

static bool arg_satisfiable(const jc_seccomp_arg *a) {
    switch (a->op) {
    case JC_SCMP_LT: return a->value > 0;
    case JC_SCMP_GT: return a->value < UINT64_MAX;
    case JC_SCMP_MASKED_EQ: return (a->value_two & ~a->value) == 0;
    default: return true;
    }
}

bool jc_seccomp_rule_satisfiable(const jc_seccomp_rule *r) {
    bool repeat = jc_seccomp_rule_args_repeat(r);
    for (size_t i = 0; i < r->nargs; i++) {
        bool ok = arg_satisfiable(&r->args[i]);
        if (repeat && ok)
            return true; /* one alternative is enough */
        if (!repeat && !ok)
            return false;
    }
    return !repeat || r->nargs == 0;
}

bool jc_seccomp_rule_names(const jc_seccomp_rule *r, const char *name) {
    for (size_t i = 0; i < r->nnames; i++)
        if (strcmp(r->names[i], name) == 0)
            return true;
    return false;
}

/* ---- resolution -------------------------------------------------------------------- */

static bool arch_listed(char **arches, size_t n, uint32_t arch) {
    for (size_t i = 0; i < n; i++)
        if (jc_seccomp_arch_parse(arches[i]) == arch)
            return true;
    return false;
}

/* Why a rule does not apply to a job on env, or NULL when it does (owned string). */
static char *rule_why_not(const jc_seccomp_rule *r, const jc_seccomp_env *env) {
    char buf[256];
    unsigned k[3];
    if (r->includes.ncaps) {
        snprintf(buf, sizeof(buf), "needs %s, and a job holds no capability", r->includes.caps[0]);
        return strdup(buf);
    }
    if (r->includes.narches && !arch_listed(r->includes.arches, r->includes.narches, env->arch)) {
        snprintf(buf, sizeof(buf), "only for other architectures (this one is %s)",
                 jc_seccomp_arch_go_name(env->arch));
        return strdup(buf);
    }
    if (r->includes.min_kernel && jc_seccomp_parse_kernel(r->includes.min_kernel, k, NULL) == 0 &&
        kernel_cmp(env->kernel, k) < 0) {
        snprintf(buf, sizeof(buf), "needs kernel %s or later (this one is %u.%u.%u)",
                 r->includes.min_kernel, env->kernel[0], env->kernel[1], env->kernel[2]);
        return strdup(buf);
    }
    /* excludes.caps: the job holds none of them, so they never exclude. */
    if (r->excludes.narches && arch_listed(r->excludes.arches, r->excludes.narches, env->arch)) {
        snprintf(buf, sizeof(buf), "excluded on this architecture (%s)",
                 jc_seccomp_arch_go_name(env->arch));
        return strdup(buf);
    }
    if (r->excludes.min_kernel && jc_seccomp_parse_kernel(r->excludes.min_kernel, k, NULL) == 0 &&
        kernel_cmp(env->kernel, k) >= 0) {
        snprintf(buf, sizeof(buf), "excluded from kernel %s on (this one is %u.%u.%u)",
                 r->excludes.min_kernel, env->kernel[0], env->kernel[1], env->kernel[2]);
        return strdup(buf);
    }
    return NULL;
}

static int add_arch(jc_seccomp_resolved *out, uint32_t arch) {
    for (size_t i = 0; i < out->narches; i++)
        if (out->arches[i] == arch)
            return 0;
    out->arches[out->narches++] = arch;
    return 0;
}

static void resolve_arches(const jc_seccomp_profile *p, jc_seccomp_resolved *out,
                           jc_seccomp_diags *diags) {
    uint32_t native = out->env.arch;
    add_arch(out, native);
    char **list = p->architectures;
    size_t n = p->narchitectures;
    const char *where = "architectures";
    for (size_t i = 0; i < p->narchmap; i++)
        if (jc_seccomp_arch_parse(p->archmap[i].arch) == native) {
            list = p->archmap[i].sub_arches;
            n = p->archmap[i].nsub;
            where = "archMap";
        }
    for (size_t i = 0; i < n; i++) {
        uint32_t a = jc_seccomp_arch_parse(list[i]);
        if (arch_companion(native, a))
            add_arch(out, a);
        else
            jc_seccomp_diag_add(diags, JC_SCMP_DIAG_NOTE, where,
                                "%s cannot run on %s and is left out of the filter", list[i],
                                jc_seccomp_arch_go_name(native));
    }
}

static bool action_allows(jc_seccomp_action a) {
    return a.kind == JC_SCMP_ALLOW || a.kind == JC_SCMP_LOG;
}

/* Errors found while resolving: all go to diags, the first is kept for err. */
typedef struct resolve_errors {
    jc_seccomp_diags *diags;
    size_t n;
    char first_where[96];
    char first[320];
} resolve_errors;

static void resolve_error(resolve_errors *e, const char *where, const char *fmt, ...)
    JC_PRINTF(3, 4);
static void resolve_error(resolve_errors *e, const char *where, const char *fmt, ...) {
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (e->n++ == 0) {
        snprintf(e->first_where, sizeof(e->first_where), "%s", where);
        snprintf(e->first, sizeof(e->first), "%s", msg);
    }
    jc_seccomp_diag_add(e->diags, JC_SCMP_DIAG_ERROR, where, "%s", msg);
}

/* Reject what the compiled filter could not express unambiguously. */
static void resolve_conflicts(const jc_seccomp_resolved *out, resolve_errors *errs) {
    const jc_seccomp_profile *p = out->profile;
    for (size_t i = 0; i < p->nrules; i++) {
        const jc_seccomp_rule *ri = &p->rules[i];
        if (!out->applies[i] || jc_seccomp_action_eq(ri->action, p->default_action))
            continue;
        for (size_t n = 0; n < ri->nnames; n++) {
            /* Report a name once: at its first rule. */
            for (size_t j = i + 1; j < p->nrules; j++) {
                const jc_seccomp_rule *rj = &p->rules[j];
                if (!out->applies[j] || !jc_seccomp_rule_names(rj, ri->names[n]) ||
                    jc_seccomp_action_eq(rj->action, p->default_action) ||
                    jc_seccomp_action_eq(ri->action, rj->action))
                    continue;
                bool ui = ri->nargs == 0, uj = rj->nargs == 0;
                if (ui != uj)
                    continue; /* the unconditional one decides; check reports the dead one */
                char where[64], a1[64], a2[64];
                snprintf(where, sizeof(where), "syscalls[%zu].names", j);
                resolve_error(errs, where,
                              "'%s' has %s rules with different actions (syscalls[%zu]: %s, "
                              "here: %s); the outcome would depend on libseccomp's internal "
                              "order",
                              ri->names[n], ui ? "two unconditional" : "conditional", i,
                              jc_seccomp_action_describe(ri->action, a1, sizeof(a1)),
                              jc_seccomp_action_describe(rj->action, a2, sizeof(a2)));
            }
        }
    }
}

int jc_seccomp_resolve(const jc_seccomp_profile *p, const jc_seccomp_env *env,
                       jc_seccomp_resolved *out, jc_seccomp_diags *diags, jc_err *err) {
    memset(out, 0, sizeof(*out));
    out->profile = p;
    if (env && env->arch)
        out->env.arch = env->arch;
    else
        out->env.arch = seccomp_arch_native();
    if (env && (env->kernel[0] || env->kernel[1] || env->kernel[2]))
        memcpy(out->env.kernel, env->kernel, sizeof(out->env.kernel));
    else {
        jc_seccomp_env native;
        if (jc_seccomp_env_native(&native, err) < 0)
            return -1;
        memcpy(out->env.kernel, native.kernel, sizeof(out->env.kernel));
    }
    out->applies = calloc(p->nrules + 1, sizeof(bool));
    out->why_not = calloc(p->nrules + 1, sizeof(char *));
    out->arches = calloc(JC_ARRAY_LEN(arch_table) + 1, sizeof(uint32_t));
    if (!out->applies || !out->why_not || !out->arches) {
        jc_seccomp_resolved_free(out);
        return jc_err_set(err, JC_E_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < p->nrules; i++) {
        out->why_not[i] = rule_why_not(&p->rules[i], &out->env);
        out->applies[i] = out->why_not[i] == NULL;
    }
    resolve_arches(p, out, diags);

    resolve_errors errs = {.diags = diags};
    resolve_conflicts(out, &errs);
    /* A job starts with execve, writes its output and ends with exit_group: a profile that
     * denies one of them cannot run any job, and would only show up as a mystery. */
    static const char *const required[] = {"execve", "write", "exit_group"};
    for (size_t i = 0; i < JC_ARRAY_LEN(required); i++) {
        jc_seccomp_verdict v;
        if (jc_seccomp_explain(out, required[i], NULL, 0, &v, NULL) < 0)
            continue;
        if (!action_allows(v.action) && !v.conditional) {
            char where[64] = "defaultAction";
            if (v.rule >= 0)
                snprintf(where, sizeof(where), "syscalls[%ld].action", v.rule);
            resolve_error(&errs, where, "%s must be allowed: no job could run without it",
                          required[i]);
        } else if (v.conditional)
            jc_seccomp_diag_add(diags, JC_SCMP_DIAG_WARNING, "",
                                "%s is allowed only under argument conditions; a job may fail "
                                "to start or to write",
                                required[i]);
    }
    if (errs.n) {
        jc_seccomp_resolved_free(out);
        return jc_err_field(err, JC_E_INVALID, errs.first_where,
                            "profile %s cannot be used for a job: %s: %s%s", p->source,
                            errs.first_where, errs.first, errs.n > 1 ? " (and more errors)" : "");
    }
    return 0;
}

void jc_seccomp_resolved_free(jc_seccomp_resolved *r) {
    if (!r)
        return;
    if (r->why_not && r->profile)
        for (size_t i = 0; i < r->profile->nrules; i++)
            free(r->why_not[i]);
    free(r->why_not);
    free(r->applies);
    free(r->arches);
    memset(r, 0, sizeof(*r));
}

/* ---- compiling --------------------------------------------------------------------- */

static uint32_t scmp_action(jc_seccomp_action a) {
    switch (a.kind) {
    case JC_SCMP_ALLOW: return SCMP_ACT_ALLOW;
    case JC_SCMP_ERRNO: return SCMP_ACT_ERRNO((uint32_t)a.errno_ret);
    case JC_SCMP_KILL_THREAD: return SCMP_ACT_KILL_THREAD;
    case JC_SCMP_KILL_PROCESS: return SCMP_ACT_KILL_PROCESS;
    case JC_SCMP_TRAP: return SCMP_ACT_TRAP;
    case JC_SCMP_LOG: return SCMP_ACT_LOG;
    case JC_SCMP_NOTIFY: return SCMP_ACT_NOTIFY;
    }
    return SCMP_ACT_KILL_PROCESS;
}

static enum scmp_compare scmp_op(jc_seccomp_op op) {
    switch (op) {
    case JC_SCMP_NE: return SCMP_CMP_NE;
    case JC_SCMP_LT: return SCMP_CMP_LT;
    case JC_SCMP_LE: return SCMP_CMP_LE;
    case JC_SCMP_EQ: return SCMP_CMP_EQ;
    case JC_SCMP_GE: return SCMP_CMP_GE;
    case JC_SCMP_GT: return SCMP_CMP_GT;
    case JC_SCMP_MASKED_EQ: return SCMP_CMP_MASKED_EQ;
    }
    return _SCMP_CMP_MIN;
}

static struct scmp_arg_cmp scmp_cond(const jc_seccomp_arg *a) {
    struct scmp_arg_cmp c = {.arg = a->index,
                             .op = scmp_op(a->op),
                             .datum_a = a->value,
                             .datum_b = a->op == JC_SCMP_MASKED_EQ ? a->value_two : 0};
    return c;
}

jc_seccomp_action jc_seccomp_learn_action(jc_seccomp_action a) {
    /* ENOSYS tells libc to take its fallback (clone3 → clone): keep it while learning, or
     * the learned profile would allow what the base deliberately answers ENOSYS. */
    if (a.kind == JC_SCMP_ALLOW || (a.kind == JC_SCMP_ERRNO && a.errno_ret == ENOSYS))
        return a;
    return (jc_seccomp_action){.kind = JC_SCMP_NOTIFY};
}

/* Is syscall name decided by an unconditional rule other than skip_rule (with an action
 * other than the default)? Such a rule makes every conditional rule for it dead. */
static bool has_unconditional(const jc_seccomp_resolved *r, const char *name, jc_seccomp_action def,
                              bool learn) {
    const jc_seccomp_profile *p = r->profile;
    for (size_t i = 0; i < p->nrules; i++) {
        jc_seccomp_action a =
            learn ? jc_seccomp_learn_action(p->rules[i].action) : p->rules[i].action;
        if (r->applies[i] && p->rules[i].nargs == 0 && !jc_seccomp_action_eq(a, def) &&
            jc_seccomp_rule_names(&p->rules[i], name))
            return true;
    }
    return false;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const jc_seccomp_rule *rule,
                    size_t ri, const char *name, jc_err *err) {
    int rc;
    if (rule->nargs == 0)
        rc = seccomp_rule_add_array(ctx, action, nr, 0, NULL);
    else if (jc_seccomp_rule_args_repeat(rule)) {
        rc = 0;
        for (size_t i = 0; i < rule->nargs && rc == 0; i++) {
            struct scmp_arg_cmp c = scmp_cond(&rule->args[i]);
            rc = seccomp_rule_add_array(ctx, action, nr, 1, &c);
        }
    } else {
        struct scmp_arg_cmp c[6];
        for (size_t i = 0; i < rule->nargs; i++)
            c[i] = scmp_cond(&rule->args[i]);
        rc = seccomp_rule_add_array(ctx, action, nr, (unsigned)rule->nargs, c);
    }
    if (rc < 0)
        return jc_err_field(err, JC_E_INVALID, "", "syscalls[%zu]: libseccomp refused '%s': %s", ri,
                            name, strerror(-rc));
    return 0;
}

/* Export the filter's BPF through a memfd: libseccomp 2.5 can only write it to an fd. */
static int export_bpf(scmp_filter_ctx ctx, jc_seccomp_filter *out, jc_err *err) {
    _cleanup_close_ int fd = memfd_create("jobcell-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return jc_err_sys(err, errno, "seccomp: memfd_create");
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0)
        return jc_err_sys(err, -rc, "seccomp: export the filter");
    if (lseek(fd, 0, SEEK_SET) < 0)
        return jc_err_sys(err, errno, "seccomp: rewind the filter");
    size_t len;
    _cleanup_free_ char *bytes = jc_read_fd(fd, FILTER_MAX_BYTES, &len, err);
    if (!bytes)
        return jc_err_prefix(err, "seccomp: read the filter back");
    if (len == 0 || len % sizeof(struct sock_filter) != 0)
        return jc_err_set(err, JC_E_INTERNAL, "seccomp: exported filter has %zu bytes", len);
    if (len / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return jc_err_set(err, JC_E_INVALID,
                          "seccomp: the filter has %zu instructions, more than the kernel "
                          "accepts (%d)",
                          len / sizeof(struct sock_filter), BPF_MAXINSNS);
    out->insns = malloc(len);
    if (!out->insns)
        return jc_err_set(err, JC_E_INTERNAL, "out of memory");
    memcpy(out->insns, bytes, len);
    out->len = len / sizeof(struct sock_filter);
    return 0;
}

static int compile(const jc_seccomp_resolved *r, bool learn, jc_seccomp_filter *out, jc_err *err) {
    const jc_seccomp_profile *p = r->profile;
    memset(out, 0, sizeof(*out));
    jc_seccomp_action def = learn ? jc_seccomp_learn_action(p->default_action) : p->default_action;
    scmp_filter_ctx ctx = seccomp_init(scmp_action(def));
    if (!ctx)
        return jc_err_set(err, JC_E_INTERNAL, "seccomp: libseccomp could not start a filter");
    int rc = 0;
    /* A process of another architecture (a 32-bit binary, int 0x80) must not slip past a
     * filter written for the native one: kill it outright. */
    if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
        /* The engine sets no_new_privs itself; the exported program does not carry it. */
        (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0 ||
        /* A binary tree keeps large profiles fast on the syscall path. */
        (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
        seccomp_release(ctx);
        return jc_err_sys(err, -rc, "seccomp: set filter attributes");
    }
    for (size_t i = 0; i < r->narches && rc >= 0; i++)
        if (r->arches[i] != seccomp_arch_native()) {
            rc = seccomp_arch_add(ctx, r->arches[i]);
            if (rc == -EEXIST)
                rc = 0;
        }
    if (rc < 0) {
        seccomp_release(ctx);
        return jc_err_sys(err, -rc, "seccomp: add architectures");
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const jc_seccomp_rule *rule = &p->rules[i];
        jc_seccomp_action a = learn ? jc_seccomp_learn_action(rule->action) : rule->action;
        if (!r->applies[i] || jc_seccomp_action_eq(a, def))
            continue; /* libseccomp refuses rules that repeat the default (EACCES) */
        for (size_t n = 0; n < rule->nnames; n++) {
            if (rule->nrs[n] == JC_SCMP_IGNORED)
                continue;
            if (rule->nargs && has_unconditional(r, rule->names[n], def, learn))
                continue; /* dead: the unconditional rule decides (check says so) */
            if (add_rule(ctx, scmp_action(a), rule->nrs[n], rule, i, rule->names[n], err) < 0) {
                seccomp_release(ctx);
                return -1;
            }
        }
    }
    rc = export_bpf(ctx, out, err);
    seccomp_release(ctx);
    return rc;
}

int jc_seccomp_compile(const jc_seccomp_resolved *r, jc_seccomp_filter *out, jc_err *err) {
    return compile(r, false, out, err);
}

int jc_seccomp_compile_learn(const jc_seccomp_resolved *r, jc_seccomp_filter *out, jc_err *err) {
    return compile(r, true, out, err);
}

int jc_seccomp_compile_file(const char *path, jc_seccomp_filter *out, jc_err *err) {
    jc_seccomp_profile *p = jc_seccomp_profile_load(path, NULL, err);
    if (!p)
        return -1;
    jc_seccomp_resolved r;
    int rc = jc_seccomp_resolve(p, NULL, &r, NULL, err);
    if (rc == 0) {
        rc = jc_seccomp_compile(&r, out, err);
        jc_seccomp_resolved_free(&r);
    }
    if (rc < 0)
        jc_err_prefix(err, "profile %s", path);
    jc_seccomp_profile_free(p);
    return rc;
}

void jc_seccomp_filter_free(jc_seccomp_filter *f) {
    if (!f)
        return;
    free(f->insns);
    f->insns = NULL;
    f->len = 0;
}

int jc_seccomp_filter_copy(const jc_seccomp_filter *in, jc_seccomp_filter *out, jc_err *err) {
    out->len = 0;
    out->insns = NULL;
    if (!in->len)
        return 0;
    out->insns = malloc(in->len * sizeof(*in->insns));
    if (!out->insns)
        return jc_err_set(err, JC_E_INTERNAL, "out of memory");
    memcpy(out->insns, in->insns, in->len * sizeof(*in->insns));
    out->len = in->len;
    return 0;
}

/* ---- running a filter in user space ------------------------------------------------ */

/* Classic BPF as the kernel runs it for seccomp: loads from struct seccomp_data, the
 * accumulator, X and 16 scratch words; every jump goes forward, so it ends. */
uint32_t jc_seccomp_filter_eval(const jc_seccomp_filter *f, uint32_t arch, int nr,
                                const uint64_t args[6]) {
    struct seccomp_data d = {.nr = nr, .arch = arch};
    for (int i = 0; i < 6; i++)
        d.args[i] = args ? args[i] : 0;
    const unsigned char *data = (const unsigned char *)&d;
    uint32_t A = 0, X = 0, M[16] = {0};
    for (size_t pc = 0; pc < f->len; pc++) {
        const struct sock_filter *in = &f->insns[pc];
        uint32_t k = in->k;
        switch (BPF_CLASS(in->code)) {
        case BPF_LD:
            if (in->code == (BPF_LD | BPF_W | BPF_ABS)) {
                if (k > sizeof(d) - 4 || k % 4)
                    return SECCOMP_RET_KILL_PROCESS;
                memcpy(&A, data + k, 4);
            } else if (in->code == (BPF_LD | BPF_W | BPF_LEN))
                A = sizeof(d);
            else if (in->code == (BPF_LD | BPF_IMM))
                A = k;
            else if (in->code == (BPF_LD | BPF_MEM) && k < 16)
                A = M[k];
            else
                return SECCOMP_RET_KILL_PROCESS;
            break;
        case BPF_LDX:
            if (in->code == (BPF_LDX | BPF_W | BPF_LEN))
                X = sizeof(d);
            else if (in->code == (BPF_LDX | BPF_IMM))
                X = k;
            else if (in->code == (BPF_LDX | BPF_MEM) && k < 16)
                X = M[k];
            else
                return SECCOMP_RET_KILL_PROCESS;
            break;
        case BPF_ST:
            if (k >= 16)
                return SECCOMP_RET_KILL_PROCESS;
            M[k] = A;
            break;
        case BPF_STX:
            if (k >= 16)
                return SECCOMP_RET_KILL_PROCESS;
            M[k] = X;
            break;
        case BPF_ALU: {
            uint32_t v = BPF_SRC(in->code) == BPF_X ? X : k;
            switch (BPF_OP(in->code)) {
            case BPF_ADD: A += v; break;
            case BPF_SUB: A -= v; break;
            case BPF_MUL: A *= v; break;
            case BPF_DIV:
                if (!v)
                    return SECCOMP_RET_KILL_PROCESS;
                A /= v;
                break;
            case BPF_MOD:
                if (!v)
                    return SECCOMP_RET_KILL_PROCESS;
                A %= v;
                break;
            case BPF_AND: A &= v; break;
            case BPF_OR: A |= v; break;
            case BPF_XOR: A ^= v; break;
            case BPF_LSH: A = v < 32 ? A << v : 0; break;
            case BPF_RSH: A = v < 32 ? A >> v : 0; break;
            case BPF_NEG: A = -A; break;
            default: return SECCOMP_RET_KILL_PROCESS;
            }
            break;
        }
        case BPF_JMP: {
            uint32_t v = BPF_SRC(in->code) == BPF_X ? X : k;
            bool t;
            switch (BPF_OP(in->code)) {
            case BPF_JA: pc += k; continue;
            case BPF_JEQ: t = A == v; break;
            case BPF_JGT: t = A > v; break;
            case BPF_JGE: t = A >= v; break;
            case BPF_JSET: t = (A & v) != 0; break;
            default: return SECCOMP_RET_KILL_PROCESS;
            }
            pc += t ? in->jt : in->jf;
            break;
        }
        case BPF_RET: return BPF_RVAL(in->code) == BPF_A ? A : k;
        case BPF_MISC:
            if (BPF_MISCOP(in->code) == BPF_TAX)
                X = A;
            else
                A = X;
            break;
        default: return SECCOMP_RET_KILL_PROCESS;
        }
    }
    return SECCOMP_RET_KILL_PROCESS; /* fell off the end: the kernel rejects such programs */
}
