/* A run's life cycle (start, cancel, free), its scenario copied in, and its
 * figures: every update and every snapshot under the run's lock. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "load/load-internal.h"
#include "util/util.h"

#define LOAD_MAX_SLOTS 100000U

/* ---------------------------------------------------------------- figures */

static void counts_add_sent(LoadCounts *c) {
        c->sent++;
}

void load_stats_sent(LoadRun *run, size_t req, uint64_t lateness_usec, bool scheduled) {
        pthread_mutex_lock(&run->lock);
        counts_add_sent(&run->total.counts);
        counts_add_sent(&run->per[req].counts);
        run->in_flight++;
        if (scheduled)
                hist_record(run->lateness, lateness_usec);
        pthread_mutex_unlock(&run->lock);
        counts_add_sent(&run->sec);
}

void load_stats_dropped(LoadRun *run) {
        pthread_mutex_lock(&run->lock);
        run->total.counts.dropped++;
        pthread_mutex_unlock(&run->lock);
        run->sec.dropped++;
}

void load_stats_aborted(LoadRun *run) {
        pthread_mutex_lock(&run->lock);
        run->total.counts.aborted++;
        run->in_flight--;
        pthread_mutex_unlock(&run->lock);
        run->sec.aborted++;
}

unsigned load_stats_in_flight(LoadRun *run) {
        unsigned n;

        pthread_mutex_lock(&run->lock);
        n = run->in_flight;
        pthread_mutex_unlock(&run->lock);
        return n;
}

bool load_status_expected(const LoadRun *run, long status) {
        for (size_t i = 0; i < run->n_expect; i++)
                if (status >= (long) run->expect[i].lo && status <= (long) run->expect[i].hi)
                        return true;
        return false;
}

/* The counter an answer goes to. */
static uint64_t *answer_counter(LoadCounts *c, CURLcode result, bool expected) {
        switch (result) {
        case CURLE_OK:
                return expected ? &c->ok : &c->err_status;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return &c->err_connect;
        case CURLE_OPERATION_TIMEDOUT:
                return &c->err_timeout;
        default:
                return &c->err_other;
        }
}

/* The first error's reason, kept for the run (under the lock). */
static void note_reason(LoadRun *run, const Slot *slot, CURLcode result, long status, const char *reason) {
        static const CurlBuffer no_body = { 0 };
        const LoadReq *req = &run->reqs[slot->req];
        char buf[CURL_GLUE_REASON_MAX];

        if (run->reason)
                return;
        if (result == CURLE_OK)
                snprintf(buf, sizeof(buf), "HTTP status %ld is not expected", status);
        else if (reason)
                snprintf(buf, sizeof(buf), "%s", reason);
        else
                curl_glue_describe(slot->easy, result, &no_body, slot->errbuf, run->timeout_usec, "body", NULL,
                                   buf, sizeof(buf));
        run->reason = strjoin(req->name, ": ", buf, NULL);
}

/* Whether a transfer that ended with `result` has a latency.  Every one
 * that reached the server does: an HTTP answer (an unexpected status too:
 * a fast 503 is what users saw), a timeout (given up after waiting at
 * least the timeout: leaving it out would let a service whose slow
 * requests time out look fast) and a failure after connecting.  A connect
 * error does not: the service was never reached, and a refused connection
 * fails in microseconds, so counting it would make a down service look
 * fast; it is counted in err_connect, and its reason kept. */
static bool has_latency(CURLcode result) {
        switch (result) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return false;
        default:
                return true;
        }
}

void load_stats_answer(LoadRun *run, const Slot *slot, CURLcode result, long status, long connects, uint64_t now,
                       const char *reason) {
        bool expected = result == CURLE_OK && load_status_expected(run, status), timed = has_latency(result);
        uint64_t latency = now - slot->intended_usec, service = now - slot->sent_usec;
        LoadStats *per = &run->per[slot->req];

        pthread_mutex_lock(&run->lock);
        run->in_flight--;
        run->connections += connects > 0 ? (uint64_t) connects : 0;
        (*answer_counter(&run->total.counts, result, expected))++;
        (*answer_counter(&per->counts, result, expected))++;
        if (timed) {
                hist_record(run->total.latency, latency);
                hist_record(run->total.service, service);
                hist_record(per->latency, latency);
                hist_record(per->service, service);
        }
        if (!expected)
                note_reason(run, slot, result, status, reason);
        pthread_mutex_unlock(&run->lock);

        (*answer_counter(&run->sec, result, expected))++;
        if (timed)
                hist_record(run->sec_latency, latency);
}

