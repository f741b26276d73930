/* keys_cmd.c: `jobcell-api keys …`: the key files and rotations of docs/security.md.
 *
 * The master key file and the execution-token key ring share one JSON shape,
 * {"active": KID, "keys": {KID: base64url}}, and one editing discipline: the file is read
 * (refused when group or others may read it), changed in memory, and replaced atomically
 * (temporary file, fsync, rename) under an exclusive lock on PATH.lock, so two operators
 * editing at once cannot lose each other's key and a server reloading it never reads half a
 * file. Key material is never printed; only kids are. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/jwt.h"
#include "jobcell/random.h"
#include "jobcell/seal.h"
#include "keys.h"

/* Wipe and free a JSON text holding keys. */
static void wipe_text(char *text) {
    if (text) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
}

/* Hold an exclusive lock on "<path>.lock" for an edit. Returns the fd (or -1). */
static int lock_ring(const char *path, jc_err *err) {
    char lock[4096];
    int n = snprintf(lock, sizeof(lock), "%s.lock", path);
    if (n < 0 || (size_t)n >= sizeof(lock))
        return jc_err_set(err, JC_E_INVALID, "path too long: %s", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return jc_err_sys(err, errno, "lock %s", lock);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return jc_err_sys(err, e, "lock %s", lock);
        }
    }
    return fd;
}

/* Read a ring file as JSON, refusing a file others may read. Owned. */
static json_t *read_ring(const char *path, jc_err *err) {
    struct stat st;
    if (stat(path, &st) < 0) {
        jc_err_sys(err, errno, "key file %s", path);
        return NULL;
    }
    if (st.st_mode & 0077) {
        jc_err_set(err, JC_E_CONFIG,
                   "key file %s: mode %04o gives group or others access; chmod 600 it", path,
                   (unsigned)(st.st_mode & 07777));
        return NULL;
    }
    size_t len = 0;
    char *text = jc_read_file(path, 1 << 20, &len, err);
    if (!text)
        return NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!root || !json_is_object(root) || !json_is_object(json_object_get(root, "keys")) ||
        !json_is_string(json_object_get(root, "active"))) {
        json_decref(root);
        jc_err_set(err, JC_E_CONFIG, "key file %s: not a key ring {\"active\", \"keys\"}", path);
        return NULL;
    }
    return root;
}

/* Write a ring atomically with mode 0600 after checking that `check` accepts it. */
static int write_ring(const char *path, json_t *root, ring_class cls, jc_err *err) {
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return jc_err_sys(err, ENOMEM, "key file: serialise");
    size_t len = strlen(text);
    /* Never write a ring the servers would refuse to load. */
    if (cls == RING_MASTER) {
        jc_master_ring *r = jc_master_ring_parse(text, len, path, err);
        if (!r) {
            wipe_text(text);
            return -1;
        }
        jc_master_ring_free(r);
    } else {
        jc_jwt_keyring *r = jc_jwt_keyring_parse(text, len, path, err);
        if (!r) {
            wipe_text(text);
            return -1;
        }
        jc_jwt_keyring_free(r);
    }
    int rc = jc_write_file_atomic(path, text, len, 0600, err);
    wipe_text(text);
    return rc;
}

/* A fresh kid: "<prefix><unix seconds>-<4 random base32>" (sorts by creation). */
static int new_kid(const char *prefix, char *out, size_t cap, jc_err *err) {
    char rnd[JC_ID_MAX];
    if (jc_random_id("", rnd, sizeof(rnd), err) < 0)
        return -1;
    rnd[4] = '\0';
    int n = snprintf(out, cap, "%s%lld-%s", prefix, (long long)(jc_time_now_ms() / 1000), rnd);
    if (n < 0 || (size_t)n >= cap)
        return jc_err_set(err, JC_E_INTERNAL, "kid too long");
    return 0;
}

static int kid_ok(ring_class cls, const char *kid) {
    if (cls == RING_MASTER)
        return jc_seal_kid_valid(kid);
    size_t n = strlen(kid);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", kid[i]))
            return 0;
    return 1;
}

int jc_keys_ring_init(const char *path, ring_class cls, const char *kid_in, char *kid_out,
                      size_t cap, jc_err *err) {
    char kid[80];
    if (kid_in) {
        if (!kid_ok(cls, kid_in))
            return jc_err_set(err, JC_E_INVALID,
                              "--kid must be 1-64 characters of A-Z a-z 0-9 _ -");
        snprintf(kid, sizeof(kid), "%s", kid_in);
    } else if (new_kid(cls == RING_MASTER ? "m" : "k", kid, sizeof(kid), err) < 0) {
        return -1;
    }
    char *text = jc_master_ring_new_json(kid, err); /* same shape, 32-byte key */
    if (!text)
        return -1;
    /* O_EXCL: init never overwrites a ring (that would lose every key in it). */
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        wipe_text(text);
        if (e == EEXIST)
            return jc_err_set(err, JC_E_CONFLICT,
                              "%s already exists; init never replaces a key file", path);
        return jc_err_sys(err, e, "create %s", path);
    }
    int rc = fchmod(fd, 0600) < 0 ? jc_err_sys(err, errno, "chmod %s", path) : 0;
    if (rc == 0)
        rc = jc_write_all(fd, text, strlen(text), err);
    if (rc == 0 && fsync(fd) < 0)
        rc = jc_err_sys(err, errno, "fsync %s", path);
    wipe_text(text);
    if (rc < 0) {
        unlink(path);
        return -1;
    }
    snprintf(kid_out, cap, "%s", kid);
    return 0;
}

