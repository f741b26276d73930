/* cgroup_layout.c: where each cgroup controller is mounted, and under which group.
 *
 * A root that has cgroup.controllers is a pure v2 host; otherwise each controller is
 * looked up in the unified hierarchy (<root>/unified, the hybrid layout) and then as a v1
 * hierarchy named by /proc/self/cgroup. A v1 host may mount cpu and cpuacct together
 * ("cpu,cpuacct") or apart; hierarchies are told apart by their line in /proc/self/cgroup,
 * so a co-mounted pair is one directory, not two. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"

const char *const jc_cgroup_ctrl_names[C_COUNT] = {"memory", "pids", "cpu", "cpuacct", "freezer"};

int jc_cgroup_join(char *out, const char *a, const char *b, jc_err *err) {
    int n = snprintf(out, CG_PATH_MAX, "%s/%s", a, b);
    if (n < 0 || n >= CG_PATH_MAX)
        return jc_err_set(err, JC_E_INVALID, "cgroups: path too long: %s/%s", a, b);
    return 0;
}

bool jc_cgroup_has_file(const char *dir, const char *file) {
    char p[CG_PATH_MAX];
    int n = snprintf(p, sizeof(p), "%s/%s", dir, file);
    return n > 0 && n < (int)sizeof(p) && access(p, F_OK) == 0;
}

bool jc_cgroup_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *jc_cgroup_read(const char *dir, const char *file, jc_err *err) {
    char p[CG_PATH_MAX];
    if (jc_cgroup_join(p, dir, file, err) < 0)
        return NULL;
    /* cgroup.procs of a full pids.max of 32768 is ~200 KiB */
    char *s = jc_read_file(p, 4 << 20, NULL, err);
    if (!s)
        jc_err_prefix(err, "cgroups");
    return s;
}

/* Is word in a list separated by sep (',' for /proc/self/cgroup, ' ' for controllers)? */
bool jc_cgroup_list_has(const char *list, const char *word, char sep) {
    size_t wl = strlen(word);
    for (const char *p = list; p && *p;) {
        while (*p == sep || *p == '\n')
            p++;
        const char *e = p;
        while (*e && *e != sep && *e != '\n')
            e++;
        if ((size_t)(e - p) == wl && strncmp(p, word, wl) == 0)
            return true;
        p = e;
    }
    return false;
}

/* A cgroup path from /proc/self/cgroup or the cgroup_parent setting: absolute, and no
 * component that could climb out of the hierarchy. */
static int check_cgroup_path(const char *p, const char *what, jc_err *err) {
    if (p[0] != '/')
        return jc_err_set(err, JC_E_INVALID, "cgroups: %s \"%s\" is not an absolute path", what, p);
    for (const char *s = p; *s; s++) {
        if (s[0] == '/' && s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0'))
            return jc_err_set(err, JC_E_INVALID, "cgroups: %s \"%s\" contains \"..\"", what, p);
        if (*s == '\n')
            return jc_err_set(err, JC_E_INVALID, "cgroups: %s contains a newline", what);
    }
    return 0;
}

int jc_cgroup_check_name(const char *name, jc_err *err) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return jc_err_set(err, JC_E_INVALID, "cgroups: the group name must be 1 to 64 characters");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return jc_err_set(err, JC_E_INVALID,
                              "cgroups: the group name \"%s\" may hold only letters, digits, _ "
                              "and -",
                              name);
    }
    return 0;
}

typedef struct proc_line {
    char ctrls[256];
    char path[CG_PATH_MAX];
} proc_line;

