#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "jobcell/cleanup.h"
#include "jobcell/hmac_sig.h"
#include "jobcell/io.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "jobcell/sandbox.h"
#include "notify.h"
#include "orc.h"

#define BEAT_MS 10000
#define DRAIN_DELIVERY_GRACE_MS 10000

static int log_fd = -1;

/* ---- start-up helpers ---------------------------------------------------------------- */

static bool id_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '.' || c == '_' || c == '-'))))
            return false;
    }
    return true;
}

int jc_orc_load_id(const char *configured, const char *state_dir, char *out, size_t outlen,
                   jc_err *err) {
    if (configured && *configured) {
        if (!id_ok(configured) || strlen(configured) >= outlen)
            return jc_err_field(err, JC_E_CONFIG, "orchestrator_id", "bad orchestrator_id");
        snprintf(out, outlen, "%s", configured);
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/orchestrator-id", state_dir);
    size_t len;
    jc_err rerr = {0};
    _cleanup_free_ char *text = jc_read_file(path, 256, &len, &rerr);
    if (text) {
        while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
            text[--len] = '\0';
        if (!id_ok(text) || len >= outlen)
            return jc_err_set(err, JC_E_CONFIG, "%s: not a valid orchestrator id", path);
        snprintf(out, outlen, "%s", text);
        return 0;
    }
    if (rerr.sys_errno != ENOENT) {
        jc_err_prefix(&rerr, "orchestrator id");
        if (err)
            *err = rerr;
        return -1;
    }
    char id[JC_ID_MAX];
    if (jc_random_id("orc_", id, sizeof(id), err) < 0)
        return -1;
    char line[JC_ID_MAX + 2];
    snprintf(line, sizeof(line), "%s\n", id);
    if (jc_write_file_atomic(path, line, strlen(line), 0600, err) < 0)
        return jc_err_prefix(err, "orchestrator id");
    snprintf(out, outlen, "%s", id);
    return 0;
}

static int mkdir_p(const char *path, mode_t mode, jc_err *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return jc_err_set(err, JC_E_CONFIG, "path too long: %s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return jc_err_sys(err, errno, "create %s", tmp);
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return jc_err_sys(err, errno, "create %s", tmp);
    return 0;
}

static int resolve_runtime(jc_orc *orc, jc_err *err) {
    char host[256], port[8];
    uint16_t p;
    bool tls;
    if (jc_orc_parse_http_url(orc->cfg->runtime_url, host, sizeof(host), &p, &tls, err) < 0)
        return -1;
    if (tls) { /* one context for every relayed connection, made at start */
        if (!(orc->runtime_tls = jc_proxy_tls_ctx(orc->cfg->runtime_ca_file, err)))
            return -1;
        snprintf(orc->runtime_host, sizeof(orc->runtime_host), "%s", host);
    }
    snprintf(port, sizeof(port), "%u", p);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0)
        return jc_err_set(err, JC_E_CONFIG, "runtime_url %s: %s", orc->cfg->runtime_url,
                          gai_strerror(rc));
    memcpy(&orc->runtime_addr, ai->ai_addr, ai->ai_addrlen);
    orc->runtime_addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int open_log(const char *path, jc_err *err) {
    if (!path || !*path)
        return 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return jc_err_sys(err, errno, "log_file %s", path);
    jc_log_set_fd(fd);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    return 0;
}

/* ---- runtimes ------------------------------------------------------------------------ */

/* Which runtimes this host can run: each interpreter looked up, as the sandbox does, in
 * /usr/local/bin:/usr/bin:/bin of the host root (the sandbox's root). */
static void detect_runtimes(jc_orc *orc) {
    static const char *const rt[][2] = {
        {"bash", "bash"}, {"sh", "sh"}, {"python", "python3"}, {"node", "node"}};
    static const char *const dirs[] = {"/usr/local/bin", "/usr/bin", "/bin"};
    size_t len = 0;
    orc->runtimes[len++] = '[';
    for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
        bool found = false;
        for (size_t d = 0; d < 3 && !found; d++) {
            char path[64];
            struct stat st;
            snprintf(path, sizeof(path), "%s/%s", dirs[d], rt[i][1]);
            found = stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
        }
        if (found)
            len += (size_t)snprintf(orc->runtimes + len, sizeof(orc->runtimes) - len, "%s\"%s\"",
                                    len > 1 ? "," : "", rt[i][0]);
    }
    snprintf(orc->runtimes + len, sizeof(orc->runtimes) - len, "]");
    jc_log(JC_LOG_INFO, "runtimes offered", "runtimes", orc->runtimes, NULL);
}

/* ---- claims -------------------------------------------------------------------------- */

static void maybe_claim(jc_orc *orc);

static void on_claim_timer(jc_timer *t, void *data) {
    (void)t;
    maybe_claim(data);
}

static int free_slot(jc_orc *orc) {
    for (unsigned i = 0; i < (unsigned)orc->cfg->slots; i++)
        if (!orc->slot[i])
            return (int)i;
    return -1;
}

static void on_claims(const jc_http_resp *r, void *data) {
    jc_orc *orc = data;
    orc->claim_req = NULL;
    _cleanup_json_ json_t *b = NULL;
    json_t *claims = NULL;
    if (r->status == 200) {
        b = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, NULL);
        claims = json_object_get(b, "claims");
    }
    if (!json_is_array(claims)) {
        orc->m.claims_errors++;
        if (r->status == 0 || r->status >= 500)
            orc->m.api_errors++;
        int64_t d = jc_backoff_next(&orc->claim_backoff, jc_backoff_uniform(), r->retry_after_ms);
        char st[16], dl[24];
        snprintf(st, sizeof(st), "%ld", r->status);
        snprintf(dl, sizeof(dl), "%" PRId64, d);
        jc_log(orc->claim_backoff.failures > 3 ? JC_LOG_WARN : JC_LOG_INFO,
               "claim failed; backing off", "status", st, "error", r->status ? NULL : r->error,
               "retry_ms", dl, NULL);
        jc_timer_arm(orc->claim_timer, d);
        return;
    }
    jc_backoff_reset(&orc->claim_backoff);
    size_t i;
    json_t *c;
    /* no new claim until this batch holds its slots: a slot freed meanwhile (a sandbox
     * that fails to start) would otherwise be asked for twice */
    orc->handling_claims = true;
    json_array_foreach(claims, i, c) {
        orc->m.claims_received++;
        int slot = free_slot(orc);
        if (slot < 0 || orc->draining) {
            /* more than we asked for: it goes back to the queue when its lease runs out
             * (a claim never started costs no attempt) */
            jc_log(JC_LOG_WARN, "claim beyond free slots ignored", "exe",
                   json_string_value(json_object_get(c, "execution_id")), NULL);
            continue;
        }
        /* the same execution again (its earlier claim was requeued while we held it): the
         * old claim is fenced off and dies on its next call; two sandboxes of one
         * execution must never run, so this claim waits for its lease to run out */
        const char *id = json_string_value(json_object_get(c, "execution_id"));
        bool dup = false;
        for (jc_exe *e = orc->exes; e && id && !dup; e = jc_exe_next(e))
            dup = strcmp(jc_exe_id(e), id) == 0;
        if (dup) {
            jc_log(JC_LOG_WARN, "claim for an execution still held here ignored", "exe", id, NULL);
            continue;
        }
        jc_err err = {0};
        if (jc_exe_from_claim(orc, c, (unsigned)slot, &err) < 0)
            jc_log(JC_LOG_ERROR, "claim not taken", "error", err.msg, NULL);
    }
    orc->handling_claims = false;
    maybe_claim(orc);
}

