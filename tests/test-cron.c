/* Unit tests for load/cron.c: parsing (fields, ranges, steps, lists, names,
 * nicknames, every error with its reason), the canonical form, the next
 * firing time against hand-computed answers (month ends, leap years, year
 * wrap, the day-of-month/day-of-week rule, DST in Europe/Berlin), and the
 * scheduler's skip decision. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "load/cron.h"
#include "tap.h"
#include "util/util.h"

#define ALL_MINUTES ((UINT64_C(1) << 60) - 1)

static CronExpr parse_ok(const char *text) {
        CronExpr c = {};
        char *error = NULL;
        int r = cron_parse(text, &c, &error);

        if (r < 0)
                printf("# cron_parse(\"%s\"): %s\n", text, error ? error : "(no reason)");
        free(error);
        return c;
}

static void check_error(const char *text, const char *want) {
        CronExpr c = {};
        char *error = NULL;
        int r = cron_parse(text, &c, &error);

        is_int(r, -EINVAL, "\"%s\" is rejected", text);
        is_str(error, want, "\"%s\" says why", text);
        free(error);
}

static void set_tz(const char *tz) {
        setenv("TZ", tz, 1);
        tzset();
}

/* "2026-03-29 01:00" (UTC) as a time_t. */
static time_t utc(const char *s) {
        struct tm tm = {};

        if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                   &tm.tm_sec) < 5)
                abort();
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return timegm(&tm);
}

static const char *fmt_utc(time_t t, char buf[32]) {
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
        return buf;
}

/* cron_next(text, after) is `want` (all in UTC). */
static void check_next(const char *text, const char *after, const char *want) {
        CronExpr c = parse_ok(text);
        char got[32] = "(error)";
        time_t t = 0;
        int r = cron_next(&c, utc(after), &t);

        if (r >= 0)
                fmt_utc(t, got);
        is_str(got, want, "\"%s\" after %s UTC fires at %s UTC", text, after, want);
}

static void test_fields(void) {
        CronExpr c = parse_ok("* * * * *");

        ok(c.minutes == ALL_MINUTES, "* in minutes is 0-59");
        is_int(c.hours, 0xFFFFFF, "* in hours is 0-23");
        is_int(c.mdays, 0xFFFFFFFEu, "* in days of month is 1-31");
        is_int(c.months, 0x1FFE, "* in months is 1-12");
        is_int(c.wdays, 0x7F, "* in days of week is 0-6");
        is_int(c.flags, CRON_MINUTE_STAR | CRON_HOUR_STAR | CRON_DOM_STAR | CRON_MONTH_STAR | CRON_DOW_STAR,
               "every field is flagged as starting with *");

        c = parse_ok("5 4 3 2 1");
        ok(c.minutes == UINT64_C(1) << 5, "minute 5");
        is_int(c.hours, 1 << 4, "hour 4");
        is_int(c.mdays, 1 << 3, "day of month 3");
        is_int(c.months, 1 << 2, "month 2");
        is_int(c.wdays, 1 << 1, "day of week 1");
        is_int(c.flags, 0, "no field starts with *");

        c = parse_ok("0 0 5,*/10 * 1");
        is_int(c.flags & CRON_DOM_STAR, 0, "a field is '*'-flagged by its first character only (\"5,*/10\" is restricted)");
        c = parse_ok("0 0 */10,5 * 1");
        is_int(c.flags & CRON_DOM_STAR, CRON_DOM_STAR, "\"*/10,5\" starts with '*'");

        c = parse_ok("\t0  0\t* *   *  ");
        ok(c.minutes == 1 && c.hours == 1, "tabs and runs of blanks separate fields");
        c = parse_ok("59 23 31 12 6");
        ok(c.minutes == UINT64_C(1) << 59 && c.hours == 1u << 23 && c.mdays == 1u << 31 && c.months == 1 << 12 &&
                   c.wdays == 1 << 6,
           "the top of every field is accepted");
}

