/* 6. unshare(CLONE_NEWUSER) → EPERM (seccomp): no nested user namespace. */
#include <sched.h>

#include "../probe.h"

int main(void) {
    probe_begin(6, "unshare-user");
    EXPECT_FAIL("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), EPERM);
    EXPECT_FAIL("unshare(CLONE_NEWUSER|CLONE_NEWNS)", unshare(CLONE_NEWUSER | CLONE_NEWNS), EPERM);
    EXPECT_FAIL("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET), EPERM);
    EXPECT_FAIL("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID), EPERM);
    return probe_end();
}