void load_stats_fail_reason(LoadRun *run, const char *reason) {
        pthread_mutex_lock(&run->lock);
        if (!run->reason)
                run->reason = strdup(reason);
        pthread_mutex_unlock(&run->lock);
}

void load_stats_fail(LoadRun *run, const char *what, int error) {
        char buf[256];

        snprintf(buf, sizeof(buf), "%s: %s", what, strerror(error < 0 ? -error : error));
        load_stats_fail_reason(run, buf);
}

static uint64_t thread_cpu_usec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* The schedule's mean rate over [from, to) (open model, microseconds). */
static double target_rate(const LoadRun *run, uint64_t from, uint64_t to) {
        if (run->model != LOAD_MODEL_OPEN || to <= from)
                return 0;
        if (to > run->duration_usec)
                to = run->duration_usec;
        if (from >= to)
                return 0;
        return (stages_expected(run->stages, to) - stages_expected(run->stages, from)) * USEC_PER_SEC /
               (double) (to - from);
}

void load_stats_second(LoadRun *run, uint64_t length_usec) {
        uint64_t from = (run->second - 1) * USEC_PER_SEC;
        LoadSecond s = {
                .second = run->second,
                .at_usec = now_realtime_usec(),
                .target_rps = target_rate(run, from, from + length_usec),
                .achieved_rps = (double) run->sec.sent * USEC_PER_SEC / (double) length_usec,
                .counts = run->sec,
                .p50_usec = hist_percentile(run->sec_latency, 50),
                .p95_usec = hist_percentile(run->sec_latency, 95),
                .p99_usec = hist_percentile(run->sec_latency, 99),
        };

        pthread_mutex_lock(&run->lock);
        s.in_flight = run->in_flight;
        run->cpu_usec = thread_cpu_usec();
        pthread_mutex_unlock(&run->lock);
        if (run->cb.on_second)
                run->cb.on_second(&s, run->cb.userdata);
        run->sec = (LoadCounts) {};
        hist_reset(run->sec_latency);
}

void load_stats_load_over(LoadRun *run) {
        pthread_mutex_lock(&run->lock);
        if (!run->ended_usec)
                run->ended_usec = now_monotonic_usec();
        pthread_mutex_unlock(&run->lock);
}

void load_stats_finish(LoadRun *run, LoadRunState state) {
        pthread_mutex_lock(&run->lock);
        run->state = state;
        if (!run->ended_usec)
                run->ended_usec = now_monotonic_usec();
        run->cpu_usec = thread_cpu_usec();
        pthread_mutex_unlock(&run->lock);
}

/* ---------------------------------------------------------------- scenario */

static int check_exec(const LoadScenario *s, char **ret_error) {
        if (!s->exec || !s->exec->command)
                return set_error(ret_error, -EINVAL, "an exec run needs a command");
        if (s->duration_usec == 0)
                return set_error(ret_error, -EINVAL, "an exec run needs a duration");
        return 0;
}