static void maybe_claim(jc_orc *orc) {
    if (!orc->claiming_enabled || orc->draining || orc->claim_req || orc->handling_claims ||
        jc_timer_armed(orc->claim_timer))
        return;
    int64_t free_slots = orc->cfg->slots - (int64_t)orc->slots_busy;
    if (free_slots <= 0)
        return;
    if (free_slots > 64)
        free_slots = 64;
    char body[160];
    snprintf(body, sizeof(body), "{\"slots\":%" PRId64 ",\"wait_s\":%" PRId64 ",\"runtimes\":%s}",
             free_slots, orc->cfg->claim_wait_s, orc->runtimes);
    jc_http_opts o = {.method = "POST",
                      .path = "/internal/v1/claims",
                      .body = body,
                      .body_len = strlen(body),
                      .timeout_ms = (orc->cfg->claim_wait_s + 5) * 1000};
    jc_err err = {0};
    orc->m.claims_requests++;
    orc->claim_req = jc_http_request(orc->http, &o, on_claims, orc, &err);
    if (!orc->claim_req) {
        jc_log(JC_LOG_ERROR, "claim request failed", "error", err.msg, NULL);
        jc_timer_arm(orc->claim_timer, jc_backoff_next(&orc->claim_backoff, 0.5, -1));
    }
}

