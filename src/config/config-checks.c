/* The checks that need the whole file: required keys, and the rules that
 * tie keys or sections together.  A key that was set but refused is not
 * checked again against the others. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config-parser.h"
#include "criteria/acu-window.h"
#include "transport/aws-credentials.h"
#include "util/units.h"

#define PROBLEM_MAX 256
#define SUGGESTION_MAX 1024

static size_t key_index(SectionKind kind, const char *name) {
        return (size_t) (config_key_lookup(kind, name) - config_keys);
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
        for (size_t j = 0; j < config_n_keys; j++) {
                const ConfigKey *k = &config_keys[j];

                if (k->section != s->kind || !(k->flags & KEY_REQUIRED) || s->key_lines[j] > 0)
                        continue;
                if ((k->flags & KEY_ONLY_MASK) && !(k->flags & only))
                        continue;
                config_parser_error(p, s->line, s, NULL, "missing required key %s", k->name);
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
                config_parser_error(p, key_line(s, a), s, a, "%s must be %s %s %s", ta, a_rel, b, tb);
        else
                config_parser_error(p, key_line(s, b), s, b, "%s must be %s %s %s", tb, b_rel, a, ta);
}

static void target_check(Parser *p, const Section *s) {
        const TargetConfig *t = &p->config->targets[s->index];

        if (key_line(s, "memory_url") == 0 && key_line(s, "pprof_url") == 0)
                config_parser_error(p, s->line, s, NULL, "needs memory_url or pprof_url");
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
                config_parser_error(p, line, s, key, "%s: cannot read: %s", path, strerror(-r));
        else if (!S_ISREG(st.st_mode))
                config_parser_error(p, line, s, key, "%s is not a regular file", path);
        else if (aws_credentials_check_mode(st.st_mode, problem, sizeof problem) < 0)
                config_parser_error(p, line, s, key, "%s %s", path, problem);
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
        for (size_t j = 0; j < config_n_keys; j++) {
                const ConfigKey *k = &config_keys[j];
                CapacitySource other = k->flags & KEY_CLOUDWATCH ? CAPACITY_CLOUDWATCH : CAPACITY_SQL;

                if (k->section != SECTION_CAPACITY || s->key_lines[j] == 0 ||
                    !(k->flags & KEY_ONLY_MASK) || (k->flags & only))
                        continue;
                config_parser_error(p, s->key_lines[j], s, k->name, "only for source = %s",
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
        else if (cc->postgres && key_valid(s, "postgres") && !config_section_find(p, SECTION_POSTGRES, cc->postgres))
                config_parser_error(p, key_line(s, "postgres"), s, "postgres", "no [postgres %s] section",
                             cc->postgres);
}

/* Samples older than the retention are deleted, so a longer window would
 * silently evaluate less than it says. */
/* The rule must be one that can be met: min_acu <= scale_to <= max_acu.
 * Reported at the key set last of the pair that do not fit. */
static void acu_check(Parser *p, const Section *s, const CriterionConfig *cc) {
        unsigned lmin = key_line(s, "min_acu"), lmax = key_line(s, "max_acu"), lto = key_line(s, "scale_to");

        if (!key_valid(s, "min_acu") || !key_valid(s, "max_acu") || !key_valid(s, "scale_to"))
                return;
        if (cc->min_acu > cc->max_acu)
                config_parser_error(p, lmin > lmax ? lmin : lmax, s, lmin > lmax ? "min_acu" : "max_acu",
                                    "min_acu %g is above max_acu %g", cc->min_acu, cc->max_acu);
        else if (cc->scale_to < cc->min_acu)
                config_parser_error(p, lto > lmin ? lto : lmin, s, lto > lmin ? "scale_to" : "min_acu",
                                    "scale_to %g is below min_acu %g: it could never be met", cc->scale_to,
                                    cc->min_acu);
        else if (cc->scale_to > cc->max_acu)
                config_parser_error(p, lto > lmax ? lto : lmax, s, lto > lmax ? "scale_to" : "max_acu",
                                    "scale_to %g is above max_acu %g: it could never be met", cc->scale_to,
                                    cc->max_acu);
}

