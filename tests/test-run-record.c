/* perfwatchd --run's record of its run: a LoadResult mapped onto the
 * store's run and histograms, a busy database waited for, a database that
 * cannot be written reported. */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/run-record.h"
#include "load/histogram.h"
#include "store/store.h"
#include "tap.h"
#include "util/util.h"

#define STARTED UINT64_C(1700000000123456)

static char dir[] = "/tmp/test-run-record.XXXXXX", path[256];

static const ScenarioConfig scenario = { .name = (char *) "peak", .model = LOAD_MODEL_OPEN, .rate_rps = 100 };

static Histogram *hist_of(uint64_t usec, uint64_t n) {
        Histogram *h = NULL;

        if (hist_new(&h) < 0)
                exit(99);
        hist_record_n(h, usec, n);
        return h;
}

static void stats_set(LoadStats *s, const char *name, uint64_t usec, uint64_t n) {
        *s = (LoadStats) { .name = (char *) name, .latency = hist_of(usec, n), .service = hist_of(usec / 2, n) };
        s->counts.sent = s->counts.ok = n;
}

static void stats_done(LoadStats *s) {
        hist_free(s->latency);
        hist_free(s->service);
}

/* A finished run of 3 requests kinds, two of them named alike. */
static void result_make(LoadResult *r, LoadStats per[3]) {
        stats_set(&per[0], "GET /a", 1000, 10);
        stats_set(&per[1], "GET /b", 2000, 20);
        stats_set(&per[2], "GET /a", 3000, 30);
        *r = (LoadResult) { .state = LOAD_RUN_COMPLETED, .started_usec = STARTED,
                            .elapsed_usec = 6000999, .target_rps = 100, .achieved_rps = 99.5,
                            .per_request = per, .n_per_request = 3, .lateness = hist_of(10, 60),
                            .reason = (char *) "a reason" };
        stats_set(&r->total, "peak", 1500, 60);
        r->total.counts = (LoadCounts) { .sent = 70, .ok = 60, .err_connect = 1, .err_timeout = 2,
                                         .err_status = 3, .err_other = 4, .dropped = 5, .aborted = 0 };
}

static void result_done(LoadResult *r) {
        for (size_t i = 0; i < r->n_per_request; i++)
                stats_done(&r->per_request[i]);
        stats_done(&r->total);
        hist_free(r->lateness);
}

static uint64_t count_of(const StoreRunRecord *rec, const char *request, StoreRunHistKind kind) {
        const Histogram *h = store_run_record_hist(rec, request, kind);

        return h ? hist_count(h) : 0;
}

static void test_mapping(void) {
        StoreRunRecord *rec = NULL;
        RunRecord *rr = NULL;
        LoadStats per[3];
        char *error = NULL;
        Store *s = NULL;
        LoadResult r;
        int64_t id;

        result_make(&r, per);
        is_int(run_record_begin(path, &scenario, STARTED, &rr, &error), 0, "begin a run in a new database");
        id = run_record_id(rr);
        ok(id > 0, "it has an id (%lld)", (long long) id);
        is_int(run_record_finish(rr, &r, &error), 0, "finish it");
        rr = run_record_free(rr);

        if (store_open_readonly(path, &s, NULL) < 0 || store_run_get(s, id, &rec, NULL) < 0)
                exit(99);
        is_str(rec->run.scenario, "peak", "scenario");
        is_str(rec->run.model, "open", "model");
        is_int(rec->run.state, STORE_RUN_COMPLETED, "state completed");
        is_int(rec->run.started_at_ms, 1700000000123, "started_at_ms = started_usec / 1000");
        is_int(rec->run.duration_ms, 6000, "duration_ms = elapsed_usec / 1000");
        is_int(rec->run.ended_at_ms, 1700000006124, "ended_at_ms = (started + elapsed) / 1000");
        ok(rec->run.requests == 70 && rec->run.ok == 60 && rec->run.err_connect == 1 &&
           rec->run.err_timeout == 2 && rec->run.err_status == 3 && rec->run.err_other == 4 &&
           rec->run.dropped == 5 && rec->run.aborted == 0, "the counts");
        ok(rec->run.target_rps == 100 && rec->run.achieved_rps == 99.5, "the rates");
        is_str(rec->run.reason, "a reason", "the reason");
        is_int(rec->n_hists, 7, "7 histograms: 3 of the run, 2 of each request name");
        is_int(count_of(rec, "", STORE_RUN_HIST_LATENCY), 60, "the run's latency");
        is_int(count_of(rec, "", STORE_RUN_HIST_SERVICE), 60, "the run's service time");
        is_int(count_of(rec, "", STORE_RUN_HIST_LATENESS), 60, "the run's lateness");
        is_int(count_of(rec, "GET /a", STORE_RUN_HIST_LATENCY), 40, "two requests named GET /a: merged (40)");
        is_int(count_of(rec, "GET /a", STORE_RUN_HIST_SERVICE), 40, "their service times merged too");
        is_int(count_of(rec, "GET /b", STORE_RUN_HIST_LATENCY), 20, "GET /b's own");
        store_run_record_free(rec);
        store_free(s);
        result_done(&r);
}

