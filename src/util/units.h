/* Parsing and formatting of the durations, sizes and times users type in the
 * config file and in API query strings. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* "250ms", "5s", "10m", "1h", "14d", "1h30m", "1.5s"; a bare number means
 * seconds.  Units: us, ms, s, m/min, h, d, w.  Returns 0 or -EINVAL (also for
 * empty input, negative values, trailing junk) or -ERANGE on overflow. */
int units_parse_duration(const char *s, uint64_t *ret_usec);

/* "512MiB", "1MB", "64k", "100"; a bare number means bytes.  Binary units
 * K/KiB, M/MiB, G/GiB, T/TiB (1024^n) and decimal kB, MB, GB, TB (1000^n);
 * B allowed.  Fractions allowed ("1.5GiB").  0, -EINVAL or -ERANGE. */
int units_parse_size(const char *s, uint64_t *ret_bytes);

/* Formats the shortest exact form ("5s", "1h30m", "250ms", "0") into buf. */
char *units_format_duration(uint64_t usec, char *buf, size_t n);

/* Formats bytes as "512MiB" when exact in a binary unit, else plain bytes. */
char *units_format_size(uint64_t bytes, char *buf, size_t n);

/* "2026-11-27T16:40:05Z" (UTC, second resolution) into buf (>= 21 bytes). */
char *units_format_iso8601(uint64_t usec, char *buf, size_t n);

/* A time in a query string: RFC 3339 ("2026-11-27T16:40:05Z", fraction and
 * offset allowed), epoch seconds ("1795000000", fraction allowed), "now", or
 * "now-DURATION" / "-DURATION" relative to `now_usec`.  0 or -EINVAL. */
int units_parse_time(const char *s, uint64_t now_usec, uint64_t *ret_usec);
