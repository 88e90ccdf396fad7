/* The streaming flattener gives what json_flatten gives on the whole
 * document, however the text is cut into pieces, and says where a bad
 * document goes wrong. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/json-flatten.h"
#include "util/json-stream.h"
#include "tap.h"

#define MAX_PAIRS 64

typedef struct Pairs {
        size_t n;
        char names[MAX_PAIRS][JSON_FLATTEN_NAME_MAX + 1];
        double values[MAX_PAIRS];
        int fail_at;         /* fn returns -EMSGSIZE on this call (1-based); 0 = never */
} Pairs;

static int collect(const char *name, double value, void *u) {
        Pairs *p = u;

        if (p->fail_at > 0 && (int) p->n + 1 == p->fail_at)
                return -EMSGSIZE;
        if (p->n >= MAX_PAIRS)
                return -E2BIG;
        snprintf(p->names[p->n], sizeof(p->names[p->n]), "%s", name);
        p->values[p->n++] = value;
        return 0;
}

/* Feeds `text` in pieces of `piece` bytes; the last feed's or finish's result. */
static int stream(const char *text, size_t piece, const char *prefix, Pairs *out, char *error, size_t n) {
        JsonStream *s = NULL;
        size_t len = strlen(text);
        unsigned count = 0;
        int r;

        memset(out->names, 0, sizeof(out->names));
        out->n = 0;
        r = json_stream_new(prefix, collect, out, &s);
        for (size_t off = 0; r >= 0 && off < len; off += piece)
                r = json_stream_feed(s, text + off, len - off < piece ? len - off : piece);
        if (r >= 0)
                r = json_stream_finish(s, &count);
        snprintf(error, n, "%s", json_stream_error(s));
        json_stream_free(s);
        return r < 0 ? r : (int) count;
}

static int flatten(const char *text, const char *prefix, Pairs *out) {
        json_t *root = json_loads(text, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
        int r;

        memset(out->names, 0, sizeof(out->names));
        out->n = 0;
        r = json_flatten(root, prefix, collect, out);
        json_decref(root);
        return r;
}

static int same(const Pairs *a, const Pairs *b) {
        if (a->n != b->n)
                return 0;
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(a->names[i], b->names[i]) != 0 || a->values[i] != b->values[i])
                        return 0;
        return 1;
}

static const char *const documents[] = {
        "{\"Sys\": 123, \"HeapAlloc\": 4.5e6, \"gc\": {\"num\": 3, \"pause\": {\"total\": -1.25}}}",
        "{\"a\": [1, 2, {\"x\": 3}], \"b\": \"s\", \"c\": true, \"d\": null, \"e\": {}, \"f\": 7}",
        "{\"a.b\": 1, \"sp ace\": 2, \"\": 3, \"caf\\u00e9\": 4, \"ok_:-\": 5}",
        "{\"big\": 18446744073709551616, \"tiny\": 1e-300, \"zero\": 0, \"neg\": -0.5}",
        "{\"l1\":{\"l2\":{\"l3\":{\"l4\":{\"l5\":{\"l6\":{\"l7\":{\"l8\":{\"l9\":{\"l10\":{\"l11\":{\"l12\":"
        "{\"l13\":{\"l14\":{\"l15\":{\"v\":1,\"l16\":{\"v\":2}}}}}}}}}}}}}}}}, \"after\": 9}",
        "{\"x\": {\"y\": 1}, \"z\": 2, \"x2\": {\"deep\": {\"w\": 3}}, \"tail\": 4}",
};

static void test_same_as_flatten(void) {
        char error[JSON_STREAM_ERROR_MAX];
        Pairs a, b;

        for (size_t d = 0; d < sizeof(documents) / sizeof(documents[0]); d++) {
                int want = flatten(documents[d], "go.app", &a);
                int whole = stream(documents[d], 1 << 20, "go.app", &b, error, sizeof(error));

                is_int(whole, want, "document %zu in one piece: as many values as json_flatten", d);
                ok(same(&a, &b), "document %zu in one piece: the same names and values as json_flatten", d);
                (void) stream(documents[d], 1, "go.app", &b, error, sizeof(error));
                ok(same(&a, &b), "document %zu fed a byte at a time: the same names and values", d);
                (void) stream(documents[d], 7, NULL, &b, error, sizeof(error));
                (void) flatten(documents[d], NULL, &a);
                ok(same(&a, &b), "document %zu in 7-byte pieces without a prefix: the same", d);
        }
}

