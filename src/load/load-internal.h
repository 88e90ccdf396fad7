/* What load-engine.c (the run's loop: scheduling, transfers) and load-run.c
 * (the run's life cycle, figures and their lock) share.  Not for other
 * modules: they use load-engine.h. */
#pragma once

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "load/load-engine.h"
#include "load/template.h"
#include "load/write-book.h"
#include "transport/curl-glue.h"
#include "transport/h1-client.h"

/* A scenario request, copied at start: its templates compiled by the run
 * itself (a Template of the config's would tie the run to the config's
 * lifetime, which a reload ends), and expanded once here when constant. */
typedef struct LoadReq {
        unsigned weight;
        char *name, *method;
        Template *path, *body;          /* body NULL: none */
        size_t prefix_len;              /* bytes of base_url before the path */
        char *url;                      /* constant path: the URL; NULL: per send */
        CURLU *uh;                      /* url parsed once (CURLOPT_CURLU); NULL: none */
        const char *body_text;          /* constant body: its text (body's); NULL: per send or none */
        size_t body_size;               /* of body_text */
        char *wire;                     /* own client, constant URL and body: the whole request */
        size_t wire_len;                /* of wire */
        bool head;
        bool write;                     /* LoadRequest.write */
} LoadReq;

typedef struct LoadWriteCheck LoadWriteCheck;
typedef struct LoadExecRun LoadExecRun;

typedef struct User User;

/* One transfer's place: a reusable easy handle (its connection goes back to
 * the multi handle's cache) and what is measured about its request. */
typedef struct Slot {
        LoadRun *run;
        CURL *easy;
        char errbuf[CURL_ERROR_SIZE];
        char *url_buf, *body_buf;       /* run->url_max + 1, run->body_max + 1 bytes (or NULL) */
        char *wire_buf;                 /* own client: run->wire_max + 1 bytes (or NULL) */
        unsigned number;                /* 1..n_slots */
        size_t prepared;                /* 1 + the request its handle is set up for; 0: none */
        bool busy;
        size_t req;
        User *user;                     /* closed model: whose request */
        uint64_t intended_usec, sent_usec;      /* monotonic */
        bool write;                     /* its request is a write, booked as `token` */
        WriteToken token;
        char token_text[WRITE_BOOK_TOKEN_SIZE];
        struct Slot *next_free;
} Slot;

/* A closed-model user: one request at a time, then think. */
struct User {
        LoadRun *run;
        unsigned id;
        sd_event_source *timer;
};

struct LoadRun {
        /* Set at start, then read-only. */
        LoadModel model;
        LoadStages *stages;
        uint64_t duration_usec, timeout_usec, think_min_usec, think_max_usec, ramp_up_usec;
        unsigned max_inflight, users, total_weight;
        LoadReq *reqs;
        size_t n_reqs;
        char *base_url;
        size_t url_max, body_max;       /* longest per-send expansions; 0: none per send */
        struct curl_slist *headers;
        LoadClient client;
        /* The own HTTP/1.1 client's (h1-client.h) request parts, when it is
         * used: the header lines after the request line, with and without
         * the default Content-Type of a request with a body; the length of
         * "http://host:port" in base_url; the longest request rendered per
         * send (0: none); whether a `header` line sets Content-Length. */
        bool own_client;                /* set before the thread starts */
        char *h1_fields, *h1_fields_body;
        size_t h1_fields_len, h1_fields_body_len, authority_len, wire_max;
        bool h1_own_length;
        LoadStatusRange *expect;
        size_t n_expect;
        uint64_t count_k;               /* open: requests the run sends */
        LoadCallbacks cb;
        uint64_t start_usec;            /* monotonic: the schedule's 0 */
        pthread_t thread;
        bool thread_started;

        /* The run's thread only. */
        sd_event *event;
        CurlGlue *glue;                 /* libcurl's transfers; NULL with the own client */
        H1Client *h1;                   /* the own client's; NULL with libcurl */
        sd_event_source *send_timer, *second_timer, *drain_timer, *end_timer, *cancel_io;
        int cancel_fd;
        Slot *slots, *free_slots;
        size_t n_slots;
        char *slot_bufs;                /* every slot's url_buf and body_buf */
        User *user;
        uint64_t next_k, second;
        uint64_t next_due_usec, armed_usec;     /* open: the next send's time; the send timer's */
        uint64_t seq;                   /* requests sent so far: ${seq} of the last */
        TemplateRng rng;                /* picks, think times, ${uuid}, ${rand:N} */
        LoadWriteCheck *writes;         /* NULL: no write requests */
        LoadExecRun *exec;              /* model exec: the command; NULL otherwise */
        bool stopping, finished, cancelled;
        LoadRunState stop_state;
        LoadCounts sec;
        Histogram *sec_latency;

        /* Shared: under `lock`. */
        pthread_mutex_t lock;
        LoadRunState state;
        uint64_t started_real_usec, ended_usec, cpu_usec;
        unsigned in_flight;
        uint64_t connections;
        LoadStats total;
        LoadStats *per;                 /* n_reqs */
        Histogram *lateness;
        char *reason;
        char *writes_json;              /* set once, when the run is over */
        char *exec_json;                /* model exec: set once, when the run is over */
};