static int check_scenario(const LoadScenario *s, char **ret_error) {
        if (s->model == LOAD_MODEL_EXEC)
                return check_exec(s, ret_error);
        if (!s->base_url || !s->base_url[0])
                return set_error(ret_error, -EINVAL, "base_url is empty");
        if (s->timeout_usec == 0)
                return set_error(ret_error, -EINVAL, "timeout must be above 0");
        if (s->n_requests == 0 || !s->requests)
                return set_error(ret_error, -EINVAL, "no request to send");
        for (size_t i = 0; i < s->n_requests; i++) {
                const LoadRequest *q = &s->requests[i];
                if (!q->method || !q->method[0] || !q->path || !q->path[0])
                        return set_error(ret_error, -EINVAL, "request %zu has no %s", i + 1,
                                         !q->method || !q->method[0] ? "method" : "path");
                if (q->weight == 0)
                        return set_error(ret_error, -EINVAL, "request %zu has weight 0", i + 1);
                if (q->write && !strstr(q->path, "${token}") && !(q->body && strstr(q->body, "${token}")))
                        return set_error(ret_error, -EINVAL, "write request %zu carries no ${token}", i + 1);
        }
        for (size_t i = 0; i < s->n_expect; i++)
                if (s->expect[i].lo < 100 || s->expect[i].hi > 599 || s->expect[i].lo > s->expect[i].hi)
                        return set_error(ret_error, -EINVAL, "expected status %u-%u is not a range within 100-599",
                                         s->expect[i].lo, s->expect[i].hi);
        if (s->model == LOAD_MODEL_OPEN) {
                if (!s->stages)
                        return set_error(ret_error, -EINVAL, "an open-model run needs a rate or stages");
                if (s->max_inflight == 0 || s->max_inflight > LOAD_MAX_SLOTS)
                        return set_error(ret_error, -EINVAL, "max_inflight must be 1..%u", LOAD_MAX_SLOTS);
                return 0;
        }
        if (s->users == 0 || s->users > LOAD_MAX_SLOTS)
                return set_error(ret_error, -EINVAL, "users must be 1..%u", LOAD_MAX_SLOTS);
        if (s->duration_usec == 0)
                return set_error(ret_error, -EINVAL, "a closed-model run needs a duration");
        if (s->ramp_up_usec > s->duration_usec)
                return set_error(ret_error, -EINVAL, "ramp_up is longer than the duration");
        if (s->think_min_usec > s->think_max_usec)
                return set_error(ret_error, -EINVAL, "think time's lower bound is above its upper bound");
        return 0;
}

/* Compiles request `i`'s `what` template from `text` into *ret. */
static int compile(size_t i, const char *what, const char *text, Template **ret, char **ret_error) {
        char *reason = NULL;
        int r = template_compile(text, ret, &reason);

        if (r == -EINVAL)
                set_error(ret_error, r, "request %zu has a bad %s template: %s", i + 1, what,
                          reason ? reason : "invalid");
        free(reason);
        return r;
}

static size_t max_size(size_t a, size_t b) {
        return a > b ? a : b;
}

/* A constant template's one expansion after `prefix`, allocated; NULL on
 * -ENOMEM. */
static char *expand_constant(const char *prefix, size_t prefix_len, const Template *t) {
        size_t n = template_max_length(t);
        char *s = malloc(prefix_len + n + 1);

        if (!s)
                return NULL;
        memcpy(s, prefix, prefix_len);
        (void) template_expand(t, &(TemplateVars) {}, s + prefix_len, n + 1);
        return s;
}

/* The template of request `i`'s `what`: a reference to the one given
 * compiled, or `text` compiled now. */
static int take_template(size_t i, const char *what, const char *text, Template *compiled, Template **ret,
                         char **ret_error) {
        if (compiled) {
                *ret = template_ref(compiled);
                return 0;
        }
        return compile(i, what, text, ret, ret_error);
}

/* Copies request `i`: its templates shared (or compiled), a constant path
 * expanded into its URL, a constant body's text borrowed from its
 * template, and the longest per-send expansions noted in run->url_max,
 * body_max. */
static int copy_request(LoadRun *run, size_t i, const LoadRequest *q, char **ret_error) {
        LoadReq *d = &run->reqs[i];
        size_t base_len = strlen(run->base_url);
        int r;

        d->weight = q->weight;
        d->method = strdup(q->method);
        d->name = q->name ? strdup(q->name) : strjoin(q->method, " ", q->path, NULL);
        if (!d->method || !d->name)
                return -ENOMEM;
        d->head = strcmp(q->method, "HEAD") == 0;
        d->write = q->write;
        /* base_url + path, without a doubled slash between them. */
        d->prefix_len = base_len - (base_len > 0 && run->base_url[base_len - 1] == '/' && q->path[0] == '/');
        r = take_template(i, "PATH", q->path, q->path_template, &d->path, ret_error);
        if (r >= 0 && q->body)
                r = take_template(i, "BODY", q->body, q->body_template, &d->body, ret_error);
        if (r < 0)
                return r;
        if (template_is_constant(d->path)) {
                if (!(d->url = expand_constant(run->base_url, d->prefix_len, d->path)))
                        return -ENOMEM;
                /* Parsed once: curl then copies it per transfer instead of
                 * parsing the URL again.  A URL curl cannot parse here goes
                 * by CURLOPT_URL, and fails on the transfer as before. */
                d->uh = curl_url();
                if (d->uh && curl_url_set(d->uh, CURLUPART_URL, d->url, 0) != CURLUE_OK) {
                        curl_url_cleanup(d->uh);
                        d->uh = NULL;
                }
        } else
                run->url_max = max_size(run->url_max, d->prefix_len + template_max_length(d->path));
        if (!d->body)
                return 0;
        d->body_text = template_constant_text(d->body, &d->body_size);
        if (!d->body_text)
                run->body_max = max_size(run->body_max, template_max_length(d->body));
        return 0;
}

