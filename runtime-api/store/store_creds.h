/* store_creds.h: orchestrator credentials in the store.
 *
 * Each orchestrator signs its internal requests with its own credential: a key id and a
 * 256-bit secret. The store never holds the secret in clear: `sealed` is the output of
 * jc_seal(kind "orchestrator_secret", owner = the orchestrator id, id = the key id), so a
 * sealed value copied to another row does not open.
 *
 * A credential is live while it is not revoked and its expires_at (if any) is in the
 * future. Rotation gives the old credentials of an orchestrator an expires_at (the grace
 * period) and adds a new one, in one transaction. Every operation is atomic on its own.
 * Times are milliseconds since the epoch; 0 means "not set". */
#ifndef JOBCELL_STORE_CREDS_H
#define JOBCELL_STORE_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "jobcell/random.h"
#include "store.h"

#define JC_ORC_ID_MAX 65 /* ^[a-z0-9][a-z0-9._-]{0,63}$ and a NUL */
#define JC_ORC_KEY_PREFIX "ok_"

typedef struct jc_orc_cred {
    char key_id[JC_ID_MAX];           /* "ok_" + 26 base32 characters */
    char orchestrator[JC_ORC_ID_MAX]; /* the owner: X-Orchestrator-ID must be this */
    int64_t created_at;
    int64_t revoked_at; /* 0: not revoked */
    int64_t expires_at; /* 0: no end (set by a rotation) */
    char *sealed;       /* lookup and sealed_page only: the sealed secret (owned); else NULL */
    int64_t seq;        /* insertion order (a cursor for sealed_page) */
} jc_orc_cred;

/* Free what a jc_orc_cred owns (the sealed text). */
void jc_orc_cred_clear(jc_orc_cred *c);

/* Store a new credential (key_id, orchestrator, sealed, created_at). A key id already
 * present is JC_E_CONFLICT. */
int jc_store_cred_add(jc_store *st, const jc_orc_cred *c, jc_err *err);
/* Credentials of one orchestrator (NULL: all), newest first, without their secrets.
 * Owned array (free()); *n may be 0. */
int jc_store_cred_list(jc_store *st, const char *orchestrator, jc_orc_cred **out, size_t *n,
                       jc_err *err);
/* One credential by key id, with its sealed secret (out->sealed owned). JC_E_NOT_FOUND.
 * The caller decides from revoked_at and expires_at whether it is live. */
int jc_store_cred_lookup(jc_store *st, const char *key_id, jc_orc_cred *out, jc_err *err);
/* Revoke one credential at `now`. JC_E_NOT_FOUND when unknown, JC_E_CONFLICT when already
 * revoked. */
int jc_store_cred_revoke(jc_store *st, const char *key_id, int64_t now, jc_err *err);
/* Rotate: in one transaction, every live credential of c->orchestrator (at `now`) gets
 * expires_at = old_expires_at (kept when it already ends sooner), and c is added.
 * *rotated gets how many old credentials were given the grace period. JC_E_NOT_FOUND when
 * the orchestrator has no live credential (nothing to rotate: add one instead). */
int jc_store_cred_rotate(jc_store *st, const jc_orc_cred *c, int64_t now, int64_t old_expires_at,
                         size_t *rotated, jc_err *err);

/* For a master-key rewrap: up to `limit` (1–1000) credentials with seq > after_seq, in seq
 * order, each with its sealed secret (owned: jc_orc_creds_free). */
int jc_store_cred_sealed_page(jc_store *st, int64_t after_seq, size_t limit, jc_orc_cred **out,
                              size_t *n, jc_err *err);
/* Replace the sealed secret of key_id by new_sealed if it is still old_sealed (compare and
 * set: a concurrent rotation or rewrap wins). JC_E_CONFLICT when it changed, JC_E_NOT_FOUND
 * when the key is gone. */
int jc_store_cred_reseal(jc_store *st, const char *key_id, const char *old_sealed,
                         const char *new_sealed, jc_err *err);
/* Free an array of n credentials and what each owns. */
void jc_orc_creds_free(jc_orc_cred *v, size_t n);

#endif
