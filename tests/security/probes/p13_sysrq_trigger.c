/* 13. Write /proc/sysrq-trigger → EACCES/EROFS (masked), or ENOENT where the kernel lacks it. */
#include <fcntl.h>

#include "../probe.h"

int main(void) {
    probe_begin(13, "sysrq-trigger");
    errno = 0;
    int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
    int e = errno;
    if (fd >= 0) {
        /* "h" only prints help to the kernel log: harmless if it ever got through */
        ssize_t w = write(fd, "h", 1);
        probe_escape("open for writing succeeded; write returned %zd (%s)", w,
                     w < 0 ? errno_name(errno) : "written");
        close(fd);
    } else {
        probe_expect_fail("open /proc/sysrq-trigger for writing", -1, e, EACCES, EROFS, ENOENT, 0);
    }
    return probe_end();
}
