/* start.c: the parent's steps 1–5 of SANDBOX.md "Order of steps" — cgroups, pipes and
 * control socket, clone3 into the new namespaces, the uid/gid maps, the go-ahead and
 * the spec — ending in a handle the caller supervises. Nothing here waits for the job. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"

bool jc_sandbox_bench_share_net = false;

/* fd numbers the clone child moves its fds to; sources must lie above them. */
#define CHILD_FD_FLOOR 5

static int64_t since_us(int64_t t0_ns) {
    return (jc_time_mono_ns() - t0_ns) / 1000;
}

static int step_fail(jc_err *err, const char *step) {
    if (err)
        snprintf(err->field, sizeof(err->field), "%s", step);
    return -1;
}

/* Move *fd above the numbers the clone child dup2s into, so no dup2 clobbers a source. */
static int lift_fd(int *fd, jc_err *err) {
    if (*fd >= CHILD_FD_FLOOR)
        return 0;
    int moved = fcntl(*fd, F_DUPFD_CLOEXEC, CHILD_FD_FLOOR);
    if (moved < 0)
        return jc_err_sys(err, errno, "spec: move fd %d", *fd);
    close(*fd);
    *fd = moved;
    return 0;
}

static int set_nonblock(int fd, jc_err *err) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return jc_err_sys(err, errno, "spec: O_NONBLOCK");
    return 0;
}

static int write_proc(pid_t pid, const char *file, const char *text, jc_err *err) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return jc_err_sys(err, errno, "maps: open %s", path);
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    if (n < 0)
        return jc_err_sys(err, errno, "maps: write %s", path);
    if ((size_t)n != len)
        return jc_err_set(err, JC_E_SYS, "maps: short write to %s", path);
    return 0;
}

/* The clone child: wait for the maps, become the mapped root, put the fds in place and
 * exec jobcell-init. Raw system calls only: the caller may have threads, and glibc's
 * set*id would try to signal threads that do not exist in this copy. */
