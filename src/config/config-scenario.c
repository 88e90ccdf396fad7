/* The value types of [scenario NAME] sections (model, rate, stages, think,
 * request, header, expect), which own more than a string, and the hand-over
 * of a scenario to the load engine. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config-internal.h"
#include "load/load-exec.h"
#include "util/json-pointer.h"
#include "util/units.h"

#define WEIGHT_MAX 1000000u
#define STATUS_MIN 100u
#define STATUS_MAX 599u

static const char *const model_names[] = {
        [LOAD_MODEL_OPEN] = "open",
        [LOAD_MODEL_CLOSED] = "closed",
        [LOAD_MODEL_EXEC] = "exec",
};

static void *field(void *base, const ConfigKey *k) {
        return (char *) base + k->offset;
}

static int oom(char *problem, size_t n) {
        snprintf(problem, n, "could not be stored: out of memory");
        return -ENOMEM;
}

/* Copies a library's one-line reason into `problem` and frees it. */
static int take_reason(char *reason, int r, char *problem, size_t n) {
        if (r == -ENOMEM)
                snprintf(problem, n, "could not be stored: out of memory");
        else
                snprintf(problem, n, "%s", reason ? reason : "is not valid");
        free(reason);
        return r;
}

const char *config_model_to_string(LoadModel m) {
        return (size_t) m < ELEMENTSOF(model_names) ? model_names[m] : "?";
}

int config_parse_model(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        int i = config_name_index(model_names, ELEMENTSOF(model_names), v, "a load model", problem, n);

        if (i < 0)
                return i;
        *(LoadModel *) field(base, k) = (LoadModel) i;
        return 0;
}

int config_parse_client(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        static const char *const names[] = { [LOAD_CLIENT_AUTO] = "auto", [LOAD_CLIENT_LIBCURL] = "libcurl" };
        int i = config_name_index(names, ELEMENTSOF(names), v, "an HTTP client", problem, n);

        if (i < 0)
                return i;
        *(LoadClient *) field(base, k) = (LoadClient) i;
        return 0;
}

/* Checked as load_run_start() will split it, ${run_dir} standing for the
 * run's directory. */
int config_parse_command(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        char **p = field(base, k), **argv = NULL, *reason = NULL, *copy;
        int r;

        r = load_exec_split(v, "/run-dir", &argv, &reason);
        load_exec_argv_free(argv);
        if (r < 0)
                return take_reason(reason, r, problem, n);
        copy = strdup(v);
        if (!copy)
                return oom(problem, n);
        free(*p);
        *p = copy;
        return 0;
}

int config_parse_rate(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        char *reason = NULL;
        double rps;
        int r;

        r = stages_parse_rate(v, &rps, &reason);
        if (r < 0)
                return take_reason(reason, r, problem, n);
        if (!(rps > 0)) {
                snprintf(problem, n, "must be above 0");
                return -ERANGE;
        }
        *(double *) field(base, k) = rps;
        return 0;
}

int config_parse_stages(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        LoadStages **p = field(base, k), *s = NULL;
        char *reason = NULL;
        int r;

        r = stages_parse(v, &s, &reason);
        if (r < 0)
                return take_reason(reason, r, problem, n);
        stages_free(*p);
        *p = s;
        return 0;
}

void config_release_stages(const ConfigKey *k, void *base) {
        LoadStages **p = field(base, k);

        *p = stages_free(*p);
}

