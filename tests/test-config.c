/* Unit tests for config.c: temporary config files, parsed for real. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "tap.h"
#include "units.h"

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
        ok(cc && cc->kind == CRITERION_NO_SOURCE && cc->line == 28, "latency_p95 stays NO_SOURCE when configured");
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
        } builtins[] = {
                { "latency_p95", CRITERION_NO_SOURCE, CRITERION_LT, 300, "ms" },
                { "memory", CRITERION_SERIES, CRITERION_LT, 536870912, "bytes" },
                { "acu_scaling", CRITERION_NO_SOURCE, CRITERION_LT, NAN, NULL },
                { "zero_data_loss", CRITERION_NO_SOURCE, CRITERION_LE, 0, "writes" },
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
                   cc->max_age_usec == 5 * USEC_PER_MIN, "%s: max over 1h, max_age 5m", cc->name);
        }
        ok(c->n_criteria > 1 && !c->criteria[1].series, "without a target the memory criterion has no series");
        config_free(c);
}

static void test_memory_series(void) {
        Config *c = NULL;

        is_int(load("[target a]\nmemory_url = http://127.0.0.1:1/memory\n"
                    "[target b]\nmemory_url = http://127.0.0.1:2/memory\n", &c, NULL), 0, "two targets load");
        ok(c && c->n_targets == 2 && !config_find_criterion(c, "memory")->series,
           "with two targets and no series the memory criterion has none (not an error)");
        c = config_free(c);
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
                     ":3: [target go] colour: unknown key", "an unknown key");
        expect_error("[daemon]\n\n[tagret x]\nfoo = 1\n", ":3: [tagret x]: unknown section kind \"tagret\"",
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
        expect_error("[daemon]\nflush_interval = 2m\n", ":2: [daemon] flush_interval: \"2m\" is above the maximum 1m",
                     "a duration above its maximum");
        expect_error("[daemon]\nretention = 99999999999999999999d\n",
                     ":2: [daemon] retention: \"99999999999999999999d\" is too long a duration", "a duration overflow");
        expect_error("[target go]\nmemory_url = http://127.0.0.1:1/memory\nmax_body = 512MiB\n",
                     ":3: [target go] max_body: \"512MiB\" is above the maximum 256MiB", "a size above its maximum");
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
        expect_error("[target go]\nmemory_url = http://\n",
                     ":2: [target go] memory_url: \"http://\" is not a valid URL", "a URL without host");
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
        expect_error("[daemon]\nlisten = a_b:1\n", ":2: [daemon] listen: \"a_b:1\" has an invalid host", "a bad host");
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
                     ":4: [target go]: missing required key memory_url", "a missing required key, at the header");
        expect_error("[daemon]\nlisten = 127.0.0.1:1\nthis is not ini\n[target\n",
                     ":3: syntax error, expected \"[section]\" or \"key = value\"", "a syntax error (the first)");
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
                     "a key a source-less built-in cannot use");
        expect_error("[criterion acu_scaling]\nseries = x\n",
                     ":2: [criterion acu_scaling] series: not supported for this criterion yet",
                     "series on acu_scaling");
        expect_error("[criterion acu_scaling]\nthreshold = 5\n",
                     ":2: [criterion acu_scaling] threshold: not supported for this criterion yet",
                     "acu_scaling is a range check and takes no threshold");
        expect_error("[criterion c]\nseries = s\nop = <\nthreshold = 1\ncolour = red\n",
                     ":5: [criterion c] colour: unknown key", "an unknown criterion key");
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
                ":2: [daemon] colour: unknown key",
                ":3: [daemon] retention: \"1m\" is below the minimum 1h",
                ":4: [target x]: missing required key memory_url",
                ":5: [target x] timeout: \"forever\" is not a duration",
                ":6: [criterion c]: missing required key series",
                ":6: [criterion c]: missing required key threshold",
                ":7: [criterion c] op: \"!\" is not a comparison (<, <=, >, >=)",
                ":8: [nope]: unknown section kind \"nope\"",
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
        ok(has_line(errors, ":3: [target go] colour: unknown key"), "and the next line keeps its number");
        ok(has_line(errors, ":1: [target go]: missing required key memory_url"), "the cut value is not used");
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

typedef struct Keys {
        size_t n;
        bool retention, memory_url, threshold, sections_known;
} Keys;

static void collect_key(const char *section, const char *key, const char *def, void *u) {
        Keys *k = u;

        k->n++;
        k->retention |= !strcmp(section, "daemon") && !strcmp(key, "retention") && !strcmp(def, "14d");
        k->memory_url |= !strcmp(section, "target") && !strcmp(key, "memory_url") && !strcmp(def, "");
        k->threshold |= !strcmp(section, "criterion") && !strcmp(key, "threshold") && !strcmp(def, "");
        if (strcmp(section, "daemon") && strcmp(section, "target") && strcmp(section, "criterion"))
                k->sections_known = false;
}

static void test_foreach_and_strings(void) {
        Keys k = { .sections_known = true };

        config_foreach_key(collect_key, &k);
        is_int(k.n, 17, "config_foreach_key visits every key of the table");
        ok(k.retention, "with defaults as text ([daemon] retention \"14d\")");
        ok(k.memory_url && k.threshold, "and \"\" for keys without a default");
        ok(k.sections_known, "section kinds are daemon, target or criterion");
        is_str(config_op_to_string(CRITERION_LE), "<=", "op <= as text");
        is_str(config_op_to_string(CRITERION_GT), ">", "op > as text");
        is_str(config_stat_to_string(CRITERION_AVG), "avg", "statistic avg as text");
        is_str(config_stat_to_string(CRITERION_LAST), "last", "statistic last as text");
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
        test_many_errors();
        test_inline_comments_and_syntax();
        test_long_lines();
        test_io_errors();
        test_foreach_and_strings();

        for (unsigned i = 1; i <= n_files; i++) {
                snprintf(path, sizeof path, "%s/%u.conf", dir, i);
                unlink(path);
        }
        rmdir(dir);
        return tap_done();
}
