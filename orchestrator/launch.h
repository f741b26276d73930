/* launch.h: from a claim's job to a started sandbox.
 *
 * Mints the execution token (PROTOCOL.md "The execution token") and builds what the job
 * sees (PROTOCOL.md "What the job sees"): its script and input as files in /workspace
 * (never argv), the interpreter's argv, the runtime and SDK variables over the job's own
 * env, its limits and compiled seccomp profile, and the runtime socket. The claim is
 * input from the network: every field is checked again here. */
#ifndef JOBCELL_ORC_LAUNCH_H
#define JOBCELL_ORC_LAUNCH_H

#include <jansson.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "jobcell/sandbox.h"
#include "orc.h"

typedef struct jc_launch {
    const char *exe_id, *job_id, *owner, *lease_token;
    int64_t attempt;
    unsigned slot;
} jc_launch;

/* Start the sandbox of one claim (job: the claim's "job" object). On failure err names
 * the field or the setup step at fault (err->field), for a setup_error result. */
int jc_launch_start(jc_orc *orc, const jc_launch *l, json_t *job, jc_sandbox **out, jc_err *err);

#endif
