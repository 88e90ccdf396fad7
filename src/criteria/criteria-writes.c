/* The zero_data_loss criterion: the "writes" report of the latest completed
 * run of its scenario (load/write-book.h's write_book_report_json(), kept
 * in the run's extra object), judged as the seed states it: no
 * acknowledged write lost, none unexpected, every document read back, and
 * enough conflicts for the run to have been a stress test at all. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "criteria/criteria-internal.h"
#include "util/units.h"
#include "util/util.h"

#define WRITES_SUMMARY_SIZE 256
#define WRITES_TOKENS_IN_SUMMARY 3

/* Member `key` of `o` as a count into *ret: a JSON integer >= 0. */
static bool count_of(const json_t *o, const char *key, uint64_t *ret) {
        const json_t *v = json_object_get(o, key);

        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return false;
        *ret = (uint64_t) json_integer_value(v);
        return true;
}

/* The figures of report `o` into *w, or the first problem in `why`: a count
 * the rule needs that is missing or not a count, or counts that contradict
 * each other.  attempted, recovered and conflicts_source are shown only,
 * so they may be missing; lost_sample too (kept when it is an array). */
static bool writes_parse(const json_t *o, CriterionWrites *w, char *why, size_t n) {
        static const char *const needed[] = { "acknowledged", "lost", "unexpected", "unread", "conflicts" };
        uint64_t *at[] = { &w->acknowledged, &w->lost, &w->unexpected, &w->unread, &w->conflicts };
        const char *source = json_string_value(json_object_get(o, "conflicts_source"));
        const json_t *sample = json_object_get(o, "lost_sample");

        if (!json_is_object(o)) {
                snprintf(why, n, "is not a JSON object");
                return false;
        }
        for (size_t i = 0; i < ELEMENTSOF(needed); i++)
                if (!count_of(o, needed[i], at[i])) {
                        snprintf(why, n, "has no count %s", needed[i]);
                        return false;
                }
        if (w->lost + w->unread > w->acknowledged) {
                snprintf(why, n, "counts %" PRIu64 " lost and %" PRIu64 " unread of %" PRIu64 " acknowledged",
                         w->lost, w->unread, w->acknowledged);
                return false;
        }
        (void) count_of(o, "attempted", &w->attempted);
        (void) count_of(o, "recovered", &w->recovered);
        snprintf(w->conflicts_source, sizeof w->conflicts_source, "%s",
                 source && (strcmp(source, "client") == 0 || strcmp(source, "server") == 0) ? source : "?");
        w->lost_sample = json_array();
        for (size_t i = 0; w->lost_sample && json_is_array(sample) && i < json_array_size(sample) &&
                           i < CRITERIA_LOST_SHOWN; i++)
                if (json_array_append_new(w->lost_sample, json_deep_copy(json_array_get(sample, i))) < 0)
                        w->lost_sample = (json_decref(w->lost_sample), NULL);
        return true;
}

/* "3 of 120000 acknowledged writes lost (e.g. 5eed..., ...); 0 unexpected;
 * 0 unread; conflicts 1520 (server)", and why too few conflicts fail. */
static char *writes_summary(const CriterionWrites *w, char *buf, size_t n) {
        size_t used, shown = 0;
        const json_t *l;
        size_t i;

        used = (size_t) snprintf(buf, n, "%" PRIu64 " of %" PRIu64 " acknowledged writes lost", w->lost,
                                 w->acknowledged);
        json_array_foreach(w->lost_sample, i, l) {
                const char *token = json_string_value(json_object_get(l, "token"));

                if (!token || shown == WRITES_TOKENS_IN_SUMMARY || used >= n)
                        break;
                used += (size_t) snprintf(buf + used, n - used, "%s%s", shown++ ? ", " : " (e.g. ", token);
        }
        if (shown > 0 && used < n)
                used += (size_t) snprintf(buf + used, n - used, ")");
        if (used < n)
                used += (size_t) snprintf(buf + used, n - used, "; %" PRIu64 " unexpected; %" PRIu64 " unread; "
                                          "conflicts %" PRIu64 " (%s)", w->unexpected, w->unread, w->conflicts,
                                          w->conflicts_source);
        if (w->conflicts < w->min_conflicts && used < n)
                snprintf(buf + used, n - used, " < min_conflicts %" PRIu64 ": a stress test that did not stress "
                         "proves nothing", w->min_conflicts);
        return buf;
}

