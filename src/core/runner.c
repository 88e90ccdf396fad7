/* The daemon's scenario runs (core/runner.h).  Each configured scenario
 * has an Entry (its schedule timer, its skip count, its last run); at most
 * one Active run exists.  The run's thread touches only what it was given
 * (its Active, read-only but for store_submit() and one write into the
 * eventfd); everything else happens here, on the loop thread. */
#include "core/runner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/run-profiles.h"
#include "core/run-record.h"
#include "load/load-engine.h"
#include "load/load-report.h"
#include "util/log.h"
#include "util/units.h"
#include "util/util.h"

/* How long STATUS= keeps saying that a run failed or could not be recorded. */
#define FAILURE_SHOWN_USEC (10 * USEC_PER_MIN)
/* A CLOCK_REALTIME timer may fire this much late: cron works in minutes. */
#define SCHEDULE_ACCURACY_USEC (100 * USEC_PER_MSEC)
/* At runner_stop(), beyond the scenario's timeout, how long to wait for the
 * run's thread before giving up on recording its end; and the longest wait
 * in all, well inside the unit's TimeoutStopSec=30s (a scenario's timeout
 * may be up to 5 minutes). */
#define STOP_GRACE_USEC (2 * USEC_PER_SEC)
#define STOP_WAIT_MAX_USEC (15 * USEC_PER_SEC)

typedef struct Entry {
        Runner *runner;
        char *name;
        sd_event_source *timer;      /* NULL: not scheduled (no schedule, or enabled = no) */
        CronExpr cron;
        time_t due;                  /* when the timer fires */
        uint64_t skipped;            /* firings skipped because a run was active */
        json_t *last;                /* the last run's {id, state, ...}; NULL: none */
} Entry;

typedef struct Active {
        Runner *runner;
        LoadRun *run;
        int64_t id;
        char *scenario;
        LoadModel model;
        uint64_t timeout_usec;
        LoadResult *last;            /* the latest snapshot (loop thread) */
        RunProfiles *profiles;       /* `target =`: its profiles (owned by Runner.profiles); NULL: none */
        sd_event_source *tick;       /* every second: the run's row and the published figures */
        bool update_failing;
        bool stopping;               /* runner_stop(): a cancelled run ends aborted */
} Active;

struct Runner {
        sd_event *event;
        Store *store;
        CurlGlue *glue;              /* NULL: no profiles are taken */
        RunProfiles *profiles;       /* the runs' profiles still being taken */
        RunnerChangedFn changed;
        void *userdata;
        RunnerEndedFn ended;         /* NULL: nobody is told */
        void *ended_userdata;
        char *holder;                /* runner_hold(): the suite holding the runner; NULL: none */
        const Config *config;
        Entry *entries;
        size_t n_entries;
        Active *active;
        int done_fd;                 /* the run's on_done writes it; the loop watches it */
        sd_event_source *done_source;
        bool stopped;
        bool abandoned;              /* runner_stop() gave up waiting for a run's thread */
        char failure[320];           /* the last failure, for STATUS=; "" none */
        uint64_t failure_usec;       /* CLOCK_MONOTONIC when it happened */
        char status[400];
};

static void notify_changed(Runner *r) {
        if (r->changed)
                r->changed(r, r->userdata);
}

