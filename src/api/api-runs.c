/* The runs routes that read: GET /v1/scenarios (the published list), GET
 * /v1/runs and GET /v1/runs/ID.  A stored run is turned back into a
 * LoadResult and rendered by load-report.c, as terminal mode renders its
 * own run, so the run object has one definition; the active run is
 * answered from the object the daemon publishes every second. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api-internal.h"
#include "load/histogram.h"
#include "load/load-report.h"
#include "util/units.h"
#include "util/util.h"

#define RUNS_LIMIT     100UL
#define RUNS_LIMIT_MAX 1000UL

#define TYPE_TEXT "text/plain; charset=utf-8"

struct ApiRuns {
        pthread_mutex_t lock;        /* guards the references, as api.c's snapshots */
        json_t *scenarios;           /* {"scenarios": [...]}; NULL before the first publish */
        json_t *active;              /* the active run's object, or NULL */
        json_t *suites;              /* {"suites": [...]}; NULL before the first publish */
        int64_t active_id;           /* its id, or -1 */
};

int api_runs_new(ApiRuns **ret) {
        ApiRuns *x = calloc(1, sizeof *x);

        if (!x)
                return -ENOMEM;
        pthread_mutex_init(&x->lock, NULL);
        x->active_id = -1;
        *ret = x;
        return 0;
}

ApiRuns *api_runs_free(ApiRuns *x) {
        if (!x)
                return NULL;
        json_decref(x->scenarios);
        json_decref(x->active);
        json_decref(x->suites);
        pthread_mutex_destroy(&x->lock);
        free(x);
        return NULL;
}

int64_t api_runs_active_id(ApiRuns *x) {
        int64_t id;

        pthread_mutex_lock(&x->lock);
        id = x->active_id;
        pthread_mutex_unlock(&x->lock);
        return id;
}

void api_publish_runs(Api *a, json_t *scenarios, json_t *active) {
        ApiRuns *x = a ? api_runs(a) : NULL;
        json_t *list = scenarios ? json_pack("{s:o}", "scenarios", scenarios) : NULL, *old_list, *old_active;
        json_t *id = json_object_get(active, "id");

        if (!x) {
                json_decref(list);
                json_decref(active);
                return;
        }
        /* Issue 8 hangs its reports on a run's extra object: the active one
         * has the member too, empty until the run is stored; and its URL,
         * as a stored one. */
        if (active && !json_object_get(active, "extra"))
                (void) json_object_set_new(active, "extra", json_object());
        if (active && json_is_integer(id) && !json_object_get(active, "url"))
                (void) json_object_set_new(active, "url",
                                           json_sprintf("/v1/runs/%" JSON_INTEGER_FORMAT, json_integer_value(id)));
        pthread_mutex_lock(&x->lock);
        old_list = x->scenarios;
        old_active = x->active;
        if (list)
                x->scenarios = list;
        else
                old_list = NULL;
        x->active = active;
        x->active_id = json_is_integer(id) ? (int64_t) json_integer_value(id) : -1;
        json_decref(old_list);
        json_decref(old_active);
        pthread_mutex_unlock(&x->lock);
}

/* References handed to answers are dropped under the lock, as api.c does,
 * so that no reference count changes on two threads at once. */
static json_t *runs_ref(ApiRuns *x, json_t *const *what) {
        json_t *j;

        pthread_mutex_lock(&x->lock);
        j = json_incref(*what);
        pthread_mutex_unlock(&x->lock);
        return j;
}

static void runs_unref(ApiRuns *x, json_t *j) {
        pthread_mutex_lock(&x->lock);
        json_decref(j);
        pthread_mutex_unlock(&x->lock);
}

void api_publish_suites(Api *a, json_t *suites) {
        ApiRuns *x = a ? api_runs(a) : NULL;
        json_t *list = suites ? json_pack("{s:o}", "suites", suites) : NULL, *old;

        if (!x || !list) {
                json_decref(list);
                return;
        }
        pthread_mutex_lock(&x->lock);
        old = x->suites;
        x->suites = list;
        json_decref(old);
        pthread_mutex_unlock(&x->lock);
}

void api_route_suites(Request *r) {
        ApiRuns *x = api_runs(r->api);
        json_t *j = runs_ref(x, &x->suites);

        if (!j)
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not_ready",
                                "no suite list has been published yet; try again shortly");
        else
                api_reply_render(r, MHD_HTTP_OK, j, api_render_suites_text);
        runs_unref(x, j);
}

