/* The store's load scenario runs (store-runs.c): begin, update, finish with
 * histograms, list, get, the latest completed run of a scenario, the
 * interrupted runs after a crash, retention, corrupt histograms and the
 * migration from schema version 3. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "load/histogram.h"
#include "store/store.h"
#include "tap.h"
#include "sql-helpers.h"

static Store *open_rw(const char *path) {
        Store *s = NULL;
        char *err = NULL;

        if (store_open(path, &s, &err) < 0)
                printf("# store_open %s: %s\n", path, err ? err : "?");
        free(err);
        return s;
}

/* A histogram of n values spread from lo to lo * 1000 usec, skewed. */
static Histogram *hist_make(uint64_t lo, unsigned n) {
        Histogram *h = NULL;

        if (hist_new(&h) < 0)
                return NULL;
        for (unsigned i = 1; i <= n; i++)
                hist_record(h, lo + (uint64_t) i * i * lo / n);
        return h;
}

static bool hist_same(const Histogram *a, const Histogram *b) {
        static const double ps[] = { 0, 50, 90, 95, 99, 99.9, 100 };

        if (!a || !b || hist_count(a) != hist_count(b) || hist_mean(a) != hist_mean(b))
                return false;
        for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
                if (hist_percentile(a, ps[i]) != hist_percentile(b, ps[i]))
                        return false;
        return true;
}

static StoreRun run_of(const char *scenario, int64_t started_at_ms) {
        return (StoreRun) { .scenario = scenario, .model = "open", .started_at_ms = started_at_ms,
                            .target_rps = 100 };
}

/* Begins a run and finishes it in `state` at started + 1000 ms, with a
 * whole-run latency and service histogram (latency from lo usec, service a
 * tenth of it) unless lo is 0.  Its id, or -1. */
static int64_t run_add(Store *s, const char *scenario, int64_t started, StoreRunState state, uint64_t lo) {
        StoreRun run = run_of(scenario, started);
        Histogram *lat = lo ? hist_make(lo, 1000) : NULL, *svc = lo ? hist_make(lo / 10, 1000) : NULL;
        StoreRunHistogram hists[] = {
                { .request = "", .kind = STORE_RUN_HIST_LATENCY, .hist = lat },
                { .request = "", .kind = STORE_RUN_HIST_SERVICE, .hist = svc },
        };
        int64_t id = -1;

        if (store_run_begin(s, &run, &id) < 0)
                id = -1;
        if (id > 0 && state != STORE_RUN_RUNNING) {
                run.state = state;
                run.ended_at_ms = started + 1000;
                run.requests = lo ? 1000 : 0;
                if (store_run_finish(s, id, &run, hists, lo ? 2 : 0) < 0)
                        id = -1;
        }
        hist_free(lat);
        hist_free(svc);
        return id;
}

/* ---------------------------------------------------------------- round trip */

typedef struct Figures {
        StoreRun run;
        char scenario[32], state[16], reason[128], extra[128];
        unsigned n;
} Figures;

static int figures_of(const StoreRun *run, void *u) {
        Figures *f = u;

        f->run = *run;
        snprintf(f->scenario, sizeof f->scenario, "%s", run->scenario);
        snprintf(f->state, sizeof f->state, "%s", store_run_state_to_string(run->state));
        snprintf(f->reason, sizeof f->reason, "%s", run->reason);
        snprintf(f->extra, sizeof f->extra, "%s", run->extra);
        f->n++;
        return 0;
}

static Figures figures_by_list(Store *s, int64_t id) {
        Figures f = {};
        StoreRunFilter all = { .state = -1, .from_ms = INT64_MIN, .to_ms = INT64_MAX };

        (void) store_run_list(s, &all, 1, figures_of, &f);
        if (f.run.id != id)
                f = (Figures) {};
        return f;
}

