#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "load/load-engine.h"
#include "load/load-internal.h"
#include "load/load-wire.h"
#include "transport/curl-glue.h"
#include "util/util.h"

/* Past the per-request timeout, how long a stopping run still waits for
 * transfers before it aborts them: curl ends each by its own timeout, so
 * this only guards against a transfer curl never reports. */
#define LOAD_DRAIN_GRACE_USEC (1 * USEC_PER_SEC)

/* The engine's timers fire with this accuracy: the open model's schedule is
 * measured against microseconds, not sd-event's default 250 ms. */
#define LOAD_TIMER_ACCURACY_USEC 1

static size_t pick_request(LoadRun *run) {
        uint64_t w = template_rng_below(&run->rng, run->total_weight);

        for (size_t i = 0; i < run->n_reqs; i++) {
                if (w < run->reqs[i].weight)
                        return i;
                w -= run->reqs[i].weight;
        }
        return run->n_reqs - 1;
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
        return size * nmemb;
}

/* The URL of the slot's request: the constant one, or its path template
 * expanded after base_url in the slot's buffer (sized at start for the
 * longest expansion: no allocation per send). */
static const char *slot_url(Slot *slot, const LoadReq *req, const TemplateVars *v) {
        LoadRun *run = slot->run;

        if (req->url)
                return req->url;
        memcpy(slot->url_buf, run->base_url, req->prefix_len);
        (void) template_expand(req->path, v, slot->url_buf + req->prefix_len, run->url_max + 1 - req->prefix_len);
        return slot->url_buf;
}

/* Sets the slot's method options for `req`. */
static void slot_set_method(CURL *e, const LoadReq *req) {
        bool custom;

        (void) curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
        if (req->body)
                custom = strcmp(req->method, "POST") != 0;
        else {
                (void) curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
                if (req->head)
                        (void) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
                custom = !req->head && strcmp(req->method, "GET") != 0;
        }
        (void) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, custom ? req->method : NULL);
}

/* The template variables of the slot's send: ${seq} and ${user} as given,
 * the write's document and token when it is a write. */
static TemplateVars slot_vars(Slot *slot, uint64_t seq, uint64_t user, const char *doc) {
        return (TemplateVars) { .seq = seq, .user = user, .rng = &slot->run->rng, .doc = doc,
                                .token = slot->write ? slot->token_text : NULL };
}

/* The body of the slot's request (which has one): the constant one, or its
 * template expanded in the slot's buffer; its size in *ret_size. */
static const char *slot_body(Slot *slot, const LoadReq *req, const TemplateVars *v, size_t *ret_size) {
        if (req->body_text) {
                *ret_size = req->body_size;
                return req->body_text;
        }
        *ret_size = template_expand(req->body, v, slot->body_buf, slot->run->body_max + 1);
        return slot->body_buf;
}

/* Sets up the slot's reusable easy handle for request number `i`, its
 * templates expanded with this send's ${seq} and ${user}.  An easy handle
 * keeps its options from one transfer to the next, so what is the same as
 * for the slot's previous request (the method, a constant URL or body) is
 * not set again.  NB: CURLOPT_POSTFIELDS does not copy: the body stays in
 * the request or the slot until the transfer ends. */
static void slot_prepare(Slot *slot, size_t i, uint64_t seq, uint64_t user, const char *doc) {
        const LoadReq *req = &slot->run->reqs[i];
        TemplateVars v = slot_vars(slot, seq, user, doc);
        bool same = slot->prepared == i + 1;
        CURL *e = slot->easy;

        if (!same && req->uh)
                (void) curl_easy_setopt(e, CURLOPT_CURLU, req->uh);
        else if (!same || !req->url) {
                if (!same)
                        (void) curl_easy_setopt(e, CURLOPT_CURLU, NULL);
                (void) curl_easy_setopt(e, CURLOPT_URL, slot_url(slot, req, &v));
        }
        if (!same)
                slot_set_method(e, req);
        if (req->body && (!same || !req->body_text)) {
                size_t size;
                const char *body = slot_body(slot, req, &v, &size);

                (void) curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) size);
                (void) curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        }
        slot->prepared = i + 1;
}

/* Sends the slot's request by the own client: a constant one as rendered
 * at start, else rendered now in the slot's buffer. */
