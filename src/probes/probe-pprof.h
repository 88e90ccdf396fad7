/* Collects a Go service's pprof profiles: heap, goroutine and CPU, each on
 * its own schedule.  The raw profile is stored as received (for go tool
 * pprof), its decoded totals become series go.<target>.heap.inuse_space,
 * go.<target>.goroutines, go.<target>.cpu.samples ..., and its top functions
 * are kept with it. */
#pragma once

#include <systemd/sd-event.h>

#include "config/config.h"
#include "transport/curl-glue.h"
#include "probes/source.h"
#include "store/store.h"

typedef struct PprofProbe PprofProbe;

/* Starts the profiles `t` turns on (t->pprof_url set, intervals > 0), each a
 * source "go.<target>.heap", "go.<target>.goroutine", "go.<target>.cpu".
 * A CPU profile blocks cpu_seconds on the target, so it has its own
 * transfer and a timeout of cpu_seconds + timeout; nothing else waits for it.
 * Everything passed is borrowed and must outlive the probe. */
int pprof_probe_new(sd_event *e, CurlGlue *glue, Store *store, SourceSet *sources,
                    const TargetConfig *t, PprofProbe **ret);

/* Stops the timers and aborts transfers in flight; NULL is a no-op. */
PprofProbe *pprof_probe_free(PprofProbe *p);
