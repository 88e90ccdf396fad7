/* The store's connections and time series: opening and migrating the
 * database, the in-memory sample queue and its flush, retention, series
 * reads, and the read-only pool.  The profiles are in store-profiles.c. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "util/log.h"
#include "store/store-internal.h"
#include "util/util.h"

/* The migrations, NULL-terminated; src/store/store-schema.c is generated from sql/. */
extern const char *const store_migrations[];

#define QUEUE_MAX 100000U
#define QUEUE_FIRST 256U
/* A queue buffer that grew past this during an outage is given back after
 * the flush that drains it, so one bad hour does not pin memory for months. */
#define QUEUE_KEEP 8192U
/* The writer runs on the event loop: when another process holds the write
 * lock it gives up quickly and the samples wait for the next flush; API
 * readers, on their own threads, may wait longer. */
#define BUSY_TIMEOUT_WRITER_MS 50
#define BUSY_TIMEOUT_READER_MS 5000
/* Page cache per connection, in KiB: the daemon must stay within 12 MiB. */
#define CACHE_KIB_WRITER 2000
#define CACHE_KIB_READER 1000
#define WAL_SIZE_LIMIT (8 * 1024 * 1024)

#define SERIES_ID_OF_1 "(SELECT id FROM series WHERE name = ?1)"

/* The statements up to STMT_PROFILE_FIRST; store_profile_sql has the rest. */
static const char *const series_sql[STMT_PROFILE_FIRST] = {
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_SERIES_INSERT] = "INSERT OR IGNORE INTO series (name) VALUES (?1)",
        [STMT_SERIES_ID] = "SELECT id FROM series WHERE name = ?1",
        [STMT_SAMPLE_INSERT] = "INSERT INTO samples (series_id, ts, value) VALUES (?1, ?2, ?3)",
        /* CROSS JOIN pins series as the outer loop, so each series' old
         * samples come from the (series_id, ts) index: a step never scans
         * the whole table, not even when nothing is left to delete. */
        [STMT_RETENTION] = "DELETE FROM samples WHERE rowid IN ("
                           "SELECT sa.rowid FROM series AS se CROSS JOIN samples AS sa "
                           "ON sa.series_id = se.id AND sa.ts < ?1 LIMIT ?2)",
        [STMT_LAST] = "SELECT ts, value FROM samples WHERE series_id = " SERIES_ID_OF_1
                      " ORDER BY ts DESC LIMIT 1",
        [STMT_POINTS_RAW] = "SELECT ts, value FROM samples "
                            "WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3 ORDER BY ts",
        /* The newest end of a range first, walking the index backwards. */
        [STMT_POINTS_NEWEST] = "SELECT ts, value FROM samples "
                               "WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3 "
                               "ORDER BY ts DESC LIMIT ?4",
        /* One index probe per series for its newest sample. */
        [STMT_LIST] = "SELECT se.name, sa.ts, sa.value FROM series AS se "
                      "LEFT JOIN samples AS sa ON sa.rowid = "
                      "(SELECT rowid FROM samples WHERE series_id = se.id ORDER BY ts DESC LIMIT 1) "
                      "WHERE se.name >= ?1 AND (?2 IS NULL OR se.name < ?2) "
                      "ORDER BY se.name LIMIT ?3",
};

struct StorePool {
        char *path;
        unsigned n, opened;
        Store **idle;
        unsigned n_idle;
        pthread_mutex_t mutex;
        pthread_cond_t cond;
};

/* ---------------------------------------------------------------- errors */

static int errno_from_sqlite(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_INTERRUPT:
                return -ETIMEDOUT;   /* only store_set_deadline() interrupts */
        default:
                return -EIO;
        }
}

static const char *stmt_sql(unsigned id) {
        if (id < STMT_PROFILE_FIRST)
                return series_sql[id];
        if (id < STMT_ROLLUP_FIRST)
                return store_profile_sql[id - STMT_PROFILE_FIRST];
        if (id < STMT_RUN_FIRST)
                return store_rollup_sql[id - STMT_ROLLUP_FIRST];
        return store_run_sql[id - STMT_RUN_FIRST];
}

/* A query error goes back as an errno for the caller to log; SQLite's own
 * words are kept at debug level for whoever digs deeper. */
int store_sql_error(Store *s, int rc, unsigned id) {
        log_debug("%s: \"%s\": %s", s->path, stmt_sql(id), sqlite3_errmsg(s->db));
        snprintf(s->sql_error, sizeof s->sql_error, "%s", sqlite3_errmsg(s->db));
        return errno_from_sqlite(rc) ?: -EIO;
}

/* ---------------------------------------------------------------- statements */

