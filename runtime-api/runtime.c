/* runtime.c: the runtime API, the routes job scripts call (PROTOCOL.md "Runtime API").
 *
 * Paths, bodies and the {"success": true, "data": …} envelope are those of Cronium's runtime
 * service, so scripts written against Cronium's helpers run unchanged. Every route but
 * /health goes through authorize(), which checks, in PROTOCOL.md's order: the token (401),
 * the path's execution id against the token's (403), the execution against the store's
 * current claim (401), then the execution's rate limit (429). What a request may touch
 * (the variables' owner, the context's user) comes from the store, never from the token.
 *
 * The check is on every request of a running job, so it stays cheap: one HMAC, one
 * indexed read of the execution (no write), and a token bucket under a short lock. */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/jwt.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "store.h"

#define GROUP "runtime"
#define INVALID_TOKEN "invalid token" /* the one message of every 401: no oracle */

/* ---- rate limits: a token bucket per execution ----------------------------------------- */

#define RL_BUCKETS 1024
#define RL_SWEEP_AT 16384 /* entries before idle ones are swept */

typedef struct rl_entry {
    struct rl_entry *next;
    char exe_id[JC_ID_MAX];
    double tokens;
    int64_t last_ns;
} rl_entry;

typedef struct runtime_state {
    pthread_mutex_t lock;
    rl_entry *buckets[RL_BUCKETS];
    size_t count;
    double rate;  /* tokens per second */
    double burst; /* bucket size */
} runtime_state;

static size_t rl_hash(const char *s) {
    size_t h = 1469598103934665603ull; /* FNV-1a: ids are random, any spread will do */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h % RL_BUCKETS;
}

/* Drop entries idle long enough to have refilled: forgetting them changes nothing. */
static void rl_sweep(runtime_state *rs, int64_t now_ns) {
    int64_t full_ns = (int64_t)(rs->burst / rs->rate * 1e9) + 1000000000;
    for (size_t b = 0; b < RL_BUCKETS; b++) {
        rl_entry **pp = &rs->buckets[b];
        while (*pp) {
            rl_entry *e = *pp;
            if (now_ns - e->last_ns > full_ns) {
                *pp = e->next;
                free(e);
                rs->count--;
            } else {
                pp = &e->next;
            }
        }
    }
}

/* Take one token for an execution. Returns 0 when allowed, else the seconds to wait. */
static int rl_take(runtime_state *rs, const char *exe_id) {
    if (rs->rate <= 0)
        return 0;
    int64_t now = jc_time_mono_ns();
    int wait = 0;
    pthread_mutex_lock(&rs->lock);
    size_t b = rl_hash(exe_id);
    rl_entry *e = rs->buckets[b];
    while (e && strcmp(e->exe_id, exe_id) != 0)
        e = e->next;
    if (!e) {
        if (rs->count >= RL_SWEEP_AT)
            rl_sweep(rs, now);
        e = calloc(1, sizeof(*e));
        if (!e) {
            pthread_mutex_unlock(&rs->lock);
            return 1; /* no memory: refuse rather than let it through unmetered */
        }
        snprintf(e->exe_id, sizeof(e->exe_id), "%s", exe_id);
        e->tokens = rs->burst;
        e->last_ns = now;
        e->next = rs->buckets[b];
        rs->buckets[b] = e;
        rs->count++;
    }
    e->tokens += (double)(now - e->last_ns) / 1e9 * rs->rate;
    if (e->tokens > rs->burst)
        e->tokens = rs->burst;
    e->last_ns = now;
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
    } else {
        wait = (int)((1.0 - e->tokens) / rs->rate) + 1;
    }
    pthread_mutex_unlock(&rs->lock);
    return wait;
}

static runtime_state *state_of(jc_api *api) {
    return api->runtime_state;
}

/* The one state of the process, freed at exit so leak checkers see a clean end. */
static runtime_state *process_state;

