/* The value parsers behind config.c's key table, one per ConfigType.  Each
 * parser checks one value as the module that will use it does (libcurl for
 * URLs, libpq for conninfo), so what passes here is accepted later. */
#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>

#include "config/config-internal.h"
#include "util/units.h"

/* Parses `v` for key `k` into the struct at `base`; on failure writes what is
 * wrong with the value into `problem` (the caller quotes the value first). */
typedef int (*ParseFn)(const ConfigKey *k, const char *v, void *base, char *problem, size_t n);

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

static const struct {
        const char *name;
        unsigned flag;               /* marks the keys of this source only */
} capacity_sources[] = {
        [CAPACITY_CLOUDWATCH] = { "cloudwatch", KEY_CLOUDWATCH },
        [CAPACITY_SQL] = { "sql", KEY_SQL },
};

static void *field(void *base, const ConfigKey *k) {
        return (char *) base + k->offset;
}

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

/* Every path key names a file: one that cannot be a directory is refused
 * here rather than when the daemon first opens it. */
static int parse_path(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        struct stat st;

        if (v[0] != '/' || has_control_chars(v)) {
                snprintf(problem, n, "is not an absolute path");
                return -EINVAL;
        }
        if (v[strlen(v) - 1] == '/' || (stat(v, &st) == 0 && S_ISDIR(st.st_mode))) {
                snprintf(problem, n, "is a directory, not a file");
                return -EINVAL;
        }
        return set_string(base, k, v, problem, n);
}

/* A host name of RFC 1123 labels, or a dotted-quad IPv4 address.  A name
 * of digits and dots only would be looked up in DNS if inet_pton() refused
 * it, so it must be a valid address: "999.1.1.1" is not.  NULL when `h` is
 * fine, else what is wrong with it. */
static const char *host_problem(const char *h, size_t len) {
        char buf[INET_ADDRSTRLEN];
        struct in_addr a;
        size_t label = 0;

        if (len == 0)
                return "has no host";
        if (strspn(h, "0123456789.") >= len) {
                if (len >= sizeof buf)
                        return "has an invalid IPv4 address";
                memcpy(buf, h, len);
                buf[len] = '\0';
                return inet_pton(AF_INET, buf, &a) == 1 ? NULL : "has an invalid IPv4 address";
        }
        if (len > 253)
                return "has a host name longer than 253 characters";
        for (size_t i = 0; i <= len; i++) {
                if (i == len || h[i] == '.') {
                        /* One trailing dot (a fully qualified name) is fine. */
                        if (label == 0 && i == len)
                                break;
                        if (label == 0)
                                return "has an empty label in its host name";
                        if (label > 63 || h[i - 1] == '-' || h[i - label] == '-')
                                return "has an invalid host name";
                        label = 0;
                } else if (isalnum((unsigned char) h[i]) || h[i] == '-' || h[i] == '_')
                        label++;
                else
                        return "has an invalid host name";
        }
        return NULL;
}

/* libcurl parses the URL the probes will hand it, so what passes here is
 * what curl will accept later.  A base URL gets paths appended to it, so a
 * query or fragment would end up in the middle of the result. */
static int check_url(const char *v, bool base, char *problem, size_t n) {
        char *host = NULL, *query = NULL, *fragment = NULL;
        const char *authority, *bad;
        CURLU *u;
        int r = 0;

        if (strncasecmp(v, "http://", 7) != 0 && strncasecmp(v, "https://", 8) != 0) {
                snprintf(problem, n, "is not an http:// or https:// URL");
                return -EINVAL;
        }
        /* NB: libcurl reads "http:///memory" as the host "memory". */
        authority = strstr(v, "://") + 3;
        if (strchr("/?#", *authority)) {
                snprintf(problem, n, "has no host");
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
        } else if (host[0] != '[' && (bad = host_problem(host, strlen(host)))) {
                snprintf(problem, n, "%s", bad);
                r = -EINVAL;
        } else if (base && (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
                            curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK)) {
                snprintf(problem, n, "has a ?query or #fragment, which a base URL cannot have");
                r = -EINVAL;
        }
        curl_free(host);
        curl_free(query);
        curl_free(fragment);
        curl_url_cleanup(u);
        return r;
}

static int parse_url(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        int r = check_url(v, false, problem, n);

        return r < 0 ? r : set_string(base, k, v, problem, n);
}

