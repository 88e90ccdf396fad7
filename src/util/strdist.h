/* Edit distance between short strings, for "did you mean" suggestions. */
#pragma once

#include <stddef.h>

/* The Levenshtein distance between `a` and `b` (bytes inserted, deleted
 * or replaced), or `max` + 1 when it is larger than `max`, found without
 * finishing the table.  Strings past 255 bytes compare as `max` + 1. */
size_t strdist_levenshtein(const char *a, const char *b, size_t max);
