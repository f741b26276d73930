/* job.c: the job child, steps 9–15 of SANDBOX.md, from fork to execve.
 *
 * Only async-signal-safe calls here, no allocation, no stdio: a failure is written as a
 * fixed record on the error pipe. The order is the kernel's: the bounding set can only be
 * dropped while CAP_SETPCAP is held, which the change to uid 1000 takes away; seccomp
 * comes last so the filter never has to allow the setup's own system calls. */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

static void copy_str(char *dst, size_t len, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

_Noreturn static void child_fail(const char *step, int sys_errno, const char *detail) {
    jc_setup_failure f;
    memset(&f, 0, sizeof(f));
    copy_str(f.step, sizeof(f.step), step);
    copy_str(f.detail, sizeof(f.detail), detail);
    f.sys_errno = sys_errno;
    ssize_t n;
    do
        n = write(JC_INIT_FD_ERRPIPE, &f, sizeof(f));
    while (n < 0 && errno == EINTR);
    _exit(125);
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int send_with_fd(const jc_msg *m, int fd) {
    struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        mh.msg_control = control.buf;
        mh.msg_controllen = sizeof(control.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(JC_INIT_FD_CONTROL, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

static const char *env_value(char *const *envp, const char *name) {
    size_t len = strlen(name);
    for (; *envp; envp++)
        if (!strncmp(*envp, name, len) && (*envp)[len] == '=')
            return *envp + len + 1;
    return NULL;
}

/* execvpe without allocation: argv[0] with a '/' is a path, else each PATH entry. */
_Noreturn static void exec_job(char *const *argv, char *const *envp) {
    const char *cmd = argv[0];
    if (strchr(cmd, '/')) {
        execve(cmd, argv, envp);
        child_fail("execve", errno, cmd);
    }
    const char *path = env_value(envp, "PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int first_error = ENOENT;
    size_t cmd_len = strlen(cmd);
    char buf[4096];
    for (const char *p = path;;) {
        const char *end = strchr(p, ':');
        size_t dir_len = end ? (size_t)(end - p) : strlen(p);
        if (dir_len > 0 && dir_len + 1 + cmd_len + 1 <= sizeof(buf)) {
            memcpy(buf, p, dir_len);
            buf[dir_len] = '/';
            memcpy(buf + dir_len + 1, cmd, cmd_len + 1);
            execve(buf, argv, envp);
            /* keep the most telling error: a file that exists but cannot run */
            if (errno != ENOENT && errno != ENOTDIR)
                first_error = errno;
        }
        if (!end)
            break;
        p = end + 1;
    }
    child_fail("execve", first_error, cmd);
}

_Noreturn void init_run_job(const init_spec *s, int cap_last) {
    int64_t t_child = mono_ns();

    /* jc-init's forwarding handlers and blocked set must not reach the job: a job that
     * inherited a blocked SIGTERM would never see the timeout's warning. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL); /* EINVAL for glibc's reserved ones: nothing to do */
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        child_fail("setsid", errno, "unblock signals");

    /* 9. A session of its own: no controlling terminal of the host (TIOCSTI), and a
     * process group jc-init can signal as a whole. */
    if (setsid() < 0)
        child_fail("setsid", errno, "setsid");
    if (chdir("/workspace") < 0)
        child_fail("setsid", errno, "chdir /workspace");

    /* 10. bounding, while CAP_SETPCAP is still held */
    for (int cap = 0; cap <= cap_last; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            child_fail("bounding", errno, "PR_CAPBSET_DROP");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        child_fail("bounding", errno, "clear the ambient set");

    /* 11. identity: no supplementary groups (jc-init dropped them), then 1000:1000. */
    if (setresgid(JC_JOB_GID, JC_JOB_GID, JC_JOB_GID) < 0)
        child_fail("identity", errno, "setresgid 1000");
    if (setresuid(JC_JOB_UID, JC_JOB_UID, JC_JOB_UID) < 0)
        child_fail("identity", errno, "setresuid 1000");

    /* 12. capabilities: leaving uid 0 cleared effective and permitted; inheritable is
     * cleared here, and no_new_privs stops setuid and file capabilities for good. */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capset, &hdr, data) < 0)
        child_fail("capabilities", errno, "capset");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail("capabilities", errno, "PR_SET_NO_NEW_PRIVS");

    jc_msg times = {.type = JC_MSG_CHILD_TIMES, .t = {t_child, mono_ns()}};
    if (send_with_fd(&times, -1) < 0)
        child_fail("fds", errno, "send timings");

    /* 13. fds: only 0–2 survive execve; the error pipe stays (CLOEXEC) to report the
     * exec's failure. The control socket stays for the seccomp listener if asked. */
    bool listener = s->filter && (s->flags & JC_FLAG_SECCOMP_LISTENER);
    if (!listener && close(JC_INIT_FD_CONTROL) < 0)
        child_fail("fds", errno, "close the control socket");
    if (syscall(SYS_close_range, JC_INIT_FD_ERRPIPE + 1, ~0U, 0) < 0)
        child_fail("fds", errno, "close_range");

    /* 14. seccomp, last: in learn mode only sendmsg, close, write and execve follow. */
    if (s->filter) {
        struct sock_fprog prog = {.len = (unsigned short)s->filter_len,
                                  .filter = (struct sock_filter *)s->filter};
        unsigned flags = listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
        long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        if (fd < 0)
            child_fail("seccomp", errno, "load the filter");
        if (listener) {
            jc_msg m = {.type = JC_MSG_SECCOMP_FD};
            if (send_with_fd(&m, (int)fd) < 0)
                child_fail("seccomp", errno, "send the listener");
            close((int)fd);
            close(JC_INIT_FD_CONTROL);
        }
    }

    /* 15. execve */
    exec_job(s->argv, s->envp);
}
