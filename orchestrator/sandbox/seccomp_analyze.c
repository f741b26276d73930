/* seccomp_analyze.c: what a resolved profile decides — explain one syscall, check a whole
 * profile (counts, dead rules, dangerous allows), diff two profiles.
 *
 * The verdicts here follow the semantics in seccomp.h, which is also what compile feeds
 * libseccomp; the unit tests hold both against the compiled BPF run in user space. */
#include "jobcell/seccomp.h"

#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "jobcell/cleanup.h"
#include "seccomp_internal.h"

/* Every CLONE_NEW* flag clone(2) accepts in its flags word (CLONE_NEWTIME only exists for
 * unshare and clone3). A job that can set one creates namespaces — a user namespace
 * first, which hands it capabilities over everything inside. */
#define CLONE_NEW_MASK                                                                             \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |  \
     CLONE_NEWNET)

/* The largest syscall number we look at when walking "every syscall". */
#define NR_SCAN_MAX 1024

const char jc_seccomp_learn_base_json[] =
    "{\"description\": \"the smallest base: a job can start, write and exit\",\n"
    " \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"
    " \"syscalls\": [\n"
    "  {\"names\": [\"execve\", \"write\", \"exit_group\"], \"action\": \"SCMP_ACT_ALLOW\"},\n"
    "  {\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38,\n"
    "   \"comment\": \"ENOSYS: seccomp cannot read clone3's flags; libc falls back to clone\"}\n"
    " ]}\n";

/* ---- the dangerous list ------------------------------------------------------------ */

static const struct {
    const char *name;
    const char *why;
} dangerous[] = {
    {"ptrace", "reads and writes the memory and registers of other processes"},
    {"process_vm_readv", "reads the memory of another process"},
    {"process_vm_writev", "writes the memory of another process"},
    {"bpf", "loads programs into the kernel: a large and often exploited attack surface"},
    {"perf_event_open", "kernel performance counters: leaks kernel addresses, a history of "
                        "privilege escalations"},
    {"mount", "mount family: changes what the job sees of the filesystem"},
    {"umount", "mount family: changes what the job sees of the filesystem"},
    {"umount2", "mount family: changes what the job sees of the filesystem"},
    {"pivot_root", "mount family: changes what the job sees of the filesystem"},
    {"move_mount", "mount family: changes what the job sees of the filesystem"},
    {"open_tree", "mount family: changes what the job sees of the filesystem"},
    {"fsopen", "mount family: creates new filesystems"},
    {"fsconfig", "mount family: configures new filesystems"},
    {"fsmount", "mount family: attaches new filesystems"},
    {"fspick", "mount family: reconfigures mounted filesystems"},
    {"mount_setattr", "mount family: changes mount flags such as read-only"},
    {"unshare", "creates namespaces: a new user namespace hands the job capabilities inside it"},
    {"setns", "joins other namespaces"},
    {"keyctl", "the kernel keyring is not namespaced: keys can leak between jobs"},
    {"add_key", "the kernel keyring is not namespaced: keys can leak between jobs"},
    {"request_key", "the kernel keyring is not namespaced: keys can leak between jobs"},
    {"io_uring_setup", "io_uring performs I/O that seccomp never sees, and is a frequent "
                       "source of kernel exploits"},
    {"io_uring_enter", "io_uring performs I/O that seccomp never sees"},
    {"io_uring_register", "io_uring performs I/O that seccomp never sees"},
    {"userfaultfd", "lets a process stall the kernel at chosen points, a standard exploit "
                    "primitive"},
    {"kexec_load", "replaces the running kernel"},
    {"kexec_file_load", "replaces the running kernel"},
    {"init_module", "loads code into the kernel"},
    {"finit_module", "loads code into the kernel"},
    {"delete_module", "removes code from the kernel"},
    {"clone3", "its flags live in memory seccomp cannot read, so it can create namespaces "
               "whatever the profile says"},
    {"open_by_handle_at", "opens files by handle, bypassing the mount namespace (the "
                          "\"shocker\" escape)"},
};

static const char *const clone_why = "clone with CLONE_NEW* flags creates namespaces: a new "
                                     "user namespace hands the job capabilities inside it";
static const char *const netlink_why = "AF_NETLINK sockets talk to kernel subsystems (routing, "
                                       "audit, …): a wide attack surface";
