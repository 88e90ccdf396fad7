/* The SQLite store: one database file in WAL mode.  The schema is in sql/
 * and compiled in; PRAGMA user_version numbers the migrations applied, and
 * PRAGMA application_id (STORE_APPLICATION_ID) marks the file as perfwatch's.
 *
 * Threads: a read-write Store belongs to the event-loop thread: every call on
 * it is for that thread only, except store_submit(), which any thread may
 * call at any time while the Store lives.  store_append() queues samples in
 * memory and store_flush() writes them in one transaction.  API threads read
 * through a StorePool of read-only connections; the StorePool calls are
 * thread-safe, a borrowed read-only Store is used by one thread at a time;
 * the criteria evaluator's thread reads through a read-only Store of its own. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many distinct series names per source prefix (the name up to
 * its second dot: "go.app.", "pg.main."; a name with one dot counts under
 * its first part, one without under ""): store_append() of a new one past
 * it fails with -E2BIG.  Names already in the database count when it is
 * opened, so the cap holds across restarts. */
#define STORE_SERIES_PER_PREFIX_MAX 10000

/* PRAGMA application_id of a perfwatch database ("PfWd"). */
#define STORE_APPLICATION_ID 0x50665764

typedef struct Store Store;
typedef struct StorePool StorePool;

typedef enum StoreStat {
        STORE_STAT_MAX,
        STORE_STAT_MIN,
        STORE_STAT_AVG,
        STORE_STAT_LAST,
} StoreStat;

typedef struct StoreStatResult {
        double value;        /* the statistic */
        int64_t value_ms;    /* when: the sample's time for max/min/last, the newest for avg */
        int64_t newest_ms;   /* newest sample in the window */
        uint64_t count;      /* samples in the window; 0 means no data (value undefined) */
} StoreStatResult;

/* Opens (creating if needed) the database read-write, sets WAL and
 * synchronous=NORMAL, applies missing migrations, stamps the application_id
 * and reads the known series names.  A database that is not perfwatch's (an
 * other application_id, or application_id 0 with tables that are not
 * perfwatch's) is refused with -EMEDIUMTYPE, never migrated.  Errors: -errno
 * style; on failure *ret_error (caller frees, may be NULL) says why in one
 * line. */
int store_open(const char *path, Store **ret, char **ret_error);

/* Opens an existing database read-only (for API threads and tools); refuses
 * a foreign database as store_open() does. */
int store_open_readonly(const char *path, Store **ret, char **ret_error);

/* Flushes nothing: pending samples (queued or submitted) are dropped.  Call
 * store_flush() first.  NULL is a no-op.  Returns NULL. */
Store *store_free(Store *s);

/* Queues one sample in memory; copies `series`.  0, -ENOMEM, -EINVAL for
 * a NaN value or an empty name, or -E2BIG for a new name past
 * STORE_SERIES_PER_PREFIX_MAX.  A queue past its cap (100000 samples) drops
 * the oldest and counts them.  Loop thread only. */
int store_append(Store *s, const char *series, int64_t ts_ms, double value);

/* Thread-safe: hands one sample from any thread to the store's inbox (copies
 * `series`) and wakes store_inbox_fd().  The loop thread moves it into the
 * queue at its next store_inbox_drain() or store_flush().  0, -EINVAL (NaN,
 * empty name, read-only store), -ENOMEM, or -ENOBUFS when 100000 samples
 * already wait in the inbox (the sample is not taken and is counted as
 * dropped). */
int store_submit(Store *s, const char *series, int64_t ts_ms, double value);

/* An eventfd (owned by the store, non-blocking) that becomes readable when
 * store_submit() queued samples; the loop watches it for EPOLLIN and then
 * calls store_inbox_drain().  -EBADF for a read-only store. */
int store_inbox_fd(const Store *s);

/* Loop thread: moves every submitted sample into the queue (as
 * store_append() would) and clears the eventfd.  Samples refused there (a
 * name past the cap) are counted as dropped.  *ret_moved (may be NULL) gets
 * how many were moved.  0, or -ENOMEM when the queue could not take some
 * (they are counted as dropped). */
