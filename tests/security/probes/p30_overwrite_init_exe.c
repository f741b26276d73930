/* 30. Overwrite /proc/self/exe of jobcell-init (CVE-2019-5736 class) → EACCES/ETXTBSY; the
 * runner compares the checksums of the host binaries before and after. */
#include <fcntl.h>

#include "../probe.h"

int main(void) {
    probe_begin(30, "overwrite-init-exe");
    EXPECT_FAIL("open /proc/1/exe for writing", open("/proc/1/exe", O_WRONLY | O_CLOEXEC), EACCES,
                ETXTBSY);
    EXPECT_FAIL("open /proc/1/exe O_WRONLY|O_TRUNC",
                open("/proc/1/exe", O_WRONLY | O_TRUNC | O_CLOEXEC), EACCES, ETXTBSY);
    /* the CVE's route: hold an O_PATH fd on the binary and reopen it for writing after the
     * runtime has exited */
    errno = 0;
    int fd = open("/proc/1/exe", O_PATH | O_CLOEXEC);
    if (fd < 0) {
        probe_expect_fail("open /proc/1/exe O_PATH", -1, errno, EACCES, 0);
    } else {
        probe_note("open /proc/1/exe O_PATH: opened");
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        EXPECT_FAIL("reopen it O_WRONLY", open(p, O_WRONLY | O_CLOEXEC), EACCES, ETXTBSY);
        close(fd);
    }
    /* the job's own binary is on a read-only bind */
    EXPECT_FAIL("open /proc/self/exe for writing", open("/proc/self/exe", O_WRONLY | O_CLOEXEC),
                ETXTBSY, EROFS, EACCES);
    char link[256];
    errno = 0;
    ssize_t n = readlink("/proc/1/exe", link, sizeof(link) - 1);
    if (n >= 0) {
        link[n] = '\0';
        probe_note("readlink /proc/1/exe: %s", link);
    } else {
        probe_expect_fail("readlink /proc/1/exe", -1, errno, EACCES, 0);
    }
    return probe_end();
}