static const char *const packet_why = "AF_PACKET sockets see and forge raw network traffic";
static const char *const vsock_why = "AF_VSOCK sockets reach the hypervisor's host, around every "
                                     "network namespace";

const char *jc_seccomp_dangerous(const char *syscall, const uint64_t *args, size_t nargs) {
    for (size_t i = 0; i < JC_ARRAY_LEN(dangerous); i++)
        if (strcmp(syscall, dangerous[i].name) == 0)
            return dangerous[i].why;
    if (!args || nargs == 0)
        return NULL;
    if (strcmp(syscall, "clone") == 0 && (args[0] & CLONE_NEW_MASK))
        return clone_why;
    if (strcmp(syscall, "socket") == 0 && args[0] == AF_NETLINK)
        return netlink_why;
    if (strcmp(syscall, "socket") == 0 && args[0] == AF_PACKET)
        return packet_why;
    if (strcmp(syscall, "socket") == 0 && args[0] == AF_VSOCK)
        return vsock_why;
    return NULL;
}

/* ---- explain ----------------------------------------------------------------------- */

int jc_seccomp_explain(const jc_seccomp_resolved *r, const char *syscall, const uint64_t *args,
                       size_t nargs, jc_seccomp_verdict *out, jc_err *err) {
    const jc_seccomp_profile *p = r->profile;
    memset(out, 0, sizeof(*out));
    out->action = p->default_action;
    out->rule = -1;
    if (nargs > 6)
        return jc_err_set(err, JC_E_INVALID, "a system call has at most 6 arguments");
    int nr = seccomp_syscall_resolve_name_arch(r->env.arch, syscall);
    if (nr == __NR_SCMP_ERROR) {
        if (!jc_seccomp_name_ignorable(syscall))
            return jc_err_set(err, JC_E_NOT_FOUND, "'%s' is not a known system call", syscall);
        out->ignored_name = true; /* the filter cannot name it: the default applies */
        return 0;
    }
    if (nr < 0)
        return jc_err_set(err, JC_E_NOT_FOUND, "'%s' is not a system call on %s", syscall,
                          jc_seccomp_arch_go_name(r->env.arch));
    uint64_t a[6] = {0};
    for (size_t i = 0; args && i < nargs; i++)
        a[i] = args[i];
    long first_conditional = -1;
    for (size_t i = 0; i < p->nrules; i++) {
        const jc_seccomp_rule *rule = &p->rules[i];
        if (!r->applies[i] || !jc_seccomp_rule_names(rule, syscall) ||
            jc_seccomp_action_eq(rule->action, p->default_action))
            continue;
        if (rule->nargs == 0) {
            out->action = rule->action; /* an unconditional rule decides alone */
            out->rule = (long)i;
            out->conditional = false;
            return 0;
        }
        if (first_conditional < 0)
            first_conditional = (long)i;
    }
    if (first_conditional < 0)
        return 0;
    out->conditional = true;
    if (!args) {
        out->action = p->rules[first_conditional].action;
        out->rule = first_conditional;
        return 0;
    }
    for (size_t i = (size_t)first_conditional; i < p->nrules; i++) {
        const jc_seccomp_rule *rule = &p->rules[i];
        if (!r->applies[i] || !jc_seccomp_rule_names(rule, syscall) || rule->nargs == 0 ||
            jc_seccomp_action_eq(rule->action, p->default_action))
            continue;
        if (jc_seccomp_rule_matches(rule, a)) {
            out->action = rule->action;
            out->rule = (long)i;
            return 0;
        }
    }
    return 0; /* no condition holds: the default action */
}

/* ---- text of conditions ------------------------------------------------------------ */

