#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "load/stages.h"
#include "util/units.h"
#include "util/util.h"

static void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))

struct LoadStages {
        size_t n;
        LoadStage *stage;
        uint64_t *start_usec;   /* n + 1 entries: stage i runs [start[i], start[i+1]) */
        double *start_count;    /* n + 1 entries: expected requests before stage i */
};

static double usec_to_sec(uint64_t usec) {
        return (double) usec / (double) USEC_PER_SEC;
}

/* Requests expected in the first `x` seconds of stage `st`. */
static double stage_integral(const LoadStage *st, double x) {
        double slope = (st->to_rps - st->from_rps) / usec_to_sec(st->duration_usec);

        return st->from_rps * x + slope * x * x / 2;
}

/* Copies s[0..n) without the spaces around it; NULL when out of memory. */
static char *strndup_trimmed(const char *s, size_t n) {
        while (n > 0 && isspace((unsigned char) *s))
                s++, n--;
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                n--;
        return strndup(s, n);
}

int stages_parse_rate(const char *s, double *ret_rps, char **ret_error) {
        static const struct { const char *suffix; double per_sec; } units[] = {
                { "/s", 1.0 }, { "/m", 1.0 / 60 }, { "/h", 1.0 / 3600 },
        };
        char *end;
        double v;

        if (!s || !ret_rps)
                return -EINVAL;
        if (*s == '-')
                return set_error(ret_error, -EINVAL, "rate \"%s\" is negative", s);
        if (!isdigit((unsigned char) *s) && *s != '.')
                return set_error(ret_error, -EINVAL, "\"%s\" is not a rate (want e.g. 100/s, 90/m, 3600/h)", s);
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || !isfinite(v) || end == s)
                return set_error(ret_error, -EINVAL, "\"%s\" is not a rate (want e.g. 100/s, 90/m, 3600/h)", s);
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (strcmp(end, units[i].suffix) == 0) {
                        v *= units[i].per_sec;
                        if (v > STAGES_MAX_RPS)
                                return set_error(ret_error, -EINVAL, "rate \"%s\" is above %.0f/s", s,
                                                 STAGES_MAX_RPS);
                        *ret_rps = v;
                        return 0;
                }
        return set_error(ret_error, -EINVAL, "rate \"%s\" needs a unit: /s, /m or /h", s);
}

/* Fills the derived arrays; the stages themselves are already set. */
static int stages_finish(LoadStages *s, char **ret_error) {
        s->start_usec = calloc(s->n + 1, sizeof(*s->start_usec));
        s->start_count = calloc(s->n + 1, sizeof(*s->start_count));
        if (!s->start_usec || !s->start_count)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
                const LoadStage *st = &s->stage[i];

                if (st->duration_usec > UINT64_MAX - s->start_usec[i])
                        return set_error(ret_error, -EINVAL, "the stages last too long");
                s->start_usec[i + 1] = s->start_usec[i] + st->duration_usec;
                s->start_count[i + 1] = s->start_count[i] + stage_integral(st, usec_to_sec(st->duration_usec));
        }
        if (s->start_count[s->n] <= 0)
                return set_error(ret_error, -EINVAL, "every rate is 0: no request would be sent");
        return 0;
}

/* Parses "DURATION:RATE" or "DURATION:RATE..RATE" (trimmed, non-empty) into
 * st; `prev_rps` is the previous stage's end rate. */
