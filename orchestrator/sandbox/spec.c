/* spec.c: the defaults and bounds of SANDBOX.md, and validation of a spec against them.
 * Everything a caller passes is checked here once, before any process exists. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "jobcell/cleanup.h"

#define MAX_ARGS 4096
#define MAX_ARG_BYTES (128 * 1024)
#define MAX_ENV 1024
#define MAX_FILES 1024

void jc_sandbox_limits_default(jc_sandbox_limits *l) {
    l->memory_mb = 512;
    l->pids = 100;
    l->cpu = 0.5;
    l->timeout_s = 300;
    l->kill_grace_s = 5;
    l->tmp_mb = 100;
    l->workspace_mb = 256;
    l->output_mb = 16;
}

void jc_sandbox_spec_init(jc_sandbox_spec *spec) {
    memset(spec, 0, sizeof(*spec));
    spec->stdin_fd = -1;
}

void jc_sandbox_limits_effective(const jc_sandbox_limits *in, jc_sandbox_limits *out) {
    jc_sandbox_limits d;
    jc_sandbox_limits_default(&d);
    out->memory_mb = in->memory_mb ? in->memory_mb : d.memory_mb;
    out->pids = in->pids ? in->pids : d.pids;
    out->cpu = in->cpu != 0 ? in->cpu : d.cpu;
    out->timeout_s = in->timeout_s ? in->timeout_s : d.timeout_s;
    out->kill_grace_s = in->kill_grace_s == -1 ? 0
                        : in->kill_grace_s     ? in->kill_grace_s
                                               : d.kill_grace_s;
    out->tmp_mb = in->tmp_mb ? in->tmp_mb : d.tmp_mb;
    out->workspace_mb = in->workspace_mb ? in->workspace_mb : d.workspace_mb;
    out->output_mb = in->output_mb ? in->output_mb : d.output_mb;
}

static int check_range(int64_t v, int64_t lo, int64_t hi, const char *field, jc_err *err) {
    if (v < lo || v > hi)
        return jc_err_field(err, JC_E_INVALID, field, "%s must be between %lld and %lld, not %lld",
                            field, (long long)lo, (long long)hi, (long long)v);
    return 0;
}

static int check_limits(const jc_sandbox_limits *l, jc_err *err) {
    if (check_range(l->memory_mb, 16, 65536, "resources.memory_mb", err) < 0 ||
        check_range(l->pids, 8, 32768, "resources.pids", err) < 0 ||
        check_range(l->timeout_s, 1, 86400, "timeout_s", err) < 0 ||
        check_range(l->kill_grace_s, 0, 60, "kill_grace_s", err) < 0 ||
        check_range(l->tmp_mb, 1, 16384, "resources.tmp_mb", err) < 0 ||
        check_range(l->workspace_mb, 1, 16384, "resources.workspace_mb", err) < 0 ||
        check_range(l->output_mb, 1, 1024, "resources.output_mb", err) < 0)
        return -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (!(l->cpu >= 0.01 && l->cpu <= (double)cores))
        return jc_err_field(err, JC_E_INVALID, "resources.cpu",
                            "resources.cpu must be between 0.01 and %ld (the host's cores)", cores);
    /* tmpfs pages are charged to the job's memory cgroup: filling both would end in an
     * OOM kill, never in the ENOSPC a job expects. */
    if (l->tmp_mb + l->workspace_mb > l->memory_mb)
        return jc_err_field(err, JC_E_INVALID, "resources.tmp_mb,resources.workspace_mb",
                            "resources.tmp_mb (%lld) + resources.workspace_mb (%lld) must not "
                            "exceed resources.memory_mb (%lld): both are held in the job's memory",
                            (long long)l->tmp_mb, (long long)l->workspace_mb,
                            (long long)l->memory_mb);
    return 0;
}

