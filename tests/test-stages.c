/* Unit tests for stages.c: the rate grammar, its errors, and the schedule's
 * arithmetic (rate, integral, inverse) against hand-computed values. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "load/stages.h"
#include "tap.h"
#include "util/util.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC

static LoadStages *parse(const char *text) {
        LoadStages *s = NULL;
        char *err = NULL;
        int r = stages_parse(text, &s, &err);

        if (r < 0)
                printf("# stages_parse(\"%s\"): %s\n", text, err ? err : "?");
        free(err);
        return s;
}

static uint64_t send_time(const LoadStages *s, uint64_t k) {
        uint64_t t = UINT64_MAX;

        if (stages_send_time(s, k, &t) < 0)
                return UINT64_MAX;
        return t;
}

static void test_rates(void) {
        double v = -1;
        char *err = NULL;

        ok(stages_parse_rate("100/s", &v, NULL) == 0 && v == 100, "100/s is 100 per second");
        ok(stages_parse_rate("90/m", &v, NULL) == 0 && fabs(v - 1.5) < 1e-12, "90/m is 1.5 per second");
        ok(stages_parse_rate("7200/h", &v, NULL) == 0 && fabs(v - 2) < 1e-12, "7200/h is 2 per second");
        ok(stages_parse_rate("0.5/s", &v, NULL) == 0 && v == 0.5, "fractions are accepted");
        is_int(stages_parse_rate("100", &v, &err), -EINVAL, "a rate without a unit is refused");
        is_str(err, "rate \"100\" needs a unit: /s, /m or /h", "and the reason says which units");
        is_int(stages_parse_rate("-5/s", &v, &err), -EINVAL, "a negative rate is refused");
        is_str(err, "rate \"-5/s\" is negative", "and the reason says it is negative");
        is_int(stages_parse_rate("fast", &v, &err), -EINVAL, "junk is refused");
        is_int(stages_parse_rate("inf/s", &v, NULL), -EINVAL, "inf is refused");
        is_int(stages_parse_rate("nan/s", &v, NULL), -EINVAL, "nan is refused");
        is_int(stages_parse_rate("10/d", &v, NULL), -EINVAL, "an unknown unit is refused");
        is_int(stages_parse_rate("2000000/s", &v, NULL), -EINVAL, "a rate above the maximum is refused");
        free(err);
}

static void test_constant(void) {
        LoadStages *s = NULL;
        char *err = NULL;

        ok(stages_new_constant(100, 10 * SEC, &s, NULL) == 0, "rate 100/s for 10s");
        is_int(stages_duration(s), 10 * SEC, "lasts 10s");
        is_int(stages_count(s), 1000, "sends 1000 requests");
        is_double(stages_rate_at(s, 3 * SEC), 100, 1e-9, "rate at 3s is 100/s");
        is_double(stages_rate_at(s, 10 * SEC), 0, 0, "rate is 0 from the end on");
        is_double(stages_expected(s, 2500 * MS), 250, 1e-9, "250 requests expected by 2.5s");
        is_int(send_time(s, 0), 5 * MS, "request 0 goes at 5 ms (half an interval in)");
        is_int(send_time(s, 1), 15 * MS, "request 1 at 15 ms");
        is_int(send_time(s, 999), 9995 * MS, "request 999 at 9.995 s: no drift over the run");
        is_int(send_time(s, 123456 % 1000), (123456 % 1000) * 10 * MS + 5 * MS, "request 456 at 4.565 s");
        uint64_t t;
        is_int(stages_send_time(s, 1000, &t), -ERANGE, "request 1000 is past the schedule");
        stages_free(s);

        is_int(stages_new_constant(0, 10 * SEC, &s, &err), -EINVAL, "rate 0 is refused");
        ok(err && strstr(err, "not above 0"), "with a reason: %s", err ? err : "(none)");
        is_int(stages_new_constant(10, 0, &s, NULL), -EINVAL, "duration 0 is refused");
        free(err);
}

/* The example from the grammar: 0 -> 20/s over 30 s, -> 50/s over 50 min,
 * -> 0 over 5 min.  Expected requests: 300 + 105000 + 7500 = 112800. */