/* Reads the report `text` (NULL: none) into *w, or says in `why` what
 * keeps it from being judged, as the end of a sentence about the run: no
 * report (NO_WRITES, as when the documents were not read back) or a
 * report that cannot be read (BAD_WRITES). */
static CriterionCause writes_read(const char *text, CriterionWrites *w, char *why, size_t n) {
        char problem[160];
        json_t *o;
        bool good;

        if (!text) {
                snprintf(why, n, "has no lost-write report: its scenario has no write and read lines");
                return CRITERION_CAUSE_NO_WRITES;
        }
        o = json_loads(text, JSON_DECODE_ANY, NULL);
        if (json_is_false(json_object_get(o, "read_back"))) {
                json_decref(o);
                snprintf(why, n, "did not read its documents back: no lost-write report");
                return CRITERION_CAUSE_NO_WRITES;
        }
        good = writes_parse(o, w, problem, sizeof problem);
        json_decref(o);
        if (good)
                return CRITERION_CAUSE_NONE;
        snprintf(why, n, "has a lost-write report that %s", problem);
        return CRITERION_CAUSE_BAD_WRITES;
}

/* The rule: nothing acknowledged lost or left unread, nothing unexpected,
 * and a run that did stress the server. */
static bool writes_met(const CriterionWrites *w) {
        return w->lost == 0 && w->unexpected == 0 && w->unread == 0 && w->conflicts >= w->min_conflicts;
}

CriterionState criteria_writes_judge(const char *writes_json, uint64_t min_conflicts, char *line, size_t n) {
        CriterionWrites w = { .min_conflicts = min_conflicts };
        CriterionCause cause;
        char why[256];

        cause = writes_read(writes_json, &w, why, sizeof why);
        if (cause != CRITERION_CAUSE_NONE) {
                snprintf(line, n, "the run %s", why);
                return CRITERION_STATE_UNKNOWN;
        }
        writes_summary(&w, line, n);
        json_decref(w.lost_sample);
        return writes_met(&w) ? CRITERION_STATE_MET : CRITERION_STATE_NOT_MET;
}

/* Judges run `l`'s report, the JSON text `text` (NULL: none). */
static int judge(CriterionResult *res, const CriterionConfig *cc, const StoreRunLatest *l, const char *text) {
        char why[256], summary[WRITES_SUMMARY_SIZE];
        CriterionWrites *w = &res->writes;
        CriterionCause cause;

        w->min_conflicts = cc->min_conflicts;
        cause = writes_read(text, w, why, sizeof why);
        if (cause != CRITERION_CAUSE_NONE)
                return criteria_unknown(res, cause, "run %" PRId64 " of scenario %s %s", l->id, cc->scenario, why);
        res->state = writes_met(w) ? CRITERION_STATE_MET : CRITERION_STATE_NOT_MET;
        res->cause = CRITERION_CAUSE_NONE;
        res->has_writes = true;
        res->value = (double) w->lost;
        res->run_id = l->id;
        res->at_ms = l->ended_at_ms;
        res->evidence = strdup(writes_summary(w, summary, sizeof summary));
        res->scenario = strdup(cc->scenario);
        return res->evidence && res->scenario && w->lost_sample ? 0 : -ENOMEM;
}

int criteria_evaluate_writes(CriterionResult *res, const CriterionConfig *cc, Store *store, uint64_t now_usec,
                             uint64_t limit_usec) {
        StoreRunLatest l = {};
        char *text = NULL;
        int k;

        if (cc->no_scenario)
                return criteria_no_scenario(res, cc);
        k = store_run_latest_extra(store, cc->scenario, "writes", &l, &text);
        if (k < 0)
                return criteria_run_read_failed(res, cc, k, NULL, limit_usec);
        k = criteria_run_stale(res, cc, &l, now_usec);
        if (k > 0)
                k = judge(res, cc, &l, text);
        free(text);
        return k;
}
