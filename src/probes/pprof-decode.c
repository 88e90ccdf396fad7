/* A pprof decoder that needs nothing but zlib: gunzip, then the few
 * profile.proto messages the summary uses, read with protobuf.h's reader.
 *
 * Fields may come in any order (Go writes string_table last), so the
 * top-level Profile message is walked several times over the same buffer:
 * first to count each table, then to fill the tables, then (once every id
 * and string index can be checked) to add up the samples.  Nothing points
 * into the input after pprof_decode returns. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "probes/pprof-decode.h"
#include "util/utf8.h"
#include "util/protobuf.h"

/* Hostile input must not make us allocate without bound: no table may hold
 * more entries than this, whatever the input size. */
#define TABLE_MAX 1000000
#define TYPES_MAX 128

/* Profile's field numbers (google/pprof proto/profile.proto). */
enum {
        PROFILE_SAMPLE_TYPE = 1,
        PROFILE_SAMPLE = 2,
        PROFILE_MAPPING = 3,
        PROFILE_LOCATION = 4,
        PROFILE_FUNCTION = 5,
        PROFILE_STRING_TABLE = 6,
        PROFILE_DROP_FRAMES = 7,
        PROFILE_KEEP_FRAMES = 8,
        PROFILE_TIME_NANOS = 9,
        PROFILE_DURATION_NANOS = 10,
        PROFILE_PERIOD_TYPE = 11,
        PROFILE_PERIOD = 12,
        PROFILE_COMMENT = 13,
        PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};

typedef struct Function {
        uint64_t id;
        int64_t name;                /* string index */
} Function;

typedef struct Location {
        uint64_t id;
        uint64_t address;
        PbSpan span;
        const Function *leaf;        /* function of the first line, NULL without lines */
        double flat;
} Location;

typedef struct Candidate {
        const uint8_t *name;         /* into the buffer, unless is_address */
        size_t len;
        bool is_address;
        char hex[2 + 16 + 1];
        double flat;
} Candidate;

typedef struct Decoder {
        PbInput pb;

        PbSpan *strings;
        size_t n_strings;            /* counted first, so indices can be checked early */
        size_t next_string;
        Function *functions;
        size_t n_functions;
        Location *locations;
        size_t n_locations;
        int64_t (*types)[2];         /* type and unit string indices */
        size_t n_types;
        int64_t default_sample_type;
        int64_t *values;             /* one sample's values */
        size_t n_values;
        size_t sample_index;
        Location *leaf;              /* the current sample's first location */

        PprofSummary *summary;
} Decoder;

/* ------------------------------------------------------------ gunzip */

typedef struct Inflated {
        uint8_t *data;
        size_t len, cap;
} Inflated;

static int inflated_grow(Inflated *o, size_t limit) {
        size_t cap = o->cap < 65536 ? 65536 : o->cap * 2;
        uint8_t *p;

        if (cap > limit || cap < o->cap)
                cap = limit;
        p = realloc(o->data, cap);
        if (!p)
                return -ENOMEM;
        o->data = p;
        o->cap = cap;
        return 0;
}

/* One inflate() step: feeds input in chunks a uInt can hold.  Returns
 * zlib's status. */
static int inflate_step(z_stream *z, const uint8_t **in, size_t *in_left, Inflated *o) {
        size_t room = o->cap - o->len;
        uInt give;
        int r;

        if (z->avail_in == 0 && *in_left > 0) {
                give = *in_left > UINT_MAX ? UINT_MAX : (uInt) *in_left;
                z->next_in = (Bytef *) *in;
                z->avail_in = give;
                *in += give;
                *in_left -= give;
        }
        z->next_out = o->data + o->len;
        z->avail_out = room > UINT_MAX ? UINT_MAX : (uInt) room;
        r = inflate(z, Z_NO_FLUSH);
        o->len += (size_t) (z->next_out - (o->data + o->len));
        return r;
}