/* ---- lifecycle callbacks from exe.c -------------------------------------------------- */

static unsigned running_count(const jc_orc *orc) {
    unsigned n = 0;
    for (jc_exe *e = orc->exes; e; e = jc_exe_next(e))
        n += jc_exe_running(e);
    return n;
}

static void check_exit(jc_orc *orc) {
    if (!orc->draining)
        return;
    if (running_count(orc) == 0 && (orc->n_delivering == 0 || orc->signals_seen > 1)) {
        jc_loop_stop(orc->loop);
        return;
    }
    /* results still waiting for the server stay in the spool; give them a little time */
    if (running_count(orc) == 0 && !jc_timer_armed(orc->exit_timer))
        jc_timer_arm(orc->exit_timer, DRAIN_DELIVERY_GRACE_MS);
}

void jc_orc_slot_freed(jc_orc *orc) {
    check_exit(orc);
    maybe_claim(orc);
}

void jc_orc_exe_gone(jc_orc *orc) {
    if (!orc->claiming_enabled && orc->n_delivering == 0 && !orc->draining) {
        jc_log(JC_LOG_INFO, "spool delivered; claiming", NULL);
        orc->claiming_enabled = true;
    }
    check_exit(orc);
    maybe_claim(orc);
}

/* ---- orchestrator heartbeat ---------------------------------------------------------- */

static void on_beat(const jc_http_resp *r, void *data) {
    jc_orc *orc = data;
    orc->beat_req = NULL;
    if (r->status != 200 && (r->status == 0 || r->status >= 500))
        orc->m.api_errors++;
    jc_timer_arm(orc->beat_timer, BEAT_MS);
}

static void on_beat_timer(jc_timer *t, void *data) {
    (void)t;
    jc_orc *orc = data;
    if (orc->beat_req)
        return;
    json_t *running = json_array();
    for (jc_exe *e = orc->exes; e; e = jc_exe_next(e))
        if (jc_exe_running(e))
            json_array_append_new(running, json_string(jc_exe_id(e)));
    _cleanup_json_ json_t *b =
        json_pack("{s:I, s:I, s:o, s:o, s:s, s:o*}", "slots_total", (json_int_t)orc->cfg->slots,
                  "slots_free", (json_int_t)(orc->cfg->slots - (int64_t)orc->slots_busy), "running",
                  running, "profiles", jc_orc_profiles_names(orc->profiles), "version", JC_VERSION,
                  "runtimes", json_loads(orc->runtimes, 0, NULL));
    _cleanup_free_ char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
    if (!text) {
        jc_timer_arm(orc->beat_timer, BEAT_MS);
        return;
    }
    jc_http_opts o = {.method = "POST",
                      .path = "/internal/v1/orchestrators/heartbeat",
                      .body = text,
                      .body_len = strlen(text),
                      .timeout_ms = 10000};
    orc->beat_req = jc_http_request(orc->http, &o, on_beat, orc, NULL);
    if (!orc->beat_req)
        jc_timer_arm(orc->beat_timer, BEAT_MS);
}

static void on_watchdog(jc_timer *t, void *data) {
    jc_orc *orc = data;
    jc_notify("WATCHDOG=1");
    jc_timer_arm(t, jc_notify_watchdog_ms() / 2);
    (void)orc;
}

/* ---- metrics ------------------------------------------------------------------------- */

static const char *const reason_names[] = {"exited", "signaled", "timeout",    "oom",
                                           "pids",   "canceled", "setup_error"};

