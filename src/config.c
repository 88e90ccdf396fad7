#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "units.h"

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* inih's line buffer, in bytes.  Debian's libinih reads into a heap buffer of
 * ini_initial_alloc bytes that never grows while ini_allow_realloc is off
 * (its stack buffer is fixed at 200 bytes when the library is built, so
 * ini_max_line alone would not help): lines of up to 8191 characters are
 * read whole, which leaves room for long URLs and conninfo strings. */
#define CONFIG_LINE_BUFFER 8192

#define CONFIG_NAME_MAX 64
#define PROBLEM_MAX 256

typedef enum SectionKind {
        SECTION_INVALID = -1,        /* header already reported: its keys are skipped */
        SECTION_DAEMON,
        SECTION_TARGET,
        SECTION_CRITERION,
        _SECTION_KIND_MAX,
} SectionKind;

static const char *const section_kind_names[_SECTION_KIND_MAX] = {
        [SECTION_DAEMON] = "daemon",
        [SECTION_TARGET] = "target",
        [SECTION_CRITERION] = "criterion",
};

typedef enum ConfigType {
        CONFIG_STRING,
        CONFIG_PATH,
        CONFIG_URL,
        CONFIG_ADDRESS,
        CONFIG_DURATION,
        CONFIG_SIZE,
        CONFIG_LOG_LEVEL,
        CONFIG_STATISTIC,
        CONFIG_OP,
        CONFIG_THRESHOLD,
        _CONFIG_TYPE_MAX,
} ConfigType;

typedef struct ConfigKey {
        SectionKind section;
        const char *name;
        ConfigType type;
        const char *def;             /* parsed like a user's value; NULL: none */
        const char *min, *max;       /* bounds in the key's own syntax; NULL: none */
        size_t offset;               /* into DaemonConfig, TargetConfig or CriterionConfig */
        bool required;               /* for criteria: user-defined ones only */
} ConfigKey;

/* The whole configuration language; perfwatchd.conf(5) documents exactly
 * these keys, and tests compare the two through config_foreach_key(). */
static const ConfigKey config_keys[] = {
        /* NB: not under --localstatedir: the unit's StateDirectory= is always /var/lib. */
        { SECTION_DAEMON, "database", CONFIG_PATH, "/var/lib/perfwatch/perfwatch.db",
          NULL, NULL, offsetof(DaemonConfig, database), false },
        { SECTION_DAEMON, "listen", CONFIG_ADDRESS, "127.0.0.1:9470",
          NULL, NULL, offsetof(DaemonConfig, listen), false },
        { SECTION_DAEMON, "retention", CONFIG_DURATION, "14d",
          "1h", NULL, offsetof(DaemonConfig, retention_usec), false },
        { SECTION_DAEMON, "api_token_file", CONFIG_PATH, NULL,
          NULL, NULL, offsetof(DaemonConfig, api_token_file), false },
        { SECTION_DAEMON, "flush_interval", CONFIG_DURATION, "1s",
          "100ms", "1m", offsetof(DaemonConfig, flush_interval_usec), false },
        { SECTION_DAEMON, "evaluate_interval", CONFIG_DURATION, "1s",
          "100ms", "1h", offsetof(DaemonConfig, evaluate_interval_usec), false },
        { SECTION_DAEMON, "log_level", CONFIG_LOG_LEVEL, "info",
          NULL, NULL, offsetof(DaemonConfig, log_level), false },

        { SECTION_TARGET, "memory_url", CONFIG_URL, NULL,
          NULL, NULL, offsetof(TargetConfig, memory_url), true },
        { SECTION_TARGET, "memory_interval", CONFIG_DURATION, "5s",
          "100ms", "1h", offsetof(TargetConfig, memory_interval_usec), false },
        { SECTION_TARGET, "timeout", CONFIG_DURATION, "5s",
          "100ms", "5m", offsetof(TargetConfig, timeout_usec), false },
        { SECTION_TARGET, "max_body", CONFIG_SIZE, "1MiB",
          "1KiB", "256MiB", offsetof(TargetConfig, max_body), false },

        { SECTION_CRITERION, "series", CONFIG_STRING, NULL,
          NULL, NULL, offsetof(CriterionConfig, series), true },
        { SECTION_CRITERION, "statistic", CONFIG_STATISTIC, "max",
          NULL, NULL, offsetof(CriterionConfig, statistic), false },
        { SECTION_CRITERION, "op", CONFIG_OP, NULL,
          NULL, NULL, offsetof(CriterionConfig, op), true },
        { SECTION_CRITERION, "threshold", CONFIG_THRESHOLD, NULL,
          NULL, NULL, offsetof(CriterionConfig, threshold), true },
        { SECTION_CRITERION, "window", CONFIG_DURATION, "1h",
          NULL, NULL, offsetof(CriterionConfig, window_usec), false },
        { SECTION_CRITERION, "max_age", CONFIG_DURATION, "5m",
          NULL, NULL, offsetof(CriterionConfig, max_age_usec), false },
};

