/* Terminal mode's record of its run, and the mapping of a LoadResult onto
 * the store's StoreRun and StoreRunHistogram that the daemon's runner
 * shares. */
#include "core/run-record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "load/histogram.h"
#include "store/store.h"

struct RunRecord {
        Store *store;
        char *path;
        const char *scenario;        /* borrowed from the config, which outlives the record */
        const char *model;
        int64_t id;
};

/* The histograms handed to store_run_finish(), and those merged for
 * requests sharing a name, owned here. */
typedef struct Hists {
        StoreRunHistogram *list;
        size_t n;
        Histogram **owned;
        size_t n_owned;
} Hists;

/* Sleeps 20 ms and says whether `start` is less than the bound ago. */
static bool busy_wait(uint64_t start) {
        struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };

        if (now_monotonic_usec() - start >= RUN_RECORD_BUSY_USEC)
                return false;
        (void) nanosleep(&ts, NULL);
        return true;
}

int run_record_open_store(const char *path, Store **ret, char **ret_error) {
        uint64_t start = now_monotonic_usec();
        int r;

        *ret_error = NULL;
        for (;;) {
                free(*ret_error);
                *ret_error = NULL;
                r = store_open(path, ret, ret_error);
                if (r != -EBUSY || !busy_wait(start))
                        return r;
        }
}

int run_record_begin(const char *path, const ScenarioConfig *sc, uint64_t started_usec, RunRecord **ret,
                     char **ret_error) {
        StoreRun run = { .scenario = sc->name, .model = config_model_to_string(sc->model),
                         .started_at_ms = (int64_t) (started_usec / USEC_PER_MSEC),
                         .target_rps = sc->model == LOAD_MODEL_OPEN ? sc->rate_rps : 0 };
        uint64_t start = now_monotonic_usec();
        RunRecord *rec;
        int r;

        *ret_error = NULL;
        rec = calloc(1, sizeof *rec);
        if (!rec || !(rec->path = strdup(path))) {
                run_record_free(rec);
                return set_error(ret_error, -ENOMEM, "%s: out of memory", path);
        }
        rec->scenario = run.scenario;
        rec->model = run.model;
        r = run_record_open_store(rec->path, &rec->store, ret_error);
        if (r >= 0)
                do
                        r = store_run_begin(rec->store, &run, &rec->id);
                while (r == -EBUSY && busy_wait(start));
        if (r < 0) {
                if (!*ret_error)
                        set_error(ret_error, r, "%s: cannot record the run: %s", path, strerror(-r));
                run_record_free(rec);
                return r;
        }
        *ret = rec;
        return 0;
}

StoreRunState run_record_state(LoadRunState s) {
        switch (s) {
        case LOAD_RUN_COMPLETED: return STORE_RUN_COMPLETED;
        case LOAD_RUN_CANCELLED: return STORE_RUN_CANCELLED;
        default: break;
        }
        return STORE_RUN_FAILED;
}

StoreRun run_record_summary(const char *scenario, const char *model, const LoadResult *r) {
        const LoadCounts *c = &r->total.counts;

        return (StoreRun) {
                .scenario = scenario, .model = model, .state = run_record_state(r->state),
                .started_at_ms = (int64_t) (r->started_usec / USEC_PER_MSEC),
                .ended_at_ms = (int64_t) ((r->started_usec + r->elapsed_usec) / USEC_PER_MSEC),
                .duration_ms = (int64_t) (r->elapsed_usec / USEC_PER_MSEC),
                .requests = c->sent, .ok = c->ok, .err_connect = c->err_connect,
                .err_timeout = c->err_timeout, .err_status = c->err_status, .err_other = c->err_other,
                .dropped = c->dropped, .aborted = c->aborted,
                .target_rps = r->target_rps, .achieved_rps = r->achieved_rps, .reason = r->reason,
        };
}

static void hists_add(Hists *h, const char *request, StoreRunHistKind kind, Histogram *hist) {
        if (hist)
                h->list[h->n++] = (StoreRunHistogram) { .request = request, .kind = kind, .hist = hist };
}

