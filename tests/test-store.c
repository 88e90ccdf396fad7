#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "tap.h"
#include "sql-helpers.h"

extern const char *const store_migrations[];

#define QUEUE_MAX 100000

static int known_version(void) {
        int n = 0;

        while (store_migrations[n])
                n++;
        return n;
}

typedef struct Points {
        size_t n;
        int64_t ts[16];
        double v[16];
        size_t stop_after;    /* 0: never */
} Points;

static int collect(int64_t ts, double v, void *u) {
        Points *p = u;

        if (p->n < 16) {
                p->ts[p->n] = ts;
                p->v[p->n] = v;
        }
        p->n++;
        return p->stop_after && p->n == p->stop_after ? 7 : 0;
}

typedef struct Listing {
        size_t n;
        char names[4][16];
        int64_t ts[4];
        double v[4];
} Listing;

static int list_one(const char *name, int64_t ts, double v, void *u) {
        Listing *l = u;

        if (l->n < 4) {
                snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
                l->ts[l->n] = ts;
                l->v[l->n] = v;
        }
        l->n++;
        return 0;
}

static uint64_t count_of(Store *s, const char *series, int64_t from, int64_t to) {
        StoreStatResult r = {};

        if (store_series_stat(s, series, from, to, STORE_STAT_LAST, &r) < 0)
                return UINT64_MAX;
        return r.count;
}

static void test_open_errors(void) {
        char path[PATH_MAX], want[PATH_MAX + 64];
        Store *s = NULL;
        char *err = NULL;
        int r;

        path_in(path, sizeof path, "no-such-dir/x.db");
        r = store_open(path, &s, &err);
        ok(r < 0 && !s, "store_open in a missing directory fails");
        snprintf(want, sizeof want, "%s: unable to open database file", path);
        is_str(err, want, "the open error names the file and the problem");
        free(err);

        path_in(path, sizeof path, "missing.db");
        r = store_open_readonly(path, &s, &err);
        ok(r < 0 && !s, "store_open_readonly of a missing file fails (and creates nothing)");
        ok(err && strncmp(err, path, strlen(path)) == 0, "the read-only open error names the file");
        ok(access(path, F_OK) < 0, "the read-only open did not create the file");
        free(err);
}

/* Writer and reader on one file: appends are invisible until flushed, then
 * every reading function sees them through the read-only connection. */
static void test_round_trip(Store *w, Store *rd, const char *path) {
        char wal[PATH_MAX + 8];
        Points p = {};
        Listing l = {};
        int64_t ts = 0;
        double v = 0;

        is_int(store_schema_version(w), known_version(), "a new database gets every migration");
        is_int(store_schema_version(rd), known_version(), "the reader sees the same schema version");
        snprintf(wal, sizeof wal, "%s-wal", path);
        ok(access(wal, F_OK) == 0, "the database is in WAL mode (a -wal file exists) while the reader works");

        is_int(store_append(w, "a", 3000, 2.0), 0, "append queues a sample");
        store_append(w, "a", 1000, 1.0);
        store_append(w, "a", 2000, 3.0);
        store_append(w, "b", 1500, 10.0);
        is_int(store_pending(w), 4, "four samples are pending before the flush");
        is_int(count_of(rd, "a", 0, 10000), 0, "a reader sees nothing before the flush");

        is_int(store_flush(w), 0, "flush succeeds");
        is_int(store_pending(w), 0, "nothing is pending after the flush");
        is_int(count_of(rd, "a", 0, 10000), 3, "the reader sees all samples of a after the flush");

        is_int(store_series_raw(rd, "a", 0, 10000, 100, NULL, collect, &p), 0, "raw points: all returned");
        ok(p.n == 3 && p.ts[0] == 1000 && p.ts[1] == 2000 && p.ts[2] == 3000,
           "raw points come in time order whatever the append order");
        ok(p.v[0] == 1.0 && p.v[1] == 3.0 && p.v[2] == 2.0, "raw points keep their values");

        is_int(store_series_last(rd, "a", &ts, &v), 0, "last of a known series");
        ok(ts == 3000 && v == 2.0, "last is the newest sample, not the last appended");

        is_int(store_list_series(rd, NULL, 100, list_one, &l), 0, "list series");
        ok(l.n == 2 && strcmp(l.names[0], "a") == 0 && strcmp(l.names[1], "b") == 0,
           "list gives every series by name");
        ok(l.ts[0] == 3000 && l.v[0] == 2.0 && l.ts[1] == 1500 && l.v[1] == 10.0,
           "list gives each series' newest sample");
}

/* A sample the database refuses mid-batch rolls back the whole batch and
 * keeps it queued; the series created in that batch is forgotten too. */
static void test_flush_atomic(Store *w, Store *rd, const char *path) {
        int r;

        ok(raw_exec(path, "CREATE TRIGGER refuse_13 BEFORE INSERT ON samples WHEN NEW.value = 13 "
                          "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;") == SQLITE_OK,
           "(setup) a trigger that refuses the value 13");
        store_append(w, "c", 1, 12);
        store_append(w, "c", 2, 13);
        store_append(w, "c", 3, 14);
        r = store_flush(w);
        ok(r < 0, "a flush with a refused sample fails (%d)", r);
        is_int(store_pending(w), 3, "the failed batch stays queued");
        is_int(count_of(rd, "c", 0, 10), 0, "no sample of the failed batch is visible");
        is_int(store_series_raw(rd, "c", 0, 10, 10, NULL, collect, &(Points) {}), -ENOENT,
               "the series created in the failed batch was rolled back");

        /* Takes the id the rolled-back series had: a stale cached id would
         * now file c's samples under this intruder. */
        ok(raw_exec(path, "DROP TRIGGER refuse_13; INSERT INTO series (name) VALUES ('intruder');") ==
                   SQLITE_OK,
           "(setup) drop the trigger, another writer creates a series");
        is_int(store_flush(w), 0, "the retried flush succeeds");
        is_int(count_of(rd, "c", 0, 10), 3, "all three samples arrive under their own series");
        is_int(count_of(rd, "intruder", 0, 10), 0, "none went to the series that took the old id");
}

