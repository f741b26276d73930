/* cleanup.h: scope-bound ownership (systemd style).
 *
 * Every local that owns something is declared with one of these attributes, so every
 * early return releases it. Hand ownership on with steal()/steal_fd(). */
#ifndef JOBCELL_CLEANUP_H
#define JOBCELL_CLEANUP_H

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void jc_freep(void *p) {
    free(*(void **)p);
}
static inline void jc_closep(int *fd) {
    if (*fd >= 0) {
        int saved = errno; /* cleanup must not clobber the errno a caller reports */
        close(*fd);
        errno = saved;
    }
}
static inline void jc_fclosep(FILE **f) {
    if (*f)
        fclose(*f);
}
static inline void jc_json_decrefp(json_t **j) {
    if (*j)
        json_decref(*j);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(jc_freep)
#define _cleanup_close_ _cleanup_(jc_closep)
#define _cleanup_fclose_ _cleanup_(jc_fclosep)
#define _cleanup_json_ _cleanup_(jc_json_decrefp)

/* Take the pointer out of an owning variable, leaving NULL behind. */
static inline void *jc_steal_ptr(void *pp) {
    void **p = (void **)pp;
    void *v = *p;
    *p = NULL;
    return v;
}
#define steal(pp) jc_steal_ptr(pp)

/* Take the fd out of an owning variable, leaving -1 behind. */
static inline int steal_fd(int *fd) {
    int v = *fd;
    *fd = -1;
    return v;
}

/* Secrets are wiped with OPENSSL_cleanse where OpenSSL is in use anyway (jwt, auth) and with
 * explicit_bzero elsewhere, so that programs doing no cryptography need not load libcrypto
 * (`jobcell run` competes with bwrap on start-up time). Neither can be optimised away. */

#define JC_WARN_UNUSED __attribute__((warn_unused_result))
#define JC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
