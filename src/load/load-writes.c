/* The lost-write check of a run (issue 8): the book of its writes, kept on
 * the run's thread as writes go out and come back, then the read-back of
 * every document once the load is over, and the verdict as JSON. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/load-internal.h"
#include "util/json-pointer.h"
#include "util/util.h"

struct LoadWriteCheck {
        WriteBook *book;
        uint32_t nonce;
        unsigned n_docs;
        char **doc_names;
        uint64_t next_write;            /* round robin over the documents */
        char *read_method;
        Template *read_path;
        char *elements, *conflicts_path, *conflicts_pointer;
        uint64_t read_after_usec;
        /* The read-back's. */
        char *read_error, *conflicts_error;
        /* The server's count right before the load and after the
         * read-back: a service counts its conflicts since it started, and
         * the run's are the difference. */
        bool have_conflicts_before, have_conflicts_after;
        uint64_t conflicts_before, conflicts_after;
        bool cancelled;
};

LoadWriteCheck *load_writes_free(LoadWriteCheck *w) {
        if (!w)
                return NULL;
        write_book_free(w->book);
        for (unsigned i = 0; w->doc_names && i < w->n_docs; i++)
                free(w->doc_names[i]);
        free(w->doc_names);
        free(w->read_method);
        template_unref(w->read_path);
        free(w->elements);
        free(w->conflicts_path);
        free(w->conflicts_pointer);
        free(w->read_error);
        free(w->conflicts_error);
        free(w);
        return NULL;
}

static bool has_writes(const LoadScenario *s) {
        for (size_t i = 0; i < s->n_requests; i++)
                if (s->requests[i].write)
                        return true;
        return false;
}

static int check_writes(const LoadWrites *lw, char **ret_error) {
        if (!lw)
                return set_error(ret_error, -EINVAL, "write requests need the lost-write check's settings");
        if (lw->documents == 0 || lw->documents > WRITE_BOOK_MAX_DOCUMENTS)
                return set_error(ret_error, -EINVAL, "documents must be 1..%u", WRITE_BOOK_MAX_DOCUMENTS);
        if (!lw->read_method || !lw->read_method[0] || !lw->read_path || lw->read_path[0] != '/')
                return set_error(ret_error, -EINVAL, "write requests need a read METHOD /PATH");
        if (!json_pointer_valid(lw->elements ?: ""))
                return set_error(ret_error, -EINVAL, "elements \"%s\" is not a JSON pointer", lw->elements);
        if (lw->conflicts_path && (lw->conflicts_path[0] != '/' || !json_pointer_valid(lw->conflicts_pointer ?: "")))
                return set_error(ret_error, -EINVAL, "conflicts_from needs a /PATH and a JSON pointer");
        return 0;
}

static int copy_settings(LoadWriteCheck *w, const LoadWrites *lw, char **ret_error) {
        char *reason = NULL;
        int r;

        w->n_docs = lw->documents;
        w->read_after_usec = lw->read_after_usec;
        w->read_method = strdup(lw->read_method);
        w->elements = strdup(lw->elements ?: "");
        if (lw->conflicts_path) {
                w->conflicts_path = strdup(lw->conflicts_path);
                w->conflicts_pointer = strdup(lw->conflicts_pointer ?: "");
                if (!w->conflicts_path || !w->conflicts_pointer)
                        return -ENOMEM;
        }
        if (!w->read_method || !w->elements)
                return -ENOMEM;
        r = template_compile(lw->read_path, &w->read_path, &reason);
        if (r == -EINVAL)
                set_error(ret_error, r, "read has a bad PATH template: %s", reason ?: "invalid");
        free(reason);
        return r;
}

/* "NONCE-K": fresh for every run, within the ${doc} bound. */
static int name_documents(LoadWriteCheck *w) {
        w->doc_names = calloc(w->n_docs, sizeof *w->doc_names);
        if (!w->doc_names)
                return -ENOMEM;
        for (unsigned i = 0; i < w->n_docs; i++)
                if (asprintf(&w->doc_names[i], "%08" PRIx32 "-%u", w->nonce, i) < 0) {
                        w->doc_names[i] = NULL;
                        return -ENOMEM;
                }
        return 0;
}