static int stage_parse_one(const char *text, unsigned index, double prev_rps, LoadStage *st, char **ret_error) {
        _cleanup_free_ char *dur = NULL, *from = NULL, *to = NULL, *why = NULL;
        const char *colon = strchr(text, ':'), *dots;
        int r;

        if (!colon)
                return set_error(ret_error, -EINVAL, "stage %u \"%s\": want DURATION:RATE or DURATION:RATE..RATE",
                                 index, text);
        dur = strndup_trimmed(text, colon - text);
        dots = strstr(colon + 1, "..");
        from = dots ? strndup_trimmed(colon + 1, dots - colon - 1) : NULL;
        to = strndup_trimmed(dots ? dots + 2 : colon + 1, strlen(dots ? dots + 2 : colon + 1));
        if (!dur || !to || (dots && !from))
                return -ENOMEM;

        r = units_parse_duration(dur, &st->duration_usec);
        if (r < 0 || st->duration_usec == 0)
                return set_error(ret_error, -EINVAL, "stage %u \"%s\": \"%s\" is not a duration above 0 "
                                 "(want e.g. 30s, 5m)", index, text, dur);
        st->from_rps = prev_rps;
        if (dots && stages_parse_rate(from, &st->from_rps, &why) < 0)
                return set_error(ret_error, -EINVAL, "stage %u \"%s\": %s", index, text, why ? why : "bad rate");
        if (stages_parse_rate(to, &st->to_rps, &why) < 0)
                return set_error(ret_error, -EINVAL, "stage %u \"%s\": %s", index, text, why ? why : "bad rate");
        return 0;
}

int stages_parse(const char *s, LoadStages **ret, char **ret_error) {
        LoadStages *st;
        const char *p = s;
        double prev = 0;
        int r = 0;

        if (!s || !ret)
                return -EINVAL;
        st = calloc(1, sizeof(*st));
        if (!st)
                return -ENOMEM;
        for (unsigned index = 1; r == 0; index++) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t) (comma - p) : strlen(p);
                _cleanup_free_ char *text = strndup_trimmed(p, len);
                LoadStage *grown;

                if (!text || !(grown = reallocarray(st->stage, st->n + 1, sizeof(*grown)))) {
                        r = -ENOMEM;
                        break;
                }
                st->stage = grown;
                if (!text[0])
                        r = set_error(ret_error, -EINVAL, index == 1 && !comma ? "no stages given" :
                                      "stage %u is empty", index);
                else
                        r = stage_parse_one(text, index, prev, &st->stage[st->n], ret_error);
                if (r < 0)
                        break;
                prev = st->stage[st->n++].to_rps;
                if (!comma)
                        break;
                p = comma + 1;
        }
        if (r == 0)
                r = stages_finish(st, ret_error);
        if (r < 0) {
                stages_free(st);
                return r;
        }
        *ret = st;
        return 0;
}

int stages_new_constant(double rps, uint64_t duration_usec, LoadStages **ret, char **ret_error) {
        LoadStages *st;
        int r;

        if (!ret)
                return -EINVAL;
        if (!(rps > 0) || rps > STAGES_MAX_RPS)
                return set_error(ret_error, -EINVAL, "rate %g/s is not above 0 and at most %.0f/s", rps,
                                 STAGES_MAX_RPS);
        if (duration_usec == 0)
                return set_error(ret_error, -EINVAL, "a constant rate needs a duration above 0");
        st = calloc(1, sizeof(*st));
        if (!st || !(st->stage = calloc(1, sizeof(*st->stage)))) {
                free(st);
                return -ENOMEM;
        }
        st->n = 1;
        st->stage[0] = (LoadStage) { .duration_usec = duration_usec, .from_rps = rps, .to_rps = rps };
        r = stages_finish(st, ret_error);
        if (r < 0) {
                stages_free(st);
                return r;
        }
        *ret = st;
        return 0;
}

int stages_dup(const LoadStages *s, LoadStages **ret) {
        LoadStages *c;

        if (!s || !ret)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->n = s->n;
        c->stage = malloc(s->n * sizeof(*c->stage));
        c->start_usec = malloc((s->n + 1) * sizeof(*c->start_usec));
        c->start_count = malloc((s->n + 1) * sizeof(*c->start_count));
        if (!c->stage || !c->start_usec || !c->start_count) {
                stages_free(c);
                return -ENOMEM;
        }
        memcpy(c->stage, s->stage, s->n * sizeof(*c->stage));
        memcpy(c->start_usec, s->start_usec, (s->n + 1) * sizeof(*c->start_usec));
        memcpy(c->start_count, s->start_count, (s->n + 1) * sizeof(*c->start_count));
        *ret = c;
        return 0;
}

