/* Unit tests of the store: claim order and atomicity rules, fencing, idempotent complete,
 * log offsets and the cap, variables, tokens, idempotency, the reaper and retries.
 *
 * Run twice by ctest: on a temporary SQLite file (test_store), and on a fresh database
 * of the throwaway PostgreSQL cluster (test_store_pg, JC_TEST_PG set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobcell/random.h"
#include "pg_db.h"
#include "store.h"
#include "store_audit.h"
#include "store_creds.h"
#include "store_sealed.h"
#include "store_upkeep.h"
#include "tests/pg/pgtest.h"

typedef struct fixture {
    char dir[64];
    char path[512];
    char pgdb[64];
    jc_store *st;
    int64_t now;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/jc-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
    if (jc_pgtest_cluster())
        assert_int_equal(jc_pgtest_create(f->pgdb, f->path, sizeof(f->path)), 0);
    jc_store_options o = {.path = f->path, .busy_timeout_ms = 2000, .kill_grace_s = 5};
    jc_err err;
    f->st = jc_store_open(&o, &err);
    assert_non_null(f->st);
    assert_string_equal(jc_store_backend(f->st), jc_pgtest_cluster() ? "postgresql" : "sqlite");
    f->now = 1700000000000;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    jc_store_close(f->st);
    if (f->pgdb[0])
        jc_pgtest_drop(f->pgdb);
    char p[600];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Store a job; its spec carries retry and output_mb. Returns the execution id in exe. */
static void add_job(fixture *f, const char *owner, int priority, int64_t created, int64_t scheduled,
                    const char *retry_json, int output_mb, char *job, char *exe) {
    jc_err err;
    assert_int_equal(jc_random_id("job_", job, JC_ID_MAX, &err), 0);
    assert_int_equal(jc_random_id("exe_", exe, JC_ID_MAX, &err), 0);
    char text[512];
    snprintf(text, sizeof(text),
             "{\"runtime\":\"sh\",\"script\":\"true\",\"resources\":{\"output_mb\":%d},"
             "\"retry\":%s}",
             output_mb, retry_json ? retry_json : "{}");
    json_t *spec = json_loads(text, 0, NULL);
    assert_non_null(spec);
    jc_job_new in = {.job_id = job,
                     .execution_id = exe,
                     .owner = owner,
                     .name = "t",
                     .spec = spec,
                     .created_at = created,
                     .scheduled_for = scheduled,
                     .priority = priority,
                     .timeout_s = 60};
    char *replay = NULL;
    assert_int_equal(jc_store_job_create(f->st, &in, &replay, &err), 0);
    assert_null(replay);
    json_decref(spec);
}

static void claim_one(fixture *f, int64_t now, jc_claim **c, size_t *n) {
    jc_err err;
    int64_t due;
    assert_int_equal(jc_store_claim(f->st, "orc-1", 1, now, 30000, c, n, &due, &err), 0);
}

static void test_claim_order(void **state) {
    fixture *f = *state;
    char j[5][JC_ID_MAX], e[5][JC_ID_MAX];
    add_job(f, "u", 0, f->now, 0, NULL, 16, j[0], e[0]);                   /* plain */
    add_job(f, "u", 5, f->now + 1, 0, NULL, 16, j[1], e[1]);               /* higher priority */
    add_job(f, "u", 0, f->now + 2, f->now - 1000, NULL, 16, j[2], e[2]);   /* earlier schedule */
    add_job(f, "u", 0, f->now + 3, 0, NULL, 16, j[3], e[3]);               /* later creation */
    add_job(f, "u", 99, f->now + 4, f->now + 60000, NULL, 16, j[4], e[4]); /* future */
    const int expect[] = {1, 2, 0, 3};
    for (size_t i = 0; i < 4; i++) {
        jc_claim *c;
        size_t n;
        claim_one(f, f->now + 10, &c, &n);
        assert_int_equal(n, 1);
        assert_string_equal(c[0].exe.id, e[expect[i]]);
        assert_int_equal(c[0].exe.status, JC_EXE_CLAIMED);
        assert_int_equal(strlen(c[0].exe.lease_token), JC_LEASE_TOKEN_LEN);
        assert_int_equal(strlen(c[0].exe.lease_hash), 16);
        assert_non_null(c[0].job.spec);
        jc_claims_free(c, n);
    }
    jc_claim *c;
    size_t n;
    int64_t due;
    jc_err err;
    assert_int_equal(jc_store_claim(f->st, "orc-1", 4, f->now + 10, 30000, &c, &n, &due, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(due, f->now + 60000); /* the future one, reported for the waiter */
    jc_claims_free(c, n);
    claim_one(f, f->now + 60000, &c, &n);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].exe.id, e[4]);
    jc_claims_free(c, n);
}

