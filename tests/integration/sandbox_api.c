/* Integration test of the sandbox engine's library API with real sandboxes (root):
 * a hand-built seccomp filter is loaded and enforced, files reach /workspace with the
 * job's ownership, the non-blocking API drives a cancel, the learn-mode listener reaches
 * the caller, and a parent-side failure is a setup_error result. Exit 77 when not root. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jobcell/io.h"
#include "jobcell/sandbox.h"

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

typedef struct capture {
    char buf[8192];
    size_t len;
} capture;

static void on_output(void *ud, int stream, const char *buf, size_t len) {
    (void)stream;
    capture *c = ud;
    size_t room = sizeof(c->buf) - 1 - c->len;
    if (len > room)
        len = room;
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    c->buf[c->len] = '\0';
}

/* Allow everything except mkdir/mkdirat (EPERM) and, with notify_nr >= 0, send that
 * system call to the listener. x86-64 only: other architectures are killed. */
static struct sock_filter insns[16];
static jc_seccomp_filter make_filter(int notify_nr) {
    size_t n = 0;
    insns[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    insns[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    insns[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    insns[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    insns[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdir, 2, 0);
    insns[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdirat, 1, 0);
    insns[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0);
    insns[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    if (notify_nr >= 0) {
        insns[n++] =
            (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)notify_nr, 0, 1);
        insns[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    }
    insns[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    return (jc_seccomp_filter){.len = n, .insns = insns};
}

/* A cgroup parent of our own: a daemon starting meanwhile reconciles every jobcell/ID
 * group under its own parent, which is also ours by default. */
static char parent[64];
static uint32_t api_slot;
static const char *const hierarchies[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};

static void parent_dirs(bool create) {
    char path[256];
    for (size_t i = 0; i < sizeof(hierarchies) / sizeof(hierarchies[0]); i++) {
        if (create) {
            snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s", hierarchies[i], parent);
            mkdir(path, 0755);
        } else {
            snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s/jobcell", hierarchies[i], parent);
            rmdir(path);
            snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s", hierarchies[i], parent);
            rmdir(path);
        }
    }
}

static void base_spec(jc_sandbox_spec *s, const char *const *argv) {
    jc_sandbox_spec_init(s);
    s->cgroup_parent = parent;
    s->exe_id = "exe_apitest234567abcdef";
    s->argv = argv;
    s->slot = api_slot; /* a range of our own: other sandboxes may run meanwhile */
    s->limits.timeout_s = 30;
}

static void test_filter_loaded(jc_sandbox_engine *e) {
    static const char *const argv[] = {
        "/bin/sh", "-c", "grep '^Seccomp:' /proc/self/status; mkdir /tmp/d 2>/dev/null; echo $?",
        NULL};
    jc_seccomp_filter f = make_filter(-1);
    jc_sandbox_spec s;
    base_spec(&s, argv);
    s.filter = &f;
    capture c = {0};
    jc_sandbox_hooks h = {.output = on_output, .userdata = &c};
    jc_result r;
    jc_err err = {0};
    CHECK(jc_sandbox_run(e, &s, &h, &r, NULL, &err) == 0, "%s", err.msg);
    CHECK(r.reason == JC_REASON_EXITED && r.exit_code == 0, "reason %s", jc_reason_name(r.reason));
    CHECK(!strcmp(c.buf, "Seccomp:\t2\n1\n"), "output '%s'", c.buf);
}

static void test_files(jc_sandbox_engine *e) {
    static const char script[] = "#!/bin/sh\necho from-file\nstat -c %u:%g:%a job.sh data.txt\n"
                                 "cat data.txt\n";
    jc_sandbox_file files[] = {
        {.name = "job.sh", .data = script, .len = sizeof(script) - 1, .mode = 0755},
        {.name = "data.txt", .data = "DATA", .len = 4, .mode = 0600}};
    static const char *const argv[] = {"./job.sh", NULL};
    jc_sandbox_spec s;
    base_spec(&s, argv);
    s.files = files;
    s.n_files = 2;
    capture c = {0};
    jc_sandbox_hooks h = {.output = on_output, .userdata = &c};
    jc_result r;
    jc_err err = {0};
    CHECK(jc_sandbox_run(e, &s, &h, &r, NULL, &err) == 0, "%s", err.msg);
    CHECK(r.reason == JC_REASON_EXITED && r.exit_code == 0, "reason %s code %d",
          jc_reason_name(r.reason), r.exit_code);
    CHECK(!strcmp(c.buf, "from-file\n1000:1000:755\n1000:1000:600\nDATA"), "output '%s'", c.buf);
}

/* The event-loop API: start, wait for RUNNING, cancel, finish. */
static void test_cancel(jc_sandbox_engine *e) {
    static const char *const argv[] = {"/bin/sleep", "100", NULL};
    jc_sandbox_spec s;
    base_spec(&s, argv);
    jc_sandbox *sb = NULL;
    jc_err err = {0};
    CHECK(jc_sandbox_start(e, &s, &sb, &err) == 0, "%s", err.msg);
    if (!sb)
        return;
    CHECK(jc_sandbox_state_get(sb) == JC_SANDBOX_STARTING, "state %d", jc_sandbox_state_get(sb));
    CHECK(jc_sandbox_pidfd(sb) >= 0 && jc_sandbox_stdout_fd(sb) >= 0 &&
              jc_sandbox_setup_fd(sb) >= 0,
          "fds");
    int64_t t0 = jc_time_mono_ms();
    for (int i = 0; i < 100 && jc_sandbox_state_get(sb) == JC_SANDBOX_STARTING; i++) {
        struct pollfd p = {.fd = jc_sandbox_setup_fd(sb), .events = POLLIN};
        poll(&p, 1, 100);
        CHECK(jc_sandbox_setup_poll(sb, &err) == 0, "%s", err.msg);
    }
    CHECK(jc_sandbox_state_get(sb) == JC_SANDBOX_RUNNING, "state %d", jc_sandbox_state_get(sb));
    CHECK(jc_sandbox_setup_fd(sb) == -1, "setup fd closed");
    const jc_sandbox_timings *t = jc_sandbox_timings_get(sb);
    CHECK(t->total_us > 0 && t->mounts_us > 0 && t->clone_us >= 0, "timings");
    CHECK(jc_sandbox_cancel(sb, &err) == 0, "%s", err.msg);
    struct pollfd p = {.fd = jc_sandbox_pidfd(sb), .events = POLLIN};
    for (int i = 0; i < 50 && poll(&p, 1, 100) == 0; i++)
        jc_sandbox_tick(sb, jc_time_mono_ms(), &err);
    jc_result r;
    CHECK(jc_sandbox_finish(sb, NULL, NULL, &r, &err) == 0, "%s", err.msg);
    CHECK(r.reason == JC_REASON_CANCELED, "reason %s", jc_reason_name(r.reason));
    CHECK(r.signal == SIGTERM, "signal %d (sleep dies of the forwarded SIGTERM)", r.signal);
    CHECK(jc_time_mono_ms() - t0 < 4000, "cancel took %lld ms",
          (long long)(jc_time_mono_ms() - t0));
    CHECK(jc_sandbox_state_get(sb) == JC_SANDBOX_FINISHED, "finished");
    jc_sandbox_free(sb);
}

/* Canceled before the job even started: "canceled", not a setup_error. */
static void test_cancel_during_setup(jc_sandbox_engine *e) {
    static const char *const argv[] = {"/bin/sleep", "100", NULL};
    jc_sandbox_spec s;
    base_spec(&s, argv);
    jc_sandbox *sb = NULL;
    jc_err err = {0};
    CHECK(jc_sandbox_start(e, &s, &sb, &err) == 0, "%s", err.msg);
    if (!sb)
        return;
    CHECK(jc_sandbox_cancel(sb, &err) == 0, "%s", err.msg);
    struct pollfd p = {.fd = jc_sandbox_pidfd(sb), .events = POLLIN};
    CHECK(poll(&p, 1, 5000) == 1, "jc-init gone");
    jc_result r;
    CHECK(jc_sandbox_finish(sb, NULL, NULL, &r, &err) == 0, "%s", err.msg);
    CHECK(r.reason == JC_REASON_CANCELED, "reason %s (%s)", jc_reason_name(r.reason),
          r.setup_error.message);
    CHECK(r.signal == SIGKILL, "signal %d", r.signal);
    jc_sandbox_free(sb);
}

/* Learn mode: the listener fd reaches us before the job runs; we see its uname(2). */
static void test_listener(jc_sandbox_engine *e) {
    static const char *const argv[] = {"/bin/uname", "-n", NULL};
    jc_seccomp_filter f = make_filter(__NR_uname);
    jc_sandbox_spec s;
    base_spec(&s, argv);
    s.filter = &f;
    s.seccomp_listener = true;
    jc_sandbox *sb = NULL;
    jc_err err = {0};
    CHECK(jc_sandbox_start(e, &s, &sb, &err) == 0, "%s", err.msg);
    if (!sb)
        return;
    for (int i = 0; i < 100 && jc_sandbox_state_get(sb) == JC_SANDBOX_STARTING; i++) {
        struct pollfd p = {.fd = jc_sandbox_setup_fd(sb), .events = POLLIN};
        poll(&p, 1, 100);
        jc_sandbox_setup_poll(sb, &err);
    }
    CHECK(jc_sandbox_state_get(sb) == JC_SANDBOX_RUNNING, "state %d", jc_sandbox_state_get(sb));
    int lfd = jc_sandbox_take_seccomp_fd(sb);
    CHECK(lfd >= 0, "listener fd");
    int seen_uname = 0;
    if (lfd >= 0) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 5000) == 1) {
            struct seccomp_notif req;
            memset(&req, 0, sizeof(req));
            if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
                seen_uname = req.data.nr == __NR_uname;
                struct seccomp_notif_resp resp = {.id = req.id,
                                                  .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
                CHECK(ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0, "NOTIF_SEND: %s",
                      strerror(errno));
            }
        }
        close(lfd);
    }
    CHECK(seen_uname, "the listener saw uname(2)");
    capture c = {0};
    struct pollfd p = {.fd = jc_sandbox_pidfd(sb), .events = POLLIN};
    for (int i = 0; i < 50 && poll(&p, 1, 100) == 0; i++)
        jc_sandbox_drain(sb, on_output, &c, &err);
    jc_result r;
    CHECK(jc_sandbox_finish(sb, on_output, &c, &r, &err) == 0, "%s", err.msg);
    CHECK(r.reason == JC_REASON_EXITED && r.exit_code == 0, "reason %s", jc_reason_name(r.reason));
    CHECK(!strncmp(c.buf, "jc-apitest2345", 14), "hostname '%s'", c.buf);
    jc_sandbox_free(sb);
}

static void test_parent_side_failure(jc_sandbox_engine *e) {
    static const char *const argv[] = {"/bin/true", NULL};
    jc_sandbox_spec s;
    base_spec(&s, argv);
    s.cgroup_parent = "/jobcell-test-no-such-parent/x";
    jc_result r;
    jc_err err = {0};
    CHECK(jc_sandbox_run(e, &s, NULL, &r, NULL, &err) == 0, "%s", err.msg);
    CHECK(r.reason == JC_REASON_SETUP_ERROR, "reason %s", jc_reason_name(r.reason));
    CHECK(!strcmp(r.setup_error.step, "cgroup"), "step %s", r.setup_error.step);
    CHECK(jc_result_exit_status(&r) == 125, "exit status");
    /* an invalid spec is an error, not a result */
    s.cgroup_parent = parent;
    s.limits.memory_mb = 1;
    CHECK(jc_sandbox_run(e, &s, NULL, &r, NULL, &err) == -1 && err.code == JC_E_INVALID,
          "invalid spec");
    s.limits.memory_mb = 0;
    s.slot = api_slot + 1;
    CHECK(jc_sandbox_run(e, &s, NULL, &r, NULL, &err) == -1 && !strcmp(err.field, "slot"),
          "slot beyond the engine's");
}

int main(void) {
    if (geteuid() != 0) {
        puts("skipped: needs root");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    jc_err err = {0};
    snprintf(parent, sizeof(parent), "/jc-apitest-%d", (int)getpid());
    parent_dirs(true);
    api_slot = 2000 + (uint32_t)getpid() % 900;
    jc_sandbox_engine_config cfg = {.slots = api_slot + 1};
    jc_sandbox_engine *e = jc_sandbox_engine_new(&cfg, &err);
    if (!e) {
        fprintf(stderr, "engine: %s\n", err.msg);
        return 1;
    }
    test_filter_loaded(e);
    test_files(e);
    test_cancel(e);
    test_cancel_during_setup(e);
    test_listener(e);
    test_parent_side_failure(e);
    jc_sandbox_engine_free(e);
    parent_dirs(false);
    printf("sandbox api: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
