/* 34. Memory hog → killed, reason "oom" (the runner checks the result record); host
 * unaffected. Touches up to 2 GiB in 16 MiB steps; prints ESCAPED only if it survives. */
#include <sys/mman.h>

#include "../probe.h"

int main(void) {
    probe_begin(34, "memory-hog");
    const size_t step = 16u << 20;
    size_t total = 0;
    for (int i = 0; i < 128; i++) {
        char *m = mmap(NULL, step, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            probe_escape("mmap failed with %s after %zu MiB instead of an OOM kill",
                         errno_name(errno), total >> 20);
            return probe_end();
        }
        for (size_t k = 0; k < step; k += 4096)
            m[k] = (char)k;
        total += step;
    }
    probe_escape("touched %zu MiB and was not killed", total >> 20);
    return probe_end();
}
