/* 16. Load a kernel module (init_module, finit_module) → EPERM. */
#include <fcntl.h>
#include <sys/syscall.h>

#include "../probe.h"

int main(void) {
    probe_begin(16, "kernel-module");
    static char image[512]; /* not an ELF module: the privilege check comes first */
    EXPECT_FAIL("init_module", syscall(SYS_init_module, image, sizeof(image), ""), EPERM);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    EXPECT_FAIL("finit_module", syscall(SYS_finit_module, fd, "", 0), EPERM);
    EXPECT_FAIL("delete_module", syscall(SYS_delete_module, "loop", 0), EPERM);
    if (fd >= 0)
        close(fd);
    return probe_end();
}
