#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/units.h"
#include "util/util.h"


/* Fraction digits past this many cannot change a 64-bit result, and 10^18
 * still fits in a uint64_t. */
#define FRACTION_DIGITS_MAX 18

typedef struct Unit {
        const char *suffix;
        uint64_t factor;
} Unit;

static const Unit duration_units[] = {
        { "us",  1 },
        { "ms",  USEC_PER_MSEC },
        { "s",   USEC_PER_SEC },
        { "m",   USEC_PER_MIN },
        { "min", USEC_PER_MIN },
        { "h",   USEC_PER_HOUR },
        { "d",   USEC_PER_DAY },
        { "w",   7 * USEC_PER_DAY },
};

/* "k" is accepted besides "K" because "64k" is how people write it. */
static const Unit size_units[] = {
        { "B",   1 },
        { "K",   1ULL << 10 }, { "k",  1ULL << 10 }, { "KiB", 1ULL << 10 },
        { "M",   1ULL << 20 }, { "MiB", 1ULL << 20 },
        { "G",   1ULL << 30 }, { "GiB", 1ULL << 30 },
        { "T",   1ULL << 40 }, { "TiB", 1ULL << 40 },
        { "kB",  1000ULL }, { "KB", 1000ULL },
        { "MB",  1000ULL * 1000 },
        { "GB",  1000ULL * 1000 * 1000 },
        { "TB",  1000ULL * 1000 * 1000 * 1000 },
};

/* A decimal number "123" or "123.456": digits are required on both sides of
 * the dot, so ".5" and "5." are rejected rather than guessed at. */
typedef struct Number {
        uint64_t integer;
        uint64_t fraction;
        unsigned fraction_digits;
} Number;

static int parse_number(const char **p, Number *ret) {
        const char *s = *p;
        Number n = {};

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
                unsigned d = (unsigned) (*s - '0');

                if (n.integer > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                n.integer = n.integer * 10 + d;
        }
        if (*s == '.') {
                s++;
                if (!isdigit((unsigned char) *s))
                        return -EINVAL;
                for (; isdigit((unsigned char) *s); s++)
                        if (n.fraction_digits < FRACTION_DIGITS_MAX) {
                                n.fraction = n.fraction * 10 + (uint64_t) (*s - '0');
                                n.fraction_digits++;
                        }
        }
        *p = s;
        *ret = n;
        return 0;
}

/* number * factor, with the fractional part truncated toward zero. */
static int number_scale(const Number *n, uint64_t factor, uint64_t *ret) {
        unsigned __int128 v, div = 1;

        for (unsigned i = 0; i < n->fraction_digits; i++)
                div *= 10;
        v = (unsigned __int128) n->integer * factor +
            (unsigned __int128) n->fraction * factor / div;
        if (v > UINT64_MAX)
                return -ERANGE;
        *ret = (uint64_t) v;
        return 0;
}

/* Reads the run of letters at *p and looks it up; an empty run yields NULL
 * with 0, an unknown one -EINVAL. */
static int parse_unit(const char **p, const Unit *units, size_t n_units, const Unit **ret) {
        const char *s = *p;
        size_t len = 0;

        while (isalpha((unsigned char) s[len]))
                len++;
        *ret = NULL;
        if (len == 0)
                return 0;
        for (size_t i = 0; i < n_units; i++)
                if (strlen(units[i].suffix) == len && strncmp(units[i].suffix, s, len) == 0) {
                        *ret = &units[i];
                        *p = s + len;
                        return 0;
                }
        return -EINVAL;
}

/* One "<number><unit>" component; a bare number is only allowed as the whole
 * string ("5" means 5s, but "1h30" is rejected as ambiguous). */
static int parse_duration_component(const char **p, bool first, uint64_t *ret) {
        const Unit *u;
        Number n;
        int r;

        r = parse_number(p, &n);
        if (r < 0)
                return r;
        r = parse_unit(p, duration_units, ELEMENTSOF(duration_units), &u);
        if (r < 0)
                return r;
        if (!u) {
                if (!first || **p != '\0')
                        return -EINVAL;
                return number_scale(&n, USEC_PER_SEC, ret);
        }
        return number_scale(&n, u->factor, ret);
}

