/* The latency histogram against exact sorted percentiles, at its edges, in
 * merges, through its encoding (with truncated and corrupted bytes) and in
 * memory.  Linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc so
 * that it can count every allocation the histogram makes. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "load/histogram.h"
#include "util/util.h"
#include "tap.h"

/* ------------------------------------------------------------ allocations */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static size_t n_allocs, alloc_bytes;

void *__wrap_malloc(size_t size) {
        n_allocs++, alloc_bytes += size;
        return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size) {
        n_allocs++, alloc_bytes += n * size;
        return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size) {
        n_allocs++, alloc_bytes += size;
        return __real_realloc(p, size);
}

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state;

/* splitmix64: the same numbers on every machine, whatever its libc. */
static uint64_t rng(void) {
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static double unit(void) {
        return ((rng() >> 11) + 1) * 0x1.0p-53;
}

static Histogram *new_hist(void) {
        Histogram *h = NULL;

        if (hist_new(&h) < 0)
                abort();
        return h;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return (x > y) - (x < y);
}

/* The exact percentile of sorted values: nearest rank, ceil(p * n / 100). */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p) {
        double r = ceil(p * (double) n / 100);

        if (r < 1)
                r = 1;
        if (r > (double) n)
                r = (double) n;
        return sorted[(size_t) r - 1];
}

static double rel_error(uint64_t got, uint64_t want) {
        return want ? fabs((double) got - (double) want) / (double) want : (got ? INFINITY : 0);
}

/* A malloc'd encoding of h (its size in *size), so that ASan sees every
 * byte past it. */
static uint8_t *encode(const Histogram *h, size_t *size) {
        uint8_t *buf;

        *size = hist_encode(h, NULL, 0);
        buf = malloc(*size);
        if (!buf || hist_encode(h, buf, *size) != *size)
                abort();
        return buf;
}

static bool same_encoding(const Histogram *a, const Histogram *b) {
        size_t na, nb;
        uint8_t *ea = encode(a, &na), *eb = encode(b, &nb);
        bool same = na == nb && memcmp(ea, eb, na) == 0;

        free(ea);
        free(eb);
        return same;
}

/* ------------------------------------------------------------ accuracy */

static const double PCTS[] = { 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100 };

typedef uint64_t (*Draw)(void);

static uint64_t draw_uniform(void) {                /* 10 us .. 100 s */
        return 10 + rng() % (HIST_MAX_USEC - 10 + 1);
}

static uint64_t draw_exponential(void) {            /* mean 5 ms */
        return (uint64_t) (-5000.0 * log(unit())) + 1;
}

static uint64_t draw_bimodal(void) {                /* 80% about 2 ms, 20% about 800 ms */
        bool slow = rng() % 5 == 0;
        double centre = slow ? 800000 : 2000, spread = slow ? 100000 : 300;
        double v = centre + spread * (unit() + unit() + unit() - 1.5) * 2;

        return v < 10 ? 10 : (uint64_t) v;
}

static uint64_t draw_pareto(void) {                 /* x_m 100 us, alpha 1.2 */
        double v = 100.0 * pow(unit(), -1 / 1.2);

        return v > 1e18 ? (uint64_t) 1e18 : (uint64_t) v;
}

static uint64_t draw_small(void) {                  /* 1 .. 600 us: the exact range and the first octaves */
        return 1 + rng() % 600;
}

/* Draws n values, records them, and checks each percentile of PCTS
 * against the exact one; returns the worst relative error. */
static double check_distribution(const char *name, Draw draw, size_t n) {
        uint64_t *v = malloc(n * sizeof(*v));
        Histogram *h = new_hist();
        double worst = 0;
        unsigned __int128 sum = 0;

        if (!v)
                abort();
        rng_state = 42;
        for (size_t i = 0; i < n; i++) {
                v[i] = draw();
                sum += v[i];
                hist_record(h, v[i]);
        }
        qsort(v, n, sizeof(*v), cmp_u64);
        for (size_t k = 0; k < ELEMENTSOF(PCTS); k++) {
                uint64_t want = exact_percentile(v, n, PCTS[k]), got = hist_percentile(h, PCTS[k]);
                double e = rel_error(got, want);

                ok(e <= 0.01, "%s: p%g %" PRIu64 " within 1%% of the exact %" PRIu64 " (%.3f%%)", name, PCTS[k],
                   got, want, e * 100);
                if (e > worst)
                        worst = e;
        }
        is_int(hist_count(h), n, "%s: count", name);
        is_int(hist_min(h), v[0], "%s: min is exact", name);
        is_int(hist_max(h), v[n - 1], "%s: max is exact", name);
        is_double(hist_mean(h), (double) ((long double) sum / n), 1e-9 * hist_mean(h), "%s: mean is exact", name);
        hist_free(h);
        free(v);
        return worst;
}

