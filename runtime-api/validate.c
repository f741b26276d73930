/* validate.c: the job spec rules of PROTOCOL.md and SANDBOX.md, and the JSON views.
 *
 * Every field is typed and bounded here, before anything is stored: a job spec is hostile
 * input that later reaches the sandbox engine on some host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <errno.h>

#include "handlers.h"
#include "jobcell/io.h"

static const char *const job_keys[] = {
    "name",          "runtime",   "script",  "input",          "env",
    "resources",     "timeout_s", "network", "profile",        "priority",
    "scheduled_for", "retry",     "secrets", "retention_days", NULL};
static const char *const runtimes[] = {"bash", "sh", "python", "node", NULL};
static const char *const reserved_env[] = {"PATH",     "HOME",       "TMPDIR",    "LANG",
                                           "BASH_ENV", "PYTHONPATH", "NODE_PATH", NULL};

static bool in_list(const char *const *list, const char *s) {
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* Compact JSON size of v (for input/output bounds). */
static size_t json_size(const json_t *v) {
    return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* 1–128 characters of valid UTF-8 without control characters. */
static bool name_valid(const char *s) {
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if (*p >= 0x80 && *p < 0xc0)
            ; /* continuation byte: jansson already checked the encoding */
        else
            chars++;
        if (*p >= 0x80 && *p < 0xa0 && p > (const unsigned char *)s && p[-1] == 0xc2)
            return false; /* C1 controls */
        p++;
    }
    return chars >= 1 && chars <= 128;
}

static bool env_key_valid(const char *k) {
    size_t n = strlen(k);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        bool ok = (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

bool jc_variable_key_valid(const char *key) {
    size_t n = strlen(key);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        bool rest = alpha || (c >= '0' && c <= '9') || c == '.' || c == '-';
        if (i == 0 ? !alpha : !rest)
            return false;
    }
    return true;
}

static int int_field(const json_t *obj, const char *key, const char *path, int64_t def, int64_t lo,
                     int64_t hi, int64_t *out, jc_err *err) {
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return jc_err_field(err, JC_E_INVALID, path, "%s must be an integer", path);
    int64_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return jc_err_field(err, JC_E_INVALID, path, "%s must be between %lld and %lld", path,
                            (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

static int check_keys(const json_t *obj, const char *const *allowed, const char *prefix,
                      jc_err *err) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (!in_list(allowed, key)) {
            char path[128];
            snprintf(path, sizeof(path), "%s%s", prefix, key);
            return jc_err_field(err, JC_E_UNKNOWN_FIELD, path, "unknown field %s", path);
        }
    }
    return 0;
}

/* The rules of env, shared by `secrets` (field names the object). Messages name keys and
 * limits, never a value: a secret's value must not reach an error body or a log. */
static int validate_env_object(jc_api *api, const char *field, const json_t *env, jc_err *err) {
    if (!json_is_object(env))
        return jc_err_field(err, JC_E_INVALID, field, "%s must be an object of strings", field);
    if ((int64_t)json_object_size(env) > api->cfg->max_env)
        return jc_err_field(err, JC_E_INVALID, field, "%s has more than %lld entries", field,
                            (long long)api->cfg->max_env);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)env, key, v) {
        char path[128];
        snprintf(path, sizeof(path), "%s.%.100s", field, key);
        if (!env_key_valid(key))
            return jc_err_field(err, JC_E_INVALID, path,
                                "%s key %.64s must match ^[A-Z_][A-Z0-9_]{0,63}$", field, key);
        /* These would let a job change how its own sandbox, interpreter or SDK behave. */
        if (strncmp(key, "JOBCELL_", 8) == 0 || strncmp(key, "CRONIUM_", 8) == 0 ||
            strncmp(key, "LD_", 3) == 0 || in_list(reserved_env, key))
            return jc_err_field(err, JC_E_INVALID, path, "%s key %s is reserved", field, key);
        if (!json_is_string(v))
            return jc_err_field(err, JC_E_INVALID, path, "%s must be a string", path);
        if ((int64_t)json_string_length(v) > api->cfg->max_env_value)
            return jc_err_field(err, JC_E_INVALID, path, "%s is longer than %lld bytes", path,
                                (long long)api->cfg->max_env_value);
        if (memchr(json_string_value(v), 0, json_string_length(v)))
            return jc_err_field(err, JC_E_INVALID, path, "%s contains a NUL byte", path);
    }
    return 0;
}

