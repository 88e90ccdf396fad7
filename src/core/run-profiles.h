/* The profiles tied to one run of a scenario with `target = NAME` (issue
 * 8, point 8): the target's heap profile and its /memory figures right
 * before the run starts and right after it ends, and a CPU profile of
 * cpu_seconds during it, beginning once ramp_up is over (and no longer
 * than what is left of the run).  The profiles are taken through the pprof
 * collector's on-demand capture (probes/probe-pprof.h) and the /memory
 * figures by a poll of the target's memory_url of their own (when it
 * fails: the store's newest go.<target>.* samples, with "from": "store"
 * and "poll_error"), on the loop, without blocking it.  Once all are in
 * (or failed) the run's extra gets key "profiles":
 *   {"target": NAME, "heap_before": ID, "heap_after": ID, "cpu": ID,
 *    "cpu_seconds": N, "memory_before": {"at": ISO, FIELD: number, ...},
 *    "memory_after": {...}, "errors": {WHAT: reason, ...}}
 * with each FIELD named as in the /memory poller's series, nested ones
 * too (run_profiles_memory_parse()), and where a capture that failed is
 * null and says why under "errors" (a memory object that could not be read
 * is {"error": reason}).  A failed capture never fails the run.  Loop
 * thread only, but for run_profiles_memory_parse(). */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config/config.h"
#include "store/store.h"
#include "transport/curl-glue.h"

typedef struct RunProfiles RunProfiles;

/* Right before a run of `sc` (whose target is `t`) starts: polls /memory,
 * starts the heap capture and arms the CPU profile's timer.  Joins the
 * list at *list (owned by the caller, freed with run_profiles_free_all).
 * Everything from sc and t is copied.  0 and *ret (borrowed: valid until
 * run_profiles_run_over or _discard), or a negative errno. */
int run_profiles_begin(sd_event *e, CurlGlue *glue, Store *store, const ScenarioConfig *sc, const TargetConfig *t,
                       RunProfiles **list, RunProfiles **ret);

/* At most this many fields in a memory object. */
#define RUN_PROFILES_MEMORY_FIELDS_MAX 64

/* A /memory answer `body` (`size` bytes) as a memory object: its numeric
 * fields flattened as the /memory poller flattens them into its series
 * (util/json-stream.h: nested keys joined with '.', the same names and
 * values, so FIELD here is series go.<target>.FIELD), at most
 * RUN_PROFILES_MEMORY_FIELDS_MAX of them (then "fields_cut": true), and
 * "at": at_usec (CLOCK_REALTIME) in RFC 3339.  A new reference, or NULL
 * with why[n] saying why ("/memory: ...": not JSON, no numeric fields). */
json_t *run_profiles_memory_parse(const char *body, size_t size, uint64_t at_usec, char *why, size_t n);

/* The run's id, once the store has one. */
void run_profiles_set_run(RunProfiles *p, int64_t run_id);

/* Right after the run ended: polls /memory and starts the after-heap
 * capture.  A CPU profile not begun yet is recorded as failed.
 * When every capture is over the run's extra is written and `p` freed. */
void run_profiles_run_over(RunProfiles *p);

/* The run never started (its engine refused it): cancels and frees `p`
 * without writing anything. */
void run_profiles_discard(RunProfiles *p);

/* At exit: every entry of the list still waiting has what it holds written
 * with "perfwatchd stopped" for the captures in flight, and is freed. */
void run_profiles_free_all(RunProfiles **list);
