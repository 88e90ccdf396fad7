/* The judgement of ACU scaling around one run: see acu-window.h for the
 * rule and why each case is decided as it is. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "criteria/acu-window.h"
#include "util/units.h"
#include "util/util.h"

/* Bounds on the durations, so that no sum of them overflows. */
#define DURATION_MAX_MS (366LL * 24 * 3600 * 1000)

typedef enum Coverage {
        COVERED,
        COVERAGE_GAP,     /* a gap longer than max_gap */
        COVERAGE_SHORT,   /* no point at or after the end */
} Coverage;

static const char *const state_names[] = {
        [ACU_WINDOW_UNKNOWN] = "unknown",
        [ACU_WINDOW_MET] = "met",
        [ACU_WINDOW_NOT_MET] = "not_met",
};

static const char *const cause_names[_ACU_WINDOW_CAUSE_MAX] = {
        [ACU_WINDOW_CAUSE_NONE] = "none",
        [ACU_WINDOW_CAUSE_ABOVE_MAX] = "above_max",
        [ACU_WINDOW_CAUSE_BELOW_MIN] = "below_min",
        [ACU_WINDOW_CAUSE_TOO_SLOW] = "too_slow",
        [ACU_WINDOW_CAUSE_NO_POINTS] = "no_points",
        [ACU_WINDOW_CAUSE_GAP] = "gap",
        [ACU_WINDOW_CAUSE_PENDING] = "pending",
        [ACU_WINDOW_CAUSE_DATA_END] = "data_end",
        [ACU_WINDOW_CAUSE_BAD_POINTS] = "bad_points",
        [ACU_WINDOW_CAUSE_BAD_PARAMS] = "bad_params",
};

const char *acu_window_state_to_string(AcuWindowState s) {
        return (unsigned) s < ELEMENTSOF(state_names) ? state_names[s] : NULL;
}

const char *acu_window_cause_to_string(AcuWindowCause c) {
        return (unsigned) c < ELEMENTSOF(cause_names) ? cause_names[c] : NULL;
}

void acu_window_params_init(AcuWindowParams *p, int64_t started_at_ms, int64_t ended_at_ms) {
        *p = (AcuWindowParams) {
                .started_at_ms = started_at_ms,
                .ended_at_ms = ended_at_ms,
                .settle_ms = ACU_WINDOW_SETTLE_MS,
                .scale_up_within_ms = ACU_WINDOW_SCALE_UP_WITHIN_MS,
                .max_gap_ms = ACU_WINDOW_MAX_GAP_MS,
                .lag_ms = ACU_WINDOW_LAG_MS,
                .scale_to = ACU_WINDOW_SCALE_TO,
                .min_acu = ACU_WINDOW_MIN_ACU,
                .max_acu = ACU_WINDOW_MAX_ACU,
        };
}

static int64_t window_end(const AcuWindowParams *p) {
        int64_t e = p->ended_at_ms + p->settle_ms, d = p->started_at_ms + p->scale_up_within_ms;

        return e > d ? e : d;
}

void acu_window_read_range(const AcuWindowParams *p, int64_t *ret_from_ms, int64_t *ret_to_ms) {
        *ret_from_ms = p->started_at_ms - p->max_gap_ms;
        *ret_to_ms = window_end(p) + p->max_gap_ms;
}

/* "14:03:00", UTC. */
static const char *hms(int64_t ms, char buf[static 16]) {
        time_t t = (time_t) (ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        struct tm tm;

        if (!gmtime_r(&t, &tm))
                snprintf(buf, 16, "?");
        else
                snprintf(buf, 16, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
        return buf;
}

static const char *dur(int64_t ms, char buf[static 32]) {
        if (ms <= 0)
                return strcpy(buf, "0s");
        return units_format_duration((uint64_t) ms * USEC_PER_MSEC, buf, 32);
}

static void say(AcuWindowResult *r, AcuWindowState state, AcuWindowCause cause, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void say(AcuWindowResult *r, AcuWindowState state, AcuWindowCause cause, const char *fmt, ...) {
        va_list ap;

        r->state = state;
        r->cause = cause;
        va_start(ap, fmt);
        vsnprintf(r->reason, sizeof r->reason, fmt, ap);
        va_end(ap);
}

static bool duration_ok(int64_t ms) {
        return ms >= 0 && ms <= DURATION_MAX_MS;
}

/* 0, or -EINVAL with r's reason naming the parameter. */
static int check_params(const AcuWindowParams *p, AcuWindowResult *r) {
        const char *bad = NULL;

        if (p->started_at_ms < 0 || p->started_at_ms > INT64_MAX / 2)
                bad = "started_at";
        else if (p->ended_at_ms < p->started_at_ms || p->ended_at_ms > INT64_MAX / 2)
                bad = "ended_at";
        else if (!duration_ok(p->settle_ms))
                bad = "settle";
        else if (!duration_ok(p->scale_up_within_ms))
                bad = "scale_up_within";
        else if (!duration_ok(p->max_gap_ms) || p->max_gap_ms == 0)
                bad = "max_gap";
        else if (!duration_ok(p->lag_ms))
                bad = "lag";
        if (bad) {
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_BAD_PARAMS, "%s is out of range", bad);
                return -EINVAL;
        }
        if (!isfinite(p->min_acu) || !isfinite(p->max_acu) || p->min_acu > p->max_acu) {
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_BAD_PARAMS,
                    "min_acu %g and max_acu %g are not a range", p->min_acu, p->max_acu);
                return -EINVAL;
        }
        if (!(p->scale_to >= p->min_acu && p->scale_to <= p->max_acu)) {
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_BAD_PARAMS,
                    "scale_to %g is outside [min_acu %g, max_acu %g]: it could never be met",
                    p->scale_to, p->min_acu, p->max_acu);
                return -EINVAL;
        }
        return 0;
}

