#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "jobcell/cleanup.h"
#include "jobcell/hmac_sig.h"
#include "jobcell/io.h"

#define RESPONSE_MAX                                                                               \
    (4u << 20) /* a claim answer with 64 scripts of 1 MiB would not fit                            \
                * anyway; the server sends at most `slots` claims */

struct jc_http_req {
    jc_http *http;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char *resp;
    size_t resp_len, resp_cap;
    bool too_large;
    int64_t retry_after_ms;
    jc_http_cb cb;
    void *data;
    char errbuf[CURL_ERROR_SIZE];
    jc_http_req *prev, *next;
};

#define RECENT_SIGS 256

struct jc_http {
    jc_loop *loop;
    CURLM *multi;
    jc_timer *timer;
    char *base_url;
    const char *base_path; /* into base_url: the path before every request's path ("" most) */
    char orchestrator_id[65];
    /* signing (jc_http_set_signer) */
    bool signing;
    char key_id[48];
    unsigned char secret[JC_HMAC_SECRET_BYTES];
    /* The signatures sent lately: the server refuses a signature it has seen within its
     * window, so two identical requests in one second (a retried heartbeat, two empty
     * claims) must differ, and the second one's timestamp is moved on by a second. */
    struct {
        char sig[JC_HMAC_SIG_HEX + 1];
    } recent[RECENT_SIGS];
    size_t recent_next;
    struct curl_slist *common; /* Authorization, X-Orchestrator-ID */
    jc_http_req *reqs;
    unsigned inflight;
};

/* One curl socket: its loop watch. */
typedef struct sock_ctx {
    jc_watch *watch;
} sock_ctx;

static void check_done(jc_http *http);

static void wipe_slist(struct curl_slist *l) {
    for (struct curl_slist *i = l; i; i = i->next)
        OPENSSL_cleanse(i->data, strlen(i->data));
    curl_slist_free_all(l);
}

static void on_sock_event(jc_watch *w, int fd, uint32_t events, void *data) {
    (void)w;
    jc_http *http = data;
    int mask = 0, running = 0;
    if (events & (EPOLLIN | EPOLLHUP))
        mask |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (events & EPOLLERR)
        mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(http->multi, fd, mask, &running);
    check_done(http);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy;
    jc_http *http = userp;
    sock_ctx *ctx = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ctx) {
            jc_watch_remove(ctx->watch);
            free(ctx);
            curl_multi_assign(http->multi, s, NULL);
        }
        return 0;
    }
    uint32_t ev = 0;
    if (what & CURL_POLL_IN)
        ev |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev |= EPOLLOUT;
    if (!ctx) {
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
            return -1;
        ctx->watch = jc_loop_watch(http->loop, s, ev, on_sock_event, http, NULL);
        if (!ctx->watch) {
            free(ctx);
            return -1;
        }
        curl_multi_assign(http->multi, s, ctx);
        return 0;
    }
    return jc_watch_set_events(ctx->watch, ev, NULL) < 0 ? -1 : 0;
}

static void on_timer(jc_timer *t, void *data) {
    (void)t;
    jc_http *http = data;
    int running = 0;
    curl_multi_socket_action(http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(http);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    jc_http *http = userp;
    if (timeout_ms < 0)
        jc_timer_disarm(http->timer);
    else
        jc_timer_arm(http->timer, timeout_ms);
    return 0;
}

jc_http *jc_http_new(jc_loop *loop, const char *base_url, const unsigned char *key, size_t key_len,
                     const char *orchestrator_id, jc_err *err) {
    static bool global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            jc_err_set(err, JC_E_INTERNAL, "http: curl_global_init failed");
            return NULL;
        }
        global_done = true;
    }
    jc_http *http = calloc(1, sizeof(*http));
    if (!http) {
        jc_err_sys(err, ENOMEM, "http: allocate");
        return NULL;
    }
    http->loop = loop;
    http->base_url = strdup(base_url);
    /* strip trailing slashes so paths join cleanly */
    if (http->base_url)
        for (size_t n = strlen(http->base_url); n > 0 && http->base_url[n - 1] == '/'; n--)
            http->base_url[n - 1] = '\0';
    if (http->base_url) {
        /* the path part of the base URL, which is part of what is signed */
        const char *p = strstr(http->base_url, "://");
        p = p ? strchr(p + 3, '/') : NULL;
        http->base_path = p ? p : "";
    }
    snprintf(http->orchestrator_id, sizeof(http->orchestrator_id), "%s", orchestrator_id);
    http->multi = curl_multi_init();
    http->timer = jc_timer_new(loop, on_timer, http, err);
    if (!http->base_url || !http->multi || !http->timer) {
        if (http->base_url && http->multi)
            jc_err_set(err, JC_E_INTERNAL, "http: set up the client");
        jc_http_free(http);
        return NULL;
    }
    size_t hlen = key_len + 32;
    _cleanup_free_ char *auth = malloc(hlen);
    char idh[128];
    int n = snprintf(idh, sizeof(idh), "X-Orchestrator-ID: %s", orchestrator_id);
    if (!auth || n < 0 || (size_t)n >= sizeof(idh)) {
        jc_err_set(err, JC_E_INVALID, "http: orchestrator id too long");
        jc_http_free(http);
        return NULL;
    }
    struct curl_slist *l = NULL;
    if (key && key_len) {
        memcpy(auth, "Authorization: Bearer ", 22);
        memcpy(auth + 22, key, key_len);
        auth[22 + key_len] = '\0';
        http->common = curl_slist_append(NULL, auth);
        OPENSSL_cleanse(auth, hlen);
        l = http->common ? curl_slist_append(http->common, idh) : NULL;
    } else {
        l = curl_slist_append(NULL, idh);
    }
    if (!l) {
        jc_err_sys(err, ENOMEM, "http: headers");
        jc_http_free(http);
        return NULL;
    }
    http->common = l;
    curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
    curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);
    curl_multi_setopt(http->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
    return http;
}

