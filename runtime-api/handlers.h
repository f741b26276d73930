/* handlers.h: helpers shared by the admin and internal handlers (private). */
#ifndef JOBCELL_API_HANDLERS_H
#define JOBCELL_API_HANDLERS_H

#include <jansson.h>

#include "api.h"

/* A validated job (validate.c). */
typedef struct jc_job_fields {
    json_t *spec;     /* owned: the complete spec with defaults */
    const char *name; /* points into spec */
    int priority;
    int64_t timeout_s;
    int64_t scheduled_for; /* 0: none */
    const json_t *secrets; /* borrowed from the body: the validated `secrets`, NULL: none */
} jc_job_fields;

/* The kind of sealed value a job's secrets are (seal.h AAD: owner = job owner, id = job). */
#define JC_SEALED_JOB_SECRETS "job_secrets"

/* Validate a job spec against PROTOCOL.md and the configured limits. Errors name the
 * field (invalid_field / unknown_field). */
int jc_job_validate(jc_api *api, const json_t *body, jc_job_fields *out, jc_err *err);
/* Seal a job's validated secrets (NULL: nothing to do) into spec["secrets"] for the row
 * (owner, job_id). Without a master key: JC_E_INVALID on field secrets, naming master_key_file. */
int jc_job_seal_secrets(jc_api *api, const json_t *secrets, const char *owner, const char *job_id,
                        json_t *spec, jc_err *err);
/* Open a stored job's secrets: an owned object ({} when it has none), NULL on failure. */
json_t *jc_job_open_secrets(jc_api *api, const jc_job *job, jc_err *err);
/* Variable key rule: ^[A-Za-z_][A-Za-z0-9_.-]{0,127}$ */
bool jc_variable_key_valid(const char *key);

/* JSON views (owned results). */
json_t *jc_execution_json(const jc_execution *e);
json_t *jc_job_json(const jc_job *j, bool full);
/* RFC 3339 string, or JSON null for 0. */
json_t *jc_time_json(int64_t ms);

/* Create an API token (admin.c): validates user and role, stores the SHA-256 of a new
 * secret, writes the secret (shown once) into secret. */
int jc_api_token_issue(jc_store *st, const char *name, const char *user, const char *role,
                       jc_api_token *tok, char secret[JC_API_TOKEN_LEN + 1], jc_err *err);

#endif