static int validate_env(jc_api *api, const json_t *env, json_t *spec, jc_err *err) {
    if (!env) {
        json_object_set_new(spec, "env", json_object());
        return 0;
    }
    if (validate_env_object(api, "env", env, err) < 0)
        return -1;
    json_object_set(spec, "env", (json_t *)env);
    return 0;
}

/* `secrets` follow env's rules, and no name may be in both (which value would the job
 * see?). They are NOT put in the spec: the caller seals them (jc_job_seal_secrets). */
static int validate_secrets(jc_api *api, const json_t *secrets, const json_t *env,
                            const json_t **out, jc_err *err) {
    *out = NULL;
    if (!secrets || json_is_null(secrets))
        return 0;
    if (validate_env_object(api, "secrets", secrets, err) < 0)
        return -1;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)secrets, key, v) {
        if (json_object_get(env, key)) {
            char path[128];
            snprintf(path, sizeof(path), "secrets.%.100s", key);
            return jc_err_field(err, JC_E_INVALID, path,
                                "%s is also in env; a name may be in env or secrets, not both",
                                path);
        }
    }
    if (json_object_size(secrets))
        *out = secrets;
    return 0;
}

int jc_job_seal_secrets(jc_api *api, const json_t *secrets, const char *owner, const char *job_id,
                        json_t *spec, jc_err *err) {
    if (!secrets)
        return 0;
    const jc_master_ring *master = jc_api_master(api);
    if (!master)
        /* a 4xx, not a 503: the message must reach the caller (5xx bodies are generic),
         * and retrying cannot help until an administrator acts */
        return jc_err_field(err, JC_E_INVALID, "secrets",
                            "this server keeps no secrets: its administrator must set "
                            "master_key_file to accept the secrets field");
    char *text = json_dumps(secrets, JSON_COMPACT);
    if (!text)
        return jc_err_sys(err, ENOMEM, "secrets");
    char *sealed = NULL;
    int rc =
        jc_seal(master, JC_SEALED_JOB_SECRETS, owner, job_id, text, strlen(text), &sealed, err);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    if (rc < 0)
        return -1;
    json_object_set_new(spec, "secrets", json_string(sealed));
    free(sealed);
    return 0;
}

json_t *jc_job_open_secrets(jc_api *api, const jc_job *job, jc_err *err) {
    json_t *sealed = json_object_get(job->spec, "secrets");
    if (!sealed)
        return json_object();
    const jc_master_ring *master = jc_api_master(api);
    if (!master) {
        jc_err_set(err, JC_E_UNAVAILABLE,
                   "the job has secrets but the server has no master_key_file to open them");
        return NULL;
    }
    unsigned char *pt = NULL;
    size_t len = 0;
    if (!json_is_string(sealed) || jc_unseal(master, JC_SEALED_JOB_SECRETS, job->owner, job->id,
                                             json_string_value(sealed), &pt, &len, err) < 0) {
        jc_err_set(err, JC_E_AUTH,
                   "the job's secrets do not open with the server's master_key_file");
        return NULL;
    }
    json_error_t jerr;
    json_t *o = json_loadb((const char *)pt, len, JSON_REJECT_DUPLICATES, &jerr);
    OPENSSL_cleanse(pt, len);
    free(pt);
    if (!json_is_object(o)) {
        json_decref(o);
        jc_err_set(err, JC_E_INTERNAL, "the job's secrets are not an object");
        return NULL;
    }
    return o;
}

