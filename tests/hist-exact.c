/* A stand-in for src/load/histogram.c in the load engine's tests: it keeps
 * every value, so its percentiles are exact (nearest rank).  It implements
 * the contract of load/histogram.h except the encoding; once the real
 * histogram is merged the tests may link that one instead. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "load/histogram.h"

struct Histogram {
        uint64_t *v;
        size_t n, cap;
        unsigned __int128 sum;
        uint64_t min, max;
        int sorted;
};

int hist_new(Histogram **ret) {
        *ret = calloc(1, sizeof(**ret));
        return *ret ? 0 : -ENOMEM;
}

Histogram *hist_free(Histogram *h) {
        if (h)
                free(h->v);
        free(h);
        return NULL;
}

void hist_reset(Histogram *h) {
        h->n = 0;
        h->sum = 0;
        h->min = h->max = 0;
}

void hist_record_n(Histogram *h, uint64_t usec, uint64_t n) {
        for (uint64_t i = 0; i < n; i++) {
                if (h->n == h->cap) {
                        size_t cap = h->cap ? h->cap * 2 : 1024;
                        uint64_t *v = realloc(h->v, cap * sizeof(*v));
                        if (!v)
                                abort();
                        h->v = v;
                        h->cap = cap;
                }
                if (h->n == 0 || usec < h->min)
                        h->min = usec;
                if (usec > h->max)
                        h->max = usec;
                h->v[h->n++] = usec;
                h->sum += usec;
                h->sorted = 0;
        }
}

void hist_merge(Histogram *dst, const Histogram *src) {
        for (size_t i = 0; i < src->n; i++)
                hist_record(dst, src->v[i]);
}

uint64_t hist_count(const Histogram *h) {
        return h->n;
}

uint64_t hist_min(const Histogram *h) {
        return h->min;
}

uint64_t hist_max(const Histogram *h) {
        return h->max;
}

double hist_mean(const Histogram *h) {
        return h->n ? (double) h->sum / (double) h->n : 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

uint64_t hist_percentile(const Histogram *h, double p) {
        Histogram *m = (Histogram *) h;
        size_t rank;

        if (h->n == 0)
                return 0;
        if (!h->sorted) {
                qsort(m->v, m->n, sizeof(*m->v), cmp_u64);
                m->sorted = 1;
        }
        rank = (size_t) (p / 100.0 * (double) h->n + 0.999999);
        if (rank < 1)
                rank = 1;
        if (rank > h->n)
                rank = h->n;
        return h->v[rank - 1];
}
