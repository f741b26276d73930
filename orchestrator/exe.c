/* exe.c: one execution, from its claim to the acknowledged `complete`.
 *
 *   claim ─ mint token, build the sandbox ─ report start ─┐
 *     running: output → log chunks, heartbeats at a third of the lease, runtime relay
 *   pidfd readable ─ finish ─ last log chunks ─ complete
 *
 * The result goes to the disk spool (fsync'd) before it is first sent when spool_after_ms
 * is 0, else as soon as delivery fails or has not been acknowledged within spool_after_ms,
 * and on shutdown. With a healthy server most results are acknowledged first and never
 * touch the disk (three fsyncs per job would cap a host's throughput); the price is that
 * a daemon crash inside that window loses the result, and the execution is then marked
 * lost and retried by its policy, exactly as when the daemon dies while a job runs.
 *
 * The slot (and its uid range) is released as soon as the sandbox is gone; delivery of
 * the result goes on without it, as long as it takes. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "jobcell/sandbox.h"
#include "launch.h"
#include "logbuf.h"
#include "orc.h"

typedef enum phase {
    PHASE_RUNNING,    /* the sandbox exists (starting or running) */
    PHASE_DELIVERING, /* finished: logs, then complete */
} phase;

struct jc_exe {
    jc_orc *orc;
    jc_exe *prev, *next;
    char id[64], job_id[64], owner[129], lease_token[64];
    int64_t attempt;
    int slot; /* -1 once released */
    phase phase;
    int64_t claimed_mono_ms;

    jc_sandbox *sb;
    jc_watch *w_pid, *w_setup, *w_out, *w_err;
    jc_timer *t_deadline; /* the sandbox's timeout and kill grace */
    jc_timer *t_flush;    /* log batching */
    jc_timer *t_beat;     /* lease heartbeat */
    jc_timer *t_retry;    /* start / log / complete retries */
    jc_timer *t_spool;    /* spool the result if not acknowledged by then */
    jc_proxy *proxy;

    int64_t lease_ms;
    bool start_acked, lease_lost, cancel_sent;
    jc_http_req *req_start, *req_beat, *req_log, *req_complete;
    jc_backoff bo_start, bo_log, bo_complete, bo_beat;

    jc_logbuf log;
    json_t *result; /* the result record, once finished */
    jc_spool_entry spool;
    bool spooled;
};

static void exe_flush_logs(jc_exe *e);
static void exe_try_complete(jc_exe *e);
static void exe_send_start(jc_exe *e);

const char *jc_exe_id(const jc_exe *e) {
    return e->id;
}
bool jc_exe_running(const jc_exe *e) {
    return e->phase == PHASE_RUNNING;
}
jc_exe *jc_exe_next(const jc_exe *e) {
    return e->next;
}

/* ---- life and death ------------------------------------------------------------------ */

static jc_exe *exe_alloc(jc_orc *orc) {
    jc_exe *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->orc = orc;
    e->slot = -1;
    jc_logbuf_init(&e->log);
    int64_t base = orc->cfg->backoff_base_ms, max = orc->cfg->backoff_max_ms;
    jc_backoff_init(&e->bo_start, base, max);
    jc_backoff_init(&e->bo_log, base, max);
    jc_backoff_init(&e->bo_complete, base, max);
    jc_backoff_init(&e->bo_beat, base, max);
    e->lease_ms = 30000;
    e->next = orc->exes;
    if (orc->exes)
        orc->exes->prev = e;
    orc->exes = e;
    return e;
}

static void drop_watch(jc_watch **w) {
    jc_watch_remove(*w);
    *w = NULL;
}

