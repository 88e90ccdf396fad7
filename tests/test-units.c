/* Unit tests for units.c: durations, sizes and times as users type them. */
#include "config/config.h"

#include <errno.h>
#include <stdint.h>

#include "tap.h"
#include "util/strdist.h"
#include "util/units.h"

static int duration(const char *s, uint64_t *ret) {
        *ret = UINT64_MAX - 1;
        return units_parse_duration(s, ret);
}

static int size(const char *s, uint64_t *ret) {
        *ret = UINT64_MAX - 1;
        return units_parse_size(s, ret);
}

static void test_duration_units(void) {
        static const struct {
                const char *text;
                uint64_t usec;
        } cases[] = {
                { "7us", 7 },
                { "250ms", 250 * USEC_PER_MSEC },
                { "5s", 5 * USEC_PER_SEC },
                { "10m", 10 * USEC_PER_MIN },
                { "10min", 10 * USEC_PER_MIN },
                { "1h", USEC_PER_HOUR },
                { "14d", 14 * USEC_PER_DAY },
                { "2w", 14 * USEC_PER_DAY },
                { "5", 5 * USEC_PER_SEC },
                { "0", 0 },
                { "1h30m", USEC_PER_HOUR + 30 * USEC_PER_MIN },
                { "1h 30m", USEC_PER_HOUR + 30 * USEC_PER_MIN },
                { "1d2h3m4s5ms6us", USEC_PER_DAY + 2 * USEC_PER_HOUR + 3 * USEC_PER_MIN +
                                    4 * USEC_PER_SEC + 5 * USEC_PER_MSEC + 6 },
                { "1.5s", 1500 * USEC_PER_MSEC },
                { "0.25h", 15 * USEC_PER_MIN },
                { "1.0000001s", USEC_PER_SEC },
        };
        uint64_t v;

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                is_int(duration(cases[i].text, &v), 0, "duration \"%s\" parses", cases[i].text);
                is_int(v, cases[i].usec, "duration \"%s\" is %llu us", cases[i].text,
                       (unsigned long long) cases[i].usec);
        }
}

static void test_duration_errors(void) {
        static const char *const junk[] = {
                "", "s", "5q", "-5s", "+5s", " 5s", "5s ", "5 s", "1h30", "5.s", ".5s", "1..5s",
                "5ss", "5S", "1h-1m", "abc", "0x10s", "5s;",
        };
        uint64_t v;

        for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
                is_int(duration(junk[i], &v), -EINVAL, "duration \"%s\" is rejected with -EINVAL", junk[i]);
        is_int(units_parse_duration(NULL, &v), -EINVAL, "a NULL duration is rejected");
        is_int(duration("18446744073709551615us", &v), 0, "the largest duration in us fits");
        is_int(v, UINT64_MAX, "and keeps its value");
        is_int(duration("18446744073709551616us", &v), -ERANGE, "one more microsecond overflows with -ERANGE");
        is_int(duration("99999999999999999999999s", &v), -ERANGE, "too many digits overflow with -ERANGE");
        is_int(duration("31000000w", &v), -ERANGE, "31 million weeks overflow with -ERANGE");
        is_int(duration("30000000w", &v), 0, "30 million weeks still fit");
        is_int(duration("18446744073709551615us1us", &v), -ERANGE, "a sum of components overflows with -ERANGE");
}

