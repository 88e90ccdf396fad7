/* A reader for the protobuf wire format (protobuf.dev/programming-guides/
 * encoding), with no generated code and no schema: it walks the fields of a
 * message in a buffer the caller owns, and leaves their meaning to the caller.
 *
 * Every length and offset is checked against the buffer and the enclosing
 * message, so bad input gives an error, never a read out of bounds.  An
 * error is a negative errno (-EINVAL for malformed input) and a one-line
 * reason that names the byte offset ("truncated varint at offset 812"),
 * written into the PbInput's error buffer.  Groups (wire types 3 and 4,
 * deprecated) are refused. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum {
        PB_WIRE_VARINT = 0,
        PB_WIRE_FIXED64 = 1,
        PB_WIRE_LEN = 2,             /* length-delimited: bytes, strings, messages, packed */
        PB_WIRE_FIXED32 = 5,
};

/* A byte range of the input: a length-delimited field's payload. */
typedef struct PbSpan {
        size_t off, len;
} PbSpan;

/* The input and where errors go.  buf (size bytes) and error (error_size
 * bytes, may be NULL) are the caller's and must outlive every read. */
typedef struct PbInput {
        const uint8_t *buf;
        size_t size;
        char *error;
        size_t error_size;
        const char *schema;          /* names the .proto in errors, e.g. "profile.proto" */
} PbInput;

/* A cursor over one message: the fields between pos and end. */
typedef struct PbReader {
        size_t pos, end;
} PbReader;

/* One field as pb_next_field() read it. */
typedef struct PbField {
        uint64_t number;
        unsigned wire;               /* PB_WIRE_* */
        uint64_t value;              /* varint, fixed64 and fixed32 */
        PbSpan span;                 /* length-delimited */
        size_t offset;               /* of the key, for errors */
} PbField;

/* Writes the reason for an error into in->error (when there is one), and
 * returns r.  For the caller's own checks too, so every error of a decode
 * reaches the same buffer. */
int pb_fail(PbInput *in, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A cursor over the whole input, the top-level message. */
PbReader pb_reader_all(const PbInput *in);

/* A cursor over a sub-message: the payload of a length-delimited field. */
PbReader pb_reader_of(PbSpan s);

/* Reads the next field of the message: 1 and the field in *f, 0 at the end
 * of the message, or a negative errno.  A length-delimited field's payload
 * is not read, only spanned; fields the caller does not know are skipped by
 * simply reading on. */
int pb_next_field(PbInput *in, PbReader *r, PbField *f);

/* 0 when the field has wire type `wire`, else -EINVAL with an error naming
 * `what` ("sample_type"). */
int pb_expect_wire(PbInput *in, const PbField *f, unsigned wire, const char *what);

/* The value of a varint field as uint64 / int64 (two's complement, as
 * protobuf's uint64 and int64 types encode it), or -EINVAL for another wire
 * type. */
int pb_read_uint(PbInput *in, const PbField *f, const char *what, uint64_t *ret);
int pb_read_int(PbInput *in, const PbField *f, const char *what, int64_t *ret);

/* Calls fn(v, u) for each element of a repeated varint field, whichever
 * way it came: one element per field (unpacked) or all of them in one
 * length-delimited payload (packed).  fn returns 0, or a negative errno that
 * stops the walk and is returned. */
int pb_for_each_varint(PbInput *in, const PbField *f, const char *what, int (*fn)(uint64_t v, void *u),
                       void *u);
