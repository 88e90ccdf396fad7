/* acu_scaling in terminal mode (perfwatchd --run spike, issue 8 item 6).
 *
 * The daemon judges acu_scaling from the capacity series its [capacity]
 * pollers store, over the run plus `settle`; terminal mode starts no
 * pollers of its own otherwise, so when acu_scaling judges the scenario
 * run (its `scenario`, enabled, a [capacity] source configured) it does
 * what the daemon would for that one run:
 *  - before the run starts, every [capacity] section's poller (the
 *    daemon's own, probes/probe-capacity.h) runs on the terminal's
 *    sd-event loop and stores into the [daemon] database the run is
 *    recorded in, flushed once a second;
 *  - when the run has completed, the polling goes on through the settle
 *    time and then while the window is not covered yet (CloudWatch
 *    publishes a datapoint minutes late), up to E + lag: the window's end
 *    E (acu-window.h) plus the criterion's lag, the time after which
 *    capacity data can no longer arrive (perfwatchd.conf(5): CloudWatch's
 *    5 minutes, less when the source's lookback cannot reach back that
 *    far).  Meanwhile a line every TERMINAL_ACU_PROGRESS_USEC on stderr:
 *    "perfwatchd: acu_scaling: waiting for capacity data up to HH:MM:SS
 *    (CloudWatch lags): REASON";
 *  - once a second the window is judged by criteria_acu_judge_run(), the
 *    evaluator's own function, and the wait ends at the first verdict
 *    (met, or not met: a violation seen is certain), or at E + lag with no
 *    verdict, saying which part of the window the data miss;
 *  - the verdict's line goes to stderr like the other criteria's, and a
 *    final window (met or not met) hangs on the run as extra.acu_window,
 *    as the daemon hangs it, so GET /v1/runs/ID shows it later.
 * SIGINT or SIGTERM while waiting stops it: no verdict.  One thread: the
 * caller's, which runs the loop. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config/config.h"
#include "criteria/criteria.h"
#include "store/store.h"
#include "transport/curl-glue.h"
#include "util/util.h"

#define TERMINAL_ACU_TICK_USEC     USEC_PER_SEC
#define TERMINAL_ACU_PROGRESS_USEC (5 * USEC_PER_SEC)

typedef struct TerminalAcu TerminalAcu;

/* The acu_scaling criterion of `c` when it judges runs of scenario `name`
 * (its scenario), or NULL.  It may be turned off or have no series: see
 * terminal_acu_polls(). */
const CriterionConfig *terminal_acu_criterion(const Config *c, const char *name);

/* Whether `cc` (terminal_acu_criterion()'s, may be NULL) judges with
 * capacity data: on, and a series to read.  When it is on but has no
 * series, one line on stderr says why it is not judged ("no [capacity]
 * source"). */
bool terminal_acu_polls(const CriterionConfig *cc);

/* The instant (ms) until which terminal mode waits for capacity data for
 * a run from started_ms to ended_ms under `cc`: the window's end E, the
 * later of ended_ms + settle and started_ms + scale_up_within, plus the
 * criterion's lag (ACU_WINDOW_LAG_MS when cc->lag_usec is 0). */
int64_t terminal_acu_wait_until_ms(const CriterionConfig *cc, int64_t started_ms, int64_t ended_ms);

/* Whether a judgement in `state` for `cause` may still change as capacity
 * data arrive: unknown for want of data (none stored yet, none in the
 * window, a gap, the data end before the window does). */
bool terminal_acu_waits(CriterionState state, CriterionCause cause);

/* The exit status (TERMINAL_RUN_*) of acu_scaling's verdict `state`: 0
 * met, 1 not met, 2 anything else. */
int terminal_acu_status(CriterionState state);

/* Starts polling every [capacity] section of `c` on `event`, through
 * `glue` (on `event`), into `store` (the [daemon] database, read-write,
 * for the loop's thread: the terminal's, shared with the run's profiles),
 * for the judgement of `cc` (whose series is set).  All are borrowed and
 * must outlive it.  0 with *ret (free it with terminal_acu_free()), or a
 * negative errno with one line on stderr. */
int terminal_acu_new(sd_event *event, CurlGlue *glue, Store *store, const Config *c, const CriterionConfig *cc,
                     TerminalAcu **ret);

/* Stops the wait of terminal_acu_judge() (from a callback of the loop,
 * e.g. a signal's), or, called before it, makes it end at once: with no
 * verdict, naming signal `signo`. */
void terminal_acu_cancel(TerminalAcu *a, int signo);

/* Judges run `id` (-1: not recorded: judged, but the window hangs on no
 * run) from started_ms to ended_ms, running the loop until a verdict or
 * E + lag (see above), then stops the pollers.  Prints the verdict's
 * line on stderr and returns terminal_acu_status() of it; with
 * `ret_window`, the acu_window object (a new reference; NULL when the
 * window was not judged). */
int terminal_acu_judge(TerminalAcu *a, int64_t id, int64_t started_ms, int64_t ended_ms, json_t **ret_window);

/* Stops the pollers and writes what they stored into the store, which
 * stays open (its owner closes it); NULL is a no-op.  Returns NULL. */
TerminalAcu *terminal_acu_free(TerminalAcu *a);
