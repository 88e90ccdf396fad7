/* The store's inbox: samples handed over by threads other than the loop's
 * (store_submit), kept under a mutex until the loop thread, woken by an
 * eventfd, moves them into the queue that store_flush() writes.  The queue
 * itself and the series names stay the loop thread's alone, so no lock is
 * taken on the common path of store_append(). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "store/store-internal.h"
#include "util/log.h"

/* As many as the queue holds: a producer that outruns the loop this far is
 * told so (-ENOBUFS) instead of growing memory without end. */
#define INBOX_MAX 100000U
#define INBOX_FIRST 64U

int store_inbox_init(Store *s) {
        s->inbox_fd = -1;
        if (pthread_mutex_init(&s->inbox_lock, NULL) != 0)
                return -ENOMEM;
        if (s->readonly)
                return 0;
        s->inbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        return s->inbox_fd < 0 ? -errno : 0;
}

static void items_free(InboxItem *items, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(items[i].series);
        free(items);
}

void store_inbox_done(Store *s) {
        items_free(s->inbox, s->inbox_len);
        s->inbox = NULL;
        s->inbox_len = s->inbox_alloc = 0;
        if (s->inbox_fd >= 0)
                close(s->inbox_fd);
        s->inbox_fd = -1;
        pthread_mutex_destroy(&s->inbox_lock);
}

size_t store_inbox_len(const Store *s) {
        pthread_mutex_t *lock = (pthread_mutex_t *) &s->inbox_lock;
        size_t n;

        pthread_mutex_lock(lock);
        n = s->inbox_len;
        pthread_mutex_unlock(lock);
        return n;
}

/* Under the lock: room for one more item.  0, -ENOBUFS or -ENOMEM. */
static int inbox_reserve(Store *s) {
        size_t n;
        InboxItem *a;

        if (s->inbox_len < s->inbox_alloc)
                return 0;
        if (s->inbox_len >= INBOX_MAX)
                return -ENOBUFS;
        n = s->inbox_alloc ? s->inbox_alloc * 2 : INBOX_FIRST;
        if (n > INBOX_MAX)
                n = INBOX_MAX;
        a = realloc(s->inbox, n * sizeof *a);
        if (!a)
                return -ENOMEM;
        s->inbox = a;
        s->inbox_alloc = n;
        return 0;
}

int store_submit(Store *s, const char *series, int64_t ts_ms, double value) {
        const uint64_t one = 1;
        char *copy;
        int r;

        if (!s || s->readonly || !series || !*series || isnan(value))
                return -EINVAL;
        /* Copy outside the lock: producers only contend for the append. */
        copy = strdup(series);
        if (!copy)
                return -ENOMEM;
        pthread_mutex_lock(&s->inbox_lock);
        r = inbox_reserve(s);
        if (r >= 0)
                s->inbox[s->inbox_len++] = (InboxItem) { .series = copy, .ts = ts_ms, .value = value };
        else if (r == -ENOBUFS)
                s->inbox_dropped++;
        pthread_mutex_unlock(&s->inbox_lock);
        if (r < 0) {
                free(copy);
                return r;
        }
        /* The counter only says "look"; a full counter (never, in practice)
         * would fail with EAGAIN and the loop still has a wake-up pending. */
        (void) !write(s->inbox_fd, &one, sizeof one);
        return 0;
}

int store_inbox_fd(const Store *s) {
        return s && s->inbox_fd >= 0 ? s->inbox_fd : -EBADF;
}

/* Takes the whole inbox in one swap, so producers wait only for that. */
static void inbox_take(Store *s, InboxItem **ret, size_t *ret_n) {
        uint64_t v;

        pthread_mutex_lock(&s->inbox_lock);
        *ret = s->inbox;
        *ret_n = s->inbox_len;
        s->inbox = NULL;
        s->inbox_len = s->inbox_alloc = 0;
        s->health.dropped += s->inbox_dropped;
        s->inbox_dropped = 0;
        (void) !read(s->inbox_fd, &v, sizeof v);
        pthread_mutex_unlock(&s->inbox_lock);
}

int store_inbox_drain(Store *s, size_t *ret_moved) {
        size_t n = 0, moved = 0, refused = 0;
        InboxItem *items;
        int r, k = 0;

        if (ret_moved)
                *ret_moved = 0;
        if (!s || s->readonly)
                return -EINVAL;
        inbox_take(s, &items, &n);
        for (size_t i = 0; i < n; i++) {
                r = store_append(s, items[i].series, items[i].ts, items[i].value);
                if (r >= 0)
                        moved++;
                else if (r == -ENOMEM)
                        k = r;
                else
                        refused++;
        }
        items_free(items, n);
        s->health.dropped += n - moved;
        if (refused > 0)
                log_warning("%s: %zu submitted samples refused (a new series past the cap of %d per source)",
                            s->path, refused, STORE_SERIES_PER_PREFIX_MAX);
        if (ret_moved)
                *ret_moved = moved;
        return k;
}
