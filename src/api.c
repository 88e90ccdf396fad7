#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <systemd/sd-daemon.h>

#include "api.h"
#include "log.h"
#include "units.h"

#define API_THREADS          2U
#define API_TIMEOUT_SEC      30U
#define API_MAX_CONNECTIONS  256U
#define API_CONNECTION_MEM   ((size_t) 32 * 1024)
#define API_MAX_BODY         ((uint64_t) 64 * 1024)
#define API_MAX_POINTS       10000U
#define API_DEFAULT_SPAN     USEC_PER_HOUR
#define API_PROFILE_SPAN     USEC_PER_DAY
#define API_PROFILE_LIMIT    100UL
#define API_PROFILE_LIMIT_MAX 1000UL
/* Longest target or kind put into a download's file name. */
#define API_FILENAME_PART    64U

#define TYPE_JSON "application/json"
#define TYPE_TEXT "text/plain; charset=utf-8"
#define TYPE_OCTETS "application/octet-stream"

#define TABLE_MAX_COLS 8
#define CELL_MAX       256

/* A published snapshot and its compact dump, so a JSON answer only copies
 * bytes under the lock. */
typedef struct Snapshot {
        json_t *json;
        char *dump;
        size_t len;
        bool ok;                     /* the snapshot's "ok" member is true */
} Snapshot;

struct Api {
        struct MHD_Daemon *daemon;
        StorePool *pool;
        int fd;                      /* bound, not yet served (-1 once started) */
        bool from_systemd;
        char *listen;
        unsigned port;
        pthread_mutex_t lock;        /* guards both snapshots */
        Snapshot status;
        Snapshot sources;
};

/* One request, kept in MHD's per-request pointer until it completes. */
typedef struct Request {
        Api *api;
        struct MHD_Connection *conn;
        uint64_t body_bytes;
        bool text;                   /* answer with a text table */
        const char *arg;             /* the path after a prefix route */
        unsigned code;
        char *body;                  /* malloc'd; MHD frees it once queued */
        size_t len;
        const char *type;
        char *disposition;           /* malloc'd Content-Disposition, or NULL */
        bool allow;                  /* add "Allow: GET, HEAD" */
} Request;

typedef int (*RenderFn)(const json_t *j, FILE *f);
typedef void (*RouteFn)(Request *r);

typedef struct Route {
        const char *path;
        bool prefix;                 /* the rest of the path goes to r->arg */
        RouteFn fn;
} Route;

typedef char Cells[TABLE_MAX_COLS][CELL_MAX];

/* A text table: column headers and a function that fills one row's cells. */
typedef struct TableSpec {
        const char *headers[TABLE_MAX_COLS];
        void (*fill)(const json_t *row, Cells cells);
} TableSpec;

/* ------------------------------------------------------------- rendering */

static int render_json(const json_t *j, FILE *f) {
        if (json_dumpf(j, f, JSON_COMPACT | JSON_REAL_PRECISION(15)) < 0)
                return -ENOMEM;
        return fputc('\n', f) == EOF ? -ENOMEM : 0;
}