static int stats_init(LoadStats *st, const char *name) {
        st->name = name ? strdup(name) : NULL;
        if ((name && !st->name) || hist_new(&st->latency) < 0 || hist_new(&st->service) < 0)
                return -ENOMEM;
        return 0;
}

static void stats_done(LoadStats *st) {
        free(st->name);
        hist_free(st->latency);
        hist_free(st->service);
}

static int copy_requests(LoadRun *run, const LoadScenario *s, char **ret_error) {
        int r;

        run->base_url = strdup(s->base_url);
        run->reqs = calloc(s->n_requests, sizeof(*run->reqs));
        run->per = calloc(s->n_requests, sizeof(*run->per));
        if (!run->base_url || !run->reqs || !run->per)
                return -ENOMEM;
        run->n_reqs = s->n_requests;
        for (size_t i = 0; i < s->n_requests; i++) {
                r = copy_request(run, i, &s->requests[i], ret_error);
                if (r < 0)
                        return r;
                if (stats_init(&run->per[i], run->reqs[i].name) < 0)
                        return -ENOMEM;
                run->total_weight += s->requests[i].weight;
        }
        for (size_t i = 0; i < s->n_headers; i++) {
                struct curl_slist *l = curl_slist_append(run->headers, s->headers[i]);
                if (!l)
                        return -ENOMEM;
                run->headers = l;
        }
        return 0;
}

static int copy_expect(LoadRun *run, const LoadScenario *s) {
        static const LoadStatusRange ok_range = { 200, 299 };
        size_t n = s->n_expect ? s->n_expect : 1;

        run->expect = malloc(n * sizeof(*run->expect));
        if (!run->expect)
                return -ENOMEM;
        memcpy(run->expect, s->n_expect ? s->expect : &ok_range, n * sizeof(*run->expect));
        run->n_expect = n;
        return 0;
}

/* The open model's length: the schedule's, or shorter when duration cuts it;
 * and how many requests are due within it. */
static void open_limits(LoadRun *run, uint64_t duration_usec) {
        uint64_t end = stages_duration(run->stages), cut;

        if (duration_usec > 0 && duration_usec < end)
                end = duration_usec;
        run->duration_usec = end;
        cut = (uint64_t) floor(stages_expected(run->stages, end) + 0.5);
        run->count_k = cut < stages_count(run->stages) ? cut : stages_count(run->stages);
}

/* 0, -ENOMEM, or -EINVAL with a reason (a bad template). */
static int copy_scenario(LoadRun *run, const LoadScenario *s, char **ret_error) {
        int r;

        run->model = s->model;
        run->client = s->client;
        run->timeout_usec = s->timeout_usec;
        run->max_inflight = s->max_inflight;
        run->users = s->model == LOAD_MODEL_CLOSED ? s->users : 0;
        run->think_min_usec = s->think_min_usec;
        run->think_max_usec = s->think_max_usec;
        run->ramp_up_usec = s->ramp_up_usec;
        run->duration_usec = s->duration_usec;
        if (s->model == LOAD_MODEL_EXEC) {
                if (stats_init(&run->total, s->name) < 0 || hist_new(&run->lateness) < 0 ||
                    hist_new(&run->sec_latency) < 0)
                        return -ENOMEM;
                return load_exec_new(run, s, ret_error);
        }
        r = copy_requests(run, s, ret_error);
        if (r < 0)
                return r;
        r = load_writes_new(s, run->started_real_usec, now_monotonic_usec() ^ (uintptr_t) run, &run->writes,
                            ret_error);
        if (r < 0)
                return r;
        if (copy_expect(run, s) < 0 || stats_init(&run->total, s->name) < 0 ||
            hist_new(&run->lateness) < 0 || hist_new(&run->sec_latency) < 0)
                return -ENOMEM;
        if (s->model == LOAD_MODEL_OPEN) {
                if (stages_dup(s->stages, &run->stages) < 0)
                        return -ENOMEM;
                open_limits(run, s->duration_usec);
        }
        return 0;
}

/* ---------------------------------------------------------------- life cycle */