/* load-engine.c: the loop's side. */

/* On the caller's thread, before the run's starts: what is cheap and may be
 * read from other threads meanwhile (the cancel switch, which client sends,
 * the slot count).  0 or a negative errno with a reason. */
int load_engine_prepare(LoadRun *run, char **ret_error);
/* On the run's thread: the loop, the client, the slots and their buffers,
 * whose cost grows with max_inflight and the bodies (a caller's loop must
 * not pay it).  0 or a negative errno with a reason. */
int load_engine_setup(LoadRun *run, char **ret_error);
/* Arms the first send (or the users), the per-second tick and the end, from
 * run->start_usec; on the run's thread.  0 or a negative errno. */
int load_engine_arm(LoadRun *run);
/* Frees what load_engine_prepare() and load_engine_setup() made, whatever
 * they got to; after the join. */
void load_engine_teardown(LoadRun *run);
/* Wakes the run's loop to stop it; any thread. */
void load_engine_cancel(LoadRun *run);

/* load-run.c: the figures.  Each takes the lock for the shared ones; the
 * per-second ones (run->sec, run->sec_latency) are the run's thread's. */

/* Request `req` was handed to curl `lateness_usec` after its intended time
 * (open model: `scheduled`). */
void load_stats_sent(LoadRun *run, size_t req, uint64_t lateness_usec, bool scheduled);
/* A request was due while max_inflight were in flight. */
void load_stats_dropped(LoadRun *run);
/* A request in flight was given up at the end of a cancel. */
void load_stats_aborted(LoadRun *run);
/* The slot's transfer ended (`status` when result is CURLE_OK; `connects`
 * new connections it opened) at `now` (monotonic).  `reason`: why it failed
 * (the own client's words); NULL: libcurl's, from the slot's easy handle. */
void load_stats_answer(LoadRun *run, const Slot *slot, CURLcode result, long status, long connects, uint64_t now,
                       const char *reason);
/* Keeps `reason` as the run's reason unless one is kept already. */
void load_stats_fail_reason(LoadRun *run, const char *reason);
/* Keeps "what: strerror" as the run's reason unless one is kept already. */
void load_stats_fail(LoadRun *run, const char *what, int error);
unsigned load_stats_in_flight(LoadRun *run);
/* Whether `status` is one of the scenario's expected ones. */
bool load_status_expected(const LoadRun *run, long status);
/* Reports second run->second (lasting `length_usec`, less for the last)
 * to on_second and starts the next one. */
void load_stats_second(LoadRun *run, uint64_t length_usec);
/* Sets the end time of the load (the figures' elapsed time stops there),
 * unless set already. */
void load_stats_load_over(LoadRun *run);
/* Sets the final state, and the end time unless set already. */
void load_stats_finish(LoadRun *run, LoadRunState state);

/* load-writes.c: the lost-write check, on the run's thread but for
 * load_writes_new() and load_writes_free(). */

/* The check for scenario `s` in *ret (NULL when it has no write request):
 * its documents' names, its read template, its book.  0, -ENOMEM, or
 * -EINVAL with a reason. */
int load_writes_new(const LoadScenario *s, uint64_t start_realtime_usec, uint64_t nonce_seed, LoadWriteCheck **ret,
                    char **ret_error);
LoadWriteCheck *load_writes_free(LoadWriteCheck *w);
/* Books the write about to go out in `slot`: picks its document, makes its
 * token (slot->token, token_text); *ret_doc is the document's name.
 * 0, or a negative errno (the book is full or out of memory). */
int load_writes_sent(LoadWriteCheck *w, Slot *slot, const char **ret_doc);
/* Records the answer to the slot's write (`expected`: an expected status;
 * the outcome follows LoadWrites' rules). */
void load_writes_answer(LoadWriteCheck *w, const Slot *slot, CURLcode result, bool expected);
/* Before the load, on the run's thread: the server's conflict count as it
 * stands (with conflicts_from; blocking, bounded like the read-back), so
 * that the run's conflicts are the count's rise over the run. */
void load_writes_before(LoadWriteCheck *w, LoadRun *run);
/* After the load: when `read_back`, waits read_after, reads every document
 * back and the server's conflicts (blocking the run's thread, bounded, and
 * stopped early by a readable `cancel_fd`); then the verdict as JSON text
 * (NULL when out of memory).  *ret_cancelled: a cancel came meanwhile. */
char *load_writes_finish(LoadWriteCheck *w, LoadRun *run, bool read_back, bool *ret_cancelled);

/* load-exec.c: model exec, the command instead of the engine's loop. */

/* Copies the scenario's LoadExec, makes the run's directory, its argv, its
 * loop and cancel switch (on the caller's thread).  0 or a negative errno
 * with a reason. */
int load_exec_new(LoadRun *run, const LoadScenario *s, char **ret_error);
/* Spawns the command and watches it, on the run's thread; a command that
 * cannot be spawned ends the run failed (and returns 0).  0 or a negative
 * errno. */
int load_exec_arm(LoadRun *run);
/* Frees what load_exec_new() made (not the loop: load_engine_teardown()). */
void load_exec_free(LoadRun *run);