static void test_running(Store *w, Store *rd, int64_t *ret_id) {
        StoreRun run = run_of("peak", 1700000000000);
        StoreRunRecord *rec = NULL;
        Figures f;
        int64_t id = 0;

        run.extra = "{\"note\":\"first\"}";
        is_int(store_run_begin(w, &run, &id), 0, "begin a run");
        ok(id > 0, "it gets an id (%lld)", (long long) id);
        f = figures_by_list(rd, id);
        is_str(f.state, "running", "a reader lists it as running");
        is_int(f.run.started_at_ms, 1700000000000, "with its start");
        is_int(f.run.ended_at_ms, 0, "and no end");
        is_str(f.extra, "{\"note\":\"first\"}", "and the extra object it began with");

        run = (StoreRun) { .duration_ms = 5000, .requests = 500, .ok = 490, .err_connect = 1,
                           .err_timeout = 2, .err_status = 3, .err_other = 4, .dropped = 7,
                           .aborted = 5, .target_rps = 100, .achieved_rps = 99.5 };
        is_int(store_run_update(w, id, &run), 0, "update its figures so far");
        is_int(store_run_get(rd, id, &rec, NULL), 0, "get it while it runs");
        ok(rec && rec->run.state == STORE_RUN_RUNNING && rec->run.duration_ms == 5000 &&
           rec->run.requests == 500 && rec->run.ok == 490 && rec->run.err_connect == 1 &&
           rec->run.err_timeout == 2 && rec->run.err_status == 3 && rec->run.err_other == 4 &&
           rec->run.dropped == 7 && rec->run.aborted == 5 && rec->run.achieved_rps == 99.5,
           "the reader sees the updated figures, exactly");
        ok(rec && rec->n_hists == 0, "and no histogram yet");
        rec = store_run_record_free(rec);
        is_int(store_run_update(rd, id, &run), -EROFS, "a read-only store cannot update it");
        is_int(store_run_update(w, id + 100, &run), -ENOENT, "updating a run that does not exist: -ENOENT");
        *ret_id = id;
}

static void test_finish_errors(Store *w, int64_t id, Histogram *h) {
        StoreRun run = { .state = STORE_RUN_COMPLETED, .ended_at_ms = 1700000060000 };
        StoreRunHistogram twice[] = {
                { .request = "", .kind = STORE_RUN_HIST_LATENCY, .hist = h },
                { .request = "", .kind = STORE_RUN_HIST_LATENCY, .hist = h },
        };
        StoreRunHistogram null_hist[] = { { .request = "", .kind = STORE_RUN_HIST_LATENCY } };
        Figures f;

        run.state = STORE_RUN_RUNNING;
        is_int(store_run_finish(w, id, &run, NULL, 0), -EINVAL, "finishing in state running: -EINVAL");
        run.state = STORE_RUN_COMPLETED;
        is_int(store_run_finish(w, id, &run, null_hist, 1), -EINVAL, "a NULL histogram: -EINVAL");
        is_int(store_run_finish(w, id, &run, twice, 2), -EINVAL, "a repeated (request, kind): -EINVAL");
        f = figures_by_list(w, id);
        ok(f.run.state == STORE_RUN_RUNNING && f.run.duration_ms == 5000,
           "after the failed finish the run is still running with its old figures (rolled back)");
}

