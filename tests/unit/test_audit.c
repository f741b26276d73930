/* Unit tests of the audit trail: the store operations (append, filters, paging, bounded
 * prune), the queue (drops counted when full, never blocking), the aggregation of machine
 * successes, and the sealed-value pages of rewrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "jobcell/io.h"
#include "store_audit.h"
#include "store_sealed.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    jc_store *st;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/jc-audit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
    jc_store_options o = {.path = f->path, .busy_timeout_ms = 2000};
    jc_err err;
    f->st = jc_store_open(&o, &err);
    assert_non_null(f->st);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    jc_store_close(f->st);
    char p[160];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static jc_audit_event event(int64_t at, const char *kind, const char *actor_type, const char *actor,
                            const char *outcome) {
    jc_audit_event e;
    memset(&e, 0, sizeof(e));
    e.at = at;
    JC_AUDIT_SET(&e, kind, kind);
    JC_AUDIT_SET(&e, actor_type, actor_type);
    JC_AUDIT_SET(&e, actor, actor);
    JC_AUDIT_SET(&e, scheme, "token");
    JC_AUDIT_SET(&e, group, "jobs");
    JC_AUDIT_SET(&e, outcome, outcome);
    JC_AUDIT_SET(&e, reason, "ok");
    JC_AUDIT_SET(&e, remote, "127.0.0.1");
    e.status = 200;
    e.latency_us = 5;
    return e;
}

static size_t count_rows(jc_store *st, const jc_audit_query *q) {
    jc_audit_event *v;
    size_t n, total = 0;
    char *next = NULL;
    jc_audit_query page = *q;
    page.limit = 1000;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(jc_store_audit_query(st, &page, &v, &n, &next, NULL), 0);
        total += n;
        free(v);
        if (!next)
            break;
        static char cursor[32];
        snprintf(cursor, sizeof(cursor), "%s", next);
        free(next);
        next = NULL;
        page.cursor = cursor;
    }
    return total;
}

static void test_store_filters_and_paging(void **state) {
    fixture *f = *state;
    jc_audit_event ev[6] = {
        event(1000, "auth", "user", "alice", "success"),
        event(2000, "auth", "unknown", "unknown", "failure"),
        event(3000, "job_submit", "user", "alice", "success"),
        event(4000, "job_cancel", "user", "bob", "error"),
        event(5000, "auth", "user", "bob", "denied"),
        event(6000, "variable_write", "execution", "exe_x", "success"),
    };
    assert_int_equal(jc_store_audit_append(f->st, ev, 6, NULL), 0);
    jc_audit_query q = {.limit = 100};
    assert_int_equal(count_rows(f->st, &q), 6);
    q.actor = "alice";
    assert_int_equal(count_rows(f->st, &q), 2);
    q.actor = NULL;
    q.outcome = "failure";
    assert_int_equal(count_rows(f->st, &q), 1);
    q.outcome = NULL;
    q.since = 4000;
    assert_int_equal(count_rows(f->st, &q), 3);
    q.since = 0;
    q.kind = "auth";
    assert_int_equal(count_rows(f->st, &q), 3);

    /* newest first, two per page, the cursor continues strictly older */
    jc_audit_query p = {.limit = 2};
    jc_audit_event *v;
    size_t n;
    char *next = NULL;
    assert_int_equal(jc_store_audit_query(f->st, &p, &v, &n, &next, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].at, 6000);
    assert_string_equal(v[0].actor, "exe_x");
    assert_string_equal(v[1].kind, "auth");
    assert_string_equal(v[1].outcome, "denied");
    assert_int_equal(v[1].count, 1);
    assert_non_null(next);
    p.cursor = next;
    jc_audit_event *w;
    char *next2 = NULL;
    assert_int_equal(jc_store_audit_query(f->st, &p, &w, &n, &next2, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(w[0].at, 4000);
    free(w);
    free(next2);
    free(next);
    free(v);

    jc_err err;
    p.cursor = "abc";
    assert_int_equal(jc_store_audit_query(f->st, &p, &v, &n, &next, &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
    assert_string_equal(err.field, "cursor");
}

static void test_prune_is_bounded(void **state) {
    fixture *f = *state;
    jc_audit_event ev[10];
    for (int i = 0; i < 10; i++)
        ev[i] = event(1000 + i, "auth", "user", "alice", "success");
    assert_int_equal(jc_store_audit_append(f->st, ev, 10, NULL), 0);
    size_t deleted = 0;
    /* 8 are older than 1008; at most 3 go per call */
    assert_int_equal(jc_store_audit_prune(f->st, 1008, 3, &deleted, NULL), 0);
    assert_int_equal(deleted, 3);
    jc_audit_query q = {.limit = 100};
    assert_int_equal(count_rows(f->st, &q), 7);
    assert_int_equal(jc_store_audit_prune(f->st, 1008, 100, &deleted, NULL), 0);
    assert_int_equal(deleted, 5);
    assert_int_equal(count_rows(f->st, &q), 2);
    q.since = 1008;
    assert_int_equal(count_rows(f->st, &q), 2); /* the two newest stayed */
}

static uint64_t metric(const char *text, const char *name) {
    const char *p = text;
    size_t len = strlen(name);
    while ((p = strstr(p, name))) {
        if (p[len] == ' ' && (p == text || p[-1] == '\n'))
            return strtoull(p + len + 1, NULL, 10);
        p += len;
    }
    fail_msg("no metric %s", name);
    return 0;
}

static void test_queue_overflow_counts_drops(void **state) {
    fixture *f = *state;
    jc_audit *a = jc_audit_start(f->st, 16, 0, NULL);
    assert_non_null(a);
    const int total = 20000;
    int accepted = 0;
    int64_t t0 = jc_time_mono_ms();
    for (int i = 0; i < total; i++) {
        jc_audit_event e = event(0, "job_submit", "user", "alice", "success");
        if (jc_audit_emit(a, &e))
            accepted++;
    }
    int64_t took = jc_time_mono_ms() - t0;
    (void)took; /* never asserted: emitting must not wait for the store, see the drops */
    jc_audit_flush(a, 10000);
    char *text = jc_audit_metrics_text(a);
    assert_non_null(text);
    uint64_t dropped = metric(text, "jobcell_audit_dropped_total");
    uint64_t written = metric(text, "jobcell_audit_written_total");
    free(text);
    assert_true(dropped > 0); /* 20,000 events into 16 slots: the writer cannot keep up */
    assert_int_equal(dropped + (uint64_t)accepted, (uint64_t)total);
    assert_int_equal(written, (uint64_t)accepted);
    jc_audit_stop(a);
    jc_audit_query q = {.limit = 1000};
    assert_int_equal(count_rows(f->st, &q), (size_t)accepted);
    assert_false(jc_audit_emit(NULL, &(jc_audit_event){0}));
}

static void test_machine_successes_aggregate(void **state) {
    fixture *f = *state;
    jc_audit *a = jc_audit_start(f->st, 4096, 3600, NULL);
    assert_non_null(a);
    for (int i = 0; i < 100; i++) {
        jc_audit_event e = event(0, "auth", "orchestrator", "orc-a", "success");
        e.latency_us = i % 2 ? 10 : 30;
        assert_true(jc_audit_emit(a, &e));
    }
    jc_audit_event fail = event(0, "auth", "unknown", "unknown", "failure");
    assert_true(jc_audit_emit(a, &fail));
    jc_audit_event op = event(0, "variable_write", "execution", "exe_1", "success");
    assert_true(jc_audit_emit(a, &op));
    jc_audit_stop(a); /* writes the open aggregate */
    jc_audit_query q = {.limit = 100, .actor = "orc-a"};
    jc_audit_event *v;
    size_t n;
    char *next;
    assert_int_equal(jc_store_audit_query(f->st, &q, &v, &n, &next, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].count, 100);
    assert_int_equal(v[0].latency_us, 20);
    free(v);
    jc_audit_query all = {.limit = 100};
    assert_int_equal(count_rows(f->st, &all), 3); /* aggregate + failure + data operation */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_filters_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_overflow_counts_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_machine_successes_aggregate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
