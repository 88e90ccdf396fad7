/* One poll lifecycle for every poller: a PollTimer, a guard that skips a
 * tick while the previous poll is still running, the poll's start time and
 * duration, reporting to its Source, backoff from the failure count, and
 * for HTTP pollers the whole transfer (start, error text, status check).
 * A poller kind embeds `Poller` as its first member and supplies a
 * PollerOps table; a PollerKind row builds its pollers from the config.
 * The base owns its timer, easy handle, body buffer and resume event; the
 * kind owns everything else and frees it (and the poller) in ops->free.
 * Everything a PollerContext lends is borrowed.  Loop thread only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config/config.h"
#include "probes/source.h"
#include "store/store.h"
#include "transport/curl-glue.h"
#include "transport/poll-timer.h"

/* What a streaming poller parses per loop iteration: about a millisecond
 * of JSON parsing, so other sources keep their schedule. */
#define POLLER_SLICE_BYTES (256u * 1024u)

typedef struct Poller Poller;
typedef struct PollerList PollerList;

/* What a poller does; everything else is the shared lifecycle. */
typedef struct PollerOps {
        const char *kind;      /* for log lines: "gomem", "pprof", ... */
        /* Starts one poll (p->started_* are set).  0: running, and whoever
         * ends it calls poller_end(); -EBUSY: skip this tick quietly; any
         * other negative errno: not started, and already reported down. */
        int (*start)(Poller *p);
        /* HTTP pollers: a 2xx answer arrived in `body` (NULL when streamed
         * through `write`; then also called when `write` stopped the
         * transfer).  Returns 1 when it sent another request of the
         * same poll (poller_http_send), else 0 and the poll ends. */
        int (*done)(Poller *p, const CurlBuffer *body);
        /* HTTP pollers, optional: an answer that is not 2xx; the default
         * reports "HTTP <code>: <first line of the page>". */
        void (*http_error)(Poller *p, long code, const CurlBuffer *body);
        /* HTTP pollers, optional: takes the body as it arrives instead of
         * buffering it (returns 0 to go on, < 0 to abort the transfer).
         * At most POLLER_SLICE_BYTES are handed over per loop iteration:
         * past that the transfer pauses until the loop has run once more. */
        int (*write)(Poller *p, const char *data, size_t n);
        /* Frees the kind's own fields and the poller itself; the base is
         * already stopped (timer gone, transfer aborted). */
        void (*free)(Poller *p);
} PollerOps;

struct Poller {
        const PollerOps *ops;
        PollTimer *timer;
        Source *source;
        bool in_flight;
        bool no_backoff;               /* the transport backs off on its own */
        uint64_t started_usec;         /* wall clock: the samples' time */
        uint64_t started_mono_usec;    /* for the duration */

        sd_event *event;

        /* HTTP pollers only (poller_http_setup). */
        CurlGlue *glue;
        CURL *easy;
        CurlBuffer body;
        char errbuf[CURL_ERROR_SIZE];
        uint64_t timeout_usec;
        size_t body_cap;
        const char *what, *cap_name;   /* "body", "max_body": static strings */
        /* Streaming pollers: what this loop iteration has parsed, and the
         * deferred event that resumes a transfer paused at the budget. */
        uint64_t slice_iteration;
        size_t slice_bytes;
        sd_event_source *resume;
};

/* What the manager lends every kind when it builds pollers; all borrowed,
 * and all must outlive the pollers built. */
typedef struct PollerContext {
        sd_event *event;
        CurlGlue *glue;
        Store *store;
        SourceSet *sources;
        const Config *config;
} PollerContext;

/* A kind of poller: one row in the manager's table.  `build` adds to
 * `list` a poller for every section of ctx->config that asks for one, and
 * logs what failed (naming the section) before it returns a negative errno. */
typedef struct PollerKind {
        const char *name;
        int (*build)(const PollerContext *ctx, PollerList *list);
} PollerKind;

/* Sets up the base of `p` (zeroed by the caller) and its timer: a tick
 * every `interval_usec`, the first after a random part of `spread_usec`;
 * `description` names the timer (copied). */
int poller_init(Poller *p, const PollerOps *ops, sd_event *e, uint64_t interval_usec, uint64_t spread_usec,
                const char *description);

/* Registers the poller's source `name` of `kind` in `set`; `url` (may be
 * NULL) is shown with its user-info redacted. */
int poller_register(Poller *p, SourceSet *set, const char *name, const char *kind, const char *url);

/* Stops the poller, aborts what is in flight and frees it; NULL is a no-op. */
Poller *poller_free(Poller *p);

/* Ends the poll in flight: clears the guard and tells the timer the
 * failure count (unless no_backoff). */
void poller_end(Poller *p);

/* Microseconds since the poll started. */
uint64_t poller_duration(const Poller *p);

/* The poll succeeded / failed (one line, see source_report_down). */
void poller_report_up(Poller *p);
void poller_report_down(Poller *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An HTTP poller: a new easy handle for `url` (see curl_glue_easy_new),
 * bodies capped at `cap` bytes; `what` and `cap_name` name the body and its
 * config key in errors (static strings, cap_name may be NULL). */
int poller_http_setup(Poller *p, CurlGlue *glue, const char *url, uint64_t timeout_usec,
                      uint64_t connect_timeout_usec, size_t cap, const char *what, const char *cap_name);

/* Sends the request set up on p->easy; the answer comes to ops->done or
 * ops->http_error.  On failure reports the poll down and returns < 0 (the
 * caller returns it from ops->start, or ends the poll). */
int poller_http_send(Poller *p);

/* The list of pollers of one configuration, built whole, freed whole. */
int poller_list_new(PollerList **ret);

/* Frees every poller in it; NULL is a no-op.  Returns NULL. */
PollerList *poller_list_free(PollerList *l);

/* Takes ownership of `p` (frees it when it cannot be added). */
int poller_list_add(PollerList *l, Poller *p);

/* How many pollers the list holds (0 for NULL). */
size_t poller_list_size(const PollerList *l);
