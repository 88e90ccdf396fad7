/* The store's raw pprof profiles: each written at once in a short
 * transaction of its own, pruned by age and count, listed and read back by
 * id.  The connection, its statements and its errors are store.c's. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store-internal.h"

/* Every column but the blob.  One statement per filter combination, not
 * "?1 IS NULL OR target = ?1", so the planner can use the index. */
#define PROFILE_COLUMNS "id, target, kind, ts, duration_ms, size, summary"
#define PROFILE_LIST_SQL(where)                                                            \
        "SELECT " PROFILE_COLUMNS " FROM profiles WHERE " where "ts BETWEEN ?3 AND ?4 "   \
        "ORDER BY ts DESC, id DESC LIMIT ?5"

const char *const store_profile_sql[STMT_ROLLUP_FIRST - STMT_PROFILE_FIRST] = {
        [STMT_PROFILE_INSERT - STMT_PROFILE_FIRST] =
                "INSERT INTO profiles (target, kind, ts, duration_ms, size, summary, data) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [STMT_PROFILE_PRUNE_AGE - STMT_PROFILE_FIRST] =
                "DELETE FROM profiles WHERE target = ?1 AND kind = ?2 AND ts < ?3",
        [STMT_PROFILE_PRUNE_KEEP - STMT_PROFILE_FIRST] =
                "DELETE FROM profiles WHERE id IN ("
                "SELECT id FROM profiles WHERE target = ?1 AND kind = ?2 "
                "ORDER BY ts DESC, id DESC LIMIT -1 OFFSET ?3)",
        [STMT_PROFILE_LIST_ANY - STMT_PROFILE_FIRST] = PROFILE_LIST_SQL(""),
        [STMT_PROFILE_LIST_TARGET - STMT_PROFILE_FIRST] = PROFILE_LIST_SQL("target = ?1 AND "),
        [STMT_PROFILE_LIST_KIND - STMT_PROFILE_FIRST] = PROFILE_LIST_SQL("kind = ?2 AND "),
        [STMT_PROFILE_LIST_BOTH - STMT_PROFILE_FIRST] = PROFILE_LIST_SQL("target = ?1 AND kind = ?2 AND "),
        [STMT_PROFILE_GET - STMT_PROFILE_FIRST] =
                "SELECT " PROFILE_COLUMNS ", data FROM profiles WHERE id = ?1",
};

static int profile_insert(Store *s, const char *target, const char *kind, int64_t ts_ms,
                          int64_t duration_ms, const void *data, size_t size, const char *summary) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_stmt_get(s, STMT_PROFILE_INSERT, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, ts_ms);
        sqlite3_bind_int64(st, 4, duration_ms);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) size);
        sqlite3_bind_text(st, 6, summary, -1, SQLITE_STATIC);
        rc = sqlite3_bind_blob64(st, 7, data, size, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        r = rc == SQLITE_DONE ? 0 : rc == SQLITE_TOOBIG ? -EFBIG : store_sql_error(s, rc, STMT_PROFILE_INSERT);
        store_stmt_done(st);
        return r;
}

/* NB: samples are queued in memory, never in an open transaction, so this
 * transaction of its own cannot interleave with a flush. */
int store_profile_add(Store *s, const char *target, const char *kind, int64_t ts_ms,
                      int64_t duration_ms, const void *data, size_t size, const char *summary,
                      int64_t *ret_id) {
        int r;

        /* A zero-length blob would bind as NULL, which the table refuses. */
        if (!s || !target || !*target || !kind || !*kind || !data || size == 0 || !summary ||
            !ret_id || size > INT64_MAX)
                return -EINVAL;
        if (s->readonly)
                return -EROFS;

        r = store_stmt_exec(s, STMT_BEGIN);
        if (r < 0)
                return r;
        r = profile_insert(s, target, kind, ts_ms, duration_ms, data, size, summary);
        if (r >= 0)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        if (r >= 0)
                r = store_stmt_exec(s, STMT_COMMIT);
        if (r < 0)
                store_txn_rollback(s);
        return r;
}

/* Runs one prune statement for (target, kind) with `arg` as ?3; adds the
 * rows it deleted to *deleted. */