static void check_stat(Store *s, int64_t from, int64_t to, StoreStat st, double value, int64_t value_ms,
                       uint64_t count, const char *what) {
        StoreStatResult r = {};

        is_int(store_series_stat(s, "s", from, to, st, &r), 0, "%s: succeeds", what);
        is_double(r.value, value, 1e-9, "%s: value", what);
        is_int(r.value_ms, value_ms, "%s: time of the value", what);
        is_int(r.count, count, "%s: count", what);
        is_int(r.newest_ms, to >= 500 ? 500 : 400, "%s: newest in the window", what);
}

static void test_stat(Store *w, Store *rd) {
        StoreStatResult r = { .count = 99 };

        store_append(w, "s", 300, 1);
        store_append(w, "s", 500, 4);
        store_append(w, "s", 100, 5);
        store_append(w, "s", 400, 9);
        store_append(w, "s", 200, 9);
        store_flush(w);

        /* The window [200, 400] must include both bounds: 3 samples. */
        check_stat(rd, 200, 400, STORE_STAT_MAX, 9, 400, 3, "max over [200,400] (tie: newest)");
        check_stat(rd, 200, 400, STORE_STAT_MIN, 1, 300, 3, "min over [200,400]");
        check_stat(rd, 200, 400, STORE_STAT_AVG, 19.0 / 3, 400, 3, "avg over [200,400]");
        check_stat(rd, 200, 400, STORE_STAT_LAST, 9, 400, 3, "last over [200,400]");
        check_stat(rd, 100, 500, STORE_STAT_LAST, 4, 500, 5, "last over [100,500]");
        check_stat(rd, 100, 500, STORE_STAT_MIN, 1, 300, 5, "min over [100,500]");
        check_stat(w, 100, 500, STORE_STAT_AVG, 5.6, 500, 5, "avg over [100,500] on the writer");

        is_int(store_series_stat(rd, "s", 600, 700, STORE_STAT_MAX, &r), 0, "empty window succeeds");
        is_int(r.count, 0, "an empty window has count 0");
        r.count = 99;
        is_int(store_series_stat(rd, "nope", 0, 1000, STORE_STAT_AVG, &r), 0, "unknown series succeeds");
        is_int(r.count, 0, "an unknown series has count 0");
}

static void test_points(Store *w, Store *rd) {
        Points p = {}, q = {}, stop = { .stop_after = 2 };
        int64_t ts;
        double v;

        for (int i = 0; i < 10; i++)
                store_append(w, "p", 1000 + 100 * i, i);
        store_flush(w);

        is_int(store_series_step(rd, "p", 1000, 1900, 500, 100, collect, &p), 0, "stepped points");
        ok(p.n == 2 && p.ts[0] == 1000 && p.ts[1] == 1500, "one point per bucket, stamped with its start");
        ok(p.n == 2 && p.v[0] == 2.0 && p.v[1] == 7.0, "each bucket is the mean of its samples");

        p = (Points) {};
        store_series_step(rd, "p", 1200, 1700, 500, 100, collect, &p);
        ok(p.n == 2 && p.v[0] == 3.0 && p.v[1] == 6.0, "buckets average only samples inside the window");

        p = (Points) {};
        is_int(store_series_raw(rd, "p", 0, 5000, 4, &ts, collect, &p), 1, "max_points cut returns 1");
        ok(p.n == 4 && p.ts[0] == 1600 && p.ts[3] == 1900,
           "the cut keeps the newest max_points points, oldest first");
        is_int(ts, 1500, "the next page ends at the newest point left out");
        p = (Points) {};
        is_int(store_series_raw(rd, "p", 0, 1500, 4, &ts, collect, &p), 1, "the next page is cut too");
        ok(p.n == 4 && p.ts[0] == 1200 && p.ts[3] == 1500, "the next page follows without a gap");
        is_int(store_series_raw(rd, "p", 0, 5000, 10, NULL, collect, &q), 0,
               "exactly max_points points is not a cut");
        is_int(q.n, 10, "all ten points came");
        is_int(store_series_raw(rd, "p", 0, 5000, 10, NULL, collect, &stop), 7,
               "a callback's non-zero return stops the walk and is returned");
        is_int(stop.n, 2, "no point after the callback stopped");

        is_int(store_series_raw(rd, "nope", 0, 5000, 10, NULL, collect, &p), -ENOENT,
               "points of an unknown series: -ENOENT");
        is_int(store_series_last(rd, "nope", &ts, &v), -ENOENT, "last of an unknown series: -ENOENT");
}

/* Raw bounds are inclusive; pages walk back without a gap or a repeat, also
 * across samples that share a millisecond; step reads are capped. */
static void test_points_bounds(Store *w, Store *rd) {
        Points p = {};
        int64_t next = 0;

        for (int i = 0; i < 5; i++)
                store_append(w, "bound", 100 * (i + 1), i);
        store_append(w, "dup", 10, 1);
        store_append(w, "dup", 20, 2);
        store_append(w, "dup", 20, 3);
        store_append(w, "dup", 30, 4);
        store_flush(w);

        is_int(store_series_raw(rd, "bound", 200, 400, 10, NULL, collect, &p), 0, "raw [200,400]");
        ok(p.n == 3 && p.ts[0] == 200 && p.ts[2] == 400,
           "raw points exactly at from and at to are both returned");
        p = (Points) {};
        store_series_raw(rd, "bound", 300, 300, 10, NULL, collect, &p);
        ok(p.n == 1 && p.ts[0] == 300, "from = to = a sample's time returns that sample");

        p = (Points) {};
        is_int(store_series_raw(rd, "dup", 0, 100, 2, &next, collect, &p), 1,
               "a page that would split one millisecond is cut");
        ok(p.n == 1 && p.ts[0] == 30 && next == 20,
           "both samples of that millisecond go to the next page");
        p = (Points) {};
        is_int(store_series_raw(rd, "dup", 0, next, 2, &next, collect, &p), 1, "the next page");
        ok(p.n == 2 && p.ts[0] == 20 && p.ts[1] == 20 && next == 10,
           "it holds the two samples of that millisecond");
        p = (Points) {};
        store_series_raw(rd, "dup", 0, 19, 1, &next, collect, &p);
        ok(p.n == 1 && p.ts[0] == 10, "the last page holds the oldest sample");

        p = (Points) {};
        is_int(store_series_step(rd, "bound", 0, 1000, 1000, 4, collect, &p), -E2BIG,
               "a step read past max_read samples is -E2BIG");
        p = (Points) {};
        is_int(store_series_step(rd, "bound", 0, 1000, 1000, 5, collect, &p), 0,
               "exactly max_read samples is allowed");
        ok(p.n == 1 && p.v[0] == 2.0, "and averages them");
        p = (Points) {};
        store_series_step(rd, "bound", 200, 400, 1000, 5, collect, &p);
        ok(p.n == 1 && p.v[0] == 2.0, "a step bucket includes samples exactly at from and to");
}