static char *admin_handler(void *data, const char *path, const char **ctype, int *status) {
    jc_orc *orc = data;
    if (!strcmp(path, "/health")) {
        *ctype = "application/json";
        char *s = NULL;
        if (asprintf(&s, "{\"status\":\"%s\",\"orchestrator_id\":\"%s\"}\n",
                     orc->draining ? "draining" : "ok", orc->id) < 0)
            return NULL;
        *status = orc->draining ? 503 : 200;
        return s;
    }
    if (strcmp(path, "/metrics") != 0)
        return NULL;
    *ctype = "text/plain; version=0.0.4";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    const jc_orc_metrics *m = &orc->m;
    fprintf(f,
            "# HELP jobcell_orchestrator_slots Job slots configured.\n"
            "# TYPE jobcell_orchestrator_slots gauge\njobcell_orchestrator_slots %" PRId64 "\n",
            orc->cfg->slots);
    fprintf(f,
            "# HELP jobcell_orchestrator_jobs_running Sandboxes alive now.\n"
            "# TYPE jobcell_orchestrator_jobs_running gauge\n"
            "jobcell_orchestrator_jobs_running %u\n",
            running_count(orc));
    fprintf(f,
            "# HELP jobcell_orchestrator_jobs_started_total Sandboxes started.\n"
            "# TYPE jobcell_orchestrator_jobs_started_total counter\n"
            "jobcell_orchestrator_jobs_started_total %" PRIu64 "\n",
            m->started);
    fprintf(f, "# HELP jobcell_orchestrator_jobs_finished_total Jobs finished, by reason.\n"
               "# TYPE jobcell_orchestrator_jobs_finished_total counter\n");
    for (size_t i = 0; i < JC_ARRAY_LEN(reason_names); i++)
        fprintf(f, "jobcell_orchestrator_jobs_finished_total{reason=\"%s\"} %" PRIu64 "\n",
                reason_names[i], m->finished[i]);
    fprintf(f,
            "# HELP jobcell_orchestrator_claim_requests_total Claim long-polls sent.\n"
            "# TYPE jobcell_orchestrator_claim_requests_total counter\n"
            "jobcell_orchestrator_claim_requests_total %" PRIu64 "\n"
            "# HELP jobcell_orchestrator_claims_total Executions claimed.\n"
            "# TYPE jobcell_orchestrator_claims_total counter\n"
            "jobcell_orchestrator_claims_total %" PRIu64 "\n",
            m->claims_requests, m->claims_received);
    static const char *const le[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1", "+Inf"};
    fprintf(f, "# HELP jobcell_orchestrator_claim_to_running_seconds From a claim's arrival to "
               "its job running.\n# TYPE jobcell_orchestrator_claim_to_running_seconds "
               "histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < JC_ARRAY_LEN(le); i++) {
        cum += m->claim_latency_bucket[i];
        fprintf(f, "jobcell_orchestrator_claim_to_running_seconds_bucket{le=\"%s\"} %" PRIu64 "\n",
                le[i], cum);
    }
    fprintf(f,
            "jobcell_orchestrator_claim_to_running_seconds_sum %.6f\n"
            "jobcell_orchestrator_claim_to_running_seconds_count %" PRIu64 "\n",
            m->claim_latency_sum_s, m->claim_latency_count);
    fprintf(f,
            "# HELP jobcell_orchestrator_api_errors_total Failed calls to the API server "
            "(no answer or 5xx).\n# TYPE jobcell_orchestrator_api_errors_total counter\n"
            "jobcell_orchestrator_api_errors_total %" PRIu64 "\n"
            "# HELP jobcell_orchestrator_lease_lost_total Executions whose lease was lost.\n"
            "# TYPE jobcell_orchestrator_lease_lost_total counter\n"
            "jobcell_orchestrator_lease_lost_total %" PRIu64 "\n"
            "# HELP jobcell_orchestrator_spool_depth Results waiting for the API server.\n"
            "# TYPE jobcell_orchestrator_spool_depth gauge\n"
            "jobcell_orchestrator_spool_depth %u\n"
            "# HELP jobcell_orchestrator_log_bytes_total Log bytes acknowledged by the server.\n"
            "# TYPE jobcell_orchestrator_log_bytes_total counter\n"
            "jobcell_orchestrator_log_bytes_total %" PRIu64 "\n"
            "# HELP jobcell_orchestrator_runtime_connections_total Runtime connections "
            "relayed.\n# TYPE jobcell_orchestrator_runtime_connections_total counter\n"
            "jobcell_orchestrator_runtime_connections_total %" PRIu64 "\n"
            "# HELP jobcell_orchestrator_runtime_refused_total Runtime connections refused "
            "(over 16 per job) or answered 503 (API unreachable).\n"
            "# TYPE jobcell_orchestrator_runtime_refused_total counter\n"
            "jobcell_orchestrator_runtime_refused_total{why=\"limit\"} %" PRIu64 "\n"
            "jobcell_orchestrator_runtime_refused_total{why=\"unreachable\"} %" PRIu64 "\n",
            m->api_errors, m->lease_lost, orc->n_delivering, m->log_bytes_sent, m->proxy.accepted,
            m->proxy.refused, m->proxy.upstream_failed);
    fclose(f);
    return buf;
}

/* ---- signals and drain --------------------------------------------------------------- */

static void cancel_all(jc_orc *orc, const char *why) {
    for (jc_exe *e = orc->exes; e; e = jc_exe_next(e))
        if (jc_exe_running(e))
            jc_exe_cancel(e, why);
}

static void on_drain_timeout(jc_timer *t, void *data) {
    (void)t;
    jc_orc *orc = data;
    jc_log(JC_LOG_WARN, "drain timeout: canceling running jobs", NULL);
    cancel_all(orc, "drain timeout");
}

static void on_exit_timer(jc_timer *t, void *data) {
    (void)t;
    jc_orc *orc = data;
    if (running_count(orc) == 0) {
        jc_log(JC_LOG_WARN, "results left in the spool for the next start", NULL);
        jc_loop_stop(orc->loop);
    }
}

static void start_drain(jc_orc *orc) {
    orc->draining = true;
    jc_notify("STOPPING=1");
    jc_http_cancel(orc->claim_req);
    orc->claim_req = NULL;
    jc_timer_disarm(orc->claim_timer);
    char n[16];
    snprintf(n, sizeof(n), "%u", running_count(orc));
    jc_log(JC_LOG_INFO, "draining: no new claims", "running", n, NULL);
    jc_timer_arm(orc->drain_timer, orc->cfg->drain_timeout_s * 1000);
    check_exit(orc);
}

static bool ring_file_changed(const struct stat *a, const struct stat *b) {
    return a->st_dev != b->st_dev || a->st_ino != b->st_ino || a->st_size != b->st_size ||
           a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/* Load the key ring again; on failure the previous one stays (logged). */
static void reload_ring(jc_orc *orc) {
    jc_err err = {0};
    struct stat st;
    if (stat(orc->cfg->keyring_file, &st) == 0)
        orc->ring_stat = st;
    jc_jwt_keyring *ring = jc_jwt_keyring_load(orc->cfg->keyring_file, &err);
    if (ring) {
        jc_jwt_keyring_free(orc->ring);
        orc->ring = ring;
        jc_log(JC_LOG_INFO, "key ring loaded", "active", jc_jwt_keyring_active(ring), NULL);
    } else {
        jc_log(JC_LOG_ERROR, "key ring reload failed; keeping the previous one", "error", err.msg,
               NULL);
    }
}

void jc_orc_ring_refresh(jc_orc *orc) {
    /* One stat per launch: a ring replaced by a rotation or by revoke-all-tokens signs the
     * next job's token, without waiting for SIGHUP. */
    struct stat st;
    if (stat(orc->cfg->keyring_file, &st) == 0 && ring_file_changed(&st, &orc->ring_stat))
        reload_ring(orc);
}

static void reload(jc_orc *orc) {
    jc_err err = {0};
    if (open_log(orc->cfg->log_file, &err) < 0)
        jc_log(JC_LOG_ERROR, "log reopen failed", "error", err.msg, NULL);
    int bad = jc_orc_profiles_reload(orc->profiles);
    reload_ring(orc);
    char b[16];
    snprintf(b, sizeof(b), "%d", bad);
    jc_log(JC_LOG_INFO, "reloaded", "broken_profiles", b, NULL);
}

static void on_signal(jc_watch *w, int fd, uint32_t ev, void *data) {
    (void)w;
    (void)ev;
    jc_orc *orc = data;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            reload(orc);
            continue;
        }
        orc->signals_seen++;
        if (orc->signals_seen == 1) {
            start_drain(orc);
        } else {
            jc_log(JC_LOG_WARN, "second signal: canceling every job now", NULL);
            cancel_all(orc, "shutdown");
            check_exit(orc);
        }
    }
}

