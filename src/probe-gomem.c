#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "json-flatten.h"
#include "log.h"
#include "probe-gomem.h"
#include "units.h"

#define GOMEM_USER_AGENT "perfwatchd/0.1"
/* Backoff never stretches the poll period past this (or the interval, if longer). */
#define GOMEM_BACKOFF_CAP_USEC (60 * USEC_PER_SEC)
/* Probes started together spread their first polls over this much time. */
#define GOMEM_FIRST_SPREAD_USEC USEC_PER_SEC
/* Timers fire within a millisecond: the default 250 ms would swamp the jitter. */
#define GOMEM_TIMER_ACCURACY_USEC USEC_PER_MSEC

struct GoMemProbe {
        CurlGlue *glue;
        Store *store;
        Source *source;
        const TargetConfig *target;
        char *prefix;                  /* "go.<target>" */

        sd_event_source *timer;
        uint64_t next_base_usec;       /* CLOCK_MONOTONIC, unjittered time of the next tick */
        uint64_t last_base_usec;       /* the same for the tick that fired last */
        unsigned scheduled_failures;   /* failure count the armed tick was computed with */
        uint64_t rng;

        CURL *easy;
        CurlBuffer body;
        char errbuf[CURL_ERROR_SIZE];
        bool in_flight;
        uint64_t started_usec;         /* wall clock, for the samples' time */
        uint64_t started_mono_usec;    /* for the duration */
};

typedef struct AppendCtx {
        Store *store;
        int64_t ts_ms;
} AppendCtx;

/* a + b + c in a new string, or NULL. */
static char *str_join3(const char *a, const char *b, const char *c) {
        size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
        char *s = malloc(la + lb + lc + 1);

        if (!s)
                return NULL;
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
        return s;
}

static uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* xorshift64*: jitter needs spread, not secrecy. */
static uint64_t gomem_random(GoMemProbe *p) {
        uint64_t x = p->rng;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        p->rng = x;
        return x * 0x2545F4914F6CDD1DULL;
}

static void gomem_seed(GoMemProbe *p) {
        uint64_t seed = 0;

        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t) sizeof(seed))
                seed = now_monotonic_usec() ^ (uint64_t) (uintptr_t) p;
        p->rng = seed ? seed : 1;
}

/* The period after a tick: the interval, doubled per consecutive failure up
 * to 8x, capped at max(interval, 60s), and never shorter than the interval. */
static uint64_t gomem_delay(uint64_t interval, unsigned failures) {
        uint64_t cap = interval > GOMEM_BACKOFF_CAP_USEC ? interval : GOMEM_BACKOFF_CAP_USEC;
        unsigned shift = failures < 3 ? failures : 3;
        uint64_t d = interval > (UINT64_MAX >> shift) ? cap : interval << shift;

        if (d > cap)
                d = cap;
        return d < interval ? interval : d;
}

/* Arms the tick after the one based at `base`.  The schedule is fixed-rate
 * (from the previous scheduled time, not from when a poll ended) so polls do
 * not drift by their own duration; jitter is applied to each firing only. */
static int gomem_schedule(GoMemProbe *p, uint64_t base) {
        uint64_t interval = p->target->memory_interval_usec, now = now_monotonic_usec();
        uint64_t next, span, jitter, fire;
        unsigned failures = source_consecutive_failures(p->source);
        int r;

        next = base + gomem_delay(interval, failures);
        /* Ticks missed while the host slept or a poll overran are skipped, not replayed. */
        if (next < now)
                next += ((now - next) / interval + 1) * interval;

        span = interval / 50;
        jitter = gomem_random(p) % (2 * span + 1);
        fire = next + jitter >= span ? next + jitter - span : 0;

        p->next_base_usec = next;
        p->scheduled_failures = failures;

        r = sd_event_source_set_time(p->timer, fire);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_source(LOG_ERR, source_name(p->source), "cannot arm the poll timer, polling stops: %s",
                           strerror(-r));
        return r;
}

static int gomem_append(const char *name, double value, void *u) {
        AppendCtx *c = u;

        return store_append(c->store, name, c->ts_ms, value);
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
                        source_report_down(p->source, p->started_usec, duration,
                                           "cannot queue samples: %s", strerror(-n));
                else if (n == 0)
                        source_report_down(p->source, p->started_usec, duration, "no numeric fields");
                else
                        source_report_up(p->source, p->started_usec, duration);
        }
        json_decref(root);
}

static void gomem_report_curl_error(GoMemProbe *p, CURLcode result, uint64_t duration) {
        const char *detail = p->errbuf[0] ? p->errbuf : curl_easy_strerror(result);
        Source *s = p->source;
        long os_errno = 0;

        switch (result) {
        case CURLE_OPERATION_TIMEDOUT:
                source_report_down(s, p->started_usec, duration, "timed out after %" PRIu64 " ms",
                                   (uint64_t) (p->target->timeout_usec / USEC_PER_MSEC));
                break;
        case CURLE_FILESIZE_EXCEEDED:
                source_report_down(s, p->started_usec, duration, "body exceeds max_body (%" PRIu64 " bytes)",
                                   p->target->max_body);
                break;
        case CURLE_WRITE_ERROR:
                if (p->body.overflow)
                        source_report_down(s, p->started_usec, duration,
                                           "body exceeds max_body (%" PRIu64 " bytes)", p->target->max_body);
                else
                        source_report_down(s, p->started_usec, duration,
                                           "cannot keep the body in memory: %s", detail);
                break;
        case CURLE_COULDNT_CONNECT:
                (void) curl_easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &os_errno);
                source_report_down(s, p->started_usec, duration, "connect failed: %s",
                                   os_errno > 0 ? strerror((int) os_errno) : detail);
                break;
        case CURLE_COULDNT_RESOLVE_HOST:
                source_report_down(s, p->started_usec, duration, "cannot resolve host: %s", detail);
                break;
        default:
                source_report_down(s, p->started_usec, duration, "request failed: %s", detail);
                break;
        }
}

