#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json-flatten.h"
#include "util/log.h"
#include "transport/poll-timer.h"
#include "probes/probe-gomem.h"
#include "util/units.h"

/* Probes started together spread their first polls over this much time. */
#define GOMEM_FIRST_SPREAD_USEC USEC_PER_SEC

struct GoMemProbe {
        CurlGlue *glue;
        Store *store;
        Source *source;
        const TargetConfig *target;
        char *prefix;                  /* "go.<target>" */

        PollTimer *timer;

        CURL *easy;
        CurlBuffer body;
        char errbuf[CURL_ERROR_SIZE];
        bool in_flight;
        uint64_t started_usec;         /* wall clock, for the samples' time */
        uint64_t started_mono_usec;    /* for the duration */
};

/* Numeric fields taken from one answer; a /memory endpoint has about 30. */
#define GOMEM_FIELDS_MAX 2000

typedef struct AppendCtx {
        Store *store;
        int64_t ts_ms;
        unsigned n;
} AppendCtx;

static int gomem_append(const char *name, double value, void *u) {
        AppendCtx *c = u;

        if (++c->n > GOMEM_FIELDS_MAX)
                return -EMSGSIZE;
        return store_append(c->store, name, c->ts_ms, value);
}

static void gomem_report_append_error(GoMemProbe *p, uint64_t duration, int n) {
        if (n == -EMSGSIZE)
                source_report_down(p->source, p->started_usec, duration,
                                   "more than %d numeric fields; only the first %d were kept",
                                   GOMEM_FIELDS_MAX, GOMEM_FIELDS_MAX);
        else if (n == -E2BIG)
                source_report_down(p->source, p->started_usec, duration,
                                   "this target already has %d series names in the store; new fields "
                                   "are dropped (do the JSON keys change on every poll?)",
                                   STORE_SERIES_PER_PREFIX_MAX);
        else
                source_report_down(p->source, p->started_usec, duration, "cannot queue samples: %s",
                                   strerror(-n));
}

/* Turns the body into samples; reports the poll up or down. */
static void gomem_ingest(GoMemProbe *p, uint64_t duration) {
        AppendCtx ctx = { .store = p->store, .ts_ms = (int64_t) (p->started_usec / 1000) };
        const char *data = p->body.data ? p->body.data : "";
        json_error_t err;
        json_t *root;
        int n;

        root = json_loadb(data, p->body.size, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
        if (!root) {
                source_report_down(p->source, p->started_usec, duration,
                                   "invalid JSON at line %d column %d: %s", err.line, err.column, err.text);
                return;
        }

        if (!json_is_object(root))
                source_report_down(p->source, p->started_usec, duration, "JSON is not an object");
        else {
                n = json_flatten(root, p->prefix, gomem_append, &ctx);
                if (n < 0)
                        gomem_report_append_error(p, duration, n);
                else if (n == 0)
                        source_report_down(p->source, p->started_usec, duration, "no numeric fields");
                else
                        source_report_up(p->source, p->started_usec, duration);
        }
        json_decref(root);
}

static void gomem_poll_ended(GoMemProbe *p) {
        poll_timer_set_failures(p->timer, source_consecutive_failures(p->source));
}

static void gomem_on_done(CURL *easy, CURLcode result, void *userdata) {
        GoMemProbe *p = userdata;
        uint64_t duration = now_monotonic_usec() - p->started_mono_usec;
        char reason[CURL_GLUE_REASON_MAX];
        long code = 0;

        p->in_flight = false;

        if (result != CURLE_OK) {
                curl_glue_describe(easy, result, &p->body, p->errbuf, p->target->timeout_usec, "body", "max_body",
                                   reason, sizeof(reason));
                source_report_down(p->source, p->started_usec, duration, "%s", reason);
        } else {
                (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
                if (code < 200 || code > 299)
                        source_report_down(p->source, p->started_usec, duration, "HTTP %ld%s", code,
                                           code >= 300 && code <= 399 ? " (redirects are not followed)" : "");
                else
                        gomem_ingest(p, duration);
        }
        curl_buffer_reset(&p->body);
        gomem_poll_ended(p);
}

static void gomem_poll(GoMemProbe *p) {
        int r;

        p->errbuf[0] = '\0';
        curl_buffer_attach(&p->body, p->easy, (size_t) p->target->max_body);
        p->started_usec = now_realtime_usec();
        p->started_mono_usec = now_monotonic_usec();

        r = curl_glue_add(p->glue, p->easy, gomem_on_done, p);
        if (r < 0) {
                source_report_down(p->source, p->started_usec, 0, "cannot start the request: %s", strerror(-r));
                gomem_poll_ended(p);
                return;
        }
        p->in_flight = true;
}

static void gomem_on_tick(PollTimer *t, void *userdata) {
        GoMemProbe *p = userdata;

        if (p->in_flight) {
                log_source(LOG_DEBUG, source_name(p->source), "previous poll still running, skipping this tick");
                return;
        }
        gomem_poll(p);
}

static int gomem_add_timer(GoMemProbe *p, sd_event *e) {
        char *description;
        int r;

        if (asprintf(&description, "gomem:%s", p->target->name) < 0)
                return -ENOMEM;
        r = poll_timer_new(e, p->target->memory_interval_usec, GOMEM_FIRST_SPREAD_USEC, description, gomem_on_tick,
                           p, &p->timer);
        free(description);
        return r;
}

int gomem_probe_new(sd_event *e, CurlGlue *glue, Store *store, SourceSet *sources,
                    const TargetConfig *t, GoMemProbe **ret) {
        GoMemProbe *p;
        char *source_name;
        int r;

        if (!e || !glue || !sources || !t || !t->name || !t->memory_url || t->memory_interval_usec == 0 || !ret)
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
        r = curl_glue_easy_new(t->memory_url, t->timeout_usec, t->timeout_usec, p->errbuf, &p->easy);
        if (r < 0)
                goto fail;
        r = gomem_add_timer(p, e);
        if (r < 0)
                goto fail;

        /* Last, so a failure above leaves no orphan source in the set. */
        if (asprintf(&source_name, "%s.memory", p->prefix) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        r = source_set_add(sources, source_name, "go_memory", t->memory_url, &p->source);
        free(source_name);
        if (r < 0)
                goto fail;

        *ret = p;
        return 0;

fail:
        gomem_probe_free(p);
        return r;
}

GoMemProbe *gomem_probe_free(GoMemProbe *p) {
        if (!p)
                return NULL;
        poll_timer_free(p->timer);
        if (p->in_flight)
                curl_glue_remove(p->glue, p->easy);
        if (p->easy)
                curl_easy_cleanup(p->easy);
        curl_buffer_done(&p->body);
        free(p->prefix);
        free(p);
        return NULL;
}
