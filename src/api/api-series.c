/* The routes that read series from the store: /v1/metrics (the names, by
 * prefix) and /v1/series (one series' points, raw or stepped), each with
 * its cost limit.  They run on the API's workers. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api-internal.h"
#include "util/units.h"

/* Cost limits, documented in perfwatchd(8): points returned by /v1/series,
 * samples one stepped /v1/series may read (about a second of work), series
 * listed by /v1/metrics. */
#define API_MAX_POINTS       10000U
#define API_MAX_READ         2000000U
#define API_MAX_SERIES       10000U
#define API_DEFAULT_SPAN     USEC_PER_HOUR

static int metric_add(const char *name, int64_t ts_ms, double value, void *u) {
        char iso[32];
        json_t *m;

        if (ts_ms <= 0)
                m = json_pack("{s:s,s:n,s:n}", "name", name, "last", "at");
        else
                m = json_pack("{s:s,s:o,s:s}", "name", name, "last", api_json_number(value), "at",
                              units_format_iso8601((uint64_t) ts_ms * USEC_PER_MSEC, iso,
                                                   sizeof iso));
        return json_array_append_new(u, m) < 0 ? -ENOMEM : 0;
}

void api_route_metrics(Request *r) {
        const char *match = api_query(r, "match");
        json_t *list;
        Store *s;
        int k;

        s = api_borrow_store(r);
        if (!s)
                return;
        list = json_array();
        k = list ? store_list_series(s, match, API_MAX_SERIES, metric_add, list) : -ENOMEM;
        api_release_store(r, s);
        if (k == 1) {
                json_decref(list);
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "too_many_series",
                                "more than %u series%s%s%s (the limit of one answer); narrow the "
                                "list with match=PREFIX, e.g. match=go.",
                                API_MAX_SERIES, match ? " start with \"" : "", match ?: "",
                                match ? "\"" : "");
                return;
        }
        api_reply_list(r, "metrics", list, k, api_render_metrics_text);
}

/* The query of /v1/series, checked. */
typedef struct SeriesQuery {
        const char *metric;
        uint64_t from_usec, to_usec, step_usec;
} SeriesQuery;

static int series_query(Request *r, SeriesQuery *q) {
        const char *step = api_query(r, "step");

        q->metric = api_query(r, "metric");
        if (!q->metric || !*q->metric) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                                "metric: required (a series name from /v1/metrics)");
                return -EINVAL;
        }
        if (api_query_range(r, API_DEFAULT_SPAN, &q->from_usec, &q->to_usec) < 0)
                return -EINVAL;
        q->step_usec = 0;
        if (api_query_present(r, "step") &&
            (!step || units_parse_duration(step, &q->step_usec) < 0 || q->step_usec < USEC_PER_MSEC)) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                                "step: \"%s\" is not a duration of 1ms or more", step ?: "");
                return -EINVAL;
        }
        if (q->from_usec > q->to_usec) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "from is later than to");
                return -EINVAL;
        }
        return 0;
}

/* With a step, one point per step bucket the range touches: more than the
 * limit is refused before anything is read. */
static int series_check_buckets(Request *r, const SeriesQuery *q) {
        uint64_t step_ms = q->step_usec / USEC_PER_MSEC;
        uint64_t n = q->to_usec / USEC_PER_MSEC / step_ms - q->from_usec / USEC_PER_MSEC / step_ms + 1;
        char step[32];

        if (n <= API_MAX_POINTS)
                return 0;
        units_format_duration(q->step_usec, step, sizeof step);
        api_reply_error(r, MHD_HTTP_BAD_REQUEST, "too_many_points",
                        "step %s over this range gives %llu points, more than the limit of %u; "
                        "use a larger step or a narrower range (from=, to=)",
                        step, (unsigned long long) n, API_MAX_POINTS);
        return -E2BIG;
}

static int point_add(int64_t ts_ms, double value, void *u) {
        json_t *p = json_pack("[I,o]", (json_int_t) ts_ms, api_json_number(value));

        return json_array_append_new(u, p) < 0 ? -ENOMEM : 0;
}

