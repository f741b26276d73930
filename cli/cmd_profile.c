/* jobcell profile: the seccomp profile tools for admins — check, explain, diff, ls, learn.
 *
 * A profile is named by a path (anything with a '/' or ending in .json) or by a NAME in the
 * profile directory (--profile-dir, $JOBCELL_PROFILE_DIR, else the installed profiles). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/sched.h>
#include <seccomp.h>

#include "cli.h"
#include "cmd_profile.h"
#include "jobcell/cleanup.h"
#include "jobcell/seccomp.h"

static void profile_usage(FILE *out) {
    fprintf(out,
            "usage: jobcell profile [--profile-dir DIR] COMMAND [ARGS]\n"
            "\n"
            "Inspect and tune the seccomp profiles that decide which system calls a job may "
            "make.\n"
            "A PROFILE is a file path (with a '/' or ending in .json) or the name of a profile\n"
            "in the profile directory.\n"
            "\n"
            "  check PROFILE                 validate a profile; show what it allows and warn "
            "about\n"
            "                                dangerous allows (exit 0 valid, 1 invalid)\n"
            "  explain PROFILE SYSCALL [ARG…]  which rule decides this call, and the verdict\n"
            "                                (ARG: number, 0x…, or AF_*/CLONE_* names joined by "
            "|)\n"
            "  diff A B                      system calls treated differently (exit 0 same, 1 "
            "different)\n"
            "  ls                            the profiles jobs can name, with descriptions\n"
            "  learn [--base PROFILE] [--out FILE] [--allow-dangerous] [RUN OPTIONS] -- CMD…\n"
            "                                run CMD in the sandbox and write a profile that "
            "allows\n"
            "                                exactly what it used\n"
            "\n"
            "Options:\n"
            "  --profile-dir DIR   where profile names are looked up (default: "
            "$JOBCELL_PROFILE_DIR,\n"
            "                      else the installed profiles)\n"
            "  -h, --help          this help\n");
}

/* ---- shared helpers ---------------------------------------------------------------- */

static const char *severity_name(jc_seccomp_severity s) {
    return s == JC_SCMP_DIAG_ERROR ? "error" : s == JC_SCMP_DIAG_WARNING ? "warning" : "note";
}

static void print_diags(const jc_seccomp_diags *d, FILE *out, bool with_notes) {
    for (int sev = JC_SCMP_DIAG_ERROR; sev <= JC_SCMP_DIAG_NOTE; sev++)
        for (size_t i = 0; i < d->n; i++) {
            const jc_seccomp_diag *it = &d->items[i];
            if ((int)it->severity != sev || (sev == JC_SCMP_DIAG_NOTE && !with_notes))
                continue;
            fprintf(out, "  %-7s %s%s%s\n", severity_name(it->severity), it->where,
                    it->where[0] ? ": " : "", it->msg);
        }
}

/* A loaded and resolved profile. */
typedef struct loaded {
    char *path;
    jc_seccomp_profile *profile;
    jc_seccomp_resolved resolved;
    bool resolved_ok;
} loaded;

static void loaded_free(loaded *l) {
    if (l->resolved_ok)
        jc_seccomp_resolved_free(&l->resolved);
    jc_seccomp_profile_free(l->profile);
    free(l->path);
    memset(l, 0, sizeof(*l));
}

/* Load FILE|NAME; on failure print the error (and every diag) and return -1. */
static int load_profile(const char *dir, const char *arg, loaded *l, jc_seccomp_diags *diags,
                        bool quiet) {
    jc_err err = {0};
    memset(l, 0, sizeof(*l));
    l->path = jc_seccomp_locate(dir, arg, &err);
    if (!l->path) {
        fprintf(stderr, "jobcell profile: %s\n", err.msg);
        return -1;
    }
    l->profile = jc_seccomp_profile_load(l->path, diags, &err);
    if (l->profile && jc_seccomp_resolve(l->profile, NULL, &l->resolved, diags, &err) == 0)
        l->resolved_ok = true;
    if (!l->resolved_ok && !quiet)
        fprintf(stderr, "jobcell profile: %s\n", err.msg);
    return l->resolved_ok ? 0 : -1;
}

