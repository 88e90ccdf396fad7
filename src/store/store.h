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
/* load/histogram.h's histogram: the runs' histograms are stored in its
 * encoding (hist_encode); the store depends on that module alone of src/load. */
typedef struct Histogram Histogram;

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
        /* store_run_set_extra() failures since open: a run's profiles,
         * acu_window, writes or locust object that is not in the store. */
        uint64_t extras_failed;
        int64_t extra_failed_ms;     /* realtime ms of the last of them; 0: none */
        char extra_error[256];       /* the last of them, "run 12 profiles: database or disk is full"; "" none */
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

/* Deletes at most `max_rows` raw samples older than `cutoff_ms`, at most
 * `max_rows` per-minute rollups of minutes wholly older than it, and of the
 * runs started before it at most max_rows / 16 histograms (blobs of a few
 * KiB) and `max_rows` runs (a running run is never deleted; a run goes once
 * its histograms are gone), in one short transaction, so a large backlog
 * never stalls the caller.  *ret_deleted gets the largest of the counts,
 * max_rows when the histograms filled their share (less than max_rows
 * means done).  NB: the
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

/* ---------------------------------------------------------------- runs
 * Load scenario runs (sql/004-runs.sql): a summary row per run and its
 * full histograms.  The writes (begin, update, finish, set_extra, abort,
 * retention) are for the read-write Store's loop thread like every other
 * write: the engine's on_done runs on the run's own thread, so its caller
 * hands the result to the loop first (an sd_event source, or a queue and an
 * eventfd as store-inbox.c does for samples) and calls store_run_finish()
 * there (the engine's snapshot is thread-safe: on_done can merely wake the
 * loop, through an eventfd it watches, and the loop then takes
 * load_run_snapshot() and finishes the run).  Each write is one statement or
 * one short transaction of its own.
 * The reads (list, get, hist, latest) work on any Store, read-only ones
 * included (API threads, the criteria evaluator). */

typedef enum StoreRunState {
        STORE_RUN_RUNNING,
        STORE_RUN_COMPLETED,
        STORE_RUN_ABORTED,           /* stopped by SIGTERM, or interrupted (kill -9) */
        STORE_RUN_CANCELLED,
        STORE_RUN_FAILED,
        _STORE_RUN_STATE_MAX,
} StoreRunState;

typedef enum StoreRunHistKind {
        STORE_RUN_HIST_LATENCY,      /* from each request's intended start */
        STORE_RUN_HIST_SERVICE,      /* from the moment it was sent */
        STORE_RUN_HIST_LATENESS,     /* how late it was sent against its intended start */
        _STORE_RUN_HIST_KIND_MAX,
} StoreRunHistKind;

/* "running", "completed", ...; NULL for a value out of range. */
const char *store_run_state_to_string(StoreRunState state);
/* The state named `name`: 0, or -EINVAL for a name that is none. */
int store_run_state_from_string(const char *name, StoreRunState *ret);
/* "latency", "service", "lateness"; NULL for a value out of range. */
const char *store_run_hist_kind_to_string(StoreRunHistKind kind);
/* The kind named `name`: 0, or -EINVAL for a name that is none. */
int store_run_hist_kind_from_string(const char *name, StoreRunHistKind *ret);

/* A run's summary.  The strings are borrowed: as an argument, during the
 * call; handed to a callback, during that call; in a StoreRunRecord, as
 * long as the record.  Counts above INT64_MAX are stored as INT64_MAX. */
typedef struct StoreRun {
        int64_t id;
        const char *scenario;
        const char *model;           /* "open", "closed", ... */
        StoreRunState state;
        int64_t started_at_ms;
        int64_t ended_at_ms;         /* 0 while running */
        int64_t duration_ms;         /* elapsed so far while running, then in all */
        uint64_t requests;           /* sent: ok + every error class + aborted + in flight */
        uint64_t ok;
        uint64_t err_connect, err_timeout, err_status, err_other;
        uint64_t dropped;            /* scheduled but never sent (max_inflight) */
        uint64_t aborted;            /* in flight when a stopping run gave up on them */
        double target_rps, achieved_rps;
        const char *reason;          /* why it ended so, in words; "" (or NULL as an argument): none */
        const char *extra;           /* a JSON object; "{}" when nothing hangs on the run */
} StoreRun;

/* One histogram of a run, as handed to store_run_finish() (borrowed) or
 * read back in a StoreRunRecord (owned by the record). */
typedef struct StoreRunHistogram {
        const char *request;         /* the request's name; "" for the run as a whole */
        StoreRunHistKind kind;
        Histogram *hist;
} StoreRunHistogram;

/* Records a new run in state running, started at started_at_ms, with the
 * scenario, model, target_rps and extra (NULL: "{}") of `run` (its other
 * fields are ignored); *ret_id gets its id.  0, -EINVAL (no scenario or
 * model, extra not JSON), -EROFS, or another negative errno. */
int store_run_begin(Store *s, const StoreRun *run, int64_t *ret_id);

/* Stores the figures so far of running run `id`: duration_ms, the counts,
 * target_rps and achieved_rps of `run` (the rest is ignored).  One UPDATE,
 * cheap enough for every few seconds.  -ENOENT when no run `id` is
 * running. */
int store_run_update(Store *s, int64_t id, const StoreRun *run);

/* Ends running run `id` in one transaction: its final state (not running),
 * ended_at_ms, duration, counts, rates and reason from `run`, and the n
 * histograms (encoded with hist_encode(); none may repeat a (request, kind)
 * pair).  -EINVAL for state running, a NULL histogram or a repeated pair,
 * -ENOENT when no run `id` is running; on any error nothing is written. */
