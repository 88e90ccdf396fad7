/* The configuration file's parser: sections, the key table, errors and the
 * checks that tie keys and sections together.  The values of each key type
 * are parsed in config-values.c. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/aws-credentials.h"
#include "config/config-internal.h"
#include "util/units.h"

#define PROBLEM_MAX 256

static const char *const section_kind_names[_SECTION_KIND_MAX] = {
        [SECTION_DAEMON] = "daemon",
        [SECTION_TARGET] = "target",
        [SECTION_POSTGRES] = "postgres",
        [SECTION_CAPACITY] = "capacity",
        [SECTION_CRITERION] = "criterion",
};

/* The whole configuration language; perfwatchd.conf(5) documents exactly
 * these keys, and tests compare the two through config_foreach_key(). */
static const ConfigKey config_keys[] = {
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
        { SECTION_CRITERION, "window", CONFIG_DURATION, "1h",
          NULL, NULL, offsetof(CriterionConfig, window_usec), 0 },
        { SECTION_CRITERION, "max_age", CONFIG_DURATION, "5m",
          NULL, NULL, offsetof(CriterionConfig, max_age_usec), 0 },
};

/* The built-in criteria, in the order Config.criteria always starts with. */
static const BuiltinCriterion builtin_criteria[] = {
        { "latency_p95",    CRITERION_NO_SOURCE, "ms",     "<",  "300" },
        { "memory",         CRITERION_SERIES,    "bytes",  "<",  "512MiB" },
        /* A range check ([2, 16] ACU), not a threshold: no op, no threshold. */
        { "acu_scaling",    CRITERION_NO_SOURCE, "",       NULL, NULL },
        { "zero_data_loss", CRITERION_NO_SOURCE, "writes", "<=", "0" },
};

typedef struct Section {
        SectionKind kind;
        unsigned line;
        char *title;                 /* the text between the brackets */
        const char *name;            /* the NAME part of the title */
        size_t index;                /* into the Config array of its kind */
        unsigned key_lines[ELEMENTSOF(config_keys)];  /* where each key was set; 0: not */
        bool key_bad[ELEMENTSOF(config_keys)];        /* set, but refused: no cross-checks on it */
} Section;

typedef struct ConfigError {
        unsigned line;               /* 0: about the whole file */
        size_t seq;
        char *text;
} ConfigError;

typedef struct Parser {
        Config *config;
        ConfigLineReader reader;     /* reader.line: the line inih is working on */
        unsigned daemon_line;        /* header of the [daemon] section; 0: none yet */
        bool oom;
        Section *sections;
        size_t n_sections;
        ConfigError *errors;
        size_t n_errors;
} Parser;