static int render_to_buffer(const json_t *j, RenderFn fn, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        r = fn(j, f);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* Integral values (byte counts, mostly) print as integers. */
static json_t *json_number(double v) {
        if (!isfinite(v))
                return json_null();
        if (v == floor(v) && fabs(v) < 9007199254740992.0)
                return json_integer((json_int_t) v);
        return json_real(v);
}

static const char *cell_text(const json_t *v, char *buf, size_t n) {
        size_t k;

        if (!v || json_is_null(v))
                snprintf(buf, n, "-");
        else if (json_is_string(v))
                snprintf(buf, n, "%s", json_string_value(v));
        else if (json_is_boolean(v))
                snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
        else if (json_is_integer(v))
                snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
                snprintf(buf, n, "%.15g", json_real_value(v));
        else {
                k = json_dumpb(v, buf, n - 1, JSON_COMPACT);
                buf[k < n - 1 ? k : n - 1] = '\0';
        }
        return buf;
}

/* Byte counts read better in MiB; anything else is the number and its unit. */
static void value_text(const json_t *v, const char *unit, char *buf, size_t n) {
        char num[CELL_MAX];

        if (!v || json_is_null(v))
                snprintf(buf, n, "-");
        else if (unit && strcmp(unit, "bytes") == 0 && json_number_value(v) >= 1048576.0)
                snprintf(buf, n, "%.1f MiB", json_number_value(v) / 1048576.0);
        else
                snprintf(buf, n, "%s%s%s", cell_text(v, num, sizeof num),
                         unit && *unit ? " " : "", unit ? unit : "");
}

/* "run=41 scenario=peak requests=143998" */
static void evidence_text(const json_t *ev, char *buf, size_t n) {
        char val[CELL_MAX];
        const char *key;
        json_t *v;
        size_t used = 0;

        buf[0] = '\0';
        if (!json_is_object(ev)) {
                cell_text(ev, buf, n);
                return;
        }
        json_object_foreach((json_t *) ev, key, v) {
                int k = snprintf(buf + used, n - used, "%s%s=%s", used ? " " : "", key,
                                 cell_text(v, val, sizeof val));
                if (k < 0 || (size_t) k >= n - used)
                        break;
                used += (size_t) k;
        }
}

static void criterion_fill(const json_t *c, Cells cells) {
        const char *unit = json_string_value(json_object_get(c, "unit"));
        const json_t *reason = json_object_get(c, "reason");
        char thr[64];

        cell_text(json_object_get(c, "name"), cells[0], CELL_MAX);
        cell_text(json_object_get(c, "state"), cells[1], CELL_MAX);
        value_text(json_object_get(c, "value"), unit, cells[2], CELL_MAX);
        value_text(json_object_get(c, "threshold"), unit, thr, sizeof thr);
        if (json_object_get(c, "op") && json_object_get(c, "threshold"))
                snprintf(cells[3], CELL_MAX, "%s %s",
                         json_string_value(json_object_get(c, "op")) ?: "?", thr);
        else
                snprintf(cells[3], CELL_MAX, "-");
        if (reason)
                cell_text(reason, cells[4], CELL_MAX);
        else
                evidence_text(json_object_get(c, "evidence"), cells[4], CELL_MAX);
}

static void source_fill(const json_t *s, Cells cells) {
        static const char *const keys[] = {
                "name", "kind", "up", "last_poll", "last_duration_ms", "polls", "failures",
                "last_error",
        };

        for (size_t i = 0; i < TABLE_MAX_COLS; i++)
                cell_text(json_object_get(s, keys[i]), cells[i], CELL_MAX);
}

static void metric_fill(const json_t *m, Cells cells) {
        cell_text(json_object_get(m, "name"), cells[0], CELL_MAX);
        cell_text(json_object_get(m, "last"), cells[1], CELL_MAX);
        cell_text(json_object_get(m, "at"), cells[2], CELL_MAX);
}

static void point_fill(const json_t *p, Cells cells) {
        json_int_t ms = json_integer_value(json_array_get(p, 0));
        char iso[32];

        /* "...:05Z" becomes "...:05.250Z": raw points are milliseconds apart. */
        units_format_iso8601((uint64_t) ms * USEC_PER_MSEC, iso, sizeof iso);
        iso[strcspn(iso, "Z")] = '\0';
        snprintf(cells[0], CELL_MAX, "%s.%03dZ", iso, (int) (ms % 1000));
        cell_text(json_array_get(p, 1), cells[1], CELL_MAX);
}

static void profile_fill(const json_t *p, Cells cells) {
        static const char *const keys[] = { "id", "target", "kind", "time", "duration_ms", "bytes" };

        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                cell_text(json_object_get(p, keys[i]), cells[i], CELL_MAX);
        evidence_text(json_object_get(p, "totals"), cells[6], CELL_MAX);
}

static void sample_type_fill(const json_t *t, Cells cells) {
        const char *unit = json_string_value(json_object_get(t, "unit"));

        cell_text(json_object_get(t, "type"), cells[0], CELL_MAX);
        value_text(json_object_get(t, "total"), unit, cells[1], CELL_MAX);
}

/* A row already formatted: an array of strings, one per column. */
static void strings_fill(const json_t *row, Cells cells) {
        for (size_t i = 0; i < TABLE_MAX_COLS; i++)
                cell_text(json_array_get(row, i), cells[i], CELL_MAX);
}

static const TableSpec criteria_table = {
        { "NAME", "STATE", "VALUE", "THRESHOLD", "DETAIL" }, criterion_fill,
};
static const TableSpec sources_table = {
        { "NAME", "KIND", "UP", "LAST POLL", "MS", "POLLS", "FAILS", "LAST ERROR" }, source_fill,
};
static const TableSpec metrics_table = { { "NAME", "LAST", "AT" }, metric_fill };
static const TableSpec points_table = { { "TIME", "VALUE" }, point_fill };
static const TableSpec profiles_table = {
        { "ID", "TARGET", "KIND", "TIME", "MS", "BYTES", "TOTALS" }, profile_fill,
};
static const TableSpec sample_types_table = { { "TYPE", "TOTAL" }, sample_type_fill };
static const TableSpec top_table = { { "FLAT", "FLAT%", "FUNCTION" }, strings_fill };

static size_t table_cols(const TableSpec *t) {
        size_t n = 0;

        while (n < TABLE_MAX_COLS && t->headers[n])
                n++;
        return n;
}

static void table_row(FILE *f, size_t n_cols, const size_t *width, Cells cells) {
        for (size_t i = 0; i + 1 < n_cols; i++)
                fprintf(f, "%-*s  ", (int) width[i], cells[i]);
        fprintf(f, "%s\n", cells[n_cols - 1]);
}

/* `rows` is an array of rows, or one object for a one-row table.  Two
 * passes: the first measures the columns, the second prints them. */
static int table_print(FILE *f, const TableSpec *t, const json_t *rows) {
        size_t n_cols = table_cols(t), width[TABLE_MAX_COLS] = { 0 };
        size_t n_rows = json_is_array(rows) ? json_array_size(rows) : 1;
        Cells cells;

        for (size_t i = 0; i < n_cols; i++)
                width[i] = strlen(t->headers[i]);
        for (size_t r = 0; r < n_rows; r++) {
                t->fill(json_is_array(rows) ? json_array_get(rows, r) : rows, cells);
                for (size_t i = 0; i < n_cols; i++)
                        if (strlen(cells[i]) > width[i])
                                width[i] = strlen(cells[i]);
        }
        for (size_t i = 0; i < n_cols; i++)
                snprintf(cells[i], CELL_MAX, "%s", t->headers[i]);
        table_row(f, n_cols, width, cells);
        for (size_t r = 0; r < n_rows; r++) {
                t->fill(json_is_array(rows) ? json_array_get(rows, r) : rows, cells);
                table_row(f, n_cols, width, cells);
        }
        return ferror(f) ? -ENOMEM : 0;
}

static int render_status_text(const json_t *j, FILE *f) {
        fprintf(f, "ok: %s   evaluated at %s\n\n",
                json_is_true(json_object_get(j, "ok")) ? "yes" : "no",
                json_string_value(json_object_get(j, "evaluated_at")) ?: "-");
        return table_print(f, &criteria_table, json_object_get(j, "criteria"));
}

static int render_criterion_text(const json_t *j, FILE *f) {
        return table_print(f, &criteria_table, j);
}

static int render_sources_text(const json_t *j, FILE *f) {
        return table_print(f, &sources_table, json_object_get(j, "sources"));
}

static int render_metrics_text(const json_t *j, FILE *f) {
        return table_print(f, &metrics_table, json_object_get(j, "metrics"));
}

static int render_series_text(const json_t *j, FILE *f) {
        fprintf(f, "metric %s from %s to %s step %s%s\n\n",
                json_string_value(json_object_get(j, "metric")),
                json_string_value(json_object_get(j, "from")),
                json_string_value(json_object_get(j, "to")),
                json_string_value(json_object_get(j, "step")) ?: "raw",
                json_is_true(json_object_get(j, "truncated")) ? " (truncated)" : "");
        return table_print(f, &points_table, json_object_get(j, "points"));
}

static int render_profiles_text(const json_t *j, FILE *f) {
        return table_print(f, &profiles_table, json_object_get(j, "profiles"));
}

/* The rows of the top table: the flat value in the top type's unit, its
 * share of that type's total, and the function. */
static json_t *top_rows(const json_t *top, const char *unit, double total) {
        json_t *rows = json_array(), *e;
        char flat[CELL_MAX], share[32];
        size_t i;

        json_array_foreach(top, i, e) {
                const char *function = json_string_value(json_object_get(e, "function"));
                double v = json_number_value(json_object_get(e, "flat"));

                value_text(json_object_get(e, "flat"), unit, flat, sizeof flat);
                if (total > 0)
                        snprintf(share, sizeof share, "%.1f%%", 100.0 * v / total);
                else
                        snprintf(share, sizeof share, "-");
                if (json_array_append_new(rows, json_pack("[s,s,s?]", flat, share, function)) < 0) {
                        json_decref(rows);
                        return NULL;
                }
        }
        return rows;
}

static int render_top_text(const json_t *j, FILE *f) {
        const char *top_type = json_string_value(json_object_get(j, "top_type"));
        const json_t *types = json_object_get(j, "sample_types"), *t;
        const char *unit = NULL;
        double total = 0;
        json_t *rows, *none = json_array();
        size_t i;
        int k;

        fprintf(f, "profile %" JSON_INTEGER_FORMAT ": %s %s at %s, %.0f samples\n\n",
                json_integer_value(json_object_get(j, "id")),
                json_string_value(json_object_get(j, "target")) ?: "-",
                json_string_value(json_object_get(j, "kind")) ?: "-",
                json_string_value(json_object_get(j, "time")) ?: "-",
                json_number_value(json_object_get(j, "samples")));
        /* table_print takes a lone object for one row: never hand it one. */
        k = table_print(f, &sample_types_table, json_is_array(types) ? types : none);
        json_array_foreach(types, i, t)
                if (top_type && json_is_string(json_object_get(t, "type")) &&
                    strcmp(json_string_value(json_object_get(t, "type")), top_type) == 0) {
                        unit = json_string_value(json_object_get(t, "unit"));
                        total = json_number_value(json_object_get(t, "total"));
                }
        fprintf(f, "\ntop functions by %s\n", top_type ?: "-");
        rows = top_rows(json_object_get(j, "top"), unit, total);
        if (k >= 0)
                k = rows ? table_print(f, &top_table, rows) : -ENOMEM;
        json_decref(rows);
        json_decref(none);
        return k;
}

/* --------------------------------------------------------------- replies */

static void reply_take(Request *r, unsigned code, const char *type, char *body, size_t len) {
        free(r->body);
        r->code = code;
        r->type = type;
        r->body = body;
        r->len = len;
}

/* Renders `j` as JSON, or with `text` when the client asked for text. */
static void reply_render(Request *r, unsigned code, const json_t *j, RenderFn text) {
        bool as_text = r->text && text;
        char *buf;
        size_t len;

        if (!j || render_to_buffer(j, as_text ? text : render_json, &buf, &len) < 0) {
                log_error("API: cannot render an answer: %s", strerror(ENOMEM));
                reply_take(r, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_JSON, NULL, 0);
                return;
        }
        reply_take(r, code, as_text ? TYPE_TEXT : TYPE_JSON, buf, len);
}

static void reply_error(Request *r, unsigned code, const char *err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void reply_error(Request *r, unsigned code, const char *err, const char *fmt, ...) {
        char msg[512];
        json_t *j;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        j = json_pack("{s:{s:s,s:s}}", "error", "code", err, "message", msg);
        r->text = false;
        reply_render(r, code, j, NULL);
        json_decref(j);
}

static void reply_not_ready(Request *r, const char *what) {
        reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not_ready",
                    "no %s has been published yet; try again shortly", what);
}

/* err 0: the pool could not lend a connection. */
static void reply_store_unavailable(Request *r, int err) {
        if (err == 0)
                reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
                            "no database connection could be opened");
        else
                reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
                            "the database cannot be read: %s", strerror(-err));
}