/* Stored without trailing slashes, so "BASE/heap" never has two. */
static int parse_base_url(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        char *copy, **p = field(base, k);
        size_t len = strlen(v);
        int r;

        r = check_url(v, true, problem, n);
        if (r < 0)
                return r;
        while (len > 0 && v[len - 1] == '/')
                len--;
        copy = strndup(v, len);
        if (!copy) {
                snprintf(problem, n, "could not be stored: out of memory");
                return -ENOMEM;
        }
        free(*p);
        *p = copy;
        return 0;
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
        const char *colon, *close, *bad;
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
        bad = host_problem(v, (size_t) (colon - v));
        if (bad) {
                snprintf(problem, n, "%s", bad);
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
        const char *off = k->flags & KEY_OFF ? " (0 turns it off)" : "";
        uint64_t b;

        if (v == 0 && (k->flags & KEY_OFF))
                return 0;
        if (k->min && (parse(k->min, &b) < 0 || v < b)) {
                snprintf(problem, n, "is below the minimum %s%s", k->min, off);
                return -ERANGE;
        }
        if (k->max && (parse(k->max, &b) < 0 || v > b)) {
                snprintf(problem, n, "is above the maximum %s%s", k->max, off);
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
        if ((k->flags & KEY_WHOLE_SECONDS) && usec % USEC_PER_SEC != 0) {
                snprintf(problem, n, "is not a whole number of seconds");
                return -EINVAL;
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

/* A plain decimal count: no sign, no units, no blanks. */
static int count_value(const char *v, uint64_t *ret) {
        unsigned long long u;
        char *end;

        if (!*v || strspn(v, "0123456789") != strlen(v))
                return -EINVAL;
        errno = 0;
        u = strtoull(v, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        *ret = u;
        return 0;
}

static int parse_count(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        uint64_t u;
        int r;

        r = count_value(v, &u);
        if (r == -ERANGE) {
                snprintf(problem, n, "is too large a number");
                return r;
        }
        if (r < 0) {
                snprintf(problem, n, "is not a whole number");
                return r;
        }
        r = check_bounds(k, u, count_value, problem, n);
        if (r < 0)
                return r;
        *(uint64_t *) field(base, k) = u;
        return 0;
}

/* libpq itself parses the string, so what passes here is what
 * PQconnectStart() will accept later; its message says what is wrong. */
static int parse_conninfo(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        PQconninfoOption *options;
        char *error = NULL;

        if (!*v) {
                snprintf(problem, n, "is empty");
                return -EINVAL;
        }
        options = PQconninfoParse(v, &error);
        if (!options) {
                if (!error) {
                        snprintf(problem, n, "could not be checked: out of memory");
                        return -ENOMEM;
                }
                snprintf(problem, n, "is not a libpq connection string: %.*s",
                         (int) strcspn(error, "\n"), error);
                PQfreemem(error);
                return -EINVAL;
        }
        PQconninfoFree(options);
        return set_string(base, k, v, problem, n);
}

static int parse_region(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        size_t len = strlen(v);

        if (len == 0 || len > CONFIG_NAME_MAX || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != len) {
                snprintf(problem, n, "is not an AWS region such as eu-west-1");
                return -EINVAL;
        }
        return set_string(base, k, v, problem, n);
}

static int parse_capacity_source(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(capacity_sources); i++)
                if (streq(capacity_sources[i].name, v)) {
                        *(CapacitySource *) field(base, k) = (CapacitySource) i;
                        return 0;
                }
        snprintf(problem, n, "is not a capacity source (cloudwatch, sql)");
        return -EINVAL;
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

int config_name_index(const char *const *names, size_t count, const char *v, const char *what, char *problem,
                      size_t n) {
        size_t len;

        for (size_t i = 0; i < count; i++)
                if (streq(names[i], v))
                        return (int) i;
        len = (size_t) snprintf(problem, n, "is not %s (", what);
        for (size_t i = 0; i < count && len < n; i++)
                len += (size_t) snprintf(problem + len, n - len, "%s%s", i > 0 ? ", " : "", names[i]);
        if (len < n)
                snprintf(problem + len, n - len, ")");
        return -EINVAL;
}

static int parse_statistic(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        int i = config_name_index(stat_names, ELEMENTSOF(stat_names), v, "a statistic", problem, n);

        if (i < 0)
                return i;
        *(CriterionStat *) field(base, k) = (CriterionStat) i;
        return 0;
}

static int parse_op(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        int i = config_name_index(op_names, ELEMENTSOF(op_names), v, "a comparison", problem, n);

        if (i < 0)
                return i;
        *(CriterionOp *) field(base, k) = (CriterionOp) i;
        return 0;
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
        const BuiltinCriterion *b = config_builtin_lookup(c->name);
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

/* Only the two words perfwatchd.conf(5) gives, so that a typo is an
 * error rather than a guess.  A KEY_NEGATED key stores the opposite, so
 * that a zeroed struct means the default "yes" (`enabled` into `disabled`). */
static int parse_boolean(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        bool yes;

        if (streq(v, "yes"))
                yes = true;
        else if (streq(v, "no"))
                yes = false;
        else {
                snprintf(problem, n, "is not yes or no");
                return -EINVAL;
        }
        *(bool *) field(base, k) = (k->flags & KEY_NEGATED) ? !yes : yes;
        return 0;
}

/* A plain decimal number such as 2 or 0.5: no sign, exponent or unit. */
static int acu_value(const char *v, double *ret) {
        char *end;

        if (!*v || strspn(v, "0123456789.") != strlen(v))
                return -EINVAL;
        errno = 0;
        *ret = strtod(v, &end);
        return end != v && *end == '\0' && errno == 0 && isfinite(*ret) ? 0 : -EINVAL;
}

static int parse_acu(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        double d, b;

        if (acu_value(v, &d) < 0) {
                snprintf(problem, n, "is not a number of ACU (such as 2 or 0.5)");
                return -EINVAL;
        }
        if (k->min && (acu_value(k->min, &b) < 0 || d < b)) {
                snprintf(problem, n, "is below the minimum %s", k->min);
                return -ERANGE;
        }
        if (k->max && (acu_value(k->max, &b) < 0 || d > b)) {
                snprintf(problem, n, "is above the maximum %s", k->max);
                return -ERANGE;
        }
        *(double *) field(base, k) = d;
        return 0;
}

/* The string a value of key `k` owns in the struct at `base`. */
typedef char **(*OwnedFn)(const ConfigKey *k, void *base);

/* Frees what a value that owns more than a string holds, and clears it. */
typedef void (*ReleaseFn)(const ConfigKey *k, void *base);

static char **owned_field(const ConfigKey *k, void *base) {
        return field(base, k);
}

/* A threshold's unit is a string of its criterion. */
static char **owned_unit(const ConfigKey *k, void *base) {
        (void) k;
        return &((CriterionConfig *) base)->unit;
}

/* Each type's parser and, for types whose values own memory, where that
 * memory is: config_free_value() frees by this table alone. */
static const struct {
        ParseFn parse;
        OwnedFn owned;               /* NULL: the value owns no string */
        ReleaseFn release;           /* NULL: nor anything else */
} value_types[_CONFIG_TYPE_MAX] = {
        [CONFIG_STRING] = { parse_string, owned_field },
        [CONFIG_PATH] = { parse_path, owned_field },
        [CONFIG_URL] = { parse_url, owned_field },
        [CONFIG_BASE_URL] = { parse_base_url, owned_field },
        [CONFIG_ADDRESS] = { parse_address, owned_field },
        [CONFIG_DURATION] = { parse_duration, NULL },
        [CONFIG_SIZE] = { parse_size, NULL },
        [CONFIG_COUNT] = { parse_count, NULL },
        [CONFIG_CONNINFO] = { parse_conninfo, owned_field },
        [CONFIG_REGION] = { parse_region, owned_field },
        [CONFIG_CAPACITY_SOURCE] = { parse_capacity_source, NULL },
        [CONFIG_LOG_LEVEL] = { parse_log_level, NULL },
        [CONFIG_STATISTIC] = { parse_statistic, NULL },
        [CONFIG_OP] = { parse_op, NULL },
        [CONFIG_THRESHOLD] = { parse_threshold, owned_unit },
        [CONFIG_MODEL] = { config_parse_model, NULL },
        [CONFIG_CLIENT] = { config_parse_client, NULL },
        [CONFIG_RATE] = { config_parse_rate, NULL },
        [CONFIG_STAGES] = { config_parse_stages, NULL, config_release_stages },
        [CONFIG_DURATION_RANGE] = { config_parse_duration_range, NULL },
        [CONFIG_REQUEST] = { config_parse_request, NULL, config_release_requests },
        [CONFIG_HEADER] = { config_parse_header, NULL, config_release_headers },
        [CONFIG_EXPECT] = { config_parse_expect, NULL, config_release_expect },
        [CONFIG_BOOLEAN] = { parse_boolean, NULL },
        [CONFIG_SCHEDULE] = { config_parse_schedule, owned_field },
        [CONFIG_ACU] = { parse_acu, NULL },
        [CONFIG_WRITE] = { config_parse_write, NULL, config_release_requests },
        [CONFIG_READ] = { config_parse_read, NULL, config_release_read },
        [CONFIG_JSON_POINTER] = { config_parse_json_pointer, owned_field },
        [CONFIG_CONFLICTS_FROM] = { config_parse_conflicts_from, NULL, config_release_conflicts_from },
        [CONFIG_COMMAND] = { config_parse_command, owned_field },
        [CONFIG_NAME_LIST] = { config_parse_name_list, NULL, config_release_name_list },
};

int config_parse_value(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        return value_types[k->type].parse(k, v, base, problem, n);
}

void config_free_value(const ConfigKey *k, void *base) {
        char **p;

        if (value_types[k->type].release)
                value_types[k->type].release(k, base);
        if (!value_types[k->type].owned)
                return;
        p = value_types[k->type].owned(k, base);
        if (*p && (k->flags & KEY_SECRET))
                explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
}

const char *config_op_to_string(CriterionOp op) {
        return (size_t) op < ELEMENTSOF(op_names) ? op_names[op] : "?";
}

const char *config_stat_to_string(CriterionStat s) {
        return (size_t) s < ELEMENTSOF(stat_names) ? stat_names[s] : "?";
}

const char *config_capacity_source_name(CapacitySource s) {
        return (size_t) s < ELEMENTSOF(capacity_sources) ? capacity_sources[s].name : "?";
}

unsigned config_capacity_source_keys(CapacitySource s) {
        return (size_t) s < ELEMENTSOF(capacity_sources) ? capacity_sources[s].flag : 0;
}
