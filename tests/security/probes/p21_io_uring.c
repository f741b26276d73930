/* 21. io_uring_setup → EPERM. */
#include <linux/io_uring.h>
#include <sys/syscall.h>

#include "../probe.h"

int main(void) {
    probe_begin(21, "io-uring");
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    EXPECT_FAIL("io_uring_setup(8)", syscall(SYS_io_uring_setup, 8, &p), EPERM);
    return probe_end();
}