/* The histogram already listed for (request, kind), or NULL. */
static StoreRunHistogram *hists_find(Hists *h, const char *request, StoreRunHistKind kind) {
        for (size_t i = 0; i < h->n; i++)
                if (h->list[i].kind == kind && strcmp(h->list[i].request, request) == 0)
                        return &h->list[i];
        return NULL;
}

/* Adds `hist` for (request, kind), merged into a copy of the one already
 * listed when another request has the same name. */
static int hists_add_request(Hists *h, const char *request, StoreRunHistKind kind, Histogram *hist) {
        StoreRunHistogram *e = hist ? hists_find(h, request, kind) : NULL;
        Histogram *m = NULL;
        int r;

        if (!e) {
                hists_add(h, request, kind, hist);
                return 0;
        }
        r = hist_new(&m);
        if (r < 0)
                return r;
        hist_merge(m, e->hist);
        hist_merge(m, hist);
        h->owned[h->n_owned++] = m;
        e->hist = m;
        return 0;
}

static void hists_done(Hists *h) {
        for (size_t i = 0; i < h->n_owned; i++)
                hist_free(h->owned[i]);
        free(h->owned);
        free(h->list);
}

static int hists_collect(Hists *h, const LoadResult *r) {
        size_t max = 3 + 2 * r->n_per_request;
        int k = 0;

        *h = (Hists) { .list = calloc(max, sizeof *h->list), .owned = calloc(max, sizeof *h->owned) };
        if (!h->list || !h->owned)
                return -ENOMEM;
        hists_add(h, "", STORE_RUN_HIST_LATENCY, r->total.latency);
        hists_add(h, "", STORE_RUN_HIST_SERVICE, r->total.service);
        hists_add(h, "", STORE_RUN_HIST_LATENESS, r->lateness);
        for (size_t i = 0; k >= 0 && i < r->n_per_request; i++) {
                const LoadStats *s = &r->per_request[i];

                if (!s->name || !s->name[0])
                        continue;
                k = hists_add_request(h, s->name, STORE_RUN_HIST_LATENCY, s->latency);
                if (k >= 0)
                        k = hists_add_request(h, s->name, STORE_RUN_HIST_SERVICE, s->service);
        }
        return k;
}

int run_record_store_finish(Store *s, int64_t id, const StoreRun *run, const LoadResult *result) {
        Hists h;
        int r;

        /* The writes first: a run is judged once finished, and must then
         * have them; a retry after -EBUSY sets them again, harmlessly. */
        if (result->writes_json) {
                r = store_run_set_extra(s, id, "writes", result->writes_json);
                if (r < 0)
                        return r;
        }
        if (result->exec_json) {
                r = store_run_set_extra(s, id, "locust", result->exec_json);
                if (r < 0)
                        return r;
        }
        r = hists_collect(&h, result);
        if (r >= 0)
                r = store_run_finish(s, id, run, h.list, h.n);
        hists_done(&h);
        return r;
}

int run_record_finish(RunRecord *rec, const LoadResult *result, char **ret_error) {
        StoreRun run = run_record_summary(rec->scenario, rec->model, result);
        uint64_t start = now_monotonic_usec();
        int r;

        *ret_error = NULL;
        do
                r = run_record_store_finish(rec->store, rec->id, &run, result);
        while (r == -EBUSY && busy_wait(start));
        if (r == -ENOENT)
                return set_error(ret_error, r, "%s: run %" PRId64 " is no longer running there (a perfwatchd "
                                 "started meanwhile marks it aborted)", rec->path, rec->id);
        if (r < 0)
                return set_error(ret_error, r, "%s: cannot record the end of run %" PRId64 ": %s", rec->path,
                                 rec->id, strerror(-r));
        return 0;
}

int64_t run_record_id(const RunRecord *rec) {
        return rec ? rec->id : -1;
}

RunRecord *run_record_free(RunRecord *rec) {
        if (!rec)
                return NULL;
        store_free(rec->store);
        free(rec->path);
        free(rec);
        return NULL;
}
