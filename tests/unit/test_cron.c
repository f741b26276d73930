/* Unit tests of the cron parser, the next-fire search and the TZif / POSIX TZ reader.
 *
 * The table of fire times was computed by an independent brute-force walk over UTC
 * minutes with Python's zoneinfo, and the DST rows were checked by hand against the
 * rules in cron.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobcell/cleanup.h"
#include "jobcell/cron.h"
#include "jobcell/io.h"
#include "jobcell/tz.h"

typedef struct next_case {
    const char *expr, *zone, *from;
    const char *fires[6];
} next_case;

static const next_case next_cases[] = {
    {"* * * * *",
     "UTC",
     "2026-01-01T00:00:00Z",
     {"2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z"}},
    {"* * * * *", "UTC", "2026-01-01T00:00:30Z", {"2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"}},
    {"*/5 * * * *",
     "UTC",
     "2026-01-01T00:03:00Z",
     {"2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z"}},
    {"0 * * * *",
     "UTC",
     "2026-01-01T00:00:00Z",
     {"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"}},
    {"30 2 * * *", "UTC", "2026-01-01T02:30:00Z", {"2026-01-02T02:30:00Z", "2026-01-03T02:30:00Z"}},
    {"0 9 * * 1-5",
     "UTC",
     "2026-11-20T10:00:00Z",
     {"2026-11-23T09:00:00Z", "2026-11-24T09:00:00Z", "2026-11-25T09:00:00Z"}},
    {"0 0 1 * *",
     "UTC",
     "2026-01-15T00:00:00Z",
     {"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"}},
    {"0 0 1 1 *", "UTC", "2026-06-01T00:00:00Z", {"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
    {"@hourly", "UTC", "2026-05-05T05:05:00Z", {"2026-05-05T06:00:00Z", "2026-05-05T07:00:00Z"}},
    {"@daily", "UTC", "2026-05-05T05:05:00Z", {"2026-05-06T00:00:00Z", "2026-05-07T00:00:00Z"}},
    {"@midnight", "UTC", "2026-05-05T05:05:00Z", {"2026-05-06T00:00:00Z", "2026-05-07T00:00:00Z"}},
    {"@weekly", "UTC", "2026-05-05T05:05:00Z", {"2026-05-10T00:00:00Z", "2026-05-17T00:00:00Z"}},
    {"@monthly", "UTC", "2026-05-05T05:05:00Z", {"2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"}},
    {"@yearly", "UTC", "2026-05-05T05:05:00Z", {"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
    {"@annually", "UTC", "2026-05-05T05:05:00Z", {"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
    {"15,45 8-10 * * *",
     "UTC",
     "2026-02-02T09:50:00Z",
     {"2026-02-02T10:15:00Z", "2026-02-02T10:45:00Z", "2026-02-03T08:15:00Z"}},
    {"0-10/5 * * * *",
     "UTC",
     "2026-02-02T09:50:00Z",
     {"2026-02-02T10:00:00Z", "2026-02-02T10:05:00Z", "2026-02-02T10:10:00Z",
      "2026-02-02T11:00:00Z"}},
    {"0 0 * * sun",
     "UTC",
     "2026-11-22T00:00:00Z",
     {"2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"}},
    {"0 0 * * 7", "UTC", "2026-11-22T00:00:00Z", {"2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"}},
    {"0 0 * * MON-FRI",
     "UTC",
     "2026-11-20T12:00:00Z",
     {"2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z"}},
    {"0 12 * jan,jul *",
     "UTC",
     "2026-01-31T12:00:00Z",
     {"2026-07-01T12:00:00Z", "2026-07-02T12:00:00Z", "2026-07-03T12:00:00Z"}},
    {"0 12 1 JAN-MAY/2 *",
     "UTC",
     "2026-01-01T12:00:00Z",
     {"2026-03-01T12:00:00Z", "2026-05-01T12:00:00Z", "2027-01-01T12:00:00Z"}},
    {"0 0 29 2 *",
     "UTC",
     "2026-01-01T00:00:00Z",
     {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z", "2108-02-29T00:00:00Z"}},
    {"0 0 31 * *",
     "UTC",
     "2026-03-31T00:00:00Z",
     {"2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"}},
    {"0 0 30 * *",
     "UTC",
     "2026-01-30T00:00:00Z",
     {"2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z", "2026-05-30T00:00:00Z"}},
    {"0 0 13 * 5",
     "UTC",
     "2026-11-01T00:00:00Z",
     {"2026-11-06T00:00:00Z", "2026-11-13T00:00:00Z", "2026-11-20T00:00:00Z",
      "2026-11-27T00:00:00Z"}},
    {"0 0 1 * 1",
     "UTC",
     "2026-11-24T00:00:00Z",
     {"2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-07T00:00:00Z"}},
    {"0 0 */10 * 1",
     "UTC",
     "2026-01-01T00:00:00Z",
     {"2026-05-11T00:00:00Z", "2026-06-01T00:00:00Z", "2026-08-31T00:00:00Z"}},
    {"0 0 1-7 * mon",
     "UTC",
     "2026-11-22T00:00:00Z",
     {"2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z",
      "2026-12-02T00:00:00Z"}},
    {"0 0 * * 1-5",
     "UTC",
     "2026-11-21T00:00:00Z",
     {"2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"}},
    {"0 0 29 2 1",
     "UTC",
     "2027-01-01T00:00:00Z",
     {"2027-02-01T00:00:00Z", "2027-02-08T00:00:00Z", "2027-02-15T00:00:00Z"}},
    {"59 23 31 12 *",
     "UTC",
     "2026-12-31T23:58:00Z",
     {"2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"}},
    {"*/7 * * * *",
     "UTC",
     "2026-01-01T00:50:00Z",
     {"2026-01-01T00:56:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:07:00Z"}},
    {"5 4 * * sun",
     "UTC",
     "2026-11-22T04:05:00Z",
     {"2026-11-29T04:05:00Z", "2026-12-06T04:05:00Z"}},
    {"23 0-20/2 * * *",
     "UTC",
     "2026-01-01T19:00:00Z",
     {"2026-01-01T20:23:00Z", "2026-01-02T00:23:00Z", "2026-01-02T02:23:00Z"}},
    {"0 0,12 1 */2 *",
     "UTC",
     "2026-02-01T00:00:00Z",
     {"2026-03-01T00:00:00Z", "2026-03-01T12:00:00Z", "2026-05-01T00:00:00Z"}},
    {"0 4 8-14 * *",
     "UTC",
     "2026-01-14T04:00:00Z",
     {"2026-02-08T04:00:00Z", "2026-02-09T04:00:00Z"}},
    {"1-3,58-59 * * * *",
     "UTC",
     "2026-01-01T00:03:00Z",
     {"2026-01-01T00:58:00Z", "2026-01-01T00:59:00Z", "2026-01-01T01:01:00Z"}},
    {"0 */6 * * *",
     "UTC",
     "2026-01-01T19:00:00Z",
     {"2026-01-02T00:00:00Z", "2026-01-02T06:00:00Z"}},
    {"30 2 * * *",
     "Europe/Prague",
     "2026-03-28T12:00:00Z",
     {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"}},
    {"0 2 * * *",
     "Europe/Prague",
     "2026-03-28T12:00:00Z",
     {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"}},
    {"59 2 * * *",
     "Europe/Prague",
     "2026-03-28T12:00:00Z",
     {"2026-03-29T01:00:00Z", "2026-03-30T00:59:00Z"}},
    {"0 3 * * *",
     "Europe/Prague",
     "2026-03-28T12:00:00Z",
     {"2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"}},
    {"*/15 * * * *",
     "Europe/Prague",
     "2026-03-29T00:30:00Z",
     {"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"}},
    {"7 * * * *",
     "Europe/Prague",
     "2026-03-29T00:00:00Z",
     {"2026-03-29T00:07:00Z", "2026-03-29T01:07:00Z", "2026-03-29T02:07:00Z"}},
    {"*/15 2 * * *",
     "Europe/Prague",
     "2026-03-28T12:00:00Z",
     {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"}},
    {"0,30 1-3 * * *",
     "Europe/Prague",
     "2026-03-29T00:00:00Z",
     {"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z",
      "2026-03-29T23:00:00Z"}},
    {"30 2 29 3 *",
     "Europe/Prague",
     "2026-01-01T00:00:00Z",
     {"2026-03-29T01:00:00Z", "2027-03-29T00:30:00Z"}},
    {"30 2 * * *",
     "Europe/Prague",
     "2026-10-24T12:00:00Z",
     {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"}},
    {"0 2 * * *",
     "Europe/Prague",
     "2026-10-24T12:00:00Z",
     {"2026-10-25T00:00:00Z", "2026-10-26T01:00:00Z"}},
    {"*/20 * * * *",
     "Europe/Prague",
     "2026-10-25T00:10:00Z",
     {"2026-10-25T00:20:00Z", "2026-10-25T00:40:00Z", "2026-10-25T01:00:00Z",
      "2026-10-25T01:20:00Z", "2026-10-25T01:40:00Z", "2026-10-25T02:00:00Z"}},
    {"0 * * * *",
     "Europe/Prague",
     "2026-10-24T23:30:00Z",
     {"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z",
      "2026-10-25T03:00:00Z"}},
    {"*/30 2 * * *",
     "Europe/Prague",
     "2026-10-25T00:00:00Z",
     {"2026-10-25T00:30:00Z", "2026-10-26T01:00:00Z", "2026-10-26T01:30:00Z"}},
    {"59 1 * * *",
     "Europe/Prague",
     "2026-10-24T12:00:00Z",
     {"2026-10-24T23:59:00Z", "2026-10-26T00:59:00Z"}},
    {"@daily",
     "Europe/Prague",
     "2026-03-28T12:00:00Z",
     {"2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"}},
    {"30 2 * * *",
     "America/New_York",
     "2026-03-07T12:00:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"}},
    {"*/30 * * * *",
     "America/New_York",
     "2026-03-08T06:10:00Z",
     {"2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"}},
    {"0 2 * * 0",
     "America/New_York",
     "2026-03-01T12:00:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-15T06:00:00Z", "2026-03-22T06:00:00Z"}},
    {"15 1-3 * * *",
     "America/New_York",
     "2026-03-08T05:00:00Z",
     {"2026-03-08T06:15:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z"}},
    {"30 1 * * *",
     "America/New_York",
     "2026-10-31T12:00:00Z",
     {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
    {"0 * * * *",
     "America/New_York",
     "2026-11-01T04:30:00Z",
     {"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z",
      "2026-11-01T08:00:00Z"}},
    {"*/30 1 * * *",
     "America/New_York",
     "2026-11-01T04:00:00Z",
     {"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:00:00Z"}},
    {"0 1,2 * * *",
     "America/New_York",
     "2026-11-01T04:00:00Z",
     {"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-02T06:00:00Z"}},
    {"30 2 * * *",
     "Europe/Prague",
     "2080-03-30T12:00:00Z",
     {"2080-03-31T01:00:00Z", "2080-04-01T00:30:00Z", "2080-04-02T00:30:00Z"}},
    {"30 2 * * *",
     "America/New_York",
     "2090-03-01T12:00:00Z",
     {"2090-03-02T07:30:00Z", "2090-03-03T07:30:00Z", "2090-03-04T07:30:00Z"}},
    {"30 1 * * *",
     "America/New_York",
     "2090-11-04T12:00:00Z",
     {"2090-11-05T05:30:00Z", "2090-11-06T06:30:00Z"}},
    {"0 0 * * *",
     "Asia/Kolkata",
     "2026-01-01T00:00:00Z",
     {"2026-01-01T18:30:00Z", "2026-01-02T18:30:00Z"}},
    {"0 9 * * 1-5",
     "Asia/Tokyo",
     "2026-11-20T12:00:00Z",
     {"2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"}},
    {"30 2 * * *",
     "Australia/Sydney",
     "2026-04-04T00:00:00Z",
     {"2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"}},
    {"30 2 * * *",
     "Australia/Sydney",
     "2026-10-03T00:00:00Z",
     {"2026-10-03T16:00:00Z", "2026-10-04T15:30:00Z"}},
    {"15 2 * * *",
     "Australia/Lord_Howe",
     "2026-10-03T00:00:00Z",
     {"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}},
    {"30 1 * * *",
     "Europe/London",
     "2026-10-24T12:00:00Z",
     {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
    {"0 12 * * *",
     "Etc/GMT+5",
     "2026-01-01T00:00:00Z",
     {"2026-01-01T17:00:00Z", "2026-01-02T17:00:00Z"}},
    {"0 0 * * *",
     "America/Santiago",
     "2026-09-05T00:00:00Z",
     {"2026-09-05T04:00:00Z", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"}},
    {"0 0 * * *",
     "America/Sao_Paulo",
     "2026-01-01T00:00:00Z",
     {"2026-01-01T03:00:00Z", "2026-01-02T03:00:00Z"}},
};

typedef struct invalid_case {
    const char *expr, *msg;
} invalid_case;

static const invalid_case invalid_cases[] = {
    {"", "cron: the expression is empty"},
    {"   ", "cron: the expression is empty"},
    {"* * * *", "cron: expected 5 fields (minute hour day-of-month month day-of-week), found 4"},
    {"* * * * * *", "cron: expected 5 fields (minute hour day-of-month month day-of-week), found "
                    "more at character 11"},
    {"60 * * * *", "cron: minute field at character 1: 60 is out of range 0-59"},
    {"* 24 * * *", "cron: hour field at character 3: 24 is out of range 0-23"},
    {"* * 0 * *", "cron: day-of-month field at character 5: 0 is out of range 1-31"},
    {"* * 32 * *", "cron: day-of-month field at character 5: 32 is out of range 1-31"},
    {"* * * 0 *", "cron: month field at character 7: 0 is out of range 1-12"},
    {"* * * 13 *", "cron: month field at character 7: 13 is out of range 1-12"},
    {"* * * * 8", "cron: day-of-week field at character 9: 8 is out of range 0-7"},
    {"*/0 * * * *", "cron: minute field at character 3: step 0 is out of range 1-60"},
    {"*/61 * * * *", "cron: minute field at character 3: step 61 is out of range 1-60"},
    {"30-10 * * * *",
     "cron: minute field at character 4: the range 30-10 goes backwards (write it as two ranges)"},
    {"5/15 * * * *", "cron: minute field at character 2: a step needs a range or *, as in 5-59/15"},
    {"a * * * *", "cron: minute field at character 1: names such as \"a\" are only allowed for "
                  "months and days of the week"},
    {"* * * foo *", "cron: month field at character 7: unknown name \"foo\" (use jan-dec)"},
    {"* * * * funday",
     "cron: day-of-week field at character 9: unknown name \"funday\" (use sun-sat)"},
    {"* * * janu *", "cron: month field at character 7: unknown name \"janu\" (use jan-dec)"},
    {"1,,2 * * * *", "cron: minute field at character 3: a value is missing"},
    {"1, * * * *", "cron: minute field at character 3: a value is missing after ','"},
    {",1 * * * *", "cron: minute field at character 1: a value is missing"},
    {"1- * * * *", "cron: minute field at character 3: a value is missing"},
    {"-1 * * * *", "cron: minute field at character 1: unexpected character '-'"},
    {"* * * * */8", "cron: day-of-week field at character 11: step 8 is out of range 1-7"},
    {"1-2-3 * * * *", "cron: minute field at character 4: unexpected character '-'"},
    {"*/ * * * *", "cron: minute field at character 3: a step must be a number"},
    {"** * * * *", "cron: minute field at character 2: unexpected character '*'"},
    {"? * * * *", "cron: minute field at character 1: unexpected character '?'"},
    {"0 0 31 2 *", "cron: day-of-month field at character 5: no day listed here exists in the "
                   "months of the month field"},
    {"0 0 30,31 2 *", "cron: day-of-month field at character 5: no day listed here exists in the "
                      "months of the month field"},
    {"0 0 31 4,6,9,11 *", "cron: day-of-month field at character 5: no day listed here exists in "
                          "the months of the month field"},
    {"@reboot", "cron: unknown shorthand \"@reboot\" at character 1 (use @yearly, @annually, "
                "@monthly, @weekly, @daily, @midnight or @hourly)"},
    {"@daily extra", "cron: unexpected text after @daily at character 8"},
    {"@every5m", "cron: unknown shorthand \"@every5m\" at character 1 (use @yearly, @annually, "
                 "@monthly, @weekly, @daily, @midnight or @hourly)"},
    {"* * L * *", "cron: day-of-month field at character 5: names such as \"L\" are only allowed "
                  "for months and days of the week"},
    {"0 0 * * 1#2", "cron: day-of-week field at character 10: unexpected character '#'"},
    {"* * * * mon-sun", "cron: day-of-week field at character 13: the range mon-sun goes backwards "
                        "(write it as two ranges)"},
    {"0 0 1 * * #comment", "cron: expected 5 fields (minute hour day-of-month month day-of-week), "
                           "found more at character 11"},
    {"* * * *\tx", "cron: day-of-week field at character 9: unknown name \"x\" (use sun-sat)"},
};

static int64_t at(const char *rfc3339) {
    int64_t ms;
    if (jc_time_parse_ms(rfc3339, &ms) < 0)
        fail_msg("bad time in test table: %s", rfc3339);
    return ms / 1000;
}

static void test_next_table(void **state) {
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < JC_ARRAY_LEN(next_cases); i++) {
        const next_case *c = &next_cases[i];
        jc_err err = {0};
        jc_cron cron;
        if (jc_cron_parse(c->expr, &cron, &err) < 0)
            fail_msg("%s: %s", c->expr, err.msg);
        const jc_tz *tz = jc_tz_get(c->zone, &err);
        if (!tz)
            fail_msg("%s: %s", c->zone, err.msg);
        int64_t t = at(c->from);
        for (size_t k = 0; k < JC_ARRAY_LEN(c->fires) && c->fires[k]; k++) {
            int64_t next = 0;
            if (jc_cron_next(&cron, tz, t, &next, &err) < 0)
                fail_msg("%s in %s from %s: %s", c->expr, c->zone, c->from, err.msg);
            if (next != at(c->fires[k])) {
                char got[32];
                jc_time_format_ms(next * 1000, got, sizeof(got));
                fail_msg("\"%s\" in %s from %s, fire %zu: want %s, got %s", c->expr, c->zone,
                         c->from, k + 1, c->fires[k], got);
            }
            t = next;
            checked++;
        }
    }
    assert_true(JC_ARRAY_LEN(next_cases) >= 60);
    assert_true(checked >= 180);
}

static void test_invalid_table(void **state) {
    (void)state;
    for (size_t i = 0; i < JC_ARRAY_LEN(invalid_cases); i++) {
        jc_err err = {0};
        jc_cron cron;
        if (jc_cron_parse(invalid_cases[i].expr, &cron, &err) == 0)
            fail_msg("accepted invalid expression \"%s\"", invalid_cases[i].expr);
        assert_int_equal(err.code, JC_E_INVALID);
        assert_string_equal(err.field, "cron");
        if (strcmp(err.msg, invalid_cases[i].msg) != 0)
            fail_msg("\"%s\": want \"%s\", got \"%s\"", invalid_cases[i].expr, invalid_cases[i].msg,
                     err.msg);
    }
    assert_true(JC_ARRAY_LEN(invalid_cases) >= 30);
}

static void test_parse_limits(void **state) {
    (void)state;
    jc_cron c;
    jc_err err = {0};
    char long_expr[JC_CRON_EXPR_MAX + 8];
    memset(long_expr, ' ', sizeof(long_expr) - 1);
    long_expr[sizeof(long_expr) - 1] = '\0';
    assert_int_equal(jc_cron_parse(long_expr, &c, &err), -1);
    assert_string_equal(err.msg, "cron: longer than 256 characters");
    assert_int_equal(jc_cron_parse("* * * * *\n", &c, &err), -1);
    assert_string_equal(err.msg, "cron: control character at character 10");
    assert_int_equal(jc_cron_parse("* * * * \xc3\xa9", &c, &err), -1);
    assert_string_equal(err.msg, "cron: non-ASCII character at character 9");
    assert_int_equal(jc_cron_parse(NULL, &c, &err), -1);
    assert_string_equal(err.msg, "cron: missing expression");
    /* Bit sets of a few parses. */
    assert_int_equal(jc_cron_parse(" 0-10/5,59  */12 1,15 jan-mar/2 sun,7 ", &c, &err), 0);
    assert_true(c.minutes == ((1ull << 0) | (1ull << 5) | (1ull << 10) | (1ull << 59)));
    assert_int_equal(c.hours, (1u << 0) | (1u << 12));
    assert_int_equal(c.days, (1u << 1) | (1u << 15));
    assert_int_equal(c.months, (1u << 1) | (1u << 3));
    assert_int_equal(c.weekdays, 1u);
    assert_false(c.dom_star);
    assert_false(c.dow_star);
    assert_false(c.hour_star);
    assert_int_equal(jc_cron_parse("@HOURLY", &c, &err), 0);
    assert_true(c.minutes == 1ull);
    assert_true(c.hour_star);
    assert_true(c.dom_star && c.dow_star);
}

static void test_never_fires_limit(void **state) {
    (void)state;
    jc_cron c;
    jc_err err = {0};
    const jc_tz *utc = jc_tz_get("UTC", &err);
    assert_non_null(utc);
    assert_int_equal(jc_cron_parse("0 0 29 2 *", &c, &err), 0);
    int64_t next = 0;
    assert_int_equal(jc_cron_next(&c, utc, at("9996-03-01T00:00:00Z"), &next, &err), -1);
    assert_int_equal(err.code, JC_E_NOT_FOUND);
    assert_int_equal(jc_cron_next(&c, utc, -1, &next, &err), -1);
    assert_int_equal(err.code, JC_E_INVALID);
}

static void test_calendar(void **state) {
    (void)state;
    assert_int_equal(jc_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(jc_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(jc_weekday_from_days(0), 4);
    assert_int_equal(jc_weekday_from_days(-1), 3);
    assert_int_equal(jc_weekday_from_days(jc_days_from_civil(2026, 11, 22)), 0);
    for (int64_t d = -800000; d < 3000000; d += 997) {
        int64_t y;
        unsigned m, dd;
        jc_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(jc_days_from_civil(y, m, dd), d);
    }
    assert_true(jc_is_leap_year(2000));
    assert_false(jc_is_leap_year(2100));
    assert_int_equal(jc_days_in_month(2028, 2), 29);
    assert_int_equal(jc_days_in_month(2100, 2), 28);
}

static void expect_offset(const jc_tz *tz, const char *when, int32_t off, const char *abbr) {
    jc_tz_info info = jc_tz_lookup(tz, at(when));
    if (info.utoff != off || strcmp(info.abbr, abbr) != 0)
        fail_msg("%s at %s: want %d %s, got %d %s", jc_tz_name(tz), when, off, abbr, info.utoff,
                 info.abbr);
}

static void test_posix_rules(void **state) {
    (void)state;
    jc_err err = {0};
    /* Mm.w.d with an explicit end time. */
    jc_tz *eu = jc_tz_from_posix("CET-1CEST,M3.5.0,M10.5.0/3", &err);
    assert_non_null(eu);
    expect_offset(eu, "2026-03-29T00:59:59Z", 3600, "CET");
    expect_offset(eu, "2026-03-29T01:00:00Z", 7200, "CEST");
    expect_offset(eu, "2026-10-25T00:59:59Z", 7200, "CEST");
    expect_offset(eu, "2026-10-25T01:00:00Z", 3600, "CET");
    jc_tz_free(eu);
    /* Southern hemisphere: DST spans the new year. */
    jc_tz *syd = jc_tz_from_posix("AEST-10AEDT,M10.1.0,M4.1.0/3", &err);
    assert_non_null(syd);
    expect_offset(syd, "2027-01-15T00:00:00Z", 39600, "AEDT");
    expect_offset(syd, "2027-04-03T15:59:59Z", 39600, "AEDT");
    expect_offset(syd, "2027-04-03T16:00:00Z", 36000, "AEST");
    expect_offset(syd, "2027-10-02T15:59:59Z", 36000, "AEST");
    expect_offset(syd, "2027-10-02T16:00:00Z", 39600, "AEDT");
    jc_tz_free(syd);
    /* Jn never counts February 29: J60 is March 1 in every year. */
    jc_tz *j = jc_tz_from_posix("AAA3BBB,J60/0,J300/0", &err);
    assert_non_null(j);
    expect_offset(j, "2028-03-01T02:59:59Z", -10800, "AAA");
    expect_offset(j, "2028-03-01T03:00:00Z", -7200, "BBB");
    jc_tz_free(j);
    /* n counts from 0 and does count February 29: day 59 is Feb 29 in a leap year. */
    jc_tz *n = jc_tz_from_posix("AAA3BBB,59/0,300/0", &err);
    assert_non_null(n);
    expect_offset(n, "2028-02-29T02:59:59Z", -10800, "AAA");
    expect_offset(n, "2028-02-29T03:00:00Z", -7200, "BBB");
    expect_offset(n, "2027-03-01T03:00:00Z", -7200, "BBB");
    jc_tz_free(n);
    /* Quoted names, negative and >24h rule times (RFC 8536 version 3). */
    jc_tz *q = jc_tz_from_posix("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", &err);
    assert_non_null(q);
    /* Last Sunday of March 2026 is the 29th; -2 hours is 22:00 on the 28th local. */
    expect_offset(q, "2026-03-29T00:59:59Z", -10800, "-03");
    expect_offset(q, "2026-03-29T01:00:00Z", -7200, "-02");
    jc_tz_free(q);
    jc_tz *permanent = jc_tz_from_posix("EST5EDT,0/0,J365/25", &err);
    assert_non_null(permanent);
    expect_offset(permanent, "2030-06-01T00:00:00Z", -14400, "EDT");
    expect_offset(permanent, "2030-01-01T03:00:00Z", -14400, "EDT");
    jc_tz_free(permanent);
    const char *bad[] = {"",
                         "C",
                         "CET",
                         "CET-1CEST,M3.5.0",
                         "CET-1CEST,M13.5.0,M10.5.0",
                         "CET-1CEST,M3.6.0,M10.5.0",
                         "CET-1CEST,J0,J100",
                         "CET-1CEST,366,1",
                         "CET-25",
                         "<CET-1",
                         "CET-1CEST,M3.5.0,M10.5.0/168",
                         "CET-1CEST,M3.5.0,M10.5.0 x"};
    for (size_t i = 0; i < JC_ARRAY_LEN(bad); i++) {
        jc_tz *t = jc_tz_from_posix(bad[i], &err);
        if (t)
            fail_msg("accepted bad TZ rule \"%s\"", bad[i]);
        assert_int_equal(err.code, JC_E_INVALID);
    }
}

static void test_zone_files(void **state) {
    (void)state;
    jc_err err = {0};
    const jc_tz *prague = jc_tz_get("Europe/Prague", &err);
    assert_non_null(prague);
    assert_ptr_equal(jc_tz_get("Europe/Prague", &err), prague); /* cached */
    assert_string_equal(jc_tz_name(prague), "Europe/Prague");
    expect_offset(prague, "1980-01-01T00:00:00Z", 3600, "CET");
    expect_offset(prague, "2026-07-01T00:00:00Z", 7200, "CEST");
    /* Past the table's last transition: the footer rule takes over. */
    expect_offset(prague, "2150-07-01T00:00:00Z", 7200, "CEST");
    expect_offset(prague, "2150-12-01T00:00:00Z", 3600, "CET");
    const jc_tz *ny = jc_tz_get("America/New_York", &err);
    assert_non_null(ny);
    expect_offset(ny, "2026-03-08T06:59:59Z", -18000, "EST");
    expect_offset(ny, "2026-03-08T07:00:00Z", -14400, "EDT");
    expect_offset(ny, "2200-11-01T00:00:00Z", -14400, "EDT");
    char buf[64];
    jc_tz_format(ny, at("2026-11-01T06:30:00Z"), buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-01 01:30:00 EST (-05:00)");
    const jc_tz *utc = jc_tz_get("UTC", &err);
    assert_non_null(utc);
    expect_offset(utc, "2026-07-01T00:00:00Z", 0, "UTC");

    /* Names that try to leave the zone directory, or are not zones at all. */
    const char *bad[] = {"../../etc/passwd",
                         "/etc/localtime",
                         "Europe/../../../etc/passwd",
                         "Europe/.hidden",
                         "Europe//Prague",
                         "Europe/",
                         "Nowhere/Atlantis",
                         "zone.tab",
                         "Europe",
                         "Europe/Prague\n",
                         "",
                         "Europe/Pr ague"};
    for (size_t i = 0; i < JC_ARRAY_LEN(bad); i++) {
        if (jc_tz_get(bad[i], &err))
            fail_msg("accepted zone \"%s\"", bad[i]);
        assert_int_equal(err.code, JC_E_INVALID);
        assert_string_equal(err.field, "timezone");
    }
    assert_null(jc_tz_get("Nowhere/Atlantis", &err));
    assert_string_equal(err.msg,
                        "timezone: unknown zone \"Nowhere/Atlantis\" (not in the system zoneinfo)");
}

static void test_tzif_malformed(void **state) {
    (void)state;
    jc_err err = {0};
    size_t len = 0;
    _cleanup_free_ char *data =
        jc_read_file("/usr/share/zoneinfo/Europe/Prague", 1 << 20, &len, &err);
    assert_non_null(data);
    jc_tz *ok = jc_tz_from_tzif("copy", (unsigned char *)data, len, &err);
    assert_non_null(ok);
    jc_tz_free(ok);
    /* Every truncation is refused, never read past the end (ASan checks the latter). */
    for (size_t cut = 0; cut < len; cut += (cut < 100 ? 1 : 37)) {
        jc_tz *t = jc_tz_from_tzif("cut", (unsigned char *)data, cut, &err);
        if (t)
            fail_msg("accepted a TZif file cut at %zu of %zu bytes", cut, len);
    }
    /* A transition index past the type table. */
    unsigned char *bad = malloc(len);
    assert_non_null(bad);
    memcpy(bad, data, len);
    bad[4] = '\0'; /* version 1: the 32-bit block is the one read */
    uint32_t timecnt = (uint32_t)bad[32] << 24 | bad[33] << 16 | bad[34] << 8 | bad[35];
    assert_true(timecnt > 0);
    bad[44 + 4 * timecnt] = 250;
    assert_null(jc_tz_from_tzif("bad", bad, len, &err));
    assert_string_equal(err.msg, "TZif: bad transition table");
    memcpy(bad, "TZIF", 4);
    assert_null(jc_tz_from_tzif("bad", bad, len, &err));
    assert_string_equal(err.msg, "not a TZif file");
    free(bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_table),   cmocka_unit_test(test_invalid_table),
        cmocka_unit_test(test_parse_limits), cmocka_unit_test(test_never_fires_limit),
        cmocka_unit_test(test_calendar),     cmocka_unit_test(test_posix_rules),
        cmocka_unit_test(test_zone_files),   cmocka_unit_test(test_tzif_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
