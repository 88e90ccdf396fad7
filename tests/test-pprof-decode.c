#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "probes/pprof-decode.h"
#include "util/protobuf.h"
#include "tap.h"

#define MiB (1024 * 1024)

/* ------------------------------------------------------------ a tiny encoder */

typedef struct Buf {
        uint8_t *p;
        size_t len, cap;
} Buf;

static void put_byte(Buf *b, uint8_t c) {
        if (b->len == b->cap) {
                b->cap = b->cap ? b->cap * 2 : 256;
                b->p = realloc(b->p, b->cap);
                if (!b->p)
                        abort();
        }
        b->p[b->len++] = c;
}

static void put_raw(Buf *b, const void *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                put_byte(b, ((const uint8_t *) p)[i]);
}

static void put_varint(Buf *b, uint64_t v) {
        do {
                put_byte(b, (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
                v >>= 7;
        } while (v);
}

static void put_key(Buf *b, unsigned field, unsigned wire) {
        put_varint(b, (uint64_t) field << 3 | wire);
}

static void put_uint(Buf *b, unsigned field, uint64_t v) {
        put_key(b, field, 0);
        put_varint(b, v);
}

static void put_bytes(Buf *b, unsigned field, const void *p, size_t n) {
        put_key(b, field, 2);
        put_varint(b, n);
        put_raw(b, p, n);
}

static void put_str(Buf *b, unsigned field, const char *s) {
        put_bytes(b, field, s, strlen(s));
}

/* Appends m as a length-delimited field and frees it. */
static void put_msg(Buf *b, unsigned field, Buf *m) {
        put_bytes(b, field, m->p, m->len);
        free(m->p);
        *m = (Buf) {};
}

/* A repeated varint field, packed or one key per element. */
static void put_repeated(Buf *b, unsigned field, const uint64_t *v, size_t n, bool packed) {
        Buf m = {};

        if (!packed) {
                for (size_t i = 0; i < n; i++)
                        put_uint(b, field, v[i]);
                return;
        }
        for (size_t i = 0; i < n; i++)
                put_varint(&m, v[i]);
        put_msg(b, field, &m);
}

/* Unknown fields of every wire type, which the decoder must skip. */
static void put_unknown(Buf *b) {
        uint8_t fixed[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

        put_uint(b, 99, 12345);
        put_key(b, 100, 1);
        put_raw(b, fixed, 8);
        put_key(b, 101, 5);
        put_raw(b, fixed, 4);
        put_str(b, 102, "ignored");
}

/* ------------------------------------------------------------ a hand-built profile */

enum { BAD_NONE, BAD_LOCATION_ID, BAD_FUNCTION_ID, BAD_STRING_INDEX, BAD_VALUE_COUNT, BAD_GROUP,
       BAD_DUPLICATE_ID, BAD_STRING0 };

typedef struct Opts {
        bool packed;
        bool strings_first;          /* Go writes them last */
        bool unknown;
        const char *default_type;    /* NULL: unset */
        int bad;
} Opts;

/* String indices of the hand-built profile. */
enum { S_EMPTY, S_SAMPLES, S_COUNT, S_SPACE, S_BYTES, S_A, S_B, S_INL, S_A_AGAIN, S_FILE, S_MAX };

static const char *const strings[S_MAX] = {
        "", "samples", "count", "space", "bytes", "main.a", "main.b", "main.inl", "main.a", "x.go",
};

static void put_strings(Buf *b, const Opts *o) {
        for (size_t i = 0; i < S_MAX; i++)
                put_str(b, 6, i == 0 && o->bad == BAD_STRING0 ? "x" : strings[i]);
}

static void put_value_type(Buf *b, unsigned field, int64_t type, int64_t unit) {
        Buf m = {};

        put_uint(&m, 1, (uint64_t) type);
        put_uint(&m, 2, (uint64_t) unit);
        put_msg(b, field, &m);
}

static void put_function(Buf *b, const Opts *o, uint64_t id, int64_t name) {
        Buf m = {};

        put_uint(&m, 1, id);
        put_uint(&m, 2, (uint64_t) (o->bad == BAD_STRING_INDEX && id == 2 ? 99 : name));
        put_uint(&m, 4, S_FILE);
        put_uint(&m, 5, 10);
        if (o->unknown)
                put_unknown(&m);
        put_msg(b, 5, &m);
}

/* A location with the given function ids as its lines (innermost first). */
static void put_location(Buf *b, const Opts *o, uint64_t id, const uint64_t *fns, size_t n) {
        Buf m = {};

        put_uint(&m, 1, id);
        put_uint(&m, 3, 0x4000 + id * 0x10);
        for (size_t i = 0; i < n; i++) {
                Buf line = {};
                put_uint(&line, 1, o->bad == BAD_FUNCTION_ID && id == 3 ? 77 : fns[i]);
                put_uint(&line, 2, 42);
                if (o->unknown)
                        put_unknown(&line);
                put_msg(&m, 4, &line);
        }
        if (o->unknown)
                put_unknown(&m);
        put_msg(b, 4, &m);
}

static void put_sample(Buf *b, const Opts *o, const uint64_t *locs, size_t n, uint64_t count, uint64_t space) {
        uint64_t values[3] = { count, space, 7 };
        Buf m = {};

        put_repeated(&m, 1, locs, n, o->packed);
        put_repeated(&m, 2, values, o->bad == BAD_VALUE_COUNT ? 3 : 2, o->packed);
        if (o->unknown)
                put_unknown(&m);
        put_msg(b, 2, &m);
}

static void put_samples(Buf *b, const Opts *o) {
        static const uint64_t s1[] = { 1, 2 }, s2[] = { 2 }, s3[] = { 3, 2 }, s4[] = { 4 }, s5[] = { 5, 1 };
        static const uint64_t s6[] = { 42 };

        put_sample(b, o, s1, 2, 1, 100);
        put_sample(b, o, s2, 1, 2, 200);
        put_sample(b, o, s3, 2, 1, 50);
        put_sample(b, o, s4, 1, 1, 30);
        put_sample(b, o, o->bad == BAD_LOCATION_ID ? s6 : s5, 2 - (o->bad == BAD_LOCATION_ID), 1, 25);
}

static void put_tables(Buf *b, const Opts *o) {
        static const uint64_t l1[] = { 1 }, l2[] = { 2 }, l3[] = { 3, 2 }, l5[] = { 4 };

        put_location(b, o, 1, l1, 1);
        put_location(b, o, 2, l2, 1);
        put_location(b, o, 3, l3, 2);  /* main.inl inlined into main.b */
        put_location(b, o, 4, NULL, 0); /* no symbols: shown by address */
        put_location(b, o, 5, l5, 1);
        put_function(b, o, 1, S_A);
        put_function(b, o, 2, S_B);
        put_function(b, o, 3, S_INL);
        /* Another function of the same name: its flat adds up with main.a's. */
        put_function(b, o, o->bad == BAD_DUPLICATE_ID ? 3 : 4, S_A_AGAIN);
}

/* Samples:   locations   samples  space   leaf
 *            [1 2]       1        100     main.a
 *            [2]         2        200     main.b
 *            [3 2]       1         50     main.inl (first line of location 3)
 *            [4]         1         30     0x4040 (no lines)
 *            [5 1]       1         25     main.a (function 4, same name)  */
static Buf build_profile(const Opts *o) {
        Buf b = {};

        if (o->strings_first)
                put_strings(&b, o);
        if (o->unknown)
                put_unknown(&b);
        put_value_type(&b, 1, S_SAMPLES, S_COUNT);
        put_value_type(&b, 1, S_SPACE, S_BYTES);
        put_samples(&b, o);
        put_tables(&b, o);
        if (o->bad == BAD_GROUP) {
                put_key(&b, 20, 3);
                put_key(&b, 20, 4);
        }
        if (!o->strings_first)
                put_strings(&b, o);
        put_uint(&b, 9, 1700000000000000000ULL);
        put_uint(&b, 10, 2000000000);
        put_value_type(&b, 11, S_SPACE, S_BYTES);
        put_uint(&b, 12, 524288);
        if (o->default_type) {
                size_t i;
                for (i = 0; i < S_MAX && strcmp(strings[i], o->default_type) != 0; i++)
                        ;
                put_uint(&b, 14, i);
        }
        return b;
}

static int decode_buf(const Buf *b, PprofSummary **s, char *err, size_t err_size) {
        *s = NULL;
        return pprof_decode(b->p, b->len, 4 * MiB, s, err, err_size);
}

static const char *top_name(const PprofSummary *s, size_t i) {
        return s && i < s->n_top ? s->top[i].function : NULL;
}

static double top_flat(const PprofSummary *s, size_t i) {
        return s && i < s->n_top ? s->top[i].flat : -1;
}

static void check_hand_built(const Opts *o, const char *label) {
        Buf b = build_profile(o);
        PprofSummary *s = NULL;
        char err[256];
        int r = decode_buf(&b, &s, err, sizeof err);

        is_int(r, 0, "%s: decodes (%s)", label, r < 0 ? err : "ok");
        if (r < 0) {
                free(b.p);
                return;
        }
        is_int(s->n_types, 2, "%s: two sample types", label);
        is_str(s->types[1].type, "space", "%s: sample type names come from the string table", label);
        is_str(s->types[1].unit, "bytes", "%s: sample type units come from the string table", label);
        is_double(s->types[0].total, 6, 0, "%s: samples total sums the first value column", label);
        is_double(s->types[1].total, 405, 0, "%s: space total sums the second value column", label);
        is_int(s->n_samples, 5, "%s: counts the samples", label);
        is_int(s->top_type, 1, "%s: ranks by the last sample type without default_sample_type", label);
        is_int(s->n_top, 4, "%s: one top entry per leaf name", label);
        is_str(top_name(s, 0), "main.b", "%s: biggest flat first", label);
        is_double(top_flat(s, 0), 200, 0, "%s: main.b flat excludes callees' samples", label);
        is_str(top_name(s, 1), "main.a", "%s: same-named functions aggregate", label);
        is_double(top_flat(s, 1), 125, 0, "%s: main.a flat is 100 + 25", label);
        is_str(top_name(s, 2), "main.inl", "%s: the first line (innermost inlined) is the leaf", label);
        is_str(top_name(s, 3), "0x4040", "%s: a location without lines is named by its address", label);
        is_int(s->duration_nanos, 2000000000, "%s: duration_nanos is read", label);
        is_int(s->period, 524288, "%s: period is read", label);
        is_int(s->time_nanos, 1700000000000000000LL, "%s: time_nanos is read", label);
        pprof_summary_free(s);
        free(b.p);
}

static void test_encodings(void) {
        check_hand_built(&(Opts) { .packed = true }, "packed");
        check_hand_built(&(Opts) { .packed = false }, "unpacked");
        check_hand_built(&(Opts) { .packed = true, .unknown = true }, "unknown fields");
        check_hand_built(&(Opts) { .packed = false, .strings_first = true }, "string_table first");
}

static void test_default_sample_type(void) {
        Buf b = build_profile(&(Opts) { .packed = true, .default_type = "samples" });
        PprofSummary *s = NULL;
        char err[256];

        is_int(decode_buf(&b, &s, err, sizeof err), 0, "default_sample_type profile decodes");
        is_int(s ? s->top_type : 99, 0, "default_sample_type picks the type the top ranks by");
        /* Ties (main.a and main.b at 2, 0x4040 and main.inl at 1) break by name. */
        is_str(top_name(s, 0), "main.a", "ties on flat are broken by name (main.a before main.b)");
        is_str(top_name(s, 1), "main.b", "main.b second at 2 samples");
        is_str(top_name(s, 2), "0x4040", "address names sort before letters on a tie");
        is_double(top_flat(s, 2), 1, 0, "0x4040 has 1 sample");
        pprof_summary_free(s);
        free(b.p);
}

static void check_bad(const Opts *o, const char *label, const char *want) {
        Buf b = build_profile(o);
        PprofSummary *s = (PprofSummary *) &b;
        char err[256] = "unset";
        int r = decode_buf(&b, &s, err, sizeof err);

        is_int(r, -EINVAL, "%s is refused with -EINVAL", label);
        ok(strstr(err, want) != NULL, "%s: the error says \"%s\" (got \"%s\")", label, want, err);
        ok(r == 0 || s == NULL, "%s: no summary is returned", label);
        if (r == 0)
                pprof_summary_free(s);
        free(b.p);
}

static void test_bad_profiles(void) {
        check_bad(&(Opts) { .bad = BAD_LOCATION_ID }, "unknown location id",
                  "sample.location_id 42 is not a known location");
        check_bad(&(Opts) { .bad = BAD_FUNCTION_ID }, "unknown function id",
                  "location 3: line.function_id 77 is not a known function");
        check_bad(&(Opts) { .bad = BAD_STRING_INDEX }, "string index past the table",
                  "function.name: string index 99 is outside the string table (10 strings)");
        check_bad(&(Opts) { .packed = true, .bad = BAD_VALUE_COUNT }, "3 values for 2 types (packed)",
                  "sample 0 has 3 values for 2 sample types");
        check_bad(&(Opts) { .bad = BAD_VALUE_COUNT }, "3 values for 2 types (unpacked)",
                  "sample 0 has 3 values for 2 sample types");
        check_bad(&(Opts) { .bad = BAD_GROUP }, "a protobuf group", "is a protobuf group (wire type 3)");
        check_bad(&(Opts) { .bad = BAD_DUPLICATE_ID }, "a duplicate function id", "function id 3 is defined twice");
        check_bad(&(Opts) { .bad = BAD_STRING0 }, "a non-empty string_table[0]",
                  "string_table[0] is not the empty string");
}

static void check_raw(const void *p, size_t n, const char *label, int want_r, const char *want) {
        PprofSummary *s = NULL;
        char err[256] = "unset";
        int r = pprof_decode(p, n, 4 * MiB, &s, err, sizeof err);

        is_int(r, want_r, "%s gives %d", label, want_r);
        ok(strstr(err, want) != NULL, "%s: the error says \"%s\" (got \"%s\")", label, want, err);
        pprof_summary_free(s);
}

static void test_wire_errors(void) {
        static const uint8_t long_varint[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
        static const uint8_t trunc_varint[] = { 0x08, 0xff, 0xff };
        static const uint8_t long_len[] = { 0x32, 0x10, 'a', 'b' };
        static const uint8_t bad_wire[] = { 0x0e, 0x00 };
        static const uint8_t field0[] = { 0x02, 0x00 };
        static const uint8_t trunc_fixed[] = { 0x49, 1, 2, 3 };
        static const uint8_t wrong_wire[] = { 0x0d, 1, 2, 3, 4 };
        static const uint8_t no_strings[] = { 0x48, 0x01 };
        static const uint8_t no_types[] = { 0x32, 0x00 };

        check_raw("", 0, "empty input", -EINVAL, "profile is empty");
        check_raw(long_varint, sizeof long_varint, "an 11-byte varint", -EINVAL,
                  "varint at offset 1 overflows 64 bits");
        check_raw(trunc_varint, sizeof trunc_varint, "a truncated varint", -EINVAL, "truncated varint at offset 1");
        check_raw(long_len, sizeof long_len, "a length past the buffer", -EINVAL,
                  "field 6 at offset 0: length 16 runs past the end of its message (2 bytes left)");
        check_raw(bad_wire, sizeof bad_wire, "wire type 6", -EINVAL, "has invalid wire type 6");
        check_raw(field0, sizeof field0, "field number 0", -EINVAL, "invalid field number 0 at offset 0");
        check_raw(trunc_fixed, sizeof trunc_fixed, "a truncated fixed64", -EINVAL,
                  "truncated 8-byte fixed field at offset 1");
        check_raw(wrong_wire, sizeof wrong_wire, "sample_type as fixed32", -EINVAL,
                  "sample_type at offset 0 has wire type 5, expected 2");
        check_raw(no_strings, sizeof no_strings, "a profile without strings", -EINVAL, "profile has no string_table");
        check_raw(no_types, sizeof no_types, "a profile without sample types", -EINVAL,
                  "profile has no sample_type");
}

/* Hostile input cannot make the decoder allocate without bound. */
static void test_limits(void) {
        Buf b = {};

        for (int i = 0; i < 129; i++)
                put_bytes(&b, 1, "", 0);
        check_raw(b.p, b.len, "129 sample types", -EINVAL, "profile has more than 128 sample_type entries");
        b.len = 0;
        for (int i = 0; i < 1000001; i++)
                put_bytes(&b, 6, "", 0);
        check_raw(b.p, b.len, "a million and one strings", -EINVAL,
                  "profile has more than 1000000 string_table entries");
        free(b.p);
}

static void test_bad_utf8(void) {
        Buf b = {}, m = {}, line = {};
        PprofSummary *s = NULL;
        char err[256], *text = NULL;
        json_t *j;

        put_uint(&m, 1, 1);
        put_uint(&m, 2, 2);
        put_msg(&b, 1, &m);
        put_uint(&m, 1, 1);
        put_uint(&m, 2, 1);
        put_msg(&b, 5, &m);
        put_uint(&line, 1, 1);
        put_uint(&m, 1, 1);
        put_msg(&m, 4, &line);
        put_msg(&b, 4, &m);
        put_uint(&m, 1, 1);
        put_uint(&m, 2, 5);
        put_msg(&b, 2, &m);
        put_str(&b, 6, "");
        put_bytes(&b, 6, "f\xff\xc0\x80n\0x", 7);
        put_str(&b, 6, "t\xed\xa0\x80");

        is_int(decode_buf(&b, &s, err, sizeof err), 0, "a profile with invalid UTF-8 names decodes");
        is_str(top_name(s, 0), "f???n?x", "bytes that are not UTF-8 (and NUL) become '?'");
        is_str(s ? s->types[0].type : NULL, "f???n?x", "sample type names are made valid UTF-8 too");
        is_str(s ? s->types[0].unit : NULL, "t???", "UTF-16 surrogates encoded in UTF-8 are refused");
        j = s ? pprof_summary_to_json(s) : NULL;
        text = j ? json_dumps(j, 0) : NULL;
        ok(text != NULL, "the summary of such a profile still converts to JSON");
        free(text);
        json_decref(j);
        pprof_summary_free(s);
        free(b.p);
}

static void test_json(void) {
        Buf b = build_profile(&(Opts) { .packed = true });
        PprofSummary *s = NULL;
        char err[256];
        json_t *j, *types, *top;

        decode_buf(&b, &s, err, sizeof err);
        j = s ? pprof_summary_to_json(s) : NULL;
        ok(j != NULL, "the summary converts to JSON");
        types = json_object_get(j, "sample_types");
        top = json_object_get(j, "top");
        is_int(json_array_size(types), 2, "JSON lists both sample types");
        is_str(json_string_value(json_object_get(json_array_get(types, 1), "type")), "space",
               "JSON sample_types[1].type");
        is_double(json_number_value(json_object_get(json_array_get(types, 1), "total")), 405, 0,
                  "JSON sample_types[1].total");
        is_str(json_string_value(json_object_get(j, "top_type")), "space", "JSON top_type names the ranking type");
        is_int(json_array_size(top), 4, "JSON lists the top functions");
        is_str(json_string_value(json_object_get(json_array_get(top, 0), "function")), "main.b",
               "JSON top[0].function");
        is_double(json_number_value(json_object_get(json_array_get(top, 0), "flat")), 200, 0, "JSON top[0].flat");
        is_int(json_integer_value(json_object_get(j, "samples")), 5, "JSON samples");
        is_int(json_integer_value(json_object_get(j, "duration_ns")), 2000000000, "JSON duration_ns");
        json_decref(j);
        pprof_summary_free(s);
        free(b.p);
}

/* ------------------------------------------------------------ gzip */

static Buf gzip_buf(const void *p, size_t n) {
        z_stream z = {};
        Buf out = {};

        out.cap = compressBound(n) + 64;
        out.p = malloc(out.cap);
        if (!out.p || deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
                abort();
        z.next_in = (Bytef *) p;
        z.avail_in = (uInt) n;
        z.next_out = out.p;
        z.avail_out = (uInt) out.cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
                abort();
        out.len = z.total_out;
        deflateEnd(&z);
        return out;
}

static Buf gunzip_buf(const Buf *in) {
        z_stream z = {};
        Buf out = { .cap = 16 * MiB };

        out.p = malloc(out.cap);
        if (!out.p || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                abort();
        z.next_in = in->p;
        z.avail_in = (uInt) in->len;
        z.next_out = out.p;
        z.avail_out = (uInt) out.cap;
        if (inflate(&z, Z_FINISH) != Z_STREAM_END)
                abort();
        out.len = z.total_out;
        inflateEnd(&z);
        return out;
}

static void test_gzip(void) {
        Buf plain = build_profile(&(Opts) { .packed = true });
        Buf gz = gzip_buf(plain.p, plain.len), cat = {}, half1, half2;
        size_t zeros_len = 16 * MiB;
        uint8_t *zeros = calloc(1, zeros_len);
        Buf bomb = gzip_buf(zeros, zeros_len);
        PprofSummary *s = NULL;
        char err[256] = "unset";
        int r;

        r = pprof_decode(gz.p, gz.len, 4 * MiB, &s, err, sizeof err);
        is_int(r, 0, "a gzipped profile is inflated before decoding");
        is_double(s ? s->types[1].total : -1, 405, 0, "the gzipped profile gives the same totals");
        s = pprof_summary_free(s);

        r = pprof_decode(gz.p, gz.len, plain.len, &s, err, sizeof err);
        is_int(r, 0, "inflating to exactly max_inflated bytes is allowed");
        s = pprof_summary_free(s);
        r = pprof_decode(gz.p, gz.len, plain.len - 1, &s, err, sizeof err);
        is_int(r, -EFBIG, "one byte past max_inflated gives -EFBIG");

        r = pprof_decode(bomb.p, bomb.len, 4 * MiB, &s, err, sizeof err);
        is_int(r, -EFBIG, "a gzip bomb (%zu bytes inflating to 16 MiB) gives -EFBIG", bomb.len);
        is_str(err, "profile inflates past the limit of 4194304 bytes", "the -EFBIG error names the limit");
        ok(s == NULL, "a refused bomb returns no summary");

        /* The profile split in two gzip members, as `cat a.gz b.gz` makes. */
        half1 = gzip_buf(plain.p, plain.len / 2);
        half2 = gzip_buf(plain.p + plain.len / 2, plain.len - plain.len / 2);
        put_raw(&cat, half1.p, half1.len);
        put_raw(&cat, half2.p, half2.len);
        r = pprof_decode(cat.p, cat.len, 4 * MiB, &s, err, sizeof err);
        is_int(r, 0, "concatenated gzip members are read as one stream");
        is_double(s ? s->types[1].total : -1, 405, 0, "the profile split over two members decodes whole");
        s = pprof_summary_free(s);
        r = pprof_decode(half1.p, half1.len, 4 * MiB, &s, err, sizeof err);
        is_int(r, -EINVAL, "the first member alone is a truncated profile");
        free(half1.p);
        free(half2.p);

        r = pprof_decode(gz.p, gz.len - 4, 4 * MiB, &s, err, sizeof err);
        is_int(r, -EINVAL, "a gzip stream without its trailer is refused");
        ok(strstr(err, "gzip stream is truncated") != NULL, "the error says the gzip stream is truncated (%s)", err);
        gz.p[gz.len / 2] ^= 0xff;
        r = pprof_decode(gz.p, gz.len, 4 * MiB, &s, err, sizeof err);
        ok(r == -EINVAL && strstr(err, "gzip data is corrupt") != NULL, "corrupt gzip data is refused (%s)", err);
        pprof_summary_free(s);

        free(zeros);
        free(plain.p);
        free(gz.p);
        free(bomb.p);
        free(cat.p);
}

/* ------------------------------------------------------------ real profiles */

static Buf slurp(const char *name) {
        const char *top = getenv("TOP_SRCDIR");
        char path[1024];
        Buf b = {};
        uint8_t chunk[4096];
        size_t n;
        FILE *f;

        snprintf(path, sizeof path, "%s/tests/data/%s", top ? top : ".", name);
        f = fopen(path, "rb");
        if (!f) {
                printf("Bail out! cannot read %s\n", path);
                exit(99);
        }
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
                put_raw(&b, chunk, n);
        fclose(f);
        return b;
}

typedef struct Expect {
        const char *file;
        size_t n_types;
        const char *types[4];
        double totals[4];
        const char *top_type;
        size_t n_top;                /* how many of top[] to compare */
        const char *top[4];
        double flat[4];
} Expect;

/* The figures are go tool pprof's for the same files (Go 1.19, PPROF_TMPDIR
 * set):  go tool pprof -top -sample_index=TYPE -unit=B FILE  prints
 * "... of N total" and the flat column; the files were captured from the
 * demo target (-leak 4MiB, wrk on /api/items during the CPU profile).
 *   heap.pb.gz:  alloc_objects 3550528, alloc_space 400436818B,
 *                inuse_objects 12632, inuse_space 17619392B;
 *                inuse_space top: main.(*leaker).tick 13784584B,
 *                runtime/pprof.StartCPUProfile 1212696B, runtime.malg 524496B,
 *                net/textproto.readMIMEHeader 524464B (7 nodes with flat > 0)
 *   goroutine.pb.gz: 17 total (also goroutine?debug=1's "total 17");
 *                runtime.gopark 13, then 1 each for
 *                runtime.goroutineProfileWithLabels, runtime.notetsleepg,
 *                syscall.Syscall
 *   cpu.pb.gz:   samples 195, cpu 1950000000ns, Duration: 2.12s;
 *                runtime/internal/syscall.Syscall6 770000000ns,
 *                runtime.epollwait 60000000ns, runtime.mallocgc 60000000ns,
 *                runtime.futex 40000000ns */
static const Expect expected[] = {
        { "heap.pb.gz", 4, { "alloc_objects", "alloc_space", "inuse_objects", "inuse_space" },
          { 3550528, 400436818, 12632, 17619392 }, "inuse_space", 4,
          { "main.(*leaker).tick", "runtime/pprof.StartCPUProfile", "runtime.malg", "net/textproto.readMIMEHeader" },
          { 13784584, 1212696, 524496, 524464 } },
        { "goroutine.pb.gz", 1, { "goroutine" }, { 17 }, "goroutine", 4,
          { "runtime.gopark", "runtime.goroutineProfileWithLabels", "runtime.notetsleepg", "syscall.Syscall" },
          { 13, 1, 1, 1 } },
        { "cpu.pb.gz", 2, { "samples", "cpu" }, { 195, 1950000000 }, "cpu", 4,
          { "runtime/internal/syscall.Syscall6", "runtime.epollwait", "runtime.mallocgc", "runtime.futex" },
          { 770000000, 60000000, 60000000, 40000000 } },
};

static void check_real(const Expect *e, PprofSummary *s) {
        is_int(s->n_types, e->n_types, "%s: %zu sample types", e->file, e->n_types);
        for (size_t i = 0; i < e->n_types && i < s->n_types; i++) {
                is_str(s->types[i].type, e->types[i], "%s: sample type %zu is %s", e->file, i, e->types[i]);
                is_double(s->types[i].total, e->totals[i], 0, "%s: %s total equals go tool pprof's",
                          e->file, e->types[i]);
        }
        is_str(s->types[s->top_type].type, e->top_type, "%s: ranked by %s, as go tool pprof by default",
               e->file, e->top_type);
        ok(s->n_top >= e->n_top && s->n_top <= PPROF_TOP_MAX, "%s: at most %d top functions (%zu)", e->file,
           PPROF_TOP_MAX, s->n_top);
        for (size_t i = 0; i < e->n_top; i++) {
                is_str(top_name(s, i), e->top[i], "%s: top[%zu] is go tool pprof's", e->file, i);
                is_double(top_flat(s, i), e->flat[i], 0, "%s: top[%zu] flat equals go tool pprof's", e->file, i);
        }
}

static void test_real_profiles(void) {
        for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
                Buf b = slurp(expected[i].file);
                PprofSummary *s = NULL;
                char err[256] = "";
                int r = pprof_decode(b.p, b.len, 4 * MiB, &s, err, sizeof err);

                is_int(r, 0, "%s decodes (%s)", expected[i].file, err);
                if (r == 0)
                        check_real(&expected[i], s);
                pprof_summary_free(s);
                free(b.p);
        }
}

static void test_cpu_duration(void) {
        Buf b = slurp("cpu.pb.gz");
        PprofSummary *s = NULL;
        char err[256];

        pprof_decode(b.p, b.len, 4 * MiB, &s, err, sizeof err);
        ok(s && s->duration_nanos >= 2110000000 && s->duration_nanos < 2125000000,
           "cpu.pb.gz: duration_nanos is go tool pprof's 2.12s (%lld)", s ? (long long) s->duration_nanos : -1LL);
        is_int(s ? s->period : 0, 10000000, "cpu.pb.gz: period is 10ms (go tool pprof -raw: Period: 10000000)");
        pprof_summary_free(s);
        free(b.p);
}

/* Every prefix of the raw protobuf and of the gzip file: no crash, and an
 * error with a message.  runtime/pprof writes the string table last, so no
 * proper prefix of its output is a whole profile. */
static void test_truncated(const char *file) {
        Buf gz = slurp(file), raw = gunzip_buf(&gz);
        size_t failed = 0;
        char err[256];

        for (size_t n = 0; n < raw.len; n++) {
                PprofSummary *s = NULL;

                err[0] = '\0';
                if (pprof_decode(raw.p, n, 4 * MiB, &s, err, sizeof err) < 0 && err[0])
                        failed++;
                pprof_summary_free(s);
        }
        is_int(failed, raw.len, "%s: every prefix of the protobuf fails with a message", file);

        failed = 0;
        for (size_t n = 0; n < gz.len; n++) {
                PprofSummary *s = NULL;

                err[0] = '\0';
                if (pprof_decode(gz.p, n, 4 * MiB, &s, err, sizeof err) < 0 && err[0])
                        failed++;
                pprof_summary_free(s);
        }
        is_int(failed, gz.len, "%s: every prefix of the gzip file fails with a message", file);
        free(gz.p);
        free(raw.p);
}

/* Flips each bit of the first `limit` bytes in turn: no crash, no leak (under
 * ASan), and every failure explains itself. */
static void test_bit_flips(const char *file, bool inflate, size_t limit) {
        Buf gz = slurp(file), b = inflate ? gunzip_buf(&gz) : gz;
        size_t n = b.len < limit ? b.len : limit, silent = 0, decoded = 0;
        char err[256];

        for (size_t i = 0; i < n * 8; i++) {
                PprofSummary *s = NULL;
                int r;

                b.p[i / 8] ^= (uint8_t) (1u << (i % 8));
                err[0] = '\0';
                r = pprof_decode(b.p, b.len, 4 * MiB, &s, err, sizeof err);
                b.p[i / 8] ^= (uint8_t) (1u << (i % 8));
                if (r < 0 && !err[0])
                        silent++;
                if (r == 0) {
                        json_t *j = pprof_summary_to_json(s);
                        decoded += j != NULL;
                        json_decref(j);
                }
                pprof_summary_free(s);
        }
        is_int(silent, 0, "%s%s: %zu bit flips, every failure has a message (%zu still decode)", file,
               inflate ? " inflated" : "", n * 8, decoded);
        if (inflate)
                free(gz.p);
        free(b.p);
}

/* ------------------------------------------------------------ the wire-format reader */

/* Reads the first field of `p` with pb_next_field: its result, the field in
 * *f, and the error text in err. */
static int pb_first(const void *p, size_t n, const char *schema, PbField *f, char *err, size_t err_size) {
        PbInput in = { .buf = p, .size = n, .error = err, .error_size = err_size, .schema = schema };
        PbReader r = pb_reader_all(&in);

        snprintf(err, err_size, "unset");
        return pb_next_field(&in, &r, f);
}

static void check_pb_refused(const void *p, size_t n, const char *label, const char *want) {
        PbField f;
        char err[256];
        int r = pb_first(p, n, "test.proto", &f, err, sizeof err);

        is_int(r, -EINVAL, "pb_next_field refuses %s with -EINVAL", label);
        ok(strstr(err, want) != NULL, "pb: %s: the error says \"%s\" (got \"%s\")", label, want, err);
}

static void test_pb_refused(void) {
        static const uint8_t eleven[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
        static const uint8_t trunc_len[] = { 0x12, 0x05, 'a', 'b' };
        static const uint8_t trunc_fixed32[] = { 0x0d, 1, 2, 3 };
        static const uint8_t group_start[] = { 0x0b, 0x08, 0x01, 0x0c };
        static const uint8_t group_end[] = { 0x0c };
        static const uint8_t big_number[] = { 0x80, 0x80, 0x80, 0x80, 0x10, 0x00 };

        check_pb_refused(eleven, sizeof eleven, "a varint whose tenth byte holds more than bit 63",
                         "varint at offset 1 overflows 64 bits");
        check_pb_refused(trunc_len, sizeof trunc_len, "a length past the end of the buffer",
                         "field 2 at offset 0: length 5 runs past the end of its message (2 bytes left)");
        check_pb_refused(trunc_fixed32, sizeof trunc_fixed32, "a fixed32 with three bytes",
                         "truncated 4-byte fixed field at offset 1");
        check_pb_refused(group_start, sizeof group_start, "a group start (wire type 3)",
                         "field 1 at offset 0 is a protobuf group (wire type 3), which test.proto never uses");
        check_pb_refused(group_end, sizeof group_end, "a group end (wire type 4)",
                         "field 1 at offset 0 is a protobuf group (wire type 4), which test.proto never uses");
        check_pb_refused(big_number, sizeof big_number, "field number 2^29 (past the 29 bits)",
                         "invalid field number 536870912 at offset 0");
}

static void test_pb_no_schema(void) {
        static const uint8_t group[] = { 0x0b };
        PbField f;
        char err[256];

        is_int(pb_first(group, sizeof group, NULL, &f, err, sizeof err), -EINVAL,
               "pb: a group is refused without a schema name too");
        ok(strstr(err, "(wire type 3), which the schema never uses") != NULL,
           "pb: ... and the error says \"the schema\" (got \"%s\")", err);
}

static void test_pb_values(void) {
        static const uint8_t max_varint[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
        static const uint8_t fixed32[] = { 0x0d, 0x01, 0x02, 0x03, 0x84 };
        static const uint8_t fixed64[] = { 0x11, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88 };
        static const uint8_t negative[] = { 0x08, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
        PbInput in = { .buf = negative, .size = sizeof negative };
        PbField f;
        char err[256];
        int64_t v = 0;

        is_int(pb_first(max_varint, sizeof max_varint, NULL, &f, err, sizeof err), 1,
               "pb: a ten-byte varint with bit 63 set reads");
        ok(f.value == UINT64_MAX, "pb: ... as 2^64 - 1");
        is_int(pb_first(fixed32, sizeof fixed32, NULL, &f, err, sizeof err), 1, "pb: a fixed32 field reads");
        ok(f.wire == PB_WIRE_FIXED32 && f.value == 0x84030201u, "pb: fixed32 is little-endian (got %#" PRIx64 ")",
           f.value);
        is_int(pb_first(fixed64, sizeof fixed64, NULL, &f, err, sizeof err), 1, "pb: a fixed64 field reads");
        ok(f.wire == PB_WIRE_FIXED64 && f.value == UINT64_C(0x8807060504030201),
           "pb: fixed64 is little-endian (got %#" PRIx64 ")", f.value);
        is_int(pb_first(negative, sizeof negative, NULL, &f, err, sizeof err), 1, "pb: a negative int64 reads");
        is_int(pb_read_int(&in, &f, "x", &v), 0, "pb_read_int takes a varint");
        is_int(v, -2, "pb_read_int reads int64 -2 from its ten-byte two's complement");
        in.error = err;
        in.error_size = sizeof err;
        f.wire = PB_WIRE_LEN;
        is_int(pb_read_int(&in, &f, "thing.count", &v), -EINVAL, "pb_read_int refuses a length-delimited field");
        is_str(err, "thing.count at offset 0 has wire type 2, expected 0", "pb: the wire-type error names the field");
}

/* Every field of a message in turn, unknown ones included, and nothing past
 * the end of a sub-message even where the buffer goes on. */
static void test_pb_walk(void) {
        static const uint8_t msg[] = {
                0x08, 0x96, 0x01,                         /* 1: varint 150 */
                0x1a, 0x04, 0x10, 0x07, 0x10, 0x09,       /* 3: a sub-message {2: 7, 2: 9} */
                0x25, 0x00, 0x00, 0x80, 0x3f,             /* 4: fixed32 */
                0x2a, 0x02, 0x10, 0x05,                   /* 5: a sub-message {2: 5} */
        };
        static const unsigned want[] = { 1, 3, 4, 5 };
        PbInput in = { .buf = msg, .size = sizeof msg };
        PbReader r = pb_reader_all(&in), sub;
        PbField f, g;
        char err[256] = "unset";
        unsigned n = 0;
        int k;

        while ((k = pb_next_field(&in, &r, &f)) > 0) {
                ok(n < 4 && f.number == want[n], "pb: field %u of the message comes in order (got %" PRIu64 ")",
                   n < 4 ? want[n] : 0, f.number);
                n++;
        }
        is_int(n, 4, "pb: the message has four fields");
        is_int(k, 0, "pb: the walk ends with 0 at the end of the message");
        is_int(r.pos, sizeof msg, "pb: ... having read every byte");

        r = pb_reader_all(&in);
        pb_next_field(&in, &r, &f);
        pb_next_field(&in, &r, &f);
        sub = pb_reader_of(f.span);
        ok(pb_next_field(&in, &sub, &g) == 1 && g.value == 7, "pb: a sub-message's first field reads");
        ok(pb_next_field(&in, &sub, &g) == 1 && g.value == 9, "pb: ... and its second");
        is_int(pb_next_field(&in, &sub, &g), 0, "pb: ... then the sub-message ends, not the buffer");

        in.error = err;
        in.error_size = sizeof err;
        sub = (PbReader) { .pos = 16, .end = 17 };
        is_int(pb_next_field(&in, &sub, &g), -EINVAL, "pb: a varint cut by the end of its sub-message is refused");
        is_str(err, "truncated varint at offset 17", "pb: ... with the offset where it starts");
}

typedef struct Collected {
        uint64_t v[8];
        size_t n;
        size_t fail_at;              /* 0: never */
} Collected;

static int collect(uint64_t v, void *u) {
        Collected *c = u;

        if (c->n + 1 == c->fail_at)
                return -ERANGE;
        if (c->n < 8)
                c->v[c->n] = v;
        c->n++;
        return 0;
}

static void test_pb_repeated(void) {
        static const uint64_t values[] = { 1, 300, UINT64_MAX };
        Buf packed = {}, unpacked = {};
        Collected a = {}, b = {}, c = { .fail_at = 2 };
        PbInput in;
        PbReader r;
        PbField f;
        char err[256] = "unset";

        put_repeated(&packed, 2, values, 3, true);
        put_repeated(&unpacked, 2, values, 3, false);

        in = (PbInput) { .buf = packed.p, .size = packed.len, .error = err, .error_size = sizeof err };
        r = pb_reader_all(&in);
        pb_next_field(&in, &r, &f);
        is_int(pb_for_each_varint(&in, &f, "x.v", collect, &a), 0, "pb: a packed repeated varint walks");
        is_int(pb_for_each_varint(&in, &f, "x.v", collect, &c), -ERANGE, "pb: the callback's error stops the walk");

        in = (PbInput) { .buf = unpacked.p, .size = unpacked.len, .error = err, .error_size = sizeof err };
        r = pb_reader_all(&in);
        while (pb_next_field(&in, &r, &f) > 0)
                pb_for_each_varint(&in, &f, "x.v", collect, &b);
        is_int(a.n, 3, "pb: packed: three elements");
        is_int(b.n, 3, "pb: unpacked: three elements");
        ok(a.n == 3 && b.n == 3 && memcmp(a.v, values, sizeof values) == 0 && memcmp(b.v, values, sizeof values) == 0,
           "pb: packed and unpacked give the same values in order");

        f = (PbField) { .number = 2, .wire = PB_WIRE_FIXED32 };
        is_int(pb_for_each_varint(&in, &f, "x.v", collect, &b), -EINVAL, "pb: a repeated varint as fixed32 is refused");
        is_str(err, "x.v at offset 0 has wire type 5, expected 2", "pb: ... naming the field");
        free(packed.p);
        free(unpacked.p);
}

int main(void) {
        test_encodings();
        test_default_sample_type();
        test_bad_profiles();
        test_wire_errors();
        test_limits();
        test_bad_utf8();
        test_json();
        test_gzip();
        test_real_profiles();
        test_cpu_duration();
        test_truncated("heap.pb.gz");
        test_truncated("goroutine.pb.gz");
        test_bit_flips("heap.pb.gz", true, 1u << 20);
        test_bit_flips("goroutine.pb.gz", true, 1u << 20);
        test_bit_flips("cpu.pb.gz", true, 4096);
        test_bit_flips("heap.pb.gz", false, 512);
        test_pb_refused();
        test_pb_no_schema();
        test_pb_values();
        test_pb_walk();
        test_pb_repeated();
        return tap_done();
}
