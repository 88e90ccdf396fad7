/* Direct SQLite access for the store's tests: what they plant in or read
 * from a database file behind the store's back. */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

/* Runs `sql` on the file at `path` (read-write, 5 s busy timeout); SQLite's
 * result code. */
static inline int raw_exec(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        int rc;

        rc = sqlite3_open(path, &db);
        if (rc == SQLITE_OK) {
                sqlite3_busy_timeout(db, 5000);
                rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        }
        sqlite3_close(db);
        return rc;
}

/* The first column of the first row of `sql`, read-only; -1 when none. */
static inline int64_t sql_int(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int64_t v = -1;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}
