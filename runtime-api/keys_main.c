/* keys_main.c: the `jobcell-api keys` command line (docs/security.md "Key rotation"). */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/jwt.h"
#include "jobcell/seal.h"
#include "audit.h"
#include "keys.h"
#include "store_sealed.h"

extern char **environ;

static const char keys_help[] =
    "Usage: jobcell-api keys CLASS ACTION [OPTIONS]\n"
    "\n"
    "Manage the key files of the server. Key material is never printed, only key ids.\n"
    "\n"
    "Master key file (encrypts the secrets kept in the database):\n"
    "  keys master init --file PATH [--kid KID]   write a new file (mode 0600) with one key\n"
    "  keys master add --file PATH [--kid KID]    add a new key, not yet active\n"
    "  keys master activate --file PATH --kid KID seal new secrets with KID\n"
    "  keys master ls --file PATH                 list the key ids and the active one\n"
    "  keys rewrap --config FILE [--file PATH] [--batch N]\n"
    "                                             re-encrypt every stored secret under the\n"
    "                                             active master key (online, resumable)\n"
    "\n"
    "Execution-token key ring (jwt_keyring_file, shared with the orchestrators):\n"
    "  keys jwt init --file PATH [--kid KID]      write a new ring with one key\n"
    "  keys jwt add --file PATH [--kid KID]       add a new key (verifies, does not sign yet)\n"
    "  keys jwt activate --file PATH --kid KID    sign new tokens with KID\n"
    "  keys jwt retire --file PATH --kid KID [--force]\n"
    "                                             remove KID; refused while tokens it signed\n"
    "                                             may still be valid (7,230 s after it was\n"
    "                                             last active) unless --force\n"
    "  keys jwt ls --file PATH                    list the key ids and the active one\n"
    "  keys revoke-all-tokens --file PATH         break-glass: replace the whole ring by one\n"
    "                                             fresh key; every execution token dies\n"
    "\n"
    "With --config FILE, each operation is also recorded in the server's audit trail.\n"
    "After changing a ring, the server picks it up within a second (it watches the file) or\n"
    "at once on SIGHUP; orchestrators reload theirs on SIGHUP.\n";

typedef struct opts {
    const char *file, *kid, *config;
    long batch;
    bool force;
} opts;

static int parse_opts(int argc, char **argv, int first, opts *o) {
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0) {
            o->force = true;
            continue;
        }
        const char **slot = strcmp(argv[i], "--file") == 0     ? &o->file
                            : strcmp(argv[i], "--kid") == 0    ? &o->kid
                            : strcmp(argv[i], "--config") == 0 ? &o->config
                                                               : NULL;
        if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            o->batch = strtol(argv[++i], &end, 10);
            if (errno || *end || o->batch < 1 || o->batch > 10000) {
                fprintf(stderr, "jobcell-api keys: --batch must be 1 to 10000\n");
                return -1;
            }
            continue;
        }
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "jobcell-api keys: unknown or incomplete option '%s'\n", argv[i]);
            return -1;
        }
        *slot = argv[++i];
    }
    return 0;
}

/* ---- when a JWT key was last active: "<ring>.meta" ---------------------------------- */

/* The ring file cannot carry this (its schema is shared with the orchestrators), so a small
 * side file records, per kid, the unix second it stopped being the active key (0: it never
 * signed). Retire uses it to know when the last token a key signed has expired. */
static json_t *meta_read(const char *ring) {
    char path[4200];
    snprintf(path, sizeof(path), "%s.meta", ring);
    json_error_t jerr;
    json_t *m = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(m)) {
        json_decref(m);
        m = json_object();
    }
    return m;
}

static int meta_write(const char *ring, json_t *m, jc_err *err) {
    char path[4200];
    snprintf(path, sizeof(path), "%s.meta", ring);
    _cleanup_free_ char *text = json_dumps(m, JSON_SORT_KEYS);
    if (!text)
        return jc_err_sys(err, ENOMEM, "meta");
    return jc_write_file_atomic(path, text, strlen(text), 0600, err);
}

static void meta_set(const char *ring, const char *kid, int64_t when) {
    _cleanup_json_ json_t *m = meta_read(ring);
    json_object_set_new(m, kid, json_integer(when));
    jc_err err;
    if (meta_write(ring, m, &err) < 0)
        fprintf(stderr, "jobcell-api keys: warning: %s\n", err.msg);
}

