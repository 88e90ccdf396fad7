/* The ACU window's judgement: a ramp 2 -> 16 in time (met, exact times to
 * the peak and to scale_to), capacity stuck at 2, above max_acu, below
 * min_acu, scale_to reached late, no data, data ending before the settle
 * window's end (pending, then data_end), gaps, points before the run only,
 * points out of order, duplicates and non-numbers, the boundaries (a point
 * exactly at the run's start, exactly at the deadline, a gap of exactly
 * max_gap), the early verdicts, bad parameters, the JSON (points capped)
 * and the evidence line. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "criteria/acu-window.h"
#include "tap.h"

#define MIN_MS 60000LL
#define T14 1796133600000LL            /* 2026-12-01T14:00:00Z */
#define AT(m, s) (T14 + (m) * MIN_MS + (s) * 1000LL)
#define S AT(0, 30)                    /* the run's start: 14:00:30 */
#define END AT(5, 30)                  /* its end: 14:05:30; E = 14:15:30, D = 14:05:30 */
#define LATE AT(40, 0)                 /* "now", long after every lag */
#define MAXP 2000

static AcuPoint pts[MAXP];
static size_t n_pts;

/* One point a minute at whole minutes from..to (minutes after 14:00),
 * values from `v` (the last one repeats). */
static void minutes(int from, int to, const double *v, size_t nv) {
        n_pts = 0;
        for (int m = from; m <= to; m++) {
                size_t k = (size_t) (m - from);

                pts[n_pts++] = (AcuPoint) { AT(m, 0), v[k < nv ? k : nv - 1] };
        }
}

/* Removes the points with from <= minute <= to. */
static void drop(int from, int to) {
        size_t j = 0;

        for (size_t i = 0; i < n_pts; i++)
                if (pts[i].ts_ms < AT(from, 0) || pts[i].ts_ms > AT(to, 0))
                        pts[j++] = pts[i];
        n_pts = j;
}

static AcuWindowResult judge_at(int64_t now) {
        AcuWindowParams p;
        AcuWindowResult r;
        int k;

        acu_window_params_init(&p, S, END);
        k = acu_window_judge(&p, pts, n_pts, now, &r);
        if (k != 0) {
                printf("Bail out! acu_window_judge: %s\n", strerror(-k));
                exit(99);
        }
        return r;
}

/* 13:59 .. 14:17: 2, 2, 4, 8, 12, 16 (14:04), then 16. */
static const double ramp[] = { 2, 2, 4, 8, 12, 16 };

static void test_ramp_met(void) {
        AcuWindowResult r;
        char ev[256];

        minutes(-1, 17, ramp, 6);
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "met", "ramp 2 -> 16 by 14:04: met");
        is_str(acu_window_cause_to_string(r.cause), "none", "cause none");
        is_str(r.reason, "reached 16 ACU 3m30s after the run's start (at 14:04:00) and stayed within [2, 16] ACU "
               "until 14:15:30; start 2 ACU at 14:00:00 (before the run)", "its reason names the start ACU and where from");
        ok(r.start_before_run, "the start point is before the run");
        is_int(r.start_at_ms, AT(0, 0), "start point at 14:00:00 (30 s before the start)");
        is_double(r.start_acu, 2, 0, "start ACU 2");
        is_double(r.peak_acu, 16, 0, "peak 16");
        is_int(r.peak_at_ms, AT(4, 0), "peak at 14:04:00 (its first time)");
        is_int(r.time_to_peak_ms, 210000, "time to peak 3m30s exactly");
        ok(r.reached, "scale_to reached");
        is_int(r.time_to_scale_to_ms, 210000, "time to scale_to 3m30s exactly");
        is_double(r.lowest, 2, 0, "min 2");
        is_double(r.highest, 16, 0, "max 16");
        is_int(r.n_used, 16, "16 points judged: 14:00 .. 14:15");
        is_int(r.first, 1, "the first judged is the array's second (14:00)");
        is_int(r.last_at_ms, AT(15, 0), "the newest judged at 14:15:00");
        is_int(r.window_end_ms, AT(15, 30), "the window ends 14:15:30");
        is_int(r.deadline_ms, AT(5, 30), "the deadline is 14:05:30");
        ok(!r.has_violation, "no violation");
        is_str(acu_window_evidence(&r, 42, ev, sizeof ev),
               "run 42: start 2 ACU (14:00:00, before the run), peak 16 ACU at 14:04:00 (3m30s after the start), "
               "16 ACU after 3m30s, range 2-16 ACU over 16 points to 14:15:00", "the evidence line");
}

