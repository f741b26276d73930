/* store_export.c: the export format of store_export.h (backend-independent). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/b64url.h"
#include "jobcell/cleanup.h"
#include "store_export.h"

#define C(n, t)                                                                                    \
    { n, t }
#define TABLE(n, cols, order, seq)                                                                 \
    { n, cols, sizeof(cols) / sizeof(cols[0]), order, seq }

static const jc_store_column jobs_cols[] = {
    C("seq", 'i'),          C("id", 't'),         C("owner", 't'),         C("name", 't'),
    C("spec", 't'),         C("created_at", 'i'), C("priority", 'i'),      C("timeout_s", 'i'),
    C("max_attempts", 'i'), C("backoff_s", 'i'),  C("backoff_max_s", 'i'), C("on_failure", 'i'),
    C("log_cap", 'i'),      C("latest_exe", 't')};
static const jc_store_column executions_cols[] = {
    C("seq", 'i'),           C("id", 't'),
    C("job_id", 't'),        C("attempt", 'i'),
    C("status", 'i'),        C("priority", 'i'),
    C("sched", 'i'),         C("scheduled_for", 'i'),
    C("created_at", 'i'),    C("orchestrator_id", 't'),
    C("lease_token", 't'),   C("lease_expires_at", 'i'),
    C("claimed_at", 'i'),    C("started_at", 'i'),
    C("finished_at", 'i'),   C("completed_token", 't'),
    C("result", 't'),        C("output", 't'),
    C("condition", 'i'),     C("log_bytes", 'i'),
    C("log_truncated", 'i'), C("cancel_requested", 'i')};
static const jc_store_column log_cols[] = {C("exe_id", 't'), C("off", 'i'), C("data", 'b')};
static const jc_store_column var_cols[] = {C("owner", 't'), C("key", 't'), C("value", 't'),
                                           C("updated_at", 'i')};
static const jc_store_column token_cols[] = {
    C("id", 't'),     C("name", 't'),       C("user", 't'),        C("role", 't'),
    C("sha256", 't'), C("created_at", 'i'), C("last_used_at", 'i')};
static const jc_store_column audit_cols[] = {C("seq", 'i'), C("kind", 't'), C("at", 'i'),
                                             C("fields", 't')};
static const jc_store_column idem_cols[] = {C("owner", 't'), C("key", 't'), C("request_hash", 't'),
                                            C("response", 't'), C("created_at", 'i')};
static const jc_store_column orc_cols[] = {C("id", 't'), C("info", 't'), C("last_seen", 'i')};
static const jc_store_column sched_cols[] = {
    C("seq", 'i'),         C("id", 't'),           C("owner", 't'),      C("name", 't'),
    C("cron", 't'),        C("timezone", 't'),     C("job", 't'),        C("overlap", 'i'),
    C("catchup", 'i'),     C("jitter_s", 'i'),     C("paused", 'i'),     C("start_at", 'i'),
    C("end_at", 'i'),      C("created_at", 'i'),   C("updated_at", 'i'), C("next_tick", 'i'),
    C("next_run_at", 'i'), C("pending_tick", 'i'), C("last_tick", 'i'),  C("fired", 'i'),
    C("skipped", 'i'),     C("missed", 'i')};
static const jc_store_column run_cols[] = {C("seq", 'i'), C("schedule_id", 't'), C("tick", 'i'),
                                           C("job_id", 't'), C("fired_at", 'i')};
static const jc_store_column audit_log_cols[] = {
    C("seq", 'i'),    C("at", 'i'),         C("kind", 't'),        C("actor_type", 't'),
    C("actor", 't'),  C("scheme", 't'),     C("route_group", 't'), C("outcome", 't'),
    C("reason", 't'), C("remote", 't'),     C("key_version", 't'), C("target", 't'),
    C("status", 'i'), C("latency_us", 'i'), C("count", 'i')};
static const jc_store_column orc_key_cols[] = {
    C("seq", 'i'),        C("key_id", 't'),     C("orchestrator", 't'), C("sealed", 't'),
    C("created_at", 'i'), C("revoked_at", 'i'), C("expires_at", 'i')};
static const jc_store_column task_cols[] = {C("task", 't'),
                                            C("holder", 't'),
                                            C("next_run_at", 'i'),
                                            C("last_success_at", 'i'),
                                            C("last_failure_at", 'i'),
                                            C("duration_ms", 'i'),
                                            C("failures", 'i'),
                                            C("last_error", 't')};
static const jc_store_column signal_cols[] = {
    C("seq", 'i'),   C("signal", 't'),   C("subject", 't'), C("at", 'i'),    C("slot", 'i'),
    C("count", 'i'), C("first_at", 'i'), C("last_at", 'i'), C("detail", 't')};
static const jc_store_column submit_cols[] = {C("token_id", 't'), C("owner", 't'), C("minute", 'i'),
                                              C("n", 'i')};
static const jc_store_column address_cols[] = {C("orchestrator_id", 't'), C("address", 't'),
                                               C("first_seen", 'i'), C("last_seen", 'i')};

const jc_store_table jc_store_tables[] = {
    TABLE("jobs", jobs_cols, "seq", true),
    TABLE("executions", executions_cols, "seq", true),
    TABLE("log_chunks", log_cols, "exe_id, off", false),
    TABLE("variables", var_cols, "owner, key", false),
    TABLE("api_tokens", token_cols, "id", false),
    TABLE("audit_events", audit_cols, "seq", true),
    TABLE("idempotency", idem_cols, "owner, key", false),
    TABLE("orchestrators", orc_cols, "id", false),
    TABLE("schedules", sched_cols, "seq", true),
    TABLE("schedule_runs", run_cols, "seq", true),
    TABLE("audit_log", audit_log_cols, "seq", true),
    TABLE("orchestrator_keys", orc_key_cols, "seq", true),
    TABLE("maintenance_tasks", task_cols, "task", false),
    TABLE("signals", signal_cols, "seq", true),
    TABLE("token_submits", submit_cols, "token_id, minute", false),
    TABLE("orchestrator_addresses", address_cols, "orchestrator_id, address", false),
};
const size_t jc_store_ntables = sizeof(jc_store_tables) / sizeof(jc_store_tables[0]);

int jc_export_write_header(FILE *out, const char *backend, int schema, jc_err *err) {
    if (fprintf(out, "{\"jobcell_export\":1,\"backend\":\"%s\",\"schema\":%d}\n", backend, schema) <
        0)
        return jc_err_sys(err, errno, "export: write");
    return 0;
}

int jc_export_write_row(FILE *out, const jc_store_table *t, json_t *row, jc_err *err) {
    json_t *line = json_pack("{s:s, s:o}", "table", t->name, "row", row);
    if (!line)
        return jc_err_sys(err, ENOMEM, "export");
    int r = json_dumpf(line, out, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(line);
    if (r < 0 || fputc('\n', out) == EOF)
        return jc_err_sys(err, errno ? errno : EIO, "export: write");
    return 0;
}

static const jc_store_table *table_named(const char *name) {
    for (size_t i = 0; name && i < jc_store_ntables; i++)
        if (strcmp(jc_store_tables[i].name, name) == 0)
            return &jc_store_tables[i];
    return NULL;
}

/* One line of at most 64 MiB (a log chunk is at most 1 MiB before base64). */
static char *read_line(FILE *in, size_t *len, jc_err *err) {
    char *line = NULL;
    size_t cap = 0;
    errno = 0;
    ssize_t n = getline(&line, &cap, in);
    if (n < 0) {
        free(line);
        if (errno)
            jc_err_sys(err, errno, "import: read");
        return NULL;
    }
    if (n > (64 << 20)) {
        free(line);
        jc_err_set(err, JC_E_INVALID, "import: a line is too long");
        return NULL;
    }
    *len = (size_t)n;
    return line;
}

