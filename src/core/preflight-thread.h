/* The pre-flight checks (core/preflight.h) off the daemon's loop: they
 * block for up to their timeouts each, so a PreflightJob makes them on a
 * thread of its own and wakes the loop through an eventfd when they are
 * made.  The job owns the checks until preflight_job_take().
 *
 * Loop thread, every function; the job's thread touches only its checks
 * and, under the job's lock, its state and the eventfd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "core/preflight.h"

typedef struct PreflightJob PreflightJob;

/* Called on the loop thread once every check was made (or the job was
 * told to stop and its thread is done): preflight_job_take() then hands
 * the outcomes over. */
typedef void (*PreflightDoneFn)(PreflightJob *job, void *userdata);

/* Takes `checks` (n of them) and starts making them, in order, on a new
 * thread.  0 with *ret; a negative errno (the checks are freed). */
int preflight_job_start(sd_event *event, PreflightCheck *checks, size_t n, PreflightDoneFn done, void *userdata,
                        PreflightJob **ret);

/* The checks (the caller frees them with preflight_plan_free()), with
 * *ret_n their count and *ret_made how many were made (fewer after
 * preflight_job_stop()); NULL before the job is done. */
PreflightCheck *preflight_job_take(PreflightJob *job, size_t *ret_n, size_t *ret_made);

/* Asks the thread to make no further check, and waits for it up to
 * `wait_usec` (blocking: for the way out only).  True when it is done. */
bool preflight_job_stop(PreflightJob *job, uint64_t wait_usec);

/* Frees the job; one whose thread still runs is abandoned to it: the
 * thread frees what it holds when its current check ends.  NULL is a
 * no-op.  Returns NULL. */
PreflightJob *preflight_job_free(PreflightJob *job);
