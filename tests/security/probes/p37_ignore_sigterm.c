/* 37. Ignore SIGTERM and keep forking (within the pids limit) at timeout → all killed after
 * the grace, reason "timeout" (the runner checks the record, the time, and that nothing
 * survives). The first SIGTERM is noted on stderr and then ignored. */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "../probe.h"

static volatile sig_atomic_t terms;

static void on_term(int sig) {
    (void)sig;
    if (terms++ == 0) {
        static const char m[] = "PROBE-NOTE got SIGTERM, ignoring it\n";
        ssize_t w = write(2, m, sizeof(m) - 1);
        (void)w;
    }
}

int main(void) {
    const char *tag = getenv("JC_PROBE_TAG");
    char name[16];
    snprintf(name, sizeof(name), "jcp%s", tag ? tag : "");
    struct sigaction sa = {.sa_handler = on_term, .sa_flags = SA_RESTART};
    sigaction(SIGTERM, &sa, NULL);
    /* keep up to 8 children alive, replacing each one that dies; bounded by 10 minutes */
    int alive = 0;
    for (time_t start = time(NULL); time(NULL) - start < 600;) {
        while (alive < 8) {
            pid_t p = fork();
            if (p == 0) {
                signal(SIGTERM, SIG_IGN);
                prctl(PR_SET_NAME, name);
                struct timespec ts = {0, 200 * 1000000L};
                for (int i = 0; i < 5; i++)
                    nanosleep(&ts, NULL);
                _exit(0);
            }
            if (p < 0)
                break;
            alive++;
        }
        if (waitpid(-1, NULL, 0) > 0)
            alive--;
    }
    return 0;
}
