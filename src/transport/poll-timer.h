/* The schedule every poller keeps: a one-shot sd-event timer on
 * CLOCK_MONOTONIC that ticks at a fixed rate with +-2% jitter, backs off
 * while polls fail, and skips the ticks it missed instead of replaying
 * them (chrony's and ntpd's habits).  Loop thread only. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>
#include "util/util.h"

typedef struct PollTimer PollTimer;

/* Runs on each tick.  The next tick is already armed, so a poll that never
 * ends or fails to start does not stop the schedule. */
typedef void (*poll_timer_tick_t)(PollTimer *t, void *userdata);

/* Ticks every `interval_usec` (> 0) on `e`.  The first tick comes after a
 * random part of min(interval, first_spread_usec), so pollers started
 * together do not poll in step.  `description` names the sd-event source
 * (copied) and the log lines about it; `userdata` is borrowed. */
int poll_timer_new(sd_event *e, uint64_t interval_usec, uint64_t first_spread_usec,
                   const char *description, poll_timer_tick_t tick, void *userdata, PollTimer **ret);

/* Stops the timer; NULL is a no-op.  Returns NULL. */
PollTimer *poll_timer_free(PollTimer *t);

/* The owner's word when a poll ends: `failures` polls in a row have failed
 * (0 after a success).  Ticks back off by it from now on, and the tick
 * already armed moves when the count changed since it was armed.  A poller
 * that never calls this never backs off. */
void poll_timer_set_failures(PollTimer *t, unsigned failures);

/* The pure parts of the schedule, exposed for the unit tests. */

/* The period after a tick: the interval, doubled per consecutive failure up
 * to 8x, capped at max(interval, 60s), and never shorter than the interval. */
uint64_t poll_timer_delay(uint64_t interval_usec, unsigned failures);

/* The unjittered time of the tick after the one at `base_usec`: fixed rate
 * from the previous scheduled time (a poll's duration never shifts the
 * schedule), and ticks already past at `now_usec` skipped, not replayed. */
uint64_t poll_timer_next_base(uint64_t base_usec, uint64_t interval_usec, unsigned failures,
                              uint64_t now_usec);

/* When a tick based at `base_usec` fires: moved by up to 2% of the interval
 * either way, as `random` picks; never before time 0. */
uint64_t poll_timer_jittered(uint64_t base_usec, uint64_t interval_usec, uint64_t random);