/* Remembers a failure for STATUS= and logs it. */
static void set_failure(Runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_failure(Runner *r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(r->failure, sizeof r->failure, fmt, ap);
        va_end(ap);
        r->failure_usec = now_monotonic_usec();
        log_error("%s", r->failure);
}

/* ---------------------------------------------------------------- the run's thread */

static void submit(Store *s, const char *scenario, const char *field, int64_t ts_ms, double value) {
        char name[256];

        snprintf(name, sizeof name, "load.%s.%s", scenario, field);
        (void) store_submit(s, name, ts_ms, value);
}

/* On the run's thread: the second's figures as series, through the
 * store's thread-safe inbox (a full inbox counts them as dropped). */
static void on_second(const LoadSecond *sec, void *userdata) {
        Active *a = userdata;
        Store *s = a->runner->store;
        const LoadCounts *c = &sec->counts;
        int64_t ts = (int64_t) (sec->at_usec / USEC_PER_MSEC);

        submit(s, a->scenario, "rps", ts, sec->achieved_rps);
        submit(s, a->scenario, "target_rps", ts, sec->target_rps);
        submit(s, a->scenario, "ok", ts, (double) c->ok);
        submit(s, a->scenario, "errors_connect", ts, (double) c->err_connect);
        submit(s, a->scenario, "errors_timeout", ts, (double) c->err_timeout);
        submit(s, a->scenario, "errors_status", ts, (double) c->err_status);
        submit(s, a->scenario, "errors_other", ts, (double) c->err_other);
        submit(s, a->scenario, "in_flight", ts, sec->in_flight);
        submit(s, a->scenario, "dropped", ts, (double) c->dropped);
        /* A second without an answer has no latency, rather than 0 ms. */
        if (c->ok + c->err_status == 0)
                return;
        submit(s, a->scenario, "p50_ms", ts, (double) sec->p50_usec / USEC_PER_MSEC);
        submit(s, a->scenario, "p95_ms", ts, (double) sec->p95_usec / USEC_PER_MSEC);
        submit(s, a->scenario, "p99_ms", ts, (double) sec->p99_usec / USEC_PER_MSEC);
}

/* On the run's thread: only wakes the loop, which finishes the run. */
static void on_done(LoadRun *run, void *userdata) {
        Active *a = userdata;
        uint64_t one = 1;

        (void) run;
        (void) !write(a->runner->done_fd, &one, sizeof one);
}

/* ---------------------------------------------------------------- the active run */

static Active *active_free(Active *a) {
        if (!a)
                return NULL;
        sd_event_source_disable_unref(a->tick);
        load_run_free(a->run);
        load_result_free(a->last);
        run_profiles_discard(a->profiles);
        free(a->scenario);
        free(a);
        return NULL;
}

static Entry *find_entry(Runner *r, const char *name) {
        for (size_t i = 0; i < r->n_entries; i++)
                if (strcmp(r->entries[i].name, name) == 0)
                        return &r->entries[i];
        return NULL;
}

/* {id, state, started_at, ended_at, latency_ms: {p95}} of a run. */
static json_t *last_run_json(int64_t id, const char *state, int64_t started_ms, int64_t ended_ms, double p95_ms,
                             bool has_p95) {
        char b1[64], b2[64];

        return json_pack("{sI ss ss so s{so}}", "id", (json_int_t) id, "state", state, "started_at",
                         units_format_iso8601((uint64_t) started_ms * USEC_PER_MSEC, b1, sizeof b1), "ended_at",
                         ended_ms > 0 ? json_string(units_format_iso8601((uint64_t) ended_ms * USEC_PER_MSEC, b2,
                                                                         sizeof b2))
                                      : json_null(),
                         "latency_ms", "p95", has_p95 ? json_real(p95_ms) : json_null());
}

static void remember_last(Runner *r, const char *scenario, json_t *last) {
        Entry *e = find_entry(r, scenario);

        if (!e) {
                json_decref(last);
                return;
        }
        json_decref(e->last);
        e->last = last;
}

/* The state and reason (into buf) recorded for a run now over: a
 * cancelled run says who stopped it, then the engine's first error. */
static void final_state(const Active *a, const LoadResult *res, StoreRun *run, char *buf, size_t n) {
        const char *why;

        if (res->state != LOAD_RUN_CANCELLED)
                return;
        if (a->stopping) {
                run->state = STORE_RUN_ABORTED;
                why = "aborted: perfwatchd was stopped during the run";
        } else
                why = "cancelled through the API";
        if (res->reason)
                snprintf(buf, n, "%s (first error: %s)", why, res->reason);
        else
                snprintf(buf, n, "%s", why);
        run->reason = buf;
}

/* Records the end of the active run, which is over, and forgets it. */
static void finish_active(Runner *r) {
        Active *a = r->active;
        LoadResult *res = NULL;
        StoreRunState state = STORE_RUN_FAILED;
        char reason[512], *scenario;
        int64_t id = a->id;
        StoreRun run;
        int k;

        k = load_run_snapshot(a->run, &res);
        if (k < 0) {
                set_failure(r, "run %" PRId64 " %s: cannot take its final figures: %s; it stays running in the "
                            "store until the next start marks it aborted", a->id, a->scenario, strerror(-k));
                goto done;
        }
        run = run_record_summary(a->scenario, config_model_to_string(a->model), res);
        final_state(a, res, &run, reason, sizeof reason);
        state = run.state;
        k = run_record_store_finish(r->store, a->id, &run, res);
        if (k < 0)
                set_failure(r, "run %" PRId64 " %s: cannot record its end (%s): %s", a->id, a->scenario,
                            store_run_state_to_string(run.state),
                            k == -ENOENT ? "its row is no longer in the store as running" : strerror(-k));
        else if (run.state == STORE_RUN_FAILED)
                set_failure(r, "run %" PRId64 " %s failed: %s", a->id, a->scenario, res->reason ?: "unknown");
        log_info("run %" PRId64 " %s %s: %" PRIu64 " requests, %" PRIu64 " ok, p95 %.2f ms", a->id, a->scenario,
                 store_run_state_to_string(run.state), res->total.counts.sent, res->total.counts.ok,
                 load_report_ms(res->total.latency, 95));
        remember_last(r, a->scenario,
                      last_run_json(a->id, store_run_state_to_string(run.state), run.started_at_ms, run.ended_at_ms,
                                    load_report_ms(res->total.latency, 95), hist_count(res->total.latency) > 0));
done:
        /* From here on the profiles finish on their own. */
        run_profiles_run_over(a->profiles);
        a->profiles = NULL;
        load_result_free(res);
        /* The scenario's name outlives the Active for the one told. */
        scenario = a->scenario;
        a->scenario = NULL;
        r->active = active_free(a);
        if (r->ended && scenario)
                r->ended(r, id, scenario, state, r->ended_userdata);
        free(scenario);
}

static int on_done_fd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Runner *r = userdata;
        uint64_t v;

        (void) s;
        (void) revents;
        (void) !read(fd, &v, sizeof v);
        /* NB: the eventfd may be left over from a run runner_stop() finished. */
        if (!r->active || !load_run_done(r->active->run))
                return 0;
        finish_active(r);
        notify_changed(r);
        return 0;
}

