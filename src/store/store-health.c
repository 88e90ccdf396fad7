/* The writer's health: what the last flushes did, for /healthz, the API's
 * "store" object and STATUS=; and the check, at each flush, that the path
 * still names the database file opened (deleted or replaced underneath). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-internal.h"
#include "util/units.h"
#include "util/util.h"

int store_file_remember(Store *s) {
        struct stat st;

        if (stat(s->path, &st) < 0)
                return -errno;
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        return 0;
}

/* NB: SQLite neither checkpoints nor deletes the -wal of a file that moved,
 * and whoever opens the path next would read our frames as part of the new
 * file: they go with the file they belonged to. */
static void forget_wal(Store *s) {
        char *wal = strjoin(s->path, "-wal", NULL), *shm = strjoin(s->path, "-shm", NULL);

        if (wal)
                (void) unlink(wal);
        if (shm)
                (void) unlink(shm);
        free(wal);
        free(shm);
}

int store_file_check(Store *s) {
        struct stat st;
        int r = 0;

        if (stat(s->path, &st) < 0) {
                if (errno != ENOENT)
                        return 0;       /* not proof of anything: let SQLite say */
                snprintf(s->sql_error, sizeof s->sql_error, "the database file was deleted");
                r = -ESTALE;
        } else if (st.st_dev != s->dev || st.st_ino != s->ino) {
                snprintf(s->sql_error, sizeof s->sql_error,
                         "the database file was replaced (inode %" PRIu64 ", opened %" PRIu64 ")",
                         (uint64_t) st.st_ino, (uint64_t) s->ino);
                r = -ESTALE;
        }
        if (r < 0 && !s->stale) {
                s->stale = true;
                forget_wal(s);
        }
        return r;
}

void store_health_note_flush(Store *s, int r, size_t n) {
        StoreHealth *h = &s->health;
        int64_t now_ms = (int64_t) (now_realtime_usec() / USEC_PER_MSEC);

        if (r >= 0) {
                h->error = 0;
                h->failed_samples = 0;
                h->failing_since_ms = 0;
                h->last_flush_ms = now_ms;
                return;
        }
        h->error = r;
        h->failed_samples = n;
        if (h->failing_since_ms == 0)
                h->failing_since_ms = now_ms;
        snprintf(h->last_error, sizeof h->last_error, "%s",
                 s->sql_error[0] ? s->sql_error : strerror(-r));
}

void store_health_note_extra(Store *s, int64_t id, const char *key, int r) {
        StoreHealth *h = &s->health;

        h->extras_failed++;
        h->extra_failed_ms = (int64_t) (now_realtime_usec() / USEC_PER_MSEC);
        snprintf(h->extra_error, sizeof h->extra_error, "run %" PRId64 " %s: %s", id, key ?: "(null)",
                 s->sql_error[0] ? s->sql_error : strerror(-r));
}

void store_health(const Store *s, StoreHealth *ret) {
        if (!s) {
                *ret = (StoreHealth) {};
                return;
        }
        *ret = s->health;
        ret->queued = store_pending(s);
}

char *store_health_reason(const StoreHealth *h, char *buf, size_t size) {
        char since[32] = "";

        if (h->failing_since_ms > 0)
                units_format_iso8601((uint64_t) h->failing_since_ms * USEC_PER_MSEC, since, sizeof since);
        snprintf(buf, size, "cannot write %" PRIu64 " samples since %s: %s", h->failed_samples,
                 since[0] ? since : "start", h->last_error[0] ? h->last_error : "unknown error");
        return buf;
}
