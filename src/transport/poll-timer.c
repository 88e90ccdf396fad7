#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/log.h"
#include "transport/poll-timer.h"
#include "util/units.h"

/* Backoff never stretches the poll period past this (or the interval, if longer). */
#define POLL_TIMER_BACKOFF_CAP_USEC (60 * USEC_PER_SEC)
/* At most 2^3 = 8 intervals between polls while failing. */
#define POLL_TIMER_BACKOFF_MAX_SHIFT 3
/* Timers fire within a millisecond: sd-event's default 250 ms would swamp the jitter. */
#define POLL_TIMER_ACCURACY_USEC USEC_PER_MSEC

struct PollTimer {
        sd_event_source *source;
        uint64_t interval_usec;
        poll_timer_tick_t tick;
        void *userdata;

        uint64_t next_base_usec;       /* unjittered time of the armed tick */
        uint64_t last_base_usec;       /* the same for the tick that fired last */
        bool ticked;                   /* last_base_usec is set */
        unsigned failures;             /* as the owner last reported */
        unsigned scheduled_failures;   /* what the armed tick was computed with */
        uint64_t rng;
};

/* xorshift64*: jitter needs spread, not secrecy. */
static uint64_t poll_timer_random(PollTimer *t) {
        uint64_t x = t->rng;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        t->rng = x;
        return x * 0x2545F4914F6CDD1DULL;
}

static void poll_timer_seed(PollTimer *t) {
        uint64_t seed = 0;

        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t) sizeof(seed))
                seed = now_monotonic_usec() ^ (uint64_t) (uintptr_t) t;
        t->rng = seed ? seed : 1;
}

uint64_t poll_timer_delay(uint64_t interval, unsigned failures) {
        uint64_t cap = interval > POLL_TIMER_BACKOFF_CAP_USEC ? interval : POLL_TIMER_BACKOFF_CAP_USEC;
        unsigned shift = failures < POLL_TIMER_BACKOFF_MAX_SHIFT ? failures : POLL_TIMER_BACKOFF_MAX_SHIFT;
        uint64_t d = interval > (UINT64_MAX >> shift) ? cap : interval << shift;

        /* Both are at least the interval, so the delay never falls below it. */
        return d < cap ? d : cap;
}

uint64_t poll_timer_next_base(uint64_t base, uint64_t interval, unsigned failures, uint64_t now) {
        uint64_t next = base + poll_timer_delay(interval, failures);

        /* Ticks missed while the host slept or a poll overran are skipped, not replayed. */
        if (next < now)
                next += ((now - next) / interval + 1) * interval;
        return next;
}

uint64_t poll_timer_jittered(uint64_t base, uint64_t interval, uint64_t random) {
        uint64_t span = interval / 50, jitter = random % (2 * span + 1);

        return base + jitter >= span ? base + jitter - span : 0;
}

/* Arms the tick after the one based at `base`; jitter moves each firing
 * only, never the schedule. */
static void poll_timer_arm(PollTimer *t, uint64_t base) {
        const char *description = NULL;
        int r;

        t->next_base_usec = poll_timer_next_base(base, t->interval_usec, t->failures, now_monotonic_usec());
        t->scheduled_failures = t->failures;

        r = sd_event_source_set_time(t->source,
                                     poll_timer_jittered(t->next_base_usec, t->interval_usec, poll_timer_random(t)));
        if (r >= 0)
                r = sd_event_source_set_enabled(t->source, SD_EVENT_ONESHOT);
        if (r < 0) {
                (void) sd_event_source_get_description(t->source, &description);
                log_source(LOG_ERR, description, "cannot arm the poll timer, polling stops: %s", strerror(-r));
        }
}

static int poll_timer_on_time(sd_event_source *s, uint64_t usec, void *userdata) {
        PollTimer *t = userdata;

        t->last_base_usec = t->next_base_usec;
        t->ticked = true;
        poll_timer_arm(t, t->last_base_usec);
        t->tick(t, t->userdata);
        return 0;
}

void poll_timer_set_failures(PollTimer *t, unsigned failures) {
        if (!t)
                return;
        t->failures = failures;
        /* The armed tick assumed the count from before this poll. */
        if (t->ticked && failures != t->scheduled_failures)
                poll_timer_arm(t, t->last_base_usec);
}

int poll_timer_new(sd_event *e, uint64_t interval_usec, uint64_t first_spread_usec,
                   const char *description, poll_timer_tick_t tick, void *userdata, PollTimer **ret) {
        uint64_t spread = interval_usec < first_spread_usec ? interval_usec : first_spread_usec;
        PollTimer *t;
        int r;

        if (!e || interval_usec == 0 || !description || !tick || !ret)
                return -EINVAL;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->interval_usec = interval_usec;
        t->tick = tick;
        t->userdata = userdata;
        poll_timer_seed(t);

        r = sd_event_add_time_relative(e, &t->source, CLOCK_MONOTONIC, poll_timer_random(t) % (spread + 1),
                                       POLL_TIMER_ACCURACY_USEC, poll_timer_on_time, t);
        if (r >= 0)
                r = sd_event_source_get_time(t->source, &t->next_base_usec);
        if (r >= 0)
                r = sd_event_source_set_description(t->source, description);
        if (r < 0) {
                poll_timer_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

PollTimer *poll_timer_free(PollTimer *t) {
        if (!t)
                return NULL;
        sd_event_source_disable_unref(t->source);
        free(t);
        return NULL;
}
