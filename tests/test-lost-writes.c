/* The lost-write check end to end (issue 8): closed-model runs with write
 * requests against the demo target's /docs documents, whose fault switches
 * (POST /docs/faults) drop, stall or invent writes and count what they did;
 * each test compares the run's "writes" verdict with the target's own
 * counts, exactly.  Also: a second run counts the rise of the server's
 * conflict count over it, a cancelled run is not read back, the server's
 * conflict count when it cannot be had, and the scenarios refused. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo-target.h"
#include "load/load-engine.h"
#include "load/load-report.h"
#include "load/write-book.h"
#include "tap.h"
#include "transport/curl-glue.h"
#include "util/util.h"

#define SEC USEC_PER_SEC

/* One blocking request to the target; its JSON answer, or NULL. */
static json_t *target_json(const char *method, const char *path) {
        char url[512], errbuf[CURL_ERROR_SIZE];
        CurlBuffer body = { 0 };
        json_t *j = NULL;
        long status = 0;
        CURL *e;

        snprintf(url, sizeof url, "%s%s", api, path);
        if (curl_glue_easy_new(url, 10 * SEC, 5 * SEC, errbuf, &e) < 0)
                return NULL;
        if (strcmp(method, "POST") == 0)
                (void) curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_buffer_attach(&body, e, 64 << 20);
        if (curl_easy_perform(e) == CURLE_OK && curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            status == 200)
                j = json_loadb(body.data, body.size, 0, NULL);
        curl_easy_cleanup(e);
        curl_buffer_done(&body);
        return j;
}

static long long stat_of(const json_t *o, const char *key) {
        return json_integer_value(json_object_get(o, key));
}

/* Sets the target's faults (the first value of a key counts: `query`'s
 * before the defaults) and forgets its documents and counts. */
static void faults(const char *query) {
        char path[256];
        json_t *j;

        snprintf(path, sizeof path, "/docs/faults?%s&reset=1&drop=0&stall=0&stall_fraction=0&invent=0", query);
        j = target_json("POST", path);
        if (!j) {
                printf("Bail out! cannot set the target's faults: %s\n", query);
                stop_target();
                exit(99);
        }
        json_decref(j);
}

static const LoadRequest writes_only[] = {
        { .weight = 1, .name = "write", .method = "POST", .path = "/docs/${doc}", .body = "{\"token\":\"${token}\"}",
          .write = true },
};

static LoadWrites settings(const char *conflicts_pointer) {
        return (LoadWrites) { .documents = 4, .read_method = "GET", .read_path = "/docs/${doc}",
                              .elements = "/elements", .conflicts_path = conflicts_pointer ? "/docs/stats" : NULL,
                              .conflicts_pointer = conflicts_pointer, .read_after_usec = 300 * USEC_PER_MSEC };
}

static LoadScenario scenario(unsigned users, uint64_t duration, uint64_t timeout, const LoadWrites *w) {
        return (LoadScenario) { .name = "crdt", .model = LOAD_MODEL_CLOSED, .base_url = api, .users = users,
                                .duration_usec = duration, .timeout_usec = timeout, .requests = writes_only,
                                .n_requests = 1, .writes = w };
}

/* Runs `sc` (cancelled after `cancel_after` when not 0) and gives its
 * result and its "writes" object. */
static LoadResult *run(const LoadScenario *sc, uint64_t cancel_after, json_t **ret_writes) {
        LoadResult *res = NULL;
        LoadRun *r = NULL;
        char *err = NULL;
        uint64_t start = now_monotonic_usec();

        *ret_writes = NULL;
        if (load_run_start(sc, NULL, &r, &err) < 0) {
                printf("# load_run_start: %s\n", err ?: "?");
                free(err);
                return NULL;
        }
        while (!load_run_done(r) && now_monotonic_usec() - start < 60 * SEC) {
                if (cancel_after && now_monotonic_usec() - start >= cancel_after) {
                        load_run_cancel(r);
                        cancel_after = 0;
                }
                usleep(20 * 1000);
        }
        if (load_run_snapshot(r, &res) < 0)
                res = NULL;
        load_run_free(r);
        if (res && res->writes_json)
                *ret_writes = json_loads(res->writes_json, 0, NULL);
        return res;
}

