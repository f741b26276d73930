/* 27. Write to /usr/bin or / → EROFS. */
#include <fcntl.h>
#include <sys/stat.h>

#include "../probe.h"

int main(void) {
    probe_begin(27, "write-root");
    EXPECT_FAIL("create /usr/bin/jcprobe",
                open("/usr/bin/jcprobe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755), EROFS);
    EXPECT_FAIL("create /jcprobe", open("/jcprobe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644),
                EROFS);
    EXPECT_FAIL("mkdir /etc/jcprobe", mkdir("/etc/jcprobe", 0755), EROFS);
    EXPECT_FAIL("open /usr/bin/env for writing", open("/usr/bin/env", O_WRONLY | O_CLOEXEC), EROFS,
                EACCES);
    EXPECT_FAIL("rename /etc/passwd", rename("/etc/passwd", "/etc/passwd.jcprobe"), EROFS);
    EXPECT_FAIL("create /dev/jcprobe",
                open("/dev/jcprobe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), EROFS);
    return probe_end();
}
