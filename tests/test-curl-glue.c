/* Tests of curl-glue.c against the Go demo target: many transfers that end
 * at the same moment are handed to curl in a few loop iterations, not one
 * iteration per socket (which cost the square of the backlog); a chain of
 * transfers, each started from the previous one's done callback with
 * curl_glue_kick(), takes one loop iteration per transfer, without
 * recursing, and the before callback runs ahead of every action. */
#include <errno.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "demo-target.h"
#include "tap.h"
#include "transport/curl-glue.h"
#include "util/util.h"

#define N_TRANSFERS 200

typedef struct Batch {
        sd_event *event;
        unsigned done, ok;
} Batch;

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata) {
        return size * nmemb;
}

static void on_done(CURL *easy, CURLcode result, void *userdata) {
        Batch *b = userdata;
        long status = 0;

        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        b->ok += result == CURLE_OK && status == 200;
        if (++b->done == N_TRANSFERS)
                (void) sd_event_exit(b->event, 0);
}

static int on_limit(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), -ETIMEDOUT);
}

/* Waits until `into_usec` into the target's current 1 s stall period. */
static void sleep_to_phase(uint64_t into_usec) {
        uint64_t phase = now_realtime_usec() % USEC_PER_SEC;

        usleep((useconds_t) ((USEC_PER_SEC + into_usec - phase) % USEC_PER_SEC));
}

static void test_batch(void) {
        static char errbuf[N_TRANSFERS][CURL_ERROR_SIZE];
        CURL *easy[N_TRANSFERS] = { 0 };
        char url[256];
        Batch b = { 0 };
        CurlGlue *g = NULL;
        uint64_t it0 = 0, it1 = 0;
        int r;

        snprintf(url, sizeof(url), "%s/healthz", api);
        ok(set_stall("800ms", "1s") == 0, "the target stalls 800ms every second");
        ok(sd_event_new(&b.event) >= 0 && curl_glue_new(b.event, &g) >= 0 &&
           curl_glue_set_max_connections(g, N_TRANSFERS) == 0, "a loop and its glue for %d connections",
           N_TRANSFERS);
        sleep_to_phase(50 * USEC_PER_MSEC);
        for (unsigned i = 0; i < N_TRANSFERS; i++) {
                if (curl_glue_easy_new(url, 5 * USEC_PER_SEC, 5 * USEC_PER_SEC, errbuf[i], &easy[i]) < 0 ||
                    curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard) != CURLE_OK ||
                    curl_glue_add(g, easy[i], on_done, &b) < 0)
                        break;
        }
        (void) sd_event_add_time_relative(b.event, NULL, CLOCK_MONOTONIC, 10 * USEC_PER_SEC, 0, on_limit, NULL);
        (void) sd_event_get_iteration(b.event, &it0);
        r = sd_event_loop(b.event);
        (void) sd_event_get_iteration(b.event, &it1);
        (void) set_stall("0", "1s");
        is_int(r, 0, "the loop ended when all transfers had");
        is_int(b.ok, N_TRANSFERS, "all %d answered 200 after the stall", N_TRANSFERS);
        /* One socket per iteration takes at least two per transfer (its
         * connection made, its answer read): 414 were seen.  Batches took
         * 34 on a quiet machine, 138 on a busy one. */
        ok(it1 - it0 < N_TRANSFERS, "in %llu loop iterations: ready sockets are handled in batches",
           (unsigned long long) (it1 - it0));
        curl_glue_free(g);
        for (unsigned i = 0; i < N_TRANSFERS; i++)
                if (easy[i])
                        curl_easy_cleanup(easy[i]);
        sd_event_unref(b.event);
}

#define N_CHAIN 20

typedef struct Chain {
        sd_event *event;
        CurlGlue *glue;
        CURL *easy;
        unsigned done, ok, depth, max_depth, before, same;
        uint64_t done_iteration;
        bool awaiting;          /* a transfer added by on_chain_done, not yet handed to curl */
} Chain;

static void on_chain_done(CURL *easy, CURLcode result, void *userdata) {
        Chain *c = userdata;
        long status = 0;

        c->depth++;
        c->max_depth = c->depth > c->max_depth ? c->depth : c->max_depth;
        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        c->ok += result == CURLE_OK && status == 200;
        if (++c->done == N_CHAIN)
                (void) sd_event_exit(c->event, 0);
        else if (curl_glue_add(c->glue, c->easy, on_chain_done, c) == 0) {
                (void) sd_event_get_iteration(c->event, &c->done_iteration);
                c->awaiting = true;
                curl_glue_kick(c->glue);
        }
        c->depth--;
}

/* Counts the transfers handed to curl in the loop iteration that added them. */
static void on_before(void *userdata) {
        Chain *c = userdata;
        uint64_t it = 0;

        c->before++;
        if (!c->awaiting)
                return;
        c->awaiting = false;
        (void) sd_event_get_iteration(c->event, &it);
        c->same += it == c->done_iteration;
}

static void test_kick(void) {
        static char errbuf[CURL_ERROR_SIZE];
        Chain c = { 0 };
        char url[256];
        int r;

        snprintf(url, sizeof(url), "%s/healthz", api);
        ok(sd_event_new(&c.event) >= 0 && curl_glue_new(c.event, &c.glue) >= 0 &&
           curl_glue_easy_new(url, 5 * USEC_PER_SEC, 5 * USEC_PER_SEC, errbuf, &c.easy) >= 0 &&
           curl_easy_setopt(c.easy, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK, "a loop, its glue, a handle");
        curl_glue_set_before(c.glue, on_before, &c);
        ok(curl_glue_add(c.glue, c.easy, on_chain_done, &c) == 0, "the chain's first transfer added");
        (void) sd_event_add_time_relative(c.event, NULL, CLOCK_MONOTONIC, 10 * USEC_PER_SEC, 0, on_limit, NULL);
        r = sd_event_loop(c.event);
        is_int(r, 0, "the loop ended when the chain had");
        is_int(c.ok, N_CHAIN, "%d transfers in a row, each answered 200", N_CHAIN);
        is_int(c.max_depth, 1, "a kick from a done callback does not recurse into the next one's");
        /* Without the kick, curl starts each one on its zero timer, in the
         * loop's next iteration: none in the same.  With it, all but those
         * whose previous answer was read by a kick's own action (the answer
         * already there when curl looked, right after sending: 5 of 19
         * here), which wait for the timer: one kick per dispatch. */
        ok(c.same >= N_CHAIN / 2, "%u of %d transfers went to curl in the iteration that read the previous answer",
           c.same, N_CHAIN - 1);
        ok(c.before >= N_CHAIN, "the before callback ran %u times, at least once per transfer", c.before);
        curl_glue_free(c.glue);
        curl_easy_cleanup(c.easy);
        sd_event_unref(c.event);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        if (curl_glue_global_init() < 0 || start_target() < 0) {
                printf("Bail out! cannot start the demo target (DEMO_TARGET=%s)\n", getenv("DEMO_TARGET") ?: "");
                stop_target();
                return 99;
        }
        test_batch();
        test_kick();
        stop_target();
        curl_glue_global_cleanup();
        return tap_done();
}
