/* Terminal mode: one scenario in the foreground.  The run's thread hands
 * each second (and its end) to this thread through a pipe, so that its
 * callbacks never block on a slow terminal; this thread waits on that pipe
 * and on a signalfd for SIGINT and SIGTERM. */
#include "core/terminal-run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api/api.h"
#include "core/run-record.h"
#include "core/terminal-acu.h"
#include "core/terminal-profiles.h"
#include "criteria/criteria.h"
#include "load/load-report.h"
#include "util/units.h"
#include "util/util.h"

/* What the run's thread writes into the pipe: smaller than PIPE_BUF, so
 * each write is whole or not at all. */
typedef struct Message {
        bool done;
        LoadSecond second;
} Message;

typedef struct Terminal {
        int pipe[2];
        int signal_fd;
        sigset_t old_mask;
        sd_event *event;
        sd_event_source *pipe_source, *signal_source;
        LoadRun *run;                /* while it runs */
        uint64_t timeout_usec;       /* the scenario's request timeout */
        bool done;                   /* the run is over */
        int error;                   /* a negative errno that ended the wait */
        /* What acu_scaling's capacity pollers and the run's profiles share
         * on this loop, opened when either needs them: */
        Store *store;                /* the [daemon] database, read-write */
        CurlGlue *glue;
        TerminalAcu *acu;            /* acu_scaling's capacity polling, or NULL */
        TerminalProfiles *profiles;  /* `target =`: the run's profiles, or NULL */
        bool cancelled;
} Terminal;

/* On the run's thread: a full pipe loses a progress line, never blocks. */
static void on_second(const LoadSecond *second, void *userdata) {
        Terminal *t = userdata;
        Message m = { .second = *second };

        (void) !write(t->pipe[1], &m, sizeof m);
}

static void on_done(LoadRun *run, void *userdata) {
        Terminal *t = userdata;
        Message m = { .done = true };

        (void) run;
        /* NB: the end must get through even when progress lines filled the
         * pipe; bounded, should this thread's reader be gone. */
        for (unsigned i = 0; i < 5000; i++)
                if (write(t->pipe[1], &m, sizeof m) >= 0 || (errno != EAGAIN && errno != EINTR))
                        break;
                else
                        usleep(1000);
}

/* Each second's progress until the run is over: one message per call (the
 * loop saw the pipe readable, and messages are whole, so it never blocks). */
static int on_pipe(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Terminal *t = userdata;
        char line[256];
        Message m;

        (void) s;
        (void) revents;
        if (t->done)
                return 0;
        if (read(fd, &m, sizeof m) != (ssize_t) sizeof m) {
                t->error = -EIO;
                t->done = true;
                return 0;
        }
        if (m.done) {
                t->done = true;
                return 0;
        }
        load_report_second(&m.second, line, sizeof line);
        fprintf(stderr, "%s\n", line);
        return 0;
}

/* SIGINT or SIGTERM: cancels the run while it runs, then stops the waits
 * for the run's profiles and for capacity data. */
static int on_signal(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Terminal *t = userdata;
        struct signalfd_siginfo si;
        char tbuf[64];

        (void) s;
        (void) revents;
        if (read(fd, &si, sizeof si) != (ssize_t) sizeof si)
                return 0;
        if (t->done) {
                terminal_profiles_cancel(t->profiles, (int) si.ssi_signo);
                if (t->acu)
                        terminal_acu_cancel(t->acu, (int) si.ssi_signo);
                t->cancelled = true;
                return 0;
        }
        if (t->cancelled)
                return 0;
        t->cancelled = true;
        fprintf(stderr, "perfwatchd: %s: cancelling the run; requests in flight get up to %s to end\n",
                strsignal((int) si.ssi_signo), units_format_duration(t->timeout_usec, tbuf, sizeof tbuf));
        load_run_cancel(t->run);
        return 0;
}