/* The built-in criteria, in the order Config.criteria always starts with.
 * Their op and threshold are text, parsed like the user's values.  `unit` is
 * what the criterion measures: a plain threshold number is taken in it, and a
 * threshold in another unit is refused ("" lets the threshold decide). */
typedef struct BuiltinCriterion {
        const char *name;
        CriterionKind kind;
        const char *unit;
        const char *op;
        const char *threshold;
} BuiltinCriterion;

static const BuiltinCriterion builtin_criteria[] = {
        { "latency_p95",    CRITERION_NO_SOURCE, "ms",     "<",  "300" },
        { "memory",         CRITERION_SERIES,    "bytes",  "<",  "512MiB" },
        /* A range check ([2, 16] ACU), not a threshold: no op, no threshold. */
        { "acu_scaling",    CRITERION_NO_SOURCE, "",       NULL, NULL },
        { "zero_data_loss", CRITERION_NO_SOURCE, "writes", "<=", "0" },
};

static const char *const op_names[] = {
        [CRITERION_LT] = "<", [CRITERION_LE] = "<=", [CRITERION_GT] = ">", [CRITERION_GE] = ">=",
};

static const char *const stat_names[] = {
        [CRITERION_MAX] = "max", [CRITERION_MIN] = "min",
        [CRITERION_AVG] = "avg", [CRITERION_LAST] = "last",
};

static const struct {
        const char *name;
        int level;
} log_levels[] = {
        { "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
        { "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

typedef struct Section {
        SectionKind kind;
        unsigned line;
        char *title;                 /* the text between the brackets */
        size_t index;                /* into Config.targets or Config.criteria */
        unsigned key_lines[ELEMENTSOF(config_keys)];  /* where each key was set; 0: not */
} Section;

typedef struct ConfigError {
        unsigned line;               /* 0: about the whole file */
        size_t seq;
        char *text;
} ConfigError;

typedef struct Parser {
        Config *config;
        FILE *f;
        unsigned line;
        int read_errno;
        unsigned daemon_line;        /* header of the [daemon] section; 0: none yet */
        bool oom;
        Section *sections;
        size_t n_sections;
        ConfigError *errors;
        size_t n_errors;
} Parser;

/* Parses `v` for key `k` into the struct at `base`; on failure writes what is
 * wrong with the value into `problem` (the caller quotes the value first). */
typedef int (*ConfigParseFn)(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static void *field(void *base, const ConfigKey *k) {
        return (char *) base + k->offset;
}

static const BuiltinCriterion *builtin_lookup(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(builtin_criteria); i++)
                if (streq(builtin_criteria[i].name, name))
                        return &builtin_criteria[i];
        return NULL;
}

static const ConfigKey *key_lookup(SectionKind kind, const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (config_keys[i].section == kind && streq(config_keys[i].name, name))
                        return &config_keys[i];
        return NULL;
}

/* ---------------------------------------------------------------- values */

static int set_string(void *base, const ConfigKey *k, const char *v, char *problem, size_t n) {
        char **p = field(base, k);
        char *copy = strdup(v);

        if (!copy) {
                snprintf(problem, n, "could not be stored: out of memory");
                return -ENOMEM;
        }
        free(*p);
        *p = copy;
        return 0;
}

static bool has_control_chars(const char *v) {
        for (const unsigned char *c = (const unsigned char *) v; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        return true;
        return false;
}

static int parse_string(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        if (!*v) {
                snprintf(problem, n, "is empty");
                return -EINVAL;
        }
        if (has_control_chars(v)) {
                snprintf(problem, n, "contains control characters");
                return -EINVAL;
        }
        return set_string(base, k, v, problem, n);
}

static int parse_path(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        if (v[0] != '/' || has_control_chars(v)) {
                snprintf(problem, n, "is not an absolute path");
                return -EINVAL;
        }
        return set_string(base, k, v, problem, n);
}

/* libcurl parses the URL the probes will hand it, so what passes here is
 * what curl will accept later. */
static int check_url(const char *v, char *problem, size_t n) {
        char *host = NULL;
        CURLU *u;
        int r = 0;

        if (strncasecmp(v, "http://", 7) != 0 && strncasecmp(v, "https://", 8) != 0) {
                snprintf(problem, n, "is not an http:// or https:// URL");
                return -EINVAL;
        }
        u = curl_url();
        if (!u) {
                snprintf(problem, n, "could not be checked: out of memory");
                return -ENOMEM;
        }
        if (curl_url_set(u, CURLUPART_URL, v, 0) != CURLUE_OK) {
                snprintf(problem, n, "is not a valid URL");
                r = -EINVAL;
        } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
                snprintf(problem, n, "has no host");
                r = -EINVAL;
        }
        curl_free(host);
        curl_url_cleanup(u);
        return r;
}

static int parse_url(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        int r = check_url(v, problem, n);

        return r < 0 ? r : set_string(base, k, v, problem, n);
}

static int check_port(const char *port, char *problem, size_t n) {
        unsigned long v = 0;

        if (!*port || strspn(port, "0123456789") != strlen(port)) {
                snprintf(problem, n, "has no valid :PORT");
                return -EINVAL;
        }
        /* Port 0 (any free port) is accepted so tests can avoid collisions. */
        for (const char *c = port; *c && v <= 65535; c++)
                v = v * 10 + (unsigned long) (*c - '0');
        if (v > 65535) {
                snprintf(problem, n, "port out of range");
                return -ERANGE;
        }
        return 0;
}

static bool valid_hostname(const char *h, size_t len) {
        if (len == 0 || len > 253)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char) h[i]) && h[i] != '.' && h[i] != '-')
                        return false;
        return true;
}

