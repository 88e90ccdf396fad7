#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/aws-credentials.h"
#include "util/log.h"
#include "transport/pg-conn.h"
#include "probes/probe-capacity.h"
#include "util/units.h"
#include "util/util.h"

/* Probes started together spread their first polls over this much time. */
#define CAPACITY_FIRST_SPREAD_USEC USEC_PER_SEC
/* A GetMetricData answer for two series over a lookback window is a few KiB. */
#define CW_MAX_BODY (4U * 1024U * 1024U)
/* NextToken pages followed per poll beyond the first request. */
#define CW_MAX_EXTRA_PAGES 4
#define CW_TARGET "X-Amz-Target: GraniteServiceVersion20100801.GetMetricData"
#define CW_CONTENT_TYPE "Content-Type: application/x-amz-json-1.0"

enum { SERIES_ACU, SERIES_UTIL, N_SERIES };

/* The query Id, the CloudWatch metric and our series suffix, per series. */
static const struct {
        const char *id, *metric, *suffix;
} cw_series[N_SERIES] = {
        [SERIES_ACU] = { "acu", "ServerlessDatabaseCapacity", ".acu" },
        [SERIES_UTIL] = { "util", "ACUUtilization", ".acu_utilization" },
};

typedef struct CapacityProbe {
        Poller base;                   /* first: a CapacityProbe is a Poller */
        Store *store;
        const CapacityConfig *cc;
        const PostgresConfig *pg;
        char *series[N_SERIES];        /* "aurora.<name>.acu", ... */

        /* source = cloudwatch */
        char *url;
        struct curl_slist *headers;
        unsigned page;                 /* requests made in this poll, minus one */
        int64_t end_s;                 /* the window, fixed for every page of a poll */
        /* Newest datapoint stored, per series; poll_hwm is its value when the
         * poll started, so points in any order and on any page are kept once. */
        int64_t hwm_ms[N_SERIES], poll_hwm_ms[N_SERIES];

        /* source = sql */
        PgConn *conn;
} CapacityProbe;

static int cw_send(CapacityProbe *p, const char *next_token);
static int sql_poll(CapacityProbe *p);

static char *trim(char *s) {
        char *e;

        s += strspn(s, " \t\r\n");
        e = s + strlen(s);
        while (e > s && strchr(" \t\r\n", e[-1]))
                *--e = '\0';
        return s;
}

/* ------------------------------------------------------------- scheduling */

static int capacity_start(Poller *base) {
        CapacityProbe *p = (CapacityProbe *) base;

        if (p->cc->source == CAPACITY_SQL)
                return sql_poll(p);
        p->page = 0;
        p->end_s = (int64_t) (base->started_usec / USEC_PER_SEC);
        memcpy(p->poll_hwm_ms, p->hwm_ms, sizeof(p->hwm_ms));
        return cw_send(p, NULL);
}

/* ---------------------------------------------------- CloudWatch requests */

static json_t *cw_query(const CapacityProbe *p, unsigned i) {
        int64_t period = (int64_t) (p->cc->period_usec / USEC_PER_SEC);

        return json_pack("{s:s, s:{s:{s:s, s:s, s:[{s:s, s:s}]}, s:I, s:s}, s:b}",
                         "Id", cw_series[i].id,
                         "MetricStat",
                         "Metric",
                         "Namespace", "AWS/RDS",
                         "MetricName", cw_series[i].metric,
                         "Dimensions", "Name", "DBClusterIdentifier", "Value", p->cc->cluster,
                         "Period", (json_int_t) (period < 1 ? 1 : period),
                         "Stat", "Average",
                         "ReturnData", 1);
}

