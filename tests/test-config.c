/* Unit tests for config.c: temporary config files, parsed for real. */
#include "config/config.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "util/util.h"
#include "util/units.h"

/* config-internal.h's CONFIG_BODY_MAX, the cap on an @FILE body. */
#define CONFIG_BODY_MAX_TEST (1024 * 1024)

#define TARGET_KEYS "(one of: memory_url, memory_interval, timeout, max_body, pprof_url, heap_interval, " \
        "goroutine_interval, cpu_interval, cpu_seconds, max_profile, profile_retention, profile_keep)"

static char dir[] = "/tmp/test-config.XXXXXX";
static char path[256];
static unsigned n_files;

/* Writes `text` to a new file (its name in `path`) and loads it. */
static int load(const char *text, Config **ret, char **ret_errors) {
        FILE *f;

        snprintf(path, sizeof path, "%s/%u.conf", dir, ++n_files);
        f = fopen(path, "we");
        if (!f)
                return -errno;
        fputs(text, f);
        fclose(f);
        return config_load(path, ret, ret_errors);
}

/* Loads a file that must fail, and returns its error text (caller frees). */
static char *load_errors(const char *text) {
        Config *c = (Config *) 1;
        char *errors = NULL;
        int r;

        r = load(text, &c, &errors);
        ok(r == -EINVAL && !c && errors, "%s: is refused with -EINVAL, no config and an error text", path);
        return errors ? errors : strdup("");
}

/* True when `errors` holds the line "<path><rest>" exactly. */
static bool has_line(const char *errors, const char *fmt, ...) {
        char want[2048];
        size_t n;
        va_list ap;
        int k;

        k = snprintf(want, sizeof want, "%s", path);
        va_start(ap, fmt);
        vsnprintf(want + k, sizeof want - (size_t) k, fmt, ap);
        va_end(ap);
        n = strlen(want);
        for (const char *p = errors; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, want, n) == 0 && p[n] == '\n')
                        return true;
        printf("# wanted line: %s\n# errors were:\n", want);
        for (const char *p = errors; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                printf("#   %.*s\n", (int) strcspn(p, "\n"), p);
        return false;
}

static size_t count_lines(const char *s) {
        size_t n = 0;

        for (; s && *s; s++)
                n += *s == '\n';
        return n;
}

/* One file that must fail with exactly one error line, `want` after the path. */
static void expect_error(const char *text, const char *want, const char *what) {
        char *errors = load_errors(text);

        ok(has_line(errors, "%s", want), "%s: reported as \"%s\"", what, want);
        is_int(count_lines(errors), 1, "%s: and nothing else is reported", what);
        free(errors);
}

static const char full_conf[] =
        "; a full configuration\n"                                          /* 1 */
        "[daemon]\n"                                                        /* 2 */
        "database = /srv/pw/pw.db\n"                                        /* 3 */
        "listen = [::1]:9999   ; loopback v6\n"                             /* 4 */
        "retention = 30d\n"                                                 /* 5 */
        "api_token_file = /etc/perfwatch/api-token\n"                       /* 6 */
        "flush_interval = 250ms\n"                                          /* 7 */
        "evaluate_interval = 1h\n"                                          /* 8 */
        "log_level = debug\n"                                               /* 9 */
        "\n"                                                                /* 10 */
        "# the service under test\n"                                        /* 11 */
        "[target go]\n"                                                     /* 12 */
        "memory_url = https://app.example:8443/memory?x=1#frag\n"           /* 13 */
        "memory_interval = 1m30s\n"                                         /* 14 */
        "timeout = 2.5s\n"                                                  /* 15 */
        "max_body = 64KiB\n"                                                /* 16 */
        "[criterion zz_latency]\n"                                          /* 17 */
        "series = go.go.PauseNs;x\n"                                        /* 18 */
        "statistic = last\n"                                                /* 19 */
        "op = >=\n"                                                         /* 20 */
        "threshold = 300ms ; inline comment\n"                              /* 21 */
        "window = 10m\n"                                                    /* 22 */
        "max_age = 30s\n"                                                   /* 23 */
        "[criterion aa_heap]\n"                                             /* 24 */
        "series = go.go.HeapInuse\n"                                        /* 25 */
        "op = <\n"                                                          /* 26 */
        "threshold = 1.5GiB\n"                                              /* 27 */
        "[criterion latency_p95]\n"                                         /* 28 */
        "threshold = 250\n"                                                 /* 29 */
        "max_age = 1h\n"                                                    /* 30 */
        "[criterion count]\n"                                               /* 31 */
        "series = go.go.NumGC\n"                                            /* 32 */
        "statistic = min\n"                                                 /* 33 */
        "op = >\n"                                                          /* 34 */
        "threshold = -2.5e1\n";                                             /* 35 */

static void test_full_file_daemon_and_target(const Config *c) {
        const TargetConfig *t = &c->targets[0];

        is_str(c->path, path, "the config remembers its path");
        is_str(c->daemon.database, "/srv/pw/pw.db", "database is read");
        is_str(c->daemon.listen, "[::1]:9999", "listen takes a bracketed IPv6 address, inline comment cut");
        is_int(c->daemon.retention_usec, 30 * USEC_PER_DAY, "retention is read as a duration");
        is_str(c->daemon.api_token_file, "/etc/perfwatch/api-token", "api_token_file is read");
        is_int(c->daemon.flush_interval_usec, 250 * USEC_PER_MSEC, "flush_interval is read");
        is_int(c->daemon.evaluate_interval_usec, USEC_PER_HOUR, "evaluate_interval may be its maximum 1h");
        is_int(c->daemon.log_level, LOG_DEBUG, "log_level debug is LOG_DEBUG");
        is_int(c->n_targets, 1, "one target");
        is_str(t->name, "go", "the target is named from its header");
        is_int(t->line, 12, "the target remembers its header line");
        is_str(t->memory_url, "https://app.example:8443/memory?x=1#frag", "memory_url keeps '#' (not a comment)");
        is_int(t->memory_interval_usec, 90 * USEC_PER_SEC, "memory_interval 1m30s");
        is_int(t->timeout_usec, 2500 * USEC_PER_MSEC, "timeout 2.5s");
        is_int(t->max_body, 65536, "max_body 64KiB");
}

static void test_full_file_criteria(const Config *c) {
        static const char *const order[] = {
                "latency_p95", "memory", "acu_scaling", "zero_data_loss", "zz_latency", "aa_heap", "count",
        };
        const CriterionConfig *cc;

        is_int(c->n_criteria, 7, "four built-in criteria and three of the user's");
        for (size_t i = 0; i < 7 && i < c->n_criteria; i++)
                is_str(c->criteria[i].name, order[i], "criterion %zu is %s (built-ins first, then file order)",
                       i, order[i]);
        cc = config_find_criterion(c, "memory");
        is_str(cc ? cc->series : NULL, "go.go.Sys", "memory watches go.<T>.Sys of the only target");
        cc = config_find_criterion(c, "zz_latency");
        ok(cc && cc->kind == CRITERION_SERIES && cc->line == 17, "a user criterion is a series criterion with its line");
        is_str(cc ? cc->series : NULL, "go.go.PauseNs;x", "a ';' not after a blank stays in the value");
        ok(cc && cc->statistic == CRITERION_LAST && cc->op == CRITERION_GE, "statistic last, op >=");
        is_double(cc ? cc->threshold : 0, 300, 1e-9, "a duration threshold is in milliseconds");
        is_str(cc ? cc->unit : NULL, "ms", "and its unit is ms");
        ok(cc && cc->window_usec == 10 * USEC_PER_MIN && cc->max_age_usec == 30 * USEC_PER_SEC,
           "window and max_age are read");
        cc = config_find_criterion(c, "aa_heap");
        is_double(cc ? cc->threshold : 0, 1610612736.0, 1e-3, "a size threshold is in bytes");
        is_str(cc ? cc->unit : NULL, "bytes", "and its unit is bytes");
        ok(cc && cc->statistic == CRITERION_MAX && cc->window_usec == USEC_PER_HOUR &&
           cc->max_age_usec == 5 * USEC_PER_MIN, "a user criterion defaults to max over 1h, max_age 5m");
        cc = config_find_criterion(c, "count");
        is_double(cc ? cc->threshold : 0, -25, 1e-9, "a plain threshold may be negative and in e-notation");
        is_str(cc ? cc->unit : NULL, "", "and has no unit");
        cc = config_find_criterion(c, "latency_p95");
        ok(cc && cc->kind == CRITERION_RUN_LATENCY && cc->line == 28, "latency_p95 stays a run criterion when configured");
        is_double(cc ? cc->threshold : 0, 250, 1e-9, "its threshold is overridden");
        is_str(cc ? cc->unit : NULL, "ms", "a plain number keeps the built-in's unit ms");
        is_int(cc ? cc->max_age_usec : 0, USEC_PER_HOUR, "its max_age is overridden");
        ok(!config_find_criterion(c, "nope"), "an unknown criterion is not found");
}

static void test_full_file(void) {
        Config *c = NULL;
        char *errors = NULL;
        int r;

        r = load(full_conf, &c, &errors);
        is_int(r, 0, "a full valid file loads");
        ok(!errors, "and gives no error text");
        if (errors)
                printf("# %s", errors);
        if (!c)
                return;
        test_full_file_daemon_and_target(c);
        test_full_file_criteria(c);
        config_free(c);
}

static void test_defaults(void) {
        static const struct {
                const char *name;
                CriterionKind kind;
                CriterionOp op;
                double threshold;
                const char *unit;
                uint64_t max_age_usec;
        } builtins[] = {
                { "latency_p95", CRITERION_RUN_LATENCY, CRITERION_LT, 300, "ms", 5 * USEC_PER_MIN },
                { "memory", CRITERION_SERIES, CRITERION_LT, 536870912, "bytes", 5 * USEC_PER_MIN },
                { "acu_scaling", CRITERION_RUN_ACU, CRITERION_LT, NAN, NULL, USEC_PER_DAY },
                { "zero_data_loss", CRITERION_RUN_WRITES, CRITERION_LE, 0, "writes", USEC_PER_DAY },
        };
        Config *c = NULL;

        is_int(load("", &c, NULL), 0, "an empty file loads");
        if (!c)
                return;
        is_str(c->daemon.database, "/var/lib/perfwatch/perfwatch.db", "database defaults to /var/lib/perfwatch/perfwatch.db");
        is_str(c->daemon.listen, "127.0.0.1:9470", "listen defaults to 127.0.0.1:9470");
        is_int(c->daemon.retention_usec, 14 * USEC_PER_DAY, "retention defaults to 14d");
        ok(!c->daemon.api_token_file, "api_token_file has no default");
        is_int(c->daemon.flush_interval_usec, USEC_PER_SEC, "flush_interval defaults to 1s");
        is_int(c->daemon.evaluate_interval_usec, USEC_PER_SEC, "evaluate_interval defaults to 1s");
        is_int(c->daemon.log_level, LOG_INFO, "log_level defaults to info");
        is_int(c->n_targets, 0, "no targets");
        is_int(c->n_criteria, 4, "only the four built-in criteria");
        for (size_t i = 0; i < 4 && i < c->n_criteria; i++) {
                const CriterionConfig *cc = &c->criteria[i];

                is_str(cc->name, builtins[i].name, "built-in %zu is %s", i, builtins[i].name);
                ok(cc->kind == builtins[i].kind && cc->op == builtins[i].op && cc->line == 0,
                   "%s: kind, op %s, not from the file", cc->name, config_op_to_string(builtins[i].op));
                if (isnan(builtins[i].threshold))
                        ok(isnan(cc->threshold), "%s: has no threshold", cc->name);
                else
                        is_double(cc->threshold, builtins[i].threshold, 1e-9, "%s: threshold default", cc->name);
                is_str(cc->unit, builtins[i].unit, "%s: unit \"%s\"", cc->name,
                       builtins[i].unit ? builtins[i].unit : "(none)");
                ok(cc->statistic == CRITERION_MAX && cc->window_usec == USEC_PER_HOUR &&
                   cc->max_age_usec == builtins[i].max_age_usec, "%s: max over 1h, max_age %s", cc->name,
                   builtins[i].max_age_usec == USEC_PER_DAY ? "1d" : "5m");
                ok(!cc->disabled, "%s: enabled by default", cc->name);
        }
        ok(c->n_criteria > 1 && !c->criteria[1].series, "without a target the memory criterion has no series");
        is_str(c->n_criteria > 3 ? c->criteria[3].scenario : NULL, "crdt", "zero_data_loss judges scenario crdt");
        is_int(c->n_criteria > 3 ? c->criteria[3].min_conflicts : 0, 1000, "with min_conflicts 1000");
        ok(c->n_criteria > 3 && c->criteria[3].no_scenario, "and knows the file has no [scenario crdt]");
        is_str(c->criteria[0].scenario, "peak", "latency_p95 still judges scenario peak");
        if (c->n_criteria > 2) {
                const CriterionConfig *a = &c->criteria[2];

                ok(!a->series, "without a [capacity] section acu_scaling has no series");
                ok(a->scenario && !strcmp(a->scenario, "spike") && c->criteria[0].scenario &&
                   !strcmp(c->criteria[0].scenario, "peak"),
                   "acu_scaling judges scenario spike, latency_p95 peak");
                ok(a->no_scenario, "and knows there is no [scenario spike]");
                ok(a->settle_usec == 10 * USEC_PER_MIN && a->scale_up_within_usec == 5 * USEC_PER_MIN &&
                   a->scale_to == 16 && a->min_acu == 2 && a->max_acu == 16 && a->max_gap_usec == 3 * USEC_PER_MIN,
                   "acu_scaling: settle 10m, scale_to 16 within 5m, [2, 16] ACU, max_gap 3m");
        }
        config_free(c);
}

static void test_memory_series(void) {
        Config *c = NULL;

        expect_error("[target a]\nmemory_url = http://127.0.0.1:1/memory\n"
                     "[target b]\nmemory_url = http://127.0.0.1:2/memory\n"
                     "[target c]\nmemory_url = http://127.0.0.1:3/memory\n",
                     ":3: [target b]: a second target polling /memory: the memory criterion needs a "
                     "[criterion memory] section with series = go.NAME.Sys",
                     "two targets polling /memory and no memory series, at the second target");
        expect_error("[target a]\nmemory_url = http://127.0.0.1:1/memory\n"
                     "[target b]\nmemory_url = http://127.0.0.1:2/memory\n"
                     "[criterion memory]\nthreshold = 1GiB\n",
                     ":5: [criterion memory]: missing required key series: several targets poll /memory (a, b), "
                     "e.g. series = go.a.Sys", "and with a [criterion memory] without series, at its header");
        is_int(load("[target a]\nmemory_url = http://127.0.0.1:1/memory\n"
                    "[target b]\nmemory_url = http://127.0.0.1:2/memory\n"
                    "[criterion memory]\nseries = go.b.HeapSys\nthreshold = 1GiB\nop = <=\nstatistic = avg\n"
                    "window = 2h\nmax_age = 1m\n", &c, NULL), 0, "[criterion memory] overrides load");
        if (c) {
                const CriterionConfig *m = config_find_criterion(c, "memory");

                is_str(m->series, "go.b.HeapSys", "the memory series is the configured one");
                ok(m->kind == CRITERION_SERIES && m->op == CRITERION_LE && m->statistic == CRITERION_AVG &&
                   m->window_usec == 2 * USEC_PER_HOUR && m->max_age_usec == USEC_PER_MIN && m->line == 5,
                   "memory's op, statistic, window, max_age and line are overridden");
                is_double(m->threshold, 1073741824.0, 1e-3, "memory's threshold is overridden");
                is_str(m->unit, "bytes", "memory's unit stays bytes");
                is_int(c->n_criteria, 4, "overriding a built-in adds no criterion");
        }
        c = config_free(c);
        is_int(load("[criterion memory]\nthreshold = 100000000\n", &c, NULL), 0, "a plain memory threshold loads");
        is_str(c ? config_find_criterion(c, "memory")->unit : NULL, "bytes", "and is taken in bytes");
        config_free(c);
}

