/* The lost-write book: see write-book.h for what it counts and why.
 *
 * Each write is 6 bytes in a chunk: its send time in milliseconds since
 * the run's start (uint32_t, about 49 days) and a 16-bit word holding the
 * document (12 bits), the outcome (2 bits: not yet answered, acknowledged,
 * failed, indeterminate) and whether a read-back found it (1 bit).  The
 * token's sequence number is the write's index, so a token read back finds
 * its write by arithmetic alone. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/write-book.h"
#include "util/units.h"
#include "util/util.h"

#define DOC_MASK      0x0fffu
#define STATE_SHIFT   12
#define STATE_MASK    (3u << STATE_SHIFT)
#define PRESENT       (1u << 14)

enum { STATE_PENDING, STATE_ACKNOWLEDGED, STATE_FAILED, STATE_INDETERMINATE };

typedef struct Chunk {
        uint32_t ms[WRITE_BOOK_CHUNK];
        uint16_t meta[WRITE_BOOK_CHUNK];
} Chunk;

_Static_assert(sizeof(Chunk) == WRITE_BOOK_CHUNK * WRITE_BOOK_BYTES_PER_WRITE, "a write is 6 bytes");
_Static_assert(WRITE_BOOK_MAX_DOCUMENTS - 1 <= DOC_MASK, "documents fit in the meta word");

struct WriteBook {
        uint32_t nonce;
        uint64_t start_usec;
        uint64_t max_writes;
        uint64_t n;             /* writes sent */
        Chunk **chunks;
        size_t n_chunks, chunks_cap;
        uint32_t n_documents;
        char **names;
        uint32_t *in_flight;    /* per document */
        bool *read;             /* per document: observed at least once */
        uint64_t conflicts;
        uint64_t unexpected, duplicates, other_runs;   /* found by observe */
        size_t n_sample;
        char sample[WRITE_BOOK_UNEXPECTED_SAMPLE][WRITE_BOOK_UNEXPECTED_MAX_LEN + 1];
};

WriteBook *write_book_free(WriteBook *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n_chunks; i++)
                free(b->chunks[i]);
        free(b->chunks);
        for (uint32_t i = 0; b->names && i < b->n_documents; i++)
                free(b->names[i]);
        free(b->names);
        free(b->in_flight);
        free(b->read);
        free(b);
        return NULL;
}

static int copy_names(WriteBook *b, const char *const *names) {
        b->names = calloc(b->n_documents, sizeof *b->names);
        if (!b->names)
                return -ENOMEM;
        for (uint32_t i = 0; i < b->n_documents; i++) {
                char num[16];

                if (!names || !names[i])
                        snprintf(num, sizeof num, "%" PRIu32, i);
                b->names[i] = strdup(names && names[i] ? names[i] : num);
                if (!b->names[i])
                        return -ENOMEM;
        }
        return 0;
}

int write_book_new(uint32_t nonce, uint64_t start_usec, const char *const *names, uint32_t n_documents,
                   uint64_t max_writes, WriteBook **ret) {
        WriteBook *b;

        if (n_documents == 0 || n_documents > WRITE_BOOK_MAX_DOCUMENTS)
                return -EINVAL;
        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->nonce = nonce;
        b->start_usec = start_usec;
        b->max_writes = max_writes == 0 || max_writes > UINT32_MAX ? UINT32_MAX : max_writes;
        b->n_documents = n_documents;
        b->in_flight = calloc(n_documents, sizeof *b->in_flight);
        b->read = calloc(n_documents, sizeof *b->read);
        if (!b->in_flight || !b->read || copy_names(b, names) < 0) {
                write_book_free(b);
                return -ENOMEM;
        }
        *ret = b;
        return 0;
}

static uint16_t *meta_of(const WriteBook *b, uint64_t i) {
        return &b->chunks[i / WRITE_BOOK_CHUNK]->meta[i % WRITE_BOOK_CHUNK];
}

static uint32_t ms_of(const WriteBook *b, uint64_t i) {
        return b->chunks[i / WRITE_BOOK_CHUNK]->ms[i % WRITE_BOOK_CHUNK];
}

/* Makes room for write number b->n. */
static int grow(WriteBook *b) {
        Chunk *c;

        if (b->n < b->n_chunks * WRITE_BOOK_CHUNK)
                return 0;
        if (b->n_chunks == b->chunks_cap) {
                size_t cap = b->chunks_cap ? 2 * b->chunks_cap : 8;
                Chunk **t = realloc(b->chunks, cap * sizeof *t);

                if (!t)
                        return -ENOMEM;
                b->chunks = t;
                b->chunks_cap = cap;
        }
        c = malloc(sizeof *c);
        if (!c)
                return -ENOMEM;
        b->chunks[b->n_chunks++] = c;
        return 0;
}