static void test_distributions(void) {
        double worst = 0, e;

        e = check_distribution("uniform", draw_uniform, 1000000), worst = e > worst ? e : worst;
        e = check_distribution("exponential", draw_exponential, 1000000), worst = e > worst ? e : worst;
        e = check_distribution("bimodal", draw_bimodal, 1000000), worst = e > worst ? e : worst;
        e = check_distribution("pareto", draw_pareto, 1000000), worst = e > worst ? e : worst;
        e = check_distribution("small", draw_small, 100000), worst = e > worst ? e : worst;
        printf("# worst percentile error over the distributions: %.4f%%\n", worst * 100);
}

/* Every value from 1 us to 100 s stands for itself within half a bucket:
 * alone between a smaller and a larger one, it is the median.  The layout
 * promises 1/256 (0.39%); below 256 us, exactly the value. */
static void test_every_bucket(void) {
        Histogram *h = new_hist();
        double worst = 0;
        uint64_t worst_v = 0;
        bool exact = true;

        for (uint64_t v = 1; v <= HIST_MAX_USEC; v = v < 5000 ? v + 1 : v + v / 997) {
                uint64_t got;
                double e;

                hist_reset(h);
                hist_record(h, 0);
                hist_record(h, v);
                hist_record(h, 2 * HIST_MAX_USEC);
                got = hist_percentile(h, 50);
                e = rel_error(got, v);
                if (v < 256 && got != v)
                        exact = false;
                if (e > worst)
                        worst = e, worst_v = v;
        }
        ok(exact, "below 256 us, every value is its own bucket");
        ok(worst <= 1.0 / 256, "from 1 us to 100 s, every value within 1/256 of itself (worst %.4f%% at %" PRIu64
           " us)", worst * 100, worst_v);
        hist_free(h);
}

/* Few values, exact buckets: the rank rule shows (nearest rank, rounded up). */
static void test_nearest_rank(void) {
        Histogram *h = new_hist();

        for (uint64_t v = 10; v <= 70; v += 10)
                hist_record(h, v);
        is_int(hist_percentile(h, 50), 40, "p50 of 10..70 is the 4th value (rank ceil(3.5))");
        is_int(hist_percentile(h, 75), 60, "p75 of 10..70 is the 6th value (rank ceil(5.25))");
        is_int(hist_percentile(h, 1), 10, "p1 of 10..70 is the 1st value");
        is_int(hist_percentile(h, 90), 70, "p90 of 10..70 is the 7th value (rank ceil(6.3))");
        is_int(hist_percentile(h, 0), 10, "p0 is the min");
        is_int(hist_percentile(h, -5), 10, "a negative percentile is the min");
        is_int(hist_percentile(h, NAN), 10, "NaN is the min");
        is_int(hist_percentile(h, 250), 70, "above 100 is the max");
        hist_reset(h);
        for (uint64_t v = 1; v <= 1000; v++)
                hist_record(h, v > 200 ? 200 : v);
        is_int(hist_percentile(h, 19.9), 199, "p19.9 of 1000 values is rank 199, not 200");
        hist_free(h);
}

/* ------------------------------------------------------------ edges */

