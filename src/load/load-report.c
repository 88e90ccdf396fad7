/* Rendering of a run's figures: JSON, text summary, progress line. */
#include "load/load-report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "util/units.h"
#include "util/util.h"

/* The percentiles of every summary, as JSON keys and text headings. */
static const struct {
        const char *key, *heading;
        double p;
} percentiles[] = {
        { "p50", "p50", 50 }, { "p90", "p90", 90 }, { "p95", "p95", 95 },
        { "p99", "p99", 99 }, { "p999", "p99.9", 99.9 },
};

double load_report_ms(const Histogram *h, double p) {
        if (!h || hist_count(h) == 0)
                return 0;
        return (double) hist_percentile(h, p) / (double) USEC_PER_MSEC;
}

/* A figure to the microsecond (or the thousandth), not to float noise. */
static json_t *real3(double v) {
        return json_real(round(v * 1000.0) / 1000.0);
}

static uint64_t count_errors(const LoadCounts *c) {
        return c->err_connect + c->err_timeout + c->err_status + c->err_other;
}

/* {p50, p90, p95, p99, p999, max, mean} in milliseconds. */
static json_t *latency_json(const Histogram *h) {
        json_t *o = json_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(percentiles); i++)
                if (json_object_set_new(o, percentiles[i].key, real3(load_report_ms(h, percentiles[i].p))) < 0)
                        return json_decref(o), NULL;
        if (json_object_set_new(o, "max", real3(load_report_ms(h, 100))) < 0 ||
            json_object_set_new(o, "mean", real3(h && hist_count(h) ? hist_mean(h) / USEC_PER_MSEC : 0)) < 0)
                return json_decref(o), NULL;
        return o;
}

static json_t *errors_json(const LoadCounts *c) {
        return json_pack("{s:I, s:I, s:I, s:I}", "connect", (json_int_t) c->err_connect,
                         "timeout", (json_int_t) c->err_timeout, "status", (json_int_t) c->err_status,
                         "other", (json_int_t) c->err_other);
}

static json_t *stats_json(const LoadStats *s, bool stored) {
        return json_pack("{s:o, s:o, s:o*, s:o*, s:o*}",
                         "requests", stored ? json_null() : json_integer((json_int_t) s->counts.sent),
                         "ok", stored ? json_null() : json_integer((json_int_t) s->counts.ok),
                         "errors", stored ? json_null() : errors_json(&s->counts),
                         "latency_ms", latency_json(s->latency), "service_ms", latency_json(s->service));
}

static json_t *per_request_json(const LoadResult *r, bool stored) {
        json_t *o = json_object();

        for (size_t i = 0; o && i < r->n_per_request; i++)
                if (json_object_set_new(o, r->per_request[i].name ?: "?",
                                        stats_json(&r->per_request[i], stored)) < 0)
                        return json_decref(o), NULL;
        return o;
}

static json_t *time_json(uint64_t usec) {
        char buf[64];

        return json_string(units_format_iso8601(usec, buf, sizeof buf));
}

static const char *model_name(LoadModel m) {
        return m == LOAD_MODEL_OPEN ? "open" : m == LOAD_MODEL_EXEC ? "exec" : "closed";
}

json_t *load_report_json(const LoadResult *r, const LoadReportInfo *info) {
        bool over = r->state != LOAD_RUN_RUNNING;
        json_t *o;

        o = json_pack("{s:o, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o*, s:I, s:I, s:i}",
                      "id", info->id >= 0 ? json_integer(info->id) : json_null(),
                      "scenario", info->scenario ?: "",
                      "model", model_name(info->model),
                      "state", info->state ?: load_run_state_to_string(r->state),
                      "started_at", time_json(r->started_usec),
                      "ended_at", over ? time_json(r->started_usec + r->elapsed_usec) : json_null(),
                      "duration_s", real3((double) r->elapsed_usec / USEC_PER_SEC),
                      "requests", (json_int_t) r->total.counts.sent,
                      "ok", (json_int_t) r->total.counts.ok,
                      "errors", errors_json(&r->total.counts),
                      "dropped", (json_int_t) r->total.counts.dropped,
                      "aborted", (json_int_t) r->total.counts.aborted,
                      "in_flight", (int) r->in_flight);
        if (!o)
                return NULL;
        if (json_object_set_new(o, "target_rps", info->model == LOAD_MODEL_OPEN ? real3(r->target_rps)
                                                                                 : json_null()) < 0 ||
            json_object_set_new(o, "achieved_rps", real3(r->achieved_rps)) < 0 ||
            json_object_set_new(o, "latency_ms", latency_json(r->total.latency)) < 0 ||
            json_object_set_new(o, "service_ms", latency_json(r->total.service)) < 0 ||
            json_object_set_new(o, "per_request", per_request_json(r, info->stored)) < 0 ||
            json_object_set_new(o, "connections", info->stored ? json_null()
                                                               : json_integer((json_int_t) r->connections)) < 0 ||
            json_object_set_new(o, "client", info->stored ? json_null()
                                                          : json_string(r->own_client ? "own" : "libcurl")) < 0 ||
            json_object_set_new(o, "reason", r->reason ? json_string(r->reason) : json_null()) < 0)
                return json_decref(o), NULL;
        if (r->writes_json) {
                json_t *w = json_loads(r->writes_json, 0, NULL);

                if (!w || json_object_set_new(o, "writes", w) < 0)
                        return json_decref(o), NULL;
        }
        if (r->exec_json) {
                json_t *l = json_loads(r->exec_json, 0, NULL);

                if (!l || json_object_set_new(o, "latency_source", json_incref(json_object_get(l, "latency_source"))) < 0 ||
                    json_object_set_new(o, "locust", l) < 0)
                        return json_decref(o), NULL;
        }
        return o;
}

