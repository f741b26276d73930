/* 32. TIOCSTI injection into a terminal → EPERM/ENOTTY (no controlling tty of the host). */
#include <fcntl.h>
#include <sys/ioctl.h>

#include "../probe.h"

int main(void) {
    probe_begin(32, "tiocsti");
    char c = 'x';
    EXPECT_FAIL("TIOCSTI on fd 0", ioctl(0, TIOCSTI, &c), EPERM, ENOTTY);
    EXPECT_FAIL("TIOCSTI on fd 1", ioctl(1, TIOCSTI, &c), EPERM, ENOTTY);
    EXPECT_FAIL("TIOCSTI on fd 2", ioctl(2, TIOCSTI, &c), EPERM, ENOTTY);
    /* no controlling terminal: the job is a session leader without one */
    errno = 0;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        EXPECT_FAIL("TIOCSTI on /dev/tty", ioctl(fd, TIOCSTI, &c), EPERM, ENOTTY);
        close(fd);
    } else {
        probe_expect_fail("open /dev/tty", -1, errno, ENXIO, ENOENT, 0);
    }
    return probe_end();
}