static void test_edges(void) {
        Histogram *h = new_hist();

        is_int(hist_count(h), 0, "empty: count 0");
        is_int(hist_min(h), 0, "empty: min 0");
        is_int(hist_max(h), 0, "empty: max 0");
        is_double(hist_mean(h), 0, 0, "empty: mean 0");
        is_int(hist_percentile(h, 50), 0, "empty: p50 0");

        hist_record(h, 0);
        is_int(hist_min(h), 0, "0 us: min 0");
        is_int(hist_max(h), 0, "0 us: max 0");
        is_int(hist_percentile(h, 50), 0, "0 us alone: p50 0 (1 us's bucket, clamped to the max)");
        hist_record(h, 1);
        is_int(hist_percentile(h, 100), 1, "0 and 1 us: p100 1");
        is_int(hist_percentile(h, 50), 1, "0 and 1 us share 1 us's bucket");

        hist_reset(h);
        hist_record_n(h, 1, 3);
        is_int(hist_percentile(h, 50), 1, "1 us: p50 1");
        is_double(hist_mean(h), 1, 0, "1 us: mean 1");
        hist_reset(h);
        hist_record(h, 10);
        is_int(hist_percentile(h, 1), 10, "10 us: p1 10");

        hist_reset(h);
        hist_record_n(h, HIST_MAX_USEC, 99);
        hist_record(h, 3 * HIST_MAX_USEC);
        is_int(hist_percentile(h, 50), HIST_MAX_USEC, "100 s: p50 exact (the bucket clamped to the min)");
        is_int(hist_percentile(h, 99), HIST_MAX_USEC, "100 s: p99 is the 99th value");
        is_int(hist_percentile(h, 99.5), 3 * HIST_MAX_USEC, "above 100 s: the percentile is the exact max");
        is_int(hist_max(h), 3 * HIST_MAX_USEC, "above 100 s: max exact");

        hist_reset(h);
        hist_record_n(h, 1000, 90);
        hist_record_n(h, 500 * USEC_PER_SEC, 5);
        hist_record_n(h, 200 * USEC_PER_SEC, 5);
        ok(rel_error(hist_percentile(h, 90), 1000) <= 0.01, "below the values above 100 s, p90 is still 1 ms");
        is_int(hist_percentile(h, 95), 500 * USEC_PER_SEC, "a percentile among values above 100 s is the max");

        hist_reset(h);
        hist_record(h, UINT64_MAX);
        hist_record(h, UINT64_MAX);
        is_int(hist_max(h), UINT64_MAX, "UINT64_MAX: max");
        is_double(hist_mean(h), 18446744073709551615.0, 1, "UINT64_MAX twice: the mean does not overflow");
        hist_free(h);
}

static void test_mean(void) {
        Histogram *h = new_hist();

        for (uint64_t v = 1; v <= 1000; v++)
                hist_record(h, v);
        is_double(hist_mean(h), 500.5, 0, "mean of 1..1000 is 500.5");
        hist_record_n(h, 7, 0);
        is_int(hist_count(h), 1000, "recording n = 0 values changes nothing");
        is_int(hist_min(h), 1, "recording n = 0 values leaves the min");
        hist_free(h);
}

/* Counts stop at UINT64_MAX instead of wrapping, and stay a valid
 * histogram (its encoding decodes). */
static void test_saturation(void) {
        Histogram *a = new_hist(), *b = new_hist(), *c = new_hist();
        uint8_t *e;
        size_t n;

        hist_record_n(a, 5, UINT64_MAX - 10);
        hist_record_n(a, 9, 100);
        is_int(hist_count(a), UINT64_MAX, "record_n past UINT64_MAX keeps what fits");
        is_int(hist_max(a), 9, "the values that fit count for the max");
        hist_record(a, 3);
        is_int(hist_min(a), 5, "a full histogram takes no more values");

        hist_reset(a);
        hist_record_n(a, 5, UINT64_MAX - 6);
        hist_record_n(b, 7, 4);
        hist_record_n(b, 300, 4);
        hist_record_n(b, 5000, 4);
        hist_merge(a, b);
        is_int(hist_count(a), UINT64_MAX, "a merge past UINT64_MAX keeps what fits");
        is_int(hist_max(a), 300, "the max is that of the values taken (4 of 7 us, 2 of 300 us)");
        e = encode(a, &n);
        is_int(hist_decode(c, e, n), 0, "a saturated histogram's encoding decodes");
        ok(same_encoding(a, c), "and round-trips");
        free(e);
        hist_free(a);
        hist_free(b);
        hist_free(c);
}

/* ------------------------------------------------------------ merge */