static void test_size(void) {
        static const struct {
                const char *text;
                uint64_t bytes;
        } cases[] = {
                { "100", 100 }, { "100B", 100 }, { "0", 0 },
                { "64k", 65536 }, { "64K", 65536 }, { "1KiB", 1024 }, { "1kB", 1000 }, { "1KB", 1000 },
                { "512MiB", 536870912 }, { "512M", 536870912 }, { "1MB", 1000000 },
                { "1GiB", 1073741824ULL }, { "2GB", 2000000000ULL },
                { "1TiB", 1099511627776ULL }, { "1TB", 1000000000000ULL },
                { "1.5GiB", 1610612736ULL }, { "0.5KiB", 512 }, { "1.5kB", 1500 },
        };
        static const char *const junk[] = {
                "", "MiB", "5q", "-1", "1.5", "1.5B", " 1K", "1K ", "1 K", "1KiBB", "1Mi", "1mb",
        };
        uint64_t v;

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                is_int(size(cases[i].text, &v), 0, "size \"%s\" parses", cases[i].text);
                is_int(v, cases[i].bytes, "size \"%s\" is %llu bytes", cases[i].text,
                       (unsigned long long) cases[i].bytes);
        }
        for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
                is_int(size(junk[i], &v), -EINVAL, "size \"%s\" is rejected with -EINVAL", junk[i]);
        is_int(size("16777216TiB", &v), -ERANGE, "2^64 bytes overflow with -ERANGE");
        is_int(size("16777215TiB", &v), 0, "just below 2^64 bytes fits");
        is_int(size("18446744073709551616", &v), -ERANGE, "a plain number above 2^64-1 overflows");
}

static void test_format(void) {
        static const struct {
                uint64_t usec;
                const char *text;
        } durations[] = {
                { 0, "0" }, { 5 * USEC_PER_SEC, "5s" }, { 250 * USEC_PER_MSEC, "250ms" },
                { USEC_PER_HOUR + 30 * USEC_PER_MIN, "1h30m" }, { 14 * USEC_PER_DAY, "14d" },
                { 1500 * USEC_PER_MSEC, "1s500ms" }, { 7, "7us" },
                { USEC_PER_DAY + USEC_PER_SEC + 1, "1d1s1us" },
        };
        static const struct {
                uint64_t bytes;
                const char *text;
        } sizes[] = {
                { 0, "0" }, { 1000, "1000" }, { 1024, "1KiB" }, { 536870912, "512MiB" },
                { 1073741824ULL, "1GiB" }, { 1099511627776ULL * 3, "3TiB" }, { 1536, "1536" },
                { 1048577, "1048577" },
        };
        char buf[64];
        uint64_t v;

        for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
                is_str(units_format_duration(durations[i].usec, buf, sizeof buf), durations[i].text,
                       "%llu us formats as \"%s\"", (unsigned long long) durations[i].usec, durations[i].text);
                ok(units_parse_duration(buf, &v) == 0 && v == durations[i].usec,
                   "\"%s\" parses back to the same duration", buf);
        }
        is_str(units_format_duration(UINT64_MAX, buf, sizeof buf), "213503982d8h1m49s551ms615us",
               "the largest duration formats exactly");
        ok(units_parse_duration(buf, &v) == 0 && v == UINT64_MAX, "and parses back exactly");
        is_str(units_format_duration(USEC_PER_HOUR + 30 * USEC_PER_MIN, buf, 4), "1h",
               "a short buffer truncates at a whole component");

        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                is_str(units_format_size(sizes[i].bytes, buf, sizeof buf), sizes[i].text,
                       "%llu bytes format as \"%s\"", (unsigned long long) sizes[i].bytes, sizes[i].text);
                ok(units_parse_size(buf, &v) == 0 && v == sizes[i].bytes, "\"%s\" parses back to the same size", buf);
        }
}

static void test_iso8601(void) {
        char buf[32];
        uint64_t v, now;

        is_str(units_format_iso8601(0, buf, sizeof buf), "1970-01-01T00:00:00Z", "the epoch formats as ISO 8601");
        is_str(units_format_iso8601(1795884005ULL * USEC_PER_SEC + 999999, buf, sizeof buf),
               "2026-11-28T16:40:05Z", "a time formats in UTC at second resolution, truncated");
        is_str(units_format_iso8601(951782400ULL * USEC_PER_SEC, buf, sizeof buf), "2000-02-29T00:00:00Z",
               "a leap day formats");
        is_str(units_format_iso8601(0, buf, 10), "", "a buffer too short yields an empty string");

        now = now_realtime_usec();
        ok(now > 1700000000ULL * USEC_PER_SEC && now < 4102444800ULL * USEC_PER_SEC,
           "now_realtime_usec() is the wall clock in microseconds");
        ok(units_parse_time(units_format_iso8601(now, buf, sizeof buf), 0, &v) == 0 &&
           v == now / USEC_PER_SEC * USEC_PER_SEC, "a formatted time parses back to its second");
}

