/* The configuration file's parser: the key table, sections and errors.  The
 * values of each key type are parsed in config-values.c, and the checks that
 * need the whole file are in config-checks.c. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-internal.h"
#include "config/config-parser.h"
#include "util/ini-lines.h"
#include "util/redact.h"

#define PROBLEM_MAX 256
#define SUGGESTION_MAX 1024

static const char *const section_kind_names[_SECTION_KIND_MAX] = {
        [SECTION_DAEMON] = "daemon",
        [SECTION_TARGET] = "target",
        [SECTION_POSTGRES] = "postgres",
        [SECTION_CAPACITY] = "capacity",
        [SECTION_CRITERION] = "criterion",
        [SECTION_SCENARIO] = "scenario",
        [SECTION_SUITE] = "suite",
};

/* The whole configuration language; perfwatchd.conf(5) documents exactly
 * these keys, and tests compare the two through config_foreach_key(). */
const ConfigKey config_keys[] = {
        /* NB: not under --localstatedir: the unit's StateDirectory= is always /var/lib. */
        { SECTION_DAEMON, "database", CONFIG_PATH, "/var/lib/perfwatch/perfwatch.db",
          NULL, NULL, offsetof(DaemonConfig, database), 0 },
        { SECTION_DAEMON, "listen", CONFIG_ADDRESS, "127.0.0.1:9470",
          NULL, NULL, offsetof(DaemonConfig, listen), 0 },
        { SECTION_DAEMON, "retention", CONFIG_DURATION, "14d",
          "1h", "3650d", offsetof(DaemonConfig, retention_usec), 0 },
        { SECTION_DAEMON, "api_token_file", CONFIG_PATH, NULL,
          NULL, NULL, offsetof(DaemonConfig, api_token_file), 0 },
        { SECTION_DAEMON, "flush_interval", CONFIG_DURATION, "1s",
          "100ms", "1m", offsetof(DaemonConfig, flush_interval_usec), 0 },
        { SECTION_DAEMON, "evaluate_interval", CONFIG_DURATION, "1s",
          "100ms", "1h", offsetof(DaemonConfig, evaluate_interval_usec), 0 },
        { SECTION_DAEMON, "log_level", CONFIG_LOG_LEVEL, "info",
          NULL, NULL, offsetof(DaemonConfig, log_level), 0 },

        /* Neither memory_url nor pprof_url is required, but one of them is. */
        { SECTION_TARGET, "memory_url", CONFIG_URL, NULL,
          NULL, NULL, offsetof(TargetConfig, memory_url), 0 },
        { SECTION_TARGET, "memory_interval", CONFIG_DURATION, "5s",
          "100ms", "1h", offsetof(TargetConfig, memory_interval_usec), 0 },
        { SECTION_TARGET, "timeout", CONFIG_DURATION, "5s",
          "100ms", "5m", offsetof(TargetConfig, timeout_usec), 0 },
        { SECTION_TARGET, "max_body", CONFIG_SIZE, "1MiB",
          "1KiB", "16MiB", offsetof(TargetConfig, max_body), 0 },
        { SECTION_TARGET, "pprof_url", CONFIG_BASE_URL, NULL,
          NULL, NULL, offsetof(TargetConfig, pprof_url), 0 },
        { SECTION_TARGET, "heap_interval", CONFIG_DURATION, "1m",
          "1s", "1d", offsetof(TargetConfig, heap_interval_usec), KEY_OFF },
        { SECTION_TARGET, "goroutine_interval", CONFIG_DURATION, "1m",
          "1s", "1d", offsetof(TargetConfig, goroutine_interval_usec), KEY_OFF },
        { SECTION_TARGET, "cpu_interval", CONFIG_DURATION, "10m",
          "10s", "1d", offsetof(TargetConfig, cpu_interval_usec), KEY_OFF },
        { SECTION_TARGET, "cpu_seconds", CONFIG_DURATION, "10s",
          "1s", "5m", offsetof(TargetConfig, cpu_seconds_usec), 0 },
        { SECTION_TARGET, "max_profile", CONFIG_SIZE, "8MiB",
          "64KiB", "256MiB", offsetof(TargetConfig, max_profile), 0 },
        { SECTION_TARGET, "profile_retention", CONFIG_DURATION, "7d",
          "1h", "365d", offsetof(TargetConfig, profile_retention_usec), 0 },
        { SECTION_TARGET, "profile_keep", CONFIG_COUNT, "1000",
          "1", "1000000", offsetof(TargetConfig, profile_keep), 0 },

        { SECTION_POSTGRES, "conninfo", CONFIG_CONNINFO, NULL,
          NULL, NULL, offsetof(PostgresConfig, conninfo), KEY_REQUIRED | KEY_SECRET },
        { SECTION_POSTGRES, "interval", CONFIG_DURATION, "15s",
          "1s", "1h", offsetof(PostgresConfig, interval_usec), 0 },
        { SECTION_POSTGRES, "timeout", CONFIG_DURATION, "5s",
          "100ms", "5m", offsetof(PostgresConfig, timeout_usec), 0 },

        { SECTION_CAPACITY, "source", CONFIG_CAPACITY_SOURCE, NULL,
          NULL, NULL, offsetof(CapacityConfig, source), KEY_REQUIRED },
        { SECTION_CAPACITY, "interval", CONFIG_DURATION, "1m",
          "1s", "1d", offsetof(CapacityConfig, interval_usec), 0 },
        { SECTION_CAPACITY, "timeout", CONFIG_DURATION, "10s",
          "1s", "5m", offsetof(CapacityConfig, timeout_usec), 0 },
        { SECTION_CAPACITY, "region", CONFIG_REGION, NULL,
          NULL, NULL, offsetof(CapacityConfig, region), KEY_REQUIRED | KEY_CLOUDWATCH },
        { SECTION_CAPACITY, "cluster", CONFIG_STRING, NULL,
          NULL, NULL, offsetof(CapacityConfig, cluster), KEY_REQUIRED | KEY_CLOUDWATCH },
        /* The default, https://monitoring.REGION.amazonaws.com, depends on
         * the region: the probe builds it. */
        { SECTION_CAPACITY, "endpoint", CONFIG_URL, NULL,
          NULL, NULL, offsetof(CapacityConfig, endpoint), KEY_CLOUDWATCH },
        { SECTION_CAPACITY, "credentials_file", CONFIG_PATH, NULL,
          NULL, NULL, offsetof(CapacityConfig, credentials_file), KEY_CLOUDWATCH },
        { SECTION_CAPACITY, "profile", CONFIG_STRING, "default",
          NULL, NULL, offsetof(CapacityConfig, profile), KEY_CLOUDWATCH },
        { SECTION_CAPACITY, "period", CONFIG_DURATION, "1m",
          "1s", "1d", offsetof(CapacityConfig, period_usec), KEY_CLOUDWATCH | KEY_WHOLE_SECONDS },
        /* At least the period: checked once the whole section is read. */
        { SECTION_CAPACITY, "lookback", CONFIG_DURATION, "10m",
          NULL, NULL, offsetof(CapacityConfig, lookback_usec), KEY_CLOUDWATCH },
        { SECTION_CAPACITY, "postgres", CONFIG_STRING, NULL,
          NULL, NULL, offsetof(CapacityConfig, postgres), KEY_REQUIRED | KEY_SQL },
        { SECTION_CAPACITY, "query", CONFIG_STRING, NULL,
          NULL, NULL, offsetof(CapacityConfig, query), KEY_REQUIRED | KEY_SQL },

        { SECTION_CRITERION, "series", CONFIG_STRING, NULL,
          NULL, NULL, offsetof(CriterionConfig, series), KEY_REQUIRED },
        { SECTION_CRITERION, "statistic", CONFIG_STATISTIC, "max",
          NULL, NULL, offsetof(CriterionConfig, statistic), 0 },
        { SECTION_CRITERION, "op", CONFIG_OP, NULL,
          NULL, NULL, offsetof(CriterionConfig, op), KEY_REQUIRED },
        { SECTION_CRITERION, "threshold", CONFIG_THRESHOLD, NULL,
          NULL, NULL, offsetof(CriterionConfig, threshold), KEY_REQUIRED },
        /* At most the daemon's retention too: checked once the whole file is read. */
        { SECTION_CRITERION, "window", CONFIG_DURATION, "1h",
          "1s", "90d", offsetof(CriterionConfig, window_usec), 0 },
        { SECTION_CRITERION, "max_age", CONFIG_DURATION, "5m",
          "1s", "30d", offsetof(CriterionConfig, max_age_usec), 0 },
        /* The run criteria only: which scenario's runs they judge (the
         * built-in table gives each its own default). */
        { SECTION_CRITERION, "scenario", CONFIG_STRING, "peak",
          NULL, NULL, offsetof(CriterionConfig, scenario), 0 },
        { SECTION_CRITERION, "min_requests", CONFIG_COUNT, "1000",
          "1", "1000000000", offsetof(CriterionConfig, min_requests), 0 },
        /* zero_data_loss only: the seed's "1000+ conflicts". */
        { SECTION_CRITERION, "min_conflicts", CONFIG_COUNT, "1000",
          "0", "1000000000", offsetof(CriterionConfig, min_conflicts), 0 },
        /* acu_scaling only: its rule (acu-window.h); scale_to within
         * [min_acu, max_acu] is checked once the whole section is read. */
        { SECTION_CRITERION, "settle", CONFIG_DURATION, "10m",
          "0", "1d", offsetof(CriterionConfig, settle_usec), 0 },
        { SECTION_CRITERION, "scale_to", CONFIG_ACU, "16",
          "0", "256", offsetof(CriterionConfig, scale_to), 0 },
        { SECTION_CRITERION, "scale_up_within", CONFIG_DURATION, "5m",
          "1s", "1d", offsetof(CriterionConfig, scale_up_within_usec), 0 },
        { SECTION_CRITERION, "min_acu", CONFIG_ACU, "2",
          "0", "256", offsetof(CriterionConfig, min_acu), 0 },
        { SECTION_CRITERION, "max_acu", CONFIG_ACU, "16",
          "0", "256", offsetof(CriterionConfig, max_acu), 0 },
        { SECTION_CRITERION, "enabled", CONFIG_BOOLEAN, "yes",
          NULL, NULL, offsetof(CriterionConfig, disabled), KEY_NEGATED },

        /* Which of rate, stages, users and duration a scenario needs depends
         * on its model: checked once the whole section is read. */
        { SECTION_SCENARIO, "model", CONFIG_MODEL, "open",
          NULL, NULL, offsetof(ScenarioConfig, model), 0 },
        /* Required but for model = exec: checked once the section is read. */
        { SECTION_SCENARIO, "base_url", CONFIG_BASE_URL, NULL,
          NULL, NULL, offsetof(ScenarioConfig, base_url), 0 },
        { SECTION_SCENARIO, "rate", CONFIG_RATE, NULL,
          NULL, NULL, offsetof(ScenarioConfig, rate_rps), KEY_OPEN },
        { SECTION_SCENARIO, "stages", CONFIG_STAGES, NULL,
          NULL, NULL, offsetof(ScenarioConfig, stages), KEY_OPEN },
        { SECTION_SCENARIO, "users", CONFIG_COUNT, NULL,
          "1", "100000", offsetof(ScenarioConfig, users), KEY_CLOSED },
        { SECTION_SCENARIO, "think", CONFIG_DURATION_RANGE, "0",
          "0", "1h", offsetof(ScenarioConfig, think), KEY_CLOSED },
        { SECTION_SCENARIO, "ramp_up", CONFIG_DURATION, "0",
          "0", "1d", offsetof(ScenarioConfig, ramp_up_usec), KEY_CLOSED },
        { SECTION_SCENARIO, "duration", CONFIG_DURATION, NULL,
          "1s", "30d", offsetof(ScenarioConfig, duration_usec), 0 },
        { SECTION_SCENARIO, "timeout", CONFIG_DURATION, "10s",
          "10ms", "5m", offsetof(ScenarioConfig, timeout_usec), 0 },
        { SECTION_SCENARIO, "max_inflight", CONFIG_COUNT, "1000",
          "1", "100000", offsetof(ScenarioConfig, max_inflight), KEY_OPEN },
        { SECTION_SCENARIO, "client", CONFIG_CLIENT, "auto",
          NULL, NULL, offsetof(ScenarioConfig, client), 0 },
        /* Required, or a write line: checked once the section is read. */
        { SECTION_SCENARIO, "request", CONFIG_REQUEST, NULL,
          NULL, NULL, offsetof(ScenarioConfig, requests), KEY_REPEATED },
        /* The lost-write check: only with write lines, which need a read. */
        { SECTION_SCENARIO, "write", CONFIG_WRITE, NULL,
          NULL, NULL, offsetof(ScenarioConfig, requests), KEY_REPEATED },
        { SECTION_SCENARIO, "documents", CONFIG_COUNT, "5",
          "1", "4096", offsetof(ScenarioConfig, documents), 0 },
        { SECTION_SCENARIO, "read", CONFIG_READ, NULL,
          NULL, NULL, offsetof(ScenarioConfig, read_method), 0 },
        { SECTION_SCENARIO, "elements", CONFIG_JSON_POINTER, "/elements",
          NULL, NULL, offsetof(ScenarioConfig, elements), 0 },
        { SECTION_SCENARIO, "conflicts_from", CONFIG_CONFLICTS_FROM, NULL,
          NULL, NULL, offsetof(ScenarioConfig, conflicts_path), 0 },
        { SECTION_SCENARIO, "read_after", CONFIG_DURATION, "2s",
          "0", "1h", offsetof(ScenarioConfig, read_after_usec), 0 },
        { SECTION_SCENARIO, "header", CONFIG_HEADER, NULL,
          NULL, NULL, offsetof(ScenarioConfig, headers), KEY_REPEATED },
        { SECTION_SCENARIO, "expect", CONFIG_EXPECT, "200-299",
          NULL, NULL, offsetof(ScenarioConfig, expect), 0 },
        /* model = exec: Locust (or another tool writing its CSV files). */
        { SECTION_SCENARIO, "command", CONFIG_COMMAND, NULL,
          NULL, NULL, offsetof(ScenarioConfig, command), KEY_EXEC },
        { SECTION_SCENARIO, "csv", CONFIG_STRING, "${run_dir}/locust",
          NULL, NULL, offsetof(ScenarioConfig, csv), KEY_EXEC },
        { SECTION_SCENARIO, "grace", CONFIG_DURATION, "30s",
          "0", "1h", offsetof(ScenarioConfig, grace_usec), KEY_EXEC },
        /* Profiles of a [target] tied to each run (its pprof_url). */
        { SECTION_SCENARIO, "target", CONFIG_STRING, NULL,
          NULL, NULL, offsetof(ScenarioConfig, target), 0 },
        { SECTION_SCENARIO, "cpu_seconds", CONFIG_DURATION, "30s",
          "1s", "5m", offsetof(ScenarioConfig, cpu_seconds_usec), 0 },
        { SECTION_SCENARIO, "schedule", CONFIG_SCHEDULE, NULL,
          NULL, NULL, offsetof(ScenarioConfig, schedule), 0 },
        { SECTION_SCENARIO, "enabled", CONFIG_BOOLEAN, "yes",
          NULL, NULL, offsetof(ScenarioConfig, enabled), 0 },

        /* Each name must be a [scenario]: checked once the whole file is read. */
        { SECTION_SUITE, "scenarios", CONFIG_NAME_LIST, NULL,
          NULL, NULL, offsetof(SuiteConfig, scenarios), KEY_REQUIRED },
        { SECTION_SUITE, "schedule", CONFIG_SCHEDULE, NULL,
          NULL, NULL, offsetof(SuiteConfig, schedule), 0 },
        { SECTION_SUITE, "enabled", CONFIG_BOOLEAN, "yes",
          NULL, NULL, offsetof(SuiteConfig, enabled), 0 },
        { SECTION_SUITE, "preflight", CONFIG_BOOLEAN, "yes",
          NULL, NULL, offsetof(SuiteConfig, preflight), 0 },
};