/* Release the sandbox side: watches, relay, timers of the running phase, the slot. */
static void release_sandbox(jc_exe *e) {
    drop_watch(&e->w_pid);
    drop_watch(&e->w_setup);
    drop_watch(&e->w_out);
    drop_watch(&e->w_err);
    jc_proxy_free(e->proxy); /* before the sandbox: the listener belongs to it */
    e->proxy = NULL;
    jc_sandbox_free(e->sb);
    e->sb = NULL;
    jc_timer_free(e->t_deadline);
    e->t_deadline = NULL;
    jc_timer_free(e->t_beat);
    e->t_beat = NULL;
    jc_http_cancel(e->req_beat);
    e->req_beat = NULL;
    if (e->slot >= 0) {
        e->orc->slot[e->slot] = NULL;
        e->orc->slots_busy--;
        e->slot = -1;
        jc_orc_slot_freed(e->orc);
    }
}

void jc_exe_destroy(jc_exe *e) {
    jc_orc *orc = e->orc;
    release_sandbox(e);
    jc_http_cancel(e->req_start);
    jc_http_cancel(e->req_log);
    jc_http_cancel(e->req_complete);
    jc_timer_free(e->t_flush);
    jc_timer_free(e->t_retry);
    jc_timer_free(e->t_spool);
    jc_logbuf_free(&e->log);
    if (e->result)
        json_decref(e->result);
    jc_spool_entry_clear(&e->spool);
    if (e->phase == PHASE_DELIVERING && orc->n_delivering)
        orc->n_delivering--;
    if (e->prev)
        e->prev->next = e->next;
    else
        orc->exes = e->next;
    if (e->next)
        e->next->prev = e->prev;
    OPENSSL_cleanse(e->lease_token, sizeof(e->lease_token));
    free(e);
}

/* The execution is over for us (acknowledged, or no longer ours). */
static void exe_done(jc_exe *e) {
    jc_orc *orc = e->orc;
    if (e->spooled) {
        jc_err err = {0};
        if (jc_spool_remove(&orc->spool, &e->spool, &err) < 0)
            jc_log(JC_LOG_ERROR, "spool: remove failed", "exe", e->id, "error", err.msg, NULL);
    }
    jc_exe_destroy(e);
    jc_orc_exe_gone(orc);
}

/* ---- HTTP helpers -------------------------------------------------------------------- */

static bool retryable(long status) {
    /* no answer, server errors, rate limiting, and 401 (a key being rotated on the server:
     * the operator fixes it, the result must wait, not vanish) */
    return status == 0 || status >= 500 || status == 429 || status == 401 || status == 408;
}

static void count_api_error(jc_exe *e, const jc_http_resp *r) {
    if (r->status == 0 || r->status >= 500)
        e->orc->m.api_errors++;
}

static jc_http_req *post_json(jc_exe *e, const char *verb, json_t *body, jc_http_cb cb) {
    char path[160];
    snprintf(path, sizeof(path), "/internal/v1/executions/%s/%s", e->id, verb);
    _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return NULL;
    jc_http_opts o = {.method = "POST", .path = path, .body = text, .body_len = strlen(text)};
    jc_err err = {0};
    jc_http_req *r = jc_http_request(e->orc->http, &o, cb, e, &err);
    OPENSSL_cleanse(text, strlen(text)); /* holds the lease token */
    if (!r)
        jc_log(JC_LOG_ERROR, "http request failed", "exe", e->id, "error", err.msg, NULL);
    return r;
}

static json_t *lease_body(jc_exe *e) {
    return json_pack("{s:s}", "lease_token", e->lease_token);
}

static void exe_spool(jc_exe *e);

static void retry_later(jc_exe *e, jc_backoff *bo, const jc_http_resp *r) {
    exe_spool(e); /* the server is not taking it now: keep it safe on disk */
    int64_t d = jc_backoff_next(bo, jc_backoff_uniform(), r ? r->retry_after_ms : -1);
    if (!jc_timer_armed(e->t_retry))
        jc_timer_arm(e->t_retry, d);
}

static json_t *parse_body(const jc_http_resp *r) {
    return json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, NULL);
}

