/* The store's load scenario runs: a summary row per run, begun, updated
 * while it runs and finished with its histograms in one transaction;
 * listed, read back whole or one histogram at a time; the interrupted ones
 * marked aborted at startup; pruned by retention.  The connection, its
 * statements and its errors are store.c's. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "load/histogram.h"
#include "store/store-internal.h"
#include "util/util.h"

#define RUN_COLUMNS                                                                        \
        "id, scenario, model, state, started_at, ended_at, duration_ms, requests, ok, "   \
        "err_connect, err_timeout, err_status, err_other, dropped, aborted, target_rps, "  \
        "achieved_rps, reason, extra"
/* One statement per filter combination, so the planner can use an index. */
#define RUN_LIST_SQL(where)                                                                \
        "SELECT " RUN_COLUMNS " FROM runs WHERE " where "started_at BETWEEN ?3 AND ?4 "   \
        "ORDER BY started_at DESC, id DESC LIMIT ?5"
/* ?2..?12: the figures a running run updates. */
#define RUN_FIGURES_SET                                                                    \
        "duration_ms = ?2, requests = ?3, ok = ?4, err_connect = ?5, err_timeout = ?6, "  \
        "err_status = ?7, err_other = ?8, dropped = ?9, aborted = ?10, target_rps = ?11, " \
        "achieved_rps = ?12"
#define RUN_OLD "r.started_at < ?1 AND r.state <> 'running'"

const char *const store_run_sql[_STMT_MAX - STMT_RUN_FIRST] = {
        [STMT_RUN_INSERT - STMT_RUN_FIRST] =
                "INSERT INTO runs (scenario, model, state, started_at, target_rps, extra) "
                "VALUES (?1, ?2, 'running', ?3, ?4, ?5)",
        [STMT_RUN_UPDATE - STMT_RUN_FIRST] =
                "UPDATE runs SET " RUN_FIGURES_SET " WHERE id = ?1 AND state = 'running'",
        [STMT_RUN_FINISH - STMT_RUN_FIRST] =
                "UPDATE runs SET " RUN_FIGURES_SET ", state = ?13, ended_at = ?14, reason = ?15 "
                "WHERE id = ?1 AND state = 'running'",
        [STMT_RUN_HIST_INSERT - STMT_RUN_FIRST] =
                "INSERT INTO run_histograms (run_id, request, kind, data) VALUES (?1, ?2, ?3, ?4)",
        [STMT_RUN_EXTRA - STMT_RUN_FIRST] =
                "UPDATE runs SET extra = json_set(extra, ?2, json(?3)) WHERE id = ?1",
        [STMT_RUN_ABORT - STMT_RUN_FIRST] =
                "UPDATE runs SET state = 'aborted', ended_at = started_at + duration_ms, reason = ?1 "
                "WHERE state = 'running'",
        [STMT_RUN_LIST_ANY - STMT_RUN_FIRST] = RUN_LIST_SQL(""),
        [STMT_RUN_LIST_SCENARIO - STMT_RUN_FIRST] = RUN_LIST_SQL("scenario = ?1 AND "),
        [STMT_RUN_LIST_STATE - STMT_RUN_FIRST] = RUN_LIST_SQL("state = ?2 AND "),
        [STMT_RUN_LIST_BOTH - STMT_RUN_FIRST] = RUN_LIST_SQL("scenario = ?1 AND state = ?2 AND "),
        [STMT_RUN_GET - STMT_RUN_FIRST] = "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1",
        [STMT_RUN_HISTS - STMT_RUN_FIRST] =
                "SELECT request, kind, data FROM run_histograms WHERE run_id = ?1 ORDER BY request, kind",
        [STMT_RUN_HIST_ONE - STMT_RUN_FIRST] =
                "SELECT data FROM run_histograms WHERE run_id = ?1 AND request = ?2 AND kind = ?3",
        [STMT_RUN_LATEST - STMT_RUN_FIRST] =
                "SELECT id, ended_at, requests, err_timeout, started_at, ok, err_connect + err_status + err_other, dropped "
                "FROM runs WHERE scenario = ?1 AND state = 'completed' "
                "ORDER BY ended_at DESC, id DESC LIMIT 1",
        /* NB: json_quote() keeps an object or array as it is and quotes a
         * string, so that the member comes back as JSON text whatever it is;
         * json_type() tells a missing member (NULL) from a JSON null. */
        [STMT_RUN_LATEST_EXTRA - STMT_RUN_FIRST] =
                "SELECT id, ended_at, requests, err_timeout, CASE WHEN json_type(extra, ?2) IS NULL THEN NULL "
                "ELSE json_quote(json_extract(extra, ?2)) END FROM runs WHERE scenario = ?1 AND state = 'completed' "
                "ORDER BY ended_at DESC, id DESC LIMIT 1",
        /* CROSS JOIN pins runs as the outer loop: the old runs come from
         * the started_at index, their histograms from (run_id, ...). */
        [STMT_RUN_RETENTION_HISTS - STMT_RUN_FIRST] =
                "DELETE FROM run_histograms WHERE rowid IN ("
                "SELECT h.rowid FROM runs AS r CROSS JOIN run_histograms AS h ON h.run_id = r.id "
                "WHERE " RUN_OLD " LIMIT ?2)",
        [STMT_RUN_RETENTION - STMT_RUN_FIRST] =
                "DELETE FROM runs WHERE id IN (SELECT r.id FROM runs AS r WHERE " RUN_OLD
                " AND NOT EXISTS (SELECT 1 FROM run_histograms WHERE run_id = r.id) LIMIT ?2)",
};

