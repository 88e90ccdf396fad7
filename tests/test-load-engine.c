/* Tests of the load engine against the Go demo target, which this test
 * starts itself on loopback ports the kernel picks: the open model's
 * precision, coordinated omission measured against the closed-form truth
 * of a stalling server, the closed model, max_inflight, a refused
 * connection and cancel.  Percentiles come from src/load/histogram.c, whose
 * 0.4% bucket error is well inside these tests' tolerances. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "load/load-engine.h"
#include "demo-target.h"
#include "tap.h"
#include "transport/curl-glue.h"
#include "util/util.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC
#define MAX_SECONDS 64

/* A loopback port nobody listens on: bound, then closed. */
static int refused_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

        if (fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *) &a, &len) == 0)
                port = ntohs(a.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

/* ---------------------------------------------------------------- running */

typedef struct Seconds {
        pthread_mutex_t lock;
        LoadSecond s[MAX_SECONDS];
        size_t n;
        unsigned max_in_flight;
        int done_calls;
        bool signals_blocked;   /* on the run's thread, at its last report */
} Seconds;

static void on_second(const LoadSecond *s, void *userdata) {
        Seconds *c = userdata;
        sigset_t mask;

        pthread_sigmask(SIG_BLOCK, NULL, &mask);
        pthread_mutex_lock(&c->lock);
        c->signals_blocked = sigismember(&mask, SIGTERM) == 1 && sigismember(&mask, SIGINT) == 1;
        if (c->n < MAX_SECONDS)
                c->s[c->n++] = *s;
        if (s->in_flight > c->max_in_flight)
                c->max_in_flight = s->in_flight;
        pthread_mutex_unlock(&c->lock);
}

static void on_done(LoadRun *run, void *userdata) {
        Seconds *c = userdata;

        pthread_mutex_lock(&c->lock);
        c->done_calls++;
        pthread_mutex_unlock(&c->lock);
}

static uint64_t sleep_until_done(LoadRun *run, uint64_t limit_usec) {
        uint64_t start = now_monotonic_usec();

        while (!load_run_done(run) && now_monotonic_usec() - start < limit_usec)
                usleep(10 * 1000);
        return now_monotonic_usec() - start;
}

/* Which client the runs ask for: the tests run once with the default (the
 * own HTTP/1.1 client, the target being http://127.0.0.1), and some again
 * with libcurl. */
static LoadClient client_under_test = LOAD_CLIENT_AUTO;

/* Runs `sc` to its end (bounded by `limit_usec`; cancels after
 * `cancel_after_usec` when not 0) and returns its final figures. */
static LoadResult *run(const LoadScenario *sc_in, Seconds *secs, uint64_t cancel_after_usec, uint64_t limit_usec,
                       uint64_t *ret_wall) {
        LoadCallbacks cb = { .on_second = on_second, .on_done = on_done, .userdata = secs };
        LoadScenario sc_copy = *sc_in, *sc = &sc_copy;
        LoadResult *res = NULL;
        LoadRun *r = NULL;
        char *err = NULL;
        uint64_t wall = 0;

        sc->client = client_under_test;
        memset(secs, 0, sizeof(*secs));
        pthread_mutex_init(&secs->lock, NULL);
        if (load_run_start(sc, &cb, &r, &err) < 0) {
                printf("# load_run_start: %s\n", err ? err : "?");
                free(err);
                return NULL;
        }
        if (cancel_after_usec) {
                wall = sleep_until_done(r, cancel_after_usec);
                load_run_cancel(r);
        }
        wall += sleep_until_done(r, limit_usec);
        if (load_run_snapshot(r, &res) < 0)
                res = NULL;
        if (res && res->own_client != (client_under_test == LOAD_CLIENT_AUTO)) {
                printf("# the run went by %s, not the client under test\n", res->own_client ? "the own client" : "libcurl");
                load_result_free(res);
                res = NULL;
        }
        load_run_free(r);
        if (ret_wall)
                *ret_wall = wall;
        return res;
}

static LoadStages *constant(double rps, uint64_t duration) {
        LoadStages *s = NULL;

        if (stages_new_constant(rps, duration, &s, NULL) < 0)
                abort();
        return s;
}

static const LoadRequest list_items[] = { { .weight = 1, .name = "list", .method = "GET", .path = "/api/items" } };

static LoadScenario open_scenario(const LoadStages *st, unsigned max_inflight) {
        return (LoadScenario) {
                .name = "test", .model = LOAD_MODEL_OPEN, .base_url = api, .stages = st,
                .timeout_usec = 5 * SEC, .max_inflight = max_inflight,
                .requests = list_items, .n_requests = 1,
        };
}

static double ms(uint64_t usec) {
        return (double) usec / 1000.0;
}

/* ---------------------------------------------------------------- tests */

static void test_open_precision(void) {
        static const LoadRequest reqs[] = {
                { .weight = 3, .name = "health", .method = "GET", .path = "/healthz" },
                { .weight = 1, .method = "GET", .path = "/api/items" },
        };
        LoadStages *st = constant(200, 10 * SEC);
        LoadScenario sc = open_scenario(st, 100);
        Seconds secs;
        LoadResult *res;
        int bad = 0;

        sc.requests = reqs;
        sc.n_requests = 2;
        res = run(&sc, &secs, 0, 20 * SEC, NULL);
        ok(res != NULL, "open model: 200/s for 10 s ran");
        if (!res)
                return;
        is_int(res->state, LOAD_RUN_COMPLETED, "it completed");
        ok(res->total.counts.sent >= 1960 && res->total.counts.sent <= 2040, "2000 +- 2%% requests sent: %" PRIu64,
           res->total.counts.sent);
        is_int(res->total.counts.ok, res->total.counts.sent, "every one answered ok");
        is_int(res->total.counts.dropped, 0, "none dropped");
        ok(secs.n >= 10, "ten per-second reports: %zu", secs.n);
        for (size_t i = 0; i < secs.n && i < 10; i++)
                if (fabs(secs.s[i].achieved_rps - 200) > 20 || fabs(secs.s[i].target_rps - 200) > 1e-6) {
                        printf("# second %zu: %.0f/s (target %.1f/s)\n", i + 1, secs.s[i].achieved_rps,
                               secs.s[i].target_rps);
                        bad++;
                }
        is_int(bad, 0, "every second's rate within 10%% of 200/s");
        is_int(secs.done_calls, 1, "on_done called once");
        ok(secs.signals_blocked, "the run's thread blocks SIGTERM and SIGINT (the daemon's loop takes them)");
        is_str(res->per_request[0].name, "health", "per-request figures carry the name given");
        is_str(res->per_request[1].name, "GET /api/items", "or METHOD PATH");
        ok(res->per_request[0].counts.sent > 1350 && res->per_request[0].counts.sent < 1650,
           "weights 3:1 pick the first about 3/4 of the time: %" PRIu64 " of %" PRIu64,
           res->per_request[0].counts.sent, res->total.counts.sent);
        is_int(hist_count(res->per_request[0].latency) + hist_count(res->per_request[1].latency),
               hist_count(res->total.latency), "per-request histograms add up to the run's");
        /* Without keep-alive every request opens one; a loaded machine makes
         * answers slower, so more run at once and more connections open:
         * at most one in twenty requests opening one still proves reuse. */
        ok(res->connections >= 1 && res->connections <= 100, "keep-alive: %" PRIu64 " connections for %" PRIu64
           " requests", res->connections, res->total.counts.sent);
        printf("# achieved %.2f/s of %.2f/s; schedule lateness p50 %.3f ms p99 %.3f ms max %.3f ms; "
               "latency p99 %.3f ms; engine CPU %.1f ms (%.1f ms per 1k requests)\n",
               res->achieved_rps, res->target_rps, ms(hist_percentile(res->lateness, 50)),
               ms(hist_percentile(res->lateness, 99)), ms(hist_max(res->lateness)),
               ms(hist_percentile(res->total.latency, 99)), ms(res->cpu_usec),
               ms(res->cpu_usec) * 1000.0 / (double) (res->total.counts.sent ? res->total.counts.sent : 1));
        load_result_free(res);
        stages_free(st);
}

/* Against a target stalling S every P at a constant rate, a request
 * arriving t into a stall waits S - t: a fraction S/P of the requests is
 * delayed, uniformly on (0, S].  So the latency at percentile q (above
 * 1 - S/P) is S - (1 - q) P.  `seconds` must be a multiple of P so the run
 * sees exactly that fraction whatever its phase. */
static uint64_t stalled_p95;

static void test_coordinated_omission(double s, double p, double rate, unsigned seconds) {
        char d_arg[32], p_arg[32];
        LoadStages *st = constant(rate, seconds * SEC);
        LoadScenario sc = open_scenario(st, 1000);
        double want95 = s - 0.05 * p, want99 = s - 0.01 * p, got95, got99;
        Seconds secs;
        LoadResult *res;

        snprintf(d_arg, sizeof(d_arg), "%gms", s * 1000);
        snprintf(p_arg, sizeof(p_arg), "%gms", p * 1000);
        ok(set_stall(d_arg, p_arg) == 0, "the target stalls %s every %s", d_arg, p_arg);
        res = run(&sc, &secs, 0, (seconds + 10) * SEC, NULL);
        (void) set_stall("0", p_arg);
        ok(res != NULL && res->state == LOAD_RUN_COMPLETED, "open model at %g/s for %u s completed", rate, seconds);
        if (!res)
                return;
        got95 = (double) hist_percentile(res->total.latency, 95) / SEC;
        got99 = (double) hist_percentile(res->total.latency, 99) / SEC;
        ok(fabs(got95 - want95) <= 0.05 * want95, "p95 %.3f s is within 5%% of the true %.3f s", got95, want95);
        ok(fabs(got99 - want99) <= 0.05 * want99, "p99 %.3f s is within 5%% of the true %.3f s", got99, want99);
        ok(hist_percentile(res->total.service, 50) < 20 * MS, "service-time p50 stays small: %.3f ms",
           ms(hist_percentile(res->total.service, 50)));
        is_int(res->total.counts.ok, res->total.counts.sent, "every request answered ok");
        is_int(res->total.counts.dropped, 0, "none dropped");
        if (s == 1.0)
                stalled_p95 = hist_percentile(res->total.latency, 95);
        load_result_free(res);
        stages_free(st);
}

static void test_closed_model(void) {
        LoadScenario sc = {
                .name = "closed", .model = LOAD_MODEL_CLOSED, .base_url = api, .users = 10,
                .think_min_usec = 50 * MS, .think_max_usec = 150 * MS, .ramp_up_usec = 500 * MS,
                .duration_usec = 5 * SEC, .timeout_usec = 5 * SEC, .requests = list_items, .n_requests = 1,
        };
        Seconds secs;
        LoadResult *res;

        ok(set_stall("1s", "5s") == 0, "the target stalls 1s every 5s");
        res = run(&sc, &secs, 0, 15 * SEC, NULL);
        (void) set_stall("0", "5s");
        ok(res != NULL && res->state == LOAD_RUN_COMPLETED, "closed model, 10 users, 5 s, completed");
        if (!res)
                return;
        ok(res->total.counts.ok > 150 && res->total.counts.ok < 600, "the users sent %" PRIu64 " requests",
           res->total.counts.ok);
        ok(stalled_p95 > 0 && hist_percentile(res->total.latency, 95) * 4 < stalled_p95,
           "closed model's p95 %.1f ms is far below the open model's %.1f ms (coordinated omission)",
           ms(hist_percentile(res->total.latency, 95)), ms(stalled_p95));
        ok(secs.max_in_flight <= 10, "never more than one request per user in flight: %u", secs.max_in_flight);
        load_result_free(res);
}

/* Users start evenly over ramp_up: 4 users over 2 s start at 0, 0.5, 1 and
 * 1.5 s; each sends about every 100 ms, so a 2 s run sends about
 * 20 + 15 + 10 + 5 = 50 requests (80 if all started at once). */
static void test_ramp_up(void) {
        LoadScenario sc = {
                .name = "ramp", .model = LOAD_MODEL_CLOSED, .base_url = api, .users = 4,
                .think_min_usec = 100 * MS, .think_max_usec = 100 * MS, .ramp_up_usec = 2 * SEC,
                .duration_usec = 2 * SEC, .timeout_usec = 5 * SEC, .requests = list_items, .n_requests = 1,
        };
        Seconds secs;
        LoadResult *res = run(&sc, &secs, 0, 10 * SEC, NULL);

        ok(res != NULL, "closed model, 4 users ramped up over 2 s");
        if (!res)
                return;
        ok(res->total.counts.ok >= 44 && res->total.counts.ok <= 54, "sent about 50 requests: %" PRIu64,
           res->total.counts.ok);
        ok(secs.n >= 2 && secs.s[0].counts.sent < secs.s[1].counts.sent,
           "the second second sends more than the first (%" PRIu64 " < %" PRIu64 ")",
           secs.n >= 2 ? secs.s[0].counts.sent : 0, secs.n >= 2 ? secs.s[1].counts.sent : 0);
        load_result_free(res);
}

/* The scenario's duration cuts a longer schedule. */
static void test_duration_cut(void) {
        LoadStages *st = constant(100, 10 * SEC);
        LoadScenario sc = open_scenario(st, 10);
        Seconds secs;
        LoadResult *res;
        uint64_t wall;

        sc.duration_usec = 1 * SEC;
        res = run(&sc, &secs, 0, 10 * SEC, &wall);
        ok(res != NULL && res->state == LOAD_RUN_COMPLETED, "a 10 s schedule cut to 1 s completed");
        if (!res)
                return;
        is_int(res->total.counts.sent, 100, "after the 100 requests of its first second");
        ok(wall < 2 * SEC, "in %.0f ms", ms(wall));
        load_result_free(res);
        stages_free(st);
}

static void test_max_inflight(void) {
        LoadStages *st = constant(100, 2 * SEC);
        LoadScenario sc = open_scenario(st, 5);
        Seconds secs;
        LoadResult *res;

        ok(set_stall("900ms", "1s") == 0, "the target stalls 900ms every second");
        res = run(&sc, &secs, 0, 15 * SEC, NULL);
        (void) set_stall("0", "1s");
        ok(res != NULL, "open model 100/s with max_inflight 5 ran");
        if (!res)
                return;
        ok(res->total.counts.dropped > 100, "requests due while 5 were in flight were dropped: %" PRIu64,
           res->total.counts.dropped);
        is_int(res->total.counts.sent + res->total.counts.dropped, 200, "sent + dropped = the 200 scheduled");
        is_int(res->scheduled, 200, "scheduled counts both");
        ok(secs.max_in_flight <= 5, "in flight never above 5: %u", secs.max_in_flight);
        load_result_free(res);
        stages_free(st);
}

static void test_refused(void) {
        char url[64];
        LoadStages *st = constant(50, 1 * SEC);
        LoadScenario sc = open_scenario(st, 10);
        Seconds secs;
        LoadResult *res;
        uint64_t wall;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d", refused_port());
        sc.base_url = url;
        res = run(&sc, &secs, 0, 10 * SEC, &wall);
        ok(res != NULL, "a run against a refused port ran");
        if (!res)
                return;
        ok(wall < 3 * SEC, "and ended in %.0f ms, no hang", ms(wall));
        is_int(res->total.counts.err_connect, 50, "every request counted as a connect error");
        is_int(hist_count(res->total.latency), 0, "a connect error has no latency (the service was never reached)");
        is_int(res->total.counts.ok, 0, "none ok");
        ok(res->reason && strstr(res->reason, "list: connect failed: Connection refused"), "reason: %s",
           res->reason ? res->reason : "(none)");
        load_result_free(res);
        stages_free(st);
}

/* The engine's set-up (the loop, the client, max_inflight slots) is made
 * on the run's thread, not the caller's, and a failure there is the run's,
 * with its reason: with no file descriptor left after the cancel switch,
 * load_run_start() still starts the run, which ends failed saying why. */
static void test_setup_fails(void) {
        LoadStages *st = constant(50, 1 * SEC);
        LoadScenario sc = open_scenario(st, 100000);
        struct rlimit saved, low;
        Seconds secs;
        LoadResult *res;
        int lowest = dup(0);

        if (lowest < 0 || getrlimit(RLIMIT_NOFILE, &saved) < 0)
                abort();
        close(lowest);
        /* The cancel switch takes `lowest`, the first one on the thread fails. */
        low = (struct rlimit) { .rlim_cur = (rlim_t) lowest + 1, .rlim_max = saved.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &low) < 0)
                abort();
        res = run(&sc, &secs, 0, 10 * SEC, NULL);
        if (setrlimit(RLIMIT_NOFILE, &saved) < 0)
                abort();
        ok(res != NULL, "no file descriptor for the run's loop: load_run_start() still started the run");
        if (res) {
                is_int(res->state, LOAD_RUN_FAILED, "which failed");
                is_str(res->reason, "cannot make the run's event loop: Too many open files", "saying why");
                is_int(res->total.counts.sent, 0, "having sent nothing");
        }
        load_result_free(res);
        stages_free(st);
}

