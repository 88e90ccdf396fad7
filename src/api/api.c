/* The HTTP server: binding or adopting the socket, libmicrohttpd's setup,
 * each request's life (route, check its parameters, answer here or hand it
 * to a worker, queue), the published snapshots and the routes that read
 * them.  The series routes are in api-series.c, the profile routes in
 * api-profiles.c, the workers in api-work.c, the slow-client guard in
 * api-guard.c, the text tables in api-text.c. */
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

#include "api/api-internal.h"
#include "util/log.h"
#include "util/units.h"
#include "util/utf8.h"
#include "util/util.h"

#define API_THREADS          2U
/* Idle connections close after this; a request's headers must be complete
 * within API_HEADER_DEADLINE of the connection's start or previous answer,
 * however slowly they trickle in. */
#define API_TIMEOUT_SEC      10U
#define API_HEADER_DEADLINE  (10 * USEC_PER_SEC)
#define API_MAX_CONNECTIONS  4096U
#define API_CONNECTION_MEM   ((size_t) 32 * 1024)
#define API_MAX_BODY         ((uint64_t) 64 * 1024)
/* The routes that act take no body: a few KiB at most are read and
 * ignored. */
#define API_MAX_POST_BODY    ((uint64_t) 4 * 1024)
/* Routes that read the store run on API_WORKERS threads (as many as the
 * store pool's connections), with at most API_QUEUE requests waiting. */
#define API_WORKERS          2U
#define API_QUEUE            16U
#define API_RETRY_AFTER_SEC  1U

#define TYPE_JSON "application/json"
#define TYPE_TEXT "text/plain; charset=utf-8"

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
        pthread_mutex_t lock;        /* guards both snapshots and the store's health */
        CriteriaReport *criteria;    /* the latest published; the publishing thread's */
        Snapshot status;
        Snapshot sources;
        /* The writer's health (api_publish_store): the "store" member that
         * status and sources answers carry, and /healthz's verdict. */
        char *store_dump;            /* compact JSON object, no newline */
        size_t store_len;
        bool store_failing;
        char store_reason[512];      /* the line /healthz gives while failing */
        char store_line[600];        /* the line text answers end with; "" before a publish */
        ApiWork *work;
        ApiGuard *guard;
        ApiRuns *runs;               /* the runs snapshot (api-runs.c) */
        ApiCtl *ctl;                 /* acting requests and the token (api-control.c) */
};

typedef void (*RouteFn)(Request *r);
/* A POST route: true when it queued r for the loop (suspended). */
typedef bool (*ActFn)(Request *r);

typedef struct Route {
        const char *path;
        bool prefix;                 /* the rest of the path goes to r->arg */
        bool heavy;                  /* reads the store: runs on a worker */
        /* The query parameters it takes besides format, NULL-terminated. */
        const char *params[6];
        const char *usage;           /* for GET /; NULL: no GET */
        RouteFn fn;
        const char *act_usage;       /* for GET /: its POST */
        ActFn act;                   /* NULL: no POST */
} Route;

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

json_t *api_json_number(double v) {
        if (!isfinite(v))
                return json_null();
        /* Below 2^63 an integral double converts to an int64 exactly. */
        if (v == floor(v) && fabs(v) < 9223372036854775808.0)
                return json_integer((json_int_t) v);
        return json_real(v);
}

/* --------------------------------------------------------------- replies */

void api_reply_take(Request *r, unsigned code, const char *type, char *body, size_t len) {
        free(r->body);
        r->code = code;
        r->type = type;
        r->body = body;
        r->len = len;
}

/* Renders `j` as JSON, or with `text` when the client asked for text. */
void api_reply_render(Request *r, unsigned code, const json_t *j, RenderFn text) {
        bool as_text = r->text && text;
        char *buf;
        size_t len;

        if (!j || render_to_buffer(j, as_text ? text : render_json, &buf, &len) < 0) {
                log_error("API: cannot render an answer: %s", strerror(ENOMEM));
                api_reply_take(r, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_JSON, NULL, 0);
                return;
        }
        api_reply_take(r, code, as_text ? TYPE_TEXT : TYPE_JSON, buf, len);
}