static void test_error_classes(void) {
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\ncolour = blue\n",
                     ":3: [target go] colour: unknown key " TARGET_KEYS, "an unknown key");
        expect_error("[daemon]\n\n[tagret x]\nfoo = 1\n", ":3: [tagret x]: unknown section kind \"tagret\", "
                     "did you mean \"target\"? (one of: daemon, target, postgres, capacity, criterion, scenario, suite)",
                     "an unknown section kind (its keys are not reported again)");
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\nmemory_interval = 5q\n",
                     ":3: [target go] memory_interval: \"5q\" is not a duration", "a bad duration");
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\nmax_body = 12 parsecs\n",
                     ":3: [target go] max_body: \"12 parsecs\" is not a size", "a bad size");
        expect_error("[daemon]\nlog_level = loud\n",
                     ":2: [daemon] log_level: \"loud\" is not a log level (err, warning, notice, info, debug)",
                     "a bad log level");
        expect_error("[daemon]\ndatabase = var/pw.db\n", ":2: [daemon] database: \"var/pw.db\" is not an absolute path",
                     "a relative path");
        expect_error("[daemon]\napi_token_file =\n", ":2: [daemon] api_token_file: \"\" is not an absolute path",
                     "an empty path");
}

static void test_range_errors(void) {
        expect_error("\n\n\n[daemon]\nretention = 1m\n", ":5: [daemon] retention: \"1m\" is below the minimum 1h",
                     "a duration below its minimum");
        expect_error("[daemon]\nretention = 3651d\n",
                     ":2: [daemon] retention: \"3651d\" is above the maximum 3650d",
                     "retention has a maximum, so it can never reach back before the epoch");
        expect_error("[daemon]\nflush_interval = 2m\n", ":2: [daemon] flush_interval: \"2m\" is above the maximum 1m",
                     "a duration above its maximum");
        expect_error("[daemon]\nretention = 99999999999999999999d\n",
                     ":2: [daemon] retention: \"99999999999999999999d\" is too long a duration", "a duration overflow");
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\nmax_body = 512MiB\n",
                     ":3: [target go] max_body: \"512MiB\" is above the maximum 16MiB", "a size above its maximum");
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\nmax_body = 64MiB\n",
                     ":3: [target go] max_body: \"64MiB\" is above the maximum 16MiB",
                     "max_body has a ceiling of 16MiB");
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\nmax_body = 1000\n",
                     ":3: [target go] max_body: \"1000\" is below the minimum 1KiB", "a size below its minimum");
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\ntimeout = 50ms\n",
                     ":3: [target go] timeout: \"50ms\" is below the minimum 100ms", "a timeout below its minimum");
}

static void test_url_and_address_errors(void) {
        Config *c = NULL;

        expect_error("[target go]\nmemory_url = ftp://127.0.0.1/memory\n",
                     ":2: [target go] memory_url: \"ftp://127.0.0.1/memory\" is not an http:// or https:// URL",
                     "a URL of another scheme");
        expect_error("[target go]\nmemory_url = 127.0.0.1:9091/memory\n",
                     ":2: [target go] memory_url: \"127.0.0.1:9091/memory\" is not an http:// or https:// URL",
                     "a URL without scheme");
        expect_error("[target go]\nmemory_url = http://exa mple/memory\n",
                     ":2: [target go] memory_url: \"http://exa mple/memory\" is not a valid URL", "a URL with a blank");
        expect_error("[target go]\nmemory_url = ftp://alice:s3cret@127.0.0.1/memory\n",
                     ":2: [target go] memory_url: \"ftp://***@127.0.0.1/memory\" is not an http:// or https:// URL",
                     "a refused URL is quoted with its password redacted");
        expect_error("[target go]\nmemory_url = http://\n",
                     ":2: [target go] memory_url: \"http://\" has no host", "a URL without host");
        expect_error("\n\n\n\n\n\n\n\n[daemon]\nlisten = 1.2.3.4:99999\n",
                     ":10: [daemon] listen: \"1.2.3.4:99999\" port out of range", "a port out of range");
        expect_error("[daemon]\nlisten = 127.0.0.1\n", ":2: [daemon] listen: \"127.0.0.1\" has no :PORT",
                     "an address without port");
        expect_error("[daemon]\nlisten = 127.0.0.1:http\n", ":2: [daemon] listen: \"127.0.0.1:http\" has no valid :PORT",
                     "an address with a named port");
        expect_error("[daemon]\nlisten = ::1:9470\n",
                     ":2: [daemon] listen: \"::1:9470\" is an IPv6 address without [brackets]", "bare IPv6");
        expect_error("[daemon]\nlisten = [::g]:9470\n", ":2: [daemon] listen: \"[::g]:9470\" has an invalid IPv6 address",
                     "a bad IPv6 address");
        expect_error("[daemon]\nlisten = a/b:1\n", ":2: [daemon] listen: \"a/b:1\" has an invalid host name", "a bad host");
        is_int(load("[daemon]\nlisten = localhost:0\n", &c, NULL), 0, "port 0 (any port, for tests) is accepted");
        is_str(c ? c->daemon.listen : NULL, "localhost:0", "and kept as written");
        config_free(c);
}

static void test_section_errors(void) {
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\n[target go]\nmemory_url = http://x/\n",
                     ":3: [target go]: duplicate section, first defined on line 1", "a duplicate target");
        expect_error("[daemon]\n[daemon]\n", ":2: [daemon]: duplicate section, first defined on line 1",
                     "a second [daemon]");
        expect_error("[criterion memory]\nmax_age = 1m\n[criterion memory]\n",
                     ":3: [criterion memory]: duplicate section, first defined on line 1", "a duplicate criterion");
        expect_error("[daemon main]\n", ":1: [daemon main]: [daemon] takes no name", "a named [daemon]");
        expect_error("[target]\n", ":1: [target]: missing name, expected [target NAME]", "a target without name");
        expect_error("[target a.b]\n",
                     ":1: [target a.b]: name \"a.b\" is not 1-64 characters of A-Z a-z 0-9 _ -", "a bad name");
        expect_error("[target a b]\n",
                     ":1: [target a b]: name \"a b\" is not 1-64 characters of A-Z a-z 0-9 _ -", "a name of two words");
        expect_error("[criterion x2345678901234567890123456789012345678901234567890123456789012345]\n",
                     ":1: [criterion x2345678901234567890123456789012345678901234567890123456789012345]: "
                     "name \"x2345678901234567890123456789012345678901234567890123456789012345\" "
                     "is not 1-64 characters of A-Z a-z 0-9 _ -", "a 65-character name");
        expect_error("listen = 127.0.0.1:1\n", ":1: listen: key outside of any section", "a key before any section");
        expect_error("[daemon]\nretention = 2d\nlog_level = info\nretention = 3d\n",
                     ":4: [daemon] retention: duplicate key, already set on line 2", "a duplicate key");
        expect_error("[daemon]\n\n\n[target go]\nmemory_interval = 1s\n",
                     ":4: [target go]: needs memory_url or pprof_url",
                     "a target with neither memory_url nor pprof_url, at the header");
        expect_error("[postgres db]\ninterval = 1m\n", ":1: [postgres db]: missing required key conninfo",
                     "a missing required key, at the header");
        expect_error("[daemon]\nlisten = 127.0.0.1:1\nthis is not ini\n",
                     ":3: syntax error, expected \"[section]\" or \"key = value\"", "a syntax error");
        expect_error("[daemon]\n[target\nlisten = 127.0.0.1:1\n",
                     ":2: syntax error, \"[\" without a closing \"]\"",
                     "a header without ']', whose keys are not taken for [daemon]'s");
}

/* Writes `len` bytes (NULs included) to a new file and loads it. */
static char *load_bytes_errors(const char *bytes, size_t len) {
        char *errors = NULL;
        Config *c = NULL;
        FILE *f;

        snprintf(path, sizeof path, "%s/%u.conf", dir, ++n_files);
        f = fopen(path, "we");
        if (f) {
                fwrite(bytes, 1, len, f);
                fclose(f);
        }
        ok(config_load(path, &c, &errors) == -EINVAL && !c, "%s: is refused", path);
        return errors ? errors : strdup("");
}

static void test_bad_bytes(void) {
        static const char nul[] = "[daemon]\nlisten = 127.0.0.1:1\0junk\nretention = 2h\nlog_level = \0\n";
        static const char latin1[] = "[daemon]\nlog_level = info\n[criterion caf\xe9]\nseries = x\n"
                                     "[target go]\nmemory_url = http://127.0.0.1:1/m\xe9moire\n";
        char *errors;

        errors = load_bytes_errors(nul, sizeof nul - 1);
        ok(has_line(errors, ":2: line contains a NUL byte (column 21)"), "a NUL byte in a value is refused, at its column");
        ok(has_line(errors, ":4: line contains a NUL byte (column 13)"), "and on every line that has one");
        is_int(count_lines(errors), 2, "the line after it is read normally");
        free(errors);
        errors = load_bytes_errors(latin1, sizeof latin1 - 1);
        ok(has_line(errors, ":3: line is not valid UTF-8 (column 15)"), "a Latin-1 byte in a section name is refused");
        ok(has_line(errors, ":6: line is not valid UTF-8 (column 34)"),
           "and in a value (whose target is then not said to lack memory_url)");
        is_int(count_lines(errors), 2, "the keys under the unreadable header are not given to another section");
        free(errors);
}

static void test_value_validation(void) {
        static const char *const url_keys[] = {
                "[target go]\nmemory_url = http:///memory\n",
                "[target go]\npprof_url = http:///debug/pprof\n",
                "[capacity c]\nsource = cloudwatch\nregion = eu-west-1\ncluster = x\nendpoint = https:///\n",
        };
        static const struct {
                const char *listen, *problem;
        } addresses[] = {
                { "999.1.1.1:1", "has an invalid IPv4 address" },
                { "1.2.3:1", "has an invalid IPv4 address" },
                { "127.0.0.1:65536", "port out of range" },
                { "127.0.0.1:-1", "has no valid :PORT" },
                { "a..b:1", "has an empty label in its host name" },
                { "-a.example:1", "has an invalid host name" },
                { ":9470", "has no host" },
        };
        char text[256];

        for (size_t i = 0; i < ELEMENTSOF(url_keys); i++) {
                char *errors = load_errors(url_keys[i]);

                ok(strstr(errors, "\" has no host\n") && count_lines(errors) == 1,
                   "a URL with three slashes has no host (%.*s)", (int) strcspn(url_keys[i], "\n"), url_keys[i]);
                free(errors);
        }
        expect_error("[target go]\nmemory_url = http://999.1.1.1:1/memory\n",
                     ":2: [target go] memory_url: \"http://999.1.1.1:1/memory\" has an invalid IPv4 address",
                     "a URL whose host is an impossible IPv4 address");
        for (size_t i = 0; i < ELEMENTSOF(addresses); i++) {
                char want[256];

                snprintf(text, sizeof text, "[daemon]\nlisten = %s\n", addresses[i].listen);
                snprintf(want, sizeof want, ":2: [daemon] listen: \"%s\" %s", addresses[i].listen, addresses[i].problem);
                expect_error(text, want, "an impossible listen address");
        }
        expect_error("[daemon]\ndatabase = /\n", ":2: [daemon] database: \"/\" is a directory, not a file",
                     "database = /");
        snprintf(text, sizeof text, "[daemon]\ndatabase = %s\n", dir);
        {
                char want[256];

                snprintf(want, sizeof want, ":2: [daemon] database: \"%s\" is a directory, not a file", dir);
                expect_error(text, want, "a database path that is a directory");
        }
        expect_error("[daemon]\napi_token_file = /etc/perfwatch/\n",
                     ":2: [daemon] api_token_file: \"/etc/perfwatch/\" is a directory, not a file",
                     "a path ending in '/'");
}

static void test_criterion_bounds(void) {
        const char *head = "[criterion c]\nseries = s\nop = <\nthreshold = 1\n";
        char text[256];
        static const struct {
                const char *line, *want;
        } cases[] = {
                { "window = 0", ":5: [criterion c] window: \"0\" is below the minimum 1s" },
                { "window = 91d", ":5: [criterion c] window: \"91d\" is above the maximum 90d" },
                { "max_age = 0", ":5: [criterion c] max_age: \"0\" is below the minimum 1s" },
                { "max_age = 31d", ":5: [criterion c] max_age: \"31d\" is above the maximum 30d" },
                { "window = 15d", ":5: [criterion c] window: 15d is longer than [daemon] retention 14d, after "
                                  "which samples are deleted" },
        };
        Config *c = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(text, sizeof text, "%s%s\n", head, cases[i].line);
                expect_error(text, cases[i].want, cases[i].line);
        }
        snprintf(text, sizeof text, "%swindow = 90d\nmax_age = 30d\n[daemon]\nretention = 90d\n", head);
        is_int(load(text, &c, NULL), 0, "window 90d and max_age 30d load with a retention of 90d, set after them");
        config_free(c);
        expect_error("[criterion memory]\nwindow = 30d\n",
                     ":2: [criterion memory] window: 30d is longer than [daemon] retention 14d, after which "
                     "samples are deleted", "a built-in's window is held to the retention too");
}

static void test_suggestions(void) {
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\nmemory_ulr = x\n",
                     ":3: [target go] memory_ulr: unknown key, did you mean \"memory_url\"? " TARGET_KEYS,
                     "a transposition in a key is suggested");
        expect_error("[daemon]\nDatabase = /x.db\n",
                     ":2: [daemon] Database: unknown key, did you mean \"database\"? (one of: database, listen, "
                     "retention, api_token_file, flush_interval, evaluate_interval, log_level)",
                     "a key in the wrong case is suggested");
        expect_error("[criterion c]\nseries = s\nop = <\nthreshold = 1\nwindw = 1h\n",
                     ":5: [criterion c] windw: unknown key, did you mean \"window\"? (one of: series, statistic, op, "
                     "threshold, window, max_age, scenario, min_requests, min_conflicts, settle, scale_to, "
                     "scale_up_within, min_acu, max_acu, enabled)", "a missing letter is suggested");
        expect_error("[critrion c]\n",
                     ":1: [critrion c]: unknown section kind \"critrion\", did you mean \"criterion\"? (one of: daemon, "
                     "target, postgres, capacity, criterion, scenario, suite)", "a misspelt section kind is suggested");
}

/* libinih reports only its first syntax error; --check-config lists all. */
static void test_every_syntax_error(void) {
        char *errors = load_errors("[daemon]\n"                          /* 1 */
                                   "this is not ini\n"                   /* 2 */
                                   "[target go\n"                        /* 3 */
                                   "memory_url = http://127.0.0.1:1/m\n" /* 4 */
                                   "[target ok]\n"                       /* 5 */
                                   "memory_url = http://127.0.0.1:1/m\n" /* 6 */
                                   "nor this ; x = 1\n"                  /* 7 */
                                   "  # a comment, fine\n"               /* 8 */
                                   "[criterion ; c]\n"                   /* 9 */
                                   "key: value\n"                        /* 10 */
                                   "[daemon\n");                         /* 11 */

        ok(has_line(errors, ":2: syntax error, expected \"[section]\" or \"key = value\""), "line 2 is reported");
        ok(has_line(errors, ":3: syntax error, \"[\" without a closing \"]\""), "line 3 too");
        ok(has_line(errors, ":7: syntax error, expected \"[section]\" or \"key = value\""),
           "line 7, whose '=' is in a comment, too");
        ok(has_line(errors, ":9: syntax error, \"[\" without a closing \"]\""),
           "line 9, whose ']' is in a comment, too");
        ok(has_line(errors, ":11: syntax error, \"[\" without a closing \"]\""), "and line 11");
        is_int(count_lines(errors), 5, "and nothing else: the keys under a broken header are skipped");
        free(errors);
}

