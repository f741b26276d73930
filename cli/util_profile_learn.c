/* util_profile_learn.c: `jobcell profile learn` — run a command in the sandbox and write
 * the profile it needs.
 *
 * The command runs under the base profile with every call the base would not allow
 * turned into SCMP_ACT_NOTIFY. The kernel then stops the calling thread and queues a
 * notification on the listener fd the sandbox hands us; we record the call (name, the
 * argument that matters for clone/socket/personality, the first process's name) and
 * answer SECCOMP_USER_NOTIF_FLAG_CONTINUE, so the call proceeds. The kernel's audit log is
 * not used: a sandbox cannot rely on it.
 *
 * A dangerous call (the check list) is answered EPERM instead, and left out of the learned
 * profile: learning must never let a job do what the profile will not allow without
 * --allow-dangerous. Many programs only probe such calls (Node's libuv tries io_uring and
 * falls back), so the profile is still written, and the refused calls are named. clone3 is
 * answered ENOSYS, as the shipped profiles do: libc then falls back to clone. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmd_profile.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/random.h"
#include "jobcell/sandbox.h"
#include "jobcell/seccomp.h"
#include "run_options.h"

#define MAX_LEARNED 512
#define MAX_VALUES 16 /* distinct arg0 values kept per argument-sensitive call */

#define CLONE_NEW_MASK                                                                             \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |  \
     CLONE_NEWNET)

typedef struct learned {
    char name[64];
    char comm[17]; /* the first process that made the call */
    int pid;
    unsigned long count;
    const char *danger;          /* non-NULL: dangerous (refused unless --allow-dangerous) */
    bool enosys;                 /* clone3 answered ENOSYS: learned as such */
    uint64_t values[MAX_VALUES]; /* arg0 values seen (socket, personality) */
    size_t nvalues;
    bool values_overflow;
    bool clone_ns; /* clone with a CLONE_NEW* flag was seen */
} learned;

typedef struct learn_ctx {
    learned items[MAX_LEARNED];
    size_t n;
    bool allow_dangerous;
    bool hup;
    unsigned long notifications;
    struct seccomp_notif_sizes sizes;
} learn_ctx;

static void learn_usage(FILE *out) {
    fprintf(out,
            "usage: jobcell profile learn [--base PROFILE] [--out FILE] [--allow-dangerous]\n"
            "                             [RUN OPTIONS] -- COMMAND [ARG...]\n"
            "\n"
            "Run COMMAND in the sandbox (as `jobcell run` does) and write a seccomp profile\n"
            "that allows exactly what it used: the base profile plus one rule per system call\n"
            "the base did not allow, each with a comment naming the first process that made "
            "it.\n"
            "\n"
            "  --base PROFILE     start from this profile (default: the smallest one: execve,\n"
            "                     write, exit_group, and clone3 answered ENOSYS)\n"
            "  --out FILE         write the profile to FILE (default: standard output)\n"
            "  --allow-dangerous  let calls of the dangerous list (see `jobcell profile check`)\n"
            "                     proceed and add them; without it they fail with EPERM, are\n"
            "                     named, and stay out of the profile (clone3 gets ENOSYS)\n"
            "\n"
            "RUN OPTIONS are those of `jobcell run` (limits, --rootfs, --bind, --env, …), except\n"
            "--profile (use --base) and --runtime-proxy. Needs root.\n"
            "\n"
            "Exit status: the command's; 1 when the profile could not be written; 2 for bad\n"
            "options.\n");
}

/* ---- notifications ----------------------------------------------------------------- */

static learned *find_or_add(learn_ctx *ctx, const char *name, int pid) {
    for (size_t i = 0; i < ctx->n; i++)
        if (strcmp(ctx->items[i].name, name) == 0)
            return &ctx->items[i];
    if (ctx->n == MAX_LEARNED)
        return NULL;
    learned *l = &ctx->items[ctx->n++];
    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", name);
    l->pid = pid;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    jc_err ignored;
    _cleanup_free_ char *comm = jc_read_file(path, 64, NULL, &ignored);
    if (comm) {
        comm[strcspn(comm, "\n")] = '\0';
        snprintf(l->comm, sizeof(l->comm), "%s", comm);
    } else
        snprintf(l->comm, sizeof(l->comm), "?");
    return l;
}