void api_reply_error(Request *r, unsigned code, const char *err, const char *fmt, ...) {
        char msg[512];
        json_t *j;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        /* Messages quote what the client sent, which jansson refuses unless
         * it is valid UTF-8. */
        utf8_sanitize(msg, 1);
        j = json_pack("{s:{s:s,s:s}}", "error", "code", err, "message", msg);
        r->text = false;
        api_reply_render(r, code, j, NULL);
        json_decref(j);
}

static void reply_not_ready(Request *r, const char *what) {
        api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not_ready",
                        "no %s has been published yet; try again shortly", what);
}

void api_reply_store_unavailable(Request *r, int err) {
        if (err == 0)
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
                                "no database connection could be opened");
        else
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
                                "the database cannot be read: %s", strerror(-err));
}

void api_reply_list(Request *r, const char *key, json_t *list, int k, RenderFn text) {
        json_t *j;

        if (k < 0) {
                json_decref(list);
                api_reply_store_unavailable(r, k);
                return;
        }
        j = json_pack("{s:o}", key, list);
        api_reply_render(r, MHD_HTTP_OK, j, text);
        json_decref(j);
}

ApiRuns *api_runs(Api *a) {
        return a->runs;
}

ApiCtl *api_ctl(Api *a) {
        return a->ctl;
}

/* ------------------------------------------------------------- snapshots */

static void snapshot_clear(Snapshot *s) {
        json_decref(s->json);
        free(s->dump);
        *s = (Snapshot) { 0 };
}

/* Takes `j`; NULL publishes nothing. */
static void snapshot_publish(Api *a, Snapshot *s, json_t *j, const char *what) {
        Snapshot new = { .json = j }, old;

        if (!j)
                return;
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

/* Copies a dump ("{...}\n") into buf with the store's object spliced in as
 * its last member; returns the length. */
static size_t splice_store(const Api *a, const Snapshot *s, char *buf) {
        static const char key[] = "\"store\":";
        size_t n = s->len - 2;

        memcpy(buf, s->dump, n);
        if (n > 1)
                buf[n++] = ',';
        memcpy(buf + n, key, sizeof key - 1);
        n += sizeof key - 1;
        memcpy(buf + n, a->store_dump, a->store_len);
        n += a->store_len;
        memcpy(buf + n, "}\n", 2);
        return n + 2;
}

/* A private copy of the dump, with the store's health when published:
 * -EAGAIN before the first publish. */
static int snapshot_copy(Api *a, const Snapshot *s, char **ret, size_t *ret_len, bool *ret_ok) {
        bool splice;
        char *buf = NULL;
        int r = 0;

        pthread_mutex_lock(&a->lock);
        splice = a->store_dump && s->len >= 3 && s->dump[s->len - 2] == '}';
        if (!s->dump)
                r = -EAGAIN;
        else if (!(buf = malloc(s->len + (splice ? a->store_len + 16 : 0))))
                r = -ENOMEM;
        else {
                *ret_len = splice ? splice_store(a, s, buf) : s->len;
                if (!splice)
                        memcpy(buf, s->dump, s->len);
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

static const QueryArg *query_arg(Request *r, const char *key) {
        for (size_t i = 0; i < r->n_args; i++)
                if (strcmp(r->args[i].key, key) == 0)
                        return &r->args[i];
        return NULL;
}

const char *api_query(Request *r, const char *key) {
        const QueryArg *a = query_arg(r, key);

        return a ? a->value : NULL;
}

bool api_query_present(Request *r, const char *key) {
        return query_arg(r, key) != NULL;
}

const char *api_header(Request *r, const char *name) {
        return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int api_query_limit(Request *r, size_t def, size_t max, size_t *ret) {
        const char *v = api_query(r, "limit");
        unsigned long n = 0;
        char *end = NULL;

        *ret = def;
        if (!v)
                return 0;
        errno = 0;
        if (*v >= '0' && *v <= '9')
                n = strtoul(v, &end, 10);
        if (end && *end == '\0' && errno == 0 && n >= 1 && n <= max) {
                *ret = n;
                return 0;
        }
        api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "limit: \"%s\" is not a number from 1 to %zu",
                        v, max);
        return -EINVAL;
}

static int query_bool(Request *r, const char *key, bool *ret) {
        const QueryArg *a = query_arg(r, key);
        const char *v;

        /* A bare key ("?strict", no '=') has no value but is there: true. */
        *ret = false;
        if (!a)
                return 0;
        v = a->value;
        if (!v || strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || !*v)
                *ret = true;
        else if (strcmp(v, "0") != 0 && strcmp(v, "false") != 0 && strcmp(v, "no") != 0) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                                "%s: \"%s\" is not a boolean (1, 0, true, false)", key, v);
                return -EINVAL;
        }
        return 0;
}

/* A time argument, or `def` when absent. */
static int query_time(Request *r, const char *key, uint64_t now, uint64_t def, uint64_t *ret) {
        const char *v = api_query(r, key);

        *ret = def;
        if (!v || units_parse_time(v, now, ret) >= 0)
                return 0;
        api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                        "%s: \"%s\" is not a time (RFC 3339, epoch seconds, now or now-DURATION)",
                        key, v);
        return -EINVAL;
}

