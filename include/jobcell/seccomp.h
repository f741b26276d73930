/* seccomp.h: seccomp profiles — parse, resolve for a job, compile to BPF, analyse.
 *
 * A profile is the OCI runtime-spec `linux.seccomp` object (defaultAction,
 * defaultErrnoRet, architectures, flags, syscalls[] with names, action, errnoRet, args[]),
 * with Docker's superset (archMap, per-rule includes/excludes by caps, arches and
 * minKernel, comment) and jobcell's top-level one-line `description`. Parsing is strict:
 * unknown fields, unknown actions and operators, unknown syscall names (outside a short
 * list of names newer than the libseccomp in use) and argument indexes above 5 are
 * errors, each located by its JSON path ("syscalls[3].args[0].op").
 *
 * Resolution fixes which rules apply to a job: a job holds no capability, so a rule that
 * `includes` capabilities never applies and one that `excludes` capabilities always does;
 * `arches` is matched against the native architecture and `minKernel` against the running
 * kernel (both can be overridden in jc_seccomp_env for tests and what-if questions).
 *
 * Semantics of a resolved profile (exactly what the compiled filter does):
 *  - per syscall, an unconditional rule decides alone; conditional rules for that
 *    syscall never match (libseccomp drops them);
 *  - otherwise the syscall's conditional rules share one action, taken when any rule's
 *    conditions all hold, the default action otherwise. Within one rule, conditions on
 *    distinct arguments are ANDed; when one argument index appears twice, each condition
 *    is its own alternative (ORed), as runc does;
 *  - two unconditional rules with different actions, or conditional rules with different
 *    actions, for one syscall, are errors: the outcome would depend on libseccomp's
 *    internal ordering.
 *  - a rule whose action equals the default action changes nothing and is skipped.
 *
 * The compiled filter is classic BPF, ready for seccomp(SECCOMP_SET_MODE_FILTER); the
 * sandbox engine loads it in the job child with one call. */
#ifndef JOBCELL_SECCOMP_H
#define JOBCELL_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"

#ifndef JC_SECCOMP_FILTER_DEFINED
#define JC_SECCOMP_FILTER_DEFINED
typedef struct jc_seccomp_filter {
    size_t len;
    struct sock_filter *insns;
} jc_seccomp_filter;
#endif

/* ---- profile model ---------------------------------------------------------------- */

typedef enum jc_seccomp_act {
    JC_SCMP_ALLOW = 0,
    JC_SCMP_ERRNO,
    JC_SCMP_KILL_THREAD, /* SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD */
    JC_SCMP_KILL_PROCESS,
    JC_SCMP_TRAP,
    JC_SCMP_LOG,
    JC_SCMP_NOTIFY, /* never in a file: only the filter `jobcell profile learn` builds */
} jc_seccomp_act;

typedef struct jc_seccomp_action {
    jc_seccomp_act kind;
    int errno_ret; /* JC_SCMP_ERRNO only: 0..4095, EPERM when the profile gives none */
} jc_seccomp_action;

typedef enum jc_seccomp_op {
    JC_SCMP_NE = 0,
    JC_SCMP_LT,
    JC_SCMP_LE,
    JC_SCMP_EQ,
    JC_SCMP_GE,
    JC_SCMP_GT,
    JC_SCMP_MASKED_EQ, /* (arg & value) == valueTwo */
} jc_seccomp_op;

typedef struct jc_seccomp_arg {
    unsigned index; /* 0..5 */
    uint64_t value;
    uint64_t value_two;
    jc_seccomp_op op;
} jc_seccomp_arg;

/* A Docker `includes` / `excludes` filter. */
typedef struct jc_seccomp_cond {
    char **caps;
    size_t ncaps;
    char **arches; /* as written: "amd64", "x86_64", "SCMP_ARCH_X86_64", … */
    size_t narches;
    char *min_kernel; /* "5.8" or "5.8.1", NULL when absent */
} jc_seccomp_cond;