int store_stmt_get(Store *s, unsigned id, sqlite3_stmt **ret) {
        int rc;

        if (!s->stmt[id]) {
                rc = sqlite3_prepare_v3(s->db, stmt_sql(id), -1, SQLITE_PREPARE_PERSISTENT,
                                        &s->stmt[id], NULL);
                if (rc != SQLITE_OK)
                        return store_sql_error(s, rc, id);
        }
        *ret = s->stmt[id];
        return 0;
}

/* Resetting at once matters: a reader left mid-statement keeps its WAL
 * snapshot and stops checkpoints from recycling the log. */
void store_stmt_done(sqlite3_stmt *st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
}

int store_walk(Store *s, unsigned id, sqlite3_stmt *st, size_t max, int (*row)(sqlite3_stmt *st, void *u),
               void *u) {
        size_t n = 0;
        int r = 0, rc;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = n++ == max ? 1 : row(st, u);
                if (r != 0)
                        break;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = store_sql_error(s, rc, id);
        store_stmt_done(st);
        return r;
}

/* Runs a statement that returns no rows. */
int store_stmt_exec(Store *s, unsigned id) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_stmt_get(s, id, &st);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        r = rc == SQLITE_DONE ? 0 : store_sql_error(s, rc, id);
        store_stmt_done(st);
        return r;
}

void store_txn_rollback(Store *s) {
        if (!sqlite3_get_autocommit(s->db))
                (void) store_stmt_exec(s, STMT_ROLLBACK);
}

static int pragma_int(sqlite3 *db, const char *sql, int *ret) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return errno_from_sqlite(rc) ?: -EIO;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return rc == SQLITE_ROW ? 0 : (errno_from_sqlite(rc) ?: -EIO);
}

/* ---------------------------------------------------------------- series names */

static uint32_t name_hash(const char *p) {
        uint32_t h = 2166136261u;

        for (; *p; p++)
                h = (h ^ (uint8_t) *p) * 16777619u;
        return h;
}

static int slots_grow(Store *s) {
        size_t n = s->n_slots ? s->n_slots * 2 : 64;
        uint32_t *slots = calloc(n, sizeof *slots);

        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_series; i++) {
                size_t j = s->series[i].hash & (n - 1);
                while (slots[j])
                        j = (j + 1) & (n - 1);
                slots[j] = (uint32_t) i + 1;
        }
        free(s->slots);
        s->slots = slots;
        s->n_slots = n;
        return 0;
}

/* The length of a name's source prefix: up to and with its second dot. */
static size_t prefix_len(const char *name) {
        const char *dot = strchr(name, '.');

        if (!dot)
                return 0;
        return (size_t) ((strchr(dot + 1, '.') ?: dot) - name) + 1;
}

/* The counter of the prefix of `name`, added when new; NULL without memory.
 * A linear walk: there are about as many prefixes as sources, and it runs
 * only for a name not seen before. */
static SeriesPrefix *prefix_of(Store *s, const char *name) {
        size_t len = prefix_len(name);
        SeriesPrefix *a;

        for (size_t i = 0; i < s->n_prefixes; i++)
                if (strlen(s->prefixes[i].prefix) == len && strncmp(s->prefixes[i].prefix, name, len) == 0)
                        return &s->prefixes[i];
        if (s->n_prefixes == s->alloc_prefixes) {
                size_t n = s->alloc_prefixes ? s->alloc_prefixes * 2 : 8;
                a = realloc(s->prefixes, n * sizeof *a);
                if (!a)
                        return NULL;
                s->prefixes = a;
                s->alloc_prefixes = n;
        }
        a = &s->prefixes[s->n_prefixes];
        *a = (SeriesPrefix) { .prefix = strndup(name, len) };
        if (!a->prefix)
                return NULL;
        s->n_prefixes++;
        return a;
}

/* `capped`: a new name from a source (not one read back from the file). */
static int series_add(Store *s, const char *name, uint32_t hash, size_t slot, bool capped,
                      uint32_t *ret) {
        SeriesPrefix *pre = prefix_of(s, name);
        char *copy;

        if (!pre)
                return -ENOMEM;
        /* A target whose JSON keys change on every poll (ids, timestamps)
         * would otherwise grow memory and the database without end, and
         * one such target must not use up the names of all the others. */
        if (capped && pre->n >= STORE_SERIES_PER_PREFIX_MAX)
                return -E2BIG;
        if (s->n_series == s->alloc_series) {
                size_t n = s->alloc_series ? s->alloc_series * 2 : 16;
                Series *a = realloc(s->series, n * sizeof *a);
                if (!a)
                        return -ENOMEM;
                s->series = a;
                s->alloc_series = n;
        }
        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        s->series[s->n_series] = (Series) { .name = copy, .hash = hash };
        *ret = (uint32_t) s->n_series++;
        s->slots[slot] = *ret + 1;
        pre->n++;
        return 0;
}