static void test_finished(Store *w, Store *rd, int64_t id) {
        Histogram *lat = hist_make(2000, 5000), *svc = hist_make(300, 5000), *late = hist_make(10, 5000),
                  *a_lat = hist_make(1000, 3000), *b_lat = hist_make(4000, 2000), *one = NULL;
        StoreRunHistogram hists[] = {
                { .request = "", .kind = STORE_RUN_HIST_LATENCY, .hist = lat },
                { .request = "", .kind = STORE_RUN_HIST_SERVICE, .hist = svc },
                { .request = "", .kind = STORE_RUN_HIST_LATENESS, .hist = late },
                { .request = "GET /items", .kind = STORE_RUN_HIST_LATENCY, .hist = a_lat },
                { .request = "POST /items", .kind = STORE_RUN_HIST_LATENCY, .hist = b_lat },
        };
        StoreRun run = { .state = STORE_RUN_COMPLETED, .ended_at_ms = 1700000060000, .duration_ms = 60000,
                         .requests = 5000, .ok = 4990, .err_connect = 2, .err_timeout = 3, .err_status = 4,
                         .err_other = 1, .dropped = 11, .aborted = 6, .target_rps = 100, .achieved_rps = 83.25,
                         .reason = "" };
        StoreRunRecord *rec = NULL;
        bool same = true;

        test_finish_errors(w, id, lat);
        is_int(store_run_finish(w, id, &run, hists, 5), 0, "finish the run with 5 histograms");
        is_int(store_run_finish(w, id, &run, NULL, 0), -ENOENT, "finishing it again: -ENOENT");
        is_int(store_run_update(w, id, &run), -ENOENT, "updating a finished run: -ENOENT");
        is_int(store_run_get(rd, id, &rec, NULL), 0, "a reader gets the finished run");
        if (!rec)
                goto out;
        is_str(rec->run.scenario, "peak", "scenario");
        is_str(rec->run.model, "open", "model");
        is_str(store_run_state_to_string(rec->run.state), "completed", "state");
        ok(rec->run.started_at_ms == 1700000000000 && rec->run.ended_at_ms == 1700000060000 &&
           rec->run.duration_ms == 60000, "start, end and duration exactly");
        ok(rec->run.requests == 5000 && rec->run.ok == 4990 && rec->run.err_connect == 2 &&
           rec->run.err_timeout == 3 && rec->run.err_status == 4 && rec->run.err_other == 1 &&
           rec->run.dropped == 11 && rec->run.aborted == 6, "every count exactly");
        ok(rec->run.target_rps == 100 && rec->run.achieved_rps == 83.25, "the rates exactly");
        is_int(rec->n_hists, 5, "5 histograms come back");
        for (size_t i = 0; i < 5; i++)
                same = same && hist_same(store_run_record_hist(rec, hists[i].request, hists[i].kind), hists[i].hist);
        ok(same, "each decodes to the same count, mean and percentiles (p0..p100) as stored");
        ok(!store_run_record_hist(rec, "GET /items", STORE_RUN_HIST_SERVICE), "an absent one is NULL");
        is_str(rec->hists[0].request, "", "sorted by request: the whole run's first");
        ok(hist_new(&one) == 0 && store_run_hist(rd, id, "POST /items", STORE_RUN_HIST_LATENCY, one) == 0 &&
           hist_same(one, b_lat), "store_run_hist decodes one of them alone");
        is_int(store_run_hist(rd, id, "POST /items", STORE_RUN_HIST_SERVICE, one), -ENOENT,
               "store_run_hist of one not stored: -ENOENT");
        ok(hist_same(one, b_lat), "and leaves the histogram as it was");
out:
        store_run_record_free(rec);
        hist_free(one);
        hist_free(lat);
        hist_free(svc);
        hist_free(late);
        hist_free(a_lat);
        hist_free(b_lat);
}

static void test_extra(Store *w, Store *rd, int64_t id) {
        Figures f;

        is_int(store_run_set_extra(w, id, "lost_writes", "{\"acknowledged\":60213,\"lost\":0}"), 0,
               "hang a lost-write report on the finished run");
        is_int(store_run_set_extra(w, id, "acu_window", "[1700000000000,1700000360000]"), 0,
               "and an ACU window");
        f = figures_by_list(rd, id);
        is_str(f.extra, "{\"note\":\"first\",\"lost_writes\":{\"acknowledged\":60213,\"lost\":0},"
               "\"acu_window\":[1700000000000,1700000360000]}", "both sit in extra beside the first key");
        is_int(store_run_set_extra(w, id, "lost_writes", "{\"lost"), -EINVAL, "text that is not JSON: -EINVAL");
        is_int(store_run_set_extra(w, id, "a\"b", "1"), -EINVAL, "a key with a quote: -EINVAL");
        is_int(store_run_set_extra(w, id + 100, "x", "1"), -ENOENT, "a run that does not exist: -ENOENT");
        is_int(store_run_set_extra(rd, id, "x", "1"), -EROFS, "a read-only store: -EROFS");
}

/* A run's object the database refuses (as a full disk would) is counted in
 * the writer's health with the run, the key and SQLite's words; a
 * read-only store's refusal in that store's. */
