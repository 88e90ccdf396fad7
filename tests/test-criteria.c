/* Criterion evaluation against a real store in a temporary directory. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/terminal-run.h"
#include "criteria/criteria.h"
#include "load/histogram.h"
#include "store/store.h"
#include "tap.h"
#include "util/units.h"
#include "util/util.h"

#define MIB (1024.0 * 1024.0)

static CriterionConfig memory_rule(void) {
        return (CriterionConfig) {
                .name = (char *) "memory",
                .kind = CRITERION_SERIES,
                .series = (char *) "go.app.Sys",
                .statistic = CRITERION_MAX,
                .op = CRITERION_LT,
                .threshold = 512 * MIB,
                .unit = (char *) "bytes",
                .window_usec = USEC_PER_HOUR,
                .max_age_usec = 5 * USEC_PER_MIN,
        };
}

/* The report of the last state_of(), freed by the next call or reset(). */
static CriteriaReport *last_report;

static void reset(void) {
        last_report = criteria_report_free(last_report);
}

/* Evaluates one criterion; *ret points into last_report. */
static const char *state_of(const CriterionConfig *cc, Store *s, uint64_t now, const CriterionResult **ret) {
        static const CriterionResult none = { .reason = NULL };

        reset();
        *ret = &none;
        if (criteria_evaluate(cc, 1, s, now, CRITERIA_TIME_LIMIT_USEC, &last_report) < 0 ||
            last_report->n_results != 1)
                return "(error)";
        *ret = &last_report->results[0];
        return criteria_state_to_string((*ret)->state);
}

/* A reason that exists and contains `part`. */
static bool reason_has(const CriterionResult *o, const char *part) {
        return o->reason && strstr(o->reason, part);
}

static void add(Store *s, const char *series, uint64_t now, uint64_t ago_usec, double v) {
        store_append(s, series, (int64_t) ((now - ago_usec) / USEC_PER_MSEC), v);
}

static void test_series_criterion(Store *s, uint64_t now) {
        CriterionConfig cc = memory_rule();
        const CriterionResult *o;

        add(s, "go.app.Sys", now, 2 * USEC_PER_HOUR, 1 * MIB);
        store_flush(s);
        is_str(state_of(&cc, s, now, &o), "unknown", "no samples in the window: unknown, never met by default");
        ok(reason_has(o, "no samples of go.app.Sys in the last 1h"), "the unknown reason names the series and window");
        is_int(o->cause, CRITERION_CAUSE_NO_SAMPLES, "the cause is no samples");

        add(s, "go.app.Sys", now, 30 * USEC_PER_MIN, 100 * MIB);
        add(s, "go.app.Sys", now, 10 * USEC_PER_SEC, 200 * MIB);
        store_flush(s);
        is_str(state_of(&cc, s, now, &o), "met", "max 200 MiB < 512 MiB: met");
        is_double(o->value, 200 * MIB, 0, "value is the max over the window");
        is_str(o->series, "go.app.Sys", "evidence names the series");
        is_int(o->samples, 2, "evidence counts the samples in the window");
        ok(o->reason == NULL, "a known state has no reason");

        add(s, "go.app.Sys", now, 20 * USEC_PER_MIN, 600 * MIB);
        store_flush(s);
        is_str(state_of(&cc, s, now, &o), "not_met", "one sample of 600 MiB in the window: not met");

        cc.window_usec = 15 * USEC_PER_MIN;
        is_str(state_of(&cc, s, now, &o), "met", "the 600 MiB sample 20 min ago is outside a 15 min window");

        cc.statistic = CRITERION_LAST;
        cc.window_usec = USEC_PER_HOUR;
        is_str(state_of(&cc, s, now, &o), "met", "statistic last: the newest sample decides");
        is_double(o->value, 200 * MIB, 0, "last is the newest sample's value");

        cc.op = CRITERION_GE;
        is_str(state_of(&cc, s, now, &o), "not_met", "op >= flips the comparison");
}

/* Samples of 100, 600 and 200 MiB: min 100, max 600, avg 300, last 200. */
static void test_statistics(Store *s, uint64_t now) {
        CriterionConfig cc = memory_rule();
        const CriterionResult *o;

        cc.series = (char *) "go.stat.Sys";
        add(s, "go.stat.Sys", now, 40 * USEC_PER_MIN, 100 * MIB);
        add(s, "go.stat.Sys", now, 30 * USEC_PER_MIN, 600 * MIB);
        add(s, "go.stat.Sys", now, 1 * USEC_PER_MIN, 200 * MIB);
        store_flush(s);

        cc.statistic = CRITERION_MIN;
        cc.threshold = 150 * MIB;
        is_str(state_of(&cc, s, now, &o), "met", "min 100 MiB < 150 MiB: met (max, avg or last would not be)");
        is_double(o->value, 100 * MIB, 0, "min: the smallest sample");
        is_int(o->at_ms, (int64_t) ((now - 40 * USEC_PER_MIN) / USEC_PER_MSEC), "min: the time of the smallest");

        cc.statistic = CRITERION_AVG;
        cc.threshold = 250 * MIB;
        is_str(state_of(&cc, s, now, &o), "not_met", "avg 300 MiB < 250 MiB: not met (last 200 would be)");
        is_double(o->value, 300 * MIB, 0, "avg: the mean of the samples");
        cc.threshold = 350 * MIB;
        is_str(state_of(&cc, s, now, &o), "met", "avg 300 MiB < 350 MiB: met (max 600 would not be)");

        cc.statistic = CRITERION_MAX;
        is_double((state_of(&cc, s, now, &o), o->value), 600 * MIB, 0, "max: the largest sample");
        cc.statistic = CRITERION_LAST;
        is_double((state_of(&cc, s, now, &o), o->value), 200 * MIB, 0, "last: the newest sample");
}

/* The value exactly at the threshold tells < from <= and > from >=. */
static void test_boundary(Store *s, uint64_t now) {
        static const struct {
                CriterionOp op;
                const char *want;
        } cases[] = {
                { CRITERION_LT, "not_met" },
                { CRITERION_LE, "met" },
                { CRITERION_GT, "not_met" },
                { CRITERION_GE, "met" },
        };
        CriterionConfig cc = memory_rule();
        const CriterionResult *o;

        cc.series = (char *) "go.edge.Sys";
        cc.threshold = 512 * MIB;
        add(s, "go.edge.Sys", now, 1 * USEC_PER_MIN, 512 * MIB);
        store_flush(s);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                cc.op = cases[i].op;
                is_str(state_of(&cc, s, now, &o), cases[i].want, "value == threshold with %s: %s",
                       config_op_to_string(cases[i].op), cases[i].want);
        }
        cc.op = CRITERION_LT;
        cc.threshold = 512 * MIB + 1;
        is_str(state_of(&cc, s, now, &o), "met", "value one byte under the threshold with <: met");
}

