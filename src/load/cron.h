/* 5-field cron expressions as in crontab(5) (minute hour day-of-month month
 * day-of-week), parsed into bitmasks, and the pure arithmetic of when they
 * fire.  No allocation, no global state: safe from any thread.
 *
 * Time zone: an expression is read in the local time zone of the process
 * (TZ, as cron does), through localtime_r(): the zone tzset() last loaded,
 * so a process that changes TZ calls tzset() again.  Around DST changes it
 * behaves as Vixie/Debian cron does:
 *   - A "fixed-time" expression (neither the minute nor the hour field
 *     starts with '*', e.g. "30 2 * * *", @daily) whose wall time is skipped
 *     by a forward jump fires once at the first minute after the jump
 *     (03:00 CEST for 02:30 on the day Europe/Berlin springs forward); in a
 *     backward jump it fires only in the first pass through the repeated
 *     hour, never twice.
 *   - A "wildcard" expression (minute or hour starts with '*', e.g.
 *     "*\/15 * * * *", @hourly) just follows the clock: nothing is caught
 *     up for a skipped hour, and a repeated hour fires again.
 * UTC offsets are assumed to change by less than a day at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Which fields started with '*' (bit i for field i): the day-of-month/day-of-week rule and the
 * DST behaviour above depend on it, not only on the sets. */
enum {
        CRON_MINUTE_STAR = 1 << 0,
        CRON_HOUR_STAR = 1 << 1,
        CRON_DOM_STAR = 1 << 2,
        CRON_MONTH_STAR = 1 << 3,
        CRON_DOW_STAR = 1 << 4,
};

/* A parsed expression: a value type (copy it freely, nothing to free). */
typedef struct CronExpr {
        uint64_t minutes; /* bit m: minute m, 0-59 */
        uint32_t hours;   /* bit h: hour h, 0-23 */
        uint32_t mdays;   /* bit d: day of month d, 1-31 */
        uint16_t months;  /* bit m: month m, 1-12 */
        uint8_t wdays;    /* bit w: day of week w, 0-6, 0 = Sunday (7 is folded into 0) */
        uint8_t flags;    /* CRON_*_STAR */
} CronExpr;

/* Parses `text`: five fields separated by blanks, each a list of `*`,
 * `N`, `A-B`, `*\/S` or `A-B/S` items; months and weekdays also by
 * three-letter English name (jan..dec, sun..sat, any case); 7 is Sunday
 * too; or one of @hourly, @daily (@midnight), @weekly, @monthly, @yearly
 * (@annually).  When both day-of-month and day-of-week are restricted
 * (neither starts with '*'), a day matching either one fires (Vixie cron's
 * rule); otherwise a day must match both.  A step S is 1 up to the size of
 * the field.  Returns 0, or -EINVAL with a one-line reason in *ret_error
 * (ret_error may be NULL; the caller frees the string; the caller prefixes
 * FILE:LINE), e.g. `hour: 24 is out of range 0-23`. */
int cron_parse(const char *text, CronExpr *ret, char **ret_error);

/* Whether the expression matches the wall time `tm` (tm_year, tm_mon,
 * tm_mday, tm_hour and tm_min are read; the weekday is computed from the
 * date, tm_wday and tm_sec are ignored). */
bool cron_matches(const CronExpr *c, const struct tm *tm);

/* The first firing time strictly after `after` (whole minutes, local time
 * zone and DST rules as described above), into *ret.  Returns 0, or -ERANGE
 * when the expression cannot fire within 30 years (e.g. "0 0 31 2 *"; it
 * says so in microseconds, never loops) or `after` is before 1970 or past
 * the year 9000. */
int cron_next(const CronExpr *c, time_t after, time_t *ret);

/* Writes the canonical form of `c` ("0 3 * * *", "*\/15 9-17 * * 1-5";
 * nicknames come back as their five fields) into buf, NUL-terminated and
 * truncated when `size` is too small, like snprintf.  Returns the length of
 * the full form.  cron_parse() of it gives back the same CronExpr. */
size_t cron_format(const CronExpr *c, char *buf, size_t size);

/* What a scheduler does when the timer it armed for `due` fires. */
typedef enum CronAction {
        CRON_ACTION_START,       /* start the scenario's run */
        CRON_ACTION_SKIP_ACTIVE, /* a run is still active: skip this firing (and log it), never overlap */
} CronAction;

/* The decision when the timer armed for `due` fires at `now` while a run
 * is (`run_active`) or is not active, and the next time to arm for: the
 * first firing after max(due, now), so firings missed while the process was
 * stopped or suspended are never replayed one after another.  Returns 0 or
 * cron_next()'s -ERANGE. */
int cron_tick(const CronExpr *c, time_t due, time_t now, bool run_active, CronAction *ret_action,
              time_t *ret_next);
