/* seccomp_profile.c: the strict parser of seccomp profiles (OCI + Docker superset).
 *
 * The parser does not stop at the first problem: `jobcell profile check` shows an admin
 * every error at once, each located by its JSON path. The first error also goes to err,
 * so a plain caller gets a one-line reason. */
#include "jobcell/seccomp.h"

#include <errno.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"

#define PROFILE_MAX_BYTES (4u << 20)

/* Syscalls newer than the libseccomp this build uses: a profile written for a newer
 * system may name them, and they are then ignored (the default action applies to them,
 * as it does to every syscall the filter does not name). Anything else unknown is a
 * typo, and a typo in a security policy is an error. */
static const char *const ignorable_names[] = {
    "mseal",
    "listmount",
    "statmount",
    "lsm_get_self_attr",
    "lsm_set_self_attr",
    "lsm_list_modules",
    "uretprobe",
    "setxattrat",
    "getxattrat",
    "listxattrat",
    "removexattrat",
    "open_tree_attr",
    "file_getattr",
    "file_setattr",
};

bool jc_seccomp_name_ignorable(const char *name) {
    for (size_t i = 0; i < JC_ARRAY_LEN(ignorable_names); i++)
        if (strcmp(name, ignorable_names[i]) == 0)
            return true;
    return false;
}

/* snprintf for locations and messages: a truncated location is still a location, so
 * truncation is accepted here (and the compiler is told so by going through va_list). */
static void pathf(char *buf, size_t len, const char *fmt, ...) JC_PRINTF(3, 4);
static void pathf(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* ---- diagnostics ------------------------------------------------------------------- */

__attribute__((format(printf, 4, 0))) static void diag_vadd(jc_seccomp_diags *d,
                                                            jc_seccomp_severity sev,
                                                            const char *where, const char *fmt,
                                                            va_list ap) {
    if (!d)
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        jc_seccomp_diag *items = realloc(d->items, cap * sizeof(*items));
        if (!items)
            return; /* the first error also lives in err; losing a note is acceptable */
        d->items = items;
        d->cap = cap;
    }
    jc_seccomp_diag *it = &d->items[d->n++];
    it->severity = sev;
    pathf(it->where, sizeof(it->where), "%s", where ? where : "");
    vsnprintf(it->msg, sizeof(it->msg), fmt, ap);
    if (sev == JC_SCMP_DIAG_ERROR)
        d->nerrors++;
}

void jc_seccomp_diags_free(jc_seccomp_diags *d) {
    if (!d)
        return;
    free(d->items);
    memset(d, 0, sizeof(*d));
}

typedef struct parser {
    jc_seccomp_diags *diags;
    jc_err *err;
    size_t nerrors;
} parser;

JC_PRINTF(3, 4)
static void perror_at(parser *ps, const char *where, const char *fmt, ...) {
    va_list ap;
    char msg[320];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ps->nerrors++ == 0)
        jc_err_field(ps->err, JC_E_INVALID, where, "%s%s%s", where, *where ? ": " : "", msg);
    jc_seccomp_diag_add(ps->diags, JC_SCMP_DIAG_ERROR, where, "%s", msg);
}

JC_PRINTF(3, 4)
static void pwarn_at(parser *ps, const char *where, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(ps->diags, JC_SCMP_DIAG_WARNING, where, fmt, ap);
    va_end(ap);
}

void jc_seccomp_diag_add(jc_seccomp_diags *d, jc_seccomp_severity sev, const char *where,
                         const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, sev, where, fmt, ap);
    va_end(ap);
}

/* ---- names ------------------------------------------------------------------------- */