int config_parse_duration_range(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        const char *dots = strstr(v, "..");
        DurationRange d;
        char *lo = NULL;
        uint64_t max;
        int r;

        if (!dots) {
                r = units_parse_duration(v, &d.min_usec);
                d.max_usec = d.min_usec;
        } else {
                lo = strndup(v, (size_t) (dots - v));
                if (!lo)
                        return oom(problem, n);
                r = units_parse_duration(lo, &d.min_usec);
                if (r >= 0)
                        r = units_parse_duration(dots + 2, &d.max_usec);
                free(lo);
        }
        if (r < 0) {
                snprintf(problem, n, "is not a duration or MIN..MAX (1s..3s)");
                return -EINVAL;
        }
        if (d.min_usec > d.max_usec) {
                snprintf(problem, n, "has its minimum above its maximum");
                return -EINVAL;
        }
        if (k->max && (units_parse_duration(k->max, &max) < 0 || d.max_usec > max)) {
                snprintf(problem, n, "is above the maximum %s", k->max);
                return -ERANGE;
        }
        *(DurationRange *) field(base, k) = d;
        return 0;
}

/* ---------------------------------------------------------------- requests */

/* The next blank-separated word of *s (advancing past it), or NULL. */
static char *next_word(const char **s) {
        const char *start = *s + strspn(*s, " \t"), *end = start + strcspn(start, " \t");

        *s = end + strspn(end, " \t");
        return end > start ? strndup(start, (size_t) (end - start)) : strdup("");
}

static bool all_chars(const char *s, const char *set) {
        return *s && strspn(s, set) == strlen(s);
}

