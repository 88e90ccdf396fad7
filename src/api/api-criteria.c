/* The criteria's typed results (criteria.h) as the JSON of /v1/status and
 * /v1/criteria/NAME; the text tables are drawn from this JSON. */
#include <jansson.h>

#include "api/api-internal.h"
#include "util/units.h"
#include "util/util.h"

static json_t *iso_time(int64_t ms) {
        char buf[32];

        return json_string(units_format_iso8601((uint64_t) ms * USEC_PER_MSEC, buf, sizeof buf));
}

/* zero_data_loss's: the run, its lost-write figures, the one-line summary
 * and the first lost writes (copied: the snapshot shares nothing). */
static json_t *writes_evidence_json(const CriterionResult *c) {
        const CriterionWrites *w = &c->writes;

        return json_pack("{s:I, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:o}",
                         "run", (json_int_t) c->run_id,
                         "scenario", c->scenario,
                         "ended_at", iso_time(c->at_ms),
                         "summary", c->evidence,
                         "attempted", (json_int_t) w->attempted,
                         "acknowledged", (json_int_t) w->acknowledged,
                         "lost", (json_int_t) w->lost,
                         "unexpected", (json_int_t) w->unexpected,
                         "unread", (json_int_t) w->unread,
                         "recovered", (json_int_t) w->recovered,
                         "conflicts", (json_int_t) w->conflicts,
                         "conflicts_source", w->conflicts_source,
                         "min_conflicts", (json_int_t) w->min_conflicts,
                         "lost_sample", json_deep_copy(w->lost_sample));
}

/* acu_scaling's: the run, the series, the verdict's reason and figures,
 * the one line of acu_window_evidence() as "summary", and the capacity
 * points judged (at most ACU_WINDOW_JSON_POINTS: points_cut says when
 * every k-th was kept). */
static json_t *acu_evidence_json(const CriterionResult *c) {
        const AcuWindowResult *a = &c->acu;
        json_t *points = json_object_get(c->acu_window, "points");

        return json_pack("{s:I, s:s, s:s, s:s, s:s, s:f, s:o, s:f, s:o, s:f, s:o?, s:o, s:o, s:I, s:o?, s:b}",
                         "run", (json_int_t) c->run_id,
                         "scenario", c->scenario,
                         "series", c->series,
                         "summary", c->evidence,
                         "verdict", a->reason,
                         "start_acu", a->start_acu,
                         "peak_at", iso_time(a->peak_at_ms),
                         "time_to_peak_s", (double) a->time_to_peak_ms / 1000.0,
                         "time_to_scale_to_s", a->reached ? json_real((double) a->time_to_scale_to_ms / 1000.0)
                                                          : json_null(),
                         "lowest_acu", a->lowest,
                         "violation_at", a->has_violation ? iso_time(a->violation_at_ms) : NULL,
                         "window_from", iso_time(a->window_start_ms),
                         "window_to", iso_time(a->window_end_ms),
                         "points_used", (json_int_t) a->n_used,
                         "points", json_deep_copy(points),   /* NB: the snapshot shares nothing */
                         "points_cut", json_is_true(json_object_get(c->acu_window, "points_cut")));
}

static json_t *evidence_json(const CriterionResult *c) {
        char window[32];

        if (c->has_writes)
                return writes_evidence_json(c);
        if (c->has_acu)
                return acu_evidence_json(c);
        if (c->run_id > 0)
                return json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:s*}",
                                 "run", (json_int_t) c->run_id,
                                 "scenario", c->scenario,
                                 "requests", (json_int_t) c->requests,
                                 "timeouts", (json_int_t) c->timeouts,
                                 "failed", (json_int_t) c->failed,
                                 "dropped", (json_int_t) c->dropped,
                                 "service_p95_ms", api_json_number(c->service_p95_ms),
                                 "ended_at", iso_time(c->at_ms),
                                 "summary", c->evidence);

        return json_pack("{s:s, s:s, s:s, s:o, s:I, s:o}",
                         "series", c->series,
                         "statistic", config_stat_to_string(c->statistic),
                         "window", units_format_duration(c->window_usec, window, sizeof window),
                         "at", iso_time(c->at_ms),
                         "samples", (json_int_t) c->samples,
                         "newest", iso_time(c->newest_ms));
}

json_t *api_criterion_json(const CriterionResult *c) {
        json_t *o = json_pack("{s:s}", "name", c->name);
        int k = 0;

        if (!o)
                return NULL;
        if (c->has_rule) {
                k |= json_object_set_new(o, "op", json_string(config_op_to_string(c->op)));
                k |= json_object_set_new(o, "threshold", api_json_number(c->threshold));
        }
        if (c->unit)
                k |= json_object_set_new(o, "unit", json_string(c->unit));
        k |= json_object_set_new(o, "state", json_string(criteria_state_to_string(c->state)));
        if (c->state == CRITERION_STATE_UNKNOWN || c->state == CRITERION_STATE_DISABLED)
                k |= json_object_set_new(o, "reason", json_string(c->reason ? c->reason : "?"));
        else {
                k |= json_object_set_new(o, "value", api_json_number(c->value));
                k |= json_object_set_new(o, "evidence", evidence_json(c));
        }
        if (k != 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *api_criteria_json(const CriteriaReport *r) {
        json_t *list = json_array();
        char at[32];

        if (!list)
                return NULL;
        for (size_t i = 0; i < r->n_results; i++)
                if (json_array_append_new(list, api_criterion_json(&r->results[i])) < 0) {
                        json_decref(list);
                        return NULL;
                }
        return json_pack("{s:b, s:s, s:o}", "ok", criteria_report_all_met(r), "evaluated_at",
                         units_format_iso8601(r->evaluated_at_usec, at, sizeof at), "criteria", list);
}
