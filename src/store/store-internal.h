/* What the store's files share: the Store handle's fields, the prepared
 * statements' ids and the helpers that run them.  Internal to src/store*.c;
 * the daemon sees only store.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

/* One slot per statement in Store.stmt, prepared when first used.  The SQL
 * of the series statements is in store.c, that of the profile statements
 * (from STMT_PROFILE_FIRST on) in store-profiles.c, next to their users. */
enum {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_SERIES_INSERT,
        STMT_SERIES_ID,
        STMT_SAMPLE_INSERT,
        STMT_RETENTION,
        STMT_STAT_AGG,
        STMT_STAT_MAX,
        STMT_STAT_MIN,
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
        _STMT_MAX,
        STMT_PROFILE_FIRST = STMT_PROFILE_INSERT,
};

/* The profile statements' SQL, indexed by id - STMT_PROFILE_FIRST. */
extern const char *const store_profile_sql[_STMT_MAX - STMT_PROFILE_FIRST];

typedef struct Series {
        char *name;
        uint32_t hash;
        int64_t id;           /* 0 until known in the database */
        uint64_t id_gen;      /* the flush that learnt id: undone if it rolls back */
} Series;

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

        /* A ring of pending samples, oldest at q_head. */
        Sample *queue;
        size_t q_head, q_len, q_alloc;
        uint64_t dropped;
        uint64_t flush_gen;
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

/* Runs statement `id`, which returns no rows.  0, or a negative errno. */
int store_stmt_exec(Store *s, unsigned id);

/* Rolls back the open transaction, if any. */
void store_txn_rollback(Store *s);