/* The kernel's struct sched_attr (sched_setattr(2)): glibc has no wrapper. */
struct load_sched_attr {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
};

/* NB: asks the kernel for a short time slice for the run's thread
 * (SCHED_OTHER, its nice kept, sched_runtime LOAD_SLICE_NSEC): since Linux
 * 6.12 the fair scheduler (EEVDF) lets a task with a shorter slice preempt
 * one with a longer slice when it wakes, so a send that comes due while
 * the core runs a build goes out then, not at the end of the build's
 * slice (3 ms by default: on a shared core, most of the open model's
 * lateness).  No privilege is needed; older kernels ignore the field, and a
 * failure only costs that precision, so it is not reported. */
#define LOAD_SLICE_NSEC 100000ULL

static void thread_short_slice(void) {
        struct load_sched_attr a = { .size = sizeof(a), .policy = SCHED_OTHER, .runtime = LOAD_SLICE_NSEC };

        errno = 0;
        a.nice = getpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid));
        if (errno == 0)
                (void) syscall(SYS_sched_setattr, 0, &a, 0);
}

static void *run_thread(void *userdata) {
        LoadRun *run = userdata;
        char *error = NULL;
        int r;

        thread_short_slice();
        if (run->model == LOAD_MODEL_EXEC)
                r = load_exec_arm(run);
        else {
                r = load_engine_setup(run, &error);
                if (r < 0)
                        load_stats_fail_reason(run, error ? error : "cannot set up the run");
                else
                        r = load_engine_arm(run);
        }
        free(error);
        if (r < 0) {
                /* After a set-up failure its reason is the one kept. */
                load_stats_fail(run, "cannot arm the run's timers", r);
                load_stats_finish(run, LOAD_RUN_FAILED);
                if (run->cb.on_done)
                        run->cb.on_done(run, run->cb.userdata);
                return NULL;
        }
        r = sd_event_loop(run->event);
        if (r < 0) {
                load_stats_fail(run, "the run's event loop failed", r);
                load_stats_finish(run, LOAD_RUN_FAILED);
        }
        return NULL;
}

/* Starts the run's thread with every signal blocked: signals are the
 * daemon's loop's business (signalfd), never the run's. */
static int thread_start(LoadRun *run) {
        sigset_t all, old;
        int r;

        sigfillset(&all);
        r = -pthread_sigmask(SIG_SETMASK, &all, &old);
        if (r < 0)
                return r;
        r = -pthread_create(&run->thread, NULL, run_thread, run);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        return r;
}

static void run_free_data(LoadRun *run) {
        load_exec_free(run);
        load_engine_teardown(run);
        for (size_t i = 0; run->reqs && i < run->n_reqs; i++) {
                free(run->reqs[i].name);
                free(run->reqs[i].method);
                template_unref(run->reqs[i].path);
                template_unref(run->reqs[i].body);
                free(run->reqs[i].url);
                curl_url_cleanup(run->reqs[i].uh);
                if (run->per)
                        stats_done(&run->per[i]);
        }
        free(run->reqs);
        free(run->base_url);
        free(run->per);
        stats_done(&run->total);
        curl_slist_free_all(run->headers);
        free(run->expect);
        stages_free(run->stages);
        hist_free(run->lateness);
        hist_free(run->sec_latency);
        free(run->reason);
        free(run->writes_json);
        free(run->exec_json);
        load_writes_free(run->writes);
        pthread_mutex_destroy(&run->lock);
        free(run);
}

int load_run_start(const LoadScenario *scenario, const LoadCallbacks *cb, LoadRun **ret, char **ret_error) {
        LoadRun *run;
        int r;

        if (!scenario || !ret)
                return -EINVAL;
        r = check_scenario(scenario, ret_error);
        if (r < 0)
                return r;
        run = calloc(1, sizeof(*run));
        if (!run)
                return -ENOMEM;
        pthread_mutex_init(&run->lock, NULL);
        run->cancel_fd = -1;
        run->state = LOAD_RUN_RUNNING;
        run->started_real_usec = now_realtime_usec();
        /* Set before the thread starts, so other threads may read it. */
        run->start_usec = now_monotonic_usec();
        if (cb)
                run->cb = *cb;
        r = copy_scenario(run, scenario, ret_error);
        if (r == -ENOMEM)
                set_error(ret_error, r, "cannot copy the scenario: %s", strerror(-r));
        if (r >= 0 && scenario->model != LOAD_MODEL_EXEC)
                r = load_engine_prepare(run, ret_error);
        if (r >= 0) {
                r = thread_start(run);
                if (r < 0)
                        set_error(ret_error, r, "cannot start the run's thread: %s", strerror(-r));
        }
        if (r < 0) {
                run_free_data(run);
                return r;
        }
        run->thread_started = true;
        *ret = run;
        return 0;
}