static void test_cancel(void) {
        LoadStages *st = constant(100, 10 * SEC);
        LoadScenario sc = open_scenario(st, 100);
        Seconds secs;
        LoadResult *res;
        uint64_t wall;

        res = run(&sc, &secs, 1 * SEC, 5 * SEC, &wall);
        ok(res != NULL, "a 10 s run cancelled after 1 s");
        if (!res)
                return;
        is_int(res->state, LOAD_RUN_CANCELLED, "is cancelled");
        ok(wall < 2 * SEC, "and over %.0f ms after the start", ms(wall));
        ok(res->total.counts.sent >= 80 && res->total.counts.sent <= 120, "its partial figures are kept: %" PRIu64
           " sent", res->total.counts.sent);
        is_int(res->total.counts.ok, res->total.counts.sent, "each answered");
        is_int(hist_count(res->total.latency), res->total.counts.ok, "with its latency");
        is_int(res->in_flight, 0, "nothing left in flight");
        is_int(secs.done_calls, 1, "on_done called once");
        load_result_free(res);
        stages_free(st);
}

/* GET of `path` on the target, blocking: its body (the caller frees it),
 * NULL on failure. */
static char *get_body(const char *path) {
        char url[256], errbuf[CURL_ERROR_SIZE], *ret = NULL;
        CurlBuffer body = { 0 };
        CURL *e;

        snprintf(url, sizeof(url), "%s%s", api, path);
        if (curl_glue_easy_new(url, 5 * SEC, 5 * SEC, errbuf, &e) < 0)
                return NULL;
        curl_buffer_attach(&body, e, 16 << 20);
        if (curl_easy_perform(e) == CURLE_OK && body.data)
                ret = strdup(body.data);
        curl_easy_cleanup(e);
        curl_buffer_done(&body);
        return ret;
}