int load_writes_new(const LoadScenario *s, uint64_t start_realtime_usec, uint64_t nonce_seed, LoadWriteCheck **ret,
                    char **ret_error) {
        LoadWriteCheck *w;
        TemplateRng rng;
        int r;

        *ret = NULL;
        if (!has_writes(s))
                return 0;
        r = check_writes(s->writes, ret_error);
        if (r < 0)
                return r;
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        template_rng_seed(&rng, nonce_seed);
        w->nonce = (uint32_t) template_rng_next(&rng);
        r = copy_settings(w, s->writes, ret_error);
        if (r >= 0)
                r = name_documents(w);
        if (r >= 0)
                r = write_book_new(w->nonce, start_realtime_usec, (const char *const *) w->doc_names, w->n_docs, 0,
                                   &w->book);
        if (r < 0) {
                load_writes_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int load_writes_sent(LoadWriteCheck *w, Slot *slot, const char **ret_doc) {
        uint32_t doc = (uint32_t) (w->next_write % w->n_docs);
        int r;

        r = write_book_sent(w->book, doc, now_realtime_usec(), &slot->token);
        if (r < 0)
                return r;
        w->next_write++;
        slot->write = true;
        write_book_token_text(slot->token, slot->token_text);
        *ret_doc = w->doc_names[doc];
        return 0;
}

/* A write that could not connect was never sent: a definite failure.  One
 * that reached the server and then timed out or lost its connection may
 * have been applied. */
static WriteOutcome outcome_of(CURLcode result, bool expected) {
        switch (result) {
        case CURLE_OK:
                return expected ? WRITE_ACKNOWLEDGED : WRITE_FAILED;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return WRITE_FAILED;
        default:
                return WRITE_INDETERMINATE;
        }
}

void load_writes_answer(LoadWriteCheck *w, const Slot *slot, CURLcode result, bool expected) {
        (void) write_book_result(w->book, slot->token, outcome_of(result, expected));
}

/* ---------------------------------------------------------------- read-back */

static bool cancel_pending(int fd, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return fd >= 0 && poll(&p, 1, timeout_ms) > 0;
}

static int on_progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
        LoadRun *run = userdata;

        return cancel_pending(run->cancel_fd, 0) ? 1 : 0;
}

/* Waits `usec` unless a cancel comes first.  false: cancelled. */
static bool settle(LoadRun *run, uint64_t usec) {
        uint64_t end = now_monotonic_usec() + usec, now;

        while ((now = now_monotonic_usec()) < end)
                if (cancel_pending(run->cancel_fd, (int) ((end - now + 999) / 1000)))
                        return false;
        return !cancel_pending(run->cancel_fd, 0);
}

static void keep_error(char **slot, const char *what, const char *why) {
        if (!*slot)
                *slot = strjoin(what, ": ", why, NULL);
}

/* One blocking request of the read-back: `method` base_url + `path`, its
 * answer in *body.  0 with *ret_status, or -EIO with the reason in `why`. */
static int fetch(LoadRun *run, const char *method, const char *path, CurlBuffer *body, long *ret_status,
                 char *why, size_t n) {
        uint64_t timeout = run->timeout_usec > LOAD_READ_TIMEOUT_USEC ? run->timeout_usec : LOAD_READ_TIMEOUT_USEC;
        size_t len = strlen(run->base_url);
        char errbuf[CURL_ERROR_SIZE] = "", *url;
        CURLcode rc;
        CURL *e;
        int r;

        url = strjoin(run->base_url, path + (len > 0 && run->base_url[len - 1] == '/'), NULL);
        if (!url)
                return -ENOMEM;
        r = curl_glue_easy_new(url, timeout, run->timeout_usec, errbuf, &e);
        free(url);
        if (r < 0) {
                snprintf(why, n, "cannot make a transfer: %s", strerror(-r));
                return -EIO;
        }
        (void) curl_easy_setopt(e, CURLOPT_HTTPHEADER, run->headers);
        (void) curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        if (strcmp(method, "GET") != 0)
                (void) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        (void) curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        (void) curl_easy_setopt(e, CURLOPT_XFERINFODATA, run);
        (void) curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_buffer_attach(body, e, LOAD_READ_MAX_BYTES);
        rc = curl_easy_perform(e);
        if (rc == CURLE_OK)
                (void) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, ret_status);
        else
                curl_glue_describe(e, rc, body, errbuf, timeout, "read-back answer", NULL, why, n);
        curl_easy_cleanup(e);
        return rc == CURLE_OK ? 0 : -EIO;
}

