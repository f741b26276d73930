/* daemon.h: jobcell-orchestrator's top level: start-up, the claim loop, signals, drain. */
#ifndef JOBCELL_ORC_DAEMON_H
#define JOBCELL_ORC_DAEMON_H

#include "jobcell/error.h"
#include "orc_config.h"

/* Run the daemon until it is told to stop. Returns the process exit status. */
int jc_orc_run(jc_orc_config *cfg);

/* The orchestrator id: cfg's when set, else the one kept in state_dir/orchestrator-id,
 * generated (and written, 0600) the first time. out holds at least 65 bytes. */
int jc_orc_load_id(const char *configured, const char *state_dir, char *out, size_t outlen,
                   jc_err *err);

#endif