/* How many items the target holds. */
static long count_items(void) {
        char *body = get_body("/api/items");
        long n = 0;

        if (!body)
                return -1;
        for (const char *p = body; (p = strstr(p, "\"id\"")); p++)
                n++;
        free(body);
        return n;
}

static void test_methods_and_status(void) {
        static const LoadRequest reqs[] = {
                { .weight = 1, .name = "create", .method = "POST", .path = "/api/items", .body = "{\"n\":1}" },
                { .weight = 1, .name = "update", .method = "PUT", .path = "/api/items/1", .body = "{\"n\":2}" },
                { .weight = 1, .name = "head", .method = "HEAD", .path = "/healthz" },
                { .weight = 1, .name = "delete", .method = "DELETE", .path = "/api/items/1" },
        };
        static const LoadStatusRange expect[] = { { 200, 201 }, { 404, 404 } };
        LoadStages *st = constant(100, 1 * SEC);
        LoadScenario sc = open_scenario(st, 10);
        long before = count_items();
        Seconds secs;
        LoadResult *res;

        sc.requests = reqs;
        sc.n_requests = ELEMENTSOF(reqs);
        sc.expect = expect;
        sc.n_expect = ELEMENTSOF(expect);
        res = run(&sc, &secs, 0, 10 * SEC, NULL);
        ok(res != NULL, "POST, PUT, HEAD and DELETE requests ran");
        if (!res)
                return;
        is_int(count_items() - before, res->per_request[0].counts.ok, "each POST created an item (its body sent)");
        is_int(res->per_request[1].counts.ok, res->per_request[1].counts.sent, "PUT answered 200 or 404: expected");
        is_int(res->per_request[2].counts.ok, res->per_request[2].counts.sent, "HEAD answered 200");
        is_int(res->per_request[3].counts.err_status, res->per_request[3].counts.sent,
               "DELETE's 405 is counted as an unexpected status");
        is_int(res->total.counts.err_status, res->per_request[3].counts.sent, "and only it");
        is_int(hist_count(res->total.latency), res->total.counts.sent, "unexpected statuses still have a latency");
        ok(res->reason && strcmp(res->reason, "delete: HTTP status 405 is not expected") == 0, "reason: %s",
           res->reason ? res->reason : "(none)");
        load_result_free(res);
        stages_free(st);
}

