#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/log.h"
#include "util/redact.h"
#include "util/util.h"
#include "probes/pprof-decode.h"
#include "probes/probe-pprof.h"
#include "util/units.h"

/* A gzipped profile may inflate to this many times max_profile: real ones
 * inflate about 2x.  NB: decoding runs on the loop, so this bounds the time
 * a hostile gzip bomb could hold it (and the memory it takes). */
#define PPROF_INFLATE_RATIO 4

typedef enum PprofKind {
        PPROF_HEAP,
        PPROF_GOROUTINE,
        PPROF_CPU,
        _PPROF_KIND_MAX,
} PprofKind;

static const char *const pprof_kind_names[_PPROF_KIND_MAX] = {
        [PPROF_HEAP] = "heap",
        [PPROF_GOROUTINE] = "goroutine",
        [PPROF_CPU] = "cpu",
};

/* Collectors started together spread their first polls over this much time
 * (or the interval, if shorter).  A CPU profile is long and rare, so its
 * first one still comes soon after start rather than one interval later. */
static const uint64_t pprof_first_spread_usec[_PPROF_KIND_MAX] = {
        [PPROF_HEAP] = 2 * USEC_PER_SEC,
        [PPROF_GOROUTINE] = 2 * USEC_PER_SEC,
        [PPROF_CPU] = 5 * USEC_PER_SEC,
};

/* A run's CPU capture that finds a periodic CPU profile recording looks
 * again this often, and waits at most that profile's transfer timeout
 * (its cpu_seconds + timeout) and this much more. */
#define CPU_WAIT_STEP_USEC (100 * USEC_PER_MSEC)
#define CPU_WAIT_SLACK_USEC (1 * USEC_PER_SEC)

/* A user of a pprof_url's CPU profiler: a periodic CPU collector, or a
 * run's CPU capture while it waits or records (see "the CPU profiler's
 * turns" below). */
typedef struct CpuTurn {
        struct CpuTurn *next, **pprev;
        char *base_url;                /* pprof_url without trailing '/' */
        const Poller *periodic;        /* the collector's (recording while in flight); NULL: a run's capture */
} CpuTurn;

typedef struct PprofCollector {
        Poller base;                   /* first: a PprofCollector is a Poller */
        Store *store;
        const TargetConfig *target;
        char *prefix;                  /* "go.<target>" */
        PprofKind kind;
        char *url;
        CpuTurn turn;                  /* CPU collectors only */
        uint64_t cpu_skipped;          /* CPU profiles skipped for a run's */
} PprofCollector;

/* ---------------------------------------------------------------- the CPU profiler's turns
 * Go's net/http/pprof records one CPU profile at a time: a second request
 * while one records is answered 500 "cpu profiling already in use".  So the
 * periodic CPU collectors and the runs' CPU captures of one pprof_url take
 * turns: a periodic CPU profile due while a run's capture waits or records
 * is skipped (counted in its source's "cpu_skipped_for_runs"), and a run's
 * capture that finds a periodic one recording waits for it to end.  These
 * lists are the loop's: loop thread only, as everything here. */
static CpuTurn *cpu_turns;

/* `t` joins the users of pprof_url's CPU profiler.  0 or -ENOMEM. */
static int cpu_turn_join(CpuTurn *t, const char *pprof_url, const Poller *periodic) {
        size_t len = strlen(pprof_url);

        while (len > 0 && pprof_url[len - 1] == '/')
                len--;
        t->base_url = strndup(pprof_url, len);
        if (!t->base_url)
                return -ENOMEM;
        t->periodic = periodic;
        t->next = cpu_turns;
        if (t->next)
                t->next->pprev = &t->next;
        t->pprev = &cpu_turns;
        cpu_turns = t;
        return 0;
}

/* Leaves the users, if `t` joined them. */
static void cpu_turn_leave(CpuTurn *t) {
        if (t->pprev) {
                *t->pprev = t->next;
                if (t->next)
                        t->next->pprev = t->pprev;
        }
        free(t->base_url);
        *t = (CpuTurn) {};
}

/* The periodic CPU collector of t's profiler whose profile records now
 * (its poller), or NULL. */
static const Poller *cpu_turn_periodic_recording(const CpuTurn *t) {
        for (const CpuTurn *u = cpu_turns; u; u = u->next)
                if (u->periodic && u->periodic->in_flight && strcmp(u->base_url, t->base_url) == 0)
                        return u->periodic;
        return NULL;
}