/* ------------------------------------------------------------- snapshots */

static void snapshot_clear(Snapshot *s) {
        json_decref(s->json);
        free(s->dump);
        *s = (Snapshot) { 0 };
}

static void snapshot_publish(Api *a, Snapshot *s, json_t *j, const char *what) {
        Snapshot new = { .json = j }, old;

        if (render_to_buffer(j, render_json, &new.dump, &new.len) < 0) {
                log_error("API: cannot serialize the %s snapshot: %s; keeping the previous one",
                          what, strerror(ENOMEM));
                json_decref(j);
                return;
        }
        new.ok = json_is_true(json_object_get(j, "ok"));
        pthread_mutex_lock(&a->lock);
        old = *s;
        *s = new;
        json_decref(old.json);
        pthread_mutex_unlock(&a->lock);
        free(old.dump);
}

/* A private copy of the dump: -EAGAIN before the first publish. */
static int snapshot_copy(Api *a, const Snapshot *s, char **ret, size_t *ret_len, bool *ret_ok) {
        char *buf = NULL;
        int r = 0;

        pthread_mutex_lock(&a->lock);
        if (!s->dump)
                r = -EAGAIN;
        else if (!(buf = malloc(s->len)))
                r = -ENOMEM;
        else {
                memcpy(buf, s->dump, s->len);
                *ret_len = s->len;
                *ret_ok = s->ok;
        }
        pthread_mutex_unlock(&a->lock);
        *ret = buf;
        return r;
}

