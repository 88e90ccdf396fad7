/* The load engine: one scenario run in a thread of its own, with its own
 * sd-event loop and libcurl multi handle, so a running scenario never delays
 * the daemon's loop.
 *
 * Open model: requests are scheduled by a LoadStages rate schedule; each
 * request's latency is measured from its *intended* start time (as wrk2
 * does), so a stalling server cannot hide behind a client that waits for it
 * (coordinated omission); its service time from the moment it was handed to
 * libcurl.  When max_inflight requests are in flight a scheduled request is
 * counted `dropped`, never delayed.
 * Closed model: `users` loops, each sending its next request after the
 * previous answer plus a uniform think time; users start evenly over
 * ramp_up.  Latency and service time are then the same thing.
 *
 * Threads: load_run_start() starts the run's thread; on_second and on_done
 * run on it.  load_run_snapshot(), load_run_cancel() and load_run_done() may
 * be called from any thread; load_run_free() from any thread but the run's
 * own (it joins it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "load/histogram.h"
#include "load/load-exec.h"
#include "load/stages.h"
#include "load/template.h"

typedef enum LoadModel {
        LOAD_MODEL_OPEN,
        LOAD_MODEL_CLOSED,
        LOAD_MODEL_EXEC,        /* an outside load tool (Locust): load/load-exec.h */
} LoadModel;

/* Which HTTP client sends the requests.  Auto: the engine's own HTTP/1.1
 * client (transport/h1-client.h) when base_url is plain http:// to an IP
 * address, libcurl otherwise (https, HTTP/2, host names). */
typedef enum LoadClient {
        LOAD_CLIENT_AUTO,
        LOAD_CLIENT_LIBCURL,
} LoadClient;

/* One kind of request; the engine picks one per send, weighted.  `path`
 * and `body` are template text (load/template.h): load_run_start()
 * compiles its own copy (reading ${env:NAME} then) and expands them per
 * send, ${seq} being the request's number in the run (1 for the first
 * sent; a dropped request takes none) and ${user} the closed model's user
 * (1..users) or, in the open model, the number of the slot it went out in
 * (1..max_inflight): no two requests in flight at once share a ${user}. */
typedef struct LoadRequest {
        unsigned weight;        /* >= 1 */
        const char *name;       /* for per-request figures; NULL: "METHOD PATH" */
        const char *method;     /* GET, POST, PUT, DELETE, HEAD, ... */
        const char *path;       /* template appended to base_url: "/api/items/${rand:100}" */
        const char *body;       /* template; NULL: none */
        /* path and body already compiled (borrowed; NULL: none): the run
         * then takes a reference to each instead of compiling the text
         * again, and a constant body is not copied at the run's start. */
        Template *path_template, *body_template;
        /* A write of the lost-write check (LoadWrites): ${doc} and ${token}
         * name its document and token, which its path or body must carry. */
        bool write;
} LoadRequest;

/* The lost-write check (issue 8), for a scenario with write requests.
 * Each write goes to the next of `documents` documents in turn (round
 * robin over the run's writes) with a new token (load/write-book.h); the
 * run's documents are fresh: ${doc} is "NONCE-K", the run's nonce (8 hex
 * digits, also the top of every token) and K in 0..documents-1.  A write
 * answered with an expected status is acknowledged, with another status
 * failed, one that could not connect failed (it was never sent), and one
 * that timed out, lost its connection or was aborted indeterminate.
 * A run that completes then waits read_after, reads every document back
 * (read_method read_path; the elements at the `elements` pointer) and,
 * with conflicts_path, GETs the server's conflict count at
 * conflicts_pointer; a cancelled or failed run reads nothing back.  Each
 * read is bounded by LOAD_READ_TIMEOUT_USEC or the scenario's timeout,
 * whichever is longer, and LOAD_READ_MAX_BYTES of body; a cancel stops it.
 * A 404 reads an empty document; a read that fails (an error, another
 * status, no JSON array at `elements`) leaves the document unread.
 * The verdict is the LoadResult's writes_json. */
#define LOAD_READ_TIMEOUT_USEC (10ULL * 1000000ULL)
#define LOAD_READ_MAX_BYTES    (64U << 20)

typedef struct LoadWrites {
        unsigned documents;             /* 1..WRITE_BOOK_MAX_DOCUMENTS */
        const char *read_method;        /* "GET" */
        const char *read_path;          /* template: "/docs/${doc}" */
        const char *elements;           /* RFC 6901 pointer into the read answer: "/elements" */
        const char *conflicts_path;     /* "/docs/stats"; NULL: the client's count */
        const char *conflicts_pointer;  /* "/conflicts" */
        uint64_t read_after_usec;       /* settle time before reading back */
} LoadWrites;

/* HTTP status codes counted as ok: lo..hi inclusive. */
typedef struct LoadStatusRange {
        unsigned lo, hi;
} LoadStatusRange;

/* What to run.  Plain data, borrowed only during load_run_start(), which
 * copies all of it (the run does not depend on the config staying alive). */
typedef struct LoadScenario {
        const char *name;
        LoadModel model;
        const char *base_url;           /* "http://127.0.0.1:8080" */
        const LoadStages *stages;       /* open model */
        unsigned users;                 /* closed model: >= 1 */
        uint64_t think_min_usec, think_max_usec;
        uint64_t ramp_up_usec;
        uint64_t duration_usec;         /* closed: required; open: 0 = the schedule's,
                                         * else the schedule is cut there */
        uint64_t timeout_usec;          /* per request, > 0 */
        unsigned max_inflight;          /* open model: > 0 */
        const LoadRequest *requests;    /* n_requests >= 1 */
        size_t n_requests;
        const char *const *headers;     /* "Name: value" lines sent with every request */
        size_t n_headers;
        const LoadStatusRange *expect;  /* none: 200-299 */
        size_t n_expect;
        const LoadWrites *writes;       /* required with write requests; else ignored */
        /* model exec: the command and where its figures are (load/load-exec.h);
         * of the rest only name and duration_usec (required) count. */
        const LoadExec *exec;
        LoadClient client;
} LoadScenario;