static void test_criterion_errors(void) {
        const char *head = "[criterion c]\nseries = s\nop = <\nthreshold = 1\n";
        char buf[512];

        snprintf(buf, sizeof buf, "%s%s", head, "statistic = median\n");
        expect_error(buf, ":5: [criterion c] statistic: \"median\" is not a statistic (max, min, avg, last)",
                     "a bad statistic");
        expect_error("[criterion c]\nseries = s\nop = =<\nthreshold = 1\n",
                     ":3: [criterion c] op: \"=<\" is not a comparison (<, <=, >, >=)", "a bad op");
        expect_error("[criterion c]\nseries = s\nop = <\nthreshold = 5 apples\n",
                     ":4: [criterion c] threshold: \"5 apples\" is not a number, a size (512MiB) or a duration (300ms)",
                     "a bad threshold");
        expect_error("[criterion c]\nseries = s\nop = <\nthreshold = nan\n",
                     ":4: [criterion c] threshold: \"nan\" is not a number, a size (512MiB) or a duration (300ms)",
                     "a NaN threshold");
        expect_error("\n[criterion c]\nop = <\nthreshold = 1\n", ":2: [criterion c]: missing required key series",
                     "a user criterion without series");
        expect_error("[criterion latency_p95]\nthreshold = 1MiB\n",
                     ":2: [criterion latency_p95] threshold: \"1MiB\" is in bytes, but latency_p95 is measured in ms",
                     "a threshold in the wrong unit for a built-in");
        expect_error("[criterion zero_data_loss]\nwindow = 1h\n",
                     ":2: [criterion zero_data_loss] window: not supported for this criterion yet",
                     "zero_data_loss judges a run, not a window");
        expect_error("[criterion acu_scaling]\nwindow = 1h\n",
                     ":2: [criterion acu_scaling] window: not supported for this criterion yet",
                     "acu_scaling judges a run's window, not a window from now");
        expect_error("[criterion acu_scaling]\nmin_requests = 5\n",
                     ":2: [criterion acu_scaling] min_requests: not supported for this criterion yet",
                     "min_requests is latency_p95's");
        expect_error("[criterion latency_p95]\nsettle = 5m\n",
                     ":2: [criterion latency_p95] settle: not supported for this criterion yet",
                     "settle is acu_scaling's");
        expect_error("[criterion c]\nseries = s\nop = <\nthreshold = 1\nscale_to = 4\n",
                     ":5: [criterion c] scale_to: not supported for this criterion yet",
                     "scale_to on a user criterion");
        expect_error("[criterion acu_scaling]\nthreshold = 5\n",
                     ":2: [criterion acu_scaling] threshold: not supported for this criterion yet",
                     "acu_scaling is a range check and takes no threshold");
        expect_error("[criterion c]\nseries = s\nop = <\nthreshold = 1\ncolour = red\n",
                     ":5: [criterion c] colour: unknown key (one of: series, statistic, op, threshold, window, "
                     "max_age, scenario, min_requests, min_conflicts, settle, scale_to, scale_up_within, min_acu, "
                     "max_acu, enabled)", "an unknown criterion key");
        expect_error("[criterion memory]\nscenario = peak\n",
                     ":2: [criterion memory] scenario: not supported for this criterion yet",
                     "scenario on a series criterion");
        expect_error("[criterion c]\nseries = s\nop = <\nthreshold = 1\nmin_requests = 5\n",
                     ":5: [criterion c] min_requests: not supported for this criterion yet",
                     "min_requests on a user criterion");
        expect_error("[criterion latency_p95]\nwindow = 1h\n",
                     ":2: [criterion latency_p95] window: not supported for this criterion yet",
                     "latency_p95 judges a run, not a window");
}

/* `target = NAME` names a [target] with a pprof_url; cpu_seconds defaults
 * to 30 s. */
static void test_scenario_target(void) {
        static const char sc[] = "[scenario s]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\n"
                                 "request = GET /\n";
        char text[1024];
        Config *c = NULL;
        char *errors = NULL;

        snprintf(text, sizeof text, "[target app]\npprof_url = http://127.0.0.1:2/debug/pprof\n%s"
                 "target = app\ncpu_seconds = 5s\n", sc);
        ok(load(text, &c, &errors) >= 0 && c, "a scenario with target = a [target] with pprof_url loads");
        if (c) {
                is_str(c->scenarios[0].target, "app", "its target");
                is_int((long long) c->scenarios[0].cpu_seconds_usec, 5000000, "its cpu_seconds");
                c = config_free(c);
        }
        free(errors);
        errors = NULL;
        snprintf(text, sizeof text, "%s", sc);
        ok(load(text, &c, &errors) >= 0 && c, "a scenario without target loads");
        if (c) {
                ok(!c->scenarios[0].target, "and has no target");
                is_int((long long) c->scenarios[0].cpu_seconds_usec, 30000000, "cpu_seconds defaults to 30 s");
                c = config_free(c);
        }
        free(errors);
        snprintf(text, sizeof text, "[target app]\npprof_url = http://127.0.0.1:2/debug/pprof\n%starget = ap\n", sc);
        expect_error(text, ":8: [scenario s] target: no [target ap] section", "a target that does not exist");
        snprintf(text, sizeof text, "[target app]\nmemory_url = http://127.0.0.1:2/memory\n%starget = app\n", sc);
        expect_error(text, ":8: [scenario s] target: [target app] has no pprof_url: its profiles cannot be taken",
                     "a target without pprof_url");
        snprintf(text, sizeof text, "%scpu_seconds = 0\n", sc);
        expect_error(text, ":6: [scenario s] cpu_seconds: \"0\" is below the minimum 1s", "cpu_seconds = 0");
}

/* A scenario written out must exist; a typo gets a suggestion. */
static void test_latency_scenario_errors(void) {
        static const char scenarios[] =
                "[scenario peak]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"
                "[scenario spike]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n";
        char text[1024];

        snprintf(text, sizeof text, "%s[criterion latency_p95]\nscenario = peek\n", scenarios);
        expect_error(text, ":12: [criterion latency_p95] scenario: no [scenario peek] section, did you mean \"peak\"? "
                     "(one of: peak, spike)", "a misspelt scenario, with a suggestion");
        snprintf(text, sizeof text, "[criterion latency_p95]\nscenario = nightly\n%s", scenarios);
        expect_error(text, ":2: [criterion latency_p95] scenario: no [scenario nightly] section (one of: peak, spike)",
                     "a scenario like none, scenarios defined after the criterion");
        expect_error("[criterion latency_p95]\nscenario = peak\n",
                     ":2: [criterion latency_p95] scenario: no [scenario peak] section (the file has no [scenario] "
                     "section)", "peak written out in a file without scenarios");
        expect_error("[criterion latency_p95]\nenabled = no\nscenario = peek\n",
                     ":3: [criterion latency_p95] scenario: no [scenario peek] section (the file has no [scenario] "
                     "section)", "a typo is an error even with the criterion turned off");
}

/* ---------------------------------------------------------------- acu_scaling */

#define CW_SECTION(name, period) \
        "[capacity " name "]\nsource = cloudwatch\nregion = eu-west-1\ncluster = x\nperiod = " period "\n"
#define SPIKE "[scenario spike]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"

static void test_acu_keys(void) {
        const CriterionConfig *a;
        Config *c = NULL;
        char *errors = NULL;

        is_int(load(CW_SECTION("db", "10s") SPIKE                                     /* 1-10 */
                    "[criterion acu_scaling]\nsettle = 30s\nscale_to = 8\nscale_up_within = 90s\n"
                    "min_acu = 0.5\nmax_acu = 8\nmax_age = 2h\n", &c, &errors), 0,
           "[criterion acu_scaling] with every key of its own loads");
        if (errors)
                printf("# %s", errors);
        free(errors);
        a = c ? config_find_criterion(c, "acu_scaling") : NULL;
        if (a) {
                is_str(a->series, "aurora.db.acu", "the only [capacity] section's ACU series is the default");
                ok(!a->no_scenario && !strcmp(a->scenario, "spike"), "[scenario spike] exists");
                ok(a->settle_usec == 30 * USEC_PER_SEC && a->scale_up_within_usec == 90 * USEC_PER_SEC &&
                   a->scale_to == 8 && a->min_acu == 0.5 && a->max_acu == 8 && a->max_age_usec == 2 * USEC_PER_HOUR,
                   "settle 30s, scale_to 8 within 90s, [0.5, 8] ACU, max_age 2h");
                is_int(a->max_gap_usec, 30 * USEC_PER_SEC, "max_gap: three of the source's 10s periods");
                is_int(a->lag_usec, 5 * USEC_PER_MIN, "lag: CloudWatch's 5m, which the 10m lookback reaches");
        }
        c = config_free(c);

        is_int(load(CW_SECTION("db", "1s") "lookback = 2m\ninterval = 5s\ntimeout = 3s\n", &c, NULL), 0,
           "a [capacity] section with a 2m lookback loads");
        a = c ? config_find_criterion(c, "acu_scaling") : NULL;
        if (a)
                is_int(a->lag_usec, (120 + 5 + 3) * USEC_PER_SEC,
                       "lag: lookback 2m + interval 5s + timeout 3s: later datapoints are never asked for");
        c = config_free(c);

        is_int(load(CW_SECTION("a", "1m") CW_SECTION("b", "1m")
                    "[capacity s]\nsource = sql\npostgres = p\nquery = select 1\ninterval = 7s\n"
                    "[postgres p]\nconninfo = host=127.0.0.1\n"
                    "[criterion acu_scaling]\nseries = aurora.s.acu\nscenario = spike\n" SPIKE, &c, NULL), 0,
           "several [capacity] sections and series = one of them loads");
        a = c ? config_find_criterion(c, "acu_scaling") : NULL;
        if (a) {
                is_str(a->series, "aurora.s.acu", "the series is the one set");
                is_int(a->max_gap_usec, 21 * USEC_PER_SEC, "max_gap: three of the sql source's 7s intervals");
                is_int(a->lag_usec, (2 * 7 + 10) * USEC_PER_SEC,
                       "lag: two of the sql source's 7s intervals and its 10s timeout");
        }
        c = config_free(c);
        is_int(load(CW_SECTION("a", "1m") CW_SECTION("b", "1m"), &c, NULL), 0,
           "two [capacity] sections without a [criterion acu_scaling] load");
        a = c ? config_find_criterion(c, "acu_scaling") : NULL;
        ok(a && !a->series && a->several_capacity, "acu_scaling has no series then, and knows there are several");
        c = config_free(c);
        is_int(load(CW_SECTION("a", "1m") CW_SECTION("b", "1m") "[criterion acu_scaling]\nenabled = no\n", &c, NULL),
           0, "nor with acu_scaling turned off");
        c = config_free(c);
        is_int(load("[criterion acu_scaling]\nseries = my.acu\n", &c, NULL), 0, "a series of no [capacity] loads");
        a = c ? config_find_criterion(c, "acu_scaling") : NULL;
        ok(a && a->max_gap_usec == 3 * USEC_PER_MIN && a->no_scenario, "with max_gap 3m, and no [scenario spike]");
        ok(a && a->lag_usec == 5 * USEC_PER_MIN, "and lag 5m");
        config_free(c);
}

static void test_acu_errors(void) {
        expect_error(CW_SECTION("a", "1m") CW_SECTION("b", "1m") "[criterion acu_scaling]\nsettle = 1m\n",
                     ":11: [criterion acu_scaling]: missing required key series: several [capacity] sections (a, b), "
                     "e.g. series = aurora.a.acu", "and with a [criterion acu_scaling] without series, at its header");
        expect_error("[criterion acu_scaling]\nscale_to = 20\n",
                     ":2: [criterion acu_scaling] scale_to: scale_to 20 is above max_acu 16: it could never be met",
                     "scale_to above the default max_acu");
        expect_error("[criterion acu_scaling]\nscale_to = 1\n",
                     ":2: [criterion acu_scaling] scale_to: scale_to 1 is below min_acu 2: it could never be met",
                     "scale_to below the default min_acu");
        expect_error("[criterion acu_scaling]\nscale_to = 8\nmax_acu = 4\n",
                     ":3: [criterion acu_scaling] max_acu: scale_to 8 is above max_acu 4: it could never be met",
                     "a max_acu below scale_to, at the later line");
        expect_error("[criterion acu_scaling]\nmax_acu = 1\nmin_acu = 1.5\n",
                     ":3: [criterion acu_scaling] min_acu: min_acu 1.5 is above max_acu 1",
                     "min_acu above max_acu");
        expect_error("[criterion acu_scaling]\nmin_acu = -1\n",
                     ":2: [criterion acu_scaling] min_acu: \"-1\" is not a number of ACU (such as 2 or 0.5)",
                     "a negative min_acu");
        expect_error("[criterion acu_scaling]\nmax_acu = 300\n",
                     ":2: [criterion acu_scaling] max_acu: \"300\" is above the maximum 256", "max_acu beyond Aurora's 256");
        expect_error("[criterion acu_scaling]\nscale_to = 1e3\n",
                     ":2: [criterion acu_scaling] scale_to: \"1e3\" is not a number of ACU (such as 2 or 0.5)",
                     "an exponent");
        expect_error("[criterion acu_scaling]\nsettle = -5m\n",
                     ":2: [criterion acu_scaling] settle: \"-5m\" is not a duration", "a negative settle");
        expect_error("[criterion acu_scaling]\nscale_up_within = 0\n",
                     ":2: [criterion acu_scaling] scale_up_within: \"0\" is below the minimum 1s",
                     "scale_up_within of 0");
        expect_error("[criterion acu_scaling]\nsettle = 2d\n",
                     ":2: [criterion acu_scaling] settle: \"2d\" is above the maximum 1d", "settle beyond a day");
        expect_error("[criterion acu_scaling]\nscenario = spkie\n" SPIKE,
                     ":2: [criterion acu_scaling] scenario: no [scenario spkie] section, did you mean \"spike\"? "
                     "(one of: spike)", "a misspelt scenario, as latency_p95's");
        expect_error("[criterion acu_scaling]\nseries = \n", ":2: [criterion acu_scaling] series: \"\" is empty",
                     "an empty series");
}

static void test_enabled(void) {
        const CriterionConfig *cc;
        Config *c = NULL;
        char *errors = NULL;

        ok(load("[criterion acu_scaling]\nenabled = no\n[criterion zero_data_loss]\nenabled = no\n"
                "[criterion latency_p95]\nenabled = yes\n"
                "[criterion mine]\nseries = s\nop = <\nthreshold = 1\nenabled = no\n"
                "[criterion yours]\nseries = s\nop = <\nthreshold = 1\n", &c, &errors) == 0,
           "enabled is taken by every built-in and by criteria of one's own");
        if (errors)
                printf("# %s", errors);
        for (size_t i = 0; c && i < c->n_criteria; i++) {
                const char *name = c->criteria[i].name;
                bool want = !strcmp(name, "acu_scaling") || !strcmp(name, "zero_data_loss") || !strcmp(name, "mine");

                ok(c->criteria[i].disabled == want, "%s is %s", c->criteria[i].name, want ? "turned off" : "on");
        }
        is_int(c ? c->n_criteria : 0, 6, "six criteria in all");
        config_free(c);
        free(errors);
        c = NULL;
        ok(load("[criterion memory]\nenabled = no\n", &c, NULL) == 0, "memory can be turned off");
        cc = c ? config_find_criterion(c, "memory") : NULL;
        ok(cc && cc->disabled, "and is");
        config_free(c);

        expect_error("[criterion memory]\nenabled = maybe\n",
                     ":2: [criterion memory] enabled: \"maybe\" is not yes or no", "enabled = maybe");
        expect_error("\n[criterion c]\nseries = s\nop = <\nthreshold = 1\nenabled = true\n",
                     ":6: [criterion c] enabled: \"true\" is not yes or no", "enabled = true: only yes or no");
        expect_error("[criterion acu_scaling]\nenabled = No\n",
                     ":2: [criterion acu_scaling] enabled: \"No\" is not yes or no", "enabled is case-sensitive");
        expect_error("[criterion acu_scaling]\nenabled = no\nenabled = yes\n",
                     ":3: [criterion acu_scaling] enabled: duplicate key, already set on line 2", "enabled twice");
}

static void test_latency_keys(void) {
        const CriterionConfig *cc;
        Config *c = NULL;
        char *errors = NULL;

        ok(load("[criterion latency_p95]\nscenario = nightly\nmin_requests = 50\nop = <=\nthreshold = 2s\n"
                "[scenario nightly]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n",
                &c, &errors) == 0, "latency_p95 takes scenario, min_requests, op and threshold");
        cc = c ? config_find_criterion(c, "latency_p95") : NULL;
        is_str(cc ? cc->scenario : NULL, "nightly", "scenario is read");
        ok(cc && !cc->no_scenario, "and names the [scenario nightly] of the file");
        is_int(cc ? cc->min_requests : 0, 50, "min_requests is read");
        ok(cc && cc->op == CRITERION_LE && cc->threshold == 2000, "op <= and a threshold of 2s in ms");
        config_free(c);
        free(errors);
        c = NULL;
        errors = NULL;
        ok(load("", &c, &errors) == 0, "an empty file loads");
        cc = c ? config_find_criterion(c, "latency_p95") : NULL;
        is_str(cc ? cc->scenario : NULL, "peak", "scenario defaults to peak");
        ok(cc && cc->no_scenario, "which the empty file lacks: not an error, the criterion will say so");
        is_int(cc ? cc->min_requests : 0, 1000, "min_requests defaults to 1000");
        config_free(c);
        free(errors);
        c = NULL;
        errors = NULL;
        ok(load("[scenario peak]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n",
                &c, &errors) == 0, "a file with [scenario peak] loads");
        cc = c ? config_find_criterion(c, "latency_p95") : NULL;
        ok(cc && !cc->no_scenario, "and the default scenario peak is found");
        config_free(c);
        free(errors);
        test_latency_scenario_errors();
}

