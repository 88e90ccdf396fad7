/* Edit distance between short strings, for "did you mean" suggestions. */
#pragma once

#include <stddef.h>

/* The optimal string alignment distance between `a` and `b`, ignoring ASCII
 * case: bytes inserted, deleted or replaced, and two neighbours swapped
 * ("memory_ulr" is 1 from "memory_url").  Returns `max` + 1 when it is
 * larger than `max`, found without finishing the table; strings past 255
 * bytes compare as `max` + 1. */
size_t strdist(const char *a, const char *b, size_t max);