/* ---- the audit trail of offline key operations -------------------------------------------- */

/* With --config, the operation is recorded in the store's audit trail (the server also
 * records each reload it sees). Best effort: a failure is a warning, the key change stands. */
static void audit_offline(const opts *o, const char *kind, const char *kid) {
    if (!o->config)
        return;
    jc_api_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    jc_err err;
    jc_err_clear(&err);
    jc_store *st = NULL;
    if (jc_config_init(&jc_api_config_schema, &cfg, &err) == 0 &&
        jc_config_load_file(&jc_api_config_schema, &cfg, o->config, &err) == 0 &&
        jc_config_apply_env(&jc_api_config_schema, &cfg, environ, &err) == 0) {
        if ((st = jc_api_open_store(&cfg, &err))) {
            jc_audit_event ev;
            jc_api_operator_event(&ev, kind, kid);
            JC_AUDIT_SET(&ev, key_version, kid);
            jc_store_audit_append(st, &ev, 1, &err);
        }
    }
    if (err.code != JC_E_OK)
        fprintf(stderr, "jobcell-api keys: warning: audit: %s\n", err.msg);
    jc_store_close(st);
    jc_config_free(&jc_api_config_schema, &cfg);
}

/* ---- commands -------------------------------------------------------------------------- */

static int fail(const char *what, const jc_err *err) {
    fprintf(stderr, "jobcell-api keys %s: %s\n", what, err->msg);
    return err->code == JC_E_INVALID || err->code == JC_E_CONFIG ? 2 : 1;
}

static int cmd_ring(ring_class cls, const char *action, const opts *o) {
    const char *cname = cls == RING_MASTER ? "master" : "jwt";
    jc_err err;
    jc_err_clear(&err);
    if (!o->file) {
        fprintf(stderr, "jobcell-api keys %s %s: --file PATH is required\n", cname, action);
        return 2;
    }
    char kid[80] = "";
    if (strcmp(action, "init") == 0) {
        if (jc_keys_ring_init(o->file, cls, o->kid, kid, sizeof(kid), &err) < 0)
            return fail(action, &err);
        printf("%s\n", kid);
        fprintf(stderr, "new key file %s (mode 0600), active key %s\n", o->file, kid);
        audit_offline(o, cls == RING_MASTER ? "key_master_init" : "key_jwt_init", kid);
        return 0;
    }
    if (strcmp(action, "add") == 0) {
        if (jc_keys_ring_add(o->file, cls, o->kid, kid, sizeof(kid), &err) < 0)
            return fail(action, &err);
        if (cls == RING_JWT)
            meta_set(o->file, kid, 0);
        printf("%s\n", kid);
        fprintf(stderr, "key %s added to %s (not active)\n", kid, o->file);
        audit_offline(o, cls == RING_MASTER ? "key_master_add" : "key_jwt_add", kid);
        return 0;
    }
    if (strcmp(action, "ls") == 0) {
        _cleanup_json_ json_t *k = jc_keys_ring_kids(o->file, &err);
        if (!k)
            return fail(action, &err);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(k, "keys"), i, v) {
            const char *s = json_string_value(v);
            printf("%s%s\n", s,
                   strcmp(s, json_string_value(json_object_get(k, "active"))) == 0 ? " (active)"
                                                                                   : "");
        }
        return 0;
    }
    if (!o->kid) {
        fprintf(stderr, "jobcell-api keys %s %s: --kid KID is required\n", cname, action);
        return 2;
    }
    if (strcmp(action, "activate") == 0) {
        _cleanup_json_ json_t *before = jc_keys_ring_kids(o->file, &err);
        if (!before)
            return fail(action, &err);
        const char *prev = json_string_value(json_object_get(before, "active"));
        if (jc_keys_ring_activate(o->file, cls, o->kid, &err) < 0)
            return fail(action, &err);
        if (cls == RING_JWT && strcmp(prev, o->kid) != 0)
            meta_set(o->file, prev, jc_time_now_ms() / 1000);
        fprintf(stderr, "%s is now the active key of %s\n", o->kid, o->file);
        audit_offline(o, cls == RING_MASTER ? "key_master_activate" : "key_jwt_activate", o->kid);
        return 0;
    }
    if (cls == RING_JWT && strcmp(action, "retire") == 0) {
        _cleanup_json_ json_t *m = meta_read(o->file);
        json_t *when = json_object_get(m, o->kid);
        int64_t now = jc_time_now_ms() / 1000;
        int64_t safe = JC_JWT_MAX_LIFETIME + JC_JWT_LEEWAY;
        if (!o->force) {
            if (!json_is_integer(when)) {
                fprintf(stderr,
                        "jobcell-api keys jwt retire: no record of when %s last signed tokens; "
                        "wait %lld s after it stopped being active, then use --force\n",
                        o->kid, (long long)safe);
                return 1;
            }
            int64_t since = json_integer_value(when);
            if (since > 0 && now - since < safe) {
                fprintf(stderr,
                        "jobcell-api keys jwt retire: tokens signed by %s may be valid for "
                        "%lld s more; retry then, or use --force to cut them off now\n",
                        o->kid, (long long)(safe - (now - since)));
                return 1;
            }
        }
        if (jc_keys_ring_remove(o->file, cls, o->kid, &err) < 0)
            return fail(action, &err);
        json_object_del(m, o->kid);
        (void)meta_write(o->file, m, &err);
        fprintf(stderr, "%s removed from %s\n", o->kid, o->file);
        audit_offline(o, o->force ? "key_jwt_retire_forced" : "key_jwt_retire", o->kid);
        return 0;
    }
    fprintf(stderr, "jobcell-api keys %s: unknown action '%s'\n", cname, action);
    return 2;
}

