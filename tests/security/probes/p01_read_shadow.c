/* 1. Read /etc/shadow of the host → file absent (the sandbox's /etc is generated). Also
 * files the runner made in the host's /tmp and /dev/shm (jc-hostmark-<tag>): the job's
 * /tmp and /dev/shm are its own. */
#include <fcntl.h>

#include "../probe.h"

int main(void) {
    probe_begin(1, "read-shadow");
    EXPECT_FAIL("open /etc/shadow", open("/etc/shadow", O_RDONLY | O_CLOEXEC), ENOENT);
    EXPECT_FAIL("open /etc/gshadow", open("/etc/gshadow", O_RDONLY | O_CLOEXEC), ENOENT);
    EXPECT_FAIL("open /etc/sudoers", open("/etc/sudoers", O_RDONLY | O_CLOEXEC), ENOENT);
    const char *tag = getenv("JC_PROBE_TAG");
    if (!tag || !*tag) {
        probe_escape("JC_PROBE_TAG not set: the host marks cannot be looked for");
        return probe_end();
    }
    char p[128];
    snprintf(p, sizeof(p), "/tmp/jc-hostmark-%s", tag);
    EXPECT_FAIL("open the host's /tmp mark", open(p, O_RDONLY | O_CLOEXEC), ENOENT);
    snprintf(p, sizeof(p), "/dev/shm/jc-hostmark-%s", tag);
    EXPECT_FAIL("open the host's /dev/shm mark", open(p, O_RDONLY | O_CLOEXEC), ENOENT);
    return probe_end();
}
