/* 10. process_vm_readv on jobcell-init → EPERM. Its memory through /proc/1/mem neither
 * (EACCES: not dumpable, another uid). */
#include <fcntl.h>
#include <sys/uio.h>

#include "../probe.h"

int main(void) {
    probe_begin(10, "process-vm-readv");
    char buf[64];
    struct iovec local = {buf, sizeof(buf)};
    struct iovec remote = {(void *)0x400000, sizeof(buf)};
    EXPECT_FAIL("process_vm_readv(1)", process_vm_readv(1, &local, 1, &remote, 1, 0), EPERM);
    EXPECT_FAIL("process_vm_writev(1)", process_vm_writev(1, &local, 1, &remote, 1, 0), EPERM);
    EXPECT_FAIL("open /proc/1/mem", open("/proc/1/mem", O_RDONLY | O_CLOEXEC), EACCES);
    EXPECT_FAIL("open /proc/1/maps", open("/proc/1/maps", O_RDONLY | O_CLOEXEC), EACCES);
    return probe_end();
}
