/* orchestrator_cmd.c: `jobcell-api orchestrator add|ls|revoke|rotate`, the credentials
 * orchestrators sign their internal requests with (docs/security.md, "Internal API
 * authentication"). A secret is printed once, when it is made, and stored only sealed
 * under the master key. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api.h"
#include "audit.h"
#include "internal_auth.h"
#include "jobcell/auth.h"
#include "jobcell/cleanup.h"
#include "jobcell/hmac_sig.h"
#include "jobcell/io.h"
#include "jobcell/random.h"
#include "jobcell/seal.h"
#include "store_audit.h"
#include "store_creds.h"

extern char **environ;

static const char help[] =
    "Usage: jobcell-api orchestrator ACTION [ARGS] [--config FILE] [--store-path FILE]\n"
    "\n"
    "Manage the credentials orchestrators sign their requests to the internal API with.\n"
    "Each credential is a key id and a 256-bit secret, and belongs to one orchestrator id.\n"
    "\n"
    "  add NAME [--secret-file PATH]      make a credential for orchestrator NAME\n"
    "  ls [NAME]                          list credentials (never their secrets)\n"
    "  revoke KEY_ID                      refuse a credential from now on\n"
    "  rotate NAME [--grace DURATION] [--secret-file PATH]\n"
    "                                     make a new credential for NAME; the old ones stay\n"
    "                                     valid for DURATION (default: the server setting\n"
    "                                     internal_auth.rotation_grace_s, 24h), e.g. 90m, 2h, 0\n"
    "\n"
    "add and rotate print the key id and the secret once (\"key_id=...\" and \"secret=...\")\n"
    "or, with --secret-file, write the secret to a new file of mode 0600 instead. Give the\n"
    "orchestrator the key id as internal_key_id and the secret in a file of mode 0600 as\n"
    "internal_secret_file. The secret is sealed with the master key (master_key_file) before\n"
    "it is stored; it cannot be shown again.\n";

typedef struct opts {
    const char *config, *store_path, *secret_file, *grace;
    const char *arg; /* NAME or KEY_ID */
} opts;

/* "90", "90s", "15m", "24h", "2d" → seconds; -1 when malformed or over 30 days. */
static int64_t parse_duration(const char *s) {
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -1;
    int64_t mult = 1;
    if (*end == 'm')
        mult = 60;
    else if (*end == 'h')
        mult = 3600;
    else if (*end == 'd')
        mult = 86400;
    else if (*end != 's' && *end != '\0')
        return -1;
    if (*end && end[1])
        return -1;
    if (v > 2592000 / mult)
        return -1;
    return (int64_t)v * mult;
}

static int load_cfg(jc_api_config *cfg, const opts *o, jc_err *err) {
    memset(cfg, 0, sizeof(*cfg));
    if (jc_config_init(&jc_api_config_schema, cfg, err) < 0 ||
        (o->config && jc_config_load_file(&jc_api_config_schema, cfg, o->config, err) < 0) ||
        jc_config_apply_env(&jc_api_config_schema, cfg, environ, err) < 0 ||
        (o->store_path && jc_config_set(&jc_api_config_schema, cfg, "store_path", o->store_path,
                                        "flag --store-path", false, err) < 0))
        return -1;
    return 0;
}

/* Write the secret text to a new file of mode 0600 (never over an existing one). */
static int write_secret_file(const char *path, const char *text, jc_err *err) {
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return jc_err_sys(err, errno, "--secret-file %s", path);
    if (jc_write_all(fd, text, strlen(text), err) < 0 || jc_write_all(fd, "\n", 1, err) < 0 ||
        fsync(fd) < 0) {
        unlink(path);
        return jc_err_prefix(err, "--secret-file %s", path);
    }
    return 0;
}

/* A fresh credential for name, sealed under the active master key; hex gets the secret's
 * text (the caller wipes it). */
