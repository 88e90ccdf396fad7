/* Evaluates the acceptance criteria against the store.  Never `met` by
 * default: no data, or data older than max_age, is `unknown`. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"

/* One criterion as a new JSON object: name, state ("met", "not_met",
 * "unknown"), and, when known, value, unit, op, threshold, evidence; a
 * `reason` when unknown.  0 or -ENOMEM. */
int criterion_evaluate(const CriterionConfig *cc, Store *store, uint64_t now_usec, json_t **ret);

/* Every criterion of `c`: {"ok": all met, "evaluated_at": ISO 8601,
 * "criteria": [...]}.  Caller owns *ret. */
int criteria_evaluate(const Config *c, Store *store, uint64_t now_usec, json_t **ret);

/* "memory met, latency_p95 unknown, ..." summary counts for sd_notify STATUS=. */
void criteria_count(const json_t *status, unsigned *ret_met, unsigned *ret_not_met,
                    unsigned *ret_unknown);