/* GETs (or read_method) document `doc` and observes its elements; a 404
 * observes it empty; any other failure leaves it unread. */
static void read_document(LoadWriteCheck *w, LoadRun *run, uint32_t doc, CurlBuffer *body) {
        char path[TEMPLATE_DOC_MAX + 4096], why[CURL_GLUE_REASON_MAX];
        TemplateVars v = { .doc = w->doc_names[doc] };
        json_t *root, *elements;
        json_error_t jerr;
        long status = 0;

        if (template_expand(w->read_path, &v, path, sizeof path) >= sizeof path) {
                keep_error(&w->read_error, "read", "the expanded PATH is too long");
                return;
        }
        if (fetch(run, w->read_method, path, body, &status, why, sizeof why) < 0) {
                keep_error(&w->read_error, path, why);
                return;
        }
        if (status == 404) {
                (void) write_book_observe(w->book, doc, NULL, 0);
                return;
        }
        if (status < 200 || status > 299) {
                snprintf(why, sizeof why, "HTTP status %ld", status);
                keep_error(&w->read_error, path, why);
                return;
        }
        root = json_loadb(body->data ?: "", body->size, 0, &jerr);
        if (!root) {
                snprintf(why, sizeof why, "the answer is not JSON: %s", jerr.text);
                keep_error(&w->read_error, path, why);
                return;
        }
        elements = json_pointer_get(root, w->elements);
        /* An answer without the array is a read that failed, not an empty
         * document: counting its writes lost would blame the service for
         * a wrong `elements`. */
        if (!json_is_array(elements)) {
                snprintf(why, sizeof why, "the answer has no array at \"%s\"", w->elements);
                keep_error(&w->read_error, path, why);
        } else
                (void) write_book_observe_json(w->book, doc, elements);
        json_decref(root);
}

/* The server's own conflict count: a number at conflicts_pointer.  0, or
 * -EIO with the reason kept in conflicts_error (`when` names the read). */
static int read_conflicts(LoadWriteCheck *w, LoadRun *run, CurlBuffer *body, const char *when,
                          uint64_t *ret_count) {
        char why[CURL_GLUE_REASON_MAX], what[4096];
        json_t *root = NULL, *v;
        long status = 0;
        int r = -EIO;

        snprintf(what, sizeof what, "%s (%s)", w->conflicts_path, when);
        if (fetch(run, "GET", w->conflicts_path, body, &status, why, sizeof why) < 0) {
                keep_error(&w->conflicts_error, what, why);
                return -EIO;
        }
        if (status < 200 || status > 299)
                snprintf(why, sizeof why, "HTTP status %ld", status);
        else if (!(root = json_loadb(body->data ?: "", body->size, 0, NULL)))
                snprintf(why, sizeof why, "the answer is not JSON");
        else if (!(v = json_pointer_get(root, w->conflicts_pointer)) || !json_is_number(v) ||
                 json_number_value(v) < 0)
                snprintf(why, sizeof why, "no count (a number >= 0) at %s", w->conflicts_pointer);
        else {
                *ret_count = (uint64_t) json_number_value(v);
                r = 0;
        }
        if (r < 0)
                keep_error(&w->conflicts_error, what, why);
        json_decref(root);
        return r;
}

