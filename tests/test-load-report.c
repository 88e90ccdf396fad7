/* Unit tests for load-report.c: a LoadResult made by hand, rendered as the
 * run object, as the text summary and as a progress line. */
#include "load/load-report.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util/util.h"

/* A finished open run of 10 s: 1000 answers taking 1, 2, ... 1000 ms from
 * their intended start, each served in 1 ms, and some errors. */
static void fill(LoadResult *r, LoadStats *per) {
        *r = (LoadResult) { .state = LOAD_RUN_COMPLETED, .started_usec = 1764547200ULL * USEC_PER_SEC,
                            .elapsed_usec = 10 * USEC_PER_SEC, .target_rps = 100, .achieved_rps = 99.5,
                            .connections = 3, .per_request = per, .n_per_request = 1 };
        r->total.counts = (LoadCounts) { .sent = 1003, .ok = 995, .err_connect = 1, .err_timeout = 2,
                                         .err_status = 5, .dropped = 7 };
        (void) hist_new(&r->total.latency);
        (void) hist_new(&r->total.service);
        /* Latency 1..1000 ms, one each; service time 1 ms each. */
        for (uint64_t i = 1; i <= 1000; i++)
                hist_record(r->total.latency, i * USEC_PER_MSEC);
        hist_record_n(r->total.service, USEC_PER_MSEC, 1000);
        *per = (LoadStats) { .name = (char *) "GET /api/items", .counts = r->total.counts,
                             .latency = r->total.latency, .service = r->total.service };
}

static double num(json_t *o, const char *path1, const char *path2) {
        json_t *v = json_object_get(o, path1);

        if (path2)
                v = json_object_get(v, path2);
        return json_number_value(v);
}

static void test_json(LoadResult *r) {
        LoadReportInfo info = { .id = -1, .scenario = "peak", .model = LOAD_MODEL_OPEN };
        json_t *j = load_report_json(r, &info), *per;

        ok(j != NULL, "the run renders as JSON");
        if (!j)
                return;
        ok(json_is_null(json_object_get(j, "id")), "id null when not stored");
        is_str(json_string_value(json_object_get(j, "scenario")), "peak", "scenario");
        is_str(json_string_value(json_object_get(j, "model")), "open", "model");
        is_str(json_string_value(json_object_get(j, "state")), "completed", "state from the result");
        is_str(json_string_value(json_object_get(j, "started_at")), "2025-12-01T00:00:00Z", "started_at, UTC");
        is_str(json_string_value(json_object_get(j, "ended_at")), "2025-12-01T00:00:10Z", "ended_at = start + elapsed");
        ok(num(j, "duration_s", NULL) == 10 && num(j, "requests", NULL) == 1003 && num(j, "ok", NULL) == 995 &&
           num(j, "dropped", NULL) == 7, "duration_s, requests, ok, dropped");
        ok(num(j, "errors", "connect") == 1 && num(j, "errors", "timeout") == 2 && num(j, "errors", "status") == 5,
           "errors by class");
        ok(num(j, "target_rps", NULL) == 100 && num(j, "achieved_rps", NULL) == 99.5, "target and achieved rate");
        ok(num(j, "latency_ms", "p95") > 945 && num(j, "latency_ms", "p95") < 955, "latency p95 ~950 ms (%g)",
           num(j, "latency_ms", "p95"));
        ok(num(j, "latency_ms", "p999") > 990 && num(j, "latency_ms", "max") == 1000 &&
           num(j, "latency_ms", "mean") == 500.5, "p999, max and mean exact where exact");
        ok(num(j, "service_ms", "p50") > 0.99 && num(j, "service_ms", "p50") < 1.01, "service p50 1 ms");
        per = json_object_get(json_object_get(j, "per_request"), "GET /api/items");
        ok(per && json_integer_value(json_object_get(per, "requests")) == 1003 &&
           json_object_get(json_object_get(per, "latency_ms"), "p99"), "per_request by name, with its figures");
        ok(json_is_null(json_object_get(j, "reason")), "reason null without an error");
        is_str(json_string_value(json_object_get(j, "client")), "libcurl", "client: libcurl");
        json_decref(j);
        r->own_client = true;
        j = load_report_json(r, &info);
        is_str(j ? json_string_value(json_object_get(j, "client")) : NULL, "own", "client: own");
        json_decref(j);
        r->own_client = false;

        info = (LoadReportInfo) { .id = 42, .scenario = "sustained", .model = LOAD_MODEL_CLOSED, .state = "aborted" };
        r->state = LOAD_RUN_RUNNING;
        j = load_report_json(r, &info);
        ok(j && json_integer_value(json_object_get(j, "id")) == 42, "an id when stored");
        ok(j && json_is_null(json_object_get(j, "target_rps")), "target_rps null for the closed model");
        ok(j && json_is_null(json_object_get(j, "ended_at")), "ended_at null while running");
        is_str(j ? json_string_value(json_object_get(j, "state")) : NULL, "aborted", "the caller's state wins");
        json_decref(j);
        r->state = LOAD_RUN_COMPLETED;
}

