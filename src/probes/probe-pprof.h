/* Collects a Go service's pprof profiles: heap, goroutine and CPU, each on
 * its own schedule.  The raw profile is stored as received (for go tool
 * pprof), its decoded totals become series go.<target>.heap.inuse_space,
 * go.<target>.goroutines, go.<target>.cpu.samples ..., and its top functions
 * are kept with it. */
#pragma once

#include "probes/poller.h"

/* The kind's row for the manager's table: for every [target] with a
 * pprof_url, a poller per profile kind whose interval is not 0, each a
 * source "go.<target>.heap", "go.<target>.goroutine", "go.<target>.cpu"
 * (kind "pprof").  A CPU profile blocks cpu_seconds on the target, so it
 * has its own transfer and a timeout of cpu_seconds + timeout; nothing
 * else waits for it. */
extern const PollerKind pprof_poller_kind;

/* ---------------------------------------------------------------- on demand
 * One profile taken now, outside the schedules (a run's before/after heap
 * and its CPU profile): the same request, size cap, decoding and storage
 * (store_profile_add, kind "heap" or "cpu") as the collectors', on the
 * loop through `glue`, never blocking it.  Its series are not appended and
 * nothing is pruned. */
typedef struct PprofCapture PprofCapture;

/* Called once on the loop when the capture ends: id > 0 the stored
 * profile's id and error NULL, or id 0 and a one-line reason.  The capture
 * frees itself right after this returns. */
typedef void (*PprofCaptureFn)(int64_t id, const char *error, void *userdata);

/* Starts capturing target `t`'s profile of `kind` ("heap" or "cpu"; a CPU
 * profile lasts `cpu_seconds`, at least 1).  Go records one CPU profile at
 * a time, so a CPU capture takes turns with the periodic CPU collector of
 * the same pprof_url: it waits (on a timer of the glue's loop) while that
 * one records, at most that profile's transfer timeout and a second (then
 * fn gets the reason), and the collector skips its CPU profiles while the
 * capture waits or records, counting them as its source's
 * "cpu_skipped_for_runs".  Everything from `t` is copied.
 * 0 and *ret (owned by the capture until fn runs: keep it only to cancel),
 * or a negative errno with a reason in error[n] (fn is not called). */
int pprof_capture_start(CurlGlue *glue, Store *store, const TargetConfig *t, const char *kind,
                        uint64_t cpu_seconds, PprofCaptureFn fn, void *userdata, PprofCapture **ret,
                        char *error, size_t n);

/* Aborts a capture still running, without calling its fn.  NULL is a
 * no-op.  Returns NULL. */
PprofCapture *pprof_capture_cancel(PprofCapture *c);
