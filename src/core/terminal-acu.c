/* acu_scaling in terminal mode: the daemon's capacity pollers on the
 * terminal's loop, and the evaluator's judgement of the run's window. */
#include "core/terminal-acu.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/run-record.h"
#include "core/terminal-run.h"
#include "probes/poller.h"
#include "probes/probe-capacity.h"
#include "probes/source.h"
#include "store/store.h"
#include "transport/curl-glue.h"
#include "util/units.h"

struct TerminalAcu {
        sd_event *event;                  /* borrowed */
        const Config *config;             /* borrowed */
        const CriterionConfig *cc;        /* borrowed */
        Store *store;                     /* borrowed */
        CurlGlue *glue;                   /* borrowed */
        SourceSet *sources;
        PollerList *pollers;
        sd_event_source *tick;
        bool flush_failing;

        /* terminal_acu_judge()'s wait */
        bool judging, done;
        int signo;                        /* the signal that stopped the wait; 0: none */
        int error;                        /* a negative errno that ended it */
        StoreRunLatest run;
        int64_t until_ms;
        uint64_t progress_usec;           /* CLOCK_MONOTONIC of the last progress line */
        CriterionResult res;
};

const CriterionConfig *terminal_acu_criterion(const Config *c, const char *name) {
        const CriterionConfig *cc = config_find_criterion(c, "acu_scaling");

        return cc && cc->scenario && strcmp(cc->scenario, name) == 0 ? cc : NULL;
}

bool terminal_acu_polls(const CriterionConfig *cc) {
        if (!cc || cc->disabled)
                return false;
        if (cc->series)
                return true;
        if (cc->several_capacity)
                fprintf(stderr, "perfwatchd: acu_scaling: not judged: several [capacity] sources and no series = "
                        "in [criterion acu_scaling]\n");
        else
                fprintf(stderr, "perfwatchd: acu_scaling: not judged: no [capacity] source\n");
        return false;
}

int64_t terminal_acu_wait_until_ms(const CriterionConfig *cc, int64_t started_ms, int64_t ended_ms) {
        int64_t settled = ended_ms + (int64_t) (cc->settle_usec / USEC_PER_MSEC);
        int64_t deadline = started_ms + (int64_t) (cc->scale_up_within_usec / USEC_PER_MSEC);
        int64_t lag = cc->lag_usec > 0 ? (int64_t) (cc->lag_usec / USEC_PER_MSEC) : ACU_WINDOW_LAG_MS;

        return (settled > deadline ? settled : deadline) + lag;
}

bool terminal_acu_waits(CriterionState state, CriterionCause cause) {
        if (state != CRITERION_STATE_UNKNOWN)
                return false;
        switch (cause) {
        case CRITERION_CAUSE_UNKNOWN_SERIES:
        case CRITERION_CAUSE_NO_SAMPLES:
        case CRITERION_CAUSE_PENDING:
        case CRITERION_CAUSE_GAP:
                return true;
        default:
                return false;
        }
}

int terminal_acu_status(CriterionState state) {
        switch (state) {
        case CRITERION_STATE_MET: return TERMINAL_RUN_MET;
        case CRITERION_STATE_NOT_MET: return TERMINAL_RUN_NOT_MET;
        default: break;
        }
        return TERMINAL_RUN_ERROR;
}

static const char *hms(int64_t ms, char buf[static 16]) {
        time_t t = (time_t) (ms / 1000);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, 16, "%H:%M:%S", &tm) == 0)
                snprintf(buf, 16, "?");
        return buf;
}

/* Writes what the pollers queued; says once when it starts failing (the
 * samples stay queued for the next try) and when it works again. */
static void flush(TerminalAcu *a) {
        int r = store_flush(a->store);
        StoreHealth h;
        char reason[300];

        if (r < 0 && !a->flush_failing) {
                store_health(a->store, &h);
                fprintf(stderr, "perfwatchd: %s: cannot write the capacity samples: %s (kept for the next try)\n",
                        a->config->daemon.database, store_health_reason(&h, reason, sizeof reason));
        } else if (r >= 0 && a->flush_failing)
                fprintf(stderr, "perfwatchd: %s: capacity samples written again\n", a->config->daemon.database);
        a->flush_failing = r < 0;
}

/* One judgement of the window as of now: the wait ends at a verdict,
 * at anything later data cannot change, or at until_ms. */
static void judge_now(TerminalAcu *a) {
        uint64_t now = now_realtime_usec(), mono = now_monotonic_usec();
        char until[16];
        int r;

        criteria_result_clear(&a->res);
        r = criteria_acu_judge_run(&a->res, a->cc, a->store, &a->run, now, 0);
        if (r < 0) {
                a->error = r;
                a->done = true;
                return;
        }
        if (!terminal_acu_waits(a->res.state, a->res.cause) || (int64_t) (now / USEC_PER_MSEC) >= a->until_ms) {
                a->done = true;
                return;
        }
        if (a->progress_usec != 0 && mono - a->progress_usec < TERMINAL_ACU_PROGRESS_USEC)
                return;
        a->progress_usec = mono;
        fprintf(stderr, "perfwatchd: acu_scaling: waiting for capacity data up to %s (CloudWatch lags): %s\n",
                hms(a->until_ms, until), a->res.reason ?: "?");
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        TerminalAcu *a = userdata;

        (void) usec;
        flush(a);
        if (a->judging && !a->done)
                judge_now(a);
        if (sd_event_source_set_time_relative(s, TERMINAL_ACU_TICK_USEC) < 0 ||
            sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) < 0) {
                a->error = -EIO;
                a->done = true;
        }
        return 0;
}

