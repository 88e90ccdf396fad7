/* libcurl's multi-socket interface wired into an sd-event loop: transfers
 * run concurrently on the loop's thread and never block it. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct CurlGlue CurlGlue;

/* What perfwatchd's requests say they are, libcurl's and its own. */
#define CURL_GLUE_USER_AGENT "perfwatchd/0.1"

/* Initialises libcurl once for the process, before any thread starts.
 * 0 or -EIO.  Pair with curl_glue_global_cleanup() at exit. */
int curl_glue_global_init(void);
void curl_glue_global_cleanup(void);

/* Called once when a transfer ends (result CURLE_OK or an error).  The easy
 * handle is already removed from the multi handle; the callee owns it again. */
typedef void (*curl_glue_done_t)(CURL *easy, CURLcode result, void *userdata);

int curl_glue_new(sd_event *e, CurlGlue **ret);

/* The loop `g` runs on (borrowed), for a caller's own timers beside its
 * transfers. */
sd_event *curl_glue_get_event(const CurlGlue *g);

/* Aborts transfers still running (their callbacks are not called; their easy
 * handles stay owned by whoever added them).  NULL is a no-op.  Returns NULL. */
CurlGlue *curl_glue_free(CurlGlue *g);

/* Keeps up to `n` connections open for reuse (CURLMOPT_MAXCONNECTS) and
 * opens at most `n` to one host (CURLMOPT_MAX_HOST_CONNECTIONS): a caller
 * that runs up to n transfers at once then reuses its keep-alive
 * connections instead of closing them.  0 or -EINVAL. */
int curl_glue_set_max_connections(CurlGlue *g, unsigned n);

/* Called on the loop before each call into curl's multi handle for a
 * ready socket or a timeout (not from inside curl): an owner that starts
 * transfers on a schedule (the load engine) starts those that are due
 * there, so a batch of answers does not hold them back.  It may call
 * curl_glue_add(); NULL turns it off. */
typedef void (*curl_glue_before_t)(void *userdata);
void curl_glue_set_before(CurlGlue *g, curl_glue_before_t before, void *userdata);

/* Runs curl's due work (its timeout action, then the finished transfers'
 * callbacks) in this wake-up instead of on the loop's next iteration: for
 * an owner that has just added transfers and wants them sent at once.
 * From a callback of the owner's own, at once; from a done callback (or
 * the before callback), once the glue's current dispatch has ended, and
 * then once only: more kicks meanwhile wait for curl's timer. */
void curl_glue_kick(CurlGlue *g);

/* Starts `easy`; `done` runs on the loop when it ends.  The caller keeps
 * ownership of `easy` and must not free it before `done` or curl_glue_remove.
 * While it runs, its CURLOPT_PRIVATE is the glue's: the caller must not set it. */
int curl_glue_add(CurlGlue *g, CURL *easy, curl_glue_done_t done, void *userdata);

/* Aborts one transfer without calling its callback.  No-op if not running. */
void curl_glue_remove(CurlGlue *g, CURL *easy);

/* A new easy handle for polling `url`: HTTP(S) only, redirects not
 * followed, no signals, perfwatchd's User-Agent, the whole transfer bounded
 * by `timeout_usec` and connecting by `connect_timeout_usec` (at least 1 ms
 * each), and curl's own error text written to `errbuf` (CURL_ERROR_SIZE
 * bytes, borrowed: it must outlive the handle).  The caller owns *ret and
 * frees it with curl_easy_cleanup().  0, -ENOMEM or -EINVAL. */
int curl_glue_easy_new(const char *url, uint64_t timeout_usec, uint64_t connect_timeout_usec, char *errbuf,
                       CURL **ret);

/* A response body collected in memory, refused past `cap` bytes. */
typedef struct CurlBuffer {
        char *data;          /* NUL-terminated */
        size_t size;
        size_t cap;
        bool overflow;       /* the body was larger than cap */
} CurlBuffer;

/* Points easy's write callback at `b` (emptied first) and sets
 * CURLOPT_MAXFILESIZE_LARGE to the cap so a declared oversize is refused
 * before any byte is read. */
void curl_buffer_attach(CurlBuffer *b, CURL *easy, size_t cap);

/* Why a transfer failed (`result` is not CURLE_OK), as one line in `buf`:
 * "timed out after N ms" (N from `timeout_usec`), "connect failed: <errno
 * text>", "cannot resolve host: ...", "<what> exceeds <cap_name> (N bytes)"
 * (or "<what> exceeds N bytes" when cap_name is NULL; N is body's cap),
 * "cannot keep the <what> in memory: ...", else "request failed: ...".
 * `what` names the body ("body", "profile"); `errbuf` is the handle's
 * CURLOPT_ERRORBUFFER, curl's generic text standing in when it is empty.
 * Call it before the buffer is reset. */
void curl_glue_describe(CURL *easy, CURLcode result, const CurlBuffer *body, const char *errbuf,
                        uint64_t timeout_usec, const char *what, const char *cap_name, char *buf, size_t n);

/* Room enough for any curl_glue_describe() line. */
#define CURL_GLUE_REASON_MAX (CURL_ERROR_SIZE + 64)

/* Empties the buffer (keeps cap). */
void curl_buffer_reset(CurlBuffer *b);
void curl_buffer_done(CurlBuffer *b);