/* Whether a run's capture of t's profiler waits or records. */
static bool cpu_turn_run_on(const CpuTurn *t) {
        for (const CpuTurn *u = cpu_turns; u; u = u->next)
                if (!u->periodic && strcmp(u->base_url, t->base_url) == 0)
                        return true;
        return false;
}

static const char *collector_kind(const PprofCollector *c) {
        return pprof_kind_names[c->kind];
}

/* The part of a series name that comes from the profile: the sample type,
 * or its unit when the type only repeats the kind (Go's CPU profiles call
 * their second type "cpu", in nanoseconds).  Characters that would break a
 * series name become '_'. */
static char *series_name(const PprofCollector *c, const PprofSampleType *t) {
        const char *leaf = t->type && t->type[0] ? t->type : "value";
        char *name, *q;
        size_t start;

        if (strcmp(leaf, collector_kind(c)) == 0 && t->unit && t->unit[0])
                leaf = t->unit;
        if (asprintf(&name, "%s.%s.%s", c->prefix, collector_kind(c), leaf) < 0)
                return NULL;

        start = strlen(name) - strlen(leaf);
        for (q = name + start; *q; q++)
                if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
                      *q == '_' || *q == '-'))
                        *q = '_';
        return name;
}

static int append_named(PprofCollector *c, const char *suffix, int64_t ts_ms, double value) {
        char *name;
        int r;

        if (asprintf(&name, "%s.%s", c->prefix, suffix) < 0)
                return -ENOMEM;
        r = store_append(c->store, name, ts_ms, value);
        free(name);
        return r;
}

/* A CPU profile's CPU time over its own length: the fraction of one core. */
static int append_cpu_utilization(PprofCollector *c, const PprofSummary *s, int64_t ts_ms) {
        for (size_t i = 0; i < s->n_types; i++)
                if (s->types[i].unit && strcmp(s->types[i].unit, "nanoseconds") == 0 && s->duration_nanos > 0)
                        return append_named(c, "cpu.utilization", ts_ms,
                                            s->types[i].total / (double) s->duration_nanos);
        return 0;
}

static int collector_append_series(PprofCollector *c, const PprofSummary *s) {
        int64_t ts_ms = (int64_t) (c->base.started_usec / USEC_PER_MSEC);
        char *name;
        int r;

        /* A goroutine profile has one sample type, the count of goroutines. */
        if (c->kind == PPROF_GOROUTINE)
                return append_named(c, "goroutines", ts_ms, s->types[0].total);

        for (size_t i = 0; i < s->n_types; i++) {
                name = series_name(c, &s->types[i]);
                if (!name)
                        return -ENOMEM;
                r = store_append(c->store, name, ts_ms, s->types[i].total);
                free(name);
                if (r < 0)
                        return r;
        }
        return c->kind == PPROF_CPU ? append_cpu_utilization(c, s, ts_ms) : 0;
}

/* Drops profiles past profile_retention and beyond profile_keep; either
 * set to 0 means no limit of that kind. */
static void collector_prune(PprofCollector *c) {
        const TargetConfig *t = c->target;
        int64_t now_ms = (int64_t) (now_realtime_usec() / USEC_PER_MSEC);
        int64_t retention_ms = (int64_t) (t->profile_retention_usec / USEC_PER_MSEC);
        int64_t cutoff_ms = t->profile_retention_usec > 0 ? now_ms - retention_ms : INT64_MIN;
        uint64_t keep = t->profile_keep > 0 && t->profile_keep < INT64_MAX ? t->profile_keep : INT64_MAX;
        unsigned deleted = 0;
        int r;

        r = store_profile_prune(c->store, t->name, collector_kind(c), cutoff_ms, keep, &deleted);
        if (r < 0)
                log_source(LOG_WARNING, source_name(c->base.source), "cannot delete old %s profiles: %s",
                           collector_kind(c), strerror(-r));
        else if (deleted > 0)
                log_source(LOG_DEBUG, source_name(c->base.source), "deleted %u old %s profiles", deleted,
                           collector_kind(c));
}

