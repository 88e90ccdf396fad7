/* The daemon's suites (core/suites.h).  Each configured suite has an Entry
 * (its schedule timer and skip count); the latest run of each suite is a
 * SuiteRun kept by name, apart from the entries, so that a reload does not
 * touch it; at most one SuiteRun is active.  Its pre-flight checks run on
 * a PreflightJob's thread (core/preflight-thread.h); everything else
 * happens here, on the loop thread. */
#include "core/suites.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/preflight-thread.h"
#include "core/suite-verdict.h"
#include "util/log.h"
#include "util/units.h"
#include "util/util.h"

/* How long STATUS= keeps saying that a suite failed. */
#define FAILURE_SHOWN_USEC (10 * USEC_PER_MIN)
/* A CLOCK_REALTIME timer may fire this much late: cron works in minutes. */
#define SCHEDULE_ACCURACY_USEC (100 * USEC_PER_MSEC)
/* At suites_stop(), how long to wait for a pre-flight thread to end its
 * current check (each is bounded by its own timeout, 5 s at most). */
#define PREFLIGHT_STOP_WAIT_USEC (6 * USEC_PER_SEC)

typedef enum SuiteState {
        SUITE_PREFLIGHT,             /* its checks are being made */
        SUITE_RUNNING,
        SUITE_COMPLETED,
        SUITE_FAILED,
        SUITE_ABORTED,
        SUITE_CANCELLED,
} SuiteState;

/* One run of a suite. */
typedef struct SuiteRun {
        char *name;
        SuiteState state;
        RunTrigger trigger;
        uint64_t started_usec, ended_usec;   /* CLOCK_REALTIME; ended 0: not yet */
        char **scenarios;                    /* copied at the start: one block */
        size_t n;
        int64_t *ids;                        /* each scenario's run, -1: not started */
        StoreRunState *states;               /* each run's state (running until it ends) */
        size_t next;                         /* the scenario running, or the next to start */
        bool preflight;                      /* checks were asked for */
        PreflightCheck *checks;              /* their outcomes, once made */
        size_t n_checks, made;
        char reason[512];                    /* failed, aborted or cancelled: why; "" none */
} SuiteRun;

typedef struct Entry {
        Suites *suites;
        char *name;
        sd_event_source *timer;              /* NULL: not scheduled */
        CronExpr cron;
        time_t due;
        uint64_t skipped;                    /* firings skipped because a run or a suite was active */
} Entry;

/* What the latest criteria report says of one run criterion. */
typedef struct Judged {
        char *name;
        CriterionState state;
        int64_t run_id;
        bool no_source;                      /* no data source (acu_scaling without [capacity]) */
        char *reason;                        /* unknown: why; NULL none */
} Judged;

struct Suites {
        sd_event *event;
        Runner *runner;
        SuitesChangedFn changed;
        void *userdata;
        const Config *config;
        Entry *entries;
        size_t n_entries;
        SuiteRun **runs;                     /* the latest run of each suite ever run here */
        size_t n_runs;
        SuiteRun *active;                    /* one of runs, or NULL */
        PreflightJob *job;                   /* the active suite's checks, while being made */
        Judged *judged;
        size_t n_judged;
        bool stopped;
        char failure[600];
        uint64_t failure_usec;
        char status[600];
};

static void notify_changed(Suites *s) {
        if (s->changed)
                s->changed(s, s->userdata);
}

static const char *suite_state_to_string(SuiteState st) {
        static const char *const names[] = {
                [SUITE_PREFLIGHT] = "running", [SUITE_RUNNING] = "running", [SUITE_COMPLETED] = "completed",
                [SUITE_FAILED] = "failed", [SUITE_ABORTED] = "aborted", [SUITE_CANCELLED] = "cancelled",
        };

        return names[st];
}

static SuiteRun *suite_run_free(SuiteRun *sr) {
        if (!sr)
                return NULL;
        preflight_plan_free(sr->checks, sr->n_checks);
        free(sr->name);
        free(sr->scenarios);
        free(sr->ids);
        free(sr->states);
        free(sr);
        return NULL;
}

