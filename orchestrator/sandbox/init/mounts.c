/* mounts.c: step "mounts" — the root the job sees (SANDBOX.md "The root the job sees").
 *
 * The new root is a small tmpfs mounted on <run_dir>/root in this private mount
 * namespace (every sandbox mounts its own over the same directory; none sees another's).
 * It is filled while the old root is still attached — binds need their sources, and the
 * kernel only lets a user namespace mount a new procfs while a fully visible one is in
 * its mount namespace — then pivot_root(".", ".") stacks the old root under the new one
 * and a lazy unmount detaches it. Every mount is nosuid and nodev except the device
 * binds; read-only is applied with mount_setattr(AT_RECURSIVE) so that no submount of a
 * bind stays writable. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

#define MS_SAFE (MS_NOSUID | MS_NODEV)

static void do_mount(const char *src, const char *target, const char *type, unsigned long flags,
                     const char *data) {
    if (mount(src, target, type, flags, data) < 0)
        init_fail("mounts", errno, "mount %s on /%s", type ? type : src ? src : "(none)", target);
}

static void bind_path(const char *src, const char *target) {
    if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        init_fail("mounts", errno, "bind %s on /%s", src, target);
}

/* Add attributes to a mount and, with recursive, to every mount below it. */
static void set_attr(const char *path, uint64_t attrs, bool recursive) {
    struct mount_attr attr = {.attr_set = attrs};
    if (mount_setattr(AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof(attr)) < 0)
        init_fail("mounts", errno, "make /%s read-only", path);
}

static void make_dir(const char *path, mode_t mode) {
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        init_fail("mounts", errno, "mkdir /%s", path);
}

static void make_file(const char *path, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        init_fail("mounts", errno, "create /%s", path);
    close(fd);
}

static void make_link(const char *target, const char *path) {
    if (symlink(target, path) < 0)
        init_fail("mounts", errno, "symlink /%s", path);
}

static void write_file(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                       const char *where) {
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        init_fail("mounts", errno, "create %s/%s", where, name);
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            init_fail("mounts", errno, "write %s/%s", where, name);
        p += n;
        len -= (size_t)n;
    }
    if (fchmod(fd, mode) < 0) /* the umask must not change what the job asked for */
        init_fail("mounts", errno, "chmod %s/%s", where, name);
    close(fd);
}

static void source_path(char *buf, size_t len, const init_spec *s, const char *path) {
    if ((size_t)snprintf(buf, len, "%s%s", s->rootfs, path) >= len)
        init_fail("mounts", ENAMETOOLONG, "%s%s", s->rootfs, path);
}

/* /usr and, on a merged-usr root, the /bin, /sbin, /lib* symlinks (binds otherwise). */
static void setup_usr(const init_spec *s) {
    char src[PATH_MAX];
    source_path(src, sizeof(src), s, "/usr");
    make_dir("usr", 0755);
    bind_path(src, "usr");
    if (s->sdk) {
        /* The engine never writes into the host's /usr: the mountpoint must be there. */
        struct stat st;
        if (stat("usr/local/lib/jobcell", &st) < 0 || !S_ISDIR(st.st_mode))
            init_fail("mounts", ENOENT,
                      "the SDK mountpoint /usr/local/lib/jobcell is missing in the host's "
                      "/usr (scripts/install-deps creates it)");
        bind_path(s->sdk, "usr/local/lib/jobcell");
    }
    set_attr("usr", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);

    static const char *const tops[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
    for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
        char rel[16];
        snprintf(rel, sizeof(rel), "/%s", tops[i]);
        source_path(src, sizeof(src), s, rel);
        struct stat st;
        if (lstat(src, &st) < 0)
            continue; /* absent on this root */
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(src, target, sizeof(target) - 1);
            if (n < 0)
                init_fail("mounts", errno, "readlink %s", src);
            target[n] = '\0';
            make_link(target, tops[i]);
        } else if (S_ISDIR(st.st_mode)) {
            make_dir(tops[i], 0755);
            bind_path(src, tops[i]);
            set_attr(tops[i], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);
        }
    }
}

/* Bind one host file or directory read-only when the source has it. */
static void bind_optional(const init_spec *s, const char *path, const char *target) {
    char src[PATH_MAX];
    source_path(src, sizeof(src), s, path);
    struct stat st;
    if (lstat(src, &st) < 0)
        return;
    if (S_ISLNK(st.st_mode)) {
        /* Keep the link: its target is under /usr (zoneinfo, ca-certificates). */
        char link[PATH_MAX];
        ssize_t n = readlink(src, link, sizeof(link) - 1);
        if (n < 0)
            init_fail("mounts", errno, "readlink %s", src);
        link[n] = '\0';
        make_link(link, target);
        return;
    }
    if (S_ISDIR(st.st_mode))
        make_dir(target, 0755);
    else
        make_file(target, 0444);
    bind_path(src, target);
    set_attr(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);
}

