/* 35. Fill /tmp and /workspace (sizes within memory_mb) → ENOSPC at the limit; host disk
 * unchanged. The runner passes the sizes it gave (JC_PROBE_TMP_MB, JC_PROBE_WORKSPACE_MB). */
#include <fcntl.h>
#include <signal.h>

#include "../probe.h"

/* Write files of file_mb each until a write fails; return the bytes written, *err the
 * errno of the failure. */
static long long fill(const char *dir, int file_mb, int *err) {
    static char block[65536];
    memset(block, 'j', sizeof(block));
    long long total = 0;
    *err = 0;
    for (int f = 0; f < 1024 && !*err; f++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/jcprobe-fill-%d", dir, f);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            *err = errno;
            break;
        }
        for (long long w = 0; w < (long long)file_mb << 20;) {
            ssize_t n = write(fd, block, sizeof(block));
            if (n < 0) {
                *err = errno;
                break;
            }
            w += n;
            total += n;
        }
        close(fd);
    }
    return total;
}

static void check(const char *dir, int limit_mb, int file_mb) {
    int e = 0;
    long long total = fill(dir, file_mb, &e);
    long long limit = (long long)limit_mb << 20;
    if (e != ENOSPC)
        probe_escape("%s: writing stopped with %s after %lld bytes, expected ENOSPC", dir,
                     errno_name(e), total);
    else if (total > limit || total < limit - (2LL << 20))
        probe_escape("%s: ENOSPC after %lld bytes, limit %lld", dir, total, limit);
    else
        probe_note("%s: ENOSPC after %lld bytes (limit %d MiB)", dir, total, limit_mb);
}

int main(void) {
    probe_begin(35, "fill-tmpfs");
    signal(SIGXFSZ, SIG_IGN); /* an RLIMIT_FSIZE hit is then EFBIG, which would show */
    const char *t = getenv("JC_PROBE_TMP_MB"), *w = getenv("JC_PROBE_WORKSPACE_MB");
    if (!t || !w) {
        probe_escape("JC_PROBE_TMP_MB / JC_PROBE_WORKSPACE_MB not set");
        return probe_end();
    }
    check("/tmp", atoi(t), 4);
    check("/workspace", atoi(w), 4);
    return probe_end();
}
