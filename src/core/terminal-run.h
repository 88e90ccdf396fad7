/* Terminal mode (perfwatchd --run NAME): one scenario of the config run in
 * the foreground, without the API or the pollers; a progress line per
 * second on stderr, the summary at the end, the run recorded in the
 * [daemon] database (core/run-record.h) and judged by the latency_p95
 * criterion. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

enum {
        TERMINAL_RUN_MET = 0,        /* the run completed and its p95 holds, or latency_p95
                                      * is turned off (enabled = no): nothing to fail */
        TERMINAL_RUN_NOT_MET = 1,    /* the run completed and its p95 does not hold */
        TERMINAL_RUN_ERROR = 2,      /* no verdict: unknown scenario, engine failure,
                                      * no answer at all, or cancelled by a signal */
};

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