static int gunzip_loop(Decoder *d, z_stream *z, const uint8_t *in, size_t size, size_t max,
                       Inflated *o) {
        size_t in_left = size, limit = max < SIZE_MAX ? max + 1 : max;

        for (;;) {
                int r;

                if (o->len == o->cap && inflated_grow(o, limit) < 0)
                        return pb_fail(&d->pb, -ENOMEM, "out of memory inflating the profile");
                r = inflate_step(z, &in, &in_left, o);
                if (o->len > max)
                        return pb_fail(&d->pb, -EFBIG, "profile inflates past the limit of %zu bytes", max);
                if (r == Z_STREAM_END) {
                        if (z->avail_in == 0 && in_left == 0)
                                return 0;
                        /* Concatenated gzip members, as gzip.Reader reads them. */
                        if (inflateReset(z) != Z_OK)
                                return pb_fail(&d->pb, -EINVAL, "cannot restart the gzip stream");
                        continue;
                }
                if (r == Z_MEM_ERROR)
                        return pb_fail(&d->pb, -ENOMEM, "out of memory inflating the profile");
                if (r == Z_DATA_ERROR || r == Z_NEED_DICT || r == Z_STREAM_ERROR)
                        return pb_fail(&d->pb, -EINVAL, "gzip data is corrupt after %lu input bytes: %s",
                                       z->total_in, z->msg ? z->msg : "bad data");
                if (r == Z_BUF_ERROR && z->avail_in == 0 && in_left == 0)
                        return pb_fail(&d->pb, -EINVAL, "gzip stream is truncated after %zu bytes", size);
        }
}

static int gunzip(Decoder *d, const uint8_t *in, size_t size, size_t max, Inflated *o) {
        z_stream z = {};
        int r;

        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                return pb_fail(&d->pb, -ENOMEM, "cannot set up zlib to inflate the profile");
        r = gunzip_loop(d, &z, in, size, max, o);
        inflateEnd(&z);
        return r;
}

/* ------------------------------------------------------------ tables */

/* Reads a string-table index and checks it against the table's size. */
static int read_string_index(Decoder *d, const PbField *f, const char *what, int64_t *ret) {
        int64_t v;
        int k = pb_read_int(&d->pb, f, what, &v);

        if (k < 0)
                return k;
        if (v < 0 || (uint64_t) v >= d->n_strings)
                return pb_fail(&d->pb, -EINVAL,
                               "%s: string index %" PRId64 " is outside the string table (%zu strings)", what, v,
                               d->n_strings);
        if (ret)
                *ret = v;
        return 0;
}

static int count_field(Decoder *d, const PbField *f, size_t counts[static 7]) {
        static const char *const names[7] = {
                [PROFILE_SAMPLE_TYPE] = "sample_type", [PROFILE_SAMPLE] = "sample",
                [PROFILE_MAPPING] = "mapping", [PROFILE_LOCATION] = "location",
                [PROFILE_FUNCTION] = "function", [PROFILE_STRING_TABLE] = "string_table",
        };
        size_t limit;
        int k;

        if (f->number < 1 || f->number > 6)
                return 0;
        k = pb_expect_wire(&d->pb, f, PB_WIRE_LEN, names[f->number]);
        if (k < 0)
                return k;
        limit = f->number == PROFILE_SAMPLE_TYPE ? TYPES_MAX : TABLE_MAX;
        if (++counts[f->number] > limit)
                return pb_fail(&d->pb, -EINVAL, "profile has more than %zu %s entries", limit, names[f->number]);
        return 0;
}

static int count_tables(Decoder *d, size_t counts[static 7]) {
        PbReader r = pb_reader_all(&d->pb);
        PbField f;
        int k;

        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                k = count_field(d, &f, counts);
                if (k < 0)
                        return k;
        }
        return k;
}