char *jc_profile_dir_option(const char *given) {
    return given ? strdup(given) : jc_seccomp_default_dir();
}

/* ---- symbolic arguments ------------------------------------------------------------ */

static const struct {
    const char *name;
    uint64_t value;
} symbols[] = {
    {"AF_UNIX", AF_UNIX},
    {"AF_LOCAL", AF_UNIX},
    {"AF_INET", AF_INET},
    {"AF_INET6", AF_INET6},
    {"AF_NETLINK", AF_NETLINK},
    {"AF_PACKET", AF_PACKET},
    {"AF_VSOCK", AF_VSOCK},
    {"AF_ALG", AF_ALG},
    {"SOCK_STREAM", SOCK_STREAM},
    {"SOCK_DGRAM", SOCK_DGRAM},
    {"SOCK_RAW", SOCK_RAW},
    {"CLONE_VM", CLONE_VM},
    {"CLONE_FS", CLONE_FS},
    {"CLONE_FILES", CLONE_FILES},
    {"CLONE_SIGHAND", CLONE_SIGHAND},
    {"CLONE_THREAD", CLONE_THREAD},
    {"CLONE_NEWNS", CLONE_NEWNS},
    {"CLONE_NEWCGROUP", CLONE_NEWCGROUP},
    {"CLONE_NEWUTS", CLONE_NEWUTS},
    {"CLONE_NEWIPC", CLONE_NEWIPC},
    {"CLONE_NEWUSER", CLONE_NEWUSER},
    {"CLONE_NEWPID", CLONE_NEWPID},
    {"CLONE_NEWNET", CLONE_NEWNET},
    {"SIGCHLD", 17},
};

/* Parse "16", "0x10", "AF_NETLINK", "CLONE_NEWUSER|SIGCHLD". */
static int parse_arg_value(const char *s, uint64_t *out) {
    *out = 0;
    _cleanup_free_ char *copy = strdup(s);
    if (!copy)
        return -1;
    char *save = NULL;
    for (char *tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
        bool found = false;
        for (size_t i = 0; i < JC_ARRAY_LEN(symbols) && !found; i++)
            if (strcmp(tok, symbols[i].name) == 0) {
                *out |= symbols[i].value;
                found = true;
            }
        if (found)
            continue;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(tok, &end, 0);
        if (errno || end == tok || *end || tok[0] == '-')
            return -1;
        *out |= v;
    }
    return 0;
}

/* ---- check ------------------------------------------------------------------------- */

static int cmd_check(const char *dir, int argc, char **argv) {
    if (argc != 1) {
        fprintf(stderr, "usage: jobcell profile check PROFILE\n");
        return 2;
    }
    jc_seccomp_diags diags = {0};
    loaded l;
    int rc = load_profile(dir, argv[0], &l, &diags, true);
    if (rc < 0 && !l.path) {
        jc_seccomp_diags_free(&diags);
        return 2;
    }
    printf("profile %s\n", l.path);
    jc_seccomp_summary sum = {0};
    jc_err err = {0};
    if (rc == 0) {
        const jc_seccomp_profile *p = l.profile;
        char act[64];
        printf("  description: %s\n", p->description ? p->description : "(none)");
        printf("  checked for: %s, kernel %u.%u.%u, a job with no capabilities\n",
               jc_seccomp_arch_go_name(l.resolved.env.arch), l.resolved.env.kernel[0],
               l.resolved.env.kernel[1], l.resolved.env.kernel[2]);
        printf("  default action: %s\n",
               jc_seccomp_action_describe(p->default_action, act, sizeof(act)));
        printf("  architectures in the filter:");
        for (size_t i = 0; i < l.resolved.narches; i++)
            printf(" %s", jc_seccomp_arch_go_name(l.resolved.arches[i]));
        printf("\n");
        rc = jc_seccomp_check(&l.resolved, &sum, &diags, &err);
        printf("  system calls allowed unconditionally: %zu\n", sum.allowed_unconditional);
        printf("  system calls allowed under argument conditions: %zu\n", sum.allowed_conditional);
        printf("  system calls denied: %zu\n", sum.denied);
        if (rc == 0)
            printf("  compiled filter: %zu BPF instructions\n", sum.filter_len);
    }
    if (diags.n) {
        printf("findings:\n");
        print_diags(&diags, stdout, true);
    }
    bool valid = rc == 0 && diags.nerrors == 0;
    printf("%s: %s (%zu error%s)\n", l.path, valid ? "valid" : "INVALID", diags.nerrors,
           diags.nerrors == 1 ? "" : "s");
    jc_seccomp_diags_free(&diags);
    loaded_free(&l);
    return valid ? 0 : 1;
}

