/* keyring.c: the server's key files at run time: reload without dropping a request.
 *
 * The execution-token key ring and the master key file are read at start and again on
 * SIGHUP or when a watcher sees either file change (mtime, size or inode: the key
 * commands replace files by rename). A reload parses the new file first; a file that does
 * not load is logged and the running keys stay. The new ring is published with an atomic
 * pointer store; requests already verifying with the old one finish with it, so old rings
 * are kept (wiped at exit) instead of freed under a reader. A reload bumps a generation
 * that the runtime API's cache of verified tokens checks, so a token verified under the
 * old ring is verified again: after revoke-all-tokens none survives in the cache. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api.h"
#include "audit.h"
#include "jobcell/io.h"
#include "jobcell/log.h"

#define RETIRED_MAX 256 /* reloads kept alive; past this the oldest is freed */

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static jc_jwt_keyring *retired_rings[RETIRED_MAX];
static jc_master_ring *retired_masters[RETIRED_MAX];
static size_t nretired_rings, nretired_masters;
static uint64_t generation = 1;

typedef struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool present;
} file_id;

static file_id ring_id, master_id;

static void identify(const char *path, file_id *out) {
    struct stat st;
    memset(out, 0, sizeof(*out));
    if (path && *path && stat(path, &st) == 0) {
        out->dev = st.st_dev;
        out->ino = st.st_ino;
        out->size = st.st_size;
        out->mtime = st.st_mtim;
        out->present = true;
    }
}

static bool same_file(const file_id *a, const file_id *b) {
    return a->present == b->present && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

const jc_jwt_keyring *jc_api_keyring(jc_api *api) {
    return __atomic_load_n(&api->keyring, __ATOMIC_ACQUIRE);
}

const jc_master_ring *jc_api_master(jc_api *api) {
    return __atomic_load_n(&api->master, __ATOMIC_ACQUIRE);
}

uint64_t jc_api_keyring_generation(void) {
    return __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

static void retire(void **list, size_t *n, void *old, void (*free_fn)(void *)) {
    if (!old)
        return;
    if (*n == RETIRED_MAX) {
        free_fn(list[0]);
        memmove(list, list + 1, (RETIRED_MAX - 1) * sizeof(*list));
        (*n)--;
    }
    list[(*n)++] = old;
}

static void free_ring(void *p) {
    jc_jwt_keyring_free(p);
}
static void free_master(void *p) {
    jc_master_ring_free(p);
}

static void audit_reload(jc_api *api, const char *kind, const char *kid) {
    jc_audit_event ev;
    jc_api_operator_event(&ev, kind, kid);
    JC_AUDIT_SET(&ev, actor, "server");
    JC_AUDIT_SET(&ev, scheme, "none");
    JC_AUDIT_SET(&ev, key_version, kid);
    jc_audit_emit(api->audit, &ev);
}

int jc_api_keys_reload(jc_api *api, const char *why) {
    const jc_api_config *cfg = api->cfg;
    int failures = 0;
    pthread_mutex_lock(&reload_lock);
    jc_err err;
    jc_jwt_keyring *ring = jc_jwt_keyring_load(cfg->jwt_keyring_file, &err);
    identify(cfg->jwt_keyring_file, &ring_id);
    if (ring) {
        jc_jwt_keyring *old = __atomic_exchange_n(&api->keyring, ring, __ATOMIC_ACQ_REL);
        retire((void **)retired_rings, &nretired_rings, old, free_ring);
        __atomic_add_fetch(&generation, 1, __ATOMIC_ACQ_REL);
        jc_log(JC_LOG_INFO, "key ring loaded", "active", jc_jwt_keyring_active(ring), "reason", why,
               NULL);
        audit_reload(api, "key_reload_jwt", jc_jwt_keyring_active(ring));
    } else {
        failures++;
        jc_log(JC_LOG_ERROR, "key ring reload failed; keeping the previous one", "error", err.msg,
               NULL);
    }
    if (cfg->master_key_file && *cfg->master_key_file) {
        jc_master_ring *m = jc_master_ring_load(cfg->master_key_file, &err);
        identify(cfg->master_key_file, &master_id);
        if (m) {
            jc_master_ring *old = __atomic_exchange_n(&api->master, m, __ATOMIC_ACQ_REL);
            retire((void **)retired_masters, &nretired_masters, old, free_master);
            jc_log(JC_LOG_INFO, "master key file loaded", "active", jc_master_ring_active(m),
                   "reason", why, NULL);
            audit_reload(api, "key_reload_master", jc_master_ring_active(m));
        } else {
            failures++;
            jc_log(JC_LOG_ERROR, "master key reload failed; keeping the previous keys", "error",
                   err.msg, NULL);
        }
    }
    pthread_mutex_unlock(&reload_lock);
    return failures ? -1 : 0;
}

void jc_api_keys_loaded(jc_api *api) {
    pthread_mutex_lock(&reload_lock);
    identify(api->cfg->jwt_keyring_file, &ring_id);
    identify(api->cfg->master_key_file, &master_id);
    pthread_mutex_unlock(&reload_lock);
}

void jc_api_keys_check(jc_api *api) {
    file_id r, m;
    identify(api->cfg->jwt_keyring_file, &r);
    identify(api->cfg->master_key_file, &m);
    pthread_mutex_lock(&reload_lock);
    bool changed = !same_file(&r, &ring_id) || !same_file(&m, &master_id);
    pthread_mutex_unlock(&reload_lock);
    /* a file that vanished is left alone: the keys in memory keep working, and the
     * failed load is logged each time it changes again */
    if (changed && r.present)
        jc_api_keys_reload(api, "file changed");
}

void jc_api_keys_free_retired(void) {
    pthread_mutex_lock(&reload_lock);
    for (size_t i = 0; i < nretired_rings; i++)
        jc_jwt_keyring_free(retired_rings[i]);
    for (size_t i = 0; i < nretired_masters; i++)
        jc_master_ring_free(retired_masters[i]);
    nretired_rings = nretired_masters = 0;
    pthread_mutex_unlock(&reload_lock);
}

/* ---- the watcher: one stat() of each key file a second ---------------------------------- */

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond = PTHREAD_COND_INITIALIZER;
static bool watch_stop, watch_running;
static pthread_t watch_thread;

static void *watch_main(void *arg) {
    jc_api *api = arg;
    pthread_mutex_lock(&watch_lock);
    while (!watch_stop) {
        int64_t deadline = jc_time_now_ms() + 1000;
        struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000L};
        while (!watch_stop && pthread_cond_timedwait(&watch_cond, &watch_lock, &ts) != ETIMEDOUT)
            ;
        if (watch_stop)
            break;
        pthread_mutex_unlock(&watch_lock);
        jc_api_keys_check(api);
        pthread_mutex_lock(&watch_lock);
    }
    pthread_mutex_unlock(&watch_lock);
    return NULL;
}

int jc_api_keywatch_start(jc_api *api, jc_err *err) {
    watch_stop = false;
    int e = pthread_create(&watch_thread, NULL, watch_main, api);
    if (e != 0)
        return jc_err_sys(err, e, "key file watcher thread");
    watch_running = true;
    return 0;
}

void jc_api_keywatch_stop(void) {
    if (!watch_running)
        return;
    pthread_mutex_lock(&watch_lock);
    watch_stop = true;
    pthread_cond_signal(&watch_cond);
    pthread_mutex_unlock(&watch_lock);
    pthread_join(watch_thread, NULL);
    watch_running = false;
}
