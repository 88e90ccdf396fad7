/* A latency histogram with log-linear buckets (in the manner of
 * HdrHistogram): values in microseconds from 1 us to HIST_MAX_USEC, each
 * percentile within 1% of the exact one (the layout gives 0.39%), constant
 * memory (21 040 bytes, at most 64 KiB) however many values it holds, and
 * mergeable.  Not thread-safe: one writer; merge copies into another
 * thread's histogram.  Every function but hist_new() and hist_free() takes
 * a non-NULL histogram. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Values above this (100 s) are counted in the top bucket; hist_max() still
 * reports the exact largest value recorded. */
#define HIST_MAX_USEC (100ULL * 1000000ULL)

typedef struct Histogram Histogram;

/* A new empty histogram in *ret, which the caller owns and frees with
 * hist_free(); the only allocation the module makes.  0 or -ENOMEM. */
int hist_new(Histogram **ret);

/* NULL is a no-op.  Returns NULL. */
Histogram *hist_free(Histogram *h);

/* Empties it (keeps the memory). */
void hist_reset(Histogram *h);

/* Records `n` values of `usec` (0 counts as 1 us's bucket; n = 0 changes
 * nothing).  O(1), no allocation.  The count stops at UINT64_MAX: past it,
 * only what fits is recorded. */
void hist_record_n(Histogram *h, uint64_t usec, uint64_t n);
static inline void hist_record(Histogram *h, uint64_t usec) {
        hist_record_n(h, usec, 1);
}

/* Adds every value of `src` to `dst`: the result equals one histogram of
 * the union, bucket for bucket, min, max and sum.  `src` is only read and
 * may be `dst`.  No allocation.  (Past UINT64_MAX values, the lowest that
 * fit are kept.) */
void hist_merge(Histogram *dst, const Histogram *src);

uint64_t hist_count(const Histogram *h);
uint64_t hist_min(const Histogram *h);     /* exact; 0 when empty */
uint64_t hist_max(const Histogram *h);     /* exact; 0 when empty */
double hist_mean(const Histogram *h);      /* exact (sum / count); 0 when empty */

/* The value at percentile `p` (0..100: 50 is the median, 99.9 the p999),
 * within 1% of the exact one, which is the nearest rank: the value at rank
 * ceil(p * count / 100) in sorted order (1-based).  p <= 0 (and NaN) give
 * hist_min(), p >= 100 hist_max().  A percentile that falls among values
 * above HIST_MAX_USEC is hist_max(): an upper bound, not within 1%.  0 when
 * empty.  Scans the buckets between min and max: about 2 600 at most. */
uint64_t hist_percentile(const Histogram *h, double p);

/* A compact, versioned, byte-order independent encoding (only the non-empty
 * buckets, varints and a CRC-32; the format is described in histogram.c),
 * for the store.  hist_encode() returns the bytes needed (a few KiB for a
 * long run, at most about 32 KiB); it writes them into the caller's `buf`
 * only when it is not NULL and `size` is large enough, so
 * hist_encode(h, NULL, 0) asks for the size.  The same histogram always
 * gives the same bytes.  hist_decode() replaces the content of `h` with
 * that of the caller's `buf`: 0, or -EINVAL for bytes that are not a valid
 * encoding, which leave `h` as it was (it never reads past `size`). */
size_t hist_encode(const Histogram *h, void *buf, size_t size);
int hist_decode(Histogram *h, const void *buf, size_t size);