static void criterion_check(Parser *p, const Section *s) {
        const CriterionConfig *cc = &p->config->criteria[s->index];
        const DaemonConfig *d = &p->config->daemon;
        char tw[64], tr[64];

        if (!config_builtin_lookup(cc->name))
                section_check_required(p, s, 0);
        if (cc->kind == CRITERION_RUN_ACU)
                acu_check(p, s, cc);
        if (key_line(s, "window") == 0 || !key_valid(s, "window") || cc->window_usec <= d->retention_usec)
                return;
        units_format_duration(cc->window_usec, tw, sizeof tw);
        units_format_duration(d->retention_usec, tr, sizeof tr);
        config_parser_error(p, key_line(s, "window"), s, "window", "%s is longer than [daemon] retention %s, "
                     "after which samples are deleted", tw, tr);
}

/* The keys of model = exec: Locust's own settings are in its command. */
static const char *const exec_keys[] = { "model", "duration", "schedule", "enabled", "command", "csv", "grace" };

static bool is_exec_key(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(exec_keys); i++)
                if (streq(exec_keys[i], name))
                        return true;
        return false;
}

/* Keys set in the section that belong to another model than `model`. */
static void scenario_check_other_keys(Parser *p, const Section *s, LoadModel model) {
        unsigned only = model == LOAD_MODEL_OPEN ? KEY_OPEN : KEY_CLOSED;

        for (size_t j = 0; j < config_n_keys; j++) {
                const ConfigKey *k = &config_keys[j];

                if (k->section != SECTION_SCENARIO || s->key_lines[j] == 0)
                        continue;
                if (model == LOAD_MODEL_EXEC) {
                        if (!is_exec_key(k->name))
                                config_parser_error(p, s->key_lines[j], s, k->name, "not for model = exec (the "
                                                    "command's own options say what it sends)");
                        continue;
                }
                if (k->flags & KEY_EXEC) {
                        config_parser_error(p, s->key_lines[j], s, k->name, "only for model = exec");
                        continue;
                }
                if (!(k->flags & KEY_MODEL_MASK) || (k->flags & only))
                        continue;
                config_parser_error(p, s->key_lines[j], s, k->name, "only for model = %s",
                                    config_model_to_string(model == LOAD_MODEL_OPEN ? LOAD_MODEL_CLOSED
                                                                                    : LOAD_MODEL_OPEN));
        }
}

/* `rate` runs for `duration`; `stages` for their total, or cut by `duration`. */
static void scenario_check_open(Parser *p, const Section *s, ScenarioConfig *sc) {
        unsigned rate_line = key_line(s, "rate"), stages_line = key_line(s, "stages");
        bool rate = rate_line > 0, stages = stages_line > 0;
        char *reason = NULL;
        int r;

        /* Reported at the later of the two lines. */
        if (rate && stages) {
                config_parser_error(p, rate_line > stages_line ? rate_line : stages_line, s,
                                    rate_line > stages_line ? "rate" : "stages",
                                    "rate and stages both set: give one of them");
                return;
        }
        if (!rate && !stages) {
                config_parser_error(p, s->line, s, NULL, "missing required key rate or stages (model = open)");
                return;
        }
        if (stages || !key_valid(s, "rate"))
                return;
        if (key_line(s, "duration") == 0) {
                config_parser_error(p, key_line(s, "rate"), s, "rate", "a constant rate needs a duration");
                return;
        }
        if (!key_valid(s, "duration"))
                return;
        r = stages_new_constant(sc->rate_rps, sc->duration_usec, &sc->stages, &reason);
        if (r == -ENOMEM)
                p->oom = true;
        else if (r < 0)
                config_parser_error(p, key_line(s, "rate"), s, "rate", "%s", reason ? reason : "is not valid");
        free(reason);
}

static void scenario_check_closed(Parser *p, const Section *s, const ScenarioConfig *sc) {
        if (key_line(s, "users") == 0)
                config_parser_error(p, s->line, s, NULL, "missing required key users (model = closed)");
        if (key_line(s, "duration") == 0)
                config_parser_error(p, s->line, s, NULL, "missing required key duration (model = closed)");
        else if (sc->ramp_up_usec > sc->duration_usec && key_valid(s, "ramp_up") && key_valid(s, "duration"))
                parser_error_pair(p, s, "ramp_up", sc->ramp_up_usec, "at most",
                                  "duration", sc->duration_usec, "at least");
}

static const char *const write_keys[] = { "documents", "read", "elements", "conflicts_from", "read_after" };

/* Write lines need a read that names each document; the lost-write
 * check's other keys need write lines. */