/* 0, or -EINVAL after saying which point is bad. */
static int check_points(const AcuPoint *pts, size_t n, AcuWindowResult *r) {
        char a[16], b[16];

        if (n > 0 && !pts) {
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_BAD_POINTS, "%zu capacity points but no array", n);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                if (!isfinite(pts[i].value)) {
                        say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_BAD_POINTS,
                            "capacity point %zu (%s) is not a finite number", i + 1, hms(pts[i].ts_ms, a));
                        return -EINVAL;
                }
                if (i > 0 && pts[i].ts_ms < pts[i - 1].ts_ms) {
                        say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_BAD_POINTS,
                            "capacity point %zu (%s) is older than point %zu (%s): points must be in time order",
                            i + 1, hms(pts[i].ts_ms, a), i, hms(pts[i - 1].ts_ms, b));
                        return -EINVAL;
                }
        }
        return 0;
}

/* Whether the points cover [from, to] (see the header); on a gap, *ret_a
 * and *ret_b get its ends inside [from, to]. */
static Coverage coverage(const AcuPoint *pts, size_t n, int64_t from, int64_t to, int64_t max_gap,
                         int64_t *ret_a, int64_t *ret_b) {
        int64_t prev = from;

        for (size_t i = 0; i < n; i++) {
                int64_t t;

                if (pts[i].ts_ms < from)
                        continue;
                t = pts[i].ts_ms < to ? pts[i].ts_ms : to;
                if (t - prev > max_gap) {
                        *ret_a = prev;
                        *ret_b = t;
                        return COVERAGE_GAP;
                }
                if (pts[i].ts_ms >= to)
                        return COVERED;
                prev = pts[i].ts_ms;
        }
        return COVERAGE_SHORT;
}

/* First index with ts >= t (or > t when `after`). */
static size_t lower_bound(const AcuPoint *pts, size_t n, int64_t t, bool after) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (pts[mid].ts_ms < t || (after && pts[mid].ts_ms == t))
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Picks the start point and the judged range [r->first, end). */
static void pick_start(const AcuWindowParams *p, const AcuPoint *pts, size_t i0, size_t end,
                       AcuWindowResult *r) {
        int64_t s = p->started_at_ms;
        size_t start = i0;

        r->first = i0;
        if (pts[i0].ts_ms == s) {
                while (start + 1 < end && pts[start + 1].ts_ms == s)
                        start++;
                r->start_before_run = true;
        } else if (i0 > 0 && s - pts[i0 - 1].ts_ms <= p->max_gap_ms) {
                start = r->first = i0 - 1;
                while (r->first > 0 && pts[r->first - 1].ts_ms == pts[start].ts_ms)
                        r->first--;   /* every point at the start point's time is judged */
                r->start_before_run = true;
        }
        r->n_used = end - r->first;
        r->start_acu = pts[start].value;
        r->start_at_ms = pts[start].ts_ms;
}

static int64_t since_start(const AcuWindowParams *p, int64_t ts) {
        return ts > p->started_at_ms ? ts - p->started_at_ms : 0;
}