static int check_ipv6(const char *v, size_t len, char *problem, size_t n) {
        char buf[INET6_ADDRSTRLEN];
        struct in6_addr a;

        if (len < sizeof buf) {
                memcpy(buf, v, len);
                buf[len] = '\0';
                if (inet_pton(AF_INET6, buf, &a) == 1)
                        return 0;
        }
        snprintf(problem, n, "has an invalid IPv6 address");
        return -EINVAL;
}

static int check_address(const char *v, char *problem, size_t n) {
        const char *colon, *close;
        int r;

        if (v[0] == '[') {
                close = strchr(v, ']');
                if (!close || close[1] != ':') {
                        snprintf(problem, n, "is not HOST:PORT or [IPV6]:PORT");
                        return -EINVAL;
                }
                r = check_ipv6(v + 1, (size_t) (close - v - 1), problem, n);
                return r < 0 ? r : check_port(close + 2, problem, n);
        }
        colon = strrchr(v, ':');
        if (!colon) {
                snprintf(problem, n, "has no :PORT");
                return -EINVAL;
        }
        if (colon != strchr(v, ':')) {
                snprintf(problem, n, "is an IPv6 address without [brackets]");
                return -EINVAL;
        }
        if (!valid_hostname(v, (size_t) (colon - v))) {
                snprintf(problem, n, "has an invalid host");
                return -EINVAL;
        }
        return check_port(colon + 1, problem, n);
}

static int parse_address(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        int r = check_address(v, problem, n);

        return r < 0 ? r : set_string(base, k, v, problem, n);
}

static int check_bounds(const ConfigKey *k, uint64_t v, int (*parse)(const char *, uint64_t *),
                        char *problem, size_t n) {
        uint64_t b;

        if (k->min && (parse(k->min, &b) < 0 || v < b)) {
                snprintf(problem, n, "is below the minimum %s", k->min);
                return -ERANGE;
        }
        if (k->max && (parse(k->max, &b) < 0 || v > b)) {
                snprintf(problem, n, "is above the maximum %s", k->max);
                return -ERANGE;
        }
        return 0;
}

static int parse_duration(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        uint64_t usec;
        int r;

        r = units_parse_duration(v, &usec);
        if (r == -ERANGE) {
                snprintf(problem, n, "is too long a duration");
                return r;
        }
        if (r < 0) {
                snprintf(problem, n, "is not a duration");
                return r;
        }
        r = check_bounds(k, usec, units_parse_duration, problem, n);
        if (r < 0)
                return r;
        *(uint64_t *) field(base, k) = usec;
        return 0;
}