int store_inbox_drain(Store *s, size_t *ret_moved);

/* Loop thread: checks that the path still names the file opened, moves the
 * inbox into the queue and writes every queued sample in one transaction.
 * 0, or a negative errno with the samples kept queued for the next try;
 * -ESTALE when the database file was deleted or replaced (nothing is
 * written: see store_health() for which). */
int store_flush(Store *s);

/* Number of samples waiting to be written: queued, and submitted but not yet
 * drained.  Loop thread (it takes the inbox lock for the latter). */
size_t store_pending(const Store *s);

/* What the store's writer went through, for /healthz, the API and STATUS=. */
typedef struct StoreHealth {
        uint64_t queued;             /* samples waiting to be written */
        uint64_t dropped;            /* samples given up since open (queue or inbox full, name cap) */
        uint64_t failed_samples;     /* samples the last failed flush could not write; 0 when writing */
        int64_t failing_since_ms;    /* realtime ms of the first failure in a row; 0 when writing */
        int64_t last_flush_ms;       /* realtime ms of the last successful flush; 0: none yet */
        int error;                   /* negative errno of the last flush, 0 when it worked */
        char last_error[256];        /* the last failure in words, kept after recovery; "" none */
} StoreHealth;

/* Loop thread: fills *ret with the store's health now. */
void store_health(const Store *s, StoreHealth *ret);

/* True while flushes fail. */
static inline bool store_health_failing(const StoreHealth *h) {
        return h->failing_since_ms != 0;
}

/* Writes the one-line reason of a failing store, "cannot write 32 samples
 * since 2026-12-01T14:00:00Z: database or disk is full", into buf (always
 * terminated).  Returns buf. */
char *store_health_reason(const StoreHealth *h, char *buf, size_t size);

/* Deletes at most `max_rows` raw samples older than `cutoff_ms`, and at most
 * `max_rows` per-minute rollups of minutes wholly older than it, in one short
 * transaction, so a large backlog never stalls the caller.  *ret_deleted gets
 * the larger of the two counts (less than max_rows means done).  NB: the
 * rollup of the minute that holds the cutoff stays until that whole minute
 * is past it, so a statistic over a window reaching back beyond the cutoff
 * may still count that minute's deleted samples. */
int store_retention_step(Store *s, int64_t cutoff_ms, unsigned max_rows, unsigned *ret_deleted);

/* Computes `stat` over samples of `series` with from_ms <= ts <= to_ms: the
 * whole minutes inside the window from the per-minute rollups, the partial
 * minutes at its two ends from the raw samples, so the cost grows with the
 * window's minutes, never with its samples.  Ties: max and min take the
 * newest of equal values, last the sample stored last among equal times.
 * 0 with r->count == 0 when there are none (unknown series included);
 * -ETIMEDOUT past the store_set_deadline() deadline. */
int store_series_stat(Store *s, const char *series, int64_t from_ms, int64_t to_ms,
                      StoreStat stat, StoreStatResult *r);

/* Interrupts this connection's statements once CLOCK_MONOTONIC passes
 * `deadline_usec` (they fail with -ETIMEDOUT); 0 removes the deadline.  For
 * the thread that owns `s`. */
void store_set_deadline(Store *s, uint64_t deadline_usec);

/* Cuts the statement running on `s` short (it fails with -ETIMEDOUT); no
 * effect when none runs.  Any thread may call it, e.g. to stop a reader's
 * thread at exit. */
void store_interrupt(Store *s);

/* 0 when a series named `name` exists.  -ENOENT when not, with
 * *ret_nearest (the caller frees it) the known name closest to it by edit
 * distance, or NULL when no series exists at all.  Other negative errnos on
 * a store error. */
int store_series_nearest(Store *s, const char *name, char **ret_nearest);

/* Newest sample of a series: 0 and the point, -ENOENT when none. */
int store_series_last(Store *s, const char *series, int64_t *ret_ts_ms, double *ret_value);

