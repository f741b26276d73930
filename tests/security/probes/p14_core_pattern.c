/* 14. Write /proc/sys/kernel/core_pattern → EACCES (O_WRONLY) or EROFS (O_TRUNC). */
#include <fcntl.h>

#include "../probe.h"

int main(void) {
    probe_begin(14, "core-pattern");
    EXPECT_FAIL("open core_pattern O_WRONLY",
                open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC), EACCES, EROFS);
    EXPECT_FAIL("open core_pattern O_WRONLY|O_TRUNC",
                open("/proc/sys/kernel/core_pattern", O_WRONLY | O_TRUNC | O_CLOEXEC), EACCES,
                EROFS);
    EXPECT_FAIL("open modprobe path O_WRONLY",
                open("/proc/sys/kernel/modprobe", O_WRONLY | O_CLOEXEC), EACCES, EROFS, ENOENT);
    return probe_end();
}
