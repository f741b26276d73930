/* 33. Fork bomb → contained by pids; host responsive; reason "pids" (the runner checks the
 * result record). The probe sees fork fail with EAGAIN below the limit it was given, says
 * so, and exits 1: a job that failed while its pids limit was hit. */
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#include "../probe.h"

int main(void) {
    probe_begin(33, "fork-bomb");
    const char *lim = getenv("JC_PROBE_PIDS");
    const char *tag = getenv("JC_PROBE_TAG");
    int limit = lim ? atoi(lim) : 0;
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return 2;
    /* every process of the bomb forks as fast as it can; each reports its own EAGAIN */
    int made = 0;
    time_t start = time(NULL);
    for (;;) {
        pid_t p = fork();
        if (p == 0) {
            char name[16];
            snprintf(name, sizeof(name), "jcp%s", tag ? tag : "");
            prctl(PR_SET_NAME, name);
            for (int i = 0; i < 1000; i++) {
                if (fork() < 0 && errno == EAGAIN) {
                    if (write(pipefd[1], "!", 1) < 0)
                        break;
                }
                if (time(NULL) - start > 20)
                    break;
            }
            for (;;)
                pause();
        }
        if (p < 0) {
            if (errno == EAGAIN)
                break;
            probe_escape("fork failed with %s, expected EAGAIN", errno_name(errno));
            return probe_end() + 2;
        }
        made++;
        if (made > limit || time(NULL) - start > 20)
            break;
    }
    char c;
    if (read(pipefd[0], &c, 1) != 1)
        probe_note("no EAGAIN reported by the children");
    if (made >= limit)
        probe_escape("%d processes forked with a pids limit of %d", made, limit);
    else
        probe_note("fork failed with EAGAIN after %d processes (pids limit %d)", made, limit);
    probe_end();
    return 1; /* failed while the pids limit was hit: reason "pids" */
}
