/* seal.h: secrets at rest, sealed with AES-256-GCM under a master key ring.
 *
 * Every secret the server stores (orchestrator secrets, job `secrets`, signing keys kept in
 * the store) is sealed with one master key, chosen by kid, and a random 96-bit nonce. The
 * additional authenticated data binds the ciphertext to its row: the kind of value, its
 * owner, the row id and the kid. A ciphertext copied into another row, another owner's row
 * or another kind of row does not open. Every failure to open is the same JC_E_AUTH
 * "sealed value does not open", so the message never tells an attacker which byte was wrong.
 *
 * Sealed text: "v1.<kid>.<base64url nonce, 12 bytes>.<base64url ciphertext || 16-byte tag>".
 * Master key file: {"active": "KID", "keys": {"KID": "<base64url of 32 bytes>", ...}},
 * mode 0600 (no access for group or others). A kid is 1-64 characters of A-Z a-z 0-9 _ -
 * (no '.', the separator of the sealed text). */
#ifndef JOBCELL_SEAL_H
#define JOBCELL_SEAL_H

#include <stddef.h>

#include "jobcell/error.h"

#define JC_SEAL_KEY_LEN 32
#define JC_SEAL_NONCE_LEN 12
#define JC_SEAL_TAG_LEN 16
#define JC_SEAL_KID_MAX 64
#define JC_SEAL_MAX_KEYS 32
/* The largest plaintext sealed or opened (1 MiB): bounds the work a hostile row can cause. */
#define JC_SEAL_MAX_PLAINTEXT (1u << 20)

typedef struct jc_master_ring jc_master_ring; /* master keys by kid */

/* Load the master key file; refused (JC_E_CONFIG, naming the path) when its mode grants any
 * access to group or others, when the active kid is missing, or a key is not exactly 32
 * bytes. Owned: jc_master_ring_free (wipes). */
jc_master_ring *jc_master_ring_load(const char *path, jc_err *err);
/* Parse the same JSON from memory (`source` names it in messages). Owned as above. */
jc_master_ring *jc_master_ring_parse(const char *json, size_t len, const char *source, jc_err *err);
/* Wipe the keys and free. NULL is fine. */
void jc_master_ring_free(jc_master_ring *r);
/* The kid new values are sealed with. */
const char *jc_master_ring_active(const jc_master_ring *r);
/* 1 when kid is in the ring. */
int jc_master_ring_has(const jc_master_ring *r, const char *kid);
/* 1 when kid is a well-formed master key id. */
int jc_seal_kid_valid(const char *kid);

/* Seal plaintext for one row under the active key. AAD binds kind (e.g.
 * "orchestrator_secret", "job_secrets", "jwt_key"), owner, row id and the kid. *out is owned,
 * NUL-terminated text. kind, owner and id may be "" but not NULL. */
int jc_seal(const jc_master_ring *r, const char *kind, const char *owner, const char *id,
            const void *pt, size_t len, char **out, jc_err *err);
/* Open with whichever kid of the ring the text names. Unknown kid, tag mismatch, AAD
 * mismatch, malformed text: JC_E_AUTH with one message for all. *pt is owned with an extra
 * NUL byte after *len bytes; the caller wipes it with OPENSSL_cleanse before free. */
int jc_unseal(const jc_master_ring *r, const char *kind, const char *owner, const char *id,
              const char *sealed, unsigned char **pt, size_t *len, jc_err *err);
/* The kid a sealed value uses (rewrap asks "is it already under the active kid?").
 * 0 on success; -1 when the text is not sealed text or the kid does not fit in cap. */
int jc_sealed_kid(const char *sealed, char *kid, size_t cap);

/* A new master key file's JSON text with one fresh random key under `kid`, active. Owned;
 * the caller wipes it (it holds the key) before free. */
char *jc_master_ring_new_json(const char *kid, jc_err *err);

#endif