static void test_states(void) {
        static const struct { LoadRunState in; StoreRunState out; } cases[] = {
                { LOAD_RUN_CANCELLED, STORE_RUN_CANCELLED },
                { LOAD_RUN_FAILED, STORE_RUN_FAILED },
        };
        StoreRunLatest l;
        LoadStats per[3];
        LoadResult r;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                StoreRunRecord *rec = NULL;
                RunRecord *rr = NULL;
                char *error = NULL;
                Store *s = NULL;

                result_make(&r, per);
                r.state = cases[i].in;
                if (run_record_begin(path, &scenario, STARTED, &rr, &error) < 0 || run_record_finish(rr, &r, &error) < 0)
                        exit(99);
                if (store_open_readonly(path, &s, NULL) < 0 || store_run_get(s, run_record_id(rr), &rec, NULL) < 0)
                        exit(99);
                is_str(store_run_state_to_string(rec->run.state), store_run_state_to_string(cases[i].out),
                       "a run %s is recorded %s", load_run_state_to_string(cases[i].in),
                       store_run_state_to_string(cases[i].out));
                ok(store_run_latest_completed(s, "peak", &l, NULL) == 0 && l.id == 1,
                   "and the latest completed run stays the first");
                store_run_record_free(rec);
                store_free(s);
                run_record_free(rr);
                result_done(&r);
        }
}

/* A child holds the write lock for 500 ms: the finish waits it out. */
static void test_busy(void) {
        uint64_t start;
        RunRecord *rr = NULL;
        LoadStats per[3];
        char *error = NULL, c;
        int p[2], k;
        LoadResult r;
        pid_t pid;

        if (run_record_begin(path, &scenario, STARTED, &rr, &error) < 0 || pipe(p) < 0)
                exit(99);
        pid = fork();
        if (pid == 0) {
                sqlite3 *db = NULL;

                if (sqlite3_open(path, &db) != SQLITE_OK ||
                    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
                        _exit(1);
                (void) !write(p[1], "x", 1);
                usleep(500 * 1000);
                sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
                sqlite3_close(db);
                _exit(0);
        }
        if (pid < 0 || read(p[0], &c, 1) != 1)
                exit(99);
        result_make(&r, per);
        start = now_monotonic_usec();
        k = run_record_finish(rr, &r, &error);
        is_int(k, 0, "a finish while another process holds the write lock succeeds%s%s", error ? ": " : "",
               error ?: "");
        ok(now_monotonic_usec() - start >= 300 * USEC_PER_MSEC, "once the lock was released (%llu ms)",
           (unsigned long long) ((now_monotonic_usec() - start) / USEC_PER_MSEC));
        waitpid(pid, NULL, 0);
        close(p[0]);
        close(p[1]);
        free(error);
        run_record_free(rr);
        result_done(&r);
}

static void test_unwritable(void) {
        char bad[300], *error = NULL;
        RunRecord *rr = NULL;

        snprintf(bad, sizeof bad, "%s/missing/db", dir);
        ok(run_record_begin(bad, &scenario, STARTED, &rr, &error) < 0 && !rr, "a database in a missing directory: an error");
        ok(error && strncmp(error, bad, strlen(bad)) == 0 && !strchr(error, '\n'),
           "one line that starts with the path (%s)", error ?: "(none)");
        free(error);
}

int main(void) {
        if (!mkdtemp(dir))
                return 99;
        snprintf(path, sizeof path, "%s/db", dir);
        test_mapping();
        test_states();
        test_busy();
        test_unwritable();
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        if (system(path) != 0)
                printf("# could not remove %s\n", dir);
        return tap_done();
}
