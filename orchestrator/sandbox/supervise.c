/* supervise.c: a started sandbox until its result — setup outcome, output capture with
 * the cap, the wall timeout and cancel (SIGTERM through jc-init, SIGKILL of everything
 * after the grace), and the result once jc-init is gone. jc_sandbox_run is the same loop
 * on poll(2). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"

#define DRAIN_CHUNK 65536
#define DRAIN_ROUNDS 16 /* per stream and call: a chatty job must not starve the loop */
#define FINISH_WAIT_MS 2000

static int pidfd_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static void close_fd(int *fd) {
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

int jc_sandbox_pidfd(const jc_sandbox *sb) {
    return sb->pidfd;
}
int jc_sandbox_setup_fd(const jc_sandbox *sb) {
    return sb->errpipe_fd;
}
int jc_sandbox_stdout_fd(const jc_sandbox *sb) {
    return sb->out[0].fd;
}
int jc_sandbox_stderr_fd(const jc_sandbox *sb) {
    return sb->out[1].fd;
}
int jc_sandbox_runtime_fd(const jc_sandbox *sb) {
    return sb->state == JC_SANDBOX_RUNNING ? sb->runtime_fd : -1;
}
int jc_sandbox_seccomp_fd(const jc_sandbox *sb) {
    return sb->state == JC_SANDBOX_RUNNING ? sb->seccomp_fd : -1;
}
int jc_sandbox_take_seccomp_fd(jc_sandbox *sb) {
    int fd = sb->seccomp_fd;
    sb->seccomp_fd = -1;
    return fd;
}
pid_t jc_sandbox_pid(const jc_sandbox *sb) {
    return sb->pid;
}
jc_sandbox_state jc_sandbox_state_get(const jc_sandbox *sb) {
    return sb->state;
}
const jc_sandbox_timings *jc_sandbox_timings_get(const jc_sandbox *sb) {
    return &sb->timings;
}

/* Messages from jc-init and the job child. Only fds of the expected kind are kept. */
int jc_sandbox_read_control(jc_sandbox *sb, jc_err *err) {
    while (sb->control_fd >= 0) {
        jc_msg m;
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = control.buf,
                            .msg_controllen = sizeof(control.buf)};
        ssize_t n = recvmsg(sb->control_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n == 0 || (n < 0 && errno == ECONNRESET)) { /* jc-init is gone */
            close_fd(&sb->control_fd);
            return 0;
        }
        if (n < 0)
            return jc_err_sys(err, errno, "read the control socket");
        int fd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                c->cmsg_len == CMSG_LEN(sizeof(int)))
                memcpy(&fd, CMSG_DATA(c), sizeof(int));
        if ((size_t)n != sizeof(m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
            close_fd(&fd);
            continue; /* not ours: ignore, never trust it */
        }
        switch (m.type) {
        case JC_MSG_INIT_TIMES:
            sb->timings.init_exec_us = (m.t[0] - sb->t_go_ns) / 1000;
            sb->timings.mounts_us = (m.t[1] - m.t[0]) / 1000;
            sb->timings.network_us = (m.t[2] - m.t[1]) / 1000;
            break;
        case JC_MSG_CHILD_TIMES:
            sb->child_started = true;
            sb->timings.child_us = (m.t[1] - m.t[0]) / 1000;
            sb->timings.exec_us = m.t[1]; /* converted when the error pipe closes */
            break;
        case JC_MSG_RUNTIME_FD:
            if (sb->runtime_fd < 0 && fd >= 0)
                sb->runtime_fd = steal_fd(&fd);
            break;
        case JC_MSG_SECCOMP_FD:
            if (sb->seccomp_fd < 0 && fd >= 0)
                sb->seccomp_fd = steal_fd(&fd);
            break;
        case JC_MSG_STATUS:
            sb->have_status = true;
            sb->status = m.status;
            break;
        default: break;
        }
        close_fd(&fd);
    }
    return 0;
}

static void setup_failed(jc_sandbox *sb, const char *step, int sys_errno, const char *detail) {
    sb->have_setup_failure = true;
    memset(&sb->failure, 0, sizeof(sb->failure));
    snprintf(sb->failure.step, sizeof(sb->failure.step), "%s", step);
    sb->failure.sys_errno = sys_errno;
    snprintf(sb->failure.detail, sizeof(sb->failure.detail), "%s", detail);
}