/* Raw samples of `series` with from_ms <= ts <= to_ms: the newest
 * `max_points` of them, handed to fn oldest first.  0 when that was all of
 * them; 1 when older ones were left out, and then *ret_next_to_ms (may be
 * NULL) gets the to_ms of the next older page: this page holds only samples
 * newer than it, so paging with it neither skips nor repeats one.  -ENOENT
 * for an unknown series.  fn returning non-zero stops the walk and is
 * returned.  Reads at most max_points + 1 samples. */
int store_series_raw(Store *s, const char *series, int64_t from_ms, int64_t to_ms,
                     size_t max_points, int64_t *ret_next_to_ms,
                     int (*fn)(int64_t ts_ms, double value, void *u), void *u);

/* One point per step bucket [k * step_ms, (k + 1) * step_ms) holding
 * samples of `series` with from_ms <= ts <= to_ms: their mean, stamped with
 * the bucket's start, oldest first.  Reads at most `max_read` samples:
 * -E2BIG when the range holds more (fn may have seen earlier buckets).
 * -ENOENT for an unknown series.  fn returning non-zero stops the walk and
 * is returned. */
int store_series_step(Store *s, const char *series, int64_t from_ms, int64_t to_ms,
                      int64_t step_ms, uint64_t max_read,
                      int (*fn)(int64_t ts_ms, double value, void *u), void *u);

/* Calls fn for each known series whose name starts with `prefix` (NULL or
 * "": every one), by name, with its newest sample (ts 0 when it has none
 * left).  At most `max` series: 1 when more match (fn has seen the first
 * `max`).  Reads at most max + 1 series.  fn returning non-zero stops the
 * walk and is returned. */
int store_list_series(Store *s, const char *prefix, size_t max,
                      int (*fn)(const char *name, int64_t ts_ms, double value, void *u), void *u);

/* ---------------------------------------------------------------- profiles
 * Raw pprof profiles, stored exactly as received, one row each, written
 * at once (not queued) in their own short transaction. */

typedef struct StoreProfile {
        int64_t id;
        const char *target;
        const char *kind;            /* "heap", "goroutine", "cpu" */
        int64_t ts_ms;               /* when the collection started */
        int64_t duration_ms;         /* how long the transfer took */
        uint64_t size;               /* bytes of the raw profile */
        const char *summary;         /* JSON text (pprof_summary_to_json) */
} StoreProfile;

/* Stores one profile; *ret_id gets its id.  0 or a negative errno. */
int store_profile_add(Store *s, const char *target, const char *kind, int64_t ts_ms,
                      int64_t duration_ms, const void *data, size_t size, const char *summary,
                      int64_t *ret_id);

/* Deletes profiles of (target, kind) older than cutoff_ms, and the oldest
 * beyond the newest `keep`.  *ret_deleted (may be NULL) gets the count. */
int store_profile_prune(Store *s, const char *target, const char *kind, int64_t cutoff_ms,
                        uint64_t keep, unsigned *ret_deleted);

/* Calls fn for each profile matching the filters (NULL target/kind: any) with
 * from_ms <= ts <= to_ms, newest first, at most `max`.  The StoreProfile's
 * strings live only during the call.  fn returning non-zero stops the walk
 * and is returned. */
int store_profile_list(Store *s, const char *target, const char *kind, int64_t from_ms,
                       int64_t to_ms, size_t max,
                       int (*fn)(const StoreProfile *p, void *u), void *u);

/* One profile by id: fn gets its metadata and raw bytes (valid during the
 * call only).  -ENOENT when there is none. */
int store_profile_get(Store *s, int64_t id,
                      int (*fn)(const StoreProfile *p, const void *data, size_t size, void *u),
                      void *u);

/* The schema version (PRAGMA user_version) of an open store. */
int store_schema_version(Store *s);

/* A pool of `n` read-only connections for threads other than the loop's. */
int store_pool_new(const char *path, unsigned n, StorePool **ret, char **ret_error);
StorePool *store_pool_free(StorePool *p);

/* Borrows a connection, waiting while all are lent; give it back with
 * store_pool_release().  NULL when the pool could not open one. */
Store *store_pool_acquire(StorePool *p);
void store_pool_release(StorePool *p, Store *s);