static int validate_resources(jc_api *api, const json_t *res, json_t *spec, jc_err *err) {
    static const char *const keys[] = {"memory_mb",    "pids",      "cpu", "tmp_mb",
                                       "workspace_mb", "output_mb", NULL};
    const jc_api_config *c = api->cfg;
    if (res && !json_is_object(res))
        return jc_err_field(err, JC_E_INVALID, "resources", "resources must be an object");
    json_t *empty = NULL;
    if (!res)
        res = empty = json_object();
    int64_t memory, pids, tmp, workspace, output;
    int rc = -1;
    if (check_keys(res, keys, "resources.", err) < 0 ||
        int_field(res, "memory_mb", "resources.memory_mb", 512, 16, c->max_memory_mb, &memory,
                  err) < 0 ||
        int_field(res, "pids", "resources.pids", 100, 8, c->max_pids, &pids, err) < 0 ||
        int_field(res, "tmp_mb", "resources.tmp_mb", 100, 1, c->max_tmp_mb, &tmp, err) < 0 ||
        int_field(res, "workspace_mb", "resources.workspace_mb", 256, 1, c->max_workspace_mb,
                  &workspace, err) < 0 ||
        int_field(res, "output_mb", "resources.output_mb", 16, 1, c->max_output_mb, &output, err) <
            0)
        goto out;
    double cpu = 0.5;
    const json_t *cv = json_object_get(res, "cpu");
    double max_cpu = c->max_cpu > 0 ? c->max_cpu : (double)sysconf(_SC_NPROCESSORS_ONLN);
    if (cv) {
        if (!json_is_number(cv)) {
            jc_err_field(err, JC_E_INVALID, "resources.cpu", "resources.cpu must be a number");
            goto out;
        }
        cpu = json_number_value(cv);
        if (!(cpu >= 0.01 && cpu <= max_cpu)) {
            jc_err_field(err, JC_E_INVALID, "resources.cpu",
                         "resources.cpu must be between 0.01 and %g", max_cpu);
            goto out;
        }
    }
    /* tmpfs pages are charged to the job's memory cgroup (SANDBOX.md). */
    if (tmp + workspace > memory) {
        jc_err_field(err, JC_E_INVALID, "resources.tmp_mb",
                     "resources.tmp_mb + resources.workspace_mb (%lld) exceed "
                     "resources.memory_mb (%lld)",
                     (long long)(tmp + workspace), (long long)memory);
        goto out;
    }
    json_object_set_new(spec, "resources",
                        json_pack("{s:I, s:I, s:f, s:I, s:I, s:I}", "memory_mb", (json_int_t)memory,
                                  "pids", (json_int_t)pids, "cpu", cpu, "tmp_mb", (json_int_t)tmp,
                                  "workspace_mb", (json_int_t)workspace, "output_mb",
                                  (json_int_t)output));
    rc = 0;
out:
    json_decref(empty);
    return rc;
}

static int validate_retry(const json_t *r, json_t *spec, jc_err *err) {
    static const char *const keys[] = {"max_attempts", "backoff_s", "backoff_max_s", "on_failure",
                                       NULL};
    if (r && !json_is_object(r))
        return jc_err_field(err, JC_E_INVALID, "retry", "retry must be an object");
    json_t *empty = NULL;
    if (!r)
        r = empty = json_object();
    int64_t max_attempts, backoff, backoff_max;
    int rc = -1;
    if (check_keys(r, keys, "retry.", err) < 0 ||
        int_field(r, "max_attempts", "retry.max_attempts", 1, 1, 100, &max_attempts, err) < 0 ||
        int_field(r, "backoff_s", "retry.backoff_s", 10, 0, 86400, &backoff, err) < 0 ||
        int_field(r, "backoff_max_s", "retry.backoff_max_s", 600, 0, 86400, &backoff_max, err) < 0)
        goto out;
    const json_t *of = json_object_get(r, "on_failure");
    if (of && !json_is_boolean(of)) {
        jc_err_field(err, JC_E_INVALID, "retry.on_failure", "retry.on_failure must be a boolean");
        goto out;
    }
    if (backoff_max < backoff) {
        jc_err_field(err, JC_E_INVALID, "retry.backoff_max_s",
                     "retry.backoff_max_s must not be less than retry.backoff_s");
        goto out;
    }
    json_object_set_new(spec, "retry",
                        json_pack("{s:I, s:I, s:I, s:b}", "max_attempts", (json_int_t)max_attempts,
                                  "backoff_s", (json_int_t)backoff, "backoff_max_s",
                                  (json_int_t)backoff_max, "on_failure", json_is_true(of)));
    rc = 0;
out:
    json_decref(empty);
    return rc;
}