const size_t config_n_keys = ELEMENTSOF(config_keys);

/* The built-in criteria, in the order Config.criteria always starts with. */
static const BuiltinCriterion builtin_criteria[] = {
        { "latency_p95",    CRITERION_RUN_LATENCY, "ms",   "<",  "300",    NULL,    NULL },
        { "memory",         CRITERION_SERIES,    "bytes",  "<",  "512MiB", NULL,    NULL },
        /* A range check ([2, 16] ACU), not a threshold: no op, no
         * threshold.  A spike run's verdict is known some 15 minutes after
         * it (settle, then CloudWatch's lag), so it keeps for a day. */
        { "acu_scaling",    CRITERION_RUN_ACU,   "ACU",    NULL, NULL,     "spike", "1d" },
        /* Lost writes <= 0, a rule shown but not set: the stress run is
         * long and rare, so its verdict keeps for a day. */
        { "zero_data_loss", CRITERION_RUN_WRITES, "writes", "<=", "0",     "crdt",  "1d" },
};

/* Where the items of each section kind live in a Config, so that adding
 * and freeing them is one generic walk over the key table. */
typedef struct SectionLayout {
        size_t array;                /* offset in Config of the item array (or, for [daemon], the item) */
        size_t count;                /* offset in Config of the array's length; SIZE_MAX: one item in place */
        size_t size;                 /* of one item */
        size_t name;                 /* offset in the item of its name; SIZE_MAX: no name */
} SectionLayout;

