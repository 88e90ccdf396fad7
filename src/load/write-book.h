/* The lost-write check's book-keeping (issue 8, point 1), in the manner of
 * Jepsen's set checker: every write a scenario sends carries a token the
 * book makes up; the book remembers what the server answered to it; after
 * the run every document is read back and the book classifies each write.
 *
 * Pure: no I/O and no clock but the times the caller passes, so the engine
 * calls it from its run thread and the tests pin it exactly.  Not
 * thread-safe: one thread owns a book.
 *
 * Tokens.  A token is a 64-bit id: the run's 32-bit nonce (given at
 * creation) above a 32-bit sequence number counting the run's writes from 0
 * in send order.  Its text is always WRITE_BOOK_TOKEN_LEN lowercase hex
 * digits ("5eed00010000002a"), so a token found in a read-back maps back to
 * its write without any lookup table, and documents shared with earlier
 * runs (another nonce) cannot be mistaken for this run's writes.
 *
 * Memory: WRITE_BOOK_BYTES_PER_WRITE (6) bytes per write: the send time
 * (milliseconds since the run's start, 32 bits) and 16 bits holding the
 * document, the outcome and whether the read-back found it, kept in chunks
 * of WRITE_BOOK_CHUNK writes, so at most one partly filled chunk is slack
 * and nothing is copied as the book grows.  600 000 writes (1000 users, one
 * write a second for 10 minutes) take 3.5 MiB (tests/test-write-book.c
 * measures it).  No string is stored per write.
 *
 * Conflicts as the client sees them: a write conflicts when it is sent to a
 * document while another write to the same document is in flight, i.e. was
 * sent (write_book_sent()) and not yet answered (write_book_result()).  In
 * times: write w conflicts when some other write v to w's document has
 * send(v) <= send(w) < answer(v), with send and answer the moments of the
 * two calls; the count is the number of such writes w (not of pairs), so
 * it is at most attempted - 1 per document.  The book counts it as the
 * calls come, so the caller must make them in the order things happen,
 * which the engine's single run thread does. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WRITE_BOOK_TOKEN_LEN       16      /* hex digits of a token's text */
#define WRITE_BOOK_TOKEN_SIZE      (WRITE_BOOK_TOKEN_LEN + 1)
#define WRITE_BOOK_MAX_DOCUMENTS   4096
#define WRITE_BOOK_LOST_SAMPLE     100     /* lost writes listed, in send order */
#define WRITE_BOOK_UNEXPECTED_SAMPLE 10    /* unexpected elements listed, as read */
#define WRITE_BOOK_UNEXPECTED_MAX_LEN 64   /* bytes of one kept in the sample */
#define WRITE_BOOK_CHUNK           16384   /* writes per allocation */
#define WRITE_BOOK_BYTES_PER_WRITE 6

typedef struct WriteBook WriteBook;

/* A write's id; its text is write_book_token_text()'s. */
typedef uint64_t WriteToken;

typedef enum WriteOutcome {
        WRITE_ACKNOWLEDGED,   /* the expected status: the server says it is applied */
        WRITE_FAILED,         /* a definite refusal: it must not be applied */
        WRITE_INDETERMINATE,  /* timeout, connection lost: it may or may not be */
} WriteOutcome;

/* One lost write of the sample. */
typedef struct WriteBookLost {
        WriteToken token;
        uint32_t document;
        uint64_t sent_usec;   /* as given to write_book_sent(), to the millisecond */
} WriteBookLost;

/* What write_book_report() finds.  Every write sent is counted once in
 * attempted and once in acknowledged, failed or indeterminate (a write
 * never answered counts as indeterminate).  Acknowledged writes are ok,
 * lost or unread; indeterminate ones recovered or not; failed ones present
 * in a document count as unexpected. */