static int parse_size(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        uint64_t bytes;
        int r;

        r = units_parse_size(v, &bytes);
        if (r == -ERANGE) {
                snprintf(problem, n, "is too large a size");
                return r;
        }
        if (r < 0) {
                snprintf(problem, n, "is not a size");
                return r;
        }
        r = check_bounds(k, bytes, units_parse_size, problem, n);
        if (r < 0)
                return r;
        *(uint64_t *) field(base, k) = bytes;
        return 0;
}

static int parse_log_level(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(log_levels); i++)
                if (streq(log_levels[i].name, v)) {
                        *(int *) field(base, k) = log_levels[i].level;
                        return 0;
                }
        snprintf(problem, n, "is not a log level (err, warning, notice, info, debug)");
        return -EINVAL;
}

static int parse_statistic(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(stat_names); i++)
                if (streq(stat_names[i], v)) {
                        *(CriterionStat *) field(base, k) = (CriterionStat) i;
                        return 0;
                }
        snprintf(problem, n, "is not a statistic (max, min, avg, last)");
        return -EINVAL;
}

static int parse_op(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(op_names); i++)
                if (streq(op_names[i], v)) {
                        *(CriterionOp *) field(base, k) = (CriterionOp) i;
                        return 0;
                }
        snprintf(problem, n, "is not a comparison (<, <=, >, >=)");
        return -EINVAL;
}

/* A plain number, else a duration (in milliseconds), else a size (in bytes).
 * Plain numbers go first so that "5" stays 5 rather than 5 s = 5000 ms. */
static int threshold_value(const char *v, double *ret, const char **ret_unit) {
        uint64_t u;
        char *end;
        double d;

        if (*v && strspn(v, "0123456789.+-eE") == strlen(v)) {
                errno = 0;
                d = strtod(v, &end);
                if (end != v && *end == '\0' && errno == 0 && isfinite(d)) {
                        *ret = d;
                        *ret_unit = "";
                        return 0;
                }
        }
        if (units_parse_duration(v, &u) == 0) {
                *ret = (double) u / (double) USEC_PER_MSEC;
                *ret_unit = "ms";
                return 0;
        }
        if (units_parse_size(v, &u) == 0) {
                *ret = (double) u;
                *ret_unit = "bytes";
                return 0;
        }
        return -EINVAL;
}

static int parse_threshold(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        CriterionConfig *c = base;
        const BuiltinCriterion *b = builtin_lookup(c->name);
        const char *unit;
        char *copy;
        double d;

        if (threshold_value(v, &d, &unit) < 0) {
                snprintf(problem, n, "is not a number, a size (512MiB) or a duration (300ms)");
                return -EINVAL;
        }
        if (b && b->unit[0]) {
                if (unit[0] && !streq(unit, b->unit)) {
                        snprintf(problem, n, "is in %s, but %s is measured in %s", unit, b->name, b->unit);
                        return -EINVAL;
                }
                unit = b->unit;
        }
        copy = strdup(unit);
        if (!copy) {
                snprintf(problem, n, "could not be stored: out of memory");
                return -ENOMEM;
        }
        free(c->unit);
        c->unit = copy;
        *(double *) field(base, k) = d;
        return 0;
}

static const ConfigParseFn config_parsers[_CONFIG_TYPE_MAX] = {
        [CONFIG_STRING] = parse_string,
        [CONFIG_PATH] = parse_path,
        [CONFIG_URL] = parse_url,
        [CONFIG_ADDRESS] = parse_address,
        [CONFIG_DURATION] = parse_duration,
        [CONFIG_SIZE] = parse_size,
        [CONFIG_LOG_LEVEL] = parse_log_level,
        [CONFIG_STATISTIC] = parse_statistic,
        [CONFIG_OP] = parse_op,
        [CONFIG_THRESHOLD] = parse_threshold,
};

/* ---------------------------------------------------------------- errors */

static void parser_add_error(Parser *p, unsigned line, char *text) {
        ConfigError *e;

        if (!text) {
                p->oom = true;
                return;
        }
        e = realloc(p->errors, (p->n_errors + 1) * sizeof *e);
        if (!e) {
                free(text);
                p->oom = true;
                return;
        }
        p->errors = e;
        p->errors[p->n_errors] = (ConfigError) { .line = line, .seq = p->n_errors, .text = text };
        p->n_errors++;
}