/* The index of `name` in s->series, added (id unknown) when new. */
static int series_intern(Store *s, const char *name, bool capped, uint32_t *ret) {
        uint32_t h = name_hash(name);
        size_t j;
        int r;

        /* Grow at 3/4 load so probe chains stay short. */
        if ((s->n_series + 1) * 4 > s->n_slots * 3) {
                r = slots_grow(s);
                if (r < 0)
                        return r;
        }
        for (j = h & (s->n_slots - 1); s->slots[j]; j = (j + 1) & (s->n_slots - 1)) {
                const Series *e = &s->series[s->slots[j] - 1];
                if (e->hash == h && strcmp(e->name, name) == 0) {
                        *ret = s->slots[j] - 1;
                        return 0;
                }
        }
        return series_add(s, name, h, j, capped, ret);
}

/* Creates the series row if needed and caches its id. */
static int series_resolve(Store *s, Series *e) {
        sqlite3_stmt *ins = NULL, *sel = NULL;
        int r, rc;

        if (e->id > 0)
                return 0;
        r = store_stmt_get(s, STMT_SERIES_INSERT, &ins);
        if (r >= 0)
                r = store_stmt_get(s, STMT_SERIES_ID, &sel);
        if (r < 0)
                return r;

        sqlite3_bind_text(ins, 1, e->name, -1, SQLITE_STATIC);
        rc = sqlite3_step(ins);
        store_stmt_done(ins);
        if (rc != SQLITE_DONE)
                return store_sql_error(s, rc, STMT_SERIES_INSERT);

        sqlite3_bind_text(sel, 1, e->name, -1, SQLITE_STATIC);
        rc = sqlite3_step(sel);
        if (rc == SQLITE_ROW) {
                e->id = sqlite3_column_int64(sel, 0);
                e->id_gen = s->flush_gen;
        }
        store_stmt_done(sel);
        return rc == SQLITE_ROW ? 0 : store_sql_error(s, rc, STMT_SERIES_ID);
}

/* Ids learnt in a flush that rolled back may name rows that never existed. */
static void series_forget_gen(Store *s, uint64_t gen) {
        for (size_t i = 0; i < s->n_series; i++)
                if (s->series[i].id > 0 && s->series[i].id_gen == gen)
                        s->series[i].id = 0;
}

int store_series_lookup(Store *s, const char *name, int64_t *ret) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_stmt_get(s, STMT_SERIES_ID, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int64(st, 0);
        r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_sql_error(s, rc, STMT_SERIES_ID);
        store_stmt_done(st);
        return r;
}

/* Reads the names already in the file, so that they count towards their
 * prefix's cap (which then holds across restarts) and need no lookup. */
static int series_load(Store *s, char **ret_error) {
        sqlite3_stmt *st = NULL;
        uint32_t idx;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "SELECT id, name FROM series", -1, &st, NULL);
        while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = (const char *) sqlite3_column_text(st, 1);
                r = series_intern(s, name ?: "", false, &idx);
                if (r < 0)
                        break;
                s->series[idx].id = sqlite3_column_int64(st, 0);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = set_error(ret_error, errno_from_sqlite(rc) ?: -EIO, "%s: cannot read the series names: %s",
                              s->path, sqlite3_errmsg(s->db));
        else if (r < 0)
                set_error(ret_error, r, "%s: cannot read the series names: %s", s->path, strerror(-r));
        sqlite3_finalize(st);
        return r;
}

/* ---------------------------------------------------------------- queue */

static int queue_grow(Store *s) {
        size_t n = s->q_alloc ? s->q_alloc * 2 : QUEUE_FIRST;
        Sample *q;

        if (n > QUEUE_MAX)
                n = QUEUE_MAX;
        q = malloc(n * sizeof *q);
        if (!q)
                return -ENOMEM;
        for (size_t i = 0; i < s->q_len; i++)
                q[i] = s->queue[(s->q_head + i) % s->q_alloc];
        free(s->queue);
        s->queue = q;
        s->q_alloc = n;
        s->q_head = 0;
        return 0;
}

static void queue_clear(Store *s) {
        s->q_head = s->q_len = 0;
        if (s->q_alloc > QUEUE_KEEP) {
                free(s->queue);
                s->queue = NULL;
                s->q_alloc = 0;
        }
}

/* ---------------------------------------------------------------- opening */

static int migrations_count(void) {
        int n = 0;

        while (store_migrations[n])
                n++;
        return n;
}

/* Runs SQL text of one or more statements; `what` leads the error. */
static int store_exec(Store *s, const char *sql, const char *what, char **ret_error) {
        char *msg = NULL;
        int rc, r = 0;

        rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK)
                r = set_error(ret_error, errno_from_sqlite(rc) ?: -EIO, "%s: %s: %s", s->path, what,
                              msg ?: sqlite3_errstr(rc));
        sqlite3_free(msg);
        return r;
}