int write_book_sent(WriteBook *b, uint32_t document, uint64_t send_usec, WriteToken *ret) {
        uint64_t ms;
        int r;

        if (document >= b->n_documents)
                return -EINVAL;
        if (b->n >= b->max_writes)
                return -ENOBUFS;
        r = grow(b);
        if (r < 0)
                return r;
        ms = send_usec > b->start_usec ? (send_usec - b->start_usec) / USEC_PER_MSEC : 0;
        b->chunks[b->n / WRITE_BOOK_CHUNK]->ms[b->n % WRITE_BOOK_CHUNK] = ms > UINT32_MAX ? UINT32_MAX : (uint32_t) ms;
        *meta_of(b, b->n) = (uint16_t) (document | (STATE_PENDING << STATE_SHIFT));
        if (b->in_flight[document] > 0)
                b->conflicts++;
        b->in_flight[document]++;
        *ret = (uint64_t) b->nonce << 32 | b->n;
        b->n++;
        return 0;
}

char *write_book_token_text(WriteToken token, char buf[static WRITE_BOOK_TOKEN_SIZE]) {
        snprintf(buf, WRITE_BOOK_TOKEN_SIZE, "%016" PRIx64, token);
        return buf;
}

int write_book_result(WriteBook *b, WriteToken token, WriteOutcome outcome) {
        uint64_t i = token & UINT32_MAX;
        uint16_t *m;

        if (token >> 32 != b->nonce || i >= b->n || outcome < WRITE_ACKNOWLEDGED || outcome > WRITE_INDETERMINATE)
                return -EINVAL;
        m = meta_of(b, i);
        if ((*m & STATE_MASK) != STATE_PENDING << STATE_SHIFT)
                return -EALREADY;
        *m = (uint16_t) ((*m & ~STATE_MASK) | ((unsigned) (outcome + 1) << STATE_SHIFT));
        b->in_flight[*m & DOC_MASK]--;
        return 0;
}

/* A token's text back to its id: exactly WRITE_BOOK_TOKEN_LEN lowercase
 * hex digits, as write_book_token_text() writes them. */
static bool parse_token(const char *s, WriteToken *ret) {
        uint64_t v = 0;
        size_t i;

        for (i = 0; s[i] && i < WRITE_BOOK_TOKEN_LEN; i++) {
                char c = s[i];

                if (c >= '0' && c <= '9')
                        v = v << 4 | (uint64_t) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v = v << 4 | (uint64_t) (c - 'a' + 10);
                else
                        return false;
        }
        if (i != WRITE_BOOK_TOKEN_LEN || s[i])
                return false;
        *ret = v;
        return true;
}

static void add_sample(char (*sample)[WRITE_BOOK_UNEXPECTED_MAX_LEN + 1], size_t *n, const char *s) {
        if (*n >= WRITE_BOOK_UNEXPECTED_SAMPLE)
                return;
        snprintf(sample[*n], WRITE_BOOK_UNEXPECTED_MAX_LEN + 1, "%s", s);
        (*n)++;
}

static void observe_one(WriteBook *b, uint32_t document, const char *s) {
        WriteToken t;
        uint64_t i;
        uint16_t *m;

        if (!parse_token(s, &t)) {
                b->unexpected++;
                add_sample(b->sample, &b->n_sample, s);
                return;
        }
        if (t >> 32 != b->nonce) {
                b->other_runs++;
                return;
        }
        i = t & UINT32_MAX;
        if (i >= b->n || (*meta_of(b, i) & DOC_MASK) != document) {
                b->unexpected++;
                add_sample(b->sample, &b->n_sample, s);
                return;
        }
        m = meta_of(b, i);
        if (*m & PRESENT)
                b->duplicates++;
        *m |= PRESENT;
}

int write_book_observe(WriteBook *b, uint32_t document, const char *const *elements, size_t n) {
        if (document >= b->n_documents)
                return -EINVAL;
        b->read[document] = true;
        for (size_t i = 0; i < n; i++)
                if (elements[i])
                        observe_one(b, document, elements[i]);
        return 0;
}

int write_book_observe_json(WriteBook *b, uint32_t document, const json_t *elements) {
        size_t i;
        json_t *v;

        if (document >= b->n_documents)
                return -EINVAL;
        b->read[document] = true;
        if (!json_is_array(elements))
                return 0;
        json_array_foreach(elements, i, v) {
                char *s;

                if (json_is_string(v)) {
                        observe_one(b, document, json_string_value(v));
                        continue;
                }
                b->unexpected++;
                s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                add_sample(b->sample, &b->n_sample, s ?: "?");
                free(s);
        }
        return 0;
}