/* A reference to the published JSON (NULL before the first publish); give
 * it back with snapshot_unref(). */
static json_t *snapshot_ref(Api *a, const Snapshot *s, bool *ret_ok) {
        json_t *j;

        pthread_mutex_lock(&a->lock);
        j = json_incref(s->json);
        *ret_ok = s->ok;
        pthread_mutex_unlock(&a->lock);
        return j;
}

static void snapshot_unref(Api *a, json_t *j) {
        pthread_mutex_lock(&a->lock);
        json_decref(j);
        pthread_mutex_unlock(&a->lock);
}

/* ---------------------------------------------------------------- routes */

static const char *query(Request *r, const char *key) {
        return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

static int query_bool(Request *r, const char *key, bool *ret) {
        const char *v = query(r, key);

        *ret = false;
        if (!v)
                return 0;
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || !*v)
                *ret = true;
        else if (strcmp(v, "0") != 0 && strcmp(v, "false") != 0 && strcmp(v, "no") != 0) {
                reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                            "%s: \"%s\" is not a boolean (1, 0, true, false)", key, v);
                return -EINVAL;
        }
        return 0;
}

/* Status and sources: JSON answers copy the pre-dumped bytes. */
static void serve_snapshot(Request *r, const Snapshot *s, const char *what, RenderFn text,
                           bool strict) {
        char *buf;
        size_t len;
        bool ok;
        json_t *j;
        int k;

        if (r->text) {
                j = snapshot_ref(r->api, s, &ok);
                if (!j) {
                        reply_not_ready(r, what);
                        return;
                }
                reply_render(r, strict && !ok ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, j,
                             text);
                snapshot_unref(r->api, j);
                return;
        }
        k = snapshot_copy(r->api, s, &buf, &len, &ok);
        if (k == -EAGAIN)
                reply_not_ready(r, what);
        else if (k < 0)
                reply_take(r, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_JSON, NULL, 0);
        else
                reply_take(r, strict && !ok ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
                           TYPE_JSON, buf, len);
}

static void route_healthz(Request *r) {
        char *body = strdup("ok\n");

        reply_take(r, body ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_TEXT, body,
                   body ? 3 : 0);
}

static void route_status(Request *r) {
        bool strict;

        if (query_bool(r, "strict", &strict) < 0)
                return;
        serve_snapshot(r, &r->api->status, "status", render_status_text, strict);
}

static void route_sources(Request *r) {
        serve_snapshot(r, &r->api->sources, "sources snapshot", render_sources_text, false);
}

static const json_t *find_criterion(const json_t *status, const char *name) {
        const json_t *c;
        size_t i;

        json_array_foreach(json_object_get(status, "criteria"), i, c)
                if (json_is_string(json_object_get(c, "name")) &&
                    strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
                        return c;
        return NULL;
}

static void route_criterion(Request *r) {
        const json_t *c;
        json_t *status;
        bool ok;

        status = snapshot_ref(r->api, &r->api->status, &ok);
        if (!status) {
                reply_not_ready(r, "status");
                return;
        }
        c = find_criterion(status, r->arg);
        if (c)
                reply_render(r, MHD_HTTP_OK, c, render_criterion_text);
        else
                reply_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                            "criterion \"%s\" is not known", r->arg);
        snapshot_unref(r->api, status);
}

static int metric_add(const char *name, int64_t ts_ms, double value, void *u) {
        char iso[32];
        json_t *m;

        if (ts_ms <= 0)
                m = json_pack("{s:s,s:n,s:n}", "name", name, "last", "at");
        else
                m = json_pack("{s:s,s:o,s:s}", "name", name, "last", json_number(value), "at",
                              units_format_iso8601((uint64_t) ts_ms * USEC_PER_MSEC, iso,
                                                   sizeof iso));
        return json_array_append_new(u, m) < 0 ? -ENOMEM : 0;
}