static void test_fencing_and_complete(void **state) {
    fixture *f = *state;
    char j[JC_ID_MAX], e[JC_ID_MAX];
    add_job(f, "u", 0, f->now, 0, NULL, 16, j, e);
    jc_claim *c;
    size_t n;
    claim_one(f, f->now, &c, &n);
    assert_int_equal(n, 1);
    char lt[JC_LEASE_TOKEN_LEN + 1];
    strcpy(lt, c[0].exe.lease_token);
    jc_claims_free(c, n);
    jc_err err;
    int64_t exp;
    bool cancel;
    assert_int_equal(jc_store_start(f->st, e, NULL, "lt_wrong", f->now, 30000, &exp, &err), -1);
    assert_int_equal(err.code, JC_E_LEASE_LOST);
    jc_execution x;
    assert_int_equal(jc_store_execution_get(f->st, e, &x, &err), 0);
    assert_int_equal(x.status, JC_EXE_CLAIMED);
    assert_int_equal(x.deadline_at, f->now + (60 + 5 + 60) * 1000);
    jc_execution_clear(&x);
    assert_int_equal(jc_store_start(f->st, e, NULL, lt, f->now + 5, 30000, &exp, &err), 0);
    assert_int_equal(exp, f->now + 5 + 30000);
    assert_int_equal(jc_store_start(f->st, e, NULL, lt, f->now + 6, 30000, &exp, &err), 0);
    assert_int_equal(jc_store_heartbeat(f->st, e, NULL, lt, f->now + 7, 30000, &exp, &cancel, &err),
                     0);
    assert_false(cancel);
    /* the right token from another orchestrator is fenced too */
    assert_int_equal(
        jc_store_heartbeat(f->st, e, "orc-2", lt, f->now + 7, 30000, &exp, &cancel, &err), -1);
    assert_int_equal(err.code, JC_E_LEASE_LOST);
    assert_int_equal(
        jc_store_heartbeat(f->st, e, "orc-1", lt, f->now + 7, 30000, &exp, &cancel, &err), 0);
    json_t *ok = json_pack("{s:s, s:i}", "reason", "exited", "exit_code", 0);
    json_t *bad = json_pack("{s:s, s:i}", "reason", "exited", "exit_code", 1);
    jc_exe_status status;
    assert_int_equal(jc_store_complete(f->st, e, NULL, "lt_wrong", ok, f->now + 8, &status, &err),
                     -1);
    assert_int_equal(err.code, JC_E_LEASE_LOST);
    assert_int_equal(jc_store_complete(f->st, e, NULL, lt, ok, f->now + 8, &status, &err), 0);
    assert_int_equal(status, JC_EXE_SUCCEEDED);
    assert_int_equal(jc_store_complete(f->st, e, NULL, lt, bad, f->now + 9, &status, &err), 0);
    assert_int_equal(status, JC_EXE_SUCCEEDED); /* the repeat returns the stored status */
    assert_int_equal(jc_store_heartbeat(f->st, e, NULL, lt, f->now + 9, 30000, &exp, &cancel, &err),
                     -1);
    assert_int_equal(err.code, JC_E_LEASE_LOST);
    assert_int_equal(jc_store_execution_set_output(f->st, e, ok, &err), -1);
    assert_int_equal(err.code, JC_E_LEASE_LOST);
    json_decref(ok);
    json_decref(bad);
}

