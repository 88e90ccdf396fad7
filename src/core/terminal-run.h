/* Terminal mode (perfwatchd --run NAME): one scenario of the config run in
 * the foreground, without the API or the pollers; a progress line per
 * second on stderr, the summary at the end, the run recorded in the
 * [daemon] database (core/run-record.h) and judged by the latency_p95
 * criterion, by zero_data_loss when NAME is its scenario, or by both; and
 * by acu_scaling too when NAME is its scenario and a [capacity] source is
 * configured, once the capacity data cover the run's window
 * (core/terminal-acu.h).  A scenario with `target =` takes the profiles
 * tied to its run (core/terminal-profiles.h), waited for before the
 * summary, which shows them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"

enum {
        TERMINAL_RUN_MET = 0,        /* the run completed and its criteria are met, or
                                      * turned off (enabled = no): nothing to fail */
        TERMINAL_RUN_NOT_MET = 1,    /* the run completed and a criterion is not met */
        TERMINAL_RUN_ERROR = 2,      /* no verdict: unknown scenario, engine failure,
                                      * no answer at all, cancelled by a signal, no
                                      * lost-write report for zero_data_loss, or no
                                      * capacity data covering acu_scaling's window */
};

/* Which criteria judge a run of scenario `name` of `c`: zero_data_loss
 * when `name` is its scenario; latency_p95 when `name` is its scenario
 * or is not zero_data_loss's (any scenario, as before zero_data_loss
 * judged runs); both when both name it.  One turned off judges nothing. */
void terminal_run_judges(const Config *c, const char *name, bool *ret_latency, bool *ret_writes);

/* zero_data_loss's exit status for a run's "writes" report (JSON text;
 * NULL: the run has none, TERMINAL_RUN_ERROR), by criterion `cc`'s
 * min_conflicts, with its line on stderr. */
int terminal_run_writes_status(const CriterionConfig *cc, const char *writes_json);

/* Two criteria's exit statuses as one: NOT_MET when either is not met,
 * else ERROR when either has no verdict, else MET. */
int terminal_run_worst(int a, int b);

/* Runs [scenario `name`] of `c` (borrowed), shortened to `duration_usec`
 * when that is not 0, and writes the summary to stdout, or, with `json`,
 * the run object to stdout and the summary to stderr.  The run is recorded in
 * [daemon] database; when it cannot be, one line on stderr says why and
 * the run goes on.  SIGINT and SIGTERM
 * cancel the run (the partial summary is still written); they are blocked
 * in the calling thread while it runs.  libcurl must be initialised
 * (curl_glue_global_init()).  Returns one of the TERMINAL_RUN_* exit
 * statuses; every problem is reported on stderr. */
int terminal_run(const Config *c, const char *name, uint64_t duration_usec, bool json);

/* terminal_run() for one scenario of a suite (core/terminal-suite.h): with
 * `json` and `ret_object`, the run object goes to *ret_object (the caller
 * decrefs it; left alone when the run has none) instead of stdout;
 * *ret_cancelled (when not NULL) says whether SIGINT or SIGTERM cancelled
 * the run. */
int terminal_run_one(const Config *c, const char *name, uint64_t duration_usec, bool json, json_t **ret_object,
                     bool *ret_cancelled);