static void req_free(jc_http_req *r) {
    jc_http *http = r->http;
    if (r->prev)
        r->prev->next = r->next;
    else
        http->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    http->inflight--;
    curl_multi_remove_handle(http->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r->resp);
    free(r);
}

void jc_http_free(jc_http *http) {
    if (!http)
        return;
    while (http->reqs)
        req_free(http->reqs);
    if (http->multi)
        curl_multi_cleanup(http->multi);
    jc_timer_free(http->timer);
    wipe_slist(http->common);
    OPENSSL_cleanse(http->secret, sizeof(http->secret));
    free(http->base_url);
    free(http);
}

int jc_http_set_signer(jc_http *http, const char *key_id, const unsigned char secret[32],
                       jc_err *err) {
    if (!key_id || strlen(key_id) >= sizeof(http->key_id))
        return jc_err_set(err, JC_E_INVALID, "http: bad key id");
    snprintf(http->key_id, sizeof(http->key_id), "%s", key_id);
    memcpy(http->secret, secret, sizeof(http->secret));
    http->signing = true;
    return 0;
}

static bool recently_sent(const jc_http *http, const char *sig) {
    for (size_t i = 0; i < RECENT_SIGS; i++)
        if (strcmp(http->recent[i].sig, sig) == 0)
            return true;
    return false;
}

/* Append X-JC-Key-Id, X-JC-Timestamp and X-JC-Signature for this request to *h. */
static int sign_request(jc_http *http, const jc_http_opts *o, struct curl_slist **h, jc_err *err) {
    size_t tlen = strlen(http->base_path) + strlen(o->path) + 1;
    _cleanup_free_ char *target = malloc(tlen);
    if (!target)
        return jc_err_sys(err, ENOMEM, "http: sign");
    snprintf(target, tlen, "%s%s", http->base_path, o->path);
    int64_t ts = jc_time_now_ms() / 1000;
    char stamp[24], sig[JC_HMAC_SIG_HEX + 1];
    /* bounded: at most RECENT_SIGS identical requests can be remembered */
    for (int tries = 0; tries <= RECENT_SIGS; tries++, ts++) {
        snprintf(stamp, sizeof(stamp), "%lld", (long long)ts);
        if (jc_hmac_sign(http->secret, sizeof(http->secret), o->method, target,
                         http->orchestrator_id, stamp, o->body, o->body ? o->body_len : 0, sig,
                         err) < 0)
            return -1;
        if (!recently_sent(http, sig))
            break;
    }
    snprintf(http->recent[http->recent_next].sig, sizeof(http->recent[0].sig), "%s", sig);
    http->recent_next = (http->recent_next + 1) % RECENT_SIGS;
    char line[128];
    const char *lines[3][2] = {
        {"X-JC-Key-Id", http->key_id}, {"X-JC-Timestamp", stamp}, {"X-JC-Signature", sig}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(line, sizeof(line), "%s: %s", lines[i][0], lines[i][1]);
        struct curl_slist *t = curl_slist_append(*h, line);
        if (!t)
            return jc_err_sys(err, ENOMEM, "http: sign");
        *h = t;
    }
    return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
    jc_http_req *r = userdata;
    size_t n = size * nmemb;
    if (r->resp_len + n + 1 > RESPONSE_MAX) {
        r->too_large = true;
        return 0; /* aborts the transfer */
    }
    if (r->resp_len + n + 1 > r->resp_cap) {
        size_t cap = r->resp_cap ? r->resp_cap : 4096;
        while (cap < r->resp_len + n + 1)
            cap *= 2;
        char *p = realloc(r->resp, cap);
        if (!p)
            return 0;
        r->resp = p;
        r->resp_cap = cap;
    }
    memcpy(r->resp + r->resp_len, ptr, n);
    r->resp_len += n;
    r->resp[r->resp_len] = '\0';
    return n;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata) {
    jc_http_req *r = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
        char tmp[32];
        size_t vlen = n - (sizeof(name) - 1);
        if (vlen >= sizeof(tmp))
            vlen = sizeof(tmp) - 1;
        memcpy(tmp, buf + sizeof(name) - 1, vlen);
        tmp[vlen] = '\0';
        char *end;
        long s = strtol(tmp, &end, 10);
        /* only delta-seconds; an HTTP date is ignored (the backoff applies instead) */
        if (end != tmp && s >= 0 && s <= 3600)
            r->retry_after_ms = (int64_t)s * 1000;
    }
    return n;
}

