/* proxy.h: the runtime relay of one sandbox.
 *
 * The sandbox engine hands over a TCP listener bound to 127.0.0.1:8081 inside the job's
 * network namespace. Every connection the job opens there gets its own upstream
 * connection to the runtime API, and bytes are copied unchanged both ways through
 * bounded buffers (a job that never reads cannot make the daemon buffer without limit);
 * a half-close on one side is passed on to the other. TCP_NODELAY on both sides. At most
 * max_conns at once; when the runtime API cannot be reached the job gets a 503 with
 * PROTOCOL.md's runtime error body, never a bare close.
 *
 * With jc_proxy_set_tls the upstream side speaks TLS (the job's side stays plain TCP):
 * the certificate is verified against the context's CAs and the host name, and a
 * handshake failure gives the job the same 503 (the reason is logged once, at warn). The
 * job's write shutdown becomes close_notify once everything before it is sent; the
 * upstream's close_notify or EOF becomes a write shutdown toward the job. */
#ifndef JOBCELL_ORC_PROXY_H
#define JOBCELL_ORC_PROXY_H

#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "jobcell/error.h"
#include "loop.h"

#define JC_PROXY_MAX_CONNS 16
#define JC_PROXY_BUF (64u << 10)

typedef struct jc_proxy jc_proxy;

typedef struct jc_proxy_stats {
    uint64_t accepted, refused, upstream_failed, bytes_up, bytes_down;
} jc_proxy_stats;

/* Relay connections accepted on listen_fd (not owned, must be non-blocking or is made
 * so) to the upstream address. stats (may be NULL) is updated as it goes. */
jc_proxy *jc_proxy_new(jc_loop *loop, int listen_fd, const struct sockaddr *upstream,
                       socklen_t upstream_len, unsigned max_conns, jc_proxy_stats *stats,
                       jc_err *err);
/* Close every connection and stop accepting. NULL is fine. */
void jc_proxy_free(jc_proxy *p);
unsigned jc_proxy_conns(const jc_proxy *p);

/* The client TLS context for an https runtime API, made once and shared: peer
 * verification on, TLS 1.2 at least, trusting the PEM CAs in ca_file or, when ca_file is
 * NULL or empty, the system store. Free with SSL_CTX_free. */
SSL_CTX *jc_proxy_tls_ctx(const char *ca_file, jc_err *err);
/* Speak TLS to the upstream from now on, checking its certificate for host (a DNS name,
 * also sent as SNI, or an IP address). ctx is referenced, not taken. */
int jc_proxy_set_tls(jc_proxy *p, SSL_CTX *ctx, const char *host, jc_err *err);

#endif