static int cmd_revoke_all(const opts *o) {
    jc_err err;
    jc_err_clear(&err);
    if (!o->file) {
        fprintf(stderr, "jobcell-api keys revoke-all-tokens: --file PATH is required\n");
        return 2;
    }
    char kid[80];
    if (jc_keys_ring_replace(o->file, RING_JWT, kid, sizeof(kid), &err) < 0)
        return fail("revoke-all-tokens", &err);
    _cleanup_json_ json_t *m = json_pack("{s:i}", kid, (json_int_t)0);
    (void)meta_write(o->file, m, &err);
    printf("%s\n", kid);
    audit_offline(o, "key_revoke_all_tokens", kid);
    fprintf(
        stderr,
        "%s now holds only the new key %s: every execution token signed before is invalid.\n"
        "The server and the orchestrators on this host reload it by themselves; copy it to the\n"
        "orchestrators of other hosts (they reload it before their next job, or on SIGHUP).\n",
        o->file, kid);
    return 0;
}

/* ---- rewrap --------------------------------------------------------------------------- */

typedef struct rewrap_counts {
    size_t scanned, rewrapped, current, changed, failed;
} rewrap_counts;

/* Re-seal one kind's values under the active kid, a page at a time. Each value is opened
 * with whichever kid it names (the old key must still be in the file) and replaced only
 * if the row still holds it, so a server writing meanwhile never loses a value. */
static int rewrap_kind(jc_store *st, const jc_master_ring *ring, const char *kind, size_t batch,
                       rewrap_counts *c, jc_err *err) {
    const char *active = jc_master_ring_active(ring);
    _cleanup_free_ char *cursor = NULL;
    do {
        jc_sealed_row *rows = NULL;
        size_t n = 0;
        char *next = NULL;
        if (jc_store_sealed_page(st, kind, cursor, batch, &rows, &n, &next, err) < 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            c->scanned++;
            char kid[JC_SEAL_KID_MAX + 1];
            if (jc_sealed_kid(rows[i].sealed, kid, sizeof(kid)) == 0 && strcmp(kid, active) == 0) {
                c->current++;
                continue;
            }
            unsigned char *pt = NULL;
            size_t len = 0;
            jc_err e;
            if (jc_unseal(ring, kind, rows[i].owner, rows[i].id, rows[i].sealed, &pt, &len, &e) <
                0) {
                c->failed++;
                fprintf(stderr, "jobcell-api keys rewrap: %s %s does not open: %s\n", kind,
                        rows[i].id, e.msg);
                continue;
            }
            char *fresh = NULL;
            int rc = jc_seal(ring, kind, rows[i].owner, rows[i].id, pt, len, &fresh, &e);
            OPENSSL_cleanse(pt, len);
            free(pt);
            bool swapped = false;
            if (rc < 0 || jc_store_sealed_swap(st, kind, rows[i].id, rows[i].sealed, fresh,
                                               &swapped, &e) < 0) {
                c->failed++;
                fprintf(stderr, "jobcell-api keys rewrap: %s %s: %s\n", kind, rows[i].id, e.msg);
            } else if (swapped) {
                c->rewrapped++;
            } else {
                c->changed++; /* written meanwhile: it is under the active key already */
            }
            free(fresh);
        }
        jc_sealed_rows_free(rows, n);
        free(cursor);
        cursor = next;
    } while (cursor);
    return 0;
}

