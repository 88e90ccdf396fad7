/* What the API's files share: the request being answered, the reply helpers
 * the routes use, and the ?format=text renderers.  Internal to src/api*.c;
 * the daemon sees only api.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api.h"
#include "criteria/criteria.h"
#include "store/store.h"

/* At most this many query parameters in one request. */
#define API_MAX_ARGS 16

/* A query parameter; both strings live in libmicrohttpd's memory for the
 * connection, valid (and unchanged, even while the connection is
 * suspended) until the request completes.  value is NULL for a bare key. */
typedef struct QueryArg {
        const char *key;
        const char *value;
} QueryArg;

/* One request, kept in MHD's per-request pointer until it completes.  A
 * route answers by filling code/body/type through the api_reply_*()
 * helpers; api.c queues that answer.  A route that reads the store runs on
 * a worker thread, which then owns the request until it sets `done` and
 * resumes the connection: routes never call libmicrohttpd themselves. */
typedef struct Request {
        Api *api;
        struct MHD_Connection *conn;
        uint64_t body_bytes;
        bool text;                   /* answer with a text table */
        bool done;                   /* answered by a worker: queue it on resume */
        unsigned retry_after;        /* seconds for a Retry-After header; 0: none */
        const char *arg;             /* the path after a prefix route */
        QueryArg args[API_MAX_ARGS];
        size_t n_args;
        unsigned code;
        char *body;                  /* malloc'd; MHD frees it once queued */
        size_t len;
        const char *type;
        char *disposition;           /* malloc'd Content-Disposition, or NULL */
        char *location;              /* malloc'd Location, or NULL */
        const char *allow;           /* an Allow header ("GET, HEAD"), or NULL */
        bool bearer_challenge;       /* add "WWW-Authenticate: Bearer" (a 401) */
} Request;

/* Writes `j` to `f` in one format: 0, or -ENOMEM when the stream failed. */
typedef int (*RenderFn)(const json_t *j, FILE *f);

/* ---------------------------------------------------- api.c: reply helpers */

/* Answers with `body` (malloc'd, taken; NULL for an empty body). */
void api_reply_take(Request *r, unsigned code, const char *type, char *body, size_t len);

/* Answers `j` (borrowed) as JSON, or through `text` (may be NULL: JSON
 * always) when the client asked for text.  NULL `j` answers 503. */
void api_reply_render(Request *r, unsigned code, const json_t *j, RenderFn text);

/* Answers {"error":{"code":err,"message":...}}, always as JSON. */
void api_reply_error(Request *r, unsigned code, const char *err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Answers 503 store_unavailable; err 0: the pool could not lend a connection. */
void api_reply_store_unavailable(Request *r, int err);

/* Answers {key: list} after a store walk that returned `k`, or 503 when it
 * failed.  Takes `list` (NULL: out of memory, then k must be < 0). */
void api_reply_list(Request *r, const char *key, json_t *list, int k, RenderFn text);

/* A query argument, or NULL (also for a bare key); valid while the
 * request lives. */
const char *api_query(Request *r, const char *key);

/* A request header's value, or NULL; valid while the request lives. */
const char *api_header(Request *r, const char *name);

/* Whether the query has `key`, with a value or bare. */
bool api_query_present(Request *r, const char *key);

/* The "from" and "to" arguments, defaulting to the last `span` usec up to
 * now: 0, or -EINVAL after answering 400.  Does not check their order. */
int api_query_range(Request *r, uint64_t span, uint64_t *ret_from, uint64_t *ret_to);

/* A read-only store connection, or NULL after answering 503; give it back
 * with api_release_store(). */
Store *api_borrow_store(Request *r);
void api_release_store(Request *r, Store *s);

/* A JSON number for a stored value: integral values (byte counts, mostly)
 * become integers, non-finite ones null.  A new reference. */
json_t *api_json_number(double v);

/* The "limit" argument: `def` when absent, else 1..max: 0, or -EINVAL
 * after answering 400. */
int api_query_limit(Request *r, size_t def, size_t max, size_t *ret);

/* The "from" and "to" arguments in milliseconds, each INT64_MIN or
 * INT64_MAX when absent: 0, or -EINVAL after answering 400 (also when from
 * is later than to). */
int api_query_span_ms(Request *r, int64_t *ret_from, int64_t *ret_to);

/* The Api's runs state (api-runs.c) and acting requests (api-control.c). */
typedef struct ApiRuns ApiRuns;
typedef struct ApiCtl ApiCtl;
ApiRuns *api_runs(Api *a);
ApiCtl *api_ctl(Api *a);

/* ------------------------------------- api-criteria.c: criteria as JSON */

/* One criterion: name, the rule (op, threshold, unit) when it has one,
 * state, and a reason when unknown or disabled, or value and evidence when
 * known.  A new reference, NULL when out of memory. */
json_t *api_criterion_json(const CriterionResult *c);

/* The criteria's members of /v1/status: {"ok", "evaluated_at",
 * "criteria": [...]}.  A new reference, NULL when out of memory. */
json_t *api_criteria_json(const CriteriaReport *r);
/* ------------------------------------------------- api-work.c: workers */

typedef struct ApiWork ApiWork;
typedef void (*ApiWorkFn)(Request *r);

/* Starts `n_threads` workers that run routes handed over by
 * api_work_submit(), with room for `queue_max` waiting requests.  0,
 * -EINVAL, -ENOMEM or the error of pthread_create(). */
int api_work_new(unsigned n_threads, unsigned queue_max, ApiWork **ret);

/* From libmicrohttpd's access handler: suspends r's connection and queues
 * fn(r) for a worker, which answers through r, sets r->done and resumes the
 * connection; r must then stay untouched by the caller.  -EAGAIN, with
 * nothing done, when the queue is full or the workers are stopping. */
int api_work_submit(ApiWork *w, Request *r, ApiWorkFn fn);

/* Answers every queued request 503 (the one being run finishes), resumes
 * them and joins the threads.  Call before MHD_stop_daemon(), which must
 * find no connection suspended.  NULL is a no-op.  Returns NULL. */
ApiWork *api_work_free(ApiWork *w);

/* ------------------------------------------- api-guard.c: slow clients */

typedef struct ApiGuard ApiGuard;

/* Starts a thread that shuts down any connection whose request headers
 * are not complete `deadline_usec` after its start or its previous answer.
 * 0, -ENOMEM or the error of pthread_create(). */
int api_guard_new(uint64_t deadline_usec, ApiGuard **ret);

/* Stops the thread.  Call after MHD_stop_daemon(): libmicrohttpd reports
 * each connection's end to api_guard_notify().  NULL is a no-op; returns
 * NULL. */
ApiGuard *api_guard_free(ApiGuard *g);

/* MHD_OPTION_NOTIFY_CONNECTION's callback, with the guard as `cls`: follows
 * connections from their start to their end. */
void api_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* A request's headers are complete (busy) or its answer is sent (idle
 * again: the deadline restarts for the next request). */