/* Stores the raw bytes of a `kind` profile of `target` with its summary,
 * collected from started_usec (CLOCK_REALTIME) for duration_usec: the
 * periodic collectors and the captures around runs keep them alike.  0 and
 * the new id, or a negative errno. */
static int profile_store(Store *store, const char *target, const char *kind, uint64_t started_usec,
                         uint64_t duration_usec, const CurlBuffer *body, const PprofSummary *s, int64_t *ret_id) {
        json_t *j = pprof_summary_to_json(s);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        int r;

        json_decref(j);
        if (!text)
                return -ENOMEM;
        r = store_profile_add(store, target, kind, (int64_t) (started_usec / USEC_PER_MSEC),
                              (int64_t) (duration_usec / USEC_PER_MSEC), body->data, body->size, text, ret_id);
        free(text);
        return r;
}

/* Decodes a `kind` profile of at most max_profile bytes (its gzip at most
 * PPROF_INFLATE_RATIO times that inflated): 0 and *ret, or a negative errno
 * with "heap profile is empty" / "heap profile: why" in error. */
static int profile_decode(const char *kind, const CurlBuffer *body, uint64_t max_profile, PprofSummary **ret,
                          char *error, size_t n) {
        size_t inflated = max_profile > SIZE_MAX / PPROF_INFLATE_RATIO ? SIZE_MAX
                                                                       : (size_t) max_profile * PPROF_INFLATE_RATIO;
        char why[256] = "";
        int r;

        if (body->size == 0) {
                snprintf(error, n, "%s profile is empty", kind);
                return -ENODATA;
        }
        r = pprof_decode(body->data, body->size, inflated, ret, why, sizeof why);
        if (r < 0)
                snprintf(error, n, "%s profile: %s", kind, why[0] ? why : strerror(-r));
        return r;
}

/* Decodes the body, decides whether the profile is usable, keeps it and
 * its series; reports the poll up or down. */
static int collector_done(Poller *p, const CurlBuffer *body) {
        PprofCollector *c = (PprofCollector *) p;
        PprofSummary *s = NULL;
        char error[256] = "";
        int64_t id = 0;
        int r;

        r = profile_decode(collector_kind(c), body, c->target->max_profile, &s, error, sizeof error);
        if (r < 0) {
                poller_report_down(p, "%s", error);
                return 0;
        }
        if (s->n_types == 0)
                poller_report_down(p, "%s profile has no sample type", collector_kind(c));
        else if ((r = profile_store(c->store, c->target->name, collector_kind(c), c->base.started_usec,
                                    poller_duration(p), body, s, &id)) < 0)
                poller_report_down(p, "cannot store the %s profile: %s", collector_kind(c), strerror(-r));
        else {
                source_set_info(p->source, "last_profile_id", json_integer(id));
                collector_prune(c);
                r = collector_append_series(c, s);
                if (r < 0)
                        poller_report_down(p, "cannot queue samples: %s", strerror(-r));
                else {
                        log_source(LOG_DEBUG, source_name(p->source),
                                   "stored %s profile %" PRId64 ": %zu bytes, %" PRIu64 " samples",
                                   collector_kind(c), id, body->size, s->n_samples);
                        poller_report_up(p);
                }
        }
        pprof_summary_free(s);
        return 0;
}

static int collector_start(Poller *p) {
        PprofCollector *c = (PprofCollector *) p;

        if (c->kind == PPROF_CPU && cpu_turn_run_on(&c->turn)) {
                c->cpu_skipped++;
                source_set_info(p->source, "cpu_skipped_for_runs", json_integer((json_int_t) c->cpu_skipped));
                log_source(LOG_INFO, source_name(p->source),
                           "a run's CPU profile holds the profiler: this CPU profile is skipped (%" PRIu64
                           " so far)", c->cpu_skipped);
                return -EBUSY;
        }
        return poller_http_send(p);
}

/* NB: no CURLOPT_ACCEPT_ENCODING: Go gzips the profile itself, and the
 * bytes are stored exactly as served so go tool pprof reads them.
 * The connection is closed after each profile: an idle keep-alive
 * connection is a goroutine on the target, which would inflate the
 * goroutine count everyone else sees, for a poll due minutes later. */