/* The lease is gone: another attempt owns the execution now. Stop everything quietly. */
static void lease_lost(jc_exe *e, const char *where) {
    if (e->lease_lost)
        return;
    e->lease_lost = true;
    e->orc->m.lease_lost++;
    jc_log(JC_LOG_WARN, "lease lost: stopping the execution", "exe", e->id, "during", where, NULL);
    if (e->sb && !e->cancel_sent) {
        jc_err err = {0};
        e->cancel_sent = true;
        if (jc_sandbox_cancel(e->sb, &err) < 0)
            jc_log(JC_LOG_ERROR, "cancel failed", "exe", e->id, "error", err.msg, NULL);
        if (e->t_deadline) {
            int64_t dl = jc_sandbox_next_deadline_ms(e->sb);
            if (dl != INT64_MAX)
                jc_timer_arm(e->t_deadline, dl - jc_time_mono_ms());
        }
    }
    if (e->phase == PHASE_DELIVERING)
        exe_done(e);
}

/* ---- start and heartbeat ------------------------------------------------------------- */

static void lease_from_answer(jc_exe *e, json_t *body) {
    const char *exp = json_string_value(json_object_get(body, "lease_expires_at"));
    int64_t ms;
    if (exp && jc_time_parse_ms(exp, &ms) == 0) {
        int64_t left = ms - jc_time_now_ms();
        /* clocks differ between hosts: keep the period sane whatever the answer says */
        if (left >= 3000 && left <= 600000)
            e->lease_ms = left;
    }
}

static void on_beat(const jc_http_resp *r, void *data);

static void send_beat(jc_exe *e) {
    if (e->req_beat || e->lease_lost)
        return;
    _cleanup_json_ json_t *b = lease_body(e);
    e->req_beat = post_json(e, "heartbeat", b, on_beat);
    if (!e->req_beat && e->t_beat)
        jc_timer_arm(e->t_beat, 1000);
}

static void on_beat_timer(jc_timer *t, void *data) {
    (void)t;
    send_beat(data);
}

static void on_beat(const jc_http_resp *r, void *data) {
    jc_exe *e = data;
    e->req_beat = NULL;
    if (r->status == 200) {
        jc_backoff_reset(&e->bo_beat);
        _cleanup_json_ json_t *b = parse_body(r);
        lease_from_answer(e, b);
        if (json_is_true(json_object_get(b, "cancel")) && e->sb && !e->cancel_sent) {
            jc_log(JC_LOG_INFO, "canceled by request", "exe", e->id, NULL);
            jc_exe_cancel(e, "cancel requested");
        }
        if (e->t_beat)
            jc_timer_arm(e->t_beat, e->lease_ms / 3);
        return;
    }
    if (r->status == 409) {
        lease_lost(e, "heartbeat");
        return;
    }
    count_api_error(e, r);
    /* keep trying well inside the lease: the server extends leases when it comes back */
    int64_t d = jc_backoff_next(&e->bo_beat, jc_backoff_uniform(), r->retry_after_ms);
    if (d > e->lease_ms / 3)
        d = e->lease_ms / 3;
    if (e->t_beat)
        jc_timer_arm(e->t_beat, d);
}

static void on_start(const jc_http_resp *r, void *data) {
    jc_exe *e = data;
    e->req_start = NULL;
    if (r->status == 200) {
        e->start_acked = true;
        _cleanup_json_ json_t *b = parse_body(r);
        lease_from_answer(e, b);
        if (e->t_beat)
            jc_timer_arm(e->t_beat, e->lease_ms / 3);
        exe_flush_logs(e);
        exe_try_complete(e);
        return;
    }
    if (r->status == 409) {
        lease_lost(e, "start");
        return;
    }
    count_api_error(e, r);
    jc_log(JC_LOG_WARN, "start not acknowledged; retrying", "exe", e->id, "error",
           r->status ? "http status" : r->error, NULL);
    retry_later(e, &e->bo_start, r);
}

static void exe_send_start(jc_exe *e) {
    if (e->start_acked || e->req_start || e->lease_lost)
        return;
    _cleanup_json_ json_t *b = lease_body(e);
    e->req_start = post_json(e, "start", b, on_start);
    if (!e->req_start)
        retry_later(e, &e->bo_start, NULL);
}