static void test_timeouts(void) {
        LoadStages *st = constant(20, 2 * SEC);
        LoadScenario sc = open_scenario(st, 50);
        Seconds secs;
        LoadResult *res;

        sc.timeout_usec = 300 * MS;
        ok(set_stall("900ms", "1s") == 0, "the target stalls 900ms every second");
        res = run(&sc, &secs, 0, 10 * SEC, NULL);
        (void) set_stall("0", "1s");
        ok(res != NULL, "a run with a 300 ms timeout ran");
        if (!res)
                return;
        /* Requests arriving in the first 600 ms of a period wait over 300 ms. */
        ok(res->total.counts.err_timeout >= 20 && res->total.counts.err_timeout <= 28,
           "those waiting over 300 ms counted as timeouts: %" PRIu64 " of 40", res->total.counts.err_timeout);
        is_int(res->total.counts.ok + res->total.counts.err_timeout, 40, "the others ok");
        is_int(hist_count(res->total.latency), res->total.counts.ok + res->total.counts.err_timeout,
               "timeouts have a latency too");
        ok(hist_percentile(res->total.latency, 95) >= 297 * MS,
           "so the p95 %.1f ms is at least the 300 ms timeout (less the histogram's 1%%)",
           ms(hist_percentile(res->total.latency, 95)));
        ok(res->reason && strcmp(res->reason, "list: timed out after 300 ms") == 0, "reason: %s",
           res->reason ? res->reason : "(none)");
        load_result_free(res);
        stages_free(st);
}