static void add_value(learned *l, uint64_t v) {
    for (size_t i = 0; i < l->nvalues; i++)
        if (l->values[i] == v)
            return;
    if (l->nvalues < MAX_VALUES)
        l->values[l->nvalues++] = v;
    else
        l->values_overflow = true;
}

static void handle_notification(learn_ctx *ctx, int fd) {
    /* The kernel may grow these structures: allocate what it says, zeroed (RECV
     * requires a zeroed buffer). */
    _cleanup_free_ struct seccomp_notif *req = calloc(1, ctx->sizes.seccomp_notif);
    _cleanup_free_ struct seccomp_notif_resp *resp = calloc(1, ctx->sizes.seccomp_notif_resp);
    if (!req || !resp)
        return;
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
        return; /* EINTR, or the target died before we read it (ENOENT) */
    ctx->notifications++;
    _cleanup_free_ char *name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
    char unknown[32];
    if (!name)
        snprintf(unknown, sizeof(unknown), "syscall_%d", req->data.nr);
    const char *n = name ? name : unknown;
    uint64_t args[6];
    for (int i = 0; i < 6; i++)
        args[i] = req->data.args[i];
    const char *danger = jc_seccomp_dangerous(n, args, 6);
    learned *l = find_or_add(ctx, n, (int)req->pid);
    if (l) {
        l->count++;
        if (strcmp(n, "socket") == 0 || strcmp(n, "personality") == 0)
            add_value(l, args[0] & 0xffffffffu); /* the kernel reads an int */
        if (strcmp(n, "clone") == 0 && (args[0] & CLONE_NEW_MASK))
            l->clone_ns = true;
        if (danger && !l->danger)
            l->danger = danger;
    }
    resp->id = req->id;
    if (danger && !ctx->allow_dangerous && strcmp(n, "clone3") == 0) {
        resp->error = -ENOSYS; /* libc falls back to clone, whose flags can be checked */
        if (l) {
            l->enosys = true;
            l->danger = NULL;
        }
    } else if (danger && !ctx->allow_dangerous)
        resp->error = -EPERM; /* learning never lets a dangerous call through unasked */
    else
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    (void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: the caller is gone */
}

static size_t learn_add_fds(void *ud, jc_sandbox *sb, struct pollfd *fds, size_t max) {
    learn_ctx *ctx = ud;
    int fd = jc_sandbox_seccomp_fd(sb);
    if (fd < 0 || ctx->hup || max == 0)
        return 0;
    fds[0] = (struct pollfd){.fd = fd, .events = POLLIN};
    return 1;
}

static void learn_ready(void *ud, jc_sandbox *sb, const struct pollfd *fds, size_t n) {
    learn_ctx *ctx = ud;
    if (n == 0)
        return;
    if (fds[0].revents & POLLIN)
        handle_notification(ctx, jc_sandbox_seccomp_fd(sb));
    else if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL))
        ctx->hup = true; /* every process under the filter is gone */
}

/* Both of the command's streams go to our stderr: our stdout may carry the profile. */
static void pass_output(void *ud, int stream, const char *buf, size_t len) {
    (void)ud;
    (void)stream;
    jc_err ignored;
    (void)jc_write_all(STDERR_FILENO, buf, len, &ignored);
}

/* ---- the learned profile ----------------------------------------------------------- */

static json_t *arg_rule(const char *name, const char *comment) {
    return json_pack("{s:[s], s:s, s:s}", "names", name, "action", "SCMP_ACT_ALLOW", "comment",
                     comment);
}

/* Remove name from every rule of the base that gives it another action than allow (those
 * rules would conflict with the learned allow, or shadow it). ENOSYS rules stay: learning
 * kept them, so the call was never seen. */
