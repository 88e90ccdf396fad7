/* Request templates: the compiler (text into parts) and the expander. */
#include "load/template.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

typedef enum PartKind {
        PART_LITERAL,
        PART_SEQ,
        PART_USER,
        PART_UUID,
        PART_RAND,
        PART_DOC,
        PART_TOKEN,
} PartKind;

typedef struct Part {
        PartKind kind;
        uint64_t n;          /* PART_RAND: the bound N */
        size_t offset, size; /* PART_LITERAL: the bytes in Template.text */
} Part;

struct Template {
        Part *parts;
        size_t n_parts;
        char *text; /* every literal, one after the other */
        size_t max_length;
        atomic_uint refs;
};

#define U64_DIGITS 20
#define UUID_LENGTH 36

/* ------------------------------------------------------------ random */

static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));

        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

void template_rng_seed(TemplateRng *rng, uint64_t seed) {
        rng->state = splitmix64(&seed);
        if (rng->state == 0) /* xorshift's one fixed point */
                rng->state = UINT64_C(0x9E3779B97F4A7C15);
}

uint64_t template_rng_next(TemplateRng *rng) {
        uint64_t x = rng->state;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng->state = x;
        return x * UINT64_C(0x2545F4914F6CDD1D);
}

uint64_t template_rng_below(TemplateRng *rng, uint64_t n) {
        unsigned __int128 m;
        uint64_t low;

        if (n == 0)
                return 0;
        m = (unsigned __int128) template_rng_next(rng) * n;
        low = (uint64_t) m;
        if (low < n) {
                uint64_t threshold = -n % n;

                while (low < threshold) {
                        m = (unsigned __int128) template_rng_next(rng) * n;
                        low = (uint64_t) m;
                }
        }
        return (uint64_t) (m >> 64);
}

/* ------------------------------------------------------------ compiling */

typedef struct Builder {
        Template *t;
        size_t text_size, text_allocated;
        size_t literal_start; /* where the literal being gathered starts in t->text */
        const char *source;
} Builder;

static int builder_append(Builder *b, const char *s, size_t n) {
        if (b->text_size + n + 1 > b->text_allocated) {
                size_t want = (b->text_size + n + 1) * 2;
                char *p = realloc(b->t->text, want);

                if (!p)
                        return -ENOMEM;
                b->t->text = p;
                b->text_allocated = want;
        }
        memcpy(b->t->text + b->text_size, s, n);
        b->text_size += n;
        b->t->text[b->text_size] = 0;
        return 0;
}

/* Ends the literal being gathered (if any) as a part of its own.  The
 * parts array has room for every part the source can make. */
static void builder_flush_literal(Builder *b) {
        size_t n = b->text_size - b->literal_start;

        if (n == 0)
                return;
        b->t->parts[b->t->n_parts++] = (Part) { .kind = PART_LITERAL, .offset = b->literal_start, .size = n };
        b->t->max_length += n;
        b->literal_start = b->text_size;
}

static void builder_push(Builder *b, PartKind kind, uint64_t n, size_t max_length) {
        builder_flush_literal(b);
        b->t->parts[b->t->n_parts++] = (Part) { .kind = kind, .n = n };
        b->t->max_length += max_length;
}