#define TEMPLATE_N 100
#define UUID_LEN 36

/* What the items POSTed by test_templates() hold: each field of
 * {"tseq":N,"uuid":"U","user":N,"env":"E"}, checked as it is scanned. */
typedef struct Seen {
        unsigned seq[TEMPLATE_N + 2];   /* [0]: out of 1..N */
        char uuids[TEMPLATE_N][UUID_LEN + 1];
        size_t n_items, n_uuids, bad_user, bad_env, same_uuid;
} Seen;

static void scan_item(Seen *seen, const char *p) {
        unsigned long seq = strtoul(p + strlen("\"tseq\":"), NULL, 10), user;
        const char *u = strstr(p, "\"uuid\":\""), *us = strstr(p, "\"user\":"), *env = strstr(p, "\"env\":\"");

        seen->n_items++;
        seen->seq[seq >= 1 && seq <= TEMPLATE_N ? seq : 0]++;
        if (u && seen->n_uuids < TEMPLATE_N) {
                u += strlen("\"uuid\":\"");
                for (size_t i = 0; i < seen->n_uuids; i++)
                        seen->same_uuid += strncmp(seen->uuids[i], u, UUID_LEN) == 0;
                snprintf(seen->uuids[seen->n_uuids++], UUID_LEN + 1, "%s", u);
        }
        user = us ? strtoul(us + strlen("\"user\":"), NULL, 10) : 0;
        seen->bad_user += user < 1 || user > 10;
        seen->bad_env += !env || strncmp(env + strlen("\"env\":\""), "from-env\"", 9) != 0;
}

/* Body and path templates are expanded per send: ${seq} numbers the
 * requests sent 1..N, each once; ${uuid} differs per request; ${user} is
 * the slot (open model) or the user (closed model); ${env:NAME} is read at
 * start. */
static void test_templates(void) {
        static const LoadRequest post[] = { { .weight = 1, .name = "create", .method = "POST", .path = "/api/items",
                .body = "{\"tseq\":${seq},\"uuid\":\"${uuid}\",\"user\":${user},\"env\":\"${env:PW_TEST_ENV}\"}" } };
        static const LoadRequest get[] = { { .weight = 1, .name = "get", .method = "GET",
                                             .path = "/api/items/${seq}" } };
        static const LoadRequest put[] = { { .weight = 1, .name = "put", .method = "PUT",
                                             .path = "/api/items/${user}", .body = "{\"tuser\":${user}}" } };
        LoadStages *st = constant(TEMPLATE_N, 1 * SEC);
        LoadScenario sc = open_scenario(st, 10);
        Seen *seen = calloc(1, sizeof(*seen));
        LoadResult *res;
        Seconds secs;
        char *body;
        size_t bad = 0;

        setenv("PW_TEST_ENV", "from-env", 1);
        sc.requests = post;
        res = run(&sc, &secs, 0, 10 * SEC, NULL);
        unsetenv("PW_TEST_ENV");
        ok(res && res->total.counts.ok == TEMPLATE_N, "%d POSTs with a templated body answered ok", TEMPLATE_N);
        body = get_body("/api/items");
        for (const char *p = body; p && (p = strstr(p, "\"tseq\":")); p++)
                scan_item(seen, p);
        is_int(seen->n_items, TEMPLATE_N, "as many items carry a ${seq}");
        for (size_t i = 1; i <= TEMPLATE_N; i++)
                bad += seen->seq[i] != 1;
        is_int(bad + seen->seq[0], 0, "each ${seq} 1..%d appeared exactly once", TEMPLATE_N);
        is_int(seen->same_uuid, 0, "every ${uuid} differs");
        is_int(seen->bad_user, 0, "${user} is a slot number 1..max_inflight in the open model");
        is_int(seen->bad_env, 0, "${env:NAME} was read at start");
        free(body);
        free(seen);
        load_result_free(res);

        /* Items 1..TEMPLATE_N exist now: a path left unexpanded would be a 404. */
        sc.requests = get;
        res = run(&sc, &secs, 0, 10 * SEC, NULL);
        ok(res && res->total.counts.ok == TEMPLATE_N, "GET /api/items/${seq}: each of 1..%d found", TEMPLATE_N);
        load_result_free(res);

        sc = (LoadScenario) { .name = "users", .model = LOAD_MODEL_CLOSED, .base_url = api, .users = 3,
                              .think_min_usec = 5 * MS, .think_max_usec = 5 * MS, .duration_usec = 500 * MS,
                              .timeout_usec = 5 * SEC, .requests = put, .n_requests = 1 };
        res = run(&sc, &secs, 0, 10 * SEC, NULL);
        ok(res && res->total.counts.ok == res->total.counts.sent && res->total.counts.sent >= 6,
           "closed model: PUT /api/items/${user} by 3 users answered ok: %" PRIu64, res ? res->total.counts.sent : 0);
        for (int i = 1; i <= 4; i++) {
                char path[64], want[64];

                snprintf(path, sizeof(path), "/api/items/%d", i);
                snprintf(want, sizeof(want), "{\"tuser\":%d}", i);
                body = get_body(path);
                is_int(body && strstr(body, want) != NULL, i <= 3, "item %d %s by user %d", i,
                       i <= 3 ? "was written" : "was not written", i);
                free(body);
        }
        load_result_free(res);
        stages_free(st);
}

