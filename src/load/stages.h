/* The open model's arrival-rate schedule: pure arithmetic, no clock, so unit
 * tests pin it exactly.
 *
 * Grammar (the `rate` and `stages` keys of a [scenario] section):
 *
 *   rate   = RATE                         constant, for the scenario's duration
 *   stages = STAGE [, STAGE]...
 *   STAGE  = DURATION:RATE                ramps linearly from the previous
 *                                         stage's end rate (0 before the first
 *                                         stage) to RATE, as k6's
 *                                         ramping-arrival-rate does
 *          | DURATION:RATE..RATE          ramps linearly from the first RATE
 *                                         to the second (A..A holds A)
 *   RATE   = NUMBER/s | NUMBER/m | NUMBER/h   requests per second, minute, hour
 *   DURATION as everywhere else: 30s, 5m, 1h30m, 250ms (not 0)
 *
 * e.g. `stages = 30s:0/s..20/s, 50m:50/s, 5m:0/s`.  Spaces around the
 * separators are allowed.  Rates are finite, not negative, at most
 * STAGES_MAX_RPS, and not 0 everywhere.
 *
 * The k-th request (k = 0, 1, ...) is intended at the time t where the
 * expected number of requests, the integral of the rate from 0 to t, reaches
 * k + 1/2: at 100/s the requests go at 5 ms, 15 ms, 25 ms, ...; a schedule
 * whose integral is E sends round(E) requests.  Computing each time from the
 * schedule's start (never by adding intervals) is what keeps a long run from
 * drifting. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The highest rate accepted, in requests per second. */
#define STAGES_MAX_RPS 1000000.0

/* One linear piece of the schedule. */
typedef struct LoadStage {
        uint64_t duration_usec;
        double from_rps, to_rps;
} LoadStage;

typedef struct LoadStages LoadStages;

/* Parses a RATE ("100/s", "90/m", "3600/h") into requests per second.  0 is
 * accepted here (the schedule refuses it).  0 or -EINVAL with a one-line
 * reason in *ret_error (the caller frees it; ret_error may be NULL). */
int stages_parse_rate(const char *s, double *ret_rps, char **ret_error);

/* Parses a `stages` value (grammar above) into a new schedule the caller
 * owns (stages_free()).  0, -ENOMEM, or -EINVAL with a one-line reason in
 * *ret_error naming the stage (the caller frees it; ret_error may be NULL). */
int stages_parse(const char *s, LoadStages **ret, char **ret_error);

/* A constant schedule: `rps` for `duration_usec`.  0, -ENOMEM, or -EINVAL
 * (rate not in (0, STAGES_MAX_RPS], duration 0) with a reason as above. */
int stages_new_constant(double rps, uint64_t duration_usec, LoadStages **ret, char **ret_error);

/* A copy the caller owns.  0 or -ENOMEM. */
int stages_dup(const LoadStages *s, LoadStages **ret);

/* NULL is a no-op.  Returns NULL. */
LoadStages *stages_free(LoadStages *s);

/* The number of stages and the i-th one (i < stages_n(), else NULL);
 * implicit start rates are resolved (from_rps is always filled in). */
size_t stages_n(const LoadStages *s);
const LoadStage *stages_get(const LoadStages *s, size_t i);

/* The schedule's total duration. */
uint64_t stages_duration(const LoadStages *s);

/* The intended rate at `t_usec` from the start, in requests per second; at a
 * stage boundary the later stage's start rate; 0 from the end on. */
double stages_rate_at(const LoadStages *s, uint64_t t_usec);

/* The expected number of requests from 0 to `t_usec` (the rate's integral);
 * the total from the end on. */
double stages_expected(const LoadStages *s, uint64_t t_usec);

/* How many requests the whole schedule sends: round(stages_expected(end)). */
uint64_t stages_count(const LoadStages *s);

/* The intended send time of request `k` (from 0), in microseconds from the
 * start: the exact inverse of the integral on each linear piece (zero-rate
 * stages are skipped over, near-zero slopes are handled without
 * cancellation).  0, or -ERANGE when k >= stages_count(). */
int stages_send_time(const LoadStages *s, uint64_t k, uint64_t *ret_usec);