typedef struct WriteBookReport {
        uint64_t attempted, acknowledged, failed, indeterminate;
        uint64_t ok;           /* acknowledged and present in its document */
        uint64_t lost;         /* acknowledged and absent from its document, which was read */
        uint64_t unread;       /* acknowledged, but its document was never read back */
        uint64_t recovered;    /* indeterminate and present */
        uint64_t unexpected;   /* elements present but never sent (not a token of
                                * this run, or in another document than the one it
                                * was sent to), or sent only as failed */
        uint64_t duplicates;   /* elements read back more than once */
        uint64_t other_runs;   /* well-formed tokens of another nonce: ignored */
        uint64_t conflicts;    /* client-observed, as defined above */
        uint32_t documents, documents_read;
        size_t n_lost_sample;
        WriteBookLost lost_sample[WRITE_BOOK_LOST_SAMPLE];
        size_t n_unexpected_sample;
        char unexpected_sample[WRITE_BOOK_UNEXPECTED_SAMPLE][WRITE_BOOK_UNEXPECTED_MAX_LEN + 1];
} WriteBookReport;

/* A new empty book in *ret (the caller frees it with write_book_free()) for
 * a run started at `start_usec` (CLOCK_REALTIME microseconds) writing to
 * `n_documents` documents (1..WRITE_BOOK_MAX_DOCUMENTS) whose names the
 * book copies from `names` (NULL: "0", "1", ...), tagging its tokens with
 * `nonce` (e.g. from the run id and the time, so that runs differ) and
 * refusing writes past `max_writes` (0: 2^32 - 1).  0, -EINVAL or -ENOMEM. */
int write_book_new(uint32_t nonce, uint64_t start_usec, const char *const *names, uint32_t n_documents,
                   uint64_t max_writes, WriteBook **ret);

/* NULL is a no-op.  Returns NULL. */
WriteBook *write_book_free(WriteBook *b);

/* Records a write to `document` sent at `send_usec` and gives its token in
 * *ret.  0; -EINVAL for a document out of range; -ENOBUFS past max_writes;
 * -ENOMEM (the book is unchanged by a failure).  Amortised O(1). */
int write_book_sent(WriteBook *b, uint32_t document, uint64_t send_usec, WriteToken *ret);

/* Renders a token's text (WRITE_BOOK_TOKEN_LEN hex digits and a NUL) into
 * `buf`, which it returns. */
char *write_book_token_text(WriteToken token, char buf[static WRITE_BOOK_TOKEN_SIZE]);

/* Records the server's answer to the write `token`.  0; -EINVAL for a token
 * this book did not make or an unknown outcome; -EALREADY when it was
 * answered before (the first answer stands). */
int write_book_result(WriteBook *b, WriteToken token, WriteOutcome outcome);

/* Records a successful read-back of `document`: its `n` elements (strings;
 * NULL ones are skipped).  A document whose read found no document at all
 * (404) is read with n = 0: its acknowledged writes are lost; one never
 * read is not (its writes are unread).  Several calls for one document add
 * up (a paged read).  0, or -EINVAL for a document out of range. */
int write_book_observe(WriteBook *b, uint32_t document, const char *const *elements, size_t n);

/* write_book_observe() for a read answer's element array (e.g. what the
 * scenario's `elements` JSON pointer finds): its strings are observed; any
 * other value (a number, an object) counts as unexpected, in the sample as
 * compact JSON.  NULL or a value that is not an array observes an empty
 * document.  `elements` is borrowed.  0, or -EINVAL as above. */
int write_book_observe_json(WriteBook *b, uint32_t document, const json_t *elements);

/* Classifies every write (O(writes)); `r` is the caller's. */
void write_book_report(const WriteBook *b, WriteBookReport *r);

/* The report as the run's "writes" object: attempted, acknowledged, failed,
 * indeterminate, ok, lost, unread, recovered, unexpected, duplicates,
 * other_runs, conflicts, conflicts_source ("client"), documents,
 * documents_read, lost_sample [{token, document, sent_at (RFC 3339),
 * sent_ms (since the run's start)}] and unexpected_sample [strings].
 * A new reference the caller owns; NULL when out of memory. */
json_t *write_book_report_json(const WriteBook *b, const WriteBookReport *r);

/* Bytes the book holds allocated now (its chunks, their table, the names). */
size_t write_book_memory(const WriteBook *b);
