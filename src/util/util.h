/* The small helpers every module would otherwise copy: array length, time
 * constants and clocks, string joining, one-line error messages. */
#pragma once

#include <stdint.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC  1000000ULL
#define USEC_PER_MIN  (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR (60ULL * USEC_PER_MIN)
#define USEC_PER_DAY  (24ULL * USEC_PER_HOUR)

/* CLOCK_MONOTONIC now, in microseconds: for intervals and timeouts. */
uint64_t now_monotonic_usec(void);

/* CLOCK_REALTIME now, in microseconds since the epoch: for timestamps. */
uint64_t now_realtime_usec(void);

/* A new string, the concatenation of the arguments up to a NULL; the caller
 * frees it.  NULL when out of memory. */
char *strjoin(const char *first, ...) __attribute__((sentinel));

/* Replaces *ret_error (when ret_error is not NULL; *ret_error NULL or a
 * message set_error() made) with a new formatted message, or NULL when even that cannot be allocated; returns r so a caller can
 * `return set_error(ret_error, -EINVAL, "...")`.  The caller frees it. */
int set_error(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