static SuiteRun *suite_run_new(const SuiteConfig *su, RunTrigger trigger) {
        SuiteRun *sr = calloc(1, sizeof *sr);
        size_t len = 0;
        char *p;

        if (!sr)
                return NULL;
        for (size_t i = 0; i < su->n_scenarios; i++)
                len += strlen(su->scenarios[i]) + 1;
        *sr = (SuiteRun) { .name = strdup(su->name), .trigger = trigger, .started_usec = now_realtime_usec(),
                           .n = su->n_scenarios, .preflight = su->preflight,
                           .scenarios = malloc(su->n_scenarios * sizeof(char *) + len),
                           .ids = calloc(su->n_scenarios, sizeof *sr->ids),
                           .states = calloc(su->n_scenarios, sizeof *sr->states) };
        if (!sr->name || !sr->scenarios || !sr->ids || !sr->states)
                return suite_run_free(sr);
        p = (char *) (sr->scenarios + sr->n);
        for (size_t i = 0; i < sr->n; i++) {
                sr->scenarios[i] = strcpy(p, su->scenarios[i]);
                p += strlen(p) + 1;
                sr->ids[i] = -1;
                sr->states[i] = STORE_RUN_RUNNING;
        }
        return sr;
}

static SuiteRun **find_run(Suites *s, const char *name) {
        for (size_t i = 0; i < s->n_runs; i++)
                if (strcmp(s->runs[i]->name, name) == 0)
                        return &s->runs[i];
        return NULL;
}

/* Keeps `sr` as the latest run of its suite, in place of the one before. */
static int keep_run(Suites *s, SuiteRun *sr) {
        SuiteRun **slot = find_run(s, sr->name), **runs;

        if (slot) {
                suite_run_free(*slot);
                *slot = sr;
                return 0;
        }
        runs = realloc(s->runs, (s->n_runs + 1) * sizeof *runs);
        if (!runs)
                return -ENOMEM;
        s->runs = runs;
        s->runs[s->n_runs++] = sr;
        return 0;
}

/* ---------------------------------------------------------------- the active suite */

/* Ends the active suite in `state` with `fmt` as its reason ("" none),
 * releases the runner and says so in the log (and STATUS= on failure). */