static int stats_copy(LoadStats *dst, const LoadStats *src) {
        if (stats_init(dst, src->name) < 0)
                return -ENOMEM;
        dst->counts = src->counts;
        hist_merge(dst->latency, src->latency);
        hist_merge(dst->service, src->service);
        return 0;
}

/* Fills `res` from the run (under the lock). */
static int snapshot_locked(LoadRun *run, LoadResult *res) {
        uint64_t end = run->ended_usec ? run->ended_usec : now_monotonic_usec();

        res->state = run->state;
        res->started_usec = run->started_real_usec;
        res->elapsed_usec = run->start_usec && end > run->start_usec ? end - run->start_usec : 0;
        res->in_flight = run->in_flight;
        res->connections = run->connections;
        res->own_client = run->own_client;
        res->cpu_usec = run->cpu_usec;
        res->scheduled = run->model == LOAD_MODEL_OPEN ? run->total.counts.sent + run->total.counts.dropped : 0;
        res->target_rps = target_rate(run, 0, res->elapsed_usec);
        res->achieved_rps = res->elapsed_usec ?
                (double) run->total.counts.sent * USEC_PER_SEC / (double) res->elapsed_usec : 0;
        if (run->reason && !(res->reason = strdup(run->reason)))
                return -ENOMEM;
        if (run->writes_json && !(res->writes_json = strdup(run->writes_json)))
                return -ENOMEM;
        if (run->exec_json && !(res->exec_json = strdup(run->exec_json)))
                return -ENOMEM;
        if (stats_copy(&res->total, &run->total) < 0 || hist_new(&res->lateness) < 0)
                return -ENOMEM;
        hist_merge(res->lateness, run->lateness);
        res->per_request = calloc(run->n_reqs, sizeof(*res->per_request));
        if (!res->per_request)
                return -ENOMEM;
        res->n_per_request = run->n_reqs;
        for (size_t i = 0; i < run->n_reqs; i++)
                if (stats_copy(&res->per_request[i], &run->per[i]) < 0)
                        return -ENOMEM;
        return 0;
}

int load_run_snapshot(LoadRun *run, LoadResult **ret) {
        LoadResult *res;
        int r;

        if (!run || !ret)
                return -EINVAL;
        res = calloc(1, sizeof(*res));
        if (!res)
                return -ENOMEM;
        pthread_mutex_lock(&run->lock);
        r = snapshot_locked(run, res);
        pthread_mutex_unlock(&run->lock);
        if (r < 0) {
                load_result_free(res);
                return r;
        }
        *ret = res;
        return 0;
}

void load_run_cancel(LoadRun *run) {
        if (run)
                load_engine_cancel(run);
}

bool load_run_done(LoadRun *run) {
        bool done;

        if (!run)
                return true;
        pthread_mutex_lock(&run->lock);
        done = run->state != LOAD_RUN_RUNNING;
        pthread_mutex_unlock(&run->lock);
        return done;
}

LoadRun *load_run_free(LoadRun *run) {
        if (!run)
                return NULL;
        if (run->thread_started) {
                load_engine_cancel(run);
                pthread_join(run->thread, NULL);
        }
        run_free_data(run);
        return NULL;
}

LoadResult *load_result_free(LoadResult *r) {
        if (!r)
                return NULL;
        stats_done(&r->total);
        for (size_t i = 0; r->per_request && i < r->n_per_request; i++)
                stats_done(&r->per_request[i]);
        free(r->per_request);
        hist_free(r->lateness);
        free(r->reason);
        free(r->writes_json);
        free(r->exec_json);
        free(r);
        return NULL;
}

const char *load_run_state_to_string(LoadRunState s) {
        switch (s) {
        case LOAD_RUN_RUNNING:
                return "running";
        case LOAD_RUN_COMPLETED:
                return "completed";
        case LOAD_RUN_CANCELLED:
                return "cancelled";
        case LOAD_RUN_FAILED:
                return "failed";
        }
        return "unknown";
}