static int terminal_open(Terminal *t, uint64_t timeout_usec) {
        sigset_t mask;
        int r;

        *t = (Terminal) { .pipe = { -1, -1 }, .signal_fd = -1, .timeout_usec = timeout_usec };
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (pthread_sigmask(SIG_BLOCK, &mask, &t->old_mask) != 0)
                return -EINVAL;
        t->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (t->signal_fd < 0 || pipe2(t->pipe, O_CLOEXEC) < 0)
                return -errno;
        /* Only the writer is non-blocking: this thread reads once the loop
         * says the reader is readable. */
        if (fcntl(t->pipe[1], F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        r = sd_event_new(&t->event);
        if (r >= 0)
                r = sd_event_add_io(t->event, &t->pipe_source, t->pipe[0], EPOLLIN, on_pipe, t);
        if (r >= 0)
                r = sd_event_add_io(t->event, &t->signal_source, t->signal_fd, EPOLLIN, on_signal, t);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(t->pipe_source, "run-progress");
        (void) sd_event_source_set_description(t->signal_source, "signals");
        return 0;
}

/* The Store and the CurlGlue on the loop, for acu_scaling (`acu`) and the
 * run's profiles (scenario `sc` has a target), when either needs them; a
 * failure says on stderr what each of them misses, and leaves them
 * without. */
static void terminal_share(Terminal *t, const Config *c, const ScenarioConfig *sc, bool acu) {
        char *error = NULL;
        int r;

        if (!acu && !sc->target)
                return;
        r = run_record_open_store(c->daemon.database, &t->store, &error);
        if (r < 0) {
                if (acu)
                        fprintf(stderr, "perfwatchd: acu_scaling: cannot store the capacity: %s\n",
                                error ?: strerror(-r));
                if (sc->target)
                        fprintf(stderr, "perfwatchd: [scenario %s]: no profiles of [target %s]: %s\n", sc->name,
                                sc->target, error ?: strerror(-r));
                free(error);
                return;
        }
        r = curl_glue_new(t->event, &t->glue);
        if (r < 0) {
                if (acu)
                        fprintf(stderr, "perfwatchd: acu_scaling: cannot poll the capacity: %s\n", strerror(-r));
                if (sc->target)
                        fprintf(stderr, "perfwatchd: [scenario %s]: no profiles of [target %s]: %s\n", sc->name,
                                sc->target, strerror(-r));
                t->store = store_free(t->store);
        }
}

static void terminal_close(Terminal *t) {
        /* The users of the glue and the store first. */
        t->profiles = terminal_profiles_free(t->profiles);
        t->acu = terminal_acu_free(t->acu);
        t->glue = curl_glue_free(t->glue);
        if (t->store)
                (void) store_flush(t->store);
        t->store = store_free(t->store);
        sd_event_source_disable_unref(t->pipe_source);
        sd_event_source_disable_unref(t->signal_source);
        sd_event_unref(t->event);
        for (size_t i = 0; i < 2; i++)
                if (t->pipe[i] >= 0)
                        close(t->pipe[i]);
        if (t->signal_fd >= 0)
                close(t->signal_fd);
        pthread_sigmask(SIG_SETMASK, &t->old_mask, NULL);
}

/* Runs the loop (progress lines, signals, the capacity pollers) until the
 * run is over. */
static int terminal_wait(Terminal *t, LoadRun *run) {
        int r = 0;

        t->run = run;
        while (!t->done && r >= 0)
                r = sd_event_run(t->event, UINT64_MAX);
        return r < 0 ? r : t->error;
}

static bool op_holds(double value, CriterionOp op, double threshold) {
        switch (op) {
        case CRITERION_LT: return value < threshold;
        case CRITERION_LE: return value <= threshold;
        case CRITERION_GT: return value > threshold;
        case CRITERION_GE: return value >= threshold;
        }
        return false;
}

/* The p95 judged, in ms.  A request that timed out is in the latency
 * histogram at the time it was given up (at least the timeout), so it is
 * not left out, which would let a service that times out pass;
 * *ret_beyond is set when the p95 falls among the timeouts, so that it is
 * known only to be above the timeout. */
static void judged_p95(const LoadResult *r, double *ret, bool *ret_beyond) {
        uint64_t n = hist_count(r->total.latency), timeouts = r->total.counts.err_timeout;

        *ret = load_report_ms(r->total.latency, 95);
        /* The rank of the p95, ceil(0.95 n), is past the other requests. */
        *ret_beyond = timeouts > 0 && (n - timeouts) * 100 < n * 95;
}

/* latency_p95's exit status for a run that answered. */
static int latency_status(const CriterionConfig *cc, const LoadResult *r) {
        const LoadCounts *n = &r->total.counts;
        char unsound[200];
        double p95 = 0;
        bool holds, beyond;

        judged_p95(r, &p95, &beyond);
        if (criteria_run_unsound(n->sent, n->err_connect + n->err_status + n->err_other, n->dropped, unsound,
                                 sizeof unsound)) {
                fprintf(stderr, "perfwatchd: latency_p95: not met: %s\n", unsound);
                return TERMINAL_RUN_NOT_MET;
        }
        if (beyond) {
                fprintf(stderr, "perfwatchd: latency_p95: not met: %" PRIu64 " of %" PRIu64 " requests timed out "
                        "(more than 5%%), so the p95 is beyond the timeout\n", r->total.counts.err_timeout,
                        hist_count(r->total.latency));
                return TERMINAL_RUN_NOT_MET;
        }
        holds = op_holds(p95, cc->op, cc->threshold);
        fprintf(stderr, "perfwatchd: latency_p95: %.2f ms %s%s %g ms: %s\n", p95, holds ? "" : "is not ",
                config_op_to_string(cc->op), cc->threshold, holds ? "met" : "not met");
        return holds ? TERMINAL_RUN_MET : TERMINAL_RUN_NOT_MET;
}

void terminal_run_judges(const Config *c, const char *name, bool *ret_latency, bool *ret_writes) {
        const CriterionConfig *lat = config_find_criterion(c, "latency_p95");
        const CriterionConfig *zdl = config_find_criterion(c, "zero_data_loss");
        bool writes = zdl && zdl->scenario && strcmp(zdl->scenario, name) == 0;

        *ret_writes = writes;
        *ret_latency = lat && (!writes || (lat->scenario && strcmp(lat->scenario, name) == 0));
}

int terminal_run_writes_status(const CriterionConfig *cc, const char *writes_json) {
        char line[256];
        CriterionState s = criteria_writes_judge(writes_json, cc->min_conflicts, line, sizeof line);

        fprintf(stderr, "perfwatchd: zero_data_loss: %s: %s\n",
                s == CRITERION_STATE_MET ? "met" : s == CRITERION_STATE_NOT_MET ? "not met" : "no verdict", line);
        return s == CRITERION_STATE_MET ? TERMINAL_RUN_MET
               : s == CRITERION_STATE_NOT_MET ? TERMINAL_RUN_NOT_MET : TERMINAL_RUN_ERROR;
}

int terminal_run_worst(int a, int b) {
        if (a == TERMINAL_RUN_NOT_MET || b == TERMINAL_RUN_NOT_MET)
                return TERMINAL_RUN_NOT_MET;
        return a == TERMINAL_RUN_ERROR || b == TERMINAL_RUN_ERROR ? TERMINAL_RUN_ERROR : TERMINAL_RUN_MET;
}

/* The run's lost-write report as JSON text (the engine's, the same that
 * run_record_store_finish() stores as the run's extra "writes" for the
 * daemon's zero_data_loss); NULL when the scenario has no write lines. */
static const char *result_writes(const LoadResult *r) {
        return r->writes_json;
}

/* NB: as in ?strict=1, a criterion turned off does not count: the run is
 * shown, but there is nothing for it to fail.  True, with a line on
 * stderr, when `cc` is off; `other` says whether another criterion judges
 * the run. */
static bool turned_off(const CriterionConfig *cc, bool other) {
        if (!cc->disabled)
                return false;
        fprintf(stderr, "perfwatchd: %s: not judged: turned off (enabled = no)%s\n", cc->name, other ? "" : "; exit 0");
        return true;
}

/* The exit status of a run that is over by latency_p95 and
 * zero_data_loss, with the reason on stderr; `acu` says whether
 * acu_scaling judges it too (afterwards: terminal_acu_verdict()). */
static int terminal_verdict(const Config *c, const LoadResult *r, const ScenarioConfig *sc, bool acu) {
        const CriterionConfig *lat = config_find_criterion(c, "latency_p95");
        const CriterionConfig *zdl = config_find_criterion(c, "zero_data_loss");
        bool latency, writes;
        int status = TERMINAL_RUN_MET;

        if (r->state == LOAD_RUN_FAILED) {
                fprintf(stderr, "perfwatchd: [scenario %s]: the run failed: %s\n", sc->name, r->reason ?: "unknown");
                return TERMINAL_RUN_ERROR;
        }
        if (r->state == LOAD_RUN_CANCELLED) {
                fprintf(stderr, "perfwatchd: [scenario %s]: cancelled: no verdict\n", sc->name);
                return TERMINAL_RUN_ERROR;
        }
        /* Locust's latencies are closed-loop and rounded: not what
         * latency_p95's threshold is about (perfwatchd.conf(5)). */
        if (sc->model == LOAD_MODEL_EXEC) {
                fprintf(stderr, "perfwatchd: latency_p95: not judged: [scenario %s] is a Locust run (model = exec: "
                        "closed loop, rounded latencies)%s\n", sc->name, acu ? "" : "; exit 0");
                return TERMINAL_RUN_MET;
        }
        if (hist_count(r->total.latency) == 0) {
                fprintf(stderr, "perfwatchd: [scenario %s]: no request was answered, no verdict: %s\n", sc->name,
                        r->reason ?: "nothing was sent");
                return TERMINAL_RUN_ERROR;
        }
        terminal_run_judges(c, sc->name, &latency, &writes);
        latency = latency && !turned_off(lat, acu || (writes && !zdl->disabled));
        writes = writes && !turned_off(zdl, acu || latency);
        if (latency)
                status = latency_status(lat, r);
        if (writes)
                status = terminal_run_worst(status, terminal_run_writes_status(zdl, result_writes(r)));
        return status;
}

/* acu_scaling's exit status for run `id` that is over (the capacity
 * polled since before it started, or not when `t->acu` is NULL), with its
 * line on stderr; *ret_window gets its acu_window object (or NULL).  A
 * run that did not complete has no window to judge: its own status says
 * so already. */
static int terminal_acu_verdict(Terminal *t, const LoadResult *r, int64_t id, json_t **ret_window) {
        int64_t started_ms = (int64_t) (r->started_usec / USEC_PER_MSEC);
        int64_t ended_ms = (int64_t) ((r->started_usec + r->elapsed_usec) / USEC_PER_MSEC);

        if (r->state != LOAD_RUN_COMPLETED)
                return TERMINAL_RUN_MET;
        if (!t->acu) {
                fprintf(stderr, "perfwatchd: acu_scaling: no verdict: the capacity was not polled (see above)\n");
                return TERMINAL_RUN_ERROR;
        }
        return terminal_acu_judge(t->acu, id, started_ms, ended_ms, ret_window);
}

/* Writes the summary, to stderr with `json` (stdout is the JSON's), with
 * the run's `profiles` (borrowed, may be NULL) as GET /v1/runs/{id}'s text
 * shows them; `id` is the run's in `database`, or < 0 when it was not
 * recorded. */
static void terminal_summary(const LoadResult *r, const ScenarioConfig *sc, int64_t id, const char *database,
                             const json_t *profiles, bool json) {
        LoadReportInfo info = { .id = id, .scenario = sc->name, .model = sc->model };

        (void) load_report_text(r, &info, json ? stderr : stdout);
        api_render_run_profiles_text(profiles, json ? stderr : stdout);
        if (id >= 0)
                fprintf(json ? stderr : stdout, "  recorded as run %" PRId64 " in %s\n", id, database);
}

/* Writes the JSON run object, with acu_scaling's `acu_window` and the
 * run's `profiles` (borrowed, each may be NULL) as its members
 * "acu_window" and "profiles", to stdout, or hands it to *ret_object when
 * that is not NULL. */
static int terminal_json(const LoadResult *r, const ScenarioConfig *sc, int64_t id, json_t *acu_window,
                         json_t *profiles, json_t **ret_object) {
        LoadReportInfo info = { .id = id, .scenario = sc->name, .model = sc->model };
        json_t *j = load_report_json(r, &info);

        if (j && ((acu_window && json_object_set(j, "acu_window", acu_window) < 0) ||
                  (profiles && json_object_set(j, "profiles", profiles) < 0))) {
                json_decref(j);
                j = NULL;
        }
        if (j && ret_object) {
                *ret_object = j;
                return 0;
        }
        if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) < 0) {
                json_decref(j);
                fprintf(stderr, "perfwatchd: cannot write the run as JSON\n");
                return -EIO;
        }
        json_decref(j);
        fputc('\n', stdout);
        return 0;
}

