/* Decodes a pprof profile (profile.proto, usually gzipped, as Go's
 * net/http/pprof serves it) into a small summary: the total of each sample
 * type and the top functions by flat value.  The reader checks every length
 * and index against the buffer: bad input gives an error, never a crash. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PPROF_TOP_MAX 10

typedef struct PprofSampleType {
        char *type;                  /* "inuse_space", "samples", "goroutine" */
        char *unit;                  /* "bytes", "count", "nanoseconds" */
        double total;                /* sum over every sample */
} PprofSampleType;

typedef struct PprofTop {
        char *function;              /* leaf function name ("main.leak") */
        double flat;                 /* value of the top sample type where it is the leaf */
} PprofTop;

typedef struct PprofSummary {
        PprofSampleType *types;
        size_t n_types;
        size_t top_type;             /* index into types the top list ranks by:
                                      * default_sample_type, else the last */
        PprofTop top[PPROF_TOP_MAX];
        size_t n_top;                /* sorted by flat, descending */
        uint64_t n_samples;
        int64_t time_nanos;          /* when the profile was taken (0: unknown) */
        int64_t duration_nanos;      /* for CPU profiles */
        int64_t period;
} PprofSummary;

/* Decodes `size` bytes at `data`: gunzips when they start with the gzip
 * magic (refusing to inflate past `max_inflated` bytes), then reads the
 * protobuf.  0 and *ret (caller frees with pprof_summary_free), or -EINVAL /
 * -EFBIG / -ENOMEM with a one-line reason in `error` ("truncated varint at
 * offset 812", "sample.location_id 99 is not a known location"...). */
int pprof_decode(const void *data, size_t size, size_t max_inflated, PprofSummary **ret,
                 char *error, size_t error_size);

/* NULL is a no-op.  Returns NULL. */
PprofSummary *pprof_summary_free(PprofSummary *s);

/* {"sample_types":[{"type","unit","total"}...], "top_type": "inuse_space",
 *  "top":[{"function","flat"}...], "samples": N, "duration_ns": N}.  New
 * reference, NULL on ENOMEM. */
json_t *pprof_summary_to_json(const PprofSummary *s);