static void test_ramp_json(void) {
        AcuWindowResult r;
        json_t *j, *pt;
        char *text;

        minutes(-1, 17, ramp, 6);
        r = judge_at(LATE);
        j = acu_window_to_json(&r, pts, n_pts);
        ok(j != NULL, "the JSON renders");
        if (!j)
                return;
        is_str(json_string_value(json_object_get(j, "state")), "met", "json state");
        is_double(json_real_value(json_object_get(j, "time_to_peak_s")), 210, 0, "json time_to_peak_s 210");
        is_double(json_real_value(json_object_get(j, "time_to_scale_to_s")), 210, 0, "json time_to_scale_to_s 210");
        is_str(json_string_value(json_object_get(j, "peak_at")), "2026-12-01T14:04:00Z", "json peak_at");
        is_str(json_string_value(json_object_get(j, "start_from")), "before_run", "json start_from");
        is_double(json_real_value(json_object_get(j, "start_acu")), 2, 0, "json start_acu");
        is_double(json_real_value(json_object_get(j, "min")), 2, 0, "json min");
        is_double(json_real_value(json_object_get(j, "max")), 16, 0, "json max");
        ok(json_is_null(json_object_get(j, "violation")), "json violation null");
        is_int(json_array_size(json_object_get(j, "points")), 16, "json 16 points");
        pt = json_array_get(json_object_get(j, "points"), 4);
        is_int(json_integer_value(json_array_get(pt, 0)), AT(4, 0), "json point 5 is [14:04:00 in ms, ...]");
        is_double(json_real_value(json_array_get(pt, 1)), 16, 0, "json point 5's value 16");
        ok(json_is_false(json_object_get(j, "points_cut")), "json points not cut");
        is_double(json_real_value(json_object_get(json_object_get(j, "rule"), "scale_up_within_s")), 300, 0,
                  "json rule scale_up_within_s 300");
        is_str(json_string_value(json_object_get(j, "window_to")), "2026-12-01T14:15:30Z", "json window_to");
        text = json_dumps(json_object_get(j, "points"), JSON_COMPACT);
        ok(text && strncmp(text, "[[1796133600000,2.0],[1796133660000,4.0],",
                           strlen("[[1796133600000,2.0],[1796133660000,4.0],")) == 0,
           "json points are [ts_ms, acu] pairs: %s", text ? text : "(null)");
        free(text);
        json_decref(j);
}

static void test_stuck(void) {
        static const double two[] = { 2 };
        AcuWindowResult r;

        minutes(-1, 17, two, 1);
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "not_met", "stuck at 2: not_met");
        is_str(acu_window_cause_to_string(r.cause), "too_slow", "cause too_slow");
        is_str(r.reason, "did not reach 16 ACU within 5m of the run's start: the peak was 2 ACU at 14:00:00 "
               "(0s after the start); start 2 ACU at 14:00:00 (before the run)", "the reason names the peak 2 and when");
        ok(!r.reached, "not reached");
        is_int(r.time_to_peak_ms, 0, "the peak before the start counts as 0 s");

        /* Certain as soon as the data cover the deadline, before the settle window is. */
        minutes(-1, 6, two, 1);
        r = judge_at(AT(7, 0));
        is_str(acu_window_state_to_string(r.state), "not_met", "stuck at 2, data to 14:06 only: not_met already");
        minutes(-1, 5, two, 1);
        r = judge_at(AT(7, 0));
        is_str(acu_window_cause_to_string(r.cause), "pending",
               "stuck at 2 with data to 14:05 (before the deadline 14:05:30): pending, not judged");
}

static void test_above_max(void) {
        static const double v[] = { 2, 2, 4, 8, 12, 16, 16, 20, 16 };
        AcuWindowResult r;
        json_t *j;

        minutes(-1, 17, v, 9);
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "not_met", "20 ACU at 14:06: not_met");
        is_str(acu_window_cause_to_string(r.cause), "above_max", "cause above_max");
        is_str(r.reason, "20 ACU at 14:06:00 is above max_acu 16", "the reason names the point");
        ok(r.has_violation && r.violation_at_ms == AT(6, 0) && r.violation_acu == 20, "violation 20 at 14:06");
        is_double(r.peak_acu, 20, 0, "peak 20");
        j = acu_window_to_json(&r, pts, n_pts);
        is_str(json_string_value(json_object_get(json_object_get(j, "violation"), "bound")), "max_acu",
               "json violation bound max_acu");
        json_decref(j);

        /* Certain at once, even with the settle window not covered yet. */
        minutes(-1, 6, v, 9);
        r = judge_at(AT(7, 0));
        is_str(acu_window_cause_to_string(r.cause), "above_max", "with data to 14:06 only: above_max already");
}