int jc_sandbox_setup_poll(jc_sandbox *sb, jc_err *err) {
    if (sb->state != JC_SANDBOX_STARTING || sb->errpipe_fd < 0)
        return 0;
    jc_setup_failure f;
    ssize_t n = read(sb->errpipe_fd, &f, sizeof(f));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        return jc_err_sys(err, errno, "read the error pipe");
    close_fd(&sb->errpipe_fd);
    if (jc_sandbox_read_control(sb, err) < 0)
        return -1;
    if (n == (ssize_t)sizeof(f)) {
        f.step[sizeof(f.step) - 1] = '\0';
        f.detail[sizeof(f.detail) - 1] = '\0';
        sb->have_setup_failure = true;
        sb->failure = f;
    } else if (n > 0) {
        setup_failed(sb, "wait-parent", EPROTO, "a malformed report on the error pipe");
    } else if (!sb->child_started && sb->killed) {
        /* we ended it during setup (timeout, cancel): the result says why, not setup_error */
        sb->state = JC_SANDBOX_EXITED;
        return 0;
    } else if (!sb->child_started) {
        /* EOF without the job child's report: jc-init died during setup */
        setup_failed(sb, sb->timings.mounts_us >= 0 ? "fork" : "wait-parent", 0,
                     "the sandbox's init process ended before the job started");
    }
    if (sb->have_setup_failure) {
        /* nothing will run: end it now instead of waiting for jc-init to notice */
        sb->state = JC_SANDBOX_EXITED;
        pidfd_signal(sb->pidfd, SIGKILL);
        sb->killed = true;
        return 0;
    }
    int64_t now = jc_time_mono_ns();
    if (sb->timings.exec_us > 0)
        sb->timings.exec_us = (now - sb->timings.exec_us) / 1000;
    sb->timings.total_us = (now - sb->t_start_ns) / 1000;
    sb->state = JC_SANDBOX_RUNNING;
    return 0;
}

int jc_sandbox_drain(jc_sandbox *sb, jc_sandbox_output_fn fn, void *userdata, jc_err *err) {
    static char buf[DRAIN_CHUNK];
    for (int i = 0; i < 2; i++) {
        jc_output_stream *s = &sb->out[i];
        for (int round = 0; s->fd >= 0 && round < DRAIN_ROUNDS; round++) {
            ssize_t n = read(s->fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n < 0)
                return jc_err_sys(err, errno, "read the job's %s", i ? "stderr" : "stdout");
            if (n == 0) {
                close_fd(&s->fd);
                break;
            }
            s->bytes += n;
            /* past the cap the bytes are counted and dropped: the job is never blocked */
            int64_t room = sb->cap_bytes - sb->captured;
            size_t keep = room <= 0 ? 0 : (size_t)(n < room ? n : room);
            if ((size_t)n > keep)
                sb->truncated = true;
            if (keep > 0) {
                sb->captured += (int64_t)keep;
                if (fn)
                    fn(userdata, i + 1, buf, keep);
            }
        }
    }
    return 0;
}

static int kill_everything(jc_sandbox *sb, jc_err *err) {
    sb->killed = true;
    sb->kill_at_ms = INT64_MAX;
    int rc = 0;
    if (sb->cg && jc_cgroup_kill_all(sb->cg, err) < 0)
        rc = -1;
    /* pid 1's death takes the whole pid namespace with it */
    if (!sb->reaped && pidfd_signal(sb->pidfd, SIGKILL) < 0 && errno != ESRCH && rc == 0)
        rc = jc_err_sys(err, errno, "SIGKILL the sandbox");
    return rc;
}

/* SIGTERM to jc-init, which forwards it to the job's process group; SIGKILL later. */
static int begin_stop(jc_sandbox *sb, int64_t now_ms, jc_err *err) {
    if (sb->kill_at_ms != INT64_MAX || sb->killed || sb->reaped)
        return 0;
    if (sb->state == JC_SANDBOX_STARTING || sb->limits.kill_grace_s == 0)
        return kill_everything(sb, err);
    if (pidfd_signal(sb->pidfd, SIGTERM) < 0 && errno != ESRCH)
        return jc_err_sys(err, errno, "SIGTERM the sandbox");
    sb->kill_at_ms = now_ms + sb->limits.kill_grace_s * 1000;
    return 0;
}

int jc_sandbox_cancel(jc_sandbox *sb, jc_err *err) {
    if (sb->canceled || sb->state == JC_SANDBOX_FINISHED)
        return 0;
    sb->canceled = true;
    return begin_stop(sb, jc_time_mono_ms(), err);
}

int jc_sandbox_tick(jc_sandbox *sb, int64_t now_ms, jc_err *err) {
    if (sb->state == JC_SANDBOX_FINISHED || sb->reaped)
        return 0;
    if (!sb->timed_out && !sb->canceled && now_ms >= sb->deadline_ms) {
        sb->timed_out = true;
        if (begin_stop(sb, now_ms, err) < 0)
            return -1;
    }
    if (!sb->killed && now_ms >= sb->kill_at_ms)
        return kill_everything(sb, err);
    return 0;
}

