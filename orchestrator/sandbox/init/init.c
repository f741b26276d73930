/* jobcell-init: pid 1 of a sandbox.
 *
 * The clone child of the engine became the mapped root of the new user namespace and
 * exec'd this program with fd 0–2 = the job's stdio, fd 3 = the control socket, fd 4 =
 * the error pipe. This process never held a page of the daemon's memory. It reads the
 * spec, runs the setup steps of SANDBOX.md in order, forks the job, forwards SIGTERM and
 * SIGINT to the job's process group, reaps every zombie, and sends the job's raw wait
 * status to the engine before it exits (its own exit status cannot carry a signal: a
 * pid-namespace init cannot be killed by the signals it forwards). When it exits, the
 * kernel kills everything left in the namespace. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

_Noreturn void init_fail(const char *step, int sys_errno, const char *fmt, ...) {
    jc_setup_failure f;
    memset(&f, 0, sizeof(f));
    snprintf(f.step, sizeof(f.step), "%s", step);
    f.sys_errno = sys_errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f.detail, sizeof(f.detail), fmt, ap);
    va_end(ap);
    /* One write below PIPE_BUF is atomic; if the parent is gone there is nobody to tell. */
    ssize_t n;
    do
        n = write(JC_INIT_FD_ERRPIPE, &f, sizeof(f));
    while (n < 0 && errno == EINTR);
    _exit(125);
}