static void test_ramps(void) {
        LoadStages *s = parse("30s:0/s..20/s, 50m:50/s, 5m:0/s");
        const LoadStage *st;

        ok(s != NULL, "the example parses");
        if (!s)
                return;
        is_int(stages_n(s), 3, "three stages");
        st = stages_get(s, 1);
        ok(st && st->from_rps == 20 && st->to_rps == 50, "stage 2 ramps from stage 1's end (20/s) to 50/s");
        is_int(stages_duration(s), 3330 * SEC, "lasts 30s + 50m + 5m");
        is_double(stages_rate_at(s, 15 * SEC), 10, 1e-9, "halfway up the first ramp: 10/s");
        is_double(stages_rate_at(s, 30 * SEC), 20, 1e-9, "at the first boundary: 20/s");
        is_double(stages_rate_at(s, 1530 * SEC), 35, 1e-9, "halfway through stage 2: 35/s");
        is_double(stages_rate_at(s, 3180 * SEC), 25, 1e-9, "halfway down the last ramp: 25/s");
        is_double(stages_expected(s, 30 * SEC), 300, 1e-9, "300 requests in the first ramp");
        is_double(stages_expected(s, 15 * SEC), 75, 1e-9, "75 in its first half (quadratic)");
        is_double(stages_expected(s, 3030 * SEC), 105300, 1e-6, "105300 by the end of stage 2");
        is_int(stages_count(s), 112800, "112800 requests in all");
        /* 0.5 = (2/3) x^2 / 2  =>  x = sqrt(1.5) */
        is_int(send_time(s, 0), 1224745, "request 0 from a zero start rate at sqrt(1.5) s");
        is_int(send_time(s, 299), 29974990, "request 299 at sqrt(898.5) s");
        /* 20 x + 0.005 x^2 = 2499.5 */
        is_int(send_time(s, 2799), 151296773, "request 2799 at 151.296773 s (inside stage 2)");
        /* 50 x - x^2 / 12 = 7499.5: the ramp down to 0 */
        is_int(send_time(s, 112799), 3327550510ULL, "the last request at 3327.550510 s, on the way down");
        for (uint64_t k = 0; k < stages_count(s); k += 997)
                if (fabs(stages_expected(s, send_time(s, k)) - (double) k - 0.5) > 1e-3) {
                        ok(0, "send time is the inverse of the integral at k=%llu", (unsigned long long) k);
                        break;
                }
        ok(1, "the integral at each send time is k + 1/2 (every 997th request)");
        stages_free(s);
}

static void test_zero_stage_and_flat_slope(void) {
        LoadStages *s = parse("10s:10/s..10/s, 5s:0/s..0/s, 10s:10/s..10/s");

        ok(s != NULL, "a schedule with a zero-rate pause parses");
        if (s) {
                is_int(stages_count(s), 200, "200 requests: none in the pause");
                is_int(send_time(s, 99), 9950 * MS, "request 99 at 9.95 s");
                is_int(send_time(s, 100), 15050 * MS, "request 100 jumps the pause: 15.05 s");
                is_double(stages_rate_at(s, 12 * SEC), 0, 0, "rate 0 in the pause");
        }
        stages_free(s);

        s = parse("10s:100/s..100.000001/s");
        ok(s != NULL, "a near-flat ramp parses");
        if (s) {
                is_int(send_time(s, 0), 5 * MS, "near-zero slope: request 0 still at 5 ms");
                is_int(send_time(s, 500), 5005 * MS, "request 500 at 5.005 s");
        }
        stages_free(s);

        s = parse(" 1m : 60/m ");
        ok(s != NULL, "per-minute rates and spaces");
        if (s) {
                is_double(stages_expected(s, 60 * SEC), 30, 1e-9, "0 -> 1/s over a minute: 30 requests");
                is_int(send_time(s, 0), 7745967, "request 0 at sqrt(60) s");
        }
        stages_free(s);

        s = parse("10s:20/s..0/s");
        ok(s != NULL, "an explicit ramp down");
        if (s) {
                is_int(stages_count(s), 100, "20 -> 0 over 10 s: 100 requests");
                is_int(send_time(s, 99), 9292893, "the last at 10 - sqrt(0.5) s (where 0.5 requests remain)");
        }
        stages_free(s);
}

static void expect_error(const char *text, const char *want) {
        LoadStages *s = NULL;
        char *err = NULL;
        int r = stages_parse(text, &s, &err);

        ok(r == -EINVAL && !s && err && strstr(err, want), "\"%s\" is refused: %s", text, err ? err : "(no reason)");
        free(err);
        stages_free(s);
}

static void test_errors(void) {
        expect_error("10s:0/s", "every rate is 0");
        expect_error("10s:0/s, 5s:0/s..0/s", "every rate is 0");
        expect_error("10s:-5/s", "stage 1 \"10s:-5/s\": rate \"-5/s\" is negative");
        expect_error("10s:10/s, 5x:10/s", "stage 2 \"5x:10/s\": \"5x\" is not a duration");
        expect_error("0s:10/s", "is not a duration above 0");
        expect_error("10s:10/s,,5s:1/s", "stage 2 is empty");
        expect_error("10s:10/s,", "stage 2 is empty");
        expect_error("", "no stages given");
        expect_error("   ", "no stages given");
        expect_error("10s", "want DURATION:RATE");
        expect_error("10s:10/s junk", "needs a unit");
        expect_error("10s:5/s..", "is not a rate");
        expect_error("10s:..5/s", "is not a rate");
        expect_error("10s:10", "needs a unit");
}

int main(void) {
        test_rates();
        test_constant();
        test_ramps();
        test_zero_stage_and_flat_slope();
        test_errors();
        return tap_done();
}
