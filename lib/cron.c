/* cron.c: the cron expression parser and the next-fire-time search.
 *
 * A parsed expression is five bit sets. The search walks local wall-clock minutes that
 * match (skipping whole months and days that cannot), then maps each local time to the
 * instants that show it on a clock in the zone: none (skipped by a DST jump), one, or
 * two (the hour repeated when clocks go back). See cron.h for the DST rules. */
#include "jobcell/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jobcell/cleanup.h"

typedef struct field_def {
    const char *name;
    const char *ordinal;
    int min, max;
    const char *const *names; /* names[i] is value min + i; NULL when none */
} field_def;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

static const field_def fields[F_COUNT] = {
    {"minute", "1st", 0, 59, NULL},
    {"hour", "2nd", 0, 23, NULL},
    {"day-of-month", "3rd", 1, 31, NULL},
    {"month", "4th", 1, 12, month_names},
    /* 7 is Sunday too, as in every classic cron; names map to 0–6. */
    {"day-of-week", "5th", 0, 7, day_names},
};

static const struct {
    const char *name, *expr;
} shorthands[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

JC_PRINTF(4, 5)
static int field_err(jc_err *err, int f, size_t pos, const char *fmt, ...) {
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return jc_err_field(err, JC_E_INVALID, "cron", "cron: %s field at character %zu: %s",
                        fields[f].name, pos + 1, what);
}

static bool is_space(char c) {
    return c == ' ' || c == '\t';
}

static bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* One value (number or name) at s[*i]; *i moves past it. */
static int parse_value(const char *s, size_t *i, int f, int *out, jc_err *err) {
    const field_def *fd = &fields[f];
    size_t start = *i;
    if (is_digit(s[*i])) {
        long v = 0;
        while (is_digit(s[*i])) {
            if (v < 100000)
                v = v * 10 + (s[*i] - '0');
            (*i)++;
        }
        if (v < fd->min || v > fd->max)
            return field_err(err, f, start, "%.*s is out of range %d-%d", (int)(*i - start),
                             s + start, fd->min, fd->max);
        *out = (int)v;
        return 0;
    }
    if (is_alpha(s[*i])) {
        while (is_alpha(s[*i]))
            (*i)++;
        size_t len = *i - start;
        if (!fd->names)
            return field_err(
                err, f, start,
                "names such as \"%.*s\" are only allowed for months and days of the week",
                (int)(len > 16 ? 16 : len), s + start);
        size_t n = f == F_MONTH ? JC_ARRAY_LEN(month_names) : JC_ARRAY_LEN(day_names);
        for (size_t k = 0; k < n && len == 3; k++)
            if (strncasecmp(s + start, fd->names[k], 3) == 0) {
                *out = fd->min + (int)k;
                return 0;
            }
        return field_err(err, f, start, "unknown name \"%.*s\" (use %s)",
                         (int)(len > 16 ? 16 : len), s + start,
                         f == F_MONTH ? "jan-dec" : "sun-sat");
    }
    if (s[*i] == '\0' || is_space(s[*i]) || s[*i] == ',')
        return field_err(err, f, start, "a value is missing");
    return field_err(err, f, start, "unexpected character '%c'", s[*i]);
}

/* One field, s[begin..end). Sets bits in *bits (bit v for value v). */
static int parse_field(const char *s, size_t begin, size_t end, int f, uint64_t *bits,
                       jc_err *err) {
    const field_def *fd = &fields[f];
    /* A local copy ends the field at its NUL, so the value parsers stop there. */
    char buf[JC_CRON_EXPR_MAX + 1];
    memcpy(buf, s, end);
    buf[end] = '\0';
    size_t i = begin;
    *bits = 0;
    for (;;) {
        int lo, hi, step = 1;
        size_t item = i;
        if (buf[i] == '*') {
            lo = fd->min;
            hi = fd->max;
            i++;
        } else {
            if (parse_value(buf, &i, f, &lo, err) < 0)
                return -1;
            hi = lo;
            if (buf[i] == '-') {
                size_t hpos = ++i;
                if (parse_value(buf, &i, f, &hi, err) < 0)
                    return -1;
                int shown = (int)(i - item > 24 ? 24 : i - item);
                if (hi < lo || (f == F_DOW && hi == 0 && lo > 0))
                    return field_err(err, f, hpos,
                                     "the range %.*s goes backwards (write it as two ranges)",
                                     shown, buf + item);
            }
        }
        if (buf[i] == '/') {
            size_t spos = ++i;
            if (!is_digit(buf[i]))
                return field_err(err, f, spos, "a step must be a number");
            long v = 0;
            while (is_digit(buf[i])) {
                if (v < 100000)
                    v = v * 10 + (buf[i] - '0');
                i++;
            }
            long span = fd->max - fd->min + (f == F_DOW ? 0 : 1);
            if (v < 1 || v > span)
                return field_err(err, f, spos, "step %ld is out of range 1-%ld", v, span);
            if (lo == hi && buf[item] != '*')
                return field_err(err, f, spos - 1, "a step needs a range or *, as in %d-%d/%ld", lo,
                                 fd->max, v);
            step = (int)v;
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= (uint64_t)1 << (f == F_DOW && v == 7 ? 0 : v);
        if (buf[i] == ',') {
            i++;
            if (buf[i] == '\0')
                return field_err(err, f, i, "a value is missing after ','");
            continue;
        }
        if (buf[i] != '\0')
            return field_err(err, f, i, "unexpected character '%c'", buf[i]);
        return 0;
    }
}

static int parse_five(const char *s, jc_cron *out, jc_err *err) {
    size_t begin[F_COUNT], end[F_COUNT], n = 0, i = 0;
    for (;;) {
        while (is_space(s[i]))
            i++;
        if (s[i] == '\0')
            break;
        if (n == F_COUNT)
            return jc_err_field(err, JC_E_INVALID, "cron",
                                "cron: expected 5 fields (minute hour day-of-month month "
                                "day-of-week), found more at character %zu",
                                i + 1);
        begin[n] = i;
        while (s[i] && !is_space(s[i]))
            i++;
        end[n++] = i;
    }
    if (n == 0)
        return jc_err_field(err, JC_E_INVALID, "cron", "cron: the expression is empty");
    if (n != F_COUNT)
        return jc_err_field(err, JC_E_INVALID, "cron",
                            "cron: expected 5 fields (minute hour day-of-month month "
                            "day-of-week), found %zu",
                            n);
    uint64_t bits[F_COUNT];
    for (int f = 0; f < F_COUNT; f++)
        if (parse_field(s, begin[f], end[f], f, &bits[f], err) < 0)
            return -1;
    memset(out, 0, sizeof(*out));
    out->minutes = bits[F_MINUTE];
    out->hours = (uint32_t)bits[F_HOUR];
    out->days = (uint32_t)bits[F_DOM];
    out->months = (uint16_t)bits[F_MONTH];
    out->weekdays = (uint8_t)bits[F_DOW];
    out->dom_star = s[begin[F_DOM]] == '*';
    out->dow_star = s[begin[F_DOW]] == '*';
    out->hour_star = out->hours == (1u << 24) - 1 && s[begin[F_HOUR]] == '*';

    /* An expression that can never fire ("0 0 31 2 *") is a mistake, not a schedule. */
    if (!out->dom_star && out->dow_star) {
        static const unsigned max_day[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool possible = false;
        for (unsigned m = 1; m <= 12 && !possible; m++)
            if (out->months & (1u << m))
                possible =
                    (out->days & ((1ull << (max_day[m] + 1)) - 2)) != 0; /* bits 1..max_day */
        if (!possible)
            return field_err(err, F_DOM, begin[F_DOM],
                             "no day listed here exists in the months of the month field");
    }
    return 0;
}

int jc_cron_parse(const char *expr, jc_cron *out, jc_err *err) {
    if (!expr)
        return jc_err_field(err, JC_E_INVALID, "cron", "cron: missing expression");
    size_t len = strnlen(expr, JC_CRON_EXPR_MAX + 1);
    if (len > JC_CRON_EXPR_MAX)
        return jc_err_field(err, JC_E_INVALID, "cron", "cron: longer than %d characters",
                            JC_CRON_EXPR_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)expr[i] < 0x20 && expr[i] != '\t')
            return jc_err_field(err, JC_E_INVALID, "cron",
                                "cron: control character at character %zu", i + 1);
        else if ((unsigned char)expr[i] >= 0x7f)
            return jc_err_field(err, JC_E_INVALID, "cron",
                                "cron: non-ASCII character at character %zu", i + 1);
    size_t i = 0;
    while (is_space(expr[i]))
        i++;
    if (expr[i] != '@')
        return parse_five(expr, out, err);
    size_t w = i;
    while (expr[w] && !is_space(expr[w]))
        w++;
    for (size_t k = w; expr[k]; k++)
        if (!is_space(expr[k]))
            return jc_err_field(err, JC_E_INVALID, "cron",
                                "cron: unexpected text after %.*s at character %zu", (int)(w - i),
                                expr + i, k + 1);
    for (size_t k = 0; k < JC_ARRAY_LEN(shorthands); k++)
        if (strlen(shorthands[k].name) == w - i &&
            strncasecmp(expr + i, shorthands[k].name, w - i) == 0)
            return parse_five(shorthands[k].expr, out, err);
    return jc_err_field(err, JC_E_INVALID, "cron",
                        "cron: unknown shorthand \"%.*s\" at character %zu (use @yearly, "
                        "@annually, @monthly, @weekly, @daily, @midnight or @hourly)",
                        (int)(w - i > 20 ? 20 : w - i), expr + i, i + 1);
}

/* ---- the search ----------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool day_matches(const jc_cron *c, unsigned d, unsigned wd) {
    bool dom = c->days & (1u << d);
    bool dow = c->weekdays & (1u << wd);
    if (c->dom_star || c->dow_star)
        return dom && dow;
    return dom || dow;
}

/* The first matching local minute at or after local time from (a minute boundary, in
 * "local seconds": the wall clock read as if it were UTC), before limit. */
static bool next_local(const jc_cron *c, int64_t from, int64_t limit, int64_t *out) {
    int64_t days = floor_div(from, 86400);
    int start_min = (int)((from - days * 86400) / 60);
    while (days * 86400 < limit) {
        int64_t y;
        unsigned m, d;
        jc_civil_from_days(days, &y, &m, &d);
        if (!(c->months & (1u << m))) {
            /* Skip the whole month. */
            days = m == 12 ? jc_days_from_civil(y + 1, 1, 1) : jc_days_from_civil(y, m + 1, 1);
            start_min = 0;
            continue;
        }
        if (day_matches(c, d, jc_weekday_from_days(days))) {
            for (int h = start_min / 60; h < 24; h++) {
                if (!(c->hours & (1u << h)))
                    continue;
                int m0 = h == start_min / 60 ? start_min % 60 : 0;
                uint64_t left = c->minutes >> m0;
                if (left) {
                    int minute = m0 + __builtin_ctzll(left);
                    *out = days * 86400 + h * 3600 + minute * 60;
                    return *out < limit;
                }
            }
        }
        days++;
        start_min = 0;
    }
    return false;
}

/* The instants whose local time in tz is local: *n = 0 (skipped by a jump; *gap_end gets
 * the first instant after the jump), 1 or 2 (in increasing order). Assumes no two
 * offset changes within a day of each other, which holds for every zone in use. */
static int resolve_local(const jc_tz *tz, int64_t local, int64_t out[2], int64_t *gap_end) {
    int32_t p = jc_tz_offset(tz, local - jc_tz_offset(tz, local));
    int32_t q = jc_tz_offset(tz, local - p);
    int32_t cand[5] = {p, q, jc_tz_offset(tz, local - 86400), jc_tz_offset(tz, local),
                       jc_tz_offset(tz, local + 86400)};
    int n = 0;
    for (int i = 0; i < 5; i++) {
        int64_t u = local - cand[i];
        if (jc_tz_offset(tz, u) != cand[i])
            continue;
        if (n == 0) {
            out[0] = out[1] = u;
            n = 1;
        } else {
            if (u < out[0])
                out[0] = u;
            if (u > out[1])
                out[1] = u;
            n = out[0] == out[1] ? 1 : 2;
        }
    }
    if (n > 0)
        return n;
    /* In a gap p != q, and the jump lies between the instants they give. Find the first
     * instant whose wall clock shows local or later. */
    int64_t a = local - (p > q ? p : q), b = local - (p > q ? q : p);
    while (b - a > 1) {
        int64_t mid = a + (b - a) / 2;
        if (mid + jc_tz_offset(tz, mid) >= local)
            b = mid;
        else
            a = mid;
    }
    *gap_end = b;
    return 0;
}

int jc_cron_next(const jc_cron *c, const jc_tz *tz, int64_t after, int64_t *next, jc_err *err) {
    const int64_t limit = jc_days_from_civil(9999, 12, 31) * 86400;
    if (after < 0 || after >= limit)
        return jc_err_set(err, JC_E_INVALID, "cron: time out of range");
    /* Start a few hours early in local time: after a fall-back, local times just before
     * the wall clock's current reading may map to instants still to come. */
    int64_t local = floor_div(after + jc_tz_offset(tz, after), 60) * 60 - 4 * 3600;
    int64_t best = INT64_MAX;
    for (int guard = 0; guard < 100000; guard++) {
        if (!next_local(c, local, limit, &local))
            break;
        int64_t inst[2], gap_end = 0;
        int n = resolve_local(tz, local, inst, &gap_end);
        local += 60;
        int64_t first;
        if (n == 0) {
            /* Skipped by spring-forward: a wall-clock appointment fires once at the first
             * instant after the jump; an hourly interval has nothing to make up. */
            if (c->hour_star)
                continue;
            first = gap_end;
        } else {
            first = inst[0];
            if (n == 2 && c->hour_star && inst[1] > after && inst[1] < best)
                best = inst[1];
        }
        if (first > after) {
            if (first < best)
                best = first;
            *next = best;
            return 0;
        }
    }
    if (best != INT64_MAX) {
        *next = best;
        return 0;
    }
    return jc_err_set(err, JC_E_NOT_FOUND, "cron: no fire time before the year 9999");
}
