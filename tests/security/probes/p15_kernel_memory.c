/* 15. Read /proc/kcore, /proc/kallsyms addresses → empty/zeroed, or ENOENT where absent. */
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