static void figures(const AcuWindowParams *p, const AcuPoint *pts, AcuWindowResult *r) {
        r->peak_acu = r->lowest = r->highest = pts[r->first].value;
        r->peak_at_ms = pts[r->first].ts_ms;
        for (size_t i = r->first; i < r->first + r->n_used; i++) {
                double v = pts[i].value;

                if (v > r->peak_acu) {
                        r->peak_acu = v;
                        r->peak_at_ms = pts[i].ts_ms;
                }
                r->lowest = v < r->lowest ? v : r->lowest;
                r->highest = v > r->highest ? v : r->highest;
                if (!r->reached && v >= p->scale_to) {
                        r->reached = true;
                        r->reached_at_ms = pts[i].ts_ms;
                        r->time_to_scale_to_ms = since_start(p, pts[i].ts_ms);
                }
                if (!r->has_violation && (v > p->max_acu || v < p->min_acu)) {
                        r->has_violation = true;
                        r->violation_at_ms = pts[i].ts_ms;
                        r->violation_acu = v;
                }
        }
        r->time_to_peak_ms = since_start(p, r->peak_at_ms);
        r->last_at_ms = pts[r->first + r->n_used - 1].ts_ms;
}

static void no_points(const AcuWindowParams *p, const AcuPoint *pts, size_t n, int64_t now_ms,
                      AcuWindowResult *r) {
        char s[16], e[16], t[16], u[16];
        int64_t end = r->window_end_ms;

        hms(r->window_start_ms, s);
        hms(end, e);
        if (n == 0)
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_NO_POINTS,
                    "no capacity datapoint between %s and %s: no capacity data at all%s%s", s, e,
                    now_ms < end + p->lag_ms ? "; data may still arrive until " : "",
                    now_ms < end + p->lag_ms ? hms(end + p->lag_ms, u) : "");
        else if (pts[n - 1].ts_ms < r->window_start_ms)
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_NO_POINTS,
                    "no capacity datapoint between %s and %s: the data reach %s only%s%s", s, e,
                    hms(pts[n - 1].ts_ms, t), now_ms < end + p->lag_ms ? "; data may still arrive until " : "",
                    now_ms < end + p->lag_ms ? hms(end + p->lag_ms, u) : "");
        else
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_NO_POINTS,
                    "no capacity datapoint between %s and %s: the next one is at %s", s, e,
                    hms(pts[lower_bound(pts, n, end, true)].ts_ms, t));
}

/* Unknown because [S, E] is not covered. */
static void not_covered(const AcuWindowParams *p, const AcuPoint *pts, size_t n, int64_t now_ms,
                        AcuWindowResult *r) {
        char a[16], b[16], g[32], m[32], e[16];
        int64_t ga = 0, gb = 0, end = r->window_end_ms;

        if (coverage(pts, n, r->window_start_ms, end, p->max_gap_ms, &ga, &gb) == COVERAGE_GAP)
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_GAP,
                    "no capacity data between %s and %s (%s, longer than the %s allowed)", hms(ga, a),
                    hms(gb, b), dur(gb - ga, g), dur(p->max_gap_ms, m));
        else if (now_ms < end + p->lag_ms)
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_PENDING,
                    "capacity data reach %s only; the window ends %s (data may still arrive until %s)",
                    hms(r->data_end_ms, a), hms(end, e), hms(end + p->lag_ms, b));
        else
                say(r, ACU_WINDOW_UNKNOWN, ACU_WINDOW_CAUSE_DATA_END,
                    "capacity data reach %s only; the window ends %s and nothing newer arrived within %s of it",
                    hms(r->data_end_ms, a), hms(end, e), dur(p->lag_ms, m));
}

/* "start 2 ACU at 14:00:00 (before the run)" */
static const char *start_text(const AcuWindowResult *r, char buf[static 64]) {
        char a[16];

        snprintf(buf, 64, "start %g ACU at %s (%s the run)", r->start_acu, hms(r->start_at_ms, a),
                 r->start_before_run ? "before" : "inside");
        return buf;
}

static void too_slow(const AcuWindowParams *p, AcuWindowResult *r) {
        char w[32], a[16], d[32], st[64];

        if (r->reached)
                say(r, ACU_WINDOW_NOT_MET, ACU_WINDOW_CAUSE_TOO_SLOW,
                    "did not reach %g ACU within %s of the run's start: it reached it only at %s (%s after the start); %s",
                    p->scale_to, dur(p->scale_up_within_ms, w), hms(r->reached_at_ms, a),
                    dur(r->time_to_scale_to_ms, d), start_text(r, st));
        else
                say(r, ACU_WINDOW_NOT_MET, ACU_WINDOW_CAUSE_TOO_SLOW,
                    "did not reach %g ACU within %s of the run's start: the peak was %g ACU at %s (%s after the start); %s",
                    p->scale_to, dur(p->scale_up_within_ms, w), r->peak_acu, hms(r->peak_at_ms, a),
                    dur(r->time_to_peak_ms, d), start_text(r, st));
}

