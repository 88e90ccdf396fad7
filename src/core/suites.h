/* The daemon's suites (issue 8, point 7): a [suite NAME] runs its
 * scenarios one after the other, as ordinary runs of the runner
 * (core/runner.h), when its schedule fires or when asked through the API,
 * after the pre-flight checks of core/preflight.h.  Those checks block, so
 * they run on a thread of their own, which hands the outcome back to the
 * loop through an eventfd; the loop then starts the first run, or ends the
 * suite failed with the checks' reasons before any load.
 *
 * While a suite is active (its pre-flight, its runs and between them) it
 * holds the runner (runner_hold()): a scenario's schedule that fires is
 * skipped and counted, and POST /v1/scenarios/NAME/run answers 409.  A
 * suite's schedule that fires while a run or a suite is active is skipped
 * and counted too.  A run that is cancelled ends the suite cancelled; one
 * that is aborted (SIGTERM) ends it aborted; one that fails does not stop
 * it, but it ends failed.
 *
 * The latest run of each suite is kept in memory only (its runs keep
 * extra.suite in the store); its verdict is read from the latest criteria
 * report handed to suites_set_report().
 *
 * Loop thread only, every function. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config/config.h"
#include "core/runner.h"
#include "criteria/criteria.h"
#include "store/store.h"

typedef struct Suites Suites;

/* Called on the loop thread whenever suites_json() would answer otherwise. */
typedef void (*SuitesChangedFn)(Suites *s, void *userdata);

/* `runner` is borrowed and must outlive the Suites; the caller forwards
 * the runner's ended calls to suites_run_ended().  0 or a negative errno. */
int suites_new(sd_event *event, Runner *runner, SuitesChangedFn changed, void *userdata, Suites **ret);

/* Takes the suites of `config` (borrowed until the next call or
 * suites_free()) and rebuilds their schedule timers.  An active suite
 * goes on with the scenarios it started with. */
int suites_set_config(Suites *s, const Config *config);

/* Starts suite `name` now: its pre-flight checks (or, with preflight = no,
 * its first run).  0; -ENOENT when there is no such suite; -EBUSY when a
 * run or a suite is active; -ESHUTDOWN when stopping; another negative
 * errno with *ret_error (the caller frees it; may be NULL). */
int suites_start(Suites *s, const char *name, RunTrigger trigger, char **ret_error);

/* The runner's word that run `id` of `scenario` ended in `state`: the
 * active suite starts its next run, or ends. */
void suites_run_ended(Suites *s, int64_t id, const char *scenario, StoreRunState state);

/* The latest criteria report (borrowed for the call: what the verdicts
 * need is copied). */
void suites_set_report(Suites *s, const CriteriaReport *report);

/* At SIGTERM, after runner_stop(): a pre-flight still running is
 * abandoned (its thread stops after its current check), the active
 * suite ends aborted, and no suite starts afterwards. */
void suites_stop(Suites *s);

/* The active suite's name (borrowed), or NULL. */
const char *suites_active(const Suites *s);

/* GET /v1/suites' list (perfwatchd(8)): each configured suite with its
 * schedule, next_run_at, runs_skipped and last_run.  A new reference. */
json_t *suites_json(Suites *s);

/* What STATUS= says about suites: "suite seed 2/3 spike" while one is
 * active, its failure for a while after one failed, else "".  Borrowed
 * until the next call into the Suites. */
const char *suites_status(Suites *s);

/* Stops as suites_stop() does, then frees.  NULL is a no-op.  Returns NULL. */
Suites *suites_free(Suites *s);
