#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/poller.h"
#include "util/log.h"
#include "util/util.h"

/* Longest part of an error page quoted in a reason. */
#define POLLER_ERROR_PAGE_MAX 120

struct PollerList {
        Poller **items;
        size_t n, allocated;
};

static void poller_on_tick(PollTimer *t, void *userdata) {
        Poller *p = userdata;
        int r;

        if (p->in_flight) {
                log_source(LOG_DEBUG, source_name(p->source), "previous poll still running, skipping this tick");
                return;
        }
        p->started_usec = now_realtime_usec();
        p->started_mono_usec = now_monotonic_usec();
        p->in_flight = true;
        r = p->ops->start(p);
        if (r == -EBUSY) {
                log_source(LOG_DEBUG, source_name(p->source), "busy, skipping this tick");
                p->in_flight = false;
        } else if (r < 0)
                poller_end(p);
}

int poller_init(Poller *p, const PollerOps *ops, sd_event *e, uint64_t interval_usec, uint64_t spread_usec,
                const char *description) {
        if (!p || !ops || !ops->start || !ops->free || !e || interval_usec == 0 || !description)
                return -EINVAL;
        p->ops = ops;
        p->event = e;
        return poll_timer_new(e, interval_usec, spread_usec, description, poller_on_tick, p, &p->timer);
}

int poller_register(Poller *p, SourceSet *set, const char *name, const char *kind, const char *url) {
        return source_set_add(set, name, kind, url, &p->source);
}

Poller *poller_free(Poller *p) {
        if (!p)
                return NULL;
        p->timer = poll_timer_free(p->timer);
        p->resume = sd_event_source_disable_unref(p->resume);
        if (p->easy) {
                if (p->in_flight)
                        curl_glue_remove(p->glue, p->easy);
                curl_easy_cleanup(p->easy);
                p->easy = NULL;
        }
        curl_buffer_done(&p->body);
        p->ops->free(p);
        return NULL;
}

void poller_end(Poller *p) {
        p->in_flight = false;
        if (!p->no_backoff)
                poll_timer_set_failures(p->timer, source_consecutive_failures(p->source));
}

uint64_t poller_duration(const Poller *p) {
        return now_monotonic_usec() - p->started_mono_usec;
}

void poller_report_up(Poller *p) {
        source_report_up(p->source, p->started_usec, poller_duration(p));
}

void poller_report_down(Poller *p, const char *fmt, ...) {
        char reason[512];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        source_report_down(p->source, p->started_usec, poller_duration(p), "%s", reason);
}

/* ------------------------------------------------------------------ HTTP */

/* The first line of an error page when it is short printable text (Go's
 * pprof says "Unknown profile"), as ": <line>", else "". */