static int alloc_tables(Decoder *d, const size_t counts[static 7]) {
        d->strings = calloc(counts[PROFILE_STRING_TABLE] + 1, sizeof(*d->strings));
        d->functions = calloc(counts[PROFILE_FUNCTION] + 1, sizeof(*d->functions));
        d->locations = calloc(counts[PROFILE_LOCATION] + 1, sizeof(*d->locations));
        d->types = calloc(counts[PROFILE_SAMPLE_TYPE] + 1, sizeof(*d->types));
        d->values = calloc(counts[PROFILE_SAMPLE_TYPE] + 1, sizeof(*d->values));
        if (!d->strings || !d->functions || !d->locations || !d->types || !d->values)
                return pb_fail(&d->pb, -ENOMEM, "out of memory for the profile's tables");
        d->n_strings = counts[PROFILE_STRING_TABLE];
        return 0;
}

/* A ValueType (sample_type or period_type): both members are string indices. */
static int parse_value_type(Decoder *d, PbSpan s, const char *what, int64_t out[2]) {
        PbReader r = pb_reader_of(s);
        PbField f;
        int k;

        out[0] = out[1] = 0;
        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                if (f.number == 1 || f.number == 2) {
                        k = read_string_index(d, &f, what, &out[f.number - 1]);
                        if (k < 0)
                                return k;
                }
        }
        return k;
}

static int parse_function(Decoder *d, PbSpan s) {
        Function *fn = &d->functions[d->n_functions];
        PbReader r = pb_reader_of(s);
        PbField f;
        int k;

        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                if (f.number == 1)
                        k = pb_read_uint(&d->pb, &f, "function.id", &fn->id);
                else if (f.number == 2)
                        k = read_string_index(d, &f, "function.name", &fn->name);
                else if (f.number == 3)
                        k = read_string_index(d, &f, "function.system_name", NULL);
                else if (f.number == 4)
                        k = read_string_index(d, &f, "function.filename", NULL);
                if (k < 0)
                        return k;
        }
        if (k == 0)
                d->n_functions++;
        return k;
}

static int parse_mapping(Decoder *d, PbSpan s) {
        PbReader r = pb_reader_of(s);
        PbField f;
        int k;

        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                if (f.number == 5)
                        k = read_string_index(d, &f, "mapping.filename", NULL);
                else if (f.number == 6)
                        k = read_string_index(d, &f, "mapping.build_id", NULL);
                if (k < 0)
                        return k;
        }
        return k;
}

/* Only id and address now: lines name functions, which may come later. */
static int parse_location_head(Decoder *d, PbSpan s) {
        Location *l = &d->locations[d->n_locations];
        PbReader r = pb_reader_of(s);
        PbField f;
        int k;

        l->span = s;
        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                if (f.number == 1)
                        k = pb_read_uint(&d->pb, &f, "location.id", &l->id);
                else if (f.number == 3)
                        k = pb_read_uint(&d->pb, &f, "location.address", &l->address);
                if (k < 0)
                        return k;
        }
        if (k == 0)
                d->n_locations++;
        return k;
}

static int push_comment(uint64_t v, void *u) {
        Decoder *d = u;
        PbField f = { .wire = PB_WIRE_VARINT, .value = v };

        return read_string_index(d, &f, "profile.comment", NULL);
}

static int parse_scalar(Decoder *d, const PbField *f) {
        PprofSummary *s = d->summary;

        switch (f->number) {
        case PROFILE_DROP_FRAMES:
                return read_string_index(d, f, "profile.drop_frames", NULL);
        case PROFILE_KEEP_FRAMES:
                return read_string_index(d, f, "profile.keep_frames", NULL);
        case PROFILE_TIME_NANOS:
                return pb_read_int(&d->pb, f, "profile.time_nanos", &s->time_nanos);
        case PROFILE_DURATION_NANOS:
                return pb_read_int(&d->pb, f, "profile.duration_nanos", &s->duration_nanos);
        case PROFILE_PERIOD:
                return pb_read_int(&d->pb, f, "profile.period", &s->period);
        case PROFILE_COMMENT:
                return pb_for_each_varint(&d->pb, f, "profile.comment", push_comment, d);
        case PROFILE_DEFAULT_SAMPLE_TYPE:
                return read_string_index(d, f, "profile.default_sample_type", &d->default_sample_type);
        default:
                return 0;
        }
}

