/* 28. Run a setuid-root binary → no privilege gained (nosuid, no_new_privs): still uid 1000.
 * The runner places a setuid-root copy of the id helper in /suid (bound read-only). */
#include <fcntl.h>
#include <sys/wait.h>

#include "../probe.h"

static void run(const char *path) {
    int p[2];
    if (pipe(p) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        execl(path, path, (char *)NULL);
        printf("exec-failed %s\n", errno_name(errno));
        _exit(127);
    }
    close(p[1]);
    char out[512] = "";
    ssize_t n = read(p[0], out, sizeof(out) - 1);
    close(p[0]);
    waitpid(pid, NULL, 0);
    if (n <= 0) {
        probe_escape("%s printed nothing", path);
        return;
    }
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    if (strncmp(out, "exec-failed", 11) == 0) {
        probe_escape("%s: %s (the check could not run)", path, out);
        return;
    }
    /* "uid=R euid=E suid=S gid=.. egid=.. capeff=HEX capprm=HEX" */
    int uid = -1, euid = -1, suid = -1;
    unsigned long long eff = 1, prm = 1;
    if (sscanf(out, "uid=%d euid=%d suid=%d %*s %*s capeff=%llx capprm=%llx", &uid, &euid, &suid,
               &eff, &prm) != 5) {
        probe_escape("%s: unreadable answer \"%s\"", path, out);
        return;
    }
    if (uid != 1000 || euid != 1000 || suid != 1000 || eff || prm)
        probe_escape("%s gained privilege: %s", path, out);
    else
        probe_note("%s: %s", path, out);
}

int main(void) {
    probe_begin(28, "setuid-binary");
    run("/suid/id-setuid-root");
    /* the host's own setuid binaries (mount, su) are there under /usr: mount refuses a
     * non-fstab mount to a non-root user, which is what it must think we are */
    int st = 0;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 1), dup2(null, 2);
        execl("/usr/bin/mount", "mount", "-t", "tmpfs", "none", "/tmp", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        probe_escape("setuid /usr/bin/mount mounted a tmpfs");
    else
        probe_note("setuid /usr/bin/mount failed (status %d)",
                   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return probe_end();
}