static long long w_of(const json_t *w, const char *key) {
        return json_integer_value(json_object_get(w, key));
}

/* Every writer on few documents, nothing lost: the conflicts are the
 * server's, equal to what it says after the run. */
static void test_clean(void) {
        LoadWrites ws = settings("/conflicts");
        LoadScenario sc = scenario(200, 3 * SEC, 5 * SEC, &ws);
        json_t *w, *stats;
        LoadResult *res;

        faults("seed=1");
        res = run(&sc, 0, &w);
        ok(res && res->state == LOAD_RUN_COMPLETED && w, "200 users writing to 4 documents for 3 s complete");
        if (!res || !w)
                goto out;
        stats = target_json("GET", "/docs/stats");
        printf("# %lld writes, %lld conflicts, book %lld bytes, read back in %lld ms\n", w_of(w, "attempted"),
               w_of(w, "conflicts"), w_of(w, "book_bytes"), w_of(w, "read_back_ms"));
        ok(w_of(w, "attempted") > 1000, "many writes: %lld", w_of(w, "attempted"));
        is_int(w_of(w, "attempted"), (long long) res->total.counts.sent, "every request was a booked write");
        is_int(w_of(w, "acknowledged"), w_of(w, "attempted"), "all acknowledged");
        is_int(w_of(w, "ok"), w_of(w, "acknowledged"), "ok == acknowledged");
        is_int(w_of(w, "lost"), 0, "lost 0");
        is_int(w_of(w, "unexpected"), 0, "unexpected 0");
        is_int(w_of(w, "unread"), 0, "unread 0");
        is_int(w_of(w, "documents_read"), 4, "each document read back");
        ok(json_is_true(json_object_get(w, "read_back")), "read_back true");
        is_str(json_string_value(json_object_get(w, "conflicts_source")), "server", "conflicts are the server's");
        ok(w_of(w, "conflicts") > 0, "conflicts > 0: %lld", w_of(w, "conflicts"));
        is_int(w_of(w, "conflicts"), stat_of(stats, "conflicts"), "and equal /docs/stats's");
        is_int(w_of(w, "conflicts_before"), 0, "its count before the load was 0 (reset)");
        is_int(w_of(w, "conflicts_after"), stat_of(stats, "conflicts"), "and after, /docs/stats's");
        is_int(w_of(w, "attempted"), stat_of(stats, "writes"), "the target saw each write");
        ok((uint64_t) w_of(w, "book_bytes") <= (uint64_t) w_of(w, "attempted") * WRITE_BOOK_BYTES_PER_WRITE +
                   WRITE_BOOK_CHUNK * WRITE_BOOK_BYTES_PER_WRITE + 4096,
           "the book holds about 6 bytes a write: %lld bytes", w_of(w, "book_bytes"));
        ok(res->elapsed_usec < 4 * SEC, "the run's duration is the load's, not the read-back's: %.2f s",
           (double) res->elapsed_usec / SEC);
        json_decref(stats);
out:
        json_decref(w);
        load_result_free(res);
}

/* A service counts its conflicts since it started: a second run on the
 * same target reports the rise of that count over the run, not the count
 * the first run left. */
