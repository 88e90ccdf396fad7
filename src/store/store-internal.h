/* What the store's files share: the Store handle's fields, the prepared
 * statements' ids and the helpers that run them.  Internal to src/store*.c;
 * the daemon sees only store.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "store/store.h"

/* One slot per statement in Store.stmt, prepared when first used.  The SQL
 * of the series statements is in store.c, that of the profile statements
 * (from STMT_PROFILE_FIRST on) in store-profiles.c and that of the rollup
 * statements (from STMT_ROLLUP_FIRST on) in store-rollups.c and that of the
 * run statements (from STMT_RUN_FIRST on) in store-runs.c, next to their
 * users. */
enum {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_SERIES_INSERT,
        STMT_SERIES_ID,
        STMT_SAMPLE_INSERT,
        STMT_RETENTION,
        STMT_LAST,
        STMT_POINTS_RAW,
        STMT_POINTS_NEWEST,
        STMT_LIST,
        STMT_PROFILE_INSERT,
        STMT_PROFILE_PRUNE_AGE,
        STMT_PROFILE_PRUNE_KEEP,
        STMT_PROFILE_LIST_ANY,       /* the four LIST variants: bit 0 target, bit 1 kind */
        STMT_PROFILE_LIST_TARGET,
        STMT_PROFILE_LIST_KIND,
        STMT_PROFILE_LIST_BOTH,
        STMT_PROFILE_GET,
        STMT_ROLLUP_UPSERT,
        STMT_ROLLUP_RANGE,
        STMT_ROLLUP_RAW,
        STMT_ROLLUP_RETENTION,
        STMT_SERIES_NAMES,
        STMT_RUN_INSERT,
        STMT_RUN_UPDATE,
        STMT_RUN_FINISH,
        STMT_RUN_HIST_INSERT,
        STMT_RUN_EXTRA,
        STMT_RUN_ABORT,
        STMT_RUN_LIST_ANY,           /* the four LIST variants: bit 0 scenario, bit 1 state */
        STMT_RUN_LIST_SCENARIO,
        STMT_RUN_LIST_STATE,
        STMT_RUN_LIST_BOTH,
        STMT_RUN_GET,
        STMT_RUN_HISTS,
        STMT_RUN_HIST_ONE,
        STMT_RUN_LATEST,
        STMT_RUN_LATEST_EXTRA,
        STMT_RUN_RETENTION_HISTS,
        STMT_RUN_RETENTION,
        _STMT_MAX,
        STMT_PROFILE_FIRST = STMT_PROFILE_INSERT,
        STMT_ROLLUP_FIRST = STMT_ROLLUP_UPSERT,
        STMT_RUN_FIRST = STMT_RUN_INSERT,
};

/* The profile statements' SQL, indexed by id - STMT_PROFILE_FIRST. */
extern const char *const store_profile_sql[STMT_ROLLUP_FIRST - STMT_PROFILE_FIRST];

/* The rollup statements' SQL, indexed by id - STMT_ROLLUP_FIRST. */
extern const char *const store_rollup_sql[STMT_RUN_FIRST - STMT_ROLLUP_FIRST];

/* The run statements' SQL, indexed by id - STMT_RUN_FIRST. */
extern const char *const store_run_sql[_STMT_MAX - STMT_RUN_FIRST];

typedef struct Series {
        char *name;
        uint32_t hash;
        int64_t id;           /* 0 until known in the database */
        uint64_t id_gen;      /* the flush that learnt id: undone if it rolls back */
} Series;

/* How many series names share one prefix ("go.app."). */
typedef struct SeriesPrefix {
        char *prefix;
        size_t n;
} SeriesPrefix;

/* A sample handed over by store_submit(), name copied. */
typedef struct InboxItem {
        char *series;
        int64_t ts;
        double value;
} InboxItem;

typedef struct Sample {
        uint32_t series;      /* index into Store.series */
        int64_t ts;
        double value;
} Sample;

struct Store {
        sqlite3 *db;
        char *path;
        bool readonly;
        sqlite3_stmt *stmt[_STMT_MAX];

        /* Interned series names: an open-addressing table of indexes + 1. */
        Series *series;
        size_t n_series, alloc_series;
        uint32_t *slots;
        size_t n_slots;       /* a power of two */

        SeriesPrefix *prefixes;
        size_t n_prefixes, alloc_prefixes;