static int collector_setup_http(PprofCollector *c, CurlGlue *glue, uint64_t timeout_usec) {
        int r;

        r = poller_http_setup(&c->base, glue, c->url, timeout_usec, c->target->timeout_usec,
                              (size_t) c->target->max_profile, "profile", "max_profile");
        if (r < 0)
                return r;
        return curl_easy_setopt(c->base.easy, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK ? 0 : -EINVAL;
}

static void collector_free(Poller *p) {
        PprofCollector *c = (PprofCollector *) p;

        cpu_turn_leave(&c->turn);
        free(c->url);
        free(c->prefix);
        free(c);
}

static const PollerOps collector_ops = {
        .kind = "pprof",
        .start = collector_start,
        .done = collector_done,
        .free = collector_free,
};

/* The first tick comes after a random part of the kind's first spread, so
 * collectors started together do not poll in step. */
static int collector_init(PprofCollector *c, sd_event *e, uint64_t interval) {
        char *description;
        int r;

        if (asprintf(&description, "pprof:%s:%s", c->target->name, collector_kind(c)) < 0)
                return -ENOMEM;
        r = poller_init(&c->base, &collector_ops, e, interval, pprof_first_spread_usec[c->kind], description);
        free(description);
        return r;
}

/* The kind's URL under pprof_url and its transfer timeout.  A CPU profile
 * answers only after cpu_seconds (whole seconds, at least one: Go's unit). */
static int collector_set_url(PprofCollector *c, uint64_t *ret_timeout) {
        const TargetConfig *t = c->target;
        size_t len = strlen(t->pprof_url);
        uint64_t seconds;
        int n;

        while (len > 0 && t->pprof_url[len - 1] == '/')
                len--;
        *ret_timeout = t->timeout_usec;
        if (c->kind != PPROF_CPU)
                n = asprintf(&c->url, "%.*s/%s", (int) len, t->pprof_url, collector_kind(c));
        else {
                seconds = t->cpu_seconds_usec / USEC_PER_SEC;
                if (seconds < 1)
                        seconds = 1;
                *ret_timeout += seconds * USEC_PER_SEC;
                n = asprintf(&c->url, "%.*s/profile?seconds=%" PRIu64, (int) len, t->pprof_url, seconds);
        }
        if (n < 0) {
                c->url = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int collector_setup(PprofCollector *c, const PollerContext *ctx, uint64_t interval) {
        char *source;
        uint64_t timeout;
        int r;

        c->prefix = strjoin("go.", c->target->name, NULL);
        if (!c->prefix)
                return -ENOMEM;
        r = collector_set_url(c, &timeout);
        if (r >= 0)
                r = collector_init(c, ctx->event, interval);
        if (r >= 0)
                r = collector_setup_http(c, ctx->glue, timeout);
        if (r < 0)
                return r;
        source = strjoin(c->prefix, ".", collector_kind(c), NULL);
        if (!source)
                return -ENOMEM;
        r = poller_register(&c->base, ctx->sources, source, "pprof", c->url);
        free(source);
        if (r < 0 || c->kind != PPROF_CPU)
                return r;
        r = cpu_turn_join(&c->turn, c->target->pprof_url, &c->base);
        if (r < 0)
                return r;
        source_set_info(c->base.source, "cpu_skipped_for_runs", json_integer(0));
        return 0;
}

static int collector_new(const PollerContext *ctx, const TargetConfig *t, PprofKind kind, uint64_t interval,
                         PollerList *list) {
        PprofCollector *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->base.ops = &collector_ops;
        c->store = ctx->store;
        c->target = t;
        c->kind = kind;
        r = collector_setup(c, ctx, interval);
        if (r < 0) {
                poller_free(&c->base);
                return r;
        }
        return poller_list_add(list, &c->base);
}

/* 0 turns the kind off. */
static uint64_t kind_interval(const TargetConfig *t, PprofKind kind) {
        switch (kind) {
        case PPROF_HEAP:
                return t->heap_interval_usec;
        case PPROF_GOROUTINE:
                return t->goroutine_interval_usec;
        case PPROF_CPU:
                return t->cpu_interval_usec;
        default:
                return 0;
        }
}

static int pprof_build_target(const PollerContext *ctx, const TargetConfig *t, PollerList *list) {
        char *shown;
        int r;

        for (PprofKind k = 0; k < _PPROF_KIND_MAX; k++) {
                if (kind_interval(t, k) == 0)
                        continue;
                r = collector_new(ctx, t, k, kind_interval(t, k), list);
                if (r < 0) {
                        shown = redact_url(t->pprof_url);
                        log_error("[target %s]: cannot collect profiles from %s: %s", t->name,
                                  shown ? shown : "pprof_url", strerror(-r));
                        free(shown);
                        return r;
                }
        }
        return 0;
}

static int pprof_build(const PollerContext *ctx, PollerList *list) {
        int r;

        for (size_t i = 0; i < ctx->config->n_targets; i++) {
                if (!ctx->config->targets[i].pprof_url)
                        continue;
                r = pprof_build_target(ctx, &ctx->config->targets[i], list);
                if (r < 0)
                        return r;
        }
        return 0;
}

const PollerKind pprof_poller_kind = {
        .name = "pprof",
        .build = pprof_build,
};

/* ---------------------------------------------------------------- on demand */

struct PprofCapture {
        CurlGlue *glue;
        Store *store;
        char *target, *kind, *url;
        size_t max_profile;
        uint64_t timeout_usec;
        uint64_t started_usec, started_mono_usec;
        CURL *easy;
        CurlBuffer body;
        char errbuf[CURL_ERROR_SIZE];
        PprofCaptureFn fn;
        void *userdata;
        /* CPU captures only: their turn at the profiler, and while a
         * periodic profile records, the wait for its end. */
        CpuTurn turn;
        sd_event_source *wait;
        uint64_t wait_started_usec, wait_until_usec;
};

static void capture_free(PprofCapture *c) {
        cpu_turn_leave(&c->turn);
        sd_event_source_disable_unref(c->wait);
        if (c->easy)
                curl_easy_cleanup(c->easy);
        curl_buffer_done(&c->body);
        free(c->target);
        free(c->kind);
        free(c->url);
        free(c);
}

PprofCapture *pprof_capture_cancel(PprofCapture *c) {
        if (!c)
                return NULL;
        curl_glue_remove(c->glue, c->easy);
        capture_free(c);
        return NULL;
}

/* Decodes and stores the answer; 0 and *ret_id, or < 0 with the reason. */
static int capture_keep(PprofCapture *c, int64_t *ret_id, char *error, size_t n) {
        uint64_t duration = now_monotonic_usec() - c->started_mono_usec;
        PprofSummary *s = NULL;
        int r;

        r = profile_decode(c->kind, &c->body, c->max_profile, &s, error, n);
        if (r < 0)
                return r;
        r = profile_store(c->store, c->target, c->kind, c->started_usec, duration, &c->body, s, ret_id);
        pprof_summary_free(s);
        if (r < 0)
                snprintf(error, n, "cannot store the %s profile: %s", c->kind, strerror(-r));
        return r;
}

static void capture_on_done(CURL *easy, CURLcode result, void *userdata) {
        PprofCapture *c = userdata;
        char error[CURL_GLUE_REASON_MAX + 64] = "";
        int64_t id = 0;
        long code = 0;

        if (result != CURLE_OK)
                curl_glue_describe(easy, result, &c->body, c->errbuf, c->timeout_usec, "profile", "max_profile",
                                   error, sizeof error);
        else if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code), code < 200 || code > 299)
                snprintf(error, sizeof error, "HTTP %ld from the %s profile's URL", code, c->kind);
        else if (capture_keep(c, &id, error, sizeof error) < 0)
                id = 0;
        c->fn(id, id > 0 ? NULL : error, c->userdata);
        capture_free(c);
}

/* Sends the capture's request now: its profile's time starts here. */
static int capture_send(PprofCapture *c) {
        c->started_usec = now_realtime_usec();
        c->started_mono_usec = now_monotonic_usec();
        curl_buffer_attach(&c->body, c->easy, c->max_profile);
        return curl_glue_add(c->glue, c->easy, capture_on_done, c);
}

/* Ends a capture that never got its answer: fn with the reason, then free. */
static void capture_fail(PprofCapture *c, const char *error) {
        c->fn(0, error, c->userdata);
        capture_free(c);
}

static int capture_on_wait(sd_event_source *s, uint64_t usec, void *userdata) {
        PprofCapture *c = userdata;
        uint64_t waited = usec - c->wait_started_usec;
        char error[256];
        int r;

        if (cpu_turn_periodic_recording(&c->turn)) {
                if (usec < c->wait_until_usec && sd_event_source_set_time_relative(s, CPU_WAIT_STEP_USEC) >= 0 &&
                    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) >= 0)
                        return 0;
                snprintf(error, sizeof error, "the periodic CPU profile of [target %s] still recorded after %" PRIu64
                         " s of waiting for it", c->target, (uint64_t) (waited / USEC_PER_SEC));
                capture_fail(c, error);
                return 0;
        }
        c->wait = sd_event_source_disable_unref(c->wait);
        log_info("[target %s]: the periodic CPU profile ended after %" PRIu64 " ms: the run's CPU profile starts",
                 c->target, (uint64_t) (waited / USEC_PER_MSEC));
        r = capture_send(c);
        if (r < 0) {
                snprintf(error, sizeof error, "cannot request the cpu profile: %s", strerror(-r));
                capture_fail(c, error);
        }
        return 0;
}

