/* The per-minute rollups against brute force: every statistic of
 * store_series_stat() over random data and random windows (cutting minutes
 * at odd places, both bounds inclusive) equals the same statistic computed
 * in C over the raw samples, exactly.  Values are whole numbers, so every
 * sum is exact whatever the order of the additions.  Also the backfill of a
 * database migrated from schema 2, retention of the rollups, and minutes
 * before the epoch. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "tap.h"
#include "util/util.h"

#define MINUTE 60000
#define SPAN (12 * MINUTE)        /* the samples lie in [BASE, BASE + SPAN) */
#define BASE ((int64_t) 1764000000000 - 7 * MINUTE / 3)   /* not on a minute */
#define WINDOWS 400

static char tmpdir[] = "/tmp/test-rollups.XXXXXX";

typedef struct Raw {
        int64_t ts;
        double v;
} Raw;

/* The raw samples of series `name`, in the order they were stored. */
static size_t read_raw(const char *path, const char *name, Raw **ret) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        size_t n = 0, alloc = 0;
        Raw *a = NULL;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "SELECT ts, value FROM samples WHERE series_id = "
                               "(SELECT id FROM series WHERE name = ?1) ORDER BY rowid", -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                while (sqlite3_step(st) == SQLITE_ROW) {
                        if (n == alloc) {
                                alloc = alloc ? alloc * 2 : 256;
                                a = realloc(a, alloc * sizeof *a);
                                if (!a)
                                        abort();
                        }
                        a[n++] = (Raw) { sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1) };
                }
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        *ret = a;
        return n;
}

/* The statistic by definition: max and min the newest of equal values,
 * last the newest sample and, among equal times, the one stored last. */
static StoreStatResult brute(const Raw *a, size_t n, int64_t from, int64_t to, StoreStat stat) {
        StoreStatResult r = {};
        double sum = 0, best = 0, last = 0;
        int64_t best_ts = 0, last_ts = 0;

        for (size_t i = 0; i < n; i++) {
                bool better;

                if (a[i].ts < from || a[i].ts > to)
                        continue;
                if (stat == STORE_STAT_MAX)
                        better = a[i].v > best || (a[i].v == best && a[i].ts > best_ts);
                else
                        better = a[i].v < best || (a[i].v == best && a[i].ts > best_ts);
                if (r.count == 0 || better) {
                        best = a[i].v;
                        best_ts = a[i].ts;
                }
                if (r.count == 0 || a[i].ts >= last_ts) {
                        last = a[i].v;
                        last_ts = a[i].ts;
                }
                sum += a[i].v;
                r.count++;
        }
        if (r.count == 0)
                return r;
        r.newest_ms = last_ts;
        r.value_ms = last_ts;
        if (stat == STORE_STAT_MAX || stat == STORE_STAT_MIN) {
                r.value = best;
                r.value_ms = best_ts;
        } else
                r.value = stat == STORE_STAT_AVG ? sum / (double) r.count : last;
        return r;
}

static const char *stat_name(StoreStat s) {
        return (const char *[]) { "max", "min", "avg", "last" }[s];
}

/* A random window, often on or one off a minute boundary. */
static void random_window(int64_t *from, int64_t *to) {
        int64_t a = BASE - MINUTE + rand() % (SPAN + 2 * MINUTE);
        int64_t b = a + rand() % (SPAN / 2);

        switch (rand() % 4) {
        case 0: a -= a % MINUTE; break;
        case 1: a -= a % MINUTE + 1; break;
        case 2: b -= b % MINUTE + 1; break;
        default: break;
        }
        *from = a;
        *to = b > a ? b : a;
}

/* Every statistic over WINDOWS random windows plus the given edge cases,
 * each starting at min_from or later; one TAP line per statistic, with the
 * first mismatch shown. */
