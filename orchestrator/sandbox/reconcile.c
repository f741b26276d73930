/* reconcile.c: remove what a previous jobcell process left behind (a crash, a kill -9):
 * its jobcell/<exe-id> cgroups, with whatever still runs in them, and per-execution
 * directories under the runtime directory. Sandboxes themselves need no cleanup: their
 * namespaces and mounts die with their last process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* rm -r of dirfd/name without following symlinks; depth-bounded. */
static int remove_tree(int parent, const char *name, int depth, jc_err *err) {
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return jc_err_sys(err, errno, "remove %s", name);
    if (depth > 32)
        return jc_err_set(err, JC_E_SYS, "remove %s: too deep", name);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return jc_err_sys(err, errno, "open %s", name);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return jc_err_sys(err, errno, "read %s", name);
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            remove_tree(dirfd(d), e->d_name, depth + 1, err) < 0)
            rc = -1;
    closedir(d);
    if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return jc_err_sys(err, errno, "rmdir %s", name);
    return rc;
}

int jc_sandbox_reconcile(const char *cgroup_root, const char *cgroup_parent, const char *run_dir,
                         jc_err *err) {
    int rc =
        jc_cgroup_reconcile(cgroup_root ? cgroup_root : JC_DEFAULT_CGROUP_ROOT, cgroup_parent, err);
    jc_err derr;
    DIR *d = opendir(run_dir ? run_dir : JC_DEFAULT_RUN_DIR);
    if (!d)
        return errno == ENOENT ? rc : jc_err_sys(err, errno, "read the runtime directory");
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "exe_", 4) && remove_tree(dirfd(d), e->d_name, 0, &derr) < 0 &&
            rc >= 0) {
            rc = -1;
            if (err)
                *err = derr;
        }
    closedir(d);
    return rc;
}
