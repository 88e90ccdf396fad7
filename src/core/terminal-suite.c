/* A suite in terminal mode: names, pre-flight, the runs in order, the
 * combined verdict. */
#include "core/terminal-suite.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/preflight.h"
#include "core/terminal-run.h"
#include "util/strdist.h"

/* Splits `list` at its commas into *ret (an array of `*ret_n` strings
 * inside one block: free(*ret) frees all).  -EINVAL, with a line on
 * stderr, for an empty name. */
static int split_list(const char *list, char ***ret, size_t *ret_n) {
        size_t n = 1, len = strlen(list);
        char **names, *copy;

        for (const char *p = list; *p; p++)
                n += *p == ',';
        names = malloc(n * sizeof *names + len + 1);
        if (!names)
                return -ENOMEM;
        copy = memcpy((char *) (names + n), list, len + 1);
        for (size_t i = 0; i < n; i++) {
                names[i] = strsep(&copy, ",");
                if (names[i][0] == '\0') {
                        fprintf(stderr, "perfwatchd: --run \"%s\": name %zu of %zu is empty\n", list, i + 1, n);
                        free(names);
                        return -EINVAL;
                }
        }
        *ret = names;
        *ret_n = n;
        return 0;
}

/* The scenario nearest to `name` by edit distance, when close enough to
 * be a typo (the rule of the config file's "did you mean"); NULL if none. */
static const char *nearest_scenario(const Config *c, const char *name) {
        size_t best = 3, len = strlen(name);
        const char *found = NULL;

        for (size_t i = 0; i < c->n_scenarios; i++) {
                size_t d = strdist(name, c->scenarios[i].name, 2);

                if (d < best) {
                        best = d;
                        found = c->scenarios[i].name;
                }
        }
        return found && best * 3 <= len + 1 ? found : NULL;
}

/* Every unknown name, each with a line on stderr; 0 when there is none. */
static unsigned check_names(const Config *c, char **names, size_t n) {
        unsigned unknown = 0;

        for (size_t i = 0; i < n; i++) {
                const char *near;

                if (config_find_scenario(c, names[i]))
                        continue;
                unknown++;
                near = nearest_scenario(c, names[i]);
                fprintf(stderr, "perfwatchd: %s has no [scenario %s]%s%s%s", c->path, names[i],
                        near ? ", did you mean \"" : "", near ?: "", near ? "\"?" : "");
                for (size_t j = 0; j < c->n_scenarios; j++)
                        fprintf(stderr, "%s%s", j == 0 ? " (scenarios: " : ", ", c->scenarios[j].name);
                fprintf(stderr, "%s\n", c->n_scenarios > 0 ? ")" : "; it defines none");
        }
        return unknown;
}

static const char *status_word(int status) {
        return status == TERMINAL_RUN_MET ? "met" : status == TERMINAL_RUN_NOT_MET ? "not met" : "no verdict";
}

/* The combined verdict: a line per scenario run (and per one left out
 * after a cancel), and the suite's line, "peak met, spike not met: exit 1". */
static void print_verdict(char **names, size_t n, const int *statuses, size_t ran, int worst) {
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "perfwatchd: suite: %zu/%zu %s: %s\n", i + 1, n, names[i],
                        i < ran ? status_word(statuses[i]) : "not run");
        fprintf(stderr, "perfwatchd: suite:");
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "%s %s %s", i == 0 ? "" : ",", names[i], i < ran ? status_word(statuses[i]) : "not run");
        fprintf(stderr, ": exit %d\n", worst);
}

static int print_array(json_t *array) {
        if (json_dumpf(array, stdout, JSON_INDENT(2)) < 0 || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
                fprintf(stderr, "perfwatchd: cannot write the runs as JSON\n");
                return -EIO;
        }
        return 0;
}

/* Runs the `n` scenarios in order; *ret_ran says how many ran. */
static int run_all(const Config *c, char **names, size_t n, uint64_t duration_usec, json_t *array, int *statuses,
                   size_t *ret_ran) {
        int worst = TERMINAL_RUN_MET;
        size_t i;

        for (i = 0; i < n; i++) {
                json_t *object = NULL;
                bool cancelled = false;

                fprintf(stderr, "perfwatchd: suite: %zu/%zu %s: starting\n", i + 1, n, names[i]);
                statuses[i] = terminal_run_one(c, names[i], duration_usec, array != NULL, array ? &object : NULL,
                                               &cancelled);
                worst = terminal_run_worst(worst, statuses[i]);
                if (array && json_array_append_new(array, object ?: json_null()) < 0)
                        worst = TERMINAL_RUN_ERROR;
                if (cancelled) {
                        fprintf(stderr, "perfwatchd: suite: cancelled: the scenarios after %s do not run\n", names[i]);
                        /* A cancel has no verdict, whatever the runs before it said. */
                        worst = TERMINAL_RUN_ERROR;
                        i++;
                        break;
                }
        }
        *ret_ran = i;
        return worst;
}

int terminal_suite(const Config *c, const char *list, uint64_t duration_usec, bool json, bool preflight) {
        json_t *array = NULL;
        int *statuses = NULL, worst = TERMINAL_RUN_ERROR;
        char **names = NULL;
        size_t n = 0, ran = 0;
        unsigned failed;

        if (split_list(list, &names, &n) < 0)
                return TERMINAL_RUN_ERROR;
        if (check_names(c, names, n) > 0)
                goto out;
        if (preflight) {
                failed = preflight_run(c, (const char *const *) names, n);
                if (failed > 0) {
                        fprintf(stderr, "perfwatchd: suite: %u pre-flight check%s failed: nothing was run: exit %d\n",
                                failed, failed == 1 ? "" : "s", TERMINAL_RUN_ERROR);
                        goto out;
                }
        } else
                fprintf(stderr, "perfwatchd: pre-flight: skipped (--no-preflight)\n");
        statuses = calloc(n, sizeof *statuses);
        array = json ? json_array() : NULL;
        if (!statuses || (json && !array)) {
                fprintf(stderr, "perfwatchd: suite: out of memory\n");
                goto out;
        }
        worst = run_all(c, names, n, duration_usec, array, statuses, &ran);
        if (array && print_array(array) < 0)
                worst = TERMINAL_RUN_ERROR;
        print_verdict(names, n, statuses, ran, worst);
out:
        json_decref(array);
        free(statuses);
        free(names);
        return worst;
}
