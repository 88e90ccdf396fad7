/* The protobuf wire-format reader.  Nothing here allocates: a field is its
 * value or the span of its payload in the caller's buffer. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "util/protobuf.h"

/* Field numbers are 29 bits: the key's low 3 bits hold the wire type. */
#define FIELD_NUMBER_MAX 0x1fffffff

int pb_fail(PbInput *in, int r, const char *fmt, ...) {
        va_list ap;

        if (in->error && in->error_size > 0) {
                va_start(ap, fmt);
                vsnprintf(in->error, in->error_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

PbReader pb_reader_all(const PbInput *in) {
        return (PbReader) { .pos = 0, .end = in->size };
}

PbReader pb_reader_of(PbSpan s) {
        return (PbReader) { .pos = s.off, .end = s.off + s.len };
}

static int read_varint(PbInput *in, PbReader *r, uint64_t *ret) {
        size_t start = r->pos;
        uint64_t v = 0;

        for (unsigned i = 0;; i++) {
                uint8_t b;

                if (r->pos >= r->end)
                        return pb_fail(in, -EINVAL, "truncated varint at offset %zu", start);
                b = in->buf[r->pos++];
                /* The tenth byte holds bit 63 alone. */
                if (i == 9 && b > 1)
                        return pb_fail(in, -EINVAL, "varint at offset %zu overflows 64 bits", start);
                v |= (uint64_t) (b & 0x7f) << (7 * i);
                if (!(b & 0x80))
                        break;
        }
        *ret = v;
        return 0;
}

/* Little-endian, whatever the host's byte order. */
static int read_fixed(PbInput *in, PbReader *r, unsigned bytes, uint64_t *ret) {
        uint64_t v = 0;

        if (r->end - r->pos < bytes)
                return pb_fail(in, -EINVAL, "truncated %u-byte fixed field at offset %zu", bytes, r->pos);
        for (unsigned i = 0; i < bytes; i++)
                v |= (uint64_t) in->buf[r->pos + i] << (8 * i);
        r->pos += bytes;
        *ret = v;
        return 0;
}

static int read_span(PbInput *in, PbReader *r, PbField *f) {
        uint64_t len;
        int k;

        k = read_varint(in, r, &len);
        if (k < 0)
                return k;
        if (len > r->end - r->pos)
                return pb_fail(in, -EINVAL,
                               "field %" PRIu64 " at offset %zu: length %" PRIu64
                               " runs past the end of its message (%zu bytes left)",
                               f->number, f->offset, len, r->end - r->pos);
        f->span = (PbSpan) { .off = r->pos, .len = (size_t) len };
        r->pos += (size_t) len;
        return 0;
}

static int read_payload(PbInput *in, PbReader *r, PbField *f) {
        switch (f->wire) {
        case PB_WIRE_VARINT:
                return read_varint(in, r, &f->value);
        case PB_WIRE_FIXED64:
                return read_fixed(in, r, 8, &f->value);
        case PB_WIRE_FIXED32:
                return read_fixed(in, r, 4, &f->value);
        case PB_WIRE_LEN:
                return read_span(in, r, f);
        case 3:
        case 4:
                return pb_fail(in, -EINVAL,
                               "field %" PRIu64 " at offset %zu is a protobuf group (wire type %u), "
                               "which %s never uses",
                               f->number, f->offset, f->wire, in->schema ? in->schema : "the schema");
        default:
                return pb_fail(in, -EINVAL, "field %" PRIu64 " at offset %zu has invalid wire type %u",
                               f->number, f->offset, f->wire);
        }
}

int pb_next_field(PbInput *in, PbReader *r, PbField *f) {
        uint64_t key;
        int k;

        if (r->pos >= r->end)
                return 0;
        *f = (PbField) { .offset = r->pos };
        k = read_varint(in, r, &key);
        if (k < 0)
                return k;
        f->number = key >> 3;
        f->wire = (unsigned) (key & 7);
        if (f->number == 0 || f->number > FIELD_NUMBER_MAX)
                return pb_fail(in, -EINVAL, "invalid field number %" PRIu64 " at offset %zu", f->number,
                               f->offset);
        k = read_payload(in, r, f);
        return k < 0 ? k : 1;
}

int pb_expect_wire(PbInput *in, const PbField *f, unsigned wire, const char *what) {
        if (f->wire == wire)
                return 0;
        return pb_fail(in, -EINVAL, "%s at offset %zu has wire type %u, expected %u", what, f->offset, f->wire,
                       wire);
}

int pb_read_uint(PbInput *in, const PbField *f, const char *what, uint64_t *ret) {
        int k = pb_expect_wire(in, f, PB_WIRE_VARINT, what);

        if (k < 0)
                return k;
        *ret = f->value;
        return 0;
}

int pb_read_int(PbInput *in, const PbField *f, const char *what, int64_t *ret) {
        int k = pb_expect_wire(in, f, PB_WIRE_VARINT, what);

        if (k < 0)
                return k;
        *ret = (int64_t) f->value;
        return 0;
}

int pb_for_each_varint(PbInput *in, const PbField *f, const char *what, int (*fn)(uint64_t v, void *u),
                       void *u) {
        PbReader r;
        uint64_t v;
        int k;

        if (f->wire == PB_WIRE_VARINT)
                return fn(f->value, u);
        k = pb_expect_wire(in, f, PB_WIRE_LEN, what);
        if (k < 0)
                return k;
        r = pb_reader_of(f->span);
        while (r.pos < r.end) {
                k = read_varint(in, &r, &v);
                if (k < 0)
                        return k;
                k = fn(v, u);
                if (k < 0)
                        return k;
        }
        return 0;
}
