/* 19. perf_event_open → EPERM. */
#include <linux/perf_event.h>
#include <sys/syscall.h>

#include "../probe.h"

int main(void) {
    probe_begin(19, "perf-event-open");
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.exclude_kernel = 1;
    EXPECT_FAIL("perf_event_open(self, sw clock)",
                syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0UL), EPERM);
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_CPU_CYCLES;
    attr.exclude_kernel = 0;
    EXPECT_FAIL("perf_event_open(all cpus, hw cycles)",
                syscall(SYS_perf_event_open, &attr, -1, 0, -1, 0UL), EPERM);
    return probe_end();
}
