/* Criteria evaluation off the event loop: a worker thread with its own
 * read-only store connection evaluates on request and hands each report
 * back to the loop thread, which never waits for it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config/config.h"
#include "criteria/criteria.h"

typedef struct Evaluator Evaluator;

/* Called on the loop thread with a finished report, which it takes. */
typedef void (*EvaluatorDoneFn)(CriteriaReport *report, void *userdata);

/* Opens a read-only connection to the database at `path` (already created
 * and migrated by the writer), starts the worker and watches for its
 * results on `event` (borrowed).  `limit_usec` bounds each criterion's
 * reads (criteria_evaluate()).  On failure *ret_error (caller frees) says
 * why in one line. */
int evaluator_new(sd_event *event, const char *path, uint64_t limit_usec, EvaluatorDoneFn done,
                  void *userdata, Evaluator **ret, char **ret_error);

/* Asks for an evaluation of the `n` criteria of `list` (copied: the caller
 * may free them at once) as of the time the worker starts it.  Returns at
 * once.  While one runs, the request waits, replacing any earlier waiting
 * one, so ticks that come faster than evaluations finish are coalesced.
 * 0 or -ENOMEM. */
int evaluator_request(Evaluator *e, const CriterionConfig *list, size_t n);

/* Blocks until no evaluation runs or waits, and takes the newest report not
 * yet handed to `done` (*ret NULL when none).  For startup, before the loop
 * runs: the first snapshot must exist before the API answers. */
void evaluator_wait(Evaluator *e, CriteriaReport **ret);

/* Cuts a running evaluation short, stops the worker and frees everything.
 * NULL is a no-op.  Returns NULL. */
Evaluator *evaluator_free(Evaluator *e);
