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