int store_run_finish(Store *s, int64_t id, const StoreRun *run,
                     const StoreRunHistogram *hists, size_t n);

/* Sets key `key` ([a-z0-9_]+) of run `id`'s extra object to the JSON text
 * `json` (any JSON value), whatever the run's state: for what later issues
 * hang on a run.  -EINVAL for a bad key or `json` that is not JSON,
 * -ENOENT for no run `id`.  Every failure is also counted in the store's
 * health (extras_failed, extra_error), so that it is visible without the
 * caller's log line. */
int store_run_set_extra(Store *s, int64_t id, const char *key, const char *json);

/* NB: an explicit call, not part of store_open(): perfwatchd calls it once
 * at startup, before it could begin a run of its own, because any run still
 * `running` then was interrupted (kill -9, a crash, a power cut).  Another
 * process opening the file read-write (perfwatchd --run, a tool) must not
 * abort the daemon's live run, so store_open() leaves them alone.  Marks
 * every running run aborted, with ended_at = started_at + the duration of
 * its last update and a reason saying so; its figures stay those of that
 * update and it has no histograms.  *ret_n (may be NULL) gets how many. */
int store_run_abort_interrupted(Store *s, unsigned *ret_n);

/* Which runs store_run_list() walks: NULL scenario and state < 0 mean any;
 * from_ms <= started_at <= to_ms (INT64_MIN and INT64_MAX for no bound). */
typedef struct StoreRunFilter {
        const char *scenario;
        int state;                   /* a StoreRunState, or -1 for any */
        int64_t from_ms, to_ms;
} StoreRunFilter;

/* Calls fn for each run matching `f`, newest first (by start, then id), at
 * most `max`: 1 when more match (fn has seen the first `max`), else 0.
 * Reads at most max + 1 rows, no histogram.  The StoreRun lives during the
 * call only.  fn returning non-zero stops the walk and is returned. */
int store_run_list(Store *s, const StoreRunFilter *f, size_t max,
                   int (*fn)(const StoreRun *run, void *u), void *u);

/* A run read back whole: the summary (its strings owned by the record) and
 * every histogram stored for it, decoded, sorted by request then kind. */
typedef struct StoreRunRecord {
        StoreRun run;
        StoreRunHistogram *hists;
        size_t n_hists;
} StoreRunRecord;

/* Run `id` with its histograms in *ret (the caller frees it with
 * store_run_record_free()).  -ENOENT when there is none; -EBADMSG when a
 * stored histogram is not a valid encoding, and then *ret_error (may be
 * NULL; the caller frees it) names the run, the request and the kind. */
int store_run_get(Store *s, int64_t id, StoreRunRecord **ret, char **ret_error);

/* NULL is a no-op.  Returns NULL. */
StoreRunRecord *store_run_record_free(StoreRunRecord *r);

/* The record's histogram of (request, kind), borrowed; NULL when none was
 * stored. */
const Histogram *store_run_record_hist(const StoreRunRecord *r, const char *request,
                                       StoreRunHistKind kind);

/* Decodes run `id`'s histogram of (request, kind) into the caller's `into`
 * (replacing what it held), without reading the run's others: for a list
 * that shows each run's p95.  -ENOENT when it was not stored, -EBADMSG when
 * it is not a valid encoding (`into` is then unchanged). */
int store_run_hist(Store *s, int64_t id, const char *request, StoreRunHistKind kind,
                   Histogram *into);

/* What the run criteria judge: the latest completed run of a scenario (by
 * ended_at, then id), when it ran and its whole-run percentiles. */
typedef struct StoreRunLatest {
        int64_t id;
        int64_t started_at_ms;
        int64_t ended_at_ms;
        uint64_t requests;
        uint64_t ok;
        uint64_t err_timeout;        /* requests that timed out: in the latency histogram */
        uint64_t failed;             /* err_connect + err_status + err_other */
        uint64_t dropped;            /* scheduled but never sent (max_inflight) */
        uint64_t latency_count;      /* values in its latency histogram; 0 when none stored */
        uint64_t latency_p95_usec;   /* intended-start p95; 0 when latency_count is 0 */
        uint64_t service_p95_usec;   /* service-time p95; 0 when none stored */
} StoreRunLatest;

/* The latest completed run of `scenario` in *ret; running, aborted,
 * cancelled and failed runs do not count.  -ENOENT when there is none;
 * -EBADMSG with *ret_error (may be NULL, the caller frees it) when its
 * histogram is not a valid encoding. */
int store_run_latest_completed(Store *s, const char *scenario, StoreRunLatest *ret,
                               char **ret_error);

/* The same run as store_run_latest_completed() without its histograms
 * (*ret's id, ended_at_ms, requests and err_timeout; the rest 0), and the
 * member `key` ([a-z0-9_]+) of its extra object as JSON text in *ret_json
 * (the caller frees it; NULL when the object has no such member): what
 * zero_data_loss reads ("writes").  -ENOENT when there is no such run,
 * -EINVAL for a bad key. */
int store_run_latest_extra(Store *s, const char *scenario, const char *key, StoreRunLatest *ret,
                           char **ret_json);

/* The schema version (PRAGMA user_version) of an open store. */
int store_schema_version(Store *s);

/* A pool of `n` read-only connections for threads other than the loop's. */
int store_pool_new(const char *path, unsigned n, StorePool **ret, char **ret_error);
StorePool *store_pool_free(StorePool *p);

/* Borrows a connection, waiting while all are lent; give it back with
 * store_pool_release().  NULL when the pool could not open one. */
Store *store_pool_acquire(StorePool *p);
void store_pool_release(StorePool *p, Store *s);