static void compare_all(Store *s, const char *path, const char *name, int64_t min_from, const char *what) {
        int64_t edges[][2] = {
                { BASE, BASE }, { BASE - 1, BASE + SPAN }, { BASE + MINUTE - BASE % MINUTE, BASE + 5 * MINUTE - BASE % MINUTE - 1 },
                { BASE + 2 * MINUTE - BASE % MINUTE - 1, BASE + 2 * MINUTE - BASE % MINUTE },
        };
        Raw *raw = NULL;
        size_t n = read_raw(path, name, &raw);

        for (StoreStat st = STORE_STAT_MAX; st <= STORE_STAT_LAST; st++) {
                unsigned bad = 0, nonempty = 0;

                for (unsigned w = 0; w < WINDOWS + ELEMENTSOF(edges); w++) {
                        int64_t from, to;
                        StoreStatResult got = {}, want;

                        if (w < ELEMENTSOF(edges)) {
                                from = edges[w][0];
                                to = edges[w][1];
                        } else
                                random_window(&from, &to);
                        if (from < min_from)
                                from = min_from;
                        if (to < from)
                                to = from;
                        want = brute(raw, n, from, to, st);
                        if (store_series_stat(s, name, from, to, st, &got) < 0)
                                got.count = UINT64_MAX;
                        nonempty += want.count > 0;
                        if (got.count != want.count ||
                            (want.count > 0 && (got.value != want.value || got.value_ms != want.value_ms ||
                                                got.newest_ms != want.newest_ms))) {
                                if (bad++ == 0)
                                        printf("# %s [%lld, %lld]: got n=%llu v=%.17g at %lld newest %lld, "
                                               "want n=%llu v=%.17g at %lld newest %lld\n",
                                               stat_name(st), (long long) from, (long long) to,
                                               (unsigned long long) got.count, got.value, (long long) got.value_ms,
                                               (long long) got.newest_ms, (unsigned long long) want.count,
                                               want.value, (long long) want.value_ms, (long long) want.newest_ms);
                        }
                }
                ok(bad == 0 && nonempty > WINDOWS / 2, "%s: %s equals brute force over %u windows (%u with data)",
                   what, stat_name(st), WINDOWS + (unsigned) ELEMENTSOF(edges), nonempty);
        }
        free(raw);
}

/* Random samples in random order, over several flushes: duplicate times,
 * duplicate values, negative values. */
static void fill_random(Store *s, const char *name, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                store_append(s, name, BASE + rand() % SPAN, (double) (rand() % 41 - 20));
                if (rand() % 300 == 0)
                        store_flush(s);
        }
        store_flush(s);
}

static void test_random(const char *path) {
        Store *w = NULL, *rd = NULL;
        char *err = NULL;

        is_int(store_open(path, &w, &err), 0, "(setup) open a new database");
        free(err);
        if (!w)
                return;
        fill_random(w, "dense", 6000);
        fill_random(w, "sparse", 40);
        store_append(w, "other", BASE + MINUTE, 1e6);
        store_flush(w);
        is_int(store_open_readonly(path, &rd, &err), 0, "(setup) open it read-only");
        free(err);
        if (rd) {
                compare_all(rd, path, "dense", INT64_MIN, "6000 samples, ~8 a second");
                compare_all(rd, path, "sparse", INT64_MIN, "40 samples, many empty minutes");
        }
        store_free(rd);
        store_free(w);
}

static int raw_exec(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open(path, &db);

        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        sqlite3_close(db);
        return rc;
}

/* Samples of the same time: last is the one stored last, whether it comes
 * from a rollup (whole minute) or raw (a partial minute), whether the two
 * were flushed together or apart. */
static void test_last_ties(const char *path) {
        int64_t t = BASE - BASE % MINUTE + 30 * MINUTE + 1500;
        StoreStatResult r = {};
        Store *w = NULL;
        char *err = NULL;

        is_int(store_open(path, &w, &err), 0, "(setup) open a new database");
        free(err);
        if (!w)
                return;
        store_append(w, "tie", t, 1);
        store_flush(w);
        store_append(w, "tie", t, 3);
        store_append(w, "tie", t, 2);
        store_flush(w);
        store_series_stat(w, "tie", t - 1500, t - 1500 + MINUTE - 1, STORE_STAT_LAST, &r);
        ok(r.count == 3 && r.value == 2, "from the minute's rollup: the one stored last (%g)", r.value);
        store_series_stat(w, "tie", t - 1, t, STORE_STAT_LAST, &r);
        ok(r.count == 3 && r.value == 2, "from raw samples: the one stored last (%g)", r.value);
        store_series_stat(w, "tie", t - 1, t, STORE_STAT_MAX, &r);
        ok(r.value == 3 && r.value_ms == t, "max among them: 3 at their time");
        w = store_free(w);

        /* The backfill of a migration picks the same. */
        is_int(raw_exec(path, "DROP TABLE rollups; DROP TABLE run_histograms; DROP TABLE runs; PRAGMA user_version = 2"), SQLITE_OK,
               "(setup) back to schema 2");
        is_int(store_open(path, &w, &err), 0, "(setup) migrate it again");
        free(err);
        if (!w)
                return;
        r = (StoreStatResult) {};
        store_series_stat(w, "tie", t - 1500, t - 1500 + MINUTE - 1, STORE_STAT_LAST, &r);
        ok(r.count == 3 && r.value == 2, "from the backfilled rollup: the one stored last (%g)", r.value);
        store_free(w);
}

/* A schema-2 database with samples is migrated: the rollups are backfilled. */
static void test_backfill(const char *path) {
        Store *w = NULL;
        char *err = NULL;

        is_int(store_open(path, &w, &err), 0, "(setup) open a new database");
        free(err);
        if (!w)
                return;
        fill_random(w, "old", 3000);
        w = store_free(w);

        is_int(raw_exec(path, "DROP TABLE rollups; DROP TABLE run_histograms; DROP TABLE runs; PRAGMA user_version = 2"), SQLITE_OK,
               "(setup) turn it into a schema-2 database");

        is_int(store_open(path, &w, &err), 0, "a schema-2 database with samples migrates");
        free(err);
        if (!w)
                return;
        is_int(store_schema_version(w), 4, "to the current schema (4)");
        compare_all(w, path, "old", INT64_MIN, "backfilled rollups");
        store_free(w);
}