static void scenario_check_writes(Parser *p, const Section *s, const ScenarioConfig *sc) {
        bool writes = key_line(s, "write") > 0;
        unsigned read_line = key_line(s, "read");

        if (key_line(s, "request") == 0 && !writes) {
                config_parser_error(p, s->line, s, NULL, "missing required key request");
                return;
        }
        if (!writes) {
                for (size_t i = 0; i < ELEMENTSOF(write_keys); i++)
                        if (key_line(s, write_keys[i]) > 0)
                                config_parser_error(p, key_line(s, write_keys[i]), s, write_keys[i],
                                                    "only with write lines (the lost-write check)");
                return;
        }
        if (read_line == 0)
                config_parser_error(p, s->line, s, NULL, "missing required key read (the scenario has write lines)");
        else if (key_valid(s, "read") && key_valid(s, "documents") && sc->documents > 1 &&
                 !strstr(sc->read_path, "${doc}"))
                config_parser_error(p, read_line, s, "read", "PATH \"%s\" has no ${doc}: with documents = %" PRIu64
                                    " each document is read by its name", sc->read_path, sc->documents);
}

/* model = exec: a command, and a duration after which (and grace) it is stopped. */
static void scenario_check_exec(Parser *p, const Section *s) {
        if (key_line(s, "command") == 0)
                config_parser_error(p, s->line, s, NULL, "missing required key command (model = exec)");
        if (key_line(s, "duration") == 0)
                config_parser_error(p, s->line, s, NULL, "missing required key duration (model = exec: the "
                                    "command is stopped after it and grace)");
}

static void scenario_check(Parser *p, const Section *s) {
        ScenarioConfig *sc = &p->config->scenarios[s->index];
        bool exec = sc->model == LOAD_MODEL_EXEC && key_valid(s, "model");

        section_check_required(p, s, 0);
        if (exec) {
                scenario_check_other_keys(p, s, sc->model);
                scenario_check_exec(p, s);
                return;
        }
        if (key_line(s, "base_url") == 0)
                config_parser_error(p, s->line, s, NULL, "missing required key base_url");
        scenario_check_writes(p, s, sc);
        if (key_line(s, "model") > 0 && !key_valid(s, "model"))
                return;
        scenario_check_other_keys(p, s, sc->model);
        if (sc->model == LOAD_MODEL_OPEN)
                scenario_check_open(p, s, sc);
        else
                scenario_check_closed(p, s, sc);
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
                criterion_check(p, s);
                break;
        case SECTION_SCENARIO:
                scenario_check(p, s);
                break;
        case SECTION_INVALID:
                break;
        default:
                section_check_required(p, s, 0);
        }
}

/* With one target polling /memory the memory criterion knows which series
 * to watch; with none it has no data and reports unknown; with several it
 * cannot choose, and [criterion memory] must say which (series =). */
static int parser_memory_series(Parser *p) {
        Config *c = p->config;
        CriterionConfig *memory = (CriterionConfig *) config_find_criterion(c, "memory");
        const TargetConfig *first = NULL, *second = NULL;
        const Section *s;

        for (size_t i = 0; i < c->n_targets && !second; i++)
                if (c->targets[i].memory_url) {
                        second = first ? &c->targets[i] : NULL;
                        first = first ?: &c->targets[i];
                }
        if (!memory || memory->series || !first)
                return 0;
        if (!second) {
                if (asprintf(&memory->series, "go.%s.Sys", first->name) >= 0)
                        return 0;
                memory->series = NULL;
                return -ENOMEM;
        }
        s = config_section_find(p, SECTION_CRITERION, "memory");
        if (s)
                config_parser_error(p, s->line, s, NULL, "missing required key series: several targets poll /memory "
                             "(%s, %s), e.g. series = go.%s.Sys", first->name, second->name, first->name);
        else
                config_parser_error(p, second->line, config_section_find(p, SECTION_TARGET, second->name), NULL,
                             "a second target polling /memory: the memory criterion needs a "
                             "[criterion memory] section with series = go.NAME.Sys");
        return 0;
}

/* `scenario = NAME` written out must name a [scenario] section: a typo
 * would otherwise leave the run criterion `name` unknown for ever.  The
 * default (peak, spike, crdt) may be missing, so that a file without
 * scenarios still loads: the criterion then answers unknown and says why. */