#define CRDT_SECTION "[scenario crdt]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"

static void test_writes_keys(void) {
        const CriterionConfig *cc;
        Config *c = NULL;
        char *errors = NULL;

        ok(load("[criterion zero_data_loss]\nscenario = docs\nmin_conflicts = 0\nmax_age = 2h\n"
                "[scenario docs]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n",
                &c, &errors) == 0, "zero_data_loss takes scenario, min_conflicts and max_age");
        if (errors)
                printf("# %s", errors);
        cc = c ? config_find_criterion(c, "zero_data_loss") : NULL;
        ok(cc && cc->kind == CRITERION_RUN_WRITES && cc->line == 1, "zero_data_loss is a run criterion");
        is_str(cc ? cc->scenario : NULL, "docs", "scenario is read");
        ok(cc && !cc->no_scenario, "and names the [scenario docs] of the file");
        is_int(cc ? cc->min_conflicts : 1, 0, "min_conflicts 0 is allowed");
        is_int(cc ? cc->max_age_usec : 0, 2 * USEC_PER_HOUR, "max_age is read");
        ok(cc && cc->op == CRITERION_LE && cc->threshold == 0, "its rule stays lost <= 0");
        cc = c ? config_find_criterion(c, "latency_p95") : NULL;
        is_str(cc ? cc->scenario : NULL, "peak", "latency_p95's scenario is its own");
        config_free(c);
        free(errors);
        c = NULL;
        errors = NULL;
        ok(load(CRDT_SECTION, &c, &errors) == 0, "a file with [scenario crdt] loads");
        cc = c ? config_find_criterion(c, "zero_data_loss") : NULL;
        ok(cc && !cc->no_scenario && cc->min_conflicts == 1000, "zero_data_loss finds crdt, min_conflicts 1000");
        config_free(c);
        free(errors);
}

static void test_writes_errors(void) {
        expect_error(CRDT_SECTION "[criterion zero_data_loss]\nscenario = crdx\n",
                     ":7: [criterion zero_data_loss] scenario: no [scenario crdx] section, did you mean \"crdt\"? "
                     "(one of: crdt)", "a misspelt scenario, with a suggestion, as latency_p95's");
        expect_error("[criterion zero_data_loss]\nscenario = crdt\n",
                     ":2: [criterion zero_data_loss] scenario: no [scenario crdt] section (the file has no [scenario] "
                     "section)", "crdt written out in a file without scenarios");
        expect_error("[criterion zero_data_loss]\nmin_conflicts = -1\n",
                     ":2: [criterion zero_data_loss] min_conflicts: \"-1\" is not a whole number",
                     "a negative min_conflicts");
        expect_error("[criterion zero_data_loss]\nmin_conflicts = 1e3\n",
                     ":2: [criterion zero_data_loss] min_conflicts: \"1e3\" is not a whole number",
                     "min_conflicts in e-notation");
        expect_error("[criterion zero_data_loss]\nmin_conflicts = 1000000001\n",
                     ":2: [criterion zero_data_loss] min_conflicts: \"1000000001\" is above the maximum 1000000000",
                     "min_conflicts above its bound");
        expect_error("[criterion zero_data_loss]\nmin_conflicts = 5\nmin_conflicts = 6\n",
                     ":3: [criterion zero_data_loss] min_conflicts: duplicate key, already set on line 2",
                     "min_conflicts twice");
        expect_error("[criterion zero_data_loss]\nthreshold = 5\n",
                     ":2: [criterion zero_data_loss] threshold: not supported for this criterion yet",
                     "zero_data_loss's rule is lost <= 0: no threshold");
        expect_error("[criterion zero_data_loss]\nmin_requests = 5\n",
                     ":2: [criterion zero_data_loss] min_requests: not supported for this criterion yet",
                     "min_requests is latency_p95's");
        expect_error("[criterion latency_p95]\nmin_conflicts = 5\n",
                     ":2: [criterion latency_p95] min_conflicts: not supported for this criterion yet",
                     "min_conflicts is zero_data_loss's");
        expect_error("[criterion c]\nseries = s\nop = <\nthreshold = 1\nmin_conflicts = 5\n",
                     ":5: [criterion c] min_conflicts: not supported for this criterion yet",
                     "nor a user criterion's");
}

static void test_many_errors(void) {
        char *errors = load_errors("[daemon]\n"                           /* 1 */
                                   "colour = blue\n"                      /* 2 */
                                   "retention = 1m\n"                     /* 3 */
                                   "[target x]\n"                         /* 4 */
                                   "timeout = forever\n"                  /* 5 */
                                   "[criterion c]\n"                      /* 6 */
                                   "op = !\n"                             /* 7 */
                                   "[nope]\n"                             /* 8 */
                                   "broken line\n");                      /* 9 */
        static const char *const want[] = {
                ":2: [daemon] colour: unknown key (one of: database, listen, retention, api_token_file, "
                "flush_interval, evaluate_interval, log_level)",
                ":3: [daemon] retention: \"1m\" is below the minimum 1h",
                ":4: [target x]: needs memory_url or pprof_url",
                ":5: [target x] timeout: \"forever\" is not a duration",
                ":6: [criterion c]: missing required key series",
                ":6: [criterion c]: missing required key threshold",
                ":7: [criterion c] op: \"!\" is not a comparison (<, <=, >, >=)",
                ":8: [nope]: unknown section kind \"nope\" (one of: daemon, target, postgres, capacity, criterion, scenario, suite)",
                ":9: syntax error, expected \"[section]\" or \"key = value\"",
        };
        size_t len = strlen(path), at = 0;
        bool in_order = true;

        is_int(count_lines(errors), 9, "every problem of a file is collected, not only the first");
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
                ok(has_line(errors, "%s", want[i]), "collected: %s", want[i]);
                in_order = in_order && strncmp(errors + at, path, len) == 0 &&
                           strncmp(errors + at + len, want[i], strlen(want[i])) == 0;
                at += strcspn(errors + at, "\n") + (errors[at] ? 1 : 0);
        }
        ok(in_order, "the errors come in line order");
        free(errors);
}

static void test_inline_comments_and_syntax(void) {
        Config *c = NULL;

        is_int(load("\xEF\xBB\xBF[daemon] ; the daemon\r\n"
                    "listen = 127.0.0.1:1234 ; comment ; more\r\n"
                    "  log_level=warning\r\n"
                    "retention: 2h\r\n"
                    "[criterion c]   ; mine\r\n"
                    "series = a ;b\r\n"
                    "op = <=\r\n"
                    "threshold = 5m\r\n", &c, NULL),
               0, "BOM, CRLF, inline comments, indented keys and ':' load");
        if (!c)
                return;
        is_str(c->daemon.listen, "127.0.0.1:1234", "an inline comment after a blank is cut");
        is_int(c->daemon.log_level, LOG_WARNING, "an indented key is a key, not a continuation");
        is_int(c->daemon.retention_usec, 2 * USEC_PER_HOUR, "'key: value' is accepted as inih does");
        is_str(c->criteria[4].series, "a", "a comment after a blank ends the value");
        is_double(c->criteria[4].threshold, 300000, 1e-9, "\"5m\" is a duration threshold, 300000 ms");
        config_free(c);
}

static void test_long_lines(void) {
        char *text, *url, *errors = NULL;
        Config *c = NULL;
        size_t n = 9000;

        url = malloc(n + 1);
        text = malloc(n + 256);
        if (!url || !text)
                return;
        memcpy(url, "http://127.0.0.1:9091/", 22);
        memset(url + 22, 'a', 1000 - 22);
        url[1000] = '\0';
        snprintf(text, n + 256, "[target go]\nmemory_url = %s\n", url);
        is_int(load(text, &c, NULL), 0, "a 1000-character URL loads");
        is_str(c ? c->targets[0].memory_url : NULL, url, "and is read whole");
        c = config_free(c);

        memset(url + 22, 'b', 8100 - 22);
        url[8100] = '\0';
        snprintf(text, n + 256, "[target go] ; a long one\nmemory_url = %s ; comment\n", url);
        is_int(load(text, &c, NULL), 0, "an 8100-character URL with a comment loads");
        ok(c && strlen(c->targets[0].memory_url) == 8100, "and is read whole");
        c = config_free(c);

        memset(url + 22, 'c', n - 22);
        url[n] = '\0';
        snprintf(text, n + 256, "[target go]\nmemory_url = %s\ncolour = red\n", url);
        is_int(load(text, &c, &errors), -EINVAL, "a line longer than the buffer is refused");
        ok(has_line(errors, ":2: line longer than 8191 characters"), "at its own line");
        ok(has_line(errors, ":3: [target go] colour: unknown key " TARGET_KEYS), "and the next line keeps its number");
        is_int(count_lines(errors), 2, "the cut line's key counts as set but refused: not also reported missing");
        free(errors);
        free(url);
        free(text);
}

static void test_io_errors(void) {
        Config *c = (Config *) 1;
        char *errors = NULL, missing[sizeof path - 16];
        int r;

        snprintf(missing, sizeof missing, "%s/missing.conf", dir);
        r = config_load(missing, &c, &errors);
        is_int(r, -ENOENT, "a missing file returns -ENOENT");
        ok(!c, "and no config");
        snprintf(path, sizeof path, "%s", missing);
        ok(has_line(errors, ": No such file or directory"), "the message names the file and strerror");
        free(errors);
        errors = NULL;
        r = config_load(dir, &c, &errors);
        is_int(r, -EISDIR, "a directory returns -EISDIR");
        snprintf(path, sizeof path, "%s", dir);
        ok(has_line(errors, ": Is a directory"), "and says so");
        free(errors);
        is_int(config_load(missing, &c, NULL), -ENOENT, "errors may be ignored by passing NULL");
        ok(!config_free(NULL), "config_free(NULL) is a no-op returning NULL");
}

/* ---------------------------------------------------------------- pprof */

static const char pprof_conf[] =
        "[target go]\n"                                                     /* 1 */
        "pprof_url = http://127.0.0.1:6060/debug/pprof/\n"                  /* 2 */
        "heap_interval = 30s\n"                                             /* 3 */
        "goroutine_interval = 0\n"                                          /* 4 */
        "cpu_interval = 5m\n"                                               /* 5 */
        "cpu_seconds = 20s\n"                                               /* 6 */
        "max_profile = 64KiB\n"                                             /* 7 */
        "profile_retention = 365d\n"                                        /* 8 */
        "profile_keep = 1000000\n";                                         /* 9 */

static void test_pprof_keys(void) {
        const TargetConfig *t;
        Config *c = NULL;

        is_int(load(pprof_conf, &c, NULL), 0, "a target with pprof_url and no memory_url loads");
        if (!c)
                return;
        t = &c->targets[0];
        ok(!t->memory_url, "memory_url is optional: NULL when not set");
        is_str(t->pprof_url, "http://127.0.0.1:6060/debug/pprof", "pprof_url is stored without its trailing slash");
        is_int(t->heap_interval_usec, 30 * USEC_PER_SEC, "heap_interval is read");
        is_int(t->goroutine_interval_usec, 0, "goroutine_interval 0 turns goroutine profiles off");
        is_int(t->cpu_interval_usec, 5 * USEC_PER_MIN, "cpu_interval is read");
        is_int(t->cpu_seconds_usec, 20 * USEC_PER_SEC, "cpu_seconds is read");
        is_int(t->max_profile, 65536, "max_profile may be its minimum 64KiB");
        is_int(t->profile_retention_usec, 365 * USEC_PER_DAY, "profile_retention may be its maximum 365d");
        is_int(t->profile_keep, 1000000, "profile_keep may be its maximum 1000000");
        ok(!config_find_criterion(c, "memory")->series,
           "a target without memory_url gives the memory criterion no series");
        c = config_free(c);

        is_int(load("[target go]\nmemory_url = http://127.0.0.1:1/memory\n", &c, NULL), 0, "a /memory-only target loads");
        if (!c)
                return;
        t = &c->targets[0];
        ok(!t->pprof_url, "pprof_url has no default: profiles are off");
        is_int(t->heap_interval_usec, USEC_PER_MIN, "heap_interval defaults to 1m");
        is_int(t->goroutine_interval_usec, USEC_PER_MIN, "goroutine_interval defaults to 1m");
        is_int(t->cpu_interval_usec, 10 * USEC_PER_MIN, "cpu_interval defaults to 10m");
        is_int(t->cpu_seconds_usec, 10 * USEC_PER_SEC, "cpu_seconds defaults to 10s");
        is_int(t->max_profile, 8 * 1024 * 1024, "max_profile defaults to 8MiB");
        is_int(t->profile_retention_usec, 7 * USEC_PER_DAY, "profile_retention defaults to 7d");
        is_int(t->profile_keep, 1000, "profile_keep defaults to 1000");
        c = config_free(c);

        is_int(load("[target go]\npprof_url = https://h/debug/pprof\nheap_interval = 0\ncpu_interval = 0s\n"
                    "cpu_seconds = 5m\n", &c, NULL), 0, "every profile may be off, and cpu_seconds then is free");
        ok(c && c->targets[0].heap_interval_usec == 0 && c->targets[0].cpu_interval_usec == 0,
           "heap_interval and cpu_interval 0 are off");
        is_str(c ? c->targets[0].pprof_url : NULL, "https://h/debug/pprof", "a pprof_url without slash is kept");
        config_free(c);
}

/* `key = value` in a pprof target, which must fail with `want` on line 3. */
static void expect_pprof_error(const char *kv, const char *want, const char *what) {
        char text[512], line[512];

        snprintf(text, sizeof text, "[target go]\npprof_url = http://127.0.0.1:6060/debug/pprof\n%s\n", kv);
        snprintf(line, sizeof line, ":3: [target go] %s", want);
        expect_error(text, line, what);
}

static void test_pprof_errors(void) {
        expect_pprof_error("heap_interval = 500ms", "heap_interval: \"500ms\" is below the minimum 1s (0 turns it off)",
                           "heap_interval below 1s (and not 0)");
        expect_pprof_error("heap_interval = 2d", "heap_interval: \"2d\" is above the maximum 1d (0 turns it off)",
                           "heap_interval above 1d");
        expect_pprof_error("goroutine_interval = 0.5s",
                           "goroutine_interval: \"0.5s\" is below the minimum 1s (0 turns it off)",
                           "goroutine_interval below 1s");
        expect_pprof_error("goroutine_interval = 25h",
                           "goroutine_interval: \"25h\" is above the maximum 1d (0 turns it off)",
                           "goroutine_interval above 1d");
        expect_pprof_error("cpu_interval = 9s", "cpu_interval: \"9s\" is below the minimum 10s (0 turns it off)",
                           "cpu_interval below 10s");
        expect_pprof_error("cpu_interval = 2d", "cpu_interval: \"2d\" is above the maximum 1d (0 turns it off)",
                           "cpu_interval above 1d");
        expect_pprof_error("cpu_seconds = 0", "cpu_seconds: \"0\" is below the minimum 1s",
                           "cpu_seconds cannot be 0");
        expect_pprof_error("cpu_seconds = 6m", "cpu_seconds: \"6m\" is above the maximum 5m", "cpu_seconds above 5m");
        expect_pprof_error("max_profile = 32KiB", "max_profile: \"32KiB\" is below the minimum 64KiB",
                           "max_profile below 64KiB");
        expect_pprof_error("max_profile = 512MiB", "max_profile: \"512MiB\" is above the maximum 256MiB",
                           "max_profile above 1GiB");
        expect_pprof_error("max_profile = lots", "max_profile: \"lots\" is not a size", "a bad max_profile");
        expect_pprof_error("profile_retention = 30m", "profile_retention: \"30m\" is below the minimum 1h",
                           "profile_retention below 1h");
        expect_pprof_error("profile_retention = 366d", "profile_retention: \"366d\" is above the maximum 365d",
                           "profile_retention above 365d");
        expect_pprof_error("profile_keep = 0", "profile_keep: \"0\" is below the minimum 1", "profile_keep 0");
        expect_pprof_error("profile_keep = 1000001", "profile_keep: \"1000001\" is above the maximum 1000000",
                           "profile_keep above 1000000");
        expect_pprof_error("profile_keep = 10k", "profile_keep: \"10k\" is not a whole number",
                           "a count takes no unit");
        expect_pprof_error("profile_keep = -1", "profile_keep: \"-1\" is not a whole number", "a negative count");
        expect_pprof_error("profile_keep = 1.5", "profile_keep: \"1.5\" is not a whole number", "a fractional count");
        expect_pprof_error("profile_keep = 99999999999999999999999",
                           "profile_keep: \"99999999999999999999999\" is too large a number", "a count overflow");
        expect_error("[target go]\npprof_url = http://127.0.0.1:6060/debug/pprof?debug=1\n",
                     ":2: [target go] pprof_url: \"http://127.0.0.1:6060/debug/pprof?debug=1\" "
                     "has a ?query or #fragment, which a base URL cannot have", "a pprof_url with a query");
        expect_error("[target go]\npprof_url = http://127.0.0.1:6060/debug/pprof#x\n",
                     ":2: [target go] pprof_url: \"http://127.0.0.1:6060/debug/pprof#x\" "
                     "has a ?query or #fragment, which a base URL cannot have", "a pprof_url with a fragment");
        expect_error("[target go]\npprof_url = ftp://127.0.0.1/debug/pprof\n",
                     ":2: [target go] pprof_url: \"ftp://127.0.0.1/debug/pprof\" is not an http:// or https:// URL",
                     "a pprof_url of another scheme");
}

