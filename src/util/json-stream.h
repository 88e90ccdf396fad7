/* json_flatten() for a document that arrives in pieces: a streaming (SAX)
 * parse by yajl that never builds the document, so a body of any size is
 * read in memory bounded by its nesting depth and in time linear in its
 * length, a piece at a time.  Same names as json_flatten(): numeric leaves
 * of nested objects joined with '.', arrays, strings, booleans and nulls
 * skipped, the same name and depth limits. */
#pragma once

#include <stddef.h>

typedef struct JsonStream JsonStream;

/* Longest error text json_stream_error() returns, NUL included. */
#define JSON_STREAM_ERROR_MAX 200

/* A parser that calls fn(name, value, u) for each numeric leaf, name =
 * prefix + "." + path (`prefix` copied; NULL or "" for none).  A negative
 * value from fn stops the parse and is returned by the feed that saw it. */
int json_stream_new(const char *prefix, int (*fn)(const char *name, double value, void *u), void *u,
                    JsonStream **ret);

/* NULL is a no-op.  Returns NULL. */
JsonStream *json_stream_free(JsonStream *s);

/* Parses the next `n` bytes.  0, fn's negative value, -EBADMSG when the
 * text is not JSON or its root is not an object (json_stream_error() says
 * why and where), or -ENOMEM. */
int json_stream_feed(JsonStream *s, const char *data, size_t n);

/* Ends the document: 0 and the number of values emitted, or as
 * json_stream_feed() (a truncated document is -EBADMSG). */
int json_stream_finish(JsonStream *s, unsigned *ret_count);

/* Why the last feed or finish returned -EBADMSG ("" otherwise). */
const char *json_stream_error(const JsonStream *s);
