/* Unit tests for poll-timer.c: the backoff, the jitter, the fixed-rate
 * schedule, and a real sd-event loop ticking at that schedule. */
#include "config/config.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "transport/poll-timer.h"
#include "tap.h"
#include "util/units.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC

static void test_backoff(void) {
        static const uint64_t want[] = { 1 * SEC, 2 * SEC, 4 * SEC, 8 * SEC, 8 * SEC, 8 * SEC };

        for (unsigned f = 0; f < sizeof want / sizeof want[0]; f++)
                is_int(poll_timer_delay(SEC, f), want[f], "1s interval after %u failures waits %llus", f,
                       (unsigned long long) (want[f] / SEC));
        is_int(poll_timer_delay(SEC, 1000), 8 * SEC, "backoff stops doubling at 8x");
}

static void test_backoff_cap(void) {
        is_int(poll_timer_delay(10 * SEC, 2), 40 * SEC, "10s interval after 2 failures waits 40s");
        is_int(poll_timer_delay(10 * SEC, 3), 60 * SEC, "backoff is capped at 60s");
        is_int(poll_timer_delay(30 * SEC, 1), 60 * SEC, "30s doubled reaches the 60s cap exactly");
        is_int(poll_timer_delay(90 * SEC, 3), 90 * SEC, "an interval above 60s is its own cap: no backoff");
        is_int(poll_timer_delay(90 * SEC, 0), 90 * SEC, "no failure, no backoff");
        is_int(poll_timer_delay(UINT64_MAX / 2 + 1, 1), UINT64_MAX / 2 + 1,
               "a doubling that would overflow stays at the interval");
        is_int(poll_timer_delay(1, 3), 8, "a 1us interval still backs off to 8us");
}

static void test_jitter(void) {
        uint64_t base = 100 * SEC, span = 20 * MS, lo = UINT64_MAX, hi = 0, x = 88172645463325252ULL;
        int outside = 0;

        is_int(poll_timer_jittered(base, SEC, 0), base - span, "random 0 fires 2%% early");
        is_int(poll_timer_jittered(base, SEC, 2 * span), base + span, "the largest jitter fires 2%% late");
        is_int(poll_timer_jittered(base, SEC, span), base, "the middle of the range fires on time");
        for (int i = 0; i < 100000; i++) {
                uint64_t fire;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                fire = poll_timer_jittered(base, SEC, x);
                outside += fire < base - span || fire > base + span;
                lo = fire < lo ? fire : lo;
                hi = fire > hi ? fire : hi;
        }
        is_int(outside, 0, "100000 random firings all stay within +-2%% of the tick");
        ok(lo < base - span + MS && hi > base + span - MS, "random firings cover the whole +-2%% range");
        is_int(poll_timer_jittered(5 * MS, SEC, 0), 0, "a tick earlier than the jitter span fires at 0, not wrapped");
        is_int(poll_timer_jittered(base, 49, UINT64_MAX), base, "an interval under 50us gets no jitter");
}

static void test_missed_ticks(void) {
        is_int(poll_timer_next_base(10 * SEC, SEC, 0, 10 * SEC + 300 * MS), 11 * SEC,
               "a tick still ahead is kept");
        is_int(poll_timer_next_base(10 * SEC, SEC, 0, 11 * SEC), 11 * SEC, "a tick due right now is kept");
        is_int(poll_timer_next_base(10 * SEC, SEC, 0, 15 * SEC + 500 * MS), 16 * SEC,
               "after a 5.5s stall, the missed ticks are skipped: the next is the first one ahead");
        is_int(poll_timer_next_base(10 * SEC, SEC, 0, 16 * SEC), 17 * SEC,
               "a stall ending exactly on a tick skips that tick too");
        is_int(poll_timer_next_base(10 * SEC, SEC, 2, 14 * SEC + 500 * MS), 15 * SEC,
               "while backing off, skipped ticks keep the interval's grid from the backed-off tick");
}

