/* Polls a Go service's /memory JSON endpoint: every numeric field becomes
 * a series go.<target>.<field>. */
#pragma once

#include <systemd/sd-event.h>

#include "config/config.h"
#include "transport/curl-glue.h"
#include "probes/source.h"
#include "store/store.h"

typedef struct GoMemProbe GoMemProbe;

/* Starts polling `t->memory_url` every `t->memory_interval_usec` (fixed
 * rate, a little jitter, exponential backoff on failure, capped).  Everything
 * passed is borrowed and must outlive the probe; the probe registers its
 * source "go.<target>.memory" in `sources`. */
int gomem_probe_new(sd_event *e, CurlGlue *glue, Store *store, SourceSet *sources,
                    const TargetConfig *t, GoMemProbe **ret);

/* Stops the timer and aborts a poll in flight; NULL is a no-op.  Returns NULL. */
GoMemProbe *gomem_probe_free(GoMemProbe *p);