typedef struct jc_seccomp_rule {
    char **names;
    int *nrs; /* per name: libseccomp number (<0 when not native), JC_SCMP_IGNORED when
                 the name is on the ignorable list */
    size_t nnames;
    jc_seccomp_action action;
    jc_seccomp_arg *args;
    size_t nargs;
    char *comment;
    jc_seccomp_cond includes, excludes;
} jc_seccomp_rule;

#define JC_SCMP_IGNORED (-100000)

typedef struct jc_seccomp_archmap {
    char *arch;
    char **sub_arches;
    size_t nsub;
} jc_seccomp_archmap;

typedef struct jc_seccomp_profile {
    char *source; /* file path or "<text>" */
    char *description;
    jc_seccomp_action default_action;
    char **architectures;
    size_t narchitectures;
    jc_seccomp_archmap *archmap;
    size_t narchmap;
    char **flags;
    size_t nflags;
    jc_seccomp_rule *rules;
    size_t nrules;
} jc_seccomp_profile;

/* ---- diagnostics ------------------------------------------------------------------- */

typedef enum jc_seccomp_severity {
    JC_SCMP_DIAG_ERROR = 0,
    JC_SCMP_DIAG_WARNING,
    JC_SCMP_DIAG_NOTE,
} jc_seccomp_severity;

typedef struct jc_seccomp_diag {
    jc_seccomp_severity severity;
    char where[96]; /* JSON path: "syscalls[3].args[0].op", "" for the whole profile */
    char msg[320];
} jc_seccomp_diag;

typedef struct jc_seccomp_diags {
    jc_seccomp_diag *items;
    size_t n, cap;
    size_t nerrors;
} jc_seccomp_diags;

void jc_seccomp_diags_free(jc_seccomp_diags *d);
/* Append one finding (no-op when d is NULL). */
void jc_seccomp_diag_add(jc_seccomp_diags *d, jc_seccomp_severity sev, const char *where,
                         const char *fmt, ...) JC_PRINTF(4, 5);

/* ---- parsing ----------------------------------------------------------------------- */

/* Parse a profile from JSON text. Every problem found is appended to diags (may be
 * NULL); on any error returns NULL and err holds the first one (its field is the JSON
 * path). source names the text in messages. The returned profile is owned by the caller
 * (jc_seccomp_profile_free). */
jc_seccomp_profile *jc_seccomp_profile_parse(const char *text, size_t len, const char *source,
                                             jc_seccomp_diags *diags, jc_err *err);
/* Read and parse a file (at most 4 MiB). */
jc_seccomp_profile *jc_seccomp_profile_load(const char *path, jc_seccomp_diags *diags, jc_err *err);
void jc_seccomp_profile_free(jc_seccomp_profile *p);

/* Names of actions and operators as profiles spell them ("SCMP_ACT_ERRNO",
 * "SCMP_CMP_MASKED_EQ"). */
const char *jc_seccomp_act_name(jc_seccomp_act act);
const char *jc_seccomp_op_name(jc_seccomp_op op);
/* A verdict for people: "allow", "errno 1 (EPERM)", "kill process", … into buf. */
const char *jc_seccomp_action_describe(jc_seccomp_action a, char *buf, size_t len);
bool jc_seccomp_action_eq(jc_seccomp_action a, jc_seccomp_action b);
/* Is this name one of the documented syscalls newer than the libseccomp in use, which a
 * profile may name and which are then ignored? */
bool jc_seccomp_name_ignorable(const char *name);

/* ---- resolution -------------------------------------------------------------------- */

typedef struct jc_seccomp_env {
    uint32_t arch;      /* libseccomp SCMP_ARCH_* token; 0 = native */
    unsigned kernel[3]; /* major, minor, patch; all 0 = the running kernel (uname -r) */
} jc_seccomp_env;