static void test_fixed_rate(void) {
        uint64_t start = 1000 * SEC, base = start;

        /* Each poll takes 300 ms and the next tick is computed when it ends. */
        for (int i = 0; i < 100; i++)
                base = poll_timer_next_base(base, SEC, 0, base + 300 * MS);
        is_int(base - start, 100 * SEC, "100 ticks of 300ms polls land exactly 100 intervals later: no drift");
        is_int(poll_timer_next_base(start, 250 * MS, 1, start + 100 * MS), start + 500 * MS,
               "a failure doubles the gap from the previous tick, not from the poll's end");
}

/* ------------------------------------------------------------ a real loop */

#define RUN_INTERVAL (100 * MS)
#define RUN_TICKS 10
/* The first tick's callback holds the loop this long, as a stalled host would. */
#define RUN_STALL (370 * MS)
/* How late a timer may fire on a loaded or sanitized host and still count
 * as on time; most ticks must be, none may be off by an interval or more. */
#define RUN_LATE_SLACK (20 * MS)
#define RUN_OFF_LIMIT (150 * MS)

typedef struct Run {
        sd_event *event;
        PollTimer *timer;
        uint64_t at[RUN_TICKS];
        unsigned n;
} Run;

static void busy_wait(uint64_t usec) {
        uint64_t end = now_monotonic_usec() + usec;

        while (now_monotonic_usec() < end)
                ;
}

static void run_on_tick(PollTimer *t, void *userdata) {
        Run *run = userdata;

        if (run->n == RUN_TICKS)
                return;
        run->at[run->n++] = now_monotonic_usec();
        /* The poll of tick 4 ends the second failure in a row, the one of
         * tick 6 a success: the gaps after 4 and 5 back off to 4 intervals,
         * then the rate comes back. */
        if (run->n == 5)
                poll_timer_set_failures(t, 2);
        else if (run->n == 7)
                poll_timer_set_failures(t, 0);
        if (run->n == RUN_TICKS)
                (void) sd_event_exit(run->event, 0);
        /* A schedule taken from when a tick fired or ended would drift by this. */
        if (run->n == 1)
                busy_wait(RUN_STALL);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), -ETIMEDOUT);
}

static void test_real_loop(void) {
        /* Where each tick belongs, in intervals after the first.  Tick 1,
         * due at 1, fires late when the stall ends at 3.7; the ticks at 2
         * and 3 are skipped, not replayed. */
        static const unsigned want[RUN_TICKS] = { 0, 1, 4, 5, 6, 10, 14, 15, 16, 17 };
        uint64_t span = RUN_INTERVAL / 50, offset[RUN_TICKS] = {}, ref = UINT64_MAX, worst = 0;
        sd_event_source *deadline = NULL;
        unsigned on_time = 0;
        Run run = {};
        int r;

        r = sd_event_new(&run.event);
        if (r >= 0)
                r = sd_event_add_time_relative(run.event, &deadline, CLOCK_MONOTONIC, 3 * SEC, 0, on_deadline, NULL);
        if (r >= 0)
                r = poll_timer_new(run.event, RUN_INTERVAL, 0, "test:cadence", run_on_tick, &run, &run.timer);
        is_int(r, 0, "a timer with a 100ms interval starts on a fresh loop");
        if (r >= 0)
                r = sd_event_loop(run.event);
        is_int(r, 0, "the loop ends after %d ticks, before the 3s deadline", RUN_TICKS);
        is_int(run.n, RUN_TICKS, "the callback ran %d times", RUN_TICKS);

        /* Each tick's time minus where the schedule puts it: the same for
         * all but the jitter and the loop's lateness, which is never
         * negative, so the smallest is the reference.  Tick 1 is late by
         * design. */
        for (unsigned k = 0; k < run.n; k++) {
                offset[k] = run.at[k] - want[k] * RUN_INTERVAL;
                printf("# tick %u at +%.1f ms\n", k, (run.at[k] - run.at[0]) / 1e3);
                if (k != 1 && offset[k] < ref)
                        ref = offset[k];
        }
        for (unsigned k = 0; k < run.n; k++) {
                if (k == 1)
                        continue;
                on_time += offset[k] - ref <= 2 * span + MS + RUN_LATE_SLACK;
                worst = offset[k] - ref > worst ? offset[k] - ref : worst;
        }
        ok(run.n == RUN_TICKS && worst < RUN_OFF_LIMIT,
           "ticks keep their places on the fixed-rate grid: after a stall the ticks it missed are skipped, "
           "two failures stretch the gap to 4 intervals and a success restores it (worst %.1f ms off)",
           worst / 1e3);
        ok(run.n == RUN_TICKS && on_time >= RUN_TICKS / 2 - 1,
           "a stall adds no drift: %u of %d ticks fire within +-2%% of their place", on_time, RUN_TICKS - 1);

        poll_timer_free(run.timer);
        sd_event_source_disable_unref(deadline);
        sd_event_unref(run.event);
}

