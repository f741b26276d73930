/* seccomp_live: the shipped profiles, compiled and loaded for real.
 *
 * For each profile: ordinary bash, sh, python3, node, coreutils, curl and jq scripts must
 * run to completion under the filter (curl, Python and Node fetch from a small HTTP server
 * this test starts on 127.0.0.1), and every call of the dangerous list must fail with the
 * errno the profile promises. The filter is loaded exactly as the sandbox does it:
 * no_new_privs, then seccomp(SECCOMP_SET_MODE_FILTER) right before execve.
 *
 * Usage: seccomp_live PROFILE_DIR */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jobcell/seccomp.h"

static int failures, passes;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (cond)                                                                                  \
            passes++;                                                                              \
        else {                                                                                     \
            failures++;                                                                            \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static int load_filter(const jc_seccomp_filter *f) {
    struct sock_fprog prog = {.len = (unsigned short)f->len, .filter = f->insns};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* Wait for pid at most timeout_s seconds; kill it after that. Returns the wait status. */
static int wait_bounded(pid_t pid, int timeout_s) {
    int status = 0;
    for (int i = 0; i < timeout_s * 100; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fprintf(stderr, "  (timed out after %d s)\n", timeout_s);
    return status;
}

/* ---- a tiny HTTP server ------------------------------------------------------------ */

static pid_t server_pid = -1;

static int start_server(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    server_pid = fork();
    if (server_pid < 0)
        return -1;
    if (server_pid == 0) {
        alarm(300); /* never outlive the test by much, whatever happens */
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c < 0)
                continue;
            char buf[4096];
            ssize_t n = read(c, buf, sizeof(buf)); /* one read holds a small request */
            (void)n;
            static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                                        "Content-Length: 17\r\nConnection: close\r\n\r\n"
                                        "{\"hello\":\"world\"}";
            if (write(c, reply, sizeof(reply) - 1) < 0)
                _exit(1);
            close(c);
        }
    }
    close(fd);
    return 0;
}

/* ---- workloads --------------------------------------------------------------------- */

typedef struct workload {
    const char *what;
    const char *argv[8];
    const char *expect; /* substring of stdout */
} workload;

static char tmpdir[64], url[64];

static int run_workload(const jc_seccomp_filter *f, const workload *w, const char *profile) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        setenv("URL", url, 1);
        setenv("T", tmpdir, 1);
        setenv("TMPDIR", tmpdir, 1);
        setenv("HOME", tmpdir, 1);
        if (chdir(tmpdir) < 0 || load_filter(f) < 0)
            _exit(126);
        execvp(w->argv[0], (char **)w->argv);
        _exit(127);
    }
    close(out[1]);
    char buf[65536];
    size_t used = 0;
    ssize_t n;
    while (used < sizeof(buf) - 1 && (n = read(out[0], buf + used, sizeof(buf) - 1 - used)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    close(out[0]);
    int status = wait_bounded(pid, 60);
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(buf, w->expect);
    EXPECT(ok, "%s: %s: status 0x%x, stdout '%.300s' (expected '%s')", profile, w->what, status,
           buf, w->expect);
    if (ok)
        printf("  ok   %-8s %s\n", profile, w->what);
    return 0;
}

static const workload workloads[] = {
    {"bash pipeline and builtins",
     {"bash", "-c",
      "set -euo pipefail; for i in 3 1 2; do echo $i; done | sort -n | head -2 | tr '\\n' ' ';"
      " x=$(ls /usr | wc -l); [ \"$x\" -gt 0 ]; (cd /; pwd) > \"$T/p\"; read l < \"$T/p\";"
      " [ \"$l\" = / ]; sleep 0.05 & wait; cat <<EOF | grep -c here\nhere\nEOF\n"
      " trap 'echo trapped' EXIT; printf '%s\\n' \"$((6*7))\" ; [ -x /bin/sh ] && test -r "
      "/etc/passwd; echo bash-done",
      NULL},
     "bash-done"},
    {"sh script",
     {"sh", "-c", "a=$(echo x | cat); [ $a = x ]; umask 022; kill -0 $$; echo sh-ok"},
     "sh-ok"},
    {"coreutils",
     {"sh", "-c",
      "set -e; cd \"$T\"; mkdir -p d/e; echo hi > d/f; cp d/f g; mv g h; ln -s h l; readlink l;"
      " chmod 600 h; stat -c %a h; touch -d @0 h; ls -la d >/dev/null; du -s d >/dev/null;"
      " sort -u /etc/passwd | wc -l >/dev/null; head -c 64 /dev/urandom | sha256sum >/dev/null;"
      " base64 h | base64 -d; tar cf a.tar d; gzip -f a.tar; ls a.tar.gz; dd if=/dev/zero of=z"
      " bs=1k count=4 status=none; truncate -s 0 z; seq 3 | paste -sd+ | bc 2>/dev/null || "
      "expr 1 + 2; date +%s >/dev/null; timeout 5 sleep 0.01; nproc >/dev/null; id -u; mkfifo ff;"
      " rm -rf d h l z ff a.tar.gz; echo coreutils-ok",
      NULL},
     "coreutils-ok"},
    {"python3 script",
     {"/usr/bin/python3", "-c",
      "import os,json,subprocess,threading,tempfile,hashlib,time,urllib.request,asyncio,"
      "multiprocessing,socket,random\n"
      "t=threading.Thread(target=lambda:None); t.start(); t.join()\n"
      "assert subprocess.run(['echo','x'],capture_output=True).stdout==b'x\\n'\n"
      "d=tempfile.mkdtemp(); open(d+'/f','w').write('x'); os.remove(d+'/f'); os.rmdir(d)\n"
      "r=urllib.request.urlopen(os.environ['URL']).read(); assert json.loads(r)['hello']=='world'\n"
      "with multiprocessing.Pool(2) as p: assert p.map(abs,[-1,-2])==[1,2]\n"
      "asyncio.run(asyncio.sleep(0.01)); hashlib.sha256(b'x').hexdigest(); random.random()\n"
      "a,b=socket.socketpair(); a.send(b'z'); assert b.recv(1)==b'z'\n"
      "print('python-ok')",
      NULL},
     "python-ok"},
    {"node script",
     {"node", "-e",
      "const http=require('http'),fs=require('fs'),cp=require('child_process'),"
      "crypto=require('crypto'),os=require('os');"
      "fs.writeFileSync(process.env.T+'/n','x'); if(fs.readFileSync(process.env.T+'/n','utf8')"
      "!=='x') process.exit(3); crypto.randomBytes(8); os.cpus();"
      "if(cp.execSync('echo hi').toString()!=='hi\\n') process.exit(4);"
      "http.get(process.env.URL,r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{"
      "if(JSON.parse(b).hello!=='world') process.exit(5);"
      "fs.promises.readFile('/etc/hostname').then(()=>console.log('node-ok'))})})"
      ".on('error',e=>{console.error(e);process.exit(6)});",
      NULL},
     "node-ok"},
    {"curl to 127.0.0.1", {"curl", "-sS", "--max-time", "20", NULL}, "world"},
    {"curl to localhost (resolver)",
     {"sh", "-c", "curl -sS --max-time 20 \"$(echo $URL | sed s/127.0.0.1/localhost/)\""},
     "world"},
    {"jq", {"sh", "-c", "echo '{\"a\":[1,2,3]}' | jq -c '{s: (.a|add)}'"}, "{\"s\":6}"},
};

/* ---- dangerous calls --------------------------------------------------------------- */

typedef struct probe {
    const char *what;
    int expect_errno; /* 0: must not be refused by the filter (any result but EPERM) */
} probe;

static long run_probe(int i) {
    char buf[16] = {0};
    struct iovec local = {buf, sizeof(buf)}, remote = {buf, sizeof(buf)};
    switch (i) {
    case 0: return syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, getppid(), 0, 0);
    case 1: return syscall(SYS_process_vm_readv, getppid(), &local, 1, &remote, 1, 0);
    case 2: return syscall(SYS_process_vm_writev, getppid(), &local, 1, &remote, 1, 0);
    case 3: return syscall(SYS_unshare, CLONE_NEWUSER);
    case 4: return syscall(SYS_setns, 0, 0);
    case 5: return syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, NULL);
    case 6: return syscall(SYS_umount2, "/proc", 0);
    case 7: return syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, NULL, 0);
    case 8: return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    case 9: return syscall(SYS_keyctl, 0, 0, 0, 0, 0);
    case 10: return syscall(SYS_add_key, "user", "x", "y", 1, -2);
    case 11: return syscall(SYS_request_key, "user", "x", NULL, 0);
    case 12: return syscall(SYS_io_uring_setup, 1, buf);
    case 13: return syscall(SYS_userfaultfd, 0);
    case 14: return syscall(SYS_kexec_load, 0, 0, NULL, 0);
    case 15: return syscall(SYS_init_module, NULL, 0, "");
    case 16: return syscall(SYS_finit_module, -1, "", 0);
    case 17: return syscall(SYS_delete_module, "x", 0);
    case 18: {
        long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
        if (r == 0)
            _exit(0);
        return r;
    }
    case 19: {
        long r = syscall(SYS_clone, CLONE_NEWNET | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
        if (r == 0)
            _exit(0);
        return r;
    }
    case 20: {
        struct clone_args ca = {.exit_signal = SIGCHLD};
        long r = syscall(SYS_clone3, &ca, sizeof(ca));
        if (r == 0)
            _exit(0);
        return r;
    }
    case 21: return syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0);
    case 22: return syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0);
    case 23: return syscall(SYS_socket, 0x100000000ull | AF_NETLINK, SOCK_RAW, 0);
    case 24: return syscall(SYS_open_by_handle_at, -1, NULL, 0);
    case 25: return syscall(SYS_pivot_root, "/", "/");
    case 26: return syscall(SYS_personality, 0xffffffff);
    case 27: return syscall(SYS_personality, READ_IMPLIES_EXEC);
    case 28: return syscall(SYS_personality, ADDR_NO_RANDOMIZE);
    case 29: return syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0);
    case 30: {
        long r = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); /* a plain fork is fine */
        if (r == 0)
            _exit(0);
        return r;
    }
    case 31: return syscall(SYS_msgget, 0 /* IPC_PRIVATE */, 0600);
    case 32: return syscall(SYS_io_setup, 1, buf);
    }
    return -1;
}

