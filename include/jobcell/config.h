/* config.h: strict configuration loading, in three layers.
 *
 *   1. a JSON file (--config PATH): unknown keys rejected, each named;
 *   2. the environment: JOBCELL_<KEY> with dots as underscores, upper case
 *      (limits.memory_mb → JOBCELL_LIMITS_MEMORY_MB);
 *   3. command-line flags: --key VALUE or --key=VALUE ('-' and '_' alike).
 *
 * A component describes its settings as a table of jc_cfg_field over its own struct.
 * Nested JSON objects are addressed with dotted keys. Secrets (JC_CFG_SECRET) are never
 * taken from argv: the file or environment may hold them inline ("key") or, better, name
 * a file ("key_file"), which must not be readable by others; one trailing newline is
 * stripped. Every error says which source and which key. */
#ifndef JOBCELL_CONFIG_H
#define JOBCELL_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcell/error.h"

typedef enum jc_cfg_type {
    JC_CFG_STRING, /* char * (owned, malloc'd) */
    JC_CFG_INT,    /* int64_t, within [min, max] */
    JC_CFG_DOUBLE, /* double, within [dmin, dmax] */
    JC_CFG_BOOL,   /* bool: true/false (env and flags also 1/0, yes/no) */
    JC_CFG_SECRET, /* jc_secret (owned, wiped on free) */
    JC_CFG_JSON,   /* json_t * (owned): arrays and objects the component validates */
} jc_cfg_type;

typedef struct jc_secret {
    unsigned char *data; /* NUL-terminated for convenience; len excludes it */
    size_t len;
} jc_secret;

typedef struct jc_cfg_field {
    const char *key; /* dotted path, e.g. "limits.memory_mb" */
    jc_cfg_type type;
    size_t offset;     /* offsetof() the member in the component's struct */
    const char *def;   /* default as text (parsed like an environment value); NULL = unset */
    int64_t min, max;  /* JC_CFG_INT bounds (both 0: any int64) */
    double dmin, dmax; /* JC_CFG_DOUBLE bounds (both 0: any) */
    const char *help;  /* one line for --help and the reference */
} jc_cfg_field;

typedef struct jc_cfg_schema {
    const jc_cfg_field *fields;
    size_t n;
} jc_cfg_schema;

/* Apply every field's default. Call once on a zeroed struct before anything else. */
int jc_config_init(const jc_cfg_schema *s, void *base, jc_err *err);
/* Layer a JSON document over base; `source` names it in messages. */
int jc_config_load_json(const jc_cfg_schema *s, void *base, const char *text, size_t len,
                        const char *source, jc_err *err);
/* Layer a JSON file over base. */
int jc_config_load_file(const jc_cfg_schema *s, void *base, const char *path, jc_err *err);
/* Layer JOBCELL_* variables of envp over base (other variables are ignored). */
int jc_config_apply_env(const jc_cfg_schema *s, void *base, char **envp, jc_err *err);
/* Set one key from text; `source` names it in messages ("flag --x", "environment X"). */
int jc_config_set(const jc_cfg_schema *s, void *base, const char *key, const char *value,
                  const char *source, bool allow_secret_inline, jc_err *err);
/* The whole sequence for a daemon's argv: --config PATH (file), then the environment, then
 * flags, stopping at the first argument that is not a --flag, or after "--". *next gets
 * the index of the first unconsumed argument. Unknown flags are an error naming them. */
int jc_config_load(const jc_cfg_schema *s, void *base, int argc, char **argv, char **envp,
                   int *next, jc_err *err);
/* Free strings, JSON values and (wiped) secrets. */
void jc_config_free(const jc_cfg_schema *s, void *base);
/* Print "--key  help (default: …)" lines for --help. */
void jc_config_print_help(const jc_cfg_schema *s, FILE *out);
/* Read a secret file: refused when others may read it; one trailing newline stripped. */
int jc_secret_read_file(const char *path, jc_secret *out, jc_err *err);
void jc_secret_free(jc_secret *s);

#endif
