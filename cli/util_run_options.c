/* util_run_options.c: option parsing of `jobcell run` (see run_options.h). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_options.h"

const char jc_run_usage[] =
    "usage: jobcell run [OPTIONS] -- COMMAND [ARG...]\n"
    "       jobcell run --cleanup\n"
    "\n"
    "Run COMMAND in a sandbox, as a job would run: its own user, pid, mount, network, IPC,\n"
    "UTS and cgroup namespaces, a minimal read-only root, uid 1000 with no capabilities,\n"
    "a seccomp profile, and memory, process, CPU and time limits. Its output is passed\n"
    "through; the result record goes to stderr at the end. Needs root.\n"
    "\n"
    "Limits (default in brackets):\n"
    "  --memory MB          memory, swap 0 (16-65536) [512]\n"
    "  --pids N             processes and threads (8-32768) [100]\n"
    "  --cpu F              CPU cores, e.g. 0.5 (0.01-cores of the host) [0.5]\n"
    "  --timeout S          wall time in seconds, then SIGTERM (1-86400) [300]\n"
    "  --kill-grace S       seconds from SIGTERM to SIGKILL (0-60) [5]\n"
    "  --tmp-mb MB          size of /tmp (1-16384) [100]\n"
    "  --workspace-mb MB    size of /workspace (1-16384) [256]\n"
    "  --output-mb MB       stdout + stderr kept; the rest is counted and dropped [16]\n"
    "Sandbox:\n"
    "  --profile FILE|NAME  seccomp profile: a file, a name in the profile directory, or\n"
    "                       'none' (no filter) [default]\n"
    "  --rootfs DIR         take /usr, /bin, /lib* and /etc/ssl/certs from DIR, not from /\n"
    "  --bind SRC:DST[:ro]  bind host path SRC at DST inside (repeatable)\n"
    "  --env NAME=VALUE     add a variable (repeatable; PATH, HOME, TMPDIR, LANG are fixed)\n"
    "  --sdk-dir DIR        bind DIR over /usr/local/lib/jobcell (the job helpers)\n"
    "  --runtime-proxy HOST:PORT\n"
    "                       listen on 127.0.0.1:8081 inside the sandbox and relay each\n"
    "                       connection to HOST:PORT\n"
    "Network:\n"
    "  --network MODE       'none': loopback only; 'egress': a network of its own that\n"
    "                       reaches only what --allow lists (see docs/networking.md) [none]\n"
    "  --allow SPEC         with egress: a host name, IPv4 or IPv6 address or network, with\n"
    "                       an optional port or range: api.example.com:443,\n"
    "                       203.0.113.0/24:5432, [2001:db8::1]:443 (repeatable)\n"
    "  --allow-private CIDR let egress jobs reach this private range when they --allow it\n"
    "                       (repeatable; by default 10/8, 172.16/12, 192.168/16, 100.64/10\n"
    "                       and fc00::/7 are refused)\n"
    "  --deny-always CIDR   never let the job reach CIDR, whatever --allow says (repeatable)\n"
    "  --dns ADDR[:PORT]    DNS server the job's resolver forwards to (repeatable)\n"
    "                       [the nameservers of /etc/resolv.conf]\n"
    "  --egress-pool CIDR   IPv4 pool of the jobs' /30 subnets [100.96.0.0/16]\n"
    "  --egress-state-dir DIR\n"
    "                       where the pool's leases are kept [/run/jobcell/egress]\n"
    "  --cgroup-parent PATH nest the sandbox's cgroups under PATH instead of our own\n"
    "  --slot N             host uid range to use (uid 1879048192 + N*65536 ...) [0]\n"
    "Output:\n"
    "  --json               print the result record as JSON (else a one-line summary)\n"
    "  --timings            also print where the start-up time went\n"
    "  --cleanup            remove cgroups a previous jobcell left behind, then exit\n"
    "\n"
    "Exit status: the command's; 128+N when a signal N killed it; 125 when the sandbox\n"
    "could not be set up; 2 for bad options.\n";

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *errbuf, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

enum {
    OPT_MEMORY = 256,
    OPT_PIDS,
    OPT_CPU,
    OPT_TIMEOUT,
    OPT_GRACE,
    OPT_TMP,
    OPT_WORKSPACE,
    OPT_OUTPUT,
    OPT_PROFILE,
    OPT_ROOTFS,
    OPT_BIND,
    OPT_ENV,
    OPT_SDK,
    OPT_PROXY,
    OPT_CGROUP_PARENT,
    OPT_SLOT,
    OPT_JSON,
    OPT_TIMINGS,
    OPT_CLEANUP,
    OPT_HELP,
    OPT_NETWORK,
    OPT_ALLOW,
    OPT_ALLOW_PRIVATE,
    OPT_DENY_ALWAYS,
    OPT_DNS,
    OPT_EGRESS_POOL,
    OPT_EGRESS_STATE,
};

static const struct option options[] = {
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"pids", required_argument, NULL, OPT_PIDS},
    {"cpu", required_argument, NULL, OPT_CPU},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"kill-grace", required_argument, NULL, OPT_GRACE},
    {"tmp-mb", required_argument, NULL, OPT_TMP},
    {"workspace-mb", required_argument, NULL, OPT_WORKSPACE},
    {"output-mb", required_argument, NULL, OPT_OUTPUT},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"rootfs", required_argument, NULL, OPT_ROOTFS},
    {"bind", required_argument, NULL, OPT_BIND},
    {"env", required_argument, NULL, OPT_ENV},
    {"sdk-dir", required_argument, NULL, OPT_SDK},
    {"runtime-proxy", required_argument, NULL, OPT_PROXY},
    {"cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT},
    {"slot", required_argument, NULL, OPT_SLOT},
    {"json", no_argument, NULL, OPT_JSON},
    {"timings", no_argument, NULL, OPT_TIMINGS},
    {"cleanup", no_argument, NULL, OPT_CLEANUP},
    {"help", no_argument, NULL, OPT_HELP},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"allow-private", required_argument, NULL, OPT_ALLOW_PRIVATE},
    {"deny-always", required_argument, NULL, OPT_DENY_ALWAYS},
    {"dns", required_argument, NULL, OPT_DNS},
    {"egress-pool", required_argument, NULL, OPT_EGRESS_POOL},
    {"egress-state-dir", required_argument, NULL, OPT_EGRESS_STATE},
    {NULL, 0, NULL, 0},
};

static int parse_bind(jc_run_options *o, const char *arg, char *errbuf, size_t errlen) {
    if (o->n_binds >= JC_RUN_MAX_BINDS)
        return fail(errbuf, errlen, "--bind: at most %d binds", JC_RUN_MAX_BINDS);
    const char *colon = strchr(arg, ':');
    if (!colon || colon == arg)
        return fail(errbuf, errlen, "--bind %s: expected SRC:DST or SRC:DST:ro", arg);
    const char *dst = colon + 1;
    const char *colon2 = strchr(dst, ':');
    bool ro = false;
    size_t dst_len = strlen(dst);
    if (colon2) {
        if (strcmp(colon2, ":ro") != 0)
            return fail(errbuf, errlen, "--bind %s: the only flag after DST is :ro", arg);
        ro = true;
        dst_len = (size_t)(colon2 - dst);
    }
    size_t src_len = (size_t)(colon - arg);
    char *src_buf = o->bind_storage[o->n_binds][0], *dst_buf = o->bind_storage[o->n_binds][1];
    if (src_len >= 4096 || dst_len >= 4096 || dst_len == 0)
        return fail(errbuf, errlen, "--bind %s: path too long or empty", arg);
    memcpy(src_buf, arg, src_len);
    src_buf[src_len] = '\0';
    memcpy(dst_buf, dst, dst_len);
    dst_buf[dst_len] = '\0';
    if (src_buf[0] != '/' || dst_buf[0] != '/')
        return fail(errbuf, errlen, "--bind %s: SRC and DST must be absolute paths", arg);
    o->binds[o->n_binds++] = (jc_sandbox_bind){.src = src_buf, .dst = dst_buf, .readonly = ro};
    return 0;
}

static int parse_proxy(jc_run_options *o, const char *arg, char *errbuf, size_t errlen) {
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1])
        return fail(errbuf, errlen, "--runtime-proxy %s: expected HOST:PORT", arg);
    int64_t port;
    if (parse_int(colon + 1, 1, 65535, &port) < 0)
        return fail(errbuf, errlen, "--runtime-proxy %s: the port must be 1-65535", arg);
    size_t host_len = (size_t)(colon - arg);
    const char *host = arg;
    if (host[0] == '[' && host_len >= 2 && host[host_len - 1] == ']') { /* [::1]:8080 */
        host++;
        host_len -= 2;
    }
    if (host_len == 0 || host_len >= sizeof(o->proxy_host_buf))
        return fail(errbuf, errlen, "--runtime-proxy %s: bad host", arg);
    memcpy(o->proxy_host_buf, host, host_len);
    o->proxy_host_buf[host_len] = '\0';
    o->proxy_host = o->proxy_host_buf;
    o->proxy_port = colon + 1;
    return 0;
}