/* ---- logs ---------------------------------------------------------------------------- */

static void on_log(const jc_http_resp *r, void *data) {
    jc_exe *e = data;
    e->req_log = NULL;
    int64_t now = jc_time_mono_ms();
    _cleanup_json_ json_t *b = parse_body(r);
    json_t *len = json_object_get(b, "length");
    if (r->status == 200 && json_is_integer(len) && json_integer_value(len) >= 0) {
        jc_backoff_reset(&e->bo_log);
        uint64_t before = e->log.acked;
        jc_logbuf_ack(&e->log, (uint64_t)json_integer_value(len),
                      json_is_true(json_object_get(b, "truncated")), now);
        e->orc->m.log_bytes_sent += e->log.acked - before;
    } else if (r->status == 416 && json_is_integer(len) && json_integer_value(len) >= 0) {
        jc_logbuf_rewind(&e->log, (uint64_t)json_integer_value(len), now);
        if (e->log.broken)
            jc_log(JC_LOG_ERROR, "server lost acknowledged log bytes; log left incomplete", "exe",
                   e->id, NULL);
    } else if (r->status == 409) {
        jc_logbuf_failed(&e->log);
        lease_lost(e, "logs");
        return;
    } else if (retryable(r->status)) {
        count_api_error(e, r);
        jc_logbuf_failed(&e->log);
        retry_later(e, &e->bo_log, r);
        return;
    } else {
        /* 4xx we cannot fix by resending (413, 400): give up on the log, keep the result */
        char st[24];
        snprintf(st, sizeof(st), "%ld", r->status);
        jc_log(JC_LOG_ERROR, "log chunk refused; log left incomplete", "exe", e->id, "status", st,
               NULL);
        jc_logbuf_failed(&e->log);
        e->log.broken = true;
    }
    exe_flush_logs(e);
    exe_try_complete(e);
}

static void exe_flush_logs(jc_exe *e) {
    if (!e->start_acked || e->req_log || e->lease_lost || jc_timer_armed(e->t_retry))
        return;
    int64_t now = jc_time_mono_ms();
    bool final = e->phase == PHASE_DELIVERING;
    if (!jc_logbuf_should_flush(&e->log, now, final)) {
        int64_t in = jc_logbuf_flush_in(&e->log, now);
        if (in >= 0)
            jc_timer_arm(e->t_flush, in);
        return;
    }
    const unsigned char *p;
    size_t n;
    uint64_t off;
    jc_logbuf_take(&e->log, &p, &n, &off);
    char path[200];
    snprintf(path, sizeof(path), "/internal/v1/executions/%s/logs?offset=%" PRIu64, e->id, off);
    jc_http_opts o = {.method = "PUT",
                      .path = path,
                      .body = p,
                      .body_len = n,
                      .content_type = "application/octet-stream",
                      .lease_token = e->lease_token};
    jc_err err = {0};
    e->req_log = jc_http_request(e->orc->http, &o, on_log, e, &err);
    if (!e->req_log) {
        jc_logbuf_failed(&e->log);
        retry_later(e, &e->bo_log, NULL);
    }
}

static void on_flush_timer(jc_timer *t, void *data) {
    (void)t;
    exe_flush_logs(data);
}

static void on_output(void *userdata, int stream, const char *buf, size_t len) {
    (void)stream;
    jc_exe *e = userdata;
    jc_err err = {0};
    if (jc_logbuf_append(&e->log, buf, len, jc_time_mono_ms(), &err) < 0)
        jc_log(JC_LOG_ERROR, "log buffer", "exe", e->id, "error", err.msg, NULL);
}

/* ---- complete ------------------------------------------------------------------------ */

