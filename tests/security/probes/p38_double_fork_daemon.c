/* 38. Double-fork daemon that outlives the job's main process → killed with the sandbox.
 * The daemon names itself jcp<tag> so that the runner can look for it on the host after
 * the run; the main process exits 0 at once. */
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "../probe.h"

int main(void) {
    probe_begin(38, "double-fork-daemon");
    const char *tag = getenv("JC_PROBE_TAG");
    char name[16];
    snprintf(name, sizeof(name), "jcp%s", tag ? tag : "");
    int ready[2];
    if (pipe(ready) < 0)
        return 2;
    pid_t p = fork();
    if (p == 0) {
        setsid();
        if (fork() == 0) {
            prctl(PR_SET_NAME, name);
            close(0), close(1), close(2);
            if (write(ready[1], "r", 1) < 0)
                _exit(1);
            for (int i = 0; i < 600; i++)
                sleep(1); /* bounded: ten minutes, should the sandbox fail */
            _exit(0);
        }
        _exit(0);
    }
    waitpid(p, NULL, 0);
    char c;
    if (read(ready[0], &c, 1) != 1)
        probe_escape("the daemon never started");
    else
        probe_note("daemon %s running, main process exits", name);
    return probe_end();
}