#define NPROBES 33
static const char *const probe_names[NPROBES] = {"ptrace(PTRACE_ATTACH)",
                                                 "process_vm_readv",
                                                 "process_vm_writev",
                                                 "unshare(CLONE_NEWUSER)",
                                                 "setns",
                                                 "mount tmpfs",
                                                 "umount2 /proc",
                                                 "bpf(BPF_PROG_LOAD)",
                                                 "perf_event_open",
                                                 "keyctl",
                                                 "add_key",
                                                 "request_key",
                                                 "io_uring_setup",
                                                 "userfaultfd",
                                                 "kexec_load",
                                                 "init_module",
                                                 "finit_module",
                                                 "delete_module",
                                                 "clone(CLONE_NEWUSER)",
                                                 "clone(CLONE_NEWNET|CLONE_NEWNS)",
                                                 "clone3",
                                                 "socket(AF_NETLINK)",
                                                 "socket(AF_PACKET)",
                                                 "socket(AF_NETLINK + high bits)",
                                                 "open_by_handle_at",
                                                 "pivot_root",
                                                 "personality(query)",
                                                 "personality(READ_IMPLIES_EXEC)",
                                                 "personality(ADDR_NO_RANDOMIZE)",
                                                 "socket(AF_VSOCK)",
                                                 "clone(SIGCHLD) (plain fork)"};

