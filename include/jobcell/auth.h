/* auth.h: bearer secrets, compared in constant time, and their configuration rules. */
#ifndef JOBCELL_AUTH_H
#define JOBCELL_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "jobcell/error.h"

/* The shortest shared secret jobcell accepts (bytes). */
#define JC_AUTH_MIN_SECRET 32

/* Check a configured secret named `name`: 1 when usable, 0 when empty (that auth path is
 * disabled), -1 (JC_E_CONFIG, naming `name`) when shorter than JC_AUTH_MIN_SECRET. */
int jc_auth_secret_check(const char *name, size_t len, jc_err *err);

/* Constant-time equality of a presented secret with the expected one. The time taken does
 * not depend on where they differ, nor on the presented length (both are hashed first).
 * An empty expected secret never matches. */
bool jc_auth_equal(const void *presented, size_t plen, const void *expected, size_t elen);

/* Parse an Authorization header value: scheme "Bearer" (any case), one or more spaces, a
 * non-empty token with no further spaces. On success *token points into header. */
int jc_auth_parse_bearer(const char *header, const char **token, size_t *token_len);

/* Is s a well-formed orchestrator id: ^[a-z0-9][a-z0-9._-]{0,63}$ (the X-Orchestrator-ID
 * header, credentials, the orchestrator's own setting)? */
bool jc_orchestrator_id_valid(const char *s);

/* Lowercase hex SHA-256 of data; out must hold 65 bytes. */
void jc_sha256_hex(const void *data, size_t len, char out[65]);

#endif