/* Fill env with the native architecture and the running kernel's version. */
int jc_seccomp_env_native(jc_seccomp_env *env, jc_err *err);
/* Parse "6.1.0-18-amd64" (or "5.8") into kernel[3]. */
int jc_seccomp_parse_kernel(const char *release, unsigned kernel[3], jc_err *err);
/* The Docker/Go name of an architecture token ("amd64"), and the reverse for any of the
 * spellings a profile may use (Go, uname, SCMP_ARCH_*); 0 when unknown. */
const char *jc_seccomp_arch_go_name(uint32_t arch);
uint32_t jc_seccomp_arch_parse(const char *name);

typedef struct jc_seccomp_resolved {
    const jc_seccomp_profile *profile; /* borrowed: must outlive this */
    jc_seccomp_env env;
    bool *applies;    /* per rule */
    char **why_not;   /* per rule: why it does not apply (NULL when it does) */
    uint32_t *arches; /* architectures the filter covers, native first */
    size_t narches;
} jc_seccomp_resolved;

/* Resolve a parsed profile for a job on env (NULL = native). Fails (JC_E_INVALID, all
 * problems in diags) when the result is ambiguous or cannot run a job: execve, write and
 * exit_group must be allowed. Warnings and notes (dead rules, …) go to diags too. */
int jc_seccomp_resolve(const jc_seccomp_profile *p, const jc_seccomp_env *env,
                       jc_seccomp_resolved *out, jc_seccomp_diags *diags, jc_err *err);
void jc_seccomp_resolved_free(jc_seccomp_resolved *r);

/* ---- compiling --------------------------------------------------------------------- */

/* Compile a resolved profile into BPF (owned by out; jc_seccomp_filter_free). */
int jc_seccomp_compile(const jc_seccomp_resolved *r, jc_seccomp_filter *out, jc_err *err);
/* The learn variant: the same filter, except that every syscall the profile would not
 * allow is turned into SCMP_ACT_NOTIFY (so a supervisor sees it), but rules answering
 * ENOSYS are kept: they tell libc to use its fallback. */
int jc_seccomp_compile_learn(const jc_seccomp_resolved *r, jc_seccomp_filter *out, jc_err *err);
/* The built-in base of `jobcell profile learn` without --base (JSON text): execve, write,
 * exit_group, and clone3 answered ENOSYS. */
extern const char jc_seccomp_learn_base_json[];
/* Parse, resolve for the native job environment and compile, in one call. */
int jc_seccomp_compile_file(const char *path, jc_seccomp_filter *out, jc_err *err);
void jc_seccomp_filter_free(jc_seccomp_filter *f);
/* Deep copy (owned by out). */
int jc_seccomp_filter_copy(const jc_seccomp_filter *in, jc_seccomp_filter *out, jc_err *err);

/* Run a compiled filter on one system call, as the kernel would: returns the raw
 * SECCOMP_RET_* value (action | data). Invalid programs return SECCOMP_RET_KILL_PROCESS. */
uint32_t jc_seccomp_filter_eval(const jc_seccomp_filter *f, uint32_t arch, int nr,
                                const uint64_t args[6]);

/* ---- analysis (check, explain, diff) ----------------------------------------------- */

/* The verdict of a resolved profile for one syscall. When args is NULL the verdict is the
 * unconditional one, and *conditional tells whether arguments could change it. rule is
 * the index of the deciding rule, or -1 for the default action. */
typedef struct jc_seccomp_verdict {
    jc_seccomp_action action;
    long rule;
    bool conditional;  /* decided by argument conditions (args given: they were honoured) */
    bool ignored_name; /* the name is unknown to this libseccomp: the default applies */
} jc_seccomp_verdict;

/* Look a syscall up by name (error when the name is unknown) and decide it. */
int jc_seccomp_explain(const jc_seccomp_resolved *r, const char *syscall, const uint64_t *args,
                       size_t nargs, jc_seccomp_verdict *out, jc_err *err);

