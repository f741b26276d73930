#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "jobcell/random.h"

#define SPOOL_SUFFIX ".spool"
#define SPOOL_FILE_MAX ((size_t)1100 << 20) /* the largest log cap plus headroom */

static void closedirp(DIR **d) {
    if (*d)
        closedir(*d);
}

/* "<seq, 20 digits>-<execution id>.spool": sorting names sorts by seq. */
static int entry_name(const jc_spool_entry *e, char *out, size_t len) {
    int n = snprintf(out, len, "%020" PRIu64 "-%s" SPOOL_SUFFIX, e->seq, e->execution_id);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static bool parse_name(const char *name, uint64_t *seq) {
    size_t len = strlen(name), sl = strlen(SPOOL_SUFFIX);
    if (len < 21 + sl || strcmp(name + len - sl, SPOOL_SUFFIX) != 0 || name[20] != '-')
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *seq = v;
    return true;
}

int jc_spool_open(jc_spool *sp, const char *dir, bool do_fsync, jc_err *err) {
    memset(sp, 0, sizeof(*sp));
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return jc_err_sys(err, errno, "spool: create %s", dir);
    struct stat st;
    if (stat(dir, &st) < 0)
        return jc_err_sys(err, errno, "spool: stat %s", dir);
    if (!S_ISDIR(st.st_mode))
        return jc_err_set(err, JC_E_CONFIG, "spool: %s is not a directory", dir);
    if (st.st_mode & 0077)
        chmod(dir, 0700); /* entries hold lease tokens */
    sp->dir = strdup(dir);
    if (!sp->dir)
        return jc_err_sys(err, ENOMEM, "spool: allocate");
    sp->fsync = do_fsync;
    sp->next_seq = 1;
    /* continue after the highest sequence present */
    _cleanup_(closedirp) DIR *d = opendir(dir);
    if (!d)
        return jc_err_sys(err, errno, "spool: open %s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        uint64_t seq;
        if (parse_name(de->d_name, &seq) && seq >= sp->next_seq)
            sp->next_seq = seq + 1;
    }
    return 0;
}

void jc_spool_close(jc_spool *sp) {
    free(sp->dir);
    sp->dir = NULL;
}

static int write_file(const char *path, const void *buf, size_t len, bool do_fsync, jc_err *err) {
    if (do_fsync)
        return jc_write_file_atomic(path, buf, len, 0600, err);
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return jc_err_set(err, JC_E_INVALID, "spool: path too long");
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return jc_err_sys(err, errno, "spool: create %s", tmp);
    if (jc_write_all(fd, buf, len, err) < 0)
        return -1;
    if (rename(tmp, path) < 0)
        return jc_err_sys(err, errno, "spool: rename %s", tmp);
    return 0;
}

int jc_spool_write(jc_spool *sp, jc_spool_entry *e, jc_err *err) {
    e->seq = sp->next_seq++;
    _cleanup_json_ json_t *h =
        json_pack("{s:i, s:s, s:s, s:I, s:I, s:b, s:O}", "v", 1, "execution_id", e->execution_id,
                  "lease_token", e->lease_token, "log_offset", (json_int_t)e->log_offset, "log_len",
                  (json_int_t)e->log_len, "log_truncated", e->log_truncated, "result",
                  e->result ? e->result : json_null());
    if (!h)
        return jc_err_set(err, JC_E_INTERNAL, "spool: encode entry for %s", e->execution_id);
    _cleanup_free_ char *head = json_dumps(h, JSON_COMPACT);
    if (!head)
        return jc_err_sys(err, ENOMEM, "spool: encode");
    size_t hl = strlen(head), total;
    if (__builtin_add_overflow(hl + 1, e->log_len, &total))
        return jc_err_set(err, JC_E_TOO_LARGE, "spool: entry too large");
    _cleanup_free_ unsigned char *buf = malloc(total ? total : 1);
    if (!buf)
        return jc_err_sys(err, ENOMEM, "spool: allocate %zu bytes", total);
    memcpy(buf, head, hl);
    buf[hl] = '\n';
    if (e->log_len)
        memcpy(buf + hl + 1, e->log, e->log_len);
    char name[128], path[4096];
    if (entry_name(e, name, sizeof(name)) < 0)
        return jc_err_set(err, JC_E_INVALID, "spool: bad execution id");
    int n = snprintf(path, sizeof(path), "%s/%s", sp->dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return jc_err_set(err, JC_E_INVALID, "spool: path too long");
    if (write_file(path, buf, total, sp->fsync, err) < 0)
        return jc_err_prefix(err, "spool %s", e->execution_id);
    return 0;
}

int jc_spool_remove(jc_spool *sp, const jc_spool_entry *e, jc_err *err) {
    char name[128], path[4096];
    if (entry_name(e, name, sizeof(name)) < 0)
        return jc_err_set(err, JC_E_INVALID, "spool: bad execution id");
    snprintf(path, sizeof(path), "%s/%s", sp->dir, name);
    /* no fsync: an entry that comes back after a crash is only sent again, and the
     * server treats a repeated log chunk or complete as the duplicate it is */
    if (unlink(path) < 0 && errno != ENOENT)
        return jc_err_sys(err, errno, "spool: remove %s", name);
    return 0;
}

static int parse_entry(const char *buf, size_t len, jc_spool_entry *e, jc_err *err) {
    const char *nl = memchr(buf, '\n', len);
    if (!nl)
        return jc_err_set(err, JC_E_INVALID, "no header line");
    json_error_t je;
    _cleanup_json_ json_t *h = json_loadb(buf, (size_t)(nl - buf), JSON_REJECT_DUPLICATES, &je);
    if (!h)
        return jc_err_set(err, JC_E_INVALID, "header: %s", je.text);
    const char *exe = NULL, *lt = NULL;
    json_int_t v = 0, off = -1, ll = -1;
    int trunc = 0;
    json_t *result = NULL;
    if (json_unpack_ex(h, &je, JSON_STRICT, "{s:I, s:s, s:s, s:I, s:I, s:b, s:o}", "v", &v,
                       "execution_id", &exe, "lease_token", &lt, "log_offset", &off, "log_len", &ll,
                       "log_truncated", &trunc, "result", &result) < 0)
        return jc_err_set(err, JC_E_INVALID, "header: %s", je.text);
    size_t body = len - (size_t)(nl - buf) - 1;
    if (v != 1 || off < 0 || ll < 0 || (uint64_t)ll != body)
        return jc_err_set(err, JC_E_INVALID, "header does not match the file (version, length)");
    if (!jc_id_valid(exe, "exe_", 26) || strlen(lt) >= sizeof(e->lease_token) || !*lt)
        return jc_err_set(err, JC_E_INVALID, "bad execution id or lease token");
    snprintf(e->execution_id, sizeof(e->execution_id), "%s", exe);
    snprintf(e->lease_token, sizeof(e->lease_token), "%s", lt);
    e->log_offset = (uint64_t)off;
    e->log_len = body;
    e->log_truncated = trunc;
    e->log = malloc(body ? body : 1);
    if (!e->log)
        return jc_err_sys(err, ENOMEM, "allocate");
    if (body)
        memcpy(e->log, nl + 1, body);
    e->result = json_incref(result);
    return 0;
}

static int cmp_entries(const void *a, const void *b) {
    const jc_spool_entry *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int jc_spool_load(jc_spool *sp, jc_spool_entry **out, size_t *nout, jc_err *err) {
    *out = NULL;
    *nout = 0;
    _cleanup_(closedirp) DIR *d = opendir(sp->dir);
    if (!d)
        return jc_err_sys(err, errno, "spool: open %s", sp->dir);
    jc_spool_entry *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        uint64_t seq;
        if (!parse_name(de->d_name, &seq))
            continue;
        char path[4096];
        int pn = snprintf(path, sizeof(path), "%s/%s", sp->dir, de->d_name);
        if (pn < 0 || (size_t)pn >= sizeof(path))
            continue;
        size_t len;
        jc_err perr = {0};
        _cleanup_free_ char *buf = jc_read_file(path, SPOOL_FILE_MAX, &len, &perr);
        jc_spool_entry e = {.seq = seq};
        if (!buf || parse_entry(buf, len, &e, &perr) < 0) {
            jc_spool_entry_clear(&e);
            char bad[4200];
            snprintf(bad, sizeof(bad), "%s.bad", path);
            rename(path, bad);
            jc_log(JC_LOG_ERROR, "spool entry damaged, set aside", "file", de->d_name, "error",
                   perr.msg, NULL);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            jc_spool_entry *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                jc_spool_entry_clear(&e);
                jc_spool_entries_free(v, n);
                return jc_err_sys(err, ENOMEM, "spool: allocate");
            }
            v = nv;
        }
        v[n++] = e;
    }
    if (n)
        qsort(v, n, sizeof(*v), cmp_entries);
    *out = v;
    *nout = n;
    return 0;
}

void jc_spool_entry_clear(jc_spool_entry *e) {
    free(e->log);
    e->log = NULL;
    e->log_len = 0;
    if (e->result)
        json_decref(e->result);
    e->result = NULL;
}

void jc_spool_entries_free(jc_spool_entry *v, size_t n) {
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        jc_spool_entry_clear(&v[i]);
    free(v);
}

size_t jc_spool_count(const jc_spool *sp) {
    DIR *d = opendir(sp->dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    uint64_t seq;
    while ((de = readdir(d)))
        if (parse_name(de->d_name, &seq))
            n++;
    closedir(d);
    return n;
}