int api_query_range(Request *r, uint64_t span, uint64_t *ret_from, uint64_t *ret_to) {
        uint64_t now = now_realtime_usec();

        if (query_time(r, "from", now, now - span, ret_from) < 0 ||
            query_time(r, "to", now, now, ret_to) < 0)
                return -EINVAL;
        return 0;
}

int api_query_span_ms(Request *r, int64_t *ret_from, int64_t *ret_to) {
        uint64_t now = now_realtime_usec(), from, to;

        if (query_time(r, "from", now, 0, &from) < 0 || query_time(r, "to", now, 0, &to) < 0)
                return -EINVAL;
        *ret_from = api_query(r, "from") ? (int64_t) (from / USEC_PER_MSEC) : INT64_MIN;
        *ret_to = api_query(r, "to") ? (int64_t) (to / USEC_PER_MSEC) : INT64_MAX;
        if (*ret_from > *ret_to) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "from is later than to");
                return -EINVAL;
        }
        return 0;
}

Store *api_borrow_store(Request *r) {
        Store *s = r->api->pool ? store_pool_acquire(r->api->pool) : NULL;

        if (!s)
                api_reply_store_unavailable(r, 0);
        return s;
}

void api_release_store(Request *r, Store *s) {
        store_pool_release(r->api->pool, s);
}

/* Text answers end with a line on the store, as JSON ones with its object. */
static void reply_text_with_store(Request *r, unsigned code, const json_t *j, RenderFn text) {
        char line[sizeof r->api->store_line], *buf = NULL, *p;
        size_t len = 0, n;

        pthread_mutex_lock(&r->api->lock);
        memcpy(line, r->api->store_line, sizeof line);
        pthread_mutex_unlock(&r->api->lock);
        n = strlen(line);
        if (n == 0 || render_to_buffer(j, text, &buf, &len) < 0 || !(p = realloc(buf, len + n + 2))) {
                free(buf);
                api_reply_render(r, code, j, text);
                return;
        }
        p[len] = '\n';
        memcpy(p + len + 1, line, n);
        p[len + n + 1] = '\n';
        api_reply_take(r, code, TYPE_TEXT, p, len + n + 2);
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
                reply_text_with_store(r, strict && !ok ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, j,
                                      text);
                snapshot_unref(r->api, j);
                return;
        }
        k = snapshot_copy(r->api, s, &buf, &len, &ok);
        if (k == -EAGAIN)
                reply_not_ready(r, what);
        else if (k < 0)
                api_reply_take(r, MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_JSON, NULL, 0);
        else
                api_reply_take(r, strict && !ok ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
                               TYPE_JSON, buf, len);
}

/* Cheap on purpose: a flag and a line under the lock, no SQL. */
static void route_healthz(Request *r) {
        char reason[sizeof r->api->store_reason];
        bool failing;
        char *body;

        pthread_mutex_lock(&r->api->lock);
        failing = r->api->store_failing;
        memcpy(reason, r->api->store_reason, sizeof reason);
        pthread_mutex_unlock(&r->api->lock);
        if (failing) {
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store_failing", "%s", reason);
                return;
        }
        body = strdup("ok\n");

        api_reply_take(r, body ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, TYPE_TEXT, body,
                       body ? 3 : 0);
}

static void route_status(Request *r) {
        bool strict;

        if (query_bool(r, "strict", &strict) < 0)
                return;
        serve_snapshot(r, &r->api->status, "status", api_render_status_text, strict);
}

