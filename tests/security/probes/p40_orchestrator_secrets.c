/* 40. Read the orchestrator's environment or keys (/proc/<ppid>/environ, state dir) → not
 * visible. The runner starts `jobcell run` with JC_SECURITY_CANARY=<random> in its own
 * environment; no file the job can read may hold that name. */
#include <dirent.h>
#include <fcntl.h>

#include "../probe.h"

static const char canary[] = "JC_SECURITY_CANARY";

/* Does the file at path contain the canary's name? -1 when it cannot be read (errno). */
static int file_has_canary(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    static char buf[1 << 16];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    for (ssize_t i = 0; i + (ssize_t)sizeof(canary) - 1 <= n; i++) {
        if (memcmp(buf + i, canary, sizeof(canary) - 1) == 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv, char **envp) {
    (void)argc, (void)argv;
    probe_begin(40, "orchestrator-secrets");
    for (char **e = envp; *e; e++) {
        if (strncmp(*e, canary, sizeof(canary) - 1) == 0)
            probe_escape("the caller's %s is in the job's environment", canary);
    }
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/environ", (int)getppid());
    errno = 0;
    int r = file_has_canary(p);
    if (r == 1)
        probe_escape("%s holds the canary", p);
    else if (r == 0 && getppid() != getpid())
        probe_escape("%s is readable (parent %d)", p, (int)getppid());
    else
        probe_expect_fail("read /proc/<ppid>/environ", -1, errno, EACCES, 0);
    /* every process the job can see */
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int pid = atoi(e->d_name);
        snprintf(p, sizeof(p), "/proc/%d/environ", pid);
        if (file_has_canary(p) == 1)
            probe_escape("%s holds the canary", p);
        snprintf(p, sizeof(p), "/proc/%d/cmdline", pid);
        if (file_has_canary(p) == 1)
            probe_escape("%s holds the canary", p);
    }
    if (d)
        closedir(d);
    static const char *const state[] = {"/var/lib/jobcell", "/run/jobcell", "/etc/jobcell", "/root",
                                        "/home"};
    for (size_t i = 0; i < sizeof(state) / sizeof(state[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "open %s", state[i]);
        EXPECT_FAIL(what, open(state[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC), ENOENT);
    }
    return probe_end();
}
