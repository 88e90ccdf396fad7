#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/json-flatten.h"
#include "tap.h"

#define MAX_PAIRS 64

typedef struct Pairs {
        size_t n;
        char *names[MAX_PAIRS];
        double values[MAX_PAIRS];
        int stop_after;      /* fn returns stop_value on this call (1-based); 0 = never */
        int stop_value;
} Pairs;

static int collect(const char *name, double value, void *u) {
        Pairs *p = u;

        if (p->n >= MAX_PAIRS)
                return -E2BIG;
        p->names[p->n] = strdup(name);
        p->values[p->n] = value;
        p->n++;
        if (p->stop_after > 0 && (int) p->n == p->stop_after)
                return p->stop_value;
        return 0;
}

static void pairs_clear(Pairs *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->names[i]);
        memset(p, 0, sizeof(*p));
}

/* Index of `name` in p, or -1. */
static int find(const Pairs *p, const char *name) {
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->names[i], name) == 0)
                        return (int) i;
        return -1;
}

static double value_of(const Pairs *p, const char *name) {
        int i = find(p, name);
        return i < 0 ? NAN : p->values[i];
}

/* Parses `text` the way the probe does and flattens it into p. */
static int flatten_text(const char *text, const char *prefix, Pairs *p) {
        json_error_t err;
        json_t *root = json_loads(text, JSON_DECODE_INT_AS_REAL, &err);
        int r;

        if (!root) {
                printf("# cannot parse test input: %s\n", err.text);
                return -EBADMSG;
        }
        r = json_flatten(root, prefix, collect, p);
        json_decref(root);
        return r;
}

static void test_nested(void) {
        Pairs p = { 0 };
        int r = flatten_text("{\"Sys\":100,\"gc\":{\"num\":3,\"pause\":{\"total\":0.5}}}", "go.app", &p);

        is_int(r, 3, "nested objects: returns the number of values emitted");
        is_double(value_of(&p, "go.app.Sys"), 100, 0, "top-level number is prefix.key");
        is_double(value_of(&p, "go.app.gc.num"), 3, 0, "nested keys are joined with '.'");
        is_double(value_of(&p, "go.app.gc.pause.total"), 0.5, 0, "three levels deep joined with '.'");
        pairs_clear(&p);
}

static void test_skipped_types(void) {
        Pairs p = { 0 };
        int r = flatten_text("{\"a\":[1,2,{\"x\":3}],\"s\":\"5\",\"t\":true,\"f\":false,"
                             "\"n\":null,\"e\":{},\"keep\":7}", NULL, &p);

        is_int(r, 1, "arrays, strings, booleans, nulls and empty objects emit nothing");
        is_int(find(&p, "keep"), 0, "the one number among them is emitted");
        is_int(find(&p, "a.x"), -1, "objects inside arrays are not walked");
        pairs_clear(&p);
}

static void test_numbers(void) {
        Pairs p = { 0 };
        int r = flatten_text("{\"big\":1e300,\"u64\":18446744073709551615,\"neg\":-42,"
                             "\"negf\":-0.25,\"zero\":0}", "", &p);

        is_int(r, 5, "all numeric forms are emitted");
        is_double(value_of(&p, "big"), 1e300, 1e285, "1e300 survives");
        is_double(value_of(&p, "u64"), 18446744073709551615.0, 4096,
                  "an integer above 2^63 arrives as a real, not a parse failure");
        is_double(value_of(&p, "neg"), -42, 0, "negative integers keep their sign");
        is_double(value_of(&p, "negf"), -0.25, 0, "negative reals keep their sign");
        is_double(value_of(&p, "zero"), 0, 0, "zero is a value, not skipped");
        ok(find(&p, "zero") >= 0, "empty prefix: the name is just the path");
        pairs_clear(&p);
}

static void test_integer_values(void) {
        Pairs p = { 0 };
        json_t *root = json_pack("{s:I}", "heap", (json_int_t) 123456789);
        int r = json_flatten(root, "x", collect, &p);

        is_int(r, 1, "json integers (not only reals) are numeric leaves");
        is_double(value_of(&p, "x.heap"), 123456789, 0, "integer value is passed exactly");
        json_decref(root);
        pairs_clear(&p);
}

static void test_sanitise(void) {
        Pairs p = { 0 };
        int r = flatten_text("{\"a.b\":1,\"c d/e\":2,\"ok_:-Z9\":3,\"\":4,\"x\":{\"\\u00e9\":5}}", "p", &p);

        is_int(r, 5, "every key is kept after sanitising");
        ok(find(&p, "p.a_b") >= 0, "a '.' inside a key becomes '_' so it cannot fake nesting");
        ok(find(&p, "p.c_d_e") >= 0, "spaces and slashes become '_'");
        ok(find(&p, "p.ok_:-Z9") >= 0, "[A-Za-z0-9_:-] are kept as they are");
        ok(find(&p, "p._") >= 0, "an empty key becomes '_'");
        ok(find(&p, "p.x.__") >= 0, "each byte of a non-ASCII key becomes '_'");
        pairs_clear(&p);
}

