/* 4. mount -t tmpfs anywhere → EPERM. */
#include <sys/mount.h>

#include "../probe.h"

int main(void) {
    probe_begin(4, "mount-tmpfs");
    EXPECT_FAIL("mount tmpfs on /tmp", mount("none", "/tmp", "tmpfs", 0, "size=1m"), EPERM);
    EXPECT_FAIL("mount tmpfs on /workspace", mount("none", "/workspace", "tmpfs", 0, NULL), EPERM);
    EXPECT_FAIL("mount proc on /tmp", mount("proc", "/tmp", "proc", 0, NULL), EPERM);
    EXPECT_FAIL("bind / on /tmp", mount("/", "/tmp", NULL, MS_BIND | MS_REC, NULL), EPERM);
    EXPECT_FAIL("remount / rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL), EPERM);
    return probe_end();
}