typedef enum LoadRunState {
        LOAD_RUN_RUNNING,
        LOAD_RUN_COMPLETED,
        LOAD_RUN_CANCELLED,
        LOAD_RUN_FAILED,                /* the engine itself failed (see reason) */
} LoadRunState;

/* Counts of requests.  sent = ok + every error class + aborted + in flight;
 * a dropped request was never sent (nor picked: per-request figures have
 * none).  err_other: the transfer failed after connecting (reset, protocol
 * error); aborted: still in flight when a stopping run gave up on it. */
typedef struct LoadCounts {
        uint64_t sent, ok, err_connect, err_timeout, err_status, err_other, dropped, aborted;
} LoadCounts;

/* One second of a run, handed to on_second. */
typedef struct LoadSecond {
        uint64_t second;                /* 1 for the run's first second */
        uint64_t at_usec;               /* CLOCK_REALTIME at its end */
        double target_rps;              /* open: the schedule's mean rate over it */
        double achieved_rps;            /* requests handed to curl in it, per second
                                         * (the run's last second may be partial) */
        LoadCounts counts;              /* what happened in it */
        unsigned in_flight;             /* at its end */
        uint64_t p50_usec, p95_usec, p99_usec;  /* latency of those ended in it (as LoadStats) */
} LoadSecond;

/* Figures for one request kind, or for the whole run. */
typedef struct LoadStats {
        char *name;
        LoadCounts counts;
        /* Every request that reached the server: each HTTP answer, each
         * timeout (at the time it was given up: at least the timeout) and
         * each failure after connecting; not connect errors. */
        Histogram *latency;             /* from the intended start */
        Histogram *service;             /* from the hand-over to curl */
} LoadStats;

/* A copy of a run's figures, owned by the caller (load_result_free()). */
typedef struct LoadResult {
        LoadRunState state;
        uint64_t started_usec;          /* CLOCK_REALTIME */
        uint64_t elapsed_usec;          /* so far, or the whole run once over */
        uint64_t scheduled;             /* open: requests due so far (sent + dropped) */
        double target_rps;              /* open: the schedule's mean rate so far */
        double achieved_rps;            /* sent / elapsed */
        unsigned in_flight;
        uint64_t connections;           /* new connections opened (the rest reused one) */
        bool own_client;                /* sent by the own HTTP/1.1 client, not libcurl */
        LoadStats total;
        LoadStats *per_request;         /* n_per_request, in the scenario's order */
        size_t n_per_request;
        Histogram *lateness;            /* open: how late each request went out */
        uint64_t cpu_usec;              /* CPU time of the run's thread */
        char *reason;                   /* the first error's one-line reason; NULL: none */
        /* The lost-write check's verdict, compact JSON text: NULL without
         * write requests, and until the run is over (the book is the run
         * thread's alone).  write_book_report_json()'s members, and
         * read_back (false: the run was cancelled or failed before its
         * read-back ended, so lost and ok cover at most the documents
         * read, documents_read: judge nothing by it), read_error (the first
         * failed read's reason, or null), conflicts_error (why the
         * server's count could not be had, or null; conflicts is then
         * the client's), read_back_ms, book_bytes (what the book held)
         * and nonce (8 hex digits). */
        char *writes_json;
        /* model exec: the command's run and the figures imported from
         * Locust's CSV, compact JSON text (load/load-exec.h); NULL for the
         * other models, and while running. */
        char *exec_json;
} LoadResult;

typedef struct LoadRun LoadRun;

typedef struct LoadCallbacks {
        /* Each second of the run, on the run's thread; must not block. */
        void (*on_second)(const LoadSecond *second, void *userdata);
        /* Once, on the run's thread, when the run is over (its final state
         * is set; a snapshot taken now is final). */
        void (*on_done)(LoadRun *run, void *userdata);
        void *userdata;
} LoadCallbacks;

/* Checks the scenario (one line in *ret_error when it is unusable: the
 * caller frees it; ret_error may be NULL), copies it and starts the run's
 * thread, which sets up what grows with max_inflight and the bodies (so a
 * caller's loop does not wait for it): a failure there (out of memory or
 * of file descriptors) ends the run LOAD_RUN_FAILED with its reason.
 * `cb` may be NULL.  The caller owns *ret (load_run_free()).
 * 0, -EINVAL, -ENOMEM or another negative errno. */
int load_run_start(const LoadScenario *scenario, const LoadCallbacks *cb, LoadRun **ret, char **ret_error);

/* The figures so far (final once load_run_done()), as a new LoadResult the
 * caller frees.  Thread-safe.  0 or -ENOMEM. */
int load_run_snapshot(LoadRun *run, LoadResult **ret);

/* Stops sending; requests in flight get up to the scenario's timeout to end,
 * then are aborted (counted `aborted`); what was measured is kept and the
 * state becomes LOAD_RUN_CANCELLED (unless the run was already over).  Any
 * thread; returns at once; idempotent. */
void load_run_cancel(LoadRun *run);

/* Whether the run is over.  Thread-safe. */
bool load_run_done(LoadRun *run);

/* Cancels the run if still running, waits for its thread and frees it.
 * NULL is a no-op.  Returns NULL. */
LoadRun *load_run_free(LoadRun *run);

/* NULL is a no-op.  Returns NULL. */
LoadResult *load_result_free(LoadResult *r);

/* "running", "completed", "cancelled", "failed". */
const char *load_run_state_to_string(LoadRunState s);
