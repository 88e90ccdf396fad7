/* For the store's tests: a temporary directory for their database files,
 * and direct SQLite access for what they plant in or read from a database
 * file behind the store's back.  Include after tap.h. */
#pragma once

#include <dirent.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The test's directory, once tmpdir_make() made it. */
static char tmpdir[64] __attribute__((unused));

/* Makes the directory /tmp/NAME.XXXXXX (NAME short: a test's); 0, or -1
 * after saying why. */
static inline int tmpdir_make(const char *name) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/%s.XXXXXX", name);
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return -1;
        }
        return 0;
}

/* The path of file `name` in the test's directory. */
static inline void path_in(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* Removes the test's directory and every file in it, as a test. */
static inline void remove_tmpdir(void) {
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        char p[PATH_MAX];

        while (d && (e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                path_in(p, sizeof p, e->d_name);
                unlink(p);
        }
        if (d)
                closedir(d);
        ok(rmdir(tmpdir) == 0, "the test directory is removed");
}

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