void api_route_suite(Request *r) {
        ApiRuns *x = api_runs(r->api);
        json_t *j = runs_ref(x, &x->suites), *one = NULL, *item, *wrap;
        size_t i;

        json_array_foreach(json_object_get(j, "suites"), i, item)
                if (json_is_string(json_object_get(item, "name")) &&
                    strcmp(json_string_value(json_object_get(item, "name")), r->arg) == 0)
                        one = item;
        if (!j)
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not_ready",
                                "no suite list has been published yet; try again shortly");
        else if (!one)
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "suite \"%s\" is not configured", r->arg);
        else {
                /* The text form is the list's, with one row. */
                wrap = r->text ? json_pack("{s:[o]}", "suites", json_deep_copy(one)) : NULL;
                api_reply_render(r, MHD_HTTP_OK, r->text ? wrap : one, api_render_suites_text);
                json_decref(wrap);
        }
        runs_unref(x, j);
}

void api_route_scenarios(Request *r) {
        ApiRuns *x = api_runs(r->api);
        json_t *j = runs_ref(x, &x->scenarios);

        if (!j)
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not_ready",
                                "no scenario list has been published yet; try again shortly");
        else
                api_reply_render(r, MHD_HTTP_OK, j, api_render_scenarios_text);
        runs_unref(x, j);
}

/* ------------------------------------------------ a stored run as a result */

/* A stored run's figures in the shape load-report.c renders; the
 * histograms are borrowed, per_request points into the caller's array. */
static void result_from_run(const StoreRun *run, LoadResult *res, LoadReportInfo *info) {
        *res = (LoadResult) {
                .state = run->state == STORE_RUN_RUNNING ? LOAD_RUN_RUNNING : LOAD_RUN_COMPLETED,
                .started_usec = (uint64_t) run->started_at_ms * USEC_PER_MSEC,
                .elapsed_usec = (uint64_t) run->duration_ms * USEC_PER_MSEC,
                .target_rps = run->target_rps,
                .achieved_rps = run->achieved_rps,
                .total.counts = {
                        .sent = run->requests, .ok = run->ok, .err_connect = run->err_connect,
                        .err_timeout = run->err_timeout, .err_status = run->err_status,
                        .err_other = run->err_other, .dropped = run->dropped, .aborted = run->aborted,
                },
                .reason = run->reason && *run->reason ? (char *) run->reason : NULL,
        };
        *info = (LoadReportInfo) {
                .id = run->id, .scenario = run->scenario,
                .model = !run->model ? LOAD_MODEL_CLOSED : strcmp(run->model, "open") == 0 ? LOAD_MODEL_OPEN
                         : strcmp(run->model, "exec") == 0 ? LOAD_MODEL_EXEC : LOAD_MODEL_CLOSED,
                .state = store_run_state_to_string(run->state), .stored = true,
        };
}

/* Per-request figures from the record's histograms (sorted by request,
 * then kind): one LoadStats per name but the run's own (""). */
static LoadStats *per_request_from_record(const StoreRunRecord *rec, size_t *ret_n) {
        LoadStats *stats = calloc(rec->n_hists ? rec->n_hists : 1, sizeof *stats);
        size_t n = 0;

        if (!stats)
                return NULL;
        for (size_t i = 0; i < rec->n_hists; i++) {
                const StoreRunHistogram *h = &rec->hists[i];

                if (!*h->request || (h->kind != STORE_RUN_HIST_LATENCY && h->kind != STORE_RUN_HIST_SERVICE))
                        continue;
                if (n == 0 || strcmp(stats[n - 1].name, h->request) != 0)
                        stats[n++].name = (char *) h->request;
                if (h->kind == STORE_RUN_HIST_LATENCY)
                        stats[n - 1].latency = h->hist;
                else
                        stats[n - 1].service = h->hist;
        }
        *ret_n = n;
        return stats;
}

/* Adds the members the LoadResult does not carry: the run's extra object
 * and its URL. */
static int add_run_members(json_t *o, const StoreRun *run) {
        json_t *extra = run->extra ? json_loads(run->extra, 0, NULL) : NULL;
        char url[48];

        if (!json_is_object(extra)) {
                json_decref(extra);
                extra = json_object();
        }
        snprintf(url, sizeof url, "/v1/runs/%" PRId64, run->id);
        if (json_object_set_new(o, "extra", extra) < 0 || json_object_set_new(o, "url", json_string(url)) < 0)
                return -ENOMEM;
        return 0;
}

