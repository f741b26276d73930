/* sandbox.h: the sandbox engine — run one command in a sandbox, get its result record.
 *
 * The contract is SANDBOX.md. A caller creates one engine per process (it opens the
 * jobcell-init binary once and checks the host uid range once), then for every
 * execution fills a jc_sandbox_spec and either:
 *
 *   - drives it from its own event loop: jc_sandbox_start() returns at once with a handle
 *     whose fds (pidfd, stdout, stderr, setup fd) go into epoll; the loop calls
 *     jc_sandbox_setup_poll(), jc_sandbox_drain(), jc_sandbox_tick() and, when the pidfd
 *     is readable, jc_sandbox_finish(); or
 *   - calls jc_sandbox_run(), which is that same loop with poll(2), blocking until the
 *     job is over.
 *
 * The engine must run as root in the initial user namespace. It is not thread-safe; one
 * engine per thread. Every fd it creates is O_CLOEXEC. Callers should ignore SIGPIPE.
 */
#ifndef JOBCELL_SANDBOX_H
#define JOBCELL_SANDBOX_H

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobcell/egress_net.h"
#include "jobcell/error.h"

/* A compiled seccomp program (classic BPF), produced by the profile compiler
 * (jobcell/seccomp.h). The engine only loads it; it never interprets it. */
#ifndef JC_SECCOMP_FILTER_DEFINED
#define JC_SECCOMP_FILTER_DEFINED
struct sock_filter;
typedef struct jc_seccomp_filter {
    size_t len; /* number of instructions */
    struct sock_filter *insns;
} jc_seccomp_filter;
#endif

/* ---- the spec of one execution ------------------------------------------------------ */

/* A file jc-init writes into /workspace (owner 1000:1000) before the job starts. */
typedef struct jc_sandbox_file {
    const char *name; /* a plain name: no '/', not "." or "..", at most 255 bytes */
    const void *data;
    size_t len;
    unsigned mode; /* permission bits only, e.g. 0755 for a script */
} jc_sandbox_file;

/* A host path bound into the sandbox. Only `jobcell run` by hand; never from a job. */
typedef struct jc_sandbox_bind {
    const char *src; /* absolute host path */
    const char *dst; /* absolute path inside; not /, /proc, /dev or below them */
    bool readonly;
} jc_sandbox_bind;

/* Limits; 0 in a field means "the default" of SANDBOX.md (jc_sandbox_limits_default). */
typedef struct jc_sandbox_limits {
    int64_t memory_mb;    /* 16 … 65536, default 512; swap is always 0 */
    int64_t pids;         /* 8 … 32768, default 100 */
    double cpu;           /* 0.01 … host cores, default 0.5 */
    int64_t timeout_s;    /* 1 … 86400, default 300 */
    int64_t kill_grace_s; /* 0 … 60, default 5; -1 means 0 (0 itself means default) */
    int64_t tmp_mb;       /* 1 … 16384, default 100 */
    int64_t workspace_mb; /* 1 … 16384, default 256 */
    int64_t output_mb;    /* 1 … 1024, default 16: stdout + stderr together */
} jc_sandbox_limits;

