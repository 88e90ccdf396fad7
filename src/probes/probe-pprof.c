#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/log.h"
#include "transport/poll-timer.h"
#include "probes/pprof-decode.h"
#include "probes/probe-pprof.h"
#include "util/units.h"

/* A gzipped profile may inflate to this many times max_profile: real ones
 * inflate about 2x.  NB: decoding runs on the loop, so this bounds the time
 * a hostile gzip bomb could hold it (and the memory it takes). */
#define PPROF_INFLATE_RATIO 4
/* Longest part of an error page quoted in a reason. */
#define PPROF_ERROR_PAGE_MAX 120

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

typedef struct PprofCollector {
        PprofProbe *probe;
        PprofKind kind;
        uint64_t interval_usec;
        uint64_t timeout_usec;         /* the whole transfer: CPU profiles add cpu_seconds */
        char *url;
        Source *source;

        PollTimer *timer;

        CURL *easy;
        CurlBuffer body;
        char errbuf[CURL_ERROR_SIZE];
        bool in_flight;
        uint64_t started_usec;         /* wall clock: the profile's and the samples' time */
        uint64_t started_mono_usec;    /* for the duration */
} PprofCollector;

struct PprofProbe {
        CurlGlue *glue;
        Store *store;
        const TargetConfig *target;
        char *prefix;                  /* "go.<target>" */
        PprofCollector *collectors[_PPROF_KIND_MAX];
};

static const char *collector_kind(const PprofCollector *c) {
        return pprof_kind_names[c->kind];
}

static void collector_poll_ended(PprofCollector *c) {
        poll_timer_set_failures(c->timer, source_consecutive_failures(c->source));
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
        if (asprintf(&name, "%s.%s.%s", c->probe->prefix, collector_kind(c), leaf) < 0)
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

        if (asprintf(&name, "%s.%s", c->probe->prefix, suffix) < 0)
                return -ENOMEM;
        r = store_append(c->probe->store, name, ts_ms, value);
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
        int64_t ts_ms = (int64_t) (c->started_usec / USEC_PER_MSEC);
        char *name;
        int r;

        /* A goroutine profile has one sample type, the count of goroutines. */
        if (c->kind == PPROF_GOROUTINE)
                return append_named(c, "goroutines", ts_ms, s->types[0].total);

        for (size_t i = 0; i < s->n_types; i++) {
                name = series_name(c, &s->types[i]);
                if (!name)
                        return -ENOMEM;
                r = store_append(c->probe->store, name, ts_ms, s->types[i].total);
                free(name);
                if (r < 0)
                        return r;
        }
        return c->kind == PPROF_CPU ? append_cpu_utilization(c, s, ts_ms) : 0;
}

/* Drops profiles past profile_retention and beyond profile_keep; either
 * set to 0 means no limit of that kind. */
static void collector_prune(PprofCollector *c) {
        const TargetConfig *t = c->probe->target;
        int64_t now_ms = (int64_t) (now_realtime_usec() / USEC_PER_MSEC);
        int64_t retention_ms = (int64_t) (t->profile_retention_usec / USEC_PER_MSEC);
        int64_t cutoff_ms = t->profile_retention_usec > 0 ? now_ms - retention_ms : INT64_MIN;
        uint64_t keep = t->profile_keep > 0 && t->profile_keep < INT64_MAX ? t->profile_keep : INT64_MAX;
        unsigned deleted = 0;
        int r;

        r = store_profile_prune(c->probe->store, t->name, collector_kind(c), cutoff_ms, keep, &deleted);
        if (r < 0)
                log_source(LOG_WARNING, source_name(c->source), "cannot delete old %s profiles: %s",
                           collector_kind(c), strerror(-r));
        else if (deleted > 0)
                log_source(LOG_DEBUG, source_name(c->source), "deleted %u old %s profiles", deleted,
                           collector_kind(c));
}

/* Stores the raw bytes with the summary; 0 and the new id, or a negative errno. */
static int collector_store(PprofCollector *c, const PprofSummary *s, uint64_t duration, int64_t *ret_id) {
        json_t *j = pprof_summary_to_json(s);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        int r;

        json_decref(j);
        if (!text)
                return -ENOMEM;
        r = store_profile_add(c->probe->store, c->probe->target->name, collector_kind(c),
                              (int64_t) (c->started_usec / USEC_PER_MSEC), (int64_t) (duration / USEC_PER_MSEC),
                              c->body.data, c->body.size, text, ret_id);
        free(text);
        return r;
}

static size_t max_inflated(const TargetConfig *t) {
        if (t->max_profile > SIZE_MAX / PPROF_INFLATE_RATIO)
                return SIZE_MAX;
        return (size_t) t->max_profile * PPROF_INFLATE_RATIO;
}

