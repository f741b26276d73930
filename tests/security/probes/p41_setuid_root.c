/* 41. setuid(0) / setgid(0) → EPERM; capsh --print shows empty sets. */
#include <grp.h>
#include <sys/wait.h>

#include "../probe.h"

int main(void) {
    probe_begin(41, "setuid-root");
    EXPECT_FAIL("setuid(0)", setuid(0), EPERM);
    EXPECT_FAIL("setgid(0)", setgid(0), EPERM);
    EXPECT_FAIL("setresuid(0,0,0)", setresuid(0, 0, 0), EPERM);
    EXPECT_FAIL("setgroups(0)", setgroups(1, (gid_t[]){0}), EPERM);
    if (getuid() != 1000 || geteuid() != 1000 || getgid() != 1000 || getegid() != 1000)
        probe_escape("identity is %d/%d:%d/%d, expected 1000", (int)getuid(), (int)geteuid(),
                     (int)getgid(), (int)getegid());
    gid_t groups[8];
    int ng = getgroups(8, groups);
    if (ng != 0)
        probe_escape("%d supplementary groups", ng);
    static const char *const sets[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
    for (size_t i = 0; i < 5; i++) {
        const char *v = probe_status(sets[i]);
        if (!v || strtoull(v, NULL, 16) != 0)
            probe_escape("%s is %s", sets[i], v ? v : "unreadable");
    }
    const char *nnp = probe_status("NoNewPrivs");
    if (!nnp || strcmp(nnp, "1") != 0)
        probe_escape("NoNewPrivs is %s", nnp ? nnp : "unreadable");
    const char *sc = probe_status("Seccomp");
    if (!sc || strcmp(sc, "2") != 0)
        probe_escape("Seccomp is %s, expected 2 (filter)", sc ? sc : "unreadable");
    if (!probe_escaped)
        probe_note("caps 0 in all five sets, NoNewPrivs 1, Seccomp 2");
    /* capsh --print, as a user would check */
    int p[2];
    if (pipe(p) == 0 && access("/usr/sbin/capsh", X_OK) == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            dup2(p[1], 1);
            execl("/usr/sbin/capsh", "capsh", "--print", (char *)NULL);
            _exit(127);
        }
        close(p[1]);
        char out[4096] = "";
        size_t len = 0;
        ssize_t n;
        while (len < sizeof(out) - 1 && (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
            len += (size_t)n;
        out[len] = '\0';
        waitpid(pid, NULL, 0);
        char *cur = strstr(out, "Current:");
        char *bnd = strstr(out, "Bounding set =");
        if (!cur)
            probe_escape("capsh --print has no Current line");
        else if (strncmp(cur, "Current: =\n", 11) != 0) {
            cur[strcspn(cur, "\n")] = '\0';
            probe_escape("capsh: %s", cur);
        } else if (!bnd || strncmp(bnd, "Bounding set =\n", 15) != 0) {
            probe_escape("capsh bounding set is not empty");
        } else {
            probe_note("capsh: Current: = and Bounding set = (empty)");
        }
    }
    return probe_end();
}
