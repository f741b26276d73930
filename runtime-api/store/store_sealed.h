/* store_sealed.h: the sealed values in the store, for `jobcell-api keys rewrap`.
 *
 * Every value sealed with the master key (seal.h) lives in some row: a job's `secrets`,
 * an orchestrator's secret, … Rewrap pages through each kind, opens every value that is
 * not under the active master key and seals it again, replacing it only when the row still
 * holds the value it read (compare and swap), so it runs online next to the server and can
 * be interrupted and run again at any time. */
#ifndef JOBCELL_STORE_SEALED_H
#define JOBCELL_STORE_SEALED_H

#include <stdbool.h>
#include <stddef.h>

#include "jobcell/error.h"
#include "store.h"

#define JC_SEALED_KIND_MAX 32

typedef struct jc_sealed_row {
    char id[JC_ID_MAX + 24];       /* the row id bound in the AAD */
    char owner[JC_STORE_USER_MAX]; /* the owner bound in the AAD */
    char *sealed;                  /* owned sealed text */
} jc_sealed_row;

void jc_sealed_rows_free(jc_sealed_row *v, size_t n);

/* The kinds this backend keeps (NULL-terminated), e.g. {"job_secrets", NULL}. */
const char *const *jc_store_sealed_kinds(void);

/* Up to limit rows of one kind after `cursor` (NULL: from the start), in a stable order.
 * *next_cursor (owned) is NULL on the last page. An unknown kind is JC_E_UNSUPPORTED. */
int jc_store_sealed_page(jc_store *st, const char *kind, const char *cursor, size_t limit,
                         jc_sealed_row **out, size_t *n, char **next_cursor, jc_err *err);

/* Replace the sealed value of one row with `replacement` if it still is `expected`.
 * *swapped is false when the row changed (or went) meanwhile. */
int jc_store_sealed_swap(jc_store *st, const char *kind, const char *id, const char *expected,
                         const char *replacement, bool *swapped, jc_err *err);

#endif