int jc_job_validate(jc_api *api, const json_t *body, jc_job_fields *out, jc_err *err) {
    memset(out, 0, sizeof(*out));
    if (!json_is_object(body))
        return jc_err_set(err, JC_E_INVALID, "the job must be a JSON object");
    if (check_keys(body, job_keys, "", err) < 0)
        return -1;
    json_t *spec = json_object();
    const jc_api_config *c = api->cfg;

    const json_t *v = json_object_get(body, "name");
    if (v && (!json_is_string(v) || !name_valid(json_string_value(v)))) {
        jc_err_field(err, JC_E_INVALID, "name", "name must be 1 to 128 printable characters");
        goto fail;
    }
    json_object_set_new(spec, "name", json_string(v ? json_string_value(v) : "job"));

    v = json_object_get(body, "runtime");
    if (!v) {
        jc_err_field(err, JC_E_INVALID, "runtime", "runtime is required");
        goto fail;
    }
    if (!json_is_string(v) || !in_list(runtimes, json_string_value(v))) {
        jc_err_field(err, JC_E_INVALID, "runtime", "runtime must be one of bash, sh, python, node");
        goto fail;
    }
    json_object_set(spec, "runtime", (json_t *)v);

    v = json_object_get(body, "script");
    if (!v) {
        jc_err_field(err, JC_E_INVALID, "script", "script is required");
        goto fail;
    }
    if (!json_is_string(v)) {
        jc_err_field(err, JC_E_INVALID, "script", "script must be a string");
        goto fail;
    }
    if ((int64_t)json_string_length(v) > c->max_script_bytes) {
        jc_err_field(err, JC_E_INVALID, "script", "script is larger than %lld bytes",
                     (long long)c->max_script_bytes);
        goto fail;
    }
    json_object_set(spec, "script", (json_t *)v);

    v = json_object_get(body, "input");
    if (v && (int64_t)json_size(v) > c->max_input_bytes) {
        jc_err_field(err, JC_E_INVALID, "input", "input is larger than %lld bytes of JSON",
                     (long long)c->max_input_bytes);
        goto fail;
    }
    if (v)
        json_object_set(spec, "input", (json_t *)v);
    else
        json_object_set_new(spec, "input", json_object());

    if (validate_env(api, json_object_get(body, "env"), spec, err) < 0 ||
        validate_secrets(api, json_object_get(body, "secrets"), json_object_get(body, "env"),
                         &out->secrets, err) < 0 ||
        validate_resources(api, json_object_get(body, "resources"), spec, err) < 0)
        goto fail;

    int64_t timeout, priority;
    if (int_field(body, "timeout_s", "timeout_s", 300, 1, c->max_timeout_s, &timeout, err) < 0 ||
        int_field(body, "priority", "priority", 0, -100, 100, &priority, err) < 0)
        goto fail;
    json_object_set_new(spec, "timeout_s", json_integer(timeout));

    v = json_object_get(body, "network");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "none") != 0)) {
        jc_err_field(err, JC_E_INVALID, "network", "network must be \"none\"");
        goto fail;
    }
    json_object_set_new(spec, "network", json_string("none"));

    v = json_object_get(body, "profile");
    const char *profile = v ? json_string_value(v) : "default";
    bool known = false;
    for (size_t i = 0; profile && i < api->nprofiles && !known; i++)
        known = strcmp(api->profiles[i], profile) == 0;
    if (!known) {
        char names[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < api->nprofiles && used < sizeof(names); i++) {
            int n = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
                             api->profiles[i]);
            if (n < 0)
                break;
            used += (size_t)n;
        }
        jc_err_field(err, JC_E_INVALID, "profile", "profile must be one of: %s", names);
        goto fail;
    }
    json_object_set_new(spec, "profile", json_string(profile));
    json_object_set_new(spec, "priority", json_integer(priority));
    /* A job may keep its executions, results and logs for less time than the server's
     * retention, never for more. Absent: the server's retention (and not in the spec, so
     * the store's index of jobs with a retention of their own stays small). */
    if (json_object_get(body, "retention_days")) {
        int64_t days;
        if (int_field(body, "retention_days", "retention_days", 0, 1, c->retention_jobs_days, &days,
                      err) < 0)
            goto fail;
        json_object_set_new(spec, "retention_days", json_integer(days));
    }

    v = json_object_get(body, "scheduled_for");
    int64_t when = 0;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || jc_time_parse_ms(json_string_value(v), &when) < 0) {
            jc_err_field(err, JC_E_INVALID, "scheduled_for",
                         "scheduled_for must be an RFC 3339 UTC time or null");
            goto fail;
        }
        char buf[32];
        jc_time_format_ms(when, buf, sizeof(buf));
        json_object_set_new(spec, "scheduled_for", json_string(buf));
    } else {
        json_object_set_new(spec, "scheduled_for", json_null());
    }
    if (validate_retry(json_object_get(body, "retry"), spec, err) < 0)
        goto fail;

    out->spec = spec;
    out->name = json_string_value(json_object_get(spec, "name"));
    out->priority = (int)priority;
    out->timeout_s = timeout;
    out->scheduled_for = when;
    return 0;
