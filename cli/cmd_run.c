/* cmd_run.c: `jobcell run` — one command in a sandbox, by hand.
 *
 * Exposes the sandbox engine as the daemon uses it, plus what only a person at a root
 * shell needs: --bind, --rootfs, a runtime-socket relay to a local server, --cleanup. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/random.h"
#include "jobcell/sandbox.h"
#include "jobcell/seccomp.h"
#include "run_options.h"

/* ---- the runtime relay: accept inside connections, connect to HOST:PORT, copy ---- */

#define RELAY_MAX 16
#define RELAY_BUF 16384

typedef struct relay_conn {
    int fd[2]; /* 0: the job's side, 1: the server's side */
    bool eof[2];
    char buf[2][RELAY_BUF]; /* buf[i]: read from fd[i], to write to fd[1-i] */
    size_t len[2];
} relay_conn;

typedef struct run_ctx {
    const jc_run_options *opt;
    struct addrinfo *target;
    relay_conn conns[RELAY_MAX];
    int listen_fd;
} run_ctx;

static void conn_close(relay_conn *c) {
    for (int i = 0; i < 2; i++)
        if (c->fd[i] >= 0) {
            close(c->fd[i]);
            c->fd[i] = -1;
        }
}

static int connect_target(const struct addrinfo *ai) {
    for (; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        /* connect is blocking but bounded: the loop also enforces the job's timeout */
        struct timeval tv = {.tv_sec = 2};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            int fl = fcntl(fd, F_GETFL);
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
            return fd;
        }
        close(fd);
    }
    return -1;
}