static const struct {
    const char *name;
    jc_seccomp_act act;
} act_names[] = {
    {"SCMP_ACT_ALLOW", JC_SCMP_ALLOW},
    {"SCMP_ACT_ERRNO", JC_SCMP_ERRNO},
    {"SCMP_ACT_KILL", JC_SCMP_KILL_THREAD},
    {"SCMP_ACT_KILL_THREAD", JC_SCMP_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", JC_SCMP_KILL_PROCESS},
    {"SCMP_ACT_TRAP", JC_SCMP_TRAP},
    {"SCMP_ACT_LOG", JC_SCMP_LOG},
};

static const char *const op_names[] = {
    [JC_SCMP_NE] = "SCMP_CMP_NE",
    [JC_SCMP_LT] = "SCMP_CMP_LT",
    [JC_SCMP_LE] = "SCMP_CMP_LE",
    [JC_SCMP_EQ] = "SCMP_CMP_EQ",
    [JC_SCMP_GE] = "SCMP_CMP_GE",
    [JC_SCMP_GT] = "SCMP_CMP_GT",
    [JC_SCMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

const char *jc_seccomp_act_name(jc_seccomp_act act) {
    switch (act) {
    case JC_SCMP_ALLOW: return "SCMP_ACT_ALLOW";
    case JC_SCMP_ERRNO: return "SCMP_ACT_ERRNO";
    case JC_SCMP_KILL_THREAD: return "SCMP_ACT_KILL_THREAD";
    case JC_SCMP_KILL_PROCESS: return "SCMP_ACT_KILL_PROCESS";
    case JC_SCMP_TRAP: return "SCMP_ACT_TRAP";
    case JC_SCMP_LOG: return "SCMP_ACT_LOG";
    case JC_SCMP_NOTIFY: return "SCMP_ACT_NOTIFY";
    }
    return "?";
}

const char *jc_seccomp_op_name(jc_seccomp_op op) {
    return op <= JC_SCMP_MASKED_EQ ? op_names[op] : "?";
}

bool jc_seccomp_action_eq(jc_seccomp_action a, jc_seccomp_action b) {
    return a.kind == b.kind && (a.kind != JC_SCMP_ERRNO || a.errno_ret == b.errno_ret);
}

const char *jc_seccomp_action_describe(jc_seccomp_action a, char *buf, size_t len) {
    switch (a.kind) {
    case JC_SCMP_ALLOW: pathf(buf, len, "allow"); break;
    case JC_SCMP_ERRNO: {
        const char *n = strerrorname_np(a.errno_ret);
        pathf(buf, len, "errno %d (%s)", a.errno_ret, n ? n : "?");
        break;
    }
    case JC_SCMP_KILL_THREAD: pathf(buf, len, "kill (thread)"); break;
    case JC_SCMP_KILL_PROCESS: pathf(buf, len, "kill (process)"); break;
    case JC_SCMP_TRAP: pathf(buf, len, "trap (SIGSYS)"); break;
    case JC_SCMP_LOG: pathf(buf, len, "log (allowed, logged by the kernel)"); break;
    case JC_SCMP_NOTIFY: pathf(buf, len, "notify (a supervisor decides)"); break;
    }
    return buf;
}

/* ---- JSON helpers ------------------------------------------------------------------ */

/* Report every key of obj not in allowed. */
static void reject_unknown(parser *ps, json_t *obj, const char *where, const char *const *allowed,
                           size_t nallowed) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (size_t i = 0; i < nallowed && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char at[96];
            pathf(at, sizeof(at), "%s%s%s", where, *where ? "." : "", key);
            perror_at(ps, at, "unknown field");
        }
    }
}

static void free_strings(char **v, size_t n);

/* A JSON array of non-empty strings (NULL or absent → empty). Owned result. */
static char **string_array(parser *ps, json_t *arr, const char *where, size_t *n_out) {
    *n_out = 0;
    if (!arr || json_is_null(arr))
        return NULL;
    if (!json_is_array(arr)) {
        perror_at(ps, where, "must be an array of strings");
        return NULL;
    }
    size_t n = json_array_size(arr);
    char **out = calloc(n + 1, sizeof(*out));
    if (!out) {
        perror_at(ps, where, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(arr, i);
        char at[96];
        pathf(at, sizeof(at), "%s[%zu]", where, i);
        if (!json_is_string(s) || json_string_length(s) == 0) {
            perror_at(ps, at, "must be a non-empty string");
            out[i] = strdup("");
        } else
            out[i] = strdup(json_string_value(s));
        if (!out[i]) {
            perror_at(ps, at, "out of memory");
            free_strings(out, i);
            return NULL;
        }
    }
    *n_out = n;
    return out;
}

static void free_strings(char **v, size_t n) {
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char *opt_string(parser *ps, json_t *obj, const char *key, const char *where) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return NULL;
    char at[96];
    pathf(at, sizeof(at), "%s%s%s", where, *where ? "." : "", key);
    if (!json_is_string(v)) {
        perror_at(ps, at, "must be a string");
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    if (!s)
        perror_at(ps, at, "out of memory");
    return s;
}

/* A non-negative integer ≤ max. */
static int get_uint(parser *ps, json_t *v, const char *at, uint64_t max, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
        perror_at(ps, at, "must be an integer from 0 to %llu", (unsigned long long)max);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_action(parser *ps, json_t *obj, const char *akey, const char *ekey,
                        const char *where, jc_seccomp_action *out) {
    char at[96];
    pathf(at, sizeof(at), "%s%s%s", where, *where ? "." : "", akey);
    json_t *a = json_object_get(obj, akey);
    if (!a || !json_is_string(a)) {
        perror_at(ps, at, a ? "must be a string" : "is required");
        return -1;
    }
    const char *name = json_string_value(a);
    bool found = false;
    for (size_t i = 0; i < JC_ARRAY_LEN(act_names) && !found; i++)
        if (strcmp(name, act_names[i].name) == 0) {
            out->kind = act_names[i].act;
            found = true;
        }
    if (!found) {
        if (strcmp(name, "SCMP_ACT_TRACE") == 0)
            perror_at(ps, at,
                      "SCMP_ACT_TRACE is not supported: a job has no tracer, so the "
                      "call would fail with ENOSYS; use SCMP_ACT_ERRNO");
        else if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
            perror_at(ps, at,
                      "SCMP_ACT_NOTIFY is not allowed in a profile: nothing would "
                      "answer the notification (jobcell profile learn uses it "
                      "internally)");
        else
            perror_at(ps, at,
                      "unknown action '%s' (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, "
                      "SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, "
                      "SCMP_ACT_TRAP or SCMP_ACT_LOG)",
                      name);
        return -1;
    }
    out->errno_ret = 0;
    json_t *e = json_object_get(obj, ekey);
    char eat[96];
    pathf(eat, sizeof(eat), "%s%s%s", where, *where ? "." : "", ekey);
    if (out->kind == JC_SCMP_ERRNO) {
        out->errno_ret = EPERM; /* the OCI default when errnoRet is absent */
        uint64_t v;
        if (e && !json_is_null(e) && get_uint(ps, e, eat, 4095, &v) == 0)
            out->errno_ret = (int)v;
    } else if (e && !json_is_null(e)) {
        perror_at(ps, eat, "only valid with SCMP_ACT_ERRNO");
        return -1;
    }
    return 0;
}

/* ---- includes / excludes ----------------------------------------------------------- */

static int kernel_version_valid(const char *s) {
    unsigned k[3];
    return jc_seccomp_parse_kernel(s, k, NULL) == 0 && strspn(s, "0123456789.") == strlen(s);
}

static void parse_cond(parser *ps, json_t *v, const char *where, jc_seccomp_cond *c) {
    if (!v || json_is_null(v))
        return;
    if (!json_is_object(v)) {
        perror_at(ps, where, "must be an object");
        return;
    }
    static const char *const keys[] = {"caps", "arches", "minKernel"};
    reject_unknown(ps, v, where, keys, JC_ARRAY_LEN(keys));
    char at[96];
    pathf(at, sizeof(at), "%s.caps", where);
    c->caps = string_array(ps, json_object_get(v, "caps"), at, &c->ncaps);
    for (size_t i = 0; i < c->ncaps; i++)
        if (c->caps[i][0] && strncmp(c->caps[i], "CAP_", 4) != 0) {
            char iat[112];
            pathf(iat, sizeof(iat), "%s[%zu]", at, i);
            perror_at(ps, iat, "'%s' is not a capability name (CAP_…)", c->caps[i]);
        }
    pathf(at, sizeof(at), "%s.arches", where);
    c->arches = string_array(ps, json_object_get(v, "arches"), at, &c->narches);
    for (size_t i = 0; i < c->narches; i++)
        if (c->arches[i][0] && jc_seccomp_arch_parse(c->arches[i]) == 0) {
            char iat[112];
            pathf(iat, sizeof(iat), "%s[%zu]", at, i);
            perror_at(ps, iat, "unknown architecture '%s'", c->arches[i]);
        }
    c->min_kernel = opt_string(ps, v, "minKernel", where);
    if (c->min_kernel && !kernel_version_valid(c->min_kernel)) {
        pathf(at, sizeof(at), "%s.minKernel", where);
        perror_at(ps, at, "'%s' is not a kernel version (like \"5.8\")", c->min_kernel);
    }
}

static void free_cond(jc_seccomp_cond *c) {
    free_strings(c->caps, c->ncaps);
    free_strings(c->arches, c->narches);
    free(c->min_kernel);
}

/* ---- rules ------------------------------------------------------------------------- */

static void parse_args(parser *ps, json_t *v, const char *where, jc_seccomp_rule *r) {
    if (!v || json_is_null(v))
        return;
    if (!json_is_array(v)) {
        perror_at(ps, where, "must be an array");
        return;
    }
    size_t n = json_array_size(v);
    if (n == 0)
        return;
    r->args = calloc(n, sizeof(*r->args));
    if (!r->args) {
        perror_at(ps, where, "out of memory");
        return;
    }
    r->nargs = n;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(v, i);
        char at[96], fat[112];
        pathf(at, sizeof(at), "%s[%zu]", where, i);
        if (!json_is_object(a)) {
            perror_at(ps, at, "must be an object");
            continue;
        }
        static const char *const keys[] = {"index", "value", "valueTwo", "op"};
        reject_unknown(ps, a, at, keys, JC_ARRAY_LEN(keys));
        jc_seccomp_arg *arg = &r->args[i];
        uint64_t x;
        json_t *f = json_object_get(a, "index");
        pathf(fat, sizeof(fat), "%s.index", at);
        if (!f)
            perror_at(ps, fat, "is required");
        else if (json_is_integer(f) && json_integer_value(f) > 5)
            perror_at(ps, fat,
                      "argument index %lld is out of range: a system call has "
                      "arguments 0 to 5",
                      (long long)json_integer_value(f));
        else if (get_uint(ps, f, fat, 5, &x) == 0)
            arg->index = (unsigned)x;
        f = json_object_get(a, "value");
        pathf(fat, sizeof(fat), "%s.value", at);
        if (!f)
            perror_at(ps, fat, "is required");
        else if (get_uint(ps, f, fat, INT64_MAX, &x) == 0)
            arg->value = x;
        f = json_object_get(a, "valueTwo");
        pathf(fat, sizeof(fat), "%s.valueTwo", at);
        if (f && get_uint(ps, f, fat, INT64_MAX, &x) == 0)
            arg->value_two = x;
        f = json_object_get(a, "op");
        pathf(fat, sizeof(fat), "%s.op", at);
        if (!f || !json_is_string(f)) {
            perror_at(ps, fat, f ? "must be a string" : "is required");
            continue;
        }
        bool found = false;
        for (size_t k = 0; k < JC_ARRAY_LEN(op_names) && !found; k++)
            if (strcmp(json_string_value(f), op_names[k]) == 0) {
                arg->op = (jc_seccomp_op)k;
                found = true;
            }
        if (!found)
            perror_at(ps, fat,
                      "unknown operator '%s' (expected SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, "
                      "SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT or SCMP_CMP_MASKED_EQ)",
                      json_string_value(f));
        else if (arg->op == JC_SCMP_MASKED_EQ && arg->value == 0)
            pwarn_at(ps, fat,
                     "SCMP_CMP_MASKED_EQ with mask 0 always matches when valueTwo is 0 "
                     "and never otherwise");
        else if (arg->op != JC_SCMP_MASKED_EQ && json_object_get(a, "valueTwo") &&
                 arg->value_two != 0)
            pwarn_at(ps, fat, "valueTwo is only used by SCMP_CMP_MASKED_EQ and is ignored here");
    }
}

static void parse_rule(parser *ps, json_t *v, size_t idx, jc_seccomp_rule *r) {
    char where[64], at[96];
    pathf(where, sizeof(where), "syscalls[%zu]", idx);
    if (!json_is_object(v)) {
        perror_at(ps, where, "must be an object");
        return;
    }
    static const char *const keys[] = {"names", "name",    "action",   "errnoRet",
                                       "args",  "comment", "includes", "excludes"};
    reject_unknown(ps, v, where, keys, JC_ARRAY_LEN(keys));

    /* Old OCI drafts had a single "name"; accept it as one-element "names". */
    json_t *names = json_object_get(v, "names");
    json_t *name = json_object_get(v, "name");
    pathf(at, sizeof(at), "%s.names", where);
    if (names && name)
        perror_at(ps, at, "give either names or name, not both");
    else if (name) {
        pathf(at, sizeof(at), "%s.name", where);
        if (!json_is_string(name))
            perror_at(ps, at, "must be a string");
        else {
            r->names = calloc(2, sizeof(char *));
            if (r->names && (r->names[0] = strdup(json_string_value(name))))
                r->nnames = 1;
        }
    } else if (!names)
        perror_at(ps, at, "is required");
    else {
        r->names = string_array(ps, names, at, &r->nnames);
        if (json_is_array(names) && r->nnames == 0)
            perror_at(ps, at, "must name at least one system call");
    }
    if (r->nnames) {
        r->nrs = calloc(r->nnames, sizeof(int));
        if (!r->nrs) {
            perror_at(ps, at, "out of memory");
            r->nnames = 0;
        }
    }
    for (size_t i = 0; i < r->nnames; i++) {
        char nat[112];
        pathf(nat, sizeof(nat), "%s.names[%zu]", where, i);
        if (!r->names[i][0])
            continue; /* already reported */
        int nr = seccomp_syscall_resolve_name(r->names[i]);
        if (nr == __NR_SCMP_ERROR) {
            if (jc_seccomp_name_ignorable(r->names[i]))
                r->nrs[i] = JC_SCMP_IGNORED;
            else
                perror_at(ps, nat, "'%s' is not a known system call", r->names[i]);
        } else
            r->nrs[i] = nr;
        for (size_t k = 0; k < i; k++)
            if (strcmp(r->names[k], r->names[i]) == 0)
                pwarn_at(ps, nat, "'%s' is listed twice in this rule", r->names[i]);
    }
    parse_action(ps, v, "action", "errnoRet", where, &r->action);
    pathf(at, sizeof(at), "%s.args", where);
    parse_args(ps, json_object_get(v, "args"), at, r);
    r->comment = opt_string(ps, v, "comment", where);
    pathf(at, sizeof(at), "%s.includes", where);
    parse_cond(ps, json_object_get(v, "includes"), at, &r->includes);
    pathf(at, sizeof(at), "%s.excludes", where);
    parse_cond(ps, json_object_get(v, "excludes"), at, &r->excludes);
}

/* ---- top level --------------------------------------------------------------------- */

static const char *const known_flags[] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                          "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};

static void parse_archmap(parser *ps, json_t *v, jc_seccomp_profile *p) {
    if (!v || json_is_null(v))
        return;
    if (!json_is_array(v)) {
        perror_at(ps, "archMap", "must be an array");
        return;
    }
    size_t n = json_array_size(v);
    p->archmap = calloc(n ? n : 1, sizeof(*p->archmap));
    if (!p->archmap) {
        perror_at(ps, "archMap", "out of memory");
        return;
    }
    p->narchmap = n;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        char at[96], fat[112];
        pathf(at, sizeof(at), "archMap[%zu]", i);
        if (!json_is_object(e)) {
            perror_at(ps, at, "must be an object");
            continue;
        }
        static const char *const keys[] = {"architecture", "subArchitectures"};
        reject_unknown(ps, e, at, keys, JC_ARRAY_LEN(keys));
        jc_seccomp_archmap *m = &p->archmap[i];
        m->arch = opt_string(ps, e, "architecture", at);
        pathf(fat, sizeof(fat), "%s.architecture", at);
        if (!m->arch)
            perror_at(ps, fat, "is required");
        else if (jc_seccomp_arch_parse(m->arch) == 0)
            perror_at(ps, fat, "unknown architecture '%s'", m->arch);
        pathf(fat, sizeof(fat), "%s.subArchitectures", at);
        m->sub_arches = string_array(ps, json_object_get(e, "subArchitectures"), fat, &m->nsub);
        for (size_t k = 0; k < m->nsub; k++)
            if (m->sub_arches[k][0] && jc_seccomp_arch_parse(m->sub_arches[k]) == 0) {
                char kat[128];
                pathf(kat, sizeof(kat), "%s[%zu]", fat, k);
                perror_at(ps, kat, "unknown architecture '%s'", m->sub_arches[k]);
            }
    }
}

static jc_seccomp_profile *parse_root(parser *ps, json_t *root, const char *source) {
    jc_seccomp_profile *p = calloc(1, sizeof(*p));
    if (!p || !(p->source = strdup(source ? source : "<text>"))) {
        free(p);
        perror_at(ps, "", "out of memory");
        return NULL;
    }
    if (!json_is_object(root)) {
        perror_at(ps, "", "a profile must be a JSON object");
        return p;
    }
    static const char *const keys[] = {"description",   "defaultAction", "defaultErrnoRet",
                                       "architectures", "archMap",       "flags",
                                       "syscalls",      "listenerPath",  "listenerMetadata"};
    reject_unknown(ps, root, "", keys, JC_ARRAY_LEN(keys));
    if (json_object_get(root, "listenerPath"))
        perror_at(ps, "listenerPath",
                  "a seccomp agent is not supported: nothing would answer its notifications");
    if (json_object_get(root, "listenerMetadata"))
        perror_at(ps, "listenerMetadata", "a seccomp agent is not supported");
    p->description = opt_string(ps, root, "description", "");
    if (p->description && strchr(p->description, '\n'))
        perror_at(ps, "description", "must be one line");
    parse_action(ps, root, "defaultAction", "defaultErrnoRet", "", &p->default_action);
    p->architectures = string_array(ps, json_object_get(root, "architectures"), "architectures",
                                    &p->narchitectures);
    for (size_t i = 0; i < p->narchitectures; i++)
        if (p->architectures[i][0] && jc_seccomp_arch_parse(p->architectures[i]) == 0) {
            char at[64];
            pathf(at, sizeof(at), "architectures[%zu]", i);
            perror_at(ps, at, "unknown architecture '%s'", p->architectures[i]);
        }
    parse_archmap(ps, json_object_get(root, "archMap"), p);
    json_t *archs = json_object_get(root, "architectures"),
           *amap = json_object_get(root, "archMap");
    if (archs && !json_is_null(archs) && amap && !json_is_null(amap))
        perror_at(ps, "archMap", "give either architectures or archMap, not both");
    p->flags = string_array(ps, json_object_get(root, "flags"), "flags", &p->nflags);
    for (size_t i = 0; i < p->nflags; i++) {
        bool ok = false;
        for (size_t k = 0; k < JC_ARRAY_LEN(known_flags) && !ok; k++)
            ok = strcmp(p->flags[i], known_flags[k]) == 0;
        char at[64];
        pathf(at, sizeof(at), "flags[%zu]", i);
        if (!ok)
            perror_at(ps, at, "unknown flag '%s'", p->flags[i]);
        else
            pwarn_at(ps, at,
                     "%s is accepted but not applied: jobcell loads every filter "
                     "without flags",
                     p->flags[i]);
    }
    json_t *sc = json_object_get(root, "syscalls");
    if (sc && !json_is_null(sc)) {
        if (!json_is_array(sc))
            perror_at(ps, "syscalls", "must be an array");
        else {
            size_t n = json_array_size(sc);
            p->rules = calloc(n ? n : 1, sizeof(*p->rules));
            if (!p->rules)
                perror_at(ps, "syscalls", "out of memory");
            else {
                p->nrules = n;
                for (size_t i = 0; i < n; i++)
                    parse_rule(ps, json_array_get(sc, i), i, &p->rules[i]);
            }
        }
    }
    return p;
}

jc_seccomp_profile *jc_seccomp_profile_parse(const char *text, size_t len, const char *source,
                                             jc_seccomp_diags *diags, jc_err *err) {
    parser ps = {.diags = diags, .err = err};
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char at[64];
        pathf(at, sizeof(at), "line %d, column %d", jerr.line, jerr.column);
        perror_at(&ps, at, "not valid JSON: %s", jerr.text);
        return NULL;
    }
    jc_seccomp_profile *p = parse_root(&ps, root, source);
    if (ps.nerrors) {
        jc_seccomp_profile_free(p);
        if (ps.nerrors > 1 && err) {
            size_t used = strlen(err->msg);
            pathf(err->msg + used, sizeof(err->msg) - used, " (and %zu more errors)",
                  ps.nerrors - 1);
        }
        return NULL;
    }
    return p;
}

jc_seccomp_profile *jc_seccomp_profile_load(const char *path, jc_seccomp_diags *diags,
                                            jc_err *err) {
    size_t len;
    _cleanup_free_ char *text = jc_read_file(path, PROFILE_MAX_BYTES, &len, err);
    if (!text) {
        jc_err_prefix(err, "profile %s", path);
        jc_seccomp_diag_add(diags, JC_SCMP_DIAG_ERROR, "", "%s", err ? err->msg : "unreadable");
        return NULL;
    }
    jc_seccomp_profile *p = jc_seccomp_profile_parse(text, len, path, diags, err);
    if (!p)
        jc_err_prefix(err, "profile %s", path);
    return p;
}

void jc_seccomp_profile_free(jc_seccomp_profile *p) {
    if (!p)
        return;
    free(p->source);
    free(p->description);
    free_strings(p->architectures, p->narchitectures);
    for (size_t i = 0; i < p->narchmap; i++) {
        free(p->archmap[i].arch);
        free_strings(p->archmap[i].sub_arches, p->archmap[i].nsub);
    }
    free(p->archmap);
    free_strings(p->flags, p->nflags);
    for (size_t i = 0; i < p->nrules; i++) {
        jc_seccomp_rule *r = &p->rules[i];
        free_strings(r->names, r->nnames);
        free(r->nrs);
        free(r->args);
        free(r->comment);
        free_cond(&r->includes);
        free_cond(&r->excludes);
    }
    free(p->rules);
    free(p);
}
