/* admin.h: /health and /metrics on a local port, served from the daemon's loop.
 *
 * A deliberately tiny HTTP/1.0-style responder: one GET per connection, request line and
 * headers at most 4 KiB, answered and closed. It binds to loopback by default and carries
 * no secret, so it needs no authentication. */
#ifndef JOBCELL_ORC_ADMIN_H
#define JOBCELL_ORC_ADMIN_H

#include <stddef.h>

#include "jobcell/error.h"
#include "loop.h"

typedef struct jc_admin jc_admin;

/* Produce the body of a path ("/metrics", "/health"): a new string (caller frees) and its
 * content type, or NULL for 404. */
typedef char *(*jc_admin_handler)(void *data, const char *path, const char **content_type,
                                  int *status);

/* Listen on "host:port" (port 0: any; jc_admin_port tells which). */
jc_admin *jc_admin_new(jc_loop *loop, const char *listen, jc_admin_handler h, void *data,
                       jc_err *err);
int jc_admin_port(const jc_admin *a);
void jc_admin_free(jc_admin *a);

#endif