/* ---- explain ----------------------------------------------------------------------- */

static int cmd_explain(const char *dir, int argc, char **argv) {
    if (argc < 2 || argc > 8) {
        fprintf(stderr, "usage: jobcell profile explain PROFILE SYSCALL [ARG…] (at most 6 "
                        "arguments)\n");
        return 2;
    }
    uint64_t args[6] = {0};
    size_t nargs = (size_t)argc - 2;
    for (size_t i = 0; i < nargs; i++)
        if (parse_arg_value(argv[2 + i], &args[i]) < 0) {
            fprintf(stderr,
                    "jobcell profile explain: argument %zu '%s' is not a number or a known "
                    "constant\n",
                    i, argv[2 + i]);
            return 2;
        }
    jc_seccomp_diags diags = {0};
    loaded l;
    if (load_profile(dir, argv[0], &l, &diags, false) < 0) {
        print_diags(&diags, stderr, false);
        jc_seccomp_diags_free(&diags);
        bool usage = !l.path;
        loaded_free(&l);
        return usage ? 2 : 1;
    }
    jc_seccomp_diags_free(&diags);
    const char *name = argv[1];
    jc_seccomp_verdict v;
    jc_err err = {0};
    if (jc_seccomp_explain(&l.resolved, name, nargs ? args : NULL, nargs, &v, &err) < 0) {
        fprintf(stderr, "jobcell profile explain: %s\n", err.msg);
        loaded_free(&l);
        return 2;
    }
    const jc_seccomp_profile *p = l.profile;
    char act[64], cond[256];
    printf("%s(", name);
    for (size_t i = 0; i < nargs; i++)
        printf("%s0x%llx", i ? ", " : "", (unsigned long long)args[i]);
    printf(") under %s:\n", l.path);
    if (v.ignored_name)
        printf("  verdict: %s — '%s' is newer than this system's libseccomp, so no rule can "
               "name it and the default action applies\n",
               jc_seccomp_action_describe(v.action, act, sizeof(act)), name);
    else if (v.conditional && nargs == 0) {
        printf("  verdict: depends on the arguments — %s when a rule's conditions hold, "
               "otherwise %s\n",
               jc_seccomp_action_describe(v.action, act, sizeof(act)),
               jc_seccomp_action_describe(p->default_action, cond, sizeof(cond)));
        printf("  (give the arguments to see which applies: jobcell profile explain %s %s "
               "ARG0 …)\n",
               argv[0], name);
    } else {
        printf("  verdict: %s\n", jc_seccomp_action_describe(v.action, act, sizeof(act)));
        if (v.rule >= 0) {
            const jc_seccomp_rule *r = &p->rules[v.rule];
            printf("  decided by syscalls[%ld]%s%s%s\n", v.rule, r->nargs ? " (conditions: " : "",
                   r->nargs ? jc_seccomp_rule_conditions(r, cond, sizeof(cond)) : "",
                   r->nargs ? ")" : "");
            if (r->comment)
                printf("    comment: %s\n", r->comment);
        } else
            printf("  decided by the default action%s\n",
                   v.conditional ? ": no rule's conditions hold for these arguments" : "");
    }
    /* Every rule that names the syscall, and what became of it. */
    bool header = false;
    for (size_t i = 0; i < p->nrules; i++) {
        const jc_seccomp_rule *r = &p->rules[i];
        if (!jc_seccomp_rule_names(r, name))
            continue;
        if (!header) {
            printf("  rules naming %s:\n", name);
            header = true;
        }
        printf("    syscalls[%zu]: %s %s%s", i,
               jc_seccomp_action_describe(r->action, act, sizeof(act)),
               r->nargs ? "when " : "unconditionally",
               r->nargs ? jc_seccomp_rule_conditions(r, cond, sizeof(cond)) : "");
        if (!l.resolved.applies[i])
            printf(" — does not apply: %s", l.resolved.why_not[i]);
        else if (jc_seccomp_action_eq(r->action, p->default_action))
            printf(" — same as the default action");
        else if (nargs && r->nargs)
            printf(" — %s", jc_seccomp_rule_matches(r, args) ? "matches" : "does not match");
        printf("\n");
    }
    if (!header && !v.ignored_name)
        printf("  no rule names %s\n", name);
    /* Ask the compiled filter too, so what is printed is what the kernel will do. */
    int nr = seccomp_syscall_resolve_name_arch(l.resolved.env.arch, name);
    jc_seccomp_filter f;
    if (nr >= 0 && (!v.conditional || nargs) && jc_seccomp_compile(&l.resolved, &f, &err) == 0) {
        uint32_t ret = jc_seccomp_filter_eval(&f, l.resolved.env.arch, nr, args);
        jc_seccomp_filter_free(&f);
        uint32_t want = v.action.kind == JC_SCMP_ALLOW          ? SCMP_ACT_ALLOW
                        : v.action.kind == JC_SCMP_ERRNO        ? SCMP_ACT_ERRNO(v.action.errno_ret)
                        : v.action.kind == JC_SCMP_KILL_THREAD  ? SCMP_ACT_KILL_THREAD
                        : v.action.kind == JC_SCMP_KILL_PROCESS ? SCMP_ACT_KILL_PROCESS
                        : v.action.kind == JC_SCMP_TRAP         ? SCMP_ACT_TRAP
                        : v.action.kind == JC_SCMP_LOG          ? SCMP_ACT_LOG
                                                                : SCMP_ACT_NOTIFY;
        if (ret == want)
            printf("  the compiled filter agrees (return value 0x%08x)\n", ret);
        else {
            printf("  WARNING: the compiled filter returns 0x%08x, not 0x%08x: please report "
                   "this profile\n",
                   ret, want);
            loaded_free(&l);
            return 1;
        }
    }
    const char *danger = jc_seccomp_dangerous(name, nargs ? args : NULL, nargs);
    if (danger && (v.action.kind == JC_SCMP_ALLOW || v.action.kind == JC_SCMP_LOG))
        printf("  dangerous: %s\n", danger);
    loaded_free(&l);
    return 0;
}