static const char *const state_names[_STORE_RUN_STATE_MAX] = {
        [STORE_RUN_RUNNING] = "running",
        [STORE_RUN_COMPLETED] = "completed",
        [STORE_RUN_ABORTED] = "aborted",
        [STORE_RUN_CANCELLED] = "cancelled",
        [STORE_RUN_FAILED] = "failed",
};

static const char *const kind_names[_STORE_RUN_HIST_KIND_MAX] = {
        [STORE_RUN_HIST_LATENCY] = "latency",
        [STORE_RUN_HIST_SERVICE] = "service",
        [STORE_RUN_HIST_LATENESS] = "lateness",
};

#define ABORT_REASON "interrupted: perfwatchd stopped before the run ended " \
                     "(figures as of its last update, no histograms)"

/* ---------------------------------------------------------------- names */

static int name_index(const char *const *names, size_t n, const char *name) {
        for (size_t i = 0; name && i < n; i++)
                if (strcmp(names[i], name) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *store_run_state_to_string(StoreRunState state) {
        return (unsigned) state < _STORE_RUN_STATE_MAX ? state_names[state] : NULL;
}

int store_run_state_from_string(const char *name, StoreRunState *ret) {
        int i = name_index(state_names, _STORE_RUN_STATE_MAX, name);

        if (i < 0)
                return i;
        *ret = (StoreRunState) i;
        return 0;
}

const char *store_run_hist_kind_to_string(StoreRunHistKind kind) {
        return (unsigned) kind < _STORE_RUN_HIST_KIND_MAX ? kind_names[kind] : NULL;
}

int store_run_hist_kind_from_string(const char *name, StoreRunHistKind *ret) {
        int i = name_index(kind_names, _STORE_RUN_HIST_KIND_MAX, name);

        if (i < 0)
                return i;
        *ret = (StoreRunHistKind) i;
        return 0;
}

/* ---------------------------------------------------------------- writing */

static int64_t clamp64(uint64_t v) {
        return v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

static uint64_t column_u64(sqlite3_stmt *st, int i) {
        int64_t v = sqlite3_column_int64(st, i);

        return v < 0 ? 0 : (uint64_t) v;
}

/* Runs statement `id`, bound by the caller, which returns no rows; -ENOENT
 * when it changed none.  The CHECK on extra (not a JSON object) and json()
 * of set_extra's argument (not JSON) fail on the caller's input: -EINVAL. */
static int run_exec_changes(Store *s, sqlite3_stmt *st, unsigned id) {
        int rc = sqlite3_step(st), r;

        if (rc == SQLITE_DONE)
                r = sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
        else if (rc == SQLITE_CONSTRAINT_CHECK || (rc == SQLITE_ERROR && id == STMT_RUN_EXTRA)) {
                (void) store_sql_error(s, rc, id);
                r = -EINVAL;
        } else
                r = store_sql_error(s, rc, id);
        store_stmt_done(st);
        return r;
}

static bool writable(const Store *s) {
        return !s->readonly;
}

int store_run_begin(Store *s, const StoreRun *run, int64_t *ret_id) {
        sqlite3_stmt *st = NULL;
        int r;

        if (!s || !run || !run->scenario || !*run->scenario || !run->model || !*run->model || !ret_id)
                return -EINVAL;
        if (!writable(s))
                return -EROFS;
        r = store_stmt_get(s, STMT_RUN_INSERT, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, run->scenario, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, run->model, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, run->started_at_ms);
        sqlite3_bind_double(st, 4, run->target_rps);
        sqlite3_bind_text(st, 5, run->extra ?: "{}", -1, SQLITE_STATIC);
        r = run_exec_changes(s, st, STMT_RUN_INSERT);
        if (r >= 0)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        return r;
}

/* Binds ?1 (the id) and the figures ?2..?12 of `run`. */
static void bind_figures(sqlite3_stmt *st, int64_t id, const StoreRun *run) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, run->duration_ms);
        sqlite3_bind_int64(st, 3, clamp64(run->requests));
        sqlite3_bind_int64(st, 4, clamp64(run->ok));
        sqlite3_bind_int64(st, 5, clamp64(run->err_connect));
        sqlite3_bind_int64(st, 6, clamp64(run->err_timeout));
        sqlite3_bind_int64(st, 7, clamp64(run->err_status));
        sqlite3_bind_int64(st, 8, clamp64(run->err_other));
        sqlite3_bind_int64(st, 9, clamp64(run->dropped));
        sqlite3_bind_int64(st, 10, clamp64(run->aborted));
        sqlite3_bind_double(st, 11, run->target_rps);
        sqlite3_bind_double(st, 12, run->achieved_rps);
}

int store_run_update(Store *s, int64_t id, const StoreRun *run) {
        sqlite3_stmt *st = NULL;
        int r;

        if (!s || !run)
                return -EINVAL;
        if (!writable(s))
                return -EROFS;
        r = store_stmt_get(s, STMT_RUN_UPDATE, &st);
        if (r < 0)
                return r;
        bind_figures(st, id, run);
        return run_exec_changes(s, st, STMT_RUN_UPDATE);
}

/* Stores one histogram of run `id`; `buf` holds `*size` bytes and grows. */
static int hist_insert(Store *s, int64_t id, const StoreRunHistogram *h, void **buf, size_t *size) {
        size_t need = hist_encode(h->hist, NULL, 0);
        sqlite3_stmt *st = NULL;
        int r, rc;

        if (need > *size) {
                void *b = realloc(*buf, need);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                *size = need;
        }
        (void) hist_encode(h->hist, *buf, need);
        r = store_stmt_get(s, STMT_RUN_HIST_INSERT, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, h->request ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, kind_names[h->kind], -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 4, *buf, need, SQLITE_STATIC);
        rc = sqlite3_step(st);
        /* The UNIQUE (run_id, request, kind) constraint: a repeated pair. */
        r = rc == SQLITE_DONE ? 0 :
            rc == SQLITE_CONSTRAINT_UNIQUE ? -EINVAL : store_sql_error(s, rc, STMT_RUN_HIST_INSERT);
        store_stmt_done(st);
        return r;
}

static int finish_check(const StoreRun *run, const StoreRunHistogram *hists, size_t n) {
        if (!run || (unsigned) run->state >= _STORE_RUN_STATE_MAX || run->state == STORE_RUN_RUNNING)
                return -EINVAL;
        if (n > 0 && !hists)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!hists[i].hist || (unsigned) hists[i].kind >= _STORE_RUN_HIST_KIND_MAX)
                        return -EINVAL;
        return 0;
}