static void test_text(const LoadResult *r) {
        LoadReportInfo info = { .id = -1, .scenario = "peak", .model = LOAD_MODEL_OPEN };
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ok(f && load_report_text(r, &info, f) == 0, "the summary is written");
        if (f)
                fclose(f);
        ok(buf && strstr(buf, "Scenario peak (open model): completed after 10.0s\n"), "its first line");
        ok(buf && strstr(buf, "1003 requests, 995 ok, 8 errors (connect 1, timeout 2, status 5, other 0)"),
           "requests and errors by class");
        ok(buf && strstr(buf, "rate: 99.5/s achieved, 100.0/s intended"), "the rates");
        ok(buf && strstr(buf, ", 3 connections opened by libcurl\n"), "the connections, and by which client");
        ok(buf && strstr(buf, "from the intended start") && strstr(buf, "service time"), "both latencies");
        ok(buf && strstr(buf, "  GET /api/items: 1003 requests"), "a line per request name");
        free(buf);
}

/* A run read back from the store: what it did not keep reads null (JSON)
 * or is left out (text), never a made-up 0. */
static void test_stored(const LoadResult *r) {
        LoadReportInfo info = { .id = 7, .scenario = "peak", .model = LOAD_MODEL_OPEN, .stored = true };
        json_t *j = load_report_json(r, &info), *per;
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        per = json_object_get(json_object_get(j, "per_request"), "GET /api/items");
        ok(j && json_is_null(json_object_get(j, "connections")), "stored: connections null");
        ok(j && json_is_null(json_object_get(j, "client")), "stored: client null");
        ok(per && json_is_null(json_object_get(per, "requests")) && json_is_null(json_object_get(per, "ok")) &&
           json_is_null(json_object_get(per, "errors")), "stored: per-request counts null");
        ok(per && json_object_get(json_object_get(per, "latency_ms"), "p99"), "stored: per-request latency kept");
        ok(j && num(j, "requests", NULL) == 1003, "stored: the run's counts kept");
        json_decref(j);
        f = open_memstream(&buf, &size);
        ok(f && load_report_text(r, &info, f) == 0, "stored: the summary is written");
        if (f)
                fclose(f);
        ok(buf && !strstr(buf, "connections opened") && strstr(buf, "7 dropped (max_inflight reached), 0 aborted\n"),
           "stored: no connections count in the text");
        ok(buf && strstr(buf, "  GET /api/items: p50 ") && !strstr(buf, "GET /api/items: 1003"),
           "stored: the per-request line has no counts");
        free(buf);
}

static void test_second(void) {
        LoadSecond s = { .second = 7, .achieved_rps = 100, .in_flight = 3, .p95_usec = 750000, .p99_usec = 950000,
                         .counts = { .err_timeout = 1, .err_status = 2, .dropped = 4 } };
        char line[256];

        load_report_second(&s, line, sizeof line);
        is_str(line, "    7s  rate 100.0/s  p95 750.00ms  p99 950.00ms  errors 3  in flight 3  dropped 4",
               "a progress line");
}

int main(void) {
        LoadResult r;
        LoadStats per;

        fill(&r, &per);
        test_json(&r);
        test_text(&r);
        test_stored(&r);
        test_second();
        hist_free(r.total.latency);
        hist_free(r.total.service);
        return tap_done();
}
