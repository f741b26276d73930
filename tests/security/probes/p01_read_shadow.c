/* 1. Read /etc/shadow of the host → file absent (the sandbox's /etc is generated). */
#include <fcntl.h>

#include "../probe.h"

int main(void) {
    probe_begin(1, "read-shadow");
    EXPECT_FAIL("open /etc/shadow", open("/etc/shadow", O_RDONLY | O_CLOEXEC), ENOENT);
    EXPECT_FAIL("open /etc/gshadow", open("/etc/gshadow", O_RDONLY | O_CLOEXEC), ENOENT);
    EXPECT_FAIL("open /etc/sudoers", open("/etc/sudoers", O_RDONLY | O_CLOEXEC), ENOENT);
    return probe_end();
}
