/* The pre-flight checks of a suite (perfwatchd --run A,B,...), made before
 * any load: every [target]'s memory_url answers 200, the base_url of each
 * scenario of the suite answers at all (any HTTP status: only a connection
 * that fails or times out fails), every [postgres] connects, and [daemon]
 * database opens for writing.  Blocking calls, each bounded by a timeout:
 * for terminal mode, never for the daemon's loop. */
#pragma once

#include <stddef.h>

#include "config/config.h"
#include "util/util.h"

#define PREFLIGHT_TARGET_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define PREFLIGHT_BASE_URL_TIMEOUT_USEC (3 * USEC_PER_SEC)
#define PREFLIGHT_POSTGRES_TIMEOUT_SEC 5

/* Makes every check for the `n` scenarios `names` (each one of `c`'s;
 * a name given twice is checked once), writing one line per check on
 * stderr ("perfwatchd: pre-flight: WHAT: ok (12 ms)" or "...: failed:
 * WHY"), and returns how many failed: 0 when the suite may start.
 * libcurl must be initialised. */
unsigned preflight_run(const Config *c, const char *const *names, size_t n);
