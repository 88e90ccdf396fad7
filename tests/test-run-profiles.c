/* The /memory figures a run records before and after it
 * (run_profiles_memory_parse()): the same names and values as the /memory
 * poller's series, which come from the streaming flattener, nested fields
 * included; the cap on fields; the reasons of answers without figures. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/run-profiles.h"
#include "util/json-stream.h"
#include "tap.h"

/* 2026-12-01T14:00:00Z */
#define AT_USEC (1796133600ull * 1000000ull)

typedef struct Series {
        json_t *obj;
        size_t prefix_len;
} Series;

/* What the /memory poller would store, "go.app.NAME" = value, with the
 * prefix taken off. */
static int series_add(const char *name, double value, void *u) {
        Series *s = u;

        return json_object_set_new(s->obj, name + s->prefix_len, json_real(value));
}

static json_t *poller_series(const char *body) {
        Series s = { .obj = json_object(), .prefix_len = strlen("go.app.") };
        JsonStream *p = NULL;
        unsigned count = 0;

        if (json_stream_new("go.app", series_add, &s, &p) < 0 || json_stream_feed(p, body, strlen(body)) < 0 ||
            json_stream_finish(p, &count) < 0) {
                json_decref(s.obj);
                s.obj = NULL;
        }
        json_stream_free(p);
        return s.obj;
}

static void test_same_as_the_series(void) {
        static const char body[] =
                "{\"Sys\": 19510536, \"HeapAlloc\": 1608176.5, \"gc\": {\"num\": 4, \"pause\": {\"total_ns\": 1782815}},"
                " \"heap space\": 7, \"version\": \"go1.22\", \"up\": true, \"PauseNs\": [1, 2], \"none\": null}";
        char why[256] = "", *dump = NULL;
        json_t *m = run_profiles_memory_parse(body, strlen(body), AT_USEC, why, sizeof why);
        json_t *series = poller_series(body);

        ok(m != NULL, "an answer with numbers gives a memory object (%s)", why);
        if (!m || !series)
                goto out;
        is_str(json_string_value(json_object_get(m, "at")), "2026-12-01T14:00:00Z", "with the poll's time");
        (void) json_object_del(m, "at");
        dump = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
        is_str(dump, "{\"HeapAlloc\":1608176.5,\"Sys\":19510536.0,\"gc.num\":4.0,\"gc.pause.total_ns\":1782815.0,"
               "\"heap_space\":7.0}",
               "every number, nested ones joined with '.', keys sanitised; strings, booleans, arrays, nulls left out");
        ok(json_equal(m, series), "the same names and values as the /memory poller's series go.app.*");
out:
        free(dump);
        json_decref(m);
        json_decref(series);
}

static void test_cap(void) {
        char body[8192], why[256] = "";
        size_t off = 0;
        json_t *m;

        off += (size_t) snprintf(body + off, sizeof body - off, "{\"many\": {");
        for (int i = 0; i < RUN_PROFILES_MEMORY_FIELDS_MAX + 10; i++)
                off += (size_t) snprintf(body + off, sizeof body - off, "%s\"f%d\": %d", i ? "," : "", i, i);
        snprintf(body + off, sizeof body - off, "}}");
        m = run_profiles_memory_parse(body, strlen(body), AT_USEC, why, sizeof why);
        ok(m != NULL, "an answer with too many fields still gives a memory object");
        is_int((int) json_object_size(m), RUN_PROFILES_MEMORY_FIELDS_MAX + 2,
               "with the first %d fields, \"fields_cut\" and \"at\"", RUN_PROFILES_MEMORY_FIELDS_MAX);
        ok(json_is_true(json_object_get(m, "fields_cut")), "saying it was cut");
        ok(json_real_value(json_object_get(m, "many.f0")) == 0 &&
           json_real_value(json_object_get(m, "many.f63")) == 63 && !json_object_get(m, "many.f64"),
           "in the answer's order: many.f0 .. many.f63");
        json_decref(m);
}

static void test_no_figures(void) {
        static const struct {
                const char *body, *why;
        } cases[] = {
                { "{\"version\": \"go1.22\", \"gc\": {}}", "/memory: no numeric fields" },
                { "[1, 2]", NULL },
                { "{\"Sys\": 1", NULL },
                { "", NULL },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char why[256] = "";
                json_t *m = run_profiles_memory_parse(cases[i].body, strlen(cases[i].body), AT_USEC, why, sizeof why);

                ok(!m, "'%s': no memory object", cases[i].body);
                if (cases[i].why)
                        is_str(why, cases[i].why, "'%s': says why", cases[i].body);
                else
                        ok(strncmp(why, "/memory: ", 9) == 0 && strlen(why) > 9,
                           "'%s': says why, from the parser: %s", cases[i].body, why);
                json_decref(m);
        }
}

int main(void) {
        test_same_as_the_series();
        test_cap();
        test_no_figures();
        return tap_done();
}
