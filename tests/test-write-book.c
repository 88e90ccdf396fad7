/* The lost-write book: every class on a hand-made case, tokens the server
 * invented, duplicates and misplaced tokens in the read-back, a document
 * read back missing entirely or never read, the client-observed conflict
 * count, the lost sample's cap and order, the JSON rendering, bad input,
 * and 600 000 writes within the memory bound.  Linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc to count the bytes the
 * book allocates. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/write-book.h"
#include "util/util.h"
#include "tap.h"

/* ------------------------------------------------------------ allocations */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static size_t alloc_bytes;

void *__wrap_malloc(size_t size) {
        alloc_bytes += size;
        return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size) {
        alloc_bytes += n * size;
        return __real_calloc(n, size);
}

/* Counts what a realloc adds only roughly (the new size), which is an
 * upper bound: good enough for a bound. */
void *__wrap_realloc(void *p, size_t size) {
        alloc_bytes += size;
        return __real_realloc(p, size);
}

/* ------------------------------------------------------------ helpers */

#define T0 (1764600000ULL * USEC_PER_SEC)   /* the run's start */

static const char *const names[] = { "alpha", "beta", "gamma" };

static WriteBook *book(uint32_t nonce) {
        WriteBook *b = NULL;
        int r = write_book_new(nonce, T0, names, 3, 0, &b);

        if (r < 0) {
                printf("Bail out! write_book_new: %s\n", strerror(-r));
                exit(99);
        }
        return b;
}

/* Sends a write to `doc` at T0 + ms and answers it at once with `o`
 * (o < 0: leaves it unanswered). */
static WriteToken write1(WriteBook *b, uint32_t doc, uint64_t ms, int o) {
        WriteToken t = 0;

        if (write_book_sent(b, doc, T0 + ms * USEC_PER_MSEC, &t) < 0)
                printf("# write_book_sent failed\n");
        if (o >= 0 && write_book_result(b, t, (WriteOutcome) o) < 0)
                printf("# write_book_result failed\n");
        return t;
}

static const char *text(WriteToken t, char buf[static WRITE_BOOK_TOKEN_SIZE]) {
        return write_book_token_text(t, buf);
}

/* ------------------------------------------------------------ tests */

static void test_tokens(void) {
        WriteBook *b = book(0x5eed0001);
        char buf[WRITE_BOOK_TOKEN_SIZE];
        WriteToken t0 = write1(b, 0, 0, -1), t1 = write1(b, 1, 0, -1);

        is_str(text(t0, buf), "5eed000100000000", "the first token is the nonce then sequence 0, 16 hex digits");
        is_str(text(t1, buf), "5eed000100000001", "the second one counts up");
        is_int(strlen(text(UINT64_MAX, buf)), WRITE_BOOK_TOKEN_LEN, "every token text has the same width");
        write_book_free(b);
}

static void test_classes(void) {
        WriteBook *b = book(7);
        WriteBookReport r;
        char ok1[WRITE_BOOK_TOKEN_SIZE], ok2[WRITE_BOOK_TOKEN_SIZE], fail_present[WRITE_BOOK_TOKEN_SIZE],
             indet_present[WRITE_BOOK_TOKEN_SIZE], unanswered[WRITE_BOOK_TOKEN_SIZE];

        text(write1(b, 0, 10, WRITE_ACKNOWLEDGED), ok1);
        text(write1(b, 0, 20, WRITE_ACKNOWLEDGED), ok2);
        write1(b, 0, 30, WRITE_ACKNOWLEDGED);                   /* lost */
        write1(b, 0, 40, WRITE_FAILED);                         /* failed, absent: fine */
        text(write1(b, 0, 50, WRITE_FAILED), fail_present);     /* failed, present: unexpected */
        text(write1(b, 0, 60, WRITE_INDETERMINATE), indet_present); /* recovered */
        write1(b, 0, 70, WRITE_INDETERMINATE);                  /* indeterminate, absent */
        text(write1(b, 0, 80, -1), unanswered);                 /* never answered: indeterminate */
        {
                const char *el[] = { ok1, ok2, fail_present, indet_present, unanswered };

                is_int(write_book_observe(b, 0, el, 5), 0, "observe document 0");
        }
        write_book_report(b, &r);
        is_int(r.attempted, 8, "attempted: every write sent");
        is_int(r.acknowledged, 3, "acknowledged: 3");
        is_int(r.failed, 2, "failed: 2");
        is_int(r.indeterminate, 3, "indeterminate: 2 timed out and 1 never answered");
        is_int(r.ok, 2, "ok: acknowledged and present");
        is_int(r.lost, 1, "lost: acknowledged and absent");
        is_int(r.unread, 0, "unread: none, the document was read");
        is_int(r.recovered, 2, "recovered: indeterminate (or unanswered) and present");
        is_int(r.unexpected, 1, "unexpected: the failed write found present");
        is_int(r.n_unexpected_sample, 1, "the unexpected sample holds it");
        is_str(r.unexpected_sample[0], fail_present, "by its token");
        is_int(r.n_lost_sample, 1, "one lost write in the sample");
        is_int(r.lost_sample[0].token & UINT32_MAX, 2, "the third write");
        is_int(r.lost_sample[0].document, 0, "in document 0");
        is_int(r.lost_sample[0].sent_usec, T0 + 30 * USEC_PER_MSEC, "sent at T0 + 30 ms");
        is_int(r.duplicates + r.other_runs, 0, "no duplicates, no other runs");
        is_int(r.conflicts, 0, "each answered before the next was sent: no conflict");
        write_book_free(b);
}

