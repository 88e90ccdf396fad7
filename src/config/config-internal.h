/* What the configuration's files share: the key table's types and the value
 * parsers behind it (config-values.c).  Internal to src/config/; the daemon
 * sees only config.h. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "util/util.h"


/* Section names and AWS region names are at most this long. */
#define CONFIG_NAME_MAX 64

typedef enum SectionKind {
        SECTION_INVALID = -1,        /* header already reported: its keys are skipped */
        SECTION_DAEMON,
        SECTION_TARGET,
        SECTION_POSTGRES,
        SECTION_CAPACITY,
        SECTION_CRITERION,
        SECTION_SCENARIO,
        SECTION_SUITE,
        _SECTION_KIND_MAX,
} SectionKind;

typedef enum ConfigType {
        CONFIG_STRING,
        CONFIG_PATH,
        CONFIG_URL,
        CONFIG_BASE_URL,             /* a URL that paths are appended to */
        CONFIG_ADDRESS,
        CONFIG_DURATION,
        CONFIG_SIZE,
        CONFIG_COUNT,
        CONFIG_CONNINFO,
        CONFIG_REGION,
        CONFIG_CAPACITY_SOURCE,
        CONFIG_LOG_LEVEL,
        CONFIG_STATISTIC,
        CONFIG_OP,
        CONFIG_THRESHOLD,
        CONFIG_MODEL,                /* open, closed, exec */
        CONFIG_CLIENT,               /* auto, libcurl (LoadClient) */
        CONFIG_RATE,                 /* 100/s (stages.h), above 0 */
        CONFIG_STAGES,               /* the stages grammar of stages.h */
        CONFIG_DURATION_RANGE,       /* 1s..3s, or one duration */
        CONFIG_REQUEST,              /* [WEIGHT] METHOD PATH [BODY]: appended to a list */
        CONFIG_HEADER,               /* Name: value: appended to a list */
        CONFIG_EXPECT,               /* 200-299, 404: HTTP status codes and ranges */
        CONFIG_BOOLEAN,              /* yes, no: into a bool */
        CONFIG_SCHEDULE,             /* a cron expression (load/cron.h): the text, and the parsed form */
        CONFIG_ACU,                  /* a plain number of ACU, into a double */
        CONFIG_WRITE,                /* [WEIGHT] METHOD PATH [BODY] with ${token}: a request that is a write */
        CONFIG_READ,                 /* METHOD PATH: into read_method, read_path */
        CONFIG_JSON_POINTER,         /* RFC 6901: "" or /a/b */
        CONFIG_CONFLICTS_FROM,       /* PATH /pointer: into conflicts_path, conflicts_pointer */
        CONFIG_COMMAND,              /* a command line, split into words (load/load-exec.h) */
        CONFIG_NAME_LIST,            /* NAME, NAME...: a block of names and their count (SuiteConfig) */
        _CONFIG_TYPE_MAX,
} ConfigType;

typedef enum KeyFlags {
        KEY_REQUIRED = 1 << 0,       /* for criteria: user-defined ones only */
        KEY_OFF = 1 << 1,            /* a duration of 0 turns the feature off; bounds apply otherwise */
        KEY_WHOLE_SECONDS = 1 << 2,  /* a duration in whole seconds */
        KEY_SECRET = 1 << 3,         /* may hold a password: errors do not repeat the value */
        KEY_CLOUDWATCH = 1 << 4,     /* [capacity] keys of one source only; others may not set them */
        KEY_SQL = 1 << 5,
        KEY_ONLY_MASK = KEY_CLOUDWATCH | KEY_SQL,
        KEY_OPEN = 1 << 6,           /* [scenario] keys of one model only; the other may not set them */
        KEY_CLOSED = 1 << 7,
        KEY_EXEC = 1 << 10,          /* [scenario] keys of model = exec only */
        KEY_MODEL_MASK = KEY_OPEN | KEY_CLOSED,
        KEY_REPEATED = 1 << 8,       /* may be given on several lines, each adding a value */
        KEY_NEGATED = 1 << 9,        /* CONFIG_BOOLEAN: the field holds the opposite (enabled -> disabled) */
} KeyFlags;