/* Expected errno per profile: EPERM for the dangerous list, ENOSYS for clone3; 0 = the
 * filter lets it through (the kernel's own answer is not the filter's business). */
static int expected(const char *profile, int i) {
    bool strict = strcmp(profile, "strict") == 0;
    if (i == 20)
        return ENOSYS;
    if (i == 26 || i == 31 || i == 32) /* personality query, SysV IPC, AIO: not in strict */
        return strict ? EPERM : 0;
    if (i == 30)
        return 0;
    return EPERM;
}

static void run_probes(const jc_seccomp_filter *f, const char *profile) {
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        if (load_filter(f) < 0)
            _exit(126);
        for (int i = 0; i < NPROBES; i++) {
            errno = 0;
            long r = run_probe(i);
            int e = r < 0 ? errno : 0;
            if (write(pipefd[1], &e, sizeof(e)) != sizeof(e))
                _exit(1);
        }
        _exit(0);
    }
    close(pipefd[1]);
    for (int i = 0; i < NPROBES; i++) {
        int e = -1;
        if (read(pipefd[0], &e, sizeof(e)) != sizeof(e)) {
            EXPECT(0, "%s: probe %s gave no answer", profile, probe_names[i]);
            break;
        }
        int want = expected(profile, i);
        if (want)
            EXPECT(e == want, "%s: %s: errno %d (%s), expected %d", profile, probe_names[i], e,
                   strerror(e), want);
        else
            EXPECT(e != EPERM && e != ENOSYS, "%s: %s: refused by the filter (errno %d)", profile,
                   probe_names[i], e);
    }
    close(pipefd[0]);
    int status = wait_bounded(pid, 30);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: probe process status 0x%x", profile,
           status);
    printf("  ok   %-8s %d dangerous-call probes answered\n", profile, NPROBES);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: seccomp_live PROFILE_DIR\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/jc-seccomp-live.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    int port;
    if (start_server(&port) < 0) {
        perror("start server");
        return 1;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    static const char *const profiles[] = {"default", "strict", "network"};
    for (size_t p = 0; p < 3; p++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.json", argv[1], profiles[p]);
        jc_seccomp_filter f;
        jc_err err = {0};
        if (jc_seccomp_compile_file(path, &f, &err) < 0) {
            EXPECT(0, "%s: %s", profiles[p], err.msg);
            continue;
        }
        for (size_t w = 0; w < sizeof(workloads) / sizeof(workloads[0]); w++) {
            workload wl = workloads[w];
            if (strcmp(wl.argv[0], "curl") == 0)
                wl.argv[4] = url;
            run_workload(&f, &wl, profiles[p]);
        }
        run_probes(&f, profiles[p]);
        jc_seccomp_filter_free(&f);
    }
    kill(server_pid, SIGKILL);
    waitpid(server_pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("seccomp_live: %d checks passed, %d failed\n", passes, failures);
    return failures ? 1 : 0;
}
