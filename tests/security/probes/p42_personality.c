/* 42. personality(READ_IMPLIES_EXEC) / ADDR_NO_RANDOMIZE → EPERM under the strict profile. */
#include <sys/personality.h>

#include "../probe.h"

int main(void) {
    probe_begin(42, "personality");
    EXPECT_FAIL("personality(READ_IMPLIES_EXEC)", personality(PER_LINUX | READ_IMPLIES_EXEC),
                EPERM);
    EXPECT_FAIL("personality(ADDR_NO_RANDOMIZE)", personality(PER_LINUX | ADDR_NO_RANDOMIZE),
                EPERM);
    int cur = personality(0xffffffff);
    if (cur != -1 && (cur & (READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE)))
        probe_escape("personality is now 0x%x", (unsigned)cur);
    return probe_end();
}