static void test_conflicts_rise(void) {
        LoadWrites ws = settings("/conflicts");
        LoadScenario sc = scenario(100, 2 * SEC, 5 * SEC, &ws);
        json_t *w, *before = target_json("GET", "/docs/stats"), *after;
        LoadResult *res;

        res = run(&sc, 0, &w);
        after = target_json("GET", "/docs/stats");
        ok(res && w && before && after && stat_of(before, "conflicts") > 0,
           "a second run on a target that counted %lld conflicts before it", before ? stat_of(before, "conflicts") : -1);
        if (!res || !w || !before || !after)
                goto out;
        printf("# target conflicts %lld before, %lld after; run: %lld\n", stat_of(before, "conflicts"),
               stat_of(after, "conflicts"), w_of(w, "conflicts"));
        is_str(json_string_value(json_object_get(w, "conflicts_source")), "server", "conflicts are the server's");
        ok(w_of(w, "conflicts") > 0, "conflicts > 0: %lld", w_of(w, "conflicts"));
        is_int(w_of(w, "conflicts"), stat_of(after, "conflicts") - stat_of(before, "conflicts"),
               "the rise of the target's count over the run");
        is_int(w_of(w, "conflicts_before"), stat_of(before, "conflicts"), "its count before the load");
        is_int(w_of(w, "conflicts_after"), stat_of(after, "conflicts"), "its count after the read-back");
out:
        json_decref(before);
        json_decref(after);
        json_decref(w);
        load_result_free(res);
}

static bool listed(const json_t *list, const char *token) {
        size_t i;
        json_t *e;

        json_array_foreach(list, i, e)
                if (strcmp(json_string_value(json_object_get(e, "token")) ?: "", token) == 0)
                        return true;
        return false;
}

/* The target acknowledges and drops 1%: lost is exactly its count. */
static void test_dropped(void) {
        LoadWrites ws = settings(NULL);
        LoadScenario sc = scenario(100, 2 * SEC, 5 * SEC, &ws);
        json_t *w, *stats, *sample;
        LoadResult *res;
        size_t i;
        json_t *e;
        bool all = true;

        faults("drop=0.01&seed=7");
        res = run(&sc, 0, &w);
        stats = target_json("GET", "/docs/stats?dropped=1");
        ok(res && w && stats, "a run against a target dropping 1%%");
        if (!res || !w || !stats)
                goto out;
        printf("# %lld writes, %lld lost, target dropped %lld\n", w_of(w, "attempted"), w_of(w, "lost"),
               stat_of(stats, "dropped"));
        ok(stat_of(stats, "dropped") > 0, "the target dropped some: %lld", stat_of(stats, "dropped"));
        is_int(w_of(w, "lost"), stat_of(stats, "dropped"), "lost == the target's dropped count");
        is_int(w_of(w, "ok") + w_of(w, "lost"), w_of(w, "acknowledged"), "ok + lost == acknowledged");
        is_int(w_of(w, "unexpected"), 0, "unexpected 0");
        is_str(json_string_value(json_object_get(w, "conflicts_source")), "client",
               "without conflicts_from the count is the client's");
        sample = json_object_get(w, "lost_sample");
        is_int((long long) json_array_size(sample),
               w_of(w, "lost") < WRITE_BOOK_LOST_SAMPLE ? w_of(w, "lost") : WRITE_BOOK_LOST_SAMPLE,
               "the sample lists the lost writes");
        json_array_foreach(sample, i, e)
                all = all && listed(json_object_get(stats, "dropped_writes"),
                                    json_string_value(json_object_get(e, "token")) ?: "");
        ok(all, "each one among the target's dropped writes");
out:
        json_decref(stats);
        json_decref(w);
        load_result_free(res);
}