/* The GetMetricData request body, or NULL. */
static char *cw_request_body(const CapacityProbe *p, const char *next_token) {
        int64_t lookback = (int64_t) (p->cc->lookback_usec / USEC_PER_SEC);
        json_t *req;
        char *s = NULL;

        req = json_pack("{s:I, s:I, s:s, s:[o, o]}",
                        "StartTime", (json_int_t) (p->end_s - lookback),
                        "EndTime", (json_int_t) p->end_s,
                        "ScanBy", "TimestampAscending",
                        "MetricDataQueries", cw_query(p, SERIES_ACU), cw_query(p, SERIES_UTIL));
        if (!req)
                return NULL;
        if (next_token && json_object_set_new(req, "NextToken", json_string(next_token)) < 0)
                goto out;
        s = json_dumps(req, JSON_COMPACT);
out:
        json_decref(req);
        return s;
}

static int cw_set_headers(CapacityProbe *p, const AwsCredentials *creds) {
        struct curl_slist *h = NULL, *n;
        char *token_header = NULL;

        curl_slist_free_all(p->headers);
        p->headers = NULL;

        if (!(n = curl_slist_append(h, CW_CONTENT_TYPE)))
                goto fail;
        h = n;
        if (!(n = curl_slist_append(h, CW_TARGET)))
                goto fail;
        h = n;
        if (creds->session_token) {
                if (asprintf(&token_header, "X-Amz-Security-Token: %s", creds->session_token) < 0) {
                        token_header = NULL;
                        goto fail;
                }
                n = curl_slist_append(h, token_header);
                aws_credentials_free_secret(&token_header);
                if (!n)
                        goto fail;
                h = n;
        }
        p->headers = h;
        return curl_easy_setopt(p->base.easy, CURLOPT_HTTPHEADER, h) == CURLE_OK ? 0 : -EINVAL;
fail:
        curl_slist_free_all(h);
        return -ENOMEM;
}

/* Credentials are read afresh for every request, so a rotated file or
 * token takes effect without a reload. */