/* ---------------------------------------------------------------- text */

static uint64_t member_u64(const json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);

        return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t) json_integer_value(v) : 0;
}

/* The lost-write check's figures, from the run's "writes" object. */
static void text_writes(FILE *f, const char *writes_json) {
        json_t *w = json_loads(writes_json, 0, NULL), *sample;
        const char *source, *error;

        if (!w) {
                fprintf(f, "Writes: (the report cannot be read)\n");
                return;
        }
        source = json_string_value(json_object_get(w, "conflicts_source"));
        fprintf(f, "Writes: %" PRIu64 " attempted, %" PRIu64 " acknowledged, %" PRIu64 " failed, %" PRIu64
                " indeterminate\n", member_u64(w, "attempted"), member_u64(w, "acknowledged"), member_u64(w, "failed"),
                member_u64(w, "indeterminate"));
        if (!json_is_true(json_object_get(w, "read_back")))
                fprintf(f, "  not read back (the run did not complete): no verdict on lost writes\n");
        else
                fprintf(f, "  read back %" PRIu64 "/%" PRIu64 " documents: %" PRIu64 " ok, %" PRIu64 " lost, %" PRIu64
                        " unexpected, %" PRIu64 " recovered, %" PRIu64 " unread\n", member_u64(w, "documents_read"),
                        member_u64(w, "documents"), member_u64(w, "ok"), member_u64(w, "lost"),
                        member_u64(w, "unexpected"), member_u64(w, "recovered"), member_u64(w, "unread"));
        fprintf(f, "  conflicts: %" PRIu64 " (%s)\n", member_u64(w, "conflicts"),
                source && strcmp(source, "server") == 0 ? "the server's count" : "client-observed");
        if ((error = json_string_value(json_object_get(w, "read_error"))))
                fprintf(f, "  first failed read: %s\n", error);
        if ((error = json_string_value(json_object_get(w, "conflicts_error"))))
                fprintf(f, "  server's conflict count unavailable: %s\n", error);
        sample = json_object_get(w, "lost_sample");
        for (size_t i = 0; i < json_array_size(sample) && i < 5; i++) {
                json_t *l = json_array_get(sample, i);

                fprintf(f, "  lost: %s in %s, sent %s\n", json_string_value(json_object_get(l, "token")) ?: "?",
                        json_string_value(json_object_get(l, "document")) ?: "?",
                        json_string_value(json_object_get(l, "sent_at")) ?: "?");
        }
        json_decref(w);
}

static void text_ms(FILE *f, const json_t *o, const char *key) {
        const json_t *v = json_object_get(o, key);

        if (json_is_number(v))
                fprintf(f, " %9.0f", json_number_value(v));
        else
                fprintf(f, " %9s", "-");
}

/* Locust's own figures, from the run's "locust" object. */
static void text_locust(FILE *f, const char *exec_json) {
        json_t *l = json_loads(exec_json, 0, NULL), *pct, *rt;

        if (!l) {
                fprintf(f, "Locust: (the report cannot be read)\n");
                return;
        }
        pct = json_object_get(l, "percentiles_ms");
        rt = json_object_get(l, "response_time_ms");
        fprintf(f, "Locust's figures (latency source: %s):\n",
                json_string_value(json_object_get(l, "latency_source")) ?: "?");
        if (json_is_true(json_object_get(l, "imported"))) {
                fprintf(f, "  %" PRIu64 " requests, %" PRIu64 " failures, %.1f/s\n", member_u64(l, "requests"),
                        member_u64(l, "failures"), json_number_value(json_object_get(l, "rps")));
                fprintf(f, "  %-26s %9s %9s %9s %9s %9s %9s\n", "response time (ms)", "p50", "p90", "p95", "p99",
                        "max", "average");
                fprintf(f, "  %-26s", "Locust's, rounded");
                text_ms(f, pct, "50%");
                text_ms(f, pct, "90%");
                text_ms(f, pct, "95%");
                text_ms(f, pct, "99%");
                text_ms(f, pct, "100%");
                text_ms(f, rt, "average");
                fputc('\n', f);
        } else
                fprintf(f, "  not imported: %s\n", json_string_value(json_object_get(l, "import_error")) ?: "?");
        fprintf(f, "  run directory: %s%s\n", json_string_value(json_object_get(l, "run_dir")) ?: "?",
                json_is_true(json_object_get(l, "run_dir_kept")) ? " (kept)" : " (removed)");
        json_decref(l);
}