static int fill_field(Decoder *d, const PbField *f) {
        int64_t period_type[2];

        switch (f->number) {
        case PROFILE_SAMPLE_TYPE:
                return parse_value_type(d, f->span, "sample_type", d->types[d->n_types++]);
        case PROFILE_MAPPING:
                return parse_mapping(d, f->span);
        case PROFILE_LOCATION:
                return parse_location_head(d, f->span);
        case PROFILE_FUNCTION:
                return parse_function(d, f->span);
        case PROFILE_STRING_TABLE:
                d->strings[d->next_string++] = f->span;
                return 0;
        case PROFILE_PERIOD_TYPE:
                if (f->wire != PB_WIRE_LEN)
                        return pb_expect_wire(&d->pb, f, PB_WIRE_LEN, "profile.period_type");
                return parse_value_type(d, f->span, "period_type", period_type);
        default:
                return parse_scalar(d, f);
        }
}

static int fill_tables(Decoder *d) {
        PbReader r = pb_reader_all(&d->pb);
        PbField f;
        int k;

        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                k = fill_field(d, &f);
                if (k < 0)
                        return k;
        }
        if (k < 0)
                return k;
        if (d->n_strings == 0)
                return pb_fail(&d->pb, -EINVAL, "profile has no string_table");
        if (d->strings[0].len != 0)
                return pb_fail(&d->pb, -EINVAL, "string_table[0] is not the empty string");
        if (d->n_types == 0)
                return pb_fail(&d->pb, -EINVAL, "profile has no sample_type");
        return 0;
}

/* ------------------------------------------------------------ ids */

/* Functions and locations both start with their id. */
static uint64_t id_of(const void *p) {
        uint64_t id;

        memcpy(&id, p, sizeof(id));
        return id;
}

static int cmp_id(const void *a, const void *b) {
        uint64_t x = id_of(a), y = id_of(b);

        return (x > y) - (x < y);
}

/* Sorts a table by id and refuses id 0 and duplicates, which would make
 * references ambiguous. */
static int sort_ids(Decoder *d, void *base, size_t n, size_t size, const char *what) {
        uint64_t prev = 0;

        if (n > 0)
                qsort(base, n, size, cmp_id);
        for (size_t i = 0; i < n; i++) {
                uint64_t id = id_of((const char *) base + i * size);

                if (id == 0)
                        return pb_fail(&d->pb, -EINVAL, "%s id 0 is reserved", what);
                if (id == prev)
                        return pb_fail(&d->pb, -EINVAL, "%s id %" PRIu64 " is defined twice", what, id);
                prev = id;
        }
        return 0;
}

/* Producers such as Go number ids 1..n, so try that before searching. */
static void *find_id(void *base, size_t n, size_t size, uint64_t id) {
        if (id >= 1 && id <= n) {
                void *p = (char *) base + (id - 1) * size;
                if (id_of(p) == id)
                        return p;
        }
        if (n == 0)
                return NULL;
        return bsearch(&id, base, n, size, cmp_id);
}

/* The first Line is the innermost inlined function: the leaf. */
static int parse_line(Decoder *d, PbSpan s, Location *l, bool first) {
        PbReader r = pb_reader_of(s);
        const Function *fn = NULL;
        PbField f;
        int k;

        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                if (f.number == 1) {
                        k = pb_expect_wire(&d->pb, &f, PB_WIRE_VARINT, "line.function_id");
                        if (k < 0)
                                return k;
                        fn = f.value == 0 ? NULL :
                             find_id(d->functions, d->n_functions, sizeof(Function), f.value);
                        if (f.value != 0 && !fn)
                                return pb_fail(&d->pb, -EINVAL, "location %" PRIu64 ": line.function_id %" PRIu64
                                               " is not a known function", l->id, f.value);
                } else if (f.number == 2)
                        k = pb_expect_wire(&d->pb, &f, PB_WIRE_VARINT, "line.line");
                if (k < 0)
                        return k;
        }
        if (k == 0 && first)
                l->leaf = fn;
        return k;
}