static void test_long_names(void) {
        char doc[600], key[JSON_FLATTEN_NAME_MAX + 10], error[JSON_STREAM_ERROR_MAX];
        Pairs a, b;

        memset(key, 'k', sizeof(key) - 1);
        key[sizeof(key) - 1] = '\0';
        snprintf(doc, sizeof(doc), "{\"%s\": 1, \"short\": 2, \"o\": {\"%s\": 3, \"p\": 4}}", key, key);
        is_int(stream(doc, 3, "go.app", &b, error, sizeof(error)), flatten(doc, "go.app", &a),
               "names too long are skipped as json_flatten skips them");
        ok(same(&a, &b), "and the siblings of a too-long key keep their names");

        /* "go.app." and a key: exactly JSON_FLATTEN_NAME_MAX bytes, then one more. */
        key[JSON_FLATTEN_NAME_MAX - strlen("go.app.")] = '\0';
        snprintf(doc, sizeof(doc), "{\"%s\": 5, \"%sk\": 6}", key, key);
        is_int(stream(doc, 1 << 20, "go.app", &b, error, sizeof(error)), 1,
               "a name of exactly JSON_FLATTEN_NAME_MAX bytes is kept, one byte more is not");
        ok(b.n == 1 && strlen(b.names[0]) == JSON_FLATTEN_NAME_MAX && b.values[0] == 5,
           "the kept one is the name of JSON_FLATTEN_NAME_MAX bytes");
}

static void expect_bad(const char *text, const char *want, const char *what) {
        char error[JSON_STREAM_ERROR_MAX];
        Pairs p;
        int r = stream(text, 4, "go", &p, error, sizeof(error));

        is_int(r, -EBADMSG, "%s: -EBADMSG", what);
        ok(strstr(error, want) != NULL, "%s: the error says '%s' (got '%s')", what, want, error);
}

static void test_errors(void) {
        expect_bad("{\"a\": 1,", "invalid JSON", "a truncated object");
        expect_bad("", "invalid JSON", "an empty body");
        expect_bad("<html>oops</html>", "invalid JSON at byte 0", "an HTML page");
        expect_bad("{\"a\": 1} trailing", "invalid JSON", "text after the object");
        expect_bad("{\"a\": 1, \"b\": nope}", "invalid JSON at byte", "a bad value names its byte");
        expect_bad("[1, 2]", "JSON is not an object", "an array at the root");
        expect_bad("42", "JSON is not an object", "a number at the root");
        expect_bad("\"s\"", "JSON is not an object", "a string at the root");
        expect_bad("{\"a\": \"\xff\"}", "invalid JSON", "a string that is not UTF-8");
}

static void test_callback_error(void) {
        char error[JSON_STREAM_ERROR_MAX];
        Pairs p = { .fail_at = 3 };
        int r;

        r = stream("{\"a\": 1, \"b\": 2, \"c\": 3, \"d\": 4}", 2, NULL, &p, error, sizeof(error));
        is_int(r, -EMSGSIZE, "a negative value from fn stops the parse and is returned");
        is_int((int) p.n, 2, "the values before it were delivered");
}

/* The whole point: a big body with few fields costs time linear in its
 * size and no memory beyond the parser's.  Fed in 16 KiB pieces, as
 * curl hands a body over, the loop is held well under a millisecond at a
 * time. */
static void test_big_body_is_fast(void) {
        size_t size = 16u << 20, off;
        char *doc = malloc(size + 64), error[JSON_STREAM_ERROR_MAX];
        struct timespec t0, t1;
        double ms_per_mib;
        Pairs p;
        int r;

        off = (size_t) sprintf(doc, "{\"Sys\": 1, \"pad\": [");
        while (off < size)
                off += (size_t) sprintf(doc + off, "123456789,");
        strcpy(doc + off, "0], \"HeapAlloc\": 2}");
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = stream(doc, 16384, "go", &p, error, sizeof(error));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms_per_mib = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / (double) (size >> 20);
        is_int(r, 2, "a 16 MiB body with two numeric fields gives those two");
        printf("# %.2f ms per MiB\n", ms_per_mib);
        /* Generous for sanitizer builds and a shared machine: jansson's
         * document took about 45 ms per MiB here. */
        ok(ms_per_mib < 25.0, "parsing costs under 25 ms per MiB (%.1f)", ms_per_mib);
        free(doc);
}

int main(void) {
        test_same_as_flatten();
        test_long_names();
        test_errors();
        test_callback_error();
        test_big_body_is_fast();
        return tap_done();
}