static void test_extra_failures(const char *path, Store *w, Store *rd, int64_t id) {
        char want[128];
        StoreHealth h;

        store_health(w, &h);
        is_int((int) h.extras_failed, 3,
               "test_extra's three refusals by the writer are counted (not JSON, a bad key, no run)");
        is_int(raw_exec(path, "CREATE TRIGGER refuse_profiles BEFORE UPDATE OF extra ON runs "
                        "WHEN json_extract(NEW.extra, '$.profiles') IS NOT NULL "
                        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"), SQLITE_OK,
               "plant a trigger that refuses a profiles object");
        ok(store_run_set_extra(w, id, "profiles", "{\"cpu\":7}") < 0, "the profiles object is refused");
        store_health(w, &h);
        snprintf(want, sizeof want, "run %" PRId64 " profiles: refused by the test", id);
        is_int((int) h.extras_failed, 4, "the refusal is counted in the store's health: 4");
        is_str(h.extra_error, want, "with the run, the key and the database's words");
        ok(h.extra_failed_ms > 1700000000000, "and its time");
        is_int(store_run_set_extra(w, id + 100, "acu_window", "{}"), -ENOENT, "an object for no run fails too");
        store_health(w, &h);
        is_int((int) h.extras_failed, 5, "and is counted: 5");
        snprintf(want, sizeof want, "run %" PRId64 " acu_window: %s", id + 100, strerror(ENOENT));
        is_str(h.extra_error, want, "the last failure is the one shown, in strerror's words without SQLite's");
        is_int(store_run_set_extra(w, id, "acu_window", "{}"), 0, "another key is written");
        store_health(w, &h);
        is_int((int) h.extras_failed, 5, "and counts nothing");
        is_int(store_run_set_extra(rd, id, "profiles", "{}"), -EROFS, "a read-only store refuses");
        store_health(rd, &h);
        is_int((int) h.extras_failed, 2, "and counts it in its own health (test_extra's refusal too)");
        is_int(raw_exec(path, "DROP TRIGGER refuse_profiles"), SQLITE_OK, "drop the trigger");
}

static void test_round_trip(const char *path) {
        Store *w = open_rw(path), *rd = NULL;
        char *err = NULL;
        int64_t id = 0;
        StoreRun bad = run_of("peak", 1);

        is_int(store_open_readonly(path, &rd, &err), 0, "open a reader beside the writer");
        free(err);
        if (w && rd) {
                is_int(store_run_begin(rd, &bad, &id), -EROFS, "a read-only store cannot begin a run");
                bad.extra = "[1]";
                is_int(store_run_begin(w, &bad, &id), -EINVAL, "extra that is not a JSON object: -EINVAL");
                bad = (StoreRun) { .scenario = "peak" };
                is_int(store_run_begin(w, &bad, &id), -EINVAL, "a run without a model: -EINVAL");
                test_running(w, rd, &id);
                test_finished(w, rd, id);
                test_extra(w, rd, id);
                test_extra_failures(path, w, rd, id);
        }
        store_free(rd);
        store_free(w);
}

/* ---------------------------------------------------------------- list */

typedef struct Ids {
        int64_t id[16];
        unsigned n;
} Ids;

static int ids_of(const StoreRun *run, void *u) {
        Ids *ids = u;

        if (ids->n < 16)
                ids->id[ids->n] = run->id;
        ids->n++;
        return 0;
}

static int stop_at_first(const StoreRun *run, void *u) {
        (void) run;
        (void) u;
        return 42;
}

/* The ids listed as "a b c", with the list's return value after a '/'. */
static const char *list_str(Store *s, const char *scenario, int state, int64_t from, int64_t to, size_t max) {
        static char buf[256];
        StoreRunFilter f = { .scenario = scenario, .state = state, .from_ms = from, .to_ms = to };
        Ids ids = {};
        size_t n = 0;
        int r;

        r = store_run_list(s, &f, max, ids_of, &ids);
        buf[0] = '\0';
        for (unsigned i = 0; i < ids.n && i < 16; i++)
                n += (size_t) snprintf(buf + n, sizeof buf - n, "%s%lld", i ? " " : "", (long long) ids.id[i]);
        snprintf(buf + n, sizeof buf - n, "/%d", r);
        return buf;
}

static void test_list(const char *path) {
        Store *w = open_rw(path);
        StoreRunFilter all = { .state = -1, .from_ms = INT64_MIN, .to_ms = INT64_MAX };

        if (!w)
                return;
        /* ids 1..6, started at 1000 .. 6000 */
        run_add(w, "peak", 1000, STORE_RUN_COMPLETED, 100);
        run_add(w, "spike", 2000, STORE_RUN_COMPLETED, 100);
        run_add(w, "peak", 3000, STORE_RUN_CANCELLED, 0);
        run_add(w, "peak", 4000, STORE_RUN_FAILED, 0);
        run_add(w, "spike", 5000, STORE_RUN_ABORTED, 0);
        run_add(w, "peak", 6000, STORE_RUN_RUNNING, 0);
        is_str(list_str(w, NULL, -1, INT64_MIN, INT64_MAX, 100), "6 5 4 3 2 1/0", "all runs, newest first");
        is_str(list_str(w, "peak", -1, INT64_MIN, INT64_MAX, 100), "6 4 3 1/0", "one scenario's");
        is_str(list_str(w, NULL, STORE_RUN_COMPLETED, INT64_MIN, INT64_MAX, 100), "2 1/0", "one state's");
        is_str(list_str(w, "peak", STORE_RUN_COMPLETED, INT64_MIN, INT64_MAX, 100), "1/0", "both");
        is_str(list_str(w, NULL, -1, 2000, 4000, 100), "4 3 2/0", "from and to, both inclusive");
        is_str(list_str(w, NULL, -1, INT64_MIN, INT64_MAX, 2), "6 5/1", "limit 2: the newest 2, and 1 says more match");
        is_str(list_str(w, "peak", -1, INT64_MIN, INT64_MAX, 4), "6 4 3 1/0", "a limit that fits exactly: 0");
        is_str(list_str(w, "none", -1, INT64_MIN, INT64_MAX, 4), "/0", "an unknown scenario: nothing");
        is_int(store_run_list(w, &all, 10, stop_at_first, NULL), 42, "a callback's non-zero stops the walk and is returned");
        all.state = _STORE_RUN_STATE_MAX;
        is_int(store_run_list(w, &all, 10, ids_of, &(Ids) {}), -EINVAL, "a state out of range: -EINVAL");
        store_free(w);
}

/* ---------------------------------------------------------------- latest */

/* zero_data_loss's read: the same run, and one member of its extra. */
static void test_latest_extra(Store *w, int64_t newest) {
        StoreRunLatest l = {};
        char *json = (char *) "x";
        int64_t cancelled;

        is_int(store_run_latest_extra(w, "peak", "writes", &l, &json), 0, "store_run_latest_extra finds the run");
        is_int(l.id, newest, "the same run as store_run_latest_completed()");
        ok(l.ended_at_ms == 3000 && l.requests == 1000, "its end and request count");
        ok(json == NULL, "an extra without the member: NULL");
        is_int(store_run_set_extra(w, newest, "writes", "{\"lost\": 3, \"lost_sample\": [{\"token\": \"ab\"}]}"), 0,
               "a writes member set");
        cancelled = run_add(w, "peak", 9000, STORE_RUN_CANCELLED, 0);
        is_int(store_run_set_extra(w, cancelled, "writes", "{\"lost\": 0}"), 0, "and one on a newer cancelled run");
        is_int(store_run_latest_extra(w, "peak", "writes", &l, &json), 0, "read again");
        is_str(json, "{\"lost\":3,\"lost_sample\":[{\"token\":\"ab\"}]}", "the completed run's member as JSON text");
        free(json);
        is_int(store_run_set_extra(w, newest, "note", "\"hi\""), 0, "a string member");
        is_int(store_run_latest_extra(w, "peak", "note", &l, &json), 0, "read");
        is_str(json, "\"hi\"", "a string comes back quoted, as JSON");
        free(json);
        is_int(store_run_set_extra(w, newest, "nothing", "null"), 0, "a null member");
        is_int(store_run_latest_extra(w, "peak", "nothing", &l, &json), 0, "read");
        is_str(json, "null", "null, told from a missing member");
        free(json);
        json = (char *) "x";
        is_int(store_run_latest_extra(w, "sustained2", "writes", &l, &json), -ENOENT, "no completed run: -ENOENT");
        is_int(store_run_latest_extra(w, "peak", "no.such", &l, &json), -EINVAL, "a bad key: -EINVAL");
        is_int(store_run_latest_extra(w, "peak", "$.x') OR 1 --", &l, &json), -EINVAL, "no path is made of input");
}

static void test_latest(const char *path) {
        Store *w = open_rw(path);
        StoreRunLatest l = {};
        Histogram *want = hist_make(3000, 1000), *want_svc = hist_make(300, 1000);
        int64_t newest;

        if (!w)
                goto out;
        run_add(w, "peak", 1000, STORE_RUN_COMPLETED, 1000);
        newest = run_add(w, "peak", 2000, STORE_RUN_COMPLETED, 3000);
        run_add(w, "peak", 3000, STORE_RUN_CANCELLED, 0);
        run_add(w, "peak", 4000, STORE_RUN_ABORTED, 0);
        run_add(w, "peak", 5000, STORE_RUN_FAILED, 0);
        run_add(w, "spike", 6000, STORE_RUN_COMPLETED, 9000);
        run_add(w, "peak", 7000, STORE_RUN_RUNNING, 0);
        is_int(store_run_latest_completed(w, "peak", &l, NULL), 0, "the latest completed peak run is found");
        is_int(l.id, newest, "it is the newest completed one, not a newer running, aborted, cancelled, "
               "failed or other scenario's run");
        is_int(l.started_at_ms, 2000, "its start (acu_scaling's window opens there)");
        is_int(l.ended_at_ms, 3000, "its end");
        is_int(l.requests, 1000, "its request count");
        is_int(l.latency_count, 1000, "its latency histogram's count");
        is_int(l.latency_p95_usec, hist_percentile(want, 95), "its intended-start p95 (%llu us)",
               (unsigned long long) l.latency_p95_usec);
        is_int(l.service_p95_usec, hist_percentile(want_svc, 95), "its service-time p95");
        is_int(store_run_latest_completed(w, "sustained", &l, NULL), -ENOENT, "a scenario without one: -ENOENT");
        run_add(w, "sustained", 8000, STORE_RUN_COMPLETED, 0);
        is_int(store_run_latest_completed(w, "sustained", &l, NULL), 0, "a completed run without histograms");
        ok(l.latency_count == 0 && l.latency_p95_usec == 0 && l.service_p95_usec == 0,
           "reads with a count of 0 (the criterion then says unknown)");
        test_latest_extra(w, newest);
out:
        hist_free(want);
        hist_free(want_svc);
        store_free(w);
}

/* ---------------------------------------------------------------- crash */

static void test_interrupted(const char *path) {
        Store *w = open_rw(path);
        StoreRun run = run_of("peak", 1700000000000);
        StoreRunRecord *rec = NULL;
        unsigned n = 99;
        int64_t id = 0, done;

        if (!w)
                return;
        done = run_add(w, "peak", 1600000000000, STORE_RUN_COMPLETED, 100);
        is_int(store_run_begin(w, &run, &id), 0, "(setup) begin a run");
        run = (StoreRun) { .duration_ms = 15000, .requests = 1500, .ok = 1490, .err_timeout = 10,
                           .target_rps = 100, .achieved_rps = 100 };
        is_int(store_run_update(w, id, &run), 0, "(setup) its figures after 15 s");
        w = store_free(w);    /* as a kill -9: no finish */

        w = open_rw(path);
        ok(w && figures_by_list(w, id).run.state == STORE_RUN_RUNNING,
           "reopening alone leaves the run running (another process may own it)");
        is_int(store_run_abort_interrupted(w, &n), 0, "the daemon's startup call marks interrupted runs");
        is_int(n, 1, "one of them");
        is_int(store_run_get(w, id, &rec, NULL), 0, "the run reads back");
        if (rec) {
                is_str(store_run_state_to_string(rec->run.state), "aborted", "as aborted");
                is_int(rec->run.ended_at_ms, 1700000015000, "ending at its last update (start + 15 s)");
                ok(rec->run.requests == 1500 && rec->run.ok == 1490 && rec->run.err_timeout == 10,
                   "with that update's figures");
                ok(strncmp(rec->run.reason, "interrupted: ", 13) == 0, "and a reason: %s", rec->run.reason);
        }
        rec = store_run_record_free(rec);
        is_int(store_run_get(w, done, &rec, NULL), 0, "the completed run reads back");
        ok(rec && rec->run.state == STORE_RUN_COMPLETED && rec->run.ended_at_ms == 1600000001000 &&
           rec->n_hists == 2, "untouched");
        rec = store_run_record_free(rec);
        is_int(store_run_abort_interrupted(w, &n), 0, "a second call");
        is_int(n, 0, "finds none");
        store_free(w);
}

/* ---------------------------------------------------------------- retention */

static void test_retention(const char *path) {
        Store *w = open_rw(path);
        Histogram *h = hist_make(100, 100);
        StoreRunHistogram many[6];
        StoreRun run = run_of("peak", 1000);
        unsigned deleted = 0, steps = 0, total = 0;
        int64_t big = 0;

        if (!w)
                goto out;
        for (size_t i = 0; i < 6; i++) {
                static const char *const names[] = { "", "a", "b" };
                many[i] = (StoreRunHistogram) { .request = names[i / 2], .kind = (StoreRunHistKind) (i % 2),
                                                .hist = h };
        }
        store_run_begin(w, &run, &big);
        run.state = STORE_RUN_COMPLETED;
        run.ended_at_ms = 2000;
        is_int(store_run_finish(w, big, &run, many, 6), 0, "(setup) an old run with 6 histograms");
        run_add(w, "peak", 3000, STORE_RUN_ABORTED, 100);
        run_add(w, "peak", 4000, STORE_RUN_RUNNING, 0);
        run_add(w, "peak", 9000, STORE_RUN_COMPLETED, 100);

        is_int(store_retention_step(w, 5000, 32, &deleted), 0, "a retention step of at most 32 rows");
        is_int(sql_int(path, "SELECT count(*) FROM run_histograms"), 8,
               "deletes 2 histograms (32 / 16: they are blobs of KiB) of the 10");
        is_int(deleted, 32, "and says 32, so that the caller comes back soon for the rest");
        do {
                if (store_retention_step(w, 5000, 2, &deleted) < 0)
                        break;
                total += deleted;
                ok(sql_int(path, "SELECT count(*) FROM run_histograms WHERE run_id NOT IN (SELECT id FROM runs)") == 0,
                   "step %u (%u deleted) leaves no histogram without its run", steps + 1, deleted);
        } while (deleted == 2 && ++steps < 20);
        ok(steps >= 6 && steps < 20, "steps of at most 2 rows (1 histogram) take several rounds (%u)", steps + 1);
        is_int(sql_int(path, "SELECT count(*) FROM runs WHERE started_at < 5000 AND state <> 'running'"), 0,
               "the finished runs started before the cutoff are gone");
        is_int(sql_int(path, "SELECT count(*) FROM run_histograms WHERE run_id <> 4"), 0,
               "with all their histograms");
        is_int(sql_int(path, "SELECT count(*) FROM runs WHERE started_at = 4000 AND state = 'running'"), 1,
               "a running run is never deleted, however old");
        is_int(sql_int(path, "SELECT count(*) FROM runs WHERE started_at = 9000"), 1, "the new run is kept");
        is_int(sql_int(path, "SELECT count(*) FROM run_histograms WHERE run_id = 4"), 2, "with its 2 histograms");
out:
        hist_free(h);
        store_free(w);
}

/* ---------------------------------------------------------------- corrupt */

static void test_corrupt(const char *path) {
        Store *w = open_rw(path), *rd = NULL;
        StoreRunRecord *rec = NULL;
        StoreRunLatest l = {};
        Histogram *h = NULL;
        char *err = NULL, want[200];
        int64_t id;

        if (!w)
                return;
        id = run_add(w, "peak", 1000, STORE_RUN_COMPLETED, 100);
        ok(raw_exec(path, "UPDATE run_histograms SET data = x'0102030405' WHERE kind = 'latency'") == SQLITE_OK,
           "(setup) a tool overwrites the latency histogram with 5 bytes of garbage");
        is_int(store_open_readonly(path, &rd, &err), 0, "a reader opens it");
        free(err);
        err = NULL;
        if (!rd)
                goto out;
        is_int(store_run_get(rd, id, &rec, &err), -EBADMSG, "store_run_get: -EBADMSG, not a crash");
        ok(!rec, "and no record");
        snprintf(want, sizeof want, "run %lld: the latency histogram of the whole run is corrupt "
                 "(5 bytes that are not a valid encoding)", (long long) id);
        is_str(err, want, "the error names the run, the histogram and the problem");
        free(err);
        err = NULL;
        ok(hist_new(&h) == 0, "(setup) a histogram");
        is_int(store_run_hist(rd, id, "", STORE_RUN_HIST_LATENCY, h), -EBADMSG, "store_run_hist: -EBADMSG");
        is_int(store_run_hist(rd, id, "", STORE_RUN_HIST_SERVICE, h), 0, "the intact service histogram still reads");
        is_int(store_run_latest_completed(rd, "peak", &l, &err), -EBADMSG, "store_run_latest_completed: -EBADMSG");
        is_str(err, want, "with the same words");
        free(err);
        ok(raw_exec(path, "UPDATE run_histograms SET request = 'GET /x' WHERE kind = 'latency'") == SQLITE_OK,
           "(setup) the garbage moves to a request's histogram");
        is_int(store_run_get(rd, id, &rec, &err), -EBADMSG, "store_run_get: -EBADMSG again");
        ok(err && strstr(err, "the latency histogram of request \"GET /x\" is corrupt"), "naming it: %s",
           err ? err : "(null)");
        free(err);
out:
        hist_free(h);
        store_free(rd);
        store_free(w);
}

/* ---------------------------------------------------------------- migration */

static void test_migrate_v3(const char *path) {
        Store *s = open_rw(path);
        int64_t id = 0;
        StoreRun run = run_of("peak", 1000);

        if (!s)
                return;
        is_int(store_schema_version(s), 4, "a new database has schema version 4");
        is_int(store_append(s, "go.app.Sys", 5, 42), 0, "(setup) a sample");
        is_int(store_flush(s), 0, "(setup) written");
        s = store_free(s);
        ok(raw_exec(path, "DROP TABLE run_histograms; DROP TABLE runs; PRAGMA user_version = 3") == SQLITE_OK,
           "(setup) set it back to schema version 3 (no runs tables)");
        s = open_rw(path);
        ok(s != NULL, "the writer opens the version-3 database");
        if (!s)
                return;
        is_int(store_schema_version(s), 4, "and migrates it to version 4");
        is_int(sql_int(path, "SELECT count(*) FROM samples"), 1, "its sample survives");
        is_int(store_run_begin(s, &run, &id), 0, "it stores runs");
        store_free(s);
}

/* A file migrated to version 4 but killed before the application_id was
 * stamped (application_id 0, every perfwatch table) still opens; one with
 * a table of its own beside the runs tables is still refused. */
static void test_unstamped(const char *path) {
        Store *s = open_rw(path);
        char *err = NULL;

        store_free(s);
        ok(raw_exec(path, "PRAGMA application_id = 0") == SQLITE_OK,
           "(setup) a version-4 database with application_id 0");
        is_int(store_open(path, &s, &err), 0, "opens: runs, run_histograms and rollups are perfwatch's tables");
        free(err);
        err = NULL;
        s = store_free(s);
        ok(raw_exec(path, "PRAGMA application_id = 0; CREATE TABLE accounts (id INTEGER)") == SQLITE_OK,
           "(setup) the same with a table of another application");
        is_int(store_open(path, &s, &err), -EMEDIUMTYPE, "is refused");
        ok(err && strstr(err, "application_id 0, schema version 4, 1 tables that are not perfwatch's"),
           "counting only the foreign table: %s", err ? err : "(null)");
        free(err);
        store_free(s);
}

static void test_names(void) {
        StoreRunState st = STORE_RUN_RUNNING;
        StoreRunHistKind k = STORE_RUN_HIST_LATENCY;

        ok(store_run_state_from_string("cancelled", &st) == 0 && st == STORE_RUN_CANCELLED,
           "state names read back");
        is_int(store_run_state_from_string("done", &st), -EINVAL, "an unknown state name: -EINVAL");
        ok(!store_run_state_to_string(_STORE_RUN_STATE_MAX), "a state out of range has no name");
        ok(store_run_hist_kind_from_string("lateness", &k) == 0 && k == STORE_RUN_HIST_LATENESS,
           "kind names read back");
        is_str(store_run_hist_kind_to_string(STORE_RUN_HIST_SERVICE), "service", "kind names");
}

int main(void) {
        char path[PATH_MAX];

        if (tmpdir_make("test-runs") < 0)
                return 1;
        test_names();
        path_in(path, sizeof path, "trip.db");
        test_round_trip(path);
        path_in(path, sizeof path, "list.db");
        test_list(path);
        path_in(path, sizeof path, "latest.db");
        test_latest(path);
        path_in(path, sizeof path, "crash.db");
        test_interrupted(path);
        path_in(path, sizeof path, "retention.db");
        test_retention(path);
        path_in(path, sizeof path, "corrupt.db");
        test_corrupt(path);
        path_in(path, sizeof path, "v3.db");
        test_migrate_v3(path);
        test_unstamped(path);
        remove_tmpdir();
        return tap_done();
}