static void relay_accept(run_ctx *ctx) {
    int fd = accept4(ctx->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    relay_conn *slot = NULL;
    for (size_t i = 0; i < RELAY_MAX && !slot; i++)
        if (ctx->conns[i].fd[0] < 0)
            slot = &ctx->conns[i];
    int server = slot ? connect_target(ctx->target) : -1;
    if (server < 0) {
        close(fd); /* the job sees the connection reset, as with a server that is down */
        return;
    }
    memset(slot->eof, 0, sizeof(slot->eof));
    slot->len[0] = slot->len[1] = 0;
    slot->fd[0] = fd;
    slot->fd[1] = server;
}

static size_t relay_add_fds(void *ud, jc_sandbox *sb, struct pollfd *fds, size_t max) {
    run_ctx *ctx = ud;
    size_t n = 0;
    int lfd = jc_sandbox_runtime_fd(sb);
    if (lfd >= 0 && ctx->listen_fd < 0) {
        ctx->listen_fd = lfd;
        int fl = fcntl(lfd, F_GETFL);
        fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
    }
    if (ctx->listen_fd >= 0 && n < max)
        fds[n++] = (struct pollfd){.fd = ctx->listen_fd, .events = POLLIN};
    for (size_t i = 0; i < RELAY_MAX && n + 2 <= max; i++) {
        relay_conn *c = &ctx->conns[i];
        if (c->fd[0] < 0)
            continue;
        for (int s = 0; s < 2; s++) {
            short ev = 0;
            if (!c->eof[s] && c->len[s] < RELAY_BUF)
                ev |= POLLIN;
            if (c->len[1 - s] > 0)
                ev |= POLLOUT;
            fds[n++] = (struct pollfd){.fd = c->fd[s], .events = ev};
        }
    }
    return n;
}

static void relay_pump(relay_conn *c) {
    for (int s = 0; s < 2; s++) {
        if (!c->eof[s] && c->len[s] < RELAY_BUF) {
            ssize_t n = read(c->fd[s], c->buf[s] + c->len[s], RELAY_BUF - c->len[s]);
            if (n > 0)
                c->len[s] += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                c->eof[s] = true;
        }
        int to = 1 - s;
        if (c->len[s] > 0) {
            ssize_t n = send(c->fd[to], c->buf[s], c->len[s], MSG_NOSIGNAL);
            if (n > 0) {
                memmove(c->buf[s], c->buf[s] + n, c->len[s] - (size_t)n);
                c->len[s] -= (size_t)n;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                conn_close(c);
                return;
            }
        }
        if (c->eof[s] && c->len[s] == 0)
            shutdown(c->fd[to], SHUT_WR);
    }
    if (c->eof[0] && c->eof[1] && c->len[0] == 0 && c->len[1] == 0)
        conn_close(c);
}

static void relay_ready(void *ud, jc_sandbox *sb, const struct pollfd *fds, size_t n) {
    (void)sb;
    run_ctx *ctx = ud;
    size_t k = 0;
    if (ctx->listen_fd >= 0 && k < n && fds[k++].revents & POLLIN)
        relay_accept(ctx);
    for (size_t i = 0; i < RELAY_MAX && k + 2 <= n; i++) {
        relay_conn *c = &ctx->conns[i];
        if (c->fd[0] < 0 || fds[k].fd != c->fd[0])
            continue;
        bool ready = fds[k].revents || fds[k + 1].revents;
        k += 2;
        if (ready)
            relay_pump(c);
    }
}

/* Whether the job's stderr ended a line: the result record must start on its own. */
static bool stderr_at_line_start = true;

static void pass_output(void *ud, int stream, const char *buf, size_t len) {
    (void)ud;
    jc_err ignored;
    if (stream == 2 && len > 0)
        stderr_at_line_start = buf[len - 1] == '\n';
    /* a closed stdout of ours must not stop the job: drop what cannot be written */
    (void)jc_write_all(stream == 1 ? STDOUT_FILENO : STDERR_FILENO, buf, len, &ignored);
}

/* ---- the command ---------------------------------------------------------------- */

/* The host side of egress networks, from the admin options of `jobcell run`. */
static jc_egress *egress_new(const jc_run_options *o, bool with_dns, jc_err *err) {
    jc_egress_config ec = {.dns_mode = with_dns ? JC_EGRESS_DNS_THREAD : JC_EGRESS_DNS_NONE,
                           .pool = o->egress_pool,
                           .state_dir = o->egress_state_dir,
                           .allow_private = o->allow_private,
                           .n_allow_private = o->n_allow_private,
                           .deny_always = o->deny_always,
                           .n_deny_always = o->n_deny_always,
                           .resolvers = o->dns,
                           .n_resolvers = o->n_dns};
    return jc_egress_new(&ec, err);
}

static int load_profile(const char *profile, jc_seccomp_filter *filter, bool *have) {
    *have = false;
    if (profile && !strcmp(profile, "none"))
        return 0;
    jc_err err = {0};
    _cleanup_free_ char *dir = jc_seccomp_default_dir();
    _cleanup_free_ char *path = jc_seccomp_locate(dir, profile ? profile : "default", &err);
    if (!path || jc_seccomp_compile_file(path, filter, &err) < 0) {
        fprintf(stderr, "jobcell run: seccomp profile %s: %s\n", profile ? profile : "default",
                err.msg);
        return -1;
    }
    *have = true;
    return 0;
}

static void print_timings(const jc_sandbox_timings *t) {
    fprintf(stderr,
            "jobcell: start-up (us): cgroup %lld, clone %lld, maps %lld, spec %lld, "
            "init exec %lld, mounts %lld, network %lld, child %lld, seccomp+exec %lld, "
            "total %lld, finish %lld\n",
            (long long)t->cgroup_us, (long long)t->clone_us, (long long)t->maps_us,
            (long long)t->spec_us, (long long)t->init_exec_us, (long long)t->mounts_us,
            (long long)t->network_us, (long long)t->child_us, (long long)t->exec_us,
            (long long)t->total_us, (long long)t->finish_us);
}

static int cmd_run(int argc, char **argv) {
    static jc_run_options opt; /* large (bind paths): not on the stack */
    char msg[512];
    int prc = jc_run_options_parse(argc, argv, &opt, msg, sizeof(msg));
    if (prc == 1)
        return 0;
    if (prc < 0) {
        fprintf(stderr, "jobcell run: %s (see jobcell run --help)\n", msg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    jc_err err = {0};
    if (opt.cleanup) {
        if (jc_sandbox_reconcile(NULL, opt.cgroup_parent, NULL, &err) < 0) {
            fprintf(stderr, "jobcell run --cleanup: %s\n", err.msg);
            return 1;
        }
        /* egress leftovers: only where egress networking was ever used */
        const char *state =
            opt.egress_state_dir ? opt.egress_state_dir : JC_EGRESS_DEFAULT_STATE_DIR;
        if (opt.egress || access(state, F_OK) == 0) {
            jc_egress *eg = egress_new(&opt, false, &err);
            int rc = eg ? jc_egress_reconcile(eg, &err) : -1;
            jc_egress_free(eg);
            if (rc < 0) {
                fprintf(stderr, "jobcell run --cleanup: %s\n", err.msg);
                return 1;
            }
        }
        return 0;
    }

    run_ctx ctx = {.opt = &opt, .listen_fd = -1};
    for (size_t i = 0; i < RELAY_MAX; i++)
        ctx.conns[i].fd[0] = ctx.conns[i].fd[1] = -1;
    if (opt.proxy_host) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
        int gai = getaddrinfo(opt.proxy_host, opt.proxy_port, &hints, &ctx.target);
        if (gai != 0) {
            fprintf(stderr, "jobcell run: --runtime-proxy %s: %s\n", opt.proxy_host,
                    gai_strerror(gai));
            return 2;
        }
    }

    /* Host paths as the kernel will see them: absolute, no "..", no symlink. */
    static char sdk_buf[PATH_MAX], rootfs_buf[PATH_MAX], bind_buf[JC_RUN_MAX_BINDS][PATH_MAX];
    if (opt.sdk_dir && !realpath(opt.sdk_dir, sdk_buf)) {
        fprintf(stderr, "jobcell run: --sdk-dir %s: %s\n", opt.sdk_dir, strerror(errno));
        return 2;
    }
    if (opt.rootfs && !realpath(opt.rootfs, rootfs_buf)) {
        fprintf(stderr, "jobcell run: --rootfs %s: %s\n", opt.rootfs, strerror(errno));
        return 2;
    }
    for (size_t i = 0; i < opt.n_binds; i++) {
        if (!realpath(opt.binds[i].src, bind_buf[i])) {
            fprintf(stderr, "jobcell run: --bind %s: %s\n", opt.binds[i].src, strerror(errno));
            return 2;
        }
        opt.binds[i].src = bind_buf[i];
    }
    if (opt.sdk_dir)
        opt.sdk_dir = sdk_buf;
    if (opt.rootfs)
        opt.rootfs = rootfs_buf;

    jc_seccomp_filter filter = {0};
    bool have_filter = false;
    /* an egress job defaults to the profile made for it */
    if (!opt.profile && opt.egress)
        opt.profile = "network";
    if (load_profile(opt.profile, &filter, &have_filter) < 0) {
        if (ctx.target)
            freeaddrinfo(ctx.target);
        return 2;
    }

    jc_sandbox_engine_config cfg = {.slots = opt.slot + 1};
    jc_sandbox_engine *engine = jc_sandbox_engine_new(&cfg, &err);
    char exe_id[JC_ID_MAX];
    int status = 125;
    jc_egress *egress = NULL;
    if (engine && opt.egress && !(egress = egress_new(&opt, true, &err))) {
        fprintf(stderr, "jobcell run: egress network: %s\n", err.msg);
        goto out;
    }
    if (!engine || jc_random_id("exe_", exe_id, sizeof(exe_id), &err) < 0) {
        fprintf(stderr, "jobcell run: %s\n", err.msg);
        goto out;
    }

    jc_sandbox_spec spec;
    jc_sandbox_spec_init(&spec);
    spec.exe_id = exe_id;
    spec.argv = (const char *const *)opt.argv;
    spec.env = opt.env;
    spec.limits = opt.limits;
    spec.filter = have_filter ? &filter : NULL;
    spec.rootfs = opt.rootfs;
    spec.binds = opt.binds;
    spec.n_binds = opt.n_binds;
    spec.sdk_dir = opt.sdk_dir;
    spec.runtime_socket = opt.proxy_host != NULL;
    spec.slot = opt.slot;
    spec.cgroup_parent = opt.cgroup_parent;
    spec.egress = egress;
    spec.egress_allow = opt.allow;
    spec.n_egress_allow = opt.n_allow;
    /* A terminal stays outside: a job must not type into the caller's shell (TIOCSTI). */
    spec.stdin_fd = isatty(STDIN_FILENO) ? -1 : STDIN_FILENO;
    if (fcntl(STDIN_FILENO, F_GETFD) < 0)
        spec.stdin_fd = -1;

    jc_sandbox_hooks hooks = {.output = pass_output, .userdata = &ctx};
    if (opt.proxy_host) {
        hooks.add_fds = relay_add_fds;
        hooks.ready = relay_ready;
    }
    jc_result result;
    jc_sandbox_timings timings;
    if (jc_sandbox_run(engine, &spec, &hooks, &result, &timings, &err) < 0) {
        fprintf(stderr, "jobcell run: %s%s%s\n", err.field[0] ? err.field : "",
                err.field[0] ? ": " : "", err.msg);
        status = err.code == JC_E_INVALID ? 2 : 125;
        goto out;
    }
    if (!stderr_at_line_start)
        fputc('\n', stderr);
    if (opt.json) {
        _cleanup_json_ json_t *j = jc_result_to_json(&result);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (text)
            fprintf(stderr, "%s\n", text);
    } else {
        char line[768];
        jc_result_summary(&result, line, sizeof(line));
        fprintf(stderr, "%s\n", line);
    }
    if (opt.timings && result.reason != JC_REASON_SETUP_ERROR)
        print_timings(&timings);
    status = jc_result_exit_status(&result);
out:
    for (size_t i = 0; i < RELAY_MAX; i++)
        conn_close(&ctx.conns[i]);
    if (ctx.target)
        freeaddrinfo(ctx.target);
    if (have_filter)
        jc_seccomp_filter_free(&filter);
    jc_egress_free(egress);
    jc_sandbox_engine_free(engine);
    return status;
}

JC_CLI_COMMAND(run_command, .name = "run", .summary = "run a command in a sandbox, by hand (root)",
               .run = cmd_run, .order = 50)