static void text_latency(FILE *f, const char *what, const Histogram *h) {
        fprintf(f, "  %-26s", what);
        for (size_t i = 0; i < ELEMENTSOF(percentiles); i++)
                fprintf(f, " %9.2f", load_report_ms(h, percentiles[i].p));
        fprintf(f, " %9.2f %9.2f\n", load_report_ms(h, 100), h && hist_count(h) ? hist_mean(h) / USEC_PER_MSEC : 0);
}

static void text_counts(FILE *f, const LoadCounts *c) {
        fprintf(f, "%" PRIu64 " requests, %" PRIu64 " ok, %" PRIu64 " errors (connect %" PRIu64 ", timeout %" PRIu64
                ", status %" PRIu64 ", other %" PRIu64 ")", c->sent, c->ok, count_errors(c), c->err_connect,
                c->err_timeout, c->err_status, c->err_other);
}

static void text_per_request(FILE *f, const LoadResult *r, bool stored) {
        fprintf(f, "Per request:\n");
        for (size_t i = 0; i < r->n_per_request; i++) {
                const LoadStats *s = &r->per_request[i];

                fprintf(f, "  %s: ", s->name ?: "?");
                if (!stored) {
                        text_counts(f, &s->counts);
                        fprintf(f, "; ");
                }
                fprintf(f, "p50 %.2f ms, p95 %.2f ms, p99 %.2f ms\n", load_report_ms(s->latency, 50),
                        load_report_ms(s->latency, 95), load_report_ms(s->latency, 99));
        }
}

int load_report_text(const LoadResult *r, const LoadReportInfo *info, FILE *f) {
        fprintf(f, "Scenario %s (%s model): %s after %.1fs\n", info->scenario ?: "?",
                model_name(info->model),
                info->state ?: load_run_state_to_string(r->state), (double) r->elapsed_usec / USEC_PER_SEC);
        fprintf(f, "  ");
        text_counts(f, &r->total.counts);
        if (info->model == LOAD_MODEL_EXEC) {
                fputc('\n', f);
                if (r->exec_json)
                        text_locust(f, r->exec_json);
                if (r->reason)
                        fprintf(f, "First error: %s\n", r->reason);
                return ferror(f) ? -EIO : 0;
        }
        fprintf(f, "\n  %" PRIu64 " dropped (max_inflight reached), %" PRIu64 " aborted", r->total.counts.dropped,
                r->total.counts.aborted);
        if (!info->stored)
                fprintf(f, ", %" PRIu64 " connections opened by %s", r->connections,
                        r->own_client ? "the own HTTP/1.1 client" : "libcurl");
        fputc('\n', f);
        if (info->model == LOAD_MODEL_OPEN)
                fprintf(f, "  rate: %.1f/s achieved, %.1f/s intended\n", r->achieved_rps, r->target_rps);
        else
                fprintf(f, "  rate: %.1f/s achieved\n", r->achieved_rps);
        fprintf(f, "  %-26s %9s %9s %9s %9s %9s %9s %9s\n", "latency (ms)", "p50", "p90", "p95", "p99", "p99.9",
                "max", "mean");
        text_latency(f, "from the intended start", r->total.latency);
        text_latency(f, "service time", r->total.service);
        text_per_request(f, r, info->stored);
        if (r->writes_json)
                text_writes(f, r->writes_json);
        if (r->reason)
                fprintf(f, "First error: %s\n", r->reason);
        return ferror(f) ? -EIO : 0;
}

void load_report_second(const LoadSecond *s, char *buf, size_t size) {
        snprintf(buf, size, "%5" PRIu64 "s  rate %.1f/s  p95 %.2fms  p99 %.2fms  errors %" PRIu64
                 "  in flight %u  dropped %" PRIu64,
                 s->second, s->achieved_rps, (double) s->p95_usec / USEC_PER_MSEC,
                 (double) s->p99_usec / USEC_PER_MSEC, count_errors(&s->counts), s->in_flight, s->counts.dropped);
}