static void test_cpu_seconds_rule(void) {
        expect_pprof_error("cpu_seconds = 5m\ncpu_interval = 5m",
                           "cpu_seconds: 5m must be less than cpu_interval 5m",
                           "cpu_seconds equal to cpu_interval: reported at cpu_seconds");
        expect_error("[target go]\npprof_url = http://127.0.0.1:6060/debug/pprof\ncpu_interval = 10s\n",
                     ":3: [target go] cpu_interval: 10s must be more than cpu_seconds 10s",
                     "cpu_interval not above the default cpu_seconds: reported at cpu_interval");
        expect_error("[target go]\npprof_url = http://127.0.0.1:6060/debug/pprof\ncpu_interval = 1m\n"
                     "cpu_seconds = 10m\n",
                     ":4: [target go] cpu_seconds: \"10m\" is above the maximum 5m",
                     "a refused cpu_seconds is not compared with cpu_interval again");
}

/* ---------------------------------------------------------------- postgres */

static void test_postgres(void) {
        const PostgresConfig *pc;
        Config *c = NULL;

        is_int(load("[postgres main]\n"
                    "conninfo = host=127.0.0.1 port=55432 user=postgres dbname=app connect_timeout=3\n"
                    "interval = 1h\n"
                    "timeout = 100ms\n"
                    "[postgres replica]\n"
                    "conninfo = postgresql://perf@10.0.0.2:5432/app?sslmode=require\n", &c, NULL),
               0, "two [postgres] sections load, key=value and URI conninfo");
        if (!c)
                return;
        is_int(c->n_postgres, 2, "two postgres sections");
        pc = config_find_postgres(c, "main");
        ok(pc && pc->line == 1 && !strcmp(pc->name, "main"), "config_find_postgres finds [postgres main], line 1");
        is_str(pc ? pc->conninfo : NULL, "host=127.0.0.1 port=55432 user=postgres dbname=app connect_timeout=3",
               "conninfo is kept as written");
        ok(pc && pc->interval_usec == USEC_PER_HOUR && pc->timeout_usec == 100 * USEC_PER_MSEC,
           "interval may be its maximum 1h, timeout its minimum 100ms");
        pc = config_find_postgres(c, "replica");
        ok(pc && pc->interval_usec == 15 * USEC_PER_SEC, "interval defaults to 15s");
        ok(pc && pc->timeout_usec == 5 * USEC_PER_SEC, "timeout defaults to 5s");
        ok(!config_find_postgres(c, "nope") && !config_find_postgres(NULL, "main") && !config_find_postgres(c, NULL),
           "an unknown name, a NULL config or name find nothing");
        is_int(c->n_targets + c->n_capacity, 0, "postgres sections add no target or capacity");
        config_free(c);
}

static void test_postgres_errors(void) {
        char *errors;

        expect_error("[postgres main]\nconninfo = host=h password=hunter2 port\n",
                     ":2: [postgres main] conninfo: the value is not a libpq connection string: "
                     "missing \"=\" after \"port\" in connection info string",
                     "a broken conninfo, with libpq's own message");
        errors = load_errors("[postgres main]\nconninfo = password=hunter2 colour=blue\n");
        ok(has_line(errors, ":2: [postgres main] conninfo: the value is not a libpq connection string: "
                    "invalid connection option \"colour\""), "an unknown conninfo option is named");
        ok(!strstr(errors, "hunter2"), "and the password in conninfo is not repeated in the error");
        free(errors);
        expect_error("[postgres main]\nconninfo = postgresql://[::1\n",
                     ":2: [postgres main] conninfo: the value is not a libpq connection string: "
                     "end of string reached when looking for matching \"]\" in IPv6 host address in URI: "
                     "\"postgresql://[::1\"", "a broken URI conninfo");
        expect_error("[postgres main]\nconninfo =\n", ":2: [postgres main] conninfo: the value is empty",
                     "an empty conninfo");
        expect_error("\n[postgres main]\n", ":2: [postgres main]: missing required key conninfo",
                     "conninfo is required");
        expect_error("[postgres main]\nconninfo = host=h\ninterval = 500ms\n",
                     ":3: [postgres main] interval: \"500ms\" is below the minimum 1s", "interval below 1s");
        expect_error("[postgres main]\nconninfo = host=h\ninterval = 2h\n",
                     ":3: [postgres main] interval: \"2h\" is above the maximum 1h", "interval above 1h");
        expect_error("[postgres main]\nconninfo = host=h\ntimeout = 50ms\n",
                     ":3: [postgres main] timeout: \"50ms\" is below the minimum 100ms", "timeout below 100ms");
        expect_error("[postgres main]\nconninfo = host=h\ntimeout = 6m\n",
                     ":3: [postgres main] timeout: \"6m\" is above the maximum 5m", "timeout above 5m");
        expect_error("[postgres main]\nconninfo = host=h\nquery = select 1\n",
                     ":3: [postgres main] query: unknown key (one of: conninfo, interval, timeout)",
                     "a capacity key in a postgres section");
        expect_error("[postgres a]\nconninfo = host=h\n[postgres a]\nconninfo = host=i\n",
                     ":3: [postgres a]: duplicate section, first defined on line 1", "a duplicate postgres section");
        expect_error("[postgres]\n", ":1: [postgres]: missing name, expected [postgres NAME]",
                     "a postgres section without name");
}

/* ---------------------------------------------------------------- capacity */

static const char cloudwatch_conf[] =
        "[capacity aurora]\n"                                               /* 1 */
        "source = cloudwatch\n"                                             /* 2 */
        "region = eu-west-1\n"                                              /* 3 */
        "cluster = shop-db\n"                                               /* 4 */
        "endpoint = http://127.0.0.1:4566\n"                                /* 5 */
        "profile = perf\n"                                                  /* 6 */
        "period = 1d\n"                                                     /* 7 */
        "lookback = 2d\n"                                                   /* 8 */
        "interval = 1s\n"                                                   /* 9 */
        "timeout = 5m\n";                                                   /* 10 */

static void test_capacity_cloudwatch(void) {
        const CapacityConfig *cc;
        Config *c = NULL;

        is_int(load(cloudwatch_conf, &c, NULL), 0, "a full cloudwatch capacity section loads");
        if (!c)
                return;
        is_int(c->n_capacity, 1, "one capacity section");
        cc = &c->capacity[0];
        ok(!strcmp(cc->name, "aurora") && cc->line == 1 && cc->source == CAPACITY_CLOUDWATCH,
           "named aurora, line 1, source cloudwatch");
        is_str(cc->region, "eu-west-1", "region is read");
        is_str(cc->cluster, "shop-db", "cluster is read");
        is_str(cc->endpoint, "http://127.0.0.1:4566", "endpoint is read");
        is_str(cc->profile, "perf", "profile is read");
        ok(cc->period_usec == USEC_PER_DAY && cc->lookback_usec == 2 * USEC_PER_DAY,
           "period may be its maximum 1d, lookback longer than a day");
        ok(cc->interval_usec == USEC_PER_SEC && cc->timeout_usec == 5 * USEC_PER_MIN,
           "interval may be its minimum 1s, timeout its maximum 5m");
        ok(!cc->credentials_file && !cc->postgres && !cc->query, "unset keys stay NULL");
        c = config_free(c);

        is_int(load("[capacity a]\nsource = cloudwatch\nregion = us-east-1\ncluster = c\n", &c, NULL), 0,
               "a minimal cloudwatch section loads");
        if (!c)
                return;
        cc = &c->capacity[0];
        ok(!cc->endpoint, "endpoint has no default (the probe derives it from the region)");
        ok(!cc->credentials_file, "credentials_file has no default (the environment is used)");
        is_str(cc->profile, "default", "profile defaults to default");
        is_int(cc->period_usec, USEC_PER_MIN, "period defaults to 1m");
        is_int(cc->lookback_usec, 10 * USEC_PER_MIN, "lookback defaults to 10m");
        is_int(cc->interval_usec, USEC_PER_MIN, "interval defaults to 1m");
        is_int(cc->timeout_usec, 10 * USEC_PER_SEC, "timeout defaults to 10s");
        c = config_free(c);

        is_int(load("[capacity a]\nsource = cloudwatch\nregion = us-east-1\ncluster = c\nperiod = 5m\n"
                    "lookback = 5m\n", &c, NULL), 0, "lookback may equal the period");
        config_free(c);
}

/* `key = value` in a cloudwatch section, which must fail with `want` on line 5. */
static void expect_cloudwatch_error(const char *kv, const char *want, const char *what) {
        char text[512], line[512];

        snprintf(text, sizeof text, "[capacity acu]\nsource = cloudwatch\nregion = eu-west-1\ncluster = db\n%s\n", kv);
        snprintf(line, sizeof line, ":5: [capacity acu] %s", want);
        expect_error(text, line, what);
}

static void test_capacity_cloudwatch_errors(void) {
        expect_cloudwatch_error("interval = 500ms", "interval: \"500ms\" is below the minimum 1s", "interval below 1s");
        expect_cloudwatch_error("interval = 2d", "interval: \"2d\" is above the maximum 1d", "interval above 1d");
        expect_cloudwatch_error("timeout = 999ms", "timeout: \"999ms\" is below the minimum 1s", "timeout below 1s");
        expect_cloudwatch_error("timeout = 301s", "timeout: \"301s\" is above the maximum 5m", "timeout above 5m");
        expect_cloudwatch_error("period = 1.5s", "period: \"1.5s\" is not a whole number of seconds",
                                "a period that is not whole seconds");
        expect_cloudwatch_error("period = 0", "period: \"0\" is below the minimum 1s", "a period of 0");
        expect_cloudwatch_error("period = 2d", "period: \"2d\" is above the maximum 1d", "period above 1d");
        expect_cloudwatch_error("lookback = 30s", "lookback: 30s must be at least period 1m",
                                "a lookback shorter than the period: reported at lookback");
        expect_cloudwatch_error("period = 1h", "period: 1h must be at most lookback 10m",
                                "a period longer than the default lookback: reported at period");
        expect_cloudwatch_error("endpoint = monitoring.local", "endpoint: \"monitoring.local\" is not an http:// or "
                                "https:// URL", "a bad endpoint");
        expect_cloudwatch_error("credentials_file = aws/creds", "credentials_file: \"aws/creds\" is not an absolute "
                                "path", "a relative credentials_file");
        expect_cloudwatch_error("profile =", "profile: \"\" is empty", "an empty profile");
        expect_cloudwatch_error("query = select 1", "query: only for source = sql", "query in a cloudwatch section");
        expect_cloudwatch_error("postgres = main", "postgres: only for source = sql",
                                "postgres in a cloudwatch section");
        expect_error("[capacity acu]\nsource = cloudwatch\nregion = EU_West\ncluster = db\n",
                     ":3: [capacity acu] region: \"EU_West\" is not an AWS region such as eu-west-1", "a bad region");
        expect_error("[capacity acu]\nsource = cloudwatch\nregion = eu-west-1\ncluster =\n",
                     ":4: [capacity acu] cluster: \"\" is empty", "an empty cluster");
        expect_error("[capacity acu]\nsource = cloudwatch\ncluster = db\n",
                     ":1: [capacity acu]: missing required key region", "region is required for cloudwatch");
        expect_error("[capacity acu]\nregion = eu-west-1\nsource = cloudwatch\n",
                     ":1: [capacity acu]: missing required key cluster",
                     "cluster is required for cloudwatch (source may come after the keys)");
}

static void test_capacity_sql(void) {
        const CapacityConfig *cc;
        Config *c = NULL;

        is_int(load("[capacity acu]\n"
                    "source = sql\n"
                    "postgres = main\n"
                    "query = select max(acu) from capacity_log where t > now() - interval '1 minute'\n"
                    "interval = 30s\n"
                    "[postgres main]\n"
                    "conninfo = host=127.0.0.1\n", &c, NULL),
               0, "a sql capacity section loads, its [postgres] section defined later in the file");
        if (!c)
                return;
        cc = &c->capacity[0];
        ok(cc->source == CAPACITY_SQL, "source sql");
        is_str(cc->postgres, "main", "postgres names the section");
        ok(config_find_postgres(c, cc->postgres) == &c->postgres[0], "which config_find_postgres finds");
        is_str(cc->query, "select max(acu) from capacity_log where t > now() - interval '1 minute'",
               "query is kept as written");
        is_int(cc->interval_usec, 30 * USEC_PER_SEC, "interval is read");
        is_int(cc->timeout_usec, 10 * USEC_PER_SEC, "timeout defaults to 10s");
        ok(!cc->region && !cc->cluster && !cc->endpoint && !cc->credentials_file,
           "cloudwatch keys stay unset");
        config_free(c);
}

static void test_capacity_sql_errors(void) {
        const char *pg = "[postgres main]\nconninfo = host=h\n";
        char text[512];

        expect_error("[capacity acu]\nsource = sql\npostgres = main\nquery = select 1\n",
                     ":3: [capacity acu] postgres: no [postgres main] section", "a missing [postgres] section");
        snprintf(text, sizeof text, "%s[capacity acu]\nsource = sql\npostgres = main\nquery = select 1\n"
                 "region = eu-west-1\n", pg);
        expect_error(text, ":7: [capacity acu] region: only for source = cloudwatch", "region in a sql section");
        snprintf(text, sizeof text, "%s[capacity acu]\nsource = sql\npostgres = main\nquery = select 1\n"
                 "period = 1m\n", pg);
        expect_error(text, ":7: [capacity acu] period: only for source = cloudwatch",
                     "a cloudwatch key with a default is still refused when set");
        snprintf(text, sizeof text, "%s[capacity acu]\nsource = sql\npostgres = main\n", pg);
        expect_error(text, ":3: [capacity acu]: missing required key query", "query is required for sql");
        expect_error("[capacity acu]\nsource = sql\nquery = select 1\n",
                     ":1: [capacity acu]: missing required key postgres", "postgres is required for sql");
        expect_error("[capacity acu]\nsource = cloudwatc\nregion = eu-west-1\nquery = select 1\n",
                     ":2: [capacity acu] source: \"cloudwatc\" is not a capacity source (cloudwatch, sql)",
                     "a bad source: its keys are not judged against it");
        expect_error("[capacity acu]\nregion = eu-west-1\nquery = select 1\n",
                     ":1: [capacity acu]: missing required key source", "source is required");
        snprintf(text, sizeof text, "%s[capacity a]\nsource = sql\npostgres = main\nquery = q\n[capacity a]\n", pg);
        expect_error(text, ":7: [capacity a]: duplicate section, first defined on line 3",
                     "a duplicate capacity section");
}


/* ---------------------------------------------------------------- scenarios */