static void test_below_min(void) {
        static const double v[] = { 2, 2, 4, 1, 12, 16 };
        AcuWindowResult r;
        json_t *j;

        minutes(-1, 17, v, 6);
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "not_met", "1 ACU at 14:02: not_met");
        is_str(r.reason, "1 ACU at 14:02:00 is below min_acu 2", "the reason names the point");
        is_double(r.lowest, 1, 0, "min 1");
        j = acu_window_to_json(&r, pts, n_pts);
        is_str(json_string_value(json_object_get(json_object_get(j, "violation"), "bound")), "min_acu",
               "json violation bound min_acu");
        json_decref(j);

        /* A start point before the run below min_acu counts: it is the capacity at the start. */
        static const double low[] = { 1, 4, 8, 16 };
        minutes(0, 17, low, 4);
        r = judge_at(LATE);
        is_str(r.reason, "1 ACU at 14:00:00 is below min_acu 2", "a start point below min_acu is a violation");
        /* A point older than the start point is not judged. */
        minutes(-1, 17, low + 1, 3);
        pts[0].value = 1;
        pts[1].value = 4;
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "met", "1 ACU at 13:59 (before the start point) is not judged");
}

static void test_too_late(void) {
        static const double v[] = { 2, 2, 4, 6, 8, 10, 12, 14, 16 };
        AcuWindowResult r;

        minutes(-1, 17, v, 9);
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "not_met", "16 only at 14:07: not_met");
        is_str(r.reason, "did not reach 16 ACU within 5m of the run's start: it reached it only at 14:07:00 "
               "(6m30s after the start); start 2 ACU at 14:00:00 (before the run)", "the reason says when it was reached");
        is_int(r.time_to_scale_to_ms, 390000, "time to scale_to 6m30s");
}

static void test_no_data(void) {
        AcuWindowResult r;
        char ev[256];

        n_pts = 0;
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "unknown", "no points: unknown");
        is_str(acu_window_cause_to_string(r.cause), "no_points", "cause no_points");
        is_str(r.reason, "no capacity datapoint between 14:00:30 and 14:15:30: no capacity data at all",
               "the reason says so");
        is_int(r.n_used, 0, "no point used");
        r = judge_at(AT(16, 0));
        is_str(r.reason, "no capacity datapoint between 14:00:30 and 14:15:30: no capacity data at all; "
               "data may still arrive until 14:20:30", "within the lag it says data may still arrive");
        is_str(acu_window_evidence(&r, 7, ev, sizeof ev),
               "run 7: no capacity datapoint between 14:00:30 and 14:15:30: no capacity data at all; "
               "data may still arrive until 14:20:30", "the evidence is the reason");

        json_t *j = acu_window_to_json(&r, NULL, 0);
        ok(j && json_is_null(json_object_get(j, "peak_acu")) && json_array_size(json_object_get(j, "points")) == 0
           && json_integer_value(json_object_get(j, "points_used")) == 0, "json without points: figures null");
        json_decref(j);

        /* Only points before the run. */
        minutes(-10, 0, ramp, 1);
        r = judge_at(LATE);
        is_str(acu_window_cause_to_string(r.cause), "no_points", "points before the run only: no_points");
        is_str(r.reason, "no capacity datapoint between 14:00:30 and 14:15:30: the data reach 14:00:00 only",
               "the reason says up to when");

        /* Only points after the window. */
        minutes(20, 25, ramp, 1);
        r = judge_at(LATE);
        is_str(r.reason, "no capacity datapoint between 14:00:30 and 14:15:30: the next one is at 14:20:00",
               "points after the window only: the reason names the next");
}