static int parser_run_scenario(Parser *p, const char *name) {
        CriterionConfig *cc = (CriterionConfig *) config_find_criterion(p->config, name);
        const Section *s = config_section_find(p, SECTION_CRITERION, name);
        char hint[SUGGESTION_MAX] = "";
        const char **names;

        if (!cc || !cc->scenario || config_section_find(p, SECTION_SCENARIO, cc->scenario))
                return 0;
        if (!s || key_line(s, "scenario") == 0) {
                cc->no_scenario = true;
                return 0;
        }
        if (!key_valid(s, "scenario"))
                return 0;
        names = calloc(p->config->n_scenarios + 1, sizeof *names);
        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < p->config->n_scenarios; i++)
                names[i] = p->config->scenarios[i].name;
        (void) config_suggestion(cc->scenario, names, p->config->n_scenarios, hint, sizeof hint);
        free(names);
        config_parser_error(p, key_line(s, "scenario"), s, "scenario", "no [scenario %s] section%s", cc->scenario,
                            p->config->n_scenarios > 0 ? hint : " (the file has no [scenario] section)");
        return 0;
}

/* The longest silence in a capacity series that still counts as covered:
 * three of the source's datapoints missing. */
static uint64_t capacity_max_gap(const CapacityConfig *c) {
        return 3 * (c->source == CAPACITY_CLOUDWATCH ? c->period_usec : c->interval_usec);
}

/* How long after an instant T a datapoint stamped T can still reach the
 * store, at most CloudWatch's usual lag (ACU_WINDOW_LAG_MS).  CloudWatch:
 * every poll asks for the last `lookback` only, so the last poll that can
 * see T starts by T + lookback (the next tick within an interval of it)
 * and is answered within `timeout`; a datapoint published later is never
 * asked for.  sql: the sample is stamped when its poll starts, so the
 * first one at or after T starts within an interval (two, with the
 * timer's spread) and is answered within `timeout`. */
static uint64_t capacity_lag(const CapacityConfig *c) {
        uint64_t reach = c->source == CAPACITY_CLOUDWATCH ? c->lookback_usec + c->interval_usec + c->timeout_usec
                                                          : 2 * c->interval_usec + c->timeout_usec;
        uint64_t cap = (uint64_t) ACU_WINDOW_LAG_MS * USEC_PER_MSEC;

        return reach < cap ? reach : cap;
}

/* As the memory criterion's series: with one [capacity] section
 * acu_scaling watches its aurora.NAME.acu; with none it has no data and
 * says so.  With several it cannot choose: a [criterion acu_scaling]
 * section that leaves series out is refused, and without one the criterion
 * answers unknown and says why, so that a file watching several clusters
 * still loads.  max_gap and lag follow the source of the series. */
static int parser_acu_series(Parser *p) {
        Config *c = p->config;
        CriterionConfig *acu = (CriterionConfig *) config_find_criterion(c, "acu_scaling");
        const Section *s = config_section_find(p, SECTION_CRITERION, "acu_scaling");

        if (!acu)
                return 0;
        acu->max_gap_usec = (uint64_t) ACU_WINDOW_MAX_GAP_MS * USEC_PER_MSEC;
        acu->lag_usec = (uint64_t) ACU_WINDOW_LAG_MS * USEC_PER_MSEC;
        if (!acu->series && c->n_capacity == 1 && asprintf(&acu->series, "aurora.%s.acu", c->capacity[0].name) < 0) {
                acu->series = NULL;
                return -ENOMEM;
        }
        acu->several_capacity = !acu->series && c->n_capacity > 1;
        if (acu->several_capacity && s && !acu->disabled && key_valid(s, "series"))
                config_parser_error(p, s->line, s, NULL, "missing required key series: several [capacity] sections "
                                    "(%s, %s), e.g. series = aurora.%s.acu", c->capacity[0].name,
                                    c->capacity[1].name, c->capacity[0].name);
        for (size_t i = 0; acu->series && i < c->n_capacity; i++) {
                char *name = NULL;

                if (asprintf(&name, "aurora.%s.acu", c->capacity[i].name) < 0)
                        return -ENOMEM;
                if (streq(name, acu->series)) {
                        acu->max_gap_usec = capacity_max_gap(&c->capacity[i]);
                        acu->lag_usec = capacity_lag(&c->capacity[i]);
                }
                free(name);
        }
        return 0;
}