static const char scenario_conf[] =
        "[scenario peak]\n"                                                 /* 1 */
        "base_url = http://127.0.0.1:8080/\n"                               /* 2 */
        "stages = 30s:20/s, 50m:50/s, 5m:0/s\n"                             /* 3 */
        "request = 3 GET /api/items\n"                                      /* 4 */
        "request = POST /api/items/${seq} {\"name\": \"n ${uuid}\"}\n"      /* 5 */
        "header = Accept: application/json\n"                               /* 6 */
        "header = X-Run:peak\n"                                             /* 7 */
        "expect = 200-299, 404 ,409\n"                                      /* 8 */
        "[scenario steady]\n"                                               /* 9 */
        "rate = 90/m\n"                                                     /* 10 */
        "duration = 10s\n"                                                  /* 11 */
        "base_url = http://127.0.0.1:8080\n"                                /* 12 */
        "request = GET /\n"                                                 /* 13 */
        "[scenario sustained]\n"                                            /* 14 */
        "model = closed\n"                                                  /* 15 */
        "base_url = http://127.0.0.1:8080\n"                                /* 16 */
        "users = 5\n"                                                       /* 17 */
        "think = 2s..6s\n"                                                  /* 18 */
        "ramp_up = 10s\n"                                                   /* 19 */
        "duration = 4h\n"                                                   /* 20 */
        "request = GET /api/items\n";                                       /* 21 */

static void test_scenario_open(const ScenarioConfig *sc) {
        ok(sc && sc->model == LOAD_MODEL_OPEN && sc->line == 1, "[scenario peak]: open model by default, line 1");
        if (!sc)
                return;
        is_str(sc->base_url, "http://127.0.0.1:8080", "base_url without its trailing slash");
        ok(sc->stages && stages_n(sc->stages) == 3 && stages_duration(sc->stages) == 3330 * USEC_PER_SEC,
           "stages parsed: 3 stages, 55m30s in all");
        is_int(sc->n_requests, 2, "two request lines");
        if (sc->n_requests == 2) {
                ok(sc->requests[0].weight == 3 && !strcmp(sc->requests[0].method, "GET") &&
                   !strcmp(sc->requests[0].path, "/api/items") && !sc->requests[0].body,
                   "request 1: weight 3, GET /api/items, no body");
                ok(sc->requests[1].weight == 1 && !strcmp(sc->requests[1].body, "{\"name\": \"n ${uuid}\"}") &&
                   sc->requests[1].body_template && !template_is_constant(sc->requests[1].path_template),
                   "request 2: weight 1 by default, the rest of the line is the body, both compiled as templates");
                is_str(sc->requests[1].name, "POST /api/items/${seq}", "a request is named METHOD PATH");
        }
        ok(sc->n_headers == 2 && !strcmp(sc->headers[0], "Accept: application/json") &&
           !strcmp(sc->headers[1], "X-Run: peak"), "two headers, written Name: value");
        ok(sc->n_expect == 3 && sc->expect[0].lo == 200 && sc->expect[0].hi == 299 && sc->expect[1].lo == 404 &&
           sc->expect[2].hi == 409, "expect: 200-299, 404, 409");
        ok(sc->timeout_usec == 10 * USEC_PER_SEC && sc->max_inflight == 1000 && sc->duration_usec == 0,
           "defaults: timeout 10s, max_inflight 1000, no duration (the stages' total)");
}

static void test_scenarios(void) {
        const ScenarioConfig *sc;
        LoadRequest *reqs = NULL;
        LoadScenario ls;
        char *errors = NULL;
        Config *c = NULL;

        is_int(load(scenario_conf, &c, &errors), 0, "a file with three scenarios loads");
        if (errors)
                printf("# %s", errors);
        free(errors);
        if (!c)
                return;
        test_scenario_open(config_find_scenario(c, "peak"));
        sc = config_find_scenario(c, "steady");
        ok(sc && sc->stages && stages_count(sc->stages) == 15 && sc->n_expect == 1 && sc->expect[0].lo == 200 &&
           sc->expect[0].hi == 299, "rate = 90/m for 10s: a constant schedule of 15 requests; expect 200-299 by default");
        sc = config_find_scenario(c, "sustained");
        ok(sc && sc->model == LOAD_MODEL_CLOSED && sc->users == 5 && sc->think.min_usec == 2 * USEC_PER_SEC &&
           sc->think.max_usec == 6 * USEC_PER_SEC && sc->ramp_up_usec == 10 * USEC_PER_SEC,
           "closed: users 5, think 2s..6s, ramp_up 10s");
        ok(sc && config_scenario_to_load(sc, 30 * USEC_PER_SEC, &ls, &reqs) == 0 &&
           ls.duration_usec == 30 * USEC_PER_SEC && ls.users == 5 && ls.n_requests == 1 &&
           !strcmp(ls.requests[0].path, "/api/items"), "handed to the engine, shortened to 30s by the caller");
        free(reqs);
        reqs = NULL;
        ok(ls.client == LOAD_CLIENT_AUTO, "client auto by default");
        ok(config_find_scenario(c, "nope") == NULL, "an unknown scenario is not found");
        sc = config_find_scenario(c, "peak");
        ok(sc && !sc->schedule && sc->enabled, "no schedule and enabled by default");
        config_free(c);
        c = NULL;
        is_int(load("[scenario s]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"
                    "schedule = 30 2 * * mon-fri\nenabled = no\n[scenario d]\nbase_url = http://127.0.0.1:1\n"
                    "rate = 1/s\nduration = 1s\nrequest = GET /\nschedule = @daily\nenabled = yes\n", &c, NULL), 0,
               "schedule and enabled load");
        sc = config_find_scenario(c, "s");
        ok(sc && !strcmp(sc->schedule, "30 2 * * mon-fri") && !sc->enabled && sc->cron.minutes == 1ull << 30 &&
           sc->cron.hours == 1u << 2 && sc->cron.wdays == 0x3e, "schedule kept as written and parsed; enabled = no");
        sc = config_find_scenario(c, "d");
        ok(sc && !strcmp(sc->schedule, "@daily") && sc->enabled && sc->cron.minutes == 1 && sc->cron.hours == 1,
           "@daily is 0 0 * * *; enabled = yes");
        config_free(c);
        c = NULL;
        is_int(load("[scenario s]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\n"
                    "request = POST /a {\"x\": 1}\nrequest = POST /a {\"x\": 2}\nrequest = GET /a\n", &c, NULL), 0,
               "two request lines with the same METHOD PATH load");
        sc = config_find_scenario(c, "s");
        ok(sc && sc->n_requests == 3 && !strcmp(sc->requests[0].name, "POST /a") &&
           !strcmp(sc->requests[1].name, "POST /a #2") && !strcmp(sc->requests[2].name, "GET /a"),
           "and are named apart for their per-request figures: POST /a, POST /a #2");
        is_str(config_model_to_string(LOAD_MODEL_CLOSED), "closed", "model closed as text");
        config_free(c);
        c = NULL;
        is_int(load("[scenario s]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"
                    "client = libcurl\n", &c, NULL), 0, "client = libcurl loads");
        sc = config_find_scenario(c, "s");
        ok(sc && config_scenario_to_load(sc, 0, &ls, &reqs) == 0 && ls.client == LOAD_CLIENT_LIBCURL,
           "and is handed to the engine");
        free(reqs);
        config_free(c);
}

/* The lost-write check's keys: defaults, values, the hand-over. */
static void test_scenario_writes(void) {
        const ScenarioConfig *sc;
        LoadRequest *reqs = NULL;
        LoadScenario ls;
        char *errors = NULL;
        Config *c = NULL;

        is_int(load("[scenario w]\nmodel = closed\nusers = 3\nduration = 1s\nbase_url = http://127.0.0.1:1\n"
                    "request = GET /docs/stats\nwrite = 4 POST /docs/${doc} {\"token\":\"${token}\"}\n"
                    "read = GET /docs/${doc}\n[scenario d]\nmodel = closed\nusers = 3\nduration = 1s\n"
                    "base_url = http://127.0.0.1:1\nwrite = PUT /d/${doc}/${token}\nread = GET /d/${doc}\n"
                    "documents = 4096\nelements = /data/items\nconflicts_from = /stats /m~1n/0\nread_after = 0\n",
                    &c, &errors), 0, "scenarios with write lines load");
        if (errors)
                printf("# %s", errors);
        free(errors);
        sc = config_find_scenario(c, "w");
        ok(sc && sc->n_requests == 2 && !sc->requests[0].write && sc->requests[1].write &&
           sc->requests[1].weight == 4, "a write line joins the weighted choice, marked a write");
        ok(sc && sc->documents == 5 && !strcmp(sc->elements, "/elements") && sc->read_after_usec == 2 * USEC_PER_SEC &&
           !sc->conflicts_path && !strcmp(sc->read_method, "GET") && !strcmp(sc->read_path, "/docs/${doc}"),
           "defaults: documents 5, elements /elements, read_after 2s, no conflicts_from");
        ok(sc && config_scenario_to_load(sc, 0, &ls, &reqs) == 0 && ls.writes && ls.writes->documents == 5 &&
           ls.requests[1].write && !ls.requests[0].write && !strcmp(ls.writes->read_path, "/docs/${doc}") &&
           ls.writes->read_after_usec == 2 * USEC_PER_SEC, "handed to the engine with its LoadWrites");
        free(reqs);
        sc = config_find_scenario(c, "d");
        ok(sc && sc->documents == 4096 && !strcmp(sc->elements, "/data/items") && !strcmp(sc->conflicts_path, "/stats") &&
           !strcmp(sc->conflicts_pointer, "/m~1n/0") && sc->read_after_usec == 0 && !strcmp(sc->read_method, "GET"),
           "documents, elements, conflicts_from and read_after as given");
        config_free(c);
        c = NULL;
        is_int(load("[scenario p]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n",
                    &c, NULL), 0, "a scenario without write lines");
        sc = config_find_scenario(c, "p");
        ok(sc && config_scenario_to_load(sc, 0, &ls, &reqs) == 0 && !ls.writes, "has no LoadWrites");
        free(reqs);
        config_free(c);
}

static void test_scenario_write_errors(void) {
        static const char head[] = "[scenario s]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\n";
        static const char w[] = "write = POST /docs/${doc} {\"token\":\"${token}\"}\n";
        char text[1024];

        snprintf(text, sizeof text, "%swrite = POST /docs/${doc} {}\nread = GET /docs/${doc}\n", head);
        expect_error(text, ":5: [scenario s] write: \"POST /docs/${doc} {}\" has no ${token} in its PATH or BODY: "
                     "a write must carry its token", "a write without ${token}");
        snprintf(text, sizeof text, "%s%s", head, w);
        expect_error(text, ":1: [scenario s]: missing required key read (the scenario has write lines)",
                     "write lines need a read");
        snprintf(text, sizeof text, "%s%sread = GET /docs/one\n", head, w);
        expect_error(text, ":6: [scenario s] read: PATH \"/docs/one\" has no ${doc}: with documents = 5 each "
                     "document is read by its name", "a read without ${doc} for several documents");
        snprintf(text, sizeof text, "%s%sread = GET /docs/one\ndocuments = 1\n", head, w);
        {
                Config *c = NULL;

                is_int(load(text, &c, NULL), 0, "but one document may be read by a fixed path");
                config_free(c);
        }
        snprintf(text, sizeof text, "%s%sread = /docs/${doc}\n", head, w);
        expect_error(text, ":6: [scenario s] read: \"/docs/${doc}\" is not METHOD PATH (GET /docs/${doc})",
                     "a read without a method");
        snprintf(text, sizeof text, "%s%sread = GET /docs/${dox}\n", head, w);
        expect_error(text, ":6: [scenario s] read: \"GET /docs/${dox}\" has a bad PATH template: unknown placeholder "
                     "${dox} at offset 6 (known: ${seq}, ${user}, ${uuid}, ${rand:N}, ${env:NAME}, ${doc}, ${token}; "
                     "$$ for a literal $)", "a bad read template");
        snprintf(text, sizeof text, "%s%sread = GET /docs/${doc}\ndocuments = 0\n", head, w);
        expect_error(text, ":7: [scenario s] documents: \"0\" is below the minimum 1", "documents 0");
        snprintf(text, sizeof text, "%s%sread = GET /docs/${doc}\ndocuments = 4097\n", head, w);
        expect_error(text, ":7: [scenario s] documents: \"4097\" is above the maximum 4096", "documents 4097");
        snprintf(text, sizeof text, "%s%sread = GET /docs/${doc}\nelements = elements\n", head, w);
        expect_error(text, ":7: [scenario s] elements: \"elements\" is not a JSON pointer (RFC 6901: \"\" or "
                     "/a/0/b, with ~0 for ~ and ~1 for /)", "elements not a pointer");
        snprintf(text, sizeof text, "%s%sread = GET /docs/${doc}\nelements = /a~2\n", head, w);
        expect_error(text, ":7: [scenario s] elements: \"/a~2\" is not a JSON pointer (RFC 6901: \"\" or /a/0/b, with ~0 for ~ and ~1 for /)",
                     "a bad ~ escape");
        snprintf(text, sizeof text, "%s%sread = GET /docs/${doc}\nconflicts_from = /docs/stats\n", head, w);
        expect_error(text, ":7: [scenario s] conflicts_from: \"/docs/stats\" is not PATH /POINTER (/docs/stats "
                     "/conflicts)", "conflicts_from without a pointer");
        snprintf(text, sizeof text, "%s%sread = GET /docs/${doc}\nconflicts_from = /docs/stats conflicts\n", head, w);
        expect_error(text, ":7: [scenario s] conflicts_from: \"/docs/stats conflicts\" has \"conflicts\", which is "
                     "not a JSON pointer (RFC 6901: \"\" or /a/0/b, with ~0 for ~ and ~1 for /)", "conflicts_from with a bad pointer");
        snprintf(text, sizeof text, "%s%sread = GET /docs/${doc}\nread_after = 2 s\n", head, w);
        expect_error(text, ":7: [scenario s] read_after: \"2 s\" is not a duration", "read_after not a duration");
        snprintf(text, sizeof text, "%srequest = GET /\ndocuments = 3\n", head);
        expect_error(text, ":6: [scenario s] documents: only with write lines (the lost-write check)",
                     "documents without write lines");
        snprintf(text, sizeof text, "%srequest = GET /\nread_after = 1s\n", head);
        expect_error(text, ":6: [scenario s] read_after: only with write lines (the lost-write check)",
                     "read_after without write lines");
}

/* Every value a scenario key can get wrong, each on its own line. */
static void test_scenario_value_errors(const char *head) {
        static const struct {
                const char *lines, *want;
        } open_cases[] = {
                { "timeout = soon\n", ":6: [scenario s] timeout: \"soon\" is not a duration" },
                { "timeout = 1ms\n", ":6: [scenario s] timeout: \"1ms\" is below the minimum 10ms" },
                { "timeout = 6m\n", ":6: [scenario s] timeout: \"6m\" is above the maximum 5m" },
                { "max_inflight = 0\n", ":6: [scenario s] max_inflight: \"0\" is below the minimum 1" },
                { "max_inflight = -3\n", ":6: [scenario s] max_inflight: \"-3\" is not a whole number" },
                { "header = NoColon\n", ":6: [scenario s] header: \"NoColon\" is not \"Name: value\" "
                  "(a field name, then a colon)" },
                { "expect = 200-\n", ":6: [scenario s] expect: \"200-\" has \"200-\", which is not a status "
                  "code 100-599 or a range LO-HI of them" },
        }, closed_cases[] = {
                { "users = 0\nduration = 1m\n", ":5: [scenario s] users: \"0\" is below the minimum 1" },
                { "users = many\nduration = 1m\n", ":5: [scenario s] users: \"many\" is not a whole number" },
                { "users = 2\nduration = 0\n", ":6: [scenario s] duration: \"0\" is below the minimum 1s" },
                { "users = 2\nduration = 1m\nthink = 1s..\n",
                  ":7: [scenario s] think: \"1s..\" is not a duration or MIN..MAX (1s..3s)" },
                { "users = 2\nduration = 1m\nthink = 2h\n", ":7: [scenario s] think: \"2h\" is above the maximum 1h" },
                { "users = 2\nduration = 1m\nramp_up = slowly\n",
                  ":7: [scenario s] ramp_up: \"slowly\" is not a duration" },
                { "users = 2\nduration = 1m\nramp_up = 2m\n",
                  ":7: [scenario s] ramp_up: 2m must be at most duration 1m" },
        };
        char text[1024];

        for (size_t i = 0; i < ELEMENTSOF(open_cases); i++) {
                snprintf(text, sizeof text, "%srate = 5/s\nduration = 1m\n%s", head, open_cases[i].lines);
                expect_error(text, open_cases[i].want, open_cases[i].want + 4);
        }
        for (size_t i = 0; i < ELEMENTSOF(closed_cases); i++) {
                snprintf(text, sizeof text, "%smodel = closed\n%s", head, closed_cases[i].lines);
                expect_error(text, closed_cases[i].want, closed_cases[i].want + 4);
        }
}

