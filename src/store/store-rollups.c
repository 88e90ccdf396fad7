/* Per-minute rollups (sql/003-rollups.sql) and the statistics read from
 * them: a window is its whole minutes' rollup rows plus the raw samples of
 * the partial minutes at its two ends, so the cost of a statistic grows
 * with the window's minutes, never with its samples.  Also the read
 * deadline and the nearest-name lookup the criteria use. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store-internal.h"
#include "util/strdist.h"
#include "util/util.h"

#define MSEC_PER_MINUTE 60000
/* How many SQLite VM steps run between two looks at the deadline: a few
 * microseconds of work. */
#define DEADLINE_CHECK_STEPS 256

const char *const store_rollup_sql[STMT_RUN_FIRST - STMT_ROLLUP_FIRST] = {
        /* In an UPDATE every column on the right names the old row's value,
         * so the order of the assignments does not matter.  Among equal
         * extremes the newest wins, among equal times the sample stored last
         * (flushes run in queue order). */
        [STMT_ROLLUP_UPSERT - STMT_ROLLUP_FIRST] =
                "INSERT INTO rollups (series_id, minute, n, total, lo, lo_ts, hi, hi_ts, last, last_ts) "
                "VALUES (?1, ?2, 1, ?4, ?4, ?3, ?4, ?3, ?4, ?3) "
                "ON CONFLICT (series_id, minute) DO UPDATE SET "
                "n = n + 1, total = total + excluded.total, "
                "lo_ts = CASE WHEN excluded.lo < lo OR (excluded.lo = lo AND excluded.lo_ts > lo_ts) "
                "THEN excluded.lo_ts ELSE lo_ts END, lo = min(lo, excluded.lo), "
                "hi_ts = CASE WHEN excluded.hi > hi OR (excluded.hi = hi AND excluded.hi_ts > hi_ts) "
                "THEN excluded.hi_ts ELSE hi_ts END, hi = max(hi, excluded.hi), "
                "last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END, "
                "last_ts = max(last_ts, excluded.last_ts)",
        [STMT_ROLLUP_RANGE - STMT_ROLLUP_FIRST] =
                "SELECT n, total, lo, lo_ts, hi, hi_ts, last, last_ts FROM rollups "
                "WHERE series_id = ?1 AND minute BETWEEN ?2 AND ?3",
        [STMT_ROLLUP_RAW - STMT_ROLLUP_FIRST] =
                "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3 "
                "ORDER BY ts, rowid",
        /* As for the samples: series is the outer loop, so each series' old
         * rows come from the primary key. */
        [STMT_ROLLUP_RETENTION - STMT_ROLLUP_FIRST] =
                "DELETE FROM rollups WHERE (series_id, minute) IN ("
                "SELECT r.series_id, r.minute FROM series AS se CROSS JOIN rollups AS r "
                "ON r.series_id = se.id AND r.minute < ?1 LIMIT ?2)",
        [STMT_SERIES_NAMES - STMT_ROLLUP_FIRST] = "SELECT name FROM series ORDER BY name",
};

/* A summary of some samples: what a rollup row holds. */
typedef struct Agg {
        uint64_t n;
        double total, lo, hi, last;
        int64_t lo_ts, hi_ts, last_ts;
} Agg;

static int64_t minute_of(int64_t ts_ms) {
        int64_t q = ts_ms / MSEC_PER_MINUTE;

        return ts_ms % MSEC_PER_MINUTE < 0 ? q - 1 : q;
}

/* Folds `b` into `a`.  `b` must not hold samples stored before a's with
 * the same time: raw samples come in (ts, rowid) order, and rollup rows of
 * different minutes share no time. */