/* "2026-11-27T16:40:05.250Z": exact to the millisecond, for a page link. */
static const char *iso_ms(int64_t ms, char *buf, size_t n) {
        char sec[32];

        units_format_iso8601((uint64_t) ms * USEC_PER_MSEC, sec, sizeof sec);
        sec[strcspn(sec, "Z")] = '\0';
        snprintf(buf, n, "%s.%03dZ", sec, (int) (ms % 1000));
        return buf;
}

/* `s` percent-encoded for a query value: *ret (caller frees), or NULL. */
static char *url_encode(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *out = malloc(3 * strlen(s) + 1), *o = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (strchr("-._~", c) || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                    (c >= 'A' && c <= 'Z'))
                        *o++ = (char) c;
                else {
                        *o++ = '%';
                        *o++ = hex[c >> 4];
                        *o++ = hex[c & 15];
                }
        }
        *o = '\0';
        return out;
}

/* The link to the next older page of a raw answer cut at `next_to_ms`. */
static json_t *series_next(const SeriesQuery *q, int64_t next_to_ms) {
        char from[40], to[40], *metric = url_encode(q->metric), *url = NULL;
        json_t *j;

        if (!metric ||
            asprintf(&url, "/v1/series?metric=%s&from=%s&to=%s", metric,
                     iso_ms((int64_t) (q->from_usec / USEC_PER_MSEC), from, sizeof from),
                     iso_ms(next_to_ms, to, sizeof to)) < 0)
                url = NULL;
        j = url ? json_string(url) : NULL;
        free(metric);
        free(url);
        return j;
}

static json_t *series_json(const SeriesQuery *q, json_t *points, bool truncated, json_t *next) {
        char from[32], to[32], step[32];

        units_format_duration(q->step_usec, step, sizeof step);
        return json_pack("{s:s,s:s,s:s,s:s?,s:o,s:b,s:o*}", "metric", q->metric,
                         "from", units_format_iso8601(q->from_usec, from, sizeof from),
                         "to", units_format_iso8601(q->to_usec, to, sizeof to),
                         "step", q->step_usec ? step : NULL, "points", points,
                         "truncated", truncated, "next", next);
}

/* The store's walk for q into `points`: 0, 1 when cut (raw only; then
 * *next_to_ms is set), or a negative errno. */
static int series_read(Store *s, const SeriesQuery *q, json_t *points, int64_t *next_to_ms) {
        int64_t from = (int64_t) (q->from_usec / USEC_PER_MSEC), to = (int64_t) (q->to_usec / USEC_PER_MSEC);

        if (q->step_usec)
                return store_series_step(s, q->metric, from, to,
                                         (int64_t) (q->step_usec / USEC_PER_MSEC), API_MAX_READ,
                                         point_add, points);
        return store_series_raw(s, q->metric, from, to, API_MAX_POINTS, next_to_ms, point_add,
                                points);
}

static void series_reply_error(Request *r, const SeriesQuery *q, int k) {
        if (k == -ENOENT)
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "metric \"%s\" is not known",
                                q->metric);
        else if (k == -E2BIG)
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "too_many_samples",
                                "this range holds more than %u samples of \"%s\", the limit one "
                                "answer may read; use a narrower range (from=, to=)",
                                API_MAX_READ, q->metric);
        else
                api_reply_store_unavailable(r, k);
}

void api_route_series(Request *r) {
        SeriesQuery q;
        json_t *points, *j, *next = NULL;
        int64_t next_to = 0;
        Store *s;
        int k;

        if (series_query(r, &q) < 0 || (q.step_usec && series_check_buckets(r, &q) < 0))
                return;
        s = api_borrow_store(r);
        if (!s)
                return;
        points = json_array();
        k = points ? series_read(s, &q, points, &next_to) : -ENOMEM;
        api_release_store(r, s);
        if (k < 0) {
                json_decref(points);
                series_reply_error(r, &q, k);
                return;
        }
        if (k > 0)
                next = series_next(&q, next_to);
        j = series_json(&q, points, k > 0, next);
        api_reply_render(r, MHD_HTTP_OK, j, api_render_series_text);
        json_decref(j);
}
