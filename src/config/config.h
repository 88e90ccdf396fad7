/* The configuration file: INI parsed by libinih into a declarative table of
 * keys (config.c's `config_keys[]`, documented one to one in
 * perfwatchd.conf(5)). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "load/cron.h"
#include "load/load-engine.h"
#include "load/stages.h"
#include "load/template.h"

#define CONFIG_DEFAULT_PATH SYSCONFDIR "/perfwatch/perfwatchd.conf"

typedef struct DaemonConfig {
        char *database;              /* path of the SQLite file */
        char *listen;                /* "HOST:PORT" or "[V6]:PORT" */
        uint64_t retention_usec;     /* raw samples older than this are deleted */
        char *api_token_file;        /* may be NULL */
        uint64_t flush_interval_usec;
        uint64_t evaluate_interval_usec;
        int log_level;               /* LOG_ERR .. LOG_DEBUG */
} DaemonConfig;

typedef struct TargetConfig {
        char *name;                  /* [target NAME] */
        unsigned line;               /* line of the section header */
        char *memory_url;            /* NULL: /memory not polled */
        uint64_t memory_interval_usec;
        uint64_t timeout_usec;       /* per request */
        uint64_t max_body;           /* bytes; larger /memory answers are refused */
        /* pprof: base URL such as http://127.0.0.1:6060/debug/pprof (NULL: off);
         * an interval of 0 turns that profile off. */
        char *pprof_url;
        uint64_t heap_interval_usec;
        uint64_t goroutine_interval_usec;
        uint64_t cpu_interval_usec;
        uint64_t cpu_seconds_usec;   /* length of each CPU profile */
        uint64_t max_profile;        /* bytes; larger profiles are refused */
        uint64_t profile_retention_usec; /* raw profiles older than this are deleted */
        uint64_t profile_keep;       /* and at most this many per target and kind */
} TargetConfig;

typedef struct PostgresConfig {
        char *name;                  /* [postgres NAME] */
        unsigned line;
        char *conninfo;              /* libpq connection string */
        uint64_t interval_usec;
        uint64_t timeout_usec;       /* connect and statement timeout */
} PostgresConfig;

typedef enum CapacitySource {
        CAPACITY_CLOUDWATCH,
        CAPACITY_SQL,
} CapacitySource;

typedef struct CapacityConfig {
        char *name;                  /* [capacity NAME] */
        unsigned line;
        CapacitySource source;
        uint64_t interval_usec;
        uint64_t timeout_usec;
        /* source = cloudwatch */
        char *region;
        char *cluster;               /* DBClusterIdentifier */
        char *endpoint;              /* NULL: https://monitoring.REGION.amazonaws.com */
        char *credentials_file;      /* NULL: AWS_ACCESS_KEY_ID... from the environment */
        char *profile;               /* section of the credentials file */
        uint64_t period_usec;        /* CloudWatch Period of each datapoint */
        uint64_t lookback_usec;      /* how far back each GetMetricData asks */
        /* source = sql */
        char *postgres;              /* name of a [postgres] section */
        char *query;                 /* returns one number: the ACU */
} CapacityConfig;

typedef enum CriterionOp {
        CRITERION_LT,
        CRITERION_LE,
        CRITERION_GT,
        CRITERION_GE,
} CriterionOp;

typedef enum CriterionStat {
        CRITERION_MAX,
        CRITERION_MIN,
        CRITERION_AVG,
        CRITERION_LAST,
} CriterionStat;

typedef enum CriterionKind {
        CRITERION_SERIES,            /* statistic of one series over a window */
        CRITERION_NO_SOURCE,         /* built-in whose data source is not built yet */
        CRITERION_RUN_LATENCY,       /* intended-start p95 of a scenario's latest completed run */
        CRITERION_RUN_WRITES,        /* lost writes of a scenario's latest completed run */
        CRITERION_RUN_ACU,           /* Aurora capacity around a scenario's latest completed run */
} CriterionKind;

