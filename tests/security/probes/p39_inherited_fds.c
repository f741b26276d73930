/* 39. Reopen fds inherited from the orchestrator (scan /proc/self/fd) → only 0–2 exist
 * (besides the directory fd of the scan itself). */
#include <dirent.h>
#include <fcntl.h>

#include "../probe.h"

int main(void) {
    probe_begin(39, "inherited-fds");
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        probe_escape("cannot open /proc/self/fd (%s)", errno_name(errno));
        return probe_end();
    }
    int self = dirfd(d);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd == self)
            continue;
        char p[64], target[256] = "?";
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(p, target, sizeof(target) - 1);
        if (n > 0)
            target[n] = '\0';
        if (fd > 2)
            probe_escape("fd %d is open: %s", fd, target);
        else
            probe_note("fd %d: %s", fd, target);
        count++;
    }
    closedir(d);
    /* and nothing beyond what the scan listed answers either */
    for (int fd = 3; fd < 4096; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            probe_escape("fd %d answers F_GETFD", fd);
    }
    if (count > 3)
        probe_escape("%d fds open", count);
    return probe_end();
}