static int profile_prune_one(Store *s, unsigned id, const char *target, const char *kind,
                             int64_t arg, unsigned *deleted) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_stmt_get(s, id, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, arg);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                *deleted += (unsigned) sqlite3_changes(s->db);
        r = rc == SQLITE_DONE ? 0 : store_sql_error(s, rc, id);
        store_stmt_done(st);
        return r;
}

/* keep == 0 means no limit by count: a target without a count limit keeps
 * what its age limit allows. */
int store_profile_prune(Store *s, const char *target, const char *kind, int64_t cutoff_ms,
                        uint64_t keep, unsigned *ret_deleted) {
        unsigned n = 0;
        int r;

        if (ret_deleted)
                *ret_deleted = 0;
        if (!s || !target || !kind)
                return -EINVAL;
        if (s->readonly)
                return -EROFS;

        r = store_stmt_exec(s, STMT_BEGIN);
        if (r < 0)
                return r;
        r = profile_prune_one(s, STMT_PROFILE_PRUNE_AGE, target, kind, cutoff_ms, &n);
        if (r >= 0 && keep > 0 && keep <= INT64_MAX)
                r = profile_prune_one(s, STMT_PROFILE_PRUNE_KEEP, target, kind, (int64_t) keep, &n);
        if (r >= 0)
                r = store_stmt_exec(s, STMT_COMMIT);
        if (r < 0) {
                store_txn_rollback(s);
                return r;
        }
        if (ret_deleted)
                *ret_deleted = n;
        return 0;
}

/* The metadata columns (PROFILE_COLUMNS) of the current row. */
static StoreProfile profile_from_row(sqlite3_stmt *st) {
        return (StoreProfile) {
                .id = sqlite3_column_int64(st, 0),
                .target = (const char *) sqlite3_column_text(st, 1),
                .kind = (const char *) sqlite3_column_text(st, 2),
                .ts_ms = sqlite3_column_int64(st, 3),
                .duration_ms = sqlite3_column_int64(st, 4),
                .size = (uint64_t) sqlite3_column_int64(st, 5),
                .summary = (const char *) sqlite3_column_text(st, 6),
        };
}

typedef struct ProfileWalk {
        int (*fn)(const StoreProfile *p, void *u);
        void *u;
} ProfileWalk;

static int profile_row(sqlite3_stmt *st, void *u) {
        ProfileWalk *w = u;
        StoreProfile p = profile_from_row(st);

        return w->fn(&p, w->u);
}

int store_profile_list(Store *s, const char *target, const char *kind, int64_t from_ms,
                       int64_t to_ms, size_t max,
                       int (*fn)(const StoreProfile *p, void *u), void *u) {
        unsigned id = STMT_PROFILE_LIST_ANY + (target ? 1 : 0) + (kind ? 2 : 0);
        ProfileWalk w = { .fn = fn, .u = u };
        sqlite3_stmt *st = NULL;
        int r;

        if (!s || !fn)
                return -EINVAL;
        r = store_stmt_get(s, id, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, from_ms);
        sqlite3_bind_int64(st, 4, to_ms);
        sqlite3_bind_int64(st, 5, max > INT64_MAX ? INT64_MAX : (int64_t) max);
        return store_walk(s, id, st, SIZE_MAX, profile_row, &w);
}

int store_profile_get(Store *s, int64_t id,
                      int (*fn)(const StoreProfile *p, const void *data, size_t size, void *u),
                      void *u) {
        sqlite3_stmt *st = NULL;
        StoreProfile p;
        const void *data;
        size_t size;
        int r, rc;

        if (!s || !fn)
                return -EINVAL;
        r = store_stmt_get(s, STMT_PROFILE_GET, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                p = profile_from_row(st);
                /* The blob first, then its length: the documented order. */
                data = sqlite3_column_blob(st, 7);
                size = (size_t) sqlite3_column_bytes(st, 7);
                r = fn(&p, data ?: "", size, u);
        } else
                r = rc == SQLITE_DONE ? -ENOENT : store_sql_error(s, rc, STMT_PROFILE_GET);
        store_stmt_done(st);
        return r;
}