static const SectionLayout section_layouts[_SECTION_KIND_MAX] = {
        [SECTION_DAEMON] = { offsetof(Config, daemon), SIZE_MAX, sizeof(DaemonConfig), SIZE_MAX },
        [SECTION_TARGET] = { offsetof(Config, targets), offsetof(Config, n_targets),
                             sizeof(TargetConfig), offsetof(TargetConfig, name) },
        [SECTION_POSTGRES] = { offsetof(Config, postgres), offsetof(Config, n_postgres),
                               sizeof(PostgresConfig), offsetof(PostgresConfig, name) },
        [SECTION_CAPACITY] = { offsetof(Config, capacity), offsetof(Config, n_capacity),
                               sizeof(CapacityConfig), offsetof(CapacityConfig, name) },
        [SECTION_CRITERION] = { offsetof(Config, criteria), offsetof(Config, n_criteria),
                                sizeof(CriterionConfig), offsetof(CriterionConfig, name) },
        [SECTION_SCENARIO] = { offsetof(Config, scenarios), offsetof(Config, n_scenarios),
                               sizeof(ScenarioConfig), offsetof(ScenarioConfig, name) },
        [SECTION_SUITE] = { offsetof(Config, suites), offsetof(Config, n_suites),
                            sizeof(SuiteConfig), offsetof(SuiteConfig, name) },
};