/* ---- diff -------------------------------------------------------------------------- */

static bool verdict_allows(const jc_seccomp_verdict *v) {
    return v->action.kind == JC_SCMP_ALLOW || v->action.kind == JC_SCMP_LOG;
}

static int cmd_diff(const char *dir, int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: jobcell profile diff A B\n");
        return 2;
    }
    loaded a, b;
    jc_seccomp_diags diags = {0};
    if (load_profile(dir, argv[0], &a, &diags, false) < 0) {
        print_diags(&diags, stderr, false);
        jc_seccomp_diags_free(&diags);
        loaded_free(&a);
        return 2;
    }
    if (load_profile(dir, argv[1], &b, &diags, false) < 0) {
        print_diags(&diags, stderr, false);
        jc_seccomp_diags_free(&diags);
        loaded_free(&a);
        loaded_free(&b);
        return 2;
    }
    jc_seccomp_diags_free(&diags);
    jc_seccomp_diff d;
    jc_err err = {0};
    if (jc_seccomp_diff_compute(&a.resolved, &b.resolved, &d, &err) < 0) {
        fprintf(stderr, "jobcell profile diff: %s\n", err.msg);
        loaded_free(&a);
        loaded_free(&b);
        return 1;
    }
    printf("A = %s\nB = %s\n", a.path, b.path);
    char act[64];
    if (!jc_seccomp_action_eq(a.profile->default_action, b.profile->default_action)) {
        printf("default action: A %s",
               jc_seccomp_action_describe(a.profile->default_action, act, sizeof(act)));
        printf(", B %s\n", jc_seccomp_action_describe(b.profile->default_action, act, sizeof(act)));
    }
    static const char *const groups[] = {"allowed by A only", "allowed by B only",
                                         "denied differently",
                                         "decided by argument conditions (side by side)"};
    for (int g = 0; g < 4; g++) {
        size_t count = 0;
        for (size_t i = 0; i < d.n; i++) {
            const jc_seccomp_difference *x = &d.items[i];
            int group = x->a.conditional || x->b.conditional              ? 3
                        : verdict_allows(&x->a) && !verdict_allows(&x->b) ? 0
                        : verdict_allows(&x->b) && !verdict_allows(&x->a) ? 1
                                                                          : 2;
            if (group != g)
                continue;
            if (count++ == 0)
                printf("%s:\n", groups[g]);
            if (g == 3)
                printf("  %s\n    A: %s\n    B: %s\n", x->syscall, x->a_rule, x->b_rule);
            else
                printf("  %-24s A: %-28s B: %s\n", x->syscall, x->a_rule, x->b_rule);
        }
    }
    int rc = d.n ? 1 : 0;
    if (!d.n)
        printf("no differences: every system call gets the same verdict\n");
    else
        printf("%zu system call%s differ\n", d.n, d.n == 1 ? "" : "s");
    jc_seccomp_diff_free(&d);
    loaded_free(&a);
    loaded_free(&b);
    return rc;
}

