/* RFC 6901 JSON pointers into jansson values: "" is the whole document,
 * "/a/0/b~1c" walks object member "a", array index 0, member "b/c". */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/* Whether `ptr` is a well-formed pointer: "" or "/"-separated tokens in
 * which '~' is only ever followed by '0' or '1'. */
bool json_pointer_valid(const char *ptr);

/* The value `ptr` points to in `root` (borrowed from it), or NULL when it
 * is not well-formed or points at nothing (a missing member, an index that
 * is not a decimal without leading zeros or is past the end, a step into a
 * scalar). */
json_t *json_pointer_get(json_t *root, const char *ptr);