static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) JC_PRINTF(4, 5);
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) {
    if (*used >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
    if (*used >= len)
        *used = len - 1;
}

static void number(char *buf, size_t len, uint64_t v) {
    if (v < 256)
        snprintf(buf, len, "%llu", (unsigned long long)v);
    else
        snprintf(buf, len, "0x%llx", (unsigned long long)v);
}

const char *jc_seccomp_rule_conditions(const jc_seccomp_rule *rule, char *buf, size_t len) {
    static const char *const sym[] = {
        [JC_SCMP_NE] = "!=", [JC_SCMP_LT] = "<",  [JC_SCMP_LE] = "<=",
        [JC_SCMP_EQ] = "==", [JC_SCMP_GE] = ">=", [JC_SCMP_GT] = ">",
    };
    size_t used = 0;
    buf[0] = '\0';
    if (rule->nargs == 0) {
        append(buf, len, &used, "always");
        return buf;
    }
    const char *join = jc_seccomp_rule_args_repeat(rule) ? " or " : " and ";
    for (size_t i = 0; i < rule->nargs; i++) {
        const jc_seccomp_arg *a = &rule->args[i];
        char v1[24], v2[24];
        number(v1, sizeof(v1), a->value);
        number(v2, sizeof(v2), a->value_two);
        if (a->op == JC_SCMP_MASKED_EQ)
            append(buf, len, &used, "%sarg%u & %s == %s", i ? join : "", a->index, v1, v2);
        else
            append(buf, len, &used, "%sarg%u %s %s", i ? join : "", a->index, sym[a->op], v1);
    }
    return buf;
}

/* "allow when (arg0 == 1) or (arg0 == 2)" for a conditional verdict; the decision text of
 * an unconditional one. Owned string. */
static char *verdict_text(const jc_seccomp_resolved *r, const char *name,
                          const jc_seccomp_verdict *v) {
    const jc_seccomp_profile *p = r->profile;
    char buf[1024], act[64], cond[256];
    size_t used = 0;
    buf[0] = '\0';
    jc_seccomp_action_describe(v->action, act, sizeof(act));
    if (v->ignored_name)
        append(buf, sizeof(buf), &used, "%s (default; name unknown to libseccomp)", act);
    else if (!v->conditional)
        append(buf, sizeof(buf), &used, "%s%s", act, v->rule < 0 ? " (default)" : "");
    else {
        append(buf, sizeof(buf), &used, "%s when ", act);
        size_t n = 0;
        for (size_t i = 0; i < p->nrules; i++) {
            const jc_seccomp_rule *rule = &p->rules[i];
            if (!r->applies[i] || !jc_seccomp_rule_names(rule, name) || rule->nargs == 0 ||
                jc_seccomp_action_eq(rule->action, p->default_action))
                continue;
            append(buf, sizeof(buf), &used, "%s(%s)", n++ ? " or " : "",
                   jc_seccomp_rule_conditions(rule, cond, sizeof(cond)));
        }
        append(buf, sizeof(buf), &used, ", else %s",
               jc_seccomp_action_describe(p->default_action, act, sizeof(act)));
    }
    return strdup(buf);
}

/* ---- check ------------------------------------------------------------------------- */

static bool allows(jc_seccomp_action a) {
    return a.kind == JC_SCMP_ALLOW || a.kind == JC_SCMP_LOG;
}

static long unconditional_rule(const jc_seccomp_resolved *r, const char *name) {
    const jc_seccomp_profile *p = r->profile;
    for (size_t i = 0; i < p->nrules; i++)
        if (r->applies[i] && p->rules[i].nargs == 0 &&
            !jc_seccomp_action_eq(p->rules[i].action, p->default_action) &&
            jc_seccomp_rule_names(&p->rules[i], name))
            return (long)i;
    return -1;
}

static void check_rules(const jc_seccomp_resolved *r, jc_seccomp_diags *diags) {
    const jc_seccomp_profile *p = r->profile;
    for (size_t i = 0; i < p->nrules; i++) {
        const jc_seccomp_rule *rule = &p->rules[i];
        char where[64];
        snprintf(where, sizeof(where), "syscalls[%zu]", i);
        if (!r->applies[i]) {
            jc_seccomp_diag_add(diags, JC_SCMP_DIAG_NOTE, where, "does not apply to a job: %s",
                                r->why_not[i]);
            continue;
        }
        if (jc_seccomp_action_eq(rule->action, p->default_action)) {
            jc_seccomp_diag_add(diags, JC_SCMP_DIAG_WARNING, where,
                                "has the default action and changes nothing");
            continue;
        }
        if (!jc_seccomp_rule_satisfiable(rule))
            jc_seccomp_diag_add(diags, JC_SCMP_DIAG_WARNING, where,
                                "can never match: no argument value satisfies its conditions");
        if (jc_seccomp_rule_args_repeat(rule))
            jc_seccomp_diag_add(diags, JC_SCMP_DIAG_NOTE, where,
                                "conditions on the same argument are alternatives: the rule "
                                "matches when any one of them holds");
        for (size_t n = 0; n < rule->nnames; n++) {
            const char *name = rule->names[n];
            char nat[96];
            snprintf(nat, sizeof(nat), "%s.names[%zu]", where, n);
            if (rule->nrs[n] == JC_SCMP_IGNORED) {
                jc_seccomp_diag_add(diags, JC_SCMP_DIAG_WARNING, nat,
                                    "'%s' is newer than this system's libseccomp: ignored, the "
                                    "default action applies to it",
                                    name);
                continue;
            }
            if (seccomp_syscall_resolve_name_arch(r->env.arch, name) < 0) {
                jc_seccomp_diag_add(diags, JC_SCMP_DIAG_NOTE, nat,
                                    "'%s' is not a system call on %s: the rule never matches it",
                                    name, jc_seccomp_arch_go_name(r->env.arch));
                continue;
            }
            long u = unconditional_rule(r, name);
            if (rule->nargs && u >= 0)
                jc_seccomp_diag_add(diags, JC_SCMP_DIAG_WARNING, nat,
                                    "never matches '%s': syscalls[%ld] decides it "
                                    "unconditionally",
                                    name, u);
            else if (rule->nargs == 0 && u >= 0 && (size_t)u < i) {
                char a1[64];
                jc_seccomp_diag_add(
                    diags,
                    jc_seccomp_action_eq(p->rules[u].action, rule->action) ? JC_SCMP_DIAG_NOTE
                                                                           : JC_SCMP_DIAG_WARNING,
                    nat, "'%s' is also in syscalls[%ld] (%s), which decides it", name, u,
                    jc_seccomp_action_describe(p->rules[u].action, a1, sizeof(a1)));
            }
        }
    }
}

/* Report a dangerous syscall when this profile lets it through. */
static void check_dangerous(const jc_seccomp_resolved *r, jc_seccomp_diags *diags) {
    for (size_t i = 0; i < JC_ARRAY_LEN(dangerous); i++) {
        jc_seccomp_verdict v;
        if (jc_seccomp_explain(r, dangerous[i].name, NULL, 0, &v, NULL) < 0 || !allows(v.action))
            continue;
        char where[64] = "defaultAction";
        if (v.rule >= 0)
            snprintf(where, sizeof(where), "syscalls[%ld]", v.rule);
        jc_seccomp_diag_add(diags, JC_SCMP_DIAG_WARNING, where, "dangerous: %s is allowed%s: %s",
                            dangerous[i].name, v.conditional ? " under conditions" : "",
                            dangerous[i].why);
    }
    /* clone: try every namespace flag on its own, as a job would. */
    for (unsigned bit = 0; bit < 32; bit++) {
        uint64_t args[6] = {(1ull << bit) | 17 /* SIGCHLD */};
        if (!((1ull << bit) & CLONE_NEW_MASK))
            continue;
        jc_seccomp_verdict v;
        if (jc_seccomp_explain(r, "clone", args, 6, &v, NULL) == 0 && allows(v.action)) {
            char where[64] = "defaultAction";
            if (v.rule >= 0)
                snprintf(where, sizeof(where), "syscalls[%ld]", v.rule);
            jc_seccomp_diag_add(diags, JC_SCMP_DIAG_WARNING, where,
                                "dangerous: clone is allowed with flag 0x%llx: %s",
                                (unsigned long long)(1ull << bit), clone_why);
            break;
        }
    }
    static const struct {
        uint64_t family;
        const char *name, *why;
    } fams[] = {{AF_NETLINK, "AF_NETLINK", NULL},
                {AF_PACKET, "AF_PACKET", NULL},
                {AF_VSOCK, "AF_VSOCK", NULL}};
    for (size_t i = 0; i < JC_ARRAY_LEN(fams); i++) {
        uint64_t args[6] = {fams[i].family, SOCK_RAW};
        jc_seccomp_verdict v;
        if (jc_seccomp_explain(r, "socket", args, 6, &v, NULL) == 0 && allows(v.action)) {
            char where[64] = "defaultAction";
            if (v.rule >= 0)
                snprintf(where, sizeof(where), "syscalls[%ld]", v.rule);
            jc_seccomp_diag_add(diags, JC_SCMP_DIAG_WARNING, where,
                                "dangerous: %s sockets are allowed: %s", fams[i].name,
                                jc_seccomp_dangerous("socket", args, 1));
        }
    }
}

int jc_seccomp_check(const jc_seccomp_resolved *r, jc_seccomp_summary *sum, jc_seccomp_diags *diags,
                     jc_err *err) {
    memset(sum, 0, sizeof(*sum));
    const jc_seccomp_profile *p = r->profile;
    if (allows(p->default_action))
        jc_seccomp_diag_add(diags, JC_SCMP_DIAG_WARNING, "defaultAction",
                            "allows every system call the profile does not name, including "
                            "ones added by future kernels");
    for (int nr = 0; nr < NR_SCAN_MAX; nr++) {
        _cleanup_free_ char *name = seccomp_syscall_resolve_num_arch(r->env.arch, nr);
        if (!name)
            continue;
        jc_seccomp_verdict v;
        if (jc_seccomp_explain(r, name, NULL, 0, &v, NULL) < 0)
            continue;
        if (v.conditional && allows(v.action))
            sum->allowed_conditional++;
        else if (!v.conditional && allows(v.action))
            sum->allowed_unconditional++;
        else
            sum->denied++;
    }
    check_rules(r, diags);
    check_dangerous(r, diags);
    jc_seccomp_filter f;
    if (jc_seccomp_compile(r, &f, err) < 0) {
        jc_seccomp_diag_add(diags, JC_SCMP_DIAG_ERROR, err ? err->field : "", "%s",
                            err ? err->msg : "does not compile");
        return -1;
    }
    sum->filter_len = f.len;
    jc_seccomp_filter_free(&f);
    return 0;
}

/* ---- diff -------------------------------------------------------------------------- */

int jc_seccomp_diff_compute(const jc_seccomp_resolved *a, const jc_seccomp_resolved *b,
                            jc_seccomp_diff *out, jc_err *err) {
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    /* Walk by name in a's architecture; both are resolved for the same machine. */
    for (int nr = 0; nr < NR_SCAN_MAX; nr++) {
        _cleanup_free_ char *name = seccomp_syscall_resolve_num_arch(a->env.arch, nr);
        if (!name)
            continue;
        jc_seccomp_verdict va, vb;
        if (jc_seccomp_explain(a, name, NULL, 0, &va, NULL) < 0 ||
            jc_seccomp_explain(b, name, NULL, 0, &vb, NULL) < 0)
            continue;
        _cleanup_free_ char *ta = verdict_text(a, name, &va);
        _cleanup_free_ char *tb = verdict_text(b, name, &vb);
        if (!ta || !tb) {
            jc_seccomp_diff_free(out);
            return jc_err_set(err, JC_E_INTERNAL, "out of memory");
        }
        /* Compare what happens, not where it is written: "allow" by rule 3 and "allow" by
         * rule 7 are the same verdict, but "(default)" marks a different decision path
         * only in text, so compare actions and the conditional text. */
        bool same = jc_seccomp_action_eq(va.action, vb.action) && va.conditional == vb.conditional;
        if (same && va.conditional)
            same = strcmp(ta, tb) == 0;
        if (same)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 32;
            jc_seccomp_difference *items = realloc(out->items, cap * sizeof(*items));
            if (!items) {
                jc_seccomp_diff_free(out);
                return jc_err_set(err, JC_E_INTERNAL, "out of memory");
            }
            out->items = items;
        }
        jc_seccomp_difference *d = &out->items[out->n++];
        d->syscall = steal(&name);
        d->a = va;
        d->b = vb;
        d->a_rule = steal(&ta);
        d->b_rule = steal(&tb);
    }
    /* Numbers are not in name order; people read names. */
    for (size_t i = 1; i < out->n; i++)
        for (size_t k = i; k > 0 && strcmp(out->items[k - 1].syscall, out->items[k].syscall) > 0;
             k--) {
            jc_seccomp_difference t = out->items[k];
            out->items[k] = out->items[k - 1];
            out->items[k - 1] = t;
        }
    return 0;
}

void jc_seccomp_diff_free(jc_seccomp_diff *d) {
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].syscall);
        free(d->items[i].a_rule);
        free(d->items[i].b_rule);
    }
    free(d->items);
    memset(d, 0, sizeof(*d));
}