static bool is_plain_name(const char *name) {
    size_t len = strlen(name);
    return len > 0 && len <= 255 && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* An absolute path without "." or ".." components, so that what we check is what the
 * kernel will resolve. */
static bool is_clean_path(const char *p) {
    if (p[0] != '/' || strlen(p) >= 4096)
        return false;
    for (const char *c = p; *c;) {
        while (*c == '/')
            c++;
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += len;
    }
    return true;
}

static bool under(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

static int check_env(const char *const *env, jc_err *err) {
    static const char *const reserved[] = {"PATH", "HOME", "TMPDIR", "LANG"};
    size_t count = 0;
    for (const char *const *e = env; e && *e; e++) {
        if (++count > MAX_ENV)
            return jc_err_field(err, JC_E_INVALID, "env", "at most %d variables", MAX_ENV);
        const char *eq = strchr(*e, '=');
        size_t name_len = eq ? (size_t)(eq - *e) : 0;
        bool ok = name_len > 0 && !((*e)[0] >= '0' && (*e)[0] <= '9');
        for (size_t i = 0; ok && i < name_len; i++) {
            char c = (*e)[i];
            ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9');
        }
        if (!ok || strlen(*e) > MAX_ARG_BYTES)
            return jc_err_field(err, JC_E_INVALID, "env",
                                "environment entries are NAME=value with NAME of letters, digits "
                                "and '_' (entry %zu)",
                                count);
        for (size_t i = 0; i < JC_ARRAY_LEN(reserved); i++)
            if (name_len == strlen(reserved[i]) && !strncmp(*e, reserved[i], name_len))
                return jc_err_field(err, JC_E_INVALID, "env", "%s is set by the sandbox",
                                    reserved[i]);
    }
    return 0;
}

int jc_sandbox_spec_validate(const jc_sandbox_spec *spec, jc_err *err) {
    /* exe_ + ≥ 12 of [a-z0-9]: the cgroup's name and the hostname's tail */
    const char *id = spec->exe_id;
    size_t id_len = id ? strlen(id) : 0;
    bool id_ok = id_len >= 16 && id_len <= 64 && !strncmp(id, "exe_", 4);
    for (size_t i = 4; id_ok && i < id_len; i++)
        id_ok = (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9');
    if (!id_ok)
        return jc_err_field(err, JC_E_INVALID, "exe_id",
                            "the execution id must be \"exe_\" and 12 to 60 of [a-z0-9]");

    if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
        return jc_err_field(err, JC_E_INVALID, "argv", "a command is required");
    size_t argc = 0;
    for (const char *const *a = spec->argv; *a; a++)
        if (++argc > MAX_ARGS || strlen(*a) > MAX_ARG_BYTES)
            return jc_err_field(err, JC_E_INVALID, "argv", "too many or too long arguments");
    if (strlen(spec->argv[0]) >= 4000)
        return jc_err_field(err, JC_E_INVALID, "argv", "the command name is too long");
    if (check_env(spec->env, err) < 0)
        return -1;

    jc_sandbox_limits l;
    jc_sandbox_limits_effective(&spec->limits, &l);
    if (spec->limits.kill_grace_s < -1)
        return jc_err_field(err, JC_E_INVALID, "kill_grace_s", "kill_grace_s must be 0 … 60");
    if (check_limits(&l, err) < 0)
        return -1;

    if (spec->n_files > MAX_FILES || (spec->n_files && !spec->files))
        return jc_err_field(err, JC_E_INVALID, "files", "at most %d files", MAX_FILES);
    uint64_t total = 0;
    for (size_t i = 0; i < spec->n_files; i++) {
        const jc_sandbox_file *f = &spec->files[i];
        if (!f->name || !is_plain_name(f->name))
            return jc_err_field(err, JC_E_INVALID, "files",
                                "file %zu: a name without '/', not \".\" or \"..\"", i);
        if ((f->len && !f->data) || (f->mode & ~07777u) || (f->mode & 06000u))
            return jc_err_field(err, JC_E_INVALID, "files",
                                "file %s: bad data or mode (no setuid/setgid bits)", f->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(spec->files[j].name, f->name))
                return jc_err_field(err, JC_E_INVALID, "files", "file %s given twice", f->name);
        if (__builtin_add_overflow(total, (uint64_t)f->len, &total))
            return jc_err_field(err, JC_E_INVALID, "files", "files too large");
    }
    if (total > (uint64_t)l.workspace_mb * 1024 * 1024)
        return jc_err_field(err, JC_E_INVALID, "files",
                            "the files (%llu bytes) do not fit in resources.workspace_mb",
                            (unsigned long long)total);

    if (spec->rootfs && !is_clean_path(spec->rootfs))
        return jc_err_field(err, JC_E_INVALID, "rootfs", "rootfs must be an absolute path");
    if (spec->sdk_dir && !is_clean_path(spec->sdk_dir))
        return jc_err_field(err, JC_E_INVALID, "sdk_dir", "sdk_dir must be an absolute path");
    if (spec->n_binds && !spec->binds)
        return jc_err_field(err, JC_E_INVALID, "binds", "binds missing");
    for (size_t i = 0; i < spec->n_binds; i++) {
        const jc_sandbox_bind *b = &spec->binds[i];
        if (!b->src || !b->dst || !is_clean_path(b->src) || !is_clean_path(b->dst))
            return jc_err_field(err, JC_E_INVALID, "binds",
                                "bind %zu: SRC and DST must be absolute paths without . or ..", i);
        if (!strcmp(b->dst, "/") || under(b->dst, "/proc") || under(b->dst, "/dev") ||
            under(b->dst, "/workspace") || under(b->dst, "/tmp"))
            return jc_err_field(err, JC_E_INVALID, "binds",
                                "bind %s: DST may not be /, nor under /proc, /dev, /tmp or "
                                "/workspace",
                                b->dst);
    }
    if (spec->stdin_fd < -1)
        return jc_err_field(err, JC_E_INVALID, "stdin_fd", "stdin_fd must be -1 or an fd");
    if (spec->cgroup_parent && spec->cgroup_parent[0] != '/')
        return jc_err_field(err, JC_E_INVALID, "cgroup_parent",
                            "cgroup_parent must be an absolute cgroup path");
    return 0;
}
