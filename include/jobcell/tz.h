/* tz.h: time zones from the system zoneinfo, without touching the process's TZ.
 *
 * setenv("TZ") + tzset() + localtime_r() is not thread-safe and rereads files, so the
 * scheduler reads the zone files itself: a TZif (version 1, 2 or 3) reader, with the
 * POSIX TZ rule from the file's footer for instants past the end of its table
 * (Mm.w.d, Jn and n date forms). A loaded zone is immutable and cached for the life of
 * the process, so a pointer from jc_tz_get() may be shared between threads freely.
 *
 * All instants are seconds since the Unix epoch (UTC); offsets are seconds east of UTC. */
#ifndef JOBCELL_TZ_H
#define JOBCELL_TZ_H

#include <stdbool.h>
#include <stdint.h>

#include "jobcell/error.h"

typedef struct jc_tz jc_tz;

/* The local time type in effect at an instant. abbr points into the zone (lives as long
 * as the zone). */
typedef struct jc_tz_info {
    int32_t utoff; /* seconds east of UTC */
    bool isdst;
    const char *abbr; /* "CET", "EDT", "+0530", … */
} jc_tz_info;

/* The zone named name: "UTC" or an IANA name present under the zoneinfo directory
 * ("Europe/Prague"). Cached: the same pointer is returned on every call, never freed.
 * An unknown or malformed name is JC_E_INVALID (field "timezone"). */
const jc_tz *jc_tz_get(const char *name, jc_err *err);
/* A zone from a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"); owned by the caller, free
 * it with jc_tz_free(). For tests and tools; schedules use jc_tz_get(). */
jc_tz *jc_tz_from_posix(const char *rule, jc_err *err);
/* A zone from the bytes of a TZif file; owned by the caller (jc_tz_free). */
jc_tz *jc_tz_from_tzif(const char *name, const unsigned char *data, size_t len, jc_err *err);
/* Free a zone from jc_tz_from_posix/jc_tz_from_tzif (never one from jc_tz_get). */
void jc_tz_free(jc_tz *tz);
/* The zone's name as given to jc_tz_get. */
const char *jc_tz_name(const jc_tz *tz);

/* The local time type at instant t. */
jc_tz_info jc_tz_lookup(const jc_tz *tz, int64_t t);
/* Shortcut: the UTC offset at instant t. */
int32_t jc_tz_offset(const jc_tz *tz, int64_t t);

/* Change the directory jc_tz_get reads zones from (default /usr/share/zoneinfo, or the
 * TZDIR environment variable read once). For tests; call before any jc_tz_get. */
void jc_tz_set_dir(const char *dir);

/* Civil calendar helpers (proleptic Gregorian). */
int64_t jc_days_from_civil(int64_t y, unsigned m, unsigned d);
void jc_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* 0 = Sunday … 6 = Saturday. */
unsigned jc_weekday_from_days(int64_t days);
bool jc_is_leap_year(int64_t y);
unsigned jc_days_in_month(int64_t y, unsigned m);

/* Format instant t in zone tz as "2026-03-29 03:00:00 CEST (+02:00)". out should hold 64
 * bytes; the result is truncated (still NUL-terminated) when it does not. */
void jc_tz_format(const jc_tz *tz, int64_t t, char *out, size_t outlen);

#endif
