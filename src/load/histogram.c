/* The latency histogram: log-linear buckets in the manner of HdrHistogram.
 *
 * Layout.  Values below 256 us have a bucket each (exact).  Above, every
 * power of two [2^e, 2^(e+1)) is cut into 128 equal buckets of width
 * 2^(e-7), so a bucket is never wider than 1/128 of its lower bound.  A
 * bucket's index is (e - 7) * 128 + (v >> (e - 7)), which continues the
 * exact range without a gap.  A percentile reports the middle of its bucket
 * (clamped to the exact min and max), so it is within half a bucket of the
 * true value: at most 1/256 (0.39%) of it, under the 1% promised.  HIST_MAX_USEC
 * (100 s) lies in bucket 2622; every value above it goes to one more bucket,
 * OVERFLOW, whose percentiles report the exact max.
 *
 * Memory: 2624 counters of 8 bytes plus count, min, max and a 128-bit sum:
 * sizeof(Histogram) is 21 040 bytes on x86-64, whatever the number of
 * values (checked at compile time against 64 KiB, and by
 * tests/test-histogram.c, which counts the allocations).
 *
 * The sum is 128 bits wide so that the mean stays exact: every value and
 * the count fit in 64 bits, so the sum is below 2^128.  Counts never wrap:
 * a record or merge that would pass UINT64_MAX values keeps what fits.
 *
 * Encoding, version 1 (every integer an unsigned LEB128 varint, in its
 * shortest form, so the bytes mean the same on any machine and one
 * histogram has exactly one encoding):
 *     "PWH" 0x01, count;
 *     when count > 0: min, max, sum >> 64, sum & (2^64 - 1), the number of
 *         non-empty buckets, then for each, in increasing order, the gap
 *         since the previous one's index + 1 (the first: its index) and
 *         its count;
 *     the CRC-32 (zlib's) of all the bytes before it, 4 bytes little-endian.
 * The bucket layout belongs to the version: a new layout is a new version. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "load/histogram.h"

#define EXACT_BITS 8                                 /* values below 2^8 are exact */
#define HALF_BITS (EXACT_BITS - 1)                   /* 2^7 buckets per power of two */
#define N_EXACT (1U << EXACT_BITS)
/* The shift of HIST_MAX_USEC's bucket: floor(log2(1e8)) - HALF_BITS. */
#define TOP_SHIFT 19
_Static_assert((HIST_MAX_USEC >> TOP_SHIFT) >= (1U << HALF_BITS) && (HIST_MAX_USEC >> TOP_SHIFT) < N_EXACT,
               "TOP_SHIFT is the shift of HIST_MAX_USEC's bucket");
#define OVERFLOW ((TOP_SHIFT << HALF_BITS) + (unsigned) (HIST_MAX_USEC >> TOP_SHIFT) + 1)
#define N_BUCKETS (OVERFLOW + 1)

#define MAGIC "PWH"
#define ENCODING_VERSION 1
#define HEADER_SIZE 4
#define CRC_SIZE 4
#define VARINT_MAX 10
/* The longest encoding: the header, five varints (count, min, max, sum),
 * the number of buckets and, for each bucket, a gap and a count. */
#define ENCODED_MAX (HEADER_SIZE + 5 * VARINT_MAX + 2 + N_BUCKETS * (2 + VARINT_MAX) + CRC_SIZE)

struct Histogram {
        uint64_t count;
        uint64_t min;                /* UINT64_MAX when empty */
        uint64_t max;
        unsigned __int128 sum;
        uint64_t buckets[N_BUCKETS];
};

_Static_assert(N_BUCKETS == 2624, "the layout described above");
_Static_assert(sizeof(Histogram) <= 64 * 1024, "a histogram fits in 64 KiB");

static unsigned bucket_index(uint64_t v) {
        unsigned shift;

        if (v < N_EXACT)
                return v == 0 ? 1 : (unsigned) v;
        if (v > HIST_MAX_USEC)
                return OVERFLOW;
        shift = (unsigned) (63 - __builtin_clzll(v)) - HALF_BITS;
        return (shift << HALF_BITS) + (unsigned) (v >> shift);
}

/* The middle of a normal bucket, clamped to [lo, hi]: the value that
 * stands for the bucket's values. */
static uint64_t bucket_value(unsigned i, uint64_t lo, uint64_t hi) {
        uint64_t mid;

        if (i < N_EXACT)
                mid = i;
        else {
                unsigned shift = (i >> HALF_BITS) - 1;
                uint64_t first = (uint64_t) (i - (shift << HALF_BITS)) << shift;

                mid = first + ((1ULL << shift) - 1) / 2;
        }
        return mid < lo ? lo : mid > hi ? hi : mid;
}

int hist_new(Histogram **ret) {
        Histogram *h = malloc(sizeof(Histogram));

        if (!h)
                return -ENOMEM;
        hist_reset(h);
        *ret = h;
        return 0;
}

Histogram *hist_free(Histogram *h) {
        free(h);
        return NULL;
}

