/* 22. userfaultfd → EPERM. */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/syscall.h>

#include "../probe.h"

int main(void) {
    probe_begin(22, "userfaultfd");
    EXPECT_FAIL("userfaultfd(O_CLOEXEC)", syscall(SYS_userfaultfd, O_CLOEXEC), EPERM);
    EXPECT_FAIL("userfaultfd(UFFD_USER_MODE_ONLY)",
                syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY), EPERM);
    EXPECT_FAIL("open /dev/userfaultfd", open("/dev/userfaultfd", O_RDWR | O_CLOEXEC), ENOENT);
    return probe_end();
}
