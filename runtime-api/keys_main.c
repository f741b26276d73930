/* keys_main.c: the `jobcell-api keys` command line (docs/security.md "Key rotation"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "jobcell/cleanup.h"
#include "jobcell/io.h"
#include "jobcell/jwt.h"
#include "jobcell/seal.h"
#include "keys.h"

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
    "  keys rewrap --config FILE [--batch N]      re-encrypt every stored secret under the\n"
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
        return 0;
    }
    if (strcmp(action, "add") == 0) {
        if (jc_keys_ring_add(o->file, cls, o->kid, kid, sizeof(kid), &err) < 0)
            return fail(action, &err);
        if (cls == RING_JWT)
            meta_set(o->file, kid, 0);
        printf("%s\n", kid);
        fprintf(stderr, "key %s added to %s (not active)\n", kid, o->file);
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
    fprintf(stderr,
            "%s now holds only the new key %s: every execution token signed before is invalid.\n"
            "Copy the file to every orchestrator and send them SIGHUP; the server reloads it by "
            "itself.\n",
            o->file, kid);
    return 0;
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
    fprintf(stderr, "jobcell-api keys: unknown class '%s'\n\n%s", argv[1], keys_help);
    return 2;
}
