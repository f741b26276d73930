/* tz.c: a TZif reader and POSIX TZ rule evaluator (RFC 8536), with a per-zone cache.
 *
 * Why not localtime_r: it depends on the process-wide TZ variable, and changing that
 * from a server thread races every other thread's time conversion. Zones here are
 * immutable once loaded, so lookups need no lock; only the cache list takes one. */
#include "jobcell/tz.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcell/cleanup.h"
#include "jobcell/io.h"

#define ABBR_MAX 16
#define NAME_MAX_LEN 128
#define TZIF_MAX_BYTES (256 * 1024)
#define MAX_TRANSITIONS 20000
/* RFC 8536: offsets are within (-25h, +26h); anything else is a corrupt file. */
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599

typedef struct ttype {
    int32_t utoff;
    bool isdst;
    char abbr[ABBR_MAX];
} ttype;

typedef enum { DATE_JULIAN_NOLEAP, DATE_ZERO_BASED, DATE_MONTH_WEEK_DAY } date_kind;

typedef struct rule_date {
    date_kind kind;
    int n; /* Jn: 1–365; n: 0–365 */
    int m, w, d;
    int32_t time; /* seconds after local midnight, −167h … +167h */
} rule_date;

/* The POSIX TZ string from the footer: "std offset [dst [offset] [,start[/time],end[/time]]]". */
typedef struct posix_rule {
    ttype std, dst;
    bool has_dst;
    rule_date start, end;
} posix_rule;

struct jc_tz {
    char name[NAME_MAX_LEN + 1];
    size_t ntrans;
    int64_t *trans;       /* ascending transition instants */
    unsigned char *index; /* type index of each transition */
    size_t ntypes;
    ttype *types;
    bool has_rule;
    posix_rule rule;
    struct jc_tz *next; /* cache list */
};

/* ---- civil calendar ------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (the era-based algorithm: exact for
 * every int64 year that does not overflow). */
int64_t jc_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void jc_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