/* Listing by prefix, with a cap. */
static void test_list_prefix(Store *rd) {
        Listing l = {};

        is_int(store_list_series(rd, "bo", 10, list_one, &l), 0, "list with a prefix");
        ok(l.n == 1 && strcmp(l.names[0], "bound") == 0, "only the series starting with it come");
        l = (Listing) {};
        is_int(store_list_series(rd, "", 2, list_one, &l), 1, "more series than max: 1");
        is_int(l.n, 2, "the first max series were listed");
        l = (Listing) {};
        is_int(store_list_series(rd, "zz", 2, list_one, &l), 0, "a prefix matching nothing");
        is_int(l.n, 0, "lists nothing");
        l = (Listing) {};
        is_int(store_list_series(rd, "\xff", 2, list_one, &l), 0, "a prefix of 0xff bytes");
        is_int(l.n, 0, "lists nothing either");
}

static void test_retention(const char *path) {
        Store *s = NULL;
        Listing l = {};
        unsigned d = 99, total = 0, steps = 0;
        bool bounded = true;
        char *err = NULL;

        is_int(store_open(path, &s, &err), 0, "(setup) open a fresh database");
        free(err);
        if (!s)
                return;
        for (int k = 0; k < 3; k++) {
                const char *name = (const char *[]) { "r0", "r1", "r2" }[k];
                for (int i = 0; i < 20; i++)
                        store_append(s, name, i, i);
                for (int i = 100; i < 105; i++)
                        store_append(s, name, i, i);
        }
        store_append(s, "rgone", 50, 1);
        store_flush(s);

        is_int(store_retention_step(s, 100, 0, &d), 0, "max_rows 0 succeeds");
        is_int(d, 0, "max_rows 0 deletes nothing");
        do {
                if (store_retention_step(s, 100, 25, &d) < 0)
                        break;
                steps++;
                bounded = bounded && d <= 25;
                total += d;
        } while (d == 25 && steps < 100);
        ok(bounded, "no retention step deletes more than max_rows");
        is_int(total, 61, "retention deletes every sample older than the cutoff");
        is_int(steps, 3, "61 old samples take three steps of at most 25");
        is_int(store_retention_step(s, 100, 25, &d), 0, "a step with nothing left succeeds");
        is_int(d, 0, "a step with nothing left deletes nothing");
        is_int(count_of(s, "r1", 0, 1000), 5, "samples at or after the cutoff are kept");
        is_int(count_of(s, "r1", 100, 100), 1, "a sample exactly at the cutoff is kept");

        store_list_series(s, NULL, 100, list_one, &l);
        ok(l.n == 4 && strcmp(l.names[3], "rgone") == 0 && l.ts[3] == 0,
           "a series whose samples all expired is listed with ts 0");
        store_free(s);
}

static void test_queue(Store *w) {
        Points p = {};

        is_int(store_append(w, "n", 1, NAN), -EINVAL, "NaN is refused (SQLite would store NULL)");
        is_int(store_append(w, "", 1, 1), -EINVAL, "an empty series name is refused");
        for (int i = 0; i < QUEUE_MAX + 5; i++)
                if (store_append(w, "q", i, i) < 0)
                        break;
        is_int(store_pending(w), QUEUE_MAX, "the queue stops at its cap");
        is_int(store_flush(w), 0, "a full queue flushes (a warning reports the drops)");
        {
                StoreHealth h;
                store_health(w, &h);
                is_int(h.dropped, 5, "the health counts the 5 samples the full queue dropped");
        }
        is_int(count_of(w, "q", 0, QUEUE_MAX + 10), QUEUE_MAX, "the capped queue's samples are all stored");
        store_series_step(w, "q", 0, QUEUE_MAX + 10, 1, QUEUE_MAX, collect, &p);
        is_int(p.ts[0], 5, "the oldest samples were the ones dropped");
}

static void test_versions(const char *path, const char *other) {
        char want[PATH_MAX + 128], sql[64];
        Store *s = NULL;
        char *err = NULL;
        int r;

        is_int(store_open(path, &s, &err), 0, "reopen an existing database");
        is_int(store_schema_version(s), known_version(), "reopen keeps the schema version");
        is_int(count_of(s, "a", 0, 10000), 3, "reopen keeps the data");
        store_free(s);
        s = NULL;

        is_int(store_open_readonly(path, &s, &err), 0,
               "read-only open works with no writer (and no -wal/-shm files) around");
        is_int(count_of(s, "b", 0, 10000), 1, "and reads the data");
        is_int(store_append(s, "x", 1, 1), -EROFS, "a read-only store refuses appends");
        s = store_free(s);

        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", known_version() + 6);
        ok(raw_exec(path, sql) == SQLITE_OK, "(setup) a newer perfwatchd bumped the schema");
        r = store_open(path, &s, &err);
        ok(r < 0 && !s, "a database newer than the binary is refused");
        snprintf(want, sizeof want, "%s: database schema version %d is newer than this perfwatchd (%d)", path,
                 known_version() + 6, known_version());
        is_str(err, want, "the refusal says which versions");
        free(err);
        ok(store_open_readonly(path, &s, &err) < 0 && !s, "the read-only open refuses it too");
        free(err);

        ok(raw_exec(other, "CREATE TABLE t (x INTEGER); DROP TABLE t") == SQLITE_OK,
           "(setup) a database never initialised");
        ok(store_open_readonly(other, &s, &err) < 0 && !s, "read-only open refuses user_version 0");
        ok(err && strstr(err, other) && strstr(err, "not initialised"), "the error says the file is not initialised");
        free(err);
}

