/* The pre-flight checks of a suite (perfwatchd --run A,B,...), made before
 * any load: every [target]'s memory_url answers 200, the base_url of each
 * scenario of the suite answers at all (any HTTP status: only a connection
 * that fails or times out fails), every [postgres] connects, and [daemon]
 * database opens for writing.  Blocking calls, each bounded by a timeout:
 * terminal mode makes them in line; the daemon (core/suites.h) on a thread
 * of its own, never on its loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/util.h"

#define PREFLIGHT_TARGET_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define PREFLIGHT_BASE_URL_TIMEOUT_USEC (3 * USEC_PER_SEC)
#define PREFLIGHT_POSTGRES_TIMEOUT_SEC 5

/* What one check probes. */
typedef enum PreflightKind {
        PREFLIGHT_HTTP,              /* GET `url` */
        PREFLIGHT_POSTGRES,          /* connect with `url` as conninfo */
        PREFLIGHT_DATABASE,          /* open `url` as the store's file for writing */
} PreflightKind;

/* One check: what it probes (owned), then, once preflight_check() made it,
 * its outcome.  Plain data, so that the daemon can hand a plan to a thread
 * of its own and read the outcomes back on its loop. */
typedef struct PreflightCheck {
        PreflightKind kind;
        char *what;                  /* "scenario peak base_url http://h/" (a URL's password redacted) */
        char *url;                   /* the URL, conninfo or path (may hold a secret: never shown) */
        uint64_t timeout_usec;
        bool want_200;               /* PREFLIGHT_HTTP: any other status fails */
        bool failed;
        char why[256];               /* failed: the reason in one line */
        char detail[64];             /* passed: "HTTP 404", or "" */
        uint64_t ms;                 /* how long it took */
} PreflightCheck;

/* The checks for the `n` scenarios `names` of `c` (a name given twice is
 * checked once; an unknown one is skipped), in this order: every target's
 * memory_url, each scenario's base_url, every [postgres], and, with
 * `database`, [daemon] database.  0 with *ret (free with
 * preflight_plan_free()) and *ret_n, or -ENOMEM.  Copies what it needs:
 * `c` may go away afterwards. */
int preflight_plan(const Config *c, const char *const *names, size_t n, bool database, PreflightCheck **ret,
                   size_t *ret_n);

/* Makes check `k`, blocking for up to its timeout, and sets its outcome.
 * Any thread; libcurl must be initialised. */
void preflight_check(PreflightCheck *k);

/* Frees a plan (secrets wiped); NULL is a no-op.  Returns NULL. */
PreflightCheck *preflight_plan_free(PreflightCheck *checks, size_t n);

/* Terminal mode: makes every check of preflight_plan() (the database
 * included), writing one line per check on stderr ("perfwatchd:
 * pre-flight: WHAT: ok (12 ms)" or "...: failed: WHY"), and returns how
 * many failed: 0 when the suite may start.  libcurl must be initialised. */
unsigned preflight_run(const Config *c, const char *const *names, size_t n);
