/* 17. kexec_load → EPERM. */
#include <fcntl.h>
#include <sys/syscall.h>

#include "../probe.h"

int main(void) {
    probe_begin(17, "kexec");
    EXPECT_FAIL("kexec_load", syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL), EPERM);
#ifdef SYS_kexec_file_load
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    EXPECT_FAIL("kexec_file_load", syscall(SYS_kexec_file_load, fd, -1, 1UL, "", 0UL), EPERM);
    if (fd >= 0)
        close(fd);
#endif
    EXPECT_FAIL("reboot(CAD_OFF)", syscall(SYS_reboot, 0xfee1dead, 672274793, 0, NULL), EPERM);
    return probe_end();
}