static int resolve_location(Decoder *d, Location *l) {
        PbReader r = pb_reader_of(l->span);
        bool first = true;
        PbField f;
        int k;

        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                if (f.number != 4)
                        continue;
                k = pb_expect_wire(&d->pb, &f, PB_WIRE_LEN, "location.line");
                if (k < 0)
                        return k;
                k = parse_line(d, f.span, l, first);
                if (k < 0)
                        return k;
                first = false;
        }
        return k;
}

static int resolve_ids(Decoder *d) {
        int k;

        k = sort_ids(d, d->functions, d->n_functions, sizeof(Function), "function");
        if (k < 0)
                return k;
        for (size_t i = 0; i < d->n_locations; i++) {
                k = resolve_location(d, &d->locations[i]);
                if (k < 0)
                        return k;
        }
        /* Leaves point into functions, which no longer move. */
        return sort_ids(d, d->locations, d->n_locations, sizeof(Location), "location");
}

/* ------------------------------------------------------------ samples */

static int push_location(uint64_t id, void *u) {
        Decoder *d = u;
        Location *l = find_id(d->locations, d->n_locations, sizeof(Location), id);

        if (!l)
                return pb_fail(&d->pb, -EINVAL, "sample.location_id %" PRIu64 " is not a known location", id);
        if (!d->leaf)
                d->leaf = l;
        return 0;
}

static int push_value(uint64_t v, void *u) {
        Decoder *d = u;

        if (d->n_values < d->n_types)
                d->values[d->n_values] = (int64_t) v;
        d->n_values++;
        return 0;
}

static int parse_label(Decoder *d, PbSpan s) {
        PbReader r = pb_reader_of(s);
        PbField f;
        int k;

        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                if (f.number == 1)
                        k = read_string_index(d, &f, "label.key", NULL);
                else if (f.number == 2)
                        k = read_string_index(d, &f, "label.str", NULL);
                else if (f.number == 4)
                        k = read_string_index(d, &f, "label.num_unit", NULL);
                if (k < 0)
                        return k;
        }
        return k;
}

static int parse_sample_field(Decoder *d, const PbField *f) {
        switch (f->number) {
        case 1:
                return pb_for_each_varint(&d->pb, f, "sample.location_id", push_location, d);
        case 2:
                return pb_for_each_varint(&d->pb, f, "sample.value", push_value, d);
        case 3:
                if (f->wire != PB_WIRE_LEN)
                        return pb_expect_wire(&d->pb, f, PB_WIRE_LEN, "sample.label");
                return parse_label(d, f->span);
        default:
                return 0;
        }
}

static int add_sample(Decoder *d, PbSpan s) {
        PprofSummary *sum = d->summary;
        PbReader r = pb_reader_of(s);
        PbField f;
        int k;

        d->n_values = 0;
        d->leaf = NULL;
        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                k = parse_sample_field(d, &f);
                if (k < 0)
                        return k;
        }
        if (k < 0)
                return k;
        if (d->n_values != d->n_types)
                return pb_fail(&d->pb, -EINVAL, "sample %zu has %zu values for %zu sample types",
                               d->sample_index, d->n_values, d->n_types);
        for (size_t i = 0; i < d->n_types; i++)
                sum->types[i].total += (double) d->values[i];
        if (d->leaf)
                d->leaf->flat += (double) d->values[sum->top_type];
        sum->n_samples++;
        return 0;
}

static int add_samples(Decoder *d) {
        PbReader r = pb_reader_all(&d->pb);
        PbField f;
        int k;

        while ((k = pb_next_field(&d->pb, &r, &f)) > 0) {
                if (f.number != PROFILE_SAMPLE)
                        continue;
                k = add_sample(d, f.span);
                if (k < 0)
                        return k;
                d->sample_index++;
        }
        return k;
}

/* ------------------------------------------------------------ summary */

/* A C string of valid UTF-8 for the JSON summary: NUL and bytes that are not
 * UTF-8 become '?'. */