#define SPREAD_TIMERS 20
#define SPREAD_INTERVAL (200 * MS)

static void spread_on_tick(PollTimer *t, void *userdata) {
        uint64_t *first = userdata;

        if (*first == 0)
                *first = now_monotonic_usec();
}

static void test_first_tick_spread(void) {
        sd_event_source *deadline = NULL;
        PollTimer *timers[SPREAD_TIMERS] = {};
        uint64_t first[SPREAD_TIMERS] = {}, lo = UINT64_MAX, hi = 0;
        sd_event *e = NULL;
        int missing = 0, r;

        r = sd_event_new(&e);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &deadline, CLOCK_MONOTONIC, SPREAD_INTERVAL + RUN_OFF_LIMIT, 0,
                                               on_deadline, NULL);
        /* A 10s spread is cut to the 200ms interval. */
        for (int i = 0; r >= 0 && i < SPREAD_TIMERS; i++)
                r = poll_timer_new(e, SPREAD_INTERVAL, 10 * SEC, "test:spread", spread_on_tick, &first[i], &timers[i]);
        is_int(r, 0, "%d timers start", SPREAD_TIMERS);
        if (r >= 0)
                (void) sd_event_loop(e);

        for (int i = 0; i < SPREAD_TIMERS; i++) {
                if (first[i] == 0) {
                        missing++;
                        continue;
                }
                lo = first[i] < lo ? first[i] : lo;
                hi = first[i] > hi ? first[i] : hi;
        }
        /* The loop ends at the interval (plus lateness): a tick not seen by then came too late. */
        is_int(missing, 0, "every first tick comes within min(interval, spread) of the start");
        ok(missing == 0 && hi - lo > 5 * MS, "first ticks are spread out, not in step (%.1f ms apart at most)",
           (hi - lo) / 1e3);

        for (int i = 0; i < SPREAD_TIMERS; i++)
                poll_timer_free(timers[i]);
        sd_event_source_disable_unref(deadline);
        sd_event_unref(e);
}

static void test_contract(void) {
        PollTimer *t = (PollTimer *) 1;
        sd_event *e = NULL;

        poll_timer_set_failures(NULL, 3);
        ok(poll_timer_free(NULL) == NULL, "poll_timer_set_failures(NULL) and poll_timer_free(NULL) are no-ops");
        if (sd_event_new(&e) < 0)
                e = NULL;
        is_int(poll_timer_new(e, 0, SEC, "test:zero", run_on_tick, NULL, &t), -EINVAL,
               "an interval of 0 is refused with -EINVAL");
        ok(t == (PollTimer *) 1, "a refused timer leaves *ret alone");
        sd_event_unref(e);
}

int main(void) {
        test_backoff();
        test_backoff_cap();
        test_jitter();
        test_missed_ticks();
        test_fixed_rate();
        test_contract();
        test_real_loop();
        test_first_tick_spread();
        return tap_done();
}