static void route_metrics(Request *r) {
        json_t *list = json_array(), *j;
        Store *s;
        int k;

        s = r->api->pool ? store_pool_acquire(r->api->pool) : NULL;
        if (!s) {
                json_decref(list);
                reply_store_unavailable(r, 0);
                return;
        }
        k = list ? store_list_series(s, metric_add, list) : -ENOMEM;
        store_pool_release(r->api->pool, s);
        if (k < 0) {
                json_decref(list);
                reply_store_unavailable(r, k);
                return;
        }
        j = json_pack("{s:o}", "metrics", list);
        reply_render(r, MHD_HTTP_OK, j, render_metrics_text);
        json_decref(j);
}

/* The query of /v1/series, checked. */
typedef struct SeriesQuery {
        const char *metric;
        uint64_t from_usec, to_usec, step_usec;
} SeriesQuery;

static int parse_time_arg(Request *r, const char *key, uint64_t now, uint64_t def, uint64_t *ret) {
        const char *v = query(r, key);

        *ret = def;
        if (!v || units_parse_time(v, now, ret) >= 0)
                return 0;
        reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                    "%s: \"%s\" is not a time (RFC 3339, epoch seconds, now or now-DURATION)",
                    key, v);
        return -EINVAL;
}

static int series_query(Request *r, SeriesQuery *q) {
        uint64_t now = units_now_usec();
        const char *step = query(r, "step");

        q->metric = query(r, "metric");
        if (!q->metric || !*q->metric) {
                reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                            "metric: required (a series name from /v1/metrics)");
                return -EINVAL;
        }
        if (parse_time_arg(r, "from", now, now - API_DEFAULT_SPAN, &q->from_usec) < 0 ||
            parse_time_arg(r, "to", now, now, &q->to_usec) < 0)
                return -EINVAL;
        q->step_usec = 0;
        if (step && (units_parse_duration(step, &q->step_usec) < 0 ||
                     (q->step_usec > 0 && q->step_usec < USEC_PER_MSEC))) {
                reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                            "step: \"%s\" is not a duration of 1ms or more", step);
                return -EINVAL;
        }
        if (q->from_usec > q->to_usec) {
                reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "from is later than to");
                return -EINVAL;
        }
        return 0;
}

static int point_add(int64_t ts_ms, double value, void *u) {
        json_t *p = json_pack("[I,o]", (json_int_t) ts_ms, json_number(value));

        return json_array_append_new(u, p) < 0 ? -ENOMEM : 0;
}

static json_t *series_json(const SeriesQuery *q, json_t *points, bool truncated) {
        char from[32], to[32], step[32];

        units_format_duration(q->step_usec, step, sizeof step);
        return json_pack("{s:s,s:s,s:s,s:s?,s:o,s:b}", "metric", q->metric,
                         "from", units_format_iso8601(q->from_usec, from, sizeof from),
                         "to", units_format_iso8601(q->to_usec, to, sizeof to),
                         "step", q->step_usec ? step : NULL, "points", points,
                         "truncated", truncated);
}

static void route_series(Request *r) {
        SeriesQuery q;
        json_t *points, *j;
        Store *s;
        int k;

        if (series_query(r, &q) < 0)
                return;
        s = r->api->pool ? store_pool_acquire(r->api->pool) : NULL;
        if (!s) {
                reply_store_unavailable(r, 0);
                return;
        }
        points = json_array();
        k = points ? store_series_points(s, q.metric, (int64_t) (q.from_usec / USEC_PER_MSEC),
                                         (int64_t) (q.to_usec / USEC_PER_MSEC),
                                         (int64_t) (q.step_usec / USEC_PER_MSEC),
                                         API_MAX_POINTS, point_add, points)
                   : -ENOMEM;
        store_pool_release(r->api->pool, s);
        if (k < 0) {
                json_decref(points);
                if (k == -ENOENT) {
                        reply_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                                    "metric \"%s\" is not known", q.metric);
                        return;
                }
                reply_store_unavailable(r, k);
                return;
        }
        j = series_json(&q, points, k > 0);
        reply_render(r, MHD_HTTP_OK, j, render_series_text);
        json_decref(j);
}

/* ------------------------------------------------------------- profiles */

/* The query of /v1/profiles, checked; an empty target or kind means any. */
typedef struct ProfileQuery {
        const char *target, *kind;
        uint64_t from_usec, to_usec;
        size_t limit;
} ProfileQuery;

static bool profile_kind_known(const char *kind) {
        return strcmp(kind, "heap") == 0 || strcmp(kind, "goroutine") == 0 ||
               strcmp(kind, "cpu") == 0;
}

static int parse_limit_arg(Request *r, size_t *ret) {
        const char *v = query(r, "limit");
        unsigned long n = 0;
        char *end = NULL;

        *ret = API_PROFILE_LIMIT;
        if (!v)
                return 0;
        errno = 0;
        if (*v >= '0' && *v <= '9')
                n = strtoul(v, &end, 10);
        if (end && *end == '\0' && errno == 0 && n >= 1 && n <= API_PROFILE_LIMIT_MAX) {
                *ret = n;
                return 0;
        }
        reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                    "limit: \"%s\" is not a number from 1 to %lu", v, API_PROFILE_LIMIT_MAX);
        return -EINVAL;
}

static int profile_query(Request *r, ProfileQuery *q) {
        uint64_t now = units_now_usec();

        q->target = query(r, "target");
        q->kind = query(r, "kind");
        if (q->target && !*q->target)
                q->target = NULL;
        if (q->kind && !*q->kind)
                q->kind = NULL;
        if (q->kind && !profile_kind_known(q->kind)) {
                reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                            "kind: \"%s\" is not heap, goroutine or cpu", q->kind);
                return -EINVAL;
        }
        if (parse_time_arg(r, "from", now, now - API_PROFILE_SPAN, &q->from_usec) < 0 ||
            parse_time_arg(r, "to", now, now, &q->to_usec) < 0)
                return -EINVAL;
        if (q->from_usec > q->to_usec) {
                reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "from is later than to");
                return -EINVAL;
        }
        return parse_limit_arg(r, &q->limit);
}

