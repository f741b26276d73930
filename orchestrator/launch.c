/* launch.c: see launch.h. */
#include "launch.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"

#define SDK_ROOT "/usr/local/lib/jobcell"
#define MAX_ENV 192 /* the job's env (64), its secrets (64) and ours */

static bool env_key_ok(const char *k) {
    static const char *const reserved[] = {"PATH",     "HOME",       "TMPDIR",   "LANG",
                                           "BASH_ENV", "PYTHONPATH", "NODE_PATH"};
    size_t n = strlen(k);
    if (n == 0 || n > 64 || !((k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return false;
    if (!strncmp(k, "JOBCELL_", 8) || !strncmp(k, "CRONIUM_", 8) || !strncmp(k, "LD_", 3))
        return false;
    for (size_t i = 0; i < JC_ARRAY_LEN(reserved); i++)
        if (!strcmp(k, reserved[i]))
            return false;
    return true;
}

/* An ES module script for an older Node must be named .mjs: a line starting with
 * import/export is the sign (a dynamic import() in a CommonJS script is not). */
static bool looks_like_esm(const char *s, size_t len) {
    const char *p = s, *end = s + len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if ((end - p > 7 && !strncmp(p, "import ", 7) && p[7] != '(') ||
            (end - p > 7 && !strncmp(p, "export ", 7)))
            return true;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        p = nl + 1;
    }
    return false;
}

typedef struct strv {
    char *v[MAX_ENV + 1];
    size_t n;
} strv;

static int strv_addf(strv *sv, jc_err *err, const char *fmt, ...) JC_PRINTF(3, 4);
static int strv_addf(strv *sv, jc_err *err, const char *fmt, ...) {
    if (sv->n >= MAX_ENV)
        return jc_err_field(err, JC_E_INVALID, "env", "too many environment variables");
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&sv->v[sv->n], fmt, ap);
    va_end(ap);
    if (n < 0) {
        sv->v[sv->n] = NULL;
        return jc_err_sys(err, ENOMEM, "environment");
    }
    sv->n++;
    return 0;
}

static void strv_wipe(strv *sv) {
    for (size_t i = 0; i < sv->n; i++) {
        OPENSSL_cleanse(sv->v[i], strlen(sv->v[i]));
        free(sv->v[i]);
    }
    sv->n = 0;
}

static int64_t get_int(json_t *o, const char *k, int64_t def) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

int jc_launch_start(jc_orc *orc, const jc_launch *l, json_t *job, jc_sandbox **out, jc_err *err) {
    const char *runtime = json_string_value(json_object_get(job, "runtime"));
    json_t *script_j = json_object_get(job, "script");
    const char *script = json_string_value(script_j);
    size_t script_len = json_string_length(script_j);
    if (!runtime || !script)
        return jc_err_field(err, JC_E_INVALID, "job", "the claim has no runtime or script");
    const char *name, *interp;
    if (!strcmp(runtime, "bash")) {
        name = "job.sh";
        interp = "bash";
    } else if (!strcmp(runtime, "sh")) {
        name = "job.sh";
        interp = "sh";
    } else if (!strcmp(runtime, "python")) {
        name = "job.py";
        interp = "python3";
    } else if (!strcmp(runtime, "node")) {
        name = looks_like_esm(script, script_len) ? "job.mjs" : "job.js";
        interp = "node";
    } else {
        return jc_err_field(err, JC_E_INVALID, "runtime", "unknown runtime %s", runtime);
    }
    const char *profile = json_string_value(json_object_get(job, "profile"));
    if (!profile)
        profile = "default";
    const struct jc_seccomp_filter *filter = jc_orc_profiles_get(orc->profiles, profile);
    if (!filter)
        return jc_err_field(err, JC_E_INVALID, "profile", "profile %s is not known on this host",
                            profile);
    json_t *input = json_object_get(job, "input");
    _cleanup_free_ char *input_text =
        json_dumps(input ? input : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    if (!input_text)
        return jc_err_sys(err, ENOMEM, "encode the input");

    /* the execution token (its lifetime follows the timeout, so check that first) */
    int64_t timeout_s = get_int(job, "timeout_s", 300);
    if (timeout_s < 1 || timeout_s > 86400)
        return jc_err_field(err, JC_E_INVALID, "timeout_s", "timeout_s must be 1 to 86400");
    jc_orc_ring_refresh(orc);
    jc_jwt_claims claims;
    if (jc_jwt_claims_init(&claims, l->exe_id, l->job_id, l->owner, orc->id, l->attempt,
                           l->lease_token, jc_time_now_ms() / 1000, timeout_s,
                           orc->cfg->kill_grace_s, err) < 0)
        return jc_err_prefix(err, "token");
    char *token = jc_jwt_sign(orc->ring, &claims, err);
    OPENSSL_cleanse(&claims, sizeof(claims));
    if (!token)
        return jc_err_prefix(err, "token");

    strv env = {0};
    int rc = -1;
    static const char api[] = "http://127.0.0.1:8081";
    if (strv_addf(&env, err, "JOBCELL_RUNTIME_API=%s", api) < 0 ||
        strv_addf(&env, err, "JOBCELL_EXECUTION_TOKEN=%s", token) < 0 ||
        strv_addf(&env, err, "JOBCELL_EXECUTION_ID=%s", l->exe_id) < 0 ||
        strv_addf(&env, err, "JOBCELL_JOB_ID=%s", l->job_id) < 0 ||
        strv_addf(&env, err, "JOBCELL_ATTEMPT=%" PRId64, l->attempt) < 0 ||
        strv_addf(&env, err, "CRONIUM_RUNTIME_API=%s", api) < 0 ||
        strv_addf(&env, err, "CRONIUM_EXECUTION_TOKEN=%s", token) < 0 ||
        strv_addf(&env, err, "CRONIUM_EXECUTION_ID=%s", l->exe_id) < 0 ||
        strv_addf(&env, err, "CRONIUM_JOB_ID=%s", l->job_id) < 0 ||
        strv_addf(&env, err, "BASH_ENV=" SDK_ROOT "/bash/jobcell.sh") < 0 ||
        strv_addf(&env, err, "PYTHONPATH=" SDK_ROOT "/python") < 0 ||
        strv_addf(&env, err, "NODE_PATH=" SDK_ROOT "/node") < 0)
        goto out;
    json_t *jenv = json_object_get(job, "env");
    if (jenv && !json_is_object(jenv) && !json_is_null(jenv)) {
        jc_err_field(err, JC_E_INVALID, "env", "env is not an object");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(jenv, k, v) {
        /* the server validated these; a claim is still input, and the reserved names
         * would let a job spec redirect the SDK or the loader */
        const char *sv = json_string_value(v);
        if (!env_key_ok(k) || !sv || json_string_length(v) > 4096 ||
            strlen(sv) != json_string_length(v)) {
            jc_err_field(err, JC_E_INVALID, "env", "env variable %.64s is not allowed", k);
            goto out;
        }
        if (strv_addf(&env, err, "%s=%s", k, sv) < 0)
            goto out;
    }
    /* Secrets arrive opened in the claim and become environment variables like env. Only
     * their names may appear in an error (a setup_error reaches the job's result record). */
    json_t *jsec = json_object_get(job, "secrets");
    if (jsec && !json_is_object(jsec) && !json_is_null(jsec)) {
        jc_err_field(err, JC_E_INVALID, "secrets", "secrets is not an object");
        goto out;
    }
    json_object_foreach(jsec, k, v) {
        const char *sv = json_string_value(v);
        if (!env_key_ok(k) || !sv || json_string_length(v) > 1048576 ||
            strlen(sv) != json_string_length(v) || json_object_get(jenv, k)) {
            jc_err_field(err, JC_E_INVALID, "secrets", "secret %.64s is not allowed", k);
            goto out;
        }
        if (strv_addf(&env, err, "%s=%s", k, sv) < 0)
            goto out;
    }

    jc_sandbox_file files[2] = {
        {.name = name, .data = script, .len = script_len, .mode = 0644},
        {.name = "input.json", .data = input_text, .len = strlen(input_text), .mode = 0644},
    };
    const char *argv[] = {interp, name, NULL};
    jc_sandbox_spec spec;
    jc_sandbox_spec_init(&spec);
    spec.exe_id = l->exe_id;
    spec.argv = argv;
    spec.env = (const char *const *)env.v;
    spec.files = files;
    spec.n_files = 2;
    json_t *res = json_object_get(job, "resources");
    spec.limits.memory_mb = get_int(res, "memory_mb", 0);
    spec.limits.pids = get_int(res, "pids", 0);
    json_t *cpu = json_object_get(res, "cpu");
    spec.limits.cpu = json_is_number(cpu) ? json_number_value(cpu) : 0;
    spec.limits.tmp_mb = get_int(res, "tmp_mb", 0);
    spec.limits.workspace_mb = get_int(res, "workspace_mb", 0);
    spec.limits.output_mb = get_int(res, "output_mb", 0);
    spec.limits.timeout_s = timeout_s;
    spec.limits.kill_grace_s = orc->cfg->kill_grace_s ? orc->cfg->kill_grace_s : -1;
    spec.filter = (const jc_seccomp_filter *)filter;
    spec.sdk_dir = orc->cfg->sdk_dir[0] ? orc->cfg->sdk_dir : NULL;
    spec.runtime_socket = true;
    spec.slot = (uint32_t)l->slot;
    spec.cgroup_parent = orc->cfg->cgroup_parent[0] ? orc->cfg->cgroup_parent : NULL;
    int64_t t0 = jc_time_mono_ns();
    rc = jc_sandbox_start(orc->engine, &spec, out, err);
    char us[24];
    snprintf(us, sizeof(us), "%" PRId64, (jc_time_mono_ns() - t0) / 1000);
    jc_log(JC_LOG_DEBUG, "sandbox started", "exe", l->exe_id, "start_us", us, NULL);
out:
    strv_wipe(&env);
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    return rc;
}