static void drop_from_base(json_t *syscalls, const char *name) {
    size_t i = 0;
    while (i < json_array_size(syscalls)) {
        json_t *rule = json_array_get(syscalls, i);
        const char *action = json_string_value(json_object_get(rule, "action"));
        json_t *names = json_object_get(rule, "names");
        if (action && strcmp(action, "SCMP_ACT_ALLOW") != 0 && json_is_array(names)) {
            for (size_t k = 0; k < json_array_size(names); k++)
                if (strcmp(json_string_value(json_array_get(names, k)) ?: "", name) == 0) {
                    json_array_remove(names, k);
                    break;
                }
            if (json_array_size(names) == 0) {
                json_array_remove(syscalls, i);
                continue;
            }
        }
        i++;
    }
}

static int add_learned_rule(json_t *syscalls, const learned *l) {
    char comment[256];
    if (l->enosys) {
        snprintf(comment, sizeof(comment),
                 "learned: first tried by %s (pid %d) and answered ENOSYS: its flags cannot be "
                 "checked; libc falls back to clone",
                 l->comm, l->pid);
        return json_array_append_new(syscalls, json_pack("{s:[s], s:s, s:i, s:s}", "names", l->name,
                                                         "action", "SCMP_ACT_ERRNO", "errnoRet",
                                                         ENOSYS, "comment", comment));
    }
    if (l->danger)
        snprintf(comment, sizeof(comment), "learned: first used by %s (pid %d); DANGEROUS: %s",
                 l->comm, l->pid, l->danger);
    else
        snprintf(comment, sizeof(comment), "learned: first used by %s (pid %d)", l->comm, l->pid);
    json_t *rule = arg_rule(l->name, comment);
    if (!rule)
        return -1;
    /* Keep the argument checks that make these calls safe: clone without namespace
     * flags, and only the socket families and personalities that were used. */
    json_t *args = NULL;
    if (strcmp(l->name, "clone") == 0 && !l->clone_ns)
        args = json_pack("[{s:i, s:I, s:i, s:s}]", "index", 0, "value", (json_int_t)CLONE_NEW_MASK,
                         "valueTwo", 0, "op", "SCMP_CMP_MASKED_EQ");
    else if ((strcmp(l->name, "socket") == 0 || strcmp(l->name, "personality") == 0) &&
             !l->values_overflow && l->nvalues) {
        args = json_array();
        for (size_t i = 0; args && i < l->nvalues; i++)
            json_array_append_new(args, json_pack("{s:i, s:I, s:s}", "index", 0, "value",
                                                  (json_int_t)l->values[i], "op", "SCMP_CMP_EQ"));
    }
    if (args)
        json_object_set_new(rule, "args", args);
    return json_array_append_new(syscalls, rule);
}

