/* The set of polled sources and what each last did: up or down, when, how
 * long, and why it failed.  Every report also writes the source's `up`
 * (1/0) and `poll_seconds` series to the store.  Loop thread only. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct Source Source;
typedef struct SourceSet SourceSet;

/* `store` is borrowed and must outlive the set. */
int source_set_new(Store *store, SourceSet **ret);

/* Frees the set and every source in it; NULL is a no-op.  Returns NULL. */
SourceSet *source_set_free(SourceSet *set);

/* Adds a source named `name` ("go.app.memory"), of `kind` ("go_memory"),
 * polling `url` (may be NULL; kept and shown with its user-info redacted,
 * see redact_url()).  The set owns the source. */
int source_set_add(SourceSet *set, const char *name, const char *kind, const char *url,
                   Source **ret);

/* Records a successful poll that started at `started_usec` (wall clock). */
void source_report_up(Source *s, uint64_t started_usec, uint64_t duration_usec);

/* Records a failed poll and its reason (one line, kept for /v1/sources,
 * with anything that looks like a credential masked: redact_secrets());
 * logs the first failure, naming the source's URL, and the recovery, not
 * every repeat. */
void source_report_down(Source *s, uint64_t started_usec, uint64_t duration_usec,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

const char *source_name(const Source *s);

/* Sets (or replaces) a fact shown with the source in /v1/sources, such as
 * "last_profile_id" or "aurora_version"; takes ownership of `value`
 * (json_null() or NULL removes it). */
void source_set_info(Source *s, const char *key, json_t *value);

/* Failures since the last success (drives the poller's backoff). */
unsigned source_consecutive_failures(const Source *s);

/* Counts sources, and those whose last poll succeeded. */
void source_set_count(const SourceSet *set, unsigned *ret_up, unsigned *ret_total);

/* A new JSON object {"sources":[{name, kind, url, up, last_poll,
 * last_duration_ms, last_error, last_error_at, polls, failures}, ...]}
 * (up is null before the first poll). Caller owns it. */
json_t *source_set_to_json(const SourceSet *set);