static void on_complete(const jc_http_resp *r, void *data) {
    jc_exe *e = data;
    e->req_complete = NULL;
    if (r->status == 200) {
        _cleanup_json_ json_t *b = parse_body(r);
        const char *st = json_string_value(json_object_get(b, "status"));
        jc_log(JC_LOG_INFO, "completed", "exe", e->id, "status", st, NULL);
        e->orc->m.completes_sent++;
        exe_done(e);
        return;
    }
    if (r->status == 409) {
        lease_lost(e, "complete");
        return;
    }
    if (retryable(r->status)) {
        count_api_error(e, r);
        retry_later(e, &e->bo_complete, r);
        return;
    }
    char st[24];
    snprintf(st, sizeof(st), "%ld", r->status);
    jc_log(JC_LOG_ERROR, "complete refused by the server; result dropped", "exe", e->id, "status",
           st, NULL);
    exe_done(e);
}

static void exe_try_complete(jc_exe *e) {
    if (e->phase != PHASE_DELIVERING || !e->start_acked || e->req_complete || e->lease_lost ||
        jc_timer_armed(e->t_retry))
        return;
    /* every log byte before the result first: the server may close the log on complete */
    if (!jc_logbuf_done(&e->log)) {
        exe_flush_logs(e);
        return;
    }
    _cleanup_json_ json_t *b =
        json_pack("{s:s, s:O}", "lease_token", e->lease_token, "result", e->result);
    if (!b)
        return;
    e->req_complete = post_json(e, "complete", b, on_complete);
    if (!e->req_complete)
        retry_later(e, &e->bo_complete, NULL);
}

static void on_retry_timer(jc_timer *t, void *data) {
    (void)t;
    jc_exe *e = data;
    if (!e->start_acked)
        exe_send_start(e);
    exe_flush_logs(e);
    exe_try_complete(e);
}

/* ---- finishing ----------------------------------------------------------------------- */

/* Write the finished execution to the spool: its result and every log byte the server
 * has not acknowledged. */
static void exe_spool(jc_exe *e) {
    if (e->spooled || e->phase != PHASE_DELIVERING || e->lease_lost || !e->result)
        return;
    jc_spool_entry *s = &e->spool;
    memset(s, 0, sizeof(*s));
    snprintf(s->execution_id, sizeof(s->execution_id), "%s", e->id);
    snprintf(s->lease_token, sizeof(s->lease_token), "%s", e->lease_token);
    s->log_offset = e->log.acked;
    s->log = (unsigned char *)e->log.data; /* borrowed for the write */
    s->log_len = e->log.len;
    s->log_truncated = e->log.truncated || e->log.broken;
    s->result = e->result;
    jc_err err = {0};
    int rc = jc_spool_write(&e->orc->spool, s, &err);
    s->log = NULL;
    s->log_len = 0;
    s->result = NULL;
    if (rc < 0)
        jc_log(JC_LOG_ERROR, "spool: write failed; the result is kept in memory only", "exe", e->id,
               "error", err.msg, NULL);
    else
        e->spooled = true;
}

static void on_spool_timer(jc_timer *t, void *data) {
    (void)t;
    exe_spool(data);
}

void jc_exe_spool_now(jc_exe *e) {
    exe_spool(e);
}

/* The sandbox is over: record the result, start delivering. */
static void exe_finished(jc_exe *e, json_t *result) {
    jc_orc *orc = e->orc;
    e->result = result;
    const char *reason = json_string_value(json_object_get(result, "reason"));
    release_sandbox(e);
    e->phase = PHASE_DELIVERING;
    orc->n_delivering++;
    if (e->lease_lost) {
        exe_done(e);
        return;
    }
    if (orc->cfg->spool_after_ms == 0)
        exe_spool(e); /* before the first send: a crash from here on loses nothing */
    else if (e->t_spool)
        jc_timer_arm(e->t_spool, orc->cfg->spool_after_ms);
    jc_log(JC_LOG_INFO, "finished", "exe", e->id, "reason", reason, NULL);
    exe_send_start(e); /* no-op once acknowledged */
    exe_flush_logs(e);
    exe_try_complete(e);
}

static json_t *result_json(const jc_result *res) {
    json_t *j = jc_result_to_json(res);
    return j ? j : json_pack("{s:s}", "reason", jc_reason_name(res->reason));
}