/* Writes the target applies and answers after the timeout: recovered. */
static void test_stalled(void) {
        LoadWrites ws = settings(NULL);
        LoadScenario sc = scenario(50, 2 * SEC, 1 * SEC, &ws);
        json_t *w, *stats;
        LoadResult *res;

        faults("stall=3s&stall_fraction=0.05&seed=3");
        res = run(&sc, 0, &w);
        stats = target_json("GET", "/docs/stats");
        ok(res && w && stats, "a run against a target stalling 5%% of writes for 3 s, timeout 1 s");
        if (!res || !w || !stats)
                goto out;
        printf("# %lld writes, %lld indeterminate, %lld recovered, target stalled %lld\n", w_of(w, "attempted"),
               w_of(w, "indeterminate"), w_of(w, "recovered"), stat_of(stats, "stalled"));
        ok(stat_of(stats, "stalled") > 0, "the target stalled some: %lld", stat_of(stats, "stalled"));
        is_int(w_of(w, "recovered"), stat_of(stats, "stalled"), "recovered == the target's stalled count");
        is_int(w_of(w, "indeterminate"), w_of(w, "recovered"), "each indeterminate write was found");
        is_int(w_of(w, "lost"), 0, "lost 0");
        is_int(w_of(w, "ok"), w_of(w, "acknowledged"), "ok == acknowledged");
        is_int((long long) res->total.counts.err_timeout, w_of(w, "indeterminate"), "they are the run's timeouts");
out:
        json_decref(stats);
        json_decref(w);
        load_result_free(res);
}

/* An element nobody sent; and a conflicts_from pointer that finds nothing. */
static void test_invented(void) {
        LoadWrites ws = settings("/no/such");
        LoadScenario sc = scenario(20, 1 * SEC, 5 * SEC, &ws);
        const char *error;
        json_t *w;
        LoadResult *res;
        FILE *f;
        char *text = NULL;
        size_t size = 0;

        faults("invent=1&seed=5");
        res = run(&sc, 0, &w);
        ok(res && w, "a run against a target inventing one element");
        if (!res || !w)
                goto out;
        is_int(w_of(w, "unexpected"), 1, "unexpected == 1");
        is_int(w_of(w, "lost"), 0, "lost 0");
        is_str(json_string_value(json_array_get(json_object_get(w, "unexpected_sample"), 0)), "invented-5-1",
               "the sample shows it");
        is_str(json_string_value(json_object_get(w, "conflicts_source")), "client",
               "a server count not found falls back to the client's");
        error = json_string_value(json_object_get(w, "conflicts_error"));
        is_str(error, "/docs/stats (before the load): no count (a number >= 0) at /no/such", "and says why");
        ok(json_is_null(json_object_get(w, "conflicts_before")) && json_is_null(json_object_get(w, "conflicts_after")),
           "neither reading is reported");
        f = open_memstream(&text, &size);
        load_report_text(res, &(LoadReportInfo) { .id = -1, .scenario = "crdt", .model = LOAD_MODEL_CLOSED }, f);
        fclose(f);
        ok(text && strstr(text, "0 lost, 1 unexpected"), "the text report shows the verdict");
        ok(text && strstr(text, "(client-observed)"), "and which conflict count");
        free(text);
out:
        json_decref(w);
        load_result_free(res);
}

/* A cancelled run reads nothing back, and says so. */
static void test_cancelled(void) {
        LoadWrites ws = settings(NULL);
        LoadScenario sc = scenario(10, 10 * SEC, 5 * SEC, &ws);
        json_t *w, *report;
        LoadResult *res;

        faults("seed=1");
        res = run(&sc, 500 * USEC_PER_MSEC, &w);
        ok(res && res->state == LOAD_RUN_CANCELLED && w, "a cancelled run");
        if (!res || !w)
                goto out;
        ok(json_is_false(json_object_get(w, "read_back")), "has read_back false");
        is_int(w_of(w, "documents_read"), 0, "read nothing");
        is_int(w_of(w, "unread"), w_of(w, "acknowledged"), "its acknowledged writes are unread");
        ok(w_of(w, "attempted") > 0, "but counts its writes: %lld", w_of(w, "attempted"));
        report = load_report_json(res, &(LoadReportInfo) { .id = 1, .scenario = "crdt", .model = LOAD_MODEL_CLOSED });
        ok(json_is_object(json_object_get(report, "writes")), "the run's JSON carries \"writes\"");
        json_decref(report);
out:
        json_decref(w);
        load_result_free(res);
}