static int store_connect(const char *path, bool readonly, Store **ret, char **ret_error) {
        int flags = SQLITE_OPEN_NOMUTEX |
                    (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        Store *s;
        int rc, r, e;

        s = calloc(1, sizeof *s);
        if (!s)
                return set_error(ret_error, -ENOMEM, "%s: out of memory", path);
        s->readonly = readonly;
        /* First, so that store_free() may undo it. */
        r = store_inbox_init(s);
        if (r >= 0) {
                s->path = strdup(path);
                r = s->path ? 0 : -ENOMEM;
        }
        if (r < 0) {
                store_free(s);
                return set_error(ret_error, r, "%s: cannot create the store: %s", path, strerror(-r));
        }

        rc = sqlite3_open_v2(path, &s->db, flags, NULL);
        if (rc != SQLITE_OK) {
                e = s->db ? sqlite3_system_errno(s->db) : 0;
                r = e > 0 ? -e : (errno_from_sqlite(rc) ?: -EIO);
                set_error(ret_error, r, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
                store_free(s);
                return r;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, readonly ? BUSY_TIMEOUT_READER_MS : BUSY_TIMEOUT_WRITER_MS);
        *ret = s;
        return 0;
}

/* Refuses a database this binary cannot understand: a newer schema, or (read
 * only, where nothing may create it) none at all. */
static int store_check_version(Store *s, char **ret_error) {
        int known = migrations_count(), v, r;

        r = pragma_int(s->db, "PRAGMA user_version", &v);
        if (r < 0)
                return set_error(ret_error, r, "%s: %s", s->path, sqlite3_errmsg(s->db));
        if (v > known)
                return set_error(ret_error, -EOPNOTSUPP,
                                 "%s: database schema version %d is newer than this perfwatchd (%d)",
                                 s->path, v, known);
        if (v == 0 && s->readonly)
                return set_error(ret_error, -ENODATA,
                                 "%s: database is not initialised (schema version 0); perfwatchd creates it",
                                 s->path);
        return 0;
}

/* Counts the tables of a database whose application_id is 0: `ours` those
 * every perfwatch schema has, `others` any that no perfwatch schema made.
 * NB: every table a migration creates belongs in the second list: a file
 * migrated but not yet stamped (killed between the two) must still open. */
static int count_tables(Store *s, int *ret_ours, int *ret_others) {
        static const char sql[] =
                "SELECT coalesce(sum(name IN ('series', 'samples')), 0), "
                "coalesce(sum(name NOT IN ('series', 'samples', 'profiles', 'rollups', 'runs', "
                "'run_histograms')), 0) "
                "FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite!_%' ESCAPE '!'";
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret_ours = sqlite3_column_int(st, 0);
                *ret_others = sqlite3_column_int(st, 1);
        }
        sqlite3_finalize(st);
        return rc == SQLITE_ROW ? 0 : (errno_from_sqlite(rc) ?: -EIO);
}

/* Refuses a database that is not perfwatch's before anything is changed in
 * it: another application's id, or id 0 (perfwatch before it stamped its
 * files, or a plain SQLite file) with tables that are not perfwatch's. */
static int store_check_owner(Store *s, char **ret_error) {
        int app = 0, v = 0, ours = 0, others = 0, r;

        r = pragma_int(s->db, "PRAGMA application_id", &app);
        if (r >= 0)
                r = pragma_int(s->db, "PRAGMA user_version", &v);
        if (r >= 0 && app == 0)
                r = count_tables(s, &ours, &others);
        if (r < 0)
                return set_error(ret_error, r, "%s: %s", s->path, sqlite3_errmsg(s->db));
        if (app == STORE_APPLICATION_ID)
                return 0;
        if (app != 0)
                return set_error(ret_error, -EMEDIUMTYPE,
                                 "%s: not a perfwatch database (application_id 0x%08x, perfwatch's is "
                                 "0x%08x); refusing to open it", s->path, (unsigned) app,
                                 (unsigned) STORE_APPLICATION_ID);
        if (ours + others == 0 || (v >= 1 && ours == 2 && others == 0))
                return 0;
        if (others == 0)
                return set_error(ret_error, -EMEDIUMTYPE,
                                 "%s: not a perfwatch database (application_id 0, schema version %d, "
                                 "tables named like perfwatch's but not its schema); refusing to open it",
                                 s->path, v);
        return set_error(ret_error, -EMEDIUMTYPE,
                         "%s: not a perfwatch database (application_id 0, schema version %d, "
                         "%d tables that are not perfwatch's); refusing to open it",
                         s->path, v, others);
}

static int store_set_wal(Store *s, char **ret_error) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                r = set_error(ret_error, errno_from_sqlite(rc) ?: -EIO,
                              "%s: cannot set journal_mode=WAL: %s", s->path, sqlite3_errmsg(s->db));
        else if (strcmp((const char *) sqlite3_column_text(st, 0) ?: "", "wal") != 0)
                r = set_error(ret_error, -EOPNOTSUPP,
                              "%s: journal_mode=WAL refused (mode stays %s); WAL needs a local file system",
                              s->path, (const char *) sqlite3_column_text(st, 0) ?: "unknown");
        sqlite3_finalize(st);
        return r;
}