static int cmd_rewrap(const opts *o) {
    jc_api_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    jc_err err;
    jc_err_clear(&err);
    int rc = 1;
    jc_store *st = NULL;
    jc_master_ring *ring = NULL;
    if (jc_config_init(&jc_api_config_schema, &cfg, &err) < 0 ||
        (o->config && jc_config_load_file(&jc_api_config_schema, &cfg, o->config, &err) < 0) ||
        jc_config_apply_env(&jc_api_config_schema, &cfg, environ, &err) < 0 ||
        (o->file && jc_config_set(&jc_api_config_schema, &cfg, "master_key_file", o->file,
                                  "flag --file", false, &err) < 0))
        goto out;
    if (!cfg.master_key_file || !*cfg.master_key_file) {
        jc_err_set(&err, JC_E_CONFIG, "master_key_file is not set (give --config or --file)");
        goto out;
    }
    if (!(ring = jc_master_ring_load(cfg.master_key_file, &err)))
        goto out;
    if (!(st = jc_api_open_store(&cfg, &err)))
        goto out;
    rewrap_counts c = {0};
    for (const char *const *k = jc_store_sealed_kinds(); *k; k++)
        if (rewrap_kind(st, ring, *k, (size_t)o->batch, &c, &err) < 0)
            goto out;
    printf("active key %s: %zu sealed values, %zu re-encrypted, %zu already current, "
           "%zu changed meanwhile, %zu failed\n",
           jc_master_ring_active(ring), c.scanned, c.rewrapped, c.current, c.changed, c.failed);
    jc_audit_event ev;
    jc_api_operator_event(&ev, "key_rewrap", jc_master_ring_active(ring));
    JC_AUDIT_SET(&ev, key_version, jc_master_ring_active(ring));
    if (c.failed) {
        JC_AUDIT_SET(&ev, outcome, "error");
        JC_AUDIT_SET(&ev, reason, "values_did_not_open");
    }
    jc_err aerr;
    if (jc_store_audit_append(st, &ev, 1, &aerr) < 0)
        fprintf(stderr, "jobcell-api keys rewrap: warning: audit: %s\n", aerr.msg);
    rc = c.failed ? 1 : 0;
    if (c.failed)
        jc_err_set(&err, JC_E_INTERNAL,
                   "%zu values did not open: is a retired master key missing from the file?",
                   c.failed);
out:
    if (rc != 0 && err.msg[0])
        fprintf(stderr, "jobcell-api keys rewrap: %s\n", err.msg);
    jc_store_close(st);
    jc_master_ring_free(ring);
    jc_config_free(&jc_api_config_schema, &cfg);
    return rc != 0 && (err.code == JC_E_CONFIG || err.code == JC_E_INVALID) ? 2 : rc;
}

int jc_api_cmd_keys(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(keys_help, stdout);
            return 0;
        }
    if (argc < 2) {
        fputs(keys_help, stderr);
        return 2;
    }
    opts o = {.batch = 500};
    if (strcmp(argv[1], "master") == 0 || strcmp(argv[1], "jwt") == 0) {
        if (argc < 3 || parse_opts(argc, argv, 3, &o) < 0) {
            fputs(keys_help, stderr);
            return 2;
        }
        return cmd_ring(strcmp(argv[1], "master") == 0 ? RING_MASTER : RING_JWT, argv[2], &o);
    }
    if (parse_opts(argc, argv, 2, &o) < 0) {
        fputs(keys_help, stderr);
        return 2;
    }
    if (strcmp(argv[1], "revoke-all-tokens") == 0)
        return cmd_revoke_all(&o);
    if (strcmp(argv[1], "rewrap") == 0)
        return cmd_rewrap(&o);
    fprintf(stderr, "jobcell-api keys: unknown class '%s'\n\n%s", argv[1], keys_help);
    return 2;
}
