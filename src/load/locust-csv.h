/* Locust's CSV files (--csv PREFIX): PREFIX_stats.csv, one row per request
 * name and an "Aggregated" row over them all, and PREFIX_stats_history.csv,
 * one row a second.  Columns are found by their header's names, so a
 * Locust that adds columns still reads. */
#pragma once

#include <stdint.h>

#define LOAD_EXEC_PERCENTILES 11

/* One row of Locust's _stats.csv (the Aggregated one) or _stats_history.csv. */
typedef struct LocustRow {
        int64_t timestamp;              /* history: seconds since the epoch */
        uint64_t users;                 /* history: User Count */
        uint64_t requests, failures;    /* history: the totals so far */
        double median_ms, average_ms, min_ms, max_ms;   /* stats; history: the totals' */
        double rps, failures_per_s;     /* stats: over the run; history: Locust's current */
        double pct_ms[LOAD_EXEC_PERCENTILES];           /* NAN: "N/A" */
} LocustRow;

/* "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%". */
extern const char *const load_exec_percentiles[LOAD_EXEC_PERCENTILES];

/* The Aggregated row of a _stats.csv file.  0, or a negative errno with a
 * reason naming the file (and line): unreadable, a column missing, a value
 * that is not a number, no Aggregated row. */
int load_exec_read_stats(const char *path, LocustRow *ret, char **ret_error);

/* Calls fn for each Aggregated row of a _stats_history.csv file, in order;
 * a negative return of fn stops the reading and is returned.  0 or a
 * negative errno with a reason, as load_exec_read_stats(). */
int load_exec_read_history(const char *path, int (*fn)(const LocustRow *row, void *userdata), void *userdata,
                           char **ret_error);