int jc_keys_ring_add(const char *path, ring_class cls, const char *kid_in, char *kid_out,
                     size_t cap, jc_err *err) {
    _cleanup_close_ int lk = lock_ring(path, err);
    if (lk < 0)
        return -1;
    _cleanup_json_ json_t *root = read_ring(path, err);
    if (!root)
        return -1;
    char kid[80];
    if (kid_in) {
        if (!kid_ok(cls, kid_in))
            return jc_err_set(err, JC_E_INVALID,
                              "--kid must be 1-64 characters of A-Z a-z 0-9 _ -");
        snprintf(kid, sizeof(kid), "%s", kid_in);
    } else if (new_kid(cls == RING_MASTER ? "m" : "k", kid, sizeof(kid), err) < 0) {
        return -1;
    }
    json_t *keys = json_object_get(root, "keys");
    if (json_object_get(keys, kid))
        return jc_err_set(err, JC_E_CONFLICT, "kid %s is already in %s", kid, path);
    char key[64];
    if (jc_random_b64url(32, key, sizeof(key), err) < 0)
        return -1;
    json_t *v = json_string(key);
    OPENSSL_cleanse(key, sizeof(key));
    if (!v || json_object_set_new(keys, kid, v) < 0)
        return jc_err_sys(err, ENOMEM, "key file: add");
    if (write_ring(path, root, cls, err) < 0)
        return -1;
    snprintf(kid_out, cap, "%s", kid);
    return 0;
}

int jc_keys_ring_activate(const char *path, ring_class cls, const char *kid, jc_err *err) {
    _cleanup_close_ int lk = lock_ring(path, err);
    if (lk < 0)
        return -1;
    _cleanup_json_ json_t *root = read_ring(path, err);
    if (!root)
        return -1;
    if (!json_object_get(json_object_get(root, "keys"), kid))
        return jc_err_set(err, JC_E_NOT_FOUND, "kid %s is not in %s", kid, path);
    json_object_set_new(root, "active", json_string(kid));
    return write_ring(path, root, cls, err);
}

int jc_keys_ring_remove(const char *path, ring_class cls, const char *kid, jc_err *err) {
    _cleanup_close_ int lk = lock_ring(path, err);
    if (lk < 0)
        return -1;
    _cleanup_json_ json_t *root = read_ring(path, err);
    if (!root)
        return -1;
    json_t *keys = json_object_get(root, "keys");
    if (!json_object_get(keys, kid))
        return jc_err_set(err, JC_E_NOT_FOUND, "kid %s is not in %s", kid, path);
    if (strcmp(json_string_value(json_object_get(root, "active")), kid) == 0)
        return jc_err_set(err, JC_E_CONFLICT,
                          "kid %s is the active key; activate another one before retiring it", kid);
    json_object_del(keys, kid);
    return write_ring(path, root, cls, err);
}

int jc_keys_ring_replace(const char *path, ring_class cls, char *kid_out, size_t cap, jc_err *err) {
    _cleanup_close_ int lk = lock_ring(path, err);
    if (lk < 0)
        return -1;
    /* The file must exist and be a ring: break-glass replaces keys, not configuration. */
    _cleanup_json_ json_t *old = read_ring(path, err);
    if (!old)
        return -1;
    char kid[80];
    if (new_kid(cls == RING_MASTER ? "m" : "k", kid, sizeof(kid), err) < 0)
        return -1;
    char *text = jc_master_ring_new_json(kid, err);
    if (!text)
        return -1;
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_loads(text, 0, &jerr);
    wipe_text(text);
    if (!root)
        return jc_err_set(err, JC_E_INTERNAL, "key file: new ring");
    if (write_ring(path, root, cls, err) < 0)
        return -1;
    snprintf(kid_out, cap, "%s", kid);
    return 0;
}

json_t *jc_keys_ring_kids(const char *path, jc_err *err) {
    json_t *root = read_ring(path, err);
    if (!root)
        return NULL;
    json_t *out = json_pack("{s:O, s:[]}", "active", json_object_get(root, "active"), "keys");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(root, "keys"), k, v)
        json_array_append_new(json_object_get(out, "keys"), json_string(k));
    json_decref(root);
    return out;
}