static void test_stale(Store *s, uint64_t now) {
        CriterionConfig cc = memory_rule();
        const CriterionResult *o;

        cc.series = (char *) "go.stale.Sys";
        add(s, "go.stale.Sys", now, 10 * USEC_PER_MIN, 1 * MIB);
        store_flush(s);
        is_str(state_of(&cc, s, now, &o), "unknown", "newest sample older than max_age: unknown");
        ok(reason_has(o, "max_age 5m"), "the reason says the sample is older than max_age");
        is_int(o->cause, CRITERION_CAUSE_STALE, "the cause is stale");

        cc.max_age_usec = 15 * USEC_PER_MIN;
        is_str(state_of(&cc, s, now, &o), "met", "the same sample within a longer max_age: met");
}

static void test_unknown_series(Store *s, uint64_t now) {
        CriterionConfig cc = memory_rule();
        const CriterionResult *o;

        cc.series = (char *) "go.app.Sy";
        is_str(state_of(&cc, s, now, &o), "unknown", "a series name nobody stores: unknown");
        is_int(o->cause, CRITERION_CAUSE_UNKNOWN_SERIES, "the cause is an unknown series");
        is_str(o->reason, "no series named go.app.Sy (nearest known: go.app.Sys)",
               "the reason names it and the nearest known name");
        cc.series = (char *) "go.edge.Syz";
        state_of(&cc, s, now, &o);
        ok(reason_has(o, "nearest known: go.edge.Sys"), "the nearest is by edit distance, not by order");
}

/* A limit far below what the reads need: the criterion is unknown and says
 * so, and the next criterion still gets its own budget. */
static void test_time_limit(Store *s, uint64_t now) {
        CriterionConfig list[2] = { memory_rule(), memory_rule() };
        CriteriaReport *rep = NULL;

        list[0].series = (char *) "go.many.Sys";
        list[0].window_usec = 50 * USEC_PER_SEC;
        for (int i = 0; i < 5000; i++)
                add(s, "go.many.Sys", now, (uint64_t) i * 10 * USEC_PER_MSEC, i);
        store_flush(s);
        ok(criteria_evaluate(list, 1, s, now, 1, &rep) == 0 && rep->n_results == 1, "evaluate with a 1us limit");
        if (rep) {
                is_str(criteria_state_to_string(rep->results[0].state), "unknown", "past the limit: unknown");
                is_int(rep->results[0].cause, CRITERION_CAUSE_TIME_LIMIT, "the cause is the time limit");
                ok(reason_has(&rep->results[0], "took longer than the 1us limit"), "the reason names the limit");
        }
        rep = criteria_report_free(rep);
        ok(criteria_evaluate(list, 2, s, now, CRITERIA_TIME_LIMIT_USEC, &rep) == 0, "evaluate with the default limit");
        if (rep)
                is_str(criteria_state_to_string(rep->results[0].state), "met", "the same read within the limit: met");
        criteria_report_free(rep);
}

static void test_no_source_and_report(Store *s, uint64_t now) {
        CriterionConfig list[2] = { memory_rule(), memory_rule() };
        const CriterionResult *o;
        CriteriaReport *rep = NULL;

        list[1].name = (char *) "acu_scaling";
        list[1].kind = CRITERION_NO_SOURCE;
        is_str(state_of(&list[1], s, now, &o), "unknown", "a criterion without a data source is unknown");
        is_str(o->reason, "no data source yet", "and says why");
        is_int(o->cause, CRITERION_CAUSE_NO_SOURCE, "with the cause no source");
        ok(o->has_rule && o->threshold == 512 * MIB && o->op == CRITERION_LT, "the rule is kept when unknown");

        list[0].series = (char *) "go.none.Sys";
        ok(criteria_evaluate(list, 2, s, now, 0, &rep) == 0, "criteria_evaluate succeeds");
        ok(rep && !criteria_report_all_met(rep), "not all met while any criterion is unknown");
        is_int(rep ? rep->n_results : 0, 2, "every criterion is listed");
        is_int(rep ? rep->evaluated_at_usec : 0, now, "the report carries its time");
        rep = criteria_report_free(rep);

        /* A 15 min window leaves out the 600 MiB sample of 20 min ago. */
        list[0].series = (char *) "go.app.Sys";
        list[0].window_usec = 15 * USEC_PER_MIN;
        list[1] = list[0];
        criteria_evaluate(list, 2, s, now, 0, &rep);
        ok(rep && criteria_report_all_met(rep), "all met when every criterion is met");
        rep = criteria_report_free(rep);
        list[1].op = CRITERION_GE;
        criteria_evaluate(list, 2, s, now, 0, &rep);
        ok(rep && !criteria_report_all_met(rep), "not all met when one is not met");
        criteria_report_free(rep);

        list[0].series = NULL;
        is_str(state_of(&list[0], s, now, &o), "unknown", "no series configured: unknown");
        is_int(o->cause, CRITERION_CAUSE_NO_SERIES_SET, "with the cause no series set");
}

/* enabled = no: disabled, not evaluated, and not counted by all_met. */
static void test_disabled(Store *s, uint64_t now) {
        CriterionConfig list[4] = { memory_rule(), memory_rule(), memory_rule(), memory_rule() };
        const CriterionResult *o;
        CriteriaReport *rep = NULL;

        /* memory_rule() over 15 min is met (test_no_source_and_report). */
        list[0].window_usec = 15 * USEC_PER_MIN;
        list[1].name = (char *) "acu_scaling";
        list[1].kind = CRITERION_NO_SOURCE;
        list[2].name = (char *) "zero_data_loss";
        list[2].kind = CRITERION_NO_SOURCE;
        list[3].name = (char *) "mine";
        list[3].op = CRITERION_GE;
        list[3].window_usec = 15 * USEC_PER_MIN;
        ok(criteria_evaluate(list, 4, s, now, 0, &rep) == 0 && rep && !criteria_report_all_met(rep),
           "memory met, acu_scaling and zero_data_loss unknown, mine not_met: not all met");
        rep = criteria_report_free(rep);
        list[1].disabled = list[2].disabled = true;
        ok(criteria_evaluate(list, 4, s, now, 0, &rep) == 0 && rep && !criteria_report_all_met(rep),
           "with the two source-less ones disabled, mine not_met still counts");
        is_str(rep ? criteria_state_to_string(rep->results[1].state) : "", "disabled", "acu_scaling is disabled");
        is_str(rep ? criteria_state_to_string(rep->results[2].state) : "", "disabled", "zero_data_loss is disabled");
        is_str(rep ? criteria_state_to_string(rep->results[3].state) : "", "not_met", "mine is not_met");
        rep = criteria_report_free(rep);
        list[3].disabled = true;
        ok(criteria_evaluate(list, 4, s, now, 0, &rep) == 0 && rep && criteria_report_all_met(rep),
           "memory met and the other three disabled: all met, as ?strict=1 needs");
        rep = criteria_report_free(rep);
        list[1].disabled = false;
        ok(criteria_evaluate(list, 4, s, now, 0, &rep) == 0 && rep && !criteria_report_all_met(rep),
           "acu_scaling turned on again: unknown, not all met");
        rep = criteria_report_free(rep);
        list[0].disabled = list[1].disabled = true;
        ok(criteria_evaluate(list, 4, s, now, 0, &rep) == 0 && rep && criteria_report_all_met(rep),
           "every criterion disabled: all met, as with none at all");
        criteria_report_free(rep);

        is_str(state_of(&list[3], s, now, &o), "disabled", "a criterion that would be not_met, disabled");
        is_str(o->reason, "turned off: enabled = no", "says why");
        is_int(o->cause, CRITERION_CAUSE_NONE, "with no cause of unknown");
        ok(o->has_rule && o->op == CRITERION_GE && o->threshold == 512 * MIB, "and keeps its rule");
        ok(!o->series && o->samples == 0 && o->value == 0, "but has no value nor evidence: it was not evaluated");
        list[3].series = (char *) "go.none.Sys";
        is_str(state_of(&list[3], s, now, &o), "disabled", "disabled over a series that does not exist");
}

