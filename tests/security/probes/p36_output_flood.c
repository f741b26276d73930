/* 36. Write more output than the cap → truncated at the cap, job still accounted. Writes
 * JC_PROBE_OUTPUT_MB MiB to stdout and exits 0; every write must succeed (the engine keeps
 * draining after the cap). The runner checks the bytes it received and the result record. */
#include "../probe.h"

int main(void) {
    probe_begin(36, "output-flood");
    const char *mb = getenv("JC_PROBE_OUTPUT_MB");
    long long want = (long long)(mb ? atoi(mb) : 20) << 20;
    static char block[65536];
    memset(block, 'o', sizeof(block));
    block[sizeof(block) - 1] = '\n';
    for (long long done = 0; done < want;) {
        ssize_t n = write(1, block, sizeof(block));
        if (n < 0) {
            fprintf(stderr, "PROBE-NOTE write failed after %lld bytes: %s\n", done,
                    errno_name(errno));
            return 3;
        }
        done += n;
    }
    return 0;
}