/* latency_p95 judges the latency from each request's intended start; a
 * Locust run (model = exec) has only Locust's closed-loop, rounded figures,
 * which would pass a service that stalls.  So the criterion may not judge
 * one: reported where the choice was made, the criterion's scenario line,
 * or the scenario's model line when the scenario is the default one. */
static void parser_latency_exec(Parser *p) {
        const CriterionConfig *cc = config_find_criterion(p->config, "latency_p95");
        const Section *cs = config_section_find(p, SECTION_CRITERION, "latency_p95"), *ss;
        const ScenarioConfig *sc = cc ? config_find_scenario(p->config, cc->scenario) : NULL;

        if (!sc || sc->model != LOAD_MODEL_EXEC || cc->disabled)
                return;
        if (cs && key_line(cs, "scenario") > 0) {
                config_parser_error(p, key_line(cs, "scenario"), cs, "scenario", "[scenario %s] is model = exec: "
                                    "Locust's latencies are closed-loop and rounded, not comparable with the p95 "
                                    "latency_p95 judges; name an open- or closed-model scenario", sc->name);
                return;
        }
        ss = config_section_find(p, SECTION_SCENARIO, sc->name);
        if (ss)
                config_parser_error(p, key_line(ss, "model"), ss, "model", "exec, but latency_p95 judges [scenario "
                                    "%s] by default: Locust's latencies are closed-loop and rounded, not comparable "
                                    "with its p95; rename the scenario, or set [criterion latency_p95] scenario or "
                                    "enabled = no", sc->name);
}

/* `target = NAME` must name a [target] section with a pprof_url: its
 * profiles are what the run captures. */
static void parser_scenario_targets(Parser *p) {
        const Config *c = p->config;

        for (size_t i = 0; i < c->n_scenarios; i++) {
                const ScenarioConfig *sc = &c->scenarios[i];
                const Section *s = config_section_find(p, SECTION_SCENARIO, sc->name);
                const TargetConfig *t = NULL;

                if (!sc->target || !s || !key_valid(s, "target"))
                        continue;
                for (size_t j = 0; j < c->n_targets && !t; j++)
                        if (streq(c->targets[j].name, sc->target))
                                t = &c->targets[j];
                if (!t)
                        config_parser_error(p, key_line(s, "target"), s, "target", "no [target %s] section",
                                            sc->target);
                else if (!t->pprof_url)
                        config_parser_error(p, key_line(s, "target"), s, "target", "[target %s] has no pprof_url: "
                                            "its profiles cannot be taken", sc->target);
        }
}

/* Each name of a suite's `scenarios` must be a [scenario] section: a
 * typo would otherwise fail the suite at its first run. */
static int parser_suite_scenarios(Parser *p) {
        const Config *c = p->config;
        const char **names = calloc(c->n_scenarios + 1, sizeof *names);

        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_scenarios; i++)
                names[i] = c->scenarios[i].name;
        for (size_t i = 0; i < c->n_suites; i++) {
                const SuiteConfig *su = &c->suites[i];
                const Section *s = config_section_find(p, SECTION_SUITE, su->name);

                if (!s || !key_valid(s, "scenarios"))
                        continue;
                for (size_t j = 0; j < su->n_scenarios; j++) {
                        char hint[SUGGESTION_MAX] = "";

                        if (config_section_find(p, SECTION_SCENARIO, su->scenarios[j]))
                                continue;
                        (void) config_suggestion(su->scenarios[j], names, c->n_scenarios, hint, sizeof hint);
                        config_parser_error(p, key_line(s, "scenarios"), s, "scenarios", "no [scenario %s] section%s",
                                            su->scenarios[j],
                                            c->n_scenarios > 0 ? hint : " (the file has no [scenario] section)");
                }
        }
        free(names);
        return 0;
}

int config_parser_check(Parser *p) {
        int r;

        for (size_t i = 0; i < p->n_sections; i++)
                section_check(p, p->sections[i]);
        parser_latency_exec(p);
        parser_scenario_targets(p);
        if (parser_suite_scenarios(p) < 0)
                return -ENOMEM;
        r = parser_run_scenario(p, "latency_p95");
        if (r >= 0)
                r = parser_run_scenario(p, "acu_scaling");
        if (r >= 0)
                r = parser_run_scenario(p, "zero_data_loss");
        if (r >= 0)
                r = parser_acu_series(p);
        if (r < 0)
                return r;
        return parser_memory_series(p);
}