int units_parse_duration(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;
        const char *p = s;
        bool first = true;
        int r;

        if (!s || !*s)
                return -EINVAL;
        while (*p) {
                uint64_t v;

                if (!first) {
                        /* "1h 30m" reads naturally; trailing blanks do not. */
                        while (isspace((unsigned char) *p))
                                p++;
                        if (!*p)
                                return -EINVAL;
                }
                r = parse_duration_component(&p, first, &v);
                if (r < 0)
                        return r;
                if (v > UINT64_MAX - total)
                        return -ERANGE;
                total += v;
                first = false;
        }
        *ret_usec = total;
        return 0;
}

int units_parse_size(const char *s, uint64_t *ret_bytes) {
        const char *p = s;
        const Unit *u;
        Number n;
        int r;

        if (!s || !*s)
                return -EINVAL;
        r = parse_number(&p, &n);
        if (r < 0)
                return r;
        r = parse_unit(&p, size_units, ELEMENTSOF(size_units), &u);
        if (r < 0)
                return r;
        if (*p != '\0')
                return -EINVAL;
        /* A fraction of a byte is a typo, not a size. */
        if ((!u || u->factor == 1) && n.fraction_digits > 0)
                return -EINVAL;
        return number_scale(&n, u ? u->factor : 1, ret_bytes);
}

char *units_format_duration(uint64_t usec, char *buf, size_t n) {
        static const Unit parts[] = {
                { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR }, { "m", USEC_PER_MIN },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC }, { "us", 1 },
        };
        size_t len = 0;

        if (n == 0)
                return buf;
        buf[0] = '\0';
        if (usec == 0) {
                snprintf(buf, n, "0");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(parts) && usec > 0; i++) {
                uint64_t q = usec / parts[i].factor;
                char part[32];
                size_t k;

                if (q == 0)
                        continue;
                usec -= q * parts[i].factor;
                /* Truncate at a whole component, never inside one. */
                k = (size_t) snprintf(part, sizeof part, "%" PRIu64 "%s", q, parts[i].suffix);
                if (k >= n - len)
                        break;
                memcpy(buf + len, part, k + 1);
                len += k;
        }
        return buf;
}

char *units_format_size(uint64_t bytes, char *buf, size_t n) {
        static const Unit binary[] = {
                { "TiB", 1ULL << 40 }, { "GiB", 1ULL << 30 },
                { "MiB", 1ULL << 20 }, { "KiB", 1ULL << 10 },
        };

        if (n == 0)
                return buf;
        for (size_t i = 0; i < ELEMENTSOF(binary); i++)
                if (bytes > 0 && bytes % binary[i].factor == 0) {
                        snprintf(buf, n, "%" PRIu64 "%s", bytes / binary[i].factor, binary[i].suffix);
                        return buf;
                }
        snprintf(buf, n, "%" PRIu64, bytes);
        return buf;
}

char *units_format_iso8601(uint64_t usec, char *buf, size_t n) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (n == 0)
                return buf;
        if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                buf[0] = '\0';
        return buf;
}