        /* A ring of pending samples, oldest at q_head. */
        Sample *queue;
        size_t q_head, q_len, q_alloc;
        uint64_t dropped;
        uint64_t flush_gen;

        /* CLOCK_MONOTONIC usec after which statements are interrupted (0: never). */
        uint64_t deadline_usec;
        /* The file opened: each flush checks that the path still names it. */
        dev_t dev;
        ino_t ino;
        bool stale;           /* it was deleted or replaced: never written again */
        /* SQLite's words for the last failed statement. */
        char sql_error[160];
        StoreHealth health;

        /* Samples from other threads (store_submit), under inbox_lock. */
        pthread_mutex_t inbox_lock;
        InboxItem *inbox;
        size_t inbox_len, inbox_alloc;
        uint64_t inbox_dropped;
        int inbox_fd;
};

/* ------------------------------------------------ store.c: statements */

/* The negative errno for SQLite result code `rc` of statement `id`; the
 * statement and SQLite's message go to the debug log for whoever digs
 * deeper, the caller logs the errno. */
int store_sql_error(Store *s, int rc, unsigned id);

/* The prepared statement `id` of this connection (borrowed), prepared on
 * first use.  0, or a negative errno. */
int store_stmt_get(Store *s, unsigned id, sqlite3_stmt **ret);

/* Resets a statement and clears its bindings once its rows are read. */
void store_stmt_done(sqlite3_stmt *st);

/* Steps statement `id` (`st`, bound by the caller) row by row, calling
 * row(st, u) for each of the first `max` rows until one returns non-zero,
 * then resets it (store_stmt_done()).  A row past `max` stops the walk
 * with 1 (a list asks its query for max + 1 rows to say there are more);
 * SIZE_MAX for no such limit.  0 when every row was walked, row's non-zero
 * value as is, or store_sql_error()'s negative errno when a step failed. */
int store_walk(Store *s, unsigned id, sqlite3_stmt *st, size_t max, int (*row)(sqlite3_stmt *st, void *u),
               void *u);

/* Runs statement `id`, which returns no rows.  0, or a negative errno. */
int store_stmt_exec(Store *s, unsigned id);

/* Rolls back the open transaction, if any. */
void store_txn_rollback(Store *s);

/* The database id of a series for readers: -ENOENT when unknown. */
int store_series_lookup(Store *s, const char *name, int64_t *ret);

/* ------------------------------------------- store-rollups.c: rollups */

/* Adds one sample to its minute's rollup row, inside the caller's open
 * transaction (store_flush()).  0, or a negative errno. */
int store_rollup_add(Store *s, int64_t series_id, int64_t ts_ms, double value);

/* Deletes at most `max_rows` rollup rows of minutes wholly older than
 * `cutoff_ms`, inside the caller's open transaction; *ret_deleted gets the
 * count. */
int store_rollup_retention(Store *s, int64_t cutoff_ms, unsigned max_rows, unsigned *ret_deleted);
/* ------------------------------------------------ store-runs.c: runs */

/* Deletes at most max_rows / 16 (at least 1) histograms of runs (not
 * running) started before `cutoff_ms`, then at most `max_rows` such runs
 * left without any, inside the caller's open transaction.  *ret_deleted
 * gets max_rows when the histograms filled their share (more may be left),
 * else the runs deleted. */
int store_run_retention(Store *s, int64_t cutoff_ms, unsigned max_rows, unsigned *ret_deleted);

/* ------------------------------------------------ store-health.c */

/* Remembers the path's device and inode as the file opened.  0 or -errno. */
int store_file_remember(Store *s);

/* -ESTALE when the path no longer names the file opened (deleted or
 * replaced), with the reason in s->sql_error; the first time, removes the
 * -wal and -shm beside the path, which belong to the old file.  Else 0. */
int store_file_check(Store *s);

/* Records a flush's outcome in s->health: r < 0 failed with `n` samples. */
void store_health_note_flush(Store *s, int r, size_t n);

/* Counts a failed store_run_set_extra() of `key` on run `id` in s->health,
 * with SQLite's words when the failure was SQLite's, else strerror(-r). */
void store_health_note_extra(Store *s, int64_t id, const char *key, int r);

/* ------------------------------------------------ store-inbox.c */

/* Sets up the inbox (the eventfd for a writer).  0 or -errno. */
int store_inbox_init(Store *s);

/* Frees the inbox and what it still holds. */
void store_inbox_done(Store *s);

/* Samples waiting in the inbox (takes the lock). */
size_t store_inbox_len(const Store *s);