static void note_lost(const WriteBook *b, uint64_t i, uint16_t m, WriteBookReport *r) {
        WriteBookLost *l;

        r->lost++;
        if (r->n_lost_sample >= WRITE_BOOK_LOST_SAMPLE)
                return;
        l = &r->lost_sample[r->n_lost_sample++];
        l->token = (uint64_t) b->nonce << 32 | i;
        l->document = m & DOC_MASK;
        l->sent_usec = b->start_usec + (uint64_t) ms_of(b, i) * USEC_PER_MSEC;
}

void write_book_report(const WriteBook *b, WriteBookReport *r) {
        *r = (WriteBookReport) {
                .attempted = b->n,
                .unexpected = b->unexpected,
                .duplicates = b->duplicates,
                .other_runs = b->other_runs,
                .conflicts = b->conflicts,
                .documents = b->n_documents,
                .n_unexpected_sample = b->n_sample,
        };
        memcpy(r->unexpected_sample, b->sample, sizeof r->unexpected_sample);
        for (uint32_t d = 0; d < b->n_documents; d++)
                r->documents_read += b->read[d];
        for (uint64_t i = 0; i < b->n; i++) {
                uint16_t m = *meta_of(b, i);
                bool present = m & PRESENT;

                switch ((m & STATE_MASK) >> STATE_SHIFT) {
                case STATE_ACKNOWLEDGED:
                        r->acknowledged++;
                        if (present)
                                r->ok++;
                        else if (b->read[m & DOC_MASK])
                                note_lost(b, i, m, r);
                        else
                                r->unread++;
                        break;
                case STATE_FAILED:
                        r->failed++;
                        if (present) {
                                char t[WRITE_BOOK_TOKEN_SIZE];

                                r->unexpected++;
                                add_sample(r->unexpected_sample, &r->n_unexpected_sample,
                                           write_book_token_text((uint64_t) b->nonce << 32 | i, t));
                        }
                        break;
                default:        /* indeterminate, or never answered */
                        r->indeterminate++;
                        r->recovered += present;
                        break;
                }
        }
}

static json_t *lost_json(const WriteBook *b, const WriteBookLost *l) {
        char t[WRITE_BOOK_TOKEN_SIZE], at[64];

        return json_pack("{s:s, s:s, s:s, s:I}", "token", write_book_token_text(l->token, t),
                         "document", b->names[l->document],
                         "sent_at", units_format_iso8601(l->sent_usec, at, sizeof at),
                         "sent_ms", (json_int_t) ((l->sent_usec - b->start_usec) / USEC_PER_MSEC));
}

static json_t *lost_sample_json(const WriteBook *b, const WriteBookReport *r) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < r->n_lost_sample; i++)
                if (json_array_append_new(a, lost_json(b, &r->lost_sample[i])) < 0)
                        a = (json_decref(a), NULL);
        return a;
}

static json_t *unexpected_sample_json(const WriteBookReport *r) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < r->n_unexpected_sample; i++)
                if (json_array_append_new(a, json_string(r->unexpected_sample[i])) < 0)
                        a = (json_decref(a), NULL);
        return a;
}

json_t *write_book_report_json(const WriteBook *b, const WriteBookReport *r) {
        json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I}",
                              "attempted", (json_int_t) r->attempted,
                              "acknowledged", (json_int_t) r->acknowledged,
                              "failed", (json_int_t) r->failed,
                              "indeterminate", (json_int_t) r->indeterminate,
                              "ok", (json_int_t) r->ok,
                              "lost", (json_int_t) r->lost,
                              "unread", (json_int_t) r->unread,
                              "recovered", (json_int_t) r->recovered,
                              "unexpected", (json_int_t) r->unexpected,
                              "duplicates", (json_int_t) r->duplicates,
                              "other_runs", (json_int_t) r->other_runs,
                              "conflicts", (json_int_t) r->conflicts,
                              "conflicts_source", "client",
                              "documents", (json_int_t) r->documents,
                              "documents_read", (json_int_t) r->documents_read);

        if (!o || json_object_set_new(o, "lost_sample", lost_sample_json(b, r)) < 0 ||
            json_object_set_new(o, "unexpected_sample", unexpected_sample_json(r)) < 0)
                return json_decref(o), NULL;
        return o;
}

size_t write_book_memory(const WriteBook *b) {
        size_t n = sizeof *b + b->n_chunks * sizeof(Chunk) + b->chunks_cap * sizeof(Chunk *) +
                   b->n_documents * (sizeof *b->in_flight + sizeof *b->read + sizeof *b->names);

        for (uint32_t i = 0; i < b->n_documents; i++)
                n += strlen(b->names[i]) + 1;
        return n;
}