unsigned jc_weekday_from_days(int64_t z) {
    /* 1970-01-01 was a Thursday (4). */
    return (unsigned)(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

bool jc_is_leap_year(int64_t y) {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

unsigned jc_days_in_month(int64_t y, unsigned m) {
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && jc_is_leap_year(y))
        return 29;
    return m >= 1 && m <= 12 ? dim[m - 1] : 0;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- POSIX TZ rule -------------------------------------------------------------------- */

static int parse_abbr(const char **pp, char *out, jc_err *err) {
    const char *p = *pp;
    size_t n = 0;
    if (*p == '<') {
        p++;
        while (*p && *p != '>') {
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
                return jc_err_set(err, JC_E_INVALID, "TZ rule: bad character in <name>");
            if (n + 1 >= ABBR_MAX)
                return jc_err_set(err, JC_E_INVALID, "TZ rule: zone name too long");
            out[n++] = *p++;
        }
        if (*p != '>')
            return jc_err_set(err, JC_E_INVALID, "TZ rule: unterminated <name>");
        p++;
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
            if (n + 1 >= ABBR_MAX)
                return jc_err_set(err, JC_E_INVALID, "TZ rule: zone name too long");
            out[n++] = *p++;
        }
    }
    if (n < 3)
        return jc_err_set(err, JC_E_INVALID, "TZ rule: zone name shorter than 3 characters");
    out[n] = '\0';
    *pp = p;
    return 0;
}

static int parse_number(const char **pp, int max, int *out) {
    const char *p = *pp;
    int v = 0, digits = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (++digits > 3 || v > max)
            return -1;
        p++;
    }
    if (digits == 0)
        return -1;
    *out = v;
    *pp = p;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hours up to max_hours, as signed seconds. */
static int parse_hms(const char **pp, int max_hours, int32_t *out, jc_err *err) {
    const char *p = *pp;
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (parse_number(&p, max_hours, &h) < 0)
        return jc_err_set(err, JC_E_INVALID, "TZ rule: bad hour");
    if (*p == ':') {
        p++;
        if (parse_number(&p, 59, &m) < 0)
            return jc_err_set(err, JC_E_INVALID, "TZ rule: bad minutes");
        if (*p == ':') {
            p++;
            if (parse_number(&p, 59, &s) < 0)
                return jc_err_set(err, JC_E_INVALID, "TZ rule: bad seconds");
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    *pp = p;
    return 0;
}

static int parse_rule_date(const char **pp, rule_date *rd, jc_err *err) {
    const char *p = *pp;
    if (*p == 'J') {
        p++;
        rd->kind = DATE_JULIAN_NOLEAP;
        if (parse_number(&p, 365, &rd->n) < 0 || rd->n < 1)
            return jc_err_set(err, JC_E_INVALID, "TZ rule: Jn needs 1 to 365");
    } else if (*p == 'M') {
        p++;
        rd->kind = DATE_MONTH_WEEK_DAY;
        if (parse_number(&p, 12, &rd->m) < 0 || rd->m < 1 || *p++ != '.' ||
            parse_number(&p, 5, &rd->w) < 0 || rd->w < 1 || *p++ != '.' ||
            parse_number(&p, 6, &rd->d) < 0)
            return jc_err_set(err, JC_E_INVALID, "TZ rule: bad Mm.w.d date");
    } else {
        rd->kind = DATE_ZERO_BASED;
        if (parse_number(&p, 365, &rd->n) < 0)
            return jc_err_set(err, JC_E_INVALID, "TZ rule: bad date");
    }
    rd->time = 2 * 3600;
    if (*p == '/') {
        p++;
        /* RFC 8536 (version 3) extends the time to −167…167 hours. */
        if (parse_hms(&p, 167, &rd->time, err) < 0)
            return -1;
    }
    *pp = p;
    return 0;
}

static int parse_posix(const char *s, posix_rule *r, jc_err *err) {
    const char *p = s;
    int32_t off;
    memset(r, 0, sizeof(*r));
    if (parse_abbr(&p, r->std.abbr, err) < 0 || parse_hms(&p, 24, &off, err) < 0)
        return -1;
    r->std.utoff = -off; /* POSIX offsets are west of UTC */
    if (*p == '\0')
        return 0;
    if (parse_abbr(&p, r->dst.abbr, err) < 0)
        return -1;
    r->has_dst = true;
    r->dst.isdst = true;
    r->dst.utoff = r->std.utoff + 3600;
    if (*p && *p != ',') {
        if (parse_hms(&p, 24, &off, err) < 0)
            return -1;
        r->dst.utoff = -off;
    }
    if (*p == '\0') {
        /* No rule given: POSIX leaves it to the implementation; the US rules are the
         * customary default. */
        r->start = (rule_date){DATE_MONTH_WEEK_DAY, 0, 3, 2, 0, 7200};
        r->end = (rule_date){DATE_MONTH_WEEK_DAY, 0, 11, 1, 0, 7200};
        return 0;
    }
    if (*p++ != ',' || parse_rule_date(&p, &r->start, err) < 0 || *p++ != ',' ||
        parse_rule_date(&p, &r->end, err) < 0)
        return err && err->code != JC_E_OK ? -1
                                           : jc_err_set(err, JC_E_INVALID, "TZ rule: bad rule");
    if (*p != '\0')
        return jc_err_set(err, JC_E_INVALID, "TZ rule: unexpected text after the rule");
    return 0;
}

/* The instant a rule date takes effect in year y, given the offset in force before it. */
static int64_t rule_instant(const rule_date *rd, int64_t y, int32_t utoff_before) {
    int64_t days;
    switch (rd->kind) {
    case DATE_JULIAN_NOLEAP:
        /* Jn counts 1–365 and never counts February 29. */
        days = jc_days_from_civil(y, 1, 1) + rd->n - 1;
        if (jc_is_leap_year(y) && rd->n >= 60)
            days++;
        break;
    case DATE_ZERO_BASED: days = jc_days_from_civil(y, 1, 1) + rd->n; break;
    default: {
        int64_t first = jc_days_from_civil(y, (unsigned)rd->m, 1);
        unsigned wd0 = jc_weekday_from_days(first);
        unsigned day = 1 + ((unsigned)rd->d + 7 - wd0) % 7 + (unsigned)(rd->w - 1) * 7;
        unsigned dim = jc_days_in_month(y, (unsigned)rd->m);
        while (day > dim)
            day -= 7;
        days = first + day - 1;
        break;
    }
    }
    return days * 86400 + rd->time - utoff_before;
}

static const ttype *rule_lookup(const posix_rule *r, int64_t t) {
    if (!r->has_dst)
        return &r->std;
    int64_t y;
    unsigned m, d;
    jc_civil_from_days(floor_div(t + r->std.utoff, 86400), &y, &m, &d);
    int64_t start = rule_instant(&r->start, y, r->std.utoff);
    int64_t end = rule_instant(&r->end, y, r->dst.utoff);
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? &r->dst : &r->std;
}

/* ---- TZif ----------------------------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p;
    size_t left;
} reader;

static bool take(reader *r, size_t n, const unsigned char **out) {
    if (r->left < n)
        return false;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return true;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_header;

static int read_header(reader *r, tzif_header *h, jc_err *err) {
    const unsigned char *p;
    if (!take(r, 44, &p) || memcmp(p, "TZif", 4) != 0)
        return jc_err_set(err, JC_E_INVALID, "not a TZif file");
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 || h->charcnt > 4096 ||
        h->timecnt > MAX_TRANSITIONS || h->leapcnt > 1000 ||
        (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return jc_err_set(err, JC_E_INVALID, "TZif header: inconsistent counts");
    return 0;
}

/* Size of a data block whose times are tsize bytes wide. Counts are bounded above, so no
 * product can overflow a size_t. */
static size_t block_size(const tzif_header *h, size_t tsize) {
    return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static int read_block(reader *r, const tzif_header *h, size_t tsize, jc_tz *tz, jc_err *err) {
    const unsigned char *times, *idx, *types, *chars, *skip;
    if (!take(r, h->timecnt * tsize, &times) || !take(r, h->timecnt, &idx) ||
        !take(r, h->typecnt * 6, &types) || !take(r, h->charcnt, &chars) ||
        !take(r, h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt, &skip))
        return jc_err_set(err, JC_E_INVALID, "TZif: truncated data");
    /* Leap-second zones ("right/…") count seconds differently from every other clock
     * in the system; refuse them rather than be off by ~27 seconds. */
    if (h->leapcnt != 0)
        return jc_err_set(err, JC_E_INVALID, "TZif: zones with leap seconds are not supported");
    tz->ntrans = h->timecnt;
    tz->ntypes = h->typecnt;
    tz->trans = calloc(h->timecnt ? h->timecnt : 1, sizeof(*tz->trans));
    tz->index = calloc(h->timecnt ? h->timecnt : 1, 1);
    tz->types = calloc(h->typecnt, sizeof(*tz->types));
    if (!tz->trans || !tz->index || !tz->types)
        return jc_err_sys(err, ENOMEM, "TZif: allocate");
    for (size_t i = 0; i < h->timecnt; i++) {
        tz->trans[i] = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        tz->index[i] = idx[i];
        if (idx[i] >= h->typecnt || (i > 0 && tz->trans[i] <= tz->trans[i - 1]))
            return jc_err_set(err, JC_E_INVALID, "TZif: bad transition table");
    }
    for (size_t i = 0; i < h->typecnt; i++) {
        const unsigned char *t = types + 6 * i;
        int32_t off = (int32_t)be32(t);
        if (off < UTOFF_MIN || off > UTOFF_MAX || t[4] > 1 || t[5] >= h->charcnt)
            return jc_err_set(err, JC_E_INVALID, "TZif: bad local time type");
        tz->types[i].utoff = off;
        tz->types[i].isdst = t[4];
        size_t n = strnlen((const char *)chars + t[5], h->charcnt - t[5]);
        if (n >= ABBR_MAX)
            n = ABBR_MAX - 1;
        memcpy(tz->types[i].abbr, chars + t[5], n);
        tz->types[i].abbr[n] = '\0';
    }
    return 0;
}

static void tz_clear(jc_tz *tz) {
    free(tz->trans);
    free(tz->index);
    free(tz->types);
    tz->trans = NULL;
    tz->index = NULL;
    tz->types = NULL;
}

void jc_tz_free(jc_tz *tz) {
    if (!tz)
        return;
    tz_clear(tz);
    free(tz);
}

static int set_name(jc_tz *tz, const char *name) {
    int n = snprintf(tz->name, sizeof(tz->name), "%s", name);
    return n < 0 || (size_t)n >= sizeof(tz->name) ? -1 : 0;
}

jc_tz *jc_tz_from_tzif(const char *name, const unsigned char *data, size_t len, jc_err *err) {
    reader r = {data, len};
    tzif_header h;
    jc_tz *tz = calloc(1, sizeof(*tz));
    if (!tz) {
        jc_err_sys(err, ENOMEM, "TZif: allocate");
        return NULL;
    }
    if (set_name(tz, name ? name : "") < 0) {
        jc_err_set(err, JC_E_INVALID, "timezone name too long");
        goto fail;
    }
    if (read_header(&r, &h, err) < 0)
        goto fail;
    if (h.version == '\0') {
        if (read_block(&r, &h, 4, tz, err) < 0)
            goto fail;
        return tz;
    }
    /* Version 2+: skip the 32-bit block, read the 64-bit one and the footer. */
    const unsigned char *skip;
    if (!take(&r, block_size(&h, 4), &skip)) {
        jc_err_set(err, JC_E_INVALID, "TZif: truncated data");
        goto fail;
    }
    if (read_header(&r, &h, err) < 0 || read_block(&r, &h, 8, tz, err) < 0)
        goto fail;
    const unsigned char *nl;
    if (!take(&r, 1, &nl) || *nl != '\n') {
        jc_err_set(err, JC_E_INVALID, "TZif: missing footer");
        goto fail;
    }
    const unsigned char *end = memchr(r.p, '\n', r.left);
    if (!end || (size_t)(end - r.p) > 255) {
        jc_err_set(err, JC_E_INVALID, "TZif: bad footer");
        goto fail;
    }
    if (end > r.p) {
        char rule[256];
        memcpy(rule, r.p, (size_t)(end - r.p));
        rule[end - r.p] = '\0';
        if (parse_posix(rule, &tz->rule, err) < 0) {
            jc_err_prefix(err, "TZif footer");
            goto fail;
        }
        tz->has_rule = true;
    }
    return tz;
fail:
    jc_tz_free(tz);
    return NULL;
}

jc_tz *jc_tz_from_posix(const char *rule, jc_err *err) {
    jc_tz *tz = calloc(1, sizeof(*tz));
    if (!tz) {
        jc_err_sys(err, ENOMEM, "TZ rule: allocate");
        return NULL;
    }
    if (set_name(tz, rule) < 0) {
        jc_err_set(err, JC_E_INVALID, "TZ rule too long");
        jc_tz_free(tz);
        return NULL;
    }
    if (parse_posix(rule, &tz->rule, err) < 0) {
        jc_tz_free(tz);
        return NULL;
    }
    tz->has_rule = true;
    return tz;
}

const char *jc_tz_name(const jc_tz *tz) {
    return tz->name;
}

static const ttype *lookup_type(const jc_tz *tz, int64_t t) {
    if (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]) {
        if (tz->has_rule)
            return rule_lookup(&tz->rule, t);
        return tz->ntrans ? &tz->types[tz->index[tz->ntrans - 1]] : &tz->types[0];
    }
    if (t < tz->trans[0])
        return &tz->types[0];           /* RFC 8536: type 0 before the first transition */
    size_t lo = 0, hi = tz->ntrans - 1; /* trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return &tz->types[tz->index[lo]];
}

jc_tz_info jc_tz_lookup(const jc_tz *tz, int64_t t) {
    const ttype *ty = lookup_type(tz, t);
    return (jc_tz_info){ty->utoff, ty->isdst, ty->abbr};
}

int32_t jc_tz_offset(const jc_tz *tz, int64_t t) {
    return lookup_type(tz, t)->utoff;
}

void jc_tz_format(const jc_tz *tz, int64_t t, char *out, size_t outlen) {
    jc_tz_info info = jc_tz_lookup(tz, t);
    int64_t local = t + info.utoff, y;
    unsigned mo, d;
    jc_civil_from_days(floor_div(local, 86400), &y, &mo, &d);
    int64_t sod = local - floor_div(local, 86400) * 86400;
    int32_t a = info.utoff < 0 ? -info.utoff : info.utoff;
    (void)snprintf(out, outlen, "%04lld-%02u-%02u %02d:%02d:%02d %s (%c%02d:%02d)", (long long)y,
                   mo, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), info.abbr,
                   info.utoff < 0 ? '-' : '+', (int)(a / 3600), (int)(a / 60 % 60));
}

/* ---- the cache ------------------------------------------------------------------------ */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static jc_tz *cache;
static char zone_dir[256];

void jc_tz_set_dir(const char *dir) {
    pthread_mutex_lock(&cache_lock);
    (void)snprintf(zone_dir, sizeof(zone_dir), "%s", dir ? dir : "");
    pthread_mutex_unlock(&cache_lock);
}

/* A name is a relative path of ordinary components: no "..", no hidden files, no
 * absolute path, so a client cannot make the server read a file outside the zone
 * directory (for example /proc/self/environ as "../../proc/self/environ"). */
static bool valid_name(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN || name[0] == '/' || name[n - 1] == '/')
        return false;
    bool start = true;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (start && (c == '.' || c == '/'))
            return false;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+' || c == '.'))
            return false;
        start = c == '/';
    }
    return true;
}

const jc_tz *jc_tz_get(const char *name, jc_err *err) {
    if (!name || !valid_name(name)) {
        jc_err_field(err, JC_E_INVALID, "timezone",
                     "timezone: not a valid zone name (use UTC or an IANA name such as "
                     "Europe/Prague)");
        return NULL;
    }
    pthread_mutex_lock(&cache_lock);
    for (jc_tz *z = cache; z; z = z->next)
        if (strcmp(z->name, name) == 0) {
            pthread_mutex_unlock(&cache_lock);
            return z;
        }
    jc_tz *tz = NULL;
    if (strcmp(name, "UTC") == 0) {
        /* Always available, even on a system without zone files. */
        tz = jc_tz_from_posix("UTC0", err);
        if (tz)
            (void)set_name(tz, "UTC");
    } else {
        const char *dir = zone_dir[0] ? zone_dir : getenv("TZDIR");
        char path[512];
        int n =
            snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
        size_t len = 0;
        jc_err ferr = {0};
        _cleanup_free_ char *data = n > 0 && (size_t)n < sizeof(path)
                                        ? jc_read_file(path, TZIF_MAX_BYTES, &len, &ferr)
                                        : NULL;
        if (!data)
            jc_err_field(err, JC_E_INVALID, "timezone",
                         "timezone: unknown zone \"%s\" (not in the system zoneinfo)", name);
        else if (!(tz = jc_tz_from_tzif(name, (unsigned char *)data, len, &ferr)))
            jc_err_field(err, JC_E_INVALID, "timezone", "timezone: zone file \"%s\": %s", name,
                         ferr.msg);
    }
    if (tz) {
        tz->next = cache;
        cache = tz;
    }
    pthread_mutex_unlock(&cache_lock);
    return tz;
}