typedef struct Waiter {
        StorePool *pool;
        int got;
        uint64_t count;
        Store *store;
} Waiter;

static void *wait_for_reader(void *u) {
        Waiter *w = u;
        Store *s = store_pool_acquire(w->pool);

        __atomic_store_n(&w->got, 1, __ATOMIC_SEQ_CST);
        if (s)
                w->count = count_of(s, "a", 0, 10000);
        store_pool_release(w->pool, s);
        return NULL;
}

static void *try_acquire(void *u) {
        Waiter *w = u;

        w->store = store_pool_acquire(w->pool);
        __atomic_store_n(&w->got, 1, __ATOMIC_SEQ_CST);
        return NULL;
}

static void *hammer(void *u) {
        StorePool *pool = u;
        uintptr_t bad = 0;

        for (int i = 0; i < 200; i++) {
                Store *s = store_pool_acquire(pool);
                if (!s || count_of(s, "a", 0, 10000) != 3)
                        bad++;
                store_pool_release(pool, s);
        }
        return (void *) bad;
}

static void test_pool(const char *path) {
        struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 };
        StorePool *pool = NULL;
        Waiter w = {};
        pthread_t t1, t2;
        void *bad1 = NULL, *bad2 = NULL;
        Store *held;
        char *err = NULL;

        is_int(store_pool_new(path, 1, &pool, &err), 0, "a pool of one reader");
        held = store_pool_acquire(pool);
        ok(held != NULL, "acquire lends the connection");
        w.pool = pool;
        pthread_create(&t1, NULL, wait_for_reader, &w);
        nanosleep(&pause, NULL);
        is_int(__atomic_load_n(&w.got, __ATOMIC_SEQ_CST), 0, "a second thread waits while all are lent");
        store_pool_release(pool, held);
        pthread_join(t1, NULL);
        is_int(w.got, 1, "release wakes the waiting thread");
        is_int(w.count, 3, "the waiting thread reads through the borrowed connection");
        pool = store_pool_free(pool);

        is_int(store_pool_new(path, 2, &pool, &err), 0, "a pool of two readers");
        pthread_create(&t1, NULL, hammer, pool);
        pthread_create(&t2, NULL, hammer, pool);
        pthread_join(t1, &bad1);
        pthread_join(t2, &bad2);
        ok(!bad1 && !bad2, "two threads borrow and read 400 times without a failure");
        pool = store_pool_free(pool);
}

static void test_pool_errors(const char *path) {
        char missing[PATH_MAX];
        StorePool *pool = NULL;
        struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
        Waiter w = {};
        Store *s1, *s2;
        char *err = NULL;
        pthread_t t;
        int done;

        path_in(missing, sizeof missing, "missing.db");
        ok(store_pool_new(missing, 2, &pool, &err) < 0 && !pool, "a pool on a missing file fails at once");
        ok(err && strstr(err, missing), "the pool error names the file");
        free(err);

        ok(raw_exec(path, "PRAGMA user_version = 1") == SQLITE_OK, "(setup) a database with a schema");
        is_int(store_pool_new(path, 2, &pool, &err), 0, "a pool of two on it");
        s1 = store_pool_acquire(pool);
        unlink(path);
        s2 = store_pool_acquire(pool);
        ok(s1 && !s2, "acquire returns NULL when the lazily opened connection fails (error logged)");
        /* In a thread: a leaked slot would make this acquire wait forever. */
        w.pool = pool;
        pthread_create(&t, NULL, try_acquire, &w);
        for (int i = 0; i < 200 && !__atomic_load_n(&w.got, __ATOMIC_SEQ_CST); i++)
                nanosleep(&tick, NULL);
        done = __atomic_load_n(&w.got, __ATOMIC_SEQ_CST);
        ok(done && !w.store, "the failed slot is free again: a second try fails instead of waiting");
        if (!done)
                return; /* the thread still waits on the pool: leave both alone */
        pthread_join(t, NULL);
        store_pool_release(pool, s1);
        store_pool_free(pool);
}

/* What a profile callback saw, copied out of the call. */
typedef struct ProfileSeen {
        size_t n;
        int64_t id[8], ts[8];
        char target[8][16], kind[8][16], summary[8][64];
        uint64_t size[8];
        size_t stop_after;    /* 0: never */
} ProfileSeen;

static int profile_seen(const StoreProfile *p, void *u) {
        ProfileSeen *s = u;

        if (s->n < 8) {
                s->id[s->n] = p->id;
                s->ts[s->n] = p->ts_ms;
                s->size[s->n] = p->size;
                snprintf(s->target[s->n], sizeof s->target[0], "%s", p->target);
                snprintf(s->kind[s->n], sizeof s->kind[0], "%s", p->kind);
                snprintf(s->summary[s->n], sizeof s->summary[0], "%s", p->summary);
        }
        s->n++;
        return s->stop_after && s->n == s->stop_after ? 5 : 0;
}

/* A copy of one profile's bytes and metadata. */
typedef struct ProfileCopy {
        int calls;
        StoreProfile meta;
        char target[16], kind[16], summary[64];
        unsigned char *data;
        size_t size;
} ProfileCopy;

static int profile_copy(const StoreProfile *p, const void *data, size_t size, void *u) {
        ProfileCopy *c = u;

        c->calls++;
        c->meta = *p;
        snprintf(c->target, sizeof c->target, "%s", p->target);
        snprintf(c->kind, sizeof c->kind, "%s", p->kind);
        snprintf(c->summary, sizeof c->summary, "%s", p->summary);
        free(c->data);
        c->data = malloc(size ? size : 1);
        if (c->data)
                memcpy(c->data, data, size);
        c->size = size;
        return 0;
}

