/* util_jobs.h: jobs and executions as the remote commands show and follow them. */
#ifndef JOBCELL_CLI_UTIL_JOBS_H
#define JOBCELL_CLI_UTIL_JOBS_H

#include <jansson.h>

#include "util_http.h"

/* The execution an id names: an execution id as is, a job id → its latest execution.
 * Writes the execution id into out (JC_CLI_ID_MAX bytes). -1 (printed) on failure. */
#define JC_CLI_ID_MAX 64
int jc_cli_resolve_execution(jc_cli_conn *c, const char *id, char out[JC_CLI_ID_MAX]);

/* The latest execution object of a job object (borrowed), or NULL. */
json_t *jc_cli_latest_execution(json_t *job);

/* True for succeeded, failed, canceled, lost. */
int jc_cli_status_final(const char *status);

/* Stream an execution's log to stdout from `offset` until it ends (follow=1), resuming
 * after a broken stream. Returns -1 (printed) on failure. */
int jc_cli_follow_log(jc_cli_conn *c, const char *exe_id, size_t offset);

/* The exit status a finished execution stands for: 0 when it succeeded, the job's exit
 * code when it exited non-zero, 1 for any other end (killed, timed out, canceled, lost). */
int jc_cli_execution_exit_code(const json_t *exe);

#endif