/* Bytes malloc has handed out, from the heap or mapped on their own (every
 * arena: the run's thread's too). */
static long long heap_used(void) {
        struct mallinfo2 m = mallinfo2();

        return (long long) (m.uordblks + m.hblkhd);
}

/* Runs an open-model scenario PUTting `body` as item 1 (which earlier
 * tests created) 5 times in 1 s, at most 2 at once, its templates
 * compiled here and handed over as the daemon hands over its config's;
 * drops them as soon as the run has started when `drop_early`.
 * *ret_grew: what the run holds on the heap at its end (before
 * load_run_free()).  Returns its final figures. */
static LoadResult *run_compiled(const char *body, bool drop_early, long long *ret_grew) {
        LoadRequest req = { .weight = 1, .name = "put", .method = "PUT", .path = "/api/items/1", .body = body };
        LoadStages *st = constant(5, 1 * SEC);
        LoadScenario sc = open_scenario(st, 2);
        Template *path = NULL, *tb = NULL;
        LoadResult *res = NULL;
        LoadRun *r = NULL;
        char *err = NULL;
        long long before;

        if (template_compile(req.path, &path, NULL) < 0 || template_compile(body, &tb, NULL) < 0)
                abort();
        req.path_template = path;
        req.body_template = tb;
        sc.requests = &req;
        sc.client = client_under_test;
        before = heap_used();
        if (load_run_start(&sc, NULL, &r, &err) < 0)
                printf("# load_run_start: %s\n", err ? err : "?");
        free(err);
        if (drop_early) {
                path = template_unref(path);
                tb = template_unref(tb);
        }
        if (r) {
                sleep_until_done(r, 10 * SEC);
                *ret_grew = heap_used() - before;
                if (load_run_snapshot(r, &res) < 0)
                        res = NULL;
        }
        template_unref(path);
        template_unref(tb);
        load_run_free(r);
        stages_free(st);
        return res;
}

/* Whether `res` counts 5 requests sent, each answered 2xx. */
static bool five_ok(const LoadResult *res) {
        return res && res->total.counts.sent == 5 && res->total.counts.ok == 5;
}

/* A run given its templates compiled takes a reference to each: it
 * outlives the caller's references (under ASan a use after free
 * otherwise), and a big constant body is neither compiled nor copied
 * again when the run starts (on the caller's thread: the daemon's loop).
 * Item 1 gets the big body, then a small one again (later tests list the
 * items). */
static void test_compiled_templates(void) {
        size_t n = (1 << 20) - 64; /* the target takes bodies up to 1 MiB */
        bool own = client_under_test == LOAD_CLIENT_AUTO;
        char *big = malloc(n + 1), *item;
        long long small = 0, large = 0, allowed;
        LoadResult *res;

        memcpy(big, "{\"big\":\"", 8);
        memset(big + 8, 'b', n - 10);
        memcpy(big + n - 2, "\"}", 3);
        res = run_compiled(big, false, &large);
        ok(five_ok(res), "5 PUTs of a 1 MiB body compiled beforehand answered 2xx (not whole, not JSON: 400): %"
           PRIu64 " of %" PRIu64, res ? res->total.counts.ok : 0, res ? res->total.counts.sent : 0);
        load_result_free(res);
        item = get_body("/api/items/1");
        ok(item && strlen(item) >= n && strstr(item, big), "item 1 holds the 1 MiB body");
        free(item);

        res = run_compiled("{\"n\":\"small\"}", true, &small);
        ok(five_ok(res), "5 PUTs sent after the caller dropped its templates answered 2xx: %" PRIu64 " of %" PRIu64,
           res ? res->total.counts.ok : 0, res ? res->total.counts.sent : 0);
        load_result_free(res);
        item = get_body("/api/items/1");
        ok(item && strstr(item, "{\"n\":\"small\"}") && strlen(item) < 100, "item 1 holds the small body again");
        free(item);

        /* Compiled again and expanded, it held 2 MiB more; the own client
         * keeps one rendered copy of a constant request, head and body. */
        allowed = (own ? (long long) n : 0) + (long long) n / 4;
        ok(large - small < allowed,
           "the run held %lld KiB more with the 1 MiB body than with a tiny one (under %lld KiB: the body "
           "shared, not copied%s)", (large - small) / 1024, allowed / 1024, own ? " but for the wire bytes" : "");
        free(big);
}

