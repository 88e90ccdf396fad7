/* Terminal mode's record of its run in the database of [daemon] database:
 * begun (state running) before the run starts, finished with its figures
 * and histograms when it ends, so that the daemon's latency_p95 criterion
 * can judge it.  The daemon may hold the write lock for a moment: every
 * write is retried while the database is busy, for RUN_RECORD_BUSY_USEC at
 * most.  For one thread. */
#pragma once

#include <stdint.h>

#include "config/config.h"
#include "load/load-engine.h"
#include "store/store.h"
#include "util/util.h"

#define RUN_RECORD_BUSY_USEC (10 * USEC_PER_SEC)

typedef struct RunRecord RunRecord;

/* Opens (creating if needed) the database at `path` read-write as
 * store_open() does, retrying while a daemon holds its write lock, for
 * RUN_RECORD_BUSY_USEC at most: for terminal mode's other writers on the
 * same database (acu_scaling's capacity, the run's profiles).  0 with *ret,
 * or a negative errno with *ret_error (the caller frees it) as
 * store_open()'s. */
int run_record_open_store(const char *path, Store **ret, char **ret_error);

/* Opens (creating if needed) the database at `path` and records a new run
 * of `sc` (borrowed: it must outlive the record) in state running, started
 * at `started_usec` (CLOCK_REALTIME, the LoadResult's started_usec).
 * 0 with *ret (the caller frees it with run_record_free()), or a negative
 * errno with *ret_error (the caller frees it) saying "PATH: why" in one
 * line. */
int run_record_begin(const char *path, const ScenarioConfig *sc, uint64_t started_usec, RunRecord **ret,
                     char **ret_error);

/* Ends the recorded run with the final figures of `result` (borrowed;
 * its started_usec is the one given to run_record_begin()): its
 * state (completed, cancelled or failed), counts, rates, reason, and the
 * histograms: latency, service and lateness of the whole run under request
 * "", latency and service of each request name (those of requests sharing
 * a name merged).  0, or a negative errno with *ret_error as above. */
int run_record_finish(RunRecord *rec, const LoadResult *result, char **ret_error);

/* The state a run that ended in engine state `s` is recorded in:
 * completed, cancelled, or failed. */
StoreRunState run_record_state(LoadRunState s);

/* The summary of `result` for store_run_update() and store_run_finish():
 * the state is run_record_state()'s; the strings are borrowed from
 * `scenario`, `model` and `result`. */
StoreRun run_record_summary(const char *scenario, const char *model, const LoadResult *result);

/* Ends running run `id` of `s` (the caller's thread's) in one try, as
 * store_run_finish() does, with `run` (run_record_summary(), its state
 * possibly changed by the caller) and the histograms of `result` listed in
 * run_record_finish(), and the lost-write check's verdict (the result's
 * writes_json) as key "writes" of the run's extra, set first so that a
 * finished run always has it.  Shared by terminal mode and the daemon's runner.
 * 0 or store_run_finish()'s negative errno (-ENOMEM too). */
int run_record_store_finish(Store *s, int64_t id, const StoreRun *run, const LoadResult *result);

/* The run's id in the database. */
int64_t run_record_id(const RunRecord *rec);

/* Closes the database; a run begun and not finished stays running (the
 * daemon marks it aborted when it next starts).  NULL is a no-op.
 * Returns NULL. */
RunRecord *run_record_free(RunRecord *rec);