/* {"inuse_space": 123, ...} from a stored summary's sample_types; empty when
 * the summary holds none. */
static json_t *profile_totals(const char *summary) {
        json_t *s = summary ? json_loads(summary, 0, NULL) : NULL, *totals = json_object(), *t;
        size_t i;

        json_array_foreach(json_object_get(s, "sample_types"), i, t) {
                const char *type = json_string_value(json_object_get(t, "type"));
                const json_t *total = json_object_get(t, "total");

                if (type && json_is_number(total) &&
                    json_object_set_new(totals, type, json_number(json_number_value(total))) < 0) {
                        json_decref(totals);
                        totals = NULL;
                        break;
                }
        }
        json_decref(s);
        return totals;
}

static int profile_add(const StoreProfile *p, void *u) {
        char iso[32], url[64];
        json_t *j;

        snprintf(url, sizeof url, "/v1/profiles/%" PRId64, p->id);
        j = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:o,s:s}", "id", (json_int_t) p->id,
                      "target", p->target, "kind", p->kind,
                      "time", units_format_iso8601((uint64_t) p->ts_ms * USEC_PER_MSEC, iso, sizeof iso),
                      "duration_ms", (json_int_t) p->duration_ms, "bytes", (json_int_t) p->size,
                      "totals", profile_totals(p->summary), "url", url);
        return json_array_append_new(u, j) < 0 ? -ENOMEM : 0;
}

/* A read-only connection, or NULL after answering 503. */
static Store *borrow_store(Request *r) {
        Store *s = r->api->pool ? store_pool_acquire(r->api->pool) : NULL;

        if (!s)
                reply_store_unavailable(r, 0);
        return s;
}

static void route_profiles(Request *r) {
        ProfileQuery q;
        json_t *list, *j;
        Store *s;
        int k;

        if (profile_query(r, &q) < 0)
                return;
        s = borrow_store(r);
        if (!s)
                return;
        list = json_array();
        k = list ? store_profile_list(s, q.target, q.kind, (int64_t) (q.from_usec / USEC_PER_MSEC),
                                      (int64_t) (q.to_usec / USEC_PER_MSEC), q.limit, profile_add,
                                      list)
                 : -ENOMEM;
        store_pool_release(r->api->pool, s);
        if (k < 0) {
                json_decref(list);
                reply_store_unavailable(r, k);
                return;
        }
        j = json_pack("{s:o}", "profiles", list);
        reply_render(r, MHD_HTTP_OK, j, render_profiles_text);
        json_decref(j);
}

/* A piece of a file name: target and kind come from the config, but a
 * quote or slash must never reach the Content-Disposition header. */
static void filename_part(const char *in, char *out, size_t n) {
        size_t i;

        for (i = 0; in[i] && i + 1 < n; i++)
                out[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                                in[i]) ? in[i] : '_';
        out[i] = '\0';
}

/* The raw profile, copied while the connection is held: the blob is only
 * valid until the statement resets. */
typedef struct ProfileBytes {
        char *data;
        size_t size;
        char *disposition;
} ProfileBytes;

static int profile_take_bytes(const StoreProfile *p, const void *data, size_t size, void *u) {
        char target[API_FILENAME_PART + 1], kind[API_FILENAME_PART + 1];
        ProfileBytes *b = u;

        filename_part(p->target, target, sizeof target);
        filename_part(p->kind, kind, sizeof kind);
        if (asprintf(&b->disposition, "attachment; filename=\"%s-%s-%" PRId64 ".pb.gz\"", target, kind,
                     p->id) < 0) {
                b->disposition = NULL;
                return -ENOMEM;
        }
        b->data = malloc(size ? size : 1);
        if (!b->data)
                return -ENOMEM;
        memcpy(b->data, data, size);
        b->size = size;
        return 0;
}

/* The stored summary with the profile's identity added. */
static int profile_take_top(const StoreProfile *p, const void *data, size_t size, void *u) {
        json_t *j = p->summary ? json_loads(p->summary, 0, NULL) : NULL;
        char iso[32];

        if (!json_is_object(j)) {
                json_decref(j);
                j = json_object();
        }
        if (!j || json_object_set_new(j, "id", json_integer(p->id)) < 0 ||
            json_object_set_new(j, "target", json_string(p->target)) < 0 ||
            json_object_set_new(j, "kind", json_string(p->kind)) < 0 ||
            json_object_set_new(j, "time", json_string(units_format_iso8601(
                                        (uint64_t) p->ts_ms * USEC_PER_MSEC, iso, sizeof iso))) < 0) {
                json_decref(j);
                return -ENOMEM;
        }
        *(json_t **) u = j;
        return 0;
}

/* After store_profile_get: 0 when it found the profile, else answered. */
static int profile_get_result(Request *r, int64_t id, int k) {
        if (k == -ENOENT)
                reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "profile %" PRId64 " is not known", id);
        else if (k < 0)
                reply_store_unavailable(r, k);
        return k < 0 ? k : 0;
}