/* Decodes the body, decides whether the profile is usable, keeps it and
 * its series; reports the poll up or down. */
static void collector_ingest(PprofCollector *c, uint64_t duration) {
        Source *src = c->source;
        PprofSummary *s = NULL;
        char error[256] = "";
        int64_t id = 0;
        int r;

        if (c->body.size == 0) {
                source_report_down(src, c->started_usec, duration, "%s profile is empty", collector_kind(c));
                return;
        }
        r = pprof_decode(c->body.data, c->body.size, max_inflated(c->probe->target), &s, error, sizeof(error));
        if (r < 0) {
                source_report_down(src, c->started_usec, duration, "%s profile: %s", collector_kind(c),
                                   error[0] ? error : strerror(-r));
                return;
        }
        if (s->n_types == 0) {
                source_report_down(src, c->started_usec, duration, "%s profile has no sample type",
                                   collector_kind(c));
                goto finish;
        }

        r = collector_store(c, s, duration, &id);
        if (r < 0) {
                source_report_down(src, c->started_usec, duration, "cannot store the %s profile: %s",
                                   collector_kind(c), strerror(-r));
                goto finish;
        }
        source_set_info(src, "last_profile_id", json_integer(id));
        collector_prune(c);

        r = collector_append_series(c, s);
        if (r < 0) {
                source_report_down(src, c->started_usec, duration, "cannot queue samples: %s", strerror(-r));
                goto finish;
        }
        log_source(LOG_DEBUG, source_name(src), "stored %s profile %" PRId64 ": %zu bytes, %" PRIu64 " samples",
                   collector_kind(c), id, c->body.size, s->n_samples);
        source_report_up(src, c->started_usec, duration);
finish:
        pprof_summary_free(s);
}

/* The first line of an error page when it is short printable text (Go's
 * pprof says "Unknown profile" or "Could not enable CPU profiling: ..."). */
static void error_page_line(const CurlBuffer *b, char *buf, size_t n) {
        size_t i;

        buf[0] = '\0';
        if (!b->data || n < 3)
                return;
        for (i = 0; i < b->size && i < PPROF_ERROR_PAGE_MAX && i < n - 3; i++) {
                unsigned char ch = (unsigned char) b->data[i];

                if (ch == '\n' || ch == '\r')
                        break;
                if (ch < 0x20 || ch >= 0x7f) {
                        buf[0] = '\0';
                        return;
                }
        }
        if (i == 0)
                return;
        buf[0] = ':';
        buf[1] = ' ';
        memcpy(buf + 2, b->data, i);
        buf[i + 2] = '\0';
}