/* A CPU capture joins the profiler's users; when a periodic CPU profile of
 * the same pprof_url records, it waits for that one's end (at most its
 * transfer timeout and CPU_WAIT_SLACK_USEC), else it is sent now. */
static int capture_take_turn(PprofCapture *c, const char *pprof_url) {
        const Poller *rec;
        sd_event *e = curl_glue_get_event(c->glue);
        int r;

        r = cpu_turn_join(&c->turn, pprof_url, NULL);
        if (r < 0)
                return r;
        rec = cpu_turn_periodic_recording(&c->turn);
        if (!rec || !e)
                return capture_send(c);
        c->wait_started_usec = now_monotonic_usec();
        c->wait_until_usec = rec->started_mono_usec + rec->timeout_usec + CPU_WAIT_SLACK_USEC;
        r = sd_event_add_time_relative(e, &c->wait, CLOCK_MONOTONIC, CPU_WAIT_STEP_USEC, 0, capture_on_wait, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->wait, "pprof-cpu-turn");
        log_info("[target %s]: a periodic CPU profile is recording: the run's CPU profile waits for its end "
                 "(at most %" PRIu64 " s)", c->target, (uint64_t) ((c->wait_until_usec - c->wait_started_usec) / USEC_PER_SEC));
        return 0;
}