/* Reads an @FILE body, at most CONFIG_BODY_MAX bytes. */
static int read_body_file(const char *path, char **ret, char *problem, size_t n) {
        struct stat st;
        char *buf = NULL;
        ssize_t got = 0;
        int fd, r = 0;

        if (path[0] != '/') {
                snprintf(problem, n, "has a body file \"%s\" that is not an absolute path", path);
                return -EINVAL;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
                r = -errno;
        else if (!S_ISREG(st.st_mode))
                r = -EISDIR;
        else if (st.st_size > CONFIG_BODY_MAX)
                r = -EFBIG;
        else if (!(buf = malloc((size_t) st.st_size + 1)))
                r = -ENOMEM;
        else if ((got = read(fd, buf, (size_t) st.st_size)) < 0)
                r = -errno;
        if (fd >= 0)
                close(fd);
        if (r == -EFBIG)
                snprintf(problem, n, "has a body file %s larger than %d bytes", path, CONFIG_BODY_MAX);
        else if (r == -EISDIR)
                snprintf(problem, n, "has a body file %s that is not a regular file", path);
        else if (r < 0)
                snprintf(problem, n, "has a body file %s that cannot be read: %s", path, strerror(-r));
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[got] = '\0';
        *ret = buf;
        return 0;
}

static void request_clear(ScenarioRequest *q) {
        free(q->method);
        free(q->path);
        free(q->body);
        free(q->name);
        template_unref(q->path_template);
        template_unref(q->body_template);
        *q = (ScenarioRequest) {};
}

/* [WEIGHT] METHOD: the weight defaults to 1. */
static int request_parse_head(ScenarioRequest *q, const char **s, char *problem, size_t n) {
        char *w = next_word(s);
        unsigned long weight;

        if (!w)
                return oom(problem, n);
        if (all_chars(w, "0123456789")) {
                weight = strtoul(w, NULL, 10);
                free(w);
                if (weight < 1 || weight > WEIGHT_MAX) {
                        snprintf(problem, n, "has a weight out of 1..%u", WEIGHT_MAX);
                        return -ERANGE;
                }
                q->weight = (unsigned) weight;
                w = next_word(s);
                if (!w)
                        return oom(problem, n);
        } else
                q->weight = 1;
        q->method = w;
        if (!all_chars(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
                snprintf(problem, n, "is not [WEIGHT] METHOD PATH [BODY]: \"%s\" is not a method such as GET", w);
                return -EINVAL;
        }
        return 0;
}

/* Compiles `text` into *ret; a bad placeholder is reported with `what`. */
static int compile(const char *what, const char *text, Template **ret, char *problem, size_t n) {
        char *reason = NULL;
        int r;

        r = template_compile(text, ret, &reason);
        if (r == -ENOMEM)
                return take_reason(reason, r, problem, n);
        if (r < 0)
                snprintf(problem, n, "has a bad %s template: %s", what, reason ? reason : "invalid");
        free(reason);
        return r;
}

/* PATH [BODY], where BODY is the rest of the line or @FILE. */
static int request_parse_tail(ScenarioRequest *q, const char **s, char *problem, size_t n) {
        int r;

        q->path = next_word(s);
        if (!q->path)
                return oom(problem, n);
        if (!*q->path) {
                snprintf(problem, n, "has no PATH: expected [WEIGHT] METHOD PATH [BODY]");
                return -EINVAL;
        }
        if (q->path[0] != '/') {
                snprintf(problem, n, "has a PATH \"%s\" that does not start with /", q->path);
                return -EINVAL;
        }
        r = compile("PATH", q->path, &q->path_template, problem, n);
        if (r < 0 || !**s)
                return r;
        if (**s == '@')
                r = read_body_file(*s + 1, &q->body, problem, n);
        else if (!(q->body = strdup(*s)))
                r = oom(problem, n);
        if (r < 0)
                return r;
        return compile("BODY", q->body, &q->body_template, problem, n);
}

/* "METHOD PATH", or "METHOD PATH #2" for the second line with those (say,
 * with another body), so that per-request figures stay apart. */
static int request_name(const ScenarioConfig *sc, ScenarioRequest *q) {
        size_t same = 0;
        int r;

        for (size_t i = 0; i < sc->n_requests; i++)
                same += streq(sc->requests[i].method, q->method) && streq(sc->requests[i].path, q->path);
        if (same == 0)
                r = asprintf(&q->name, "%s %s", q->method, q->path);
        else
                r = asprintf(&q->name, "%s %s #%zu", q->method, q->path, same + 1);
        if (r < 0)
                q->name = NULL;
        return r < 0 ? -ENOMEM : 0;
}

/* A write must carry its token, or the read-back could not find it. */
static int write_check_token(const ScenarioRequest *q, char *problem, size_t n) {
        if (template_uses(q->path_template, TEMPLATE_TOKEN) ||
            (q->body_template && template_uses(q->body_template, TEMPLATE_TOKEN)))
                return 0;
        snprintf(problem, n, "has no ${token} in its PATH or BODY: a write must carry its token");
        return -EINVAL;
}

/* A request or write line, added to the scenario's weighted choice. */
static int request_add(ScenarioConfig *sc, const char *v, bool write, char *problem, size_t n) {
        ScenarioRequest q = { .write = write }, *a;
        const char *s = v;
        int r;

        r = request_parse_head(&q, &s, problem, n);
        if (r >= 0)
                r = request_parse_tail(&q, &s, problem, n);
        if (r >= 0 && write)
                r = write_check_token(&q, problem, n);
        if (r >= 0 && request_name(sc, &q) < 0)
                r = oom(problem, n);
        if (r >= 0 && !(a = reallocarray(sc->requests, sc->n_requests + 1, sizeof *a)))
                r = oom(problem, n);
        if (r < 0) {
                request_clear(&q);
                return r;
        }
        sc->requests = a;
        sc->requests[sc->n_requests++] = q;
        return 0;
}

int config_parse_request(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        (void) k;
        return request_add(base, v, false, problem, n);
}

int config_parse_write(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        (void) k;
        return request_add(base, v, true, problem, n);
}

void config_release_requests(const ConfigKey *k, void *base) {
        ScenarioConfig *sc = base;

        (void) k;
        for (size_t i = 0; i < sc->n_requests; i++)
                request_clear(&sc->requests[i]);
        free(sc->requests);
        sc->requests = NULL;
        sc->n_requests = 0;
}

/* ---------------------------------------------------------------- lost writes */

/* `read = METHOD PATH`: PATH a template (${doc} the document's name). */
int config_parse_read(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        ScenarioConfig *sc = base;
        char *method = NULL, *path = NULL;
        Template *t = NULL;
        const char *s = v;
        int r = -EINVAL;

        (void) k;
        method = next_word(&s);
        path = method ? next_word(&s) : NULL;
        if (!method || !path)
                r = oom(problem, n);
        else if (!all_chars(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") || path[0] != '/' || *s)
                snprintf(problem, n, "is not METHOD PATH (GET /docs/${doc})");
        else
                r = compile("PATH", path, &t, problem, n);
        template_unref(t);
        if (r < 0) {
                free(method);
                free(path);
                return r;
        }
        config_release_read(k, base);
        sc->read_method = method;
        sc->read_path = path;
        return 0;
}

void config_release_read(const ConfigKey *k, void *base) {
        ScenarioConfig *sc = base;

        (void) k;
        free(sc->read_method);
        free(sc->read_path);
        sc->read_method = sc->read_path = NULL;
}

#define POINTER_HINT "RFC 6901: \"\" or /a/0/b, with ~0 for ~ and ~1 for /"

int config_parse_json_pointer(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        char **p = field(base, k), *copy;

        if (!json_pointer_valid(v)) {
                snprintf(problem, n, "is not a JSON pointer (" POINTER_HINT ")");
                return -EINVAL;
        }
        copy = strdup(v);
        if (!copy)
                return oom(problem, n);
        free(*p);
        *p = copy;
        return 0;
}

/* `conflicts_from = PATH /pointer`. */
int config_parse_conflicts_from(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        ScenarioConfig *sc = base;
        char *path, *pointer = NULL;
        const char *s = v;
        int r = 0;

        path = next_word(&s);
        if (path)
                pointer = next_word(&s);
        if (!path || !pointer)
                r = oom(problem, n);
        else if (path[0] != '/' || !pointer[0] || *s) {
                snprintf(problem, n, "is not PATH /POINTER (/docs/stats /conflicts)");
                r = -EINVAL;
        } else if (!json_pointer_valid(pointer)) {
                snprintf(problem, n, "has \"%s\", which is not a JSON pointer (" POINTER_HINT ")", pointer);
                r = -EINVAL;
        }
        if (r < 0) {
                free(path);
                free(pointer);
                return r;
        }
        config_release_conflicts_from(k, base);
        sc->conflicts_path = path;
        sc->conflicts_pointer = pointer;
        return 0;
}

void config_release_conflicts_from(const ConfigKey *k, void *base) {
        ScenarioConfig *sc = base;

        (void) k;
        free(sc->conflicts_path);
        free(sc->conflicts_pointer);
        sc->conflicts_path = sc->conflicts_pointer = NULL;
}

/* ---------------------------------------------------------------- headers */

/* RFC 9110's token characters: what a field name is made of. */
#define TCHARS "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

int config_parse_header(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        ScenarioConfig *sc = base;
        size_t name_len = strspn(v, TCHARS);
        const char *value;
        char *line, **a;

        (void) k;
        if (name_len == 0 || v[name_len] != ':') {
                snprintf(problem, n, "is not \"Name: value\" (a field name, then a colon)");
                return -EINVAL;
        }
        value = v + name_len + 1;
        value += strspn(value, " \t");
        for (const unsigned char *c = (const unsigned char *) value; *c; c++)
                if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
                        snprintf(problem, n, "has control characters in its value");
                        return -EINVAL;
                }
        if (asprintf(&line, "%.*s: %s", (int) name_len, v, value) < 0)
                return oom(problem, n);
        a = reallocarray(sc->headers, sc->n_headers + 1, sizeof *a);
        if (!a) {
                free(line);
                return oom(problem, n);
        }
        sc->headers = a;
        sc->headers[sc->n_headers++] = line;
        return 0;
}

void config_release_headers(const ConfigKey *k, void *base) {
        ScenarioConfig *sc = base;

        (void) k;
        for (size_t i = 0; i < sc->n_headers; i++)
                free(sc->headers[i]);
        free(sc->headers);
        sc->headers = NULL;
        sc->n_headers = 0;
}

/* ---------------------------------------------------------------- expect */

/* One CODE or LO-HI of an expect list. */
static int expect_item(const char *s, size_t len, LoadStatusRange *ret) {
        char buf[16], *dash, *end;
        unsigned long lo, hi;

        if (len == 0 || len >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (!all_chars(buf, "0123456789-"))
                return -EINVAL;
        dash = strchr(buf, '-');
        lo = strtoul(buf, &end, 10);
        if (end == buf || (dash ? end != dash : *end))
                return -EINVAL;
        hi = lo;
        if (dash) {
                hi = strtoul(dash + 1, &end, 10);
                if (end == dash + 1 || *end)
                        return -EINVAL;
        }
        if (lo < STATUS_MIN || hi > STATUS_MAX || lo > hi)
                return -ERANGE;
        *ret = (LoadStatusRange) { (unsigned) lo, (unsigned) hi };
        return 0;
}

int config_parse_expect(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        ScenarioConfig *sc = base;
        LoadStatusRange *a = NULL, *b;
        size_t count = 0;
        int r = 0;

        (void) k;
        for (const char *s = v; r >= 0 && *s;) {
                size_t len;

                s += strspn(s, " \t,");
                len = strcspn(s, " \t,");
                if (len == 0)
                        break;
                b = reallocarray(a, count + 1, sizeof *a);
                if (!b) {
                        free(a);
                        return oom(problem, n);
                }
                a = b;
                r = expect_item(s, len, &a[count++]);
                if (r < 0)
                        snprintf(problem, n, "has \"%.*s\", which is not a status code %u-%u or a range LO-HI of them",
                                 (int) len, s, STATUS_MIN, STATUS_MAX);
                s += len;
        }
        if (r >= 0 && count == 0) {
                snprintf(problem, n, "is empty: expected status codes such as 200-299, 404");
                r = -EINVAL;
        }
        if (r < 0) {
                free(a);
                return r;
        }
        free(sc->expect);
        sc->expect = a;
        sc->n_expect = count;
        return 0;
}

void config_release_expect(const ConfigKey *k, void *base) {
        ScenarioConfig *sc = base;

        (void) k;
        free(sc->expect);
        sc->expect = NULL;
        sc->n_expect = 0;
}

/* ---------------------------------------------------------------- schedule */

/* Both [scenario] and [suite] have a schedule: the text, and its parsed
 * form beside it. */
int config_parse_schedule(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        char *reason = NULL, *copy, **text;
        CronExpr cron, *parsed;
        int r;

        r = cron_parse(v, &cron, &reason);
        if (r < 0)
                return take_reason(reason, r, problem, n);
        copy = strdup(v);
        if (!copy)
                return oom(problem, n);
        if (k->section == SECTION_SUITE) {
                text = &((SuiteConfig *) base)->schedule;
                parsed = &((SuiteConfig *) base)->cron;
        } else {
                text = &((ScenarioConfig *) base)->schedule;
                parsed = &((ScenarioConfig *) base)->cron;
        }
        free(*text);
        *text = copy;
        *parsed = cron;
        return 0;
}

/* `scenarios = peak, spike, crdt`: the names in order, blanks around
 * each trimmed, in one block (the array, then the names). */
int config_parse_name_list(const ConfigKey *k, const char *v, void *base, char *problem, size_t n) {
        SuiteConfig *su = base;
        size_t count = 1, len = strlen(v), i = 0;
        char **names, *copy, *word;

        (void) k;
        for (const char *p = v; *p; p++)
                count += *p == ',';
        names = malloc(count * sizeof *names + len + 1);
        if (!names)
                return oom(problem, n);
        copy = memcpy((char *) (names + count), v, len + 1);
        while ((word = strsep(&copy, ",")) && i < count) {
                char *end;

                word += strspn(word, " \t");
                end = word + strlen(word);
                while (end > word && isspace((unsigned char) end[-1]))
                        *--end = '\0';
                if (*word == '\0') {
                        snprintf(problem, n, "has an empty name (name %zu of %zu): expected NAME, NAME...", i + 1,
                                 count);
                        free(names);
                        return -EINVAL;
                }
                if (strcspn(word, " \t") != strlen(word)) {
                        snprintf(problem, n, "has a blank inside \"%s\": names are separated by commas", word);
                        free(names);
                        return -EINVAL;
                }
                names[i++] = word;
        }
        free(su->scenarios);
        su->scenarios = names;
        su->n_scenarios = count;
        return 0;
}

void config_release_name_list(const ConfigKey *k, void *base) {
        SuiteConfig *su = base;

        (void) k;
        free(su->scenarios);
        su->scenarios = NULL;
        su->n_scenarios = 0;
}

/* ---------------------------------------------------------------- hand-over */

const ScenarioConfig *config_find_scenario(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_scenarios; i++)
                if (streq(c->scenarios[i].name, name))
                        return &c->scenarios[i];
        return NULL;
}

static bool has_writes(const ScenarioConfig *sc) {
        for (size_t i = 0; i < sc->n_requests; i++)
                if (sc->requests[i].write)
                        return true;
        return false;
}

int config_scenario_to_load(const ScenarioConfig *sc, uint64_t duration_usec, LoadScenario *ret,
                            LoadRequest **ret_requests) {
        /* The requests, then the LoadWrites and the LoadExec, in one block
         * for one free(). */
        _Static_assert(sizeof(LoadRequest) % _Alignof(LoadWrites) == 0, "LoadWrites after the requests is aligned");
        _Static_assert(sizeof(LoadWrites) % _Alignof(LoadExec) == 0, "LoadExec after the LoadWrites is aligned");
        LoadRequest *reqs = calloc(1, sc->n_requests * sizeof *reqs + sizeof(LoadWrites) + sizeof(LoadExec));
        LoadWrites *writes;
        LoadExec *exec;

        if (!reqs)
                return -ENOMEM;
        writes = (LoadWrites *) (reqs + sc->n_requests);
        exec = (LoadExec *) (writes + 1);
        *exec = (LoadExec) { .command = sc->command, .csv = sc->csv, .grace_usec = sc->grace_usec };
        *writes = (LoadWrites) {
                .documents = (unsigned) sc->documents, .read_method = sc->read_method, .read_path = sc->read_path,
                .elements = sc->elements, .conflicts_path = sc->conflicts_path,
                .conflicts_pointer = sc->conflicts_pointer, .read_after_usec = sc->read_after_usec,
        };
        for (size_t i = 0; i < sc->n_requests; i++)
                reqs[i] = (LoadRequest) { .weight = sc->requests[i].weight, .name = sc->requests[i].name,
                                          .method = sc->requests[i].method, .path = sc->requests[i].path,
                                          .body = sc->requests[i].body, .write = sc->requests[i].write,
                                          .path_template = sc->requests[i].path_template,
                                          .body_template = sc->requests[i].body_template };
        *ret = (LoadScenario) {
                .name = sc->name, .model = sc->model, .client = sc->client, .base_url = sc->base_url,
                .stages = sc->stages, .users = (unsigned) sc->users, .think_min_usec = sc->think.min_usec,
                .think_max_usec = sc->think.max_usec, .ramp_up_usec = sc->ramp_up_usec,
                .duration_usec = sc->duration_usec, .timeout_usec = sc->timeout_usec,
                .max_inflight = (unsigned) sc->max_inflight, .requests = reqs, .n_requests = sc->n_requests,
                .headers = (const char *const *) sc->headers, .n_headers = sc->n_headers,
                .expect = sc->expect, .n_expect = sc->n_expect,
                .writes = has_writes(sc) ? writes : NULL,
                .exec = sc->model == LOAD_MODEL_EXEC ? exec : NULL,
        };
        if (duration_usec > 0 && (ret->duration_usec == 0 || duration_usec < ret->duration_usec))
                ret->duration_usec = duration_usec;
        *ret_requests = reqs;
        return 0;
}