/* Every second of a run: its row in the store and the published figures. */
static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Active *a = userdata;
        Runner *r = a->runner;
        LoadResult *res = NULL;
        StoreRun run;
        int k;

        k = load_run_snapshot(a->run, &res);
        if (k >= 0) {
                load_result_free(a->last);
                a->last = res;
                run = run_record_summary(a->scenario, config_model_to_string(a->model), res);
                k = store_run_update(r->store, a->id, &run);
        }
        if (k < 0 && !a->update_failing)
                set_failure(r, "run %" PRId64 " %s: cannot record its figures so far: %s", a->id, a->scenario,
                            strerror(-k));
        else if (k >= 0 && a->update_failing)
                log_info("run %" PRId64 " %s: recording its figures again", a->id, a->scenario);
        a->update_failing = k < 0;
        notify_changed(r);
        (void) sd_event_source_set_time_relative(s, USEC_PER_SEC);
        return 0;
}

/* The run's extra object at its start: what started it and, for a run of
 * a suite, {"suite": {name, started_at, position, of}}.  NULL: no memory. */
static char *start_extra(RunTrigger trigger, const RunnerSuiteRun *suite) {
        json_t *j = json_pack("{ss}", "trigger", trigger == RUN_TRIGGER_SCHEDULE ? "schedule" : "api");
        char buf[64], *text;

        if (j && suite)
                (void) json_object_set_new(j, "suite", json_pack("{ss ss sI sI}", "name", suite->name,
                                                                 "started_at",
                                                                 units_format_iso8601(suite->started_usec, buf,
                                                                                      sizeof buf),
                                                                 "position", (json_int_t) suite->position,
                                                                 "of", (json_int_t) suite->of));
        text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        return text;
}

/* The run's row, state running, with what started it in its extra object. */
static int begin_row(Runner *r, const ScenarioConfig *sc, RunTrigger trigger, const RunnerSuiteRun *suite,
                     int64_t *ret_id, char **ret_error) {
        char *extra = start_extra(trigger, suite);
        StoreRun run = { .scenario = sc->name, .model = config_model_to_string(sc->model),
                         .started_at_ms = (int64_t) (now_realtime_usec() / USEC_PER_MSEC),
                         .target_rps = sc->model == LOAD_MODEL_OPEN ? sc->rate_rps : 0, .extra = extra };
        int k = extra ? store_run_begin(r->store, &run, ret_id) : -ENOMEM;

        free(extra);
        if (k < 0)
                return set_error(ret_error, k, "[scenario %s]: the store cannot record a new run: %s", sc->name,
                                 strerror(-k));
        return 0;
}