int jc_run_options_parse(int argc, char **argv, jc_run_options *o, char *errbuf, size_t errlen) {
    memset(o, 0, sizeof(*o));
    optind = 0; /* reset getopt: "+" stops at the first operand (the command) */
    opterr = 0;
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, "+h", options, &idx)) != -1) {
        const char *a = optarg;
        int64_t v;
        switch (c) {
        case OPT_MEMORY:
        case OPT_PIDS:
        case OPT_TIMEOUT:
        case OPT_GRACE:
        case OPT_TMP:
        case OPT_WORKSPACE:
        case OPT_OUTPUT:
            if (parse_int(a, c == OPT_GRACE ? 0 : 1, INT32_MAX, &v) < 0)
                return fail(errbuf, errlen, "--%s %s: expected a whole number%s", options[idx].name,
                            a, c == OPT_GRACE ? "" : " above 0");
            if (c == OPT_MEMORY)
                o->limits.memory_mb = v;
            else if (c == OPT_PIDS)
                o->limits.pids = v;
            else if (c == OPT_TIMEOUT)
                o->limits.timeout_s = v;
            else if (c == OPT_GRACE)
                o->limits.kill_grace_s = v == 0 ? -1 : v;
            else if (c == OPT_TMP)
                o->limits.tmp_mb = v;
            else if (c == OPT_WORKSPACE)
                o->limits.workspace_mb = v;
            else
                o->limits.output_mb = v;
            break;
        case OPT_CPU: {
            char *end;
            errno = 0;
            double d = strtod(a, &end);
            if (errno || end == a || *end || !isfinite(d) || d <= 0)
                return fail(errbuf, errlen, "--cpu %s: expected a number of cores, e.g. 0.5", a);
            o->limits.cpu = d;
            break;
        }
        case OPT_PROFILE: o->profile = a; break;
        case OPT_ROOTFS: o->rootfs = a; break;
        case OPT_SDK: o->sdk_dir = a; break;
        case OPT_CGROUP_PARENT: o->cgroup_parent = a; break;
        case OPT_BIND:
            if (parse_bind(o, a, errbuf, errlen) < 0)
                return -1;
            break;
        case OPT_ENV:
            if (o->n_env >= JC_RUN_MAX_ENV)
                return fail(errbuf, errlen, "--env: at most %d variables", JC_RUN_MAX_ENV);
            if (!strchr(a, '=') || a[0] == '=')
                return fail(errbuf, errlen, "--env %s: expected NAME=VALUE", a);
            o->env[o->n_env++] = a;
            break;
        case OPT_PROXY:
            if (parse_proxy(o, a, errbuf, errlen) < 0)
                return -1;
            break;
        case OPT_SLOT:
            if (parse_int(a, 0, 65535, &v) < 0)
                return fail(errbuf, errlen, "--slot %s: expected 0-65535", a);
            o->slot = (unsigned)v;
            break;
        case OPT_NETWORK:
            if (!strcmp(a, "egress"))
                o->egress = true;
            else if (!strcmp(a, "none"))
                o->egress = false;
            else
                return fail(errbuf, errlen, "--network %s: expected none or egress", a);
            break;
        case OPT_ALLOW:
        case OPT_ALLOW_PRIVATE:
        case OPT_DENY_ALWAYS: {
            jc_egress_rule *list = c == OPT_ALLOW           ? o->allow
                                   : c == OPT_ALLOW_PRIVATE ? o->allow_private
                                                            : o->deny_always;
            size_t *n = c == OPT_ALLOW           ? &o->n_allow
                        : c == OPT_ALLOW_PRIVATE ? &o->n_allow_private
                                                 : &o->n_deny_always;
            const char *name = c == OPT_ALLOW           ? "allow"
                               : c == OPT_ALLOW_PRIVATE ? "allow-private"
                                                        : "deny-always";
            if (*n >= JC_RUN_MAX_ALLOW)
                return fail(errbuf, errlen, "--%s: at most %d", name, JC_RUN_MAX_ALLOW);
            jc_err perr = {0};
            int prc = c == OPT_ALLOW ? jc_egress_rule_parse(a, &list[*n], &perr)
                                     : jc_egress_cidr_parse(a, &list[*n], &perr);
            if (prc < 0)
                return fail(errbuf, errlen, "--%s: %s", name, perr.msg);
            (*n)++;
            break;
        }
        case OPT_DNS:
            if (o->n_dns >= JC_RUN_MAX_ALLOW)
                return fail(errbuf, errlen, "--dns: at most %d", JC_RUN_MAX_ALLOW);
            o->dns[o->n_dns++] = a;
            break;
        case OPT_EGRESS_POOL: o->egress_pool = a; break;
        case OPT_EGRESS_STATE: o->egress_state_dir = a; break;
        case OPT_JSON: o->json = true; break;
        case OPT_TIMINGS: o->timings = true; break;
        case OPT_CLEANUP: o->cleanup = true; break;
        case 'h':
        case OPT_HELP: fputs(jc_run_usage, stdout); return 1;
        default:
            for (const struct option *op = options; optopt && op->name; op++)
                if (op->val == optopt)
                    return fail(errbuf, errlen, "--%s needs a value", op->name);
            if (optopt > 0 && optopt < 256)
                return fail(errbuf, errlen, "unknown option -%c", optopt);
            return fail(errbuf, errlen, "unknown option %s", argv[optind - 1]);
        }
    }
    o->env[o->n_env] = NULL;
    if (o->cleanup) {
        if (optind < argc)
            return fail(errbuf, errlen, "--cleanup takes no command");
        return 0;
    }
    if (!o->egress && o->n_allow)
        return fail(errbuf, errlen, "--allow needs --network egress");
    if (optind >= argc)
        return fail(errbuf, errlen, "no command given: jobcell run [OPTIONS] -- COMMAND [ARG...]");
    o->argv = argv + optind;
    return 0;
}
