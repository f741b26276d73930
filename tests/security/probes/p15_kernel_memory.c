/* 15. Read /proc/kcore, /proc/kallsyms addresses → empty/zeroed, or ENOENT where absent.
 * The other masked entries that leak kernel state (timer_list: kernel pointers and other
 * tasks' timers; keys; sched_debug) read empty too. */
#include <fcntl.h>

#include "../probe.h"

int main(void) {
    probe_begin(15, "kernel-memory");
    errno = 0;
    int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        probe_expect_fail("open /proc/kcore", -1, errno, ENOENT, EACCES, 0);
    } else {
        char buf[64];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0)
            probe_escape("/proc/kcore gave %zd bytes", n);
        else
            probe_note("/proc/kcore reads %zd bytes", n);
        close(fd);
    }
    static const char *const masked[] = {"/proc/timer_list", "/proc/keys", "/proc/sched_debug",
                                         "/proc/latency_stats"};
    for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
        errno = 0;
        int m = open(masked[i], O_RDONLY | O_CLOEXEC);
        if (m < 0) {
            char what[64];
            snprintf(what, sizeof(what), "open %s", masked[i]);
            probe_expect_fail(what, -1, errno, ENOENT, EACCES, 0);
            continue;
        }
        char buf[64];
        ssize_t n = read(m, buf, sizeof(buf));
        close(m);
        if (n > 0)
            probe_escape("%s gave %zd bytes", masked[i], n);
        else
            probe_note("%s reads %zd bytes", masked[i], n);
    }
    FILE *f = fopen("/proc/kallsyms", "re");
    if (!f) {
        probe_expect_fail("open /proc/kallsyms", -1, errno, ENOENT, EACCES, 0);
        return probe_end();
    }
    char line[512];
    long lines = 0, nonzero = 0;
    while (fgets(line, sizeof(line), f)) {
        lines++;
        unsigned long long addr = strtoull(line, NULL, 16);
        if (addr)
            nonzero++;
    }
    fclose(f);
    if (nonzero)
        probe_escape("/proc/kallsyms shows %ld real addresses of %ld lines", nonzero, lines);
    else
        probe_note("/proc/kallsyms: %ld lines, no address", lines);
    return probe_end();
}
