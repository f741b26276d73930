/* cron.h: cron expressions and their fire times in a time zone.
 *
 * Syntax: five fields "minute hour day-of-month month day-of-week", each a list of
 * values, ranges (a-b) and steps (*\/n, a-b/n); months jan–dec and days sun–sat by name
 * (any case); day-of-week 0–7 with 0 and 7 both Sunday. Shorthands: @yearly (@annually),
 * @monthly, @weekly, @daily (@midnight), @hourly.
 *
 * Day rule (as in every classic cron): when both day-of-month and day-of-week are
 * restricted (neither starts with "*"), a day matches when EITHER matches; otherwise
 * both must match.
 *
 * Times are wall-clock times in the schedule's zone. Daylight saving time:
 *  - a local time skipped by the spring-forward jump fires once, at the first instant
 *    after the jump (02:30 in Europe/Prague on the last Sunday of March fires at 03:00
 *    CEST);
 *  - a local time that happens twice when clocks go back fires once, on its first
 *    occurrence;
 *  - except when the hour field is "*": such an expression describes an interval of real
 *    time ("every 15 minutes"), so it keeps firing through the repeated hour (both
 *    passes) and makes nothing up for the skipped one.
 *
 * Nothing here reads the clock: every function takes the instant it computes from. */
#ifndef JOBCELL_CRON_H
#define JOBCELL_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "jobcell/error.h"
#include "jobcell/tz.h"

#define JC_CRON_EXPR_MAX 256

typedef struct jc_cron {
    uint64_t minutes; /* bit m: minute m, 0–59 */
    uint32_t hours;   /* bit h: hour h, 0–23 */
    uint32_t days;    /* bit d: day of month d, 1–31 */
    uint16_t months;  /* bit m: month m, 1–12 */
    uint8_t weekdays; /* bit d: day of week d, 0 (Sunday)–6 */
    bool dom_star;    /* the day-of-month field started with "*" */
    bool dow_star;    /* the day-of-week field started with "*" */
    bool hour_star;   /* the hour field is every hour: interval semantics across DST */
} jc_cron;

/* Parse expr into out. An invalid expression is JC_E_INVALID with field "cron" and a
 * message naming the field and the 1-based character position, e.g.
 * "cron: minute field at character 4: 61 is out of range 0-59". */
int jc_cron_parse(const char *expr, jc_cron *out, jc_err *err);

/* The first fire time strictly after instant after (seconds since the epoch) in zone tz,
 * into *next. No fire time before the year 9999 is JC_E_NOT_FOUND. */
int jc_cron_next(const jc_cron *cron, const jc_tz *tz, int64_t after, int64_t *next, jc_err *err);

#endif
