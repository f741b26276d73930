/* 5. umount /proc or /usr → EPERM. */
#include <sys/mount.h>

#include "../probe.h"

int main(void) {
    probe_begin(5, "umount");
    EXPECT_FAIL("umount /proc", umount2("/proc", 0), EPERM);
    EXPECT_FAIL("umount -l /proc", umount2("/proc", MNT_DETACH), EPERM);
    EXPECT_FAIL("umount /usr", umount2("/usr", 0), EPERM);
    EXPECT_FAIL("umount -l /usr", umount2("/usr", MNT_DETACH), EPERM);
    EXPECT_FAIL("umount -l /", umount2("/", MNT_DETACH), EPERM);
    return probe_end();
}