void load_writes_before(LoadWriteCheck *w, LoadRun *run) {
        CurlBuffer body = { 0 };

        if (!w->conflicts_path)
                return;
        w->have_conflicts_before = read_conflicts(w, run, &body, "before the load", &w->conflicts_before) >= 0;
        curl_buffer_done(&body);
}

/* false: a cancel stopped it. */
static bool read_back(LoadWriteCheck *w, LoadRun *run) {
        CurlBuffer body = { 0 };

        if (!settle(run, w->read_after_usec))
                return false;
        for (uint32_t d = 0; d < w->n_docs; d++) {
                read_document(w, run, d, &body);
                if (cancel_pending(run->cancel_fd, 0)) {
                        curl_buffer_done(&body);
                        return false;
                }
        }
        if (w->conflicts_path && w->have_conflicts_before)
                w->have_conflicts_after = read_conflicts(w, run, &body, "after the read-back",
                                                         &w->conflicts_after) >= 0;
        curl_buffer_done(&body);
        return !cancel_pending(run->cancel_fd, 0);
}

static json_t *string_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

/* The run's conflicts by the server's count: the rise of its count over
 * the run.  false (the client's count stands) when a read failed or the
 * count went down, a service restarted during the run. */
static bool server_conflicts(LoadWriteCheck *w, uint64_t *ret) {
        char why[128];

        if (!w->have_conflicts_before || !w->have_conflicts_after)
                return false;
        if (w->conflicts_after < w->conflicts_before) {
                snprintf(why, sizeof why, "the count went down from %" PRIu64 " to %" PRIu64
                         " during the run (did the service restart?)", w->conflicts_before, w->conflicts_after);
                keep_error(&w->conflicts_error, w->conflicts_path, why);
                return false;
        }
        *ret = w->conflicts_after - w->conflicts_before;
        return true;
}

static json_t *count_or_null(bool have, uint64_t n) {
        return have ? json_integer((json_int_t) n) : json_null();
}

static char *verdict(LoadWriteCheck *w, bool read, uint64_t read_usec) {
        WriteBookReport *r = calloc(1, sizeof *r);
        char nonce[16], *text = NULL;
        uint64_t conflicts;
        json_t *o;

        if (!r)
                return NULL;
        write_book_report(w->book, r);
        o = write_book_report_json(w->book, r);
        snprintf(nonce, sizeof nonce, "%08" PRIx32, w->nonce);
        if (o && server_conflicts(w, &conflicts) &&
            (json_object_set_new(o, "conflicts", json_integer((json_int_t) conflicts)) < 0 ||
             json_object_set_new(o, "conflicts_source", json_string("server")) < 0))
                goto out;
        if (o && w->conflicts_path &&
            (json_object_set_new(o, "conflicts_before", count_or_null(w->have_conflicts_before,
                                                                      w->conflicts_before)) < 0 ||
             json_object_set_new(o, "conflicts_after", count_or_null(w->have_conflicts_after,
                                                                     w->conflicts_after)) < 0))
                goto out;
        if (o && json_object_set_new(o, "read_back", json_boolean(read)) >= 0 &&
            json_object_set_new(o, "read_error", string_or_null(w->read_error)) >= 0 &&
            json_object_set_new(o, "conflicts_error", string_or_null(w->conflicts_error)) >= 0 &&
            json_object_set_new(o, "read_back_ms", json_integer((json_int_t) (read_usec / USEC_PER_MSEC))) >= 0 &&
            json_object_set_new(o, "book_bytes", json_integer((json_int_t) write_book_memory(w->book))) >= 0 &&
            json_object_set_new(o, "nonce", json_string(nonce)) >= 0)
                text = json_dumps(o, JSON_COMPACT);
out:
        json_decref(o);
        free(r);
        return text;
}

char *load_writes_finish(LoadWriteCheck *w, LoadRun *run, bool read, bool *ret_cancelled) {
        uint64_t start = now_monotonic_usec();
        bool done = false;

        *ret_cancelled = false;
        if (read) {
                done = read_back(w, run);
                *ret_cancelled = !done;
        }
        return verdict(w, done, now_monotonic_usec() - start);
}