typedef struct CriterionConfig {
        char *name;
        unsigned line;               /* 0 when not in the file (built-in defaults) */
        CriterionKind kind;
        char *series;                /* series name: CRITERION_SERIES; CRITERION_RUN_ACU's capacity */
        CriterionStat statistic;
        CriterionOp op;
        double threshold;
        char *unit;                  /* "bytes", "ms" or "" */
        uint64_t window_usec;
        uint64_t max_age_usec;
        char *scenario;              /* CRITERION_RUN_*: the scenario judged */
        uint64_t min_requests;       /* CRITERION_RUN_LATENCY: fewer in the run is unknown */
        uint64_t min_conflicts;      /* CRITERION_RUN_WRITES: fewer in the run is not_met */
        /* CRITERION_RUN_*: the file has no [scenario] of that name (only
         * when `scenario` was left at its default: a name written out that
         * matches no section is a configuration error). */
        bool no_scenario;
        /* CRITERION_RUN_ACU: the rule of acu-window.h.  max_gap is not a
         * key: three of the [capacity] source's datapoint periods (its
         * interval for source = sql), or 3m when `series` names no
         * source's.  A NULL series means no [capacity] source exists, or
         * several (several_capacity) and none was chosen. */
        bool several_capacity;
        uint64_t settle_usec;
        uint64_t scale_up_within_usec;
        double scale_to, min_acu, max_acu;
        uint64_t max_gap_usec;
        /* Not a key either: how long after the window's end capacity data
         * may still arrive, CloudWatch's lag (ACU_WINDOW_LAG_MS) or less
         * when the source cannot deliver them later (capacity_lag());
         * 0 means ACU_WINDOW_LAG_MS (a table built by hand). */
        uint64_t lag_usec;
        /* `enabled = no`: listed as disabled, never evaluated, and not
         * counted by ?strict=1.  Negated so that a zeroed struct is on. */
        bool disabled;
} CriterionConfig;

/* One `request = [WEIGHT] METHOD PATH [BODY]` line of a [scenario]. */
typedef struct ScenarioRequest {
        unsigned weight;             /* >= 1 */
        char *method;                /* "GET", "POST"... */
        char *path;                  /* the PATH as written: a template */
        char *body;                  /* the BODY as written, or the content of an @FILE; NULL: none */
        char *name;                  /* "METHOD PATH", for per-request figures */
        Template *path_template;     /* compiled from path */
        Template *body_template;     /* compiled from body; NULL without one */
        bool write;                  /* a `write` line: part of the lost-write check */
} ScenarioRequest;

/* `think = MIN..MAX` (or one duration: MIN = MAX). */
typedef struct DurationRange {
        uint64_t min_usec, max_usec;
} DurationRange;

typedef struct ScenarioConfig {
        char *name;                  /* [scenario NAME] */
        unsigned line;
        LoadModel model;
        LoadClient client;           /* `client` */
        char *base_url;              /* without trailing slashes */
        double rate_rps;             /* `rate`; 0: not set */
        /* Open model: the arrival-rate schedule, from `stages`, or from
         * `rate` over `duration` once the whole file is read. */
        LoadStages *stages;
        uint64_t users;              /* closed model */
        DurationRange think;
        uint64_t ramp_up_usec;
        uint64_t duration_usec;      /* 0: not set (open: the stages' total) */
        uint64_t timeout_usec;
        uint64_t max_inflight;
        ScenarioRequest *requests;
        size_t n_requests;
        char **headers;              /* "Name: value" */
        size_t n_headers;
        LoadStatusRange *expect;
        size_t n_expect;
        char *schedule;              /* `schedule` as written; NULL: run only when asked */
        CronExpr cron;               /* parsed from schedule (local time zone, load/cron.h) */
        bool enabled;                /* `enabled`: false keeps the schedule from firing */
        /* `target`: a [target] with a pprof_url whose heap profiles and
         * /memory figures are taken right before and after each run, and a
         * CPU profile of `cpu_seconds` during it (after ramp_up); NULL: none. */
        char *target;
        uint64_t cpu_seconds_usec;
        /* The lost-write check (issue 8), for a scenario with `write`
         * lines (in `requests`, write set): load/load-engine.h's LoadWrites. */
        uint64_t documents;
        char *read_method, *read_path;       /* `read = METHOD PATH` */
        char *elements;                      /* RFC 6901 pointer */
        char *conflicts_path, *conflicts_pointer;  /* `conflicts_from = PATH /pointer`; NULL: none */
        uint64_t read_after_usec;
        /* model = exec (load/load-exec.h's LoadExec). */
        char *command;                       /* as written, ${run_dir} unexpanded */
        char *csv;                           /* Locust's --csv prefix */
        uint64_t grace_usec;
} ScenarioConfig;