static int cw_prepare(CapacityProbe *p, const char *next_token) {
        AwsCredentials creds = {};
        char error[256];
        char *body;
        int r;

        r = aws_credentials_load(p->cc->credentials_file, p->cc->profile, &creds, error, sizeof(error));
        if (r < 0) {
                poller_report_down(&p->base, "%s", error);
                return r;
        }
        body = cw_request_body(p, next_token);
        r = body ? cw_set_headers(p, &creds) : -ENOMEM;
        if (r >= 0 &&
            (curl_easy_setopt(p->base.easy, CURLOPT_USERNAME, creds.access_key_id) != CURLE_OK ||
             curl_easy_setopt(p->base.easy, CURLOPT_PASSWORD, creds.secret_access_key) != CURLE_OK ||
             curl_easy_setopt(p->base.easy, CURLOPT_POSTFIELDSIZE, (long) strlen(body)) != CURLE_OK ||
             curl_easy_setopt(p->base.easy, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK))
                r = -EINVAL;
        aws_credentials_clear(&creds);
        free(body);
        if (r < 0)
                poller_report_down(&p->base, "cannot build the GetMetricData request: %s", strerror(-r));
        return r;
}

/* Sends one GetMetricData request of the current poll; on failure it is
 * reported and the caller ends the poll. */
static int cw_send(CapacityProbe *p, const char *next_token) {
        int r = cw_prepare(p, next_token);

        return r < 0 ? r : poller_http_send(&p->base);
}

/* --------------------------------------------------- CloudWatch answers */

/* "com.amazon.coral.service#AccessDeniedException:http://..." -> "AccessDeniedException" */
static void cw_error_type(const char *type, char *buf, size_t n) {
        const char *hash = strrchr(type, '#');
        size_t len;

        if (hash)
                type = hash + 1;
        len = strcspn(type, ":");
        snprintf(buf, n, "%.*s", (int) (len > 128 ? 128 : len), type);
}

/* An HTTP error: CloudWatch's own type and message when the body has them. */
static void cw_report_http_error(Poller *base, long code, const CurlBuffer *body) {
        json_t *root = json_loadb(body->data ? body->data : "", body->size, 0, NULL);
        const char *type = json_string_value(json_object_get(root, "__type"));
        const char *msg = json_string_value(json_object_get(root, "message"));
        char tbuf[160];

        if (!msg)
                msg = json_string_value(json_object_get(root, "Message"));
        if (type) {
                cw_error_type(type, tbuf, sizeof(tbuf));
                poller_report_down(base, "HTTP %ld: %s%s%s", code, tbuf, msg ? ": " : "", msg ? msg : "");
        } else if (msg)
                poller_report_down(base, "HTTP %ld: %s", code, msg);
        else if (body->size > 0 && !root) {
                /* Not CloudWatch's JSON (a proxy's page, say): its first line tells most. */
                size_t len = strcspn(body->data, "\r\n");

                poller_report_down(base, "HTTP %ld: %.*s", code, (int) (len > 200 ? 200 : len), body->data);
        } else
                poller_report_down(base, "HTTP %ld", code);
        json_decref(root);
}

/* A per-series failure such as "Forbidden", with its first message. */
static int cw_result_status(const json_t *res, const char *id, char *error, size_t n) {
        const char *status = json_string_value(json_object_get(res, "StatusCode"));
        const char *msg;

        if (!status) {
                snprintf(error, n, "result %s has no StatusCode", id);
                return -EINVAL;
        }
        if (strcmp(status, "Complete") == 0 || strcmp(status, "PartialData") == 0)
                return 0;
        msg = json_string_value(json_object_get(json_array_get(json_object_get(res, "Messages"), 0), "Value"));
        snprintf(error, n, "result %s: StatusCode %s%s%s", id, status, msg ? ": " : "", msg ? msg : "");
        return -EIO;
}

/* Stores the datapoints of one result newer than the poll's high-water mark. */
static int cw_ingest_result(CapacityProbe *p, const json_t *res, unsigned s, char *error, size_t n) {
        const json_t *ts = json_object_get(res, "Timestamps"), *vs = json_object_get(res, "Values");
        size_t i;
        int r;

        r = cw_result_status(res, cw_series[s].id, error, n);
        if (r < 0)
                return r;
        if (!json_is_array(ts) || !json_is_array(vs) || json_array_size(ts) != json_array_size(vs)) {
                snprintf(error, n, "result %s: Timestamps and Values are not arrays of one length",
                         cw_series[s].id);
                return -EINVAL;
        }
        for (i = 0; i < json_array_size(ts); i++) {
                const json_t *t = json_array_get(ts, i), *v = json_array_get(vs, i);
                double sec = json_number_value(t), value = json_number_value(v);
                int64_t ms;

                if (!json_is_number(t) || !json_is_number(v) || !isfinite(sec) || !isfinite(value) ||
                    fabs(sec) > 1e12) {
                        snprintf(error, n, "result %s: datapoint %zu is not a number", cw_series[s].id, i);
                        return -EINVAL;
                }
                ms = (int64_t) llround(sec * 1000.0);
                if (ms <= p->poll_hwm_ms[s])
                        continue;
                r = store_append(p->store, p->series[s], ms, value);
                if (r < 0) {
                        snprintf(error, n, "cannot queue samples: %s", strerror(-r));
                        return r;
                }
                if (ms > p->hwm_ms[s])
                        p->hwm_ms[s] = ms;
        }
        return 0;
}

static int cw_ingest_results(CapacityProbe *p, const json_t *results, char *error, size_t n) {
        const json_t *res;
        size_t i;
        int r;

        if (!json_is_array(results)) {
                snprintf(error, n, "answer has no MetricDataResults array");
                return -EINVAL;
        }
        json_array_foreach(results, i, res) {
                const char *id = json_string_value(json_object_get(res, "Id"));

                for (unsigned s = 0; id && s < N_SERIES; s++)
                        if (strcmp(id, cw_series[s].id) == 0) {
                                r = cw_ingest_result(p, res, s, error, n);
                                if (r < 0)
                                        return r;
                        }
        }
        return 0;
}

/* A 2xx answer: stores its points, then asks for the next page (1) or
 * ends the poll (0). */
static int cw_done(Poller *base, const CurlBuffer *body) {
        CapacityProbe *p = (CapacityProbe *) base;
        const char *next;
        json_error_t jerr;
        char error[512];
        json_t *root;
        int more = 0;

        root = json_loadb(body->data ? body->data : "", body->size, 0, &jerr);
        if (!root) {
                poller_report_down(base, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
                return 0;
        }
        if (cw_ingest_results(p, json_object_get(root, "MetricDataResults"), error, sizeof(error)) < 0)
                poller_report_down(base, "%s", error);
        else if ((next = json_string_value(json_object_get(root, "NextToken"))) && *next &&
                 p->page < CW_MAX_EXTRA_PAGES) {
                p->page++;
                more = cw_send(p, next) >= 0;
        } else {
                if (next && *next)
                        log_source(LOG_DEBUG, source_name(base->source),
                                   "more pages than %d, the rest waits for the next poll", CW_MAX_EXTRA_PAGES + 1);
                poller_report_up(base);
        }
        json_decref(root);
        return more;
}

static int cw_setup(CapacityProbe *p, CurlGlue *glue) {
        char *sigv4 = NULL;
        int r;

        if (!p->cc->region || !p->cc->cluster)
                return -EINVAL;
        p->url = p->cc->endpoint ? strdup(p->cc->endpoint)
                                 : strjoin("https://monitoring.", p->cc->region, ".amazonaws.com/", NULL);
        if (!p->url || asprintf(&sigv4, "aws:amz:%s:monitoring", p->cc->region) < 0)
                return -ENOMEM;

        r = poller_http_setup(&p->base, glue, p->url, p->cc->timeout_usec, p->cc->timeout_usec, CW_MAX_BODY,
                              "answer", NULL);
        if (r >= 0 &&
            (curl_easy_setopt(p->base.easy, CURLOPT_AWS_SIGV4, sigv4) != CURLE_OK ||
             curl_easy_setopt(p->base.easy, CURLOPT_POST, 1L) != CURLE_OK))
                r = -EINVAL;
        free(sigv4);
        return r;
}

/* ------------------------------------------------------------------- SQL */

static void sql_report_result(CapacityProbe *p, const PGresult *res) {
        Poller *base = &p->base;
        const char *text;
        char *end;
        double v;
        int r;

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                poller_report_down(base, "query returned no rows (a command, not a SELECT)");
                return;
        }
        if (PQntuples(res) != 1 || PQnfields(res) != 1) {
                poller_report_down(base, PQntuples(res) != 1 ? "query returned %d rows"
                                                                                     : "query returned %d columns",
                                   PQntuples(res) != 1 ? PQntuples(res) : PQnfields(res));
                return;
        }
        if (PQgetisnull(res, 0, 0)) {
                poller_report_down(base, "query returned NULL, not a number");
                return;
        }
        text = PQgetvalue(res, 0, 0);
        errno = 0;
        v = strtod(text, &end);
        if (end == text || *trim(end) != '\0' || !isfinite(v) || errno == ERANGE) {
                poller_report_down(base, "not a number: '%.60s'", text);
                return;
        }
        r = store_append(p->store, p->series[SERIES_ACU], (int64_t) (base->started_usec / USEC_PER_MSEC), v);
        if (r < 0)
                poller_report_down(base, "cannot queue the sample: %s", strerror(-r));
        else
                poller_report_up(base);
}

static void sql_on_done(PgConn *c, const PGresult *res, const char *error, void *userdata) {
        CapacityProbe *p = userdata;

        if (!res)
                poller_report_down(&p->base, "%s", error ? error : "query failed");
        else
                sql_report_result(p, res);
        poller_end(&p->base);
}

static int sql_poll(CapacityProbe *p) {
        const char *error;
        int r;

        r = pg_conn_query(p->conn, p->cc->query, sql_on_done, p);
        if (r >= 0 || r == -EBUSY)
                return r;
        error = r == -EAGAIN ? pg_conn_last_error(p->conn) : NULL;
        poller_report_down(&p->base, "%s%s", error ? error : "cannot start the query: ", error ? "" : strerror(-r));
        return r;
}

/* NB: a connection of our own, not the [postgres] probe's, so a slow
 * statistics query never delays the capacity poll or the other way round. */
static int sql_setup(CapacityProbe *p, sd_event *e) {
        char *description;
        int r;

        if (!p->pg || !p->pg->conninfo || !p->cc->query)
                return -EINVAL;
        description = strjoin("capacity:", p->cc->name, NULL);
        if (!description)
                return -ENOMEM;
        r = pg_conn_new(e, p->pg->conninfo, p->cc->timeout_usec, description, &p->conn);
        free(description);
        return r;
}

/* ------------------------------------------------------------ life cycle */

static void capacity_free(Poller *base) {
        CapacityProbe *p = (CapacityProbe *) base;

        curl_slist_free_all(p->headers);
        pg_conn_free(p->conn);
        for (unsigned s = 0; s < N_SERIES; s++)
                free(p->series[s]);
        free(p->url);
        free(p);
}

static const PollerOps capacity_ops = {
        .kind = "capacity",
        .start = capacity_start,
        .done = cw_done,
        .http_error = cw_report_http_error,
        .free = capacity_free,
};

static int capacity_register(CapacityProbe *p, SourceSet *sources) {
        bool sql = p->cc->source == CAPACITY_SQL;
        char *name = strjoin("aurora.", p->cc->name, NULL);
        int r;

        if (!name)
                return -ENOMEM;
        r = poller_register(&p->base, sources, name, sql ? "capacity_sql" : "cloudwatch", sql ? NULL : p->url);
        free(name);
        return r;
}

/* Each poll asks for the whole lookback window again: start above what a
 * previous run (before a restart or reload) already stored. */
static void capacity_init_hwm(CapacityProbe *p, unsigned s) {
        double v;

        p->hwm_ms[s] = INT64_MIN;
        if (p->store && store_series_last(p->store, p->series[s], &p->hwm_ms[s], &v) < 0)
                p->hwm_ms[s] = INT64_MIN;
}

static int capacity_setup(CapacityProbe *p, const PollerContext *ctx) {
        char *description;
        int r;

        for (unsigned s = 0; s < N_SERIES; s++) {
                p->series[s] = strjoin("aurora.", p->cc->name, cw_series[s].suffix, NULL);
                if (!p->series[s])
                        return -ENOMEM;
                capacity_init_hwm(p, s);
        }
        description = strjoin("capacity:", p->cc->name, NULL);
        if (!description)
                return -ENOMEM;
        r = poller_init(&p->base, &capacity_ops, ctx->event, p->cc->interval_usec, CAPACITY_FIRST_SPREAD_USEC,
                        description);
        free(description);
        if (r >= 0)
                r = p->cc->source == CAPACITY_SQL ? sql_setup(p, ctx->event) : cw_setup(p, ctx->glue);
        if (r >= 0)
                r = capacity_register(p, ctx->sources);
        return r;
}

/* For source = sql, the connection is the [postgres] section named by
 * cc->postgres (its conninfo; the probe opens a connection of its own). */
static int capacity_new(const PollerContext *ctx, const CapacityConfig *cc, PollerList *list) {
        CapacityProbe *p;
        int r;

        if (!cc->name || cc->interval_usec == 0 || (cc->source == CAPACITY_CLOUDWATCH && !ctx->glue))
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->base.ops = &capacity_ops;
        p->store = ctx->store;
        p->cc = cc;
        if (cc->source == CAPACITY_SQL)
                p->pg = config_find_postgres(ctx->config, cc->postgres);
        r = capacity_setup(p, ctx);
        if (r < 0) {
                poller_free(&p->base);
                return r;
        }
        return poller_list_add(list, &p->base);
}

static int capacity_build(const PollerContext *ctx, PollerList *list) {
        int r;

        for (size_t i = 0; i < ctx->config->n_capacity; i++) {
                r = capacity_new(ctx, &ctx->config->capacity[i], list);
                if (r < 0)
                        return log_error_errno(r, "[capacity %s]: cannot start polling: %s",
                                               ctx->config->capacity[i].name, strerror(-r));
        }
        return 0;
}

const PollerKind capacity_poller_kind = {
        .name = "capacity",
        .build = capacity_build,
};
