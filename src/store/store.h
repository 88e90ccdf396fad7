/* The SQLite store: one database file in WAL mode.  The schema is in sql/
 * and compiled in; PRAGMA user_version numbers the migrations applied.
 *
 * A read-write Store belongs to the event-loop thread: store_append() queues
 * samples in memory and store_flush() writes them in one transaction.  API
 * threads read through a StorePool of read-only connections. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* At most this many distinct series names: store_append() of a new one past
 * it fails with -E2BIG. */
#define STORE_SERIES_MAX 50000

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
 * synchronous=NORMAL, applies missing migrations.  Errors: -errno style;
 * on failure *ret_error (caller frees, may be NULL) says why in one line. */
int store_open(const char *path, Store **ret, char **ret_error);

/* Opens an existing database read-only (for API threads and tools). */
int store_open_readonly(const char *path, Store **ret, char **ret_error);

/* Flushes nothing: pending samples are dropped.  Call store_flush() first.
 * NULL is a no-op.  Returns NULL. */
Store *store_free(Store *s);

/* Queues one sample in memory; copies `series`.  0, -ENOMEM, -EINVAL for
 * a NaN value or an empty name, or -E2BIG for a new name past
 * STORE_SERIES_MAX.  A queue past its cap (100000 samples) drops
 * the oldest and counts them. */
int store_append(Store *s, const char *series, int64_t ts_ms, double value);

/* Writes every queued sample in one transaction.  0, or a negative errno with
 * the samples kept queued for the next try. */
int store_flush(Store *s);

/* Number of samples queued and not yet flushed. */
size_t store_pending(const Store *s);

/* Deletes at most `max_rows` raw samples older than `cutoff_ms`, in one short
 * transaction, so a large backlog never stalls the caller.  *ret_deleted gets
 * the count (less than max_rows means done). */
int store_retention_step(Store *s, int64_t cutoff_ms, unsigned max_rows, unsigned *ret_deleted);

/* Computes `stat` over samples of `series` with from_ms <= ts <= to_ms.
 * 0 with r->count == 0 when there are none (unknown series included). */
int store_series_stat(Store *s, const char *series, int64_t from_ms, int64_t to_ms,
                      StoreStat stat, StoreStatResult *r);

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