/* Exactly `width` digits. */
static int parse_fixed(const char **p, unsigned width, int min, int max, int *ret) {
        int v = 0;

        for (unsigned i = 0; i < width; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        if (v < min || v > max)
                return -EINVAL;
        *p += width;
        *ret = v;
        return 0;
}

static int expect(const char **p, const char *one_of) {
        if (**p == '\0' || !strchr(one_of, **p))
                return -EINVAL;
        (*p)++;
        return 0;
}

static int days_in_month(int year, int month) {
        static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

        return month == 2 && leap ? 29 : days[month - 1];
}

/* "2026-11-27" then "T16:40:05" (seconds up to 60 for a leap second). */
static int parse_rfc3339_fields(const char **p, struct tm *tm) {
        int year, mon, day, hour, min, sec;

        if (parse_fixed(p, 4, 1970, 9999, &year) < 0 || expect(p, "-") < 0 ||
            parse_fixed(p, 2, 1, 12, &mon) < 0 || expect(p, "-") < 0 ||
            parse_fixed(p, 2, 1, 31, &day) < 0 || expect(p, "Tt ") < 0 ||
            parse_fixed(p, 2, 0, 23, &hour) < 0 || expect(p, ":") < 0 ||
            parse_fixed(p, 2, 0, 59, &min) < 0 || expect(p, ":") < 0 ||
            parse_fixed(p, 2, 0, 60, &sec) < 0)
                return -EINVAL;
        if (day > days_in_month(year, mon))
                return -EINVAL;
        *tm = (struct tm) {
                .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                .tm_hour = hour, .tm_min = min, .tm_sec = sec,
        };
        return 0;
}

/* "Z" or "+hh:mm" / "-hh:mm", as seconds east of UTC. */
static int parse_rfc3339_offset(const char **p, int64_t *ret_sec) {
        int sign, hh, mm;

        if (**p == 'Z' || **p == 'z') {
                (*p)++;
                *ret_sec = 0;
                return 0;
        }
        if (**p != '+' && **p != '-')
                return -EINVAL;
        sign = **p == '-' ? -1 : 1;
        (*p)++;
        if (parse_fixed(p, 2, 0, 23, &hh) < 0 || expect(p, ":") < 0 ||
            parse_fixed(p, 2, 0, 59, &mm) < 0)
                return -EINVAL;
        *ret_sec = sign * (int64_t) (hh * 3600 + mm * 60);
        return 0;
}

/* ".123456789" after the seconds; digits past the microsecond are dropped. */
static int parse_second_fraction(const char **p, uint64_t *ret_usec) {
        uint64_t usec = 0, scale = USEC_PER_SEC;

        if (!isdigit((unsigned char) **p))
                return -EINVAL;
        for (; isdigit((unsigned char) **p); (*p)++) {
                scale /= 10;
                usec += (uint64_t) (**p - '0') * scale;
        }
        *ret_usec = usec;
        return 0;
}

static int parse_rfc3339(const char *s, uint64_t *ret_usec) {
        const char *p = s;
        uint64_t frac_usec = 0;
        int64_t offset, t;
        struct tm tm;

        if (parse_rfc3339_fields(&p, &tm) < 0)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (parse_second_fraction(&p, &frac_usec) < 0)
                        return -EINVAL;
        }
        if (parse_rfc3339_offset(&p, &offset) < 0 || *p != '\0')
                return -EINVAL;
        t = (int64_t) timegm(&tm) - offset;
        if (t < 0)
                return -EINVAL;
        *ret_usec = (uint64_t) t * USEC_PER_SEC + frac_usec;
        return 0;
}

static int parse_epoch(const char *s, uint64_t *ret_usec) {
        const char *p = s;
        Number n;

        if (parse_number(&p, &n) < 0 || *p != '\0')
                return -EINVAL;
        return number_scale(&n, USEC_PER_SEC, ret_usec) < 0 ? -EINVAL : 0;
}

int units_parse_time(const char *s, uint64_t now_usec, uint64_t *ret_usec) {
        const char *rel = NULL;
        uint64_t d;

        if (!s || !*s)
                return -EINVAL;
        if (strcmp(s, "now") == 0) {
                *ret_usec = now_usec;
                return 0;
        }
        if (strncmp(s, "now-", 4) == 0)
                rel = s + 4;
        else if (s[0] == '-')
                rel = s + 1;
        if (rel) {
                if (units_parse_duration(rel, &d) < 0 || d > now_usec)
                        return -EINVAL;
                *ret_usec = now_usec - d;
                return 0;
        }
        if (parse_epoch(s, ret_usec) == 0)
                return 0;
        return parse_rfc3339(s, ret_usec);
}