static void violation(const AcuWindowParams *p, AcuWindowResult *r) {
        char a[16];
        bool above = r->violation_acu > p->max_acu;

        say(r, ACU_WINDOW_NOT_MET, above ? ACU_WINDOW_CAUSE_ABOVE_MAX : ACU_WINDOW_CAUSE_BELOW_MIN,
            "%g ACU at %s is %s %s %g", r->violation_acu, hms(r->violation_at_ms, a),
            above ? "above" : "below", above ? "max_acu" : "min_acu", above ? p->max_acu : p->min_acu);
}

int acu_window_judge(const AcuWindowParams *p, const AcuPoint *pts, size_t n, int64_t now_ms,
                     AcuWindowResult *r) {
        int64_t ga, gb;
        size_t i0, i1;
        int k;

        *r = (AcuWindowResult) { .state = ACU_WINDOW_UNKNOWN, .params = *p };
        k = check_params(p, r);
        if (k < 0)
                return k;
        r->window_start_ms = p->started_at_ms;
        r->window_end_ms = window_end(p);
        r->deadline_ms = p->started_at_ms + p->scale_up_within_ms;
        if (check_points(pts, n, r) < 0)
                return 0;
        r->data_end_ms = n > 0 ? pts[n - 1].ts_ms : 0;

        i0 = lower_bound(pts, n, r->window_start_ms, false);
        i1 = lower_bound(pts, n, r->window_end_ms, true);
        if (i0 == i1) {
                no_points(p, pts, n, now_ms, r);
                return 0;
        }
        pick_start(p, pts, i0, i1, r);
        figures(p, pts, r);

        if (r->has_violation)
                violation(p, r);
        else if (!(r->reached && r->reached_at_ms <= r->deadline_ms)) {
                if (coverage(pts, n, r->window_start_ms, r->deadline_ms, p->max_gap_ms, &ga, &gb) == COVERED)
                        too_slow(p, r);
                else
                        not_covered(p, pts, n, now_ms, r);
        } else if (coverage(pts, n, r->window_start_ms, r->window_end_ms, p->max_gap_ms, &ga, &gb) != COVERED)
                not_covered(p, pts, n, now_ms, r);
        else {
                char d[32], a[16], e[16], st[64];

                say(r, ACU_WINDOW_MET, ACU_WINDOW_CAUSE_NONE,
                    "reached %g ACU %s after the run's start (at %s) and stayed within [%g, %g] ACU until %s; %s",
                    p->scale_to, dur(r->time_to_scale_to_ms, d), hms(r->reached_at_ms, a), p->min_acu,
                    p->max_acu, hms(r->window_end_ms, e), start_text(r, st));
        }
        return 0;
}

/* ------------------------------------------------------------ rendering */

static json_t *iso(int64_t ms) {
        char buf[64];

        return json_string(units_format_iso8601(ms > 0 ? (uint64_t) ms * USEC_PER_MSEC : 0, buf, sizeof buf));
}

static json_t *seconds(int64_t ms) {
        return json_real((double) ms / 1000.0);
}

static json_t *points_json(const AcuWindowResult *r, const AcuPoint *pts, bool *ret_cut) {
        size_t step = 1, last = r->first + r->n_used - 1;
        json_t *a = json_array();

        /* Every step-th point and the last: at most ACU_WINDOW_JSON_POINTS. */
        if (r->n_used > ACU_WINDOW_JSON_POINTS)
                step = (r->n_used - 1 + ACU_WINDOW_JSON_POINTS - 2) / (ACU_WINDOW_JSON_POINTS - 1);
        *ret_cut = step > 1;
        for (size_t i = r->first; a; i += step) {
                size_t k = i < last ? i : last;

                if (json_array_append_new(a, json_pack("[I, f]", (json_int_t) pts[k].ts_ms, pts[k].value)) < 0)
                        a = (json_decref(a), NULL);
                if (k == last)
                        break;
        }
        return a;
}

static json_t *violation_json(const AcuWindowResult *r) {
        bool above;

        if (!r->has_violation)
                return json_null();
        above = r->violation_acu > r->params.max_acu;
        return json_pack("{s:o, s:f, s:s}", "at", iso(r->violation_at_ms), "acu", r->violation_acu, "bound",
                         above ? "max_acu" : "min_acu");
}

static json_t *rule_json(const AcuWindowParams *p) {
        return json_pack("{s:f, s:o, s:f, s:f, s:o, s:o}", "scale_to", p->scale_to, "scale_up_within_s",
                         seconds(p->scale_up_within_ms), "min_acu", p->min_acu, "max_acu", p->max_acu,
                         "settle_s", seconds(p->settle_ms), "max_gap_s", seconds(p->max_gap_ms));
}