/* Fetches profile `id` through `s` and compares it with `want`. */
static void check_blob(Store *s, int64_t id, const unsigned char *want, size_t size, const char *what) {
        ProfileCopy c = {};

        is_int(store_profile_get(s, id, profile_copy, &c), 0, "get %s succeeds", what);
        is_int(c.size, size, "get %s: the size is the stored size", what);
        ok(c.data && c.size == size && memcmp(c.data, want, size) == 0,
           "get %s: the bytes are exactly those stored", what);
        is_int(c.meta.size, size, "get %s: the size column agrees with the blob", what);
        free(c.data);
}

static int64_t add_profile(Store *s, const char *target, const char *kind, int64_t ts) {
        char summary[64];
        int64_t id = -1;

        snprintf(summary, sizeof summary, "{\"ts\":%lld}", (long long) ts);
        if (store_profile_add(s, target, kind, ts, 10, "x", 1, summary, &id) < 0)
                return -1;
        return id;
}

static size_t profile_count(Store *s, const char *target, const char *kind) {
        ProfileSeen seen = {};

        if (store_profile_list(s, target, kind, INT64_MIN, INT64_MAX, 1000, profile_seen, &seen) < 0)
                return SIZE_MAX;
        return seen.n;
}

/* Three profiles with awkward bytes: every byte value including NULs, one
 * big enough to spill into overflow pages, and a single byte. */
static void test_profile_round_trip(Store *w, Store *rd, int64_t ids[3]) {
        static unsigned char all[512], big[100000], one[1] = { 0 };
        ProfileCopy c = {};
        int64_t id = 0;
        uint32_t x = 12345;

        for (size_t i = 0; i < sizeof all; i++)
                all[i] = (unsigned char) (255 - i % 256);
        for (size_t i = 0; i < sizeof big; i++) {
                x = x * 1103515245u + 12345u;
                big[i] = (unsigned char) (x >> 16);
        }
        is_int(store_profile_add(w, "app", "heap", 1000, 42, all, sizeof all,
                                 "{\"samples\":1}", &ids[0]), 0, "add a profile");
        is_int(store_profile_add(w, "app", "goroutine", 2000, 7, big, sizeof big, "{}", &ids[1]), 0,
               "add a 100 kB profile");
        is_int(store_profile_add(w, "other", "heap", 3000, 3, one, sizeof one, "{}", &ids[2]), 0,
               "add a one-byte profile");
        ok(ids[0] > 0 && ids[1] > ids[0] && ids[2] > ids[1], "each add returns a new, larger id");

        check_blob(rd, ids[0], all, sizeof all, "of the 256-value profile (reader)");
        check_blob(rd, ids[1], big, sizeof big, "of the 100 kB profile (reader)");
        check_blob(w, ids[2], one, sizeof one, "of the one-byte NUL profile (writer)");

        store_profile_get(rd, ids[0], profile_copy, &c);
        ok(strcmp(c.target, "app") == 0 && strcmp(c.kind, "heap") == 0 && c.meta.ts_ms == 1000 &&
                   c.meta.duration_ms == 42 && c.meta.id == ids[0] &&
                   strcmp(c.summary, "{\"samples\":1}") == 0,
           "get returns the metadata as stored");
        free(c.data);
        c = (ProfileCopy) {};
        is_int(store_profile_get(rd, ids[2] + 1000, profile_copy, &c), -ENOENT, "get of an unknown id: -ENOENT");
        is_int(c.calls, 0, "get of an unknown id never calls back");

        is_int(store_profile_add(rd, "app", "heap", 1, 1, "x", 1, "{}", &id), -EROFS,
               "a read-only store refuses profiles");
        is_int(store_profile_add(w, "app", "heap", 1, 1, "x", 0, "{}", &id), -EINVAL,
               "an empty profile is refused (it would bind as NULL)");
        is_int(store_profile_add(w, "", "heap", 1, 1, "x", 1, "{}", &id), -EINVAL,
               "a profile without a target is refused");
}

static void test_profile_list(Store *rd, const int64_t ids[3]) {
        ProfileSeen all = {}, app = {}, heap = {}, both = {}, window = {}, cut = {}, stop = { .stop_after = 2 };

        is_int(store_profile_list(rd, NULL, NULL, 0, 10000, 100, profile_seen, &all), 0, "list everything");
        ok(all.n == 3 && all.id[0] == ids[2] && all.id[1] == ids[1] && all.id[2] == ids[0],
           "the list is newest first");
        ok(all.size[1] == 100000 && all.size[2] == 512 && strcmp(all.kind[1], "goroutine") == 0 &&
                   all.ts[1] == 2000 && strcmp(all.summary[2], "{\"samples\":1}") == 0,
           "listed rows carry size, kind, time and summary");

        store_profile_list(rd, "app", NULL, 0, 10000, 100, profile_seen, &app);
        ok(app.n == 2 && app.id[0] == ids[1] && app.id[1] == ids[0], "target=app lists only app's, newest first");
        store_profile_list(rd, NULL, "heap", 0, 10000, 100, profile_seen, &heap);
        ok(heap.n == 2 && heap.id[0] == ids[2] && heap.id[1] == ids[0], "kind=heap lists heap profiles of any target");
        store_profile_list(rd, "app", "heap", 0, 10000, 100, profile_seen, &both);
        ok(both.n == 1 && both.id[0] == ids[0], "target and kind together narrow to one");
        store_profile_list(rd, NULL, NULL, 1000, 2000, 100, profile_seen, &window);
        ok(window.n == 2 && window.id[0] == ids[1] && window.id[1] == ids[0],
           "the time window includes both bounds and nothing outside");
        store_profile_list(rd, NULL, NULL, 0, 10000, 1, profile_seen, &cut);
        ok(cut.n == 1 && cut.id[0] == ids[2], "max keeps the newest");
        is_int(store_profile_list(rd, NULL, NULL, 0, 10000, 100, profile_seen, &stop), 5,
               "a callback's non-zero return stops the listing and is returned");
        is_int(stop.n, 2, "no row after the callback stopped");
        is_int(profile_count(rd, "nobody", NULL), 0, "an unknown target lists nothing");
}

