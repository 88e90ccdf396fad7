/* The acu_scaling criterion's judgement (issue 8, point 4): did the
 * database's capacity scale up to `scale_to` ACU soon enough after a run's
 * start, and stay within [min_acu, max_acu] during the run and a settle
 * time after it?
 *
 * Pure: no I/O and no clock.  The caller passes the run's times, the rule,
 * the capacity points (e.g. the store's "aurora.<name>.acu" series, read
 * over acu_window_read_range()) and the time now, so the evaluator calls it
 * from its own thread and the tests pin it exactly.  Nothing is allocated
 * but the JSON of acu_window_to_json() and the AcuPoints collector.
 *
 * Terms.  S = the run's start, D = S + scale_up_within (the deadline), E =
 * the run's end + settle, or D when that is later (the window is [S, E]).
 * A point is an instant: (time, ACU).  Times in reasons are UTC "HH:MM:SS";
 * durations are units_format_duration()'s ("4m30s").
 *
 * Points judged: the start point and every point with S <= time <= E.  The
 * start point is the last point at or before S when it is at most max_gap
 * older than S ("before the run"); otherwise the first point inside the
 * window is the start ACU ("inside the run") and older points are not
 * judged.  Points after E only prove that the data reach E.
 *
 * Coverage.  The data cover [S, T] when some point is at or after T, the
 * first point at or after S is at most max_gap after S, and no two
 * consecutive points leave more than max_gap of [S, T] between them (a gap
 * is measured on its part inside [S, T], so a gap straddling S or T counts
 * only its part inside).
 *
 * The rule, checked in this order; the first that applies decides:
 *  1. Points out of time order (a point older than the one before it), or a
 *     value that is not a finite number: unknown, BAD_POINTS.  Equal times
 *     are accepted; each such point is judged, and the last of them at or
 *     before S is the start point.
 *  2. No point with S <= time <= E: unknown, NO_POINTS.
 *  3. A judged point above max_acu or below min_acu: not_met (ABOVE_MAX,
 *     BELOW_MIN), naming the first such point, whatever the coverage: a
 *     violation seen is certain.
 *  4. No judged point >= scale_to at or before D: not_met, TOO_SLOW, once
 *     the data cover [S, D] (a gap could hide a short peak, so not before);
 *     the reason names the peak and when, or when scale_to was reached late.
 *     Reached at or before D (D inclusive) counts even across a gap.
 *  5. The data do not cover [S, E]: unknown, not judged until covered, even
 *     when scale_to was reached in time, because a violation may hide in
 *     the part not seen: GAP (the first gap longer than max_gap: "no
 *     capacity data between 14:03:00 and 14:08:00 (5m, longer than the 3m
 *     allowed)"), or the data end before E: PENDING while now < E + lag
 *     (CloudWatch's datapoints arrive a minute or more late: "capacity data
 *     reach 14:03:00 only; the window ends 14:10:00 (data may still arrive
 *     until 14:15:00)"), DATA_END after that.  When rule 4 waits for
 *     coverage of [S, D], the reason is the same: the first part of [S, E]
 *     missing, which then lies before D.
 *  6. Otherwise met.
 * The reasons of met and too_slow end with the start ACU and where it comes
 * from: "; start 2 ACU at 14:00:00 (before the run)" (or "inside").
 * Times: the start ACU may be before S; time_to_peak and time_to_scale_to
 * are from S and never negative (a point before S counts as 0).  The peak
 * is the largest judged value, at its first time. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACU_WINDOW_SETTLE_MS          (10 * 60 * 1000)
#define ACU_WINDOW_SCALE_TO           16.0
#define ACU_WINDOW_SCALE_UP_WITHIN_MS (5 * 60 * 1000)
#define ACU_WINDOW_MIN_ACU            2.0
#define ACU_WINDOW_MAX_ACU            16.0
/* CloudWatch gives one datapoint a minute: three missing ones are a gap. */
#define ACU_WINDOW_MAX_GAP_MS         (3 * 60 * 1000)
/* How long after E the point proving coverage may still arrive: a
 * datapoint is stamped with its period's start (1 minute) and CloudWatch
 * publishes it 1 to 3 minutes later, plus a poll interval. */
#define ACU_WINDOW_LAG_MS             (5 * 60 * 1000)
/* Points in acu_window_to_json() at most. */
#define ACU_WINDOW_JSON_POINTS        200
#define ACU_WINDOW_REASON_SIZE        256

/* One capacity sample: time (ms since the epoch) and ACU. */
typedef struct AcuPoint {
        int64_t ts_ms;
        double value;
} AcuPoint;

/* The run and the rule.  acu_window_params_init() sets the defaults. */
typedef struct AcuWindowParams {
        int64_t started_at_ms, ended_at_ms;   /* the run's */
        int64_t settle_ms;                    /* >= 0 */
        int64_t scale_up_within_ms;           /* >= 0, from the run's start */
        int64_t max_gap_ms;                   /* > 0 */
        int64_t lag_ms;                       /* >= 0 */
        double scale_to;                      /* within [min_acu, max_acu] */
        double min_acu, max_acu;              /* min_acu <= max_acu */
} AcuWindowParams;

typedef enum AcuWindowState {
        ACU_WINDOW_UNKNOWN,
        ACU_WINDOW_MET,
        ACU_WINDOW_NOT_MET,
} AcuWindowState;