/* ---------------------------------------------------------- GET /v1/runs */

typedef struct RunsWalk {
        Store *store;
        Histogram *latency;          /* reused for each run's p95 */
        json_t *list;
        json_t *active;              /* the published active run, or NULL */
        int64_t active_id;
} RunsWalk;

/* The active run's published object as a summary (no per_request). */
static json_t *active_summary(RunsWalk *w) {
        json_t *o = json_deep_copy(w->active);

        if (o)
                (void) json_object_del(o, "per_request");
        return o;
}

static json_t *stored_summary(RunsWalk *w, const StoreRun *run) {
        LoadReportInfo info;
        LoadResult res;
        json_t *o;

        result_from_run(run, &res, &info);
        /* The run's p95 costs one small blob read; none while it runs. */
        if (store_run_hist(w->store, run->id, "", STORE_RUN_HIST_LATENCY, w->latency) >= 0)
                res.total.latency = w->latency;
        o = load_report_json(&res, &info);
        if (!o)
                return NULL;
        (void) json_object_del(o, "per_request");
        (void) json_object_del(o, "service_ms");
        if (!res.total.latency)
                (void) json_object_set_new(o, "latency_ms", json_null());
        if (add_run_members(o, run) < 0)
                return json_decref(o), NULL;
        return o;
}

static int runs_add(const StoreRun *run, void *u) {
        RunsWalk *w = u;
        json_t *o = run->id == w->active_id && w->active ? active_summary(w) : stored_summary(w, run);

        return json_array_append_new(w->list, o) < 0 ? -ENOMEM : 0;
}

static int runs_query(Request *r, StoreRunFilter *f, size_t *limit) {
        const char *state = api_query(r, "state");
        StoreRunState s;

        *f = (StoreRunFilter) { .scenario = api_query(r, "scenario"), .state = -1 };
        if (f->scenario && !*f->scenario)
                f->scenario = NULL;
        if (state && *state) {
                if (store_run_state_from_string(state, &s) < 0) {
                        api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                                        "state: \"%s\" is not running, completed, aborted, cancelled or failed",
                                        state);
                        return -EINVAL;
                }
                f->state = (int) s;
        }
        if (api_query_span_ms(r, &f->from_ms, &f->to_ms) < 0)
                return -EINVAL;
        return api_query_limit(r, RUNS_LIMIT, RUNS_LIMIT_MAX, limit);
}

void api_route_runs(Request *r) {
        ApiRuns *x = api_runs(r->api);
        RunsWalk w = { .active_id = -1 };
        StoreRunFilter f;
        size_t limit;
        json_t *j;
        int k;

        if (runs_query(r, &f, &limit) < 0)
                return;
        w.store = api_borrow_store(r);
        if (!w.store)
                return;
        pthread_mutex_lock(&x->lock);
        w.active = json_incref(x->active);
        w.active_id = x->active_id;
        pthread_mutex_unlock(&x->lock);
        w.list = json_array();
        k = w.list && hist_new(&w.latency) >= 0 ? store_run_list(w.store, &f, limit, runs_add, &w) : -ENOMEM;
        api_release_store(r, w.store);
        hist_free(w.latency);
        runs_unref(x, w.active);
        if (k < 0) {
                json_decref(w.list);
                api_reply_store_unavailable(r, k);
                return;
        }
        j = json_pack("{s:o,s:b}", "runs", w.list, "more", k == 1);
        api_reply_render(r, MHD_HTTP_OK, j, api_render_runs_text);
        json_decref(j);
}

/* ------------------------------------------------------- GET /v1/runs/ID */

/* Whether a run's stored reason says who stopped it (the daemon writes
 * "cancelled through the API (first error: ...)" and the like) rather than
 * being the engine's first error. */
static bool reason_is_stop(const StoreRun *run) {
        return (run->state == STORE_RUN_CANCELLED || run->state == STORE_RUN_ABORTED) && run->reason &&
               *run->reason;
}

/* The text summary's head: which run, when, and who stopped it
 * (load-report.c's summary names the scenario only, as perfwatchd --run
 * prints it, and would call the reason a first error). */
static void text_run_head(FILE *f, const StoreRun *run) {
        char b1[64], b2[64];

        fprintf(f, "Run %" PRId64 ": started %s, ended %s\n", run->id,
                units_format_iso8601((uint64_t) run->started_at_ms * USEC_PER_MSEC, b1, sizeof b1),
                run->ended_at_ms > 0 ? units_format_iso8601((uint64_t) run->ended_at_ms * USEC_PER_MSEC, b2,
                                                            sizeof b2)
                                     : "-");
        if (reason_is_stop(run))
                fprintf(f, "Stopped: %s\n", run->reason);
}

