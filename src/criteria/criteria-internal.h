/* What criteria.c shares with the evaluations kept in their own files
 * (criteria-acu.c, criteria-writes.c).  Internal to src/criteria/. */
#pragma once

#include <stdint.h>

#include "criteria/criteria.h"

/* Marks `res` unknown for `cause` with a one-line reason; 0, or -ENOMEM
 * when the reason cannot be kept. */
int criteria_unknown(CriterionResult *res, CriterionCause cause, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Unknown, NO_SCENARIO: the file has no [scenario] of the criterion's
 * default name.  0 or -ENOMEM. */
int criteria_no_scenario(CriterionResult *res, const CriterionConfig *cc);

/* 1 when run `l` ended at most max_age before now; else `res` is unknown,
 * STALE, and 0 (or -ENOMEM) is returned. */
int criteria_run_stale(CriterionResult *res, const CriterionConfig *cc, const StoreRunLatest *l,
                       uint64_t now_usec);

/* Maps a failed read `k` of the latest completed run of cc->scenario onto
 * an unknown result: -ENOENT no run, -ETIMEDOUT the time limit, another
 * errno a store error saying `error` (may be NULL: strerror()).  0, or
 * -ENOMEM (also for k = -ENOMEM, which is no verdict at all). */
int criteria_run_read_failed(CriterionResult *res, const CriterionConfig *cc, int k, const char *error,
                             uint64_t limit_usec);

/* acu_scaling: the capacity around the latest completed run of the
 * criterion's scenario, judged by acu_window_judge() as of now_usec.  0 or
 * -ENOMEM; a store error or the time limit is an unknown result. */
int criteria_evaluate_acu(CriterionResult *res, const CriterionConfig *cc, Store *store, uint64_t now_usec,
                          uint64_t limit_usec);

/* zero_data_loss: the "writes" report of the latest completed run of the
 * criterion's scenario, judged as of now_usec.  0 or -ENOMEM; a store
 * error or the time limit is an unknown result. */
int criteria_evaluate_writes(CriterionResult *res, const CriterionConfig *cc, Store *store, uint64_t now_usec,
                             uint64_t limit_usec);