/* The run was begun in the store but the engine refused it: it ends failed. */
static void fail_row(Runner *r, int64_t id, const ScenarioConfig *sc, const char *why) {
        LoadResult none = { .state = LOAD_RUN_FAILED, .started_usec = now_realtime_usec(), .reason = (char *) why };
        StoreRun run = run_record_summary(sc->name, config_model_to_string(sc->model), &none);
        int k = store_run_finish(r->store, id, &run, NULL, 0);

        if (k < 0)
                log_error("run %" PRId64 " %s: cannot record that it failed: %s", id, sc->name, strerror(-k));
}

static int start_engine(Runner *r, const ScenarioConfig *sc, Active *a, char **ret_error) {
        LoadCallbacks cb = { .on_second = on_second, .on_done = on_done, .userdata = a };
        LoadRequest *reqs = NULL;
        char *error = NULL;
        LoadScenario ls;
        int k;

        k = config_scenario_to_load(sc, 0, &ls, &reqs);
        if (k >= 0)
                k = load_run_start(&ls, &cb, &a->run, &error);
        free(reqs);
        if (k < 0) {
                set_error(ret_error, k, "[scenario %s]: cannot start the run: %s", sc->name, error ?: strerror(-k));
                fail_row(r, a->id, sc, *ret_error);
        }
        free(error);
        return k;
}

static int start_tick(Runner *r, Active *a) {
        int k = sd_event_add_time_relative(r->event, &a->tick, CLOCK_MONOTONIC, USEC_PER_SEC, 0, on_tick, a);

        if (k >= 0)
                k = sd_event_source_set_enabled(a->tick, SD_EVENT_ON);
        if (k >= 0)
                (void) sd_event_source_set_description(a->tick, "run-tick");
        return k;
}

/* `target = NAME`: its heap profile and memory figures before the run,
 * taken before the run's row says it started.  A failure to set them up
 * is logged and the run goes on without. */
static void begin_profiles(Runner *r, const ScenarioConfig *sc, Active *a) {
        const TargetConfig *t = NULL;
        int k;

        if (!sc->target || !r->glue)
                return;
        for (size_t i = 0; i < r->config->n_targets && !t; i++)
                if (strcmp(r->config->targets[i].name, sc->target) == 0)
                        t = &r->config->targets[i];
        if (!t) {
                log_error("[scenario %s]: no [target %s]: the run has no profiles", sc->name, sc->target);
                return;
        }
        k = run_profiles_begin(r->event, r->glue, r->store, sc, t, &r->profiles, &a->profiles);
        if (k < 0)
                log_error("[scenario %s]: cannot take the profiles of [target %s]: %s", sc->name, t->name,
                          strerror(-k));
}

static const char *trigger_name(RunTrigger t) {
        return t == RUN_TRIGGER_SCHEDULE ? "its schedule" : "the API";
}

static int start_run(Runner *r, const char *name, RunTrigger trigger, const RunnerSuiteRun *suite,
                     int64_t *ret_id, char **ret_error) {
        const ScenarioConfig *sc = config_find_scenario(r->config, name);
        char *error = NULL;
        Active *a;
        int k;

        if (ret_error)
                *ret_error = NULL;
        if (!sc)
                return -ENOENT;
        if (r->active || (r->holder && !suite)) {
                if (ret_id)
                        *ret_id = r->active ? r->active->id : -1;
                return -EBUSY;
        }
        if (r->stopped)
                return set_error(ret_error, -ESHUTDOWN, "perfwatchd is stopping: no new run starts");
        a = calloc(1, sizeof *a);
        if (a)
                *a = (Active) { .runner = r, .id = -1, .scenario = strdup(sc->name), .model = sc->model,
                                .timeout_usec = sc->timeout_usec };
        if (!a || !a->scenario) {
                active_free(a);
                return set_error(ret_error, -ENOMEM, "[scenario %s]: out of memory", name);
        }
        begin_profiles(r, sc, a);
        k = begin_row(r, sc, trigger, suite, &a->id, &error);
        run_profiles_set_run(a->profiles, a->id);
        if (k >= 0)
                k = start_engine(r, sc, a, &error);
        if (k < 0) {
                set_failure(r, "run of %s not started: %s", name, error);
                active_free(a);
        } else {
                r->active = a;
                log_info("run %" PRId64 " %s started by %s", a->id, name, trigger_name(trigger));
                /* Without its tick the run still ends through on_done. */
                if (start_tick(r, a) < 0)
                        log_warning("run %" PRId64 " %s: its figures so far cannot be followed", a->id, name);
        }
        if (k >= 0 && ret_id)
                *ret_id = a->id;
        if (ret_error)
                *ret_error = error;
        else
                free(error);
        notify_changed(r);
        return k;
}