int jc_export_read_row(FILE *in, bool *header_seen, const jc_store_table **t, json_t **row,
                       jc_err *err) {
    *t = NULL;
    *row = NULL;
    for (;;) {
        size_t len = 0;
        jc_err_clear(err);
        _cleanup_free_ char *line = read_line(in, &len, err);
        if (!line) {
            if (err->code != JC_E_OK)
                return -1;
            if (!*header_seen)
                return jc_err_set(err, JC_E_INVALID, "import: empty input (not an export)");
            return 0;
        }
        if (len <= 1)
            continue;
        json_error_t je;
        _cleanup_json_ json_t *j = json_loadb(line, len, 0, &je);
        if (!json_is_object(j))
            return jc_err_set(err, JC_E_INVALID, "import: line %d is not a JSON object", je.line);
        if (json_object_get(j, "jobcell_export")) {
            if (json_integer_value(json_object_get(j, "jobcell_export")) != 1)
                return jc_err_set(err, JC_E_INVALID, "import: unknown export version");
            *header_seen = true;
            continue;
        }
        if (!*header_seen)
            return jc_err_set(err, JC_E_INVALID, "import: the input is not a jobcell export");
        const jc_store_table *tab = table_named(json_string_value(json_object_get(j, "table")));
        json_t *r = json_object_get(j, "row");
        if (!tab)
            return jc_err_set(err, JC_E_INVALID, "import: unknown table");
        if (!json_is_array(r) || json_array_size(r) != tab->ncols)
            return jc_err_set(err, JC_E_INVALID, "import: a row of %s has the wrong columns",
                              tab->name);
        for (size_t i = 0; i < tab->ncols; i++) {
            json_t *v = json_array_get(r, i);
            bool ok = json_is_null(v) ||
                      (tab->cols[i].type == 'i' ? json_is_integer(v) : json_is_string(v));
            if (!ok)
                return jc_err_set(err, JC_E_INVALID, "import: %s.%s has the wrong type", tab->name,
                                  tab->cols[i].name);
        }
        *t = tab;
        *row = json_incref(r);
        return 1;
    }
}

unsigned char *jc_export_bytes(const json_t *v, size_t *len, jc_err *err) {
    const char *s = json_string_value(v);
    *len = 0;
    if (!s)
        return jc_err_set(err, JC_E_INVALID, "import: bytes missing"), NULL;
    return jc_b64url_decode(s, strlen(s), len, err);
}
