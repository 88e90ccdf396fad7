/* The daemon's scenario runs (issue 7, points 3 and 4): each enabled
 * [scenario] with a `schedule` gets a cron timer; a run (scheduled, or
 * asked for through the API) goes on the load engine's own thread; at most
 * one run is active at a time: a schedule that fires while one is active is
 * skipped and logged (and counted), never overlapped.
 *
 * A run is recorded in the store (store_run_begin() when it starts,
 * store_run_update() every second, store_run_finish() with its histograms
 * when it ends; the engine's on_done only wakes the loop, which takes the
 * final snapshot and finishes the run there).  Each second's figures go to
 * the store as series load.<scenario>.<field> through store_submit().
 *
 * Loop thread only, every function. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config/config.h"
#include "store/store.h"
#include "transport/curl-glue.h"

typedef struct Runner Runner;

/* Why a run started. */
typedef enum RunTrigger {
        RUN_TRIGGER_SCHEDULE,
        RUN_TRIGGER_API,
} RunTrigger;

/* Called on the loop thread whenever what runner_scenarios_json() or
 * runner_active_json() would answer changed (a run began, a second passed,
 * a run ended, the config changed), so that the owner can publish it. */
typedef void (*RunnerChangedFn)(Runner *r, void *userdata);

/* `store` is borrowed (read-write, the loop's).  0 or a negative errno. */
int runner_new(sd_event *event, Store *store, RunnerChangedFn changed, void *userdata, Runner **ret);

/* The loop's transfers (borrowed; must outlive the runner): with it a run
 * of a scenario with `target =` takes that target's profiles
 * (core/run-profiles.h); without, it takes none. */
void runner_set_glue(Runner *r, CurlGlue *glue);

/* Takes the scenarios of `config` (borrowed: it must stay alive until the
 * next runner_set_config() or runner_free()) and rebuilds the schedule
 * timers.  An active run goes on untouched (the engine copied its
 * scenario), even when the new config no longer has its scenario. */
int runner_set_config(Runner *r, const Config *config);

/* Starts a run of scenario `name` now.  0 with *ret_id (may be NULL) the
 * new run's id; -ENOENT when there is no such scenario; -EBUSY when a run
 * is active (then *ret_id gets the active run's id) or a suite holds the
 * runner (runner_hold(): *ret_id -1); another negative errno
 * with *ret_error (the caller frees it; may be NULL) saying why in one line
 * (the store cannot record it, the engine refused the scenario). */
int runner_start(Runner *r, const char *name, RunTrigger trigger, int64_t *ret_id, char **ret_error);

/* A run that is part of a suite (core/suites.h): what its extra object
 * says, {"suite": {name, started_at, position, of}}. */
typedef struct RunnerSuiteRun {
        const char *name;
        uint64_t started_usec;       /* CLOCK_REALTIME: when the suite started */
        unsigned position, of;       /* 1-based place of the run in the suite */
} RunnerSuiteRun;

/* As runner_start(), for a run of a suite (`suite` borrowed): it starts
 * while the runner is held (runner_hold()), and its extra object carries
 * `suite`. */
int runner_start_suite_run(Runner *r, const char *name, RunTrigger trigger, const RunnerSuiteRun *suite,
                           int64_t *ret_id, char **ret_error);

/* While `holder` (a suite's name, copied; NULL releases) holds the runner,
 * runner_start() answers -EBUSY (*ret_id -1 when no run is active) and a
 * scenario's schedule that fires is skipped and counted as during a run. */
void runner_hold(Runner *r, const char *holder);

/* The suite holding the runner (borrowed), or NULL. */
const char *runner_holder(const Runner *r);

/* Called on the loop thread when a run is over and recorded (or could not
 * be: then `state` is failed), with its id, scenario (borrowed for the
 * call) and final state; also from runner_stop().  The runner has no
 * active run during the call, so `fn` may start the next one. */
typedef void (*RunnerEndedFn)(Runner *r, int64_t id, const char *scenario, StoreRunState state, void *userdata);

/* Sets who is told when a run ends (NULL: nobody). */
void runner_set_ended(Runner *r, RunnerEndedFn fn, void *userdata);

/* Cancels the active run `id`: it stops sending, keeps what it measured and
 * ends `cancelled` (asynchronously: GET /v1/runs/{id} says running until it
 * is over).  0; -ENOENT when `id` is not the active run. */
int runner_cancel(Runner *r, int64_t id);

/* At SIGTERM: stops the active run, if any, waiting for its thread (a few
 * seconds at most: requests in flight are aborted), and records it
 * `aborted` with its partial figures and histograms.  No new run starts
 * afterwards. */
void runner_stop(Runner *r);

/* The active run's id, or -1 when none. */
int64_t runner_active_id(const Runner *r);

/* The active run's figures so far as the run object of GET /v1/runs/{id}
 * (load_report_json()), state "running"; NULL when none is active (or out
 * of memory).  A new reference. */
json_t *runner_active_json(Runner *r);

/* GET /v1/scenarios' list: for each configured scenario {name, model,
 * enabled, schedule (null: none), next_run_at (RFC 3339 UTC; null when not
 * scheduled), base_url, duration_s, active_run (id or null), last_run
 * {id, state, started_at, ended_at, latency_ms:{p95}} or null, runs_skipped
 * (schedules skipped because a run was active)}.  A new reference. */
json_t *runner_scenarios_json(Runner *r);

/* What STATUS= says about runs: "run 12 peak 40s" while one is active, the
 * last failure ("run 11 spike failed: ...") for a while after one, else "".
 * Borrowed until the next call into the runner. */
const char *runner_status(Runner *r);

/* Stops as runner_stop() does, then frees.  NULL is a no-op.  Returns NULL. */
Runner *runner_free(Runner *r);