const BuiltinCriterion *config_builtin_lookup(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(builtin_criteria); i++)
                if (streq(builtin_criteria[i].name, name))
                        return &builtin_criteria[i];
        return NULL;
}

/* Makes room for `n + 1` items of `size` bytes in `*array`, which has room
 * for `*allocated`, doubling it when full.  Returns 0 or -ENOMEM. */
static int array_reserve(void **array, size_t *allocated, size_t n, size_t size) {
        size_t want = *allocated ? *allocated * 2 : 16;
        void *a;

        if (n < *allocated)
                return 0;
        if (want > SIZE_MAX / size)
                return -ENOMEM;
        a = realloc(*array, want * size);
        if (!a)
                return -ENOMEM;
        *array = a;
        *allocated = want;
        return 0;
}

const ConfigKey *config_key_lookup(SectionKind kind, const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (config_keys[i].section == kind && streq(config_keys[i].name, name))
                        return &config_keys[i];
        return NULL;
}

/* ---------------------------------------------------------------- errors */

static void parser_add_error(Parser *p, unsigned line, char *text) {
        const ConfigError *e = NULL;

        if (!text) {
                p->oom = true;
                return;
        }
        if (array_reserve((void **) &p->errors, &p->allocated_errors, p->n_errors, sizeof *e) < 0) {
                free(text);
                p->oom = true;
                return;
        }
        p->errors[p->n_errors] = (ConfigError) { .line = line, .seq = p->n_errors, .text = text };
        p->n_errors++;
}

void config_parser_error(Parser *p, unsigned line, const Section *s, const char *key, const char *fmt, ...) {
        char *msg = NULL, *text = NULL, where[32] = "";
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                parser_add_error(p, line, NULL);
                return;
        }
        if (line > 0)
                snprintf(where, sizeof where, ":%u", line);
        r = asprintf(&text, "%s%s: %s%s%s%s%s%s%s", p->config->path, where,
                     s ? "[" : "", s ? s->title : "", s ? "]" : "",
                     s && key ? " " : "", key ?: "", s || key ? ": " : "", msg);
        free(msg);
        parser_add_error(p, line, r < 0 ? NULL : text);
}

static int error_compare(const void *a, const void *b) {
        const ConfigError *x = a, *y = b;

        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* All errors in file order, one per line, each ending in a newline. */
static char *parser_join_errors(Parser *p) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        qsort(p->errors, p->n_errors, sizeof *p->errors, error_compare);
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < p->n_errors; i++)
                fprintf(f, "%s\n", p->errors[i].text);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* ---------------------------------------------------------------- sections */