typedef struct jc_sandbox_spec {
    /* Execution id ("exe_" + at least 12 [a-z0-9] characters): names the cgroup and,
     * as "jc-" + the 12 characters after "exe_", the hostname. */
    const char *exe_id;
    /* The command and its arguments, NULL-terminated. argv[0] is an absolute path or a
     * name looked up in the job's PATH inside the sandbox. */
    const char *const *argv;
    /* Extra environment, "NAME=value" strings, NULL-terminated (NULL = none). They
     * cannot replace PATH, HOME, TMPDIR or LANG (rejected as invalid). The runtime
     * variables of PROTOCOL.md are passed here by the caller. */
    const char *const *env;
    const jc_sandbox_file *files; /* written into /workspace */
    size_t n_files;
    jc_sandbox_limits limits;
    /* The compiled profile, loaded last before execve. NULL = no filter: only for
     * `jobcell run --profile none` by hand; the daemon always passes one. */
    const jc_seccomp_filter *filter;
    /* Learn mode: load the filter with SECCOMP_FILTER_FLAG_NEW_LISTENER and hand the
     * listener to the caller (jc_sandbox_seccomp_fd). Between the load and execve the
     * job child calls only sendmsg, close, write and execve: the filter must allow them
     * (a NOTIFY on sendmsg would wait for a listener nobody holds yet). */
    bool seccomp_listener;
    /* NULL = the host's /usr, /bin, /lib*, /etc/ssl/certs…; else a root directory. */
    const char *rootfs;
    const jc_sandbox_bind *binds; /* `jobcell run --bind` only */
    size_t n_binds;
    /* NULL = the SDK installed in /usr/local/lib/jobcell; else a directory bound over it
     * (the mountpoint must exist in the host's /usr). */
    const char *sdk_dir;
    /* Ask for the runtime listener: a TCP socket listening on 127.0.0.1:8081 inside
     * the job's network namespace, handed to the caller (jc_sandbox_runtime_fd). */
    bool runtime_socket;
    /* Which slot's uid/gid range to map (0 … engine slots-1). Two live sandboxes must
     * not share a slot. */
    uint32_t slot;
    /* cgroupfs root (NULL = "/sys/fs/cgroup") and the parent to nest under (NULL = the
     * caller's own cgroup, read per hierarchy from /proc/self/cgroup). */
    const char *cgroup_root;
    const char *cgroup_parent;
    /* The job's stdin; -1 = /dev/null. Not closed by the engine. */
    int stdin_fd;
    /* Egress network (docs/networking.md): NULL = network "none" (loopback only). With
     * it, the job gets a veth pair, a /30 of the pool, a default route, /etc/resolv.conf
     * and the allow-list below enforced by nftables, all in place before it starts. */
    jc_egress *egress;
    const jc_egress_rule *egress_allow;
    size_t n_egress_allow;
} jc_sandbox_spec;

/* Fill l with SANDBOX.md's defaults. */
void jc_sandbox_limits_default(jc_sandbox_limits *l);
/* Initialise a spec: zero everything, stdin_fd -1, limits zero (= defaults). */
void jc_sandbox_spec_init(jc_sandbox_spec *spec);
/* Check a spec against SANDBOX.md's bounds (with defaults filled in). JC_E_INVALID
 * names the field at fault in err->field ("resources.memory_mb", "argv", …); tmp_mb +
 * workspace_mb above memory_mb names both. */
int jc_sandbox_spec_validate(const jc_sandbox_spec *spec, jc_err *err);

/* ---- the result record (SANDBOX.md "The result record") ----------------------------- */

typedef enum jc_reason {
    JC_REASON_EXITED = 0,
    JC_REASON_SIGNALED,
    JC_REASON_TIMEOUT,
    JC_REASON_OOM,
    JC_REASON_PIDS,
    JC_REASON_CANCELED,
    JC_REASON_SETUP_ERROR,
} jc_reason;

typedef struct jc_result {
    jc_reason reason;
    bool has_exit_code; /* the job exited: exit_code is valid, else JSON null */
    int exit_code;
    int signal; /* the signal that killed the job, 0 = JSON null */
    int64_t wall_ms;
    int64_t cpu_ms;
    int64_t memory_peak_bytes;
    int64_t stdout_bytes; /* every byte the job wrote, captured or not */
    int64_t stderr_bytes;
    bool output_truncated; /* more than output_mb was written; the rest was dropped */
    bool has_setup_error;  /* reason == JC_REASON_SETUP_ERROR */
    struct {
        char step[24];     /* a step name of SANDBOX.md "Order of steps" */
        int sys_errno;     /* "errno" in JSON */
        char message[256]; /* one sentence for a person */
    } setup_error;
    /* Egress jobs only: "network": {"mode": "egress", "address", "denied"} in JSON. */
    bool has_network;
    char network_address[16]; /* the job's IPv4 address */
    int64_t network_denied;   /* packets the policy dropped; -1 = could not be read */
} jc_result;

/* "exited", "signaled", "timeout", "oom", "pids", "canceled", "setup_error". */
const char *jc_reason_name(jc_reason reason);
/* The JSON record, keys in SANDBOX.md's order. New reference, owned by the caller. */
json_t *jc_result_to_json(const jc_result *result);
/* A one-line human summary ("exited 0 in 12 ms, …") into buf. */
void jc_result_summary(const jc_result *result, char *buf, size_t len);
/* The exit status `jobcell run` mirrors: exit code, 128 + signal, 125 on setup_error. */
int jc_result_exit_status(const jc_result *result);
/* Turn a parent-side failure (from jc_sandbox_start) into a setup_error result. */
void jc_result_set_setup_error(jc_result *result, const char *step, int sys_errno,
                               const char *message);

