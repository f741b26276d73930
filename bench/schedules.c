/* bench/schedules: the scheduler with many schedules due in the same minute.
 *
 *   schedules [--count N] [--idle-seconds S] [--dir DIR]
 *
 * 1. Creates N every-minute schedules in a fresh SQLite store under DIR (default /tmp),
 *    all due at the same tick (2030-01-01T00:01:00Z, an injected clock).
 * 2. Runs one scheduler pass at that tick and reports the time from the tick to all N
 *    executions queued (each tick is its own transaction: job + execution + run record +
 *    schedule advance), then checks that exactly N executions are queued.
 * 3. Starts the real clock thread with those N schedules (next due a minute later in 2030,
 *    so nothing is due in real time) and reports the process CPU time used over S seconds
 *    of idling. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "jobcell/io.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "schedules.h"

#define TICK 1893456060000LL /* 2030-01-01T00:01:00Z */

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    long count = 10000, idle = 20;
    const char *dir = "/tmp";
    static const struct option opts[] = {{"count", required_argument, NULL, 'n'},
                                         {"idle-seconds", required_argument, NULL, 'i'},
                                         {"dir", required_argument, NULL, 'd'},
                                         {0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'n')
            count = strtol(optarg, NULL, 10);
        else if (o == 'i')
            idle = strtol(optarg, NULL, 10);
        else if (o == 'd')
            dir = optarg;
        else
            return 2;
    }
    if (count < 1 || count > 1000000 || idle < 0 || idle > 3600) {
        fprintf(stderr,
                "usage: schedules [--count 1-1000000] [--idle-seconds 0-3600] [--dir DIR]\n");
        return 2;
    }
    jc_log_set_level(JC_LOG_ERROR);
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s/jc-bench-sched-XXXXXX", dir);
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char path[600];
    snprintf(path, sizeof(path), "%s/store.db", tmp);
    jc_err err;
    jc_store_options so = {.path = path, .busy_timeout_ms = 10000, .kill_grace_s = 5};
    jc_store *st = jc_store_open(&so, &err);
    if (!st) {
        fprintf(stderr, "store: %s\n", err.msg);
        return 1;
    }
    json_t *job =
        json_pack("{s:s, s:s, s:s, s:i, s:i, s:{s:i}}", "name", "bench", "runtime", "bash",
                  "script", "true", "priority", 0, "timeout_s", 60, "resources", "output_mb", 1);
    int64_t c0 = jc_time_mono_ns();
    for (long i = 0; i < count; i++) {
        jc_schedule s = {.job = job, .created_at = TICK - 30000, .updated_at = TICK - 30000};
        if (jc_random_id("sch_", s.id, sizeof(s.id), &err) < 0)
            return 1;
        snprintf(s.owner, sizeof(s.owner), "user%ld", i % 10); /* ≤ 10,000 per owner */
        snprintf(s.name, sizeof(s.name), "bench %ld", i);
        snprintf(s.cron, sizeof(s.cron), "* * * * *");
        snprintf(s.timezone, sizeof(s.timezone), "UTC");
        s.overlap = JC_OVERLAP_ALLOW;
        if (jc_schedule_next(&s, TICK - 30000, &s.next_tick, &s.next_run_at, &err) < 0 ||
            jc_store_schedule_create(st, &s, &err) < 0) {
            fprintf(stderr, "create: %s\n", err.msg);
            return 1;
        }
    }
    double create_s = (double)(jc_time_mono_ns() - c0) / 1e9;
    printf("created %ld schedules in %.2f s (%.0f per second)\n", count, create_s,
           (double)count / create_s);

    int64_t t0 = jc_time_mono_ns();
    double cpu0 = cpu_seconds();
    jc_scheduler_pass p;
    if (jc_scheduler_run(st, TICK, &p, &err) < 0) {
        fprintf(stderr, "pass: %s\n", err.msg);
        return 1;
    }
    double fire_s = (double)(jc_time_mono_ns() - t0) / 1e9;
    double fire_cpu = cpu_seconds() - cpu0;
    int64_t counts[JC_EXE_STATUS_COUNT];
    if (jc_store_execution_counts(st, counts, &err) < 0) {
        fprintf(stderr, "counts: %s\n", err.msg);
        return 1;
    }
    printf("tick -> all executions queued: %ld schedules fired in %.3f s (%.0f ticks per "
           "second, %.2f ms per tick, CPU %.2f s); queued executions: %" PRId64 "%s\n",
           count, fire_s, (double)count / fire_s, fire_s * 1000 / (double)count, fire_cpu,
           counts[JC_EXE_QUEUED],
           counts[JC_EXE_QUEUED] == count && (long)p.fired == count ? "" : "  MISMATCH");

    if (idle > 0) {
        jc_api api = {.store = st};
        if (jc_scheduler_start(&api, &err) < 0) {
            fprintf(stderr, "scheduler: %s\n", err.msg);
            return 1;
        }
        sleep(1); /* the first pass (nothing due) and the first sleep */
        double i0 = cpu_seconds();
        int64_t w0 = jc_time_mono_ns();
        sleep((unsigned)idle);
        double used = cpu_seconds() - i0;
        double wall = (double)(jc_time_mono_ns() - w0) / 1e9;
        jc_scheduler_stop();
        printf("idle with %ld schedules: %.4f s CPU over %.1f s (%.3f%% of one core)\n", count,
               used, wall, 100.0 * used / wall);
    }
    json_decref(job);
    jc_store_close(st);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char f[700];
        snprintf(f, sizeof(f), "%s%s", path, suffix[i]);
        unlink(f);
    }
    rmdir(tmp);
    return counts[JC_EXE_QUEUED] == count ? 0 : 1;
}
