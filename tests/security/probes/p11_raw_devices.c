/* 11. Open /dev/mem, /dev/kmem, /dev/port, /dev/sda → ENOENT. */
#include <fcntl.h>

#include "../probe.h"

int main(void) {
    probe_begin(11, "raw-devices");
    static const char *const devs[] = {"/dev/mem",  "/dev/kmem",    "/dev/port",
                                       "/dev/sda",  "/dev/vda",     "/dev/nvme0n1",
                                       "/dev/kmsg", "/dev/console", "/dev/loop0"};
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "open %s", devs[i]);
        EXPECT_FAIL(what, open(devs[i], O_RDONLY | O_CLOEXEC), ENOENT);
    }
    return probe_end();
}