static void end_suite(Suites *s, SuiteState state, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void end_suite(Suites *s, SuiteState state, const char *fmt, ...) {
        SuiteRun *sr = s->active;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(sr->reason, sizeof sr->reason, fmt, ap);
        va_end(ap);
        sr->state = state;
        sr->ended_usec = now_realtime_usec();
        s->active = NULL;
        runner_hold(s->runner, NULL);
        if (state == SUITE_COMPLETED) {
                log_info("suite %s completed: %zu runs", sr->name, sr->n);
                return;
        }
        snprintf(s->failure, sizeof s->failure, "suite %s %s: %s", sr->name, suite_state_to_string(state),
                 sr->reason);
        s->failure_usec = now_monotonic_usec();
        if (state == SUITE_FAILED)
                log_error("%s", s->failure);
        else
                log_notice("%s", s->failure);
}

/* Starts the active suite's runs from sr->next on, until one starts: a
 * scenario that cannot start is recorded as such and skipped.  When none
 * is left, the suite ends. */
static void start_next(Suites *s) {
        SuiteRun *sr = s->active;

        while (sr->next < sr->n) {
                RunnerSuiteRun info = { .name = sr->name, .started_usec = sr->started_usec,
                                        .position = (unsigned) sr->next + 1, .of = (unsigned) sr->n };
                const char *name = sr->scenarios[sr->next];
                char *error = NULL;
                int64_t id = -1;
                int k;

                k = runner_start_suite_run(s->runner, name, sr->trigger, &info, &id, &error);
                if (k >= 0) {
                        sr->ids[sr->next] = id;
                        log_info("suite %s: %zu/%zu %s: run %" PRId64, sr->name, sr->next + 1, sr->n, name, id);
                        free(error);
                        return;
                }
                if (k == -ESHUTDOWN) {
                        free(error);
                        end_suite(s, SUITE_ABORTED, "perfwatchd was stopped before %s could start", name);
                        return;
                }
                sr->states[sr->next] = STORE_RUN_FAILED;
                snprintf(sr->reason, sizeof sr->reason, "%s did not start: %s", name,
                         k == -ENOENT ? "the configuration has no such scenario any more"
                         : k == -EBUSY ? "another run is active" : error ?: strerror(-k));
                log_error("suite %s: %zu/%zu %s", sr->name, sr->next + 1, sr->n, sr->reason);
                free(error);
                sr->next++;
        }
        if (sr->reason[0]) {
                char why[sizeof sr->reason];

                snprintf(why, sizeof why, "%s", sr->reason);
                end_suite(s, SUITE_FAILED, "%s", why);
        } else
                end_suite(s, SUITE_COMPLETED, "%s", "");
}

void suites_run_ended(Suites *s, int64_t id, const char *scenario, StoreRunState state) {
        SuiteRun *sr = s->active;
        const char *after;

        if (!sr || sr->state != SUITE_RUNNING || sr->next >= sr->n || sr->ids[sr->next] != id)
                return;
        sr->states[sr->next] = state;
        after = sr->next + 1 < sr->n ? "; the scenarios after it did not run" : "";
        switch (state) {
        case STORE_RUN_CANCELLED:
                end_suite(s, SUITE_CANCELLED, "run %" PRId64 " of %s was cancelled%s", id, scenario, after);
                break;
        case STORE_RUN_ABORTED:
                end_suite(s, SUITE_ABORTED, "run %" PRId64 " of %s was aborted: perfwatchd was stopped%s", id,
                          scenario, after);
                break;
        case STORE_RUN_FAILED:
                /* As in terminal mode, a failed run does not stop the
                 * suite; the suite ends failed all the same. */
                snprintf(sr->reason, sizeof sr->reason, "run %" PRId64 " of %s failed", id, scenario);
                /* fall through */
        default:
                sr->next++;
                if (!s->stopped)
                        start_next(s);
                else
                        end_suite(s, SUITE_ABORTED, "perfwatchd was stopped after run %" PRId64, id);
        }
        notify_changed(s);
}

/* The checks are made: the first run starts, or the suite fails. */
static void on_preflight_done(PreflightJob *job, void *userdata) {
        Suites *s = userdata;
        SuiteRun *sr = s->active;
        size_t failed = 0, at = 0;
        char *why = NULL;

        if (!sr || s->job != job)
                return;
        sr->checks = preflight_job_take(job, &sr->n_checks, &sr->made);
        s->job = preflight_job_free(job);
        for (size_t i = 0; i < sr->made; i++) {
                const PreflightCheck *k = &sr->checks[i];

                if (!k->failed) {
                        log_info("suite %s: pre-flight: %s: ok (%s%s%" PRIu64 " ms)", sr->name, k->what, k->detail,
                                 k->detail[0] ? ", " : "", k->ms);
                        continue;
                }
                log_error("suite %s: pre-flight: %s: failed: %s", sr->name, k->what, k->why);
                if (failed++ == 0)
                        at = i;
        }
        if (failed > 0) {
                why = strjoin(sr->checks[at].what, ": ", sr->checks[at].why, NULL);
                end_suite(s, SUITE_FAILED, "pre-flight: %zu check%s failed, nothing was run: %s%s", failed,
                          failed == 1 ? "" : "s", why ?: "out of memory", failed > 1 ? " (and more)" : "");
                free(why);
        } else {
                sr->state = SUITE_RUNNING;
                start_next(s);
        }
        notify_changed(s);
}

static int start_preflight(Suites *s, SuiteRun *sr) {
        PreflightCheck *checks = NULL;
        size_t n = 0;
        int k;

        /* NB: the daemon's own database is open and its health is in
         * /v1/status: opening it once more here would prove nothing. */
        k = preflight_plan(s->config, (const char *const *) sr->scenarios, sr->n, false, &checks, &n);
        if (k >= 0)
                k = preflight_job_start(s->event, checks, n, on_preflight_done, s, &s->job);
        return k;
}

int suites_start(Suites *s, const char *name, RunTrigger trigger, char **ret_error) {
        const SuiteConfig *su = config_find_suite(s->config, name);
        SuiteRun *sr;
        int k;

        if (ret_error)
                *ret_error = NULL;
        if (!su)
                return -ENOENT;
        if (s->active || runner_active_id(s->runner) >= 0 || runner_holder(s->runner))
                return -EBUSY;
        if (s->stopped)
                return set_error(ret_error, -ESHUTDOWN, "perfwatchd is stopping: no suite starts");
        sr = suite_run_new(su, trigger);
        if (!sr || keep_run(s, sr) < 0) {
                suite_run_free(sr);
                return set_error(ret_error, -ENOMEM, "[suite %s]: out of memory", name);
        }
        s->active = sr;
        runner_hold(s->runner, sr->name);
        log_info("suite %s started by %s: %zu scenarios%s", name, trigger == RUN_TRIGGER_SCHEDULE ? "its schedule"
                                                                                                  : "the API",
                 sr->n, su->preflight ? ", pre-flight checks first" : "");
        if (!su->preflight) {
                sr->state = SUITE_RUNNING;
                start_next(s);
        } else {
                sr->state = SUITE_PREFLIGHT;
                k = start_preflight(s, sr);
                if (k < 0) {
                        end_suite(s, SUITE_FAILED, "pre-flight: cannot start its checks: %s", strerror(-k));
                        notify_changed(s);
                        return set_error(ret_error, k, "[suite %s]: cannot start its pre-flight checks: %s", name,
                                         strerror(-k));
                }
        }
        notify_changed(s);
        return 0;
}

void suites_stop(Suites *s) {
        SuiteRun *sr;

        if (!s)
                return;
        s->stopped = true;
        for (size_t i = 0; i < s->n_entries; i++)
                s->entries[i].timer = sd_event_source_disable_unref(s->entries[i].timer);
        sr = s->active;
        if (!sr)
                return;
        if (s->job) {
                (void) preflight_job_stop(s->job, PREFLIGHT_STOP_WAIT_USEC);
                s->job = preflight_job_free(s->job);
                end_suite(s, SUITE_ABORTED, "perfwatchd was stopped during the pre-flight checks");
        } else
                end_suite(s, SUITE_ABORTED, "perfwatchd was stopped during run %" PRId64 " of %s",
                          sr->next < sr->n ? sr->ids[sr->next] : -1, sr->next < sr->n ? sr->scenarios[sr->next] : "-");
}

const char *suites_active(const Suites *s) {
        return s && s->active ? s->active->name : NULL;
}

/* ---------------------------------------------------------------- verdicts */

static void judged_free(Judged *j, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(j[i].name);
                free(j[i].reason);
        }
        free(j);
}

