/* Flattens a JSON document into (name, number) pairs: every numeric field,
 * nested object keys joined with '.', e.g. {"gc":{"num":3}} -> "gc.num" = 3.
 * Arrays, strings, booleans and nulls are skipped: array elements have no
 * stable names, the others are not measurements. */
#pragma once

#include <jansson.h>

/* Longest name produced; deeper or longer keys are skipped. */
#define JSON_FLATTEN_NAME_MAX 200
#define JSON_FLATTEN_DEPTH_MAX 16

/* Calls fn(name, value) for each numeric leaf of `root` (an object), with
 * name = prefix + "." + path (or just the path when prefix is NULL/"").
 * Key characters outside [A-Za-z0-9_:-] are replaced by '_'.  Returns the
 * number of values emitted, or the first non-zero value fn returned (as is,
 * when negative), or -EINVAL when root is not an object. */
int json_flatten(const json_t *root, const char *prefix,
                 int (*fn)(const char *name, double value, void *u), void *u);