/* Every scenario name of the file, for the "unknown scenario" error. */
static void print_unknown(const Config *c, const char *name) {
        fprintf(stderr, "perfwatchd: %s has no [scenario %s]", c->path, name);
        for (size_t i = 0; i < c->n_scenarios; i++)
                fprintf(stderr, "%s%s", i == 0 ? " (scenarios: " : ", ", c->scenarios[i].name);
        fprintf(stderr, "%s\n", c->n_scenarios > 0 ? ")" : "; it defines none");
}

static int terminal_start(const ScenarioConfig *sc, uint64_t duration_usec, Terminal *t, LoadRun **ret) {
        LoadCallbacks cb = { .on_second = on_second, .on_done = on_done, .userdata = t };
        LoadRequest *reqs = NULL;
        LoadScenario s;
        char *error = NULL;
        int r;

        r = config_scenario_to_load(sc, duration_usec, &s, &reqs);
        if (r >= 0)
                r = load_run_start(&s, &cb, ret, &error);
        free(reqs);
        if (r < 0)
                fprintf(stderr, "perfwatchd: [scenario %s]: cannot start the run: %s\n", sc->name,
                        error ?: strerror(-r));
        free(error);
        return r;
}

/* Records the start of `run`, just started, in the database; NULL, with
 * one line on stderr, when it cannot: the run goes on unrecorded. */