static void agg_merge(Agg *a, const Agg *b) {
        if (b->n == 0)
                return;
        if (a->n == 0) {
                *a = *b;
                return;
        }
        a->n += b->n;
        a->total += b->total;
        if (b->lo < a->lo || (b->lo == a->lo && b->lo_ts > a->lo_ts)) {
                a->lo = b->lo;
                a->lo_ts = b->lo_ts;
        }
        if (b->hi > a->hi || (b->hi == a->hi && b->hi_ts > a->hi_ts)) {
                a->hi = b->hi;
                a->hi_ts = b->hi_ts;
        }
        if (b->last_ts >= a->last_ts) {
                a->last = b->last;
                a->last_ts = b->last_ts;
        }
}

int store_rollup_add(Store *s, int64_t series_id, int64_t ts_ms, double value) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_stmt_get(s, STMT_ROLLUP_UPSERT, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, series_id);
        sqlite3_bind_int64(st, 2, minute_of(ts_ms));
        sqlite3_bind_int64(st, 3, ts_ms);
        sqlite3_bind_double(st, 4, value);
        rc = sqlite3_step(st);
        store_stmt_done(st);
        return rc == SQLITE_DONE ? 0 : store_sql_error(s, rc, STMT_ROLLUP_UPSERT);
}

int store_rollup_retention(Store *s, int64_t cutoff_ms, unsigned max_rows, unsigned *ret_deleted) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        *ret_deleted = 0;
        r = store_stmt_get(s, STMT_ROLLUP_RETENTION, &st);
        if (r < 0)
                return r;
        /* Minutes before the cutoff's own: those wholly older than it. */
        sqlite3_bind_int64(st, 1, minute_of(cutoff_ms));
        sqlite3_bind_int64(st, 2, max_rows);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                *ret_deleted = (unsigned) sqlite3_changes(s->db);
        store_stmt_done(st);
        return rc == SQLITE_DONE ? 0 : store_sql_error(s, rc, STMT_ROLLUP_RETENTION);
}

/* Folds the raw samples of [from_ms, to_ms] into `a`. */
static int agg_raw(Store *s, int64_t id, int64_t from_ms, int64_t to_ms, Agg *a) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        if (from_ms > to_ms)
                return 0;
        r = store_stmt_get(s, STMT_ROLLUP_RAW, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, from_ms);
        sqlite3_bind_int64(st, 3, to_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t ts = sqlite3_column_int64(st, 0);
                double v = sqlite3_column_double(st, 1);

                agg_merge(a, &(Agg) { 1, v, v, v, v, ts, ts, ts });
        }
        r = rc == SQLITE_DONE ? 0 : store_sql_error(s, rc, STMT_ROLLUP_RAW);
        store_stmt_done(st);
        return r;
}

/* Folds the rollup rows of minutes [first, last] into `a`. */
static int agg_minutes(Store *s, int64_t id, int64_t first, int64_t last, Agg *a) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_stmt_get(s, STMT_ROLLUP_RANGE, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, first);
        sqlite3_bind_int64(st, 3, last);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                agg_merge(a, &(Agg) {
                        .n = (uint64_t) sqlite3_column_int64(st, 0),
                        .total = sqlite3_column_double(st, 1),
                        .lo = sqlite3_column_double(st, 2),
                        .lo_ts = sqlite3_column_int64(st, 3),
                        .hi = sqlite3_column_double(st, 4),
                        .hi_ts = sqlite3_column_int64(st, 5),
                        .last = sqlite3_column_double(st, 6),
                        .last_ts = sqlite3_column_int64(st, 7),
                });
        r = rc == SQLITE_DONE ? 0 : store_sql_error(s, rc, STMT_ROLLUP_RANGE);
        store_stmt_done(st);
        return r;
}

/* The window's summary: raw head, whole minutes, raw tail.  The reads run
 * in one read transaction, so they see one snapshot even while the loop
 * thread flushes. */