static void slot_send_h1(Slot *slot, uint64_t seq, uint64_t user, const char *doc) {
        LoadRun *run = slot->run;
        const LoadReq *req = &run->reqs[slot->req];
        TemplateVars v = slot_vars(slot, seq, user, doc);
        const char *url, *body = NULL;
        size_t size = 0, len;
        unsigned id = slot->number - 1;

        if (req->wire) {
                h1_client_send(run->h1, id, req->wire, req->wire_len, req->head);
                return;
        }
        url = slot_url(slot, req, &v);
        if (req->body)
                body = slot_body(slot, req, &v, &size);
        len = load_wire_render(run, req, url, body, size, slot->wire_buf, run->wire_max + 1);
        if (len == 0)
                h1_client_fail(run->h1, id, H1_BAD_REQUEST);
        else
                h1_client_send(run->h1, id, slot->wire_buf, len, req->head);
}

static void slot_release(LoadRun *run, Slot *slot) {
        slot->busy = false;
        slot->write = false;
        slot->user = NULL;
        slot->next_free = run->free_slots;
        run->free_slots = slot;
}

static void transfer_done(CURL *easy, CURLcode result, void *userdata);
static void run_stop(LoadRun *run, LoadRunState state);

/* Hands a request to the client (the own one or libcurl) in a free slot;
 * `intended` is when it should have gone (monotonic).  A full engine
 * counts it dropped. */
static void run_dispatch(LoadRun *run, uint64_t intended, User *user) {
        Slot *slot = run->free_slots;
        const char *doc = NULL;
        uint64_t now, seq, user_no;
        int r;

        if (!slot) {
                load_stats_dropped(run);
                return;
        }
        run->free_slots = slot->next_free;
        slot->busy = true;
        slot->req = pick_request(run);
        slot->user = user;
        if (run->reqs[slot->req].write && (r = load_writes_sent(run->writes, slot, &doc)) < 0) {
                slot_release(run, slot);
                load_stats_fail(run, "cannot book a write", r);
                run_stop(run, LOAD_RUN_FAILED);
                return;
        }
        /* ${user}: the closed model's user (1..users); in the open model the
         * slot's number (1..max_inflight).  Either way no two requests in
         * flight at once share one. */
        seq = ++run->seq;
        user_no = user ? user->id + 1 : slot->number;
        /* The own client renders and writes the request in one go, so its
         * send time is taken before; libcurl's handle is set up first. */
        if (!run->h1)
                slot_prepare(slot, slot->req, seq, user_no, doc);
        now = now_monotonic_usec();
        slot->intended_usec = intended ? intended : now;
        slot->sent_usec = now;
        if (run->h1)
                /* Its end is reported on the loop, never from in here. */
                slot_send_h1(slot, seq, user_no, doc);
        else if ((r = curl_glue_add(run->glue, slot->easy, transfer_done, slot)) < 0) {
                if (slot->write)
                        load_writes_answer(run->writes, slot, CURLE_COULDNT_CONNECT, false);
                slot_release(run, slot);
                load_stats_fail(run, "cannot start a transfer", r);
                run_stop(run, LOAD_RUN_FAILED);
                return;
        }
        load_stats_sent(run, slot->req, intended ? now - intended : 0, intended != 0);
}

/* ---------------------------------------------------------------- finish */

static bool counts_empty(const LoadCounts *c) {
        static const LoadCounts zero;

        return memcmp(c, &zero, sizeof(zero)) == 0;
}

/* The lost-write check's read-back and verdict, after the load; blocks the
 * run's thread (its own loop: nothing else waits on it) for a bounded time.
 * A cancel meanwhile makes the run cancelled. */
static void run_check_writes(LoadRun *run) {
        bool read = run->stop_state == LOAD_RUN_COMPLETED && !run->cancelled, cancelled;
        char *json;

        load_stats_load_over(run);
        json = load_writes_finish(run->writes, run, read, &cancelled);
        if (cancelled)
                run->stop_state = LOAD_RUN_CANCELLED;
        if (!json)
                load_stats_fail(run, "cannot report the lost-write check", -ENOMEM);
        pthread_mutex_lock(&run->lock);
        run->writes_json = json;
        pthread_mutex_unlock(&run->lock);
}

