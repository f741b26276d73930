/* internal_auth.c: verification of signed internal requests, the replay cache and the
 * per-address auth-failure limit. */
#include "internal_auth.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/hmac_sig.h"
#include "jobcell/log.h"
#include "jobcell/random.h"
#include "jobcell/seal.h"
#include "store_creds.h"

#define PROBES 32 /* slots looked at per operation: bounds the work of every call */

static size_t round_pow2(size_t n) {
    size_t p = 1024;
    while (p < n && p < ((size_t)1 << 30))
        p <<= 1;
    return p;
}

/* ---- replay cache ------------------------------------------------------------------ */

typedef struct replay_entry {
    unsigned char sig[32];
    int64_t until_s; /* 0: empty */
} replay_entry;

struct jc_replay_cache {
    pthread_mutex_t lock;
    size_t mask;
    replay_entry *slots;
};

jc_replay_cache *jc_replay_cache_new(size_t entries) {
    jc_replay_cache *c = calloc(1, sizeof(*c));
    size_t n = round_pow2(entries);
    if (!c)
        return NULL;
    c->slots = calloc(n, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return NULL;
    }
    /* Touch every page now: the table's memory is committed at start (a server that cannot
     * have it fails to start, not later under load) and no request pays a page fault. */
    memset(c->slots, 0, n * sizeof(*c->slots));
    c->mask = n - 1;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void jc_replay_cache_free(jc_replay_cache *c) {
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c);
}

static int nibble(char ch) {
    return ch <= '9' ? ch - '0' : ch - 'a' + 10;
}

int jc_replay_cache_check(jc_replay_cache *c, const char sig[64], int64_t until_s, int64_t now_s) {
    unsigned char raw[32];
    for (size_t i = 0; i < 32; i++)
        raw[i] = (unsigned char)(nibble(sig[2 * i]) << 4 | nibble(sig[2 * i + 1]));
    /* Only verified signatures get here: an HMAC output is uniformly spread and no one
     * without the key can choose it, so its first bytes are a fair hash. */
    uint64_t h;
    memcpy(&h, raw, sizeof(h));
    pthread_mutex_lock(&c->lock);
    replay_entry *free_slot = NULL;
    int rc = -1;
    for (size_t i = 0; i < PROBES; i++) {
        replay_entry *e = &c->slots[(h + i) & c->mask];
        bool live = e->until_s != 0 && e->until_s >= now_s;
        if (live && memcmp(e->sig, raw, 32) == 0) {
            rc = 1;
            goto out;
        }
        if (!live && !free_slot)
            free_slot = e;
    }
    if (free_slot) {
        memcpy(free_slot->sig, raw, 32);
        free_slot->until_s = until_s;
        rc = 0;
    }
out:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* ---- per-address failure limit ------------------------------------------------------ */

typedef struct addr_entry {
    char addr[INET6_ADDRSTRLEN];
    int64_t window_start_ms, last_ms, blocked_until_ms;
    uint32_t count;
} addr_entry;

struct jc_addr_limit {
    pthread_mutex_t lock;
    size_t mask;
    addr_entry *slots;
    int64_t per_minute, block_ms;
    uint64_t seed;
};

jc_addr_limit *jc_addr_limit_new(size_t entries, int64_t per_minute, int64_t block_s) {
    if (per_minute <= 0)
        return NULL;
    jc_addr_limit *l = calloc(1, sizeof(*l));
    size_t n = round_pow2(entries);
    if (!l)
        return NULL;
    l->slots = calloc(n, sizeof(*l->slots));
    jc_err ignored;
    if (!l->slots || jc_random_bytes(&l->seed, sizeof(l->seed), &ignored) < 0) {
        free(l->slots);
        free(l);
        return NULL;
    }
    l->mask = n - 1;
    l->per_minute = per_minute;
    l->block_ms = block_s * 1000;
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void jc_addr_limit_free(jc_addr_limit *l) {
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l);
}

/* The key of an address: IPv4 as is, IPv6 reduced to its /64 (one host holds a whole
 * /64 and could otherwise take a fresh address for every guess). */
static void addr_key(const char *addr, char out[INET6_ADDRSTRLEN]) {
    struct in6_addr a6;
    if (strchr(addr, ':') && inet_pton(AF_INET6, addr, &a6) == 1) {
        memset(a6.s6_addr + 8, 0, 8);
        if (inet_ntop(AF_INET6, &a6, out, INET6_ADDRSTRLEN))
            return;
    }
    snprintf(out, INET6_ADDRSTRLEN, "%s", addr);
}

static uint64_t addr_hash(const jc_addr_limit *l, const char *key) {
    uint64_t h = 1469598103934665603ULL ^ l->seed; /* FNV-1a, seeded per process */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ^ (h >> 29);
}

/* The entry of key, or NULL; with create, a slot for it (an empty or stale one, else the
 * least recently active one that is not blocked). Caller holds the lock. */
static addr_entry *addr_find(jc_addr_limit *l, const char *key, int64_t now_ms, bool create) {
    uint64_t h = addr_hash(l, key);
    addr_entry *victim = NULL;
    int64_t stale_ms = l->block_ms > 60000 ? l->block_ms : 60000;
    for (size_t i = 0; i < PROBES; i++) {
        addr_entry *e = &l->slots[(h + i) & l->mask];
        if (e->addr[0] && strcmp(e->addr, key) == 0)
            return e;
        if (!create)
            continue;
        bool reusable =
            !e->addr[0] || (e->blocked_until_ms <= now_ms && now_ms - e->last_ms > stale_ms);
        if (reusable && (!victim || victim->addr[0]))
            victim = e;
        else if (!reusable && e->blocked_until_ms <= now_ms &&
                 (!victim || (victim->addr[0] && e->last_ms < victim->last_ms)))
            victim = e;
    }
    if (!victim)
        return NULL; /* every slot nearby holds a live block: this address goes uncounted */
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->addr, sizeof(victim->addr), "%s", key);
    victim->window_start_ms = now_ms;
    return victim;
}

