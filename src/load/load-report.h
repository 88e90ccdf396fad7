/* How a run's figures read: the run object as JSON (the fields of
 * GET /v1/runs/{id}, issue 7), a wrk-like text summary, and the one-line
 * progress of each second.  Pure rendering of a LoadResult or LoadSecond,
 * with no clock and no I/O but the FILE handed in, so the terminal mode
 * (perfwatchd --run) and the API share it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "load/load-engine.h"

/* What a LoadResult does not know about its run. */
typedef struct LoadReportInfo {
        int64_t id;                  /* the run's id in the store; < 0: none (JSON null) */
        const char *scenario;        /* its name */
        LoadModel model;
        const char *state;           /* NULL: load_run_state_to_string() of the result's */
        /* The figures were read back from the store, which keeps per
         * request only the histograms: the per-request counts and the
         * connections opened are not known (JSON null, left out of the
         * text). */
        bool stored;
} LoadReportInfo;

/* The run object: id, scenario, model, state, started_at, ended_at (null
 * while running), duration_s, requests (sent), ok, errors {connect,
 * timeout, status, other}, dropped, aborted, in_flight, target_rps (null
 * for the closed model), achieved_rps, latency_ms and service_ms {p50, p90,
 * p95, p99, p999, max, mean}, per_request {NAME: {requests, ok, errors,
 * latency_ms, service_ms}}, connections, reason (null: none), and with
 * the lost-write check "writes" (LoadResult.writes_json's object; absent
 * without write requests or while running).  A new
 * reference the caller owns (json_decref()); NULL when out of memory. */
json_t *load_report_json(const LoadResult *r, const LoadReportInfo *info);

/* Writes the summary, several lines in the manner of wrk's, to `f`.
 * 0, or -EIO when writing failed. */
int load_report_text(const LoadResult *r, const LoadReportInfo *info, FILE *f);

/* Formats one second's progress line (no newline) into buf, like snprintf:
 * "  12s  rate 100.0/s  p95 3.1ms  p99 4.0ms  errors 0  in flight 1  dropped 0". */
void load_report_second(const LoadSecond *s, char *buf, size_t size);

/* The p-th percentile (0..100) of a histogram in milliseconds; 0 when empty. */
double load_report_ms(const Histogram *h, double p);