static CriterionConfig latency_rule(void) {
        return (CriterionConfig) {
                .name = (char *) "latency_p95",
                .kind = CRITERION_RUN_LATENCY,
                .op = CRITERION_LT,
                .threshold = 300,
                .unit = (char *) "ms",
                .max_age_usec = 5 * USEC_PER_MIN,
                .scenario = (char *) "peak",
                .min_requests = 1000,
        };
}

/* Adds a run of `scenario` that ended `ago_usec` before now in `state`,
 * with `requests` answered requests whose intended-start latency is
 * `lat_usec` (its service time a tenth of it), `slow` more answered in
 * twice that, and `timeouts` more that timed out (in the latency histogram
 * at 10 s, the time they were given up, as the engine records them).  Its
 * id, or -1. */
static int64_t run_add_full(Store *s, const char *scenario, uint64_t now, uint64_t ago_usec,
                            StoreRunState state, uint64_t requests, uint64_t lat_usec, uint64_t slow,
                            uint64_t timeouts) {
        int64_t ended = (int64_t) ((now - ago_usec) / USEC_PER_MSEC), id = -1;
        StoreRun run = { .scenario = scenario, .model = "open", .started_at_ms = ended - 10000,
                         .target_rps = 100 };
        Histogram *lat = NULL, *svc = NULL;
        StoreRunHistogram hists[2];

        if (hist_new(&lat) < 0 || hist_new(&svc) < 0 || store_run_begin(s, &run, &id) < 0)
                goto out;
        hist_record_n(lat, lat_usec, requests);
        hist_record_n(lat, 2 * lat_usec, slow);
        hist_record_n(lat, 10 * USEC_PER_SEC, timeouts);
        hist_record_n(svc, lat_usec / 10, requests);
        hists[0] = (StoreRunHistogram) { .request = "", .kind = STORE_RUN_HIST_LATENCY, .hist = lat };
        hists[1] = (StoreRunHistogram) { .request = "", .kind = STORE_RUN_HIST_SERVICE, .hist = svc };
        run.state = state;
        run.ended_at_ms = ended;
        run.duration_ms = 10000;
        run.ok = requests + slow;
        run.err_timeout = timeouts;
        run.requests = run.ok + timeouts;
        if (state != STORE_RUN_RUNNING && store_run_finish(s, id, &run, hists, 2) < 0)
                id = -1;
out:
        hist_free(lat);
        hist_free(svc);
        return id;
}

static int64_t run_add(Store *s, const char *scenario, uint64_t now, uint64_t ago_usec, StoreRunState state,
                       uint64_t requests, uint64_t lat_usec) {
        return run_add_full(s, scenario, now, ago_usec, state, requests, lat_usec, 0, 0);
}

/* Timeouts rank above every answer, as perfwatchd --run judges them. */
static void test_latency_timeouts(Store *s, uint64_t now) {
        CriterionConfig cc = latency_rule();
        const CriterionResult *o;

        cc.scenario = (char *) "timeouts";
        (void) run_add_full(s, "timeouts", now, 0, STORE_RUN_COMPLETED, 950, 100 * USEC_PER_MSEC, 50, 0);
        is_str(state_of(&cc, s, now, &o), "met", "950 answers in 100 ms and 50 in 200 ms: met");
        ok(o->value > 99 && o->value < 101, "p95 about 100 ms (%.3f)", o->value);
        (void) run_add_full(s, "timeouts", now, 0, STORE_RUN_COMPLETED, 950, 100 * USEC_PER_MSEC, 50, 20);
        is_str(state_of(&cc, s, now, &o), "met", "the same with 20 timeouts: still met under 300 ms");
        ok(o->value > 199 && o->value < 201, "but its p95 rises to the 200 ms answers (%.3f)", o->value);
        is_int(o->timeouts, 20, "evidence: 20 timeouts");
        (void) run_add_full(s, "timeouts", now, 0, STORE_RUN_COMPLETED, 950, 100 * USEC_PER_MSEC, 50, 60);
        cc.threshold = 1e9;
        is_str(state_of(&cc, s, now, &o), "not_met", "more than 5%% timed out: not_met whatever the threshold");
        (void) run_add_full(s, "timeouts", now, 0, STORE_RUN_COMPLETED, 0, 100 * USEC_PER_MSEC, 0, 1000);
        is_str(state_of(&cc, s, now, &o), "not_met", "every request timed out: not_met");
        (void) run_add_full(s, "timeouts", now, 0, STORE_RUN_COMPLETED, 0, 100 * USEC_PER_MSEC, 0, 0);
        cc.min_requests = 0;
        is_str(state_of(&cc, s, now, &o), "unknown", "none answered nor timed out: unknown");
        ok(reason_has(o, "has no answered or timed-out request"), "saying so (%s)", o->reason);
}

/* Adds a completed run of `scenario` of 1000 fast answers plus `failed`
 * failed requests (a third each connect, status, other) and `dropped`. */
static int64_t run_add_failing(Store *s, const char *scenario, uint64_t now, uint64_t failed, uint64_t dropped) {
        int64_t ended = (int64_t) (now / USEC_PER_MSEC), id = -1;
        StoreRun run = { .scenario = scenario, .model = "open", .started_at_ms = ended - 10000, .target_rps = 100 };
        Histogram *lat = NULL;
        StoreRunHistogram h;

        if (hist_new(&lat) < 0 || store_run_begin(s, &run, &id) < 0)
                goto out;
        hist_record_n(lat, 5 * USEC_PER_MSEC, 1000);
        h = (StoreRunHistogram) { .request = "", .kind = STORE_RUN_HIST_LATENCY, .hist = lat };
        run.state = STORE_RUN_COMPLETED;
        run.ended_at_ms = ended;
        run.duration_ms = 10000;
        run.ok = 1000;
        run.err_connect = failed / 3;
        run.err_status = failed / 3;
        run.err_other = failed - 2 * (failed / 3);
        run.dropped = dropped;
        run.requests = run.ok + failed;
        if (store_run_finish(s, id, &run, &h, 1) < 0)
                id = -1;
out:
        hist_free(lat);
        return id;
}

/* A run whose requests fail or are dropped shows the latency of the few
 * that went well: not_met, whatever their p95. */