static int make_cred(const jc_api_config *cfg, const char *name, jc_orc_cred *c,
                     char hex[JC_HMAC_SECRET_HEX + 1], jc_err *err) {
    if (!cfg->master_key_file || !*cfg->master_key_file)
        return jc_err_set(err, JC_E_CONFIG,
                          "master_key_file is not set: orchestrator secrets are stored only "
                          "sealed with the master key (see 'jobcell-api keys master init')");
    jc_master_ring *ring = jc_master_ring_load(cfg->master_key_file, err);
    if (!ring)
        return -1;
    unsigned char secret[JC_HMAC_SECRET_BYTES];
    memset(c, 0, sizeof(*c));
    snprintf(c->orchestrator, sizeof(c->orchestrator), "%s", name);
    c->created_at = jc_time_now_ms();
    int rc = -1;
    if (jc_random_id(JC_ORC_KEY_PREFIX, c->key_id, sizeof(c->key_id), err) < 0 ||
        jc_random_bytes(secret, sizeof(secret), err) < 0)
        goto out;
    /* the AAD binds the sealed secret to this orchestrator and this key id */
    if (jc_seal(ring, "orchestrator_secret", c->orchestrator, c->key_id, secret, sizeof(secret),
                &c->sealed, err) < 0)
        goto out;
    jc_hmac_secret_format(secret, hex);
    rc = 0;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    jc_master_ring_free(ring);
    return rc;
}

/* Print the credential (the secret itself only without --secret-file, whose file was
 * written before anything was stored). */
static void hand_out(const opts *o, const jc_orc_cred *c, const char *hex) {
    if (o->secret_file) {
        printf("key_id=%s\n", c->key_id);
    } else {
        printf("key_id=%s\nsecret=%s\n", c->key_id, hex);
    }
    fflush(stdout);
    fprintf(stderr,
            "Credential %s for orchestrator %s created. Give that orchestrator:\n"
            "  internal_key_id: %s\n"
            "  internal_secret_file: a file of mode 0600 holding the secret%s\n"
            "The secret is shown only once.\n",
            c->key_id, c->orchestrator, c->key_id,
            o->secret_file ? " (written to --secret-file)" : "");
}

/* An operator event in the audit trail: target is the key id. */
static void audit(jc_store *st, const char *kind, const char *key_id) {
    jc_audit_event ev;
    jc_api_operator_event(&ev, kind, key_id);
    jc_err aerr;
    if (jc_store_audit_append(st, &ev, 1, &aerr) < 0)
        fprintf(stderr, "jobcell-api orchestrator: warning: audit: %s\n", aerr.msg);
}

static void print_time(const char *label, int64_t ms) {
    char t[40];
    if (ms) {
        jc_time_format_ms(ms, t, sizeof(t));
        printf("  %s %s", label, t);
    }
}

static int do_ls(jc_store *st, const opts *o, jc_err *err) {
    jc_orc_cred *v;
    size_t n;
    if (jc_store_cred_list(st, o->arg, &v, &n, err) < 0)
        return -1;
    int64_t now = jc_time_now_ms();
    printf("%-30s %-24s %-8s %s\n", "KEY ID", "ORCHESTRATOR", "STATE", "TIMES");
    for (size_t i = 0; i < n; i++) {
        const char *state = v[i].revoked_at                             ? "revoked"
                            : v[i].expires_at && v[i].expires_at <= now ? "expired"
                            : v[i].expires_at                           ? "expiring"
                                                                        : "active";
        printf("%-30s %-24s %-8s", v[i].key_id, v[i].orchestrator, state);
        print_time("created", v[i].created_at);
        print_time("revoked", v[i].revoked_at);
        print_time("expires", v[i].expires_at);
        printf("\n");
    }
    free(v);
    return 0;
}

