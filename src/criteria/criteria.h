/* Evaluates the acceptance criteria against the store into typed results;
 * the API turns them into JSON or text.  Never `met` by default: no data,
 * or data older than max_age, is `unknown`. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "criteria/acu-window.h"
#include "store/store.h"
#include "util/util.h"

/* How long one criterion's store reads may take before they are stopped
 * and the criterion answers `unknown` (documented in perfwatchd(8)). */
#define CRITERIA_TIME_LIMIT_USEC (2 * USEC_PER_SEC)

typedef enum CriterionState {
        CRITERION_STATE_UNKNOWN,
        CRITERION_STATE_MET,
        CRITERION_STATE_NOT_MET,
        CRITERION_STATE_DISABLED,    /* enabled = no: not evaluated, and not counted */
} CriterionState;

/* Why a criterion is unknown, so that callers decide without reading the
 * reason's words. */
typedef enum CriterionCause {
        CRITERION_CAUSE_NONE,            /* known: met or not_met */
        CRITERION_CAUSE_NO_SOURCE,       /* a built-in whose data source does not exist (yet, or
                                          * in the file: acu_scaling without [capacity]) */
        CRITERION_CAUSE_NO_SERIES_SET,   /* series= missing */
        CRITERION_CAUSE_UNKNOWN_SERIES,  /* series= names no stored series */
        CRITERION_CAUSE_NO_SAMPLES,      /* none in the window */
        CRITERION_CAUSE_STALE,           /* the newest is older than max_age */
        CRITERION_CAUSE_STORE_ERROR,     /* the store could not be read */
        CRITERION_CAUSE_TIME_LIMIT,      /* the reads took longer than the limit */
        CRITERION_CAUSE_NO_RUN,          /* no completed run of the scenario */
        CRITERION_CAUSE_TOO_FEW,         /* the run sent fewer than min_requests */
        CRITERION_CAUSE_NO_SCENARIO,     /* the file has no [scenario] of the name judged */
        CRITERION_CAUSE_NO_WRITES,       /* zero_data_loss: the run has no lost-write report */
        CRITERION_CAUSE_BAD_WRITES,      /* zero_data_loss: its report cannot be read */
        /* acu_scaling: the capacity points around the run ... */
        CRITERION_CAUSE_PENDING,         /* ... end before the window does, and may still arrive */
        CRITERION_CAUSE_GAP,             /* ... miss part of the window: a gap, or they stopped */
        CRITERION_CAUSE_BAD_DATA,        /* ... are out of order or not numbers, or the run's
                                          * times are not a window */
        CRITERION_CAUSE_TOO_MANY,        /* ... are more than ACU_POINTS_MAX */
} CriterionCause;

/* How many of a run's lost writes a zero_data_loss verdict shows. */
#define CRITERIA_LOST_SHOWN 5

/* The figures of a run's "writes" report that zero_data_loss judges. */
typedef struct CriterionWrites {
        uint64_t attempted, acknowledged, lost, unexpected, unread, recovered, conflicts;
        uint64_t min_conflicts;      /* the rule's, for the reader */
        char conflicts_source[8];    /* "client" or "server" */
        json_t *lost_sample;         /* a JSON array (owned) */
} CriterionWrites;

/* One criterion's verdict.  Every string, and the JSON, is owned by the
 * result. */