/* Applies each missing migration in its own transaction.  The version is read
 * again inside it, so two processes creating one file never both apply one. */
static int store_migrate(Store *s, char **ret_error) {
        int known = migrations_count(), v, r;
        char what[64], sql[64];

        for (;;) {
                r = store_exec(s, "BEGIN IMMEDIATE", "cannot start the schema migration", ret_error);
                if (r < 0)
                        return r;
                r = pragma_int(s->db, "PRAGMA user_version", &v);
                if (r < 0) {
                        set_error(ret_error, r, "%s: %s", s->path, sqlite3_errmsg(s->db));
                        goto fail;
                }
                if (v >= known)
                        return store_exec(s, "COMMIT", "schema check", ret_error);

                snprintf(what, sizeof what, "schema migration %d failed", v + 1);
                snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
                r = store_exec(s, store_migrations[v], what, ret_error);
                if (r >= 0)
                        r = store_exec(s, sql, what, ret_error);
                if (r >= 0)
                        r = store_exec(s, "COMMIT", what, ret_error);
                if (r < 0)
                        goto fail;
        }
fail:
        if (!sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int store_open(const char *path, Store **ret, char **ret_error) {
        char tune[160], stamp[64];
        Store *s = NULL;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!path || !ret)
                return -EINVAL;

        snprintf(tune, sizeof tune,
                 "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -%d; PRAGMA journal_size_limit = %d",
                 CACHE_KIB_WRITER, WAL_SIZE_LIMIT);
        snprintf(stamp, sizeof stamp, "PRAGMA application_id = %d", STORE_APPLICATION_ID);
        r = store_connect(path, false, &s, ret_error);
        if (r >= 0)
                r = store_check_owner(s, ret_error);
        if (r >= 0)
                r = store_check_version(s, ret_error);
        if (r >= 0)
                r = store_set_wal(s, ret_error);
        if (r >= 0)
                r = store_exec(s, tune, "cannot apply the connection settings", ret_error);
        if (r >= 0)
                r = store_migrate(s, ret_error);
        if (r >= 0)
                r = store_exec(s, stamp, "cannot set the application_id", ret_error);
        if (r >= 0)
                r = series_load(s, ret_error);
        if (r >= 0) {
                r = store_file_remember(s);
                if (r < 0)
                        set_error(ret_error, r, "%s: %s", path, strerror(-r));
        }
        if (r < 0) {
                store_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int store_open_readonly(const char *path, Store **ret, char **ret_error) {
        char tune[64];
        Store *s = NULL;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!path || !ret)
                return -EINVAL;

        snprintf(tune, sizeof tune, "PRAGMA cache_size = -%d", CACHE_KIB_READER);
        r = store_connect(path, true, &s, ret_error);
        if (r >= 0)
                r = store_check_owner(s, ret_error);
        if (r >= 0)
                r = store_check_version(s, ret_error);
        if (r >= 0)
                r = store_exec(s, tune, "cannot apply the connection settings", ret_error);
        if (r < 0) {
                store_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        for (unsigned i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(s->stmt[i]);
        sqlite3_close(s->db);
        for (size_t i = 0; i < s->n_series; i++)
                free(s->series[i].name);
        for (size_t i = 0; i < s->n_prefixes; i++)
                free(s->prefixes[i].prefix);
        free(s->prefixes);
        free(s->series);
        free(s->slots);
        store_inbox_done(s);
        free(s->queue);
        free(s->path);
        free(s);
        return NULL;
}

/* ---------------------------------------------------------------- writing */

int store_append(Store *s, const char *series, int64_t ts_ms, double value) {
        uint32_t idx;
        int r;

        if (!s || !series || !*series)
                return -EINVAL;
        if (s->readonly)
                return -EROFS;
        /* SQLite binds NaN as NULL, which `value REAL NOT NULL` refuses: one
         * queued NaN would fail every later flush. */
        if (isnan(value))
                return -EINVAL;

        r = series_intern(s, series, true, &idx);
        if (r < 0)
                return r;
        if (s->q_len == QUEUE_MAX) {
                s->q_head = (s->q_head + 1) % s->q_alloc;
                s->q_len--;
                s->dropped++;
        } else if (s->q_len == s->q_alloc) {
                r = queue_grow(s);
                if (r < 0)
                        return r;
        }
        s->queue[(s->q_head + s->q_len) % s->q_alloc] = (Sample) {
                .series = idx, .ts = ts_ms, .value = value,
        };
        s->q_len++;
        return 0;
}

static int flush_sample(Store *s, sqlite3_stmt *ins, const Sample *q) {
        Series *e = &s->series[q->series];
        int r, rc;

        r = series_resolve(s, e);
        if (r < 0)
                return r;
        sqlite3_bind_int64(ins, 1, e->id);
        sqlite3_bind_int64(ins, 2, q->ts);
        sqlite3_bind_double(ins, 3, q->value);
        rc = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (rc != SQLITE_DONE)
                return store_sql_error(s, rc, STMT_SAMPLE_INSERT);
        return store_rollup_add(s, e->id, q->ts, q->value);
}

static int flush_queue(Store *s) {
        sqlite3_stmt *ins = NULL;
        int r;

        if (s->q_len == 0)
                return 0;

        s->flush_gen++;
        r = store_stmt_get(s, STMT_SAMPLE_INSERT, &ins);
        if (r < 0)
                return r;
        r = store_stmt_exec(s, STMT_BEGIN);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->q_len && r >= 0; i++)
                r = flush_sample(s, ins, &s->queue[(s->q_head + i) % s->q_alloc]);
        sqlite3_clear_bindings(ins);
        if (r >= 0)
                r = store_stmt_exec(s, STMT_COMMIT);
        if (r < 0) {
                store_txn_rollback(s);
                series_forget_gen(s, s->flush_gen);
                return r;
        }
        queue_clear(s);
        return 0;
}

int store_flush(Store *s) {
        int r;

        if (!s)
                return -EINVAL;
        if (s->readonly)
                return -EROFS;
        (void) store_inbox_drain(s, NULL);
        if (s->dropped > 0) {
                log_warning("%s: sample queue was full (%u): dropped the %" PRIu64 " oldest samples",
                            s->path, QUEUE_MAX, s->dropped);
                s->health.dropped += s->dropped;
                s->dropped = 0;
        }
        s->sql_error[0] = '\0';
        /* Writing on into a file that no longer has a name, or beside its
         * replacement's -wal, would lose the samples or corrupt the new file. */
        r = store_file_check(s);
        if (r >= 0)
                r = flush_queue(s);
        store_health_note_flush(s, r, s->q_len);
        return r;
}

size_t store_pending(const Store *s) {
        return s ? s->q_len + store_inbox_len(s) : 0;
}

int store_retention_step(Store *s, int64_t cutoff_ms, unsigned max_rows, unsigned *ret_deleted) {
        sqlite3_stmt *st = NULL;
        unsigned n = 0, n_rollups = 0, n_runs = 0;
        int r, rc;

        if (!s || !ret_deleted)
                return -EINVAL;
        *ret_deleted = 0;
        if (s->readonly)
                return -EROFS;
        if (max_rows == 0)
                return 0;

        r = store_stmt_get(s, STMT_RETENTION, &st);
        if (r >= 0)
                r = store_stmt_exec(s, STMT_BEGIN);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, cutoff_ms);
        sqlite3_bind_int64(st, 2, max_rows);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                n = (unsigned) sqlite3_changes(s->db);
        r = rc == SQLITE_DONE ? 0 : store_sql_error(s, rc, STMT_RETENTION);
        store_stmt_done(st);
        if (r >= 0)
                r = store_rollup_retention(s, cutoff_ms, max_rows, &n_rollups);
        if (r >= 0)
                r = store_run_retention(s, cutoff_ms, max_rows, &n_runs);
        if (r >= 0)
                r = store_stmt_exec(s, STMT_COMMIT);
        if (r < 0) {
                store_txn_rollback(s);
                return r;
        }
        *ret_deleted = n > n_rollups ? n : n_rollups;
        if (n_runs > *ret_deleted)
                *ret_deleted = n_runs;
        return 0;
}

/* ---------------------------------------------------------------- reading */

int store_series_last(Store *s, const char *series, int64_t *ret_ts_ms, double *ret_value) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        if (!s || !series || !ret_ts_ms || !ret_value)
                return -EINVAL;
        r = store_stmt_get(s, STMT_LAST, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, series, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret_ts_ms = sqlite3_column_int64(st, 0);
                *ret_value = sqlite3_column_double(st, 1);
        }
        r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_sql_error(s, rc, STMT_LAST);
        store_stmt_done(st);
        return r;
}

/* Binds a series' id and a time range to statement `id`. */
static int points_stmt(Store *s, const char *series, unsigned id, int64_t from_ms, int64_t to_ms,
                       sqlite3_stmt **ret) {
        int64_t series_id = 0;
        int r;

        r = store_series_lookup(s, series, &series_id);
        if (r >= 0)
                r = store_stmt_get(s, id, ret);
        if (r < 0)
                return r;
        sqlite3_bind_int64(*ret, 1, series_id);
        sqlite3_bind_int64(*ret, 2, from_ms);
        sqlite3_bind_int64(*ret, 3, to_ms);
        return 0;
}

typedef struct Point {
        int64_t ts;
        double value;
} Point;

/* Up to `max` rows of the newest-first statement into `buf`: their count,
 * or a negative errno. */
static int points_read_newest(Store *s, sqlite3_stmt *st, Point *buf, size_t max) {
        size_t n = 0;
        int rc = SQLITE_DONE;

        while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                buf[n].ts = sqlite3_column_int64(st, 0);
                buf[n].value = sqlite3_column_double(st, 1);
                n++;
        }
        if (n < max && rc != SQLITE_DONE)
                return store_sql_error(s, rc, STMT_POINTS_NEWEST);
        return (int) n;
}