static void test_merge(void) {
        Histogram *a = new_hist(), *b = new_hist(), *u = new_hist(), *empty = new_hist();
        bool same = true;

        rng_state = 7;
        for (int i = 0; i < 200000; i++) {
                uint64_t x = draw_exponential(), y = draw_pareto();

                hist_record(a, x);
                hist_record(b, y);
                hist_record(u, x);
                hist_record(u, y);
        }
        hist_record(b, 40 * HIST_MAX_USEC);         /* b holds the max, and a value above 100 s */
        hist_record(u, 40 * HIST_MAX_USEC);
        hist_record(a, 0);                          /* a holds the min */
        hist_record(u, 0);
        hist_merge(a, b);
        ok(same_encoding(a, u), "merge: bucket for bucket the histogram of the union");
        is_int(hist_count(a), hist_count(u), "merge: count");
        is_int(hist_min(a), hist_min(u), "merge: min");
        is_int(hist_max(a), 40 * HIST_MAX_USEC, "merge: max from the source");
        is_double(hist_mean(a), hist_mean(u), 0, "merge: mean");
        for (size_t k = 0; k < ELEMENTSOF(PCTS); k++)
                same = same && hist_percentile(a, PCTS[k]) == hist_percentile(u, PCTS[k]);
        ok(same, "merge: every percentile equals the union's");

        hist_merge(a, empty);
        ok(same_encoding(a, u), "merging an empty histogram changes nothing");
        hist_merge(empty, u);
        ok(same_encoding(empty, u), "merging into an empty histogram copies");
        hist_merge(u, u);
        is_int(hist_count(u), 2 * hist_count(a), "merging a histogram into itself doubles it");
        is_int(hist_percentile(u, 50), hist_percentile(a, 50), "and keeps its percentiles");
        hist_free(a);
        hist_free(b);
        hist_free(u);
        hist_free(empty);
}

/* ------------------------------------------------------------ encoding */

static void test_round_trip(void) {
        Histogram *h = new_hist(), *d = new_hist();
        uint8_t *e, small[8];
        size_t n;
        bool same = true;

        e = encode(h, &n);
        is_int(n, 9, "an empty histogram encodes in 9 bytes");
        hist_record(d, 5);
        is_int(hist_decode(d, e, n), 0, "an empty encoding decodes");
        is_int(hist_count(d), 0, "and empties the histogram it decodes into");
        free(e);

        rng_state = 3;
        for (int i = 0; i < 1000000; i++)
                hist_record(h, draw_pareto());
        hist_record(h, 0);
        e = encode(h, &n);
        printf("# 1M Pareto values encode in %zu bytes\n", n);
        is_int(hist_decode(d, e, n), 0, "decode of an encoding");
        ok(same_encoding(h, d), "round trip: the same buckets, count, min, max and sum");
        is_int(hist_count(d), hist_count(h), "round trip: count");
        is_int(hist_min(d), 0, "round trip: min");
        is_int(hist_max(d), hist_max(h), "round trip: max");
        is_double(hist_mean(d), hist_mean(h), 0, "round trip: mean");
        for (size_t k = 0; k < ELEMENTSOF(PCTS); k++)
                same = same && hist_percentile(d, PCTS[k]) == hist_percentile(h, PCTS[k]);
        ok(same, "round trip: every percentile");

        memset(small, 0xaa, sizeof(small));
        is_int(hist_encode(h, small, sizeof(small)), n, "a short buffer: encode says the size needed");
        ok(small[0] == 0xaa && small[7] == 0xaa, "and writes nothing");
        is_int(hist_encode(h, NULL, 1 << 20), n, "no buffer: encode says the size needed, whatever the size given");
        free(e);
        hist_free(h);
        hist_free(d);
}

/* A hand-made encoding: header, varints, then the CRC. */
typedef struct Enc {
        uint8_t b[256];
        size_t n;
} Enc;

static void enc_varint(Enc *e, uint64_t v) {
        while (v > 0x7f) {
                e->b[e->n++] = (uint8_t) (v | 0x80);
                v >>= 7;
        }
        e->b[e->n++] = (uint8_t) v;
}

static void enc_start(Enc *e) {
        memcpy(e->b, "PWH\1", 4);
        e->n = 4;
}