/* The armed tick assumed the failure count from before this poll: move it
 * when the poll's outcome changed the backoff. */
static void gomem_reschedule_if_needed(GoMemProbe *p) {
        if (source_consecutive_failures(p->source) != p->scheduled_failures)
                (void) gomem_schedule(p, p->last_base_usec);
}

static void gomem_on_done(CURL *easy, CURLcode result, void *userdata) {
        GoMemProbe *p = userdata;
        uint64_t duration = now_monotonic_usec() - p->started_mono_usec;
        long code = 0;

        p->in_flight = false;

        if (result != CURLE_OK)
                gomem_report_curl_error(p, result, duration);
        else {
                (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
                if (code < 200 || code > 299)
                        source_report_down(p->source, p->started_usec, duration, "HTTP %ld%s", code,
                                           code >= 300 && code <= 399 ? " (redirects are not followed)" : "");
                else
                        gomem_ingest(p, duration);
        }
        curl_buffer_reset(&p->body);
        gomem_reschedule_if_needed(p);
}

static void gomem_poll(GoMemProbe *p) {
        int r;

        p->errbuf[0] = '\0';
        curl_buffer_attach(&p->body, p->easy, (size_t) p->target->max_body);
        p->started_usec = units_now_usec();
        p->started_mono_usec = now_monotonic_usec();

        r = curl_glue_add(p->glue, p->easy, gomem_on_done, p);
        if (r < 0) {
                source_report_down(p->source, p->started_usec, 0, "cannot start the request: %s", strerror(-r));
                gomem_reschedule_if_needed(p);
                return;
        }
        p->in_flight = true;
}

static int gomem_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        GoMemProbe *p = userdata;

        p->last_base_usec = p->next_base_usec;
        (void) gomem_schedule(p, p->last_base_usec);

        if (p->in_flight) {
                log_source(LOG_DEBUG, source_name(p->source), "previous poll still running, skipping this tick");
                return 0;
        }
        gomem_poll(p);
        return 0;
}

static int gomem_setup_easy(GoMemProbe *p) {
        const TargetConfig *t = p->target;
        uint64_t ms = t->timeout_usec / USEC_PER_MSEC;
        /* 0 would mean "no timeout" to curl. */
        long timeout_ms = ms < 1 ? 1 : ms > LONG_MAX ? LONG_MAX : (long) ms;
        CURL *e;

        p->easy = e = curl_easy_init();
        if (!e)
                return -ENOMEM;

        if (curl_easy_setopt(e, CURLOPT_URL, t->memory_url) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_USERAGENT, GOMEM_USER_AGENT) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
#else
            curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
#endif
            curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf) != CURLE_OK)
                return -EINVAL;
        return 0;
}

/* The first tick comes after a random part of min(interval, 1s), so
 * probes started together do not poll in step. */
static int gomem_add_timer(GoMemProbe *p, sd_event *e) {
        uint64_t interval = p->target->memory_interval_usec;
        uint64_t spread = interval < GOMEM_FIRST_SPREAD_USEC ? interval : GOMEM_FIRST_SPREAD_USEC;
        char *description;
        int r;

        r = sd_event_add_time_relative(e, &p->timer, CLOCK_MONOTONIC, gomem_random(p) % (spread + 1),
                                       GOMEM_TIMER_ACCURACY_USEC, gomem_on_timer, p);
        if (r < 0)
                return r;
        r = sd_event_source_get_time(p->timer, &p->next_base_usec);
        if (r < 0)
                return r;

        description = str_join3("gomem:", p->target->name, "");
        if (!description)
                return -ENOMEM;
        r = sd_event_source_set_description(p->timer, description);
        free(description);
        return r < 0 ? r : 0;
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
        gomem_seed(p);

        p->prefix = str_join3("go.", t->name, "");
        if (!p->prefix) {
                r = -ENOMEM;
                goto fail;
        }
        r = gomem_setup_easy(p);
        if (r < 0)
                goto fail;
        r = gomem_add_timer(p, e);
        if (r < 0)
                goto fail;

        /* Last, so a failure above leaves no orphan source in the set. */
        source_name = str_join3("go.", t->name, ".memory");
        if (!source_name) {
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
        sd_event_source_disable_unref(p->timer);
        if (p->in_flight)
                curl_glue_remove(p->glue, p->easy);
        if (p->easy)
                curl_easy_cleanup(p->easy);
        curl_buffer_done(&p->body);
        free(p->prefix);
        free(p);
        return NULL;
}
