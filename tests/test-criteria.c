/* Criterion evaluation against a real store in a temporary directory. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "criteria/criteria.h"
#include "store/store.h"
#include "tap.h"
#include "util/units.h"

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

static const char *state_of(const CriterionConfig *cc, Store *s, uint64_t now, json_t **ret) {
        json_t *o = NULL;
        if (criterion_evaluate(cc, s, now, &o) < 0)
                return "(error)";
        *ret = o;
        return json_string_value(json_object_get(o, "state"));
}

static void add(Store *s, const char *series, uint64_t now, uint64_t ago_usec, double v) {
        store_append(s, series, (int64_t) ((now - ago_usec) / USEC_PER_MSEC), v);
}

static void test_series_criterion(Store *s, uint64_t now) {
        CriterionConfig cc = memory_rule();
        json_t *o;

        is_str(state_of(&cc, s, now, &o), "unknown", "no samples at all: unknown, never met by default");
        ok(strstr(json_string_value(json_object_get(o, "reason")), "no samples of go.app.Sys"),
           "the unknown reason names the series");
        json_decref(o);

        add(s, "go.app.Sys", now, 30 * USEC_PER_MIN, 100 * MIB);
        add(s, "go.app.Sys", now, 10 * USEC_PER_SEC, 200 * MIB);
        store_flush(s);
        is_str(state_of(&cc, s, now, &o), "met", "max 200 MiB < 512 MiB: met");
        is_double(json_number_value(json_object_get(o, "value")),
                  200 * MIB, 0.5, "value is the max over the window");
        is_str(json_string_value(json_object_get(json_object_get(o, "evidence"), "series")), "go.app.Sys",
               "evidence names the series");
        json_decref(o);

        add(s, "go.app.Sys", now, 20 * USEC_PER_MIN, 600 * MIB);
        store_flush(s);
        is_str(state_of(&cc, s, now, &o), "not_met", "one sample of 600 MiB in the window: not met");
        json_decref(o);

        cc.window_usec = 15 * USEC_PER_MIN;
        is_str(state_of(&cc, s, now, &o), "met", "the 600 MiB sample 20 min ago is outside a 15 min window");
        json_decref(o);

        cc.statistic = CRITERION_LAST;
        cc.window_usec = USEC_PER_HOUR;
        is_str(state_of(&cc, s, now, &o), "met", "statistic last: the newest sample decides");
        json_decref(o);

        cc.op = CRITERION_GE;
        is_str(state_of(&cc, s, now, &o), "not_met", "op >= flips the comparison");
        json_decref(o);
}

static void test_stale(Store *s, uint64_t now) {
        CriterionConfig cc = memory_rule();
        json_t *o;

        cc.series = (char *) "go.stale.Sys";
        add(s, "go.stale.Sys", now, 10 * USEC_PER_MIN, 1 * MIB);
        store_flush(s);
        is_str(state_of(&cc, s, now, &o), "unknown", "newest sample older than max_age: unknown");
        ok(strstr(json_string_value(json_object_get(o, "reason")), "max_age 5m") != NULL,
           "the reason says the sample is older than max_age");
        json_decref(o);

        cc.max_age_usec = 15 * USEC_PER_MIN;
        is_str(state_of(&cc, s, now, &o), "met", "the same sample within a longer max_age: met");
        json_decref(o);
}

static void test_no_source_and_status(Store *s, uint64_t now) {
        CriterionConfig list[2] = { memory_rule(), memory_rule() };
        Config c = { .criteria = list, .n_criteria = 2 };
        json_t *o, *status;

        list[1].name = (char *) "latency_p95";
        list[1].kind = CRITERION_NO_SOURCE;
        is_str(state_of(&list[1], s, now, &o), "unknown", "a criterion without a data source is unknown");
        is_str(json_string_value(json_object_get(o, "reason")), "no data source yet", "and says why");
        json_decref(o);

        list[0].series = (char *) "go.none.Sys";
        ok(criteria_evaluate(&c, s, now, &status) == 0, "criteria_evaluate succeeds");
        ok(json_is_false(json_object_get(status, "ok")), "ok is false while any criterion is unknown");
        is_int(json_array_size(json_object_get(status, "criteria")), 2, "every criterion is listed");
        json_decref(status);

        /* A 15 min window leaves out the 600 MiB sample of 20 min ago. */
        list[0].series = (char *) "go.app.Sys";
        list[0].window_usec = 15 * USEC_PER_MIN;
        list[1] = list[0];
        criteria_evaluate(&c, s, now, &status);
        ok(json_is_true(json_object_get(status, "ok")), "ok is true when every criterion is met");
        json_decref(status);

        list[0].series = NULL;
        is_str(state_of(&list[0], s, now, &o), "unknown", "no series configured: unknown");
        json_decref(o);
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
        test_stale(s, now);
        test_no_source_and_status(s, now);
        store_free(s);

        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        if (system(path) != 0)
                printf("# could not remove %s\n", dir);
        return tap_done();
}
