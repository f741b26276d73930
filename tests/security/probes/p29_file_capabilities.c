/* 29. Set file capabilities and exec → no capability gained. The job cannot set them
 * (EPERM); the runner places a copy of the id helper with file capabilities
 * (cap_sys_admin, cap_net_raw, cap_setuid +ep) in /suid, and exec'ing it gains nothing. */
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "../probe.h"

int main(void) {
    probe_begin(29, "file-capabilities");
    /* a copy of ourselves in /tmp, then try to give it capabilities */
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    int out = open("/tmp/jcprobe-fcap", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (in >= 0 && out >= 0) {
        struct stat st;
        fstat(in, &st);
        sendfile(out, in, NULL, (size_t)st.st_size);
    }
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    struct vfs_cap_data data;
    memset(&data, 0, sizeof(data));
    data.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
    data.data[0].permitted = (1u << CAP_SYS_ADMIN) | (1u << CAP_NET_RAW) | (1u << CAP_SETUID);
    EXPECT_FAIL("setxattr security.capability on /tmp copy",
                setxattr("/tmp/jcprobe-fcap", "security.capability", &data, XATTR_CAPS_SZ_2, 0),
                EPERM);
    unlink("/tmp/jcprobe-fcap");

    int p[2];
    if (pipe(p) < 0)
        return probe_end();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        execl("/suid/id-filecaps", "id-filecaps", (char *)NULL);
        printf("exec-failed %s\n", errno_name(errno));
        _exit(127);
    }
    close(p[1]);
    char buf[512] = "";
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    waitpid(pid, NULL, 0);
    if (n <= 0) {
        probe_escape("/suid/id-filecaps printed nothing");
        return probe_end();
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    unsigned long long eff = 1, prm = 1;
    int euid = -1;
    if (sscanf(buf, "uid=%*d euid=%d suid=%*d %*s %*s capeff=%llx capprm=%llx", &euid, &eff,
               &prm) != 3)
        probe_escape("/suid/id-filecaps: %s", buf);
    else if (eff || prm || euid != 1000)
        probe_escape("exec of a file with capabilities gained: %s", buf);
    else
        probe_note("exec of /suid/id-filecaps: %s", buf);
    return probe_end();
}