static void test_invented_and_duplicates(void) {
        WriteBook *b = book(0xabcdef01);
        WriteBookReport r;
        char t0[WRITE_BOOK_TOKEN_SIZE], t1[WRITE_BOOK_TOKEN_SIZE], t2[WRITE_BOOK_TOKEN_SIZE];
        const char *d0[] = { "invented-1", NULL, "", "ABCDEF0100000000", "abcdef01000000000" };
        const char *d1[3];

        text(write1(b, 1, 0, WRITE_ACKNOWLEDGED), t0);
        text(write1(b, 1, 1, WRITE_ACKNOWLEDGED), t1);
        text(write1(b, 2, 2, WRITE_ACKNOWLEDGED), t2);
        d1[0] = t0, d1[1] = t0, d1[2] = t1;
        write_book_observe(b, 0, d0, 5);
        write_book_observe(b, 1, d1, 3);
        {
                const char *d2[] = { t2, t0, "abcdef0100000009", "1234567800000000" };

                write_book_observe(b, 2, d2, 4);
        }
        write_book_report(b, &r);
        is_int(r.ok, 3, "all three acknowledged writes are ok");
        is_int(r.lost, 0, "none lost");
        is_int(r.duplicates, 1, "the token read twice in its document is one duplicate");
        is_int(r.other_runs, 1, "a well-formed token of another nonce is another run's");
        is_int(r.unexpected, 6,
               "unexpected: invented, empty, upper case, 17 digits, a token in the wrong document, one never sent");
        is_int(r.n_unexpected_sample, 6, "each in the sample");
        is_str(r.unexpected_sample[0], "invented-1", "in read order: first the invented one");
        is_str(r.unexpected_sample[4], t0, "the token misplaced in document gamma");
        is_str(r.unexpected_sample[5], "abcdef0100000009", "the token never sent");
        write_book_free(b);
}

static void test_observe_json(void) {
        WriteBook *b = book(0x0000beef);
        WriteBookReport r;
        json_t *a;

        write1(b, 0, 0, WRITE_ACKNOWLEDGED);
        write1(b, 0, 0, WRITE_ACKNOWLEDGED);
        write1(b, 1, 0, WRITE_ACKNOWLEDGED);
        a = json_pack("[s, i, {s:i}, n]", "0000beef00000001", 42, "a", 1);
        is_int(write_book_observe_json(b, 0, a), 0, "a JSON array is observed");
        is_int(write_book_observe_json(b, 1, json_object_get(a, "x")), 0, "NULL observes an empty document");
        is_int(write_book_observe_json(b, 3, a), -EINVAL, "a document out of range is refused");
        write_book_report(b, &r);
        is_int(r.ok, 1, "its string token is ok");
        is_int(r.lost, 2, "the other write to document 0 and the one to the empty document 1 are lost");
        is_int(r.unexpected, 3, "a number, an object and a null are unexpected");
        is_str(r.unexpected_sample[1], "{\"a\":1}", "in the sample as compact JSON");
        is_str(r.unexpected_sample[2], "null", "null too");
        json_decref(a);
        write_book_free(b);
}

static void test_missing_document(void) {
        WriteBook *b = book(1);
        WriteBookReport r;

        write1(b, 0, 0, WRITE_ACKNOWLEDGED);
        write1(b, 1, 0, WRITE_ACKNOWLEDGED);
        write1(b, 1, 0, WRITE_INDETERMINATE);
        write1(b, 2, 0, WRITE_ACKNOWLEDGED);
        write_book_observe(b, 0, NULL, 0);      /* 404: the document is gone */
        write_book_report(b, &r);
        is_int(r.lost, 1, "a document read back missing loses its acknowledged write");
        is_int(r.unread, 2, "the writes to documents never read are unread, not lost");
        is_int(r.ok + r.recovered, 0, "nothing ok nor recovered");
        is_int(r.documents, 3, "three documents");
        is_int(r.documents_read, 1, "one read");
        write_book_free(b);
}