static void count_reason(jc_orc *orc, jc_reason r) {
    if ((unsigned)r < JC_ARRAY_LEN(orc->m.finished))
        orc->m.finished[r]++;
}

static void on_pidfd(jc_watch *w, int fd, uint32_t ev, void *data) {
    (void)w;
    (void)fd;
    (void)ev;
    jc_exe *e = data;
    jc_result res;
    memset(&res, 0, sizeof(res));
    jc_err err = {0};
    int64_t t0 = jc_time_mono_ns();
    int frc = jc_sandbox_finish(e->sb, on_output, e, &res, &err);
    char us[24];
    snprintf(us, sizeof(us), "%" PRId64, (jc_time_mono_ns() - t0) / 1000);
    jc_log(JC_LOG_DEBUG, "sandbox finished", "exe", e->id, "finish_us", us, NULL);
    if (frc < 0) {
        jc_log(JC_LOG_ERROR, "sandbox finish failed", "exe", e->id, "error", err.msg, NULL);
        jc_result_set_setup_error(&res, "supervise", err.sys_errno, err.msg);
    }
    count_reason(e->orc, res.reason);
    exe_finished(e, result_json(&res));
}

static void drain_output(jc_exe *e) {
    jc_err err = {0};
    if (jc_sandbox_drain(e->sb, on_output, e, &err) < 0)
        jc_log(JC_LOG_WARN, "output read failed", "exe", e->id, "error", err.msg, NULL);
    if (e->w_out && jc_sandbox_stdout_fd(e->sb) < 0)
        drop_watch(&e->w_out);
    if (e->w_err && jc_sandbox_stderr_fd(e->sb) < 0)
        drop_watch(&e->w_err);
    exe_flush_logs(e);
}

static void on_output_ready(jc_watch *w, int fd, uint32_t ev, void *data) {
    (void)w;
    (void)fd;
    (void)ev;
    drain_output(data);
}

static void arm_deadline(jc_exe *e) {
    int64_t dl = jc_sandbox_next_deadline_ms(e->sb);
    if (dl == INT64_MAX)
        jc_timer_disarm(e->t_deadline);
    else
        jc_timer_arm(e->t_deadline, dl - jc_time_mono_ms());
}

static void on_deadline(jc_timer *t, void *data) {
    (void)t;
    jc_exe *e = data;
    jc_err err = {0};
    if (jc_sandbox_tick(e->sb, jc_time_mono_ms(), &err) < 0)
        jc_log(JC_LOG_ERROR, "sandbox tick failed", "exe", e->id, "error", err.msg, NULL);
    arm_deadline(e);
}

static void observe_latency(jc_orc *orc, int64_t ms) {
    static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};
    double s = (double)ms / 1000.0;
    orc->m.claim_latency_sum_s += s;
    orc->m.claim_latency_count++;
    size_t i = 0;
    while (i < JC_ARRAY_LEN(bounds) && s > bounds[i])
        i++;
    orc->m.claim_latency_bucket[i]++;
}

static void on_setup(jc_watch *w, int fd, uint32_t ev, void *data) {
    (void)w;
    (void)fd;
    (void)ev;
    jc_exe *e = data;
    jc_err err = {0};
    if (jc_sandbox_setup_poll(e->sb, &err) < 0)
        jc_log(JC_LOG_ERROR, "sandbox setup poll failed", "exe", e->id, "error", err.msg, NULL);
    jc_sandbox_state st = jc_sandbox_state_get(e->sb);
    if (st == JC_SANDBOX_STARTING)
        return;
    drop_watch(&e->w_setup);
    if (st != JC_SANDBOX_RUNNING)
        return; /* setup failed: the pidfd reports it */
    observe_latency(e->orc, jc_time_mono_ms() - e->claimed_mono_ms);
    int lfd = jc_sandbox_runtime_fd(e->sb);
    if (lfd >= 0) {
        e->proxy =
            jc_proxy_new(e->orc->loop, lfd, (struct sockaddr *)&e->orc->runtime_addr,
                         e->orc->runtime_addr_len, JC_PROXY_MAX_CONNS, &e->orc->m.proxy, &err);
        if (e->proxy && e->orc->runtime_tls &&
            jc_proxy_set_tls(e->proxy, e->orc->runtime_tls, e->orc->runtime_host, &err) < 0) {
            jc_proxy_free(e->proxy); /* never fall back to plain text */
            e->proxy = NULL;
        }
        if (!e->proxy)
            jc_log(JC_LOG_ERROR, "runtime relay failed to start", "exe", e->id, "error", err.msg,
                   NULL);
    }
    arm_deadline(e);
}

