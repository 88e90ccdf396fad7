/* Terminal mode's acu_scaling: how long it waits for capacity data, which
 * judgements it waits on, and the exit status of a verdict. */
#include <stdio.h>

#include "core/terminal-acu.h"
#include "core/terminal-run.h"
#include "tap.h"

static void test_wait_until(void) {
        CriterionConfig cc = { .settle_usec = 10 * USEC_PER_MIN, .scale_up_within_usec = 5 * USEC_PER_MIN,
                               .lag_usec = 8 * USEC_PER_SEC };
        const int64_t s = 1796133600000;

        is_int(terminal_acu_wait_until_ms(&cc, s, s + 60000), s + 60000 + 600000 + 8000,
               "a 1m run with settle 10m and lag 8s: until its end + 10m + 8s");
        cc.settle_usec = 2 * USEC_PER_SEC;
        is_int(terminal_acu_wait_until_ms(&cc, s, s + 2000), s + 300000 + 8000,
               "a 2s run with settle 2s: until the deadline (start + 5m) + 8s, which is later");
        is_int(terminal_acu_wait_until_ms(&cc, s, s + 298000), s + 300000 + 8000,
               "the end + settle exactly at the deadline: the deadline + lag");
        is_int(terminal_acu_wait_until_ms(&cc, s, s + 298001), s + 300001 + 8000,
               "a millisecond later: the end + settle + lag");
        cc.lag_usec = 0;
        is_int(terminal_acu_wait_until_ms(&cc, s, s + 2000), s + 300000 + ACU_WINDOW_LAG_MS,
               "lag 0 (a table built by hand): CloudWatch's 5m");
        cc.settle_usec = 0;
        cc.scale_up_within_usec = USEC_PER_SEC;
        cc.lag_usec = 1500;
        is_int(terminal_acu_wait_until_ms(&cc, s, s + 4000), s + 4001,
               "settle 0, a 1s deadline, lag 1.5 ms: the run's end + 1 ms");
}

static void test_waits(void) {
        static const struct {
                CriterionState state;
                CriterionCause cause;
                bool waits;
                const char *what;
        } cases[] = {
                { CRITERION_STATE_UNKNOWN, CRITERION_CAUSE_PENDING, true, "data may still arrive" },
                { CRITERION_STATE_UNKNOWN, CRITERION_CAUSE_GAP, true, "a gap, or data ending early" },
                { CRITERION_STATE_UNKNOWN, CRITERION_CAUSE_NO_SAMPLES, true, "no point in the window yet" },
                { CRITERION_STATE_UNKNOWN, CRITERION_CAUSE_UNKNOWN_SERIES, true, "no capacity sample stored yet" },
                { CRITERION_STATE_UNKNOWN, CRITERION_CAUSE_BAD_DATA, false, "points out of order" },
                { CRITERION_STATE_UNKNOWN, CRITERION_CAUSE_TOO_MANY, false, "too many points" },
                { CRITERION_STATE_UNKNOWN, CRITERION_CAUSE_STORE_ERROR, false, "a store error" },
                { CRITERION_STATE_MET, CRITERION_CAUSE_NONE, false, "met" },
                { CRITERION_STATE_NOT_MET, CRITERION_CAUSE_NONE, false, "not met" },
                { CRITERION_STATE_MET, CRITERION_CAUSE_PENDING, false, "a verdict, whatever the cause" },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                ok(terminal_acu_waits(cases[i].state, cases[i].cause) == cases[i].waits, "%s: %s", cases[i].what,
                   cases[i].waits ? "waits" : "does not wait");
}

static void test_status(void) {
        is_int(terminal_acu_status(CRITERION_STATE_MET), TERMINAL_RUN_MET, "met: exit 0");
        is_int(terminal_acu_status(CRITERION_STATE_NOT_MET), TERMINAL_RUN_NOT_MET, "not met: exit 1");
        is_int(terminal_acu_status(CRITERION_STATE_UNKNOWN), TERMINAL_RUN_ERROR, "unknown: exit 2");
        is_int(terminal_acu_status(CRITERION_STATE_DISABLED), TERMINAL_RUN_ERROR, "disabled: exit 2 (never judged)");
}

int main(void) {
        test_wait_until();
        test_waits();
        test_status();
        return tap_done();
}