void hist_reset(Histogram *h) {
        memset(h, 0, sizeof(*h));
        h->min = UINT64_MAX;
}

void hist_record_n(Histogram *h, uint64_t usec, uint64_t n) {
        if (n > UINT64_MAX - h->count)
                n = UINT64_MAX - h->count;
        if (n == 0)
                return;
        h->buckets[bucket_index(usec)] += n;
        h->count += n;
        h->sum += (unsigned __int128) usec * n;
        if (usec < h->min)
                h->min = usec;
        if (usec > h->max)
                h->max = usec;
}

/* The merge of a src whose values do not all fit under UINT64_MAX: each
 * bucket, lowest first, adds what still fits; the sum counts the values
 * taken at their bucket's value and the max becomes the last bucket taken's
 * value, so the result is a valid histogram of UINT64_MAX values. */
static void merge_saturating(Histogram *dst, const Histogram *src) {
        uint64_t room = UINT64_MAX - dst->count, src_min = src->min, src_max = src->max, last = 0;

        for (unsigned i = bucket_index(src_min); i <= bucket_index(src_max) && room > 0; i++) {
                uint64_t take = src->buckets[i] < room ? src->buckets[i] : room;

                if (take == 0)
                        continue;
                last = i == OVERFLOW ? src_max : bucket_value(i, src_min, src_max);
                dst->buckets[i] += take;
                dst->sum += (unsigned __int128) take * last;
                room -= take;
        }
        dst->count = UINT64_MAX;
        if (src_min < dst->min)
                dst->min = src_min;
        if (last > dst->max)
                dst->max = last;
}

void hist_merge(Histogram *dst, const Histogram *src) {
        unsigned lo, hi;

        if (src->count == 0 || dst->count == UINT64_MAX)
                return;
        if (src->count > UINT64_MAX - dst->count) {
                merge_saturating(dst, src);
                return;
        }
        lo = bucket_index(src->min);
        hi = bucket_index(src->max);
        for (unsigned i = lo; i <= hi; i++)
                dst->buckets[i] += src->buckets[i];
        dst->count += src->count;
        dst->sum += src->sum;
        if (src->min < dst->min)
                dst->min = src->min;
        if (src->max > dst->max)
                dst->max = src->max;
}

uint64_t hist_count(const Histogram *h) {
        return h->count;
}

uint64_t hist_min(const Histogram *h) {
        return h->count ? h->min : 0;
}

uint64_t hist_max(const Histogram *h) {
        return h->max;
}

double hist_mean(const Histogram *h) {
        return h->count ? (double) ((long double) h->sum / h->count) : 0;
}

/* The nearest rank of percentile p among count values (1-based): the
 * smallest rank r with r >= p * count / 100.  Multiplying first keeps
 * p = 99.9 of 1000 values at rank 999, where p / 100 * 1000 gives 1000. */
static uint64_t nearest_rank(double p, uint64_t count) {
        double r = ceil(p * (double) count / 100);

        if (r < 1)
                return 1;
        if (r >= (double) count)
                return count;
        return (uint64_t) r;
}

uint64_t hist_percentile(const Histogram *h, double p) {
        uint64_t rank, seen = 0;
        unsigned i, hi;

        if (h->count == 0)
                return 0;
        if (!(p > 0))
                return h->min;
        if (p >= 100)
                return h->max;
        rank = nearest_rank(p, h->count);
        hi = bucket_index(h->max);
        for (i = bucket_index(h->min); i < hi; i++) {
                seen += h->buckets[i];
                if (seen >= rank)
                        break;
        }
        return i == OVERFLOW ? h->max : bucket_value(i, h->min, h->max);
}

/* ------------------------------------------------------------ encoding */

/* Bytes go to buf while they fit; len counts them all. */
typedef struct Writer {
        uint8_t *buf;
        size_t size, len;
} Writer;

static void put_byte(Writer *w, uint8_t b) {
        if (w->len < w->size)
                w->buf[w->len] = b;
        w->len++;
}

static void put_varint(Writer *w, uint64_t v) {
        while (v > 0x7f) {
                put_byte(w, (uint8_t) (v | 0x80));
                v >>= 7;
        }
        put_byte(w, (uint8_t) v);
}

static void put_crc(Writer *w) {
        uLong crc = w->len <= w->size ? crc32(0, w->buf, (uInt) w->len) : 0;

        for (unsigned k = 0; k < CRC_SIZE; k++)
                put_byte(w, (uint8_t) (crc >> (8 * k)));
}

static void encode_to(const Histogram *h, Writer *w) {
        unsigned n = 0, prev = 0, lo, hi;

        for (unsigned k = 0; k < 3; k++)
                put_byte(w, (uint8_t) MAGIC[k]);
        put_byte(w, ENCODING_VERSION);
        put_varint(w, h->count);
        if (h->count > 0) {
                lo = bucket_index(h->min);
                hi = bucket_index(h->max);
                put_varint(w, h->min);
                put_varint(w, h->max);
                put_varint(w, (uint64_t) (h->sum >> 64));
                put_varint(w, (uint64_t) h->sum);
                for (unsigned i = lo; i <= hi; i++)
                        n += h->buckets[i] > 0;
                put_varint(w, n);
                for (unsigned i = lo; i <= hi; i++) {
                        if (h->buckets[i] == 0)
                                continue;
                        put_varint(w, i - prev);
                        put_varint(w, h->buckets[i]);
                        prev = i + 1;
                }
        }
        put_crc(w);
}

