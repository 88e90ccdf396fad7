/* The load engine's own HTTP/1.1 client, for a plain http:// server named by
 * an IP address: keep-alive connections on an epoll set of its own, plugged
 * into an sd-event loop as one source, requests written as ready-made bytes
 * and answers read by http-parser (the parser wrk uses).  It does per
 * request what wrk does: one write, one read, and an epoll wake-up shared by
 * every answer that came in meanwhile, where libcurl re-parses the URL,
 * formats the request, checks the connection's liveness and re-registers its
 * socket on every transfer.  HTTPS, HTTP/2, host names and proxies stay
 * libcurl's (curl-glue.h).
 *
 * One client serves one run's requests, on the run's thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct H1Client H1Client;

/* How a request ended. */
typedef enum H1Result {
        H1_OK,                  /* an answer came: see status */
        H1_CONNECT,             /* no connection could be made */
        H1_TIMEOUT,             /* no whole answer within the timeout */
        H1_SEND,                /* the request could not be written */
        H1_NOTHING,             /* the server closed without answering */
        H1_PARTIAL,             /* the connection ended within the answer */
        H1_BAD_ANSWER,          /* not HTTP/1.x, or malformed */
        H1_BAD_REQUEST,         /* the caller's request could not go out (h1_client_fail) */
} H1Result;

/* The longest reason h1_client_describe() writes. */
#define H1_REASON_MAX 256

/* Called on the loop when request `id` ends, never from inside
 * h1_client_send() or h1_client_fail().  `status` is the answer's HTTP
 * status with H1_OK, else 0; `connected` is whether the request opened a
 * new connection. */
typedef void (*h1_done_t)(unsigned id, H1Result result, long status, bool connected, void *userdata);

/* Whether `url` can go by this client: http://, its host an IPv4 or IPv6
 * address (no zone), no user name or password.  On true, *ret_authority_len
 * is the length of "http://host[:port]" in `url` (the request target
 * follows), when not NULL. */
bool h1_client_supports(const char *url, size_t *ret_authority_len);

/* A client for the server of `url` (h1_client_supports() must hold), on
 * loop `e`, for up to `max_requests` requests at once (ids 0..max-1, each
 * holding one connection while it runs; as many are kept for reuse), each
 * given up after `timeout_usec` from its h1_client_send().  The caller owns
 * *ret.  0, -ENOMEM, -EINVAL, or a negative errno from the loop. */
int h1_client_new(sd_event *e, const char *url, uint64_t timeout_usec, unsigned max_requests, h1_done_t done,
                  void *userdata, H1Client **ret);

/* Aborts the requests still running (no callback) and closes every
 * connection.  NULL is a no-op.  Returns NULL. */
H1Client *h1_client_free(H1Client *c);

/* The "Host: ..." line (with its CRLF) this client's requests should carry. */
const char *h1_client_host_header(const H1Client *c);

/* Called on the loop before the client reads answers or gives requests
 * up, so an owner that sends on a schedule sends what is due first.  It
 * may call h1_client_send().  NULL turns it off. */
void h1_client_set_before(H1Client *c, void (*before)(void *userdata), void *userdata);

/* Sends request `id` (not running): `len` bytes at `data`, a whole
 * HTTP/1.1 request, borrowed until the done callback or h1_client_abort().
 * `head`: it is a HEAD request (its answer has no body).  It goes out on
 * an idle connection when there is one, else on a new one; a failure ends
 * up in the done callback. */
void h1_client_send(H1Client *c, unsigned id, const char *data, size_t len, bool head);

/* Ends request `id` (not running) with `result` without sending it: its
 * done callback comes on the loop, like a failed send's. */
void h1_client_fail(H1Client *c, unsigned id, H1Result result);

/* Gives request `id` up without calling its callback; its connection is
 * closed.  No-op if it is not running. */
void h1_client_abort(H1Client *c, unsigned id);

/* Why request `id` ended as `result` (its last outcome), as
 * "connect failed: Connection refused" or "timed out after 300 ms", into
 * buf (n bytes). */
void h1_client_describe(const H1Client *c, unsigned id, H1Result result, char *buf, size_t n);
