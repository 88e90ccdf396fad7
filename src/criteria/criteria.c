#include "config/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "criteria/criteria.h"
#include "util/units.h"

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

static json_t *unknown(json_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *unknown(json_t *o, const char *fmt, ...) {
        char reason[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        json_object_set_new(o, "state", json_string("unknown"));
        json_object_set_new(o, "reason", json_string(reason));
        return o;
}

/* Whole numbers print as integers ("536870912", not "536870912.0"). */
static json_t *number(double v) {
        if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double) (json_int_t) v)
                return json_integer((json_int_t) v);
        return json_real(v);
}

static json_t *iso_time(int64_t ms) {
        char buf[32];
        return json_string(units_format_iso8601((uint64_t) ms * USEC_PER_MSEC, buf, sizeof buf));
}

/* The rule itself: what is compared with what.  Shown whatever the state, so
 * a reader of an `unknown` answer still sees what would be checked. */
static void add_rule(json_t *o, const CriterionConfig *cc) {
        if (isnan(cc->threshold))
                return;
        json_object_set_new(o, "op", json_string(config_op_to_string(cc->op)));
        json_object_set_new(o, "threshold", number(cc->threshold));
        if (cc->unit && cc->unit[0])
                json_object_set_new(o, "unit", json_string(cc->unit));
}

static json_t *evidence(const CriterionConfig *cc, const StoreStatResult *r) {
        char window[32];

        return json_pack("{s:s, s:s, s:s, s:o, s:I, s:o}",
                         "series", cc->series,
                         "statistic", config_stat_to_string(cc->statistic),
                         "window", units_format_duration(cc->window_usec, window, sizeof window),
                         "at", iso_time(r->value_ms),
                         "samples", (json_int_t) r->count,
                         "newest", iso_time(r->newest_ms));
}

static json_t *evaluate_series(const CriterionConfig *cc, Store *store, uint64_t now_usec, json_t *o) {
        char window[32], age[32], max_age[32];
        int64_t now_ms = (int64_t) (now_usec / USEC_PER_MSEC);
        int64_t from_ms = now_ms - (int64_t) (cc->window_usec / USEC_PER_MSEC);
        StoreStatResult r = {};
        uint64_t age_usec;
        int k;

        if (!cc->series)
                return unknown(o, "no series configured: set series= in [criterion %s]", cc->name);

        k = store_series_stat(store, cc->series, from_ms, now_ms, store_stat(cc->statistic), &r);
        if (k < 0)
                return unknown(o, "store: cannot read %s: %s", cc->series, strerror(-k));
        units_format_duration(cc->window_usec, window, sizeof window);
        if (r.count == 0)
                return unknown(o, "no samples of %s in the last %s", cc->series, window);

        age_usec = now_ms > r.newest_ms ? (uint64_t) (now_ms - r.newest_ms) * USEC_PER_MSEC : 0;
        if (age_usec > cc->max_age_usec)
                return unknown(o, "newest sample of %s is %s old (max_age %s)", cc->series,
                               units_format_duration(age_usec / USEC_PER_SEC * USEC_PER_SEC, age, sizeof age),
                               units_format_duration(cc->max_age_usec, max_age, sizeof max_age));

        json_object_set_new(o, "state",
                            json_string(compare(r.value, cc->op, cc->threshold) ? "met" : "not_met"));
        json_object_set_new(o, "value", number(r.value));
        json_object_set_new(o, "evidence", evidence(cc, &r));
        return o;
}

int criterion_evaluate(const CriterionConfig *cc, Store *store, uint64_t now_usec, json_t **ret) {
        json_t *o = json_object();

        if (!o)
                return -ENOMEM;
        json_object_set_new(o, "name", json_string(cc->name));
        add_rule(o, cc);

        if (cc->kind == CRITERION_NO_SOURCE)
                unknown(o, "no data source yet");
        else
                evaluate_series(cc, store, now_usec, o);

        *ret = o;
        return 0;
}

int criteria_evaluate(const Config *c, Store *store, uint64_t now_usec, json_t **ret) {
        json_t *status, *list;
        bool all_met = true;
        char at[32];

        list = json_array();
        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_criteria; i++) {
                json_t *one;
                int k = criterion_evaluate(&c->criteria[i], store, now_usec, &one);
                if (k < 0) {
                        json_decref(list);
                        return k;
                }
                if (strcmp(json_string_value(json_object_get(one, "state")), "met") != 0)
                        all_met = false;
                json_array_append_new(list, one);
        }

        status = json_pack("{s:b, s:s, s:o}", "ok", all_met, "evaluated_at",
                           units_format_iso8601(now_usec, at, sizeof at), "criteria", list);
        if (!status)
                return -ENOMEM;
        *ret = status;
        return 0;
}

void criteria_count(const json_t *status, unsigned *ret_met, unsigned *ret_not_met,
                    unsigned *ret_unknown) {
        const json_t *list = json_object_get(status, "criteria");
        unsigned met = 0, not_met = 0, unk = 0;
        size_t i;
        json_t *c;

        json_array_foreach(list, i, c) {
                const char *s = json_string_value(json_object_get(c, "state"));
                if (s && strcmp(s, "met") == 0)
                        met++;
                else if (s && strcmp(s, "not_met") == 0)
                        not_met++;
                else
                        unk++;
        }
        *ret_met = met;
        *ret_not_met = not_met;
        *ret_unknown = unk;
}