/* [suite NAME] (issue 8, point 7): scenarios run one after the other,
 * after pre-flight checks, with one combined verdict (core/suites.h). */
typedef struct SuiteConfig {
        char *name;                  /* [suite NAME] */
        unsigned line;
        char **scenarios;            /* `scenarios`, in order: one block (the names inside it) */
        size_t n_scenarios;
        char *schedule;              /* `schedule` as written; NULL: run only when asked */
        CronExpr cron;               /* parsed from schedule (local time zone, load/cron.h) */
        bool enabled;                /* `enabled`: false keeps the schedule from firing */
        bool preflight;              /* `preflight`: the checks of core/preflight.h first */
} SuiteConfig;

typedef struct Config {
        char *path;
        DaemonConfig daemon;
        TargetConfig *targets;
        size_t n_targets;
        PostgresConfig *postgres;
        size_t n_postgres;
        CapacityConfig *capacity;
        size_t n_capacity;
        ScenarioConfig *scenarios;
        size_t n_scenarios;
        SuiteConfig *suites;
        size_t n_suites;
        /* Always holds the four built-in criteria first, in the order
         * latency_p95, memory, acu_scaling, zero_data_loss, then the
         * user's own in file order. */
        CriterionConfig *criteria;
        size_t n_criteria;
} Config;

/* Parses `path`.  On success returns 0 and a Config the caller owns
 * (config_free).  On failure returns -EINVAL (or -errno for I/O) and, in
 * *ret_errors (caller frees), every problem found, one per line, of the form
 * "FILE:LINE: [section] key: problem" (or "FILE: problem" without a line). */
int config_load(const char *path, Config **ret, char **ret_errors);

/* Frees a config; NULL is a no-op.  Returns NULL. */
Config *config_free(Config *c);

/* Looks a [postgres NAME] section up by name; NULL when absent. */
const PostgresConfig *config_find_postgres(const Config *c, const char *name);

/* Looks a [scenario NAME] section up by name; NULL when absent. */
const ScenarioConfig *config_find_scenario(const Config *c, const char *name);

/* Looks a [suite NAME] section up by name; NULL when absent. */
const SuiteConfig *config_find_suite(const Config *c, const char *name);

/* Fills *ret with what load_run_start() needs to run scenario `sc`:
 * pointers into `sc` (which must outlive the call to load_run_start()) and
 * into a new array of requests that the caller frees with free() once the
 * run is started (*ret_requests; the lost-write check's LoadWrites, when the
 * scenario has write lines, lives in the same block).  `duration_usec`, when not 0, shortens
 * the run to that (the open model's schedule is cut there).  PATH and BODY
 * go to it as written, template text: load_run_start() compiles its own
 * copy (path_template and body_template stay the config's, for checking
 * it), so a reload that frees `sc` cannot pull them from under a run.
 * 0 or -ENOMEM. */
int config_scenario_to_load(const ScenarioConfig *sc, uint64_t duration_usec, LoadScenario *ret,
                            LoadRequest **ret_requests);

/* "open", "closed", "exec". */
const char *config_model_to_string(LoadModel m);

/* Looks a criterion up by name; NULL when absent. */
const CriterionConfig *config_find_criterion(const Config *c, const char *name);

/* Text forms used by the API and the text output ("<", "<=", ">", ">="; "max"...). */
const char *config_op_to_string(CriterionOp op);
const char *config_stat_to_string(CriterionStat s);

/* Key documentation hook for the test that compares the table with the man
 * page: calls `fn` for every key of the table with its section kind
 * ("daemon", "target", "criterion", "postgres", "capacity", "scenario", "suite"), name and default as text ("" = none). */
void config_foreach_key(void (*fn)(const char *section, const char *key, const char *def, void *u), void *u);

/* The same hook for the keys that have bounds: calls `fn` with each one's
 * minimum and maximum as text ("" = none), as perfwatchd.conf(5) gives them. */
void config_foreach_bound(void (*fn)(const char *section, const char *key, const char *min, const char *max, void *u),
                          void *u);