static char *text_dup(const uint8_t *p, size_t len) {
        char *s = malloc(len + 1);
        size_t i = 0;

        if (!s)
                return NULL;
        while (i < len) {
                size_t n = p[i] == 0 ? 0 : utf8_sequence_len(p + i, len - i);

                if (n == 0) {
                        s[i++] = '?';
                        continue;
                }
                memcpy(s + i, p + i, n);
                i += n;
        }
        s[len] = '\0';
        return s;
}

static char *string_dup(const Decoder *d, int64_t index) {
        PbSpan s = d->strings[index];

        return text_dup(d->pb.buf + s.off, s.len);
}

static bool string_eq(const Decoder *d, int64_t a, int64_t b) {
        PbSpan x = d->strings[a], y = d->strings[b];

        return x.len == y.len && memcmp(d->pb.buf + x.off, d->pb.buf + y.off, x.len) == 0;
}

static int fill_types(Decoder *d) {
        PprofSummary *s = d->summary;

        s->types = calloc(d->n_types, sizeof(*s->types));
        if (!s->types)
                return pb_fail(&d->pb, -ENOMEM, "out of memory for the summary");
        s->n_types = d->n_types;
        for (size_t i = 0; i < d->n_types; i++) {
                s->types[i].type = string_dup(d, d->types[i][0]);
                s->types[i].unit = string_dup(d, d->types[i][1]);
                if (!s->types[i].type || !s->types[i].unit)
                        return pb_fail(&d->pb, -ENOMEM, "out of memory for the summary");
        }
        /* As go tool pprof: the default sample type when it names one, else the last. */
        s->top_type = d->n_types - 1;
        for (size_t i = 0; d->default_sample_type != 0 && i < d->n_types; i++)
                if (string_eq(d, d->types[i][0], d->default_sample_type)) {
                        s->top_type = i;
                        break;
                }
        return 0;
}

static void candidate_name(const Candidate *c, const uint8_t **name, size_t *len) {
        *name = c->is_address ? (const uint8_t *) c->hex : c->name;
        *len = c->len;
}

static int cmp_name(const Candidate *x, const Candidate *y) {
        const uint8_t *a, *b;
        size_t la, lb;
        int r;

        candidate_name(x, &a, &la);
        candidate_name(y, &b, &lb);
        r = memcmp(a, b, la < lb ? la : lb);
        return r != 0 ? r : (la > lb) - (la < lb);
}

static int cmp_candidate_name(const void *a, const void *b) {
        return cmp_name(a, b);
}

/* Largest flat first; ties by name so the order never depends on input order. */
static int cmp_candidate_flat(const void *a, const void *b) {
        const Candidate *x = a, *y = b;

        if (x->flat != y->flat)
                return x->flat < y->flat ? 1 : -1;
        return cmp_name(x, y);
}

/* One candidate per location that holds flat value, named by its leaf
 * function, or by its address when it has no line information. */
static size_t collect_candidates(const Decoder *d, Candidate *c) {
        size_t n = 0;

        for (size_t i = 0; i < d->n_locations; i++) {
                const Location *l = &d->locations[i];

                if (l->flat == 0)
                        continue;
                c[n] = (Candidate) { .flat = l->flat };
                if (l->leaf) {
                        PbSpan s = d->strings[l->leaf->name];
                        c[n].name = d->pb.buf + s.off;
                        c[n].len = s.len;
                } else {
                        c[n].is_address = true;
                        c[n].len = (size_t) snprintf(c[n].hex, sizeof(c[n].hex), "0x%" PRIx64, l->address);
                }
                n++;
        }
        return n;
}

/* Sums candidates of the same name (inlined copies, several addresses). */
static size_t merge_candidates(Candidate *c, size_t n) {
        size_t m = 0;

        if (n == 0)
                return 0;
        qsort(c, n, sizeof(*c), cmp_candidate_name);
        for (size_t i = 1; i < n; i++) {
                if (cmp_name(&c[m], &c[i]) == 0)
                        c[m].flat += c[i].flat;
                else
                        c[++m] = c[i];
        }
        return m + 1;
}