/* Member `key` of the run's extra object, as compact JSON text (the
 * caller frees it), or NULL when it has none that is an object: "writes"
 * (the lost-write report) and "locust" (a Locust run's figures) become the
 * LoadResult's writes_json and exec_json, so that the run reads as
 * perfwatchd --run shows it. */
static char *extra_member(const StoreRun *run, const char *key) {
        json_t *extra = run->extra ? json_loads(run->extra, 0, NULL) : NULL;
        json_t *m = json_object_get(extra, key);
        char *text = json_is_object(m) ? json_dumps(m, JSON_COMPACT) : NULL;

        json_decref(extra);
        return text;
}

/* acu_scaling's judgement of the run's capacity window, once hung on it
 * (the daemon does when it is final): one line of text. */
static void text_acu_window(FILE *f, const StoreRun *run) {
        json_t *extra = run->extra ? json_loads(run->extra, 0, NULL) : NULL;
        json_t *w = json_object_get(extra, "acu_window");
        const char *state = json_string_value(json_object_get(w, "state"));
        const char *reason = json_string_value(json_object_get(w, "reason"));

        if (state && reason)
                fprintf(f, "Capacity (acu_scaling): %s: %s\n", state, reason);
        json_decref(extra);
}

/* One of the run's profiles: its id, or why it is missing. */
static void text_profile(FILE *f, const json_t *prof, const char *what) {
        json_t *id = json_object_get(prof, what);
        const char *why = json_string_value(json_object_get(json_object_get(prof, "errors"), what));

        if (json_is_integer(id))
                fprintf(f, " %s %" JSON_INTEGER_FORMAT, what, json_integer_value(id));
        else
                fprintf(f, " %s failed (%s)", what, why ?: "unknown");
}

/* A /memory field before and after the run, when both were read. */
static void text_memory_field(FILE *f, const json_t *prof, const char *field) {
        json_t *before = json_object_get(json_object_get(prof, "memory_before"), field);
        json_t *after = json_object_get(json_object_get(prof, "memory_after"), field);

        if (json_is_number(before) && json_is_number(after))
                fprintf(f, " %s %.0f -> %.0f", field, json_number_value(before), json_number_value(after));
}

void api_render_run_profiles_text(const json_t *profiles, FILE *f) {
        const json_t *prof = profiles;
        const char *target = json_string_value(json_object_get(prof, "target"));
        const json_t *before = json_object_get(prof, "heap_before"), *after = json_object_get(prof, "heap_after");

        if (!target)
                return;
        fprintf(f, "Profiles of %s:", target);
        text_profile(f, prof, "heap_before");
        text_profile(f, prof, "cpu");
        text_profile(f, prof, "heap_after");
        fprintf(f, "\nMemory of %s:", target);
        text_memory_field(f, prof, "Sys");
        text_memory_field(f, prof, "HeapAlloc");
        fprintf(f, "\n");
        if (json_is_integer(before) && json_is_integer(after))
                fprintf(f, "Heap diff: go tool pprof -top -diff_base /v1/profiles/%" JSON_INTEGER_FORMAT
                        " /v1/profiles/%" JSON_INTEGER_FORMAT "\n", json_integer_value(before),
                        json_integer_value(after));
}

/* The profiles tied to the run (`target =`), once taken. */
static void text_profiles(FILE *f, const StoreRun *run) {
        json_t *extra = run->extra ? json_loads(run->extra, 0, NULL) : NULL;

        api_render_run_profiles_text(json_object_get(extra, "profiles"), f);
        json_decref(extra);
}