/* Sent and answered at interleaved moments: A(doc0) sent, B(doc0) sent
 * while A is in flight (conflict), A answered, C(doc1) sent (alone on its
 * document), B answered, D(doc0) sent after B's answer (no conflict), E
 * (doc0) sent while D is in flight (conflict), F(doc1) while C is in
 * flight (conflict). */
static void test_conflicts(void) {
        WriteBook *b = book(2);
        WriteBookReport r;
        WriteToken a, bb, c, d, e, f;

        write_book_sent(b, 0, T0 + 1, &a);
        write_book_sent(b, 0, T0 + 2, &bb);
        write_book_result(b, a, WRITE_ACKNOWLEDGED);
        write_book_sent(b, 1, T0 + 3, &c);
        write_book_result(b, bb, WRITE_FAILED);
        write_book_sent(b, 0, T0 + 4, &d);
        write_book_sent(b, 0, T0 + 5, &e);
        write_book_sent(b, 1, T0 + 6, &f);
        write_book_report(b, &r);
        is_int(r.conflicts, 3, "three writes were sent while another to their document was in flight");
        is_int(write_book_result(b, bb, WRITE_ACKNOWLEDGED), -EALREADY, "a second answer is refused");
        is_int(write_book_result(b, c ^ (1ULL << 40), WRITE_ACKNOWLEDGED), -EINVAL, "another nonce's token is refused");
        is_int(write_book_result(b, (uint64_t) 2 << 32 | 99, WRITE_ACKNOWLEDGED), -EINVAL,
               "a token never sent is refused");
        is_int(write_book_result(b, c, (WriteOutcome) 7), -EINVAL, "an unknown outcome is refused");
        is_int(write_book_result(b, c, WRITE_ACKNOWLEDGED), 0, "its first answer is taken after all that");
        (void) d, (void) e, (void) f;
        write_book_free(b);
}

static void test_bad_input(void) {
        WriteBook *b = NULL;
        WriteToken t;

        is_int(write_book_new(1, T0, NULL, 0, 0, &b), -EINVAL, "zero documents are refused");
        is_int(write_book_new(1, T0, NULL, WRITE_BOOK_MAX_DOCUMENTS + 1, 0, &b), -EINVAL,
               "more than WRITE_BOOK_MAX_DOCUMENTS are refused");
        is_int(write_book_new(1, T0, NULL, 2, 2, &b), 0, "two documents, two writes at most");
        is_int(write_book_sent(b, 2, T0, &t), -EINVAL, "a document out of range is refused");
        is_int(write_book_observe(b, 2, NULL, 0), -EINVAL, "and not read either");
        is_int(write_book_sent(b, 0, T0, &t), 0, "write 1");
        is_int(write_book_sent(b, 1, T0 - 5 * USEC_PER_SEC, &t), 0, "write 2, sent before the start");
        is_int(write_book_sent(b, 1, T0, &t), -ENOBUFS, "a third is past max_writes");
        {
                WriteBookReport r;

                write_book_result(b, t, WRITE_ACKNOWLEDGED);
                write_book_observe(b, 1, NULL, 0);
                write_book_report(b, &r);
                is_int(r.attempted, 2, "the refused writes are not counted");
                is_int(r.lost_sample[0].sent_usec, T0, "a time before the start counts as the start");
        }
        ok(write_book_free(b) == NULL && write_book_free(NULL) == NULL, "free returns NULL and takes NULL");
}

static void test_json(void) {
        WriteBook *b = book(0x00c0ffee);
        WriteBookReport r;
        json_t *j;
        char *s;
        const char *el[] = { "surprise" };

        write1(b, 1, 1500, WRITE_ACKNOWLEDGED);
        write_book_observe(b, 1, el, 1);
        write_book_report(b, &r);
        j = write_book_report_json(b, &r);
        s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        is_str(s,
               "{\"acknowledged\":1,\"attempted\":1,\"conflicts\":0,\"conflicts_source\":\"client\","
               "\"documents\":3,\"documents_read\":1,\"duplicates\":0,\"failed\":0,\"indeterminate\":0,"
               "\"lost\":1,\"lost_sample\":[{\"document\":\"beta\",\"sent_at\":\"2025-12-01T14:40:01Z\","
               "\"sent_ms\":1500,\"token\":\"00c0ffee00000000\"}],\"ok\":0,\"other_runs\":0,"
               "\"recovered\":0,\"unexpected\":1,\"unexpected_sample\":[\"surprise\"],\"unread\":0}",
               "the JSON rendering, exactly");
        free(s);
        json_decref(j);
        write_book_free(b);
}