/* A few more than 5% time out: the p95 falls among them, so it is at least
 * the timeout, where leaving them out would show the fast answers' p95. */
static void test_timeouts_in_p95(void) {
        LoadStages *st = constant(40, 4 * SEC);
        LoadScenario sc = open_scenario(st, 50);
        Seconds secs;
        LoadResult *res;
        uint64_t n, t;

        sc.timeout_usec = 200 * MS;
        ok(set_stall("400ms", "2s") == 0, "the target stalls 400ms every 2 s");
        res = run(&sc, &secs, 0, 10 * SEC, NULL);
        (void) set_stall("0", "2s");
        ok(res != NULL, "a run with a 200 ms timeout ran");
        if (!res)
                return;
        n = res->total.counts.sent;
        t = res->total.counts.err_timeout;
        /* Those arriving in the first 200 ms of each stall time out: 5% of
         * the run per stall, two or three stalls in 4 s. */
        ok(t * 20 > n && t * 5 < n, "more than 5%% but less than 20%% timed out: %" PRIu64 " of %" PRIu64, t, n);
        is_int(hist_count(res->total.latency), n, "each has a latency");
        ok(hist_min(res->total.latency) < 50 * MS, "the answers outside the stalls are fast: min %.1f ms",
           ms(hist_min(res->total.latency)));
        /* Each timed-out request took at least 200 ms; the histogram gives
         * its percentiles within 1%. */
        ok(hist_percentile(res->total.latency, 95) >= 198 * MS, "the p95 %.1f ms is at least the 200 ms timeout",
           ms(hist_percentile(res->total.latency, 95)));
        ok(hist_percentile(res->total.service, 95) >= 198 * MS, "and so is the service time's: %.1f ms",
           ms(hist_percentile(res->total.service, 95)));
        load_result_free(res);
        stages_free(st);
}

/* Without think time each user sends its next request straight from the
 * answer; the run still ends on time and never has more than one request
 * per user in flight. */
static void test_closed_no_think(void) {
        LoadScenario sc = { .name = "busy", .model = LOAD_MODEL_CLOSED, .base_url = api, .users = 4,
                            .duration_usec = 1 * SEC, .timeout_usec = 5 * SEC, .requests = list_items,
                            .n_requests = 1 };
        Seconds secs;
        LoadResult *res;
        uint64_t wall;

        res = run(&sc, &secs, 0, 10 * SEC, &wall);
        ok(res && res->state == LOAD_RUN_COMPLETED, "closed model, 4 users without think time, 1 s, completed");
        if (!res)
                return;
        ok(wall < 3 * SEC, "on time: %.0f ms", ms(wall));
        ok(res->total.counts.sent >= 100, "back to back: %" PRIu64 " requests", res->total.counts.sent);
        is_int(res->total.counts.ok, res->total.counts.sent, "each answered ok");
        ok(secs.max_in_flight <= 4, "never more than one per user in flight: %u", secs.max_in_flight);
        is_int(res->connections, 4, "over one kept-alive connection per user");
        load_result_free(res);
}

static void on_second_block(const LoadSecond *s, void *userdata) {
        if (s->second == 1)
                usleep(300 * 1000);
}

/* A loop that wakes up late (here: a callback that blocks it for 300 ms, as
 * a descheduled thread would) sends the backlog at once, each request with
 * its own intended time: latency counts the wait, service time does not. */
static void test_late_loop(void) {
        LoadStages *st = constant(200, 2 * SEC);
        LoadScenario sc = open_scenario(st, 100);
        LoadCallbacks cb = { .on_second = on_second_block };
        LoadResult *res = NULL;
        LoadRun *r = NULL;

        ok(load_run_start(&sc, &cb, &r, NULL) == 0, "a run whose loop is blocked 300 ms after 1 s");
        sleep_until_done(r, 10 * SEC);
        if (load_run_snapshot(r, &res) < 0 || !res) {
                load_run_free(r);
                return;
        }
        is_int(res->total.counts.sent, 400, "the backlog was sent, nothing skipped");
        is_int(res->total.counts.dropped, 0, "nothing dropped");
        ok(hist_max(res->lateness) >= 280 * MS, "the schedule's lateness shows the block: %.1f ms",
           ms(hist_max(res->lateness)));
        ok(hist_max(res->total.latency) >= 280 * MS, "latency from the intended start counts the wait: max %.1f ms",
           ms(hist_max(res->total.latency)));
        ok(hist_percentile(res->total.latency, 95) >= 150 * MS, "p95 %.1f ms (60 of 400 waited 0..300 ms)",
           ms(hist_percentile(res->total.latency, 95)));
        ok(hist_percentile(res->total.service, 95) < 50 * MS, "service time does not: p95 %.1f ms",
           ms(hist_percentile(res->total.service, 95)));
        load_result_free(res);
        load_run_free(r);
        stages_free(st);
}

static void expect_refused(LoadScenario sc, const char *want) {
        LoadRun *r = NULL;
        char *err = NULL;
        int rc = load_run_start(&sc, NULL, &r, &err);

        ok(rc == -EINVAL && !r && err && strstr(err, want), "refused: %s", err ? err : "(no reason)");
        free(err);
        load_run_free(r);
}