static void test_profile_prune(Store *w) {
        unsigned d = 99;
        int64_t last = 0, again;

        for (int64_t ts = 100; ts <= 500; ts += 100)
                last = add_profile(w, "p", "heap", ts);
        add_profile(w, "p", "cpu", 100);
        add_profile(w, "q", "heap", 100);

        is_int(store_profile_prune(w, "p", "heap", 300, 0, &d), 0, "prune by age");
        is_int(d, 2, "prune by age deletes the profiles older than the cutoff");
        is_int(profile_count(w, "p", "heap"), 3, "the profile exactly at the cutoff is kept");
        is_int(profile_count(w, "p", "cpu"), 1, "another kind of the same target is untouched");
        is_int(profile_count(w, "q", "heap"), 1, "another target of the same kind is untouched");

        is_int(store_profile_prune(w, "p", "heap", 0, 2, &d), 0, "prune by count");
        is_int(d, 1, "prune by count deletes the oldest beyond keep");
        ok(profile_count(w, "p", "heap") == 2 && profile_count(w, "p", "cpu") == 1,
           "prune by count keeps the newest `keep` of that target and kind only");
        is_int(store_profile_prune(w, "p", "heap", 0, 2, NULL), 0, "prune with nothing to do succeeds");

        is_int(store_profile_prune(w, "p", "heap", 1000, 0, &d), 0, "prune everything of p/heap by age");
        is_int(d, 2, "both remaining p/heap profiles went");
        again = add_profile(w, "p", "heap", 600);
        ok(again > last, "an id is never reused after its profile was pruned (%lld > %lld)",
           (long long) again, (long long) last);
}

static void test_profile_pool(const char *path, int64_t id) {
        StorePool *pool = NULL;
        ProfileCopy c = {};
        char *err = NULL;
        Store *s;

        is_int(store_pool_new(path, 1, &pool, &err), 0, "(setup) a pool of one reader");
        free(err);
        s = store_pool_acquire(pool);
        ok(s && profile_count(s, NULL, NULL) >= 3, "a pool connection lists profiles");
        ok(s && store_profile_get(s, id, profile_copy, &c) == 0 && c.size == 100000,
           "a pool connection gets a profile's bytes");
        free(c.data);
        store_pool_release(pool, s);
        store_pool_free(pool);
}

static void test_profiles(Store *w, Store *rd, const char *path) {
        int64_t ids[3] = {};

        test_profile_round_trip(w, rd, ids);
        test_profile_list(rd, ids);
        test_profile_pool(path, ids[1]);
        test_profile_prune(w);
}

/* A database written by the previous release (schema version 1) is
 * upgraded in place on open, keeping its samples. */
static void test_migrate_v1(const char *path) {
        char sql[4096];
        Store *s = NULL;
        int64_t id = 0;
        char *err = NULL;

        snprintf(sql, sizeof sql, "%s; PRAGMA user_version = 1; INSERT INTO series (name) VALUES ('old');"
                 "INSERT INTO samples VALUES (1, 5, 2.5);", store_migrations[0]);
        ok(raw_exec(path, sql) == SQLITE_OK, "(setup) a version-1 database with a sample");
        is_int(store_open_readonly(path, &s, &err), 0, "a reader opens the version-1 database");
        free(err);
        ok(s && store_profile_list(s, NULL, NULL, 0, 1, 1, profile_seen, &(ProfileSeen) {}) < 0,
           "before the upgrade, listing profiles fails with an error (no table yet)");
        s = store_free(s);

        is_int(store_open(path, &s, &err), 0,
               "the writer opens the version-1 database (application_id 0, perfwatch's tables)");
        free(err);
        if (!s)
                return;
        is_int(sql_int(path, "PRAGMA application_id"), STORE_APPLICATION_ID,
               "and stamps it with perfwatch's application_id");
        is_int(store_schema_version(s), known_version(), "it is upgraded to the current version");
        is_int(count_of(s, "old", 0, 10), 1, "the version-1 samples survive the upgrade");
        is_int(store_profile_add(s, "app", "heap", 1, 1, "z", 1, "{}", &id), 0,
               "the upgraded database stores profiles");
        is_int(profile_count(s, "app", "heap"), 1, "and lists them");
        store_free(s);
}

static int append_names(Store *s, const char *prefix, int n) {
        char name[48];
        int r = 0;

        for (int i = 0; i < n && r == 0; i++) {
                snprintf(name, sizeof name, "%s%d", prefix, i);
                r = store_append(s, name, 1, i);
                if (i % 5000 == 4999)
                        store_flush(s);
        }
        return r;
}

/* One source with ever-changing names fills its own share, not the others'. */
static void test_series_cap(const char *path) {
        Store *s = NULL;
        char *err = NULL;

        if (store_open(path, &s, &err) < 0) {
                ok(0, "open a database for the series cap: %s", err ? err : "?");
                free(err);
                return;
        }
        is_int(append_names(s, "go.churn.k", STORE_SERIES_PER_PREFIX_MAX), 0,
               "STORE_SERIES_PER_PREFIX_MAX distinct series of one source are accepted");
        is_int(store_append(s, "go.churn.one-too-many", 1, 1), -E2BIG,
               "one more new name of that source is refused with -E2BIG");
        is_int(store_append(s, "go.churn.k7", 2, 7), 0, "a known name of that source still takes samples");
        is_int(store_append(s, "go.calm.Sys", 2, 7), 0, "another target's new series is still accepted");
        is_int(store_append(s, "pg.main.numbackends", 2, 7), 0, "and so is another source kind's");
        is_int(store_append(s, "go.churnx.a", 2, 7), 0, "a target whose name extends the capped one's is apart");
        is_int(store_flush(s), 0, "and they flush");
        s = store_free(s);

        is_int(store_open(path, &s, &err), 0, "reopen the capped database");
        free(err);
        if (!s)
                return;
        is_int(store_append(s, "go.churn.after-restart", 3, 1), -E2BIG,
               "after a restart the capped source still gets no new name");
        is_int(store_append(s, "go.churn.k9", 3, 9), 0, "its known names still take samples");
        is_int(store_append(s, "go.calm.HeapInuse", 3, 1), 0, "another target still gets new names");
        is_int(store_flush(s), 0, "the known name's sample is written after the restart");
        is_int(count_of(s, "go.churn.k9", 0, 10), 2, "into the series that existed (no duplicate name row)");
        store_free(s);
}