/* ---- ls ---------------------------------------------------------------------------- */

static int cmd_ls(const char *dir, int argc, char **argv) {
    (void)argv;
    if (argc != 0) {
        fprintf(stderr, "usage: jobcell profile ls\n");
        return 2;
    }
    jc_err err = {0};
    jc_seccomp_set *set = jc_seccomp_set_load(dir, NULL, &err);
    if (!set) {
        fprintf(stderr, "jobcell profile ls: %s\n", err.msg);
        return 1;
    }
    printf("profiles in %s:\n", dir);
    int rc = 0;
    for (size_t i = 0; i < set->n; i++) {
        const jc_seccomp_entry *e = &set->entries[i];
        if (e->error) {
            printf("  %-16s BROKEN: %s\n", e->name, e->error);
            rc = 1;
        } else
            printf("  %-16s %s\n", e->name,
                   e->description[0] ? e->description : "(no description)");
    }
    if (set->n == 0)
        printf("  (none)\n");
    jc_seccomp_set_free(set);
    return rc;
}

/* ---- entry ------------------------------------------------------------------------- */

static int run_profile(int argc, char **argv) {
    const char *dir_opt = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            profile_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--profile-dir") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "jobcell profile: --profile-dir needs a directory\n");
                return 2;
            }
            dir_opt = argv[i];
        } else if (strncmp(argv[i], "--profile-dir=", 14) == 0)
            dir_opt = argv[i] + 14;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "jobcell profile: unknown option '%s' (see jobcell profile --help)\n",
                    argv[i]);
            return 2;
        } else
            break;
    }
    if (i >= argc) {
        profile_usage(stderr);
        return 2;
    }
    const char *sub = argv[i];
    int sargc = argc - i - 1;
    char **sargv = argv + i + 1;
    for (int k = 0; k < sargc && strcmp(sub, "learn") != 0; k++)
        if (strcmp(sargv[k], "--help") == 0 || strcmp(sargv[k], "-h") == 0) {
            profile_usage(stdout);
            return 0;
        }
    _cleanup_free_ char *dir = jc_profile_dir_option(dir_opt);
    if (!dir) {
        fprintf(stderr, "jobcell profile: out of memory\n");
        return 1;
    }
    if (strcmp(sub, "check") == 0)
        return cmd_check(dir, sargc, sargv);
    if (strcmp(sub, "explain") == 0)
        return cmd_explain(dir, sargc, sargv);
    if (strcmp(sub, "diff") == 0)
        return cmd_diff(dir, sargc, sargv);
    if (strcmp(sub, "ls") == 0)
        return cmd_ls(dir, sargc, sargv);
    if (strcmp(sub, "learn") == 0)
        return jc_profile_learn(dir, sargc, sargv);
    fprintf(stderr, "jobcell profile: unknown command '%s' (see jobcell profile --help)\n", sub);
    return 2;
}

JC_CLI_COMMAND(profile_command, .name = "profile",
               .summary = "check, explain, compare and learn seccomp profiles", .run = run_profile,
               .order = 60)