static void test_logs(void **state) {
    fixture *f = *state;
    char j[JC_ID_MAX], e[JC_ID_MAX];
    add_job(f, "u", 0, f->now, 0, NULL, 1, j, e);
    jc_claim *c;
    size_t n;
    claim_one(f, f->now, &c, &n);
    char lt[JC_LEASE_TOKEN_LEN + 1];
    strcpy(lt, c[0].exe.lease_token);
    jc_claims_free(c, n);
    jc_err err;
    jc_log_append a;
    assert_int_equal(jc_store_log_append(f->st, e, NULL, lt, 0, "abcdef", 6, &a, &err), 0);
    assert_int_equal(a.length, 6);
    assert_int_equal(jc_store_log_append(f->st, e, NULL, lt, 2, "cd", 2, &a, &err), 0);
    assert_int_equal(a.length, 6); /* duplicate */
    assert_int_equal(a.appended, 0);
    assert_int_equal(jc_store_log_append(f->st, e, NULL, lt, 4, "efgh", 4, &a, &err), 0);
    assert_int_equal(a.length, 8); /* the tail only */
    assert_int_equal(a.appended, 2);
    assert_int_equal(jc_store_log_append(f->st, e, NULL, lt, 10, "x", 1, &a, &err), -1);
    assert_int_equal(err.code, JC_E_RANGE);
    assert_int_equal(a.length, 8);
    jc_log_read r;
    assert_int_equal(jc_store_log_read(f->st, e, 3, 100, &r, &err), 0);
    assert_int_equal(r.len, 5);
    assert_memory_equal(r.data, "defgh", 5);
    assert_int_equal(r.length, 8);
    assert_false(r.finished);
    free(r.data);
    assert_int_equal(jc_store_log_read(f->st, e, 9, 100, &r, &err), -1);
    assert_int_equal(err.code, JC_E_RANGE);
    /* the cap: 1 MiB */
    size_t big = (1u << 20);
    char *buf = malloc(big);
    memset(buf, 'z', big);
    assert_int_equal(jc_store_log_append(f->st, e, NULL, lt, 8, buf, big, &a, &err), 0);
    assert_int_equal(a.length, 1 << 20);
    assert_true(a.truncated);
    assert_int_equal(a.appended, (1u << 20) - 8);
    assert_int_equal(jc_store_log_append(f->st, e, NULL, lt, 1 << 21, "x", 1, &a, &err), 0);
    assert_true(a.truncated); /* no 416 once truncated */
    assert_int_equal(a.length, 1 << 20);
    free(buf);
}