/* ---------------------------------------------------------------- inbox */

#define PRODUCERS 6
#define PER_PRODUCER 5000

typedef struct Producer {
        Store *store;
        int id;
        int failed;
        int *done;
} Producer;

static void *produce(void *u) {
        Producer *p = u;
        char name[32];

        snprintf(name, sizeof name, "load.t%d.latency", p->id);
        for (int i = 0; i < PER_PRODUCER; i++)
                if (store_submit(p->store, name, i, p->id * 1e6 + i) < 0)
                        p->failed++;
        __atomic_add_fetch(p->done, 1, __ATOMIC_SEQ_CST);
        return NULL;
}

/* The loop's side: wait for the eventfd, drain, flush, until every
 * producer is done and nothing is pending; *ret_moved counts the drained. */
static int consume(Store *s, const int *done, size_t *ret_moved, unsigned *ret_wakeups) {
        struct pollfd pfd = { .fd = store_inbox_fd(s), .events = POLLIN };
        size_t moved;

        for (int rounds = 0; rounds < 5000; rounds++) {
                bool finished = __atomic_load_n(done, __ATOMIC_SEQ_CST) == PRODUCERS;
                if (poll(&pfd, 1, 100) > 0) {
                        (*ret_wakeups)++;
                        if (store_inbox_drain(s, &moved) < 0)
                                return -1;
                        *ret_moved += moved;
                }
                if (store_flush(s) < 0)
                        return -1;
                if (finished && store_pending(s) == 0)
                        return 0;
        }
        return -1;
}

static void test_inbox(const char *path) {
        pthread_t t[PRODUCERS];
        Producer p[PRODUCERS];
        unsigned wakeups = 0;
        size_t moved = 0;
        int failed = 0, done = 0;
        Store *s = NULL;
        char *err = NULL;
        StoreHealth h;

        if (store_open(path, &s, &err) < 0) {
                ok(0, "open a database for the inbox: %s", err ? err : "?");
                free(err);
                return;
        }
        ok(store_inbox_fd(s) >= 0, "a writer has an inbox eventfd");
        is_int(store_submit(s, "x.y.z", 1, NAN), -EINVAL, "store_submit refuses NaN at once");
        is_int(store_submit(s, "", 1, 1), -EINVAL, "and an empty name");
        for (int i = 0; i < PRODUCERS; i++) {
                p[i] = (Producer) { .store = s, .id = i, .done = &done };
                pthread_create(&t[i], NULL, produce, &p[i]);
        }
        is_int(consume(s, &done, &moved, &wakeups), 0,
               "the loop side drained and flushed while %d threads submitted", PRODUCERS);
        for (int i = 0; i < PRODUCERS; i++) {
                pthread_join(t[i], NULL);
                failed += p[i].failed;
        }
        is_int(failed, 0, "no store_submit failed");
        ok(wakeups > 0 && moved > 0, "the eventfd woke the loop side (%u times, %zu samples drained there)",
           wakeups, moved);
        is_int(store_pending(s), 0, "nothing is left pending after the flushes");
        is_int(sql_int(path, "SELECT count(*) FROM samples"), PRODUCERS * PER_PRODUCER,
               "every submitted sample is in the database");
        is_int(sql_int(path, "SELECT count(*) FROM (SELECT DISTINCT series_id, ts, value FROM samples)"),
               PRODUCERS * PER_PRODUCER, "each exactly once");
        is_int(sql_int(path, "SELECT count(*) FROM samples JOIN series ON series.id = series_id "
                             "WHERE value != CAST(substr(name, 7, 1) AS INTEGER) * 1e6 + ts"), 0,
               "each under its own producer's series with its own value");

        for (int i = 0; i < 100000; i++)
                if (store_submit(s, "load.t0.flood", i, 1) < 0)
                        break;
        is_int(store_submit(s, "load.t0.flood", 1, 1), -ENOBUFS, "a full inbox says -ENOBUFS");
        is_int(store_pending(s), 100000, "the submitted samples count as pending");
        is_int(store_flush(s), 0, "store_flush drains the inbox itself");
        store_health(s, &h);
        is_int(h.dropped, 1, "the refused sample is counted as dropped");
        store_free(s);
}

/* ---------------------------------------------------------------- health */

static void test_health_busy(const char *path) {
        sqlite3 *other = NULL;
        Store *s = NULL;
        char *err = NULL, reason[400];
        StoreHealth h;

        if (store_open(path, &s, &err) < 0) {
                ok(0, "open a database for the health: %s", err ? err : "?");
                free(err);
                return;
        }
        store_health(s, &h);
        ok(!store_health_failing(&h) && h.last_flush_ms == 0 && h.last_error[0] == '\0',
           "a fresh store is healthy, with no flush yet");
        store_append(s, "h.a.x", 1, 1);
        store_append(s, "h.a.x", 2, 2);
        ok(sqlite3_open(path, &other) == SQLITE_OK &&
           sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK,
           "(setup) another connection holds the write lock");
        is_int(store_flush(s), -EBUSY, "the flush fails while the lock is held");
        store_health(s, &h);
        ok(store_health_failing(&h), "the health says failing");
        is_int(h.failed_samples, 2, "with the 2 samples it could not write");
        is_int(h.queued, 2, "which stay queued");
        is_int(h.error, -EBUSY, "and the errno");
        is_str(h.last_error, "database is locked", "last_error has SQLite's words");
        store_health_reason(&h, reason, sizeof reason);
        ok(strncmp(reason, "cannot write 2 samples since 20", 31) == 0 &&
           strstr(reason, "Z: database is locked"), "the reason line: %s", reason);
        sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(other);

        is_int(store_flush(s), 0, "the flush works once the lock is gone");
        store_health(s, &h);
        ok(!store_health_failing(&h) && h.failed_samples == 0 && h.queued == 0 && h.error == 0,
           "the health is back to writing");
        ok(h.last_flush_ms > 1700000000000, "with the time of the last flush");
        is_str(h.last_error, "database is locked", "the last error is kept for whoever asks later");
        store_free(s);
}