void jc_exe_cancel(jc_exe *e, const char *why) {
    if (!e->sb || e->cancel_sent)
        return;
    e->cancel_sent = true;
    jc_log(JC_LOG_INFO, "canceling", "exe", e->id, "why", why, NULL);
    jc_err err = {0};
    if (jc_sandbox_cancel(e->sb, &err) < 0)
        jc_log(JC_LOG_ERROR, "cancel failed", "exe", e->id, "error", err.msg, NULL);
    arm_deadline(e);
}

/* ---- from a claim -------------------------------------------------------------------- */

static int64_t get_int(json_t *o, const char *k, int64_t def) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* Wipe the values of the claim's secrets in place, then drop them (jansson frees strings
 * without wiping). */
static void wipe_secrets(json_t *job) {
    json_t *sec = json_object_get(job, "secrets");
    const char *k;
    json_t *v;
    json_object_foreach(sec, k, v) {
        if (json_is_string(v))
            OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    }
    json_object_del(job, "secrets");
}

static int start_sandbox(jc_exe *e, json_t *job, jc_err *err) {
    jc_launch l = {.exe_id = e->id,
                   .job_id = e->job_id,
                   .owner = e->owner,
                   .lease_token = e->lease_token,
                   .attempt = e->attempt,
                   .slot = (unsigned)e->slot};
    int rc = jc_launch_start(e->orc, &l, job, &e->sb, err);
    /* The sandbox has its copy: the daemon keeps no secret longer than the launch. */
    wipe_secrets(job);
    return rc;
}

static int watch_sandbox(jc_exe *e, jc_err *err) {
    jc_loop *loop = e->orc->loop;
    e->w_pid = jc_loop_watch_dup(loop, jc_sandbox_pidfd(e->sb), EPOLLIN, on_pidfd, e, err);
    if (!e->w_pid)
        return -1;
    if (jc_sandbox_setup_fd(e->sb) >= 0 &&
        !(e->w_setup =
              jc_loop_watch_dup(loop, jc_sandbox_setup_fd(e->sb), EPOLLIN, on_setup, e, err)))
        return -1;
    if (jc_sandbox_stdout_fd(e->sb) >= 0 &&
        !(e->w_out = jc_loop_watch_dup(loop, jc_sandbox_stdout_fd(e->sb), EPOLLIN, on_output_ready,
                                       e, err)))
        return -1;
    if (jc_sandbox_stderr_fd(e->sb) >= 0 &&
        !(e->w_err = jc_loop_watch_dup(loop, jc_sandbox_stderr_fd(e->sb), EPOLLIN, on_output_ready,
                                       e, err)))
        return -1;
    arm_deadline(e);
    return 0;
}

