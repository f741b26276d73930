/* 8. chroot escape (chroot + chdir .. loop) → EPERM. */
#include <sys/stat.h>

#include "../probe.h"

int main(void) {
    probe_begin(8, "chroot-escape");
    mkdir("/tmp/jcprobe-chroot", 0700);
    EXPECT_FAIL("chroot /tmp/jcprobe-chroot", chroot("/tmp/jcprobe-chroot"), EPERM);
    for (int i = 0; i < 64; i++) {
        if (chdir("..") < 0)
            break;
    }
    EXPECT_FAIL("chroot . after chdir .. x64", chroot("."), EPERM);
    char cwd[256];
    if (getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") != 0)
        probe_escape("cwd after the loop is %s", cwd);
    /* still the sandbox's root: the host's shadow file is not there */
    if (access("/etc/shadow", F_OK) == 0)
        probe_escape("/etc/shadow is reachable after the loop");
    rmdir("/tmp/jcprobe-chroot");
    return probe_end();
}