/* The item `index` of that kind in `c`. */
static void *config_item(const Config *c, SectionKind kind, size_t index) {
        const SectionLayout *l = &section_layouts[kind];
        char *array = (char *) c + l->array;

        if (l->count == SIZE_MAX)
                return array;
        return *(char **) array + index * l->size;
}

static size_t *config_count(const Config *c, SectionKind kind) {
        return (size_t *) ((char *) c + section_layouts[kind].count);
}

static void *section_base(Parser *p, const Section *s) {
        return s->kind == SECTION_INVALID ? NULL : config_item(p->config, s->kind, s->index);
}

/* Sets `k` from text; a failure is reported at `line` (0 for the table's own
 * defaults, which tests keep valid). */
static int parser_set(Parser *p, const Section *s, unsigned line, const ConfigKey *k, const char *v) {
        char problem[PROBLEM_MAX];
        int r;

        r = config_parse_value(k, v, section_base(p, s), problem, sizeof problem);
        if (r == -ENOMEM)
                p->oom = true;
        if (r < 0 && (k->flags & KEY_SECRET))
                config_parser_error(p, line, s, k->name, "the value %s", problem);
        else if (r < 0) {
                /* NB: the error goes to the log on a reload, so a URL's
                 * password is not quoted back. */
                char *shown = redact_url(v);

                if (shown)
                        redact_secrets(shown);
                config_parser_error(p, line, s, k->name, "\"%s\" %s%s", shown ? shown : v, problem,
                                    line == 0 ? " (built-in default)" : "");
                free(shown);
        }
        return r;
}

static void parser_apply_defaults(Parser *p, const Section *s, SectionKind kind) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (config_keys[i].section == kind && config_keys[i].def)
                        (void) parser_set(p, s, 0, &config_keys[i], config_keys[i].def);
}

static bool valid_name(const char *name) {
        size_t len = strlen(name);

        return len >= 1 && len <= CONFIG_NAME_MAX &&
               strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* Adds a zeroed item of that kind to the Config, named and placed at its
 * header's line, and points the section at it. */
static int section_add_item(Parser *p, Section *s, SectionKind kind) {
        const SectionLayout *l = &section_layouts[kind];
        void **array = (void **) ((char *) p->config + l->array);
        size_t *n = config_count(p->config, kind);
        char *item, **name;
        int r;

        r = array_reserve(array, &p->allocated[kind], *n, l->size);
        if (r < 0)
                return r;
        item = (char *) *array + *n * l->size;
        memset(item, 0, l->size);
        name = (char **) (item + l->name);
        *name = strdup(s->name);
        if (!*name)
                return -ENOMEM;
        (*n)++;
        s->index = *n - 1;
        s->kind = kind;
        return 0;
}

/* The Config's criteria start with the built-ins (parser_add_builtins). */
static int section_add_criterion(Parser *p, Section *s) {
        Config *c = p->config;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(builtin_criteria); i++)
                if (streq(c->criteria[i].name, s->name)) {
                        /* A built-in: the section overrides some of its settings. */
                        c->criteria[i].line = s->line;
                        s->index = i;
                        s->kind = SECTION_CRITERION;
                        return 0;
                }
        r = section_add_item(p, s, SECTION_CRITERION);
        if (r < 0)
                return r;
        c->criteria[s->index].line = s->line;
        c->criteria[s->index].kind = CRITERION_SERIES;
        parser_apply_defaults(p, s, SECTION_CRITERION);
        return 0;
}

/* A target, postgres, capacity or scenario section. */
static int section_add_named(Parser *p, Section *s, SectionKind kind) {
        int r = section_add_item(p, s, kind);

        if (r < 0)
                return r;
        switch (kind) {
        case SECTION_TARGET: p->config->targets[s->index].line = s->line; break;
        case SECTION_POSTGRES: p->config->postgres[s->index].line = s->line; break;
        case SECTION_CAPACITY: p->config->capacity[s->index].line = s->line; break;
        case SECTION_SCENARIO: p->config->scenarios[s->index].line = s->line; break;
        case SECTION_SUITE: p->config->suites[s->index].line = s->line; break;
        default: break;
        }
        parser_apply_defaults(p, s, kind);
        return 0;
}

static int section_kind_from_string(const char *s, size_t len) {
        for (int i = 0; i < _SECTION_KIND_MAX; i++)
                if (strlen(section_kind_names[i]) == len && strncmp(section_kind_names[i], s, len) == 0)
                        return i;
        return SECTION_INVALID;
}

static int section_compare(const void *a, const void *b) {
        const Section *x = a, *y = b;

        if (x->kind != y->kind)
                return x->kind < y->kind ? -1 : 1;
        return strcmp(x->name, y->name);
}

const Section *config_section_find(const Parser *p, SectionKind kind, const char *name) {
        Section key = { .kind = kind, .name = name };
        void *node = tfind(&key, &p->section_index, section_compare);

        return node ? *(const Section **) node : NULL;
}

/* Adds the section's item to the Config and the section to the index. */
static int section_add(Parser *p, Section *s, SectionKind kind) {
        int r;

        r = kind == SECTION_CRITERION ? section_add_criterion(p, s) : section_add_named(p, s, kind);
        if (r < 0)
                return r;
        return tsearch(s, &p->section_index, section_compare) ? 0 : -ENOMEM;
}

