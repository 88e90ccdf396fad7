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
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/run-record.h"
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

static int terminal_open(Terminal *t) {
        sigset_t mask;

        *t = (Terminal) { .pipe = { -1, -1 }, .signal_fd = -1 };
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (pthread_sigmask(SIG_BLOCK, &mask, &t->old_mask) != 0)
                return -EINVAL;
        t->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (t->signal_fd < 0 || pipe2(t->pipe, O_CLOEXEC) < 0)
                return -errno;
        /* Only the writer is non-blocking: this thread waits on the reader. */
        return fcntl(t->pipe[1], F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
}

static void terminal_close(Terminal *t) {
        for (size_t i = 0; i < 2; i++)
                if (t->pipe[i] >= 0)
                        close(t->pipe[i]);
        if (t->signal_fd >= 0)
                close(t->signal_fd);
        pthread_sigmask(SIG_SETMASK, &t->old_mask, NULL);
}

static void terminal_on_signal(Terminal *t, LoadRun *run, uint64_t timeout_usec) {
        struct signalfd_siginfo si;
        char tbuf[64];

        if (read(t->signal_fd, &si, sizeof si) != (ssize_t) sizeof si || t->cancelled)
                return;
        t->cancelled = true;
        fprintf(stderr, "perfwatchd: %s: cancelling the run; requests in flight get up to %s to end\n",
                strsignal((int) si.ssi_signo), units_format_duration(timeout_usec, tbuf, sizeof tbuf));
        load_run_cancel(run);
}

/* Prints each second's progress until the run is over. */
static int terminal_wait(Terminal *t, LoadRun *run, uint64_t timeout_usec) {
        char line[256];
        Message m;

        for (;;) {
                struct pollfd p[2] = { { t->pipe[0], POLLIN, 0 }, { t->signal_fd, POLLIN, 0 } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[1].revents)
                        terminal_on_signal(t, run, timeout_usec);
                if (!p[0].revents)
                        continue;
                if (read(t->pipe[0], &m, sizeof m) != (ssize_t) sizeof m)
                        return -EIO;
                if (m.done)
                        return 0;
                load_report_second(&m.second, line, sizeof line);
                fprintf(stderr, "%s\n", line);
        }
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

/* The exit status of a run that is over, with the reason on stderr. */
static int terminal_verdict(const Config *c, const LoadResult *r, const ScenarioConfig *sc) {
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
                        "closed loop, rounded latencies); exit 0\n", sc->name);
                return TERMINAL_RUN_MET;
        }
        if (hist_count(r->total.latency) == 0) {
                fprintf(stderr, "perfwatchd: [scenario %s]: no request was answered, no verdict: %s\n", sc->name,
                        r->reason ?: "nothing was sent");
                return TERMINAL_RUN_ERROR;
        }
        terminal_run_judges(c, sc->name, &latency, &writes);
        latency = latency && !turned_off(lat, writes && !zdl->disabled);
        writes = writes && !turned_off(zdl, latency);
        if (latency)
                status = latency_status(lat, r);
        if (writes)
                status = terminal_run_worst(status, terminal_run_writes_status(zdl, result_writes(r)));
        return status;
}

/* Writes the summary, and the JSON run object with `json`; `id` is the
 * run's in `database`, or < 0 when it was not recorded. */
static int terminal_report(const LoadResult *r, const ScenarioConfig *sc, int64_t id, const char *database,
                           bool json, json_t **ret_object) {
        LoadReportInfo info = { .id = id, .scenario = sc->name, .model = sc->model };
        json_t *j;

        (void) load_report_text(r, &info, json ? stderr : stdout);
        if (id >= 0)
                fprintf(json ? stderr : stdout, "  recorded as run %" PRId64 " in %s\n", id, database);
        if (!json)
                return 0;
        j = load_report_json(r, &info);
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

int terminal_run_one(const Config *c, const char *name, uint64_t duration_usec, bool json, json_t **ret_object,
                     bool *ret_cancelled) {
        const ScenarioConfig *sc = config_find_scenario(c, name);
        LoadResult *result = NULL;
        RunRecord *rec = NULL;
        LoadRun *run = NULL;
        int64_t id;
        Terminal t;
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
        r = terminal_open(&t);
        if (r < 0)
                fprintf(stderr, "perfwatchd: cannot watch for signals: %s\n", strerror(-r));
        if (r >= 0)
                r = terminal_start(sc, duration_usec, &t, &run);
        if (r >= 0)
                rec = terminal_record_begin(c, sc, run);
        if (r >= 0)
                r = terminal_wait(&t, run, sc->timeout_usec);
        if (r >= 0)
                r = load_run_snapshot(run, &result);
        id = terminal_record_finish(rec, r >= 0 ? result : NULL, r);
        if (r >= 0 && terminal_report(result, sc, id, c->daemon.database, json, ret_object) >= 0)
                status = terminal_verdict(c, result, sc);
        else if (r < 0 && run)
                fprintf(stderr, "perfwatchd: [scenario %s]: %s\n", name, strerror(-r));
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