int64_t jc_addr_limit_blocked(jc_addr_limit *l, const char *addr, int64_t now_ms) {
    if (!l || !addr || !addr[0])
        return 0;
    char key[INET6_ADDRSTRLEN];
    addr_key(addr, key);
    pthread_mutex_lock(&l->lock);
    addr_entry *e = addr_find(l, key, now_ms, false);
    int64_t left =
        e && e->blocked_until_ms > now_ms ? (e->blocked_until_ms - now_ms + 999) / 1000 : 0;
    pthread_mutex_unlock(&l->lock);
    return left;
}

bool jc_addr_limit_fail(jc_addr_limit *l, const char *addr, int64_t now_ms) {
    if (!l || !addr || !addr[0])
        return false;
    char key[INET6_ADDRSTRLEN];
    addr_key(addr, key);
    bool started = false;
    pthread_mutex_lock(&l->lock);
    addr_entry *e = addr_find(l, key, now_ms, true);
    if (e) {
        e->last_ms = now_ms;
        if (now_ms - e->window_start_ms >= 60000) {
            e->window_start_ms = now_ms;
            e->count = 0;
        }
        if (++e->count >= (uint64_t)l->per_minute && e->blocked_until_ms <= now_ms) {
            e->blocked_until_ms = now_ms + l->block_ms;
            e->count = 0;
            e->window_start_ms = now_ms;
            started = true;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return started;
}

/* ---- verification ------------------------------------------------------------------ */

static int refuse(jc_iauth_result *res, const char *reason, jc_err *err) {
    res->reason = reason;
    return jc_err_set(err, JC_E_AUTH, "invalid credentials");
}

int jc_iauth_verify(jc_iauth *ia, jc_store *st, const jc_master_ring *ring,
                    const jc_iauth_request *in, int64_t now_ms, jc_iauth_result *res, jc_err *err) {
    memset(res, 0, sizeof(*res));
    /* Cheap checks first: a stale or malformed request costs no store read. */
    int64_t ts;
    if (!in->timestamp || jc_hmac_timestamp_parse(in->timestamp, &ts) < 0)
        return refuse(res, "bad_timestamp", err);
    int64_t now_s = now_ms / 1000;
    if (ts < now_s - JC_HMAC_WINDOW_S || ts > now_s + JC_HMAC_WINDOW_S)
        return refuse(res, "stale_timestamp", err);
    if (!jc_hmac_is_sig(in->signature))
        return refuse(res, "malformed_signature", err);
    if (!in->key_id || !jc_id_valid(in->key_id, JC_ORC_KEY_PREFIX, 26))
        return refuse(res, "unknown_key", err);
    if (!ring)
        return refuse(res, "hmac_not_configured", err);
    jc_orc_cred cred;
    jc_err lookup;
    if (jc_store_cred_lookup(st, in->key_id, &cred, &lookup) < 0) {
        if (lookup.code == JC_E_NOT_FOUND)
            return refuse(res, "unknown_key", err);
        res->reason = "store_error";
        *err = lookup;
        return -1;
    }
    /* from here on the key exists: its id and owner come from the store, so they may be
     * named in the audit trail */
    snprintf(res->key_id, sizeof(res->key_id), "%s", cred.key_id);
    snprintf(res->orchestrator, sizeof(res->orchestrator), "%s", cred.orchestrator);
    int rc = -1;
    unsigned char *pt = NULL;
    size_t ptlen = 0;
    if (cred.revoked_at) {
        refuse(res, "revoked_key", err);
        goto out;
    }
    if (cred.expires_at && now_ms >= cred.expires_at) {
        refuse(res, "expired_key", err);
        goto out;
    }
    if (strcmp(cred.orchestrator, in->orchestrator) != 0) {
        refuse(res, "wrong_orchestrator", err);
        goto out;
    }
    jc_err se;
    if (jc_unseal(ring, "orchestrator_secret", cred.orchestrator, cred.key_id, cred.sealed, &pt,
                  &ptlen, &se) < 0 ||
        ptlen != JC_HMAC_SECRET_BYTES) {
        /* the store and the master key file disagree: an operator must look */
        jc_log(JC_LOG_ERROR, "an orchestrator secret does not open with the master key", "key",
               cred.key_id, NULL);
        refuse(res, "unseal_failed", err);
        goto out;
    }
    if (jc_hmac_verify(pt, ptlen, in->method, in->target, in->orchestrator, in->timestamp, in->body,
                       in->body_len, in->signature, err) < 0) {
        refuse(res, "bad_signature", err);
        goto out;
    }
    /* A signature stays acceptable while its timestamp is inside the window: remember it
     * that long, so a captured request cannot be sent again. */
    int seen = jc_replay_cache_check(ia->replay, in->signature, ts + JC_HMAC_WINDOW_S, now_s);
    if (seen == 1) {
        refuse(res, "replay", err);
        goto out;
    }
    if (seen < 0) {
        res->reason = "replay_cache_full";
        jc_err_set(err, JC_E_UNAVAILABLE, "too many signed requests at once, try again later");
        goto out;
    }
    rc = 0;
out:
    if (pt) {
        OPENSSL_cleanse(pt, ptlen);
        free(pt);
    }
    jc_orc_cred_clear(&cred);
    return rc;
}

void jc_iauth_count_ok(jc_iauth *ia, bool hmac) {
    __atomic_fetch_add(hmac ? &ia->ok_hmac : &ia->ok_bearer, 1, __ATOMIC_RELAXED);
}

void jc_iauth_count_blocked(jc_iauth *ia) {
    __atomic_fetch_add(&ia->blocked, 1, __ATOMIC_RELAXED);
}

char *jc_iauth_metrics_text(jc_iauth *ia) {
    char *out = NULL;
    uint64_t h = __atomic_load_n(&ia->ok_hmac, __ATOMIC_RELAXED);
    uint64_t b = __atomic_load_n(&ia->ok_bearer, __ATOMIC_RELAXED);
    uint64_t bl = __atomic_load_n(&ia->blocked, __ATOMIC_RELAXED);
    uint64_t bs = __atomic_load_n(&ia->blocks_started, __ATOMIC_RELAXED);
    if (asprintf(&out,
                 "# HELP jobcell_internal_auth_total Internal API requests authenticated, by "
                 "scheme.\n"
                 "# TYPE jobcell_internal_auth_total counter\n"
                 "jobcell_internal_auth_total{scheme=\"hmac\"} %" PRIu64 "\n"
                 "jobcell_internal_auth_total{scheme=\"bearer\"} %" PRIu64 "\n"
                 "# HELP jobcell_auth_blocked_requests_total Requests refused with 429 because "
                 "their address failed authentication too often.\n"
                 "# TYPE jobcell_auth_blocked_requests_total counter\n"
                 "jobcell_auth_blocked_requests_total %" PRIu64 "\n"
                 "# HELP jobcell_auth_address_blocks_total Times an address was blocked after "
                 "too many authentication failures in a minute.\n"
                 "# TYPE jobcell_auth_address_blocks_total counter\n"
                 "jobcell_auth_address_blocks_total %" PRIu64 "\n",
                 h, b, bl, bs) < 0)
        return NULL;
    return out;
}