/* A generated /etc: nothing of the host's but what a program needs to run. */
static void setup_etc(const init_spec *s) {
    make_dir("etc", 0755);
    int dirfd = open("etc", O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        init_fail("mounts", errno, "open /etc");
    static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                                 "job:x:1000:1000:job:/workspace:/bin/sh\n"
                                 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    static const char group[] = "root:x:0:\njob:x:1000:\nnogroup:x:65534:\n";
    static const char nsswitch[] = "passwd: files\ngroup: files\nshadow: files\n"
                                   "hosts: files dns\nnetworks: files\nprotocols: files\n"
                                   "services: files\n";
    char hosts[256];
    int n =
        snprintf(hosts, sizeof(hosts), "127.0.0.1\tlocalhost %s\n::1\tlocalhost\n", s->hostname);
    if (n < 0 || (size_t)n >= sizeof(hosts))
        init_fail("mounts", ENAMETOOLONG, "hostname too long for /etc/hosts");
    write_file(dirfd, "passwd", passwd, sizeof(passwd) - 1, 0644, "/etc");
    write_file(dirfd, "group", group, sizeof(group) - 1, 0644, "/etc");
    write_file(dirfd, "nsswitch.conf", nsswitch, sizeof(nsswitch) - 1, 0644, "/etc");
    write_file(dirfd, "hosts", hosts, (size_t)n, 0644, "/etc");
    write_file(dirfd, "hostname", s->hostname, strlen(s->hostname), 0644, "/etc");
    /* only an egress job has a resolver: the host end of its own veth */
    if (s->resolv_conf)
        write_file(dirfd, "resolv.conf", s->resolv_conf, strlen(s->resolv_conf), 0644, "/etc");
    close(dirfd);
    bind_optional(s, "/etc/ld.so.cache", "etc/ld.so.cache");
    bind_optional(s, "/etc/localtime", "etc/localtime");
    /* Debian's /usr/bin/awk, editor, pager… are links through /etc/alternatives. */
    bind_optional(s, "/etc/alternatives", "etc/alternatives");
    char certs[PATH_MAX];
    source_path(certs, sizeof(certs), s, "/etc/ssl/certs");
    if (access(certs, F_OK) == 0) {
        make_dir("etc/ssl", 0755);
        bind_optional(s, "/etc/ssl/certs", "etc/ssl/certs");
    }
}

/* A fresh procfs with the kernel's dangerous files masked and its tunables read-only. */
static void setup_proc(void) {
    make_dir("proc", 0555);
    if (mount("proc", "proc", "proc", MS_SAFE | MS_NOEXEC, NULL) < 0) {
        if (errno == EPERM)
            init_fail("mounts", errno,
                      "mount a new /proc: refused because the host's /proc has locked "
                      "overmounts (is jobcell itself running in a container?)");
        init_fail("mounts", errno, "mount a new /proc");
    }

    /* Masking a file with a read-only bind of an empty file: reads give nothing and
     * writes fail with EROFS (a /dev/null bind would accept writes, a self-bind would
     * still read the kernel's data). The file is unlinked afterwards; the binds keep it. */
    static const char empty[] = ".jc-empty";
    make_file(empty, 0444);
    static const char *const files[] = {
        "kcore", "keys", "kallsyms", "timer_list", "sched_debug", "sysrq-trigger", "latency_stats"};
    static const char *const dirs[] = {"acpi", "scsi"};
    static const char *const readonly[] = {"sys", "bus", "fs", "irq"};
    char path[64];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "proc/%s", files[i]);
        struct stat st;
        if (lstat(path, &st) < 0)
            continue; /* this kernel lacks it */
        if (mount(empty, path, NULL, MS_BIND, NULL) < 0)
            init_fail("mounts", errno, "mask /%s", path);
        set_attr(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false);
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "proc/%s", dirs[i]);
        struct stat st;
        if (lstat(path, &st) < 0)
            continue;
        do_mount("tmpfs", path, "tmpfs", MS_SAFE | MS_NOEXEC | MS_RDONLY,
                 "size=4k,nr_inodes=1,mode=0555");
    }
    for (size_t i = 0; i < sizeof(readonly) / sizeof(readonly[0]); i++) {
        snprintf(path, sizeof(path), "proc/%s", readonly[i]);
        struct stat st;
        if (lstat(path, &st) < 0)
            continue;
        bind_path(path, path);
        set_attr(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);
    }
    if (unlink(empty) < 0)
        init_fail("mounts", errno, "unlink /%s", empty);
}

