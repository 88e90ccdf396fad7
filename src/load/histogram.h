/* A latency histogram with log-linear buckets (in the manner of
 * HdrHistogram): values in microseconds from 1 us to HIST_MAX_USEC, each
 * percentile within 1% of the exact one, constant memory (at most 64 KiB)
 * however many values it holds, and mergeable.  Not thread-safe: one
 * writer; merge copies into another thread's histogram. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Values above this (100 s) are counted in the top bucket; hist_max() still
 * reports the exact largest value recorded. */
#define HIST_MAX_USEC (100ULL * 1000000ULL)

typedef struct Histogram Histogram;

/* A new empty histogram; hist_free() frees it.  0 or -ENOMEM. */
int hist_new(Histogram **ret);

/* NULL is a no-op.  Returns NULL. */
Histogram *hist_free(Histogram *h);

/* Empties it (keeps the memory). */
void hist_reset(Histogram *h);

/* Records `n` values of `usec` (0 counts as 1 us's bucket).  O(1), no
 * allocation. */
void hist_record_n(Histogram *h, uint64_t usec, uint64_t n);
static inline void hist_record(Histogram *h, uint64_t usec) {
        hist_record_n(h, usec, 1);
}

/* Adds every value of `src` to `dst`: the result equals one histogram of
 * the union. */
void hist_merge(Histogram *dst, const Histogram *src);

uint64_t hist_count(const Histogram *h);
uint64_t hist_min(const Histogram *h);     /* exact; 0 when empty */
uint64_t hist_max(const Histogram *h);     /* exact; 0 when empty */
double hist_mean(const Histogram *h);      /* exact (sum / count); 0 when empty */

/* The value at percentile `p` (0..100: 50 is the median, 99.9 the p999),
 * within 1% of the exact one; hist_percentile(h, 100) == hist_max(h).
 * 0 when empty. */
uint64_t hist_percentile(const Histogram *h, double p);

/* A compact, versioned, byte-order independent encoding (only the non-empty
 * buckets), for the store.  hist_encode() returns the bytes needed; it
 * writes them when `size` is large enough.  hist_decode() replaces the
 * content of `h`: 0, or -EINVAL for bytes that are not a valid encoding
 * (never reads past `size`). */
size_t hist_encode(const Histogram *h, void *buf, size_t size);
int hist_decode(Histogram *h, const void *buf, size_t size);