/* The figures of a result with judged points, into o. */
static int figures_json(const AcuWindowResult *r, const AcuPoint *pts, json_t *o) {
        bool cut = false;
        json_t *points = points_json(r, pts, &cut);

        if (!points)
                return -ENOMEM;
        return json_object_update_new(o, json_pack(
                "{s:f, s:o, s:s, s:f, s:o, s:o, s:o?, s:o?, s:f, s:f, s:o, s:I, s:o, s:b}",
                "start_acu", r->start_acu, "start_at", iso(r->start_at_ms),
                "start_from", r->start_before_run ? "before_run" : "inside_run",
                "peak_acu", r->peak_acu, "peak_at", iso(r->peak_at_ms),
                "time_to_peak_s", seconds(r->time_to_peak_ms),
                "time_to_scale_to_s", r->reached ? seconds(r->time_to_scale_to_ms) : NULL,
                "scale_to_at", r->reached ? iso(r->reached_at_ms) : NULL,
                "min", r->lowest, "max", r->highest, "violation", violation_json(r),
                "points_used", (json_int_t) r->n_used, "points", points, "points_cut", cut));
}

static int no_figures_json(json_t *o) {
        static const char *const keys[] = {
                "start_acu", "start_at", "start_from", "peak_acu", "peak_at", "time_to_peak_s",
                "time_to_scale_to_s", "scale_to_at", "min", "max", "violation",
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (json_object_set_new(o, keys[i], json_null()) < 0)
                        return -ENOMEM;
        return json_object_update_new(o, json_pack("{s:i, s:[], s:b}", "points_used", 0, "points", "points_cut", 0));
}

json_t *acu_window_to_json(const AcuWindowResult *r, const AcuPoint *pts, size_t n) {
        json_t *o;
        int k;

        if (r->n_used > 0 && (!pts || r->first + r->n_used > n))
                return NULL;
        o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "state", acu_window_state_to_string(r->state),
                      "cause", acu_window_cause_to_string(r->cause), "reason", r->reason,
                      "rule", rule_json(&r->params), "window_from", iso(r->window_start_ms),
                      "window_to", iso(r->window_end_ms), "deadline", iso(r->deadline_ms));
        if (!o)
                return NULL;
        k = r->n_used > 0 ? figures_json(r, pts, o) : no_figures_json(o);
        if (k < 0)
                return json_decref(o), NULL;
        return o;
}

char *acu_window_evidence(const AcuWindowResult *r, int64_t run_id, char *buf, size_t size) {
        char a[16], b[16], c[16], d[32], e[32];
        char reached[64];

        if (size == 0)
                return buf;
        if (r->n_used == 0) {
                snprintf(buf, size, "run %" PRId64 ": %s", run_id, r->reason);
                return buf;
        }
        if (r->reached)
                snprintf(reached, sizeof reached, "%g ACU after %s", r->params.scale_to,
                         dur(r->time_to_scale_to_ms, e));
        else
                snprintf(reached, sizeof reached, "never %g ACU", r->params.scale_to);
        snprintf(buf, size,
                 "run %" PRId64 ": start %g ACU (%s, %s the run), peak %g ACU at %s (%s after the start), %s, "
                 "range %g-%g ACU over %zu points to %s",
                 run_id, r->start_acu, hms(r->start_at_ms, a), r->start_before_run ? "before" : "inside",
                 r->peak_acu, hms(r->peak_at_ms, b), dur(r->time_to_peak_ms, d), reached, r->lowest,
                 r->highest, r->n_used, hms(r->last_at_ms, c));
        return buf;
}

/* ------------------------------------------------------------ collecting */

int acu_points_add(int64_t ts_ms, double value, void *u) {
        AcuPoints *a = u;

        if (a->n >= ACU_POINTS_MAX)
                return -E2BIG;
        if (a->n == a->cap) {
                size_t cap = a->cap ? 2 * a->cap : 64;
                AcuPoint *p;

                if (cap > ACU_POINTS_MAX)
                        cap = ACU_POINTS_MAX;
                p = realloc(a->points, cap * sizeof *p);
                if (!p)
                        return -ENOMEM;
                a->points = p;
                a->cap = cap;
        }
        a->points[a->n++] = (AcuPoint) { ts_ms, value };
        return 0;
}

void acu_points_clear(AcuPoints *a) {
        if (!a)
                return;
        free(a->points);
        *a = (AcuPoints) {};
}