int runner_start(Runner *r, const char *name, RunTrigger trigger, int64_t *ret_id, char **ret_error) {
        return start_run(r, name, trigger, NULL, ret_id, ret_error);
}

int runner_start_suite_run(Runner *r, const char *name, RunTrigger trigger, const RunnerSuiteRun *suite,
                           int64_t *ret_id, char **ret_error) {
        return start_run(r, name, trigger, suite, ret_id, ret_error);
}

void runner_hold(Runner *r, const char *holder) {
        free(r->holder);
        r->holder = holder ? strdup(holder) : NULL;
        if (holder && !r->holder)
                log_warning("out of memory: scenario schedules are not held back during suite %s", holder);
}

const char *runner_holder(const Runner *r) {
        return r->holder;
}

void runner_set_ended(Runner *r, RunnerEndedFn fn, void *userdata) {
        r->ended = fn;
        r->ended_userdata = userdata;
}

int runner_cancel(Runner *r, int64_t id) {
        if (!r->active || r->active->id != id)
                return -ENOENT;
        log_info("run %" PRId64 " %s: cancelled through the API", id, r->active->scenario);
        load_run_cancel(r->active->run);
        return 0;
}

void runner_stop(Runner *r) {
        uint64_t deadline, wait;
        Active *a;

        if (!r || r->stopped)
                return;
        r->stopped = true;
        for (size_t i = 0; i < r->n_entries; i++)
                r->entries[i].timer = sd_event_source_disable_unref(r->entries[i].timer);
        a = r->active;
        if (!a)
                return;
        a->stopping = true;
        log_info("run %" PRId64 " %s: stopping it (requests in flight get up to %" PRIu64 " ms)", a->id,
                 a->scenario, (uint64_t) (a->timeout_usec / USEC_PER_MSEC));
        load_run_cancel(a->run);
        wait = a->timeout_usec + STOP_GRACE_USEC;
        deadline = now_monotonic_usec() + (wait < STOP_WAIT_MAX_USEC ? wait : STOP_WAIT_MAX_USEC);
        while (!load_run_done(a->run) && now_monotonic_usec() < deadline)
                (void) usleep(10 * 1000);
        if (!load_run_done(a->run)) {
                set_failure(r, "run %" PRId64 " %s: did not stop in time; the next start marks it aborted", a->id,
                            a->scenario);
                /* NB: joining its thread would block past systemd's stop
                 * timeout, so the process exits with it still running: its
                 * Active and the eventfd it writes into stay allocated. */
                r->abandoned = true;
                r->active = NULL;
                return;
        }
        finish_active(r);
}

void runner_set_glue(Runner *r, CurlGlue *glue) {
        r->glue = glue;
}

int64_t runner_active_id(const Runner *r) {
        return r && r->active ? r->active->id : -1;
}

json_t *runner_active_json(Runner *r) {
        Active *a = r->active;
        LoadReportInfo info;
        json_t *j;

        if (!a)
                return NULL;
        info = (LoadReportInfo) { .id = a->id, .scenario = a->scenario, .model = a->model, .state = "running" };
        if (!a->last && load_run_snapshot(a->run, &a->last) < 0)
                return NULL;
        j = load_report_json(a->last, &info);
        /* The snapshot may hold the engine's final state before the loop
         * has recorded it: until then the run is running. */
        if (j)
                (void) json_object_set_new(j, "state", json_string("running"));
        return j;
}

/* ---------------------------------------------------------------- schedules */

static int on_schedule(sd_event_source *s, uint64_t usec, void *userdata);