static void profile_raw(Request *r, int64_t id) {
        ProfileBytes b = {};
        Store *s;
        int k;

        s = borrow_store(r);
        if (!s)
                return;
        k = store_profile_get(s, id, profile_take_bytes, &b);
        store_pool_release(r->api->pool, s);
        if (profile_get_result(r, id, k) < 0) {
                free(b.data);
                free(b.disposition);
                return;
        }
        reply_take(r, MHD_HTTP_OK, TYPE_OCTETS, b.data, b.size);
        free(r->disposition);
        r->disposition = b.disposition;
}

static void profile_top(Request *r, int64_t id) {
        json_t *j = NULL;
        Store *s;
        int k;

        s = borrow_store(r);
        if (!s)
                return;
        k = store_profile_get(s, id, profile_take_top, &j);
        store_pool_release(r->api->pool, s);
        if (profile_get_result(r, id, k) < 0) {
                json_decref(j);
                return;
        }
        reply_render(r, MHD_HTTP_OK, j, render_top_text);
        json_decref(j);
}

/* /v1/profiles/ID and /v1/profiles/ID/top. */
static void route_profile(Request *r) {
        size_t n = strcspn(r->arg, "/");
        const char *rest = r->arg + n;
        int64_t id;

        if (n == 0 || strspn(r->arg, "0123456789") != n) {
                reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                            "profile id: \"%.*s\" is not a number", (int) n, r->arg);
                return;
        }
        /* Past 18 digits a number may not fit an int64_t: no id is that large. */
        if (n > 18) {
                reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "profile %.*s is not known", (int) n,
                            r->arg);
                return;
        }
        id = (int64_t) strtoll(r->arg, NULL, 10);
        if (*rest == '\0')
                profile_raw(r, id);
        else if (strcmp(rest, "/top") == 0)
                profile_top(r, id);
        else
                reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such path: /v1/profiles/%s", r->arg);
}

static const Route routes[] = {
        { "/healthz",       false, route_healthz },
        { "/v1/status",     false, route_status },
        { "/v1/criteria/",  true,  route_criterion },
        { "/v1/sources",    false, route_sources },
        { "/v1/metrics",    false, route_metrics },
        { "/v1/series",     false, route_series },
        { "/v1/profiles",   false, route_profiles },
        { "/v1/profiles/",  true,  route_profile },
};

static const Route *route_find(const char *url, const char **ret_arg) {
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
                size_t n = strlen(routes[i].path);

                if (routes[i].prefix ? strncmp(url, routes[i].path, n) == 0
                                     : strcmp(url, routes[i].path) == 0) {
                        *ret_arg = url + n;
                        return &routes[i];
                }
        }
        return NULL;
}

/* ------------------------------------------------------------ MHD glue */

/* ?format= wins; else text when Accept names text/plain and not JSON. */
static int choose_format(Request *r) {
        const char *f = query(r, "format");
        const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_ACCEPT);

        if (f) {
                r->text = strcmp(f, "text") == 0;
                if (r->text || strcmp(f, "json") == 0)
                        return 0;
                reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                            "format: \"%s\" is neither json nor text", f);
                return -EINVAL;
        }
        r->text = accept && strstr(accept, "text/plain") && !strstr(accept, "application/json");
        return 0;
}

static void request_route(Request *r, const char *url, const char *method) {
        const Route *route = route_find(url, &r->arg);

        if (!route) {
                reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such path: %s", url);
                return;
        }
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
                r->allow = true;
                reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                            "%s %s: only GET and HEAD are allowed", method, url);
                return;
        }
        if (choose_format(r) < 0)
                return;
        route->fn(r);
}

static enum MHD_Result request_queue(Request *r) {
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer(r->len, r->body,
                                               r->body ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        r->body = NULL;
        if (!MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type ?: TYPE_JSON) ||
            !MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") ||
            (r->allow && !MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD")) ||
            (r->disposition && !MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
                                                        r->disposition))) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        ret = MHD_queue_response(r->conn, r->code, resp);
        MHD_destroy_response(resp);
        return ret;
}

static bool body_too_large(struct MHD_Connection *c) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        char *end;
        unsigned long long n;

        if (!cl)
                return false;
        errno = 0;
        n = strtoull(cl, &end, 10);
        return errno != 0 || *end != '\0' || n > API_MAX_BODY;
}

static enum MHD_Result request_reject_body(Request *r) {
        reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                    "request bodies are limited to %llu bytes",
                    (unsigned long long) API_MAX_BODY);
        return request_queue(r);
}

/* NB: in libmicrohttpd 0.9.75 a response queued on the first call forces
 * "Connection: close", so the first call only sets up the request and the
 * answer goes out on the next one.  An oversized body is the exception: that
 * connection should close anyway. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        Request *r = *con_cls;

        if (!r) {
                r = calloc(1, sizeof *r);
                if (!r)
                        return MHD_NO;
                *r = (Request) { .api = cls, .conn = c };
                *con_cls = r;
                return body_too_large(c) ? request_reject_body(r) : MHD_YES;
        }
        if (*upload_data_size > 0) {
                r->body_bytes += *upload_data_size;
                *upload_data_size = 0;
                /* 0.9.75 refuses a response queued mid-upload, so a chunked
                 * body that outgrows the cap can only be cut off. */
                return r->body_bytes > API_MAX_BODY ? MHD_NO : MHD_YES;
        }
        request_route(r, url, method);
        return request_queue(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        Request *r = *con_cls;

        if (!r)
                return;
        free(r->body);
        free(r->disposition);
        free(r);
        *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char msg[512];
        size_t n;

        vsnprintf(msg, sizeof msg, fmt, ap);
        n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = '\0';
        log_warning("API: libmicrohttpd: %s", msg);
}