int64_t jc_sandbox_next_deadline_ms(const jc_sandbox *sb) {
    if (sb->state == JC_SANDBOX_FINISHED || sb->reaped)
        return INT64_MAX;
    int64_t next = INT64_MAX;
    if (!sb->timed_out && !sb->canceled)
        next = sb->deadline_ms;
    if (!sb->killed && sb->kill_at_ms < next)
        next = sb->kill_at_ms;
    return next;
}

static void reap(jc_sandbox *sb, siginfo_t *info) {
    memset(info, 0, sizeof(*info));
    if (sb->reaped || sb->pidfd < 0)
        return;
    while (waitid((idtype_t)P_PIDFD, (id_t)sb->pidfd, info, WEXITED) < 0 && errno == EINTR)
        ;
    sb->reaped = true;
    sb->end_mono_ms = jc_time_mono_ms();
}

/* After jc-init is gone: wait (bounded) for the last writers of the pipes to die. */
static int drain_to_eof(jc_sandbox *sb, jc_sandbox_output_fn fn, void *ud, jc_err *err) {
    int64_t until = jc_time_mono_ms() + FINISH_WAIT_MS;
    bool killed_rest = false;
    while (sb->out[0].fd >= 0 || sb->out[1].fd >= 0) {
        if (jc_sandbox_drain(sb, fn, ud, err) < 0)
            return -1;
        int64_t left = until - jc_time_mono_ms();
        if (left <= 0)
            break;
        if (!killed_rest && left < FINISH_WAIT_MS / 2 && sb->cg) {
            jc_err ignored;
            jc_cgroup_kill_all(sb->cg, &ignored);
            killed_rest = true;
        }
        struct pollfd pfd[2] = {{.fd = sb->out[0].fd, .events = POLLIN},
                                {.fd = sb->out[1].fd, .events = POLLIN}};
        poll(pfd, 2, (int)(left < 100 ? left : 100));
    }
    close_fd(&sb->out[0].fd);
    close_fd(&sb->out[1].fd);
    return 0;
}

static void fill_result(jc_sandbox *sb, const siginfo_t *info, const jc_cgroup_stats *st,
                        jc_result *r) {
    memset(r, 0, sizeof(*r));
    r->wall_ms = sb->end_mono_ms - sb->start_mono_ms;
    r->cpu_ms = st->cpu_usec / 1000;
    r->memory_peak_bytes = st->memory_peak_bytes;
    r->stdout_bytes = sb->out[0].bytes;
    r->stderr_bytes = sb->out[1].bytes;
    r->output_truncated = sb->truncated;
    if (sb->have_setup_failure) {
        const jc_setup_failure *f = &sb->failure;
        char msg[sizeof(r->setup_error.message)];
        if (f->sys_errno)
            snprintf(msg, sizeof(msg), "%s: %s: %s", f->step, f->detail, strerror(f->sys_errno));
        else
            snprintf(msg, sizeof(msg), "%s: %s", f->step, f->detail);
        jc_result_set_setup_error(r, f->step, f->sys_errno, msg);
        return;
    }
    if (sb->have_status) {
        if (WIFEXITED(sb->status)) {
            r->has_exit_code = true;
            r->exit_code = WEXITSTATUS(sb->status);
        } else if (WIFSIGNALED(sb->status)) {
            r->signal = WTERMSIG(sb->status);
        }
    } else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED) {
        r->signal = info->si_status; /* the job died with jc-init */
    } else {
        r->has_exit_code = true;
        r->exit_code = info->si_status;
    }
    bool exited_ok = r->has_exit_code && r->exit_code == 0;
    if (sb->canceled)
        r->reason = JC_REASON_CANCELED;
    else if (st->oom)
        r->reason = JC_REASON_OOM;
    else if (st->pids_max_hit && !exited_ok)
        r->reason = JC_REASON_PIDS;
    else if (sb->timed_out)
        r->reason = JC_REASON_TIMEOUT;
    else if (r->signal)
        r->reason = JC_REASON_SIGNALED;
    else
        r->reason = JC_REASON_EXITED;
}