static void test_data_end(void) {
        AcuWindowResult r;

        minutes(-1, 10, ramp, 6);
        r = judge_at(AT(12, 0));
        is_str(acu_window_state_to_string(r.state), "unknown", "reached in time, data to 14:10: unknown");
        is_str(acu_window_cause_to_string(r.cause), "pending", "cause pending");
        is_str(r.reason, "capacity data reach 14:10:00 only; the window ends 14:15:30 (data may still arrive "
               "until 14:20:30)", "the reason says up to when and until when to wait");
        ok(r.reached && r.time_to_scale_to_ms == 210000, "the figures are there all the same");
        r = judge_at(AT(20, 30));
        is_str(acu_window_cause_to_string(r.cause), "data_end", "past the lag: data_end");
        is_str(r.reason, "capacity data reach 14:10:00 only; the window ends 14:15:30 and nothing newer arrived "
               "within 5m of it", "its reason");
        /* A point at 14:15 is not enough: the window ends 14:15:30. */
        minutes(-1, 15, ramp, 6);
        r = judge_at(AT(16, 0));
        is_str(acu_window_cause_to_string(r.cause), "pending", "data to 14:15:00 < 14:15:30: pending");
        minutes(-1, 16, ramp, 6);
        r = judge_at(AT(16, 10));
        is_str(acu_window_state_to_string(r.state), "met", "the 14:16 point arrives: met");
        is_int(r.n_used, 16, "the 14:16 point proves coverage but is not judged");
}

static void test_gaps(void) {
        AcuWindowResult r;

        minutes(-1, 17, ramp, 6);
        drop(7, 11);
        r = judge_at(LATE);
        is_str(acu_window_cause_to_string(r.cause), "gap", "14:07 .. 14:11 missing: gap");
        is_str(r.reason, "no capacity data between 14:06:00 and 14:12:00 (6m, longer than the 3m allowed)",
               "the reason names the gap");

        minutes(-1, 17, ramp, 6);
        drop(7, 8);
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "met", "a gap of exactly max_gap (14:06 -> 14:09): met");

        /* No start point: the gap from the run's start to the first point counts. */
        minutes(4, 17, ramp + 5, 1);
        r = judge_at(LATE);
        is_str(r.reason, "no capacity data between 14:00:30 and 14:04:00 (3m30s, longer than the 3m allowed)",
               "no data for the run's first 3m30s: gap");

        /* A stale point before the run is neither the start ACU nor judged. */
        minutes(1, 17, ramp + 1, 5);
        memmove(pts + 1, pts, n_pts * sizeof *pts);
        n_pts++;
        pts[0] = (AcuPoint) { AT(-6, 0), 30 };
        r = judge_at(LATE);
        ok(!r.start_before_run, "a point 6m30s before the start is not the start point");
        is_int(r.start_at_ms, AT(1, 0), "the first point inside the run (14:01) is");
        is_double(r.start_acu, 2, 0, "its value");
        is_str(acu_window_state_to_string(r.state), "met", "the stale 30 ACU is not judged: met");
        ok(strstr(r.reason, "; start 2 ACU at 14:01:00 (inside the run)") != NULL, "the reason says inside: %s",
           r.reason);
        is_int(r.time_to_scale_to_ms, 270000, "16 at 14:05: time to scale_to 4m30s");

        /* Not reached and a gap before the deadline: not judged. */
        static const double two[] = { 2 };
        minutes(-1, 17, two, 1);
        drop(1, 4);
        r = judge_at(LATE);
        is_str(acu_window_cause_to_string(r.cause), "gap", "stuck at 2 with 14:01 .. 14:04 missing: gap, not not_met");
        is_str(r.reason, "no capacity data between 14:00:30 and 14:05:00 (4m30s, longer than the 3m allowed)",
               "its reason");

        /* A gap straddling the window's end counts only its part inside. */
        minutes(-1, 17, ramp, 6);
        drop(16, 17);
        pts[n_pts++] = (AcuPoint) { AT(19, 0), 16 };
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "met", "14:15 -> 14:19 straddles the end: 30 s inside, met");
}