static void error_page_line(const CurlBuffer *b, char *buf, size_t n) {
        size_t i;

        buf[0] = '\0';
        if (!b->data || n < 3)
                return;
        for (i = 0; i < b->size && i < POLLER_ERROR_PAGE_MAX && i < n - 3; i++) {
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

static void poller_http_error(Poller *p, long code, const CurlBuffer *body) {
        char page[POLLER_ERROR_PAGE_MAX + 3];

        error_page_line(body, page, sizeof(page));
        poller_report_down(p, "HTTP %ld%s%s", code,
                           code >= 300 && code <= 399 ? " (redirects are not followed)" : "", page);
}

/* Returns 1 when the poll goes on with another request. */
static int poller_http_answer(Poller *p, CURL *easy, CURLcode result) {
        char reason[CURL_GLUE_REASON_MAX];
        long code = 0;

        /* A streaming poller that stopped the transfer itself knows why. */
        if (result == CURLE_WRITE_ERROR && p->ops->write && !p->body.overflow)
                return p->ops->done(p, NULL);
        if (result != CURLE_OK) {
                curl_glue_describe(easy, result, &p->body, p->errbuf, p->timeout_usec, p->what, p->cap_name,
                                   reason, sizeof(reason));
                poller_report_down(p, "%s", reason);
                return 0;
        }
        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code <= 299)
                return p->ops->done(p, p->ops->write ? NULL : &p->body);
        if (p->ops->http_error)
                p->ops->http_error(p, code, &p->body);
        else
                poller_http_error(p, code, &p->body);
        return 0;
}

static void poller_http_on_done(CURL *easy, CURLcode result, void *userdata) {
        Poller *p = userdata;

        if (poller_http_answer(p, easy, result) > 0)
                return;
        curl_buffer_reset(&p->body);
        poller_end(p);
}

static int poller_on_resume(sd_event_source *s, void *userdata) {
        Poller *p = userdata;

        p->slice_bytes = 0;
        if (p->in_flight && p->easy)
                (void) curl_easy_pause(p->easy, CURLPAUSE_CONT);
        return 0;
}

/* True when this piece would take the loop iteration past its budget: the
 * transfer then pauses, and a deferred event (run after the other pending
 * events) resumes it. */
static bool poller_over_slice(Poller *p, size_t n) {
        uint64_t now = 0;

        (void) sd_event_now(p->event, CLOCK_MONOTONIC, &now);
        if (now != p->slice_iteration) {
                p->slice_iteration = now;
                p->slice_bytes = 0;
        }
        if (p->slice_bytes == 0 || p->slice_bytes + n <= POLLER_SLICE_BYTES) {
                p->slice_bytes += n;
                return false;
        }
        if (!p->resume && sd_event_add_defer(p->event, &p->resume, poller_on_resume, p) >= 0)
                (void) sd_event_source_set_description(p->resume, "poller-resume");
        /* Without the event, parsing on is better than a transfer stuck. */
        if (!p->resume || sd_event_source_set_enabled(p->resume, SD_EVENT_ONESHOT) < 0)
                return false;
        return true;
}

/* A streamed body: counted against the cap (body.size, body.overflow)
 * and handed on a slice per loop iteration; nothing is kept. */
static size_t poller_http_write(char *data, size_t size, size_t nmemb, void *userdata) {
        Poller *p = userdata;
        size_t n = size * nmemb;
        long code = 0;

        if (poller_over_slice(p, n))
                return CURL_WRITEFUNC_PAUSE;
        if (n > p->body.cap - p->body.size) {
                p->body.overflow = true;
                return 0;
        }
        p->body.size += n;
        /* An error page is not the document: it is dropped, and the status
         * alone names the failure. */
        (void) curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200 || code > 299)
                return n;
        return p->ops->write(p, data, n) < 0 ? 0 : n;
}

static void poller_http_attach(Poller *p) {
        curl_buffer_attach(&p->body, p->easy, p->body_cap);
        if (!p->ops->write)
                return;
        (void) curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, poller_http_write);
        (void) curl_easy_setopt(p->easy, CURLOPT_WRITEDATA, p);
}

int poller_http_setup(Poller *p, CurlGlue *glue, const char *url, uint64_t timeout_usec,
                      uint64_t connect_timeout_usec, size_t cap, const char *what, const char *cap_name) {
        if (!p->ops->done)
                return -EINVAL;
        p->glue = glue;
        p->timeout_usec = timeout_usec;
        p->body_cap = cap;
        p->what = what;
        p->cap_name = cap_name;
        return curl_glue_easy_new(url, timeout_usec, connect_timeout_usec, p->errbuf, &p->easy);
}

int poller_http_send(Poller *p) {
        int r;

        p->errbuf[0] = '\0';
        poller_http_attach(p);
        r = curl_glue_add(p->glue, p->easy, poller_http_on_done, p);
        if (r < 0)
                poller_report_down(p, "cannot start the request: %s", strerror(-r));
        return r;
}

/* ------------------------------------------------------------------ list */

int poller_list_new(PollerList **ret) {
        PollerList *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        *ret = l;
        return 0;
}

PollerList *poller_list_free(PollerList *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                poller_free(l->items[i]);
        free(l->items);
        free(l);
        return NULL;
}

int poller_list_add(PollerList *l, Poller *p) {
        Poller **items;
        size_t n;

        if (!l || !p) {
                poller_free(p);
                return -EINVAL;
        }
        if (l->n == l->allocated) {
                n = l->allocated ? l->allocated * 2 : 8;
                items = reallocarray(l->items, n, sizeof(*items));
                if (!items) {
                        poller_free(p);
                        return -ENOMEM;
                }
                l->items = items;
                l->allocated = n;
        }
        l->items[l->n++] = p;
        return 0;
}

size_t poller_list_size(const PollerList *l) {
        return l ? l->n : 0;
}