int jc_sandbox_finish(jc_sandbox *sb, jc_sandbox_output_fn fn, void *userdata, jc_result *out,
                      jc_err *err) {
    int64_t t0 = jc_time_mono_ns();
    siginfo_t info;
    reap(sb, &info);
    if (sb->state == JC_SANDBOX_STARTING) {
        /* jc-init is gone, so is every holder of the error pipe: it reads at once */
        if (jc_sandbox_setup_poll(sb, err) < 0)
            return -1;
        if (sb->state == JC_SANDBOX_STARTING && !sb->killed)
            setup_failed(sb, "wait-parent", 0, "the sandbox's init process ended during setup");
    }
    sb->state = JC_SANDBOX_EXITED;
    if (jc_sandbox_read_control(sb, err) < 0 || drain_to_eof(sb, fn, userdata, err) < 0)
        return -1;
    jc_cgroup_stats st = {0};
    int rc = 0;
    if (sb->cg && jc_cgroup_read_stats(sb->cg, &st, err) < 0)
        rc = -1;
    fill_result(sb, &info, &st, out);
    jc_err derr;
    if (sb->net) {
        /* jc-init is reaped: no process of the job is left to send a packet */
        out->has_network = true;
        snprintf(out->network_address, sizeof(out->network_address), "%s", sb->net_address);
        if (jc_egress_net_teardown(sb->net, &out->network_denied, &derr) < 0 && rc == 0) {
            rc = -1;
            if (err)
                *err = derr;
        }
        sb->net = NULL;
    }
    if (sb->cg && jc_cgroup_destroy(sb->cg, &derr) < 0 && rc == 0) {
        rc = -1;
        if (err)
            *err = derr;
    }
    sb->cg = NULL;
    sb->state = JC_SANDBOX_FINISHED;
    sb->timings.finish_us = (jc_time_mono_ns() - t0) / 1000;
    return rc;
}

void jc_sandbox_free(jc_sandbox *sb) {
    if (!sb)
        return;
    if (sb->pidfd >= 0 && !sb->reaped) {
        jc_err ignored;
        kill_everything(sb, &ignored);
        siginfo_t info;
        reap(sb, &info);
    }
    if (sb->cg) {
        jc_err ignored;
        jc_cgroup_destroy(sb->cg, &ignored);
    }
    if (sb->net) {
        jc_err ignored;
        jc_egress_net_teardown(sb->net, NULL, &ignored);
        sb->net = NULL;
    }
    close_fd(&sb->pidfd);
    close_fd(&sb->control_fd);
    close_fd(&sb->errpipe_fd);
    close_fd(&sb->out[0].fd);
    close_fd(&sb->out[1].fd);
    close_fd(&sb->runtime_fd);
    close_fd(&sb->seccomp_fd);
    free(sb);
}

int jc_sandbox_run(jc_sandbox_engine *engine, const jc_sandbox_spec *spec,
                   const jc_sandbox_hooks *hooks, jc_result *out, jc_sandbox_timings *timings,
                   jc_err *err) {
    jc_sandbox_hooks none = {0};
    if (!hooks)
        hooks = &none;
    jc_sandbox *sb = NULL;
    if (jc_sandbox_start(engine, spec, &sb, err) < 0) {
        if (!err || !err->field[0] || err->code == JC_E_INVALID)
            return -1;
        /* a parent-side setup step failed: that is the job's result */
        memset(out, 0, sizeof(*out));
        jc_result_set_setup_error(out, err->field, err->sys_errno, err->msg);
        jc_err_clear(err);
        return 0;
    }
    int rc = 0;
    for (;;) {
        struct pollfd fds[64];
        size_t n = 0;
        fds[n++] = (struct pollfd){.fd = sb->pidfd, .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = sb->errpipe_fd, .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = sb->out[0].fd, .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = sb->out[1].fd, .events = POLLIN};
        size_t base = n;
        if (hooks->add_fds)
            n += hooks->add_fds(hooks->userdata, sb, fds + n, JC_ARRAY_LEN(fds) - n);
        int64_t now = jc_time_mono_ms();
        int64_t next = jc_sandbox_next_deadline_ms(sb);
        int timeout = next == INT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
        if (poll(fds, n, timeout) < 0 && errno != EINTR) {
            rc = jc_err_sys(err, errno, "poll");
            break;
        }
        if (jc_sandbox_tick(sb, jc_time_mono_ms(), err) < 0) {
            rc = -1;
            break;
        }
        if (fds[1].revents && jc_sandbox_setup_poll(sb, err) < 0) {
            rc = -1;
            break;
        }
        if ((fds[2].revents || fds[3].revents) &&
            jc_sandbox_drain(sb, hooks->output, hooks->userdata, err) < 0) {
            rc = -1;
            break;
        }
        if (hooks->ready && n > base)
            hooks->ready(hooks->userdata, sb, fds + base, n - base);
        if (fds[0].revents) {
            rc = jc_sandbox_finish(sb, hooks->output, hooks->userdata, out, err);
            break;
        }
    }
    if (timings)
        *timings = sb->timings;
    jc_sandbox_free(sb);
    return rc;
}