int pprof_capture_start(CurlGlue *glue, Store *store, const TargetConfig *t, const char *kind,
                        uint64_t cpu_seconds, PprofCaptureFn fn, void *userdata, PprofCapture **ret,
                        char *error, size_t n) {
        size_t len = t->pprof_url ? strlen(t->pprof_url) : 0;
        bool cpu = strcmp(kind, "cpu") == 0;
        PprofCapture *c;
        int r;

        if (!t->pprof_url) {
                snprintf(error, n, "[target %s] has no pprof_url", t->name);
                return -EINVAL;
        }
        while (len > 0 && t->pprof_url[len - 1] == '/')
                len--;
        cpu_seconds = cpu_seconds < 1 ? 1 : cpu_seconds;
        c = calloc(1, sizeof *c);
        if (!c)
                goto oom;
        *c = (PprofCapture) { .glue = glue, .store = store, .target = strdup(t->name), .kind = strdup(kind),
                              .max_profile = (size_t) t->max_profile,
                              .timeout_usec = t->timeout_usec + (cpu ? cpu_seconds * USEC_PER_SEC : 0),
                              .fn = fn, .userdata = userdata };
        if (!c->target || !c->kind)
                goto oom;
        r = cpu ? asprintf(&c->url, "%.*s/profile?seconds=%" PRIu64, (int) len, t->pprof_url, cpu_seconds)
                : asprintf(&c->url, "%.*s/%s", (int) len, t->pprof_url, kind);
        if (r < 0) {
                c->url = NULL;
                goto oom;
        }
        r = curl_glue_easy_new(c->url, c->timeout_usec, t->timeout_usec, c->errbuf, &c->easy);
        if (r >= 0 && curl_easy_setopt(c->easy, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK)
                r = -EINVAL;
        if (r >= 0)
                r = cpu ? capture_take_turn(c, t->pprof_url) : capture_send(c);
        if (r < 0) {
                snprintf(error, n, "cannot request the %s profile: %s", kind, strerror(-r));
                capture_free(c);
                return r;
        }
        *ret = c;
        return 0;
oom:
        if (c)
                capture_free(c);
        snprintf(error, n, "out of memory");
        return -ENOMEM;
}