fail:
    json_decref(spec);
    return -1;
}

/* ---- JSON views --------------------------------------------------------------------- */

json_t *jc_time_json(int64_t ms) {
    if (!ms)
        return json_null();
    char buf[32];
    jc_time_format_ms(ms, buf, sizeof(buf));
    return json_string(buf);
}

json_t *jc_execution_json(const jc_execution *e) {
    json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "id", e->id, "job_id", e->job_id, "attempt",
                          (json_int_t)e->attempt, "status", jc_exe_status_name(e->status));
    json_object_set_new(o, "orchestrator_id",
                        e->orchestrator_id[0] ? json_string(e->orchestrator_id) : json_null());
    json_object_set_new(o, "created_at", jc_time_json(e->created_at));
    json_object_set_new(o, "scheduled_for", jc_time_json(e->scheduled_for));
    json_object_set_new(o, "claimed_at", jc_time_json(e->claimed_at));
    json_object_set_new(o, "started_at", jc_time_json(e->started_at));
    json_object_set_new(o, "finished_at", jc_time_json(e->finished_at));
    json_object_set_new(o, "result", e->result ? json_incref(e->result) : json_null());
    json_object_set_new(o, "output", e->output ? json_incref(e->output) : json_null());
    json_object_set_new(o, "condition",
                        e->condition < 0 ? json_null() : json_boolean(e->condition));
    json_object_set_new(o, "log_bytes", json_integer(e->log_bytes));
    json_object_set_new(o, "log_truncated", json_boolean(e->log_truncated));
    json_object_set_new(o, "cancel_requested", json_boolean(e->cancel_requested));
    return o;
}

json_t *jc_job_json(const jc_job *j, bool full) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "id", j->id, "owner", j->owner, "status",
                          jc_exe_status_name(j->status));
    json_object_set_new(o, "created_at", jc_time_json(j->created_at));
    json_object_set_new(o, "latest_execution_id", json_string(j->latest_execution_id));
    const char *key;
    json_t *v;
    json_object_foreach(j->spec, key, v) {
        /* sealed secrets stay in the store; no answer carries them, not even sealed */
        if (strcmp(key, "secrets") == 0)
            continue;
        if (!full &&
            (strcmp(key, "script") == 0 || strcmp(key, "input") == 0 || strcmp(key, "env") == 0))
            continue;
        json_object_set(o, key, v);
    }
    return o;
}