/* model = exec: its keys, their defaults, the hand-over, and the keys of
 * the other models refused with their line. */
static void test_scenario_exec(void) {
        static const char head[] = "[scenario l]\nmodel = exec\n";
        const ScenarioConfig *sc;
        LoadRequest *reqs = NULL;
        char *errors = NULL, text[1024];
        LoadScenario ls;
        Config *c = NULL;

        is_int(load("[scenario l]\nmodel = exec\ncommand = locust -f '/a b.py' --csv ${run_dir}/x\n"
                    "duration = 1m\nschedule = @daily\n", &c, &errors), 0, "an exec scenario loads without base_url");
        if (errors)
                printf("# %s", errors);
        free(errors);
        sc = config_find_scenario(c, "l");
        ok(sc && sc->model == LOAD_MODEL_EXEC && !strcmp(sc->command, "locust -f '/a b.py' --csv ${run_dir}/x") &&
           !strcmp(sc->csv, "${run_dir}/locust") && sc->grace_usec == 30 * USEC_PER_SEC && !sc->base_url,
           "command kept as written; csv ${run_dir}/locust and grace 30s by default");
        ok(sc && config_scenario_to_load(sc, 0, &ls, &reqs) == 0 && ls.model == LOAD_MODEL_EXEC && ls.exec &&
           ls.exec->command == sc->command && ls.exec->grace_usec == 30 * USEC_PER_SEC &&
           ls.duration_usec == 60 * USEC_PER_SEC, "handed to the engine with its LoadExec");
        free(reqs);
        is_str(config_model_to_string(LOAD_MODEL_EXEC), "exec", "model exec as text");
        config_free(c);

        snprintf(text, sizeof text, "%scommand = locust\n", head);
        expect_error(text, ":1: [scenario l]: missing required key duration (model = exec: the command is stopped "
                     "after it and grace)", "exec without duration");
        snprintf(text, sizeof text, "%sduration = 1m\n", head);
        expect_error(text, ":1: [scenario l]: missing required key command (model = exec)", "exec without command");
        snprintf(text, sizeof text, "%scommand = sh -c 'echo\nduration = 1m\n", head);
        expect_error(text, ":3: [scenario l] command: \"sh -c 'echo\" has a quote that is not closed",
                     "a command with an unclosed quote");
        snprintf(text, sizeof text, "%scommand = locust\nduration = 1m\nbase_url = http://127.0.0.1:1\n", head);
        expect_error(text, ":5: [scenario l] base_url: not for model = exec (the command's own options say what "
                     "it sends)", "base_url in an exec scenario");
        snprintf(text, sizeof text, "%scommand = locust\nduration = 1m\nusers = 5\n", head);
        expect_error(text, ":5: [scenario l] users: not for model = exec (the command's own options say what it "
                     "sends)", "users in an exec scenario");
        expect_error("[scenario s]\nbase_url = http://127.0.0.1:1\nrequest = GET /\nrate = 1/s\nduration = 1s\n"
                     "grace = 5s\n", ":6: [scenario s] grace: only for model = exec", "grace in an open scenario");
        expect_error("[scenario s]\nmodel = closed\nusers = 1\nbase_url = http://127.0.0.1:1\nrequest = GET /\n"
                     "duration = 1s\ncommand = locust\n", ":7: [scenario s] command: only for model = exec",
                     "command in a closed scenario");
        expect_error("[scenario s]\nrate = 1/s\nduration = 1s\nrequest = GET /\n",
                     ":1: [scenario s]: missing required key base_url", "base_url still required for model = open");
        expect_error("[criterion latency_p95]\nscenario = l\n[scenario l]\nmodel = exec\ncommand = locust\n"
                     "duration = 1m\n", ":2: [criterion latency_p95] scenario: [scenario l] is model = exec: "
                     "Locust's latencies are closed-loop and rounded, not comparable with the p95 latency_p95 "
                     "judges; name an open- or closed-model scenario", "latency_p95 may not judge an exec scenario");
        expect_error("[scenario peak]\nmodel = exec\ncommand = locust\nduration = 1m\n",
                     ":2: [scenario peak] model: exec, but latency_p95 judges [scenario peak] by default: "
                     "Locust's latencies are closed-loop and rounded, not comparable with its p95; rename the "
                     "scenario, or set [criterion latency_p95] scenario or enabled = no",
                     "nor the default peak when it is an exec scenario");
        is_int(load("[criterion latency_p95]\nenabled = no\n[scenario peak]\nmodel = exec\ncommand = locust\n"
                    "duration = 1m\n", &c, NULL), 0, "a peak exec scenario loads with latency_p95 turned off");
        config_free(c);
}

static void test_scenario_errors(void) {
        static const char head[] = "[scenario s]\nbase_url = http://127.0.0.1:1\nrequest = GET /\n";
        char text[1024], want[1024];

        snprintf(text, sizeof text, "%srate = 0/s\nduration = 1s\n", head);
        expect_error(text, ":4: [scenario s] rate: \"0/s\" must be above 0", "rate 0");
        snprintf(text, sizeof text, "%sstages = 30s:10/s, 0s:5/s\n", head);
        expect_error(text, ":4: [scenario s] stages: \"30s:10/s, 0s:5/s\" stage 2 \"0s:5/s\": \"0s\" is not a duration above 0 "
                     "(want e.g. 30s, 5m)",
                     "bad stages");
        snprintf(text, sizeof text, "%smodel = openn\nrate = 1/s\nduration = 1s\n", head);
        expect_error(text, ":4: [scenario s] model: \"openn\" is not a load model (open, closed, exec)", "unknown model");
        snprintf(text, sizeof text, "%sclient = curl\nrate = 1/s\nduration = 1s\n", head);
        expect_error(text, ":4: [scenario s] client: \"curl\" is not an HTTP client (auto, libcurl)", "unknown client");
        expect_error("[scenario s]\nmodel = exec\ncommand = locust\nduration = 1m\nclient = libcurl\n",
                     ":5: [scenario s] client: not for model = exec (the command's own options say what it sends)",
                     "client in an exec scenario");
        expect_error("[scenario s]\nbase_url = http://127.0.0.1:1\nrequest = GET\nrate = 1/s\nduration = 1s\n",
                     ":3: [scenario s] request: \"GET\" has no PATH: expected [WEIGHT] METHOD PATH [BODY]",
                     "a request line without a path");
        expect_error("[scenario s]\nbase_url = http://127.0.0.1:1\nrequest = get /\nrate = 1/s\nduration = 1s\n",
                     ":3: [scenario s] request: \"get /\" is not [WEIGHT] METHOD PATH [BODY]: \"get\" is not a "
                     "method such as GET", "a request line with a lower-case method");
        expect_error("[scenario s]\nbase_url = http://127.0.0.1:1\nrequest = GET /x/${sq}\nrate = 1/s\n"
                     "duration = 1s\n", ":3: [scenario s] request: \"GET /x/${sq}\" has a bad PATH template: "
                     "unknown placeholder ${sq} at offset 3 (known: ${seq}, ${user}, ${uuid}, ${rand:N}, ${env:NAME}, ${doc}, "
                     "${token}; $$ for a literal $)", "a bad placeholder in a path");
        snprintf(text, sizeof text, "%srate = 1/s\nstages = 1s:1/s\n", head);
        expect_error(text, ":5: [scenario s] stages: rate and stages both set: give one of them", "rate and stages both");
        expect_error(head, ":1: [scenario s]: missing required key rate or stages (model = open)",
                     "open without rate or stages");
        snprintf(text, sizeof text, "%srate = 1/s\n", head);
        expect_error(text, ":4: [scenario s] rate: a constant rate needs a duration", "rate without duration");
        snprintf(text, sizeof text, "%smodel = closed\nduration = 1m\n", head);
        expect_error(text, ":1: [scenario s]: missing required key users (model = closed)", "closed without users");
        snprintf(text, sizeof text, "%smodel = closed\nusers = 2\n", head);
        expect_error(text, ":1: [scenario s]: missing required key duration (model = closed)",
                     "closed without duration");
        snprintf(text, sizeof text, "%smodel = closed\nusers = 2\nduration = 1m\nrate = 5/s\n", head);
        expect_error(text, ":7: [scenario s] rate: only for model = open", "rate in a closed scenario");
        snprintf(text, sizeof text, "%susers = 2\nrate = 5/s\nduration = 1m\n", head);
        expect_error(text, ":4: [scenario s] users: only for model = closed", "users in an open scenario");
        snprintf(text, sizeof text, "%srate = 5/s\nduration = 1m\nexpect = 200-299, 2000\n", head);
        expect_error(text, ":6: [scenario s] expect: \"200-299, 2000\" has \"2000\", which is not a status code "
                     "100-599 or a range LO-HI of them", "bad expect");
        snprintf(text, sizeof text, "%srate = 5/s\nduration = 1m\nheader = X Bad: 1\n", head);
        expect_error(text, ":6: [scenario s] header: \"X Bad: 1\" is not \"Name: value\" (a field name, then a colon)",
                     "bad header");
        snprintf(text, sizeof text, "%smodel = closed\nusers = 2\nthink = 3s..1s\nduration = 1m\n", head);
        expect_error(text, ":6: [scenario s] think: \"3s..1s\" has its minimum above its maximum", "think reversed");
        test_scenario_value_errors(head);
        expect_error("[scenario s]\nrate = 1/s\nduration = 1s\nrequest = GET /\n",
                     ":1: [scenario s]: missing required key base_url",
                     "base_url is required");
        expect_error("[scenario s]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\n",
                     ":1: [scenario s]: missing required key request", "a request line is required");
        snprintf(text, sizeof text, "%srate = 1/s\nduration = 1s\nrequest = POST / @relative.json\n", head);
        expect_error(text, ":6: [scenario s] request: \"POST / @relative.json\" has a body file \"relative.json\" "
                     "that is not an absolute path", "an @file body must be an absolute path");
        snprintf(text, sizeof text, "%srate = 1/s\nduration = 1s\nrequest = POST / @%s/missing.json\n", head, dir);
        snprintf(want, sizeof want, ":6: [scenario s] request: \"POST / @%s/missing.json\" has a body file "
                 "%s/missing.json that cannot be read: No such file or directory", dir, dir);
        expect_error(text, want, "a missing body file");
        snprintf(text, sizeof text, "%srate = 1/s\nduration = 1s\nschedule = 0 24 * * *\n", head);
        expect_error(text, ":6: [scenario s] schedule: \"0 24 * * *\" hour: 24 is out of range 0-23", "a bad cron hour");
        snprintf(text, sizeof text, "%srate = 1/s\nduration = 1s\nschedule = * * * *\n", head);
        expect_error(text, ":6: [scenario s] schedule: \"* * * *\" expected 5 fields (minute hour day-of-month month "
                     "day-of-week) or a @nickname, got 4", "a cron expression of four fields");
        snprintf(text, sizeof text, "%srate = 1/s\nduration = 1s\nschedule = @sometimes\n", head);
        expect_error(text, ":6: [scenario s] schedule: \"@sometimes\" unknown nickname \"@sometimes\" (known: @hourly, "
                     "@daily, @midnight, @weekly, @monthly, @yearly, @annually)", "an unknown cron nickname");
        snprintf(text, sizeof text, "%srate = 1/s\nduration = 1s\nenabled = maybe\n", head);
        expect_error(text, ":6: [scenario s] enabled: \"maybe\" is not yes or no", "enabled neither yes nor no");
}

static void test_scenario_body_file(void) {
        char body[256], big[256], text[1024], *errors = NULL;
        const ScenarioConfig *sc;
        Config *c = NULL;
        FILE *f;

        snprintf(body, sizeof body, "%s/item.json", dir);
        f = fopen(body, "we");
        if (f) {
                fputs("{\"name\": \"${user}\"}", f);
                fclose(f);
        }
        snprintf(text, sizeof text, "[scenario s]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\n"
                 "request = PUT /api/items/1 @%s\n", body);
        is_int(load(text, &c, &errors), 0, "a request with an @FILE body loads");
        free(errors);
        sc = config_find_scenario(c, "s");
        ok(sc && sc->n_requests == 1 && sc->requests[0].body &&
           !strcmp(sc->requests[0].body, "{\"name\": \"${user}\"}") && sc->requests[0].body_template,
           "the body is the file's content, read at load time and compiled as a template");
        config_free(c);
        snprintf(big, sizeof big, "%s/big.json", dir);
        f = fopen(big, "we");
        if (f) {
                for (int i = 0; i < CONFIG_BODY_MAX_TEST / 16 + 1; i++)
                        fputs("0123456789abcdef", f);
                fclose(f);
        }
        snprintf(text, sizeof text, "[scenario s]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\n"
                 "request = PUT /api/items/1 @%s\n", big);
        errors = load_errors(text);
        ok(strstr(errors, "larger than 1048576 bytes") != NULL, "a body file over 1 MiB is refused");
        free(errors);
        unlink(body);
        unlink(big);
}

/* ---------------------------------------------------------------- credentials */

static char creds[sizeof path];

static void write_creds(mode_t mode) {
        FILE *f;

        snprintf(creds, sizeof creds, "%s/credentials", dir);
        unlink(creds);
        f = fopen(creds, "we");
        if (!f)
                return;
        fputs("[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n", f);
        fclose(f);
        chmod(creds, mode);
}

static int load_with_creds(const char *file, Config **c, char **errors) {
        char text[512];

        snprintf(text, sizeof text, "[capacity acu]\nsource = cloudwatch\nregion = eu-west-1\ncluster = db\n"
                 "credentials_file = %s\n", file);
        return load(text, c, errors);
}

static void expect_creds_error(const char *file, const char *want, const char *what) {
        char *errors = NULL;
        Config *c = NULL;

        is_int(load_with_creds(file, &c, &errors), -EINVAL, "%s: is refused", what);
        ok(has_line(errors, ":5: [capacity acu] credentials_file: %s", want), "%s: reported as \"%s\"", what, want);
        is_int(count_lines(errors), 1, "%s: and nothing else is reported", what);
        free(errors);
        config_free(c);
}

static void test_credentials_file(void) {
        static const mode_t open_modes[] = { 0644, 0640, 0604, 0666 };
        char want[sizeof creds + 128];
        Config *c = NULL;

        write_creds(0600);
        is_int(load_with_creds(creds, &c, NULL), 0, "a credentials file of mode 0600 is accepted");
        is_str(c ? c->capacity[0].credentials_file : NULL, creds, "and its path is kept");
        c = config_free(c);
        write_creds(0400);
        is_int(load_with_creds(creds, &c, NULL), 0, "a credentials file of mode 0400 is accepted");
        c = config_free(c);
        for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
                write_creds(open_modes[i]);
                snprintf(want, sizeof want, "%s is readable by group or others (mode %04o); chmod 600 it",
                         creds, (unsigned) open_modes[i]);
                expect_creds_error(creds, want, "a group- or world-readable credentials file");
        }
        write_creds(0620);
        snprintf(want, sizeof want, "%s is accessible by group or others (mode 0620); chmod 600 it", creds);
        expect_creds_error(creds, want, "a group-writable credentials file");
        unlink(creds);
        snprintf(want, sizeof want, "%s: cannot read: No such file or directory", creds);
        expect_creds_error(creds, want, "a missing credentials file");
        snprintf(want, sizeof want, "\"%s\" is a directory, not a file", dir);
        expect_creds_error(dir, want, "a directory as credentials file");
        snprintf(want, sizeof want, "%s is not a regular file", "/dev/null");
        expect_creds_error("/dev/null", want, "a device as credentials file");
}

static void test_many_errors_new_sections(void) {
        char *errors = load_errors("[target t]\n"                           /* 1 */
                                   "cpu_seconds = 1h\n"                     /* 2 */
                                   "[capacity c]\n"                         /* 3 */
                                   "source = sql\n"                         /* 4 */
                                   "postgres = db\n"                        /* 5 */
                                   "cluster = x\n"                          /* 6 */
                                   "[postgres p]\n"                         /* 7 */
                                   "timeout = 1h\n");                       /* 8 */
        static const char *const want[] = {
                ":1: [target t]: needs memory_url or pprof_url",
                ":2: [target t] cpu_seconds: \"1h\" is above the maximum 5m",
                ":3: [capacity c]: missing required key query",
                ":5: [capacity c] postgres: no [postgres db] section",
                ":6: [capacity c] cluster: only for source = cloudwatch",
                ":7: [postgres p]: missing required key conninfo",
                ":8: [postgres p] timeout: \"1h\" is above the maximum 5m",
        };

        is_int(count_lines(errors), 7, "every problem of the new sections is collected");
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
                ok(has_line(errors, "%s", want[i]), "collected: %s", want[i]);
        free(errors);
}