void suites_set_report(Suites *s, const CriteriaReport *report) {
        Judged *j = calloc(report->n_results ?: 1, sizeof *j);
        size_t n = 0;

        if (!j)
                return;
        for (size_t i = 0; i < report->n_results; i++) {
                const CriterionResult *c = &report->results[i];

                j[n] = (Judged) { .name = strdup(c->name), .state = c->state, .run_id = c->run_id,
                                  .no_source = c->cause == CRITERION_CAUSE_NO_SOURCE,
                                  .reason = c->reason ? strdup(c->reason) : NULL };
                if (!j[n].name) {
                        judged_free(j, n + 1);
                        return;
                }
                n++;
        }
        judged_free(s->judged, s->n_judged);
        s->judged = j;
        s->n_judged = n;
}

static const Judged *find_judged(const Suites *s, const char *name) {
        for (size_t i = 0; i < s->n_judged; i++)
                if (strcmp(s->judged[i].name, name) == 0)
                        return &s->judged[i];
        return NULL;
}

static bool judges(const CriterionConfig *cc, const char *scenario) {
        return (cc->kind == CRITERION_RUN_LATENCY || cc->kind == CRITERION_RUN_WRITES ||
                cc->kind == CRITERION_RUN_ACU) && cc->scenario && strcmp(cc->scenario, scenario) == 0;
}