static void test_latency_failures(Store *s, uint64_t now) {
        CriterionConfig cc = latency_rule();
        const CriterionResult *o;
        char buf[200];
        int64_t id;

        cc.scenario = (char *) "failing";
        ok(!criteria_run_unsound(1000, 50, 0, buf, sizeof buf) && buf[0] == '\0',
           "50 of 1000 failed (exactly 5%%): sound");
        ok(criteria_run_unsound(1000, 51, 0, buf, sizeof buf), "51 of 1000 failed: unsound");
        is_str(buf, "51 of 1000 requests failed (5.1%, more than 5%): the p95 of the others does not show a "
               "working service", "saying so");
        ok(!criteria_run_unsound(950, 0, 50, buf, sizeof buf), "50 of 1000 scheduled dropped: sound");
        ok(criteria_run_unsound(949, 0, 51, buf, sizeof buf), "51 of 1000 scheduled dropped: unsound");
        is_str(buf, "51 of 1000 scheduled requests dropped at max_inflight (5.1%, more than 5%): the load was "
               "not sent", "saying so");
        ok(!criteria_run_unsound(0, 0, 0, buf, sizeof buf), "an empty run is not judged here");

        id = run_add_failing(s, "failing", now, 52, 0);
        is_str(state_of(&cc, s, now, &o), "met", "1000 fast answers and 52 failures of 1052 (4.9%%): met");
        is_int(o->failed, 52, "evidence: 52 failed");
        ok(!o->evidence, "with no summary");
        id = run_add_failing(s, "failing", now, 300, 0);
        is_str(state_of(&cc, s, now, &o), "not_met", "1000 fast answers and 300 failures: not_met");
        is_int(o->failed, 300, "evidence: 300 failed");
        ok(o->evidence && strstr(o->evidence, "300 of 1300 requests failed (23.1%"), "summary: %s",
           o->evidence ?: "(none)");
        is_int(o->run_id, id, "of that run");
        (void) run_add_failing(s, "failing", now, 0, 100);
        is_str(state_of(&cc, s, now, &o), "not_met", "1000 fast answers and 100 dropped of 1100: not_met");
        is_int(o->dropped, 100, "evidence: 100 dropped");
        ok(o->evidence && strstr(o->evidence, "100 of 1100 scheduled requests dropped"), "summary: %s",
           o->evidence ?: "(none)");
}

/* Judged on its own store: the latest completed run of the scenario. */
static void test_latency_verdict(uint64_t now) {
        char dir[] = "/tmp/test-criteria-runs.XXXXXX", path[256], *err = NULL;
        CriterionConfig cc = latency_rule();
        const CriterionResult *o;
        Store *s = NULL;
        int64_t old, id;
        double v;

        if (!mkdtemp(dir))
                return;
        snprintf(path, sizeof path, "%s/db", dir);
        if (store_open(path, &s, &err) < 0) {
                printf("Bail out! cannot open store: %s\n", err ? err : "?");
                exit(99);
        }
        is_str(state_of(&cc, s, now, &o), "unknown", "latency_p95 with no run at all: unknown");
        is_str(o->reason, "no completed run of scenario peak", "saying no completed run of scenario peak");
        is_int(o->cause, CRITERION_CAUSE_NO_RUN, "with the cause no run");
        ok(o->has_rule && o->threshold == 300 && o->op == CRITERION_LT, "its rule is kept when unknown");

        old = run_add(s, "peak", now, 20 * USEC_PER_MIN, STORE_RUN_COMPLETED, 5000, 100 * USEC_PER_MSEC);
        is_str(state_of(&cc, s, now, &o), "unknown", "a completed run older than max_age: unknown");
        ok(reason_has(o, "(run 1) ended 20m ago (max_age 5m)"), "saying how old it is (%s)", o->reason);
        is_int(o->cause, CRITERION_CAUSE_STALE, "with the cause stale");

        cc.max_age_usec = USEC_PER_HOUR;
        is_str(state_of(&cc, s, now, &o), "met", "within a longer max_age: met");
        is_int(o->run_id, old, "judging that run");
        v = o->value;
        ok(v > 99 && v < 101, "its intended-start p95 in ms (%.3f)", v);
        is_int(o->requests, 5000, "evidence: its requests");
        ok(o->service_p95_ms > 9.9 && o->service_p95_ms < 10.1, "evidence: its service p95 (%.3f ms)",
           o->service_p95_ms);
        is_str(o->scenario, "peak", "evidence: its scenario");
        is_int(o->at_ms, (int64_t) ((now - 20 * USEC_PER_MIN) / USEC_PER_MSEC), "evidence: when it ended");

        cc.threshold = v;
        is_str(state_of(&cc, s, now, &o), "not_met", "p95 exactly at the threshold: not_met (< is strict)");
        cc.threshold = v + 0.001;
        is_str(state_of(&cc, s, now, &o), "met", "p95 a microsecond below the threshold: met");
        cc.op = CRITERION_LE;
        cc.threshold = v;
        is_str(state_of(&cc, s, now, &o), "met", "p95 at the threshold with <=: met");
        cc = latency_rule();

        id = run_add(s, "peak", now, USEC_PER_MIN, STORE_RUN_COMPLETED, 2000, 400 * USEC_PER_MSEC);
        (void) run_add(s, "peak", now, 0, STORE_RUN_CANCELLED, 5000, 10 * USEC_PER_MSEC);
        (void) run_add(s, "peak", now, 0, STORE_RUN_RUNNING, 5000, 10 * USEC_PER_MSEC);
        (void) run_add(s, "offpeak", now, 0, STORE_RUN_COMPLETED, 5000, 10 * USEC_PER_MSEC);
        is_str(state_of(&cc, s, now, &o), "not_met", "the latest completed run is judged: not_met");
        is_int(o->run_id, id, "that run, not the older completed one, nor the newer cancelled or running "
               "ones, nor another scenario's");
        ok(o->value > 399 && o->value < 401, "its p95 (%.3f ms)", o->value);

        cc.scenario = (char *) "offpeak";
        is_str(state_of(&cc, s, now, &o), "met", "scenario = offpeak judges that scenario's run");

        cc = latency_rule();
        id = run_add(s, "peak", now, 0, STORE_RUN_COMPLETED, 999, 10 * USEC_PER_MSEC);
        is_str(state_of(&cc, s, now, &o), "unknown", "a run with fewer than min_requests: unknown");
        ok(reason_has(o, "(run 6) has 999 requests (min_requests 1000)"), "saying so (%s)", o->reason);
        is_int(o->cause, CRITERION_CAUSE_TOO_FEW, "with the cause too few");
        cc.min_requests = 999;
        is_str(state_of(&cc, s, now, &o), "met", "with min_requests = 999: met");
        is_int(o->run_id, id, "judging that run");

        cc = latency_rule();
        cc.no_scenario = true;
        is_str(state_of(&cc, s, now, &o), "unknown", "no [scenario peak] configured: unknown, runs or not");
        is_str(o->reason, "no [scenario peak] is configured: add one, name another with scenario =, or turn "
               "latency_p95 off with enabled = no", "saying so and how to turn it off");
        is_int(o->cause, CRITERION_CAUSE_NO_SCENARIO, "with the cause no scenario");
        cc.disabled = true;
        is_str(state_of(&cc, s, now, &o), "disabled", "and disabled when turned off");
        cc = latency_rule();
        cc.disabled = true;
        is_str(state_of(&cc, s, now, &o), "disabled", "latency_p95 turned off with a run to judge: disabled");
        ok(o->run_id == 0 && !o->scenario, "judging no run");

        test_latency_timeouts(s, now);
        test_latency_failures(s, now);
        reset();
        store_free(s);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        if (system(path) != 0)
                printf("# could not remove %s\n", dir);
}