static void send_msg(const jc_msg *m, int fd_to_pass) {
    struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd_to_pass >= 0) {
        memset(&control, 0, sizeof(control));
        mh.msg_control = control.buf;
        mh.msg_controllen = sizeof(control.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(JC_INIT_FD_CONTROL, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        init_fail("network", errno, "send a message to the engine");
}

/* ---- step wait-parent: the spec ---------------------------------------------------- */

static void recv_packet(void *buf, size_t len) {
    ssize_t n;
    do
        n = recv(JC_INIT_FD_CONTROL, buf, len, MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        init_fail("wait-parent", errno, "read the spec");
    if (n == 0)
        init_fail("wait-parent", EPIPE, "the engine closed the control socket");
    if ((size_t)n != len)
        init_fail("wait-parent", EPROTO, "spec packet of %zd bytes, expected %zu", n, len);
}

static const char *record_string(const char *p, uint32_t len, const char *what) {
    if (len == 0 || p[len - 1] != '\0' || strlen(p) != len - 1)
        init_fail("wait-parent", EPROTO, "malformed %s in the spec", what);
    return p;
}

/* Read and parse the spec. The buffer lives until the process ends: strings in the
 * spec point into it. The engine is trusted, but a malformed spec still fails closed. */
static void read_spec(init_spec *s) {
    jc_spec_header h;
    recv_packet(&h, sizeof(h));
    if (h.magic != JC_PROTO_MAGIC || h.version != JC_PROTO_VERSION)
        init_fail("wait-parent", EPROTO, "spec of another protocol version");
    if (h.length > JC_PROTO_MAX_SPEC)
        init_fail("wait-parent", EPROTO, "spec too large");
    char *buf = malloc(h.length + 1);
    if (!buf)
        init_fail("wait-parent", ENOMEM, "allocate the spec");
    for (uint64_t off = 0; off < h.length;) {
        uint64_t chunk = h.length - off < JC_PROTO_CHUNK ? h.length - off : JC_PROTO_CHUNK;
        recv_packet(buf + off, chunk);
        off += chunk;
    }

    size_t n_argv = 0, n_env = 0, n_files = 0, n_binds = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            s->argv = calloc(n_argv + 1, sizeof(char *));
            s->envp = calloc(n_env + 1, sizeof(char *));
            s->files = calloc(n_files + 1, sizeof(init_file));
            s->binds = calloc(n_binds + 1, sizeof(init_bind));
            if (!s->argv || !s->envp || !s->files || !s->binds)
                init_fail("wait-parent", ENOMEM, "allocate the spec");
            n_argv = n_env = n_files = n_binds = 0;
        }
        uint64_t off = 0;
        while (off < h.length) {
            uint32_t tag, len;
            if (h.length - off < 8)
                init_fail("wait-parent", EPROTO, "truncated spec record");
            memcpy(&tag, buf + off, 4);
            memcpy(&len, buf + off + 4, 4);
            off += 8;
            if (len > h.length - off)
                init_fail("wait-parent", EPROTO, "spec record past the end");
            char *p = buf + off;
            off += len;
            if (pass == 0) {
                n_argv += tag == JC_TAG_ARGV;
                n_env += tag == JC_TAG_ENV;
                n_files += tag == JC_TAG_FILE;
                n_binds += tag == JC_TAG_BIND;
                continue;
            }
            switch (tag) {
            case JC_TAG_HOSTNAME: s->hostname = record_string(p, len, "hostname"); break;
            case JC_TAG_ARGV: s->argv[n_argv++] = (char *)record_string(p, len, "argv"); break;
            case JC_TAG_ENV: s->envp[n_env++] = (char *)record_string(p, len, "env"); break;
            case JC_TAG_ROOTFS: s->rootfs = record_string(p, len, "rootfs"); break;
            case JC_TAG_SDK: s->sdk = record_string(p, len, "sdk_dir"); break;
            case JC_TAG_RESOLV: s->resolv_conf = record_string(p, len, "resolv_conf"); break;
            case JC_TAG_RUN_DIR: s->run_dir = record_string(p, len, "run_dir"); break;
            case JC_TAG_FLAGS:
                if (len != 4)
                    init_fail("wait-parent", EPROTO, "malformed flags");
                memcpy(&s->flags, p, 4);
                break;
            case JC_TAG_LIMITS:
                if (len != sizeof(s->limits))
                    init_fail("wait-parent", EPROTO, "malformed limits");
                memcpy(&s->limits, p, sizeof(s->limits));
                break;
            case JC_TAG_FILTER:
                /* sock_filter is 8 bytes; the copy keeps it aligned for the kernel. */
                if (len == 0 || len % 8 != 0 || len / 8 > 65535)
                    init_fail("wait-parent", EPROTO, "malformed seccomp filter");
                void *insns = malloc(len);
                if (!insns)
                    init_fail("wait-parent", ENOMEM, "allocate the filter");
                memcpy(insns, p, len);
                s->filter = insns;
                s->filter_len = len / 8;
                break;
            case JC_TAG_FILE: {
                uint32_t mode, nlen;
                if (len < 8)
                    init_fail("wait-parent", EPROTO, "malformed file");
                memcpy(&mode, p, 4);
                memcpy(&nlen, p + 4, 4);
                if (nlen > len - 8)
                    init_fail("wait-parent", EPROTO, "malformed file");
                init_file *f = &s->files[n_files++];
                f->mode = mode & 07777;
                f->name = record_string(p + 8, nlen, "file name");
                f->data = p + 8 + nlen;
                f->len = len - 8 - nlen;
                break;
            }
            case JC_TAG_BIND: {
                uint32_t ro;
                if (len < 6)
                    init_fail("wait-parent", EPROTO, "malformed bind");
                memcpy(&ro, p, 4);
                const char *src = p + 4;
                size_t slen = strnlen(src, len - 4);
                if (slen + 1 >= len - 4)
                    init_fail("wait-parent", EPROTO, "malformed bind");
                init_bind *b = &s->binds[n_binds++];
                b->readonly = ro != 0;
                b->src = src;
                b->dst = record_string(src + slen + 1, len - 4 - (uint32_t)slen - 1, "bind");
                break;
            }
            default: init_fail("wait-parent", EPROTO, "unknown spec record %u", tag);
            }
        }
    }
    s->n_files = n_files;
    s->n_binds = n_binds;
    if (!s->hostname || !s->run_dir || n_argv == 0 || !s->rootfs)
        init_fail("wait-parent", EPROTO, "incomplete spec");
}

/* ---- step signals ------------------------------------------------------------------- */

static void on_signal(int sig) {
    (void)sig; /* only here so the kernel delivers it to pid 1: see wait loop */
}

static void reset_signals(void) {
    struct sigaction sa = {.sa_handler = SIG_DFL};
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        /* EINVAL for the signals glibc reserves for itself: nothing to reset there. */
        if (sigaction(sig, &sa, NULL) < 0 && errno != EINVAL)
            init_fail("signals", errno, "reset the disposition of signal %d", sig);
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        init_fail("signals", errno, "unblock signals");
}

/* ---- step network -------------------------------------------------------------------- */

static void setup_network(const init_spec *s) {
    if (s->flags & JC_FLAG_SHARED_NET)
        return;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        init_fail("network", errno, "socket for bringing lo up");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        init_fail("network", errno, "read the flags of lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        init_fail("network", errno, "bring lo up");
    close(fd);
    if (!(s->flags & JC_FLAG_RUNTIME_SOCKET))
        return;
    /* The only way out of the sandbox: the engine accepts on this socket from outside
     * the namespace and relays. No SO_REUSEPORT: a job must not bind a twin of it. */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        init_fail("network", errno, "socket for the runtime listener");
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        init_fail("network", errno, "SO_REUSEADDR on the runtime listener");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(JC_RUNTIME_PORT)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        init_fail("network", errno, "bind 127.0.0.1:%d", JC_RUNTIME_PORT);
    if (listen(fd, 128) < 0)
        init_fail("network", errno, "listen on 127.0.0.1:%d", JC_RUNTIME_PORT);
    jc_msg m = {.type = JC_MSG_RUNTIME_FD};
    send_msg(&m, fd);
    close(fd);
}

/* ---- step rlimits --------------------------------------------------------------------- */

static void set_limit(int resource, uint64_t value, const char *name) {
    struct rlimit rl = {.rlim_cur = value, .rlim_max = value};
    if (setrlimit(resource, &rl) < 0)
        init_fail("rlimits", errno, "set %s", name);
}

static int read_cap_last(void) {
    /* Probe instead of reading /proc/sys/kernel/cap_last_cap: the mounts are done and
     * this needs no file. PR_CAPBSET_READ fails with EINVAL past the last capability. */
    int last = CAP_LAST_CAP;
    while (last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
        last++;
    return last;
}

/* ---- after the fork: reap and forward ------------------------------------------------- */

_Noreturn static void supervise(pid_t job) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&set, &info);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            init_fail("fork", errno, "wait for signals");
        }
        if (sig == SIGTERM || sig == SIGINT) {
            /* To the job's process group (it called setsid); before setsid, to the job. */
            if (kill(-job, sig) < 0 && errno == ESRCH)
                kill(job, sig);
            continue;
        }
        for (;;) {
            int status;
            pid_t p = waitpid(-1, &status, WNOHANG);
            if (p <= 0)
                break;
            if (p == job) {
                jc_msg m = {.type = JC_MSG_STATUS, .status = status};
                send_msg(&m, -1);
                /* Exiting kills every process left in the namespace. */
                _exit(0);
            }
        }
    }
}