static void test_parse_time(void) {
        const uint64_t now = 1795884005ULL * USEC_PER_SEC;
        static const char *const junk[] = {
                "", "yesterday", "now+1h", "now-", "-", "now-5q", "2026-11-28", "2026-11-28T16:40:05",
                "2026-11-28T16:40:05+0100", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
                "2026-11-28T24:00:00Z", "2026-11-28T16:60:00Z", "2026-11-28T16:40:05.Z",
                "2026-11-28T16:40:05Zjunk", "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00",
                "12ab", " 1795884005", "-1.5.5s", "now-100000d",
        };
        uint64_t v;

        is_int(units_parse_time("2026-11-28T16:40:05Z", now, &v), 0, "RFC 3339 in UTC parses");
        is_int(v, now, "to the right instant");
        is_int(units_parse_time("2026-11-28T17:40:05+01:00", now, &v), 0, "RFC 3339 with +hh:mm parses");
        is_int(v, now, "and the offset is subtracted");
        is_int(units_parse_time("2026-11-28T11:10:05-05:30", now, &v), 0, "RFC 3339 with -hh:mm parses");
        is_int(v, now, "and a negative offset is added");
        is_int(units_parse_time("2026-11-28t16:40:05.25z", now, &v), 0, "lowercase t/z and a fraction parse");
        is_int(v, now + 250000, "the fraction gives microseconds");
        is_int(units_parse_time("2026-11-28 16:40:05.123456789Z", now, &v), 0,
               "a space separator and nanoseconds parse");
        is_int(v, now + 123456, "digits past the microsecond are dropped");
        is_int(units_parse_time("2024-02-29T00:00:00Z", now, &v), 0, "a leap day parses");
        is_int(v, 1709164800ULL * USEC_PER_SEC, "to the right instant");
        is_int(units_parse_time("1795884005", now, &v), 0, "epoch seconds parse");
        is_int(v, now, "to the same instant");
        is_int(units_parse_time("1795884005.5", now, &v), 0, "epoch seconds with a fraction parse");
        is_int(v, now + 500000, "with the fraction in microseconds");
        is_int(units_parse_time("now", now, &v), 0, "\"now\" parses");
        is_int(v, now, "to now_usec");
        is_int(units_parse_time("now-1h", now, &v), 0, "\"now-1h\" parses");
        is_int(v, now - USEC_PER_HOUR, "to an hour before now");
        is_int(units_parse_time("-1h30m", now, &v), 0, "\"-1h30m\" parses");
        is_int(v, now - USEC_PER_HOUR - 30 * USEC_PER_MIN, "to 90 minutes before now");
        for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
                is_int(units_parse_time(junk[i], now, &v), -EINVAL, "time \"%s\" is rejected", junk[i]);
        is_int(units_parse_time(NULL, now, &v), -EINVAL, "a NULL time is rejected");
}

/* util/strdist: the edit distance behind every "did you mean". */
static void test_strdist(void) {
        is_int(strdist("memory_url", "memory_url", 2), 0, "strdist: equal strings are 0 apart");
        is_int(strdist("memory_ulr", "memory_url", 2), 1, "strdist: two swapped neighbours are one edit");
        is_int(strdist("Memory_URL", "memory_url", 2), 0, "strdist: ASCII case is ignored");
        is_int(strdist("go.app.Sy", "go.app.Sys", 5), 1, "strdist: one insertion");
        is_int(strdist("kitten", "sitting", 5), 3, "strdist: the textbook pair is 3 apart");
        is_int(strdist("kitten", "sitting", 2), 3, "strdist: past max it answers max + 1");
        is_int(strdist("abcdef", "ab", 3), 4, "strdist: a length gap past max answers max + 1");
        is_int(strdist("", "abc", 5), 3, "strdist: from empty, one insertion per byte");
        is_int(strdist("ca", "abc", 5), 3, "strdist: a swap is not reused for a later insertion (OSA)");
}

int main(void) {
        test_duration_units();
        test_duration_errors();
        test_size();
        test_format();
        test_iso8601();
        test_parse_time();
        test_strdist();
        return tap_done();
}