const BuiltinCriterion *config_builtin_lookup(const char *name) {
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
        Config *c = p->config;

        switch (s->kind) {
        case SECTION_DAEMON: return &c->daemon;
        case SECTION_TARGET: return &c->targets[s->index];
        case SECTION_POSTGRES: return &c->postgres[s->index];
        case SECTION_CAPACITY: return &c->capacity[s->index];
        case SECTION_CRITERION: return &c->criteria[s->index];
        default: return NULL;
        }
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
                parser_error(p, line, s, k->name, "the value %s", problem);
        else if (r < 0)
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

/* Grows `*array` of `*n` items of `size` bytes by one zeroed item. */
static void *array_append(void **array, size_t *n, size_t size) {
        char *a = realloc(*array, (*n + 1) * size);

        if (!a)
                return NULL;
        *array = a;
        memset(a + *n * size, 0, size);
        return a + (*n)++ * size;
}

/* Adds the item of a [target], [postgres] or [capacity] section, named from
 * its header, to the Config. */
static int section_add_item(Parser *p, Section *s, SectionKind kind) {
        Config *c = p->config;
        char **name;

        switch (kind) {
        case SECTION_TARGET: {
                TargetConfig *t = array_append((void **) &c->targets, &c->n_targets, sizeof *t);

                if (!t)
                        return -ENOMEM;
                t->line = s->line;
                name = &t->name;
                s->index = c->n_targets - 1;
                break;
        }
        case SECTION_POSTGRES: {
                PostgresConfig *pc = array_append((void **) &c->postgres, &c->n_postgres, sizeof *pc);

                if (!pc)
                        return -ENOMEM;
                pc->line = s->line;
                name = &pc->name;
                s->index = c->n_postgres - 1;
                break;
        }
        case SECTION_CAPACITY: {
                CapacityConfig *cc = array_append((void **) &c->capacity, &c->n_capacity, sizeof *cc);

                if (!cc)
                        return -ENOMEM;
                cc->line = s->line;
                name = &cc->name;
                s->index = c->n_capacity - 1;
                break;
        }
        default:
                return -EINVAL;
        }
        *name = strdup(s->name);
        if (!*name)
                return -ENOMEM;
        s->kind = kind;
        parser_apply_defaults(p, s, kind);
        return 0;
}

static int section_add_criterion(Parser *p, Section *s) {
        Config *c = p->config;
        CriterionConfig *cc;

        for (size_t i = 0; i < c->n_criteria; i++)
                if (streq(c->criteria[i].name, s->name)) {
                        /* A built-in: the section overrides some of its settings. */
                        c->criteria[i].line = s->line;
                        s->index = i;
                        s->kind = SECTION_CRITERION;
                        return 0;
                }
        cc = array_append((void **) &c->criteria, &c->n_criteria, sizeof *cc);
        if (!cc)
                return -ENOMEM;
        *cc = (CriterionConfig) { .name = strdup(s->name), .line = s->line, .kind = CRITERION_SERIES };
        if (!cc->name)
                return -ENOMEM;
        s->index = c->n_criteria - 1;
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

/* The earlier section of that kind and name, among those opened. */
static const Section *section_find(const Parser *p, SectionKind kind, const char *name) {
        for (size_t i = 0; i < p->n_sections; i++)
                if (p->sections[i].kind == kind && streq(p->sections[i].name, name))
                        return &p->sections[i];
        return NULL;
}

static void section_open_daemon(Parser *p, Section *s) {
        if (*s->name)
                parser_error(p, s->line, s, NULL, "[daemon] takes no name");
        else if (p->daemon_line > 0)
                parser_error(p, s->line, s, NULL, "duplicate section, first defined on line %u",
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
                parser_error(p, s->line, s, NULL, "unknown section kind \"%.*s\"", (int) kind_len, t);
                return 0;
        }
        if (kind == SECTION_DAEMON) {
                section_open_daemon(p, s);
                return 0;
        }
        if (!*s->name) {
                parser_error(p, s->line, s, NULL, "missing name, expected [%s NAME]",
                             section_kind_names[kind]);
                return 0;
        }
        if (!valid_name(s->name)) {
                parser_error(p, s->line, s, NULL, "name \"%s\" is not 1-%d characters of A-Z a-z 0-9 _ -",
                             s->name, CONFIG_NAME_MAX);
                return 0;
        }
        first = section_find(p, kind, s->name);
        if (first) {
                parser_error(p, s->line, s, NULL, "duplicate section, first defined on line %u", first->line);
                return 0;
        }
        return kind == SECTION_CRITERION ? section_add_criterion(p, s) : section_add_item(p, s, kind);
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
        *s = (Section) { .kind = SECTION_INVALID, .line = p->reader.line, .title = strndup(title, len) };
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

        if (p->reader.line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
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

/* Sees every line before inih parses it. */
static void parser_on_line(void *userdata, const char *text, bool too_long) {
        Parser *p = userdata;

        if (too_long)
                parser_error(p, p->reader.line, NULL, NULL, "line longer than %d characters",
                             CONFIG_LINE_BUFFER - 1);
        else
                parser_see_line(p, text);
}

static bool criterion_supports(const Parser *p, const Section *s, const ConfigKey *k) {
        const BuiltinCriterion *b;

        if (s->kind != SECTION_CRITERION)
                return true;
        b = config_builtin_lookup(p->config->criteria[s->index].name);
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
                parser_error(p, p->reader.line, NULL, name, "key outside of any section");
                return 1;
        }
        if (s->kind == SECTION_INVALID)
                return 1;
        k = key_lookup(s->kind, name);
        if (!k) {
                parser_error(p, p->reader.line, s, name, "unknown key");
                return 1;
        }
        i = (size_t) (k - config_keys);
        if (s->key_lines[i] > 0) {
                parser_error(p, p->reader.line, s, name, "duplicate key, already set on line %u", s->key_lines[i]);
                return 1;
        }
        s->key_lines[i] = p->reader.line;
        if (!criterion_supports(p, s, k)) {
                parser_error(p, p->reader.line, s, name, "not supported for this criterion yet");
                return 1;
        }
        if (parser_set(p, s, p->reader.line, k, value) < 0)
                s->key_bad[i] = true;
        return 1;
}

static int parser_read_file(Parser *p, const char *path) {
        int r;

        p->reader = (ConfigLineReader) { .f = fopen(path, "re"), .on_line = parser_on_line, .userdata = p };
        if (!p->reader.f) {
                r = -errno;
                parser_error(p, 0, NULL, NULL, "%s", strerror(-r));
                return r;
        }
        r = config_ini_parse(&p->reader, parser_handle_key, p);
        fclose(p->reader.f);
        p->reader.f = NULL;
        if (p->reader.read_errno > 0) {
                parser_error(p, 0, NULL, NULL, "%s", strerror(p->reader.read_errno));
                return -p->reader.read_errno;
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

/* ---------------------------------------------------------------- checks */

/* Checks what can only be checked once the whole file is read: required
 * keys, and rules that tie keys or sections together.  A key that was set
 * but refused is not checked again against the others. */

static size_t key_index(SectionKind kind, const char *name) {
        return (size_t) (key_lookup(kind, name) - config_keys);
}

/* The line where the section set `name`; 0: not set. */
static unsigned key_line(const Section *s, const char *name) {
        return s->key_lines[key_index(s->kind, name)];
}

/* Set, or left at its default, and valid either way. */
static bool key_valid(const Section *s, const char *name) {
        return !s->key_bad[key_index(s->kind, name)];
}

/* `only`: the KEY_CLOUDWATCH/KEY_SQL flag of the section's source; keys of
 * another source are not required (0: none is). */
static void section_check_required(Parser *p, const Section *s, unsigned only) {
        for (size_t j = 0; j < ELEMENTSOF(config_keys); j++) {
                const ConfigKey *k = &config_keys[j];

                if (k->section != s->kind || !(k->flags & KEY_REQUIRED) || s->key_lines[j] > 0)
                        continue;
                if ((k->flags & KEY_ONLY_MASK) && !(k->flags & only))
                        continue;
                parser_error(p, s->line, s, NULL, "missing required key %s", k->name);
        }
}

/* Reports `a` (when set, else `b`) as not fitting the other: "a: 30s must
 * be less than b 20s". */
static void parser_error_pair(Parser *p, const Section *s, const char *a, uint64_t va, const char *a_rel,
                              const char *b, uint64_t vb, const char *b_rel) {
        char ta[64], tb[64];

        units_format_duration(va, ta, sizeof ta);
        units_format_duration(vb, tb, sizeof tb);
        if (key_line(s, a) > 0)
                parser_error(p, key_line(s, a), s, a, "%s must be %s %s %s", ta, a_rel, b, tb);
        else
                parser_error(p, key_line(s, b), s, b, "%s must be %s %s %s", tb, b_rel, a, ta);
}

static void target_check(Parser *p, const Section *s) {
        const TargetConfig *t = &p->config->targets[s->index];

        if (key_line(s, "memory_url") == 0 && key_line(s, "pprof_url") == 0)
                parser_error(p, s->line, s, NULL, "needs memory_url or pprof_url");
        /* Each CPU profile must end before the next one starts. */
        if (t->cpu_interval_usec > 0 && t->cpu_seconds_usec >= t->cpu_interval_usec &&
            key_valid(s, "cpu_seconds") && key_valid(s, "cpu_interval"))
                parser_error_pair(p, s, "cpu_seconds", t->cpu_seconds_usec, "less than",
                                  "cpu_interval", t->cpu_interval_usec, "more than");
}

/* perfwatchd refuses AWS keys that other users can read, as ssh refuses
 * such private keys.  Opened, not merely stat()ed, so that a file this
 * process cannot read is reported now rather than at the first poll. */
static void capacity_check_credentials(Parser *p, const Section *s, const char *path) {
        const char *key = "credentials_file";
        unsigned line = key_line(s, key);
        char problem[PROBLEM_MAX];
        struct stat st;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0)
                r = -errno;
        if (fd >= 0)
                close(fd);
        if (r < 0)
                parser_error(p, line, s, key, "%s: cannot read: %s", path, strerror(-r));
        else if (!S_ISREG(st.st_mode))
                parser_error(p, line, s, key, "%s is not a regular file", path);
        else if (aws_credentials_check_mode(st.st_mode, problem, sizeof problem) < 0)
                parser_error(p, line, s, key, "%s %s", path, problem);
}

static void capacity_check_cloudwatch(Parser *p, const Section *s, const CapacityConfig *cc) {
        if (cc->lookback_usec < cc->period_usec && key_valid(s, "lookback") && key_valid(s, "period"))
                parser_error_pair(p, s, "lookback", cc->lookback_usec, "at least",
                                  "period", cc->period_usec, "at most");
        if (cc->credentials_file && key_valid(s, "credentials_file"))
                capacity_check_credentials(p, s, cc->credentials_file);
}

/* Keys set in the section that belong to another source than `only`. */
static void capacity_check_other_keys(Parser *p, const Section *s, unsigned only) {
        for (size_t j = 0; j < ELEMENTSOF(config_keys); j++) {
                const ConfigKey *k = &config_keys[j];
                CapacitySource other = k->flags & KEY_CLOUDWATCH ? CAPACITY_CLOUDWATCH : CAPACITY_SQL;

                if (k->section != SECTION_CAPACITY || s->key_lines[j] == 0 ||
                    !(k->flags & KEY_ONLY_MASK) || (k->flags & only))
                        continue;
                parser_error(p, s->key_lines[j], s, k->name, "only for source = %s",
                             config_capacity_source_name(other));
        }
}

static void capacity_check(Parser *p, const Section *s) {
        const CapacityConfig *cc = &p->config->capacity[s->index];
        unsigned only = 0;

        /* Without a valid source, which keys belong is unknown: only the
         * source itself is reported. */
        if (key_line(s, "source") > 0 && key_valid(s, "source"))
                only = config_capacity_source_keys(cc->source);
        section_check_required(p, s, only);
        if (!only)
                return;
        capacity_check_other_keys(p, s, only);
        if (cc->source == CAPACITY_CLOUDWATCH)
                capacity_check_cloudwatch(p, s, cc);
        else if (cc->postgres && key_valid(s, "postgres") && !config_find_postgres(p->config, cc->postgres))
                parser_error(p, key_line(s, "postgres"), s, "postgres", "no [postgres %s] section",
                             cc->postgres);
}

static void section_check(Parser *p, const Section *s) {
        switch (s->kind) {
        case SECTION_TARGET:
                section_check_required(p, s, 0);
                target_check(p, s);
                break;
        case SECTION_CAPACITY:
                capacity_check(p, s);
                break;
        case SECTION_CRITERION:
                if (!config_builtin_lookup(p->config->criteria[s->index].name))
                        section_check_required(p, s, 0);
                break;
        case SECTION_INVALID:
                break;
        default:
                section_check_required(p, s, 0);
        }
}

static int parser_finish(Parser *p) {
        Config *c = p->config;
        CriterionConfig *memory;
        const TargetConfig *only = NULL;
        size_t n_memory = 0;

        for (size_t i = 0; i < p->n_sections; i++)
                section_check(p, &p->sections[i]);
        /* With one target polling /memory the memory criterion knows which
         * series to watch; with none or several it stays without one and
         * reports unknown. */
        for (size_t i = 0; i < c->n_targets; i++)
                if (c->targets[i].memory_url) {
                        only = &c->targets[i];
                        n_memory++;
                }
        memory = (CriterionConfig *) config_find_criterion(c, "memory");
        if (memory && !memory->series && n_memory == 1 &&
            asprintf(&memory->series, "go.%s.Sys", only->name) < 0) {
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

static void capacity_config_done(CapacityConfig *cc) {
        free(cc->name);
        free(cc->region);
        free(cc->cluster);
        free(cc->endpoint);
        free(cc->credentials_file);
        free(cc->profile);
        free(cc->postgres);
        free(cc->query);
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
                free(c->targets[i].pprof_url);
        }
        free(c->targets);
        for (size_t i = 0; i < c->n_postgres; i++) {
                free(c->postgres[i].name);
                free(c->postgres[i].conninfo);
        }
        free(c->postgres);
        for (size_t i = 0; i < c->n_capacity; i++)
                capacity_config_done(&c->capacity[i]);
        free(c->capacity);
        for (size_t i = 0; i < c->n_criteria; i++) {
                free(c->criteria[i].name);
                free(c->criteria[i].series);
                free(c->criteria[i].unit);
        }
        free(c->criteria);
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
