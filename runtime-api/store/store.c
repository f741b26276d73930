/* store.c: the backend-independent half of store.h: choosing a backend, forwarding every
 * operation to it (store_backend.h), and the helpers that do not touch a database. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_backend.h"
#include "store_schedules.h"

/* ---- forwarding ------------------------------------------------------------------------ */

#define JC_STORE_OP_FORWARD(ret, name, params, args)                                               \
    ret jc_store_##name params {                                                                   \
        return st->ops->name args;                                                                 \
    }
JC_STORE_ALL_OPS(JC_STORE_OP_FORWARD)

int jc_store_claim(jc_store *st, const char *orchestrator_id, size_t slots, int64_t now,
                   int64_t lease_ms, jc_claim **out, size_t *n, int64_t *next_due, jc_err *err) {
    return jc_store_claim_runtimes(st, orchestrator_id, NULL, slots, now, lease_ms, out, n,
                                   next_due, err);
}

/* ---- opening ---------------------------------------------------------------------------- */

bool jc_store_location_is_pg(const char *path) {
    if (!path)
        return false;
    if (strncmp(path, "postgres://", 11) == 0 || strncmp(path, "postgresql://", 13) == 0)
        return true;
    /* A conninfo string is key=value pairs; a file name never starts with one of these. */
    static const char *const keys[] = {
        "host=", "hostaddr=", "dbname=", "user=", "port=", "service=", NULL};
    for (size_t i = 0; keys[i]; i++)
        if (strncmp(path, keys[i], strlen(keys[i])) == 0)
            return true;
    return false;
}

jc_store *jc_store_open(const jc_store_options *opt, jc_err *err) {
    if (!opt || !opt->path || !*opt->path)
        return jc_err_set(err, JC_E_CONFIG, "store: no database path or URL"), NULL;
    jc_store *st = calloc(1, sizeof(*st));
    if (!st)
        return jc_err_sys(err, ENOMEM, "store"), NULL;
    st->kill_grace_s = opt->kill_grace_s >= 0 ? opt->kill_grace_s : 5;
    bool pg = jc_store_location_is_pg(opt->path);
    st->ops = pg ? &jc_pg_ops : &jc_sqlite_ops;
    if ((pg ? jc_pg_open(st, opt, err) : jc_sqlite_open(st, opt, err)) < 0) {
        free(st);
        return NULL;
    }
    if (jc_store_migrate(st, NULL, NULL, err) < 0) {
        jc_store_close(st);
        return NULL;
    }
    return st;
}

void jc_store_close(jc_store *st) {
    if (!st)
        return;
    st->ops->close(st);
    free(st);
}

const char *jc_store_backend(const jc_store *st) {
    return st->ops->name;
}

int jc_store_on_work(jc_store *st, void (*fn)(void *arg), void *arg, jc_err *err) {
    if (!fn) { /* stop the listener first: it reads on_work */
        int r = st->ops->listen(st, false, err);
        st->on_work = NULL;
        st->on_work_arg = NULL;
        return r;
    }
    st->on_work = fn;
    st->on_work_arg = arg;
    return st->ops->listen(st, true, err);
}

/* ---- statuses ------------------------------------------------------------------------- */

static const char *const status_names[JC_EXE_STATUS_COUNT] = {
    "queued", "claimed", "running", "succeeded", "failed", "canceled", "lost"};

const char *jc_exe_status_name(jc_exe_status s) {
    return (unsigned)s < JC_EXE_STATUS_COUNT ? status_names[s] : "unknown";
}
int jc_exe_status_parse(const char *name) {
    for (int i = 0; i < JC_EXE_STATUS_COUNT; i++)
        if (name && strcmp(name, status_names[i]) == 0)
            return i;
    return -1;
}
bool jc_exe_status_final(jc_exe_status s) {
    return s >= JC_EXE_SUCCEEDED;
}

/* ---- releasing what the store filled ----------------------------------------------------- */

void jc_execution_clear(jc_execution *e) {
    if (!e)
        return;
    json_decref(e->result);
    json_decref(e->output);
    e->result = e->output = NULL;
}

void jc_executions_free(jc_execution *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        jc_execution_clear(&v[i]);
    free(v);
}

void jc_job_clear(jc_job *j) {
    if (!j)
        return;
    json_decref(j->spec);
    j->spec = NULL;
}

void jc_jobs_free(jc_job *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        jc_job_clear(&v[i]);
    free(v);
}

void jc_claims_free(jc_claim *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        jc_execution_clear(&v[i].exe);
        jc_job_clear(&v[i].job);
    }
    free(v);
}

void jc_variables_free(jc_variable *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        json_decref(v[i].value);
    free(v);
}

void jc_schedule_clear(jc_schedule *s) {
    if (!s)
        return;
    json_decref(s->job);
    s->job = NULL;
}

void jc_schedules_free(jc_schedule *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        jc_schedule_clear(&v[i]);
    free(v);
}
