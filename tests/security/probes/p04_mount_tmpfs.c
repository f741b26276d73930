/* 4. mount -t tmpfs anywhere → EPERM. Through mount(2) and through the new mount API
 * (fsopen, fsmount, open_tree, move_mount), which a seccomp profile can forget. */
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#include "../probe.h"

int main(void) {
    probe_begin(4, "mount-tmpfs");
    EXPECT_FAIL("mount tmpfs on /tmp", mount("none", "/tmp", "tmpfs", 0, "size=1m"), EPERM);
    EXPECT_FAIL("mount tmpfs on /workspace", mount("none", "/workspace", "tmpfs", 0, NULL), EPERM);
    EXPECT_FAIL("mount proc on /tmp", mount("proc", "/tmp", "proc", 0, NULL), EPERM);
    EXPECT_FAIL("bind / on /tmp", mount("/", "/tmp", NULL, MS_BIND | MS_REC, NULL), EPERM);
    EXPECT_FAIL("remount / rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL), EPERM);
    EXPECT_FAIL("fsopen(tmpfs)", syscall(SYS_fsopen, "tmpfs", 0), EPERM);
    EXPECT_FAIL("fsmount(-1)", syscall(SYS_fsmount, -1, 0, 0), EPERM, EBADF);
    EXPECT_FAIL("open_tree(/, OPEN_TREE_CLONE)",
                syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */), EPERM);
    EXPECT_FAIL("move_mount(/proc to /tmp)",
                syscall(SYS_move_mount, AT_FDCWD, "/proc", AT_FDCWD, "/tmp", 0), EPERM);
    EXPECT_FAIL("mount_setattr(/, rw)", syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, NULL, 0),
                EPERM, EINVAL);
    return probe_end();
}
