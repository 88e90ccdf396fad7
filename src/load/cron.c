/* Cron expressions: the parser, the calendar search in wall-clock time, and
 * its mapping onto instants through the local time zone (see cron.h for
 * the DST rules). */
#include "load/cron.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

#define DAY_SEC   86400
#define CRON_YEARS 30
/* The latest `after` accepted (about the year 9000), far from any overflow. */
#define CRON_TIME_MAX ((time_t) 221845392000LL)

typedef struct FieldDef {
        const char *name;
        unsigned lo, hi;              /* values accepted */
        unsigned star_hi;             /* where '*' ends (day-of-week: 6, as 7 is Sunday again) */
        const char *const *names;     /* names[i] is value lo + i, or NULL */
} FieldDef;

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const wday_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const FieldDef field_defs[5] = {
        { "minute", 0, 59, 59, NULL },
        { "hour", 0, 23, 23, NULL },
        { "day-of-month", 1, 31, 31, NULL },
        { "month", 1, 12, 12, month_names },
        { "day-of-week", 0, 7, 6, wday_names },
};

static const struct {
        const char *name;
        const char *fields;
} nicknames[] = {
        { "@hourly", "0 * * * *" },   { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
        { "@weekly", "0 0 * * 0" },   { "@monthly", "0 0 1 * *" }, { "@yearly", "0 0 1 1 *" },
        { "@annually", "0 0 1 1 *" },
};

/* ------------------------------------------------------------ parsing */

static bool is_blank(char ch) {
        return ch == ' ' || ch == '\t';
}

static bool is_digit(char ch) {
        return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* A number or a name at *p (before end), advanced past it. */
static int parse_value(const FieldDef *f, const char **p, const char *end, unsigned *ret, char **ret_error) {
        const char *s = *p;
        unsigned v = 0;

        if (s < end && is_digit(*s)) {
                for (; s < end && is_digit(*s); s++)
                        v = v > 9999 ? v : v * 10 + (unsigned) (*s - '0');
                if (v < f->lo || v > f->hi)
                        return set_error(ret_error, -EINVAL, "%s: %.*s is out of range %u-%u", f->name,
                                         (int) (s - *p), *p, f->lo, f->hi);
                *p = s;
                *ret = v;
                return 0;
        }
        while (s < end && is_alpha(*s))
                s++;
        for (unsigned i = 0; f->names && s - *p == 3 && f->names[i]; i++)
                if (strncasecmp(*p, f->names[i], 3) == 0) {
                        *p = s;
                        *ret = f->lo + i;
                        return 0;
                }
        if (s == *p && s == end)
                return set_error(ret_error, -EINVAL, "%s: a value is missing", f->name);
        if (s == *p)
                s = *p + 1;
        return set_error(ret_error, -EINVAL, "%s: \"%.*s\" is not a number%s", f->name, (int) (s - *p), *p,
                         f->names ? " or a three-letter name" : "");
}

/* The step after '/' at *p: 1 up to the size of the field. */
static int parse_step(const FieldDef *f, const char *item, const char **p, const char *end, unsigned *ret,
                      char **ret_error) {
        unsigned size = f->star_hi - f->lo + 1, v = 0;
        const char *s = *p;

        for (; s < end && is_digit(*s); s++)
                v = v > 9999 ? v : v * 10 + (unsigned) (*s - '0');
        if (s == *p)
                return set_error(ret_error, -EINVAL, "%s: step missing or not a number in \"%.*s\"", f->name,
                                 (int) (end - item), item);
        if (v == 0)
                return set_error(ret_error, -EINVAL, "%s: step 0 in \"%.*s\" must be at least 1", f->name,
                                 (int) (end - item), item);
        if (v > size)
                return set_error(ret_error, -EINVAL, "%s: step %u in \"%.*s\" is larger than the field (at most %u)",
                                 f->name, v, (int) (end - item), item, size);
        *p = s;
        *ret = v;
        return 0;
}

/* The range part of an item: `*`, `N` or `A-B`; *ret_single when `N`. */
static int parse_range(const FieldDef *f, const char *item, const char **p, const char *end, unsigned *ret_lo,
                       unsigned *ret_hi, bool *ret_single, char **ret_error) {
        int r;

        *ret_single = false;
        if (*p < end && **p == '*') {
                (*p)++;
                *ret_lo = f->lo;
                *ret_hi = f->star_hi;
                return 0;
        }
        r = parse_value(f, p, end, ret_lo, ret_error);
        if (r < 0)
                return r;
        if (*p >= end || **p != '-') {
                *ret_hi = *ret_lo;
                *ret_single = true;
                return 0;
        }
        (*p)++;
        r = parse_value(f, p, end, ret_hi, ret_error);
        if (r < 0)
                return r;
        if (*ret_hi < *ret_lo)
                return set_error(ret_error, -EINVAL, "%s: range \"%.*s\" runs backwards", f->name,
                                 (int) (end - item), item);
        return 0;
}

/* One list item [item, end) into *mask. */
static int parse_item(const FieldDef *f, const char *item, const char *end, uint64_t *mask, char **ret_error) {
        const char *p = item;
        unsigned lo, hi, step = 1;
        bool single;
        int r;

        if (item == end)
                return set_error(ret_error, -EINVAL, "%s: empty item in list", f->name);
        r = parse_range(f, item, &p, end, &lo, &hi, &single, ret_error);
        if (r < 0)
                return r;
        if (p < end && *p == '/') {
                if (single)
                        return set_error(ret_error, -EINVAL, "%s: a step needs a range or '*' in \"%.*s\" (write %u-%u/...)",
                                         f->name, (int) (end - item), item, lo, f->star_hi);
                p++;
                r = parse_step(f, item, &p, end, &step, ret_error);
                if (r < 0)
                        return r;
        }
        if (p != end)
                return set_error(ret_error, -EINVAL, "%s: unexpected \"%.*s\" in \"%.*s\"", f->name, (int) (end - p), p,
                                 (int) (end - item), item);
        for (unsigned value = lo; value <= hi; value += step)
                *mask |= UINT64_C(1) << (f->hi == 7 && value == 7 ? 0 : value);
        return 0;
}

/* One field [s, end): a comma-separated list. */
static int parse_field(const FieldDef *f, const char *s, const char *end, uint64_t *ret_mask, char **ret_error) {
        uint64_t mask = 0;

        for (;;) {
                const char *comma = memchr(s, ',', (size_t) (end - s));
                const char *item_end = comma ? comma : end;
                int r = parse_item(f, s, item_end, &mask, ret_error);

                if (r < 0)
                        return r;
                if (!comma)
                        break;
                s = comma + 1;
        }
        *ret_mask = mask;
        return 0;
}

static int parse_nickname(const char *s, const char *end, CronExpr *ret, char **ret_error) {
        for (size_t i = 0; i < ELEMENTSOF(nicknames); i++)
                if (strlen(nicknames[i].name) == (size_t) (end - s) &&
                    strncasecmp(s, nicknames[i].name, (size_t) (end - s)) == 0)
                        return cron_parse(nicknames[i].fields, ret, ret_error);
        return set_error(ret_error, -EINVAL,
                         "unknown nickname \"%.*s\" (known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)",
                         (int) (end - s), s);
}

/* Splits `text` into at most 5 blank-separated fields; the count may be
 * larger than 5 (then only the first 5 are stored). */
static unsigned split_fields(const char *text, const char *starts[5], const char *ends[5]) {
        unsigned n = 0;
        const char *p = text;

        for (;;) {
                while (is_blank(*p))
                        p++;
                if (!*p)
                        return n;
                if (n < 5)
                        starts[n] = p;
                while (*p && !is_blank(*p))
                        p++;
                if (n < 5)
                        ends[n] = p;
                n++;
        }
}

int cron_parse(const char *text, CronExpr *ret, char **ret_error) {
        const char *starts[5], *ends[5];
        uint64_t masks[5];
        CronExpr c = {};
        unsigned n;

        if (!text)
                return set_error(ret_error, -EINVAL, "empty cron expression");
        n = split_fields(text, starts, ends);
        if (n == 0)
                return set_error(ret_error, -EINVAL, "empty cron expression");
        if (n == 1 && *starts[0] == '@')
                return parse_nickname(starts[0], ends[0], ret, ret_error);
        if (n != 5)
                return set_error(ret_error, -EINVAL,
                                 "expected 5 fields (minute hour day-of-month month day-of-week) or a @nickname, got %u",
                                 n);
        for (unsigned i = 0; i < 5; i++) {
                int r = parse_field(&field_defs[i], starts[i], ends[i], &masks[i], ret_error);

                if (r < 0)
                        return r;
                if (*starts[i] == '*')
                        c.flags |= 1u << i; /* the CRON_*_STAR bits are in field order */
        }
        c.minutes = masks[0];
        c.hours = (uint32_t) masks[1];
        c.mdays = (uint32_t) masks[2];
        c.months = (uint16_t) masks[3];
        c.wdays = (uint8_t) masks[4];
        *ret = c;
        return 0;
}

/* ------------------------------------------------------------ formatting */

typedef struct Buf {
        char s[512];
        size_t n;
} Buf;

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        int k;

        if (b->n >= sizeof b->s)
                return;
        va_start(ap, fmt);
        k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
        va_end(ap);
        if (k > 0)
                b->n += (size_t) k;
}

/* The bits of `mask` in [lo, hi] as "a-b,c,...", each item preceded by a
 * comma when `comma`. */
static void format_ranges(Buf *b, uint64_t mask, unsigned lo, unsigned hi, bool comma) {
        for (unsigned v = lo; v <= hi; v++) {
                unsigned w = v;

                if (!(mask & (UINT64_C(1) << v)))
                        continue;
                while (w + 1 <= hi && (mask & (UINT64_C(1) << (w + 1))))
                        w++;
                buf_printf(b, "%s%u", comma ? "," : "", v);
                if (w > v)
                        buf_printf(b, "%s%u", w == v + 1 ? "," : "-", w);
                comma = true;
                v = w;
        }
}

/* A field that started with '*': "*", or "*\/S" followed by the values the
 * step does not cover (from a list such as "*\/3,1"). */
static void format_star(Buf *b, uint64_t mask, unsigned lo, unsigned hi) {
        unsigned size = hi - lo + 1;

        for (unsigned step = 1; step <= size; step++) {
                uint64_t s = 0;

                for (unsigned v = lo; v <= hi; v += step)
                        s |= UINT64_C(1) << v;
                if ((s & mask) != s)
                        continue;
                buf_printf(b, step == 1 ? "*" : "*/%u", step);
                format_ranges(b, mask & ~s, lo, hi, true);
                return;
        }
}

size_t cron_format(const CronExpr *c, char *buf, size_t size) {
        const uint64_t masks[5] = { c->minutes, c->hours, c->mdays, c->months, c->wdays };
        Buf b = { .n = 0 };

        b.s[0] = 0;
        for (unsigned i = 0; i < 5; i++) {
                const FieldDef *f = &field_defs[i];

                if (i > 0)
                        buf_printf(&b, " ");
                if (c->flags & (1u << i))
                        format_star(&b, masks[i], f->lo, f->star_hi);
                else
                        format_ranges(&b, masks[i], f->lo, f->star_hi, false);
        }
        if (size > 0)
                snprintf(buf, size, "%s", b.s);
        return b.n;
}

/* ------------------------------------------------------------ calendar */

/* A wall-clock minute, with no time zone. */
typedef struct Civil {
        int y;
        unsigned mo, d, h, mi;
} Civil;

static int64_t floor_div(int64_t a, int64_t b) {
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm). */
static int64_t days_from_civil(int y, unsigned m, unsigned d) {
        int64_t yy = (int64_t) y - (m <= 2);
        int64_t era = floor_div(yy, 400);
        unsigned yoe = (unsigned) (yy - era * 400);
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

        return era * 146097 + (int64_t) doe - 719468;
}

static void civil_from_days(int64_t z, Civil *w) {
        int64_t era;
        unsigned doe, yoe, doy, mp;

        z += 719468;
        era = floor_div(z, 146097);
        doe = (unsigned) (z - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        w->d = doy - (153 * mp + 2) / 5 + 1;
        w->mo = mp < 10 ? mp + 3 : mp - 9;
        w->y = (int) (yoe + era * 400 + (w->mo <= 2));
}

static unsigned days_in_month(int y, unsigned m) {
        static const unsigned dim[13] = { 0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return m == 2 && leap ? 29 : dim[m];
}

static bool day_matches(const CronExpr *c, const Civil *w) {
        unsigned wday = (unsigned) ((days_from_civil(w->y, w->mo, w->d) % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
        bool dom = c->mdays & (UINT32_C(1) << w->d);
        bool dow = c->wdays & (1u << wday);

        if (c->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
                return dom && dow;
        return dom || dow;
}

/* The lowest set bit of mask at or above `from` (up to `hi`), or -1. */
static int next_bit(uint64_t mask, unsigned from, unsigned hi) {
        for (unsigned v = from; v <= hi; v++)
                if (mask & (UINT64_C(1) << v))
                        return (int) v;
        return -1;
}

static void civil_next_month(Civil *w) {
        w->d = 1;
        w->h = w->mi = 0;
        if (++w->mo > 12) {
                w->mo = 1;
                w->y++;
        }
}

static void civil_next_day(Civil *w) {
        w->h = w->mi = 0;
        if (++w->d > days_in_month(w->y, w->mo))
                civil_next_month(w);
}

/* True when `w` matches; otherwise moves it to the next candidate (never
 * past a match). */
static bool civil_step(const CronExpr *c, Civil *w) {
        int h, m;

        if (!(c->months & (1u << w->mo))) {
                civil_next_month(w);
                return false;
        }
        if (!day_matches(c, w)) {
                civil_next_day(w);
                return false;
        }
        h = next_bit(c->hours, w->h, 23);
        if (h < 0) {
                civil_next_day(w);
                return false;
        }
        if ((unsigned) h != w->h) {
                w->h = (unsigned) h;
                w->mi = 0;
        }
        m = next_bit(c->minutes, w->mi, 59);
        if (m < 0) {
                w->mi = 0;
                if (++w->h > 23)
                        civil_next_day(w);
                return false;
        }
        w->mi = (unsigned) m;
        return true;
}

/* The first matching wall-clock minute at or after `from` (seconds of
 * naive wall time since 1970-01-01 00:00, rounded up to a minute), within
 * CRON_YEARS years; else -ERANGE. */
static int next_wall(const CronExpr *c, int64_t from, int64_t *ret) {
        int64_t days;
        unsigned sec;
        Civil w;
        int ylimit;

        from = floor_div(from + 59, 60) * 60;
        days = floor_div(from, DAY_SEC);
        sec = (unsigned) (from - days * DAY_SEC);
        civil_from_days(days, &w);
        w.h = sec / 3600;
        w.mi = sec % 3600 / 60;
        ylimit = w.y + CRON_YEARS;
        while (!civil_step(c, &w))
                if (w.y > ylimit)
                        return -ERANGE;
        *ret = (days_from_civil(w.y, w.mo, w.d) * 24 + w.h) * 3600 + w.mi * 60;
        return 0;
}

bool cron_matches(const CronExpr *c, const struct tm *tm) {
        Civil w = { tm->tm_year + 1900, (unsigned) tm->tm_mon + 1, (unsigned) tm->tm_mday, (unsigned) tm->tm_hour,
                    (unsigned) tm->tm_min };

        if (tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1 || tm->tm_mday > 31 || tm->tm_hour < 0 ||
            tm->tm_hour > 23 || tm->tm_min < 0 || tm->tm_min > 59)
                return false;
        /* civil_step() may move to a later minute of the same day and still
         * say true: a match only when it stayed where it was. */
        return civil_step(c, &w) && w.h == (unsigned) tm->tm_hour && w.mi == (unsigned) tm->tm_min;
}

/* ------------------------------------------------------------ time zone */

static int utc_offset(time_t t, int64_t *ret) {
        struct tm tm;

        if (!localtime_r(&t, &tm))
                return -ERANGE;
        *ret = tm.tm_gmtoff;
        return 0;
}

/* The first instant in (lo, hi] whose UTC offset differs from `off`, given
 * that hi's does. */
static int find_transition(time_t lo, time_t hi, int64_t off, time_t *ret) {
        while (hi - lo > 1) {
                time_t mid = lo + (hi - lo) / 2;
                int64_t o;
                int r = utc_offset(mid, &o);

                if (r < 0)
                        return r;
                if (o == off)
                        lo = mid;
                else
                        hi = mid;
        }
        *ret = hi;
        return 0;
}

static bool cron_fixed_time(const CronExpr *c) {
        return !(c->flags & (CRON_MINUTE_STAR | CRON_HOUR_STAR));
}

/* For a fixed-time expression starting at `t` inside the second pass of a
 * repeated hour: the wall time where the first pass ended (so matches
 * before it are not fired twice); else INT64_MIN. */
static int repeat_skip_until(const CronExpr *c, time_t t, int64_t *ret) {
        int64_t off = 0, off_prev = 0;
        time_t tr;
        int r;

        *ret = INT64_MIN;
        if (!cron_fixed_time(c))
                return 0;
        r = utc_offset(t, &off);
        if (r >= 0)
                r = utc_offset(t - DAY_SEC, &off_prev);
        if (r < 0 || off_prev <= off)
                return r;
        r = find_transition(t - DAY_SEC, t, off_prev, &tr);
        if (r >= 0)
                *ret = (int64_t) tr + off_prev;
        return r;
}

/* The segment of constant UTC offset that starts at `t`: its offset and its
 * end (the next transition, or one day later when there is none). */
static int segment(time_t t, int64_t *ret_off, time_t *ret_end, bool *ret_transition) {
        int64_t off, off_end;
        int r;

        r = utc_offset(t, &off);
        if (r >= 0)
                r = utc_offset(t + DAY_SEC, &off_end);
        if (r < 0)
                return r;
        *ret_off = off;
        *ret_transition = off_end != off;
        *ret_end = t + DAY_SEC;
        return *ret_transition ? find_transition(t, t + DAY_SEC, off, ret_end) : 0;
}

/* At a transition at `tr` from offset `off`: whether a fixed-time
 * expression catches up a time the jump skipped (fires at `tr`), and where
 * the search resumes in wall time after a backward jump. */
static int cross_transition(const CronExpr *c, time_t tr, int64_t off, bool *ret_fire, int64_t *skip_until) {
        int64_t off_new, w;
        int r;

        *ret_fire = false;
        r = utc_offset(tr, &off_new);
        if (r < 0 || !cron_fixed_time(c))
                return r;
        if (off_new > off) {
                r = next_wall(c, (int64_t) tr + off, &w);
                *ret_fire = r >= 0 && w < (int64_t) tr + off_new;
        } else
                *skip_until = (int64_t) tr + off;
        return 0;
}

int cron_next(const CronExpr *c, time_t after, time_t *ret) {
        int64_t skip_until;
        time_t t;
        int r;

        if (after < 0 || after > CRON_TIME_MAX)
                return -ERANGE;
        t = (time_t) (floor_div(after, 60) * 60 + 60);
        r = repeat_skip_until(c, t, &skip_until);
        if (r < 0)
                return r;
        /* Each pass covers a segment of constant offset or jumps to a day
         * before the next wall match, so a few passes per DST change. */
        for (unsigned pass = 0; pass < 4 * 366 * CRON_YEARS; pass++) {
                int64_t off, w, from;
                time_t end;
                bool transition, fire;

                r = segment(t, &off, &end, &transition);
                if (r < 0)
                        return r;
                from = (int64_t) t + off;
                if (from < skip_until)
                        from = skip_until;
                r = next_wall(c, from, &w);
                if (r < 0)
                        return r;
                if (w < (int64_t) end + off) {
                        *ret = (time_t) (w - off);
                        return 0;
                }
                if (!transition) {
                        t = end > (time_t) (w - off - DAY_SEC) ? end : (time_t) (w - off - DAY_SEC);
                        continue;
                }
                r = cross_transition(c, end, off, &fire, &skip_until);
                if (r < 0)
                        return r;
                if (fire) {
                        *ret = (time_t) (floor_div(end + 59, 60) * 60);
                        return 0;
                }
                t = (time_t) (floor_div(end + 59, 60) * 60);
        }
        return -ERANGE;
}

int cron_tick(const CronExpr *c, time_t due, time_t now, bool run_active, CronAction *ret_action,
              time_t *ret_next) {
        int r = cron_next(c, now > due ? now : due, ret_next);

        if (r < 0)
                return r;
        *ret_action = run_active ? CRON_ACTION_SKIP_ACTIVE : CRON_ACTION_START;
        return 0;
}
