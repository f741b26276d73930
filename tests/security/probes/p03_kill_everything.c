/* 3. kill -9 every pid 1..32768 other than the probe's own → ESRCH/EPERM; nothing outside
 * dies (the runner checks its own sentinel process afterwards). */
#include <signal.h>
#include <stdlib.h>

#include "../probe.h"

int main(void) {
    probe_begin(3, "kill-everything");
    /* Safety for the machine this runs on: in the host's pid namespace this loop would
     * kill the host. Compare with the namespace the runner passed in and stop there. */
    const char *host_ns = getenv("JC_PROBE_HOST_PIDNS");
    char own[64] = "";
    ssize_t n = readlink("/proc/self/ns/pid", own, sizeof(own) - 1);
    if (n > 0)
        own[n] = '\0';
    if (!host_ns || !*host_ns) {
        probe_escape("JC_PROBE_HOST_PIDNS not set: refusing to run without the safety check");
        return probe_end();
    }
    if (n <= 0 || strcmp(own, host_ns) == 0) {
        probe_escape("the job is in the host's pid namespace (%s): not killing", own);
        return probe_end();
    }
    int esrch = 0, eperm = 0;
    for (pid_t pid = 1; pid <= 32768; pid++) {
        if (pid == getpid())
            continue;
        errno = 0;
        int r = kill(pid, SIGKILL);
        if (r == 0)
            probe_escape("kill(%d, SIGKILL) succeeded", (int)pid);
        else if (errno == ESRCH)
            esrch++;
        else if (errno == EPERM)
            eperm++;
        else
            probe_escape("kill(%d) failed with %s, expected ESRCH/EPERM", (int)pid,
                         errno_name(errno));
    }
    probe_note("ESRCH %d, EPERM %d", esrch, eperm);
    if (eperm < 1)
        probe_escape("jobcell-init (pid 1) should answer EPERM");
    return probe_end();
}