jc_http_req *jc_http_request(jc_http *http, const jc_http_opts *o, jc_http_cb cb, void *data,
                             jc_err *err) {
    jc_http_req *r = calloc(1, sizeof(*r));
    if (!r) {
        jc_err_sys(err, ENOMEM, "http: allocate a request");
        return NULL;
    }
    r->http = http;
    r->cb = cb;
    r->data = data;
    r->retry_after_ms = -1;
    r->easy = curl_easy_init();
    size_t ulen = strlen(http->base_url) + strlen(o->path) + 1;
    _cleanup_free_ char *url = malloc(ulen);
    if (!r->easy || !url) {
        if (r->easy)
            curl_easy_cleanup(r->easy);
        free(r);
        jc_err_sys(err, ENOMEM, "http: allocate a request");
        return NULL;
    }
    snprintf(url, ulen, "%s%s", http->base_url, o->path);

    char ct[96], lt[128];
    snprintf(ct, sizeof(ct), "Content-Type: %s",
             o->content_type ? o->content_type : "application/json");
    struct curl_slist *h = NULL, *t;
    for (struct curl_slist *i = http->common; i; i = i->next) {
        t = curl_slist_append(h, i->data);
        if (!t)
            goto oom;
        h = t;
    }
    if (o->body || strcmp(o->method, "GET") != 0) {
        if (!(t = curl_slist_append(h, ct)))
            goto oom;
        h = t;
    }
    if (o->lease_token) {
        snprintf(lt, sizeof(lt), "X-Lease-Token: %s", o->lease_token);
        if (!(t = curl_slist_append(h, lt)))
            goto oom;
        h = t;
    }
    /* no "Expect: 100-continue" round trip for log chunks */
    if (!(t = curl_slist_append(h, "Expect:")))
        goto oom;
    h = t;
    if (http->signing && sign_request(http, o, &h, err) < 0) {
        curl_slist_free_all(h);
        curl_easy_cleanup(r->easy);
        free(r);
        return NULL;
    }
    r->headers = h;

    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ms > 0 ? o->timeout_ms : 30000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    /* the path goes out exactly as it was signed (no dot-segment squashing) */
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    if (o->body || strcmp(o->method, "GET") != 0) {
        r->body = malloc(o->body_len + 1);
        if (!r->body)
            goto oom;
        if (o->body_len)
            memcpy(r->body, o->body, o->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    }
    r->next = http->reqs;
    if (http->reqs)
        http->reqs->prev = r;
    http->reqs = r;
    http->inflight++;
    if (curl_multi_add_handle(http->multi, e) != CURLM_OK) {
        req_free(r);
        jc_err_set(err, JC_E_INTERNAL, "http: curl_multi_add_handle failed");
        return NULL;
    }
    return r;
oom:
    curl_slist_free_all(h);
    r->headers = NULL;
    curl_easy_cleanup(r->easy);
    free(r->body);
    free(r);
    jc_err_sys(err, ENOMEM, "http: build a request");
    return NULL;
}

void jc_http_cancel(jc_http_req *r) {
    if (r)
        req_free(r);
}

unsigned jc_http_inflight(const jc_http *http) {
    return http->inflight;
}

static void check_done(jc_http *http) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(http->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        jc_http_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r)
            continue;
        jc_http_resp resp = {.retry_after_ms = r->retry_after_ms};
        char error[CURL_ERROR_SIZE];
        if (m->data.result == CURLE_OK) {
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
        } else {
            snprintf(error, sizeof(error), "%s",
                     r->too_large   ? "answer too large"
                     : r->errbuf[0] ? r->errbuf
                                    : curl_easy_strerror(m->data.result));
            resp.error = error;
        }
        resp.body = r->resp ? r->resp : "";
        resp.body_len = r->resp_len;
        jc_http_cb cb = r->cb;
        void *data = r->data;
        /* The callback may start new requests (and so re-enter curl): the finished handle
         * is detached and freed first, with the body kept alive until it returns. */
        char *body = steal(&r->resp);
        req_free(r);
        resp.body = body ? body : "";
        cb(&resp, data);
        free(body);
    }
}