typedef struct CriterionResult {
        char *name;
        CriterionState state;
        CriterionCause cause;
        char *reason;                /* one line; set exactly when state is unknown or disabled */

        /* The rule, shown whatever the state; has_rule is false when the
         * criterion has no threshold. */
        bool has_rule;
        CriterionOp op;
        double threshold;
        char *unit;                  /* NULL when none */

        /* The measurement and its evidence: set when state is known. */
        double value;
        char *series;
        CriterionStat statistic;
        uint64_t window_usec;
        int64_t at_ms;               /* time of the value (the newest for avg and last) */
        uint64_t samples;            /* samples in the window */
        int64_t newest_ms;           /* newest sample in the window */

        /* Instead of the series' evidence when run_id > 0 (latency_p95):
         * the run judged, its scenario (owned), requests, those that timed
         * out and its service-time p95; at_ms is then when it ended.  When
         * more than 5% timed out, the p95 is beyond the timeout: not_met,
         * with the slowest answer as value. */
        int64_t run_id;
        char *scenario;
        uint64_t requests;
        uint64_t timeouts;
        uint64_t failed;             /* connect, unexpected status, reset */
        uint64_t dropped;
        double service_p95_ms;

        /* zero_data_loss, when has_writes (run_id, scenario and at_ms set
         * too, value = lost): the run's lost-write figures, its one-line
         * summary in evidence and the first lost writes of its sample
         * (owned, at most CRITERIA_LOST_SHOWN of lost_sample's objects). */
        bool has_writes;
        CriterionWrites writes;

        /* acu_scaling, when has_acu (run_id and scenario set too, series the
         * capacity series read): the judgement of the run's window, whatever
         * the state, and its one-line evidence (acu_window_evidence()).
         * When known, value is the peak ACU and at_ms its time. */
        bool has_acu;
        AcuWindowResult acu;
        json_t *acu_window;          /* acu_window_to_json() of it, with the judged points (owned) */

        /* The one-line evidence of zero_data_loss or acu_scaling (owned;
         * NULL for the others). */
        char *evidence;
} CriterionResult;

/* One evaluation of every criterion, in configuration order. */
typedef struct CriteriaReport {
        uint64_t evaluated_at_usec;  /* CLOCK_REALTIME */
        uint64_t duration_usec;      /* how long the evaluation took */
        CriterionResult *results;
        size_t n_results;
} CriteriaReport;

/* Evaluates the `n` criteria of `list` against `store` as of `now_usec`
 * (CLOCK_REALTIME), giving each criterion's store reads at most
 * `limit_usec` (0: no limit).  A criterion that cannot be decided is
 * `unknown` with a cause and a reason, never an error.  0 with *ret (the
 * caller frees it with criteria_report_free()), or -ENOMEM. */
int criteria_evaluate(const CriterionConfig *list, size_t n, Store *store, uint64_t now_usec,
                      uint64_t limit_usec, CriteriaReport **ret);

/* True when every criterion of the report is met or disabled (and for
 * none at all): what ?strict=1 answers 200 for. */
bool criteria_report_all_met(const CriteriaReport *r);

/* Frees a report; NULL is a no-op.  Returns NULL. */
CriteriaReport *criteria_report_free(CriteriaReport *r);

/* Judges a run's "writes" report (JSON text, as load/write-book.h renders
 * it; NULL: the run has none) by zero_data_loss's rule with
 * `min_conflicts`, as the evaluator does: MET, NOT_MET, or UNKNOWN (no
 * report, documents not read back, a report that cannot be read), with the
 * summary or the reason, one line, in `line`. */
CriterionState criteria_writes_judge(const char *writes_json, uint64_t min_conflicts, char *line, size_t n);

/* acu_scaling's judgement of one run by rule `cc` as of `now_usec`: the
 * capacity series cc->series (set) read over the window of run->id, from
 * run->started_at_ms to run->ended_at_ms (the rest of *run is not used),
 * and judged by acu_window_judge(), with its acu_window JSON and evidence:
 * what the evaluator answers for the latest run of the scenario, and what
 * terminal mode judges its own run with.  `res` is zeroed by the caller,
 * who frees it with criteria_result_clear().  A store error or the time
 * limit `limit_usec` (for the reason) is an unknown result: 0 or -ENOMEM. */
int criteria_acu_judge_run(CriterionResult *res, const CriterionConfig *cc, Store *store,
                           const StoreRunLatest *run, uint64_t now_usec, uint64_t limit_usec);

/* Frees what `res` owns and zeroes it; NULL is a no-op. */
void criteria_result_clear(CriterionResult *res);

/* "met", "not_met", "unknown" or "disabled": the state's name in the API. */
const char *criteria_state_to_string(CriterionState s);

/* Whether a run went wrong too often for its latency to stand for the
 * service: more than 5% of the requests sent failed (could not connect, an
 * HTTP status not in `expect`, a reset), or more than 5% of those scheduled
 * were dropped (max_inflight reached).  Either way its p95 is taken over the
 * requests that went well, which a failing or overwhelmed service makes look
 * fast, so latency_p95 (and perfwatchd --run) judge it not met.  When it
 * is, writes why into buf ("N of M requests failed (P%, more than 5%)"),
 * else "". */
bool criteria_run_unsound(uint64_t requests, uint64_t failed, uint64_t dropped, char *buf, size_t size);