/* One key of config.c's table. */
typedef struct ConfigKey {
        SectionKind section;
        const char *name;
        ConfigType type;
        const char *def;             /* parsed like a user's value; NULL: none */
        const char *min, *max;       /* bounds in the key's own syntax; NULL: none */
        size_t offset;               /* into the section's struct (DaemonConfig, TargetConfig...) */
        unsigned flags;              /* KeyFlags */
} ConfigKey;

/* A built-in criterion of config.c's table.  Its op, threshold, scenario
 * and max_age are text, parsed like the user's values (NULL: none, or the
 * key table's default).  `unit` is what the criterion measures: a plain
 * threshold number is taken in it, and a threshold in another unit is
 * refused ("" lets the threshold decide). */
typedef struct BuiltinCriterion {
        const char *name;
        CriterionKind kind;
        const char *unit;
        const char *op;
        const char *threshold;
        const char *scenario;
        const char *max_age;
} BuiltinCriterion;

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/* The built-in criterion of that name; NULL for a user's own (config.c). */
const BuiltinCriterion *config_builtin_lookup(const char *name);

/* Parses `v` for key `k` into the section's struct at `base`, by the key's
 * type.  On failure returns a negative errno (-ENOMEM included) and writes
 * what is wrong with the value into `problem`, to follow the quoted value:
 * "is not a duration". */
int config_parse_value(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);

/* The index of `v` in names[0..count) (an enum's names by value), or
 * -EINVAL with "is not WHAT (NAME, NAME, ...)" in problem (n bytes). */
int config_name_index(const char *const *names, size_t count, const char *v, const char *what, char *problem,
                      size_t n);

/* The [scenario] value types (config-scenario.c): parsers as
 * config_parse_value(), and, for values that own memory, what frees it. */
int config_parse_model(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_client(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_command(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_rate(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_stages(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_duration_range(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_request(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_header(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_expect(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_schedule(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_name_list(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
void config_release_name_list(const ConfigKey *k, void *base);
void config_release_stages(const ConfigKey *k, void *base);
void config_release_requests(const ConfigKey *k, void *base);
int config_parse_write(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_read(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_json_pointer(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
int config_parse_conflicts_from(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);
void config_release_read(const ConfigKey *k, void *base);
void config_release_conflicts_from(const ConfigKey *k, void *base);
void config_release_headers(const ConfigKey *k, void *base);
void config_release_expect(const ConfigKey *k, void *base);

/* The longest body a request may read from an @FILE. */
#define CONFIG_BODY_MAX (1024 * 1024)

/* Frees what the value of key `k` owns in the struct at `base` (a string,
 * or a threshold's unit) and NULLs it; a value that owns nothing is left
 * alone.  A KEY_SECRET value is overwritten first. */
void config_free_value(const ConfigKey *k, void *base);

/* The candidate nearest to `word` by edit distance (case ignored), close
 * enough to be a likely typo of it; NULL when none is.  Returns one of
 * `candidates`, which the caller owns (config-suggest.c). */
const char *config_suggest(const char *word, const char *const *candidates, size_t n);

/* Writes what follows an "unknown ..." error into `buf`: ", did you mean
 * "X"?" when a candidate is near, then " (one of: A, B, C)".  Returns 0,
 * or -ENOBUFS when `size` is too small. */
int config_suggestion(const char *word, const char *const *candidates, size_t n, char *buf, size_t size);

/* The name of a capacity source ("cloudwatch") and the KeyFlags bit that
 * marks the keys of that source only. */
const char *config_capacity_source_name(CapacitySource s);
unsigned config_capacity_source_keys(CapacitySource s);