/* One criterion's word on run `id`: {name, state, run, reason}. */
static json_t *criterion_json(const Suites *s, const CriterionConfig *cc, int64_t id, SuiteVerdict *ret) {
        const Judged *j = find_judged(s, cc->name);
        const char *reason = NULL;
        CriterionState state = CRITERION_STATE_UNKNOWN;
        SuiteVerdict v;

        if (cc->disabled)
                state = CRITERION_STATE_DISABLED;
        else if (!j)
                reason = "not evaluated yet";
        else if (j->no_source) {
                state = j->state;
                reason = j->reason;
        } else if (j->run_id != id && j->state != CRITERION_STATE_DISABLED)
                reason = "its latest verdict is not about this run (not evaluated since, or a newer run)";
        else {
                state = j->state;
                reason = j->reason;
        }
        v = suite_verdict_from_state(state);
        /* NB: as in terminal mode, a criterion without its data source
         * (acu_scaling without [capacity]) does not judge the run. */
        *ret = j && j->no_source ? SUITE_VERDICT_NONE : v;
        return json_pack("{ss ss s:o s:s?}", "name", cc->name, "state", criteria_state_to_string(state), "run",
                         j && j->run_id > 0 ? json_integer(j->run_id) : json_null(), "reason", reason);
}

static json_t *verdict_or_null(SuiteVerdict v) {
        const char *text = suite_verdict_to_string(v);

        return text ? json_string(text) : json_null();
}

/* One scenario of a suite run: {name, run, state, verdict, criteria}; the
 * scenario's verdict is folded into *acc. */
static json_t *scenario_json(const Suites *s, const SuiteRun *sr, size_t i, SuiteVerdict *acc) {
        json_t *criteria = json_array();
        SuiteVerdict v = SUITE_VERDICT_NONE, one;
        bool completed = sr->ids[i] >= 0 && sr->states[i] == STORE_RUN_COMPLETED;

        for (size_t c = 0; criteria && completed && s->config && c < s->config->n_criteria; c++)
                if (judges(&s->config->criteria[c], sr->scenarios[i])) {
                        (void) json_array_append_new(criteria,
                                                     criterion_json(s, &s->config->criteria[c], sr->ids[i], &one));
                        v = suite_verdict_combine(v, one);
                }
        /* A run that did not complete has no verdict: unknown. */
        if (!completed)
                v = SUITE_VERDICT_UNKNOWN;
        *acc = suite_verdict_combine(*acc, v);
        return json_pack("{ss s:o s:o s:o s:o}", "name", sr->scenarios[i], "run",
                         sr->ids[i] >= 0 ? json_integer(sr->ids[i]) : json_null(), "state",
                         sr->ids[i] >= 0 ? json_string(store_run_state_to_string(sr->states[i])) : json_null(),
                         "verdict", verdict_or_null(v), "criteria", criteria ?: json_array());
}

static json_t *preflight_json(const SuiteRun *sr) {
        json_t *checks = json_array();
        const char *state = !sr->preflight ? "skipped" : sr->state == SUITE_PREFLIGHT ? "running" : "passed";

        for (size_t i = 0; checks && i < sr->made; i++) {
                const PreflightCheck *k = &sr->checks[i];

                if (k->failed)
                        state = "failed";
                (void) json_array_append_new(checks, json_pack("{ss sb sI s:s?}", "check", k->what, "ok", !k->failed,
                                                               "ms", (json_int_t) k->ms, k->failed ? "reason" : "detail",
                                                               k->failed ? k->why : k->detail[0] ? k->detail : NULL));
        }
        if (sr->preflight && sr->made < sr->n_checks && sr->state != SUITE_PREFLIGHT)
                state = "stopped";
        return json_pack("{ss s:o}", "state", state, "checks", checks ?: json_array());
}

static json_t *iso(uint64_t usec) {
        char buf[64];

        return usec ? json_string(units_format_iso8601(usec, buf, sizeof buf)) : json_null();
}