static void test_ranges_steps_lists(void) {
        CronExpr c = parse_ok("1-5 9-17 10-12 3-4 1-5");

        ok(c.minutes == 0x3E, "minutes 1-5 are bits 1..5");
        is_int(c.hours, 0x3FE00, "hours 9-17");
        is_int(c.mdays, 0x1C00, "days 10-12");
        is_int(c.months, 0x18, "months 3-4");
        is_int(c.wdays, 0x3E, "days of week 1-5");

        c = parse_ok("*/15 */6 */10 */5 */2");
        ok(c.minutes == ((UINT64_C(1) << 0) | (UINT64_C(1) << 15) | (UINT64_C(1) << 30) | (UINT64_C(1) << 45)),
           "*/15 minutes: 0,15,30,45");
        is_int(c.hours, (1 << 0) | (1 << 6) | (1 << 12) | (1 << 18), "*/6 hours: 0,6,12,18");
        is_int(c.mdays, (1u << 1) | (1u << 11) | (1u << 21) | (1u << 31),
               "*/10 days of month start at 1: 1,11,21,31");
        is_int(c.months, (1 << 1) | (1 << 6) | (1 << 11), "*/5 months start at 1: 1,6,11");
        is_int(c.wdays, 0x55, "*/2 days of week: 0,2,4,6");

        c = parse_ok("5-30/10 1-23/11 * * *");
        ok(c.minutes == ((UINT64_C(1) << 5) | (UINT64_C(1) << 15) | (UINT64_C(1) << 25)),
           "5-30/10 counts from the range start: 5,15,25");
        is_int(c.hours, (1 << 1) | (1 << 12) | (1 << 23), "1-23/11: 1,12,23 (the range end included)");

        c = parse_ok("0,30,45-47 0,12 1,15,31 1,7 0,3");
        ok(c.minutes == ((UINT64_C(1) << 0) | (UINT64_C(1) << 30) | (UINT64_C(7) << 45)), "list 0,30,45-47");
        is_int(c.hours, (1 << 0) | (1 << 12), "list 0,12");
        is_int(c.mdays, (1u << 1) | (1u << 15) | (1u << 31), "list 1,15,31");
        is_int(c.months, (1 << 1) | (1 << 7), "list 1,7");
        is_int(c.wdays, (1 << 0) | (1 << 3), "list 0,3");

        c = parse_ok("0-59/20,7 0 * * *");
        ok(c.minutes == ((UINT64_C(1) << 0) | (UINT64_C(1) << 7) | (UINT64_C(1) << 20) | (UINT64_C(1) << 40)),
           "a stepped range and a number in one list");
        c = parse_ok("*/60 */24 */31 */12 */7");
        ok(c.minutes == 1 && c.hours == 1 && c.mdays == 2 && c.months == 2 && c.wdays == 1,
           "a step as large as the field gives its first value only");
        c = parse_ok("7-7 0 1 1 *");
        ok(c.minutes == UINT64_C(1) << 7, "a one-value range A-A");
}

static void test_names(void) {
        CronExpr c = parse_ok("0 0 * jan-mar mon-fri");

        is_int(c.months, 0xE, "jan-mar is 1-3");
        is_int(c.wdays, 0x3E, "mon-fri is 1-5");
        c = parse_ok("0 0 * DEC,Jun SUN,sat");
        is_int(c.months, (1 << 12) | (1 << 6), "names in any case: DEC,Jun");
        is_int(c.wdays, (1 << 0) | (1 << 6), "SUN,sat");
        c = parse_ok("0 0 * feb-nov/3 sun-sat/3");
        is_int(c.months, (1 << 2) | (1 << 5) | (1 << 8) | (1 << 11), "feb-nov/3: 2,5,8,11");
        is_int(c.wdays, (1 << 0) | (1 << 3) | (1 << 6), "sun-sat/3: 0,3,6");
        c = parse_ok("0 0 * * 7");
        is_int(c.wdays, 1, "7 is Sunday");
        c = parse_ok("0 0 * * 5-7");
        is_int(c.wdays, (1 << 0) | (1 << 5) | (1 << 6), "5-7 is Friday to Sunday");
        c = parse_ok("0 0 * * 0-7");
        is_int(c.wdays, 0x7F, "0-7 is every day");
        c = parse_ok("0 0 * * fri-7");
        is_int(c.wdays, (1 << 0) | (1 << 5) | (1 << 6), "a name and a number in one range");
}