static void run_finish(LoadRun *run) {
        /* Once: a transfer's end can both stop the run and find it empty. */
        if (run->finished)
                return;
        run->finished = true;
        (void) sd_event_source_set_enabled(run->send_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(run->drain_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(run->second_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(run->end_timer, SD_EVENT_OFF);
        /* The last, partial second: what happened since the last report. */
        if (!counts_empty(&run->sec)) {
                uint64_t from = run->start_usec + run->second * USEC_PER_SEC, now = now_monotonic_usec();

                run->second++;
                load_stats_second(run, now > from ? now - from : 1);
        }
        if (run->writes)
                run_check_writes(run);
        load_stats_finish(run, run->stop_state);
        if (run->cb.on_done)
                run->cb.on_done(run, run->cb.userdata);
        (void) sd_event_exit(run->event, 0);
}

static int on_drain_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        LoadRun *run = userdata;

        for (size_t i = 0; i < run->n_slots; i++) {
                Slot *slot = &run->slots[i];

                if (!slot->busy)
                        continue;
                if (run->h1)
                        h1_client_abort(run->h1, (unsigned) i);
                else
                        curl_glue_remove(run->glue, slot->easy);
                load_stats_aborted(run);
                slot_release(run, slot);
        }
        run_finish(run);
        return 0;
}

/* Stops sending: the run ends as `state` once what is in flight is over. */
static void run_stop(LoadRun *run, LoadRunState state) {
        uint64_t deadline;

        if (run->stopping)
                return;
        run->stopping = true;
        run->stop_state = state;
        (void) sd_event_source_set_enabled(run->send_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(run->end_timer, SD_EVENT_OFF);
        for (unsigned i = 0; i < run->users; i++)
                (void) sd_event_source_set_enabled(run->user[i].timer, SD_EVENT_OFF);
        if (load_stats_in_flight(run) == 0) {
                run_finish(run);
                return;
        }
        deadline = now_monotonic_usec() + run->timeout_usec + LOAD_DRAIN_GRACE_USEC;
        if (sd_event_add_time(run->event, &run->drain_timer, CLOCK_MONOTONIC, deadline,
                              LOAD_TIMER_ACCURACY_USEC, on_drain_timeout, run) < 0) {
                on_drain_timeout(NULL, 0, run);
                return;
        }
        (void) sd_event_source_set_description(run->drain_timer, "load-drain");
}

/* ---------------------------------------------------------------- open model */

static int arm_timer(sd_event_source *s, uint64_t when) {
        int r = sd_event_source_set_time(s, when);

        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* Sends every request that is due, each with its own intended time (a late
 * wake-up sends the backlog at once), then arms the send timer for the
 * next one, when that time moved.  Each time comes from the schedule's
 * start, never from the previous one, so the schedule cannot drift.
 * Returns how many were handed to curl or dropped. */
static void arm_send_timer(LoadRun *run) {
        if (run->next_due_usec == run->armed_usec)
                return;
        if (arm_timer(run->send_timer, run->next_due_usec) < 0) {
                load_stats_fail(run, "cannot arm the send timer", -EIO);
                run_stop(run, LOAD_RUN_FAILED);
                return;
        }
        run->armed_usec = run->next_due_usec;
}

static unsigned send_due(LoadRun *run) {
        uint64_t now = now_monotonic_usec(), offset;
        unsigned n = 0;

        if (run->stopping)
                return 0;
        if (now < run->next_due_usec) {
                arm_send_timer(run);
                return 0;
        }
        while (run->next_k < run->count_k) {
                if (stages_send_time(run->stages, run->next_k, &offset) < 0)
                        break;
                if (run->start_usec + offset > now) {
                        run->next_due_usec = run->start_usec + offset;
                        arm_send_timer(run);
                        return n;
                }
                run->next_k++;
                n++;
                run_dispatch(run, run->start_usec + offset, NULL);
                if (run->stopping)
                        return n;
        }
        run_stop(run, LOAD_RUN_COMPLETED);
        return n;
}

/* The send timer: the due requests, then curl's work for them at once
 * (connection, request) rather than on the loop's next iteration. */
static int on_send_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        LoadRun *run = userdata;

        run->armed_usec = 0;    /* a oneshot timer: off once it fired */
        if (send_due(run) > 0 && !run->finished && run->glue)
                curl_glue_kick(run->glue);
        return 0;
}

/* Before curl handles a ready socket or a timeout: the requests that came
 * due meanwhile go first, so a batch of answers does not delay them (curl
 * starts them in the action that follows). */
static void on_before_curl(void *userdata) {
        (void) send_due(userdata);
}

/* ---------------------------------------------------------------- closed model */

static int on_user_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        User *user = userdata;

        if (!user->run->stopping)
                run_dispatch(user->run, 0, user);
        return 0;
}

/* The user's next request after its think time; without one, at once,
 * not through a timer that would cost a wake-up and two re-arms. */
static void user_think(LoadRun *run, User *user) {
        uint64_t span = run->think_max_usec - run->think_min_usec;
        uint64_t think = run->think_min_usec + (span ? template_rng_below(&run->rng, span + 1) : 0);

        if (run->stopping)
                return;
        if (think == 0) {
                run_dispatch(run, 0, user);
                if (run->glue)
                        curl_glue_kick(run->glue);
                return;
        }
        if (arm_timer(user->timer, now_monotonic_usec() + think) < 0) {
                load_stats_fail(run, "cannot arm a user's timer", -EIO);
                run_stop(run, LOAD_RUN_FAILED);
        }
}

static int on_end_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        run_stop(userdata, LOAD_RUN_COMPLETED);
        return 0;
}

/* ---------------------------------------------------------------- transfers */

/* The slot's request ended at `now`: its figures, its write, its user's
 * next request, and the run's end when it was the last one. */
static void slot_finished(Slot *slot, CURLcode result, long status, long connects, uint64_t now,
                          const char *reason) {
        LoadRun *run = slot->run;
        User *user = slot->user;

        load_stats_answer(run, slot, result, status, connects, now, reason);
        if (slot->write)
                load_writes_answer(run->writes, slot, result, result == CURLE_OK && load_status_expected(run, status));
        slot_release(run, slot);
        if (user)
                user_think(run, user);
        if (run->stopping && load_stats_in_flight(run) == 0)
                run_finish(run);
}

static void transfer_done(CURL *easy, CURLcode result, void *userdata) {
        uint64_t now = now_monotonic_usec();
        long status = 0, connects = 0;

        if (result == CURLE_OK)
                (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        (void) curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
        slot_finished(userdata, result, status, connects, now, NULL);
}

/* The own client's outcomes as the libcurl codes the figures count by. */
static CURLcode h1_result_code(H1Result result) {
        switch (result) {
        case H1_OK:
                return CURLE_OK;
        case H1_CONNECT:
                return CURLE_COULDNT_CONNECT;
        case H1_TIMEOUT:
                return CURLE_OPERATION_TIMEDOUT;
        case H1_SEND:
                return CURLE_SEND_ERROR;
        case H1_NOTHING:
                return CURLE_GOT_NOTHING;
        case H1_PARTIAL:
                return CURLE_PARTIAL_FILE;
        case H1_BAD_ANSWER:
                return CURLE_WEIRD_SERVER_REPLY;
        case H1_BAD_REQUEST:
                return CURLE_URL_MALFORMAT;
        }
        return CURLE_RECV_ERROR;
}

static void h1_done(unsigned id, H1Result result, long status, bool connected, void *userdata) {
        LoadRun *run = userdata;
        uint64_t now = now_monotonic_usec();
        char reason[H1_REASON_MAX];

        if (result != H1_OK)
                h1_client_describe(run->h1, id, result, reason, sizeof(reason));
        slot_finished(&run->slots[id], h1_result_code(result), status, connected, now,
                      result != H1_OK ? reason : NULL);
}

static int on_second(sd_event_source *s, uint64_t usec, void *userdata) {
        LoadRun *run = userdata;

        run->second++;
        load_stats_second(run, USEC_PER_SEC);
        if (arm_timer(s, run->start_usec + (run->second + 1) * USEC_PER_SEC) < 0)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

static int on_cancel(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        uint64_t v;

        (void) read(fd, &v, sizeof(v));
        ((LoadRun *) userdata)->cancelled = true;
        run_stop(userdata, LOAD_RUN_CANCELLED);
        return 0;
}

/* ---------------------------------------------------------------- set-up */

static int add_timer(LoadRun *run, sd_event_source **ret, uint64_t when, sd_event_time_handler_t cb,
                     void *userdata, const char *description) {
        int r = sd_event_add_time(run->event, ret, CLOCK_MONOTONIC, when, LOAD_TIMER_ACCURACY_USEC, cb, userdata);

        if (r < 0)
                return r;
        (void) sd_event_source_set_description(*ret, description);
        return 0;
}

/* Each slot's buffers for per-send expansions, in one block. */
static int slot_bufs_new(LoadRun *run) {
        size_t url = run->url_max ? run->url_max + 1 : 0, body = run->body_max ? run->body_max + 1 : 0;
        size_t wire = run->wire_max ? run->wire_max + 1 : 0, each;

        if (url > SIZE_MAX - body || url + body > SIZE_MAX - wire)
                return -ENOMEM;
        each = url + body + wire;
        if (each == 0)
                return 0;
        if (run->n_slots > SIZE_MAX / each)
                return -ENOMEM;
        run->slot_bufs = malloc(run->n_slots * each);
        if (!run->slot_bufs)
                return -ENOMEM;
        for (size_t i = 0; i < run->n_slots; i++) {
                char *p = run->slot_bufs + i * each;

                run->slots[i].url_buf = url ? p : NULL;
                run->slots[i].body_buf = body ? p + url : NULL;
                run->slots[i].wire_buf = wire ? p + url + body : NULL;
        }
        return 0;
}

static int slots_new(LoadRun *run, char **ret_error) {
        run->slots = calloc(run->n_slots, sizeof(*run->slots));
        if (!run->slots || slot_bufs_new(run) < 0)
                return set_error(ret_error, -ENOMEM, "cannot allocate %zu transfers' buffers", run->n_slots);
        for (size_t i = run->n_slots; i-- > 0;) {
                Slot *slot = &run->slots[i];
                int r;

                slot->run = run;
                slot->number = (unsigned) i + 1;
                slot->next_free = run->free_slots;
                run->free_slots = slot;
                if (run->h1)
                        continue;
                r = curl_glue_easy_new(run->base_url, run->timeout_usec, run->timeout_usec,
                                           slot->errbuf, &slot->easy);
                if (r < 0)
                        return set_error(ret_error, r, "cannot make a transfer for %s: %s", run->base_url,
                                         strerror(-r));
                (void) curl_easy_setopt(slot->easy, CURLOPT_WRITEFUNCTION, discard_body);
                (void) curl_easy_setopt(slot->easy, CURLOPT_HTTPHEADER, run->headers);
                (void) curl_easy_setopt(slot->easy, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
                /* A load run goes straight to its target: no proxy, which
                 * also spares libcurl reading five proxy variables from the
                 * environment on every transfer. */
                (void) curl_easy_setopt(slot->easy, CURLOPT_NOPROXY, "*");
        }
        return 0;
}

/* The own client when the scenario allows it and base_url suits it (plain
 * http:// to an IP address), with the run's requests rendered for it;
 * libcurl's glue otherwise. */
static int client_new(LoadRun *run, char **ret_error) {
        int r;

        if (run->own_client) {
                r = h1_client_new(run->event, run->base_url, run->timeout_usec, (unsigned) run->n_slots, h1_done,
                                  run, &run->h1);
                if (r >= 0)
                        r = load_wire_setup(run, h1_client_host_header(run->h1));
                if (r < 0)
                        return set_error(ret_error, r, "cannot set up the HTTP client for the run: %s",
                                         strerror(-r));
                return 0;
        }
        r = curl_glue_new(run->event, &run->glue);
        if (r >= 0)
                r = curl_glue_set_max_connections(run->glue, (unsigned) run->n_slots);
        if (r < 0)
                return set_error(ret_error, r, "cannot set up libcurl for the run: %s", strerror(-r));
        return 0;
}

static int users_start(LoadRun *run) {
        run->user = calloc(run->users, sizeof(*run->user));
        if (!run->user)
                return -ENOMEM;
        for (unsigned i = 0; i < run->users; i++) {
                uint64_t offset = run->ramp_up_usec * i / run->users;
                int r;

                run->user[i] = (User) { .run = run, .id = i };
                r = add_timer(run, &run->user[i].timer, run->start_usec + offset, on_user_timer, &run->user[i],
                              "load-user");
                if (r < 0)
                        return r;
        }
        return add_timer(run, &run->end_timer, run->start_usec + run->duration_usec, on_end_timer, run,
                         "load-end");
}

/* NB: a cancel that comes before the run's loop watches the switch stays
 * in the eventfd's count, and is seen as soon as it does. */
int load_engine_prepare(LoadRun *run, char **ret_error) {
        run->n_slots = run->model == LOAD_MODEL_OPEN ? run->max_inflight : run->users;
        run->own_client = run->client == LOAD_CLIENT_AUTO && h1_client_supports(run->base_url, &run->authority_len);
        run->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (run->cancel_fd < 0)
                return set_error(ret_error, -errno, "cannot make the run's cancel switch: %m");
        return 0;
}

/* NB: no sd_event_set_watchdog() here: the watchdog must tell whether the
 * daemon's own loop is alive, and a run's loop pinging it would hide a hung
 * daemon. */
int load_engine_setup(LoadRun *run, char **ret_error) {
        int r;

        r = sd_event_new(&run->event);
        if (r < 0)
                return set_error(ret_error, r, "cannot make the run's event loop: %s", strerror(-r));
        r = client_new(run, ret_error);
        if (r < 0)
                return r;
        r = slots_new(run, ret_error);
        if (r < 0)
                return r;
        r = sd_event_add_io(run->event, &run->cancel_io, run->cancel_fd, EPOLLIN, on_cancel, run);
        if (r < 0)
                return set_error(ret_error, r, "cannot watch the run's cancel switch: %s", strerror(-r));
        (void) sd_event_source_set_description(run->cancel_io, "load-cancel");
        template_rng_seed(&run->rng, now_monotonic_usec() ^ (uintptr_t) run);
        return 0;
}

/* Reads the server's conflict count when the lost-write check has
 * conflicts_from, then arms the run's timers from its start on: the first
 * request or the users, and the per-second tick. */
int load_engine_arm(LoadRun *run) {
        uint64_t start = run->start_usec;
        int r;

        /* Its time is the first requests' lateness, measured as such. */
        if (run->writes)
                load_writes_before(run->writes, run);
        r = add_timer(run, &run->second_timer, start + USEC_PER_SEC, on_second, run, "load-second");
        if (r < 0)
                return r;
        if (run->model == LOAD_MODEL_CLOSED)
                return users_start(run);
        r = add_timer(run, &run->send_timer, start, on_send_timer, run, "load-send");
        if (r < 0)
                return r;
        run->next_due_usec = run->armed_usec = start;
        if (run->h1)
                h1_client_set_before(run->h1, on_before_curl, run);
        else
                curl_glue_set_before(run->glue, on_before_curl, run);
        /* sd-event dispatches one source per iteration, by priority: sends
         * that are due go before the answers waiting to be read. */
        return sd_event_source_set_priority(run->send_timer, SD_EVENT_PRIORITY_IMPORTANT);
}

void load_engine_teardown(LoadRun *run) {
        if (run->user)
                for (unsigned i = 0; i < run->users; i++)
                        sd_event_source_disable_unref(run->user[i].timer);
        free(run->user);
        sd_event_source_disable_unref(run->send_timer);
        sd_event_source_disable_unref(run->second_timer);
        sd_event_source_disable_unref(run->drain_timer);
        sd_event_source_disable_unref(run->end_timer);
        sd_event_source_disable_unref(run->cancel_io);
        /* The glue first: it takes the easy handles out of the multi handle. */
        curl_glue_free(run->glue);
        h1_client_free(run->h1);
        load_wire_free(run);
        for (size_t i = 0; run->slots && i < run->n_slots; i++)
                if (run->slots[i].easy)
                        curl_easy_cleanup(run->slots[i].easy);
        free(run->slots);
        free(run->slot_bufs);
        if (run->cancel_fd >= 0)
                close(run->cancel_fd);
        sd_event_unref(run->event);
}

void load_engine_cancel(LoadRun *run) {
        uint64_t one = 1;

        if (run->cancel_fd >= 0)
                (void) write(run->cancel_fd, &one, sizeof(one));
}