/* ---------------------------------------------------------------- zero_data_loss */

static CriterionConfig writes_rule(void) {
        return (CriterionConfig) {
                .name = (char *) "zero_data_loss",
                .kind = CRITERION_RUN_WRITES,
                .op = CRITERION_LE,
                .threshold = 0,
                .unit = (char *) "writes",
                .max_age_usec = USEC_PER_DAY,
                .scenario = (char *) "crdt",
                .min_conflicts = 1000,
        };
}

#define LOST(seq) "{\"token\":\"5eed0001" seq "\",\"document\":\"doc-1\",\"sent_at\":\"2026-12-01T18:00:00.003Z\"," \
                  "\"sent_ms\":3}"

/* A "writes" report as load/write-book.h renders it, with `sample` the
 * lost_sample's items. */
static const char *report(char *buf, size_t n, uint64_t ack, uint64_t lost, uint64_t unexpected, uint64_t unread,
                          uint64_t conflicts, const char *source, const char *sample) {
        snprintf(buf, n, "{\"attempted\":%" PRIu64 ",\"acknowledged\":%" PRIu64 ",\"failed\":0,\"indeterminate\":0,"
                 "\"ok\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"unread\":%" PRIu64 ",\"recovered\":0,\"unexpected\":%" PRIu64
                 ",\"duplicates\":0,\"other_runs\":0,\"conflicts\":%" PRIu64 ",\"conflicts_source\":\"%s\","
                 "\"documents\":5,\"documents_read\":5,\"lost_sample\":[%s],\"unexpected_sample\":[]}",
                 ack + 7, ack, ack - lost - unread, lost, unread, unexpected, conflicts, source, sample);
        return buf;
}

/* A run of crdt that ended `ago_usec` before now in `state`, with the
 * report `writes` (NULL: none) in its extra object.  Its id, or -1. */
static int64_t writes_run(Store *s, uint64_t now, uint64_t ago_usec, StoreRunState state, const char *writes) {
        int64_t id = run_add(s, "crdt", now, ago_usec, state, 2000, 10 * USEC_PER_MSEC);

        if (id > 0 && writes && store_run_set_extra(s, id, "writes", writes) < 0)
                return -1;
        return id;
}

/* The state of zero_data_loss over a new latest run with `writes`. */
static const char *writes_state(Store *s, uint64_t now, const char *writes, const CriterionResult **o,
                                int64_t *ret_id) {
        CriterionConfig cc = writes_rule();

        *ret_id = writes_run(s, now, 0, STORE_RUN_COMPLETED, writes);
        return state_of(&cc, s, now, o);
}

static void test_writes_met_and_not(Store *s, uint64_t now) {
        char buf[2048], want[512];
        const CriterionResult *o;
        int64_t id;

        is_str(writes_state(s, now, report(buf, sizeof buf, 120000, 0, 0, 0, 1500, "server", ""), &o, &id), "met",
               "lost 0, unexpected 0, unread 0, conflicts 1500 >= 1000: met");
        is_int(o->run_id, id, "judging that run");
        is_double(o->value, 0, 0, "value = lost = 0");
        ok(o->has_rule && o->op == CRITERION_LE && o->threshold == 0, "the rule shown: lost <= 0");
        ok(o->has_writes && o->writes.acknowledged == 120000 && o->writes.conflicts == 1500 &&
           o->writes.attempted == 120007 && o->writes.min_conflicts == 1000, "the figures are kept as evidence");
        is_str(o->writes.conflicts_source, "server", "with the source of the conflict count");
        is_str(o->evidence, "0 of 120000 acknowledged writes lost; 0 unexpected; 0 unread; conflicts 1500 (server)",
               "its summary line");
        is_str(o->scenario, "crdt", "and the scenario");
        ok(!o->reason, "a known state has no reason");

        is_str(writes_state(s, now, report(buf, sizeof buf, 120000, 3, 0, 0, 1520, "server",
                                           LOST("00000003") "," LOST("00000007") "," LOST("0000000b")), &o, &id), "not_met",
               "3 acknowledged writes lost: not_met");
        is_double(o->value, 3, 0, "value = lost = 3");
        is_str(o->evidence, "3 of 120000 acknowledged writes lost (e.g. 5eed000100000003, 5eed000100000007, "
               "5eed00010000000b); 0 unexpected; 0 unread; conflicts 1520 (server)",
               "the summary names the count and the first lost tokens");
        is_int(json_array_size(o->writes.lost_sample), 3, "the sample is kept");
        is_str(json_string_value(json_object_get(json_array_get(o->writes.lost_sample, 0), "document")), "doc-1",
               "with each lost write's document");

        is_str(writes_state(s, now, report(buf, sizeof buf, 120000, 7, 0, 0, 1520, "server",
                                           LOST("00000001") "," LOST("00000002") "," LOST("00000003") ","
                                           LOST("00000004") "," LOST("00000005") "," LOST("00000006") ","
                                           LOST("00000007")), &o, &id), "not_met", "7 lost: not_met");
        is_int(json_array_size(o->writes.lost_sample), CRITERIA_LOST_SHOWN, "the evidence keeps the first 5");
        is_str(json_string_value(json_object_get(json_array_get(o->writes.lost_sample, 4), "token")),
               "5eed000100000005", "in order");

        is_str(writes_state(s, now, report(buf, sizeof buf, 120000, 0, 1, 0, 1500, "client", ""), &o, &id),
               "not_met", "one unexpected element: not_met");
        is_double(o->value, 0, 0, "though value = lost = 0");
        is_str(o->evidence, "0 of 120000 acknowledged writes lost; 1 unexpected; 0 unread; conflicts 1500 (client)",
               "the summary says 1 unexpected");

        is_str(writes_state(s, now, report(buf, sizeof buf, 120000, 0, 0, 5, 1500, "client", ""), &o, &id),
               "not_met", "5 acknowledged writes never read back: not_met, not shown to be there");
        is_str(o->evidence, "0 of 120000 acknowledged writes lost; 0 unexpected; 5 unread; conflicts 1500 (client)",
               "the summary says 5 unread");

        is_str(writes_state(s, now, report(buf, sizeof buf, 120000, 0, 0, 0, 12, "client", ""), &o, &id),
               "not_met", "conflicts 12 < min_conflicts 1000: not_met");
        snprintf(want, sizeof want, "0 of 120000 acknowledged writes lost; 0 unexpected; 0 unread; conflicts 12 "
                 "(client) < min_conflicts 1000: a stress test that did not stress proves nothing");
        is_str(o->evidence, want, "saying why");
        is_str(writes_state(s, now, report(buf, sizeof buf, 120000, 0, 0, 0, 999, "client", ""), &o, &id),
               "not_met", "conflicts 999: not_met");
        is_str(writes_state(s, now, report(buf, sizeof buf, 120000, 0, 0, 0, 1000, "client", ""), &o, &id), "met",
               "conflicts exactly min_conflicts 1000: met");
}