/* Build the learned profile from the base's JSON. Owned result. */
static json_t *learned_profile(json_t *base, const learn_ctx *ctx, const char *base_name,
                               char **argv, const jc_seccomp_resolved *base_resolved) {
    json_t *out = json_deep_copy(base);
    if (!out)
        return NULL;
    char desc[512];
    size_t used = (size_t)snprintf(desc, sizeof(desc), "learned from:");
    for (size_t i = 0; argv[i] && used < sizeof(desc); i++)
        used += (size_t)snprintf(desc + used, sizeof(desc) - used, " %s", argv[i]);
    if (used < sizeof(desc))
        snprintf(desc + used, sizeof(desc) - used, " (base: %s)", base_name);
    for (char *c = desc; *c; c++)
        if (*c == '\n')
            *c = ' ';
    json_object_set_new(out, "description", json_string(desc));
    json_t *syscalls = json_object_get(out, "syscalls");
    if (!json_is_array(syscalls)) {
        syscalls = json_array();
        json_object_set_new(out, "syscalls", syscalls);
    }
    /* close and sendmsg were allowed while learning (the sandbox itself uses them after
     * the filter is loaded), so whether the command needs them could not be seen. */
    json_t *always = json_array();
    static const char *const sandbox_calls[] = {"close", "sendmsg"};
    for (size_t i = 0; i < 2; i++) {
        jc_seccomp_verdict v;
        if (jc_seccomp_explain(base_resolved, sandbox_calls[i], NULL, 0, &v, NULL) == 0 &&
            !(v.action.kind == JC_SCMP_ALLOW && !v.conditional)) {
            drop_from_base(syscalls, sandbox_calls[i]);
            json_array_append_new(always, json_string(sandbox_calls[i]));
        }
    }
    if (json_array_size(always))
        json_array_append_new(syscalls,
                              json_pack("{s:o, s:s, s:s}", "names", always, "action",
                                        "SCMP_ACT_ALLOW", "comment",
                                        "allowed while learning (the sandbox uses them before "
                                        "the command starts), so always kept"));
    else
        json_decref(always);
    for (size_t i = 0; i < ctx->n; i++) {
        if (ctx->items[i].danger && !ctx->allow_dangerous)
            continue; /* refused while learning: stays as the base decides */
        drop_from_base(syscalls, ctx->items[i].name);
        if (add_learned_rule(syscalls, &ctx->items[i]) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* ---- the command ------------------------------------------------------------------- */

static int by_name(const void *a, const void *b) {
    return strcmp(((const learned *)a)->name, ((const learned *)b)->name);
}

int jc_profile_learn(const char *dir, int argc, char **argv) {
    const char *base_arg = NULL, *out_path = NULL;
    bool allow_dangerous = false;
    /* Our own options come first; the rest (up to and after --) is jobcell run's. */
    _cleanup_free_ char **run_argv = calloc((size_t)argc + 2, sizeof(char *));
    if (!run_argv)
        return 1;
    int rn = 0;
    run_argv[rn++] = "learn";
    bool in_cmd = false;
    for (int i = 0; i < argc; i++) {
        if (!in_cmd && strcmp(argv[i], "--") == 0)
            in_cmd = true;
        else if (!in_cmd && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            learn_usage(stdout);
            return 0;
        } else if (!in_cmd && (strcmp(argv[i], "--base") == 0 || strcmp(argv[i], "--out") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "jobcell profile learn: %s needs a value\n", argv[i]);
                return 2;
            }
            *(argv[i][2] == 'b' ? &base_arg : &out_path) = argv[i + 1];
            i++;
            continue;
        } else if (!in_cmd && strcmp(argv[i], "--allow-dangerous") == 0) {
            allow_dangerous = true;
            continue;
        } else if (!in_cmd && (strncmp(argv[i], "--profile", 9) == 0 ||
                               strncmp(argv[i], "--runtime-proxy", 15) == 0 ||
                               strcmp(argv[i], "--cleanup") == 0)) {
            fprintf(stderr, "jobcell profile learn: %s is not available here%s\n", argv[i],
                    argv[i][2] == 'p' ? " (use --base)" : "");
            return 2;
        }
        run_argv[rn++] = argv[i];
    }
    run_argv[rn] = NULL;
    static jc_run_options opt; /* large: not on the stack */
    char msg[512];
    int prc = jc_run_options_parse(rn, run_argv, &opt, msg, sizeof(msg));
    if (prc == 1)
        return 0;
    if (prc < 0) {
        fprintf(stderr, "jobcell profile learn: %s (see jobcell profile learn --help)\n", msg);
        return 2;
    }
    if (!opt.argv || !opt.argv[0]) {
        fprintf(stderr, "jobcell profile learn: no command given (… -- COMMAND)\n");
        return 2;
    }

    /* The base: a named profile or the built-in smallest one. */
    jc_err err = {0};
    json_error_t jerr;
    _cleanup_json_ json_t *base_json = NULL;
    _cleanup_free_ char *base_path = NULL;
    if (base_arg) {
        base_path = jc_seccomp_locate(dir, base_arg, &err);
        if (!base_path) {
            fprintf(stderr, "jobcell profile learn: --base: %s\n", err.msg);
            return 2;
        }
        base_json = json_load_file(base_path, JSON_REJECT_DUPLICATES, &jerr);
    } else
        base_json = json_loads(jc_seccomp_learn_base_json, 0, &jerr);
    if (!base_json) {
        fprintf(stderr, "jobcell profile learn: base %s: %s\n", base_arg ? base_path : "(built-in)",
                jerr.text);
        return 1;
    }
    _cleanup_free_ char *base_text = json_dumps(base_json, 0);
    jc_seccomp_profile *base =
        base_text ? jc_seccomp_profile_parse(base_text, strlen(base_text),
                                             base_arg ? base_path : "(built-in base)", NULL, &err)
                  : NULL;
    jc_seccomp_resolved base_resolved;
    if (!base || jc_seccomp_resolve(base, NULL, &base_resolved, NULL, &err) < 0) {
        fprintf(stderr, "jobcell profile learn: base: %s\n", err.msg);
        jc_seccomp_profile_free(base);
        return 1;
    }

    /* The learn filter: the base plus close and sendmsg (the sandbox needs them between
     * loading the filter and execve: a NOTIFY there would wait for a listener nobody holds
     * yet), every other call the base does not allow → NOTIFY. */
    _cleanup_json_ json_t *learn_json = json_deep_copy(base_json);
    json_t *learn_calls = learn_json ? json_object_get(learn_json, "syscalls") : NULL;
    if (learn_json && !json_is_array(learn_calls)) {
        learn_calls = json_array();
        json_object_set_new(learn_json, "syscalls", learn_calls);
    }
    drop_from_base(learn_calls, "close");
    drop_from_base(learn_calls, "sendmsg");
    json_array_append_new(learn_calls, json_pack("{s:[s,s], s:s}", "names", "close", "sendmsg",
                                                 "action", "SCMP_ACT_ALLOW"));
    _cleanup_free_ char *learn_text = json_dumps(learn_json, 0);
    jc_seccomp_profile *learn_profile =
        learn_text
            ? jc_seccomp_profile_parse(learn_text, strlen(learn_text), "learn filter", NULL, &err)
            : NULL;
    jc_seccomp_resolved learn_resolved;
    jc_seccomp_filter filter = {0};
    _cleanup_json_ json_t *out = NULL;
    _cleanup_free_ char *text = NULL;
    int status = 1;
    jc_sandbox_engine *engine = NULL;
    static learn_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.allow_dangerous = allow_dangerous;
    if (!learn_profile ||
        jc_seccomp_resolve(learn_profile, NULL, &learn_resolved, NULL, &err) < 0) {
        fprintf(stderr, "jobcell profile learn: %s\n", err.msg);
        goto out_profiles;
    }
    int crc = jc_seccomp_compile_learn(&learn_resolved, &filter, &err);
    jc_seccomp_resolved_free(&learn_resolved);
    if (crc < 0) {
        fprintf(stderr, "jobcell profile learn: %s\n", err.msg);
        goto out_profiles;
    }
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &ctx.sizes) < 0) {
        fprintf(stderr,
                "jobcell profile learn: this kernel has no seccomp user notification: "
                "%s\n",
                strerror(errno));
        goto out_profiles;
    }

    signal(SIGPIPE, SIG_IGN);
    jc_sandbox_engine_config cfg = {.slots = opt.slot + 1};
    engine = jc_sandbox_engine_new(&cfg, &err);
    char exe_id[JC_ID_MAX];
    if (!engine || jc_random_id("exe_", exe_id, sizeof(exe_id), &err) < 0) {
        fprintf(stderr, "jobcell profile learn: %s\n", err.msg);
        goto out_profiles;
    }
    jc_sandbox_spec spec;
    jc_sandbox_spec_init(&spec);
    spec.exe_id = exe_id;
    spec.argv = (const char *const *)opt.argv;
    spec.env = opt.env;
    spec.limits = opt.limits;
    spec.filter = &filter;
    spec.seccomp_listener = true;
    spec.rootfs = opt.rootfs;
    spec.binds = opt.binds;
    spec.n_binds = opt.n_binds;
    spec.sdk_dir = opt.sdk_dir;
    spec.slot = opt.slot;
    spec.cgroup_parent = opt.cgroup_parent;
    spec.stdin_fd = isatty(STDIN_FILENO) ? -1 : STDIN_FILENO;
    if (fcntl(STDIN_FILENO, F_GETFD) < 0)
        spec.stdin_fd = -1;
    jc_sandbox_hooks hooks = {
        .output = pass_output, .add_fds = learn_add_fds, .ready = learn_ready, .userdata = &ctx};
    jc_result result;
    if (jc_sandbox_run(engine, &spec, &hooks, &result, NULL, &err) < 0) {
        fprintf(stderr, "jobcell profile learn: %s%s%s\n", err.field[0] ? err.field : "",
                err.field[0] ? ": " : "", err.msg);
        status = err.code == JC_E_INVALID ? 2 : 1;
        goto out_profiles;
    }
    char line[768];
    jc_result_summary(&result, line, sizeof(line));
    fprintf(stderr, "%s\n", line);
    if (result.reason == JC_REASON_SETUP_ERROR) {
        status = jc_result_exit_status(&result);
        goto out_profiles;
    }
    qsort(ctx.items, ctx.n, sizeof(ctx.items[0]), by_name);

    size_t refused = 0, added = 0;
    for (size_t i = 0; i < ctx.n; i++)
        if (ctx.items[i].danger && !allow_dangerous) {
            if (refused++ == 0)
                fprintf(stderr, "jobcell profile learn: dangerous system calls were refused "
                                "(EPERM) and are not in the profile:\n");
            fprintf(stderr, "  %s (first by %s, pid %d): %s\n", ctx.items[i].name,
                    ctx.items[i].comm, ctx.items[i].pid, ctx.items[i].danger);
        } else
            added++;
    if (refused)
        fprintf(stderr, "If the command needs them, rerun with --allow-dangerous to add them.\n");

    out = learned_profile(base_json, &ctx, base_arg ? base_arg : "the smallest base", opt.argv,
                          &base_resolved);
    text = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (!text) {
        fprintf(stderr, "jobcell profile learn: out of memory\n");
        goto out_profiles;
    }
    /* Never write a profile jobcell itself would refuse. */
    jc_seccomp_profile *check = jc_seccomp_profile_parse(text, strlen(text), "learned", NULL, &err);
    jc_seccomp_resolved check_resolved;
    bool ok = check && jc_seccomp_resolve(check, NULL, &check_resolved, NULL, &err) == 0;
    if (ok)
        jc_seccomp_resolved_free(&check_resolved);
    jc_seccomp_profile_free(check);
    if (!ok) {
        fprintf(stderr, "jobcell profile learn: the learned profile is not valid: %s\n", err.msg);
        goto out_profiles;
    }
    size_t len = strlen(text);
    text[len++] = '\n'; /* json_dumps leaves room: the NUL becomes the newline */
    int wrc = out_path ? jc_write_file_atomic(out_path, text, len, 0644, &err)
                       : jc_write_all(STDOUT_FILENO, text, len, &err);
    if (wrc < 0) {
        fprintf(stderr, "jobcell profile learn: %s: %s\n", out_path ? out_path : "stdout", err.msg);
        goto out_profiles;
    }
    fprintf(stderr,
            "jobcell profile learn: %zu system call%s added to the base (%lu "
            "notifications)%s%s\n",
            added, added == 1 ? "" : "s", ctx.notifications, out_path ? "; wrote " : "",
            out_path ? out_path : "");
    status = jc_result_exit_status(&result);
out_profiles:
    jc_seccomp_filter_free(&filter);
    jc_sandbox_engine_free(engine);
    jc_seccomp_profile_free(learn_profile);
    jc_seccomp_resolved_free(&base_resolved);
    jc_seccomp_profile_free(base);
    return status;
}