int store_run_finish(Store *s, int64_t id, const StoreRun *run,
                     const StoreRunHistogram *hists, size_t n) {
        sqlite3_stmt *st = NULL;
        void *buf = NULL;
        size_t size = 0;
        int r;

        if (!s)
                return -EINVAL;
        r = finish_check(run, hists, n);
        if (r < 0)
                return r;
        if (!writable(s))
                return -EROFS;
        r = store_stmt_get(s, STMT_RUN_FINISH, &st);
        if (r >= 0)
                r = store_stmt_exec(s, STMT_BEGIN);
        if (r < 0)
                return r;
        bind_figures(st, id, run);
        sqlite3_bind_text(st, 13, state_names[run->state], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 14, run->ended_at_ms);
        sqlite3_bind_text(st, 15, run->reason ?: "", -1, SQLITE_STATIC);
        r = run_exec_changes(s, st, STMT_RUN_FINISH);
        for (size_t i = 0; i < n && r >= 0; i++)
                r = hist_insert(s, id, &hists[i], &buf, &size);
        free(buf);
        if (r >= 0)
                r = store_stmt_exec(s, STMT_COMMIT);
        if (r < 0)
                store_txn_rollback(s);
        return r;
}

static bool extra_key_valid(const char *key) {
        if (!key || !*key || strlen(key) > 64)
                return false;
        for (const char *p = key; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

static int run_set_extra(Store *s, int64_t id, const char *key, const char *json) {
        sqlite3_stmt *st = NULL;
        char path[80];
        int r;

        if (!extra_key_valid(key) || !json)
                return -EINVAL;
        if (!writable(s))
                return -EROFS;
        snprintf(path, sizeof path, "$.\"%s\"", key);
        r = store_stmt_get(s, STMT_RUN_EXTRA, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
        return run_exec_changes(s, st, STMT_RUN_EXTRA);
}

int store_run_set_extra(Store *s, int64_t id, const char *key, const char *json) {
        int r;

        if (!s)
                return -EINVAL;
        s->sql_error[0] = '\0';
        r = run_set_extra(s, id, key, json);
        if (r < 0)
                store_health_note_extra(s, id, key, r);
        return r;
}

int store_run_abort_interrupted(Store *s, unsigned *ret_n) {
        sqlite3_stmt *st = NULL;
        int r;

        if (ret_n)
                *ret_n = 0;
        if (!s)
                return -EINVAL;
        if (!writable(s))
                return -EROFS;
        r = store_stmt_get(s, STMT_RUN_ABORT, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, ABORT_REASON, -1, SQLITE_STATIC);
        r = run_exec_changes(s, st, STMT_RUN_ABORT);
        if (r == -ENOENT)
                return 0;
        if (r >= 0 && ret_n)
                *ret_n = (unsigned) sqlite3_changes(s->db);
        return r;
}

/* Deletes with statement `id` (?1 cutoff, ?2 limit); adds to *deleted. */
static int retention_one(Store *s, unsigned id, int64_t cutoff_ms, unsigned max_rows,
                         unsigned *deleted) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_stmt_get(s, id, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, cutoff_ms);
        sqlite3_bind_int64(st, 2, max_rows);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                *deleted += (unsigned) sqlite3_changes(s->db);
        r = rc == SQLITE_DONE ? 0 : store_sql_error(s, rc, id);
        store_stmt_done(st);
        return r;
}

/* NB: the histograms go first and a run only once it has none left, so a
 * run with more histograms than one step deletes loses them over several
 * steps and never leaves orphans behind.  A histogram is a blob of a few
 * KiB where a sample is a few bytes: 2000 of 6 KiB took 83 ms to delete
 * here, 125 took 8 ms.  So a step deletes at most max_rows / HIST_STEP_DIV
 * of them, and when it hit that cap reports max_rows deleted, so that the
 * caller comes back soon as it does for a backlog of samples. */
#define HIST_STEP_DIV 16U

int store_run_retention(Store *s, int64_t cutoff_ms, unsigned max_rows, unsigned *ret_deleted) {
        unsigned hists = 0, runs = 0, hist_cap = max_rows / HIST_STEP_DIV ?: 1;
        int r;

        r = retention_one(s, STMT_RUN_RETENTION_HISTS, cutoff_ms, hist_cap, &hists);
        if (r >= 0)
                r = retention_one(s, STMT_RUN_RETENTION, cutoff_ms, max_rows, &runs);
        *ret_deleted = hists == hist_cap ? max_rows : runs;
        return r;
}

/* ---------------------------------------------------------------- reading */

/* The RUN_COLUMNS of the current row; the strings live until the next step. */
static StoreRun run_from_row(sqlite3_stmt *st) {
        StoreRunState state = STORE_RUN_FAILED;

        /* A state this binary does not know (a newer one wrote it) reads as
         * failed: never as running or completed. */
        (void) store_run_state_from_string((const char *) sqlite3_column_text(st, 3), &state);
        return (StoreRun) {
                .id = sqlite3_column_int64(st, 0),
                .scenario = (const char *) sqlite3_column_text(st, 1) ?: "",
                .model = (const char *) sqlite3_column_text(st, 2) ?: "",
                .state = state,
                .started_at_ms = sqlite3_column_int64(st, 4),
                .ended_at_ms = sqlite3_column_int64(st, 5),
                .duration_ms = sqlite3_column_int64(st, 6),
                .requests = column_u64(st, 7),
                .ok = column_u64(st, 8),
                .err_connect = column_u64(st, 9),
                .err_timeout = column_u64(st, 10),
                .err_status = column_u64(st, 11),
                .err_other = column_u64(st, 12),
                .dropped = column_u64(st, 13),
                .aborted = column_u64(st, 14),
                .target_rps = sqlite3_column_double(st, 15),
                .achieved_rps = sqlite3_column_double(st, 16),
                .reason = (const char *) sqlite3_column_text(st, 17) ?: "",
                .extra = (const char *) sqlite3_column_text(st, 18) ?: "{}",
        };
}

typedef struct RunWalk {
        int (*fn)(const StoreRun *run, void *u);
        void *u;
} RunWalk;

static int run_row(sqlite3_stmt *st, void *u) {
        RunWalk *w = u;
        StoreRun run = run_from_row(st);

        return w->fn(&run, w->u);
}

int store_run_list(Store *s, const StoreRunFilter *f, size_t max,
                   int (*fn)(const StoreRun *run, void *u), void *u) {
        RunWalk w = { .fn = fn, .u = u };
        unsigned id;
        sqlite3_stmt *st = NULL;
        int r;

        if (!s || !f || !fn || max > INT64_MAX - 1 || f->state >= _STORE_RUN_STATE_MAX)
                return -EINVAL;
        id = STMT_RUN_LIST_ANY + (f->scenario ? 1 : 0) + (f->state >= 0 ? 2 : 0);
        r = store_stmt_get(s, id, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, f->scenario, -1, SQLITE_STATIC);
        if (f->state >= 0)
                sqlite3_bind_text(st, 2, state_names[f->state], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, f->from_ms);
        sqlite3_bind_int64(st, 4, f->to_ms);
        sqlite3_bind_int64(st, 5, (int64_t) max + 1);
        return store_walk(s, id, st, max, run_row, &w);
}

StoreRunRecord *store_run_record_free(StoreRunRecord *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_hists; i++) {
                free((char *) r->hists[i].request);
                hist_free(r->hists[i].hist);
        }
        free(r->hists);
        free((char *) r->run.scenario);
        free((char *) r->run.model);
        free((char *) r->run.reason);
        free((char *) r->run.extra);
        free(r);
        return NULL;
}

const Histogram *store_run_record_hist(const StoreRunRecord *r, const char *request,
                                       StoreRunHistKind kind) {
        for (size_t i = 0; r && request && i < r->n_hists; i++)
                if (r->hists[i].kind == kind && strcmp(r->hists[i].request, request) == 0)
                        return r->hists[i].hist;
        return NULL;
}

/* The record of the current row of STMT_RUN_GET, strings copied. */
static int record_new(sqlite3_stmt *st, StoreRunRecord **ret) {
        StoreRunRecord *rec = calloc(1, sizeof *rec);
        StoreRun run = run_from_row(st);

        if (!rec)
                return -ENOMEM;
        rec->run = run;
        rec->run.scenario = strdup(run.scenario);
        rec->run.model = strdup(run.model);
        rec->run.reason = strdup(run.reason);
        rec->run.extra = strdup(run.extra);
        if (!rec->run.scenario || !rec->run.model || !rec->run.reason || !rec->run.extra) {
                store_run_record_free(rec);
                return -ENOMEM;
        }
        *ret = rec;
        return 0;
}

/* -EBADMSG, with the reason in *ret_error, for a blob that does not decode. */
static int hist_corrupt(int64_t id, const char *request, const char *kind, size_t size,
                        char **ret_error) {
        if (*request)
                return set_error(ret_error, -EBADMSG,
                                 "run %" PRId64 ": the %s histogram of request \"%s\" is corrupt "
                                 "(%zu bytes that are not a valid encoding)", id, kind, request, size);
        return set_error(ret_error, -EBADMSG,
                         "run %" PRId64 ": the %s histogram of the whole run is corrupt "
                         "(%zu bytes that are not a valid encoding)", id, kind, size);
}

/* Decodes the current row of STMT_RUN_HISTS into the record's next slot. */
static int record_add_hist(StoreRunRecord *rec, sqlite3_stmt *st, char **ret_error) {
        const char *request = (const char *) sqlite3_column_text(st, 0) ?: "";
        const char *kind = (const char *) sqlite3_column_text(st, 1) ?: "";
        const void *data = sqlite3_column_blob(st, 2);
        size_t size = (size_t) sqlite3_column_bytes(st, 2);
        StoreRunHistogram *h, *a;
        StoreRunHistKind k;

        /* A kind this binary does not know (a newer one wrote it) is skipped. */
        if (store_run_hist_kind_from_string(kind, &k) < 0)
                return 0;
        a = realloc(rec->hists, (rec->n_hists + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        rec->hists = a;
        h = &a[rec->n_hists];
        *h = (StoreRunHistogram) { .request = strdup(request), .kind = k };
        if (!h->request || hist_new(&h->hist) < 0) {
                free((char *) h->request);
                return -ENOMEM;
        }
        rec->n_hists++;
        if (!data || hist_decode(h->hist, data, size) < 0)
                return hist_corrupt(rec->run.id, request, kind, size, ret_error);
        return 0;
}

static int record_read_hists(Store *s, StoreRunRecord *rec, char **ret_error) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_stmt_get(s, STMT_RUN_HISTS, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, rec->run.id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = record_add_hist(rec, st, ret_error);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_sql_error(s, rc, STMT_RUN_HISTS);
        store_stmt_done(st);
        return r;
}

int store_run_get(Store *s, int64_t id, StoreRunRecord **ret, char **ret_error) {
        StoreRunRecord *rec = NULL;
        sqlite3_stmt *st = NULL;
        int r, rc;

        if (ret_error)
                *ret_error = NULL;
        if (!s || !ret)
                return -EINVAL;
        r = store_stmt_get(s, STMT_RUN_GET, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                r = record_new(st, &rec);
        else
                r = rc == SQLITE_DONE ? -ENOENT : store_sql_error(s, rc, STMT_RUN_GET);
        store_stmt_done(st);
        if (r >= 0)
                r = record_read_hists(s, rec, ret_error);
        if (r < 0) {
                store_run_record_free(rec);
                return r;
        }
        *ret = rec;
        return 0;
}

/* store_run_hist() with the reason of a corrupt blob in *ret_error. */
static int run_hist(Store *s, int64_t id, const char *request, StoreRunHistKind kind,
                    Histogram *into, char **ret_error) {
        sqlite3_stmt *st = NULL;
        size_t size = 0;
        int r, rc;

        r = store_stmt_get(s, STMT_RUN_HIST_ONE, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, request, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, kind_names[kind], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const void *data = sqlite3_column_blob(st, 0);

                size = (size_t) sqlite3_column_bytes(st, 0);
                r = data && hist_decode(into, data, size) >= 0 ? 0 : -EBADMSG;
        } else
                r = rc == SQLITE_DONE ? -ENOENT : store_sql_error(s, rc, STMT_RUN_HIST_ONE);
        store_stmt_done(st);
        if (r == -EBADMSG)
                return hist_corrupt(id, request, kind_names[kind], size, ret_error);
        return r;
}

int store_run_hist(Store *s, int64_t id, const char *request, StoreRunHistKind kind,
                   Histogram *into) {
        if (!s || !request || !into || (unsigned) kind >= _STORE_RUN_HIST_KIND_MAX)
                return -EINVAL;
        return run_hist(s, id, request, kind, into, NULL);
}

static int latest_row(Store *s, const char *scenario, StoreRunLatest *ret) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_stmt_get(s, STMT_RUN_LATEST, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, scenario, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = (StoreRunLatest) {
                        .id = sqlite3_column_int64(st, 0),
                        .ended_at_ms = sqlite3_column_int64(st, 1),
                        .requests = column_u64(st, 2),
                        .err_timeout = column_u64(st, 3),
                        .started_at_ms = sqlite3_column_int64(st, 4),
                        .ok = column_u64(st, 5),
                        .failed = column_u64(st, 6),
                        .dropped = column_u64(st, 7),
                };
        r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_sql_error(s, rc, STMT_RUN_LATEST);
        store_stmt_done(st);
        return r;
}

/* The p95 of run `id`'s whole-run histogram of `kind` into *ret_p95 (and
 * its count into *ret_count, may be NULL); both 0 when none is stored. */
static int latest_p95(Store *s, int64_t id, StoreRunHistKind kind, Histogram *h,
                      uint64_t *ret_p95, uint64_t *ret_count, char **ret_error) {
        int r = run_hist(s, id, "", kind, h, ret_error);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        *ret_p95 = hist_percentile(h, 95);
        if (ret_count)
                *ret_count = hist_count(h);
        return 0;
}

int store_run_latest_completed(Store *s, const char *scenario, StoreRunLatest *ret,
                               char **ret_error) {
        StoreRunLatest l = {};
        Histogram *h = NULL;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!s || !scenario || !ret)
                return -EINVAL;
        r = latest_row(s, scenario, &l);
        if (r < 0)
                return r;
        r = hist_new(&h);
        if (r >= 0)
                r = latest_p95(s, l.id, STORE_RUN_HIST_LATENCY, h, &l.latency_p95_usec,
                               &l.latency_count, ret_error);
        if (r >= 0)
                r = latest_p95(s, l.id, STORE_RUN_HIST_SERVICE, h, &l.service_p95_usec, NULL,
                               ret_error);
        hist_free(h);
        if (r >= 0)
                *ret = l;
        return r;
}

int store_run_latest_extra(Store *s, const char *scenario, const char *key, StoreRunLatest *ret,
                           char **ret_json) {
        sqlite3_stmt *st = NULL;
        char path[80], *json = NULL;
        int r, rc;

        if (!s || !scenario || !ret || !ret_json || !extra_key_valid(key))
                return -EINVAL;
        snprintf(path, sizeof path, "$.%s", key);
        r = store_stmt_get(s, STMT_RUN_LATEST_EXTRA, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, scenario, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_sql_error(s, rc, STMT_RUN_LATEST_EXTRA);
        if (r >= 0 && sqlite3_column_type(st, 4) != SQLITE_NULL &&
            !(json = strdup((const char *) sqlite3_column_text(st, 4) ?: "null")))
                r = -ENOMEM;
        if (r >= 0) {
                *ret = (StoreRunLatest) {
                        .id = sqlite3_column_int64(st, 0),
                        .ended_at_ms = sqlite3_column_int64(st, 1),
                        .requests = column_u64(st, 2),
                        .err_timeout = column_u64(st, 3),
                };
                *ret_json = json;
        }
        store_stmt_done(st);
        return r;
}