int main(void) {
    int64_t t_start = mono_ns();
    init_spec spec;
    memset(&spec, 0, sizeof(spec));

    /* The clone child dup2'd these into place, which cleared CLOEXEC: the job must not
     * inherit the control socket, and the error pipe must close on the job's execve. */
    if (fcntl(JC_INIT_FD_CONTROL, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(JC_INIT_FD_ERRPIPE, F_SETFD, FD_CLOEXEC) < 0)
        _exit(125);

    /* 1. wait-parent. The clone child already became the mapped root (setresuid 0 in
     * the namespace) before the exec, or this process would have lost every capability
     * in it; these calls are then no-ops kept for clarity, setgroups is not. */
    read_spec(&spec);
    /* Everything below reshapes the mount namespace it runs in: only ever as pid 1 of the
     * fresh namespaces the engine made, never on a host by mistake. */
    if (getpid() != 1)
        init_fail("wait-parent", EPERM,
                  "jobcell-init runs only as the first process of a "
                  "sandbox");
    if (setresgid(0, 0, 0) < 0)
        init_fail("wait-parent", errno, "setresgid(0)");
    if (setresuid(0, 0, 0) < 0)
        init_fail("wait-parent", errno, "setresuid(0)");
    /* The daemon's supplementary groups would follow us in, and still grant access on
     * host files (they show as 65534 inside). */
    if (setgroups(0, NULL) < 0)
        init_fail("wait-parent", errno, "setgroups(0)");
    umask(022);

    /* 2. signals. The daemon's blocked set and ignored signals survive execve. */
    reset_signals();
    /* Non-dumpable: a job cannot open /proc/1/{mem,ns,exe,environ} nor ptrace us. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        init_fail("signals", errno, "PR_SET_DUMPABLE 0");
    /* The kernel drops a signal to a pid-namespace init that has no handler for it, even
     * one that is blocked: install a handler, block, and take them with sigwaitinfo. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
        sigaction(SIGCHLD, &sa, NULL) < 0)
        init_fail("signals", errno, "install the forwarding handlers");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        init_fail("signals", errno, "block the forwarded signals");

    /* 3. cgroupns: the engine put us in our cgroups already; the job sees its own as /. */
    if (unshare(CLONE_NEWCGROUP) < 0)
        init_fail("cgroupns", errno, "unshare(CLONE_NEWCGROUP)");

    /* 4. mounts */
    init_setup_mounts(&spec);
    int64_t t_mounts = mono_ns();

    /* 5. hostname */
    if (sethostname(spec.hostname, strlen(spec.hostname)) < 0)
        init_fail("hostname", errno, "sethostname %s", spec.hostname);

    /* 6. network */
    setup_network(&spec);
    int64_t t_network = mono_ns();

    /* 7. rlimits */
    set_limit(RLIMIT_NOFILE, spec.limits.nofile, "RLIMIT_NOFILE");
    set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
    set_limit(RLIMIT_FSIZE, spec.limits.fsize, "RLIMIT_FSIZE");

    /* 8. fork */
    int cap_last = read_cap_last();
    jc_msg times = {.type = JC_MSG_INIT_TIMES, .t = {t_start, t_mounts, t_network, mono_ns()}};
    send_msg(&times, -1);
    pid_t job = _Fork();
    if (job < 0)
        init_fail("fork", errno, "fork the job");
    if (job == 0)
        init_run_job(&spec, cap_last);
    /* The parent sees success as the error pipe closing on the job's execve: our copy
     * must go. The runtime listener was closed once sent. */
    close(JC_INIT_FD_ERRPIPE);
    supervise(job);
}