static void test_writes_unknown(Store *s, uint64_t now) {
        CriterionConfig cc = writes_rule();
        const CriterionResult *o;
        char buf[2048], want[256];
        int64_t id;

        is_str(writes_state(s, now, NULL, &o, &id), "unknown", "a run without a writes member: unknown");
        snprintf(want, sizeof want, "run %" PRId64 " of scenario crdt has no lost-write report: its scenario has no "
                 "write and read lines", id);
        is_str(o->reason, want, "saying the scenario has no write lines");
        is_int(o->cause, CRITERION_CAUSE_NO_WRITES, "with the cause no writes");
        ok(!o->has_writes && !o->evidence, "and no evidence");

        is_str(writes_state(s, now, "{\"read_back\":false,\"attempted\":10}", &o, &id), "unknown",
               "a run that did not read back: unknown");
        ok(reason_has(o, "did not read its documents back"), "saying so (%s)", o->reason);
        is_int(o->cause, CRITERION_CAUSE_NO_WRITES, "with the cause no writes");

        is_str(writes_state(s, now, "\"lots\"", &o, &id), "unknown", "a writes member that is a string: unknown");
        snprintf(want, sizeof want, "run %" PRId64 " of scenario crdt has a lost-write report that is not a JSON "
                 "object", id);
        is_str(o->reason, want, "saying it is malformed");
        is_int(o->cause, CRITERION_CAUSE_BAD_WRITES, "with the cause bad writes");
        is_str(writes_state(s, now, "{\"acknowledged\":5,\"unexpected\":0,\"unread\":0,\"conflicts\":2000}", &o, &id),
               "unknown", "a report without lost: unknown, never met");
        ok(reason_has(o, "has a lost-write report that has no count lost"), "naming the missing count (%s)",
           o->reason);
        is_str(writes_state(s, now, "{\"acknowledged\":5,\"lost\":-1,\"unexpected\":0,\"unread\":0,\"conflicts\":2000}",
                            &o, &id), "unknown", "lost -1: unknown");
        is_str(writes_state(s, now, "{\"acknowledged\":5,\"lost\":1.5,\"unexpected\":0,\"unread\":0,\"conflicts\":2000}",
                            &o, &id), "unknown", "lost 1.5: unknown");
        is_str(writes_state(s, now, "{\"acknowledged\":5,\"lost\":4,\"unexpected\":0,\"unread\":2,\"conflicts\":2000}",
                            &o, &id), "unknown", "lost and unread beyond acknowledged: unknown");
        ok(reason_has(o, "counts 4 lost and 2 unread of 5 acknowledged"), "saying so (%s)", o->reason);

        cc.no_scenario = true;
        is_str(state_of(&cc, s, now, &o), "unknown", "no [scenario crdt] configured: unknown");
        is_str(o->reason, "no [scenario crdt] is configured: add one, name another with scenario =, or turn "
               "zero_data_loss off with enabled = no", "saying so, as latency_p95 does");
        cc = writes_rule();
        cc.disabled = true;
        is_str(state_of(&cc, s, now, &o), "disabled", "turned off: disabled");

        cc = writes_rule();
        cc.scenario = (char *) "nothing";
        is_str(state_of(&cc, s, now, &o), "unknown", "a scenario without runs: unknown");
        is_str(o->reason, "no completed run of scenario nothing", "saying so");
        is_int(o->cause, CRITERION_CAUSE_NO_RUN, "with the cause no run");
        (void) buf;
}

/* The latest completed run decides, however old the others are. */
static void test_writes_latest(Store *s, uint64_t now) {
        CriterionConfig cc = writes_rule();
        const CriterionResult *o;
        char buf[2048];
        int64_t old;

        old = writes_run(s, now, 2 * USEC_PER_DAY, STORE_RUN_COMPLETED,
                         report(buf, sizeof buf, 100, 0, 0, 0, 5000, "server", ""));
        (void) writes_run(s, now, 2 * USEC_PER_DAY, STORE_RUN_CANCELLED,
                          report(buf, sizeof buf, 100, 2, 0, 0, 5000, "server", ""));
        cc.scenario = (char *) "crdt";
        is_str(state_of(&cc, s, now, &o), "unknown", "the latest completed run ended 2d ago (max_age 1d): unknown");
        ok(reason_has(o, "ended 2d ago (max_age 1d)"), "saying how old it is (%s)", o->reason);
        is_int(o->cause, CRITERION_CAUSE_STALE, "with the cause stale");
        cc.max_age_usec = 3 * USEC_PER_DAY;
        is_str(state_of(&cc, s, now, &o), "met", "within max_age 3d: met");
        is_int(o->run_id, old, "judging it, not the newer cancelled run that lost 2");

        old = writes_run(s, now, USEC_PER_MIN, STORE_RUN_COMPLETED,
                         report(buf, sizeof buf, 100, 2, 0, 0, 5000, "server", LOST("00000001") "," LOST("00000002")));
        (void) writes_run(s, now, 0, STORE_RUN_CANCELLED, report(buf, sizeof buf, 100, 0, 0, 0, 5000, "server", ""));
        (void) writes_run(s, now, 0, STORE_RUN_ABORTED, "{\"read_back\":false}");
        (void) writes_run(s, now, 0, STORE_RUN_RUNNING, NULL);
        is_str(state_of(&cc, s, now, &o), "not_met", "newer cancelled, aborted and running runs do not hide the "
               "completed one that lost 2: not_met");
        is_int(o->run_id, old, "judging that one");
        is_double(o->value, 2, 0, "value 2");
}