static void test_bad_scenarios(void) {
        static const LoadRequest no_path[] = { { .weight = 1, .method = "GET", .path = "" } };
        static const LoadRequest no_weight[] = { { .weight = 0, .method = "GET", .path = "/" } };
        static const LoadRequest bad_path[] = { { .weight = 1, .method = "GET", .path = "/x/${sq}" } };
        static const LoadRequest bad_body[] = {
                { .weight = 1, .method = "GET", .path = "/" },
                { .weight = 1, .method = "POST", .path = "/", .body = "{\"n\":${rand:0}}" },
        };
        static const LoadStatusRange bad_range[] = { { 300, 200 } };
        LoadStages *st = constant(10, SEC);
        LoadScenario sc = open_scenario(st, 10);

        expect_refused((LoadScenario) { .model = LOAD_MODEL_OPEN, .stages = st, .timeout_usec = SEC,
                                        .max_inflight = 1, .requests = list_items, .n_requests = 1 },
                       "base_url is empty");
        sc.requests = no_path;
        expect_refused(sc, "request 1 has no path");
        sc.requests = no_weight;
        expect_refused(sc, "request 1 has weight 0");
        sc.requests = bad_path;
        expect_refused(sc, "request 1 has a bad PATH template: unknown placeholder ${sq}");
        sc.requests = bad_body;
        sc.n_requests = 2;
        expect_refused(sc, "request 2 has a bad BODY template: ");
        sc.n_requests = 1;
        sc.requests = list_items;
        sc.expect = bad_range;
        sc.n_expect = 1;
        expect_refused(sc, "expected status 300-200");
        sc.n_expect = 0;
        sc.max_inflight = 0;
        expect_refused(sc, "max_inflight must be");
        sc.max_inflight = 1;
        sc.stages = NULL;
        expect_refused(sc, "needs a rate or stages");
        sc.model = LOAD_MODEL_CLOSED;
        sc.users = 1;
        expect_refused(sc, "needs a duration");
        sc.duration_usec = SEC;
        sc.ramp_up_usec = 2 * SEC;
        expect_refused(sc, "ramp_up is longer than the duration");
        sc.ramp_up_usec = 0;
        sc.think_min_usec = 2 * SEC;
        sc.think_max_usec = SEC;
        expect_refused(sc, "lower bound is above");
        stages_free(st);
}

/* One slot sending a constant URL (parsed once, CURLOPT_CURLU) and a
 * templated one (CURLOPT_URL per send) in turn: each goes to its own path,
 * whichever the slot sent before it. */
static void test_url_switch(void) {
        static const LoadRequest reqs[] = {
                { .weight = 1, .name = "constant", .method = "GET", .path = "/healthz" },
                { .weight = 1, .name = "templated", .method = "GET", .path = "/no-such-path/${seq}" },
        };
        LoadStages *st = constant(200, 1 * SEC);
        LoadScenario sc = open_scenario(st, 1);
        Seconds secs;
        LoadResult *res;

        sc.requests = reqs;
        sc.n_requests = 2;
        res = run(&sc, &secs, 0, 20 * SEC, NULL);
        ok(res != NULL, "open model, one slot, a constant and a templated URL: ran");
        if (!res) {
                stages_free(st);
                return;
        }
        ok(res->per_request[0].counts.sent > 20 && res->per_request[1].counts.sent > 20,
           "both were sent: %" PRIu64 " and %" PRIu64, res->per_request[0].counts.sent,
           res->per_request[1].counts.sent);
        is_int(res->per_request[0].counts.ok, res->per_request[0].counts.sent,
               "every constant one reached /healthz (200)");
        is_int(res->per_request[1].counts.err_status, res->per_request[1].counts.sent,
               "every templated one reached its own path (404), not the constant URL");
        load_result_free(res);
        stages_free(st);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        if (curl_glue_global_init() < 0 || start_target() < 0) {
                printf("Bail out! cannot start the demo target (DEMO_TARGET=%s)\n", getenv("DEMO_TARGET") ?: "");
                stop_target();
                return 99;
        }
        test_bad_scenarios();
        test_refused();
        test_setup_fails();
        test_cancel();
        test_methods_and_status();
        test_templates();
        test_compiled_templates();
        test_timeouts();
        test_timeouts_in_p95();
        test_late_loop();
        test_duration_cut();
        test_ramp_up();
        test_open_precision();
        test_url_switch();
        test_coordinated_omission(1.0, 5.0, 100, 10);
        test_coordinated_omission(0.5, 2.0, 200, 8);
        test_closed_model();
        test_closed_no_think();
        test_max_inflight();

        /* The same engine over libcurl, which https:// and host names use. */
        client_under_test = LOAD_CLIENT_LIBCURL;
        printf("# again with client = libcurl, against a new target (no items)\n");
        stop_target();
        if (start_target() < 0) {
                printf("Bail out! cannot start the demo target again\n");
                return 99;
        }
        test_refused();
        test_cancel();
        test_methods_and_status();
        test_templates();
        test_compiled_templates();
        test_timeouts();
        test_url_switch();
        test_closed_no_think();
        test_coordinated_omission(0.5, 2.0, 200, 8);
        stop_target();
        curl_glue_global_cleanup();
        return tap_done();
}