/* Arms the entry's timer for `due`. */
static int arm_at(Entry *e, time_t due) {
        Runner *r = e->runner;
        int k;

        e->due = due;
        if (!e->timer) {
                k = sd_event_add_time(r->event, &e->timer, CLOCK_REALTIME, (uint64_t) due * USEC_PER_SEC,
                                      SCHEDULE_ACCURACY_USEC, on_schedule, e);
                if (k >= 0)
                        (void) sd_event_source_set_description(e->timer, "schedule");
        } else {
                k = sd_event_source_set_time(e->timer, (uint64_t) due * USEC_PER_SEC);
                if (k >= 0)
                        k = sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT);
        }
        if (k < 0)
                return log_error_errno(k, "[scenario %s]: cannot arm its schedule timer: %s", e->name, strerror(-k));
        return 0;
}

static int arm_entry(Entry *e, time_t after) {
        time_t due;

        if (cron_next(&e->cron, after, &due) < 0) {
                log_warning("[scenario %s] schedule: never fires within 30 years: not scheduled", e->name);
                return 0;
        }
        return arm_at(e, due);
}

static void skip_firing(Runner *r, Entry *e) {
        e->skipped++;
        if (r->active)
                log_notice("[scenario %s] schedule: skipped: run %" PRId64 " of %s is still active (%" PRIu64
                           " skipped so far)", e->name, r->active->id, r->active->scenario, e->skipped);
        else
                log_notice("[scenario %s] schedule: skipped: suite %s is active (%" PRIu64 " skipped so far)",
                           e->name, r->holder ?: "?", e->skipped);
}

static int on_schedule(sd_event_source *s, uint64_t usec, void *userdata) {
        Entry *e = userdata;
        Runner *r = e->runner;
        CronAction action;
        char *error = NULL;
        time_t next;
        int k;

        (void) s;
        (void) usec;
        k = cron_tick(&e->cron, e->due, time(NULL), r->active != NULL || r->holder != NULL, &action, &next);
        if (k < 0) {
                log_warning("[scenario %s] schedule: never fires again: not scheduled", e->name);
                e->timer = sd_event_source_disable_unref(e->timer);
                return 0;
        }
        if (action == CRON_ACTION_SKIP_ACTIVE) {
                skip_firing(r, e);
                notify_changed(r);
        } else if (runner_start(r, e->name, RUN_TRIGGER_SCHEDULE, NULL, &error) == -EBUSY)
                skip_firing(r, e);
        free(error);
        (void) arm_at(e, next);
        return 0;
}

/* The last run of `scenario` in the store, for GET /v1/scenarios. */
static int read_last(const StoreRun *run, void *u) {
        json_t **ret = u;

        *ret = last_run_json(run->id, store_run_state_to_string(run->state), run->started_at_ms, run->ended_at_ms,
                             0, false);
        return 0;
}

static json_t *load_last(Runner *r, const char *scenario) {
        StoreRunFilter f = { .scenario = scenario, .state = -1, .from_ms = INT64_MIN, .to_ms = INT64_MAX };
        json_t *last = NULL;
        Histogram *h = NULL;
        json_int_t id;

        if (store_run_list(r->store, &f, 1, read_last, &last) < 0 || !last)
                return last;
        id = json_integer_value(json_object_get(last, "id"));
        if (hist_new(&h) >= 0 && store_run_hist(r->store, id, "", STORE_RUN_HIST_LATENCY, h) >= 0 && hist_count(h))
                (void) json_object_set_new(json_object_get(last, "latency_ms"), "p95",
                                           json_real(load_report_ms(h, 95)));
        hist_free(h);
        return last;
}

static void entries_free(Entry *entries, size_t n) {
        for (size_t i = 0; i < n; i++) {
                sd_event_source_disable_unref(entries[i].timer);
                json_decref(entries[i].last);
                free(entries[i].name);
        }
        free(entries);
}

/* The entry of `sc`, carrying over what `old` (may be NULL) knew. */
static int entry_init(Runner *r, Entry *e, const ScenarioConfig *sc, Entry *old) {
        *e = (Entry) { .runner = r, .name = strdup(sc->name), .cron = sc->cron };
        if (!e->name)
                return -ENOMEM;
        if (old) {
                e->skipped = old->skipped;
                e->last = json_incref(old->last);
        } else
                e->last = load_last(r, sc->name);
        if (!sc->schedule || !sc->enabled || r->stopped)
                return 0;
        return arm_entry(e, time(NULL));
}