static void section_open_daemon(Parser *p, Section *s) {
        if (*s->name)
                config_parser_error(p, s->line, s, NULL, "[daemon] takes no name");
        else if (p->daemon_line > 0)
                config_parser_error(p, s->line, s, NULL, "duplicate section, first defined on line %u",
                             p->daemon_line);
        else {
                s->kind = SECTION_DAEMON;
                p->daemon_line = s->line;
        }
}

/* Turns the section's title into a daemon, target, postgres, capacity or
 * criterion; anything wrong is reported once here and the section's keys are
 * then skipped. */
static int section_open(Parser *p, Section *s) {
        const char *t = s->title + strspn(s->title, " \t");
        size_t kind_len = strcspn(t, " \t");
        int kind = section_kind_from_string(t, kind_len);
        const Section *first;

        s->name = t + kind_len + strspn(t + kind_len, " \t");
        if (kind == SECTION_INVALID) {
                char word[CONFIG_NAME_MAX + 1], hint[SUGGESTION_MAX] = "";

                snprintf(word, sizeof word, "%.*s", (int) kind_len, t);
                (void) config_suggestion(word, section_kind_names, _SECTION_KIND_MAX, hint, sizeof hint);
                config_parser_error(p, s->line, s, NULL, "unknown section kind \"%.*s\"%s", (int) kind_len, t, hint);
                return 0;
        }
        if (kind == SECTION_DAEMON) {
                section_open_daemon(p, s);
                return 0;
        }
        if (!*s->name) {
                config_parser_error(p, s->line, s, NULL, "missing name, expected [%s NAME]",
                             section_kind_names[kind]);
                return 0;
        }
        if (!valid_name(s->name)) {
                config_parser_error(p, s->line, s, NULL, "name \"%s\" is not 1-%d characters of A-Z a-z 0-9 _ -",
                             s->name, CONFIG_NAME_MAX);
                return 0;
        }
        first = config_section_find(p, kind, s->name);
        if (first) {
                config_parser_error(p, s->line, s, NULL, "duplicate section, first defined on line %u", first->line);
                return 0;
        }
        return section_add(p, s, kind);
}

/* Starts a section at the current line; with `open` false it stays
 * SECTION_INVALID (its header was already reported). */
static void section_free(Section *s) {
        free(s->title);
        free(s->key_lines);
        free(s->key_bad);
        free(s);
}

static void parser_begin_section(Parser *p, const char *title, size_t len, bool open) {
        Section *s;
        char *end;

        if (array_reserve((void **) &p->sections, &p->allocated_sections, p->n_sections, sizeof *p->sections) < 0) {
                p->oom = true;
                return;
        }
        s = malloc(sizeof *s);
        if (!s) {
                p->oom = true;
                return;
        }
        *s = (Section) { .kind = SECTION_INVALID, .line = p->reader.line, .title = strndup(title, len),
                         .key_lines = calloc(config_n_keys, sizeof *s->key_lines),
                         .key_bad = calloc(config_n_keys, sizeof *s->key_bad) };
        if (!s->title || !s->key_lines || !s->key_bad) {
                section_free(s);
                p->oom = true;
                return;
        }
        p->sections[p->n_sections++] = s;
        for (end = s->title + len; end > s->title && isspace((unsigned char) end[-1]); end--)
                end[-1] = '\0';
        if (open && section_open(p, s) == -ENOMEM)
                p->oom = true;
}

/* ---------------------------------------------------------------- reading */

/* The first of `chars` in `s`, or the start of an inline comment (';'
 * after a blank), or the end: where inih stops looking. */
static const char *find_chars_or_comment(const char *s, const char *chars) {
        bool was_space = false;

        for (; *s && !strchr(chars, *s); s++) {
                if (*s == ';' && was_space)
                        break;
                was_space = isspace((unsigned char) *s);
        }
        return s;
}

static void parser_syntax_error(Parser *p, const char *fmt) {
        if (p->first_syntax_line == 0)
                p->first_syntax_line = p->reader.line;
        config_parser_error(p, p->reader.line, NULL, NULL, "syntax error, %s", fmt);
}

/* inih calls its handler only for keys and stops reporting syntax errors
 * after the first, so every line is classified here, as inih will read it:
 * blank or comment; '[' after blanks, up to the first ']' before an inline
 * comment; or a key with '=' or ':' before an inline comment.  Anything
 * else is a syntax error, and is reported on every such line. */