size_t hist_encode(const Histogram *h, void *buf, size_t size) {
        Writer w = { .buf = NULL, .size = 0 };

        encode_to(h, &w);
        if (buf && w.len <= size) {
                w = (Writer) { .buf = buf, .size = size };
                encode_to(h, &w);
        }
        return w.len;
}

/* ------------------------------------------------------------ decoding */

typedef struct Reader {
        const uint8_t *buf;
        size_t pos, end;
} Reader;

/* A varint in its shortest form, within [pos, end): 0 or -EINVAL. */
static int get_varint(Reader *r, uint64_t *ret) {
        uint64_t v = 0;

        for (unsigned k = 0; k < VARINT_MAX && r->pos < r->end; k++) {
                uint8_t b = r->buf[r->pos++];

                if (k == VARINT_MAX - 1 && b > 1)
                        return -EINVAL;                 /* more than 64 bits */
                v |= (uint64_t) (b & 0x7f) << (7 * k);
                if (!(b & 0x80)) {
                        if (b == 0 && k > 0)
                                return -EINVAL;         /* not the shortest form */
                        *ret = v;
                        return 0;
                }
        }
        return -EINVAL;
}

/* Reads the non-empty buckets after the header and checks them against
 * count, min and max; writes them into buckets when it is not NULL. */
static int decode_buckets(Reader *r, const Histogram *head, uint64_t *buckets) {
        uint64_t n, gap, c, total = 0;
        unsigned next = 0, i = 0;

        if (get_varint(r, &n) < 0 || n == 0 || n > N_BUCKETS)
                return -EINVAL;
        for (uint64_t k = 0; k < n; k++) {
                if (get_varint(r, &gap) < 0 || gap >= N_BUCKETS - next || get_varint(r, &c) < 0 || c == 0 ||
                    c > UINT64_MAX - total)
                        return -EINVAL;
                i = next + (unsigned) gap;
                if (k == 0 && i != bucket_index(head->min))
                        return -EINVAL;
                if (buckets)
                        buckets[i] = c;
                total += c;
                next = i + 1;
        }
        if (i != bucket_index(head->max) || total != head->count)
                return -EINVAL;
        return 0;
}

/* Reads count, min, max and sum into head and checks that they can be
 * those of one set of values. */
static int decode_head(Reader *r, Histogram *head) {
        uint64_t hi, lo;

        if (get_varint(r, &head->count) < 0)
                return -EINVAL;
        if (head->count == 0)
                return 0;
        if (get_varint(r, &head->min) < 0 || get_varint(r, &head->max) < 0 || get_varint(r, &hi) < 0 ||
            get_varint(r, &lo) < 0)
                return -EINVAL;
        head->sum = (unsigned __int128) hi << 64 | lo;
        if (head->min > head->max || (head->count == 1 && head->min != head->max) ||
            head->sum < (unsigned __int128) head->min * head->count ||
            head->sum > (unsigned __int128) head->max * head->count)
                return -EINVAL;
        return 0;
}

/* Parses buf (checks everything) into h, or only checks when h is NULL. */
static int decode_into(const uint8_t *buf, size_t size, Histogram *h) {
        Histogram head = { .min = UINT64_MAX };
        Reader r = { .buf = buf, .pos = HEADER_SIZE, .end = size - CRC_SIZE };

        if (decode_head(&r, &head) < 0)
                return -EINVAL;
        if (head.count > 0 && decode_buckets(&r, &head, h ? h->buckets : NULL) < 0)
                return -EINVAL;
        if (r.pos != r.end)
                return -EINVAL;
        if (h) {
                h->count = head.count;
                h->min = head.min;
                h->max = head.max;
                h->sum = head.sum;
        }
        return 0;
}

int hist_decode(Histogram *h, const void *buf, size_t size) {
        const uint8_t *b = buf;
        uint32_t crc = 0;

        if (!b || size < HEADER_SIZE + 1 + CRC_SIZE || size > ENCODED_MAX || memcmp(b, MAGIC, 3) != 0 ||
            b[3] != ENCODING_VERSION)
                return -EINVAL;
        for (unsigned k = 0; k < CRC_SIZE; k++)
                crc |= (uint32_t) b[size - CRC_SIZE + k] << (8 * k);
        if (crc != crc32(0, b, (uInt) (size - CRC_SIZE)))
                return -EINVAL;
        /* Check everything first, so that bad bytes leave h as it was. */
        if (decode_into(b, size, NULL) < 0)
                return -EINVAL;
        hist_reset(h);
        return decode_into(b, size, h);
}
