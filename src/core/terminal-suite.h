/* A suite in terminal mode (perfwatchd --run A,B,...): the seed's
 * run_all_tests.sh as one command.  Every name is checked first, then the
 * pre-flight checks (core/preflight.h) run, then each scenario runs in the
 * given order exactly as terminal_run() runs it (recorded, summary
 * printed), and a combined verdict ends it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

/* Runs the suite `list` (scenario names separated by commas, borrowed)
 * of `c`, each run shortened to `duration_usec` when that is not 0; with
 * `json`, a JSON array of the run objects on stdout (null for a run that
 * has none).  Without `preflight`, the pre-flight checks are skipped.  An
 * empty or unknown name, or a failed pre-flight check, ends it before any
 * load with TERMINAL_RUN_ERROR; otherwise the runs' exit statuses
 * combined by terminal_run_worst().  A run cancelled by SIGINT or SIGTERM
 * ends the suite there (TERMINAL_RUN_ERROR).  One line per scenario and
 * one for the suite on stderr at the end.  libcurl must be initialised. */
int terminal_suite(const Config *c, const char *list, uint64_t duration_usec, bool json, bool preflight);