__attribute__((destructor)) static void state_free(void) {
    runtime_state *rs = process_state;
    if (!rs)
        return;
    for (size_t b = 0; b < RL_BUCKETS; b++) {
        rl_entry *e = rs->buckets[b];
        while (e) {
            rl_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    pthread_mutex_destroy(&rs->lock);
    free(rs);
    process_state = NULL;
}

/* ---- verified tokens ------------------------------------------------------------------- */

/* A job sends the same token on every request for up to two hours. Verifying it means two
 * base64url decodes, two JSON parses and an HMAC; once it has passed, its claims cannot
 * change, so they are kept here by the token's exact bytes and only the clock (exp) is
 * checked again. A lookup compares in constant time: a caller who lands a guess in the
 * slot of another job's token learns nothing from the timing, and can at worst evict it
 * (which costs one full verification). A reload of the key ring (keyring.c) bumps its
 * generation, which empties the cache: a revoked key's tokens are verified again, and fail. */
#define TC_SLOTS 1024
#define TC_LOCKS 64
#define TC_MAX_TOKEN 1536 /* jobcell's tokens are ~600 bytes; longer ones are not cached */

typedef struct tc_entry {
    uint64_t generation; /* of the key ring that verified it: a reload empties the cache */
    size_t len;
    char token[TC_MAX_TOKEN];
    jc_jwt_claims claims;
} tc_entry;

static tc_entry tc_slots[TC_SLOTS];
static pthread_mutex_t tc_locks[TC_LOCKS];
static pthread_once_t tc_once = PTHREAD_ONCE_INIT;

static void tc_init(void) {
    for (size_t i = 0; i < TC_LOCKS; i++)
        pthread_mutex_init(&tc_locks[i], NULL);
}

static size_t tc_slot(const char *token, size_t len) {
    /* the tail is the signature: enough to spread valid tokens over the slots */
    size_t h = 1469598103934665603ull;
    for (size_t i = len > 32 ? len - 32 : 0; i < len; i++)
        h = (h ^ (unsigned char)token[i]) * 1099511628211ull;
    return h % TC_SLOTS;
}

static bool tc_lookup(const char *token, size_t len, jc_jwt_claims *out) {
    if (len == 0 || len > TC_MAX_TOKEN)
        return false;
    pthread_once(&tc_once, tc_init);
    size_t slot = tc_slot(token, len);
    pthread_mutex_t *lock = &tc_locks[slot % TC_LOCKS];
    bool hit = false;
    pthread_mutex_lock(lock);
    tc_entry *e = &tc_slots[slot];
    if (e->len == len && e->generation == jc_api_keyring_generation() &&
        CRYPTO_memcmp(e->token, token, len) == 0) {
        *out = e->claims;
        hit = true;
    }
    pthread_mutex_unlock(lock);
    return hit;
}

static void tc_store(const char *token, size_t len, const jc_jwt_claims *claims,
                     uint64_t generation) {
    if (len == 0 || len > TC_MAX_TOKEN)
        return;
    pthread_once(&tc_once, tc_init);
    size_t slot = tc_slot(token, len);
    pthread_mutex_t *lock = &tc_locks[slot % TC_LOCKS];
    pthread_mutex_lock(lock);
    tc_entry *e = &tc_slots[slot];
    memcpy(e->token, token, len);
    e->len = len;
    e->claims = *claims;
    e->generation = generation;
    pthread_mutex_unlock(lock);
}

__attribute__((destructor)) static void tc_wipe(void) {
    OPENSSL_cleanse(tc_slots, sizeof(tc_slots));
}

/* ---- authorization -------------------------------------------------------------------- */

/* What a handler may rely on once authorize() succeeded. */
typedef struct runtime_ctx {
    jc_jwt_claims claims;
    jc_execution exe; /* the store's view: owner, claim, deadline (no result or output) */
    jc_variable var;  /* read with the execution when authorize() was given a key */
    bool var_found;
} runtime_ctx;

static void ctx_clear(runtime_ctx *c) {
    jc_execution_clear(&c->exe);
    json_decref(c->var.value);
    c->var.value = NULL;
    OPENSSL_cleanse(&c->claims, sizeof(c->claims));
}

/* A connection that keeps presenting bad tokens is guessing: after this many it is closed,
 * so each guess costs a new connection (and the relay allows 16 per sandbox). */
#define MAX_INVALID_TOKENS_PER_CONNECTION 20

static int deny(jc_req *req, const char *reason, jc_err *err) {
    jc_req_auth_failure(req, reason);
    if (jc_req_connection_strike(req) >= MAX_INVALID_TOKENS_PER_CONNECTION)
        jc_req_close_connection(req);
    return jc_err_set(err, JC_E_AUTH, INVALID_TOKEN);
}

/* The full check. path_exe is the path's execution id, or NULL for routes without one
 * (tool actions), where the token's own execution is checked instead. When read_key is
 * not NULL the owner's variable of that name is read in the same store read (ctx->var). */
static int authorize_read(jc_req *req, const char *path_exe, const char *read_key, runtime_ctx *ctx,
                          jc_err *err) {
    jc_api *api = jc_req_api(req);
    memset(ctx, 0, sizeof(*ctx));
    const char *header = jc_req_header(req, "Authorization");
    const char *token;
    size_t token_len;
    if (!header)
        return deny(req, "missing", err);
    if (jc_auth_parse_bearer(header, &token, &token_len) < 0)
        return deny(req, "malformed", err);

    jc_jwt_reason reason = JC_JWT_OK;
    jc_err jerr = {0};
    int64_t now_s = jc_time_now_ms() / 1000;
    /* read before verifying: a reload during the verification must not be cached over */
    uint64_t gen = jc_api_keyring_generation();
    if (tc_lookup(token, token_len, &ctx->claims)) {
        /* verified before: only the clock can have changed (no leeway on expiry) */
        if (now_s >= ctx->claims.exp)
            return deny(req, "invalid_token:expired", err);
    } else if (jc_jwt_verify(jc_api_keyring(api), token, token_len, now_s, &ctx->claims, &reason,
                             &jerr) < 0) {
        char why[64];
        snprintf(why, sizeof(why), "invalid_token:%s", jc_jwt_reason_name(reason));
        return deny(req, why, err);
    } else {
        tc_store(token, token_len, &ctx->claims, gen);
    }

    jc_req_audit_auth(req, "jwt", "execution", ctx->claims.execution_id, ctx->claims.kid);
    if (path_exe && strcmp(path_exe, ctx->claims.execution_id) != 0) {
        jc_req_auth_failure(req, "execution_mismatch");
        return jc_err_set(err, JC_E_FORBIDDEN, "execution ID mismatch");
    }

    /* A token dies with its execution and with its claim: an unknown execution, one that
     * ended, or one claimed again (another attempt, another orchestrator, or the same
     * attempt re-queued after a claim was lost in transit) all answer the same 401, so
     * execution ids cannot be probed. */
    jc_err serr = {0};
    if (jc_store_runtime_get(api->store, ctx->claims.execution_id, read_key, &ctx->exe, &ctx->var,
                             &ctx->var_found, &serr) < 0) {
        if (serr.code == JC_E_NOT_FOUND)
            return deny(req, "unknown_execution", err);
        /* the store could not say whether the token's claim is live: refuse */
        jc_metrics_auth_undecided(api->metrics, GROUP);
        *err = serr;
        return -1;
    }
    const jc_execution *e = &ctx->exe;
    if (e->status != JC_EXE_CLAIMED && e->status != JC_EXE_RUNNING) {
        /* a valid token of an execution that ended: leaked or replayed (the scan's
         * token_after_end signal reads this audit event by execution) */
        jc_req_auth_failure_execution(req, "execution_not_live", e->id);
        if (jc_req_connection_strike(req) >= MAX_INVALID_TOKENS_PER_CONNECTION)
            jc_req_close_connection(req);
        return jc_err_set(err, JC_E_AUTH, INVALID_TOKEN);
    }
    if (strcmp(e->job_id, ctx->claims.job_id) != 0 || strcmp(e->owner, ctx->claims.user_id) != 0)
        return deny(req, "job_mismatch", err);
    if (strcmp(e->orchestrator_id, ctx->claims.orc) != 0 || e->attempt != ctx->claims.attempt ||
        strcmp(e->lease_hash, ctx->claims.lease) != 0)
        return deny(req, "claim_mismatch", err);

    int wait = rl_take(state_of(api), e->id);
    if (wait > 0) {
        /* the error answer carries Retry-After */
        jc_metrics_auth_failure(api->metrics, GROUP, "rate_limited");
        return jc_err_set(err, JC_E_RATE_LIMITED,
                          "rate limit exceeded for this execution; retry after %d s", wait);
    }
    return 0;
}

static int authorize(jc_req *req, const char *path_exe, runtime_ctx *ctx, jc_err *err) {
    return authorize_read(req, path_exe, NULL, ctx, err);
}

/* ---- answers -------------------------------------------------------------------------- */

static int reply_ok(jc_req *req, json_t *data, jc_err *err) {
    /* "success" first and the data last, compactly: the bash helper reads the envelope
     * without jq by trusting exactly this layout */
    json_t *doc = json_object();
    if (!doc)
        return jc_err_sys(err, ENOMEM, "runtime: answer");
    json_object_set_new(doc, "success", json_true());
    if (data)
        json_object_set_new(doc, "data", data);
    return jc_reply_json(req, 200, doc, err);
}

/* PROTOCOL.md's key rule, checked after the one percent-decoding of the path. */
static int check_key(const char *key, jc_err *err) {
    size_t n = key ? strlen(key) : 0;
    bool ok =
        n >= 1 && n <= 128 &&
        ((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z') || key[0] == '_');
    for (size_t i = 1; ok && i < n; i++) {
        char c = key[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-';
    }
    if (!ok)
        return jc_err_field(err, JC_E_INVALID, "key",
                            "a variable key is 1-128 characters of letters, digits, '_', '.' and "
                            "'-', starting with a letter or '_'");
    return 0;
}

/* The encoded size of a JSON value, for the size limits. */
static size_t json_size(const json_t *v) {
    return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- handlers ------------------------------------------------------------------------- */

static int get_input(jc_req *req, jc_err *err) {
    runtime_ctx ctx __attribute__((cleanup(ctx_clear)));
    if (authorize(req, jc_req_param(req, "id"), &ctx, err) < 0)
        return -1;
    jc_job job = {0};
    if (jc_store_job_get(jc_req_api(req)->store, ctx.exe.job_id, NULL, &job, err) < 0)
        return -1;
    json_t *input = json_object_get(job.spec, "input");
    json_t *data = input ? json_incref(input) : json_object();
    jc_job_clear(&job);
    return reply_ok(req, data, err);
}

static int post_output(jc_req *req, jc_err *err) {
    static const char *const allowed[] = {"data", NULL};
    runtime_ctx ctx __attribute__((cleanup(ctx_clear)));
    if (authorize(req, jc_req_param(req, "id"), &ctx, err) < 0)
        return -1;
    json_t *body = jc_req_json_object(req, allowed, err);
    if (!body)
        return -1;
    json_t *data = json_object_get(body, "data");
    if (!data)
        return jc_err_field(err, JC_E_INVALID, "data", "the body needs a \"data\" member");
    jc_api *api = jc_req_api(req);
    if (json_size(data) > (size_t)api->cfg->max_output_bytes)
        return jc_err_field(err, JC_E_TOO_LARGE, "data", "the output is over %lld bytes",
                            (long long)api->cfg->max_output_bytes);
    if (jc_store_execution_set_output(api->store, ctx.exe.id, data, err) < 0)
        return err->code == JC_E_LEASE_LOST ? jc_err_set(err, JC_E_AUTH, INVALID_TOKEN) : -1;
    return reply_ok(req, NULL, err);
}

static int post_condition(jc_req *req, jc_err *err) {
    static const char *const allowed[] = {"condition", NULL};
    runtime_ctx ctx __attribute__((cleanup(ctx_clear)));
    if (authorize(req, jc_req_param(req, "id"), &ctx, err) < 0)
        return -1;
    json_t *body = jc_req_json_object(req, allowed, err);
    if (!body)
        return -1;
    json_t *cond = json_object_get(body, "condition");
    if (!json_is_boolean(cond))
        return jc_err_field(err, JC_E_INVALID, "condition", "\"condition\" must be true or false");
    if (jc_store_execution_set_condition(jc_req_api(req)->store, ctx.exe.id, json_is_true(cond),
                                         err) < 0)
        return err->code == JC_E_LEASE_LOST ? jc_err_set(err, JC_E_AUTH, INVALID_TOKEN) : -1;
    return reply_ok(req, NULL, err);
}

static json_t *time_or_null(int64_t ms) {
    if (!ms)
        return json_null();
    char buf[32];
    jc_time_format_ms(ms, buf, sizeof(buf));
    return json_string(buf);
}

static int get_context(jc_req *req, jc_err *err) {
    runtime_ctx ctx __attribute__((cleanup(ctx_clear)));
    if (authorize(req, jc_req_param(req, "id"), &ctx, err) < 0)
        return -1;
    jc_job job = {0};
    if (jc_store_job_get(jc_req_api(req)->store, ctx.exe.job_id, NULL, &job, err) < 0)
        return -1;
    const jc_execution *e = &ctx.exe;
    json_t *d = json_object();
    json_object_set_new(d, "executionId", json_string(e->id));
    json_object_set_new(d, "jobId", json_string(e->job_id));
    json_object_set_new(d, "jobName", json_string(job.name));
    json_object_set_new(d, "attempt", json_integer(e->attempt));
    json_object_set_new(d, "userId", json_string(e->owner));
    json_object_set_new(d, "orchestratorId", json_string(e->orchestrator_id));
    json_object_set_new(d, "startTime",
                        time_or_null(e->started_at ? e->started_at : e->claimed_at));
    /* Cronium's names for the same facts: a Cronium "event" is the job */
    json_object_set_new(d, "eventId", json_string(e->job_id));
    json_object_set_new(d, "eventName", json_string(job.name));
    json_object_set_new(d, "eventType", json_string("script"));
    json_object_set_new(d, "id", json_string(e->job_id));
    json_object_set_new(d, "name", json_string(job.name));
    json_object_set_new(d, "type", json_string("script"));
    json_t *md = json_object();
    json_t *spec = job.spec;
    json_object_set(md, "runtime", json_object_get(spec, "runtime"));
    json_object_set(md, "profile", json_object_get(spec, "profile"));
    json_object_set(md, "timeout_s", json_object_get(spec, "timeout_s"));
    json_object_set_new(md, "deadline", time_or_null(e->deadline_at));
    json_object_set_new(d, "metadata", md);
    jc_job_clear(&job);
    return reply_ok(req, d, err);
}

/* The hot route: the token check, the claim check and the read are one store read. */
static int get_variable(jc_req *req, jc_err *err) {
    runtime_ctx ctx __attribute__((cleanup(ctx_clear)));
    const char *key = jc_req_param(req, "key");
    jc_err key_err = {0};
    bool key_ok = check_key(key, &key_err) == 0;
    /* the key's verdict waits for the authorization: a caller without a valid token
     * learns nothing, not even that a key is malformed */
    if (authorize_read(req, jc_req_param(req, "id"), key_ok ? key : NULL, &ctx, err) < 0)
        return -1;
    if (!key_ok) {
        *err = key_err;
        return -1;
    }
    if (!ctx.var_found)
        return jc_err_set(err, JC_E_NOT_FOUND, "variable not found");
    json_t *d = json_object();
    json_object_set_new(d, "key", json_string(key));
    json_object_set_new(d, "value", ctx.var.value ? steal(&ctx.var.value) : json_null());
    return reply_ok(req, d, err);
}

static int put_variable(jc_req *req, jc_err *err) {
    static const char *const allowed[] = {"value", NULL};
    runtime_ctx ctx __attribute__((cleanup(ctx_clear)));
    if (authorize(req, jc_req_param(req, "id"), &ctx, err) < 0)
        return -1;
    const char *key = jc_req_param(req, "key");
    if (check_key(key, err) < 0)
        return -1;
    jc_req_audit_op(req, "variable_write", key); /* the key's name, never its value */
    json_t *body = jc_req_json_object(req, allowed, err);
    if (!body)
        return -1;
    json_t *value = json_object_get(body, "value");
    if (!value)
        return jc_err_field(err, JC_E_INVALID, "value", "the body needs a \"value\" member");
    jc_api *api = jc_req_api(req);
    if (json_size(value) > (size_t)api->cfg->max_variable_bytes)
        return jc_err_field(err, JC_E_TOO_LARGE, "value",
                            "a variable's value is at most %lld bytes",
                            (long long)api->cfg->max_variable_bytes);
    if (jc_store_var_put(api->store, ctx.exe.owner, key, value, jc_time_now_ms(), err) < 0)
        return -1;
    return reply_ok(req, NULL, err);
}

static int delete_variable(jc_req *req, jc_err *err) {
    runtime_ctx ctx __attribute__((cleanup(ctx_clear)));
    if (authorize(req, jc_req_param(req, "id"), &ctx, err) < 0)
        return -1;
    const char *key = jc_req_param(req, "key");
    if (check_key(key, err) < 0)
        return -1;
    jc_req_audit_op(req, "variable_delete", key);
    if (jc_store_var_delete(jc_req_api(req)->store, ctx.exe.owner, key, err) < 0) {
        if (err->code == JC_E_NOT_FOUND)
            jc_err_set(err, JC_E_NOT_FOUND, "variable not found");
        return -1;
    }
    return reply_ok(req, NULL, err);
}

/* A new token for the same claim: same origIat, exp = min(now + 7200, the deadline). */
static int post_token(jc_req *req, jc_err *err) {
    runtime_ctx ctx __attribute__((cleanup(ctx_clear)));
    if (authorize(req, jc_req_param(req, "id"), &ctx, err) < 0)
        return -1;
    size_t blen = 0;
    const char *raw = jc_req_body(req, &blen);
    if (blen > 0 && strspn(raw, " \t\r\n") != blen) {
        static const char *const none[] = {NULL};
        if (!jc_req_json_object(req, none, err))
            return -1;
    }
    int64_t now = jc_time_now_ms() / 1000;
    int64_t deadline = ctx.exe.deadline_at / 1000;
    if (!ctx.exe.deadline_at || deadline <= now)
        return deny(req, "refresh_after_deadline", err);
    int64_t exp = now + JC_JWT_MAX_LIFETIME < deadline ? now + JC_JWT_MAX_LIFETIME : deadline;
    jc_jwt_claims c = ctx.claims; /* same claim, same origIat */
    c.iat = c.nbf = now;
    c.exp = exp;
    if (jc_random_b64url(16, c.jti, sizeof(c.jti), err) < 0)
        return -1;
    jc_api *api = jc_req_api(req);
    _cleanup_free_ char *token = jc_jwt_sign(jc_api_keyring(api), &c, err);
    OPENSSL_cleanse(&c, sizeof(c));
    if (!token)
        return -1;
    char expires[32];
    jc_time_format_ms(exp * 1000, expires, sizeof(expires));
    json_t *d = json_pack("{s:s, s:s}", "token", token, "expiresAt", expires);
    OPENSSL_cleanse(token, strlen(token));
    if (!d)
        return jc_err_sys(err, ENOMEM, "runtime: token answer");
    return reply_ok(req, d, err);
}

/* Cronium's tool actions (email, Slack, Discord) are not part of jobcell. The token is
 * still checked, so the route tells nothing to a caller without one. */
static int tool_action(jc_req *req, jc_err *err) {
    runtime_ctx ctx __attribute__((cleanup(ctx_clear)));
    if (authorize(req, NULL, &ctx, err) < 0)
        return -1;
    json_t *body = json_pack("{s:s, s:s, s:s}", "error", "Not Implemented", "message",
                             "tool actions (email, Slack, Discord) are not part of jobcell", "code",
                             "not_implemented");
    return jc_reply_json(req, 501, body, err);
}

static int health(jc_req *req, jc_err *err) {
    return jc_reply_json(req, 200, json_pack("{s:s}", "status", "healthy"), err);
}

/* ---- registration --------------------------------------------------------------------- */

static runtime_state *state_new(const jc_api_config *cfg) {
    runtime_state *rs = calloc(1, sizeof(*rs));
    if (!rs)
        return NULL;
    pthread_mutex_init(&rs->lock, NULL);
    rs->rate = cfg && cfg->runtime_rate > 0 ? (double)cfg->runtime_rate : 100.0;
    rs->burst = cfg && cfg->runtime_burst > 0 ? (double)cfg->runtime_burst : 200.0;
    if (cfg && cfg->runtime_rate < 0)
        rs->rate = 0; /* a negative rate turns the limit off (benchmarks) */
    return rs;
}

void jc_runtime_routes(jc_router *r, jc_api *api) {
    if (!api->runtime_state) {
        if (!process_state)
            process_state = state_new(api->cfg);
        api->runtime_state = process_state;
    }
    size_t out_body = (size_t)(api->cfg ? api->cfg->max_output_bytes : 1 << 20) + 1024;
    const jc_route_opts small = {.group = GROUP};
    const jc_route_opts output = {.group = GROUP, .max_body = out_body};
    const jc_route_opts pub = {.group = "health"};
    static const struct {
        const char *method, *pattern;
        jc_handler h;
        bool big;
    } routes[] = {
        {"GET", "/executions/{id}/input", get_input, false},
        {"POST", "/executions/{id}/output", post_output, true},
        {"GET", "/executions/{id}/context", get_context, false},
        {"POST", "/executions/{id}/condition", post_condition, false},
        {"GET", "/executions/{id}/variables/{key}", get_variable, false},
        {"PUT", "/executions/{id}/variables/{key}", put_variable, false},
        {"DELETE", "/executions/{id}/variables/{key}", delete_variable, false},
        {"POST", "/executions/{id}/token", post_token, false},
        {"POST", "/tool-actions/execute", tool_action, false},
    };
    jc_err err = {0};
    for (size_t i = 0; i < JC_ARRAY_LEN(routes); i++)
        if (jc_router_add(r, routes[i].method, routes[i].pattern, routes[i].h,
                          routes[i].big ? &output : &small, &err) < 0)
            jc_log(JC_LOG_ERROR, "runtime route not added", "route", routes[i].pattern, "error",
                   err.msg, NULL);
    if (jc_router_add(r, "GET", "/health", health, &pub, &err) < 0)
        jc_log(JC_LOG_ERROR, "runtime route not added", "route", "/health", "error", err.msg, NULL);
}