static int64_t rollups_before(const char *path, int64_t minute) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int64_t n = -1;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "SELECT count(*) FROM rollups WHERE minute < ?1", -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, minute);
                if (sqlite3_step(st) == SQLITE_ROW)
                        n = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
}

/* Retention deletes the rollups of minutes wholly before the cutoff, keeps
 * the cutoff's own minute, and windows after the cutoff still agree. */
static void test_retention(const char *path) {
        int64_t cutoff = BASE + 4 * MINUTE + 1234, cutoff_minute = cutoff / MINUTE;
        unsigned d = 0, steps = 0;
        StoreStatResult r = {};
        Store *w = NULL;
        char *err = NULL;

        is_int(store_open(path, &w, &err), 0, "(setup) open a new database");
        free(err);
        if (!w)
                return;
        for (int64_t ts = BASE; ts < BASE + SPAN; ts += 1000)
                store_append(w, "ret", ts, (double) (ts / 1000 % 97));
        store_flush(w);
        ok(rollups_before(path, cutoff_minute) > 0, "(setup) rollups exist before the cutoff's minute");
        do
                if (store_retention_step(w, cutoff, 2, &d) < 0)
                        break;
        while (d == 2 && ++steps < 1000);
        is_int(d < 2, 1, "retention steps end");
        is_int(rollups_before(path, cutoff_minute), 0, "no rollup of a minute wholly before the cutoff is left");
        ok(rollups_before(path, cutoff_minute + 1) == 1, "the rollup of the cutoff's own minute is kept");
        store_series_stat(w, "ret", cutoff, BASE + SPAN, STORE_STAT_AVG, &r);
        /* Samples every second from BASE + 242 s to BASE + 719 s. */
        is_int(r.count, 478, "a window from the cutoff counts only samples kept");
        compare_all(w, path, "ret", cutoff, "after retention, windows from the cutoff on");
        store_free(w);
}

/* Times before the epoch round down to their minute too (a sample 1.5
 * minutes before 0 is in the minute [-120 s, -60 s)): windows over them
 * agree with brute force, counting no sample twice. */
static void test_before_epoch(const char *path) {
        const Raw raw[] = { { -150000, 4 }, { -90000, 5 }, { -60000, 3 }, { -30000, 1 }, { -1, 2 } };
        const int64_t froms[] = { -200000, -180000, -150000, -120001, -90000, -60000 };
        const int64_t tos[] = { -60001, -60000, -1, 0 };
        unsigned bad = 0;
        Store *w = NULL;
        char *err = NULL;

        is_int(store_open(path, &w, &err), 0, "(setup) open a new database");
        free(err);
        if (!w)
                return;
        for (size_t i = 0; i < ELEMENTSOF(raw); i++)
                store_append(w, "old", raw[i].ts, raw[i].v);
        store_flush(w);
        for (size_t f = 0; f < ELEMENTSOF(froms); f++)
                for (size_t t = 0; t < ELEMENTSOF(tos); t++) {
                        StoreStatResult got = {}, want = brute(raw, ELEMENTSOF(raw), froms[f], tos[t], STORE_STAT_MAX);

                        if (store_series_stat(w, "old", froms[f], tos[t], STORE_STAT_MAX, &got) < 0 ||
                            got.count != want.count || got.value != want.value) {
                                if (bad++ == 0)
                                        printf("# [%lld, %lld]: got n=%llu max %g, want n=%llu max %g\n",
                                               (long long) froms[f], (long long) tos[t],
                                               (unsigned long long) got.count, got.value,
                                               (unsigned long long) want.count, want.value);
                        }
                }
        ok(bad == 0, "windows before the epoch equal brute force (%u of %zu differ)", bad,
           ELEMENTSOF(froms) * ELEMENTSOF(tos));
        store_free(w);
}

int main(void) {
        char path[256];

        if (!mkdtemp(tmpdir))
                return 99;
        srand(6);
        snprintf(path, sizeof path, "%s/random.db", tmpdir);
        test_random(path);
        snprintf(path, sizeof path, "%s/ties.db", tmpdir);
        test_last_ties(path);
        snprintf(path, sizeof path, "%s/backfill.db", tmpdir);
        test_backfill(path);
        snprintf(path, sizeof path, "%s/retention.db", tmpdir);
        test_retention(path);
        snprintf(path, sizeof path, "%s/epoch.db", tmpdir);
        test_before_epoch(path);

        snprintf(path, sizeof path, "rm -rf '%s'", tmpdir);
        if (system(path) != 0)
                printf("# could not remove %s\n", tmpdir);
        return tap_done();
}