static void test_boundaries(void) {
        AcuWindowParams p;
        AcuWindowResult r;

        /* A run starting exactly on a point. */
        minutes(-1, 17, ramp, 6);
        acu_window_params_init(&p, AT(0, 0), AT(5, 0));
        is_int(acu_window_judge(&p, pts, n_pts, LATE, &r), 0, "judge a run starting at 14:00:00");
        ok(r.start_before_run && r.start_at_ms == AT(0, 0), "the point exactly at the start is the start point");
        is_int(r.first, 1, "and the first judged");
        is_int(r.time_to_scale_to_ms, 240000, "time to scale_to 4m");

        /* 16 exactly at the deadline: in time; one millisecond later: late. */
        acu_window_params_init(&p, AT(0, 0), AT(5, 0));
        p.scale_up_within_ms = 4 * MIN_MS;
        acu_window_judge(&p, pts, n_pts, LATE, &r);
        is_str(acu_window_state_to_string(r.state), "met", "16 exactly at the deadline (14:04:00): met");
        p.scale_up_within_ms = 4 * MIN_MS - 1;
        acu_window_judge(&p, pts, n_pts, LATE, &r);
        is_str(acu_window_cause_to_string(r.cause), "too_slow", "the deadline 1 ms earlier: too_slow");
        is_str(r.reason, "did not reach 16 ACU within 3m59s999ms of the run's start: it reached it only at 14:04:00 "
               "(4m after the start); start 2 ACU at 14:00:00 (before the run)", "its reason");

        /* Exactly at max_acu and min_acu is within bounds. */
        static const double edge[] = { 2, 16 };
        minutes(0, 17, edge, 2);
        acu_window_judge(&p, pts, n_pts, LATE, &r);
        ok(!r.has_violation && r.state == ACU_WINDOW_MET, "2 and 16 exactly: within [2, 16], met");

        /* A run whose settle window is shorter than the deadline: the window reaches the deadline. */
        acu_window_params_init(&p, AT(0, 0), AT(1, 0));
        p.settle_ms = 0;
        acu_window_judge(&p, pts, n_pts, LATE, &r);
        is_int(r.window_end_ms, AT(5, 0), "the window ends at the deadline when that is later");
        int64_t from, to;
        acu_window_read_range(&p, &from, &to);
        ok(from == AT(-3, 0) && to == AT(8, 0), "the read range is [start - max_gap, end + max_gap]");
}

static void test_bad_points(void) {
        AcuWindowResult r;

        minutes(-1, 17, ramp, 6);
        pts[3].ts_ms = AT(5, 0);
        r = judge_at(LATE);
        is_str(acu_window_cause_to_string(r.cause), "bad_points", "points out of order: bad_points");
        is_str(r.reason, "capacity point 5 (14:03:00) is older than point 4 (14:05:00): points must be in time order",
               "the reason names both");

        minutes(-1, 17, ramp, 6);
        pts[6].value = NAN;
        r = judge_at(LATE);
        is_str(r.reason, "capacity point 7 (14:05:00) is not a finite number", "NaN: bad_points naming it");

        /* Duplicates: both judged; the last one at or before the start is the start point. */
        minutes(-1, 17, ramp, 6);
        memmove(pts + 2, pts + 1, (n_pts - 1) * sizeof *pts);
        n_pts++;
        pts[1].value = 3;      /* 14:00:00 twice: 3 then 2 */
        r = judge_at(LATE);
        is_str(acu_window_state_to_string(r.state), "met", "a duplicate time is accepted");
        is_double(r.start_acu, 2, 0, "the later of two points at 14:00:00 is the start ACU");
        is_int(r.n_used, 17, "both are judged");
        pts[1].value = 30;
        r = judge_at(LATE);
        is_str(r.reason, "30 ACU at 14:00:00 is above max_acu 16", "and both are checked against the bounds");
}

static void test_bad_params(void) {
        AcuWindowParams p;
        AcuWindowResult r;

        minutes(-1, 17, ramp, 6);
        acu_window_params_init(&p, S, S - 1);
        is_int(acu_window_judge(&p, pts, n_pts, LATE, &r), -EINVAL, "a run ending before it starts: -EINVAL");
        ok(r.state == ACU_WINDOW_UNKNOWN && r.cause == ACU_WINDOW_CAUSE_BAD_PARAMS, "unknown, bad_params");
        is_str(r.reason, "ended_at is out of range", "naming ended_at");
        acu_window_params_init(&p, S, END);
        p.scale_to = 20;
        is_int(acu_window_judge(&p, pts, n_pts, LATE, &r), -EINVAL, "scale_to above max_acu: -EINVAL");
        is_str(r.reason, "scale_to 20 is outside [min_acu 2, max_acu 16]: it could never be met", "its reason");
        acu_window_params_init(&p, S, END);
        p.min_acu = 17;
        is_int(acu_window_judge(&p, pts, n_pts, LATE, &r), -EINVAL, "min_acu above max_acu: -EINVAL");
        acu_window_params_init(&p, S, END);
        p.max_gap_ms = 0;
        is_int(acu_window_judge(&p, pts, n_pts, LATE, &r), -EINVAL, "max_gap 0: -EINVAL");
        acu_window_params_init(&p, S, END);
        p.settle_ms = -1;
        is_int(acu_window_judge(&p, pts, n_pts, LATE, &r), -EINVAL, "a negative settle: -EINVAL");
        is_int(acu_window_judge(&p, NULL, 3, LATE, &r), -EINVAL, "still -EINVAL with a NULL array");
        acu_window_params_init(&p, S, END);
        is_int(acu_window_judge(&p, NULL, 3, LATE, &r), 0, "3 points but no array: 0 ...");
        is_str(acu_window_cause_to_string(r.cause), "bad_points", "... and bad_points");
        ok(acu_window_state_to_string(3) == NULL && acu_window_cause_to_string(_ACU_WINDOW_CAUSE_MAX) == NULL,
           "names out of range are NULL");
}

