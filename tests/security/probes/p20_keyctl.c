/* 20. keyctl / add_key → EPERM. */
#include <linux/keyctl.h>
#include <sys/syscall.h>

#include "../probe.h"

int main(void) {
    probe_begin(20, "keyctl");
    EXPECT_FAIL("add_key(user)",
                syscall(SYS_add_key, "user", "jcprobe", "secret", 6, KEY_SPEC_PROCESS_KEYRING),
                EPERM);
    EXPECT_FAIL("keyctl(GET_KEYRING_ID)",
                syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0), EPERM);
    EXPECT_FAIL("keyctl(JOIN_SESSION_KEYRING)",
                syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "jcprobe"), EPERM);
    EXPECT_FAIL("request_key", syscall(SYS_request_key, "user", "jcprobe", NULL, 0), EPERM);
    return probe_end();
}