static void test_nicknames(void) {
        static const struct {
                const char *nick, *fields;
        } cases[] = {
                { "@hourly", "0 * * * *" },   { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
                { "@weekly", "0 0 * * 0" },   { "@monthly", "0 0 1 * *" }, { "@yearly", "0 0 1 1 *" },
                { "@annually", "0 0 1 1 *" }, { "@Daily", "0 0 * * *" },   { "  @weekly  ", "0 0 * * 0" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CronExpr a = parse_ok(cases[i].nick), b = parse_ok(cases[i].fields);
                char buf[64];

                ok(memcmp(&a, &b, sizeof a) == 0, "%s is \"%s\"", cases[i].nick, cases[i].fields);
                cron_format(&a, buf, sizeof buf);
                is_str(buf, cases[i].fields, "%s formats as its five fields", cases[i].nick);
        }
}

static void test_errors(void) {
        check_error("60 * * * *", "minute: 60 is out of range 0-59");
        check_error("* 24 * * *", "hour: 24 is out of range 0-23");
        check_error("* * 0 * *", "day-of-month: 0 is out of range 1-31");
        check_error("* * 32 * *", "day-of-month: 32 is out of range 1-31");
        check_error("* * * 0 *", "month: 0 is out of range 1-12");
        check_error("* * * 13 *", "month: 13 is out of range 1-12");
        check_error("* * * * 8", "day-of-week: 8 is out of range 0-7");
        check_error("99999999999 * * * *", "minute: 99999999999 is out of range 0-59");
        check_error("1-60 * * * *", "minute: 60 is out of range 0-59");
        check_error("*/0 * * * *", "minute: step 0 in \"*/0\" must be at least 1");
        check_error("* 1-5/0 * * *", "hour: step 0 in \"1-5/0\" must be at least 1");
        check_error("*/61 * * * *", "minute: step 61 in \"*/61\" is larger than the field (at most 60)");
        check_error("* * * * */8", "day-of-week: step 8 in \"*/8\" is larger than the field (at most 7)");
        check_error("*/ * * * *", "minute: step missing or not a number in \"*/\"");
        check_error("*/x * * * *", "minute: step missing or not a number in \"*/x\"");
        check_error("5/10 * * * *", "minute: a step needs a range or '*' in \"5/10\" (write 5-59/...)");
        check_error("1,,2 * * * *", "minute: empty item in list");
        check_error("1, * * * *", "minute: empty item in list");
        check_error(", * * * *", "minute: empty item in list");
        check_error("1- * * * *", "minute: a value is missing");
        check_error("-5 * * * *", "minute: \"-\" is not a number");
        check_error("5-1 * * * *", "minute: range \"5-1\" runs backwards");
        check_error("* * * * sat-sun", "day-of-week: range \"sat-sun\" runs backwards");
        check_error("1-5x * * * *", "minute: unexpected \"x\" in \"1-5x\"");
        check_error("** * * * *", "minute: unexpected \"*\" in \"**\"");
        check_error("x * * * *", "minute: \"x\" is not a number");
        check_error("* * * foo *", "month: \"foo\" is not a number or a three-letter name");
        check_error("* * * * monday", "day-of-week: \"monday\" is not a number or a three-letter name");
        check_error("* * * * jan", "day-of-week: \"jan\" is not a number or a three-letter name");
        check_error("* * mon * *", "day-of-month: \"mon\" is not a number");
        check_error("* * * * * *",
                    "expected 5 fields (minute hour day-of-month month day-of-week) or a @nickname, got 6");
        check_error("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week) or a @nickname, got 4");
        check_error("@daily *", "expected 5 fields (minute hour day-of-month month day-of-week) or a @nickname, got 2");
        check_error("", "empty cron expression");
        check_error("   ", "empty cron expression");
        check_error(NULL, "empty cron expression");
        check_error("@reboot", "unknown nickname \"@reboot\" (known: @hourly, @daily, @midnight, @weekly, "
                               "@monthly, @yearly, @annually)");
        check_error("@", "unknown nickname \"@\" (known: @hourly, @daily, @midnight, @weekly, "
                         "@monthly, @yearly, @annually)");
        is_int(cron_parse("61 * * * *", &(CronExpr) {}, NULL), -EINVAL, "ret_error may be NULL");
}

static void test_format(void) {
        static const struct {
                const char *in, *want;
        } cases[] = {
                { "*/15 9-17 * * 1-5", "*/15 9-17 * * 1-5" },
                { "0 3 * * *", "0 3 * * *" },
                { "0 0 * * 7", "0 0 * * 0" },
                { "0 0 * * 5-7", "0 0 * * 0,5,6" },
                { "0,1,2,3,10 * * * *", "0-3,10 * * * *" },
                { "0 12 1-31 * mon", "0 12 1-31 * 1" },
                { "5-30/10 * * jan-mar *", "5,15,25 * * 1-3 *" },
                { "*/3,1 * * * *", "*/3,1 * * * *" },
                { "*,5 * * * *", "* * * * *" },
                { "0 0 */10 */5 *", "0 0 */10 */5 *" },
                { "*/60 * * * *", "*/60 * * * *" },
                { "0 0 1 * 0-7", "0 0 1 * 0-6" },
                { "0,59 23 30,31 11,12 6", "0,59 23 30,31 11,12 6" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CronExpr a = parse_ok(cases[i].in), b;
                char buf[128];
                size_t n = cron_format(&a, buf, sizeof buf);

                is_str(buf, cases[i].want, "\"%s\" formats as \"%s\"", cases[i].in, cases[i].want);
                is_int(n, strlen(cases[i].want), "cron_format returns the length");
                b = parse_ok(buf);
                ok(memcmp(&a, &b, sizeof a) == 0, "\"%s\" parses back to the same expression", buf);
        }

        {
                CronExpr c = parse_ok("0-3,10 * * * *");
                char small[5] = "XXXX";

                is_int(cron_format(&c, small, sizeof small), 14, "a short buffer still gets the full length");
                is_str(small, "0-3,", "and is cut and terminated like snprintf");
        }
}

static void test_next_basic(void) {
        set_tz("UTC");
        check_next("* * * * *", "2026-01-01 00:00:00", "2026-01-01 00:01:00");
        check_next("* * * * *", "2026-01-01 00:00:30", "2026-01-01 00:01:00");
        check_next("* * * * *", "2026-01-01 00:00:59", "2026-01-01 00:01:00");
        check_next("30 * * * *", "2026-01-01 00:30:00", "2026-01-01 01:30:00");
        check_next("0 3 * * *", "2026-01-01 03:00:00", "2026-01-02 03:00:00");
        check_next("0 3 * * *", "2026-01-01 02:59:59", "2026-01-01 03:00:00");
        check_next("*/15 9-17 * * 1-5", "2026-01-02 17:45:00", "2026-01-05 09:00:00"); /* Fri to Mon */
        check_next("5-30/10 * * * *", "2026-01-01 00:05:00", "2026-01-01 00:15:00");
        check_next("5-30/10 * * * *", "2026-01-01 00:25:00", "2026-01-01 01:05:00");
        check_next("*/10 * * * *", "2026-01-01 00:59:00", "2026-01-01 01:00:00");
        check_next("0 0 */10 * *", "2026-01-01 00:00:00", "2026-01-11 00:00:00");
        check_next("0 0 */10 * *", "2026-01-21 00:00:00", "2026-01-31 00:00:00");
        check_next("0 12 * 6-8 *", "2026-01-01 00:00:00", "2026-06-01 12:00:00");
        check_next("0 12 * 6-8 *", "2026-08-31 12:00:00", "2027-06-01 12:00:00");
}

static void test_next_calendar(void) {
        set_tz("UTC");
        /* Ends of months. */
        check_next("0 0 1 * *", "2026-01-31 12:00:00", "2026-02-01 00:00:00");
        check_next("0 0 31 * *", "2026-04-01 00:00:00", "2026-05-31 00:00:00");
        check_next("0 0 31 * *", "2026-01-31 00:00:00", "2026-03-31 00:00:00");
        check_next("0 0 30 * *", "2026-01-30 00:00:00", "2026-03-30 00:00:00");
        check_next("59 23 30 4 *", "2026-04-01 00:00:00", "2026-04-30 23:59:00");
        /* Leap years. */
        check_next("0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-29 00:00:00");
        check_next("0 0 29 2 *", "2024-02-28 23:59:00", "2024-02-29 00:00:00");
        check_next("0 0 29 2 *", "2096-03-01 00:00:00", "2104-02-29 00:00:00"); /* 2100 is no leap year */
        check_next("0 0 29 2 *", "1999-03-01 00:00:00", "2000-02-29 00:00:00"); /* 2000 is */
        check_next("0 0 28-31 2 *", "2100-02-28 00:00:00", "2101-02-28 00:00:00");
        check_next("0 0 28-31 2 *", "2000-02-28 00:00:00", "2000-02-29 00:00:00");
        check_next("0 0 31 * *", "2100-01-31 00:00:00", "2100-03-31 00:00:00");
        check_next("0 0 * 2 *", "2028-02-28 12:00:00", "2028-02-29 00:00:00");
        check_next("0 0 * 2 *", "2027-02-28 12:00:00", "2028-02-01 00:00:00");
        /* Year wrap. */
        check_next("59 23 31 12 *", "2026-12-31 23:59:00", "2027-12-31 23:59:00");
        check_next("0 0 1 1 *", "2026-12-31 23:59:59", "2027-01-01 00:00:00");
        check_next("* * * * *", "2026-12-31 23:59:00", "2027-01-01 00:00:00");
        check_next("0 0 * * mon", "2026-12-31 00:00:00", "2027-01-04 00:00:00");
}

static void test_next_day_rule(void) {
        set_tz("UTC");
        /* 2026-02-07 is a Saturday, 2026-02-10 a Tuesday, 2026-02-13 a Friday. */
        check_next("0 0 10 * 5", "2026-02-07 00:00:00", "2026-02-10 00:00:00"); /* the 10th, not a Friday */
        check_next("0 0 10 * 5", "2026-02-10 00:00:00", "2026-02-13 00:00:00"); /* a Friday, not the 10th */
        check_next("0 0 10 * fri", "2026-02-13 00:00:00", "2026-02-20 00:00:00");
        check_next("0 0 1-7 * mon", "2026-02-07 00:00:00", "2026-02-09 00:00:00");
        /* One side starts with '*': a day must match both. */
        check_next("0 0 * * 5", "2026-02-07 00:00:00", "2026-02-13 00:00:00");
        check_next("0 0 */1 * 5", "2026-02-07 00:00:00", "2026-02-13 00:00:00");
        check_next("0 0 */2 * 5", "2026-02-07 00:00:00", "2026-02-13 00:00:00"); /* odd days and Fridays */
        check_next("0 0 */2 * 5", "2026-02-13 00:00:00", "2026-02-27 00:00:00");
        check_next("0 0 10 * *", "2026-02-07 00:00:00", "2026-02-10 00:00:00");
        check_next("0 0 10 * */7", "2026-02-07 00:00:00", "2026-05-10 00:00:00"); /* a Sunday the 10th */
        /* A day that never comes, saved by the rule. */
        check_next("0 0 31 2 mon", "2026-02-07 00:00:00", "2026-02-09 00:00:00");
}

static void test_next_never(void) {
        static const char *const never[] = { "0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 */7" };
        CronExpr c = parse_ok("* * * * *");
        time_t t = 0;

        set_tz("UTC");
        for (size_t i = 0; i < ELEMENTSOF(never); i++) {
                CronExpr n = parse_ok(never[i]);
                uint64_t start = now_monotonic_usec();
                int r = cron_next(&n, utc("2026-01-01 00:00"), &t);

                is_int(r, -ERANGE, "\"%s\" can never fire: -ERANGE", never[i]);
                ok(now_monotonic_usec() - start < 100 * USEC_PER_MSEC, "and says so in well under 100 ms");
        }
        is_int(cron_next(&c, -1, &t), -ERANGE, "a time before 1970 is -ERANGE");
        is_int(cron_next(&c, (time_t) 1 << 60, &t), -ERANGE, "a time far in the future is -ERANGE");
}

/* Europe/Berlin 2026: CET -> CEST on Sun 29 March at 01:00 UTC (02:00 local
 * jumps to 03:00); CEST -> CET on Sun 25 October at 01:00 UTC (03:00 local
 * goes back to 02:00). */
static void test_next_dst(void) {
        static const char *const zones[] = { "Europe/Berlin", "America/Havana", "Australia/Lord_Howe" };

        /* Without the zone file glibc would silently use UTC: say so instead. */
        for (size_t i = 0; i < ELEMENTSOF(zones); i++) {
                char path[128];

                snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zones[i]);
                ok(access(path, R_OK) == 0, "%s exists (Debian's tzdata package)", path);
        }
        set_tz("Europe/Berlin");
        check_next("0 1 * * *", "2026-03-28 12:00:00", "2026-03-29 00:00:00");
        /* Spring: a fixed time skipped by the jump fires at the first minute after it, once. */
        check_next("30 2 * * *", "2026-03-28 12:00:00", "2026-03-29 01:00:00");
        check_next("30 2 * * *", "2026-03-29 01:00:00", "2026-03-30 00:30:00");
        check_next("0,30 2,3 * * *", "2026-03-29 00:30:00", "2026-03-29 01:00:00");
        check_next("0,30 2,3 * * *", "2026-03-29 01:00:00", "2026-03-29 01:30:00");
        check_next("0 3 * * *", "2026-03-28 12:00:00", "2026-03-29 01:00:00");
        check_next("59 1 * * *", "2026-03-28 12:00:00", "2026-03-29 00:59:00");
        /* Spring: a wildcard expression catches nothing up. */
        check_next("15 * * * *", "2026-03-29 00:20:00", "2026-03-29 01:15:00");
        check_next("*/30 * * * *", "2026-03-29 00:45:00", "2026-03-29 01:00:00");
        /* Autumn: a fixed time in the repeated hour fires in the first pass only. */
        check_next("30 2 * * *", "2026-10-24 12:00:00", "2026-10-25 00:30:00");
        check_next("30 2 * * *", "2026-10-25 00:30:00", "2026-10-26 01:30:00");
        check_next("30 2 * * *", "2026-10-25 01:10:00", "2026-10-26 01:30:00");
        check_next("0,30 2 * * *", "2026-10-25 00:45:00", "2026-10-26 01:00:00");
        check_next("0 3 * * *", "2026-10-25 00:45:00", "2026-10-25 02:00:00");
        /* Autumn: a wildcard expression fires in both passes. */
        check_next("*/30 * * * *", "2026-10-25 00:45:00", "2026-10-25 01:00:00");
        check_next("*/30 * * * *", "2026-10-25 01:00:00", "2026-10-25 01:30:00");
        check_next("*/30 * * * *", "2026-10-25 01:30:00", "2026-10-25 02:00:00");
        check_next("30 * * * *", "2026-10-25 00:00:00", "2026-10-25 00:30:00");
        check_next("30 * * * *", "2026-10-25 00:30:00", "2026-10-25 01:30:00");
        /* Far from a change, local time is simply CET or CEST. */
        check_next("@daily", "2026-07-01 12:00:00", "2026-07-01 22:00:00");
        check_next("@daily", "2026-12-01 12:00:00", "2026-12-01 23:00:00");
        check_next("0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-28 23:00:00");

        /* Havana skips midnight (00:00 CST -> 01:00 CDT on 8 March 2026). */
        set_tz("America/Havana");
        check_next("@daily", "2026-03-07 12:00:00", "2026-03-08 05:00:00");
        check_next("@daily", "2026-03-08 05:00:00", "2026-03-09 04:00:00");
        /* Lord Howe Island jumps by 30 minutes (02:00 -> 02:30 on 4 October 2026). */
        set_tz("Australia/Lord_Howe");
        check_next("15 2 * * *", "2026-10-03 12:00:00", "2026-10-03 15:30:00");
        check_next("45 2 * * *", "2026-10-03 12:00:00", "2026-10-03 15:45:00");
        set_tz("UTC");
}

static uint64_t xorshift(uint64_t *x) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        return *x;
}

/* A random wildcard field item list ("*", "*\/S", "A", "A-B", "A-B/S", lists). */
static void random_field(uint64_t *x, unsigned lo, unsigned hi, bool star_first, char *out, size_t size) {
        size_t n = 0;
        unsigned items = 1 + (unsigned) (xorshift(x) % 3);

        for (unsigned i = 0; i < items; i++) {
                unsigned a = lo + (unsigned) (xorshift(x) % (hi - lo + 1));
                unsigned b = a + (unsigned) (xorshift(x) % (hi - a + 1));
                unsigned kind = i == 0 && star_first ? (unsigned) (xorshift(x) % 2) : 2 + (unsigned) (xorshift(x) % 3);

                n += (size_t) snprintf(out + n, size - n, "%s", i ? "," : "");
                if (kind == 0)
                        n += (size_t) snprintf(out + n, size - n, "*");
                else if (kind == 1)
                        n += (size_t) snprintf(out + n, size - n, "*/%u", 1 + (unsigned) (xorshift(x) % 7));
                else if (kind == 2)
                        n += (size_t) snprintf(out + n, size - n, "%u", a);
                else if (kind == 3)
                        n += (size_t) snprintf(out + n, size - n, "%u-%u", a, b);
                else
                        n += (size_t) snprintf(out + n, size - n, "%u-%u/%u", a, b, 1 + (unsigned) (xorshift(x) % 5));
        }
}

/* The first minute after `after` whose local time matches, one minute at a
 * time: what cron_next() must give for a wildcard expression in any zone. */
static int brute_next(const CronExpr *c, time_t after, time_t limit, time_t *ret) {
        for (time_t t = after - after % 60 + 60; t <= limit; t += 60) {
                struct tm tm;

                localtime_r(&t, &tm);
                if (cron_matches(c, &tm)) {
                        *ret = t;
                        return 0;
                }
        }
        return -ERANGE;
}

/* Random expressions against the minute-by-minute search: any kind in UTC,
 * wildcard ones (the minute field starts with '*') around Berlin's DST
 * changes, where fixed-time ones follow the rules tested above instead. */
static void test_next_brute_force(void) {
        static const char *const zones[] = { "UTC", "Europe/Berlin" };
        uint64_t x = 0x9E3779B97F4A7C15ULL;
        int mismatches = 0, compared = 0;

        for (size_t z = 0; z < ELEMENTSOF(zones); z++) {
                set_tz(zones[z]);
                for (int i = 0; i < 300; i++) {
                        char f[5][64], text[400];
                        CronExpr c;
                        time_t after = utc(i % 2 ? "2026-03-28 00:00" : "2026-10-24 00:00") +
                                       (time_t) (xorshift(&x) % (3 * 86400)),
                               got = 0, want = 0;
                        int r1, r2;

                        random_field(&x, 0, 59, true, f[0], sizeof f[0]);
                        if (z > 0) {
                                /* Keep it a wildcard expression where DST changes. */
                                f[0][0] = '*';
                                if (f[0][1] && f[0][1] != '/' && f[0][1] != ',')
                                        memmove(f[0] + 1, f[0] + strcspn(f[0], ","),
                                                strlen(f[0] + strcspn(f[0], ",")) + 1);
                        }
                        random_field(&x, 0, 23, true, f[1], sizeof f[1]);
                        random_field(&x, 1, 31, true, f[2], sizeof f[2]);
                        if (z == 0 && i % 3 == 0)
                                random_field(&x, 1, 12, false, f[3], sizeof f[3]);
                        else
                                snprintf(f[3], sizeof f[3], "*");
                        random_field(&x, 0, 7, true, f[4], sizeof f[4]);
                        snprintf(text, sizeof text, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
                        c = parse_ok(text);
                        r1 = cron_next(&c, after, &got);
                        r2 = brute_next(&c, after, after + 62 * 86400, &want);
                        if (r2 < 0)
                                continue;
                        compared++;
                        if (r1 < 0 || got != want) {
                                if (mismatches++ < 5)
                                        printf("# %s: \"%s\" after %lld: got %lld (r=%d), want %lld\n", zones[z], text,
                                               (long long) after, (long long) got, r1, (long long) want);
                        }
                }
        }
        ok(compared > 350, "%d random expressions compared with a minute-by-minute search", compared);
        is_int(mismatches, 0, "cron_next() agrees with it on every one");
        set_tz("UTC");
}

static void test_matches(void) {
        CronExpr c = parse_ok("0 0 10 * 5");
        struct tm tm = { .tm_year = 126, .tm_mon = 1, .tm_mday = 13, .tm_wday = 5 };

        ok(cron_matches(&c, &tm), "Friday 13 Feb 2026 at 00:00 matches \"0 0 10 * 5\"");
        tm.tm_min = 1;
        ok(!cron_matches(&c, &tm), "00:01 does not");
        c = parse_ok("*/3 5 * * *");
        tm = (struct tm) { .tm_year = 126, .tm_mon = 1, .tm_mday = 11, .tm_hour = 5, .tm_min = 52 };
        ok(!cron_matches(&c, &tm), "05:52 does not match \"*/3 5 * * *\" (a later minute of the hour does)");
        tm.tm_hour = 4;
        tm.tm_min = 0;
        ok(!cron_matches(&c, &tm), "04:00 does not match it (a later hour of the day does)");
        c = parse_ok("0 0 10 * 5");
        tm = (struct tm) { .tm_year = 126, .tm_mon = 1, .tm_mday = 11, .tm_wday = 3 };
        ok(!cron_matches(&c, &tm), "Wednesday 11 Feb does not");
        tm.tm_mon = 12;
        ok(!cron_matches(&c, &tm), "an invalid month never matches");
}

static void test_tick(void) {
        CronExpr c = parse_ok("0 * * * *");
        CronAction a = CRON_ACTION_START;
        time_t next = 0;
        char buf[32];

        set_tz("UTC");
        is_int(cron_tick(&c, utc("2026-01-01 10:00"), utc("2026-01-01 10:00"), true, &a, &next), 0, "tick ok");
        is_int(a, CRON_ACTION_SKIP_ACTIVE, "a firing while a run is active is skipped");
        is_str(fmt_utc(next, buf), "2026-01-01 11:00:00", "and the next one is armed");
        cron_tick(&c, utc("2026-01-01 10:00"), utc("2026-01-01 10:00:01"), false, &a, &next);
        is_int(a, CRON_ACTION_START, "with no run active it starts");
        is_str(fmt_utc(next, buf), "2026-01-01 11:00:00", "and arms the next hour");
        cron_tick(&c, utc("2026-01-01 10:00"), utc("2026-01-01 13:30"), false, &a, &next);
        is_int(a, CRON_ACTION_START, "a late timer starts once");
        is_str(fmt_utc(next, buf), "2026-01-01 14:00:00", "and the firings it missed are not replayed");
        cron_tick(&c, utc("2026-01-01 10:00"), utc("2026-01-01 09:59:59"), false, &a, &next);
        is_str(fmt_utc(next, buf), "2026-01-01 11:00:00", "an early timer never arms the same time again");
        c = parse_ok("0 0 31 2 *");
        is_int(cron_tick(&c, utc("2026-01-01 10:00"), utc("2026-01-01 10:00"), false, &a, &next), -ERANGE,
               "a schedule that cannot fire again is -ERANGE");
}

int main(void) {
        test_fields();
        test_ranges_steps_lists();
        test_names();
        test_nicknames();
        test_errors();
        test_format();
        test_next_basic();
        test_next_calendar();
        test_next_day_rule();
        test_next_never();
        test_next_dst();
        test_next_brute_force();
        test_matches();
        test_tick();
        return tap_done();
}