static void route_sources(Request *r) {
        serve_snapshot(r, &r->api->sources, "sources snapshot", api_render_sources_text, false);
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
                api_reply_render(r, MHD_HTTP_OK, c, api_render_criterion_text);
        else
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                                "criterion \"%s\" is not known", r->arg);
        snapshot_unref(r->api, status);
}

/* GET / and GET /v1: the routes, what they take and what they answer. */
static void route_index(Request *r);

/* ----------------------------------------------------------- route table */

/* Cheap routes answer from the published snapshots on libmicrohttpd's
 * threads; heavy ones read the store on a worker. */
static const Route routes[] = {
        { "/",              false, false, { NULL },
          "GET /: this list", route_index, NULL, NULL },
        { "/v1",            false, false, { NULL },
          "GET /v1: this list", route_index, NULL, NULL },
        { "/healthz",       false, false, { NULL },
          "GET /healthz: liveness", route_healthz, NULL, NULL },
        { "/v1/status",     false, false, { "strict", NULL },
          "GET /v1/status: every criterion's verdict", route_status, NULL, NULL },
        { "/v1/criteria/",  true,  false, { NULL },
          "GET /v1/criteria/NAME: one criterion", route_criterion, NULL, NULL },
        { "/v1/sources",    false, false, { NULL },
          "GET /v1/sources: each polled source", route_sources, NULL, NULL },
        { "/v1/metrics",    false, true,  { "match", NULL },
          "GET /v1/metrics: series names with their last value", api_route_metrics, NULL, NULL },
        { "/v1/series",     false, true,  { "metric", "from", "to", "step", NULL },
          "GET /v1/series: the points of one series", api_route_series, NULL, NULL },
        { "/v1/profiles",   false, true,  { "target", "kind", "from", "to", "limit", NULL },
          "GET /v1/profiles: the stored pprof profiles", api_route_profiles, NULL, NULL },
        { "/v1/profiles/",  true,  true,  { NULL },
          "GET /v1/profiles/ID[/top]: one profile, raw or summed up", api_route_profile, NULL, NULL },
        { "/v1/scenarios",  false, false, { NULL },
          "GET /v1/scenarios: each load scenario, its schedule and last run", api_route_scenarios, NULL, NULL },
        { "/v1/scenarios/", true,  false, { NULL }, NULL, NULL,
          "POST /v1/scenarios/NAME/run: start a run now (bearer token)", api_act_scenario },
        { "/v1/suites",     false, false, { NULL },
          "GET /v1/suites: each suite, its schedule and its last run's verdict", api_route_suites, NULL, NULL },
        { "/v1/suites/",    true,  false, { NULL },
          "GET /v1/suites/NAME: one suite", api_route_suite,
          "POST /v1/suites/NAME/run: start a suite now (bearer token)", api_act_suite },
        { "/v1/runs",       false, true,  { "scenario", "state", "from", "to", "limit", NULL },
          "GET /v1/runs: the runs, newest first", api_route_runs, NULL, NULL },
        { "/v1/runs/",      true,  true,  { NULL },
          "GET /v1/runs/ID: one run's figures", api_route_run,
          "POST /v1/runs/ID/cancel: cancel the active run (bearer token)", api_act_run },
};

/* "a, b, format": the parameters a route takes, for the index and errors. */
static void route_params(const Route *route, char *buf, size_t n) {
        buf[0] = '\0';
        for (size_t i = 0; route->params[i]; i++) {
                strncat(buf, route->params[i], n - strlen(buf) - 1);
                strncat(buf, ", ", n - strlen(buf) - 1);
        }
        strncat(buf, "format", n - strlen(buf) - 1);
}

static json_t *route_json(const Route *route, const char *usage) {
        json_t *params = json_array();
        const char *colon = strchr(usage, ':');

        for (size_t i = 0; route->params[i]; i++)
                json_array_append_new(params, json_string(route->params[i]));
        json_array_append_new(params, json_string("format"));
        return json_pack("{s:s%,s:o,s:s}", "route", usage, (size_t) (colon - usage),
                         "params", params, "about", colon + 2);
}

static int index_add(json_t *list, const Route *route, const char *usage) {
        return !usage ? 0 : json_array_append_new(list, route_json(route, usage));
}

