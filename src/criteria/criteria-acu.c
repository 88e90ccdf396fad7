/* The acu_scaling criterion: the latest completed run of its scenario, the
 * capacity series over that run's window (acu_window_read_range()), and
 * acu_window_judge()'s verdict mapped onto the criterion's state. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "criteria/criteria-internal.h"
#include "util/units.h"
#include "util/util.h"

#define ACU_EVIDENCE_SIZE 512

static CriterionState state_of(AcuWindowState s) {
        switch (s) {
        case ACU_WINDOW_MET: return CRITERION_STATE_MET;
        case ACU_WINDOW_NOT_MET: return CRITERION_STATE_NOT_MET;
        case ACU_WINDOW_UNKNOWN: break;
        }
        return CRITERION_STATE_UNKNOWN;
}

/* Why an unknown judgement is unknown, in the criterion's terms. */
static CriterionCause cause_of(AcuWindowCause c) {
        switch (c) {
        case ACU_WINDOW_CAUSE_NO_POINTS: return CRITERION_CAUSE_NO_SAMPLES;
        case ACU_WINDOW_CAUSE_PENDING: return CRITERION_CAUSE_PENDING;
        case ACU_WINDOW_CAUSE_GAP:
        case ACU_WINDOW_CAUSE_DATA_END: return CRITERION_CAUSE_GAP;
        case ACU_WINDOW_CAUSE_BAD_POINTS:
        case ACU_WINDOW_CAUSE_BAD_PARAMS: return CRITERION_CAUSE_BAD_DATA;
        default: break;
        }
        return CRITERION_CAUSE_NONE;
}

static void params_of(AcuWindowParams *p, const CriterionConfig *cc, const StoreRunLatest *l) {
        acu_window_params_init(p, l->started_at_ms, l->ended_at_ms);
        p->settle_ms = (int64_t) (cc->settle_usec / USEC_PER_MSEC);
        p->scale_up_within_ms = (int64_t) (cc->scale_up_within_usec / USEC_PER_MSEC);
        p->max_gap_ms = (int64_t) (cc->max_gap_usec / USEC_PER_MSEC);
        if (cc->lag_usec > 0)
                p->lag_ms = (int64_t) (cc->lag_usec / USEC_PER_MSEC);
        p->scale_to = cc->scale_to;
        p->min_acu = cc->min_acu;
        p->max_acu = cc->max_acu;
}

/* The judgement into `res`: the state, the cause and, when unknown, the
 * reason naming the run; the figures and the evidence line whatever the
 * state. */
static int judged(CriterionResult *res, const CriterionConfig *cc, const StoreRunLatest *l) {
        char evidence[ACU_EVIDENCE_SIZE];

        res->has_acu = true;
        res->run_id = l->id;
        if (!(res->scenario = strdup(cc->scenario)) || !(res->series = strdup(cc->series)) ||
            !(res->unit = res->unit ?: strdup("ACU")) ||
            !(res->evidence = strdup(acu_window_evidence(&res->acu, l->id, evidence, sizeof evidence))))
                return -ENOMEM;
        res->state = state_of(res->acu.state);
        if (res->state == CRITERION_STATE_UNKNOWN)
                return criteria_unknown(res, cause_of(res->acu.cause), "run %" PRId64 " of scenario %s: %s", l->id,
                                        cc->scenario, res->acu.reason);
        res->cause = CRITERION_CAUSE_NONE;
        res->value = res->acu.peak_acu;
        res->at_ms = res->acu.peak_at_ms;
        res->samples = res->acu.n_used;
        res->newest_ms = res->acu.last_at_ms;
        return 0;
}

/* Reads the capacity over the run's window and judges it.  A negative
 * errno of the store (-ETIMEDOUT, -ENOENT: no such series) for the caller
 * to report, else what judged() returns. */
static int judge_run(CriterionResult *res, const CriterionConfig *cc, Store *store, const StoreRunLatest *l,
                     uint64_t now_usec) {
        AcuWindowParams p;
        AcuPoints points = {};
        int64_t from_ms, to_ms;
        int k;

        params_of(&p, cc, l);
        acu_window_read_range(&p, &from_ms, &to_ms);
        k = store_series_raw(store, cc->series, from_ms, to_ms, ACU_POINTS_MAX, NULL, acu_points_add, &points);
        if (k == 1 || k == -E2BIG)
                k = criteria_unknown(res, CRITERION_CAUSE_TOO_MANY, "run %" PRId64 " of scenario %s: more than "
                                     "%u points of %s in its window: too many to judge", l->id, cc->scenario,
                                     ACU_POINTS_MAX, cc->series);
        else if (k >= 0) {
                (void) acu_window_judge(&p, points.points, points.n, (int64_t) (now_usec / USEC_PER_MSEC),
                                        &res->acu);
                res->acu_window = acu_window_to_json(&res->acu, points.points, points.n);
                k = res->acu_window ? judged(res, cc, l) : -ENOMEM;
        }
        acu_points_clear(&points);
        return k;
}

/* A failed read of the runs or of the series. */
static int read_failed(CriterionResult *res, const CriterionConfig *cc, uint64_t limit_usec, int k,
                       const char *error) {
        char limit[32];

        if (k == -ETIMEDOUT)
                return criteria_unknown(res, CRITERION_CAUSE_TIME_LIMIT, "reading the runs of scenario %s and %s "
                                        "took longer than the %s limit", cc->scenario, cc->series,
                                        units_format_duration(limit_usec, limit, sizeof limit));
        if (k == -ENOENT)
                return criteria_unknown(res, CRITERION_CAUSE_UNKNOWN_SERIES, "no series named %s (no capacity "
                                        "sample is stored yet)", cc->series);
        return criteria_unknown(res, CRITERION_CAUSE_STORE_ERROR, "store: cannot read the runs of scenario %s "
                                "or %s: %s", cc->scenario, cc->series, error ?: strerror(-k));
}

int criteria_acu_judge_run(CriterionResult *res, const CriterionConfig *cc, Store *store,
                           const StoreRunLatest *run, uint64_t now_usec, uint64_t limit_usec) {
        int k = judge_run(res, cc, store, run, now_usec);

        return k < 0 && k != -ENOMEM ? read_failed(res, cc, limit_usec, k, NULL) : k;
}

int criteria_evaluate_acu(CriterionResult *res, const CriterionConfig *cc, Store *store, uint64_t now_usec,
                          uint64_t limit_usec) {
        StoreRunLatest l = {};
        char *error = NULL;
        int k;

        if (!cc->series && cc->several_capacity)
                return criteria_unknown(res, CRITERION_CAUSE_NO_SERIES_SET, "several [capacity] sections: set "
                                        "series = aurora.NAME.acu in [criterion %s]", cc->name);
        if (!cc->series)
                return criteria_unknown(res, CRITERION_CAUSE_NO_SOURCE, "no [capacity] section: nothing measures "
                                        "the capacity (add one, or turn %s off with enabled = no)", cc->name);
        if (cc->no_scenario)
                return criteria_no_scenario(res, cc);
        k = store_run_latest_completed(store, cc->scenario, &l, &error);
        if (k == -ENOENT)
                return criteria_run_read_failed(res, cc, k, NULL, limit_usec);
        if (k >= 0) {
                k = criteria_run_stale(res, cc, &l, now_usec);
                if (k <= 0)
                        return k;
                k = criteria_acu_judge_run(res, cc, store, &l, now_usec, limit_usec);
        } else if (k != -ENOMEM)
                k = read_failed(res, cc, limit_usec, k, error);
        free(error);
        return k;
}
