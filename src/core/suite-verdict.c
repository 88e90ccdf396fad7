/* The combined verdict of a suite: pure functions (core/suite-verdict.h). */
#include "core/suite-verdict.h"

SuiteVerdict suite_verdict_combine(SuiteVerdict a, SuiteVerdict b) {
        /* The enum is ordered by weight: the heavier one wins. */
        return a > b ? a : b;
}

SuiteVerdict suite_verdict_from_state(CriterionState s) {
        switch (s) {
        case CRITERION_STATE_MET:
                return SUITE_VERDICT_MET;
        case CRITERION_STATE_NOT_MET:
                return SUITE_VERDICT_NOT_MET;
        case CRITERION_STATE_DISABLED:
                return SUITE_VERDICT_NONE;
        default:
                return SUITE_VERDICT_UNKNOWN;
        }
}

SuiteVerdict suite_verdict_final(SuiteVerdict v) {
        return v == SUITE_VERDICT_NONE ? SUITE_VERDICT_UNKNOWN : v;
}

const char *suite_verdict_to_string(SuiteVerdict v) {
        switch (v) {
        case SUITE_VERDICT_MET:
                return "met";
        case SUITE_VERDICT_NOT_MET:
                return "not_met";
        case SUITE_VERDICT_UNKNOWN:
                return "unknown";
        default:
                return NULL;
        }
}