static void enc_crc(Enc *e) {
        uint32_t crc = (uint32_t) crc32(0, e->b, (uInt) e->n);

        for (int k = 0; k < 4; k++)
                e->b[e->n++] = (uint8_t) (crc >> (8 * k));
}

/* count, min, max, sum and buckets given as (gap, count) pairs. */
static void enc_hist(Enc *e, uint64_t count, uint64_t min, uint64_t max, uint64_t sum, size_t n,
                     const uint64_t *pairs) {
        enc_start(e);
        enc_varint(e, count);
        enc_varint(e, min);
        enc_varint(e, max);
        enc_varint(e, 0);
        enc_varint(e, sum);
        enc_varint(e, n);
        for (size_t i = 0; i < 2 * n; i++)
                enc_varint(e, pairs[i]);
        enc_crc(e);
}

static int decode_copy(Histogram *h, const uint8_t *b, size_t n) {
        uint8_t *copy = malloc(n ? n : 1);          /* exactly n bytes: ASan sees a read past them */
        int r;

        memcpy(copy, b, n);
        r = hist_decode(h, copy, n);
        free(copy);
        return r;
}

static void test_bad_encodings(void) {
        Histogram *h = new_hist();
        Enc e;
        uint64_t two[] = { 10, 1, 0, 1 };          /* buckets 10 and 11, one value each */
        uint64_t late[] = { 11, 1, 0, 1 };
        uint64_t zero[] = { 10, 1, 0, 0, 0, 1 };
        uint64_t far[] = { 10, 1, 5000, 1 };

        enc_hist(&e, 2, 10, 11, 21, 2, two);
        is_int(decode_copy(h, e.b, e.n), 0, "a hand-made encoding decodes");
        is_int(hist_percentile(h, 100), 11, "to what it says");

        enc_hist(&e, 2, 10, 11, 21, 2, late);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: first bucket not the min's");
        enc_hist(&e, 2, 10, 12, 21, 2, two);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: last bucket not the max's");
        enc_hist(&e, 3, 10, 11, 21, 2, two);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: buckets not adding up to the count");
        enc_hist(&e, 2, 10, 11, 30, 2, two);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: sum above max * count");
        enc_hist(&e, 2, 10, 11, 19, 2, two);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: sum below min * count");
        enc_hist(&e, 2, 11, 10, 21, 2, two);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: min above max");
        enc_hist(&e, 2, 10, 11, 21, 3, zero);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: an empty bucket listed");
        enc_hist(&e, 2, 10, 11, 21, 2, far);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: a bucket past the last");
        enc_hist(&e, 1, 10, 11, 10, 1, two);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: one value but min != max");

        enc_start(&e);
        enc_varint(&e, 0);
        e.b[e.n++] = 0;
        enc_crc(&e);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: a byte after the end");
        enc_start(&e);
        e.b[e.n++] = 0x80;                          /* 0, not in its shortest form */
        e.b[e.n++] = 0x00;
        enc_crc(&e);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: a varint not in its shortest form");
        enc_start(&e);
        for (int k = 0; k < 10; k++)
                e.b[e.n++] = 0xff;
        e.b[e.n++] = 0x01;
        enc_crc(&e);
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: a varint over 64 bits");
        enc_start(&e);
        enc_varint(&e, 0);
        enc_crc(&e);
        e.b[3] = 2;
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: an unknown version");
        e.b[3] = 1;
        e.b[0] = 'X';
        is_int(decode_copy(h, e.b, e.n), -EINVAL, "rejected: a wrong magic");
        is_int(hist_decode(h, NULL, 0), -EINVAL, "rejected: no bytes");
        hist_free(h);
}

/* Truncated and corrupted copies of a real encoding, each in a buffer of
 * exactly its size (ASan stops a read past it): every one is rejected and
 * leaves the histogram as it was, or (when the CRC is made to match) decodes
 * to a valid histogram whose encoding is those very bytes. */