/* Which rule decided (see above). */
typedef enum AcuWindowCause {
        ACU_WINDOW_CAUSE_NONE,         /* met */
        ACU_WINDOW_CAUSE_ABOVE_MAX,    /* not_met */
        ACU_WINDOW_CAUSE_BELOW_MIN,    /* not_met */
        ACU_WINDOW_CAUSE_TOO_SLOW,     /* not_met */
        ACU_WINDOW_CAUSE_NO_POINTS,    /* unknown */
        ACU_WINDOW_CAUSE_GAP,          /* unknown */
        ACU_WINDOW_CAUSE_PENDING,      /* unknown: the data may still arrive */
        ACU_WINDOW_CAUSE_DATA_END,     /* unknown: they did not arrive within lag */
        ACU_WINDOW_CAUSE_BAD_POINTS,   /* unknown */
        ACU_WINDOW_CAUSE_BAD_PARAMS,   /* unknown: acu_window_judge() returned -EINVAL */
        _ACU_WINDOW_CAUSE_MAX,
} AcuWindowCause;

/* The verdict and its figures.  The figures (start_acu .. violation) are
 * set when n_used > 0; the judged points are points[first .. first +
 * n_used) of the array given to acu_window_judge(). */
typedef struct AcuWindowResult {
        AcuWindowParams params;                /* a copy of those judged with */
        AcuWindowState state;
        AcuWindowCause cause;
        char reason[ACU_WINDOW_REASON_SIZE];   /* one line, whatever the state */

        int64_t window_start_ms, window_end_ms, deadline_ms;   /* S, E, D */
        int64_t data_end_ms;                   /* the newest point's time; 0 without points */
        size_t first, n_used;
        int64_t last_at_ms;                    /* the newest judged point's time */

        bool start_before_run;                 /* the start point is at or before S */
        double start_acu;
        int64_t start_at_ms;
        double peak_acu;
        int64_t peak_at_ms, time_to_peak_ms;
        bool reached;                          /* some judged point >= scale_to */
        int64_t reached_at_ms, time_to_scale_to_ms;   /* when reached */
        double lowest, highest;                /* over the judged points */
        bool has_violation;
        int64_t violation_at_ms;               /* the first judged point out of bounds */
        double violation_acu;
} AcuWindowResult;

/* Sets *p to the defaults above for a run from started_at_ms to
 * ended_at_ms. */
void acu_window_params_init(AcuWindowParams *p, int64_t started_at_ms, int64_t ended_at_ms);

/* The span of capacity points acu_window_judge() needs, inclusive: from
 * max_gap before S (the start point) to max_gap after the later of E and D
 * (the point proving coverage).  Read the series over it, oldest first. */
void acu_window_read_range(const AcuWindowParams *p, int64_t *ret_from_ms, int64_t *ret_to_ms);

/* Judges `n` points (oldest first; borrowed, NULL when n is 0) against `p`
 * at `now_ms` into *ret (the caller's).  0; or -EINVAL for parameters that
 * break the bounds noted in AcuWindowParams (the run ending before it
 * starts, scale_to outside [min_acu, max_acu], ...), with *ret unknown,
 * BAD_PARAMS and a reason naming the parameter.  Bad points are not an
 * error: they give unknown, BAD_POINTS. */
int acu_window_judge(const AcuWindowParams *p, const AcuPoint *points, size_t n, int64_t now_ms,
                     AcuWindowResult *ret);

/* The result as the run's extra "acu_window" object: state, cause, reason,
 * rule {scale_to, scale_up_within_s, min_acu, max_acu, settle_s,
 * max_gap_s}, window_from, window_to, deadline (RFC 3339), start_acu,
 * start_at, start_from ("before_run" or "inside_run"), peak_acu, peak_at,
 * time_to_peak_s, time_to_scale_to_s and scale_to_at (null when never
 * reached), min, max, violation ({at, acu, bound: "max_acu" | "min_acu"} or
 * null), points_used, points [[ts_ms, acu], ...]: the judged points, all of
 * them up to ACU_WINDOW_JSON_POINTS, else every k-th and the last, with
 * points_cut true.  The figures are null when no point was judged.
 * `points` and `n` must be those given to acu_window_judge().  A new
 * reference the caller owns; NULL when out of memory. */
json_t *acu_window_to_json(const AcuWindowResult *r, const AcuPoint *points, size_t n);

/* One line of evidence for the criterion into buf (always terminated),
 * which it returns: "run 42: start 2 ACU (13:59:00, before the run), peak
 * 16 ACU at 14:04:00 (4m after the start), 16 ACU after 4m, range 2-16
 * ACU over 17 points to 14:15:00"; without judged points, "run 42: " and the
 * reason. */
char *acu_window_evidence(const AcuWindowResult *r, int64_t run_id, char *buf, size_t size);

/* A growing array of points for the caller to fill from the store, e.g.
 * store_series_raw(s, series, from, to, ACU_POINTS_MAX, NULL, acu_points_add,
 * &points), where a return of 1 (older points left out) means the window
 * holds too many to judge.  Start from AcuPoints points = {}; free with
 * acu_points_clear(). */
#define ACU_POINTS_MAX (1u << 20)   /* a day of one sample a second, and more */
typedef struct AcuPoints {
        AcuPoint *points;
        size_t n, cap;
} AcuPoints;

/* store_series_raw()'s callback: appends (ts_ms, value) to the AcuPoints
 * `u`.  0; -ENOMEM (the array is unchanged); -E2BIG past ACU_POINTS_MAX. */
int acu_points_add(int64_t ts_ms, double value, void *u);

/* Frees the array and empties it; NULL is a no-op. */
void acu_points_clear(AcuPoints *a);

/* "unknown", "met", "not_met"; NULL out of range. */
const char *acu_window_state_to_string(AcuWindowState s);
/* "none", "above_max", "below_min", "too_slow", "no_points", "gap",
 * "pending", "data_end", "bad_points", "bad_params"; NULL out of range. */
const char *acu_window_cause_to_string(AcuWindowCause c);