static void collector_on_done(CURL *easy, CURLcode result, void *userdata) {
        PprofCollector *c = userdata;
        uint64_t duration = now_monotonic_usec() - c->started_mono_usec;
        char reason[CURL_GLUE_REASON_MAX], page[PPROF_ERROR_PAGE_MAX + 3];
        long code = 0;

        c->in_flight = false;

        if (result != CURLE_OK) {
                curl_glue_describe(easy, result, &c->body, c->errbuf, c->timeout_usec, "profile", "max_profile",
                                   reason, sizeof(reason));
                source_report_down(c->source, c->started_usec, duration, "%s", reason);
        } else {
                (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
                if (code < 200 || code > 299) {
                        error_page_line(&c->body, page, sizeof(page));
                        source_report_down(c->source, c->started_usec, duration, "HTTP %ld%s%s", code,
                                           code >= 300 && code <= 399 ? " (redirects are not followed)" : "",
                                           page);
                } else
                        collector_ingest(c, duration);
        }
        curl_buffer_reset(&c->body);
        collector_poll_ended(c);
}

static void collector_poll(PprofCollector *c) {
        int r;

        c->errbuf[0] = '\0';
        curl_buffer_attach(&c->body, c->easy, (size_t) c->probe->target->max_profile);
        c->started_usec = now_realtime_usec();
        c->started_mono_usec = now_monotonic_usec();

        r = curl_glue_add(c->probe->glue, c->easy, collector_on_done, c);
        if (r < 0) {
                source_report_down(c->source, c->started_usec, 0, "cannot start the request: %s", strerror(-r));
                collector_poll_ended(c);
                return;
        }
        c->in_flight = true;
}

static void collector_on_tick(PollTimer *t, void *userdata) {
        PprofCollector *c = userdata;

        /* One transfer per kind: a CPU profile longer than its interval skips ticks. */
        if (c->in_flight) {
                log_source(LOG_DEBUG, source_name(c->source), "previous %s profile still running, skipping this tick",
                           collector_kind(c));
                return;
        }
        collector_poll(c);
}

/* NB: no CURLOPT_ACCEPT_ENCODING: Go gzips the profile itself, and the
 * bytes are stored exactly as served so go tool pprof reads them.
 * The connection is closed after each profile: an idle keep-alive
 * connection is a goroutine on the target, which would inflate the
 * goroutine count everyone else sees, for a poll due minutes later. */
static int collector_setup_easy(PprofCollector *c) {
        int r;

        r = curl_glue_easy_new(c->url, c->timeout_usec, c->probe->target->timeout_usec, c->errbuf, &c->easy);
        if (r < 0)
                return r;
        return curl_easy_setopt(c->easy, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK ? 0 : -EINVAL;
}

/* The first tick comes after a random part of the kind's first spread, so
 * collectors started together do not poll in step. */
static int collector_add_timer(PprofCollector *c, sd_event *e) {
        char *description;
        int r;

        if (asprintf(&description, "pprof:%s:%s", c->probe->target->name, collector_kind(c)) < 0)
                return -ENOMEM;
        r = poll_timer_new(e, c->interval_usec, pprof_first_spread_usec[c->kind], description, collector_on_tick, c,
                           &c->timer);
        free(description);
        return r;
}

/* The kind's URL under pprof_url and its transfer timeout.  A CPU profile
 * answers only after cpu_seconds (whole seconds, at least one: Go's unit). */
static int collector_set_url(PprofCollector *c) {
        const TargetConfig *t = c->probe->target;
        size_t len = strlen(t->pprof_url);
        uint64_t seconds;
        int n;

        while (len > 0 && t->pprof_url[len - 1] == '/')
                len--;
        c->timeout_usec = t->timeout_usec;
        if (c->kind != PPROF_CPU)
                n = asprintf(&c->url, "%.*s/%s", (int) len, t->pprof_url, collector_kind(c));
        else {
                seconds = t->cpu_seconds_usec / USEC_PER_SEC;
                if (seconds < 1)
                        seconds = 1;
                c->timeout_usec += seconds * USEC_PER_SEC;
                n = asprintf(&c->url, "%.*s/profile?seconds=%" PRIu64, (int) len, t->pprof_url, seconds);
        }
        if (n < 0) {
                c->url = NULL;
                return -ENOMEM;
        }
        return 0;
}

static PprofCollector *collector_free(PprofCollector *c) {
        if (!c)
                return NULL;
        poll_timer_free(c->timer);
        if (c->in_flight)
                curl_glue_remove(c->probe->glue, c->easy);
        if (c->easy)
                curl_easy_cleanup(c->easy);
        curl_buffer_done(&c->body);
        free(c->url);
        free(c);
        return NULL;
}

static int collector_new(PprofProbe *p, sd_event *e, PprofKind kind, uint64_t interval, PprofCollector **ret) {
        PprofCollector *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->probe = p;
        c->kind = kind;
        c->interval_usec = interval;

        r = collector_set_url(c);
        if (r >= 0)
                r = collector_setup_easy(c);
        if (r >= 0)
                r = collector_add_timer(c, e);
        if (r < 0) {
                collector_free(c);
                return r;
        }
        *ret = c;
        return 0;
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

static int collector_add_source(PprofCollector *c, SourceSet *sources) {
        char *name;
        int r;

        if (asprintf(&name, "%s.%s", c->probe->prefix, collector_kind(c)) < 0)
                return -ENOMEM;
        r = source_set_add(sources, name, "pprof", c->url, &c->source);
        free(name);
        return r;
}

int pprof_probe_new(sd_event *e, CurlGlue *glue, Store *store, SourceSet *sources,
                    const TargetConfig *t, PprofProbe **ret) {
        PprofProbe *p;
        int r = 0;

        if (!e || !glue || !store || !sources || !t || !t->name || !ret)
                return -EINVAL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->glue = glue;
        p->store = store;
        p->target = t;
        if (asprintf(&p->prefix, "go.%s", t->name) < 0) {
                p->prefix = NULL;
                r = -ENOMEM;
                goto fail;
        }

        for (PprofKind k = 0; t->pprof_url && k < _PPROF_KIND_MAX; k++)
                if (kind_interval(t, k) > 0) {
                        r = collector_new(p, e, k, kind_interval(t, k), &p->collectors[k]);
                        if (r < 0)
                                goto fail;
                }
        /* Last, so a failure above leaves no orphan source in the set. */
        for (PprofKind k = 0; k < _PPROF_KIND_MAX; k++)
                if (p->collectors[k]) {
                        r = collector_add_source(p->collectors[k], sources);
                        if (r < 0)
                                goto fail;
                }

        *ret = p;
        return 0;

fail:
        pprof_probe_free(p);
        return r;
}

PprofProbe *pprof_probe_free(PprofProbe *p) {
        if (!p)
                return NULL;
        for (PprofKind k = 0; k < _PPROF_KIND_MAX; k++)
                collector_free(p->collectors[k]);
        free(p->prefix);
        free(p);
        return NULL;
}
