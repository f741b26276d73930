/* protocol.h: what the engine (parent) and jobcell-init (child) say to each other.
 *
 * Shared by both halves, so it holds nothing but wire formats. No JSON: jc-init parses
 * fixed-size integers and length-prefixed byte strings only.
 *
 * The control socket is an AF_UNIX SOCK_SEQPACKET pair (message boundaries kept, fds
 * passed with SCM_RIGHTS). Parent → child:
 *   1. a GO packet (one byte, JC_PROTO_GO) once the uid/gid maps are written: the clone
 *      child waits for it before it becomes the mapped root and execs jobcell-init;
 *   2. a spec header packet (jc_spec_header) then the spec itself in packets of at most
 *      JC_PROTO_CHUNK bytes: a sequence of records {u32 tag, u32 len, len bytes}.
 * Child → parent: jc_msg packets, with one fd attached for RUNTIME_FD and SECCOMP_FD.
 *
 * The error pipe carries at most one jc_setup_failure (smaller than PIPE_BUF, so it is
 * written atomically) from whichever process failed a setup step; it closes with no
 * bytes when the job's execve succeeds. */
#ifndef JOBCELL_SANDBOX_PROTOCOL_H
#define JOBCELL_SANDBOX_PROTOCOL_H

#include <stdint.h>

/* Where jobcell-init finds what the clone child hands it. */
#define JC_INIT_FD_CONTROL 3
#define JC_INIT_FD_ERRPIPE 4

#define JC_PROTO_GO 0x47
#define JC_PROTO_MAGIC 0x6a63696eu /* "jcin" */
#define JC_PROTO_VERSION 1u
#define JC_PROTO_CHUNK 65536u
#define JC_PROTO_MAX_SPEC (1u << 30) /* 1 GiB: files are bounded by workspace_mb */

/* The sandbox's fixed identity. */
#define JC_JOB_UID 1000
#define JC_JOB_GID 1000
#define JC_RANGE_SIZE 65536u
#define JC_RUNTIME_PORT 8081

typedef struct jc_spec_header {
    uint32_t magic;
    uint32_t version;
    uint64_t length; /* bytes of records that follow */
} jc_spec_header;

enum jc_spec_tag {
    JC_TAG_HOSTNAME = 1, /* string */
    JC_TAG_ARGV,         /* string, repeated in order */
    JC_TAG_ENV,          /* "K=V" string, repeated: the job's whole environment */
    JC_TAG_FILE,         /* u32 mode, u32 name length (with NUL), name, data */
    JC_TAG_LIMITS,       /* jc_spec_limits */
    JC_TAG_FILTER,       /* struct sock_filter[], whole instructions */
    JC_TAG_FLAGS,        /* u32 JC_FLAG_* */
    JC_TAG_ROOTFS,       /* string: host directory used as the source of /usr… */
    JC_TAG_BIND,         /* u32 readonly, src string, dst string */
    JC_TAG_SDK,          /* string: directory bound over /usr/local/lib/jobcell */
    JC_TAG_RUN_DIR,      /* string: where the root tmpfs is mounted before pivot_root */
    JC_TAG_RESOLV,       /* string: /etc/resolv.conf (egress jobs only) */
};
/* Strings carry their NUL terminator inside len; the reader checks it is there. */

enum {
    JC_FLAG_RUNTIME_SOCKET = 1u << 0,
    JC_FLAG_SECCOMP_LISTENER = 1u << 1,
    JC_FLAG_SHARED_NET = 1u << 2, /* benchmark only: no network namespace, leave lo alone */
};

typedef struct jc_spec_limits {
    uint64_t tmp_bytes;
    uint64_t workspace_bytes;
    uint64_t nofile;
    uint64_t fsize;
} jc_spec_limits;

enum jc_msg_type {
    JC_MSG_INIT_TIMES = 1, /* jc-init: its step timestamps (CLOCK_MONOTONIC ns) */
    JC_MSG_RUNTIME_FD,     /* + the runtime listener (SCM_RIGHTS) */
    JC_MSG_CHILD_TIMES,    /* job child: timestamps before seccomp */
    JC_MSG_SECCOMP_FD,     /* + the seccomp notification listener (SCM_RIGHTS) */
    JC_MSG_STATUS,         /* jc-init: the job's raw wait status, before it exits */
};

typedef struct jc_msg {
    uint32_t type;
    int32_t status; /* JC_MSG_STATUS */
    int64_t t[4];   /* timestamps, by type:
                     * INIT_TIMES: start, mounts done, network done, fork
                     * CHILD_TIMES: child start, before seccomp */
} jc_msg;

typedef struct jc_setup_failure {
    char step[24]; /* the step name of SANDBOX.md */
    int32_t sys_errno;
    char detail[196]; /* what was being done: "mount proc on /proc", a path… */
} jc_setup_failure;

_Static_assert(sizeof(jc_setup_failure) <= 512, "the failure record must be atomic in a pipe");

#endif
