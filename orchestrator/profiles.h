/* profiles.h: the seccomp profiles the daemon offers, compiled once.
 *
 * Every *.json of the profile directory is compiled at start; SIGHUP compiles them again,
 * and a profile that no longer compiles keeps its previous compiled version (logged), so a
 * typo on a live host never leaves jobs without a filter. */
#ifndef JOBCELL_ORC_PROFILES_H
#define JOBCELL_ORC_PROFILES_H

#include <jansson.h>
#include <stddef.h>

#include "jobcell/error.h"

struct jc_seccomp_filter;
typedef struct jc_orc_profiles jc_orc_profiles;

/* Load and compile every profile of dir. Fails when none compiles. */
jc_orc_profiles *jc_orc_profiles_load(const char *dir, jc_err *err);
/* Compile again; broken profiles keep their previous version. Returns the number of
 * profiles that failed (each logged). */
int jc_orc_profiles_reload(jc_orc_profiles *p);
/* The compiled filter of a profile, or NULL when unknown. Valid until the next reload. */
const struct jc_seccomp_filter *jc_orc_profiles_get(const jc_orc_profiles *p, const char *name);
/* The names, as a new JSON array. */
json_t *jc_orc_profiles_names(const jc_orc_profiles *p);
void jc_orc_profiles_free(jc_orc_profiles *p);

#endif
