/* random.h: ids, tokens and keys from the OS CSPRNG (getrandom). Never from rand(). */
#ifndef JOBCELL_RANDOM_H
#define JOBCELL_RANDOM_H

#include <stddef.h>

#include "jobcell/error.h"

/* Fill buf with len random bytes. */
int jc_random_bytes(void *buf, size_t len, jc_err *err);

/* An id: prefix ("job_", "exe_", "tok_") + 26 lowercase base32 characters (130 bits).
 * out must hold strlen(prefix) + 27 bytes; JC_ID_MAX is enough for every prefix. */
#define JC_ID_MAX 40
int jc_random_id(const char *prefix, char *out, size_t outlen, jc_err *err);

/* A lease token: "lt_" + 32 lowercase base32 characters (160 bits). */
#define JC_LEASE_TOKEN_LEN 35
int jc_random_lease_token(char *out, size_t outlen, jc_err *err);

/* An API token: "jct_" + 43 base64url characters (256 bits). */
#define JC_API_TOKEN_LEN 47
int jc_random_api_token(char *out, size_t outlen, jc_err *err);

/* nbytes random bytes as unpadded base64url text (a key, a jti). */
int jc_random_b64url(size_t nbytes, char *out, size_t outlen, jc_err *err);

/* True when s is prefix + n characters of the lowercase base32 alphabet. */
int jc_id_valid(const char *s, const char *prefix, size_t n);

#endif