/* The path is checked at each flush: a deleted or replaced file is never
 * written to again. */
static void test_file_gone(const char *path, const char *spare) {
        Store *s = NULL;
        char *err = NULL;
        StoreHealth h;

        if (store_open(path, &s, &err) < 0) {
                ok(0, "open a database to delete: %s", err ? err : "?");
                free(err);
                return;
        }
        store_append(s, "f.a.x", 1, 1);
        is_int(store_flush(s), 0, "(setup) a first flush");
        unlink(path);
        store_append(s, "f.a.x", 2, 1);
        is_int(store_flush(s), -ESTALE, "a flush after the file was deleted says -ESTALE");
        store_health(s, &h);
        is_str(h.last_error, "the database file was deleted", "and the health says deleted");
        is_int(h.queued, 1, "the sample stays queued");
        s = store_free(s);

        is_int(store_open(path, &s, &err), 0, "(setup) a new database at the path");
        free(err);
        ok(raw_exec(spare, "CREATE TABLE t (x); DROP TABLE t") == SQLITE_OK, "(setup) a spare file");
        ok(rename(spare, path) == 0, "(setup) the spare file replaces the database");
        store_append(s, "f.a.x", 3, 1);
        is_int(store_flush(s), -ESTALE, "a flush after the file was replaced says -ESTALE");
        store_health(s, &h);
        ok(strncmp(h.last_error, "the database file was replaced (inode ", 38) == 0,
           "and the health says replaced: %s", h.last_error);
        is_int(sql_int(path, "SELECT count(*) FROM sqlite_master"), 0,
               "nothing of the old file shows in the replacement (its -wal is gone)");
        store_free(s);
        is_int(sql_int(path, "SELECT count(*) FROM sqlite_master"), 0, "not even after the writer closed");
}

/* ---------------------------------------------------------------- application_id */

static void test_foreign(const char *path) {
        char want[PATH_MAX + 128];
        Store *s = NULL;
        char *err = NULL;
        int r;

        ok(raw_exec(path, "PRAGMA application_id = 1234; CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT);"
                          "CREATE TABLE samples (series_id, ts, value); PRAGMA user_version = 1") == SQLITE_OK,
           "(setup) a database of another application (application_id 1234)");
        r = store_open(path, &s, &err);
        ok(r == -EMEDIUMTYPE && !s, "store_open refuses another application's database");
        snprintf(want, sizeof want, "%s: not a perfwatch database (application_id 0x000004d2, perfwatch's is "
                 "0x50665764); refusing to open it", path);
        is_str(err, want, "the refusal names the file and the application_id");
        free(err);
        ok(store_open_readonly(path, &s, &err) == -EMEDIUMTYPE && !s, "the read-only open refuses it too");
        free(err);
        is_int(sql_int(path, "PRAGMA user_version"), 1, "the refused file's schema version is untouched");

        unlink(path);
        ok(raw_exec(path, "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)") == SQLITE_OK,
           "(setup) a plain SQLite database with a table of its own");
        r = store_open(path, &s, &err);
        ok(r == -EMEDIUMTYPE && !s, "store_open refuses a database with tables that are not perfwatch's");
        ok(err && strstr(err, "not a perfwatch database (application_id 0, schema version 0, 1 tables"),
           "the refusal says why: %s", err ? err : "(null)");
        free(err);
        is_int(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'series'"), 0,
               "nothing was migrated into it");
        is_int(sql_int(path, "PRAGMA application_id"), 0, "nor stamped");
}

int main(void) {
        char path[PATH_MAX], other[PATH_MAX];
        Store *w = NULL, *rd = NULL;
        char *err = NULL;

        if (tmpdir_make("test-store") < 0)
                return 1;
        test_open_errors();

        path_in(path, sizeof path, "main.db");
        is_int(store_open(path, &w, &err), 0, "open a new database read-write");
        is_int(store_open_readonly(path, &rd, &err), 0, "open it read-only beside the writer");
        free(err);
        if (w && rd) {
                test_round_trip(w, rd, path);
                test_flush_atomic(w, rd, path);
                test_stat(w, rd);
                test_points(w, rd);
                test_points_bounds(w, rd);
                test_list_prefix(rd);
                test_pool(path);
                test_queue(w);
                test_profiles(w, rd, path);
        }
        store_free(rd);
        store_free(w);

        path_in(other, sizeof other, "retention.db");
        test_retention(other);
        path_in(other, sizeof other, "plain.db");
        test_versions(path, other);
        path_in(other, sizeof other, "pool.db");
        test_pool_errors(other);
        path_in(other, sizeof other, "v1.db");
        test_migrate_v1(other);
        is_int(sql_int(path, "PRAGMA application_id"), STORE_APPLICATION_ID,
               "a database perfwatch created carries its application_id");
        path_in(other, sizeof other, "foreign.db");
        test_foreign(other);
        path_in(other, sizeof other, "cap.db");
        test_series_cap(other);
        path_in(other, sizeof other, "inbox.db");
        test_inbox(other);
        path_in(other, sizeof other, "health.db");
        test_health_busy(other);
        path_in(other, sizeof other, "gone.db");
        path_in(path, sizeof path, "spare.db");
        test_file_gone(other, path);

        remove_tmpdir();
        return tap_done();
}