LoadStages *stages_free(LoadStages *s) {
        if (!s)
                return NULL;
        free(s->stage);
        free(s->start_usec);
        free(s->start_count);
        free(s);
        return NULL;
}

size_t stages_n(const LoadStages *s) {
        return s ? s->n : 0;
}

const LoadStage *stages_get(const LoadStages *s, size_t i) {
        return s && i < s->n ? &s->stage[i] : NULL;
}

uint64_t stages_duration(const LoadStages *s) {
        return s ? s->start_usec[s->n] : 0;
}

/* The stage that holds `t_usec` (t < duration). */
static size_t stage_at(const LoadStages *s, uint64_t t_usec) {
        size_t lo = 0, hi = s->n;       /* start[lo] <= t < start[hi] */

        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->start_usec[mid] <= t_usec)
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}

double stages_rate_at(const LoadStages *s, uint64_t t_usec) {
        const LoadStage *st;
        size_t i;

        if (!s || t_usec >= stages_duration(s))
                return 0;
        i = stage_at(s, t_usec);
        st = &s->stage[i];
        return st->from_rps + (st->to_rps - st->from_rps) * (double) (t_usec - s->start_usec[i]) /
                              (double) st->duration_usec;
}

double stages_expected(const LoadStages *s, uint64_t t_usec) {
        size_t i;

        if (!s)
                return 0;
        if (t_usec >= stages_duration(s))
                return s->start_count[s->n];
        i = stage_at(s, t_usec);
        return s->start_count[i] + stage_integral(&s->stage[i], usec_to_sec(t_usec - s->start_usec[i]));
}

uint64_t stages_count(const LoadStages *s) {
        return s ? (uint64_t) floor(s->start_count[s->n] + 0.5) : 0;
}

/* The stage where the expected count first exceeds `c` (0 < c < total):
 * start_count[i] < c <= start_count[i + 1].  Zero-rate stages add nothing,
 * so they are never chosen. */
static size_t stage_of_count(const LoadStages *s, double c) {
        size_t lo = 0, hi = s->n;       /* start_count[lo] < c <= start_count[hi] */

        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->start_count[mid] < c)
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}

int stages_send_time(const LoadStages *s, uint64_t k, uint64_t *ret_usec) {
        const LoadStage *st;
        double c = (double) k + 0.5, rest, d, slope, x;
        size_t i;

        if (!s || !ret_usec)
                return -EINVAL;
        if (k >= stages_count(s))
                return -ERANGE;
        /* k < round(total) yet k + 1/2 may exceed the total by rounding. */
        if (c > s->start_count[s->n])
                c = s->start_count[s->n];
        i = stage_of_count(s, c);
        st = &s->stage[i];
        d = usec_to_sec(st->duration_usec);
        slope = (st->to_rps - st->from_rps) / d;
        rest = c - s->start_count[i];
        /* Solve from*x + slope*x^2/2 = rest.  This form of the quadratic's
         * root needs no division by the slope, so a zero or near-zero slope
         * loses nothing; the denominator is 0 only when from = rest = 0,
         * which the choice of stage excludes. */
        d = st->from_rps * st->from_rps + 2 * slope * rest;
        x = 2 * rest / (st->from_rps + sqrt(d > 0 ? d : 0));
        if (!(x >= 0))
                x = 0;
        if (x > usec_to_sec(st->duration_usec))
                x = usec_to_sec(st->duration_usec);
        *ret_usec = s->start_usec[i] + (uint64_t) llround(x * (double) USEC_PER_SEC);
        return 0;
}