/* perfwatchd --run's verdict by the same rule. */
static void test_writes_terminal(void) {
        CriterionConfig list[4] = { latency_rule(), {}, {}, writes_rule() };
        Config c = { .criteria = list, .n_criteria = 4 };
        char buf[2048], line[256];
        bool lat = false, wr = false;

        list[1].name = (char *) "memory";
        list[2].name = (char *) "acu_scaling";
        is_int(criteria_writes_judge(NULL, 1000, line, sizeof line), CRITERION_STATE_UNKNOWN,
               "criteria_writes_judge: no report: unknown");
        is_str(line, "the run has no lost-write report: its scenario has no write and read lines", "saying so");
        is_int(criteria_writes_judge(report(buf, sizeof buf, 500, 0, 0, 0, 1000, "client", ""), 1000, line, sizeof line),
               CRITERION_STATE_MET, "conflicts 1000 of min 1000: met");
        is_str(line, "0 of 500 acknowledged writes lost; 0 unexpected; 0 unread; conflicts 1000 (client)",
               "with the summary");
        is_int(criteria_writes_judge(report(buf, sizeof buf, 500, 0, 0, 0, 1000, "client", ""), 1001, line, sizeof line),
               CRITERION_STATE_NOT_MET, "min_conflicts 1001: not_met");
        is_int(criteria_writes_judge(report(buf, sizeof buf, 500, 1, 0, 0, 5000, "client", LOST("00000009")), 0, line,
                                     sizeof line), CRITERION_STATE_NOT_MET, "one lost: not_met");
        is_int(criteria_writes_judge("{", 0, line, sizeof line), CRITERION_STATE_UNKNOWN, "not JSON: unknown");

        is_int(terminal_run_writes_status(&list[3], report(buf, sizeof buf, 500, 0, 0, 0, 1500, "client", "")),
               TERMINAL_RUN_MET, "--run: met exits 0");
        is_int(terminal_run_writes_status(&list[3], report(buf, sizeof buf, 500, 3, 0, 0, 1500, "client", "")),
               TERMINAL_RUN_NOT_MET, "--run: 3 lost exits 1");
        is_int(terminal_run_writes_status(&list[3], report(buf, sizeof buf, 500, 0, 0, 0, 12, "client", "")),
               TERMINAL_RUN_NOT_MET, "--run: 12 conflicts exits 1");
        is_int(terminal_run_writes_status(&list[3], NULL), TERMINAL_RUN_ERROR, "--run: no report exits 2");

        terminal_run_judges(&c, "crdt", &lat, &wr);
        ok(!lat && wr, "--run crdt is judged by zero_data_loss alone");
        terminal_run_judges(&c, "peak", &lat, &wr);
        ok(lat && !wr, "--run peak by latency_p95 alone");
        terminal_run_judges(&c, "other", &lat, &wr);
        ok(lat && !wr, "--run of any other scenario by latency_p95, as before");
        list[0].scenario = (char *) "crdt";
        terminal_run_judges(&c, "crdt", &lat, &wr);
        ok(lat && wr, "--run crdt by both when both name it");

        is_int(terminal_run_worst(TERMINAL_RUN_MET, TERMINAL_RUN_MET), TERMINAL_RUN_MET, "both met: 0");
        is_int(terminal_run_worst(TERMINAL_RUN_MET, TERMINAL_RUN_NOT_MET), TERMINAL_RUN_NOT_MET, "one not met: 1");
        is_int(terminal_run_worst(TERMINAL_RUN_NOT_MET, TERMINAL_RUN_MET), TERMINAL_RUN_NOT_MET, "either way");
        is_int(terminal_run_worst(TERMINAL_RUN_ERROR, TERMINAL_RUN_NOT_MET), TERMINAL_RUN_NOT_MET,
               "not met and no verdict: 1");
        is_int(terminal_run_worst(TERMINAL_RUN_MET, TERMINAL_RUN_ERROR), TERMINAL_RUN_ERROR, "met and no verdict: 2");
}

static void test_writes_verdict(uint64_t now) {
        char dir[] = "/tmp/test-criteria-writes.XXXXXX", path[256], *err = NULL;
        CriterionConfig cc = writes_rule();
        const CriterionResult *o;
        Store *s = NULL;

        if (!mkdtemp(dir))
                return;
        snprintf(path, sizeof path, "%s/db", dir);
        if (store_open(path, &s, &err) < 0) {
                printf("Bail out! cannot open store: %s\n", err ? err : "?");
                exit(99);
        }
        is_str(state_of(&cc, s, now, &o), "unknown", "zero_data_loss with no run at all: unknown");
        is_str(o->reason, "no completed run of scenario crdt", "saying no completed run of scenario crdt");
        test_writes_met_and_not(s, now);
        test_writes_unknown(s, now);
        reset();
        store_free(s);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        if (system(path) != 0)
                printf("# could not remove %s\n", dir);
}

static void test_writes_latest_store(uint64_t now) {
        char dir[] = "/tmp/test-criteria-latest.XXXXXX", path[256], *err = NULL;
        Store *s = NULL;

        if (!mkdtemp(dir))
                return;
        snprintf(path, sizeof path, "%s/db", dir);
        if (store_open(path, &s, &err) < 0) {
                printf("Bail out! cannot open store: %s\n", err ? err : "?");
                exit(99);
        }
        test_writes_latest(s, now);
        reset();
        store_free(s);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        if (system(path) != 0)
                printf("# could not remove %s\n", dir);
}

/* ---------------------------------------------------------------- acu_scaling */

static CriterionConfig acu_rule(const char *series) {
        return (CriterionConfig) {
                .name = (char *) "acu_scaling",
                .kind = CRITERION_RUN_ACU,
                .threshold = NAN,
                .max_age_usec = USEC_PER_HOUR,
                .scenario = (char *) "spike",
                .series = (char *) series,
                .settle_usec = 60 * USEC_PER_SEC,
                .scale_up_within_usec = 60 * USEC_PER_SEC,
                .scale_to = 16,
                .min_acu = 2,
                .max_acu = 16,
                .max_gap_usec = 10 * USEC_PER_SEC,
        };
}

/* Points of `series` every 5 s from S - 5 s: values[i] at S + (i - 1) * 5 s. */
static void acu_points(Store *s, const char *series, int64_t start_ms, const double *values, size_t n) {
        for (size_t i = 0; i < n; i++)
                store_append(s, series, start_ms + ((int64_t) i - 1) * 5000, values[i]);
        store_flush(s);
}

/* A run of spike from S to S + 30 s: the window is [S, S + 90 s]. */
static int64_t acu_run(Store *s, int64_t start_ms) {
        StoreRun run = { .scenario = "spike", .model = "open", .started_at_ms = start_ms, .target_rps = 10 };
        int64_t id = -1;

        if (store_run_begin(s, &run, &id) < 0)
                return -1;
        run.state = STORE_RUN_COMPLETED;
        run.ended_at_ms = start_ms + 30000;
        run.duration_ms = 30000;
        return store_run_finish(s, id, &run, NULL, 0) < 0 ? -1 : id;
}

static void test_acu_unknowns(Store *s, uint64_t now) {
        CriterionConfig cc = acu_rule(NULL);
        const CriterionResult *o;

        is_str(state_of(&cc, s, now, &o), "unknown", "acu_scaling without a [capacity] section: unknown");
        is_str(o->reason, "no [capacity] section: nothing measures the capacity (add one, or turn acu_scaling off "
               "with enabled = no)", "saying so");
        is_int(o->cause, CRITERION_CAUSE_NO_SOURCE, "with the cause no source (STATUS= leaves it out)");
        cc.several_capacity = true;
        state_of(&cc, s, now, &o);
        ok(o->cause == CRITERION_CAUSE_NO_SERIES_SET && reason_has(o, "several [capacity] sections: set series = "
           "aurora.NAME.acu in [criterion acu_scaling]"), "several [capacity] sections: no series set, saying so");
        cc = acu_rule("aurora.db.acu");
        cc.no_scenario = true;
        state_of(&cc, s, now, &o);
        ok(o->cause == CRITERION_CAUSE_NO_SCENARIO && reason_has(o, "no [scenario spike] is configured"),
           "no [scenario spike]: unknown, saying so");
        cc.no_scenario = false;
        state_of(&cc, s, now, &o);
        ok(o->cause == CRITERION_CAUSE_NO_RUN && reason_has(o, "no completed run of scenario spike"),
           "no completed run: unknown, saying so");
}