static int copy_str(char *dst, size_t cap, json_t *o, const char *k, jc_err *err) {
    const char *s = json_string_value(json_object_get(o, k));
    if (!s || !*s || strlen(s) >= cap)
        return jc_err_field(err, JC_E_INVALID, k, "claim: %s missing or too long", k);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int jc_exe_from_claim(jc_orc *orc, json_t *claim, unsigned slot, jc_err *err) {
    jc_exe *e = exe_alloc(orc);
    if (!e)
        return jc_err_sys(err, ENOMEM, "execution: allocate");
    e->claimed_mono_ms = jc_time_mono_ms();
    if (copy_str(e->id, sizeof(e->id), claim, "execution_id", err) < 0 ||
        copy_str(e->job_id, sizeof(e->job_id), claim, "job_id", err) < 0 ||
        copy_str(e->owner, sizeof(e->owner), claim, "owner", err) < 0 ||
        copy_str(e->lease_token, sizeof(e->lease_token), claim, "lease_token", err) < 0 ||
        !jc_id_valid(e->id, "exe_", 26)) {
        /* without a valid id and lease there is nobody to report to */
        jc_log(JC_LOG_ERROR, "claim rejected: malformed", "error", err->msg, NULL);
        jc_exe_destroy(e);
        return -1;
    }
    e->attempt = get_int(claim, "attempt", 1);
    lease_from_answer(e, claim);
    e->slot = (int)slot;
    orc->slot[slot] = e;
    orc->slots_busy++;
    jc_err terr = {0};
    if (!(e->t_deadline = jc_timer_new(orc->loop, on_deadline, e, &terr)) ||
        !(e->t_flush = jc_timer_new(orc->loop, on_flush_timer, e, &terr)) ||
        !(e->t_beat = jc_timer_new(orc->loop, on_beat_timer, e, &terr)) ||
        !(e->t_retry = jc_timer_new(orc->loop, on_retry_timer, e, &terr)) ||
        !(e->t_spool = jc_timer_new(orc->loop, on_spool_timer, e, &terr))) {
        *err = terr;
        jc_exe_destroy(e);
        return -1;
    }
    jc_log(JC_LOG_INFO, "claimed", "exe", e->id, "job", e->job_id, NULL);

    json_t *job = json_object_get(claim, "job");
    jc_err serr = {0};
    if (start_sandbox(e, job, &serr) < 0 || watch_sandbox(e, &serr) < 0) {
        /* the job cannot run here: report it as a setup_error result, not silence */
        orc->m.setup_failures++;
        jc_log(JC_LOG_WARN, "sandbox failed to start", "exe", e->id, "error", serr.msg, NULL);
        jc_result res;
        memset(&res, 0, sizeof(res));
        const char *step = serr.field[0] ? serr.field : "spec";
        jc_result_set_setup_error(&res, step, serr.sys_errno, serr.msg);
        count_reason(orc, res.reason);
        exe_send_start(e);
        exe_finished(e, result_json(&res));
        return 0;
    }
    orc->m.started++;
    exe_send_start(e);
    return 0;
}

/* ---- from the spool ------------------------------------------------------------------ */

int jc_exe_from_spool(jc_orc *orc, jc_spool_entry *s, jc_err *err) {
    jc_exe *e = exe_alloc(orc);
    if (!e)
        return jc_err_sys(err, ENOMEM, "execution: allocate");
    snprintf(e->id, sizeof(e->id), "%s", s->execution_id);
    snprintf(e->lease_token, sizeof(e->lease_token), "%s", s->lease_token);
    e->phase = PHASE_DELIVERING;
    orc->n_delivering++;
    e->start_acked = true; /* a spooled execution was started (or `complete` covers it) */
    e->log.acked = s->log_offset;
    if (s->log_truncated) {
        e->log.truncated = true;
    } else if (s->log_len) {
        if (jc_logbuf_append(&e->log, s->log, s->log_len, jc_time_mono_ms(), err) < 0) {
            jc_exe_destroy(e);
            return -1;
        }
    }
    e->result = steal(&s->result);
    e->spool.seq = s->seq;
    snprintf(e->spool.execution_id, sizeof(e->spool.execution_id), "%s", s->execution_id);
    e->spooled = true;
    jc_err terr = {0};
    if (!(e->t_flush = jc_timer_new(orc->loop, on_flush_timer, e, &terr)) ||
        !(e->t_retry = jc_timer_new(orc->loop, on_retry_timer, e, &terr))) {
        *err = terr;
        e->spooled = false;
        jc_exe_destroy(e);
        return -1;
    }
    jc_log(JC_LOG_INFO, "delivering a spooled result", "exe", e->id, NULL);
    exe_flush_logs(e);
    exe_try_complete(e);
    return 0;
}