/* Where a page of `n` newest-first points (one more than fit was read)
 * ends: the points at the time of the first left out go to the next page,
 * so that `to` = that time pages on without a gap or a repeat.  Returns how
 * many points this page keeps. */
static size_t points_cut(const Point *buf, size_t n, int64_t *ret_next_to_ms) {
        int64_t cut = buf[n - 1].ts;
        size_t keep = n - 1;

        while (keep > 0 && buf[keep - 1].ts == cut)
                keep--;
        if (keep == 0) {
                /* Every point shares one millisecond: hand out what fits and
                 * page on below that millisecond. */
                keep = n - 1;
                cut--;
        }
        *ret_next_to_ms = cut;
        return keep;
}

int store_series_raw(Store *s, const char *series, int64_t from_ms, int64_t to_ms,
                     size_t max_points, int64_t *ret_next_to_ms,
                     int (*fn)(int64_t ts_ms, double value, void *u), void *u) {
        sqlite3_stmt *st = NULL;
        int64_t next_to = 0;
        Point *buf;
        size_t keep;
        int r, n;

        if (!s || !series || !fn || max_points == 0 || max_points > INT_MAX - 1)
                return -EINVAL;
        buf = malloc((max_points + 1) * sizeof *buf);
        if (!buf)
                return -ENOMEM;
        r = points_stmt(s, series, STMT_POINTS_NEWEST, from_ms, to_ms, &st);
        if (r < 0) {
                free(buf);
                return r;
        }
        sqlite3_bind_int64(st, 4, (int64_t) max_points + 1);
        n = points_read_newest(s, st, buf, max_points + 1);
        store_stmt_done(st);
        if (n < 0) {
                free(buf);
                return n;
        }
        keep = (size_t) n > max_points ? points_cut(buf, (size_t) n, &next_to) : (size_t) n;
        r = 0;
        for (size_t i = keep; i > 0 && r == 0; i--)
                r = fn(buf[i - 1].ts, buf[i - 1].value, u);
        free(buf);
        if (r == 0 && (size_t) n > max_points) {
                if (ret_next_to_ms)
                        *ret_next_to_ms = next_to;
                r = 1;
        }
        return r;
}

