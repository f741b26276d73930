/* 44. Change the hostname → EPERM (no CAP_SYS_ADMIN). */
#include <sys/utsname.h>

#include "../probe.h"

int main(void) {
    probe_begin(44, "hostname");
    struct utsname before, after;
    uname(&before);
    EXPECT_FAIL("sethostname", sethostname("jcprobe-evil", 12), EPERM);
    EXPECT_FAIL("setdomainname", setdomainname("jcprobe-evil", 12), EPERM);
    uname(&after);
    if (strcmp(before.nodename, after.nodename) != 0)
        probe_escape("hostname changed to %s", after.nodename);
    if (strncmp(before.nodename, "jc-", 3) != 0)
        probe_escape("hostname %s is not the sandbox's (jc-…)", before.nodename);
    else
        probe_note("hostname stays %s", before.nodename);
    return probe_end();
}