/* A document the server does not have (404) is read empty: its
 * acknowledged writes are lost.  An answer without the elements array is a
 * failed read: its writes are unread, and the reason is kept. */
static void test_read_misses(void) {
        LoadWrites ws = settings(NULL);
        LoadScenario sc = scenario(5, 500 * USEC_PER_MSEC, 5 * SEC, &ws);
        json_t *w;
        LoadResult *res;

        faults("seed=1");
        ws.read_path = "/docs/elsewhere-${doc}";
        res = run(&sc, 0, &w);
        ok(res && w, "a run reading back documents that do not exist");
        if (res && w) {
                is_int(w_of(w, "documents_read"), 4, "a 404 is a read, of an empty document");
                ok(w_of(w, "acknowledged") > 0, "some writes acknowledged: %lld", w_of(w, "acknowledged"));
                is_int(w_of(w, "lost"), w_of(w, "acknowledged"), "each is lost");
                ok(json_is_null(json_object_get(w, "read_error")), "no read failed");
        }
        json_decref(w);
        load_result_free(res);
        ws.read_path = "/api/items?doc=${doc}";
        res = run(&sc, 0, &w);
        ok(res && w, "a run whose reads answer JSON without /elements");
        if (res && w) {
                is_int(w_of(w, "documents_read"), 0, "no document counts as read");
                is_int(w_of(w, "unread"), w_of(w, "acknowledged"), "each acknowledged write is unread");
                is_int(w_of(w, "lost"), 0, "none lost");
                const char *e = json_string_value(json_object_get(w, "read_error"));

                ok(e && !strncmp(e, "/api/items?doc=", 15) && strstr(e, ": the answer has no array at \"/elements\""),
                   "the first failed read is named, and why: %s", e ?: "(null)");
        }
        json_decref(w);
        load_result_free(res);
}

static void expect_refused(LoadScenario sc, const char *want) {
        LoadRun *r = NULL;
        char *err = NULL;

        is_int(load_run_start(&sc, NULL, &r, &err), -EINVAL, "refused: %s", want);
        ok(err && strstr(err, want), "says \"%s\": %s", want, err ?: "(nothing)");
        free(err);
        load_run_free(r);
}

static void test_refused(void) {
        static const LoadRequest no_token[] = { { .weight = 1, .method = "POST", .path = "/docs/${doc}",
                                                  .body = "{}", .write = true } };
        LoadWrites ws = settings(NULL), bad = ws;
        LoadScenario sc = scenario(1, SEC, SEC, &ws);

        sc.writes = NULL;
        expect_refused(sc, "write requests need the lost-write check's settings");
        sc = scenario(1, SEC, SEC, &ws);
        sc.requests = no_token;
        expect_refused(sc, "write request 1 carries no ${token}");
        bad.documents = WRITE_BOOK_MAX_DOCUMENTS + 1;
        sc = scenario(1, SEC, SEC, &bad);
        expect_refused(sc, "documents must be 1..4096");
        bad = ws;
        bad.elements = "elements";
        sc.writes = &bad;
        expect_refused(sc, "elements \"elements\" is not a JSON pointer");
        bad = ws;
        bad.read_path = "/docs/${nope}";
        expect_refused(sc, "read has a bad PATH template: unknown placeholder ${nope}");
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        if (curl_glue_global_init() < 0 || start_target() < 0) {
                printf("Bail out! cannot start the demo target (DEMO_TARGET=%s)\n", getenv("DEMO_TARGET") ?: "");
                stop_target();
                return 99;
        }
        test_refused();
        test_clean();
        test_conflicts_rise();
        test_dropped();
        test_stalled();
        test_invented();
        test_cancelled();
        test_read_misses();
        stop_target();
        curl_glue_global_cleanup();
        return tap_done();
}