static void test_reaper_and_retry(void **state) {
    fixture *f = *state;
    char j[JC_ID_MAX], e[JC_ID_MAX], j2[JC_ID_MAX], e2[JC_ID_MAX];
    add_job(f, "u", 0, f->now, 0, "{\"max_attempts\":2,\"backoff_s\":10,\"backoff_max_s\":600}", 16,
            j, e);
    add_job(f, "u", -1, f->now, 0, NULL, 16, j2, e2);
    jc_claim *c;
    size_t n;
    jc_err err;
    int64_t due, exp;
    assert_int_equal(jc_store_claim(f->st, "o", 2, f->now, 1000, &c, &n, &due, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(jc_store_start(f->st, e, NULL, c[0].exe.lease_token, f->now, 1000, &exp, &err),
                     0);
    jc_claims_free(c, n);
    size_t extended;
    assert_int_equal(jc_store_extend_leases(f->st, f->now + 500, 1000, &extended, &err), 0);
    assert_int_equal(extended, 2);
    jc_reap_stats st;
    assert_int_equal(jc_store_reap(f->st, f->now + 1400, &st, &err), 0);
    assert_int_equal(st.lost + st.requeued, 0); /* extended to now + 1500 */
    assert_int_equal(jc_store_reap(f->st, f->now + 2000, &st, &err), 0);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.requeued, 1);
    assert_int_equal(st.retried, 1);
    jc_execution x;
    assert_int_equal(jc_store_execution_get(f->st, e2, &x, &err), 0);
    assert_int_equal(x.status, JC_EXE_QUEUED); /* never started: same execution, queued */
    assert_int_equal(x.attempt, 1);
    assert_string_equal(x.orchestrator_id, "");
    jc_execution_clear(&x);
    jc_execution *v;
    assert_int_equal(jc_store_execution_list(f->st, j, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].status, JC_EXE_LOST);
    assert_int_equal(v[1].attempt, 2);
    assert_int_equal(v[1].status, JC_EXE_QUEUED);
    /* backoff 10 s × U(0.5, 1) */
    assert_true(v[1].scheduled_for >= f->now + 2000 + 5000);
    assert_true(v[1].scheduled_for <= f->now + 2000 + 10000);
    jc_executions_free(v, n);
    jc_job job;
    assert_int_equal(jc_store_job_get(f->st, j, "u", &job, &err), 0);
    assert_int_equal(job.status, JC_EXE_QUEUED);
    jc_job_clear(&job);
    assert_int_equal(jc_store_job_get(f->st, j, "someone-else", &job, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
}

static void test_variables_tokens_idempotency(void **state) {
    fixture *f = *state;
    jc_err err;
    json_t *v1 = json_integer(1), *v2 = json_string("two");
    assert_int_equal(jc_store_var_put(f->st, "a", "k", v1, 1, &err), 0);
    assert_int_equal(jc_store_var_put(f->st, "a", "k", v2, 2, &err), 0);
    jc_variable var;
    assert_int_equal(jc_store_var_get(f->st, "a", "k", &var, &err), 0);
    assert_string_equal(json_string_value(var.value), "two");
    assert_int_equal(var.updated_at, 2);
    json_decref(var.value);
    assert_int_equal(jc_store_var_get(f->st, "b", "k", &var, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    assert_int_equal(jc_store_var_delete(f->st, "a", "k", &err), 0);
    assert_int_equal(jc_store_var_delete(f->st, "a", "k", &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    json_decref(v1);
    json_decref(v2);

    jc_api_token t = {.id = "tok_a", .name = "n", .user = "alice", .role = "user", .created_at = 5};
    assert_int_equal(jc_store_token_create(f->st, &t, "aa", &err), 0);
    jc_api_token got;
    char stored[65];
    assert_int_equal(jc_store_token_lookup(f->st, "aa", &got, stored, &err), 0);
    assert_string_equal(got.user, "alice");
    assert_string_equal(stored, "aa");
    assert_int_equal(jc_store_token_lookup(f->st, "bb", &got, stored, &err), -1);
    assert_int_equal(err.code, JC_E_AUTH);
    assert_int_equal(jc_store_token_delete(f->st, "tok_a", "bob", &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    assert_int_equal(jc_store_token_delete(f->st, "tok_a", "alice", &err), 0);

    json_t *spec = json_pack("{s:s}", "runtime", "sh");
    jc_job_new in = {.job_id = "job_1",
                     .execution_id = "exe_1",
                     .owner = "u",
                     .name = "x",
                     .spec = spec,
                     .created_at = 1,
                     .timeout_s = 1,
                     .idempotency_key = "k",
                     .request_hash = "h1",
                     .response = "{\"first\":true}"};
    char *replay = NULL;
    assert_int_equal(jc_store_job_create(f->st, &in, &replay, &err), 0);
    assert_null(replay);
    in.job_id = "job_2";
    in.execution_id = "exe_2";
    assert_int_equal(jc_store_job_create(f->st, &in, &replay, &err), 0);
    assert_string_equal(replay, "{\"first\":true}");
    free(replay);
    in.request_hash = "h2";
    assert_int_equal(jc_store_job_create(f->st, &in, &replay, &err), -1);
    assert_int_equal(err.code, JC_E_CONFLICT);
    jc_job job;
    assert_int_equal(jc_store_job_get(f->st, "job_2", NULL, &job, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND); /* the replay stored nothing */
    json_decref(spec);
}

/* ---- PostgreSQL only: the transaction retry, reconnection, parameters ------------- */

typedef struct flaky {
    const char *sqlstate; /* raised by the first `fail_times` attempts */
    int fail_times;
    int attempts;
} flaky;

/* Inserts a variable, then (while attempts remain to fail) raises the given SQLSTATE:
 * the insert must vanish with the rolled-back attempt, and the last one must commit. */
static int flaky_tx(jc_store *st, pgc *c, void *arg, jc_err *err) {
    (void)st;
    flaky *f = arg;
    f->attempts++;
    static const char sql_put[] = "INSERT INTO variables (owner, key, value, updated_at)"
                                  " VALUES ('flaky', 'k', '1', 1)";
    if (jc_pg_x(c, sql_put, err, "") < 0)
        return -1;
    if (f->attempts > f->fail_times)
        return 0;
    char sql[160];
    snprintf(sql, sizeof(sql), "DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '%s'; END $$",
             f->sqlstate);
    /* PQexec: the DO text differs per SQLSTATE, it is not one of the cached statements */
    PGresult *r = PQexec(c->conn, sql);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    c->retry = state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
    PQclear(r);
    return jc_err_set(err, JC_E_UNAVAILABLE, "raised %s", f->sqlstate);
}

static void test_pg_transactions_retried(void **state) {
    fixture *f = *state;
    if (!f->st->pg) {
        skip();
    }
    jc_err err;
    /* a serialization failure twice, then success: run three times, committed once */
    flaky a = {"40001", 2, 0};
    assert_int_equal(jc_pg_tx(f->st, flaky_tx, &a, &err), 0);
    assert_int_equal(a.attempts, 3);
    jc_variable v;
    assert_int_equal(jc_store_var_get(f->st, "flaky", "k", &v, &err), 0);
    json_decref(v.value);
    assert_int_equal(jc_store_var_delete(f->st, "flaky", "k", &err), 0);
    /* a deadlock, the same */
    flaky b = {"40P01", 1, 0};
    assert_int_equal(jc_pg_tx(f->st, flaky_tx, &b, &err), 0);
    assert_int_equal(b.attempts, 2);
    assert_int_equal(jc_store_var_delete(f->st, "flaky", "k", &err), 0);
    /* a failure that never ends: bounded, reported, nothing committed */
    flaky c = {"40001", 1000, 0};
    assert_int_equal(jc_pg_tx(f->st, flaky_tx, &c, &err), -1);
    assert_int_equal(err.code, JC_E_UNAVAILABLE);
    assert_int_equal(c.attempts, 10);
    assert_int_equal(jc_store_var_get(f->st, "flaky", "k", &v, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    /* any other error is not retried */
    flaky d = {"22012", 1000, 0};
    assert_int_equal(jc_pg_tx(f->st, flaky_tx, &d, &err), -1);
    assert_int_equal(d.attempts, 1);
}

static void test_pg_reconnect_and_parameters(void **state) {
    fixture *f = *state;
    if (!f->st->pg) {
        skip();
    }
    jc_err err;
    char j[JC_ID_MAX], e[JC_ID_MAX];
    add_job(f, "u", 0, f->now, 0, NULL, 16, j, e);
    /* the server drops every connection of the pool (a restart, a failover) */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'",
             f->pgdb);
    PGconn *admin = PQconnectdb(jc_pgtest_cluster());
    PGresult *r = PQexec(admin, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_true(PQntuples(r) >= 1);
    PQclear(r);
    PQfinish(admin);
    /* the next operations get fresh connections */
    for (int i = 0; i < 3; i++) {
        jc_execution x;
        assert_int_equal(jc_store_execution_get(f->st, e, &x, &err), 0);
        assert_string_equal(x.id, e);
        jc_execution_clear(&x);
    }
    assert_int_equal(jc_store_ping(f->st, &err), 0);
    /* values are parameters, never SQL: a hostile key is stored and read back verbatim */
    const char *key = "k'); DROP TABLE jobs; --";
    json_t *val = json_string("x\\' OR '1'='1");
    assert_int_equal(jc_store_var_put(f->st, "u", key, val, f->now, &err), 0);
    jc_variable v;
    assert_int_equal(jc_store_var_get(f->st, "u", key, &v, &err), 0);
    assert_true(json_equal(v.value, val));
    json_decref(v.value);
    json_decref(val);
    jc_job job;
    assert_int_equal(jc_store_job_get(f->st, j, NULL, &job, &err), 0);
    jc_job_clear(&job);
}

/* The operations other parts of the server added to the store, on both backends. */
static void test_credentials_audit_tasks_sealed(void **state) {
    fixture *f = *state;
    jc_err err;
    /* credentials: add, rotate, list, revoke, compare-and-set reseal */
    jc_orc_cred a = {
        .key_id = "ok_a", .orchestrator = "host-a", .created_at = 1, .sealed = "sealed-a"};
    assert_int_equal(jc_store_cred_add(f->st, &a, &err), 0);
    assert_int_equal(jc_store_cred_add(f->st, &a, &err), -1);
    assert_int_equal(err.code, JC_E_CONFLICT);
    jc_orc_cred b = {
        .key_id = "ok_b", .orchestrator = "host-a", .created_at = 2, .sealed = "sealed-b"};
    size_t rotated = 0;
    assert_int_equal(jc_store_cred_rotate(f->st, &b, 10, 5000, &rotated, &err), 0);
    assert_int_equal(rotated, 1);
    jc_orc_cred got;
    assert_int_equal(jc_store_cred_lookup(f->st, "ok_a", &got, &err), 0);
    assert_string_equal(got.sealed, "sealed-a");
    assert_int_equal(got.expires_at, 5000);
    jc_orc_cred_clear(&got);
    jc_orc_cred *list;
    size_t n;
    assert_int_equal(jc_store_cred_list(f->st, "host-a", &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].key_id, "ok_b"); /* newest first */
    jc_orc_creds_free(list, n);
    assert_int_equal(jc_store_cred_revoke(f->st, "ok_a", 20, &err), 0);
    assert_int_equal(jc_store_cred_revoke(f->st, "ok_a", 21, &err), -1);
    assert_int_equal(err.code, JC_E_CONFLICT);
    assert_int_equal(jc_store_cred_reseal(f->st, "ok_b", "not-it", "new", &err), -1);
    assert_int_equal(err.code, JC_E_CONFLICT);
    assert_int_equal(jc_store_cred_reseal(f->st, "ok_b", "sealed-b", "new-b", &err), 0);

    /* the audit trail: append, page newest first, prune */
    jc_audit_event ev[3];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < 3; i++) {
        ev[i].at = 100 + i;
        snprintf(ev[i].kind, sizeof(ev[i].kind), "auth");
        snprintf(ev[i].actor, sizeof(ev[i].actor), "user-%d", i);
        snprintf(ev[i].outcome, sizeof(ev[i].outcome), "success");
    }
    assert_int_equal(jc_store_audit_append(f->st, ev, 3, &err), 0);
    jc_audit_query q = {.limit = 2};
    jc_audit_event *page;
    char *next = NULL;
    assert_int_equal(jc_store_audit_query(f->st, &q, &page, &n, &next, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(page[0].actor, "user-2");
    assert_non_null(next);
    free(page);
    q.cursor = next;
    char *next2 = NULL;
    assert_int_equal(jc_store_audit_query(f->st, &q, &page, &n, &next2, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].actor, "user-0");
    assert_null(next2);
    free(page);
    free(next);
    size_t deleted = 0;
    assert_int_equal(jc_store_audit_prune(f->st, 102, 10, &deleted, &err), 0);
    assert_int_equal(deleted, 2);

    /* maintenance leases: one holder per tick */
    bool got_it = false;
    assert_int_equal(jc_store_task_acquire(f->st, "reaper", "srv-1", 1000, 500, &got_it, &err), 0);
    assert_true(got_it);
    assert_int_equal(jc_store_task_acquire(f->st, "reaper", "srv-2", 1000, 500, &got_it, &err), 0);
    assert_false(got_it);
    assert_int_equal(jc_store_task_acquire(f->st, "reaper", "srv-2", 1500, 500, &got_it, &err), 0);
    assert_true(got_it);
    jc_signal sg = {.at = 10000, .count = 3};
    snprintf(sg.signal, sizeof(sg.signal), "auth_burst");
    snprintf(sg.subject, sizeof(sg.subject), "10.0.0.1");
    bool inserted = false;
    assert_int_equal(jc_store_signal_record(f->st, &sg, 60000, &inserted, &err), 0);
    assert_true(inserted);
    assert_int_equal(jc_store_signal_record(f->st, &sg, 60000, &inserted, &err), 0);
    assert_false(inserted);

    /* sealed job secrets: paged, swapped only from the value read */
    json_t *spec = json_pack("{s:s, s:s}", "runtime", "sh", "secrets", "v1.m1.old");
    jc_job_new in = {.job_id = "job_s",
                     .execution_id = "exe_s",
                     .owner = "u",
                     .name = "s",
                     .spec = spec,
                     .created_at = 1,
                     .timeout_s = 1};
    char *replay = NULL;
    assert_int_equal(jc_store_job_create(f->st, &in, &replay, &err), 0);
    json_decref(spec);
    jc_sealed_row *rows;
    assert_int_equal(jc_store_sealed_page(f->st, "job_secrets", NULL, 10, &rows, &n, &next, &err),
                     0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].id, "job_s");
    assert_string_equal(rows[0].sealed, "v1.m1.old");
    jc_sealed_rows_free(rows, n);
    free(next);
    bool swapped = true;
    assert_int_equal(
        jc_store_sealed_swap(f->st, "job_secrets", "job_s", "other", "v1.m2.new", &swapped, &err),
        0);
    assert_false(swapped);
    assert_int_equal(jc_store_sealed_swap(f->st, "job_secrets", "job_s", "v1.m1.old", "v1.m2.new",
                                          &swapped, &err),
                     0);
    assert_true(swapped);
    jc_job job;
    assert_int_equal(jc_store_job_get(f->st, "job_s", NULL, &job, &err), 0);
    assert_string_equal(json_string_value(json_object_get(job.spec, "secrets")), "v1.m2.new");
    jc_job_clear(&job);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fencing_and_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reaper_and_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_variables_tokens_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials_audit_tasks_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_transactions_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_reconnect_and_parameters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
