#!/bin/bash
# What the latency histogram costs.  A small C driver compiled here (-O2, no
# sanitizers) from src/load/histogram.c records N values (default 100M),
# read in turn from a ring of 1M latencies drawn once (log-normal around
# 2 ms with a Pareto tail, fixed seed), and prints the time per record; the
# same loop only summing the values shows what reading them costs.  Then Q
# percentile queries (p50, p90, p95, p99, p99.9 in turn) on the full
# histogram, a merge, an encode and a decode, with the encoded size and the
# histogram's percentiles against the ring's exact ones.  Nothing runs but
# the driver.
#   bench/histogram.sh [N] [Q]     defaults 100000000 and 1000000
set -u
. "$(dirname "$0")/lib.sh"

N=${1:-100000000}
Q=${2:-1000000}
for v in "$N" "$Q"; do
        case $v in
        ''|*[!0-9]*|0) echo "usage: $0 [N] [Q]: \"$v\" is not a positive count" >&2; exit 2 ;;
        esac
done
install_missing || exit 1
bench_work

say "building the driver from src/load/histogram.c (-O2, no sanitizers)"
cat >"$WORK/driver.c" <<'C'
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "load/histogram.h"

#define RING (1 << 20)

static uint64_t state = 42;

static uint64_t rng(void) {             /* splitmix64 */
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static double unit(void) {
        return ((rng() >> 11) + 1) * 0x1.0p-53;
}

/* Log-normal around 2 ms, one in 50 from a Pareto tail above 20 ms. */
static uint64_t draw(void) {
        double v;

        if (rng() % 50 == 0)
                v = 20000 * pow(unit(), -1 / 1.5);
        else
                v = 2000 * exp(0.5 * sqrt(-2 * log(unit())) * cos(2 * M_PI * unit()));
        return v > 1e12 ? (uint64_t) 1e12 : (uint64_t) v;
}

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return (x > y) - (x < y);
}

int main(int argc, char **argv) {
        static const double pcts[] = { 50, 90, 95, 99, 99.9 };
        static uint64_t ring[RING], sorted[RING];
        static unsigned char buf[64 << 10];
        long n = atol(argv[1]), q = atol(argv[2]);
        Histogram *h = NULL, *m = NULL, *ring_h = NULL;
        volatile uint64_t sink = 0;
        uint64_t acc = 0;
        double t0, t_read, t_rec, t_q, t_merge, t_enc, t_dec;
        size_t size = 0;

        if (hist_new(&h) < 0 || hist_new(&m) < 0 || hist_new(&ring_h) < 0)
                return 1;
        for (long i = 0; i < RING; i++) {
                ring[i] = sorted[i] = draw();
                hist_record(ring_h, ring[i]);
        }
        qsort(sorted, RING, sizeof(*sorted), cmp);

        t0 = now();
        for (long i = 0; i < n; i++)
                acc += ring[i & (RING - 1)];
        t_read = now() - t0;
        sink = acc;

        t0 = now();
        for (long i = 0; i < n; i++)
                hist_record(h, ring[i & (RING - 1)]);
        t_rec = now() - t0;

        t0 = now();
        for (long i = 0; i < q; i++)
                acc += hist_percentile(h, pcts[i % 5]);
        t_q = now() - t0;
        sink = acc;

        t0 = now();
        for (int i = 0; i < 1000; i++)
                hist_merge(m, h);
        t_merge = now() - t0;

        t0 = now();
        for (int i = 0; i < 1000; i++)
                size = hist_encode(h, buf, sizeof(buf));
        t_enc = now() - t0;
        t0 = now();
        for (int i = 0; i < 1000; i++)
                if (hist_decode(m, buf, size) < 0)
                        return 1;
        t_dec = now() - t0;
        (void) sink;

        printf("values recorded: %ld (count %" PRIu64 ", min %" PRIu64 " us, max %" PRIu64 " us, mean %.1f us)\n", n,
               hist_count(h), hist_min(h), hist_max(h), hist_mean(h));
        printf("record: %.2f ns per value (the loop reading the values alone: %.2f ns)\n", t_rec / n * 1e9,
               t_read / n * 1e9);
        printf("percentile query: %.1f ns per query (%ld queries)\n", t_q / q * 1e9, q);
        printf("merge: %.2f us per merge\n", t_merge / 1000 * 1e6);
        printf("encode: %.2f us, decode: %.2f us, %zu bytes\n", t_enc / 1000 * 1e6, t_dec / 1000 * 1e6, size);
        for (int k = 0; k < 5; k++) {
                uint64_t exact = sorted[(size_t) ceil(pcts[k] * RING / 100) - 1], got = hist_percentile(ring_h, pcts[k]);

                printf("ring p%g: histogram %" PRIu64 " us, exact %" PRIu64 " us, error %.3f%%\n", pcts[k], got, exact,
                       fabs((double) got - (double) exact) / (double) exact * 100);
        }
        hist_free(h);
        hist_free(m);
        hist_free(ring_h);
        return 0;
}
C
gcc -O2 -std=gnu11 -I"$TOP/src" "$WORK/driver.c" "$TOP/src/load/histogram.c" -lz -lm \
        -o "$WORK/driver" || exit 1

say "recording $N values, $Q percentile queries"
"$WORK/driver" "$N" "$Q"
