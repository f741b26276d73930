/* keys.h: editing key files (keys_cmd.c) and the `jobcell-api keys` command (keys_main.c).
 *
 * Every edit holds an exclusive lock on "<path>.lock", refuses a file that group or others
 * may read, checks that the result loads, and replaces the file atomically with mode 0600. */
#ifndef JOBCELL_API_KEYS_H
#define JOBCELL_API_KEYS_H

#include <jansson.h>
#include <stddef.h>

#include "jobcell/error.h"

typedef enum ring_class {
    RING_MASTER, /* master key file: kids without '.', keys exactly 32 bytes */
    RING_JWT,    /* execution-token key ring */
} ring_class;

/* Create a new ring file with one fresh key (kid_in, or a generated one), never replacing an
 * existing file (JC_E_CONFLICT). kid_out gets the kid. */
int jc_keys_ring_init(const char *path, ring_class cls, const char *kid_in, char *kid_out,
                      size_t cap, jc_err *err);
/* Add a fresh random key, not active. */
int jc_keys_ring_add(const char *path, ring_class cls, const char *kid_in, char *kid_out,
                     size_t cap, jc_err *err);
/* Make kid the active key (JC_E_NOT_FOUND when absent). */
int jc_keys_ring_activate(const char *path, ring_class cls, const char *kid, jc_err *err);
/* Remove kid; the active key cannot be removed (JC_E_CONFLICT). */
int jc_keys_ring_remove(const char *path, ring_class cls, const char *kid, jc_err *err);
/* Replace every key by one fresh key (break-glass). kid_out gets the new kid. */
int jc_keys_ring_replace(const char *path, ring_class cls, char *kid_out, size_t cap, jc_err *err);
/* {"active": KID, "keys": [KID, …]} of a ring file (no key material). Owned. */
json_t *jc_keys_ring_kids(const char *path, jc_err *err);

/* `jobcell-api keys …`: argv[0] is "keys". Exit status. */
int jc_api_cmd_keys(int argc, char **argv);

#endif