/* A per-second series (a capacity_sql source): 1201 points, cut to 200. */
static void test_json_cap(void) {
        AcuWindowParams p;
        AcuWindowResult r;
        json_t *j, *a;

        n_pts = 0;
        for (int i = 0; i <= 1200; i++)
                pts[n_pts++] = (AcuPoint) { AT(0, 0) + i * 1000LL, i < 120 ? 2 : 16 };
        acu_window_params_init(&p, AT(0, 0), AT(20, 0));
        p.settle_ms = 0;
        acu_window_judge(&p, pts, n_pts, LATE, &r);
        is_str(acu_window_state_to_string(r.state), "met", "1201 points a second apart: met");
        is_int(r.n_used, 1201, "all judged");
        is_int(r.time_to_scale_to_ms, 120000, "time to scale_to 2m");
        j = acu_window_to_json(&r, pts, n_pts);
        a = json_object_get(j, "points");
        ok(json_array_size(a) > 100 && json_array_size(a) <= ACU_WINDOW_JSON_POINTS, "json points cut to %zu <= 200",
           json_array_size(a));
        ok(json_is_true(json_object_get(j, "points_cut")), "points_cut true");
        is_int(json_integer_value(json_object_get(j, "points_used")), 1201, "points_used 1201");
        is_int(json_integer_value(json_array_get(json_array_get(a, 0), 0)), AT(0, 0), "the first point is kept");
        is_int(json_integer_value(json_array_get(json_array_get(a, json_array_size(a) - 1), 0)), AT(20, 0),
               "the last point is kept");
        json_decref(j);

        /* Exactly 200: all of them. */
        n_pts = 200;
        acu_window_params_init(&p, AT(0, 0), AT(0, 199));
        p.settle_ms = 0;
        p.scale_up_within_ms = 0;
        p.scale_to = 2;
        acu_window_judge(&p, pts, n_pts, LATE, &r);
        j = acu_window_to_json(&r, pts, n_pts);
        is_int(json_array_size(json_object_get(j, "points")), 200, "200 points: all 200 in the JSON");
        ok(json_is_false(json_object_get(j, "points_cut")), "not cut");
        json_decref(j);
        ok(acu_window_to_json(&r, pts, 10) == NULL, "json with fewer points than judged: NULL");
}

static void test_points_collect(void) {
        AcuPoints a = {};
        int k = 0;

        for (int i = 0; i < 1000 && k == 0; i++)
                k = acu_points_add(T14 + i * 1000LL, i % 17, &a);
        is_int(k, 0, "1000 points collected");
        is_int(a.n, 1000, "n 1000");
        ok(a.points[999].ts_ms == T14 + 999000 && a.points[999].value == 999 % 17, "the last one is as given");
        a.n = ACU_POINTS_MAX;   /* pretend it is full: nothing is written */
        is_int(acu_points_add(T14, 1, &a), -E2BIG, "past ACU_POINTS_MAX: -E2BIG");
        a.n = 1000;
        acu_points_clear(&a);
        ok(a.points == NULL && a.n == 0 && a.cap == 0, "cleared");
        acu_points_clear(NULL);
}

int main(void) {
        test_ramp_met();
        test_ramp_json();
        test_stuck();
        test_above_max();
        test_below_min();
        test_too_late();
        test_no_data();
        test_data_end();
        test_gaps();
        test_boundaries();
        test_bad_points();
        test_bad_params();
        test_json_cap();
        test_points_collect();
        return tap_done();
}