/* One bucket's running mean. */
typedef struct Bucket {
        int64_t start;
        double sum;
        uint64_t n;
} Bucket;

int store_series_step(Store *s, const char *series, int64_t from_ms, int64_t to_ms,
                      int64_t step_ms, uint64_t max_read,
                      int (*fn)(int64_t ts_ms, double value, void *u), void *u) {
        sqlite3_stmt *st = NULL;
        Bucket b = {};
        uint64_t read = 0;
        int r, rc;

        if (!s || !series || !fn || step_ms <= 0)
                return -EINVAL;
        r = points_stmt(s, series, STMT_POINTS_RAW, from_ms, to_ms, &st);
        if (r < 0)
                return r;
        /* The samples come in time order, so each bucket is complete when
         * the first sample of the next one arrives. */
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t ts = sqlite3_column_int64(st, 0), start = (ts / step_ms) * step_ms;

                if (++read > max_read) {
                        r = -E2BIG;
                        break;
                }
                if (b.n > 0 && start != b.start) {
                        r = fn(b.start, b.sum / (double) b.n, u);
                        if (r != 0)
                                break;
                        b = (Bucket) {};
                }
                b.start = start;
                b.sum += sqlite3_column_double(st, 1);
                b.n++;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = store_sql_error(s, rc, STMT_POINTS_RAW);
        else if (r == 0 && b.n > 0)
                r = fn(b.start, b.sum / (double) b.n, u);
        store_stmt_done(st);
        return r;
}