static RunRecord *terminal_record_begin(const Config *c, const ScenarioConfig *sc, LoadRun *run) {
        LoadResult *now = NULL;
        RunRecord *rec = NULL;
        char *error = NULL;
        int r;

        r = load_run_snapshot(run, &now);
        if (r >= 0)
                r = run_record_begin(c->daemon.database, sc, now->started_usec, &rec, &error);
        if (r < 0)
                fprintf(stderr, "perfwatchd: run not recorded: %s\n",
                        error ?: strerror(-r));
        free(error);
        load_result_free(now);
        return rec;
}

/* Records the run's end: `result`, or, with none, a run that could not be
 * followed to its end.  Returns the run's id, or -1 (with one line on
 * stderr) when it was not recorded. */
static int64_t terminal_record_finish(RunRecord *rec, const LoadResult *result, int r) {
        LoadResult failed = { .state = LOAD_RUN_FAILED, .started_usec = now_realtime_usec() };
        char *error = NULL, reason[256];

        if (!rec)
                return -1;
        if (!result) {
                snprintf(reason, sizeof reason, "the run could not be followed: %s", strerror(-r));
                failed.reason = reason;
                result = &failed;
        }
        if (run_record_finish(rec, result, &error) < 0) {
                fprintf(stderr, "perfwatchd: run not recorded: %s\n", error ?: "?");
                free(error);
                return -1;
        }
        return run_record_id(rec);
}