static int fill_top(Decoder *d) {
        PprofSummary *s = d->summary;
        Candidate *c = calloc(d->n_locations + 1, sizeof(*c));
        size_t n;
        int r = 0;

        if (!c)
                return pb_fail(&d->pb, -ENOMEM, "out of memory ranking functions");
        n = merge_candidates(c, collect_candidates(d, c));
        if (n > 0)
                qsort(c, n, sizeof(*c), cmp_candidate_flat);
        for (size_t i = 0; i < n && i < PPROF_TOP_MAX; i++) {
                const uint8_t *name;
                size_t len;

                candidate_name(&c[i], &name, &len);
                s->top[i].function = text_dup(name, len);
                if (!s->top[i].function) {
                        r = pb_fail(&d->pb, -ENOMEM, "out of memory ranking functions");
                        break;
                }
                s->top[i].flat = c[i].flat;
                s->n_top = i + 1;
        }
        free(c);
        return r;
}

/* ------------------------------------------------------------ entry points */

static int decode_protobuf(Decoder *d) {
        size_t counts[7] = {};
        int k;

        k = count_tables(d, counts);
        if (k < 0)
                return k;
        k = alloc_tables(d, counts);
        if (k < 0)
                return k;
        k = fill_tables(d);
        if (k < 0)
                return k;
        k = resolve_ids(d);
        if (k < 0)
                return k;
        k = fill_types(d);
        if (k < 0)
                return k;
        k = add_samples(d);
        if (k < 0)
                return k;
        return fill_top(d);
}

static void decoder_done(Decoder *d) {
        free(d->strings);
        free(d->functions);
        free(d->locations);
        free(d->types);
        free(d->values);
}

static bool is_gzip(const uint8_t *p, size_t size) {
        return size >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

int pprof_decode(const void *data, size_t size, size_t max_inflated, PprofSummary **ret,
                 char *error, size_t error_size) {
        Decoder d = {
                .pb = { .buf = data, .size = size, .error = error, .error_size = error_size,
                        .schema = "profile.proto" },
        };
        Inflated o = {};
        int k;

        if (error && error_size > 0)
                error[0] = '\0';
        if (size == 0 || !data)
                return pb_fail(&d.pb, -EINVAL, "profile is empty");
        if (is_gzip(data, size)) {
                k = gunzip(&d, data, size, max_inflated, &o);
                if (k < 0)
                        goto finish;
                d.pb.buf = o.data;
                d.pb.size = o.len;
        }
        d.summary = calloc(1, sizeof(*d.summary));
        if (!d.summary) {
                k = pb_fail(&d.pb, -ENOMEM, "out of memory for the summary");
                goto finish;
        }
        k = decode_protobuf(&d);
        if (k >= 0) {
                *ret = d.summary;
                d.summary = NULL;
        }
finish:
        pprof_summary_free(d.summary);
        decoder_done(&d);
        free(o.data);
        return k < 0 ? k : 0;
}

PprofSummary *pprof_summary_free(PprofSummary *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_types; i++) {
                free(s->types[i].type);
                free(s->types[i].unit);
        }
        free(s->types);
        for (size_t i = 0; i < s->n_top; i++)
                free(s->top[i].function);
        free(s);
        return NULL;
}

static json_t *types_to_json(const PprofSummary *s) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < s->n_types; i++) {
                json_t *o = json_pack("{s:s, s:s, s:f}", "type", s->types[i].type, "unit", s->types[i].unit,
                                      "total", s->types[i].total);
                if (json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *top_to_json(const PprofSummary *s) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < s->n_top; i++) {
                json_t *o = json_pack("{s:s, s:f}", "function", s->top[i].function, "flat", s->top[i].flat);
                if (json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

json_t *pprof_summary_to_json(const PprofSummary *s) {
        const char *top_type = s->top_type < s->n_types ? s->types[s->top_type].type : "";

        return json_pack("{s:o, s:s, s:o, s:I, s:I}",
                         "sample_types", types_to_json(s),
                         "top_type", top_type,
                         "top", top_to_json(s),
                         "samples", (json_int_t) s->n_samples,
                         "duration_ns", (json_int_t) s->duration_nanos);
}