/* ---- the engine ----------------------------------------------------------------------- */

typedef struct jc_sandbox_engine jc_sandbox_engine;

typedef struct jc_sandbox_engine_config {
    /* Path of the jobcell-init binary. NULL = $JOBCELL_INIT, else "jobcell-init" beside
     * the calling program (/proc/self/exe's directory). */
    const char *init_path;
    /* Host uid/gid range: slot s maps 0–65535 inside to uid_base + s × 65536 …
     * 0 = 1879048192 (0x70000000). */
    uint32_t uid_base;
    uint32_t slots; /* 0 = 1 */
    /* Runtime directory (NULL = "/run/jobcell"); holds the mountpoint of the sandboxes'
     * root tmpfs (each sandbox mounts its own in its own mount namespace). */
    const char *run_dir;
} jc_sandbox_engine_config;

/* Create the engine: open jobcell-init once, check that every slot's uid/gid range is
 * clear of /etc/subuid, /etc/subgid, passwd and group, create the runtime directory.
 * Owned by the caller. */
jc_sandbox_engine *jc_sandbox_engine_new(const jc_sandbox_engine_config *cfg, jc_err *err);
void jc_sandbox_engine_free(jc_sandbox_engine *engine);

/* ---- one sandbox, non-blocking --------------------------------------------------------- */

typedef struct jc_sandbox jc_sandbox;

typedef enum jc_sandbox_state {
    JC_SANDBOX_STARTING, /* jc-init is building the sandbox: watch jc_sandbox_setup_fd */
    JC_SANDBOX_RUNNING,  /* the job exec'd */
    JC_SANDBOX_EXITED,   /* jc-init is gone (setup failed or job over): call finish */
    JC_SANDBOX_FINISHED, /* the result is known */
} jc_sandbox_state;

/* Build the cgroups, clone jc-init into its namespaces, write its maps and send it the
 * spec; return without waiting for the job to start. On failure (invalid spec, cgroup or
 * clone failure) returns -1 with err filled; err->field then holds the step name
 * ("cgroup", "clone", "maps", "spec") when the failure is a setup step. *out is owned by
 * the caller (jc_sandbox_free). The spec, files included, is written before it returns
 * (jc-init reads it as it comes; a send stalled for 10 s fails the start). */
int jc_sandbox_start(jc_sandbox_engine *engine, const jc_sandbox_spec *spec, jc_sandbox **out,
                     jc_err *err);

/* fds for the caller's event loop; all non-blocking and owned by the handle. The handle
 * closes a pipe when it reaches EOF (drain, finish) and the setup fd when setup is over
 * (setup_poll): re-read these after each call rather than keeping the numbers. */
int jc_sandbox_pidfd(const jc_sandbox *sb);     /* readable when jc-init has exited */
int jc_sandbox_setup_fd(const jc_sandbox *sb);  /* while STARTING; -1 afterwards */
int jc_sandbox_stdout_fd(const jc_sandbox *sb); /* -1 once at EOF */
int jc_sandbox_stderr_fd(const jc_sandbox *sb); /* -1 once at EOF */
/* The runtime listener (spec.runtime_socket) once RUNNING, else -1. Still owned by the
 * handle; accept(2) on it. */
int jc_sandbox_runtime_fd(const jc_sandbox *sb);
/* The seccomp notification listener (spec.seccomp_listener) once RUNNING, else -1.
 * jc_sandbox_take_seccomp_fd hands its ownership to the caller. */
int jc_sandbox_seccomp_fd(const jc_sandbox *sb);
int jc_sandbox_take_seccomp_fd(jc_sandbox *sb);
pid_t jc_sandbox_pid(const jc_sandbox *sb); /* jc-init's pid (host pid namespace) */
jc_sandbox_state jc_sandbox_state_get(const jc_sandbox *sb);

/* Call when the setup fd is readable: STARTING → RUNNING (the job exec'd) or EXITED
 * (setup_error). Returns 0; -1 only for an engine failure. */
int jc_sandbox_setup_poll(jc_sandbox *sb, jc_err *err);

/* Output sink: bytes of one stream (1 stdout, 2 stderr) within the cap, in order. */
typedef void (*jc_sandbox_output_fn)(void *userdata, int stream, const char *buf, size_t len);
/* Read what the pipes hold now without blocking; pass the bytes within the output cap to
 * fn (may be NULL), count every byte. Returns 0, or -1 on a read error. */