void api_guard_busy(ApiGuard *g, struct MHD_Connection *c, bool busy);

/* The connection limit to give libmicrohttpd: `want`, after raising
 * RLIMIT_NOFILE's soft limit towards the hard one if it is too low, or
 * fewer (with a warning) when the descriptors cannot cover it. */
unsigned api_guard_connection_limit(unsigned want);

/* -------------------------------------------------- api-series.c: routes */

/* GET /v1/metrics: the series names, by prefix (match=), with a cap. */
void api_route_metrics(Request *r);

/* GET /v1/series: one series' points, the newest page of raw ones or one
 * per step, within the cost limits. */
void api_route_series(Request *r);

/* ------------------------------------------------ api-profiles.c: routes */

/* GET /v1/profiles: the list, filtered by target, kind, from, to, limit. */
void api_route_profiles(Request *r);

/* GET /v1/profiles/ID (raw bytes) and /v1/profiles/ID/top (the summary). */
void api_route_profile(Request *r);

/* ---------------------------------------------------- api-runs.c: runs */

/* 0 with a new ApiRuns (nothing published), or -ENOMEM. */
int api_runs_new(ApiRuns **ret);
/* NULL is a no-op.  Returns NULL. */
ApiRuns *api_runs_free(ApiRuns *x);

/* The published active run's id, or -1 when none. */
int64_t api_runs_active_id(ApiRuns *x);

/* GET /v1/scenarios: the published list. */
void api_route_scenarios(Request *r);

/* GET /v1/suites: the published list. */
void api_route_suites(Request *r);

/* GET /v1/suites/NAME: one suite of the published list. */
void api_route_suite(Request *r);

/* GET /v1/runs: the stored runs, filtered by scenario, state, from, to,
 * limit, newest first. */
void api_route_runs(Request *r);

/* GET /v1/runs/ID: one run, the active one's published object or a stored
 * one's. */
void api_route_run(Request *r);

/* ------------------------------------- api-control.c: routes that act
 * These run on libmicrohttpd's thread: each checks the token, then either
 * answers (false) or queues the request for the loop thread, which makes
 * the control call in api_control_dispatch() and resumes the connection
 * (true: r must then stay untouched by the caller). */

/* 0 with a new ApiCtl (no control, no token, its eventfd open), or a
 * negative errno. */
int api_ctl_new(ApiCtl **ret);

/* Answers every queued request 503 and resumes it; later ones are refused.
 * Call before MHD_stop_daemon().  NULL is a no-op. */
void api_ctl_stop(ApiCtl *c);

/* Closes the eventfd and frees.  NULL is a no-op.  Returns NULL. */
ApiCtl *api_ctl_free(ApiCtl *c);

/* POST /v1/scenarios/NAME/run. */
bool api_act_scenario(Request *r);

/* POST /v1/runs/ID/cancel. */
bool api_act_run(Request *r);

/* POST /v1/suites/NAME/run. */
bool api_act_suite(Request *r);

/* ------------------------------------------------ api-auth.c: the token */

/* The longest token api_token_read() accepts. */
#define API_TOKEN_MAX 512U

/* A token kept for comparison; `set` false: none configured. */
typedef struct ApiToken {
        char buf[API_TOKEN_MAX];
        size_t len;
        bool set;
} ApiToken;

/* Copies `token` into t (NULL, "" or one too long: none). */
void api_token_set(ApiToken *t, const char *token);

/* Whether `presented` equals t's token, in a time that depends on neither
 * token.  Always false when t holds none. */
bool api_token_equal(const ApiToken *t, const char *presented);

/* The token of an Authorization header's value "Bearer TOKEN", or NULL
 * for a missing header or another scheme. */
const char *api_token_from_header(const char *authorization);

/* ------------------------------------------ api-text.c: text renderers
 * Each takes the JSON answer of its route and writes it as a table. */

int api_render_status_text(const json_t *j, FILE *f);
int api_render_criterion_text(const json_t *j, FILE *f);
int api_render_sources_text(const json_t *j, FILE *f);
int api_render_metrics_text(const json_t *j, FILE *f);
int api_render_series_text(const json_t *j, FILE *f);
int api_render_profiles_text(const json_t *j, FILE *f);
int api_render_top_text(const json_t *j, FILE *f);
int api_render_index_text(const json_t *j, FILE *f);
int api_render_scenarios_text(const json_t *j, FILE *f);
int api_render_runs_text(const json_t *j, FILE *f);
int api_render_suites_text(const json_t *j, FILE *f);
