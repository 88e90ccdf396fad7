/* The combined verdict of a suite (core/suites.h), as pure functions: a
 * scenario's verdict is that of the criteria judging its run, a suite's
 * that of its scenarios, each by the same rule: not_met when any is
 * not_met, else unknown when any is unknown, else met.  NONE (nothing
 * judged) leaves the other side as it is, so that a scenario no criterion
 * judges neither helps nor hurts; a suite where nothing at all was judged
 * ends unknown (suite_verdict_final()), never met by default. */
#pragma once

#include "criteria/criteria.h"

typedef enum SuiteVerdict {
        SUITE_VERDICT_NONE,          /* nothing judged yet */
        SUITE_VERDICT_MET,
        SUITE_VERDICT_UNKNOWN,
        SUITE_VERDICT_NOT_MET,
} SuiteVerdict;

/* The two verdicts combined by the rule above. */
SuiteVerdict suite_verdict_combine(SuiteVerdict a, SuiteVerdict b);

/* A criterion's state as a verdict: disabled is NONE (not counted, as
 * ?strict=1 does not count it). */
SuiteVerdict suite_verdict_from_state(CriterionState s);

/* The verdict shown for a suite: NONE becomes unknown. */
SuiteVerdict suite_verdict_final(SuiteVerdict v);

/* "met", "not_met", "unknown"; NULL for NONE. */
const char *suite_verdict_to_string(SuiteVerdict v);
