/* 12. mknod a block device → EPERM. */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "../probe.h"

int main(void) {
    probe_begin(12, "mknod");
    EXPECT_FAIL("mknod block 8:0 in /tmp", mknod("/tmp/jcprobe-sda", S_IFBLK | 0600, makedev(8, 0)),
                EPERM);
    EXPECT_FAIL("mknod char 1:1 (mem) in /tmp",
                mknod("/tmp/jcprobe-mem", S_IFCHR | 0600, makedev(1, 1)), EPERM);
    EXPECT_FAIL("mknod block 8:0 in /workspace",
                mknod("/workspace/jcprobe-sda", S_IFBLK | 0600, makedev(8, 0)), EPERM);
    return probe_end();
}