static void route_index(Request *r) {
        json_t *list = json_array(), *j;

        for (size_t i = 0; list && i < ELEMENTSOF(routes); i++)
                if (routes[i].fn != route_index &&
                    (index_add(list, &routes[i], routes[i].usage) < 0 ||
                     index_add(list, &routes[i], routes[i].act_usage) < 0)) {
                        json_decref(list);
                        list = NULL;
                }
        j = list ? json_pack("{s:o}", "routes", list) : NULL;
        api_reply_render(r, MHD_HTTP_OK, j, api_render_index_text);
        json_decref(j);
}

static const Route *route_find(const char *url, const char **ret_arg) {
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
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
        const char *f = api_query(r, "format");
        const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_ACCEPT);

        if (f) {
                r->text = strcmp(f, "text") == 0;
                if (r->text || strcmp(f, "json") == 0)
                        return 0;
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                                "format: \"%s\" is neither json nor text", f);
                return -EINVAL;
        }
        r->text = accept && strstr(accept, "text/plain") && !strstr(accept, "application/json");
        return 0;
}

static enum MHD_Result arg_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
        Request *r = cls;

        if (r->n_args == API_MAX_ARGS)
                return MHD_NO;
        r->args[r->n_args++] = (QueryArg) { key, value };
        return MHD_YES;
}

static bool route_takes(const Route *route, const char *key) {
        if (strcmp(key, "format") == 0)
                return true;
        for (size_t i = 0; route->params[i]; i++)
                if (strcmp(key, route->params[i]) == 0)
                        return true;
        return false;
}

/* Copies the query's parameters into r and refuses one the route does not
 * take (a typo such as frm= would otherwise answer with the defaults). */
static int request_args(Request *r, const Route *route, const char *url) {
        char takes[128];

        if (MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, arg_collect, r) > API_MAX_ARGS) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                                "more than %u query parameters", API_MAX_ARGS);
                return -EINVAL;
        }
        for (size_t i = 0; i < r->n_args; i++)
                if (!route_takes(route, r->args[i].key)) {
                        route_params(route, takes, sizeof takes);
                        api_reply_error(r, MHD_HTTP_BAD_REQUEST, "unknown_parameter",
                                        "unknown query parameter \"%s\"; %s takes %s", r->args[i].key,
                                        url, takes);
                        return -EINVAL;
                }
        return 0;
}

/* Answers r (false), or hands it to a worker (true: the connection is
 * suspended until the worker resumes it). */
static bool request_route(Request *r, const char *url, const char *method) {
        const Route *route = route_find(url, &r->arg);

        if (!route) {
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such path: %s", url);
                return false;
        }
        if (route->act && strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
                if (request_args(r, route, url) < 0 || choose_format(r) < 0)
                        return false;
                return route->act(r);
        }
        if (!route->fn ||
            (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)) {
                r->allow = !route->fn ? "POST" : route->act ? "GET, HEAD, POST" : "GET, HEAD";
                api_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "%s %s: only %s", method,
                                url, !route->fn ? "POST is allowed" : route->act ? "GET, HEAD and POST are allowed"
                                                                                : "GET and HEAD are allowed");
                return false;
        }
        if (request_args(r, route, url) < 0 || choose_format(r) < 0)
                return false;
        if (!route->heavy) {
                route->fn(r);
                return false;
        }
        if (api_work_submit(r->api->work, r, route->fn) == 0)
                return true;
        r->retry_after = API_RETRY_AFTER_SEC;
        api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                        "%u requests that read the database are already waiting; retry shortly",
                        API_QUEUE);
        return false;
}

static enum MHD_Result request_queue(Request *r) {
        struct MHD_Response *resp;
        enum MHD_Result ret;

        char retry[16];