static void parser_see_line(Parser *p, const char *line) {
        const char *s = line, *end;

        if (p->reader.line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
                s += 3;
        s += strspn(s, " \t\r\n\f\v");
        if (!*s || *s == ';' || *s == '#')
                return;
        if (*s == '[') {
                end = find_chars_or_comment(s + 1, "]");
                if (*end == ']') {
                        parser_begin_section(p, s + 1, (size_t) (end - s - 1), true);
                        return;
                }
                /* Its keys belong to no section: they are skipped. */
                parser_begin_section(p, s + 1, strcspn(s + 1, "\r\n"), false);
                parser_syntax_error(p, "\"[\" without a closing \"]\"");
                return;
        }
        end = find_chars_or_comment(s, "=:");
        if (*end != '=' && *end != ':')
                parser_syntax_error(p, "expected \"[section]\" or \"key = value\"");
}

/* A key line that could not be read still sets its key, as a refused
 * value: "missing required key" would be a confusing second error. */
static void parser_see_bad_key(Parser *p, const char *line) {
        Section *s = p->n_sections > 0 ? p->sections[p->n_sections - 1] : NULL;
        const char *end = find_chars_or_comment(line, "=:");
        const ConfigKey *k;
        char name[64];
        size_t len = (size_t) (end - line);

        while (len > 0 && isspace((unsigned char) line[len - 1]))
                len--;
        if (!s || s->kind == SECTION_INVALID || (*end != '=' && *end != ':') || len >= sizeof name)
                return;
        memcpy(name, line, len);
        name[len] = '\0';
        k = config_key_lookup(s->kind, name);
        if (k && s->key_lines[k - config_keys] == 0) {
                s->key_lines[k - config_keys] = p->reader.line;
                s->key_bad[k - config_keys] = true;
        }
}

/* Sees every line before inih parses it. */
static void parser_on_line(void *userdata, const char *text, IniLineProblem problem, size_t column) {
        Parser *p = userdata;
        const char *s = text + strspn(text, " \t");

        if (problem == INI_LINE_OK) {
                parser_see_line(p, text);
                return;
        }
        /* A header that cannot be read still ends the section before it. */
        if (*s == '[')
                parser_begin_section(p, "?", 1, false);
        else
                parser_see_bad_key(p, s);
        if (problem == INI_LINE_TOO_LONG)
                config_parser_error(p, p->reader.line, NULL, NULL, "%s", ini_line_problem_to_string(problem));
        else
                config_parser_error(p, p->reader.line, NULL, NULL, "%s (column %zu)",
                             ini_line_problem_to_string(problem), column);
}

static bool acu_key(const char *name) {
        return streq(name, "settle") || streq(name, "scale_to") || streq(name, "scale_up_within") ||
               streq(name, "min_acu") || streq(name, "max_acu");
}

static bool criterion_supports(const Parser *p, const Section *s, const ConfigKey *k) {
        bool run_key = streq(k->name, "scenario") || streq(k->name, "min_requests");
        const BuiltinCriterion *b;

        if (s->kind != SECTION_CRITERION || streq(k->name, "enabled"))
                return true;
        b = config_builtin_lookup(p->config->criteria[s->index].name);
        if (b && b->kind == CRITERION_RUN_WRITES)
                return streq(k->name, "scenario") || streq(k->name, "min_conflicts") || streq(k->name, "max_age");
        if (b && b->kind == CRITERION_RUN_ACU)
                return acu_key(k->name) || streq(k->name, "scenario") || streq(k->name, "series") ||
                       streq(k->name, "max_age");
        if (streq(k->name, "min_conflicts") || acu_key(k->name))
                return false;
        if (b && b->kind == CRITERION_RUN_LATENCY)
                return run_key || streq(k->name, "max_age") || streq(k->name, "op") ||
                       streq(k->name, "threshold");
        if (run_key)
                return false;
        return !b || b->kind == CRITERION_SERIES || streq(k->name, "max_age") ||
               (streq(k->name, "threshold") && b->threshold);
}

static void parser_error_unknown_key(Parser *p, const Section *s, const char *name) {
        const char *names[ELEMENTSOF(config_keys)];
        char hint[SUGGESTION_MAX] = "";
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (config_keys[i].section == s->kind)
                        names[n++] = config_keys[i].name;
        (void) config_suggestion(name, names, n, hint, sizeof hint);
        config_parser_error(p, p->reader.line, s, name, "unknown key%s", hint);
}

/* Always returns 1: problems are collected here, so inih's own return value
 * is left to mean a syntax error. */
static int parser_handle_key(void *userdata, const char *section, const char *name, const char *value) {
        Parser *p = userdata;
        Section *s = p->n_sections > 0 ? p->sections[p->n_sections - 1] : NULL;
        const ConfigKey *k;
        size_t i;

        if (!s) {
                config_parser_error(p, p->reader.line, NULL, name, "key outside of any section");
                return 1;
        }
        if (s->kind == SECTION_INVALID)
                return 1;
        k = config_key_lookup(s->kind, name);
        if (!k) {
                parser_error_unknown_key(p, s, name);
                return 1;
        }
        i = (size_t) (k - config_keys);
        if (s->key_lines[i] > 0 && (k->flags & KEY_REPEATED)) {
                if (parser_set(p, s, p->reader.line, k, value) < 0)
                        s->key_bad[i] = true;
                return 1;
        }
        if (s->key_lines[i] > 0) {
                config_parser_error(p, p->reader.line, s, name, "duplicate key, already set on line %u", s->key_lines[i]);
                return 1;
        }
        s->key_lines[i] = p->reader.line;
        if (!criterion_supports(p, s, k)) {
                config_parser_error(p, p->reader.line, s, name, "not supported for this criterion yet");
                return 1;
        }
        if (parser_set(p, s, p->reader.line, k, value) < 0)
                s->key_bad[i] = true;
        return 1;
}

static int parser_read_file(Parser *p, const char *path) {
        int r;

        p->reader = (IniLineReader) { .f = fopen(path, "re"), .on_line = parser_on_line, .userdata = p };
        if (!p->reader.f) {
                r = -errno;
                config_parser_error(p, 0, NULL, NULL, "%s", strerror(-r));
                return r;
        }
        r = ini_lines_parse(&p->reader, parser_handle_key, p);
        fclose(p->reader.f);
        p->reader.f = NULL;
        if (p->reader.read_errno > 0) {
                config_parser_error(p, 0, NULL, NULL, "%s", strerror(p->reader.read_errno));
                return -p->reader.read_errno;
        }
        if (r == -2)
                return -ENOMEM;
        /* Only when inih found a syntax error that parser_see_line() did not. */
        if (r > 0 && (unsigned) r != p->first_syntax_line)
                config_parser_error(p, (unsigned) r, NULL, NULL,
                             "syntax error, expected \"[section]\" or \"key = value\"");
        return 0;
}

/* ---------------------------------------------------------------- the config */

static int parser_add_builtins(Parser *p) {
        Config *c = p->config;

        c->criteria = calloc(ELEMENTSOF(builtin_criteria), sizeof *c->criteria);
        if (!c->criteria)
                return -ENOMEM;
        p->allocated[SECTION_CRITERION] = ELEMENTSOF(builtin_criteria);
        for (size_t i = 0; i < ELEMENTSOF(builtin_criteria); i++) {
                const BuiltinCriterion *b = &builtin_criteria[i];
                Section s = { .kind = SECTION_CRITERION, .index = i, .title = (char *) b->name };

                c->criteria[i] = (CriterionConfig) { .name = strdup(b->name), .kind = b->kind };
                if (!c->criteria[i].name)
                        return -ENOMEM;
                c->n_criteria++;
                parser_apply_defaults(p, &s, SECTION_CRITERION);
                c->criteria[i].threshold = NAN;
                if (b->op)
                        (void) parser_set(p, &s, 0, config_key_lookup(SECTION_CRITERION, "op"), b->op);
                if (b->threshold)
                        (void) parser_set(p, &s, 0, config_key_lookup(SECTION_CRITERION, "threshold"), b->threshold);
                if (b->scenario)
                        (void) parser_set(p, &s, 0, config_key_lookup(SECTION_CRITERION, "scenario"), b->scenario);
                if (b->max_age)
                        (void) parser_set(p, &s, 0, config_key_lookup(SECTION_CRITERION, "max_age"), b->max_age);
        }
        return 0;
}

static int parser_init(Parser *p, const char *path) {
        Section daemon = { .kind = SECTION_DAEMON, .title = (char *) "daemon" };

        p->config = calloc(1, sizeof *p->config);
        if (!p->config)
                return -ENOMEM;
        p->config->path = strdup(path);
        if (!p->config->path)
                return -ENOMEM;
        parser_apply_defaults(p, &daemon, SECTION_DAEMON);
        return parser_add_builtins(p);
}

static void no_free(void *node) {
        (void) node;
}

static void parser_done(Parser *p) {
        tdestroy(p->section_index, no_free);
        for (size_t i = 0; i < p->n_sections; i++)
                section_free(p->sections[i]);
        free(p->sections);
        for (size_t i = 0; i < p->n_errors; i++)
                free(p->errors[i].text);
        free(p->errors);
}

int config_load(const char *path, Config **ret, char **ret_errors) {
        Parser p = {};
        int r;

        *ret = NULL;
        if (ret_errors)
                *ret_errors = NULL;
        r = parser_init(&p, path);
        if (r >= 0)
                r = parser_read_file(&p, path);
        if (r >= 0)
                r = config_parser_check(&p);
        if (r >= 0 && p.oom)
                r = -ENOMEM;
        if (r >= 0 && p.n_errors > 0)
                r = -EINVAL;
        if (r < 0) {
                if (ret_errors && p.n_errors > 0)
                        *ret_errors = parser_join_errors(&p);
                p.config = config_free(p.config);
        }
        *ret = p.config;
        parser_done(&p);
        return r < 0 ? r : 0;
}

/* Frees what the key table says each item of that kind owns, its name and
 * the array: a new string key is freed without a line here. */
static void config_free_items(Config *c, SectionKind kind) {
        const SectionLayout *l = &section_layouts[kind];
        size_t n = l->count == SIZE_MAX ? 1 : *config_count(c, kind);

        for (size_t i = 0; i < n; i++) {
                char *item = config_item(c, kind, i);

                for (size_t j = 0; j < ELEMENTSOF(config_keys); j++)
                        if (config_keys[j].section == kind)
                                config_free_value(&config_keys[j], item);
                if (l->name != SIZE_MAX)
                        free(*(char **) (item + l->name));
        }
        if (l->count != SIZE_MAX)
                free(*(void **) ((char *) c + l->array));
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (int kind = 0; kind < _SECTION_KIND_MAX; kind++)
                config_free_items(c, (SectionKind) kind);
        free(c->path);
        free(c);
        return NULL;
}

const PostgresConfig *config_find_postgres(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_postgres; i++)
                if (streq(c->postgres[i].name, name))
                        return &c->postgres[i];
        return NULL;
}

const SuiteConfig *config_find_suite(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_suites; i++)
                if (streq(c->suites[i].name, name))
                        return &c->suites[i];
        return NULL;
}

const CriterionConfig *config_find_criterion(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_criteria; i++)
                if (streq(c->criteria[i].name, name))
                        return &c->criteria[i];
        return NULL;
}

void config_foreach_key(void (*fn)(const char *section, const char *key, const char *def, void *u), void *u) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                fn(section_kind_names[config_keys[i].section], config_keys[i].name,
                   config_keys[i].def ?: "", u);
}

void config_foreach_bound(void (*fn)(const char *section, const char *key, const char *min, const char *max, void *u),
                          void *u) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (config_keys[i].min || config_keys[i].max)
                        fn(section_kind_names[config_keys[i].section], config_keys[i].name,
                           config_keys[i].min ?: "", config_keys[i].max ?: "", u);
}