int runner_set_config(Runner *r, const Config *config) {
        Entry *entries = calloc(config->n_scenarios ?: 1, sizeof *entries);
        int k = 0;

        if (!entries)
                return -ENOMEM;
        for (size_t i = 0; k >= 0 && i < config->n_scenarios; i++)
                k = entry_init(r, &entries[i], &config->scenarios[i], find_entry(r, config->scenarios[i].name));
        if (k < 0) {
                entries_free(entries, config->n_scenarios);
                return k;
        }
        entries_free(r->entries, r->n_entries);
        r->entries = entries;
        r->n_entries = config->n_scenarios;
        r->config = config;
        notify_changed(r);
        return 0;
}

static json_t *iso_or_null(const Entry *e) {
        char buf[64];

        if (!e || !e->timer)
                return json_null();
        return json_string(units_format_iso8601((uint64_t) e->due * USEC_PER_SEC, buf, sizeof buf));
}

static double scenario_seconds(const ScenarioConfig *sc) {
        if (sc->duration_usec > 0 || !sc->stages)
                return (double) sc->duration_usec / USEC_PER_SEC;
        return (double) stages_duration(sc->stages) / USEC_PER_SEC;
}

static json_t *scenario_json(Runner *r, const ScenarioConfig *sc) {
        const Entry *e = find_entry(r, sc->name);
        bool active = r->active && strcmp(r->active->scenario, sc->name) == 0;

        return json_pack("{ss ss sb so so s:s? sf so so sI}", "name", sc->name, "model",
                         config_model_to_string(sc->model), "enabled", sc->enabled, "schedule",
                         sc->schedule ? json_string(sc->schedule) : json_null(), "next_run_at", iso_or_null(e),
                         "base_url", sc->base_url, "duration_s", scenario_seconds(sc), "active_run",
                         active ? json_integer(r->active->id) : json_null(), "last_run",
                         e && e->last ? json_incref(e->last) : json_null(), "runs_skipped",
                         (json_int_t) (e ? e->skipped : 0));
}

json_t *runner_scenarios_json(Runner *r) {
        json_t *list = json_array();

        for (size_t i = 0; list && r->config && i < r->config->n_scenarios; i++)
                if (json_array_append_new(list, scenario_json(r, &r->config->scenarios[i])) < 0) {
                        json_decref(list);
                        return NULL;
                }
        return list;
}

const char *runner_status(Runner *r) {
        Active *a = r->active;

        r->status[0] = '\0';
        if (a)
                snprintf(r->status, sizeof r->status, "run %" PRId64 " %s %" PRIu64 "s", a->id, a->scenario,
                         (uint64_t) (a->last ? a->last->elapsed_usec / USEC_PER_SEC : 0));
        else if (r->failure[0] && now_monotonic_usec() - r->failure_usec < FAILURE_SHOWN_USEC)
                snprintf(r->status, sizeof r->status, "%s", r->failure);
        return r->status;
}

/* ---------------------------------------------------------------- life */

int runner_new(sd_event *event, Store *store, RunnerChangedFn changed, void *userdata, Runner **ret) {
        Runner *r = calloc(1, sizeof *r);
        int k;

        if (!r)
                return -ENOMEM;
        *r = (Runner) { .event = sd_event_ref(event), .store = store, .changed = changed, .userdata = userdata,
                        .done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        if (r->done_fd < 0) {
                k = -errno;
                runner_free(r);
                return k;
        }
        k = sd_event_add_io(event, &r->done_source, r->done_fd, EPOLLIN, on_done_fd, r);
        if (k < 0) {
                runner_free(r);
                return k;
        }
        (void) sd_event_source_set_description(r->done_source, "run-done");
        *ret = r;
        return 0;
}

Runner *runner_free(Runner *r) {
        if (!r)
                return NULL;
        runner_stop(r);
        r->active = active_free(r->active);
        entries_free(r->entries, r->n_entries);
        run_profiles_free_all(&r->profiles);
        free(r->holder);
        sd_event_source_disable_unref(r->done_source);
        if (r->done_fd >= 0 && !r->abandoned)
                close(r->done_fd);
        sd_event_unref(r->event);
        free(r);
        return NULL;
}