static int start_pollers(TerminalAcu *a) {
        PollerContext ctx;
        int r;

        r = source_set_new(a->store, &a->sources);
        if (r >= 0)
                r = poller_list_new(&a->pollers);
        if (r < 0)
                return r;
        ctx = (PollerContext) { .event = a->event, .glue = a->glue, .store = a->store, .sources = a->sources,
                                .config = a->config };
        /* capacity_poller_kind logs what failed, naming the section. */
        return capacity_poller_kind.build(&ctx, a->pollers);
}

int terminal_acu_new(sd_event *event, CurlGlue *glue, Store *store, const Config *c, const CriterionConfig *cc,
                     TerminalAcu **ret) {
        TerminalAcu *a = calloc(1, sizeof *a);
        int r;

        if (!a) {
                fprintf(stderr, "perfwatchd: acu_scaling: out of memory\n");
                return -ENOMEM;
        }
        *a = (TerminalAcu) { .event = event, .glue = glue, .store = store, .config = c, .cc = cc };
        r = start_pollers(a);
        if (r >= 0)
                r = sd_event_add_time_relative(event, &a->tick, CLOCK_MONOTONIC, TERMINAL_ACU_TICK_USEC, 0, on_tick,
                                               a);
        if (r >= 0)
                (void) sd_event_source_set_description(a->tick, "capacity-flush");
        if (r < 0) {
                fprintf(stderr, "perfwatchd: acu_scaling: cannot poll the capacity: %s\n", strerror(-r));
                terminal_acu_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

void terminal_acu_cancel(TerminalAcu *a, int signo) {
        if (a->done)
                return;
        a->signo = signo;
        a->done = true;
}

/* A final window hangs on the run, as the daemon's hang_acu_window()
 * does; the daemon may hold the write lock for a moment. */
static void hang_window(TerminalAcu *a, int64_t id) {
        uint64_t start = now_monotonic_usec();
        struct timespec pause = { .tv_nsec = 20 * 1000 * 1000 };
        char *json;
        int r;

        if (id <= 0 || !a->res.acu_window ||
            (a->res.state != CRITERION_STATE_MET && a->res.state != CRITERION_STATE_NOT_MET))
                return;
        json = json_dumps(a->res.acu_window, JSON_COMPACT | JSON_SORT_KEYS);
        if (!json) {
                fprintf(stderr, "perfwatchd: acu_scaling: cannot hang the window on run %" PRId64 ": out of memory\n",
                        id);
                return;
        }
        while ((r = store_run_set_extra(a->store, id, "acu_window", json)) == -EBUSY &&
               now_monotonic_usec() - start < RUN_RECORD_BUSY_USEC)
                (void) nanosleep(&pause, NULL);
        if (r < 0)
                fprintf(stderr, "perfwatchd: acu_scaling: cannot hang the window on run %" PRId64 ": %s\n", id,
                        strerror(-r));
        free(json);
}

/* The verdict's line on stderr. */
static void print_verdict(const TerminalAcu *a) {
        const AcuWindowResult *w = &a->res.acu;
        char peak[32], within[32], until[16];

        if (a->signo) {
                fprintf(stderr, "perfwatchd: acu_scaling: no verdict: %s while waiting for capacity data\n",
                        strsignal(a->signo));
                return;
        }
        if (a->error) {
                fprintf(stderr, "perfwatchd: acu_scaling: no verdict: %s\n", strerror(-a->error));
                return;
        }
        switch (a->res.state) {
        case CRITERION_STATE_MET:
                fprintf(stderr, "perfwatchd: acu_scaling: met: %g -> %g ACU, peak after %s (scale_to %g within %s)\n",
                        w->start_acu, w->peak_acu,
                        units_format_duration((uint64_t) w->time_to_peak_ms * USEC_PER_MSEC, peak, sizeof peak),
                        w->params.scale_to,
                        units_format_duration((uint64_t) w->params.scale_up_within_ms * USEC_PER_MSEC, within,
                                              sizeof within));
                break;
        case CRITERION_STATE_NOT_MET:
                fprintf(stderr, "perfwatchd: acu_scaling: not met: %s\n", w->reason);
                break;
        default:
                fprintf(stderr, "perfwatchd: acu_scaling: no verdict: %s (waited until %s)\n", a->res.reason ?: "?",
                        hms(a->until_ms, until));
                break;
        }
}

int terminal_acu_judge(TerminalAcu *a, int64_t id, int64_t started_ms, int64_t ended_ms, json_t **ret_window) {
        int r = 0;

        a->run = (StoreRunLatest) { .id = id, .started_at_ms = started_ms, .ended_at_ms = ended_ms };
        a->until_ms = terminal_acu_wait_until_ms(a->cc, started_ms, ended_ms);
        a->judging = true;
        flush(a);
        judge_now(a);
        while (!a->done && r >= 0)
                r = sd_event_run(a->event, UINT64_MAX);
        if (r < 0 && !a->error)
                a->error = r;
        /* Nothing more to poll: the last samples go to the database. */
        a->pollers = poller_list_free(a->pollers);
        flush(a);
        print_verdict(a);
        if (a->signo || a->error)
                return TERMINAL_RUN_ERROR;
        hang_window(a, id);
        if (ret_window)
                *ret_window = json_incref(a->res.acu_window);
        return terminal_acu_status(a->res.state);
}

TerminalAcu *terminal_acu_free(TerminalAcu *a) {
        if (!a)
                return NULL;
        sd_event_source_disable_unref(a->tick);
        poller_list_free(a->pollers);
        source_set_free(a->sources);
        (void) store_flush(a->store);
        criteria_result_clear(&a->res);
        free(a);
        return NULL;
}