/* *ret: the least string above every string that starts with `prefix`, or
 * NULL when there is none (an empty prefix, or one of 0xff bytes only).
 * 0 or -ENOMEM. */
static int prefix_successor(const char *prefix, char **ret) {
        size_t n = strlen(prefix);

        *ret = NULL;
        while (n > 0 && (unsigned char) prefix[n - 1] == 0xff)
                n--;
        if (n == 0)
                return 0;
        *ret = strndup(prefix, n);
        if (!*ret)
                return -ENOMEM;
        (*ret)[n - 1] = (char) ((unsigned char) (*ret)[n - 1] + 1);
        return 0;
}

typedef struct SeriesWalk {
        int (*fn)(const char *name, int64_t ts_ms, double value, void *u);
        void *u;
} SeriesWalk;

/* A series whose samples retention removed comes back with NULLs: ts 0. */
static int series_row(sqlite3_stmt *st, void *u) {
        SeriesWalk *w = u;

        return w->fn((const char *) sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
                     sqlite3_column_double(st, 2), w->u);
}

int store_list_series(Store *s, const char *prefix, size_t max,
                      int (*fn)(const char *name, int64_t ts_ms, double value, void *u), void *u) {
        SeriesWalk w = { .fn = fn, .u = u };
        sqlite3_stmt *st = NULL;
        char *up;
        int r;

        if (!s || !fn || max > INT64_MAX - 1)
                return -EINVAL;
        prefix = prefix ?: "";
        r = prefix_successor(prefix, &up);
        if (r < 0)
                return r;
        r = store_stmt_get(s, STMT_LIST, &st);
        if (r < 0) {
                free(up);
                return r;
        }
        sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
        if (up)
                sqlite3_bind_text(st, 2, up, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 2);
        sqlite3_bind_int64(st, 3, (int64_t) max + 1);
        r = store_walk(s, STMT_LIST, st, max, series_row, &w);
        free(up);
        return r;
}

int store_schema_version(Store *s) {
        int v, r;

        if (!s)
                return -EINVAL;
        r = pragma_int(s->db, "PRAGMA user_version", &v);
        return r < 0 ? r : v;
}

/* ---------------------------------------------------------------- pool */

int store_pool_new(const char *path, unsigned n, StorePool **ret, char **ret_error) {
        StorePool *p;
        Store *first;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!path || n == 0 || !ret)
                return -EINVAL;
        p = calloc(1, sizeof *p);
        if (!p)
                return set_error(ret_error, -ENOMEM, "%s: out of memory", path);
        pthread_mutex_init(&p->mutex, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->n = n;
        p->path = strdup(path);
        p->idle = calloc(n, sizeof *p->idle);
        if (!p->path || !p->idle) {
                store_pool_free(p);
                return set_error(ret_error, -ENOMEM, "%s: out of memory", path);
        }

        /* One connection now, so a wrong path or schema shows at startup;
         * the others open when first needed. */
        r = store_open_readonly(path, &first, ret_error);
        if (r < 0) {
                store_pool_free(p);
                return r;
        }
        p->idle[p->n_idle++] = first;
        p->opened = 1;
        *ret = p;
        return 0;
}

StorePool *store_pool_free(StorePool *p) {
        if (!p)
                return NULL;
        for (unsigned i = 0; i < p->n_idle; i++)
                store_free(p->idle[i]);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->mutex);
        free(p->idle);
        free(p->path);
        free(p);
        return NULL;
}

Store *store_pool_acquire(StorePool *p) {
        char *error = NULL;
        Store *s = NULL;
        int r;

        if (!p)
                return NULL;
        pthread_mutex_lock(&p->mutex);
        while (p->n_idle == 0 && p->opened == p->n)
                pthread_cond_wait(&p->cond, &p->mutex);
        if (p->n_idle > 0) {
                s = p->idle[--p->n_idle];
                pthread_mutex_unlock(&p->mutex);
                return s;
        }
        /* Claim the slot, then open outside the lock: opening does I/O. */
        p->opened++;
        pthread_mutex_unlock(&p->mutex);

        r = store_open_readonly(p->path, &s, &error);
        if (r >= 0)
                return s;
        /* NULL tells the caller nothing more, so the reason is logged here. */
        if (error)
                log_error("read-only connection: %s", error);
        else
                log_error("%s: read-only connection: %s", p->path, strerror(-r));
        free(error);
        pthread_mutex_lock(&p->mutex);
        p->opened--;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->mutex);
        return NULL;
}

void store_pool_release(StorePool *p, Store *s) {
        if (!p || !s)
                return;
        pthread_mutex_lock(&p->mutex);
        if (p->n_idle < p->n)
                p->idle[p->n_idle++] = s;
        else
                s = store_free(s);
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->mutex);
}