        resp = MHD_create_response_from_buffer(r->len, r->body,
                                               r->body ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        r->body = NULL;
        snprintf(retry, sizeof retry, "%u", r->retry_after);
        if (r->retry_after && !MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry)) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        if (!MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type ?: TYPE_JSON) ||
            !MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") ||
            (r->allow && !MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow)) ||
            (r->location && !MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location)) ||
            (r->bearer_challenge &&
             !MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer")) ||
            (r->disposition && !MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
                                                        r->disposition))) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        ret = MHD_queue_response(r->conn, r->code, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* POST requests (the routes that act) take a smaller body than others. */
static uint64_t body_cap(const char *method) {
        return strcmp(method, MHD_HTTP_METHOD_POST) == 0 ? API_MAX_POST_BODY : API_MAX_BODY;
}

static bool body_too_large(struct MHD_Connection *c, uint64_t cap) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        char *end;
        unsigned long long n;

        if (!cl)
                return false;
        errno = 0;
        n = strtoull(cl, &end, 10);
        return errno != 0 || *end != '\0' || n > cap;
}

static enum MHD_Result request_reject_body(Request *r, uint64_t cap) {
        api_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                        "request bodies are limited to %llu bytes", (unsigned long long) cap);
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
                api_guard_busy(r->api->guard, c, true);
                return body_too_large(c, body_cap(method)) ? request_reject_body(r, body_cap(method))
                                                           : MHD_YES;
        }
        if (r->done)
                return request_queue(r);
        if (*upload_data_size > 0) {
                r->body_bytes += *upload_data_size;
                *upload_data_size = 0;
                /* 0.9.75 refuses a response queued mid-upload, so a chunked
                 * body that outgrows the cap can only be cut off. */
                return r->body_bytes > body_cap(method) ? MHD_NO : MHD_YES;
        }
        return request_route(r, url, method) ? MHD_YES : request_queue(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        Request *r = *con_cls;

        if (!r)
                return;
        api_guard_busy(r->api->guard, c, false);
        free(r->body);
        free(r->disposition);
        free(r->location);
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
        /* A client hanging up, or a slow one the guard cut off, is the
         * client's doing: one warning each would let any client flood the
         * log. */
        if (strstr(msg, "connection closure") || strstr(msg, "closed by"))
                log_debug("API: libmicrohttpd: %s", msg);
        else
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
                set_error(ret_error, -EINVAL, "listen %s: expected HOST:PORT or [IPV6]:PORT", listen);
                return k;
        }
        k = getaddrinfo(host, port, &hints, ret);
        free(host);
        if (k != 0) {
                set_error(ret_error, -EINVAL, "listen %s: %s", listen, gai_strerror(k));
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
                set_error(ret_error, -EINVAL, "listen %s: %s", where, strerror(-k));
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(ai);
                return k;
        }
        freeaddrinfo(ai);
        *ret_fd = fd;
        return 0;
}

static struct MHD_Daemon *start_daemon(Api *a, int fd) {
        return MHD_start_daemon(
                MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                        MHD_ALLOW_SUSPEND_RESUME,
                0, NULL, NULL, on_request, a,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                MHD_OPTION_THREAD_POOL_SIZE, (unsigned) API_THREADS,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) API_TIMEOUT_SEC,
                MHD_OPTION_CONNECTION_LIMIT, api_guard_connection_limit(API_MAX_CONNECTIONS),
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, API_CONNECTION_MEM,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                MHD_OPTION_NOTIFY_CONNECTION, api_guard_notify, a->guard,
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
        set_error(ret_error, -EINVAL, "listen socket %d (from systemd): %s", fd,
                  k == -ENOTSOCK ? "not a listening stream socket" : strerror(-k));
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
        if (api_runs_new(&a->runs) < 0 || api_ctl_new(&a->ctl) < 0) {
                api_runs_free(a->runs);
                free(a);
                if (listen_fd < 0)
                        close(fd);
                return -ENOMEM;
        }
        a->pool = pool;
        a->fd = fd;
        a->from_systemd = listen_fd >= 0;
        a->listen = strdup(listen);
        pthread_mutex_init(&a->lock, NULL);
        *ret = a;
        return 0;
}

int api_start(Api *a, char **ret_error) {
        int k;

        *ret_error = NULL;
        k = api_work_new(API_WORKERS, API_QUEUE, &a->work);
        if (k >= 0)
                k = api_guard_new(API_HEADER_DEADLINE, &a->guard);
        if (k < 0) {
                set_error(ret_error, k, "cannot start the API's threads: %s", strerror(-k));
                return -EIO;
        }
        /* On failure MHD has already closed the socket and logged why. */
        a->daemon = start_daemon(a, a->fd);
        a->fd = -1;
        if (!a->daemon) {
                set_error(ret_error, -EINVAL, "listen %s: libmicrohttpd could not start the HTTP server "
                          "(see its messages above)",
                          a->from_systemd ? "(socket from systemd)" : a->listen);
                return -EIO;
        }
        return 0;
}