static int agg_window(Store *s, int64_t id, int64_t from_ms, int64_t to_ms, Agg *a) {
        /* The first minute starting at or after from, the last ending at or before to. */
        int64_t first = minute_of(from_ms - 1) + 1, last = minute_of(to_ms + 1) - 1;
        int r;

        if (first > last)
                return agg_raw(s, id, from_ms, to_ms, a);
        r = agg_raw(s, id, from_ms, first * MSEC_PER_MINUTE - 1, a);
        if (r >= 0)
                r = agg_minutes(s, id, first, last, a);
        if (r >= 0)
                r = agg_raw(s, id, (last + 1) * MSEC_PER_MINUTE, to_ms, a);
        return r;
}

static void stat_from_agg(const Agg *a, StoreStat stat, StoreStatResult *r) {
        r->count = a->n;
        r->newest_ms = a->last_ts;
        r->value_ms = a->last_ts;
        switch (stat) {
        case STORE_STAT_MAX:
                r->value = a->hi;
                r->value_ms = a->hi_ts;
                break;
        case STORE_STAT_MIN:
                r->value = a->lo;
                r->value_ms = a->lo_ts;
                break;
        case STORE_STAT_AVG:
                r->value = a->total / (double) a->n;
                break;
        case STORE_STAT_LAST:
                r->value = a->last;
                break;
        }
}

int store_series_stat(Store *s, const char *series, int64_t from_ms, int64_t to_ms,
                      StoreStat stat, StoreStatResult *r) {
        int64_t id = 0;
        Agg a = {};
        int k;

        if (!s || !series || !r || (unsigned) stat > STORE_STAT_LAST)
                return -EINVAL;
        *r = (StoreStatResult) {};
        /* The minute arithmetic below must not overflow. */
        if (from_ms > to_ms || from_ms <= INT64_MIN / 2 || to_ms >= INT64_MAX / 2)
                return from_ms > to_ms ? 0 : -EINVAL;
        k = store_series_lookup(s, series, &id);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;

        if (sqlite3_get_autocommit(s->db) && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK) {
                k = agg_window(s, id, from_ms, to_ms, &a);
                (void) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        } else
                k = agg_window(s, id, from_ms, to_ms, &a);
        if (k < 0)
                return k;
        if (a.n > 0)
                stat_from_agg(&a, stat, r);
        return 0;
}

static int on_progress(void *userdata) {
        const Store *s = userdata;

        return s->deadline_usec > 0 && now_monotonic_usec() > s->deadline_usec;
}

void store_set_deadline(Store *s, uint64_t deadline_usec) {
        if (!s)
                return;
        s->deadline_usec = deadline_usec;
        sqlite3_progress_handler(s->db, deadline_usec ? DEADLINE_CHECK_STEPS : 0,
                                 deadline_usec ? on_progress : NULL, s);
}

void store_interrupt(Store *s) {
        if (s)
                sqlite3_interrupt(s->db);
}

int store_series_nearest(Store *s, const char *name, char **ret_nearest) {
        sqlite3_stmt *st = NULL;
        size_t best_d = (size_t) -1 / 2;
        char *best = NULL;
        int64_t id;
        int r, rc;

        if (!s || !name || !ret_nearest)
                return -EINVAL;
        *ret_nearest = NULL;
        r = store_series_lookup(s, name, &id);
        if (r != -ENOENT)
                return r;
        r = store_stmt_get(s, STMT_SERIES_NAMES, &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *known = (const char *) sqlite3_column_text(st, 0);
                size_t d = strdist(name, known, best_d);

                /* Names come sorted: the first of equally near names wins. */
                if (d < best_d) {
                        char *copy = strdup(known);
                        if (!copy) {
                                rc = SQLITE_NOMEM;
                                break;
                        }
                        free(best);
                        best = copy;
                        best_d = d;
                }
        }
        r = rc == SQLITE_DONE ? -ENOENT : store_sql_error(s, rc, STMT_SERIES_NAMES);
        store_stmt_done(st);
        if (r == -ENOENT)
                *ret_nearest = best;
        else
                free(best);
        return r;
}
