/* egress.h: the orchestrator's side of egress networks — the host set-up from the
 * configuration, and the claim-time checks (docs/networking.md). */
#ifndef JOBCELL_ORC_EGRESS_H
#define JOBCELL_ORC_EGRESS_H

#include <stdint.h>

#include "jobcell/egress_net.h"
#include "orc.h"

/* With egress.enabled: parse egress.allow_private / deny_always (a bad entry is a
 * configuration error naming it), add the API server's and the runtime API's addresses
 * to the always-denied list, create the host side and remove what dead processes left.
 * Sets orc->egress (NULL when disabled). */
int jc_orc_egress_start(jc_orc *orc, jc_err *err);
/* Serve the jobs' DNS from orc->loop (once the loop exists). No-op when egress is off. */
int jc_orc_egress_attach(jc_orc *orc, jc_err *err);
/* Detach from the loop and free the host side. */
void jc_orc_egress_stop(jc_orc *orc);

/* How many executions may be claimed given the pool: n when egress is off, else at most
 * the leases free now (an egress job needs one; a claim cannot ask for network "none"
 * only, so an empty pool stops claiming until a lease comes back). */
int64_t jc_orc_egress_claimable(jc_orc *orc, int64_t n);

#endif