static void test_fuzz(void) {
        Histogram *h = new_hist(), *keep = new_hist(), *d = new_hist();
        uint8_t *e, *m;
        size_t n;
        unsigned truncated_ok = 0, flipped_ok = 0, accepted = 0, rejected = 0, canonical = 0, unchanged = 0,
                 tries = 20000;

        rng_state = 11;
        for (int i = 0; i < 5000; i++)
                hist_record(h, draw_bimodal());
        hist_record(h, 3 * HIST_MAX_USEC);
        e = encode(h, &n);
        hist_record_n(keep, 77, 3);
        hist_merge(d, keep);

        for (size_t len = 0; len < n; len++)
                truncated_ok += decode_copy(d, e, len) == -EINVAL;
        is_int(truncated_ok, n, "every truncation of a %zu-byte encoding is rejected", n);
        ok(same_encoding(d, keep), "and leaves the histogram as it was");

        for (size_t pos = 0; pos < n; pos++)
                for (unsigned bit = 0; bit < 8; bit++) {
                        e[pos] ^= (uint8_t) (1 << bit);
                        flipped_ok += decode_copy(d, e, n) == -EINVAL;
                        e[pos] ^= (uint8_t) (1 << bit);
                }
        is_int(flipped_ok, n * 8, "every single-bit flip is rejected (the CRC)");

        m = malloc(n);
        for (unsigned t = 0; t < tries; t++) {
                size_t len = t % 3 == 0 ? 5 + rng() % (n - 5) : n;

                memcpy(m, e, n);
                for (unsigned k = 1 + rng() % 3; k > 0; k--)
                        m[4 + rng() % (len - 4)] = (uint8_t) rng();
                if (len >= 8) {
                        uint32_t crc = (uint32_t) crc32(0, m, (uInt) (len - 4));

                        for (int k = 0; k < 4; k++)
                                m[len - 4 + k] = (uint8_t) (crc >> (8 * k));
                }
                if (decode_copy(d, m, len) == 0) {
                        size_t rn;
                        uint8_t *re = encode(d, &rn);

                        accepted++;
                        canonical += rn == len && memcmp(re, m, len) == 0 &&
                                     hist_percentile(d, 100) == hist_max(d) && hist_percentile(d, 0) == hist_min(d);
                        free(re);
                        hist_reset(d);
                        hist_merge(d, keep);
                } else {
                        rejected++;
                        unchanged += same_encoding(d, keep);
                }
        }
        printf("# %u corrupted encodings with a matching CRC: %u rejected, %u accepted\n", tries, rejected, accepted);
        is_int(canonical, accepted, "every accepted corruption decodes to a valid histogram encoded as those bytes");
        is_int(unchanged, rejected, "every rejected one leaves the histogram as it was");
        ok(rejected > tries / 2, "most corruptions are rejected by the checks behind the CRC");
        free(m);
        free(e);
        hist_free(h);
        hist_free(keep);
        hist_free(d);
}

/* ------------------------------------------------------------ memory */

static void test_memory(void) {
        size_t allocs0 = n_allocs, bytes0 = alloc_bytes, allocs1, enc_size;
        Histogram *h = new_hist(), *o = new_hist();
        static uint8_t buf[64 * 1024];
        uint64_t sink = 0;

        is_int(n_allocs - allocs0, 2, "hist_new allocates once");
        ok((alloc_bytes - bytes0) / 2 <= 64 * 1024, "a histogram takes %zu bytes (at most 64 KiB)",
           (alloc_bytes - bytes0) / 2);
        allocs1 = n_allocs;
        rng_state = 5;
        for (int i = 0; i < 10000000; i++) {
                hist_record(h, draw_pareto());
                if (i % 100000 == 0) {
                        sink += hist_percentile(h, 99);
                        hist_merge(o, h);
                }
        }
        enc_size = hist_encode(h, buf, sizeof(buf));
        ok(enc_size <= sizeof(buf) && hist_decode(o, buf, enc_size) == 0, "10M values encode in %zu bytes",
           enc_size);
        hist_reset(h);
        is_int(n_allocs - allocs1, 0,
               "10M records, 100 percentiles and merges, an encode and a decode allocate nothing (p99 sum %" PRIu64 ")",
               sink);
        hist_free(h);
        hist_free(o);
        ok(hist_free(NULL) == NULL, "hist_free(NULL) is a no-op");
}

int main(void) {
        test_memory();
        test_every_bucket();
        test_nearest_rank();
        test_distributions();
        test_edges();
        test_mean();
        test_saturation();
        test_merge();
        test_round_trip();
        test_bad_encodings();
        test_fuzz();
        return tap_done();
}
