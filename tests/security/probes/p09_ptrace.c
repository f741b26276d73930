/* 9. ptrace(PTRACE_ATTACH) on jobcell-init or on a sibling process → EPERM. */
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "../probe.h"

int main(void) {
    probe_begin(9, "ptrace");
    EXPECT_FAIL("PTRACE_ATTACH pid 1", ptrace(PTRACE_ATTACH, 1, 0, 0), EPERM);
    EXPECT_FAIL("PTRACE_SEIZE pid 1", ptrace(PTRACE_SEIZE, 1, 0, 0), EPERM);
    pid_t sib = fork();
    if (sib == 0) {
        for (int i = 0; i < 50; i++)
            usleep(100000);
        _exit(0);
    }
    if (sib < 0) {
        probe_escape("fork failed (%s): the sibling check cannot run", errno_name(errno));
        return probe_end();
    }
    EXPECT_FAIL("PTRACE_ATTACH sibling", ptrace(PTRACE_ATTACH, sib, 0, 0), EPERM);
    EXPECT_FAIL("PTRACE_SEIZE sibling", ptrace(PTRACE_SEIZE, sib, 0, 0), EPERM);
    kill(sib, SIGKILL);
    waitpid(sib, NULL, 0);
    return probe_end();
}