/* {"k":{"k":...{"k":1}...}} with `levels` keys on the path to the number. */
static char *nested_doc(unsigned levels) {
        size_t n = levels * 6 + 8;
        char *s = malloc(n), *q = s;

        for (unsigned i = 0; i < levels; i++)
                q = stpcpy(q, "{\"k\":");
        q = stpcpy(q, "1");
        for (unsigned i = 0; i < levels; i++)
                *q++ = '}';
        *q = '\0';
        return s;
}

static void test_depth(void) {
        Pairs p = { 0 };
        char *at = nested_doc(JSON_FLATTEN_DEPTH_MAX), *past = nested_doc(JSON_FLATTEN_DEPTH_MAX + 1);

        is_int(flatten_text(at, NULL, &p), 1, "a number %d keys deep is emitted", JSON_FLATTEN_DEPTH_MAX);
        pairs_clear(&p);
        is_int(flatten_text(past, NULL, &p), 0, "a number %d keys deep is skipped",
               JSON_FLATTEN_DEPTH_MAX + 1);
        pairs_clear(&p);
        free(at);
        free(past);
}

static void test_name_length(void) {
        Pairs p = { 0 };
        char key_fit[JSON_FLATTEN_NAME_MAX], key_long[JSON_FLATTEN_NAME_MAX + 2], doc[600];
        int r;

        /* "p." + key is exactly JSON_FLATTEN_NAME_MAX with the first key. */
        memset(key_fit, 'a', JSON_FLATTEN_NAME_MAX - 2);
        key_fit[JSON_FLATTEN_NAME_MAX - 2] = '\0';
        memset(key_long, 'b', JSON_FLATTEN_NAME_MAX - 1);
        key_long[JSON_FLATTEN_NAME_MAX - 1] = '\0';
        snprintf(doc, sizeof(doc), "{\"%s\":1,\"%s\":2,\"short\":3}", key_fit, key_long);

        r = flatten_text(doc, "p", &p);
        is_int(r, 2, "a name one byte too long is skipped, others are kept");
        snprintf(doc, sizeof(doc), "p.%s", key_fit);
        ok(strlen(doc) == JSON_FLATTEN_NAME_MAX && find(&p, doc) >= 0,
           "a name of exactly JSON_FLATTEN_NAME_MAX bytes is emitted");
        ok(find(&p, "p.short") >= 0, "siblings after a skipped long key are still emitted");
        pairs_clear(&p);
}

static void test_prefix(void) {
        Pairs p = { 0 };

        flatten_text("{\"v\":1}", "go.app", &p);
        ok(find(&p, "go.app.v") >= 0, "prefix and path are joined with '.'");
        pairs_clear(&p);
        flatten_text("{\"v\":1}", NULL, &p);
        ok(find(&p, "v") >= 0, "NULL prefix: the name is just the path");
        pairs_clear(&p);
        flatten_text("{\"v\":1}", "go.my app", &p);
        ok(find(&p, "go.my app.v") >= 0, "the caller's prefix is used verbatim, not sanitised");
        pairs_clear(&p);
}

static void test_callback_result(void) {
        Pairs p = { .stop_after = 2, .stop_value = -ENOMEM };
        int r = flatten_text("{\"a\":1,\"b\":2,\"c\":3}", NULL, &p);

        is_int(r, -ENOMEM, "a negative callback result is returned as is");
        is_int(p.n, 2, "the walk stops at the first failing callback");
        pairs_clear(&p);

        p = (Pairs) { .stop_after = 1, .stop_value = 1 };
        r = flatten_text("{\"a\":1,\"b\":2,\"c\":3}", NULL, &p);
        is_int(p.n, 1, "a positive callback result stops the walk");
        is_int(r, 1, "after a positive stop, the count emitted so far is returned");
        pairs_clear(&p);
}

static void test_non_object(void) {
        Pairs p = { 0 };
        const char *docs[] = { "[1,2]", "3", "\"s\"", "null", "true" };

        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
                json_t *root = json_loads(docs[i], JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
                is_int(json_flatten(root, "p", collect, &p), -EINVAL, "root %s is refused with -EINVAL",
                       docs[i]);
                json_decref(root);
        }
        is_int(json_flatten(NULL, "p", collect, &p), -EINVAL, "NULL root is refused with -EINVAL");
        is_int(p.n, 0, "nothing is emitted for a non-object root");
        pairs_clear(&p);
}

int main(void) {
        test_nested();
        test_skipped_types();
        test_numbers();
        test_integer_values();
        test_sanitise();
        test_depth();
        test_name_length();
        test_prefix();
        test_callback_result();
        test_non_object();
        return tap_done();
}