static void test_acu_verdicts(Store *s, uint64_t now) {
        static const double ramp[] = { 2, 2, 4, 8, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16 };
        static const double stuck[] = { 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 };
        static const double beyond[] = { 2, 2, 8, 16, 20, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16 };
        int64_t start = (int64_t) (now / USEC_PER_MSEC) - 600000, id;
        CriterionConfig cc = acu_rule("aurora.ramp.acu");
        uint64_t soon = (uint64_t) (start + 100000) * USEC_PER_MSEC;
        const CriterionResult *o;
        char want[256], hms[3][16];

        id = acu_run(s, start);
        ok(id > 0, "(setup) a completed spike run 10 minutes ago");
        is_str(state_of(&cc, s, now, &o), "unknown", "its capacity series not stored: unknown");
        is_str(o->reason, "no series named aurora.ramp.acu (no capacity sample is stored yet)", "saying so");
        is_int(o->cause, CRITERION_CAUSE_UNKNOWN_SERIES, "with the cause unknown series");

        acu_points(s, "aurora.ramp.acu", start, ramp, ELEMENTSOF(ramp));
        is_str(state_of(&cc, s, now, &o), "met", "a ramp 2 -> 16 ACU in 15 s: met");
        is_double(o->value, 16, 0, "its value is the peak, 16 ACU");
        is_str(o->unit, "ACU", "in ACU");
        ok(o->has_acu && o->run_id == id && !strcmp(o->scenario, "spike") && !strcmp(o->series, "aurora.ramp.acu"),
           "evidence: the run, its scenario and the series");
        is_int(o->acu.time_to_peak_ms, 15000, "the peak 15 s after the run's start");
        is_int(o->acu.n_used, 19, "19 points judged: those in [S, S + 90 s], the one at S the start point");
        for (int i = 0; i < 3; i++) {
                time_t t = (time_t) ((start + (int64_t[]) { 0, 15000, 90000 }[i]) / 1000);
                strftime(hms[i], sizeof hms[i], "%H:%M:%S", gmtime(&t));
        }
        snprintf(want, sizeof want, "run %lld: start 2 ACU (%s, before the run), peak 16 ACU at %s (15s after the "
                 "start), 16 ACU after 15s, range 2-16 ACU over 19 points to %s", (long long) id, hms[0], hms[1],
                 hms[2]);
        is_str(o->evidence, want, "the evidence line gives the figures");
        ok(o->acu_window && json_array_size(json_object_get(o->acu_window, "points")) == 19 &&
           json_integer_value(json_array_get(json_array_get(json_object_get(o->acu_window, "points"), 0), 0)) == start,
           "the window's JSON holds the 19 points judged, from the run's start");
        ok(o->reason == NULL && o->cause == CRITERION_CAUSE_NONE, "no reason, no cause");

        cc.series = (char *) "aurora.stuck.acu";
        acu_points(s, cc.series, start, stuck, ELEMENTSOF(stuck));
        is_str(state_of(&cc, s, now, &o), "not_met", "stuck at 2 ACU: not_met");
        is_double(o->value, 2, 0, "the peak was 2 ACU");
        ok(o->acu.cause == ACU_WINDOW_CAUSE_TOO_SLOW && strstr(o->acu.reason, "the peak was 2 ACU"),
           "too slow, naming the peak: %s", o->acu.reason);

        cc.series = (char *) "aurora.beyond.acu";
        acu_points(s, cc.series, start, beyond, ELEMENTSOF(beyond));
        is_str(state_of(&cc, s, now, &o), "not_met", "20 ACU during the run: not_met");
        is_double(o->value, 20, 0, "the peak was 20 ACU");
        is_int(o->acu.cause, ACU_WINDOW_CAUSE_ABOVE_MAX, "above max_acu");

        /* Only the first 40 s of the window: CloudWatch has more to send. */
        cc.series = (char *) "aurora.short.acu";
        acu_points(s, cc.series, start, ramp, 10);
        is_str(state_of(&cc, s, soon, &o), "unknown", "data ending inside the window, 100 s after the start: unknown");
        is_int(o->cause, CRITERION_CAUSE_PENDING, "pending: the rest may still arrive");
        snprintf(want, sizeof want, "run %lld of scenario spike: capacity data reach ", (long long) id);
        ok(reason_has(o, want) && reason_has(o, "(data may still arrive until"), "saying so: %s", o->reason);
        state_of(&cc, s, now, &o);
        ok(o->state == CRITERION_STATE_UNKNOWN && o->cause == CRITERION_CAUSE_GAP,
           "10 minutes later, with nothing more: unknown, the data stopped");

        cc.series = (char *) "aurora.late.acu";
        acu_points(s, cc.series, start - 3600000, ramp, 3);
        state_of(&cc, s, now, &o);
        ok(o->state == CRITERION_STATE_UNKNOWN && o->cause == CRITERION_CAUSE_NO_SAMPLES &&
           reason_has(o, "no capacity datapoint between"), "no point in the window: unknown, no samples: %s",
           o->reason);

        cc.series = (char *) "aurora.ramp.acu";
        cc.max_age_usec = 5 * USEC_PER_MIN;
        state_of(&cc, s, now, &o);
        ok(o->cause == CRITERION_CAUSE_STALE && reason_has(o, "ended 9m30s ago (max_age 5m)"),
           "a run older than max_age: unknown, stale: %s", o->reason);
        cc.max_age_usec = USEC_PER_HOUR;
        cc.scale_to = 17;
        state_of(&cc, s, now, &o);
        ok(o->cause == CRITERION_CAUSE_BAD_DATA && reason_has(o, "scale_to 17 is outside"),
           "a rule that cannot be met (the config refuses it): unknown: %s", o->reason);
}

static void test_acu_verdict(uint64_t now) {
        char dir[] = "/tmp/test-criteria-acu.XXXXXX", path[256], *err = NULL;
        Store *s = NULL;

        if (!mkdtemp(dir))
                return;
        snprintf(path, sizeof path, "%s/db", dir);
        if (store_open(path, &s, &err) < 0) {
                printf("Bail out! cannot open store: %s\n", err ? err : "?");
                exit(99);
        }
        test_acu_unknowns(s, now);
        test_acu_verdicts(s, now);
        reset();
        store_free(s);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        if (system(path) != 0)
                printf("# could not remove %s\n", dir);
}

int main(void) {
        char dir[] = "/tmp/test-criteria.XXXXXX", path[256];
        uint64_t now = now_realtime_usec();
        Store *s = NULL;
        char *err = NULL;

        if (!mkdtemp(dir))
                return 99;
        snprintf(path, sizeof path, "%s/db", dir);
        if (store_open(path, &s, &err) < 0) {
                printf("Bail out! cannot open store: %s\n", err ? err : "?");
                return 99;
        }
        test_series_criterion(s, now);
        test_statistics(s, now);
        test_boundary(s, now);
        test_stale(s, now);
        test_unknown_series(s, now);
        test_time_limit(s, now);
        test_no_source_and_report(s, now);
        test_disabled(s, now);
        test_latency_verdict(now);
        test_writes_verdict(now);
        test_writes_latest_store(now);
        test_writes_terminal();
        test_acu_verdict(now);
        reset();
        store_free(s);

        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        if (system(path) != 0)
                printf("# could not remove %s\n", dir);
        return tap_done();
}
