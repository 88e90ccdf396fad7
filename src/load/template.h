/* Request path and body templates: text with placeholders, compiled once
 * (when the config is read) into a list of parts, then expanded per
 * request into the caller's buffer with no allocation.
 *
 *   ${seq}      the request's sequence number in its run (given by the caller)
 *   ${user}     the virtual user's number (given by the caller)
 *   ${uuid}     a random version-4 UUID, lower-case, 36 characters
 *   ${rand:N}   a uniform random integer in [0, N), 1 <= N <= 2^64-1
 *   ${env:NAME} the environment variable NAME, read once at compile time
 *   ${doc}      the document a write goes to (given by the caller; at most
 *               TEMPLATE_DOC_MAX bytes of it), for a scenario's write and
 *               read lines (issue 8)
 *   ${token}    the write's token text (given by the caller; at most
 *               TEMPLATE_TOKEN_MAX bytes)
 *   $$          a literal '$'
 *
 * A compiled Template is immutable: any number of threads may expand it at
 * once, each with its own TemplateRng.  It is reference counted (atomically),
 * so a run can share the one its configuration compiled and outlive that
 * configuration without copying the text. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEMPLATE_DOC_MAX   32
#define TEMPLATE_TOKEN_MAX 16

typedef struct Template Template;

typedef enum TemplatePlaceholder {
        TEMPLATE_DOC,
        TEMPLATE_TOKEN,
} TemplatePlaceholder;

/* A xorshift64* generator; one per thread, never shared. */
typedef struct TemplateRng {
        uint64_t state;
} TemplateRng;

/* What one expansion substitutes; `rng` (borrowed) is advanced by ${uuid}
 * and ${rand:N}.  When it is NULL, a generator seeded from seq and user
 * stands in: deterministic, still thread-safe. */
typedef struct TemplateVars {
        uint64_t seq;
        uint64_t user;
        const char *doc;        /* ${doc}; NULL: empty */
        const char *token;      /* ${token}; NULL: empty */
        TemplateRng *rng;
} TemplateVars;

/* Compiles `text` into *ret (the caller frees it with template_unref()).
 * Returns 0; -EINVAL with a one-line reason in *ret_error (the caller
 * frees it and prefixes FILE:LINE; ret_error may be NULL), e.g.
 * `unknown placeholder ${sq} at offset 7` or `${env:HOME2}: HOME2 is not
 * set`; or -ENOMEM. */
int template_compile(const char *text, Template **ret, char **ret_error);

/* Takes one more reference to `t`, from any thread.  Returns t (NULL is a
 * no-op). */
Template *template_ref(Template *t);

/* Drops one reference, from any thread; the last frees `t`.  NULL is a
 * no-op.  Returns NULL. */
Template *template_unref(Template *t);

/* Expands `t` into buf: at most size - 1 bytes and a NUL (nothing when
 * size is 0), like snprintf.  Returns the length of the full expansion
 * (without the NUL); when it is >= size the output was cut short.  NB:
 * ${uuid} and ${rand:N} draw new values on every call, so a retry with a
 * larger buffer gives other values: size the buffer with
 * template_max_length() once instead. */
size_t template_expand(const Template *t, const TemplateVars *v, char *buf, size_t size);

/* The longest expansion `t` can produce, without the NUL. */
size_t template_max_length(const Template *t);

/* Whether `t` has no placeholder left after compilation (only literal text
 * and ${env:...}), so a caller can expand it once and reuse the result. */
bool template_is_constant(const Template *t);

/* A constant template's expansion, NUL-terminated and owned by `t` (valid
 * while a reference is held), its length in *ret_size; NULL when `t` is not
 * constant.  Saves a copy of a big constant body. */
const char *template_constant_text(const Template *t, size_t *ret_size);

/* Whether `t` has the placeholder `what` (${doc}, ${token}) at all. */
bool template_uses(const Template *t, TemplatePlaceholder what);

/* Seeds `rng` from any 64-bit value (0 included), e.g. a thread index mixed
 * with the time: splitmix64, so close seeds give unrelated streams. */
void template_rng_seed(TemplateRng *rng, uint64_t seed);

/* The next 64 random bits. */
uint64_t template_rng_next(TemplateRng *rng);

/* A uniform integer in [0, n) with no modulo bias (Lemire's method); 0 when
 * n is 0. */
uint64_t template_rng_below(TemplateRng *rng, uint64_t n);
