/* hmac_sig.h: signed internal requests (HMAC-SHA256 over a canonical string).
 *
 * An orchestrator credential is a key id and a 256-bit secret, written as 64 lowercase
 * hex characters; the HMAC key is the 32 decoded bytes. A request is signed over
 *
 *     METHOD "\n" PATH-WITH-QUERY "\n" ORCHESTRATOR-ID "\n" TIMESTAMP "\n" hex(SHA-256(body))
 *
 * (no trailing newline; every hex in lowercase; the path and query exactly as sent on the
 * wire; the timestamp as the decimal text of X-JC-Timestamp). The signature is the
 * lowercase hex of HMAC-SHA256(key, canonical string): 64 characters. */
#ifndef JOBCELL_HMAC_SIG_H
#define JOBCELL_HMAC_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"

#define JC_HMAC_SECRET_BYTES 32
#define JC_HMAC_SECRET_HEX 64 /* text form length */
#define JC_HMAC_SIG_HEX 64
#define JC_HMAC_WINDOW_S 300 /* accepted clock difference, either way */

/* The canonical string (owned, NUL-terminated; *len excludes the NUL). NULL on allocation
 * failure or a field holding a newline (it would make two requests sign alike). */
char *jc_hmac_canonical(const char *method, const char *path_query, const char *orchestrator,
                        const char *timestamp, const void *body, size_t body_len, size_t *len);

/* Sign: sig gets 64 lowercase hex characters and a NUL. */
int jc_hmac_sign(const unsigned char *key, size_t key_len, const char *method,
                 const char *path_query, const char *orchestrator, const char *timestamp,
                 const void *body, size_t body_len, char sig[JC_HMAC_SIG_HEX + 1], jc_err *err);

/* Verify a presented signature in constant time: 0 when it matches, -1 (JC_E_AUTH, "bad
 * signature") when not, or when it is not 64 lowercase hex characters. */
int jc_hmac_verify(const unsigned char *key, size_t key_len, const char *method,
                   const char *path_query, const char *orchestrator, const char *timestamp,
                   const void *body, size_t body_len, const char *presented, jc_err *err);

/* Parse the text form of a secret (64 hex characters, either case, one trailing newline
 * tolerated by the caller's file reader, nothing else) into 32 bytes. */
int jc_hmac_secret_parse(const char *text, size_t len, unsigned char out[JC_HMAC_SECRET_BYTES],
                         jc_err *err);
/* The text form of a secret: 64 lowercase hex characters and a NUL. */
void jc_hmac_secret_format(const unsigned char secret[JC_HMAC_SECRET_BYTES],
                           char out[JC_HMAC_SECRET_HEX + 1]);

/* Strictly parse a unix-seconds timestamp: 1 to 11 ASCII digits, no sign, no spaces, no
 * leading zero (so one instant has one text form). 0 on success. */
int jc_hmac_timestamp_parse(const char *text, int64_t *out);

/* True when s is exactly 64 lowercase hex characters. */
bool jc_hmac_is_sig(const char *s);

#endif