_Noreturn static void clone_child(int init_fd, int stdin_fd, int out_fd, int err_fd, int control_fd,
                                  int errpipe_fd) {
    static const char msg_go[] = "wait-parent";
    char go = 0;
    ssize_t n;
    do
        n = read(control_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1 || go != JC_PROTO_GO)
        _exit(126); /* the engine gave up on us; it reaps and reports */
    /* Become uid 0 of the namespace now: an execve by an unmapped uid would leave
     * jobcell-init with no capability at all in its namespace. */
    if (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0)
        goto fail;
    /* If the engine dies, pid 1 dies and the kernel empties the namespace: no sandbox
     * outlives its supervisor (timeouts are enforced by the parent). Set after the uid
     * change, which clears it; the exec keeps it. The parent may have died just before:
     * its end of the control socket is then closed. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        goto fail;
    struct pollfd hup = {.fd = control_fd, .events = 0};
    if (poll(&hup, 1, 0) < 0 || (hup.revents & (POLLHUP | POLLERR)))
        _exit(126);
    if (dup2(stdin_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0 ||
        dup2(control_fd, JC_INIT_FD_CONTROL) < 0 || dup2(errpipe_fd, JC_INIT_FD_ERRPIPE) < 0)
        goto fail;
    char *const argv[] = {"jobcell-init", NULL};
    char *const envp[] = {NULL};
    syscall(SYS_execveat, init_fd, "", argv, envp, AT_EMPTY_PATH);
fail:;
    jc_setup_failure f;
    memset(&f, 0, sizeof(f));
    memcpy(f.step, msg_go, sizeof(msg_go));
    f.sys_errno = errno;
    static const char what[] = "start jobcell-init";
    memcpy(f.detail, what, sizeof(what));
    int fd = errpipe_fd;
    if (fcntl(JC_INIT_FD_ERRPIPE, F_GETFD) >= 0)
        fd = JC_INIT_FD_ERRPIPE;
    (void)!write(fd, &f, sizeof(f));
    _exit(127);
}

static int send_all_packets(int fd, const char *buf, size_t len, jc_err *err) {
    jc_spec_header h = {.magic = JC_PROTO_MAGIC, .version = JC_PROTO_VERSION, .length = len};
    if (send(fd, &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h))
        return jc_err_sys(err, errno, "spec: send the header");
    for (size_t off = 0; off < len;) {
        size_t chunk = len - off < JC_PROTO_CHUNK ? len - off : JC_PROTO_CHUNK;
        ssize_t n = send(fd, buf + off, chunk, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return jc_err_sys(err, errno, "spec: send");
        if ((size_t)n != chunk)
            return jc_err_set(err, JC_E_SYS, "spec: short packet");
        off += chunk;
    }
    return 0;
}

/* Undo a half-made sandbox: kill the child (if any), reap it, remove the cgroups. */
static void abandon(jc_sandbox *sb) {
    jc_sandbox_free(sb);
}

int jc_sandbox_start(jc_sandbox_engine *engine, const jc_sandbox_spec *spec, jc_sandbox **out,
                     jc_err *err) {
    *out = NULL;
    if (jc_sandbox_spec_validate(spec, err) < 0)
        return -1;
    if (spec->slot >= engine->slots)
        return jc_err_field(err, JC_E_INVALID, "slot", "slot %u: the engine has %u", spec->slot,
                            engine->slots);
    if (spec->filter &&
        (spec->filter->len == 0 || spec->filter->len > 4096 || !spec->filter->insns))
        return jc_err_field(err, JC_E_INVALID, "filter",
                            "the seccomp filter is empty or "
                            "longer than 4096 instructions");
    if (spec->egress && jc_sandbox_bench_share_net)
        return jc_err_field(err, JC_E_INVALID, "network",
                            "an egress network needs the job's own network namespace");
    if (spec->n_egress_allow && !spec->egress_allow)
        return jc_err_field(err, JC_E_INVALID, "egress.allow", "allow-list missing");
    if (spec->seccomp_listener && !spec->filter)
        return jc_err_field(err, JC_E_INVALID, "seccomp_listener",
                            "a seccomp listener needs a filter");

    jc_sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return jc_err_set(err, JC_E_INTERNAL, "out of memory");
    sb->state = JC_SANDBOX_STARTING;
    sb->pid = -1;
    sb->pidfd = sb->control_fd = sb->errpipe_fd = sb->runtime_fd = sb->seccomp_fd = -1;
    sb->out[0].fd = sb->out[1].fd = -1;
    sb->kill_at_ms = INT64_MAX;
    jc_sandbox_limits_effective(&spec->limits, &sb->limits);
    sb->cap_bytes = sb->limits.output_mb * 1024 * 1024;
    sb->t_start_ns = jc_time_mono_ns();
    sb->start_mono_ms = sb->t_start_ns / 1000000;
    sb->deadline_ms = sb->start_mono_ms + sb->limits.timeout_s * 1000;
    for (size_t i = 0; i < sizeof(sb->timings) / sizeof(int64_t); i++)
        ((int64_t *)&sb->timings)[i] = -1;

    /* 1. cgroups, every limit set before any process exists in them */
    jc_cgroup_limits cl = {.memory_bytes = sb->limits.memory_mb * 1024 * 1024,
                           .pids = sb->limits.pids,
                           .cpu = sb->limits.cpu};
    int64_t t = jc_time_mono_ns();
    sb->cg = jc_cgroup_create(spec->cgroup_root ? spec->cgroup_root : JC_DEFAULT_CGROUP_ROOT,
                              spec->cgroup_parent, spec->exe_id, &cl, err);
    if (!sb->cg) {
        abandon(sb);
        return step_fail(err, "cgroup");
    }
    sb->timings.cgroup_us = since_us(t);

    /* 1b. egress: lease and policy now, before the clone (see jc_egress_net_prepare) */
    if (spec->egress) {
        t = jc_time_mono_ns();
        sb->net = jc_egress_net_prepare(spec->egress, spec->exe_id, spec->egress_allow,
                                        spec->n_egress_allow, err);
        if (!sb->net) {
            abandon(sb);
            return step_fail(err, "network");
        }
        snprintf(sb->net_address, sizeof(sb->net_address), "%s", jc_egress_net_job_addr(sb->net));
        sb->timings.egress_us = since_us(t);
    }

    /* 2. error pipe, control socket, output pipes: CLOEXEC, non-blocking on our side */
    _cleanup_close_ int errpipe_w = -1, ctl_child = -1, out_w = -1, err_w = -1, stdin_fd = -1;
    _cleanup_free_ char *wire = NULL;
    int p[2], sv[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        jc_err_sys(err, errno, "pipes: error pipe");
        goto fail_pipes;
    }
    sb->errpipe_fd = p[0];
    errpipe_w = p[1];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        jc_err_sys(err, errno, "pipes: control socket");
        goto fail_pipes;
    }
    sb->control_fd = sv[0];
    ctl_child = sv[1];
    for (int i = 0; i < 2; i++) {
        if (pipe2(p, O_CLOEXEC) < 0) {
            jc_err_sys(err, errno, "pipes: output pipe");
            goto fail_pipes;
        }
        sb->out[i].fd = p[0];
        if (i == 0)
            out_w = p[1];
        else
            err_w = p[1];
    }
    if (spec->stdin_fd >= 0)
        stdin_fd = fcntl(spec->stdin_fd, F_DUPFD_CLOEXEC, CHILD_FD_FLOOR);
    else
        stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (stdin_fd < 0) {
        jc_err_sys(err, errno, "pipes: stdin");
        goto fail_pipes;
    }
    if (set_nonblock(sb->errpipe_fd, err) < 0 || set_nonblock(sb->out[0].fd, err) < 0 ||
        set_nonblock(sb->out[1].fd, err) < 0 || lift_fd(&errpipe_w, err) < 0 ||
        lift_fd(&ctl_child, err) < 0 || lift_fd(&out_w, err) < 0 || lift_fd(&err_w, err) < 0 ||
        lift_fd(&stdin_fd, err) < 0)
        goto fail_pipes;
    /* The spec goes out blocking (jc-init reads it as it comes), but never forever. */
    struct timeval tv = {.tv_sec = 10};
    if (setsockopt(sb->control_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
        jc_err_sys(err, errno, "pipes: SO_SNDTIMEO");
        goto fail_pipes;
    }

    /* 3. clone3 into fresh namespaces; the cgroup namespace comes later, from jc-init,
     * once it sits in its cgroups (a namespace's root is fixed when it is made). */
    int pidfd = -1;
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                 CLONE_NEWUTS | CLONE_PIDFD;
    if (jc_sandbox_bench_share_net && !spec->runtime_socket)
        args.flags &= ~(uint64_t)CLONE_NEWNET;
    args.pidfd = (uint64_t)(uintptr_t)&pidfd;
    args.exit_signal = SIGCHLD;
    int v2fd = jc_cgroup_v2_fd(sb->cg);
    if (v2fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)v2fd;
    }
    t = jc_time_mono_ns();
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
    if (pid == 0)
        clone_child(engine->init_fd, stdin_fd, out_w, err_w, ctl_child, errpipe_w);
    if (pid < 0) {
        jc_err_sys(err, errno, "clone: clone3 with new namespaces");
        abandon(sb);
        return step_fail(err, "clone");
    }
    sb->timings.clone_us = since_us(t);
    sb->pid = pid;
    sb->pidfd = pidfd;

    /* The child holds its own copies now. */
    close(steal_fd(&errpipe_w));
    close(steal_fd(&ctl_child));
    close(steal_fd(&out_w));
    close(steal_fd(&err_w));
    close(steal_fd(&stdin_fd));

    /* On v1 and hybrid hosts the parent places the child; it is blocked until GO, so it
     * has run nothing the cgroups would not account for. */
    t = jc_time_mono_ns();
    if (v2fd < 0 && jc_cgroup_add_pid(sb->cg, pid, err) < 0) {
        abandon(sb);
        return step_fail(err, "cgroup");
    }

    /* 4. maps: 0–65535 inside onto this slot's range; host root is never mapped. The
     * child cannot exit before GO, and we have not reaped it: its pid is still its own. */
    char map[64];
    uint64_t base = (uint64_t)engine->uid_base + (uint64_t)spec->slot * JC_RANGE_SIZE;
    snprintf(map, sizeof(map), "0 %llu %u\n", (unsigned long long)base, JC_RANGE_SIZE);
    if (write_proc(pid, "setgroups", "allow", err) < 0 ||
        write_proc(pid, "uid_map", map, err) < 0 || write_proc(pid, "gid_map", map, err) < 0) {
        abandon(sb);
        return step_fail(err, "maps");
    }
    sb->timings.maps_us = since_us(t);

    /* 4b. egress: the job's link, addresses and route exist before it runs anything */
    const char *resolv = NULL;
    if (sb->net) {
        t = jc_time_mono_ns();
        if (jc_egress_net_attach(sb->net, pid, err) < 0) {
            abandon(sb);
            return step_fail(err, "network");
        }
        resolv = jc_egress_net_resolv_conf(sb->net);
        sb->timings.egress_us += since_us(t);
    }

    /* 5. go-ahead, then the spec */
    t = jc_time_mono_ns();
    char go = JC_PROTO_GO;
    sb->t_go_ns = t;
    size_t len = 0;
    wire = jc_wire_spec(engine, spec, &sb->limits, resolv, &len, err);
    if (!wire) {
        abandon(sb);
        return step_fail(err, "spec");
    }
    if (send(sb->control_fd, &go, 1, MSG_NOSIGNAL) != 1) {
        jc_err_sys(err, errno, "spec: send the go-ahead");
        abandon(sb);
        return step_fail(err, "spec");
    }
    if (send_all_packets(sb->control_fd, wire, len, err) < 0) {
        /* jc-init may have failed a step and closed the socket: that is a setup error
         * for the supervisor to read, not an engine failure. */
        if (err && err->code == JC_E_SYS &&
            (err->sys_errno == EPIPE || err->sys_errno == ECONNRESET)) {
            jc_err_clear(err);
        } else {
            abandon(sb);
            return step_fail(err, "spec");
        }
    }
    if (set_nonblock(sb->control_fd, err) < 0) {
        abandon(sb);
        return step_fail(err, "spec");
    }
    sb->timings.spec_us = since_us(t);
    *out = sb;
    return 0;

fail_pipes:
    abandon(sb);
    return step_fail(err, "pipes");
}