static json_t *suite_run_json(const Suites *s, const SuiteRun *sr) {
        json_t *ids = json_array(), *scenarios = json_array();
        SuiteVerdict acc = SUITE_VERDICT_NONE;
        bool over = sr->state != SUITE_PREFLIGHT && sr->state != SUITE_RUNNING;

        for (size_t i = 0; ids && scenarios && i < sr->n; i++) {
                if (sr->ids[i] >= 0)
                        (void) json_array_append_new(ids, json_integer(sr->ids[i]));
                (void) json_array_append_new(scenarios, scenario_json(s, sr, i, &acc));
        }
        return json_pack("{ss ss s:o s:o s:s? s:o s:o s:o s:o}", "state", suite_state_to_string(sr->state),
                         "trigger", sr->trigger == RUN_TRIGGER_SCHEDULE ? "schedule" : "api", "started_at",
                         iso(sr->started_usec), "ended_at", iso(sr->ended_usec), "reason",
                         sr->reason[0] ? sr->reason : NULL, "run_ids", ids ?: json_array(), "preflight",
                         preflight_json(sr), "scenarios", scenarios ?: json_array(), "verdict",
                         over ? json_string(suite_verdict_to_string(suite_verdict_final(acc))) : json_null());
}

/* ---------------------------------------------------------------- schedules */

static int on_schedule(sd_event_source *source, uint64_t usec, void *userdata);

static int arm_at(Entry *e, time_t due) {
        Suites *s = e->suites;
        int k;

        e->due = due;
        if (!e->timer) {
                k = sd_event_add_time(s->event, &e->timer, CLOCK_REALTIME, (uint64_t) due * USEC_PER_SEC,
                                      SCHEDULE_ACCURACY_USEC, on_schedule, e);
                if (k >= 0)
                        (void) sd_event_source_set_description(e->timer, "suite-schedule");
        } else {
                k = sd_event_source_set_time(e->timer, (uint64_t) due * USEC_PER_SEC);
                if (k >= 0)
                        k = sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT);
        }
        if (k < 0)
                return log_error_errno(k, "[suite %s]: cannot arm its schedule timer: %s", e->name, strerror(-k));
        return 0;
}

static void skip_firing(Suites *s, Entry *e) {
        int64_t run = runner_active_id(s->runner);

        e->skipped++;
        if (s->active)
                log_notice("[suite %s] schedule: skipped: suite %s is still active (%" PRIu64 " skipped so far)",
                           e->name, s->active->name, e->skipped);
        else
                log_notice("[suite %s] schedule: skipped: run %" PRId64 " is still active (%" PRIu64
                           " skipped so far)", e->name, run, e->skipped);
}

static int on_schedule(sd_event_source *source, uint64_t usec, void *userdata) {
        Entry *e = userdata;
        Suites *s = e->suites;
        bool busy = s->active || runner_active_id(s->runner) >= 0 || runner_holder(s->runner);
        CronAction action;
        char *error = NULL;
        time_t next;
        int k;

        (void) source;
        (void) usec;
        k = cron_tick(&e->cron, e->due, time(NULL), busy, &action, &next);
        if (k < 0) {
                log_warning("[suite %s] schedule: never fires again: not scheduled", e->name);
                e->timer = sd_event_source_disable_unref(e->timer);
                return 0;
        }
        if (action == CRON_ACTION_SKIP_ACTIVE)
                skip_firing(s, e);
        else if (suites_start(s, e->name, RUN_TRIGGER_SCHEDULE, &error) == -EBUSY)
                skip_firing(s, e);
        free(error);
        (void) arm_at(e, next);
        notify_changed(s);
        return 0;
}

static Entry *find_entry(Suites *s, const char *name) {
        for (size_t i = 0; i < s->n_entries; i++)
                if (strcmp(s->entries[i].name, name) == 0)
                        return &s->entries[i];
        return NULL;
}

static void entries_free(Entry *entries, size_t n) {
        for (size_t i = 0; i < n; i++) {
                sd_event_source_disable_unref(entries[i].timer);
                free(entries[i].name);
        }
        free(entries);
}