/* Is this syscall (with these args, when given) on the dangerous list? Returns NULL or
 * a one-sentence reason. */
const char *jc_seccomp_dangerous(const char *syscall, const uint64_t *args, size_t nargs);

/* The check report: counts, and findings appended to diags (errors make a profile
 * invalid; warnings for dangerous allows, dead rules, duplicates, ignored names). */
typedef struct jc_seccomp_summary {
    size_t allowed_unconditional;
    size_t allowed_conditional;
    size_t denied;     /* named with a non-allow action, or left to a non-allow default */
    size_t filter_len; /* BPF instructions */
} jc_seccomp_summary;
int jc_seccomp_check(const jc_seccomp_resolved *r, jc_seccomp_summary *sum, jc_seccomp_diags *diags,
                     jc_err *err);

/* One syscall whose treatment differs between two profiles. */
typedef struct jc_seccomp_difference {
    char *syscall;
    jc_seccomp_verdict a, b;
    char *a_rule, *b_rule; /* a short text of the deciding rule (conditions shown) */
} jc_seccomp_difference;

typedef struct jc_seccomp_diff {
    jc_seccomp_difference *items;
    size_t n;
} jc_seccomp_diff;

/* Every syscall known to libseccomp whose verdict or conditions differ. Sorted by name. */
int jc_seccomp_diff_compute(const jc_seccomp_resolved *a, const jc_seccomp_resolved *b,
                            jc_seccomp_diff *out, jc_err *err);
void jc_seccomp_diff_free(jc_seccomp_diff *d);
/* Does the rule list this syscall name? */
bool jc_seccomp_rule_names(const jc_seccomp_rule *r, const char *name);
/* Do a rule's conditions hold for these six argument values (true when it has none)? */
bool jc_seccomp_rule_matches(const jc_seccomp_rule *r, const uint64_t args[6]);
/* A rule's conditions for people: "arg0 & 0x7e020000 == 0 and arg1 == 3" into buf. */
const char *jc_seccomp_rule_conditions(const jc_seccomp_rule *rule, char *buf, size_t len);

/* ---- a directory of profiles (the orchestrator's set) ------------------------------ */

typedef struct jc_seccomp_entry {
    char *name; /* file name without .json */
    char *path;
    char *description;        /* NULL when the profile is broken and never loaded */
    jc_seccomp_filter filter; /* len 0 when broken and no previous version */
    char *error;              /* NULL when this load succeeded, else the first error */
    bool stale;               /* broken now; filter and description are the previous ones */
} jc_seccomp_entry;

typedef struct jc_seccomp_set {
    jc_seccomp_entry *entries; /* sorted by name */
    size_t n;
} jc_seccomp_set;

/* Is this a valid profile name ([a-z0-9][a-z0-9._-]{0,63})? */
bool jc_seccomp_name_valid(const char *name);
/* Load and compile every NAME.json in dir for the native job environment. A broken profile
 * is an entry with error set, never a failure of the whole load; only an unreadable
 * directory fails. With previous given (a reload, e.g. on SIGHUP), a broken profile keeps
 * the previous compiled filter and description (stale = true). Owned by the caller. */
jc_seccomp_set *jc_seccomp_set_load(const char *dir, const jc_seccomp_set *previous, jc_err *err);
/* The entry of that name that has a usable filter, or NULL. */
const jc_seccomp_entry *jc_seccomp_set_find(const jc_seccomp_set *set, const char *name);
void jc_seccomp_set_free(jc_seccomp_set *set);

/* Where `jobcell` finds profiles by name: $JOBCELL_PROFILE_DIR, else the installed
 * directory, else profiles/ of a source tree above the running binary. Owned string. */
char *jc_seccomp_default_dir(void);
/* Resolve FILE|NAME: an argument containing '/' or ending in .json is a path; otherwise
 * dir/NAME.json. Owned string. */
char *jc_seccomp_locate(const char *dir, const char *file_or_name, jc_err *err);

#endif
