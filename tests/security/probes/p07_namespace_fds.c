/* 7. Open /proc/1/ns/<name> → EACCES (jobcell-init is not dumpable); setns on any ns fd → EPERM. */
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>

#include "../probe.h"

int main(void) {
    probe_begin(7, "namespace-fds");
    static const char *const ns[] = {"mnt", "pid", "net", "user", "ipc", "uts", "cgroup"};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        char p[64], what[80];
        snprintf(p, sizeof(p), "/proc/1/ns/%s", ns[i]);
        snprintf(what, sizeof(what), "open %s", p);
        EXPECT_FAIL(what, open(p, O_RDONLY | O_CLOEXEC), EACCES);
    }
    /* its own namespace fds open (they are its own), but joining any is refused */
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        char p[64], what[80];
        snprintf(p, sizeof(p), "/proc/self/ns/%s", ns[i]);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            probe_note("open %s: %s", p, errno_name(errno));
            continue;
        }
        snprintf(what, sizeof(what), "setns(%s)", ns[i]);
        EXPECT_FAIL(what, setns(fd, 0), EPERM);
        close(fd);
    }
    /* a pidfd names every namespace of its process at once (setns since 5.8) */
    errno = 0;
    long pidfd = syscall(SYS_pidfd_open, 1, 0);
    if (pidfd >= 0) {
        EXPECT_FAIL("setns(pidfd of pid 1, mnt|net|pid)",
                    setns((int)pidfd, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID), EPERM);
        close((int)pidfd);
    } else {
        probe_expect_fail("pidfd_open(1)", -1, errno, EPERM, 0);
    }
    return probe_end();
}