/* The verdicts of run `id` that is over: latency_p95 and zero_data_loss
 * at once, then acu_scaling once the capacity data are in (`acu`: it
 * judges the run), and the JSON object last, so that it carries the
 * capacity window; the summary and the JSON show the run's `profiles`
 * (borrowed, may be NULL), which no criterion judges. */
static int terminal_judge(const Config *c, Terminal *t, const LoadResult *result, const ScenarioConfig *sc,
                          int64_t id, json_t *profiles, bool acu, bool json, json_t **ret_object) {
        const CriterionConfig *acu_cc = terminal_acu_criterion(c, sc->name);
        json_t *window = NULL;
        int status;

        terminal_summary(result, sc, id, c->daemon.database, profiles, json);
        status = terminal_verdict(c, result, sc, acu);
        if (acu_cc)
                (void) turned_off(acu_cc, true);
        if (acu)
                status = terminal_run_worst(status, terminal_acu_verdict(t, result, id, &window));
        if (json && terminal_json(result, sc, id, window, profiles, ret_object) < 0)
                status = TERMINAL_RUN_ERROR;
        json_decref(window);
        return status;
}

int terminal_run_one(const Config *c, const char *name, uint64_t duration_usec, bool json, json_t **ret_object,
                     bool *ret_cancelled) {
        const ScenarioConfig *sc = config_find_scenario(c, name);
        json_t *profiles = NULL;
        LoadResult *result = NULL;
        RunRecord *rec = NULL;
        LoadRun *run = NULL;
        int64_t id;
        Terminal t;
        bool acu;
        int r, status = TERMINAL_RUN_ERROR;

        if (!sc) {
                print_unknown(c, name);
                return TERMINAL_RUN_ERROR;
        }
        if (sc->model == LOAD_MODEL_EXEC && duration_usec > 0) {
                fprintf(stderr, "perfwatchd: [scenario %s]: --duration does not apply to model = exec: the "
                        "command's own options (Locust's -t) say how long it runs\n", name);
                return TERMINAL_RUN_ERROR;
        }
        acu = terminal_acu_polls(terminal_acu_criterion(c, name));
        r = terminal_open(&t, sc->timeout_usec);
        if (r < 0)
                fprintf(stderr, "perfwatchd: cannot watch for signals: %s\n", strerror(-r));
        if (r >= 0)
                terminal_share(&t, c, sc, acu);
        /* The capacity is polled from before the run starts, so that its
         * start ACU is known; a failure leaves acu_scaling without verdict. */
        if (r >= 0 && acu && t.store)
                (void) terminal_acu_new(t.event, t.glue, t.store, c, terminal_acu_criterion(c, name), &t.acu);
        /* Its heap profile and /memory right before it starts; a failure
         * leaves the run without profiles. */
        if (r >= 0 && t.store)
                (void) terminal_profiles_begin(t.event, t.glue, t.store, c, sc, duration_usec, &t.profiles);
        if (r >= 0)
                r = terminal_start(sc, duration_usec, &t, &run);
        if (r >= 0)
                rec = terminal_record_begin(c, sc, run);
        if (rec)
                terminal_profiles_set_run(t.profiles, run_record_id(rec));
        if (r >= 0)
                r = terminal_wait(&t, run);
        if (run)
                terminal_profiles_run_over(t.profiles);
        if (r >= 0)
                r = load_run_snapshot(run, &result);
        id = terminal_record_finish(rec, r >= 0 ? result : NULL, r);
        /* The profiles are written before the summary, which shows them,
         * and before a suite's next run starts. */
        if (run)
                profiles = terminal_profiles_wait(t.profiles);
        if (r >= 0)
                status = terminal_judge(c, &t, result, sc, id, profiles, acu, json, ret_object);
        else if (run)
                fprintf(stderr, "perfwatchd: [scenario %s]: %s\n", name, strerror(-r));
        json_decref(profiles);
        load_result_free(result);
        load_run_free(run);
        run_record_free(rec);
        terminal_close(&t);
        if (ret_cancelled)
                *ret_cancelled = t.cancelled;
        return status;
}

int terminal_run(const Config *c, const char *name, uint64_t duration_usec, bool json) {
        return terminal_run_one(c, name, duration_usec, json, NULL, NULL);
}