/* ------------------------------------------------------------- listening */

/* "HOST:PORT" or "[V6]:PORT" into a copy of the host and the port. */
static int split_listen(const char *listen, char **ret_host, const char **ret_port) {
        const char *colon, *host = listen;
        size_t n;

        if (*listen == '[') {
                const char *close = strchr(listen, ']');

                if (!close || close[1] != ':')
                        return -EINVAL;
                host = listen + 1;
                n = (size_t) (close - host);
                colon = close + 1;
        } else {
                colon = strrchr(listen, ':');
                if (!colon || memchr(listen, ':', (size_t) (colon - listen)))
                        return -EINVAL;
                n = (size_t) (colon - listen);
        }
        if (n == 0 || colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
            strtoul(colon + 1, NULL, 10) > 65535)
                return -EINVAL;
        *ret_host = strndup(host, n);
        *ret_port = colon + 1;
        return *ret_host ? 0 : -ENOMEM;
}

static int resolve_listen(const char *listen, struct addrinfo **ret, char **ret_error) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        const char *port;
        char *host;
        int k;

        k = split_listen(listen, &host, &port);
        if (k < 0) {
                if (asprintf(ret_error, "listen %s: expected HOST:PORT or [IPV6]:PORT", listen) < 0)
                        *ret_error = NULL;
                return k;
        }
        k = getaddrinfo(host, port, &hints, ret);
        free(host);
        if (k != 0) {
                if (asprintf(ret_error, "listen %s: %s", listen, gai_strerror(k)) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        return 0;
}

static int bind_listen(const char *where, int *ret_fd, char **ret_error) {
        struct addrinfo *ai;
        int fd, k, one = 1;

        k = resolve_listen(where, &ai, ret_error);
        if (k < 0)
                return k;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
            listen(fd, SOMAXCONN) < 0) {
                k = -errno;
                if (asprintf(ret_error, "listen %s: %s", where, strerror(-k)) < 0)
                        *ret_error = NULL;
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(ai);
                return k;
        }
        freeaddrinfo(ai);
        *ret_fd = fd;
        return 0;
}

static unsigned socket_port(int fd) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;

        if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                return 0;
        if (ss.ss_family == AF_INET)
                return ntohs(((struct sockaddr_in *) &ss)->sin_port);
        if (ss.ss_family == AF_INET6)
                return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
        return 0;
}

static struct MHD_Daemon *start_daemon(Api *a, int fd) {
        return MHD_start_daemon(
                MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
                0, NULL, NULL, on_request, a,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                MHD_OPTION_THREAD_POOL_SIZE, (unsigned) API_THREADS,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) API_TIMEOUT_SEC,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned) API_MAX_CONNECTIONS,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, API_CONNECTION_MEM,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                MHD_OPTION_END);
}

/* ------------------------------------------------------------------- API */

/* A socket from systemd must already listen for streams: MHD would take a
 * datagram socket and then never answer. */
static int adopt_listen_fd(int fd, char **ret_error) {
        int k = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);

        if (k == 0)
                k = -ENOTSOCK;
        else if (k > 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                k = -errno;
        if (k >= 0)
                return 0;
        if (asprintf(ret_error, "listen socket %d (from systemd): %s", fd,
                     k == -ENOTSOCK ? "not a listening stream socket" : strerror(-k)) < 0)
                *ret_error = NULL;
        return k;
}

int api_new(const char *listen, int listen_fd, StorePool *pool, Api **ret, char **ret_error) {
        Api *a;
        int fd = listen_fd, k;

        *ret_error = NULL;
        k = fd >= 0 ? adopt_listen_fd(fd, ret_error) : bind_listen(listen, &fd, ret_error);
        if (k < 0)
                return k;
        a = calloc(1, sizeof *a);
        if (!a) {
                if (listen_fd < 0)
                        close(fd);
                return -ENOMEM;
        }
        a->pool = pool;
        a->fd = fd;
        a->from_systemd = listen_fd >= 0;
        a->listen = strdup(listen);
        a->port = socket_port(fd);
        pthread_mutex_init(&a->lock, NULL);
        *ret = a;
        return 0;
}

int api_start(Api *a, char **ret_error) {
        *ret_error = NULL;
        /* On failure MHD has already closed the socket and logged why. */
        a->daemon = start_daemon(a, a->fd);
        a->fd = -1;
        if (!a->daemon) {
                if (asprintf(ret_error, "listen %s: libmicrohttpd could not start the HTTP "
                             "server (see its messages above)",
                             a->from_systemd ? "(socket from systemd)" : a->listen) < 0)
                        *ret_error = NULL;
                return -EIO;
        }
        return 0;
}

Api *api_free(Api *a) {
        if (!a)
                return NULL;
        if (a->daemon)
                MHD_stop_daemon(a->daemon);
        else if (a->fd >= 0 && !a->from_systemd)
                close(a->fd);
        free(a->listen);
        snapshot_clear(&a->status);
        snapshot_clear(&a->sources);
        pthread_mutex_destroy(&a->lock);
        free(a);
        return NULL;
}

void api_publish_status(Api *a, json_t *status) {
        if (!a || !status) {
                json_decref(status);
                return;
        }
        snapshot_publish(a, &a->status, status, "status");
}

void api_publish_sources(Api *a, json_t *sources) {
        if (!a || !sources) {
                json_decref(sources);
                return;
        }
        snapshot_publish(a, &a->sources, sources, "sources");
}

unsigned api_port(const Api *a) {
        return a ? a->port : 0;
}
