/* The profiles tied to a run (core/run-profiles.h) in terminal mode
 * (perfwatchd --run NAME, and each run of a suite): for a scenario with
 * `target = NAME`, the daemon's own run-profiles code, on the terminal's
 * sd-event loop, through its CurlGlue, into its read-write Store on the
 * [daemon] database (those acu_scaling's pollers share):
 *  - terminal_profiles_begin() right before the run starts: the heap
 *    profile and /memory before, and the CPU profile's timer;
 *  - terminal_profiles_set_run() once the run is recorded;
 *  - terminal_profiles_run_over() right after it ended: the heap profile
 *    and /memory after;
 *  - terminal_profiles_wait() runs the loop until the profiles object is
 *    written on the run, which the captures' own timeouts bound (the
 *    target's timeout; cpu_seconds more for the CPU profile), or until
 *    terminal_profiles_cancel() (SIGINT, SIGTERM): then what is in is
 *    written, the captures still in flight failed with "perfwatchd stopped
 *    before the capture ended".
 * One thread: the caller's, which runs the loop. */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config/config.h"
#include "store/store.h"
#include "transport/curl-glue.h"

typedef struct TerminalProfiles TerminalProfiles;

/* Right before a run of `sc` (shortened to `duration_usec` when not 0)
 * starts: when it has `target =`, begins its profiles on `event` through
 * `glue` into `store` (all borrowed: they must outlive *ret; `c` is read
 * only here).  0 with *ret (free it with terminal_profiles_free()), or with
 * *ret NULL when the scenario has no target; a negative errno with one line
 * on stderr when they cannot be taken (the run goes on without). */
int terminal_profiles_begin(sd_event *event, CurlGlue *glue, Store *store, const Config *c, const ScenarioConfig *sc,
                            uint64_t duration_usec, TerminalProfiles **ret);

/* The run's id, once recorded.  NULL is a no-op. */
void terminal_profiles_set_run(TerminalProfiles *tp, int64_t id);

/* Right after the run ended: the after-captures begin.  A run that was
 * not recorded (no id set) has nowhere to keep its profiles: they are
 * dropped, with a line on stderr.  NULL is a no-op. */
void terminal_profiles_run_over(TerminalProfiles *tp);

/* From a callback of the loop (a signal's): terminal_profiles_wait()
 * stops waiting, or, called before it, does not wait. */
void terminal_profiles_cancel(TerminalProfiles *tp, int signo);

/* After terminal_profiles_run_over(): runs the loop until the profiles
 * are written on the run (or cancelled: then what is in is written), and
 * returns them as read back from the run's extra.profiles, what
 * GET /v1/runs/{id} shows (a new reference), or NULL, with a line on
 * stderr, when the run has none.  NULL is a no-op returning NULL. */
json_t *terminal_profiles_wait(TerminalProfiles *tp);

/* Writes what is in, if anything still waits, and frees it.  NULL is a
 * no-op.  Returns NULL. */
TerminalProfiles *terminal_profiles_free(TerminalProfiles *tp);
