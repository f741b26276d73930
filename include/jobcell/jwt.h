/* jwt.h: the execution token (PROTOCOL.md "The execution token").
 *
 * HS256 only, JWS compact serialization, keys in a ring by kid. Verification refuses
 * tokens over JC_JWT_MAX_LEN before any parsing and gives each rejection its own reason,
 * so servers can count them; clients are told only "invalid token". */
#ifndef JOBCELL_JWT_H
#define JOBCELL_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"

#define JC_JWT_MAX_LEN 8192
#define JC_JWT_MAX_LIFETIME 7200
#define JC_JWT_LEEWAY 30
#define JC_JWT_ISS "jobcell-orchestrator"
#define JC_JWT_AUD "jobcell-runtime"
#define JC_JWT_SCOPE "runtime"

typedef enum jc_jwt_reason {
    JC_JWT_OK = 0,
    JC_JWT_TOO_LONG,      /* over JC_JWT_MAX_LEN bytes */
    JC_JWT_MALFORMED,     /* not three non-empty parts, or a NUL byte */
    JC_JWT_BAD_BASE64,    /* a part is not strict base64url */
    JC_JWT_BAD_HEADER,    /* header not a JSON object, duplicate keys, bad UTF-8 */
    JC_JWT_CRIT,          /* a crit header, even empty */
    JC_JWT_BAD_ALG,       /* alg is not exactly "HS256" */
    JC_JWT_UNKNOWN_KID,   /* kid missing, not a string, or not in the ring */
    JC_JWT_BAD_SIGNATURE, /* wrong length or wrong MAC */
    JC_JWT_BAD_PAYLOAD,   /* payload not a JSON object, duplicate keys, bad UTF-8 */
    JC_JWT_BAD_ISS,
    JC_JWT_BAD_AUD,
    JC_JWT_BAD_SCOPE,
    JC_JWT_MISSING_CLAIM,
    JC_JWT_BAD_CLAIM_TYPE, /* a claim of the wrong JSON type, or out of its format */
    JC_JWT_BAD_SUB,        /* sub is not "job:<jobId>" */
    JC_JWT_BAD_LIFETIME,   /* exp - iat over JC_JWT_MAX_LIFETIME, or exp <= iat */
    JC_JWT_EXPIRED,
    JC_JWT_NOT_YET_VALID, /* nbf in the future beyond the leeway */
    JC_JWT_IAT_FUTURE,    /* iat in the future beyond the leeway */
    JC_JWT_REASON_COUNT
} jc_jwt_reason;

/* A stable name for metrics and logs ("expired", "bad_signature", …). */
const char *jc_jwt_reason_name(jc_jwt_reason reason);

typedef struct jc_jwt_keyring jc_jwt_keyring;

/* Parse a ring: {"active": "k2", "keys": {"k1": "<base64url>", …}}. Values are unpadded
 * base64url of at least 32 bytes; the active kid must be in keys. Errors name the kid.
 * `source` names the input in messages. Owned result: jc_jwt_keyring_free. */
jc_jwt_keyring *jc_jwt_keyring_parse(const char *json, size_t len, const char *source, jc_err *err);
/* Load a ring file; refused when group or others may read it (it must be mode 0600). */
jc_jwt_keyring *jc_jwt_keyring_load(const char *path, jc_err *err);
/* Wipe the keys and free. NULL is fine. */
void jc_jwt_keyring_free(jc_jwt_keyring *ring);
/* The kid tokens are signed with. */
const char *jc_jwt_keyring_active(const jc_jwt_keyring *ring);
/* Number of keys in the ring. */
size_t jc_jwt_keyring_size(const jc_jwt_keyring *ring);

typedef struct jc_jwt_claims {
    char execution_id[64];
    char job_id[64];
    char user_id[129];
    char orc[65];
    char lease[17]; /* first 16 hex characters of SHA-256(lease_token) */
    char jti[32];
    char kid[65]; /* on verify: the kid that verified it */
    int64_t attempt;
    int64_t iat, nbf, exp, orig_iat;
} jc_jwt_claims;

/* Fill claims for a new token of one claim: iat = nbf = now_s, orig_iat = now_s,
 * exp = min(iat + 7200, iat + timeout_s + kill_grace_s + 60), lease from lease_token,
 * jti random. */
int jc_jwt_claims_init(jc_jwt_claims *c, const char *execution_id, const char *job_id,
                       const char *user_id, const char *orc, int64_t attempt,
                       const char *lease_token, int64_t now_s, int64_t timeout_s,
                       int64_t kill_grace_s, jc_err *err);

/* The 16-character lease binding of a lease token. */
void jc_jwt_lease_hash(const char *lease_token, char out[17]);

/* Sign with the ring's active key. Returns an owned string. */
char *jc_jwt_sign(const jc_jwt_keyring *ring, const jc_jwt_claims *claims, jc_err *err);

/* Verify a jobcell execution token at time now_s (seconds). On success fills *out.
 * On failure returns -1 with *reason set (and err's message naming the reason). */
int jc_jwt_verify(const jc_jwt_keyring *ring, const char *token, size_t len, int64_t now_s,
                  jc_jwt_claims *out, jc_jwt_reason *reason, jc_err *err);

/* Generic HS256 verification with one key and no jobcell claim rules: structure, header,
 * alg, signature, and "exp" when present (an integer, now_s < exp). *payload (owned)
 * receives the payload object. For interoperability tests (RFC 7515 A.1). */
int jc_jws_verify_hs256(const char *token, size_t len, const unsigned char *key, size_t keylen,
                        int64_t now_s, json_t **payload, jc_jwt_reason *reason, jc_err *err);

#endif
