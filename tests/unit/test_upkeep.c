/* Unit tests of retention, maintenance leases, security signals and the detection scan
 * (runtime-api/store/store_upkeep.h, runtime-api/maintenance.c, runtime-api/signals.c) on
 * a temporary SQLite file, with explicit times (the store takes `now` from its caller)
 * and the server's test clock for the maintenance tick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "api.h"
#include "jobcell/random.h"
#include "maintenance.h"
#include "store.h"
#include "store_audit.h"
#include "store_upkeep.h"

#define DAY 86400000LL
#define MIN 60000LL

typedef struct fixture {
    char dir[64];
    char path[128];
    char clock[128];
    jc_store *st;
    jc_api_config cfg;
    jc_api api;
    int64_t now;
} fixture;

static void set_clock(fixture *f, int64_t ms) {
    FILE *c = fopen(f->clock, "w");
    assert_non_null(c);
    fprintf(c, "%lld\n", (long long)ms);
    fclose(c);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/jc-upkeep-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
    snprintf(f->clock, sizeof(f->clock), "%s/clock", f->dir);
    jc_store_options o = {.path = f->path, .busy_timeout_ms = 2000, .kill_grace_s = 5};
    jc_err err;
    f->st = jc_store_open(&o, &err);
    assert_non_null(f->st);
    assert_int_equal(jc_config_init(&jc_api_config_schema, &f->cfg, &err), 0);
    f->api.cfg = &f->cfg;
    f->api.store = f->st;
    f->now = 1800000000000;
    set_clock(f, f->now);
    setenv("JOBCELL_TEST_CLOCK_FILE", f->clock, 1);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    jc_store_close(f->st);
    jc_config_free(&jc_api_config_schema, &f->cfg);
    char p[160];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    unlink(f->clock);
    rmdir(f->dir);
    unsetenv("JOBCELL_TEST_CLOCK_FILE");
    free(f);
    return 0;
}

/* A job created at `created`; extra is more spec JSON ("" or ",\"retention_days\":1"). */
static void add_job(fixture *f, const char *owner, int64_t created, const char *extra, char *job,
                    char *exe) {
    jc_err err;
    assert_int_equal(jc_random_id("job_", job, JC_ID_MAX, &err), 0);
    assert_int_equal(jc_random_id("exe_", exe, JC_ID_MAX, &err), 0);
    char text[512];
    snprintf(text, sizeof(text),
             "{\"runtime\":\"sh\",\"script\":\"true\",\"resources\":{\"output_mb\":1},"
             "\"retry\":{\"max_attempts\":1}%s}",
             extra);
    json_t *spec = json_loads(text, 0, NULL);
    assert_non_null(spec);
    jc_job_new in = {.job_id = job,
                     .execution_id = exe,
                     .owner = owner,
                     .name = "t",
                     .spec = spec,
                     .created_at = created,
                     .timeout_s = 60};
    char *replay = NULL;
    assert_int_equal(jc_store_job_create(f->st, &in, &replay, &err), 0);
    json_decref(spec);
}

/* Claim the one queued execution as orc, start it; the lease token into lt. */
static void claim_start(fixture *f, const char *orc, int64_t at, const char *exe, char *lt) {
    jc_claim *c;
    size_t n;
    int64_t due, exp;
    jc_err err;
    assert_int_equal(jc_store_claim(f->st, orc, 1, at, 30000, &c, &n, &due, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].exe.id, exe);
    strcpy(lt, c[0].exe.lease_token);
    jc_claims_free(c, n);
    assert_int_equal(jc_store_start(f->st, exe, orc, lt, at, 30000, &exp, &err), 0);
}

