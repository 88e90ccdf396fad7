/* Criteria evaluation: each criterion's statistic read from the store and
 * compared with its threshold, into a typed CriterionResult. */
#include "config/config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "criteria/criteria.h"
#include "criteria/criteria-internal.h"
#include "load/histogram.h"
#include "util/units.h"
#include "util/util.h"

static bool compare(double value, CriterionOp op, double threshold) {
        switch (op) {
        case CRITERION_LT: return value < threshold;
        case CRITERION_LE: return value <= threshold;
        case CRITERION_GT: return value > threshold;
        case CRITERION_GE: return value >= threshold;
        }
        return false;
}

static StoreStat store_stat(CriterionStat s) {
        switch (s) {
        case CRITERION_MIN: return STORE_STAT_MIN;
        case CRITERION_AVG: return STORE_STAT_AVG;
        case CRITERION_LAST: return STORE_STAT_LAST;
        case CRITERION_MAX: break;
        }
        return STORE_STAT_MAX;
}

int criteria_unknown(CriterionResult *res, CriterionCause cause, const char *fmt, ...) {
        char reason[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        res->state = CRITERION_STATE_UNKNOWN;
        res->cause = cause;
        res->reason = strdup(reason);
        return res->reason ? 0 : -ENOMEM;
}

/* A store read that failed: the time limit, or the store itself. */
static int read_failed(CriterionResult *res, const CriterionConfig *cc, uint64_t limit_usec, int k) {
        char limit[32];

        if (k == -ETIMEDOUT)
                return criteria_unknown(res, CRITERION_CAUSE_TIME_LIMIT,
                               "reading %s took longer than the %s limit", cc->series,
                               units_format_duration(limit_usec, limit, sizeof limit));
        return criteria_unknown(res, CRITERION_CAUSE_STORE_ERROR, "store: cannot read %s: %s", cc->series,
                       strerror(-k));
}

/* No samples in the window: is the series missing altogether? */
static int no_samples(CriterionResult *res, const CriterionConfig *cc, Store *store,
                      uint64_t limit_usec) {
        char window[32], *nearest = NULL;
        int k, r;

        k = store_series_nearest(store, cc->series, &nearest);
        if (k == -ENOENT) {
                if (nearest)
                        r = criteria_unknown(res, CRITERION_CAUSE_UNKNOWN_SERIES,
                                    "no series named %s (nearest known: %s)", cc->series, nearest);
                else
                        r = criteria_unknown(res, CRITERION_CAUSE_UNKNOWN_SERIES,
                                    "no series named %s (no series is stored yet)", cc->series);
                free(nearest);
                return r;
        }
        if (k < 0)
                return read_failed(res, cc, limit_usec, k);
        return criteria_unknown(res, CRITERION_CAUSE_NO_SAMPLES, "no samples of %s in the last %s", cc->series,
                       units_format_duration(cc->window_usec, window, sizeof window));
}

static int evaluate_series(CriterionResult *res, const CriterionConfig *cc, Store *store,
                           uint64_t now_usec, uint64_t limit_usec) {
        char age[32], max_age[32];
        int64_t now_ms = (int64_t) (now_usec / USEC_PER_MSEC);
        int64_t from_ms = now_ms - (int64_t) (cc->window_usec / USEC_PER_MSEC);
        StoreStatResult r = {};
        uint64_t age_usec;
        int k;

        if (!cc->series)
                return criteria_unknown(res, CRITERION_CAUSE_NO_SERIES_SET,
                               "no series configured: set series= in [criterion %s]", cc->name);

        k = store_series_stat(store, cc->series, from_ms, now_ms, store_stat(cc->statistic), &r);
        if (k < 0)
                return read_failed(res, cc, limit_usec, k);
        if (r.count == 0)
                return no_samples(res, cc, store, limit_usec);

        age_usec = now_ms > r.newest_ms ? (uint64_t) (now_ms - r.newest_ms) * USEC_PER_MSEC : 0;
        if (age_usec > cc->max_age_usec)
                return criteria_unknown(res, CRITERION_CAUSE_STALE, "newest sample of %s is %s old (max_age %s)",
                               cc->series,
                               units_format_duration(age_usec / USEC_PER_SEC * USEC_PER_SEC, age, sizeof age),
                               units_format_duration(cc->max_age_usec, max_age, sizeof max_age));

        res->state = compare(r.value, cc->op, cc->threshold) ? CRITERION_STATE_MET : CRITERION_STATE_NOT_MET;
        res->cause = CRITERION_CAUSE_NONE;
        res->value = r.value;
        res->series = strdup(cc->series);
        res->statistic = cc->statistic;
        res->window_usec = cc->window_usec;
        res->at_ms = r.value_ms;
        res->samples = r.count;
        res->newest_ms = r.newest_ms;
        return res->series ? 0 : -ENOMEM;
}

/* The p95 from the intended start of run `l`, in ms, judged as
 * perfwatchd --run judges it: a request that timed out is in the latency
 * histogram at the time it was given up (at least the timeout), so the
 * stored p95 counts it; *ret_beyond when the p95's rank falls among the
 * timeouts, so that it is known only to be above the timeout. */
static void run_p95(const StoreRunLatest *l, double *ret_ms, bool *ret_beyond) {
        uint64_t n = l->latency_count, t = l->err_timeout;

        *ret_beyond = t > 0 && (t >= n || (n - t) * 100 < n * 95);
        *ret_ms = (double) l->latency_p95_usec / USEC_PER_MSEC;
}

int criteria_run_stale(CriterionResult *res, const CriterionConfig *cc, const StoreRunLatest *l,
                       uint64_t now_usec) {
        int64_t now_ms = (int64_t) (now_usec / USEC_PER_MSEC);
        char age[32], max_age[32];
        uint64_t age_usec;

        age_usec = now_ms > l->ended_at_ms ? (uint64_t) (now_ms - l->ended_at_ms) * USEC_PER_MSEC : 0;
        if (age_usec > cc->max_age_usec)
                return criteria_unknown(res, CRITERION_CAUSE_STALE, "latest completed run of scenario %s (run %" PRId64
                               ") ended %s ago (max_age %s)", cc->scenario, l->id,
                               units_format_duration(age_usec / USEC_PER_SEC * USEC_PER_SEC, age, sizeof age),
                               units_format_duration(cc->max_age_usec, max_age, sizeof max_age));
        return 1;
}

/* A run that cannot be judged: none, too old or too small. */
static int run_unusable(CriterionResult *res, const CriterionConfig *cc, const StoreRunLatest *l,
                        uint64_t now_usec) {
        int k = criteria_run_stale(res, cc, l, now_usec);

        if (k <= 0)
                return k;
        if (l->requests < cc->min_requests)
                return criteria_unknown(res, CRITERION_CAUSE_TOO_FEW, "latest completed run of scenario %s (run %" PRId64
                               ") has %" PRIu64 " requests (min_requests %" PRIu64 ")", cc->scenario, l->id,
                               l->requests, cc->min_requests);
        if (l->latency_count == 0 && l->err_timeout == 0)
                return criteria_unknown(res, CRITERION_CAUSE_TOO_FEW, "latest completed run of scenario %s (run %" PRId64
                               ") has no answered or timed-out request", cc->scenario, l->id);
        return 1;
}

int criteria_no_scenario(CriterionResult *res, const CriterionConfig *cc) {
        return criteria_unknown(res, CRITERION_CAUSE_NO_SCENARIO, "no [scenario %s] is configured: add one, "
                                "name another with scenario =, or turn %s off with enabled = no", cc->scenario,
                                cc->name);
}

bool criteria_run_unsound(uint64_t requests, uint64_t failed, uint64_t dropped, char *buf, size_t size) {
        uint64_t scheduled = requests + dropped;

        if (size > 0)
                buf[0] = '\0';
        if (failed * 20 > requests) {
                snprintf(buf, size, "%" PRIu64 " of %" PRIu64 " requests failed (%.1f%%, more than 5%%): "
                         "the p95 of the others does not show a working service", failed, requests,
                         100.0 * (double) failed / (double) requests);
                return true;
        }
        if (dropped > 0 && dropped * 20 > scheduled) {
                snprintf(buf, size, "%" PRIu64 " of %" PRIu64 " scheduled requests dropped at max_inflight "
                         "(%.1f%%, more than 5%%): the load was not sent", dropped, scheduled,
                         100.0 * (double) dropped / (double) scheduled);
                return true;
        }
        return false;
}

int criteria_run_read_failed(CriterionResult *res, const CriterionConfig *cc, int k, const char *error,
                             uint64_t limit_usec) {
        char limit[32];

        if (k == -ENOMEM)
                return k;
        if (k == -ENOENT)
                return criteria_unknown(res, CRITERION_CAUSE_NO_RUN, "no completed run of scenario %s", cc->scenario);
        if (k == -ETIMEDOUT)
                return criteria_unknown(res, CRITERION_CAUSE_TIME_LIMIT, "reading the runs of scenario %s took longer "
                                        "than the %s limit", cc->scenario,
                                        units_format_duration(limit_usec, limit, sizeof limit));
        return criteria_unknown(res, CRITERION_CAUSE_STORE_ERROR, "store: cannot read the runs of scenario %s: %s",
                                cc->scenario, error ?: strerror(-k));
}

/* The latest completed run of the scenario, if recent and big enough:
 * its p95 from each request's intended start, in ms. */
static int evaluate_run(CriterionResult *res, const CriterionConfig *cc, Store *store,
                        uint64_t now_usec, uint64_t limit_usec) {
        StoreRunLatest l = {};
        char unsound[200], *error = NULL;
        bool beyond = false, bad = false;
        int k;

        if (cc->no_scenario)
                return criteria_no_scenario(res, cc);
        k = store_run_latest_completed(store, cc->scenario, &l, &error);
        if (k < 0) {
                k = criteria_run_read_failed(res, cc, k, error, limit_usec);
                free(error);
                return k;
        }
        k = run_unusable(res, cc, &l, now_usec);
        if (k <= 0)
                return k;
        run_p95(&l, &res->value, &beyond);
        bad = criteria_run_unsound(l.requests, l.failed, l.dropped, unsound, sizeof unsound);
        res->state = !beyond && !bad && compare(res->value, cc->op, cc->threshold) ? CRITERION_STATE_MET
                                                                                   : CRITERION_STATE_NOT_MET;
        res->cause = CRITERION_CAUSE_NONE;
        res->run_id = l.id;
        res->requests = l.requests;
        res->timeouts = l.err_timeout;
        res->failed = l.failed;
        res->dropped = l.dropped;
        if (bad) {
                char line[256];

                snprintf(line, sizeof line, "run %" PRId64 ": %s", l.id, unsound);
                res->evidence = strdup(line);
                if (!res->evidence)
                        return -ENOMEM;
        }
        res->service_p95_ms = (double) l.service_p95_usec / USEC_PER_MSEC;
        res->at_ms = l.ended_at_ms;
        res->scenario = strdup(cc->scenario);
        return res->scenario ? 0 : -ENOMEM;
}

/* The rule itself: what is compared with what, kept whatever the state, so
 * a reader of an `unknown` answer still sees what would be checked. */
static int copy_rule(CriterionResult *res, const CriterionConfig *cc) {
        res->name = strdup(cc->name);
        if (!res->name)
                return -ENOMEM;
        if (isnan(cc->threshold))
                return 0;
        res->has_rule = true;
        res->op = cc->op;
        res->threshold = cc->threshold;
        if (cc->unit && cc->unit[0] && !(res->unit = strdup(cc->unit)))
                return -ENOMEM;
        return 0;
}

static int criterion_evaluate(CriterionResult *res, const CriterionConfig *cc, Store *store,
                              uint64_t now_usec, uint64_t limit_usec) {
        int r;

        r = copy_rule(res, cc);
        if (r < 0)
                return r;
        if (cc->disabled) {
                res->state = CRITERION_STATE_DISABLED;
                res->cause = CRITERION_CAUSE_NONE;
                res->reason = strdup("turned off: enabled = no");
                return res->reason ? 0 : -ENOMEM;
        }
        if (cc->kind == CRITERION_NO_SOURCE)
                return criteria_unknown(res, CRITERION_CAUSE_NO_SOURCE, "no data source yet");

        /* NB: the deadline covers this criterion's reads only, so one slow
         * series cannot make the others unknown too. */
        store_set_deadline(store, limit_usec ? now_monotonic_usec() + limit_usec : 0);
        if (cc->kind == CRITERION_RUN_LATENCY)
                r = evaluate_run(res, cc, store, now_usec, limit_usec);
        else if (cc->kind == CRITERION_RUN_WRITES)
                r = criteria_evaluate_writes(res, cc, store, now_usec, limit_usec);
        else if (cc->kind == CRITERION_RUN_ACU)
                r = criteria_evaluate_acu(res, cc, store, now_usec, limit_usec);
        else
                r = evaluate_series(res, cc, store, now_usec, limit_usec);
        store_set_deadline(store, 0);
        return r;
}

int criteria_evaluate(const CriterionConfig *list, size_t n, Store *store, uint64_t now_usec,
                      uint64_t limit_usec, CriteriaReport **ret) {
        uint64_t start = now_monotonic_usec();
        CriteriaReport *rep;

        rep = calloc(1, sizeof *rep);
        if (!rep)
                return -ENOMEM;
        rep->evaluated_at_usec = now_usec;
        rep->results = calloc(n + 1, sizeof *rep->results);
        if (!rep->results) {
                free(rep);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                rep->n_results++;
                if (criterion_evaluate(&rep->results[i], &list[i], store, now_usec, limit_usec) < 0) {
                        criteria_report_free(rep);
                        return -ENOMEM;
                }
        }
        rep->duration_usec = now_monotonic_usec() - start;
        *ret = rep;
        return 0;
}

bool criteria_report_all_met(const CriteriaReport *r) {
        for (size_t i = 0; r && i < r->n_results; i++)
                if (r->results[i].state != CRITERION_STATE_MET &&
                    r->results[i].state != CRITERION_STATE_DISABLED)
                        return false;
        return true;
}

void criteria_result_clear(CriterionResult *res) {
        if (!res)
                return;
        free(res->name);
        free(res->reason);
        free(res->unit);
        free(res->series);
        free(res->scenario);
        free(res->evidence);
        json_decref(res->writes.lost_sample);
        json_decref(res->acu_window);
        *res = (CriterionResult) {};
}

CriteriaReport *criteria_report_free(CriteriaReport *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_results; i++)
                criteria_result_clear(&r->results[i]);
        free(r->results);
        free(r);
        return NULL;
}

const char *criteria_state_to_string(CriterionState s) {
        switch (s) {
        case CRITERION_STATE_MET: return "met";
        case CRITERION_STATE_NOT_MET: return "not_met";
        case CRITERION_STATE_DISABLED: return "disabled";
        case CRITERION_STATE_UNKNOWN: break;
        }
        return "unknown";
}