/* A minimal /dev: the harmless character devices bound from the host, a private pts. */
static void setup_dev(void) {
    make_dir("dev", 0755);
    /* nodev here too: the device nodes are binds, mounts of their own with their own flags */
    do_mount("tmpfs", "dev", "tmpfs", MS_SAFE | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64");
    static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    char src[32], dst[32];
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        snprintf(src, sizeof(src), "/dev/%s", nodes[i]);
        snprintf(dst, sizeof(dst), "dev/%s", nodes[i]);
        make_file(dst, 0666);
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
            init_fail("mounts", errno, "bind %s", src);
        set_attr(dst, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
    }
    make_dir("dev/pts", 0755);
    do_mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620");
    make_link("pts/ptmx", "dev/ptmx");
    make_dir("dev/shm", 01777);
    do_mount("tmpfs", "dev/shm", "tmpfs", MS_SAFE | MS_NOEXEC, "mode=1777,size=64m");
    make_link("/proc/self/fd", "dev/fd");
    make_link("/proc/self/fd/0", "dev/stdin");
    make_link("/proc/self/fd/1", "dev/stdout");
    make_link("/proc/self/fd/2", "dev/stderr");
    set_attr("dev", MOUNT_ATTR_RDONLY, false);
}

static void setup_scratch(const init_spec *s) {
    char opts[96];
    make_dir("tmp", 01777);
    snprintf(opts, sizeof(opts), "mode=1777,size=%llu", (unsigned long long)s->limits.tmp_bytes);
    do_mount("tmpfs", "tmp", "tmpfs", MS_SAFE, opts);

    make_dir("workspace", 0755);
    snprintf(opts, sizeof(opts), "mode=0755,uid=%d,gid=%d,size=%llu", JC_JOB_UID, JC_JOB_GID,
             (unsigned long long)s->limits.workspace_bytes);
    do_mount("tmpfs", "workspace", "tmpfs", MS_SAFE, opts);
    int dirfd = open("workspace", O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        init_fail("mounts", errno, "open /workspace");
    for (size_t i = 0; i < s->n_files; i++) {
        const init_file *f = &s->files[i];
        if (!f->name[0] || strchr(f->name, '/') || !strcmp(f->name, ".") || !strcmp(f->name, ".."))
            init_fail("mounts", EINVAL, "bad file name in /workspace");
        write_file(dirfd, f->name, f->data, f->len, f->mode, "/workspace");
        if (fchownat(dirfd, f->name, JC_JOB_UID, JC_JOB_GID, AT_SYMLINK_NOFOLLOW) < 0)
            init_fail("mounts", errno, "chown /workspace/%s", f->name);
    }
    close(dirfd);
}

/* mkdir -p of the parents of rel (a path relative to the new root). A component that is a
 * symlink is refused: the root still resolves absolute links against the host's tree
 * (/etc/localtime, the links in /node_modules), and a bind must land inside the new root. */
static void make_parents(char *rel) {
    for (char *p = strchr(rel, '/');; p = strchr(p + 1, '/')) {
        if (p)
            *p = '\0';
        struct stat st;
        if (lstat(rel, &st) == 0 && S_ISLNK(st.st_mode))
            init_fail("mounts", ELOOP, "bind target /%s is a symlink", rel);
        if (!p)
            return;
        make_dir(rel, 0755);
        *p = '/';
    }
}

/* --bind of `jobcell run` (never from a job spec). */
static void setup_binds(const init_spec *s) {
    for (size_t i = 0; i < s->n_binds; i++) {
        const init_bind *b = &s->binds[i];
        char rel[PATH_MAX];
        if (b->dst[0] != '/' || snprintf(rel, sizeof(rel), "%s", b->dst + 1) >= (int)sizeof(rel))
            init_fail("mounts", EINVAL, "bind target %s", b->dst);
        struct stat st;
        if (stat(b->src, &st) < 0)
            init_fail("mounts", errno, "bind source %s", b->src);
        make_parents(rel);
        if (S_ISDIR(st.st_mode))
            make_dir(rel, 0755);
        else if (access(rel, F_OK) < 0)
            make_file(rel, 0444);
        bind_path(b->src, rel);
        set_attr(rel, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->readonly ? MOUNT_ATTR_RDONLY : 0),
                 true);
    }
}

void init_setup_mounts(const init_spec *s) {
    /* a job must not see host mounts, nor leak its own: propagation would carry them */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        init_fail("mounts", errno, "make / private");

    char root[PATH_MAX];
    if ((size_t)snprintf(root, sizeof(root), "%s/root", s->run_dir) >= sizeof(root))
        init_fail("mounts", ENAMETOOLONG, "run directory");
    if (mount("tmpfs", root, "tmpfs", MS_SAFE, "mode=0755,size=1m,nr_inodes=4096") < 0)
        init_fail("mounts", errno, "mount the root tmpfs on %s", root);
    if (chdir(root) < 0)
        init_fail("mounts", errno, "chdir %s", root);

    setup_usr(s);
    setup_etc(s);
    setup_proc();
    setup_dev();
    setup_scratch(s);
    make_dir("node_modules", 0755);
    /* ES module imports of "jobcell" / "cronium" ignore NODE_PATH: resolve them here. */
    make_link("/usr/local/lib/jobcell/node", "node_modules/jobcell");
    make_link("/usr/local/lib/jobcell/node/cronium", "node_modules/cronium");
    setup_binds(s);

    /* pivot_root(".", "."): the old root ends up stacked under the new one at "/", and
     * the lazy unmount of "." then takes it away without needing a directory for it. */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        init_fail("mounts", errno, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        init_fail("mounts", errno, "detach the old root");
    if (chdir("/") < 0)
        init_fail("mounts", errno, "chdir /");
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    if (mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof(attr)) < 0)
        init_fail("mounts", errno, "make / read-only");
}