/* A job that finished at `finished` with the given result record. */
static void finished_job(fixture *f, int64_t finished, const char *extra, const char *result,
                         const char *orc, char *job, char *exe) {
    add_job(f, "alice", finished - 1000, extra, job, exe);
    char lt[JC_LEASE_TOKEN_LEN + 1];
    claim_start(f, orc, finished - 900, exe, lt);
    jc_err err;
    jc_log_append la;
    assert_int_equal(jc_store_log_append(f->st, exe, orc, lt, 0, "hello\n", 6, &la, &err), 0);
    json_t *r = json_loads(result, 0, NULL);
    assert_non_null(r);
    jc_exe_status st;
    assert_int_equal(jc_store_complete(f->st, exe, orc, lt, r, finished, &st, &err), 0);
    json_decref(r);
}

static bool exe_exists(fixture *f, const char *exe) {
    jc_execution x;
    jc_err err;
    int rc = jc_store_execution_get(f->st, exe, &x, &err);
    if (rc == 0) {
        jc_execution_clear(&x);
        return true;
    }
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    return false;
}

static const char ok_result[] = "{\"reason\":\"exited\",\"exit_code\":0}";

/* ---- retention ----------------------------------------------------------------------- */

static void test_retention_exact(void **state) {
    fixture *f = *state;
    jc_err err;
    int64_t now = f->now;
    char j[8][JC_ID_MAX], e[8][JC_ID_MAX];
    /* 0: one ms past 30 days → goes; 1: exactly 30 days → stays (strictly before) */
    finished_job(f, now - 30 * DAY - 1, "", ok_result, "orc-1", j[0], e[0]);
    finished_job(f, now - 30 * DAY, "", ok_result, "orc-1", j[1], e[1]);
    /* 2: asks for 1 day, finished 1 day + 1 ms ago → goes; 3: 1 day - 1 s ago → stays */
    finished_job(f, now - DAY - 1, ",\"retention_days\":1", ok_result, "orc-1", j[2], e[2]);
    finished_job(f, now - DAY + 1000, ",\"retention_days\":1", ok_result, "orc-1", j[3], e[3]);
    /* 4: asks for 90 days (more than the server's 30 would be refused by validation; the
     * store caps it all the same) → goes at 30 */
    finished_job(f, now - 31 * DAY, ",\"retention_days\":90", ok_result, "orc-1", j[4], e[4]);
    /* 5: queued for 100 days, never finished → stays */
    add_job(f, "alice", now - 100 * DAY, "", j[5], e[5]);
    /* audit events around 90 days, idempotency records around 24 h, a very old variable */
    json_t *fields = json_pack("{s:s}", "k", "v");
    assert_int_equal(jc_store_audit(f->st, "cancel", fields, now - 90 * DAY - 1, &err), 0);
    assert_int_equal(jc_store_audit(f->st, "cancel", fields, now - 90 * DAY, &err), 0);
    assert_int_equal(jc_store_audit(f->st, "cancel", fields, now - 1, &err), 0);
    json_decref(fields);
    jc_audit_event ae[2];
    memset(ae, 0, sizeof(ae));
    for (int i = 0; i < 2; i++) {
        ae[i].at = i == 0 ? now - 90 * DAY - 1 : now - 90 * DAY;
        ae[i].count = 1;
        strcpy(ae[i].kind, "job_submit");
        strcpy(ae[i].outcome, "success");
    }
    assert_int_equal(jc_store_audit_append(f->st, ae, 2, &err), 0);
    json_t *v = json_integer(1);
    assert_int_equal(jc_store_var_put(f->st, "alice", "old", v, now - 400 * DAY, &err), 0);
    json_decref(v);
    char ij[2][JC_ID_MAX], ie[2][JC_ID_MAX];
    for (int i = 0; i < 2; i++) {
        jc_random_id("job_", ij[i], JC_ID_MAX, &err);
        jc_random_id("exe_", ie[i], JC_ID_MAX, &err);
        json_t *spec = json_pack("{s:s, s:s}", "runtime", "sh", "script", "true");
        jc_job_new in = {.job_id = ij[i],
                         .execution_id = ie[i],
                         .owner = "bob",
                         .name = "t",
                         .spec = spec,
                         .created_at = i == 0 ? now - DAY - 1 : now - DAY + 1,
                         .timeout_s = 60,
                         .idempotency_key = i == 0 ? "k-old" : "k-new",
                         .request_hash = "h",
                         .response = "{\"job_id\":\"x\"}"};
        char *replay = NULL;
        assert_int_equal(jc_store_job_create(f->st, &in, &replay, &err), 0);
        json_decref(spec);
    }
    jc_retention r;
    jc_retention_from_config(&f->cfg, &r);
    assert_int_equal(r.jobs_ms, 30 * DAY);
    assert_int_equal(r.audit_ms, 90 * DAY);
    assert_int_equal(r.idempotency_ms, DAY);

    jc_prune_counts want;
    assert_int_equal(jc_store_prune_count(f->st, &r, now, &want, &err), 0);
    assert_int_equal(want.rows[JC_KIND_JOBS], 3);
    assert_int_equal(want.executions, 3);
    assert_int_equal(want.rows[JC_KIND_LOGS], 3);
    assert_int_equal(want.rows[JC_KIND_AUDIT], 2); /* one in each audit table */
    assert_int_equal(want.rows[JC_KIND_IDEMPOTENCY], 1);

    /* batches of 2: the caller loops until a batch comes back short */
    jc_prune_counts got = {0};
    size_t units;
    int batches = 0;
    do {
        assert_int_equal(jc_store_prune_batch(f->st, JC_KIND_JOBS, &r, now, 2, &got, &units, &err),
                         0);
        batches++;
    } while (units == 2 && batches < 10);
    assert_int_equal(batches, 2);
    assert_int_equal(jc_store_prune_batch(f->st, JC_KIND_AUDIT, &r, now, 2, &got, &units, &err), 0);
    size_t deleted = 0;
    assert_int_equal(jc_store_audit_prune(f->st, now - r.audit_ms, 2, &deleted, &err), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(
        jc_store_prune_batch(f->st, JC_KIND_IDEMPOTENCY, &r, now, 2, &got, &units, &err), 0);
    assert_int_equal(got.rows[JC_KIND_JOBS], 3);
    assert_int_equal(got.executions, 3);
    assert_int_equal(got.rows[JC_KIND_LOGS], 3);
    assert_int_equal(got.rows[JC_KIND_AUDIT], 1);
    assert_int_equal(got.rows[JC_KIND_IDEMPOTENCY], 1);
    /* exactly those: */
    assert_false(exe_exists(f, e[0]));
    assert_true(exe_exists(f, e[1]));
    assert_false(exe_exists(f, e[2]));
    assert_true(exe_exists(f, e[3]));
    assert_false(exe_exists(f, e[4]));
    assert_true(exe_exists(f, e[5]));
    assert_true(exe_exists(f, ie[0])); /* the job of an expired key is not the key */
    jc_job job;
    assert_int_equal(jc_store_job_get(f->st, j[0], NULL, &job, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    assert_int_equal(jc_store_job_get(f->st, j[1], NULL, &job, &err), 0);
    jc_job_clear(&job);
    jc_log_read lr;
    assert_int_equal(jc_store_log_read(f->st, e[1], 0, 100, &lr, &err), 0);
    assert_int_equal(lr.len, 6);
    free(lr.data);
    json_t *audit = jc_store_audit_list(f->st, NULL, 10, &err);
    assert_int_equal(json_array_size(audit), 2);
    json_decref(audit);
    jc_audit_event *kept;
    size_t nkept;
    char *next = NULL;
    jc_audit_query aq = {.limit = 10};
    assert_int_equal(jc_store_audit_query(f->st, &aq, &kept, &nkept, &next, &err), 0);
    assert_int_equal(nkept, 1);
    assert_int_equal(kept[0].at, now - 90 * DAY);
    free(kept);
    free(next);
    jc_variable var;
    assert_int_equal(jc_store_var_get(f->st, "alice", "old", &var, &err), 0);
    json_decref(var.value);
    /* the key that stays still answers; the expired one is free again */
    char *replay = NULL;
    json_t *spec = json_pack("{s:s, s:s}", "runtime", "sh", "script", "true");
    char nj[JC_ID_MAX], ne[JC_ID_MAX];
    jc_random_id("job_", nj, JC_ID_MAX, &err);
    jc_random_id("exe_", ne, JC_ID_MAX, &err);
    jc_job_new again = {.job_id = nj,
                        .execution_id = ne,
                        .owner = "bob",
                        .name = "t",
                        .spec = spec,
                        .created_at = now,
                        .timeout_s = 60,
                        .idempotency_key = "k-new",
                        .request_hash = "h",
                        .response = "{}"};
    assert_int_equal(jc_store_job_create(f->st, &again, &replay, &err), 0);
    assert_non_null(replay);
    free(replay);
    again.idempotency_key = "k-old";
    replay = NULL;
    assert_int_equal(jc_store_job_create(f->st, &again, &replay, &err), 0);
    assert_null(replay);
    json_decref(spec);
    /* nothing left to count */
    assert_int_equal(jc_store_prune_count(f->st, &r, now, &want, &err), 0);
    assert_int_equal(
        want.rows[JC_KIND_JOBS] + want.rows[JC_KIND_AUDIT] + want.rows[JC_KIND_IDEMPOTENCY], 0);
    /* logs and variables are never pruned on their own */
    assert_int_equal(jc_store_prune_batch(f->st, JC_KIND_VARIABLES, &r, now, 2, &got, &units, &err),
                     -1);
    assert_int_equal(err.code, JC_E_INVALID);
}

static void test_prune_run_and_vacuum(void **state) {
    fixture *f = *state;
    jc_err err;
    char j[JC_ID_MAX], e[JC_ID_MAX];
    for (int i = 0; i < 25; i++)
        finished_job(f, f->now - 40 * DAY + i, "", ok_result, "orc-1", j, e);
    f->cfg.prune_batch_rows = 4;
    f->cfg.prune_pause_ms = 0;
    jc_prune_report rep;
    assert_int_equal(jc_prune_run(f->st, &f->cfg, f->now, NULL, &rep, &err), 0);
    assert_int_equal(rep.removed.rows[JC_KIND_JOBS], 25);
    assert_int_equal(rep.removed.executions, 25);
    /* jobs: 7 batches (6 full, one short), then one per other kind */
    assert_int_equal(rep.batches, 7 + 4);
    /* a new store is created with incremental auto-vacuum */
    assert_true(rep.vacuum_supported);
    jc_store_sizes sz;
    assert_int_equal(jc_store_measure(f->st, &sz, &err), 0);
    assert_int_equal(sz.rows[JC_KIND_JOBS], 0);
    assert_true(sz.file_bytes > 0);
    assert_true(sz.bytes[JC_KIND_JOBS] >= 0);
    /* a stop request ends a run as a failure, never as a success */
    finished_job(f, f->now - 40 * DAY, "", ok_result, "orc-1", j, e);
    volatile bool stop = true;
    assert_int_equal(jc_prune_run(f->st, &f->cfg, f->now, &stop, &rep, &err), -1);
    assert_true(exe_exists(f, e));
}

/* ---- leases -------------------------------------------------------------------------- */

static void test_task_lease(void **state) {
    fixture *f = *state;
    jc_err err;
    bool got;
    assert_int_equal(jc_store_task_acquire(f->st, "scan", "a", 1000, 500, &got, &err), 0);
    assert_true(got);
    assert_int_equal(jc_store_task_acquire(f->st, "scan", "b", 1000, 500, &got, &err), 0);
    assert_false(got);
    assert_int_equal(jc_store_task_acquire(f->st, "scan", "b", 1499, 500, &got, &err), 0);
    assert_false(got);
    assert_int_equal(jc_store_task_acquire(f->st, "scan", "b", 1500, 500, &got, &err), 0);
    assert_true(got);
    assert_int_equal(jc_store_task_acquire(f->st, "prune", "a", 1500, 500, &got, &err), 0);
    assert_true(got); /* one lease per task */
    assert_int_equal(jc_store_task_record(f->st, "scan", false, 1600, 12, "no such table", &err),
                     0);
    jc_task_state *t;
    size_t n;
    assert_int_equal(jc_store_task_list(f->st, &t, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(t[1].task, "scan");
    assert_string_equal(t[1].holder, "b");
    assert_int_equal(t[1].next_run_at, 2000);
    assert_int_equal(t[1].last_failure_at, 1600);
    assert_int_equal(t[1].last_success_at, 0);
    assert_int_equal(t[1].failures, 1);
    assert_string_equal(t[1].last_error, "no such table");
    free(t);
    assert_int_equal(jc_store_task_record(f->st, "scan", true, 1700, 3, NULL, &err), 0);
    assert_int_equal(jc_store_task_list(f->st, &t, &n, &err), 0);
    assert_int_equal(t[1].last_success_at, 1700);
    assert_string_equal(t[1].last_error, "");
    free(t);
}

/* ---- signals ------------------------------------------------------------------------- */

static void test_signal_dedup(void **state) {
    fixture *f = *state;
    jc_err err;
    bool ins;
    jc_signal s = {.at = 1000000, .count = 3};
    strcpy(s.signal, "auth_burst_address");
    strcpy(s.subject, "10.0.0.9");
    strcpy(s.detail, "10.0.0.9 burst");
    assert_int_equal(jc_store_signal_record(f->st, &s, 600000, &ins, &err), 0);
    assert_true(ins);
    s.at += 300000; /* an overlapping scan */
    assert_int_equal(jc_store_signal_record(f->st, &s, 600000, &ins, &err), 0);
    assert_false(ins);
    strcpy(s.subject, "10.0.0.10"); /* another subject */
    assert_int_equal(jc_store_signal_record(f->st, &s, 600000, &ins, &err), 0);
    assert_true(ins);
    strcpy(s.subject, "10.0.0.9");
    s.at = 1000000 + 600001; /* past the window: a new burst */
    assert_int_equal(jc_store_signal_record(f->st, &s, 600000, &ins, &err), 0);
    assert_true(ins);
    jc_signal *v;
    size_t n;
    assert_int_equal(jc_store_signal_list(f->st, 0, 0, 10, &v, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].at, 1000000);
    int64_t after = v[0].seq;
    free(v);
    assert_int_equal(jc_store_signal_list(f->st, 0, after, 10, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    free(v);
    assert_int_equal(jc_store_signal_list(f->st, 1000000 + 1, 0, 10, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    free(v);
}

/* Every rule produced by a scripted scenario, then two overlapping scans. */
static void scripted_events(fixture *f, int64_t t, char seccomp_exe[JC_ID_MAX],
                            char egress_exe[JC_ID_MAX]) {
    jc_err err;
    /* 20 failures from one address naming orchestrator host-x (the server puts the
     * claimed id in target); one execution token after its end */
    jc_audit_event ev[21];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < 21; i++) {
        ev[i].at = t - 60000 + i;
        ev[i].count = 1;
        strcpy(ev[i].kind, "auth");
        strcpy(ev[i].actor_type, "unknown");
        strcpy(ev[i].actor, "unknown");
        strcpy(ev[i].outcome, "failure");
        strcpy(ev[i].scheme, i < 20 ? "bearer" : "jwt");
        strcpy(ev[i].group, i < 20 ? "claims" : "runtime");
        strcpy(ev[i].reason, i < 20 ? "wrong_key" : "execution_not_live");
        strcpy(ev[i].remote, i < 20 ? "10.0.0.9" : "127.0.0.1");
        strcpy(ev[i].target, i < 20 ? "host-x" : "exe_gone");
        ev[i].status = 401;
    }
    assert_int_equal(jc_store_audit_append(f->st, ev, 21, &err), 0);
    /* a token created 2 minutes ago that submitted a minute after */
    jc_api_token tok = {.created_at = t - 2 * MIN};
    strcpy(tok.id, "tok_new");
    strcpy(tok.name, "n");
    strcpy(tok.user, "mallory");
    strcpy(tok.role, "user");
    assert_int_equal(jc_store_token_create(f->st, &tok, "00", &err), 0);
    assert_int_equal(jc_store_activity_submit(f->st, "tok_new", "mallory", t - MIN, &err), 0);
    /* an old token of carol: 10 submits over the last week, then 150 in the window */
    for (int i = 0; i < 10; i++)
        assert_int_equal(
            jc_store_activity_submit(f->st, "tok_carol", "carol", t - 3 * DAY + i * MIN, &err), 0);
    for (int i = 0; i < 150; i++)
        assert_int_equal(jc_store_activity_submit(f->st, "tok_carol", "carol", t - 5 * MIN, &err),
                         0);
    /* dave submits 13 per 10 minutes all week: 120 now is above token_rate_min but not
     * ten times his usual rate, so no signal */
    for (int w = 0; w < 7 * 144; w++)
        for (int i = 0; i < 13; i++)
            assert_int_equal(jc_store_activity_submit(f->st, "tok_dave", "dave",
                                                      t - 10 * MIN - 7 * DAY + w * 10 * MIN + i,
                                                      &err),
                             0);
    for (int i = 0; i < 120; i++)
        assert_int_equal(jc_store_activity_submit(f->st, "tok_dave", "dave", t - 4 * MIN, &err), 0);
    /* host-y heard from two addresses */
    assert_int_equal(jc_store_activity_orchestrator(f->st, "host-y", "10.0.0.1", t - 50000, &err),
                     0);
    assert_int_equal(jc_store_activity_orchestrator(f->st, "host-y", "10.0.0.2", t - 40000, &err),
                     0);
    assert_int_equal(jc_store_activity_orchestrator(f->st, "host-q", "10.0.0.3", t - 40000, &err),
                     0);
    /* host-z loses three leases: claimed, started, never heard from again */
    char j[JC_ID_MAX], e[JC_ID_MAX], lt[JC_LEASE_TOKEN_LEN + 1];
    for (int i = 0; i < 3; i++) {
        add_job(f, "alice", t - 200000, "", j, e);
        claim_start(f, "host-z", t - 190000, e, lt);
    }
    jc_reap_stats rs;
    assert_int_equal(jc_store_reap(f->st, t - 100000, &rs, &err), 0);
    assert_int_equal(rs.lost, 3);
    /* a seccomp kill, many denied connections, and a result without the network field */
    finished_job(f, t - 20000, "", "{\"reason\":\"signaled\",\"signal\":31}", "orc-1", j,
                 seccomp_exe);
    finished_job(f, t - 10000, "",
                 "{\"reason\":\"exited\",\"exit_code\":0,\"network\":{\"denied\":25}}", "orc-1", j,
                 egress_exe);
    finished_job(f, t - 5000, "", "{\"reason\":\"exited\",\"exit_code\":1}", "orc-1", j, e);
}

static void test_scan_rules_and_dedup(void **state) {
    fixture *f = *state;
    jc_err err;
    int64_t t = f->now;
    char sec[JC_ID_MAX], egr[JC_ID_MAX];
    scripted_events(f, t, sec, egr);
    jc_scan_report rep;
    assert_int_equal(jc_scan_run(&f->api, t, &rep, &err), 0);
    jc_signal *v;
    size_t n;
    assert_int_equal(jc_store_signal_list(f->st, 0, 0, 100, &v, &n, &err), 0);
    struct {
        const char *signal, *subject;
        int64_t count;
        bool seen;
    } want[] = {
        {"new_token_submit", "tok_new", 1, false},
        {"token_rate", "tok_carol", 150, false},
        {"auth_burst_address", "10.0.0.9", 20, false},
        {"auth_burst_orchestrator", "host-x", 20, false},
        {"token_after_end", "exe_gone", 1, false},
        {"orchestrator_addresses", "host-y", 2, false},
        {"leases_lost", "host-z", 3, false},
        {"seccomp_kill", sec, 1, false},
        {"egress_denied", egr, 25, false},
    };
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
            if (strcmp(v[i].signal, want[w].signal) == 0 &&
                strcmp(v[i].subject, want[w].subject) == 0) {
                assert_false(want[w].seen);
                assert_int_equal(v[i].count, want[w].count);
                want[w].seen = known = true;
            }
        }
        if (!known)
            fail_msg("unexpected signal %s %s", v[i].signal, v[i].subject);
        /* never a secret: the detail names the subject and a count */
        assert_non_null(strstr(v[i].detail, v[i].subject));
    }
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++)
        if (!want[w].seen)
            fail_msg("missing signal %s %s", want[w].signal, want[w].subject);
    assert_int_equal(n, 9);
    assert_int_equal(rep.recorded, 9);
    free(v);
    /* a second scan that overlaps the first window: the same events, nothing new */
    assert_int_equal(jc_scan_run(&f->api, t + 4 * MIN, &rep, &err), 0);
    assert_true(rep.hits >= 7);
    assert_int_equal(rep.recorded, 0);
    assert_int_equal(jc_store_signal_list(f->st, 0, 0, 100, &v, &n, &err), 0);
    assert_int_equal(n, 9);
    free(v);
    char *text = jc_signals_metrics_text();
    assert_non_null(strstr(text, "jobcell_signals_total{signal=\"seccomp_kill\"} 1\n"));
    free(text);
}

/* A scan whose reads fail is a failure: counted, /health degraded, until it succeeds. */
static void test_scan_failure_and_recovery(void **state) {
    fixture *f = *state;
    jc_err err;
    f->api.metrics = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    assert_int_equal(
        sqlite3_exec(db, "ALTER TABLE audit_log RENAME TO audit_hidden", NULL, NULL, NULL),
        SQLITE_OK);
    jc_scan_report rep;
    assert_int_equal(jc_scan_run(&f->api, f->now, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "no such table"));
    jc_task_run ran;
    assert_int_equal(jc_maintenance_tick(&f->api, JC_TASK_SCAN, &ran, &err), -1);
    assert_int_equal(ran, JC_TASK_RAN);
    const char *failing[JC_TASK_COUNT];
    assert_int_equal(jc_maintenance_failing(&f->api, failing, JC_TASK_COUNT), 1);
    assert_string_equal(failing[0], "scan");
    char *text = jc_maintenance_metrics_text();
    assert_non_null(strstr(text, "jobcell_maintenance_failures_total{task=\"scan\"} 1\n"));
    assert_non_null(strstr(text, "jobcell_maintenance_failing{task=\"scan\"} 1\n"));
    free(text);
    /* the same tick is not taken twice */
    assert_int_equal(jc_maintenance_tick(&f->api, JC_TASK_SCAN, &ran, &err), 0);
    assert_int_equal(ran, JC_TASK_NOT_MINE);
    /* the table comes back; the next tick succeeds and /health is ok again */
    assert_int_equal(
        sqlite3_exec(db, "ALTER TABLE audit_hidden RENAME TO audit_log", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    set_clock(f, f->now + f->cfg.scan_interval_s * 1000);
    assert_int_equal(jc_maintenance_tick(&f->api, JC_TASK_SCAN, &ran, &err), 0);
    assert_int_equal(ran, JC_TASK_RAN);
    assert_int_equal(jc_maintenance_failing(&f->api, failing, JC_TASK_COUNT), 0);
    text = jc_maintenance_metrics_text();
    assert_non_null(strstr(text, "jobcell_maintenance_failures_total{task=\"scan\"} 1\n"));
    assert_non_null(strstr(text, "jobcell_maintenance_failing{task=\"scan\"} 0\n"));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retention_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_run_and_vacuum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_rules_and_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_failure_and_recovery, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