static size_t format_u64(char out[U64_DIGITS], uint64_t v) {
        char tmp[U64_DIGITS];
        size_t n = 0;

        do {
                tmp[n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        for (size_t i = 0; i < n; i++)
                out[i] = tmp[n - 1 - i];
        return n;
}

/* ${rand:ARG}: ARG a decimal integer from 1 to 2^64-1. */
static int compile_rand(Builder *b, const char *arg, size_t n, char **ret_error) {
        char digits[U64_DIGITS];
        uint64_t v = 0;

        if (n == 0)
                return set_error(ret_error, -EINVAL, "${rand:}: the bound N is missing (write ${rand:N}, N >= 1)");
        for (size_t i = 0; i < n; i++) {
                if (arg[i] < '0' || arg[i] > '9')
                        return set_error(ret_error, -EINVAL, "${rand:%.*s}: \"%.*s\" is not a positive integer",
                                         (int) n, arg, (int) n, arg);
                if (v > (UINT64_MAX - (uint64_t) (arg[i] - '0')) / 10)
                        return set_error(ret_error, -EINVAL, "${rand:%.*s}: the bound is larger than 2^64-1",
                                         (int) n, arg);
                v = v * 10 + (uint64_t) (arg[i] - '0');
        }
        if (v == 0)
                return set_error(ret_error, -EINVAL, "${rand:%.*s}: the bound N must be at least 1", (int) n, arg);
        builder_push(b, PART_RAND, v, format_u64(digits, v - 1));
        return 0;
}

/* ${env:NAME}: the value becomes literal text now. */
static int compile_env(Builder *b, const char *name, size_t n, char **ret_error) {
        char *copy;
        const char *value;
        int r;

        if (n == 0)
                return set_error(ret_error, -EINVAL, "${env:}: the variable name is empty");
        copy = strndup(name, n);
        if (!copy)
                return -ENOMEM;
        value = getenv(copy);
        if (!value)
                r = set_error(ret_error, -EINVAL, "${env:%s}: environment variable %s is not set", copy, copy);
        else
                r = builder_append(b, value, strlen(value));
        free(copy);
        return r;
}

/* The placeholder named [name, name + n), which started at `offset`. */
static int compile_placeholder(Builder *b, const char *name, size_t n, size_t offset, char **ret_error) {
        if (n == 0)
                return set_error(ret_error, -EINVAL, "empty placeholder ${} at offset %zu", offset);
        if (n == 3 && memcmp(name, "seq", 3) == 0)
                builder_push(b, PART_SEQ, 0, U64_DIGITS);
        else if (n == 4 && memcmp(name, "user", 4) == 0)
                builder_push(b, PART_USER, 0, U64_DIGITS);
        else if (n == 4 && memcmp(name, "uuid", 4) == 0)
                builder_push(b, PART_UUID, 0, UUID_LENGTH);
        else if (n == 3 && memcmp(name, "doc", 3) == 0)
                builder_push(b, PART_DOC, 0, TEMPLATE_DOC_MAX);
        else if (n == 5 && memcmp(name, "token", 5) == 0)
                builder_push(b, PART_TOKEN, 0, TEMPLATE_TOKEN_MAX);
        else if (n >= 5 && memcmp(name, "rand:", 5) == 0)
                return compile_rand(b, name + 5, n - 5, ret_error);
        else if (n >= 4 && memcmp(name, "env:", 4) == 0)
                return compile_env(b, name + 4, n - 4, ret_error);
        else
                return set_error(ret_error, -EINVAL,
                                 "unknown placeholder ${%.*s} at offset %zu (known: ${seq}, ${user}, ${uuid}, "
                                 "${rand:N}, ${env:NAME}, ${doc}, ${token}; $$ for a literal $)",
                                 (int) n, name, offset);
        return 0;
}

/* The '$' at `p`; *next is where compiling goes on. */
static int compile_dollar(Builder *b, const char *p, const char **next, char **ret_error) {
        size_t offset = (size_t) (p - b->source);
        const char *close;

        if (p[1] == '$') {
                *next = p + 2;
                return builder_append(b, "$", 1);
        }
        if (p[1] != '{')
                return set_error(ret_error, -EINVAL,
                                 "\"$\" at offset %zu starts no placeholder (write \"$$\" for a literal \"$\")", offset);
        close = strchr(p + 2, '}');
        if (!close)
                return set_error(ret_error, -EINVAL, "unterminated \"${\" at offset %zu", offset);
        *next = close + 1;
        return compile_placeholder(b, p + 2, (size_t) (close - p - 2), offset, ret_error);
}

static int compile_parts(Builder *b, const char *text, char **ret_error) {
        const char *p = text;

        while (*p) {
                const char *dollar = strchr(p, '$');
                size_t n = dollar ? (size_t) (dollar - p) : strlen(p);
                int r = builder_append(b, p, n);

                if (r < 0)
                        return r;
                if (!dollar)
                        break;
                r = compile_dollar(b, dollar, &p, ret_error);
                if (r < 0)
                        return r;
        }
        builder_flush_literal(b);
        return 0;
}

int template_compile(const char *text, Template **ret, char **ret_error) {
        Builder b = { .source = text };
        size_t dollars = 0;
        int r;

        if (!text)
                return set_error(ret_error, -EINVAL, "no template text");
        b.t = calloc(1, sizeof *b.t);
        if (!b.t)
                return -ENOMEM;
        atomic_init(&b.t->refs, 1);
        /* Each '$' makes at most two parts (the literal before it and a
         * placeholder), and the last literal one more: sized by the '$'s,
         * not by the text, a 1 MiB body without any costs two parts, not
         * half a million. */
        for (const char *p = strchr(text, '$'); p; p = strchr(p + 1, '$'))
                dollars++;
        b.t->parts = calloc(2 * dollars + 2, sizeof *b.t->parts);
        /* The literals are at most the source's bytes, unless an ${env:}
         * brings more. */
        b.text_allocated = strlen(text) + 1;
        b.t->text = malloc(b.text_allocated);
        r = b.t->parts && b.t->text ? 0 : -ENOMEM;
        if (r >= 0)
                b.t->text[0] = '\0';
        if (r >= 0)
                r = compile_parts(&b, text, ret_error);
        if (r < 0) {
                template_unref(b.t);
                return r;
        }
        *ret = b.t;
        return 0;
}

Template *template_ref(Template *t) {
        if (t)
                atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
        return t;
}

Template *template_unref(Template *t) {
        /* acq_rel: the last holder sees every other holder's reads done. */
        if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
                return NULL;
        free(t->parts);
        free(t->text);
        free(t);
        return NULL;
}

/* ------------------------------------------------------------ expanding */

static void format_uuid(char out[UUID_LENGTH], TemplateRng *rng) {
        static const char hex[] = "0123456789abcdef";
        /* Version 4 in the top nibble of byte 6, variant 10 in the top bits
         * of byte 8 (RFC 9562, section 5.4). */
        uint64_t hi = (template_rng_next(rng) & ~UINT64_C(0xF000)) | UINT64_C(0x4000);
        uint64_t lo = (template_rng_next(rng) & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);
        size_t k = 0;

        for (int i = 0; i < 32; i++) {
                uint64_t word = i < 16 ? hi : lo;
                unsigned shift = (unsigned) (60 - 4 * (i % 16));

                if (i == 8 || i == 12 || i == 16 || i == 20)
                        out[k++] = '-';
                out[k++] = hex[(word >> shift) & 0xF];
        }
}

static void emit(char *buf, size_t size, size_t *n, const char *s, size_t len) {
        if (*n + 1 < size) {
                size_t room = size - 1 - *n;

                memcpy(buf + *n, s, len < room ? len : room);
        }
        *n += len;
}

/* A caller's string, cut at `max` bytes so the expansion stays within
 * template_max_length(); NULL is empty. */
static void emit_bounded(char *buf, size_t size, size_t *n, const char *s, size_t max) {
        if (s)
                emit(buf, size, n, s, strnlen(s, max));
}

size_t template_expand(const Template *t, const TemplateVars *v, char *buf, size_t size) {
        TemplateRng fallback, *rng = v->rng;
        char tmp[UUID_LENGTH > U64_DIGITS ? UUID_LENGTH : U64_DIGITS];
        size_t n = 0;

        if (!rng) {
                template_rng_seed(&fallback, v->seq ^ (v->user * UINT64_C(0x9E3779B97F4A7C15)));
                rng = &fallback;
        }
        for (size_t i = 0; i < t->n_parts; i++) {
                const Part *p = &t->parts[i];

                switch (p->kind) {
                case PART_LITERAL:
                        emit(buf, size, &n, t->text + p->offset, p->size);
                        break;
                case PART_SEQ:
                        emit(buf, size, &n, tmp, format_u64(tmp, v->seq));
                        break;
                case PART_USER:
                        emit(buf, size, &n, tmp, format_u64(tmp, v->user));
                        break;
                case PART_UUID:
                        format_uuid(tmp, rng);
                        emit(buf, size, &n, tmp, UUID_LENGTH);
                        break;
                case PART_RAND:
                        emit(buf, size, &n, tmp, format_u64(tmp, template_rng_below(rng, p->n)));
                        break;
                case PART_DOC:
                        emit_bounded(buf, size, &n, v->doc, TEMPLATE_DOC_MAX);
                        break;
                case PART_TOKEN:
                        emit_bounded(buf, size, &n, v->token, TEMPLATE_TOKEN_MAX);
                        break;
                }
        }
        if (size > 0)
                buf[n < size ? n : size - 1] = 0;
        return n;
}

size_t template_max_length(const Template *t) {
        return t->max_length;
}

bool template_uses(const Template *t, TemplatePlaceholder what) {
        PartKind kind = what == TEMPLATE_DOC ? PART_DOC : PART_TOKEN;

        for (size_t i = 0; i < t->n_parts; i++)
                if (t->parts[i].kind == kind)
                        return true;
        return false;
}

bool template_is_constant(const Template *t) {
        for (size_t i = 0; i < t->n_parts; i++)
                if (t->parts[i].kind != PART_LITERAL)
                        return false;
        return true;
}

/* A constant template's parts are all literals, stored one after the other
 * in t->text: that text is its expansion. */
const char *template_constant_text(const Template *t, size_t *ret_size) {
        if (!template_is_constant(t))
                return NULL;
        *ret_size = t->max_length;
        return t->text;
}
