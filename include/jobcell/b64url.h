/* b64url.h: strict base64url (RFC 4648 §5) without padding.
 *
 * Decoding accepts only the URL-safe alphabet, rejects '=' padding, a length ≡ 1 mod 4
 * and non-zero trailing bits, so every byte string has exactly one accepted encoding. */
#ifndef JOBCELL_B64URL_H
#define JOBCELL_B64URL_H

#include <stddef.h>

#include "jobcell/error.h"

/* Length of the encoding of n bytes (without the NUL). */
size_t jc_b64url_encoded_len(size_t n);
/* Encode into out (at least jc_b64url_encoded_len(n) + 1 bytes), NUL-terminated. */
int jc_b64url_encode_to(const void *in, size_t n, char *out, size_t outlen, jc_err *err);
/* Encode into a new string (caller frees). */
char *jc_b64url_encode(const void *in, size_t n, jc_err *err);
/* Decode len characters of s into a new buffer (caller frees; NUL-terminated for
 * convenience, *out_len excludes it). */
unsigned char *jc_b64url_decode(const char *s, size_t len, size_t *out_len, jc_err *err);

#endif
