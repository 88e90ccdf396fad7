/* The evaluation worker: reports come back on the loop, a request never
 * blocks the loop even while a slow evaluation runs, requests coalesce,
 * the startup wait gets the first report, freeing mid-evaluation returns,
 * and the worker keeps to its time limit.  Run under the sanitizer build too (threads). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "criteria/evaluator.h"
#include "store/store.h"
#include "tap.h"
#include "util/util.h"

#define SLOW_SAMPLES 300000

typedef struct Seen {
        unsigned reports;
        CriterionState state;
        unsigned ticks;              /* of a 5 ms timer while waiting */
} Seen;

static void on_done(CriteriaReport *rep, void *userdata) {
        Seen *seen = userdata;

        seen->reports++;
        seen->state = rep->n_results ? rep->results[0].state : CRITERION_STATE_UNKNOWN;
        criteria_report_free(rep);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        ((Seen *) userdata)->ticks++;
        (void) sd_event_source_set_time_relative(s, 5 * USEC_PER_MSEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

/* Runs the loop until a report says `want` or 20 s passed. */
static void run_until(sd_event *e, Seen *seen, CriterionState want) {
        uint64_t end = now_monotonic_usec() + 20 * USEC_PER_SEC;

        while ((seen->reports == 0 || seen->state != want) && now_monotonic_usec() < end)
                (void) sd_event_run(e, 100 * USEC_PER_MSEC);
}

static CriterionConfig rule(const char *series, uint64_t window) {
        return (CriterionConfig) {
                .name = (char *) "memory", .kind = CRITERION_SERIES, .series = (char *) series,
                .statistic = CRITERION_MAX, .op = CRITERION_LT, .threshold = strcmp(series, "slow") ? 100 : 50,
                .unit = (char *) "bytes", .window_usec = window, .max_age_usec = USEC_PER_HOUR,
        };
}

static void fill(const char *path, int64_t now_ms) {
        Store *w = NULL;
        char *err = NULL;

        if (store_open(path, &w, &err) < 0) {
                printf("Bail out! %s\n", err ? err : "cannot open the store");
                exit(99);
        }
        store_append(w, "fast", now_ms - 1000, 7);
        store_flush(w);
        /* Within the last minute, all raw: every one is read. */
        for (int i = 0; i < SLOW_SAMPLES; i++) {
                store_append(w, "slow", now_ms - 50000 + i % 50000, i % 90);
                if (i % 50000 == 49999)
                        store_flush(w);
        }
        store_flush(w);
        store_free(w);
}

static void test_round_trip(sd_event *e, const char *path) {
        CriterionConfig fast = rule("fast", USEC_PER_HOUR), slow = rule("slow", USEC_PER_MIN);
        uint64_t slow_usec;
        Seen seen = {};
        CriteriaReport *first = NULL;
        Evaluator *ev = NULL;
        sd_event_source *tick = NULL;
        uint64_t t0, took;
        char *err = NULL;

        is_int(evaluator_new(e, path, 0, on_done, &seen, &ev, &err), 0, "evaluator_new succeeds");
        free(err);
        if (!ev)
                return;

        is_int(evaluator_request(ev, &fast, 1), 0, "a request succeeds");
        evaluator_wait(ev, &first);
        ok(first && first->n_results == 1 && first->results[0].state == CRITERION_STATE_MET,
           "evaluator_wait gets the first report: fast max 7 < 100 met");
        criteria_report_free(first);
        (void) sd_event_run(e, 50 * USEC_PER_MSEC);
        is_int(seen.reports, 0, "a report taken by evaluator_wait is not handed to done again");

        /* Alone, to know how long the slow one takes. */
        t0 = now_monotonic_usec();
        evaluator_request(ev, &slow, 1);
        run_until(e, &seen, CRITERION_STATE_NOT_MET);
        slow_usec = now_monotonic_usec() - t0;
        is_int(seen.state, CRITERION_STATE_NOT_MET, "the slow criterion: max 89 < 50 not met");
        ok(slow_usec > 20 * USEC_PER_MSEC, "(setup) it takes a while: %llu ms",
           (unsigned long long) (slow_usec / USEC_PER_MSEC));

        seen = (Seen) {};
        (void) sd_event_add_time_relative(e, &tick, CLOCK_MONOTONIC, 5 * USEC_PER_MSEC, 1, on_tick, &seen);
        t0 = now_monotonic_usec();
        evaluator_request(ev, &slow, 1);
        took = now_monotonic_usec() - t0;
        /* NB: a request copies the criteria and wakes the worker; it must
         * not wait for the evaluation itself (slow_usec), whatever a busy CPU
         * adds to the copy. */
        ok(took < slow_usec / 2, "a request returns at once (%llu us, the evaluation takes %llu ms)",
           (unsigned long long) took, (unsigned long long) (slow_usec / USEC_PER_MSEC));
        /* Give the worker time to take it; then the next ones wait. */
        usleep(10000);
        t0 = now_monotonic_usec();
        for (int i = 0; i < 5; i++)
                evaluator_request(ev, &fast, 1);
        run_until(e, &seen, CRITERION_STATE_MET);
        t0 = now_monotonic_usec() - t0;
        printf("# the rest of a slow one and the coalesced fast ones took %llu ms; %u ticks of 5 ms\n",
               (unsigned long long) (t0 / USEC_PER_MSEC), seen.ticks);
        ok(t0 > slow_usec / 2, "the fast ones waited for the slow one to end");
        ok(seen.ticks >= t0 / (5 * USEC_PER_MSEC) / 4, "the loop kept running while the worker evaluated");
        ok(seen.reports >= 1 && seen.reports <= 2, "six requests while one ran: at most two reports (%u)",
           seen.reports);
        is_int(seen.state, CRITERION_STATE_MET, "the last report answers the last request");
        sd_event_source_disable_unref(tick);

        /* Freed in the middle of a slow evaluation: the read is cut short. */
        evaluator_request(ev, &slow, 1);
        usleep(2000);
        t0 = now_monotonic_usec();
        evaluator_free(ev);
        took = now_monotonic_usec() - t0;
        ok(took < 2 * USEC_PER_SEC, "evaluator_free mid-evaluation returns (%llu ms)",
           (unsigned long long) (took / USEC_PER_MSEC));
}

/* The worker applies the limit it was given: the slow criterion, which
 * takes tens of ms, comes back unknown for the time limit within 1 ms. */
static void test_time_limit(sd_event *e, const char *path) {
        CriterionConfig slow = rule("slow", USEC_PER_MIN);
        CriteriaReport *rep = NULL;
        Evaluator *ev = NULL;
        char *err = NULL;

        is_int(evaluator_new(e, path, USEC_PER_MSEC, on_done, NULL, &ev, &err), 0,
               "evaluator_new with a 1 ms limit succeeds");
        free(err);
        if (!ev)
                return;
        is_int(evaluator_request(ev, &slow, 1), 0, "a request for the slow criterion succeeds");
        evaluator_wait(ev, &rep);
        ok(rep && rep->n_results == 1 && rep->results[0].state == CRITERION_STATE_UNKNOWN &&
           rep->results[0].cause == CRITERION_CAUSE_TIME_LIMIT,
           "past the worker's limit: unknown, for the time limit (%s)",
           rep && rep->n_results ? criteria_state_to_string(rep->results[0].state) : "no report");
        criteria_report_free(rep);
        evaluator_free(ev);
}

int main(void) {
        char dir[] = "/tmp/test-evaluator.XXXXXX", path[256];
        sd_event *e = NULL;
        Evaluator *ev = NULL;
        char *err = NULL;

        if (!mkdtemp(dir) || sd_event_new(&e) < 0)
                return 99;
        snprintf(path, sizeof path, "%s/db", dir);
        is_int(evaluator_new(e, path, 0, on_done, NULL, &ev, &err), -ENOENT,
               "no database yet: evaluator_new fails");
        ok(err && strstr(err, path), "and the error names the file");
        free(err);

        fill(path, (int64_t) (now_realtime_usec() / USEC_PER_MSEC));
        test_round_trip(e, path);
        test_time_limit(e, path);
        ok(evaluator_free(NULL) == NULL, "evaluator_free(NULL) is a no-op");

        sd_event_unref(e);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        if (system(path) != 0)
                printf("# could not remove %s\n", dir);
        return tap_done();
}