/* ---- run ----------------------------------------------------------------------------- */

int jc_orc_run(jc_orc_config *cfg) {
    jc_err err = {0};
    int status = 1;
    jc_orc *orc = calloc(1, sizeof(*orc));
    jc_watch *sigw = NULL;
    jc_admin *admin = NULL;
    int sfd = -1;
    jc_spool_entry *old = NULL;
    size_t n_old = 0;
    if (!orc)
        return 1;
    orc->cfg = cfg;
    orc->started_ms = jc_time_mono_ms();
    jc_log_set_level((jc_log_level)jc_log_level_parse(cfg->log_level));
    if (open_log(cfg->log_file, &err) < 0)
        goto fail;

    /* signals first, so none is lost while starting; SIGPIPE off (sockets of jobs) */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
        jc_err_sys(&err, errno, "block signals");
        goto fail;
    }
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        jc_err_sys(&err, errno, "signalfd");
        goto fail;
    }

    if (mkdir_p(cfg->state_dir, 0700, &err) < 0 ||
        jc_orc_load_id(cfg->orchestrator_id, cfg->state_dir, orc->id, sizeof(orc->id), &err) < 0)
        goto fail;
    if (stat(cfg->keyring_file, &orc->ring_stat) < 0)
        memset(&orc->ring_stat, 0, sizeof(orc->ring_stat));
    if (!(orc->ring = jc_jwt_keyring_load(cfg->keyring_file, &err)))
        goto fail;
    if (resolve_runtime(orc, &err) < 0)
        goto fail;
    if (!(orc->profiles = jc_orc_profiles_load(cfg->profile_dir, &err)))
        goto fail;
    detect_runtimes(orc);
    jc_sandbox_engine_config ec = {
        .init_path = cfg->init_path[0] ? cfg->init_path : NULL,
        .uid_base = (uint32_t)cfg->uid_base,
        .slots = (uint32_t)cfg->slots,
        .run_dir = cfg->run_dir,
    };
    if (!(orc->engine = jc_sandbox_engine_new(&ec, &err)))
        goto fail;
    int removed = jc_sandbox_reconcile(NULL, cfg->cgroup_parent[0] ? cfg->cgroup_parent : NULL,
                                       cfg->run_dir, &err);
    if (removed < 0) {
        jc_log(JC_LOG_WARN, "reconcile failed", "error", err.msg, NULL);
    } else {
        /* the engine returns the count when it knows it, else 0 */
        char n[16];
        snprintf(n, sizeof(n), "%d", removed);
        jc_log(JC_LOG_INFO, "reconciled leftover sandboxes", "removed", n, NULL);
    }
    char spool_dir[4200];
    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", cfg->state_dir);
    if (jc_spool_open(&orc->spool, spool_dir, cfg->spool_fsync, &err) < 0)
        goto fail;

    if (!(orc->loop = jc_loop_new(&err)))
        goto fail;
    if (!(sigw = jc_loop_watch(orc->loop, sfd, EPOLLIN, on_signal, orc, &err)))
        goto fail;
    /* With a credential of its own the daemon signs every request and sends no shared key
     * at all (a server with require_hmac would refuse it anyway). */
    bool signing = cfg->internal_key_id && cfg->internal_key_id[0];
    if (!(orc->http =
              jc_http_new(orc->loop, cfg->server_url, signing ? NULL : cfg->internal_key.data,
                          signing ? 0 : cfg->internal_key.len, orc->id, &err)))
        goto fail;
    if (signing) {
        unsigned char secret[JC_HMAC_SECRET_BYTES];
        int rc = jc_hmac_secret_parse((const char *)cfg->internal_secret.data,
                                      cfg->internal_secret.len, secret, &err);
        if (rc == 0)
            rc = jc_http_set_signer(orc->http, cfg->internal_key_id, secret, &err);
        OPENSSL_cleanse(secret, sizeof(secret));
        if (rc < 0)
            goto fail;
    }
    /* the key now lives only in the client (header list or signer), wiped when it is freed */
    jc_secret_free(&cfg->internal_key);
    jc_secret_free(&cfg->internal_secret);
    if (!(orc->claim_timer = jc_timer_new(orc->loop, on_claim_timer, orc, &err)) ||
        !(orc->beat_timer = jc_timer_new(orc->loop, on_beat_timer, orc, &err)) ||
        !(orc->drain_timer = jc_timer_new(orc->loop, on_drain_timeout, orc, &err)) ||
        !(orc->exit_timer = jc_timer_new(orc->loop, on_exit_timer, orc, &err)) ||
        !(orc->watchdog_timer = jc_timer_new(orc->loop, on_watchdog, orc, &err)))
        goto fail;
    jc_backoff_init(&orc->claim_backoff, cfg->backoff_base_ms, cfg->backoff_max_ms);
    if (cfg->admin_listen[0] &&
        !(admin = jc_admin_new(orc->loop, cfg->admin_listen, admin_handler, orc, &err)))
        goto fail;

    /* results a previous run could not deliver go first, in the order the jobs ended */
    if (jc_spool_load(&orc->spool, &old, &n_old, &err) < 0)
        goto fail;
    for (size_t i = 0; i < n_old; i++)
        if (jc_exe_from_spool(orc, &old[i], &err) < 0)
            jc_log(JC_LOG_ERROR, "spooled result not resumed", "exe", old[i].execution_id, "error",
                   err.msg, NULL);
    jc_spool_entries_free(old, n_old);
    old = NULL;
    n_old = 0;
    orc->claiming_enabled = orc->n_delivering == 0;

    char slots[16], port[16];
    snprintf(slots, sizeof(slots), "%" PRId64, cfg->slots);
    snprintf(port, sizeof(port), "%d", admin ? jc_admin_port(admin) : 0);
    jc_log(JC_LOG_INFO, "orchestrator ready", "id", orc->id, "server", cfg->server_url, "slots",
           slots, "admin_port", port, NULL);
    jc_notify("READY=1\nSTATUS=claiming");
    if (jc_notify_watchdog_ms() > 0)
        jc_timer_arm(orc->watchdog_timer, jc_notify_watchdog_ms() / 2);
    jc_timer_arm(orc->beat_timer, 0);
    maybe_claim(orc);

    if (jc_loop_run(orc->loop, &err) < 0)
        goto fail;
    jc_log(JC_LOG_INFO, "orchestrator stopped", NULL);
    status = 0;
    goto out;
fail:
    jc_log(JC_LOG_ERROR, "orchestrator failed", "error", err.msg, NULL);
out:
    jc_spool_entries_free(old, n_old);
    /* results not yet acknowledged wait on disk for the next start */
    for (jc_exe *e = orc->exes; e; e = jc_exe_next(e))
        jc_exe_spool_now(e);
    while (orc->exes)
        jc_exe_destroy(orc->exes);
    jc_admin_free(admin);
    jc_http_free(orc->http);
    jc_timer_free(orc->claim_timer);
    jc_timer_free(orc->beat_timer);
    jc_timer_free(orc->drain_timer);
    jc_timer_free(orc->exit_timer);
    jc_timer_free(orc->watchdog_timer);
    jc_watch_remove(sigw);
    jc_loop_free(orc->loop);
    if (sfd >= 0)
        close(sfd);
    jc_spool_close(&orc->spool);
    jc_sandbox_engine_free(orc->engine);
    jc_orc_profiles_free(orc->profiles);
    jc_jwt_keyring_free(orc->ring);
    SSL_CTX_free(orc->runtime_tls);
    free(orc);
    return status;
}