static void test_memory_series_with_pprof_targets(void) {
        Config *c = NULL;

        is_int(load("[target prof]\npprof_url = http://127.0.0.1:6060/debug/pprof\n"
                    "[target mem]\nmemory_url = http://127.0.0.1:2/memory\n", &c, NULL), 0,
               "a pprof-only and a /memory target load");
        is_str(c ? config_find_criterion(c, "memory")->series : NULL, "go.mem.Sys",
               "the memory criterion watches the only target that polls /memory");
        config_free(c);
}

typedef struct Keys {
        size_t n, per_section[7];
        bool retention, memory_url, threshold, sections_known, profile, endpoint, cpu_interval, conninfo;
} Keys;

static void collect_key(const char *section, const char *key, const char *def, void *u) {
        static const char *const sections[] = { "daemon", "target", "postgres", "capacity", "criterion", "scenario",
                                                "suite" };
        Keys *k = u;
        size_t i;

        k->n++;
        k->retention |= !strcmp(section, "daemon") && !strcmp(key, "retention") && !strcmp(def, "14d");
        k->memory_url |= !strcmp(section, "target") && !strcmp(key, "memory_url") && !strcmp(def, "");
        k->threshold |= !strcmp(section, "criterion") && !strcmp(key, "threshold") && !strcmp(def, "");
        k->cpu_interval |= !strcmp(section, "target") && !strcmp(key, "cpu_interval") && !strcmp(def, "10m");
        k->conninfo |= !strcmp(section, "postgres") && !strcmp(key, "conninfo") && !strcmp(def, "");
        k->profile |= !strcmp(section, "capacity") && !strcmp(key, "profile") && !strcmp(def, "default");
        k->endpoint |= !strcmp(section, "capacity") && !strcmp(key, "endpoint") && !strcmp(def, "");
        for (i = 0; i < 7 && strcmp(section, sections[i]); i++)
                ;
        if (i == 7)
                k->sections_known = false;
        else
                k->per_section[i]++;
}

/* [suite NAME]: the names in order, the schedule and the two switches. */
static void test_suites(void) {
        const SuiteConfig *su;
        char *errors = NULL;
        Config *c = NULL;
        int r;

        r = load("[scenario a]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"
                 "[scenario b]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"
                 "[suite seed]\nscenarios =  b ,a,b\nschedule = 30 2 * * *\n"
                 "[suite quiet]\nscenarios = a\nenabled = no\npreflight = no\n", &c, &errors);
        is_int(r, 0, "a file with two suites loads");
        if (errors)
                printf("# %s", errors);
        su = config_find_suite(c, "seed");
        ok(su && su->n_scenarios == 3 && !strcmp(su->scenarios[0], "b") && !strcmp(su->scenarios[1], "a") &&
           !strcmp(su->scenarios[2], "b"), "scenarios: three names in order, blanks trimmed, a repeat kept");
        ok(su && su->schedule && !strcmp(su->schedule, "30 2 * * *") && su->enabled && su->preflight &&
           su->line == 11, "schedule as written; enabled and preflight default to yes; its line");
        su = config_find_suite(c, "quiet");
        ok(su && su->n_scenarios == 1 && !su->schedule && !su->enabled && !su->preflight,
           "no schedule; enabled = no and preflight = no");
        ok(!config_find_suite(c, "nope") && !config_find_suite(NULL, "seed"), "an unknown suite is not found");
        config_free(c);
        free(errors);

        expect_error("[scenario peak]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"
                     "[suite s]\nscenarios = peak, peek\n",
                     ":7: [suite s] scenarios: no [scenario peek] section, did you mean \"peak\"? (one of: peak)",
                     "a suite naming an unknown scenario (and a near one suggested)");
        expect_error("[suite s]\nscenarios = a\n", ":2: [suite s] scenarios: no [scenario a] section (the file has no "
                     "[scenario] section)", "a suite in a file without scenarios");
        expect_error("[suite s]\nscenarios = a,,b\n", ":2: [suite s] scenarios: \"a,,b\" has an empty name (name 2 of "
                     "3): expected NAME, NAME...", "an empty name in the list");
        expect_error("[suite s]\nscenarios = a b\n", ":2: [suite s] scenarios: \"a b\" has a blank inside \"a b\": "
                     "names are separated by commas", "two names without a comma");
        expect_error("[suite s]\nschedule = 0 3 * * *\n", ":1: [suite s]: missing required key scenarios",
                     "a suite without scenarios");
        expect_error("[scenario a]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"
                     "[suite s]\nscenarios = a\nschedule = 61 * * * *\n",
                     ":8: [suite s] schedule: \"61 * * * *\" minute: 61 is out of range 0-59",
                     "a bad cron expression, as in a [scenario]");
        expect_error("[scenario a]\nbase_url = http://127.0.0.1:1\nrate = 1/s\nduration = 1s\nrequest = GET /\n"
                     "[suite s]\nscenarios = a\nscenario = a\n", ":8: [suite s] scenario: unknown key, did you mean "
                     "\"scenarios\"? (one of: scenarios, schedule, enabled, preflight)", "a misspelt key is suggested");
}

static void test_foreach_and_strings(void) {
        Keys k = { .sections_known = true };

        config_foreach_key(collect_key, &k);
        is_int(k.n, 80, "config_foreach_key visits every key of the table");
        ok(k.sections_known, "section kinds are daemon, target, postgres, capacity, criterion, scenario or suite");
        ok(k.per_section[0] == 7 && k.per_section[1] == 12 && k.per_section[2] == 3 &&
           k.per_section[3] == 12 && k.per_section[4] == 15 && k.per_section[5] == 27 && k.per_section[6] == 4,
           "7 daemon, 12 target, 3 postgres, 12 capacity, 15 criterion, 27 scenario and 4 suite keys");
        ok(k.retention && k.cpu_interval && k.profile, "with defaults as text (retention 14d, cpu_interval 10m, "
           "profile default)");
        ok(k.memory_url && k.threshold && k.conninfo, "and \"\" for keys without a default");
        ok(k.endpoint, "endpoint's default is computed from the region at run time: \"\" in the table");
        is_str(config_op_to_string(CRITERION_LE), "<=", "op <= as text");
        is_str(config_op_to_string(CRITERION_GT), ">", "op > as text");
        is_str(config_stat_to_string(CRITERION_AVG), "avg", "statistic avg as text");
        is_str(config_stat_to_string(CRITERION_LAST), "last", "statistic last as text");
}

/* Every key of the table, by section kind; the sql capacity section sets
 * the sql-only keys, the cloudwatch one the others.  %s is the credentials
 * file. */
static const struct {
        const char *section;
        const char *text;
} every_key[] = {
        { "daemon", "[daemon]\ndatabase = /srv/pw.db\nlisten = 127.0.0.1:1\nretention = 2d\n"
                    "api_token_file = /srv/token\nflush_interval = 2s\nevaluate_interval = 2s\n"
                    "log_level = debug\n" },
        { "target", "[target go]\nmemory_url = http://127.0.0.1:1/memory\nmemory_interval = 2s\n"
                    "timeout = 2s\nmax_body = 2MiB\npprof_url = http://127.0.0.1:2/debug/pprof\n"
                    "heap_interval = 2m\ngoroutine_interval = 2m\ncpu_interval = 20m\ncpu_seconds = 2s\n"
                    "max_profile = 2MiB\nprofile_retention = 2d\nprofile_keep = 2\n" },
        { "postgres", "[postgres main]\nconninfo = host=127.0.0.1 password=secret\ninterval = 2s\n"
                      "timeout = 2s\n" },
        { "capacity", "[capacity cw]\nsource = cloudwatch\ninterval = 2m\ntimeout = 2s\nregion = eu-west-1\n"
                      "cluster = db\nendpoint = http://127.0.0.1:3/\ncredentials_file = %s\nprofile = p\n"
                      "period = 2m\nlookback = 20m\n"
                      "[capacity acu]\nsource = sql\npostgres = main\nquery = SELECT 2\n" },
        { "criterion", "[criterion memory]\nseries = go.go.HeapInuse\nstatistic = avg\nop = <=\n"
                       "threshold = 1GiB\nwindow = 2h\nmax_age = 2m\n"
                       "[criterion mine]\nseries = go.go.NumGC\nop = >\nthreshold = 5\n"
                       "[criterion latency_p95]\nscenario = ramp\nmin_requests = 10\nenabled = no\n"
                       "[criterion zero_data_loss]\nscenario = open\nmin_conflicts = 0\nmax_age = 2h\n"
                       "[criterion acu_scaling]\nseries = aurora.cw.acu\nsettle = 1m\nscale_to = 8\n"
                       "scale_up_within = 2m\nmin_acu = 1\nmax_acu = 8\n" },
        { "scenario", "[scenario open]\nmodel = open\nbase_url = http://127.0.0.1:4\nrate = 5/s\nduration = 2s\n"
                      "timeout = 2s\nmax_inflight = 20\nrequest = 2 POST /a/${seq} {\"id\": \"${uuid}\"}\n"
                      "request = GET /b\nheader = X-A: 1\nheader = X-B: 2\nexpect = 200-299, 404\n"
                      "schedule = */5 * * * *\nenabled = no\ntarget = go\ncpu_seconds = 3s\n"
                      "[scenario ramp]\nbase_url = http://127.0.0.1:4\nstages = 1s:0/s..5/s, 1s:5/s\n"
                      "request = GET /c\nclient = libcurl\n"
                      "[scenario closed]\nmodel = closed\nbase_url = http://127.0.0.1:4\nusers = 3\n"
                      "think = 1s..2s\nramp_up = 1s\nduration = 5s\nrequest = GET /d\n"
                      "write = 2 POST /w/${doc} {\"t\": \"${token}\"}\nwrite = PUT /w/${doc}/${token}\n"
                      "documents = 3\nread = GET /w/${doc}\nelements = /e\nconflicts_from = /s /c\n"
                      "read_after = 1s\n"
                      "[scenario locust]\nmodel = exec\ncommand = locust --csv ${run_dir}/l\nduration = 5s\n"
                      "csv = ${run_dir}/l\ngrace = 10s\n" },
        { "suite", "[suite all]\nscenarios = open, ramp,closed , locust\nschedule = 0 4 * * 1\nenabled = no\n"
                   "preflight = no\n" },
};

static void check_key_is_set(const char *section, const char *key, const char *def, void *userdata) {
        bool *all = userdata;
        char want[128];

        (void) def;
        snprintf(want, sizeof want, "\n%s = ", key);
        for (size_t i = 0; i < ELEMENTSOF(every_key); i++)
                if (strcmp(every_key[i].section, section) == 0 && strstr(every_key[i].text, want))
                        return;
        printf("# [%s] %s is not set by every_key[]\n", section, key);
        *all = false;
}

static void test_free_every_key(void) {
        char text[8192] = "", *errors = NULL;
        struct mallinfo2 before, after;
        bool all = true;
        Config *c = NULL;
        size_t n = 0;
        int r;

        config_foreach_key(check_key_is_set, &all);
        ok(all, "the file below sets every key of the table (a new key must be added to it)");
        write_creds(0600);
        for (size_t i = 0; i < ELEMENTSOF(every_key); i++) {
                const char *t = every_key[i].text, *at = strstr(t, "%s");

                if (at)
                        n += (size_t) snprintf(text + n, sizeof text - n, "%.*s%s%s", (int) (at - t), t, creds, at + 2);
                else
                        n += (size_t) snprintf(text + n, sizeof text - n, "%s", t);
        }
        /* The first load warms libcurl's and libpq's lazily allocated state;
         * the next ones fill malloc's per-thread cache (tcache), whose free
         * chunks mallinfo2() counts as in use, up to its 7 chunks per size. */
        r = load(text, &c, &errors);
        is_int(r, 0, "a file setting every key loads");
        if (errors)
                printf("# %s", errors);
        free(errors);
        config_free(c);
        for (int i = 0; i < 8; i++)
                config_free(load(text, &c, NULL) == 0 ? c : NULL);
        before = mallinfo2();
        r = load(text, &c, NULL);
        config_free(c);
        after = mallinfo2();
        is_int(r, 0, "and loads again");
        is_int((long long) after.uordblks, (long long) before.uordblks,
               "config_free gives back every byte the load took (LeakSanitizer checks it too under ASan)");
}

/* CPU time, not wall time: a busy machine slows the test down, but does
 * not make it use more CPU. */
static double cpu_sec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Writes a file of `n` sections of every kind, each naming the one before. */
static void write_sections(const char *file, unsigned n) {
        FILE *f = fopen(file, "we");

        if (!f)
                return;
        for (unsigned i = 0; i < n; i++)
                switch (i % 4) {
                case 0: fprintf(f, "[target t%u]\npprof_url = http://127.0.0.1:1/p\n", i); break;
                case 1: fprintf(f, "[postgres p%u]\nconninfo = host=127.0.0.1\n", i); break;
                case 2: fprintf(f, "[capacity c%u]\nsource = sql\npostgres = p%u\nquery = SELECT 1\n", i, i - 1); break;
                default: fprintf(f, "[criterion k%u]\nseries = s\nop = <\nthreshold = 1\n", i);
                }
        fprintf(f, "[postgres p1]\nconninfo = x=\n");
        fclose(f);
}

/* 20,000 sections took 0.5 s (27 s for 80,000, and over 120 s for 20,000
 * under ASan) while every section header searched all the earlier ones and
 * the arrays grew by one; now they take about 0.06 s (0.3 s under ASan).  The bound leaves
 * room for a busy machine and for sanitizers, not for n^2. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PARSE_20K_MAX_SEC 3.0
#else
#define PARSE_20K_MAX_SEC 0.25
#endif
static void test_parse_is_linear(void) {
        char *errors = NULL;
        Config *c = NULL;
        double start, took;
        int r;

        snprintf(path, sizeof path, "%s/%u.conf", dir, ++n_files);
        write_sections(path, 20000);
        start = cpu_sec();
        r = config_load(path, &c, &errors);
        took = cpu_sec() - start;
        is_int(r, -EINVAL, "20,000 sections and a duplicate at the end are parsed to the end");
        ok(has_line(errors, ":60001: [postgres p1]: duplicate section, first defined on line 3") &&
           count_lines(errors) == 1, "and the one problem, the last line's, is found");
        printf("# 20,000 sections parsed in %.3f s of CPU time\n", took);
        ok(took < PARSE_20K_MAX_SEC, "in under %.2f s of CPU time (took %.3f s)", PARSE_20K_MAX_SEC, took);
        free(errors);
        config_free(c);
}

int main(void) {
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 99;
        }
        test_full_file();
        test_defaults();
        test_memory_series();
        test_error_classes();
        test_range_errors();
        test_url_and_address_errors();
        test_section_errors();
        test_criterion_errors();
        test_latency_keys();
        test_acu_keys();
        test_acu_errors();
        test_enabled();
        test_writes_keys();
        test_writes_errors();
        test_many_errors();
        test_inline_comments_and_syntax();
        test_every_syntax_error();
        test_bad_bytes();
        test_value_validation();
        test_criterion_bounds();
        test_suggestions();
        test_long_lines();
        test_io_errors();
        test_pprof_keys();
        test_pprof_errors();
        test_cpu_seconds_rule();
        test_postgres();
        test_postgres_errors();
        test_capacity_cloudwatch();
        test_capacity_cloudwatch_errors();
        test_capacity_sql();
        test_capacity_sql_errors();
        test_credentials_file();
        test_many_errors_new_sections();
        test_memory_series_with_pprof_targets();
        test_scenarios();
        test_scenario_errors();
        test_scenario_exec();
        test_scenario_body_file();
        test_scenario_writes();
        test_scenario_write_errors();
        test_suites();
        test_foreach_and_strings();
        test_free_every_key();
        test_parse_is_linear();
        test_scenario_target();

        for (unsigned i = 1; i <= n_files; i++) {
                snprintf(path, sizeof path, "%s/%u.conf", dir, i);
                unlink(path);
        }
        unlink(creds);
        rmdir(dir);
        return tap_done();
}
