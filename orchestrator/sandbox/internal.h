/* internal.h: what the engine's modules share (private to orchestrator/sandbox/).
 *
 * engine.c   the engine object: jobcell-init's fd, uid range check, runtime directory
 * spec.c     defaults and validation of jc_sandbox_spec
 * wire.c     serialising the spec for jc-init (protocol.h)
 * start.c    cgroups, pipes, clone3, maps, go-ahead, spec: jc_sandbox_start
 * supervise.c setup poll, output capture, timeout and cancel, finish, free, run
 * result.c   the result record and its JSON
 * reconcile.c what a previous process left behind */
#ifndef JOBCELL_SANDBOX_INTERNAL_H
#define JOBCELL_SANDBOX_INTERNAL_H

#include "jobcell/sandbox.h"

#include "cgroup.h"
#include "protocol.h"

#define JC_DEFAULT_UID_BASE 1879048192u
#define JC_DEFAULT_RUN_DIR "/run/jobcell"
#define JC_DEFAULT_CGROUP_ROOT "/sys/fs/cgroup"

struct jc_sandbox_engine {
    int init_fd; /* jobcell-init, O_PATH|O_CLOEXEC: exec'd with execveat(AT_EMPTY_PATH) */
    uint32_t uid_base;
    uint32_t slots;
    char *run_dir;
};

typedef struct jc_output_stream {
    int fd;        /* -1 at EOF */
    int64_t bytes; /* everything the job wrote */
} jc_output_stream;

struct jc_sandbox {
    jc_sandbox_state state;
    jc_sandbox_limits limits; /* defaults filled in */
    jc_cgroup *cg;
    pid_t pid;
    int pidfd;
    int control_fd; /* our end of the control socket (non-blocking once started) */
    int errpipe_fd; /* read end; -1 once setup is over */
    jc_output_stream out[2];
    int64_t captured;  /* bytes passed to the sink, ≤ output cap */
    int64_t cap_bytes; /* output_mb in bytes */
    bool truncated;
    int runtime_fd;
    int seccomp_fd;
    /* what came back */
    bool have_status;
    int status;         /* the job's raw wait status from jc-init */
    bool child_started; /* the job child reported in before execve */
    bool have_setup_failure;
    jc_setup_failure failure;
    /* supervision */
    int64_t start_mono_ms;
    int64_t end_mono_ms;
    int64_t deadline_ms; /* wall timeout */
    int64_t kill_at_ms;  /* SIGKILL of everything, INT64_MAX when not armed */
    bool timed_out;
    bool canceled;
    bool killed; /* the engine sent SIGKILL */
    bool reaped;
    /* timings */
    int64_t t_start_ns, t_go_ns;
    jc_sandbox_timings timings;
    /* egress (spec.egress): the job's network, removed by finish or free */
    jc_egress_net *net;
    char net_address[16];
};

/* Benchmark only (bench/sandbox_start measures what the network namespace costs): when
 * set, sandboxes share the caller's network namespace. No configuration, option or
 * variable reaches it; only a program linking the engine and this private header can. */
extern bool jc_sandbox_bench_share_net;

/* spec.c: limits with defaults filled in (l is validated by jc_sandbox_spec_validate). */
void jc_sandbox_limits_effective(const jc_sandbox_limits *in, jc_sandbox_limits *out);

/* wire.c: the spec as jc-init reads it. Returns an owned buffer. */
char *jc_wire_spec(const jc_sandbox_engine *engine, const jc_sandbox_spec *spec,
                   const jc_sandbox_limits *limits, const char *resolv_conf, size_t *len_out,
                   jc_err *err);

/* engine.c: check one host id range against the files (paths for the tests). */
int jc_uid_range_check(uint32_t first, uint32_t count, const char *subuid, const char *subgid,
                       const char *passwd, const char *group, jc_err *err);

/* supervise.c: drain the control socket (fds, timings, status); non-blocking. */
int jc_sandbox_read_control(jc_sandbox *sb, jc_err *err);

#endif
