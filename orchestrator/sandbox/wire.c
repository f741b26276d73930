/* wire.c: the spec as jc-init reads it (protocol.h): {u32 tag, u32 len, bytes} records.
 * The job's whole environment is assembled here, so jc-init only copies pointers. */
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct wbuf {
    char *data;
    size_t len, cap;
    bool failed;
} wbuf;

static void put(wbuf *b, const void *p, size_t n) {
    if (b->failed)
        return;
    size_t need;
    if (__builtin_add_overflow(b->len, n, &need) || need > JC_PROTO_MAX_SPEC) {
        b->failed = true;
        return;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len = need;
}

static void put_header(wbuf *b, uint32_t tag, size_t len) {
    if (len > UINT32_MAX) {
        b->failed = true;
        return;
    }
    uint32_t h[2] = {tag, (uint32_t)len};
    put(b, h, sizeof(h));
}

static void put_record(wbuf *b, uint32_t tag, const void *p, size_t n) {
    put_header(b, tag, n);
    put(b, p, n);
}

static void put_string(wbuf *b, uint32_t tag, const char *s) {
    put_record(b, tag, s, strlen(s) + 1);
}

static void put_env(wbuf *b, const char *name, const char *value) {
    size_t n = strlen(name), v = strlen(value);
    put_header(b, JC_TAG_ENV, n + 1 + v + 1);
    put(b, name, n);
    put(b, "=", 1);
    put(b, value, v + 1);
}

char *jc_wire_spec(const jc_sandbox_engine *engine, const jc_sandbox_spec *spec,
                   const jc_sandbox_limits *l, const char *resolv_conf, size_t *len_out,
                   jc_err *err) {
    wbuf b = {0};
    /* hostname: "jc-" + the 12 characters after "exe_" (an '_' is not valid in one) */
    char hostname[16] = "jc-";
    memcpy(hostname + 3, spec->exe_id + 4, 12);
    hostname[15] = '\0';
    put_string(&b, JC_TAG_HOSTNAME, hostname);
    put_string(&b, JC_TAG_RUN_DIR, engine->run_dir);
    put_string(&b, JC_TAG_ROOTFS, spec->rootfs ? spec->rootfs : "");
    if (spec->sdk_dir)
        put_string(&b, JC_TAG_SDK, spec->sdk_dir);
    if (resolv_conf)
        put_string(&b, JC_TAG_RESOLV, resolv_conf);
    for (const char *const *a = spec->argv; *a; a++)
        put_string(&b, JC_TAG_ARGV, *a);

    /* Fixed variables first; the job's own cannot override them (validated). */
    put_env(&b, "PATH", "/usr/local/bin:/usr/bin:/bin");
    put_env(&b, "HOME", "/workspace");
    put_env(&b, "TMPDIR", "/tmp");
    put_env(&b, "LANG", "C.UTF-8");
    for (const char *const *e = spec->env; e && *e; e++)
        put_string(&b, JC_TAG_ENV, *e);

    uint64_t mib = 1024 * 1024;
    uint64_t largest = (uint64_t)(l->tmp_mb > l->workspace_mb ? l->tmp_mb : l->workspace_mb);
    jc_spec_limits limits = {
        .tmp_bytes = (uint64_t)l->tmp_mb * mib,
        .workspace_bytes = (uint64_t)l->workspace_mb * mib,
        .nofile = 1024,
        /* One MiB above the larger tmpfs: a full tmpfs must answer ENOSPC, as a job
         * expects, before the file size limit turns the same write into SIGXFSZ. */
        .fsize = (largest + 1) * mib,
    };
    put_record(&b, JC_TAG_LIMITS, &limits, sizeof(limits));

    uint32_t flags = (spec->runtime_socket ? JC_FLAG_RUNTIME_SOCKET : 0) |
                     (spec->seccomp_listener ? JC_FLAG_SECCOMP_LISTENER : 0) |
                     (jc_sandbox_bench_share_net && !spec->runtime_socket ? JC_FLAG_SHARED_NET : 0);
    put_record(&b, JC_TAG_FLAGS, &flags, sizeof(flags));
    if (spec->filter && spec->filter->len)
        put_record(&b, JC_TAG_FILTER, spec->filter->insns,
                   spec->filter->len * sizeof(struct sock_filter));

    for (size_t i = 0; i < spec->n_files; i++) {
        const jc_sandbox_file *f = &spec->files[i];
        size_t name_len = strlen(f->name) + 1, total;
        if (__builtin_add_overflow(8 + name_len, f->len, &total)) {
            b.failed = true;
            break;
        }
        uint32_t head[2] = {f->mode, (uint32_t)name_len};
        put_header(&b, JC_TAG_FILE, total);
        put(&b, head, sizeof(head));
        put(&b, f->name, name_len);
        put(&b, f->data, f->len);
    }
    for (size_t i = 0; i < spec->n_binds; i++) {
        const jc_sandbox_bind *bd = &spec->binds[i];
        uint32_t ro = bd->readonly;
        put_header(&b, JC_TAG_BIND, 4 + strlen(bd->src) + 1 + strlen(bd->dst) + 1);
        put(&b, &ro, sizeof(ro));
        put(&b, bd->src, strlen(bd->src) + 1);
        put(&b, bd->dst, strlen(bd->dst) + 1);
    }
    if (b.failed) {
        free(b.data);
        jc_err_set(err, JC_E_TOO_LARGE, "spec: the job's files and arguments are too large");
        return NULL;
    }
    *len_out = b.len;
    return b.data;
}
