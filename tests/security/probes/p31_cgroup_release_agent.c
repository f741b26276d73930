/* 31. Write a cgroup release_agent / notify_on_release (CVE-2022-0492 class) → cgroupfs not
 * mounted / EROFS. */
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "../probe.h"

int main(void) {
    probe_begin(31, "cgroup-release-agent");
    static const char *const files[] = {
        "/sys/fs/cgroup/release_agent", "/sys/fs/cgroup/memory/release_agent",
        "/sys/fs/cgroup/notify_on_release", "/sys/fs/cgroup/cgroup.procs"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char what[96];
        snprintf(what, sizeof(what), "open %s for writing", files[i]);
        EXPECT_FAIL(what, open(files[i], O_WRONLY | O_CLOEXEC), ENOENT, EROFS);
    }
    mkdir("/tmp/jcprobe-cg", 0700);
    EXPECT_FAIL("mount cgroup v1 (rdma) on /tmp/jcprobe-cg",
                mount("cgroup", "/tmp/jcprobe-cg", "cgroup", 0, "rdma"), EPERM);
    EXPECT_FAIL("mount cgroup2 on /tmp/jcprobe-cg",
                mount("cgroup2", "/tmp/jcprobe-cg", "cgroup2", 0, NULL), EPERM);
    rmdir("/tmp/jcprobe-cg");
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[1024];
    while (f && fgets(line, sizeof(line), f)) {
        if (strstr(line, " - cgroup ") || strstr(line, " - cgroup2 ")) {
            line[strcspn(line, "\n")] = '\0';
            probe_escape("a cgroup filesystem is mounted: %s", line);
        }
    }
    if (f)
        fclose(f);
    return probe_end();
}