/* 75 + 50 lost writes spread over two documents, interleaved with ok
 * ones: the sample keeps the first 100 in send order. */
static void test_lost_sample(void) {
        WriteBook *b = book(3);
        WriteBookReport r;
        int in_order = 1;

        for (uint64_t i = 0; i < 300; i++)
                write1(b, (uint32_t) (i % 2), i, WRITE_ACKNOWLEDGED);
        for (uint32_t d = 0; d < 2; d++) {
                char tok[300][WRITE_BOOK_TOKEN_SIZE];
                const char *el[300];
                size_t n = 0;

                /* write i is lost when i % 4 == 0 (document 0) or i % 4 == 1 with i < 100 */
                for (uint64_t i = d; i < 300; i += 2)
                        if (!(i % 4 == 0 || (i % 4 == 1 && i < 200)))
                                el[n] = text((uint64_t) 3 << 32 | i, tok[n]), n++;
                write_book_observe(b, d, el, n);
        }
        write_book_report(b, &r);
        is_int(r.lost, 75 + 50, "lost: 75 in document 0, 50 in document 1");
        is_int(r.ok, 175, "the others are ok");
        is_int(r.n_lost_sample, WRITE_BOOK_LOST_SAMPLE, "the sample stops at 100");
        for (size_t i = 1; i < r.n_lost_sample; i++)
                in_order &= r.lost_sample[i - 1].sent_usec < r.lost_sample[i].sent_usec;
        ok(in_order, "in send order");
        is_int(r.lost_sample[0].token & UINT32_MAX, 0, "the first is write 0");
        is_int(r.lost_sample[1].token & UINT32_MAX, 1, "then write 1 (document 1)");
        is_int(r.lost_sample[99].token & UINT32_MAX, 197, "the hundredth is write 197");
        write_book_free(b);
}

/* 1000 users writing once a second for 10 minutes to 5 documents, each
 * write answered 40 ms after it was sent; every 100th lost.  */
static void test_memory(void) {
        WriteBook *b = NULL;
        size_t before = alloc_bytes, bytes;
        uint64_t n = 600000;
        WriteBookReport r;

        write_book_new(4, T0, NULL, 5, 0, &b);
        for (uint64_t i = 0; i < n; i++) {
                WriteToken t;

                /* write i is sent at T0 + i ms: 1000 a second */
                if (write_book_sent(b, (uint32_t) (i % 5), T0 + i * USEC_PER_MSEC, &t) < 0)
                        break;
                write_book_result(b, t, WRITE_ACKNOWLEDGED);
        }
        bytes = alloc_bytes - before;
        printf("# 600000 writes: %zu bytes allocated, %.2f bytes a write, write_book_memory %zu\n", bytes,
               (double) bytes / (double) n, write_book_memory(b));
        ok(bytes <= 4 * 1024 * 1024, "600 000 writes take at most 4 MiB (%zu bytes)", bytes);
        ok((double) bytes / (double) n < WRITE_BOOK_BYTES_PER_WRITE + 0.2, "about 6 bytes a write");
        is_int(write_book_memory(b) <= bytes, 1, "write_book_memory counts no more than was allocated");
        for (uint32_t d = 0; d < 5; d++) {
                static char tok[120000][WRITE_BOOK_TOKEN_SIZE];
                static const char *el[120000];
                size_t k = 0;

                for (uint64_t i = d; i < n; i += 5)
                        if (i % 100 != 0)
                                el[k] = text((uint64_t) 4 << 32 | i, tok[k]), k++;
                write_book_observe(b, d, el, k);
        }
        write_book_report(b, &r);
        is_int(r.attempted, n, "all 600 000 attempted");
        is_int(r.lost, n / 100, "every 100th lost: 6000");
        is_int(r.ok, n - n / 100, "the rest ok");
        is_int(r.conflicts, 0, "answered before the next was sent: no conflict");
        write_book_free(b);
}

int main(void) {
        test_tokens();
        test_classes();
        test_invented_and_duplicates();
        test_observe_json();
        test_missing_document();
        test_conflicts();
        test_bad_input();
        test_json();
        test_lost_sample();
        test_memory();
        return tap_done();
}