/* The run as load-report.c writes it, JSON (with extra and url) or text. */
static void reply_record(Request *r, const StoreRunRecord *rec) {
        LoadReportInfo info;
        LoadResult res;
        char *buf = NULL;
        size_t len = 0;
        bool written;
        json_t *o;
        FILE *f;

        result_from_run(&rec->run, &res, &info);
        res.total.latency = (Histogram *) store_run_record_hist(rec, "", STORE_RUN_HIST_LATENCY);
        res.total.service = (Histogram *) store_run_record_hist(rec, "", STORE_RUN_HIST_SERVICE);
        res.lateness = (Histogram *) store_run_record_hist(rec, "", STORE_RUN_HIST_LATENESS);
        res.per_request = per_request_from_record(rec, &res.n_per_request);
        res.writes_json = extra_member(&rec->run, "writes");
        if (info.model == LOAD_MODEL_EXEC)
                res.exec_json = extra_member(&rec->run, "locust");
        if (!res.per_request) {
                free(res.writes_json);
                free(res.exec_json);
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out_of_memory", "out of memory");
                return;
        }
        if (r->text) {
                f = open_memstream(&buf, &len);
                if (f)
                        text_run_head(f, &rec->run);
                if (reason_is_stop(&rec->run))
                        res.reason = NULL;
                written = f && load_report_text(&res, &info, f) >= 0;
                if (written) {
                        text_acu_window(f, &rec->run);
                        text_profiles(f, &rec->run);
                }
                /* NB: fclose() once, whatever it says: a second one on a
                 * failed close would free the stream twice. */
                if (f && ferror(f))
                        written = false;
                if (f && fclose(f) != 0)
                        written = false;
                if (written)
                        api_reply_take(r, MHD_HTTP_OK, TYPE_TEXT, buf, len);
                else {
                        free(buf);
                        api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out_of_memory", "out of memory");
                }
        } else {
                o = load_report_json(&res, &info);
                if (o && add_run_members(o, &rec->run) < 0)
                        o = (json_decref(o), NULL);
                api_reply_render(r, MHD_HTTP_OK, o, NULL);
                json_decref(o);
        }
        free(res.writes_json);
        free(res.per_request);
        free(res.exec_json);
}

/* The active run in text: one line of its figures so far (its histograms
 * live in the engine; the daemon publishes its object only). */
static int render_active_text(const json_t *j, FILE *f) {
        const json_t *lat = json_object_get(j, "latency_ms");

        fprintf(f, "Run %" JSON_INTEGER_FORMAT " %s (%s model): running for %.1fs\n",
                json_integer_value(json_object_get(j, "id")),
                json_string_value(json_object_get(j, "scenario")) ?: "?",
                json_string_value(json_object_get(j, "model")) ?: "?",
                json_number_value(json_object_get(j, "duration_s")));
        fprintf(f, "  so far: %" JSON_INTEGER_FORMAT " requests, %" JSON_INTEGER_FORMAT " ok, %"
                JSON_INTEGER_FORMAT " dropped; latency p50 %.2f ms, p95 %.2f ms, p99 %.2f ms\n",
                json_integer_value(json_object_get(j, "requests")), json_integer_value(json_object_get(j, "ok")),
                json_integer_value(json_object_get(j, "dropped")),
                json_number_value(json_object_get(lat, "p50")), json_number_value(json_object_get(lat, "p95")),
                json_number_value(json_object_get(lat, "p99")));
        return ferror(f) ? -EIO : 0;
}

/* Answers the active run when it is `id`: true. */
static bool reply_active(Request *r, int64_t id) {
        ApiRuns *x = api_runs(r->api);
        json_t *j = NULL;

        pthread_mutex_lock(&x->lock);
        if (x->active_id == id)
                j = json_incref(x->active);
        pthread_mutex_unlock(&x->lock);
        if (!j)
                return false;
        api_reply_render(r, MHD_HTTP_OK, j, render_active_text);
        runs_unref(x, j);
        return true;
}

void api_route_run(Request *r) {
        size_t n = strlen(r->arg);
        StoreRunRecord *rec = NULL;
        char *error = NULL;
        int64_t id;
        Store *s;
        int k;

        if (n == 0 || strspn(r->arg, "0123456789") != n) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "run id: \"%s\" is not a number",
                                r->arg);
                return;
        }
        /* Past 18 digits a number may not fit an int64_t: no id is that large. */
        if (n > 18) {
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "run %s is not known", r->arg);
                return;
        }
        id = (int64_t) strtoll(r->arg, NULL, 10);
        if (reply_active(r, id))
                return;
        s = api_borrow_store(r);
        if (!s)
                return;
        k = store_run_get(s, id, &rec, &error);
        api_release_store(r, s);
        if (k == -ENOENT)
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "run %" PRId64 " is not known", id);
        else if (k == -EBADMSG)
                api_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "bad_record", "%s",
                                error ? error : "a stored histogram is not valid");
        else if (k < 0)
                api_reply_store_unavailable(r, k);
        else
                reply_record(r, rec);
        free(error);
        store_run_record_free(rec);
}