/* Parse /proc/self/cgroup ("id:controllers:path" per line; v2 is "0::path"). */
static int read_proc_cgroup(const char *file, proc_line *lines, int max, int *n, jc_err *err) {
    _cleanup_free_ char *s = jc_read_file(file, 1 << 16, NULL, err);
    if (!s)
        return jc_err_prefix(err, "cgroups: own cgroup");
    *n = 0;
    for (char *line = s; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            return jc_err_set(err, JC_E_INVALID, "cgroups: %s: malformed line \"%s\"", file, line);
        *c2 = '\0';
        if (*n < max) {
            proc_line *pl = &lines[*n];
            int a = snprintf(pl->ctrls, sizeof(pl->ctrls), "%s", c1 + 1);
            int b = snprintf(pl->path, sizeof(pl->path), "%s", c2 + 1);
            if (a < 0 || a >= (int)sizeof(pl->ctrls) || b < 0 || b >= (int)sizeof(pl->path))
                return jc_err_set(err, JC_E_INVALID, "cgroups: %s: line too long", file);
            (*n)++;
        }
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

static const proc_line *find_line(const proc_line *lines, int n, const char *ctrl) {
    for (int i = 0; i < n; i++) {
        if (ctrl ? jc_cgroup_list_has(lines[i].ctrls, ctrl, ',') : lines[i].ctrls[0] == '\0')
            return &lines[i];
    }
    return NULL;
}

static int add_hierarchy(layout *lay, const char *mount, const char *key, bool v2, const char *own,
                         jc_err *err) {
    for (int i = 0; i < lay->n; i++) {
        if (strcmp(lay->h[i].key, key) == 0 && lay->h[i].v2 == v2)
            return i;
    }
    if (lay->n == MAX_HIER)
        return jc_err_set(err, JC_E_INTERNAL, "cgroups: too many hierarchies");
    hierarchy *h = &lay->h[lay->n];
    memset(h, 0, sizeof(*h));
    int a = snprintf(h->mount, sizeof(h->mount), "%s", mount);
    int b = snprintf(h->key, sizeof(h->key), "%s", key);
    int c = snprintf(h->base, sizeof(h->base), "%s%s", mount, strcmp(own, "/") == 0 ? "" : own);
    if (a < 0 || a >= (int)sizeof(h->mount) || b < 0 || b >= (int)sizeof(h->key) || c < 0 ||
        c >= (int)sizeof(h->base))
        return jc_err_set(err, JC_E_INVALID, "cgroups: path too long under %s", mount);
    h->v2 = v2;
    return lay->n++;
}

/* On pure v2 the daemon lives in <own>/daemon once it has moved itself there; its
 * execution groups still belong under <own>/jobcell, so step back out of "daemon". */
static void own_v2(const char *mount, const char *own, char *out, size_t outlen) {
    (void)snprintf(out, outlen, "%s", own);
    size_t n = strlen(out);
    static const char suffix[] = "/daemon";
    if (n < sizeof(suffix) || strcmp(out + n - (sizeof(suffix) - 1), suffix) != 0)
        return;
    char candidate[CG_PATH_MAX];
    out[n - (sizeof(suffix) - 1)] = '\0';
    int k = snprintf(candidate, sizeof(candidate), "%s%s/jobcell", mount, out);
    if (k < 0 || k >= (int)sizeof(candidate) || !jc_cgroup_is_dir(candidate))
        (void)snprintf(out, outlen, "%s", own); /* a group that merely ends in "daemon" */
    else if (out[0] == '\0')
        (void)snprintf(out, outlen, "/");
}

int jc_cgroup_detect_layout(const char *root, const char *parent, const jc_cgroup_opts *opts,
                            layout *lay, jc_err *err) {
    memset(lay, 0, sizeof(*lay));
    for (int c = 0; c < C_COUNT; c++)
        lay->of[c] = -1;
    if (parent && check_cgroup_path(parent, "cgroup_parent", err) < 0)
        return -1;

    _cleanup_free_ proc_line *lines = calloc(16, sizeof(*lines));
    if (!lines)
        return jc_err_sys(err, ENOMEM, "cgroups: layout");
    int nlines = 0;
    const char *self =
        opts && opts->proc_self_cgroup ? opts->proc_self_cgroup : "/proc/self/cgroup";
    if (read_proc_cgroup(self, lines, 16, &nlines, err) < 0)
        return -1;

    char unified[CG_PATH_MAX];
    const char *v2mount = NULL;
    if (jc_cgroup_has_file(root, "cgroup.controllers")) {
        v2mount = root; /* pure v2 */
    } else {
        if (jc_cgroup_join(unified, root, "unified", err) < 0)
            return -1;
        if (jc_cgroup_has_file(unified, "cgroup.controllers"))
            v2mount = unified;
    }

    _cleanup_free_ char *v2ctrls = NULL;
    const proc_line *v2line = find_line(lines, nlines, NULL);
    if (v2mount) {
        v2ctrls = jc_cgroup_read(v2mount, "cgroup.controllers", err);
        if (!v2ctrls)
            return -1;
        if (!v2line && v2mount == root)
            return jc_err_set(err, JC_E_INVALID, "cgroups: %s has no cgroup v2 line (\"0::/path\")",
                              self);
    }

    int v2index = -1;
    for (int c = 0; c < C_COUNT; c++) {
        const char *name = jc_cgroup_ctrl_names[c];
        /* memory, pids and cpu are controllers on v2; cpuacct and freezer are v1 names
         * whose v2 counterparts (cpu.stat, cgroup.freeze) exist in every v2 group */
        bool on_v2 = v2mount && v2line &&
                     (c == C_CPUACCT || c == C_FREEZER ? v2mount == root
                                                       : jc_cgroup_list_has(v2ctrls, name, ' '));
        if (on_v2) {
            char own[CG_PATH_MAX];
            const char *p = parent;
            if (!p) {
                if (check_cgroup_path(v2line->path, "own cgroup", err) < 0)
                    return -1;
                own_v2(v2mount, v2line->path, own, sizeof(own));
                p = own;
            }
            int i = add_hierarchy(lay, v2mount, "", true, p, err);
            if (i < 0)
                return -1;
            lay->of[c] = v2index = i;
            lay->h[i].ctrls |= 1u << c;
            continue;
        }
        if (v2mount == root)
            continue; /* pure v2 without this controller */
        const proc_line *pl = find_line(lines, nlines, name);
        if (!pl)
            continue;
        char mount[CG_PATH_MAX];
        if (jc_cgroup_join(mount, root, name, err) < 0)
            return -1;
        if (!jc_cgroup_is_dir(mount)) {
            /* co-mounted hierarchies are named by their list ("cpu,cpuacct") */
            if (jc_cgroup_join(mount, root, pl->ctrls, err) < 0)
                return -1;
            if (!jc_cgroup_is_dir(mount))
                continue;
        }
        if (!parent && check_cgroup_path(pl->path, "own cgroup", err) < 0)
            return -1;
        int i = add_hierarchy(lay, mount, pl->ctrls, false, parent ? parent : pl->path, err);
        if (i < 0)
            return -1;
        lay->of[c] = i;
        lay->h[i].ctrls |= 1u << c;
    }
    /* hybrid with controllers on the unified side: its core files stand in for the
     * missing v1 cpuacct and freezer */
    for (int c = C_CPUACCT; c <= C_FREEZER; c++) {
        if (lay->of[c] < 0 && v2index >= 0) {
            lay->of[c] = v2index;
            lay->h[v2index].ctrls |= 1u << c;
        }
    }
    return 0;
}
