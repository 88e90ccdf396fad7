/* The pure parts of the daemon's suites: the combined verdict
 * (core/suite-verdict.h) and the pre-flight plan the daemon hands to its
 * thread (core/preflight.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "core/preflight.h"
#include "core/suite-verdict.h"
#include "tap.h"

static SuiteVerdict fold(const SuiteVerdict *v, size_t n) {
        SuiteVerdict acc = SUITE_VERDICT_NONE;

        for (size_t i = 0; i < n; i++)
                acc = suite_verdict_combine(acc, v[i]);
        return acc;
}

static void test_combine(void) {
        const SuiteVerdict met_only[] = { SUITE_VERDICT_MET, SUITE_VERDICT_MET };
        const SuiteVerdict with_unknown[] = { SUITE_VERDICT_MET, SUITE_VERDICT_UNKNOWN, SUITE_VERDICT_MET };
        const SuiteVerdict with_not_met[] = { SUITE_VERDICT_UNKNOWN, SUITE_VERDICT_NOT_MET, SUITE_VERDICT_MET };
        const SuiteVerdict not_met_first[] = { SUITE_VERDICT_NOT_MET, SUITE_VERDICT_UNKNOWN };
        const SuiteVerdict unjudged[] = { SUITE_VERDICT_NONE, SUITE_VERDICT_MET, SUITE_VERDICT_NONE };
        const SuiteVerdict nothing[] = { SUITE_VERDICT_NONE, SUITE_VERDICT_NONE };

        is_str(suite_verdict_to_string(fold(met_only, 2)), "met", "met and met: met");
        is_str(suite_verdict_to_string(fold(with_unknown, 3)), "unknown", "one unknown among met: unknown");
        is_str(suite_verdict_to_string(fold(with_not_met, 3)), "not_met", "one not_met wins over unknown and met");
        is_str(suite_verdict_to_string(fold(not_met_first, 2)), "not_met", "whatever the order");
        is_str(suite_verdict_to_string(fold(unjudged, 3)), "met", "a scenario nothing judges neither helps nor hurts");
        ok(fold(nothing, 2) == SUITE_VERDICT_NONE && suite_verdict_to_string(SUITE_VERDICT_NONE) == NULL,
           "nothing judged at all stays NONE, shown as null per scenario");
        is_str(suite_verdict_to_string(suite_verdict_final(fold(nothing, 2))), "unknown",
               "and a suite where nothing was judged ends unknown, never met");
        is_str(suite_verdict_to_string(suite_verdict_final(SUITE_VERDICT_NOT_MET)), "not_met", "final keeps not_met");
        ok(suite_verdict_from_state(CRITERION_STATE_MET) == SUITE_VERDICT_MET &&
           suite_verdict_from_state(CRITERION_STATE_NOT_MET) == SUITE_VERDICT_NOT_MET &&
           suite_verdict_from_state(CRITERION_STATE_UNKNOWN) == SUITE_VERDICT_UNKNOWN &&
           suite_verdict_from_state(CRITERION_STATE_DISABLED) == SUITE_VERDICT_NONE,
           "criterion states: met, not_met, unknown as such; disabled is not counted");
}

static void test_plan(void) {
        char path[] = "/tmp/test-suites-XXXXXX";
        const char *names[] = { "b", "a", "b", "missing" };
        PreflightCheck *checks = NULL;
        char *errors = NULL;
        Config *c = NULL;
        size_t n = 0;
        int fd, r;
        FILE *f;

        fd = mkstemp(path);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
                ok(0, "cannot write a config file");
                return;
        }
        fputs("[daemon]\ndatabase = /tmp/never-opened.db\n"
              "[target app]\nmemory_url = http://127.0.0.1:1/memory\n"
              "[postgres main]\nconninfo = host=127.0.0.1 password=hunter2\n"
              "[scenario a]\nbase_url = http://u:secret@127.0.0.1:2/x\nrate = 1/s\nduration = 1s\nrequest = GET /\n"
              "[scenario b]\nbase_url = http://127.0.0.1:3\nrate = 1/s\nduration = 1s\nrequest = GET /\n", f);
        fclose(f);
        r = config_load(path, &c, &errors);
        is_int(r, 0, "the plan's config loads");
        if (errors)
                printf("# %s", errors);
        r = c ? preflight_plan(c, names, 4, false, &checks, &n) : -EINVAL;
        is_int(r, 0, "a plan for b, a, b and a missing name");
        is_int(n, 4, "four checks: the target, b and a once each, postgres; no database check for the daemon");
        if (r >= 0 && n == 4) {
                is_str(checks[0].what, "target app /memory http://127.0.0.1:1/memory", "the target's /memory first");
                ok(checks[0].want_200 && checks[0].kind == PREFLIGHT_HTTP, "which must answer 200");
                is_str(checks[1].what, "scenario b base_url http://127.0.0.1:3/", "then b's base_url");
                is_str(checks[2].what, "scenario a base_url http://u:***@127.0.0.1:2/x/",
                       "then a's, its password not shown");
                is_str(checks[2].url, "http://u:secret@127.0.0.1:2/x/", "but used");
                ok(!checks[1].want_200 && checks[1].timeout_usec == PREFLIGHT_BASE_URL_TIMEOUT_USEC,
                   "a base_url may answer any status, within 3 s");
                is_str(checks[3].what, "postgres main", "then the database server");
                ok(checks[3].kind == PREFLIGHT_POSTGRES, "as a connection");
        }
        preflight_plan_free(checks, n);
        r = c ? preflight_plan(c, names, 1, true, &checks, &n) : -EINVAL;
        ok(r == 0 && n == 4 && checks[3].kind == PREFLIGHT_DATABASE && !strcmp(checks[3].what,
                                                                                 "database /tmp/never-opened.db"),
           "terminal mode's plan ends with the database");
        preflight_plan_free(checks, n);
        preflight_plan_free(NULL, 0);
        config_free(c);
        free(errors);
        unlink(path);
}

int main(void) {
        test_combine();
        test_plan();
        return tap_done();
}
