/* engine.c: the engine object, created once per process.
 *
 * It opens jobcell-init once (every sandbox execs that fd, so a later change of the file
 * on disk cannot swap the program pid 1 runs), checks that every slot's host uid/gid
 * range belongs to nobody on the host, and creates the runtime directory that holds the
 * mountpoint of each sandbox's root. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "jobcell/cleanup.h"

static int open_init(const char *configured, jc_err *err) {
    char path[PATH_MAX];
    const char *env = getenv("JOBCELL_INIT");
    if (configured) {
        snprintf(path, sizeof(path), "%s", configured);
    } else if (env && env[0]) {
        snprintf(path, sizeof(path), "%s", env);
    } else {
        /* beside the calling program */
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n < 0)
            return jc_err_sys(err, errno, "find jobcell-init: readlink /proc/self/exe");
        path[n] = '\0';
        char *slash = strrchr(path, '/');
        if (!slash || (size_t)(slash - path) + sizeof("/jobcell-init") > sizeof(path))
            return jc_err_set(err, JC_E_CONFIG, "find jobcell-init: odd program path");
        memcpy(slash, "/jobcell-init", sizeof("/jobcell-init"));
    }
    _cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return jc_err_sys(err, errno,
                          "open jobcell-init at %s (install it beside the program, or set "
                          "JOBCELL_INIT)",
                          path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return jc_err_sys(err, errno, "stat %s", path);
    /* root execs this in every sandbox: nobody else may be able to change it */
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) || !(st.st_mode & 0100))
        return jc_err_set(err, JC_E_CONFIG,
                          "%s must be an executable regular file owned by root and writable "
                          "by root only",
                          path);
    /* The clone child dup2s its fds onto 0–4 before the exec: keep this one above them. */
    if (fd < 8) {
        int moved = fcntl(fd, F_DUPFD_CLOEXEC, 8);
        if (moved < 0)
            return jc_err_sys(err, errno, "move the jobcell-init fd");
        close(fd);
        fd = moved;
    }
    return steal_fd(&fd);
}

/* Does [first, first+count) meet a range of a subordinate-id file ("name:start:count")? */
static int check_subid(const char *path, uint64_t first, uint64_t end, jc_err *err) {
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : jc_err_sys(err, errno, "read %s", path);
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        unsigned long long start = strtoull(c1 + 1, NULL, 10), count = strtoull(c2 + 1, NULL, 10);
        if (start < end && start + count > first) {
            *c1 = '\0';
            return jc_err_set(err, JC_E_CONFIG,
                              "the sandbox id range %llu-%llu overlaps %s of %s in %s: choose "
                              "another uid_base",
                              (unsigned long long)first, (unsigned long long)end - 1, c1 + 1, line,
                              path);
        }
    }
    return 0;
}

/* Does an id (third field of passwd and group) fall in [first, end)? */
static int check_ids(const char *path, uint64_t first, uint64_t end, jc_err *err) {
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : jc_err_sys(err, errno, "read %s", path);
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        unsigned long long id = strtoull(c2 + 1, NULL, 10);
        if (id >= first && id < end) {
            *c1 = '\0';
            return jc_err_set(err, JC_E_CONFIG,
                              "%s in %s has id %llu, inside the sandbox id range: a host "
                              "account with the job's ids could reach its processes",
                              line, path, id);
        }
    }
    return 0;
}

int jc_uid_range_check(uint32_t first, uint32_t count, const char *subuid, const char *subgid,
                       const char *passwd, const char *group, jc_err *err) {
    uint64_t end = (uint64_t)first + count;
    /* (uid_t)-1 means "no change" to the set*id calls and can never be mapped */
    if (first == 0 || end > UINT32_MAX)
        return jc_err_set(err, JC_E_CONFIG, "the sandbox id range must lie in 1 … 4294967294");
    if (check_subid(subuid, first, end, err) < 0 || check_subid(subgid, first, end, err) < 0 ||
        check_ids(passwd, first, end, err) < 0 || check_ids(group, first, end, err) < 0)
        return -1;
    return 0;
}

static int make_dir(const char *path, jc_err *err) {
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return jc_err_sys(err, errno, "mkdir %s", path);
    struct stat st;
    if (lstat(path, &st) < 0)
        return jc_err_sys(err, errno, "stat %s", path);
    if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
        return jc_err_set(err, JC_E_CONFIG,
                          "%s must be a directory owned and writable by root "
                          "only",
                          path);
    return 0;
}

jc_sandbox_engine *jc_sandbox_engine_new(const jc_sandbox_engine_config *cfg, jc_err *err) {
    jc_sandbox_engine_config none = {0};
    if (!cfg)
        cfg = &none;
    if (geteuid() != 0) {
        jc_err_set(err, JC_E_UNSUPPORTED,
                   "the sandbox needs root (it creates namespaces and "
                   "cgroups and maps a range of host ids)");
        return NULL;
    }
    _cleanup_free_ jc_sandbox_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        return NULL;
    }
    e->init_fd = -1;
    e->uid_base = cfg->uid_base ? cfg->uid_base : JC_DEFAULT_UID_BASE;
    e->slots = cfg->slots ? cfg->slots : 1;
    uint64_t count = (uint64_t)e->slots * JC_RANGE_SIZE;
    if (count > UINT32_MAX ||
        jc_uid_range_check(e->uid_base, (uint32_t)count, "/etc/subuid", "/etc/subgid",
                           "/etc/passwd", "/etc/group", err) < 0) {
        if (count > UINT32_MAX)
            jc_err_set(err, JC_E_CONFIG, "too many slots for the id space");
        return NULL;
    }
    e->run_dir = strdup(cfg->run_dir ? cfg->run_dir : JC_DEFAULT_RUN_DIR);
    if (!e->run_dir) {
        jc_err_set(err, JC_E_INTERNAL, "out of memory");
        return NULL;
    }
    char root[PATH_MAX];
    if ((size_t)snprintf(root, sizeof(root), "%s/root", e->run_dir) >= sizeof(root)) {
        free(e->run_dir);
        jc_err_set(err, JC_E_CONFIG, "run directory path too long");
        return NULL;
    }
    if (make_dir(e->run_dir, err) < 0 || make_dir(root, err) < 0 ||
        (e->init_fd = open_init(cfg->init_path, err)) < 0) {
        free(e->run_dir);
        return NULL;
    }
    return steal(&e);
}

void jc_sandbox_engine_free(jc_sandbox_engine *e) {
    if (!e)
        return;
    if (e->init_fd >= 0)
        close(e->init_fd);
    free(e->run_dir);
    free(e);
}