int jc_sandbox_drain(jc_sandbox *sb, jc_sandbox_output_fn fn, void *userdata, jc_err *err);

/* Ask the job to stop: SIGTERM to its process group (through jc-init) now, SIGKILL of the
 * whole sandbox after kill_grace (driven by jc_sandbox_tick). The result says
 * "canceled". Idempotent. */
int jc_sandbox_cancel(jc_sandbox *sb, jc_err *err);
/* Apply the wall timeout and the kill grace at monotonic time now_ms
 * (jc_time_mono_ms()). Call whenever jc_sandbox_next_deadline_ms passes. */
int jc_sandbox_tick(jc_sandbox *sb, int64_t now_ms, jc_err *err);
/* The monotonic ms of the next deadline tick must see, or INT64_MAX. */
int64_t jc_sandbox_next_deadline_ms(const jc_sandbox *sb);

/* Once the pidfd is readable (state EXITED or RUNNING with jc-init gone): reap jc-init,
 * drain the rest of the output (fn as for drain), read the cgroup's figures, kill and
 * remove the cgroups, and fill the result. Blocks for at most ~2 s while the last
 * processes of the sandbox die. */
int jc_sandbox_finish(jc_sandbox *sb, jc_sandbox_output_fn fn, void *userdata, jc_result *out,
                      jc_err *err);

/* Kill whatever still runs, reap, remove the cgroups, close every fd, free. NULL-safe. */
void jc_sandbox_free(jc_sandbox *sb);

/* Where the time of start-up went, in microseconds (for bench/sandbox_start). Valid
 * after RUNNING; a step the engine could not time is -1. */
typedef struct jc_sandbox_timings {
    int64_t cgroup_us;    /* create the cgroups and set the limits */
    int64_t clone_us;     /* clone3 */
    int64_t maps_us;      /* cgroup.procs (v1), setgroups, uid_map, gid_map */
    int64_t spec_us;      /* serialise and send the spec */
    int64_t init_exec_us; /* from the go-ahead until jc-init runs its first step */
    int64_t mounts_us;    /* jc-init: mounts */
    int64_t network_us;   /* jc-init: lo up and the runtime listener */
    int64_t child_us;     /* job child: fork until seccomp (identity, caps, fds) */
    int64_t exec_us;      /* seccomp load + execve until the error pipe closed */
    int64_t total_us;     /* jc_sandbox_start until RUNNING */
    int64_t finish_us;    /* jc_sandbox_finish: reap, last output, cgroup figures, removal */
    int64_t egress_us;    /* egress only: lease, policy, veth, addresses, route */
} jc_sandbox_timings;
const jc_sandbox_timings *jc_sandbox_timings_get(const jc_sandbox *sb);

/* ---- blocking convenience -------------------------------------------------------------- */

/* Optional hooks for jc_sandbox_run. add_fds may add up to max pollfds the caller wants
 * watched (e.g. a runtime relay) and returns how many; ready gets them back after poll. */
typedef struct jc_sandbox_hooks {
    jc_sandbox_output_fn output;
    size_t (*add_fds)(void *userdata, jc_sandbox *sb, struct pollfd *fds, size_t max);
    void (*ready)(void *userdata, jc_sandbox *sb, const struct pollfd *fds, size_t n);
    void *userdata;
} jc_sandbox_hooks;

/* Start, supervise and finish one sandbox; fill *out. A setup failure, on either side,
 * is a result (reason setup_error, return 0), not an error: -1 means the engine itself
 * failed (err filled) or the spec is invalid. timings (may be NULL) gets the start-up
 * breakdown. */
int jc_sandbox_run(jc_sandbox_engine *engine, const jc_sandbox_spec *spec,
                   const jc_sandbox_hooks *hooks, jc_result *out, jc_sandbox_timings *timings,
                   jc_err *err);

/* ---- reconciliation ------------------------------------------------------------------- */

/* Remove what a previous jobcell process left behind: every jobcell/<exe-id> cgroup under
 * parent (NULL = own) in every hierarchy of root (NULL = /sys/fs/cgroup), killing what
 * runs in it, and every per-execution directory under run_dir (NULL = /run/jobcell).
 * Goes on after a failure; returns 0, or -1 with the first error. */
int jc_sandbox_reconcile(const char *cgroup_root, const char *cgroup_parent, const char *run_dir,
                         jc_err *err);

#endif