Api *api_free(Api *a) {
        if (!a)
                return NULL;
        /* Workers and waiting run requests first: libmicrohttpd must find
         * no connection suspended. */
        a->work = api_work_free(a->work);
        api_ctl_stop(a->ctl);
        if (a->daemon)
                MHD_stop_daemon(a->daemon);
        else if (a->fd >= 0 && !a->from_systemd)
                close(a->fd);
        a->guard = api_guard_free(a->guard);
        free(a->listen);
        snapshot_clear(&a->status);
        snapshot_clear(&a->sources);
        criteria_report_free(a->criteria);
        a->ctl = api_ctl_free(a->ctl);
        a->runs = api_runs_free(a->runs);
        free(a->store_dump);
        pthread_mutex_destroy(&a->lock);
        free(a);
        return NULL;
}

/* The /v1/status document, assembled in this one place from the parts the
 * daemon publishes; a new part is one more member added here.  NULL when
 * out of memory (the previous snapshot stays). */
static json_t *status_assemble(const Api *a) {
        return a->criteria ? api_criteria_json(a->criteria) : NULL;
}

void api_publish_criteria(Api *a, CriteriaReport *report) {
        if (!a) {
                criteria_report_free(report);
                return;
        }
        criteria_report_free(a->criteria);
        a->criteria = report;
        snapshot_publish(a, &a->status, status_assemble(a), "status");
}

void api_publish_sources(Api *a, json_t *sources) {
        if (a)
                snapshot_publish(a, &a->sources, sources, "sources");
        else
                json_decref(sources);
}

static json_t *time_or_null(int64_t ms) {
        char iso[32];

        if (ms <= 0)
                return json_null();
        return json_string(units_format_iso8601((uint64_t) ms * USEC_PER_MSEC, iso, sizeof iso));
}

static json_t *store_health_json(const char *path, const StoreHealth *h) {
        return json_pack("{s:s,s:b,s:I,s:I,s:I,s:o,s:o,s:o,s:I,s:o,s:o}",
                         "database", path,
                         "ok", !store_health_failing(h),
                         "queued", (json_int_t) h->queued,
                         "dropped", (json_int_t) h->dropped,
                         "failed_samples", (json_int_t) h->failed_samples,
                         "last_error", h->last_error[0] ? json_string(h->last_error) : json_null(),
                         "failing_since", time_or_null(h->failing_since_ms),
                         "last_flush", time_or_null(h->last_flush_ms),
                         "run_extras_failed", (json_int_t) h->extras_failed,
                         "run_extra_error", h->extra_error[0] ? json_string(h->extra_error) : json_null(),
                         "run_extra_failed_at", time_or_null(h->extra_failed_ms));
}

void api_publish_store(Api *a, const char *path, const StoreHealth *h) {
        char reason[400], extras[320] = "", *dump;
        json_t *j;

        if (!a || !path || !h)
                return;
        if (h->extras_failed > 0)
                snprintf(extras, sizeof extras, "; %" PRIu64 " refused writes of run objects, the last: %s",
                         h->extras_failed, h->extra_error);
        j = store_health_json(path, h);
        dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!dump) {
                log_error("API: cannot serialize the store's health: %s", strerror(ENOMEM));
                return;
        }
        pthread_mutex_lock(&a->lock);
        free(a->store_dump);
        a->store_dump = dump;
        a->store_len = strlen(dump);
        a->store_failing = store_health_failing(h);
        if (a->store_failing)
                snprintf(a->store_reason, sizeof a->store_reason, "store %s: %s", path,
                         store_health_reason(h, reason, sizeof reason));
        if (a->store_failing)
                snprintf(a->store_line, sizeof a->store_line, "%s", a->store_reason);
        else
                snprintf(a->store_line, sizeof a->store_line,
                         "store %s: writing (%" PRIu64 " queued, %" PRIu64 " dropped since start)%s", path,
                         h->queued, h->dropped, extras);
        pthread_mutex_unlock(&a->lock);
}