static int entry_init(Suites *s, Entry *e, const SuiteConfig *su, const Entry *old) {
        time_t due;

        *e = (Entry) { .suites = s, .name = strdup(su->name), .cron = su->cron, .skipped = old ? old->skipped : 0 };
        if (!e->name)
                return -ENOMEM;
        if (!su->schedule || !su->enabled || s->stopped)
                return 0;
        if (cron_next(&e->cron, time(NULL), &due) < 0) {
                log_warning("[suite %s] schedule: never fires within 30 years: not scheduled", e->name);
                return 0;
        }
        return arm_at(e, due);
}

int suites_set_config(Suites *s, const Config *config) {
        Entry *entries = calloc(config->n_suites ?: 1, sizeof *entries);
        int k = 0;

        if (!entries)
                return -ENOMEM;
        for (size_t i = 0; k >= 0 && i < config->n_suites; i++)
                k = entry_init(s, &entries[i], &config->suites[i], find_entry(s, config->suites[i].name));
        if (k < 0) {
                entries_free(entries, config->n_suites);
                return k;
        }
        entries_free(s->entries, s->n_entries);
        s->entries = entries;
        s->n_entries = config->n_suites;
        s->config = config;
        notify_changed(s);
        return 0;
}

/* ---------------------------------------------------------------- views */

static json_t *suite_json(Suites *s, const SuiteConfig *su) {
        const Entry *e = find_entry(s, su->name);
        SuiteRun **last = find_run(s, su->name);
        json_t *scenarios = json_array();

        for (size_t i = 0; scenarios && i < su->n_scenarios; i++)
                (void) json_array_append_new(scenarios, json_string(su->scenarios[i]));
        return json_pack("{ss s:o sb sb s:o s:o sb sI s:o}", "name", su->name, "scenarios", scenarios ?: json_array(),
                         "enabled", su->enabled, "preflight", su->preflight, "schedule",
                         su->schedule ? json_string(su->schedule) : json_null(), "next_run_at",
                         e && e->timer ? iso((uint64_t) e->due * USEC_PER_SEC) : json_null(), "active",
                         s->active && strcmp(s->active->name, su->name) == 0, "runs_skipped",
                         (json_int_t) (e ? e->skipped : 0), "last_run",
                         last ? suite_run_json(s, *last) : json_null());
}

json_t *suites_json(Suites *s) {
        json_t *list = json_array();

        for (size_t i = 0; list && s->config && i < s->config->n_suites; i++)
                if (json_array_append_new(list, suite_json(s, &s->config->suites[i])) < 0) {
                        json_decref(list);
                        return NULL;
                }
        return list;
}

const char *suites_status(Suites *s) {
        SuiteRun *sr = s->active;

        s->status[0] = '\0';
        if (sr && sr->state == SUITE_PREFLIGHT)
                snprintf(s->status, sizeof s->status, "suite %s pre-flight", sr->name);
        else if (sr && sr->next < sr->n)
                snprintf(s->status, sizeof s->status, "suite %s %zu/%zu %s", sr->name, sr->next + 1, sr->n,
                         sr->scenarios[sr->next]);
        else if (s->failure[0] && now_monotonic_usec() - s->failure_usec < FAILURE_SHOWN_USEC)
                snprintf(s->status, sizeof s->status, "%s", s->failure);
        return s->status;
}

/* ---------------------------------------------------------------- life */

int suites_new(sd_event *event, Runner *runner, SuitesChangedFn changed, void *userdata, Suites **ret) {
        Suites *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        *s = (Suites) { .event = sd_event_ref(event), .runner = runner, .changed = changed, .userdata = userdata };
        *ret = s;
        return 0;
}

Suites *suites_free(Suites *s) {
        if (!s)
                return NULL;
        suites_stop(s);
        entries_free(s->entries, s->n_entries);
        for (size_t i = 0; i < s->n_runs; i++)
                suite_run_free(s->runs[i]);
        free(s->runs);
        judged_free(s->judged, s->n_judged);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