int jc_api_cmd_orchestrator(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return 0;
        }
    if (argc < 2) {
        fputs(help, stderr);
        return 2;
    }
    const char *action = argv[1];
    opts o = {0};
    for (int i = 2; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--config") == 0        ? &o.config
                            : strcmp(argv[i], "--store-path") == 0  ? &o.store_path
                            : strcmp(argv[i], "--secret-file") == 0 ? &o.secret_file
                            : strcmp(argv[i], "--grace") == 0       ? &o.grace
                                                                    : NULL;
        if (slot && i + 1 < argc) {
            *slot = argv[++i];
        } else if (!slot && argv[i][0] != '-' && !o.arg) {
            o.arg = argv[i];
        } else {
            fprintf(stderr, "jobcell-api orchestrator: unknown or incomplete argument '%s'\n%s",
                    argv[i], help);
            return 2;
        }
    }
    bool add = strcmp(action, "add") == 0, ls = strcmp(action, "ls") == 0,
         revoke = strcmp(action, "revoke") == 0, rotate = strcmp(action, "rotate") == 0;
    if (!add && !ls && !revoke && !rotate) {
        fprintf(stderr, "jobcell-api orchestrator: unknown action '%s'\n%s", action, help);
        return 2;
    }
    if ((add || rotate || revoke) && !o.arg) {
        fprintf(stderr, "jobcell-api orchestrator %s: missing %s\n", action,
                revoke ? "KEY_ID" : "NAME");
        return 2;
    }
    if ((add || rotate || ls) && o.arg && !jc_orchestrator_id_valid(o.arg)) {
        fprintf(stderr,
                "jobcell-api orchestrator %s: '%s' is not an orchestrator id "
                "(^[a-z0-9][a-z0-9._-]{0,63}$)\n",
                action, o.arg);
        return 2;
    }
    if (o.secret_file && !(add || rotate)) {
        fprintf(stderr, "jobcell-api orchestrator %s: --secret-file is for add and rotate\n",
                action);
        return 2;
    }
    int64_t grace = -1;
    if (o.grace && (!rotate || (grace = parse_duration(o.grace)) < 0)) {
        fprintf(stderr,
                "jobcell-api orchestrator %s: --grace takes a duration up to 30 days "
                "(e.g. 90m, 24h, 0) and only with rotate\n",
                action);
        return 2;
    }
    jc_api_config cfg;
    jc_err err;
    jc_err_clear(&err);
    jc_store *st = NULL;
    int rc = 1;
    char hex[JC_HMAC_SECRET_HEX + 1] = "";
    bool secret_written = false;
    jc_orc_cred c = {0};
    if (load_cfg(&cfg, &o, &err) < 0)
        goto out;
    st = jc_api_open_store(&cfg, &err);
    if (!st)
        goto out;
    int64_t now = jc_time_now_ms();
    if (ls) {
        rc = do_ls(st, &o, &err) < 0 ? 1 : 0;
    } else if (revoke) {
        jc_orc_cred cur;
        if (jc_store_cred_lookup(st, o.arg, &cur, &err) < 0)
            goto out;
        jc_orc_cred_clear(&cur);
        if (jc_store_cred_revoke(st, o.arg, now, &err) < 0)
            goto out;
        audit(st, "orchestrator_key_revoke", cur.key_id);
        fprintf(stderr, "credential %s of orchestrator %s revoked\n", cur.key_id, cur.orchestrator);
        rc = 0;
    } else {
        if (make_cred(&cfg, o.arg, &c, hex, &err) < 0)
            goto out;
        /* The secret file first: if it cannot be written nothing is stored, and a rotation
         * does not end the old credentials for a new one nobody holds. */
        if (o.secret_file && write_secret_file(o.secret_file, hex, &err) < 0)
            goto out;
        secret_written = o.secret_file != NULL;
        if (add) {
            if (jc_store_cred_add(st, &c, &err) < 0)
                goto out;
            audit(st, "orchestrator_key_add", c.key_id);
        } else {
            if (grace < 0)
                grace = cfg.rotation_grace_s;
            size_t rotated = 0;
            if (jc_store_cred_rotate(st, &c, now, now + grace * 1000, &rotated, &err) < 0)
                goto out;
            audit(st, "orchestrator_key_rotate", c.key_id);
            char until[40] = "";
            jc_time_format_ms(now + grace * 1000, until, sizeof(until));
            fprintf(stderr, "%zu older credential(s) of %s stay valid until %s\n", rotated,
                    c.orchestrator, until);
        }
        hand_out(&o, &c, hex);
        secret_written = false; /* handed out: keep the file */
        rc = 0;
    }
out:
    if (secret_written)
        unlink(o.secret_file); /* the credential was not stored: its secret file is void */
    OPENSSL_cleanse(hex, sizeof(hex));
    jc_orc_cred_clear(&c);
    if (rc != 0) {
        fprintf(stderr, "jobcell-api orchestrator %s: %s\n", action, err.msg);
        if (err.code == JC_E_INVALID || err.code == JC_E_CONFIG || err.code == JC_E_UNKNOWN_FIELD)
            rc = 2;
    }
    jc_store_close(st);
    jc_config_free(&jc_api_config_schema, &cfg);
    return rc;
}