/* "FILE:LINE: [title] key: problem", leaving out what is not known. */
static void parser_error(Parser *p, unsigned line, const Section *s, const char *key,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void parser_error(Parser *p, unsigned line, const Section *s, const char *key,
                         const char *fmt, ...) {
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

static void *section_base(Parser *p, const Section *s) {
        switch (s->kind) {
        case SECTION_DAEMON: return &p->config->daemon;
        case SECTION_TARGET: return &p->config->targets[s->index];
        case SECTION_CRITERION: return &p->config->criteria[s->index];
        default: return NULL;
        }
}

/* Sets `k` from text; a failure is reported at `line` (0 for the table's own
 * defaults, which tests keep valid). */
static int parser_set(Parser *p, const Section *s, unsigned line, const ConfigKey *k, const char *v) {
        char problem[PROBLEM_MAX];
        int r;

        r = config_parsers[k->type](k, v, section_base(p, s), problem, sizeof problem);
        if (r == -ENOMEM)
                p->oom = true;
        if (r < 0)
                parser_error(p, line, s, k->name, "\"%s\" %s%s", v, problem,
                             line == 0 ? " (built-in default)" : "");
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

static int section_add_target(Parser *p, Section *s, const char *name) {
        Config *c = p->config;
        TargetConfig *t;

        for (size_t i = 0; i < c->n_targets; i++)
                if (streq(c->targets[i].name, name)) {
                        parser_error(p, s->line, s, NULL, "duplicate section, first defined on line %u",
                                     c->targets[i].line);
                        return -EEXIST;
                }
        t = realloc(c->targets, (c->n_targets + 1) * sizeof *t);
        if (!t)
                return -ENOMEM;
        c->targets = t;
        t = &c->targets[c->n_targets];
        *t = (TargetConfig) { .name = strdup(name), .line = s->line };
        if (!t->name)
                return -ENOMEM;
        s->index = c->n_targets++;
        s->kind = SECTION_TARGET;
        parser_apply_defaults(p, s, SECTION_TARGET);
        return 0;
}

static int section_add_criterion(Parser *p, Section *s, const char *name) {
        Config *c = p->config;
        CriterionConfig *cc;

        for (size_t i = 0; i < c->n_criteria; i++) {
                if (!streq(c->criteria[i].name, name))
                        continue;
                if (c->criteria[i].line > 0) {
                        parser_error(p, s->line, s, NULL, "duplicate section, first defined on line %u",
                                     c->criteria[i].line);
                        return -EEXIST;
                }
                /* A built-in: the section overrides some of its settings. */
                c->criteria[i].line = s->line;
                s->index = i;
                s->kind = SECTION_CRITERION;
                return 0;
        }
        cc = realloc(c->criteria, (c->n_criteria + 1) * sizeof *cc);
        if (!cc)
                return -ENOMEM;
        c->criteria = cc;
        cc = &c->criteria[c->n_criteria];
        *cc = (CriterionConfig) { .name = strdup(name), .line = s->line, .kind = CRITERION_SERIES };
        if (!cc->name)
                return -ENOMEM;
        s->index = c->n_criteria++;
        s->kind = SECTION_CRITERION;
        parser_apply_defaults(p, s, SECTION_CRITERION);
        return 0;
}

static int section_kind_from_string(const char *s, size_t len) {
        for (int i = 0; i < _SECTION_KIND_MAX; i++)
                if (strlen(section_kind_names[i]) == len && strncmp(section_kind_names[i], s, len) == 0)
                        return i;
        return SECTION_INVALID;
}

/* Turns the section's title into a daemon, target or criterion; anything
 * wrong is reported once here and the section's keys are then skipped. */
static int section_open(Parser *p, Section *s) {
        const char *t = s->title + strspn(s->title, " \t");
        size_t kind_len = strcspn(t, " \t");
        int kind = section_kind_from_string(t, kind_len);
        const char *name = t + kind_len + strspn(t + kind_len, " \t");

        if (kind == SECTION_INVALID) {
                parser_error(p, s->line, s, NULL, "unknown section kind \"%.*s\"", (int) kind_len, t);
                return 0;
        }
        if (kind == SECTION_DAEMON) {
                if (*name)
                        parser_error(p, s->line, s, NULL, "[daemon] takes no name");
                else if (p->daemon_line > 0)
                        parser_error(p, s->line, s, NULL, "duplicate section, first defined on line %u",
                                     p->daemon_line);
                else {
                        s->kind = SECTION_DAEMON;
                        p->daemon_line = s->line;
                }
                return 0;
        }
        if (!*name) {
                parser_error(p, s->line, s, NULL, "missing name, expected [%s NAME]", section_kind_names[kind]);
                return 0;
        }
        if (!valid_name(name)) {
                parser_error(p, s->line, s, NULL, "name \"%s\" is not 1-%d characters of A-Z a-z 0-9 _ -",
                             name, CONFIG_NAME_MAX);
                return 0;
        }
        return kind == SECTION_TARGET ? section_add_target(p, s, name) : section_add_criterion(p, s, name);
}

static void parser_begin_section(Parser *p, const char *title, size_t len) {
        Section *s;
        char *end;

        s = realloc(p->sections, (p->n_sections + 1) * sizeof *s);
        if (!s) {
                p->oom = true;
                return;
        }
        p->sections = s;
        s = &p->sections[p->n_sections];
        *s = (Section) { .kind = SECTION_INVALID, .line = p->line, .title = strndup(title, len) };
        if (!s->title) {
                p->oom = true;
                return;
        }
        p->n_sections++;
        for (end = s->title + len; end > s->title && isspace((unsigned char) end[-1]); end--)
                end[-1] = '\0';
        if (section_open(p, s) == -ENOMEM)
                p->oom = true;
}

/* ---------------------------------------------------------------- reading */

/* inih calls its handler only for keys, so section headers are seen here, as
 * inih will read them: '[' after blanks, up to the first ']' that comes
 * before an inline comment.  A header inih rejects is its syntax error. */
static void parser_see_line(Parser *p, const char *line) {
        const char *s = line, *end;
        bool was_space = false;

        if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
                s += 3;
        s += strspn(s, " \t\r\n\f\v");
        if (*s != '[')
                return;
        for (end = s + 1; *end && *end != ']'; end++) {
                if (*end == ';' && was_space)
                        return;
                was_space = isspace((unsigned char) *end);
        }
        if (*end == ']')
                parser_begin_section(p, s + 1, (size_t) (end - s - 1));
}

/* inih's reader: one physical line per call, so p->line is the line inih is
 * working on when it calls the handler. */
static char *parser_read_line(char *buf, int size, void *userdata) {
        Parser *p = userdata;
        size_t len;
        int c;

        if (!fgets(buf, size, p->f)) {
                if (ferror(p->f))
                        p->read_errno = errno > 0 ? errno : EIO;
                return NULL;
        }
        p->line++;
        len = strlen(buf);
        if (len + 1 == (size_t) size && buf[len - 1] != '\n') {
                c = getc(p->f);
                if (c != EOF && c != '\n') {
                        while (c != EOF && c != '\n')
                                c = getc(p->f);
                        parser_error(p, p->line, NULL, NULL, "line longer than %d characters", size - 1);
                        buf[0] = '\0';
                        return buf;
                }
        }
        parser_see_line(p, buf);
        return buf;
}

static bool criterion_supports(const Parser *p, const Section *s, const ConfigKey *k) {
        const BuiltinCriterion *b;

        if (s->kind != SECTION_CRITERION)
                return true;
        b = builtin_lookup(p->config->criteria[s->index].name);
        return !b || b->kind == CRITERION_SERIES || streq(k->name, "max_age") ||
               (streq(k->name, "threshold") && b->threshold);
}

/* Always returns 1: problems are collected here, so inih's own return value
 * is left to mean a syntax error. */
static int parser_handle_key(void *userdata, const char *section, const char *name, const char *value) {
        Parser *p = userdata;
        Section *s = p->n_sections > 0 ? &p->sections[p->n_sections - 1] : NULL;
        const ConfigKey *k;
        size_t i;

        if (!s) {
                parser_error(p, p->line, NULL, name, "key outside of any section");
                return 1;
        }
        if (s->kind == SECTION_INVALID)
                return 1;
        k = key_lookup(s->kind, name);
        if (!k) {
                parser_error(p, p->line, s, name, "unknown key");
                return 1;
        }
        i = (size_t) (k - config_keys);
        if (s->key_lines[i] > 0) {
                parser_error(p, p->line, s, name, "duplicate key, already set on line %u", s->key_lines[i]);
                return 1;
        }
        s->key_lines[i] = p->line;
        if (!criterion_supports(p, s, k)) {
                parser_error(p, p->line, s, name, "not supported for this criterion yet");
                return 1;
        }
        (void) parser_set(p, s, p->line, k, value);
        return 1;
}

static int parser_read_file(Parser *p, const char *path) {
        int r;

        p->f = fopen(path, "re");
        if (!p->f) {
                r = -errno;
                parser_error(p, 0, NULL, NULL, "%s", strerror(-r));
                return r;
        }
        ini_use_stack = false;
        ini_allow_realloc = false;
        ini_initial_alloc = CONFIG_LINE_BUFFER;
        ini_max_line = CONFIG_LINE_BUFFER;
        /* An indented line is a key of its own, not the continuation of the
         * previous value (which would read as a duplicate key). */
        ini_allow_multiline = false;
        ini_allow_inline_comments = true;
        ini_stop_on_first_error = false;

        r = ini_parse_stream(parser_read_line, p, parser_handle_key, p);
        fclose(p->f);
        p->f = NULL;
        if (p->read_errno > 0) {
                parser_error(p, 0, NULL, NULL, "%s", strerror(p->read_errno));
                return -p->read_errno;
        }
        if (r == -2)
                return -ENOMEM;
        if (r > 0)
                parser_error(p, (unsigned) r, NULL, NULL,
                             "syntax error, expected \"[section]\" or \"key = value\"");
        return 0;
}

/* ---------------------------------------------------------------- the config */

static int parser_add_builtins(Parser *p) {
        Config *c = p->config;

        c->criteria = calloc(ELEMENTSOF(builtin_criteria), sizeof *c->criteria);
        if (!c->criteria)
                return -ENOMEM;
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
                        (void) parser_set(p, &s, 0, key_lookup(SECTION_CRITERION, "op"), b->op);
                if (b->threshold)
                        (void) parser_set(p, &s, 0, key_lookup(SECTION_CRITERION, "threshold"), b->threshold);
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

/* Checks what can only be checked once the whole file is read. */
static int parser_finish(Parser *p) {
        Config *c = p->config;
        CriterionConfig *memory;

        for (size_t i = 0; i < p->n_sections; i++) {
                const Section *s = &p->sections[i];

                if (s->kind == SECTION_INVALID)
                        continue;
                if (s->kind == SECTION_CRITERION && builtin_lookup(c->criteria[s->index].name))
                        continue;
                for (size_t j = 0; j < ELEMENTSOF(config_keys); j++)
                        if (config_keys[j].section == s->kind && config_keys[j].required &&
                            s->key_lines[j] == 0)
                                parser_error(p, s->line, s, NULL, "missing required key %s",
                                             config_keys[j].name);
        }
        /* With one target the memory criterion knows which series to watch;
         * with none or several it stays without one and reports unknown. */
        memory = (CriterionConfig *) config_find_criterion(c, "memory");
        if (memory && !memory->series && c->n_targets == 1 &&
            asprintf(&memory->series, "go.%s.Sys", c->targets[0].name) < 0) {
                memory->series = NULL;
                return -ENOMEM;
        }
        return 0;
}

static void parser_done(Parser *p) {
        for (size_t i = 0; i < p->n_sections; i++)
                free(p->sections[i].title);
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
                r = parser_finish(&p);
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

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->daemon.database);
        free(c->daemon.listen);
        free(c->daemon.api_token_file);
        for (size_t i = 0; i < c->n_targets; i++) {
                free(c->targets[i].name);
                free(c->targets[i].memory_url);
        }
        free(c->targets);
        for (size_t i = 0; i < c->n_criteria; i++) {
                free(c->criteria[i].name);
                free(c->criteria[i].series);
                free(c->criteria[i].unit);
        }
        free(c->criteria);
        free(c);
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

const char *config_op_to_string(CriterionOp op) {
        return (size_t) op < ELEMENTSOF(op_names) ? op_names[op] : "?";
}

const char *config_stat_to_string(CriterionStat s) {
        return (size_t) s < ELEMENTSOF(stat_names) ? stat_names[s] : "?";
}

void config_foreach_key(void (*fn)(const char *section, const char *key, const char *def, void *u), void *u) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                fn(section_kind_names[config_keys[i].section], config_keys[i].name,
                   config_keys[i].def ?: "", u);
}
