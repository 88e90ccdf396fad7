/* The load engine's own HTTP/1.1 client (see h1-client.h).  A connection is
 * free, connecting, idle (kept alive, in the idle list) or busy (carrying
 * one request); its socket stays in the client's epoll set from connect to
 * close, level-triggered for input, with output asked for only while a
 * connect or a write is pending.  Running requests sit in a list by
 * deadline (every request has the same timeout, so the order they were sent
 * in), and one timer armed for the first deadline gives them up. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <http_parser.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/h1-client.h"
#include "util/util.h"

#define H1_READ_SIZE 65536
/* Reads of one connection per wake-up: a server that streams faster than
 * it can be read must not keep the loop from its timers and sends. */
#define H1_READS_PER_EVENT 4
#define H1_EVENTS 256
/* Timeouts fire within a millisecond: the latency of a given-up request is
 * at least the timeout, and this much more at most. */
#define H1_TIMER_ACCURACY_USEC 1000
#define H1_HOST_HEADER_MAX 96

typedef enum ConnState { CONN_FREE, CONN_CONNECTING, CONN_IDLE, CONN_BUSY } ConnState;

typedef struct Req Req;

typedef struct Conn {
        int fd;
        uint32_t gen;           /* bumped at close: an event of an older socket is stale */
        ConnState state;
        uint32_t events;        /* as registered in the epoll set */
        bool served;            /* has carried an answer: the next request reuses it */
        bool complete;          /* the current answer is whole */
        long status;
        Req *req;
        http_parser parser;
        struct Conn *next;      /* in the free or the idle list */
        struct Conn *prev;      /* in the idle list */
} Conn;

struct Req {
        bool running, queued, retried, connected, got_bytes, head;
        const char *data;
        size_t len, sent;
        uint64_t deadline;
        Conn *conn;
        Req *prev, *next;       /* running and not queued: by deadline */
        Req *next_queued;       /* failed in h1_client_send(), to report */
        H1Result queued_as;
        int error;              /* errno of the last failure, 0: none */
        enum http_errno parse_error;
};

struct H1Client {
        sd_event_source *io, *timer, *defer;
        int epfd;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        char host_header[H1_HOST_HEADER_MAX];
        uint64_t timeout_usec;
        unsigned max;
        Req *reqs;
        Conn *conns;
        Conn *free_conns, *idle;
        Req *first, *last;      /* running, by deadline */
        Req *queued;
        bool timer_armed, in_send;
        h1_done_t done;
        void *userdata;
        void (*before)(void *userdata);
        void *before_userdata;
        char buf[H1_READ_SIZE];
};

/* ---------------------------------------------------------------- the URL */

/* The host part of `u` as an address, with the port (80 by default). */
static bool url_address(CURLU *u, struct sockaddr_storage *ss, socklen_t *ret_len, char *host_out, size_t n) {
        char *host = NULL, *port = NULL, *zone = NULL, *user = NULL, *password = NULL, *scheme = NULL;
        bool ok = false;
        long p = 0;

        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcasecmp(scheme, "http") != 0 ||
            curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
            curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK ||
            curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
                goto out;
        p = strtol(port, NULL, 10);
        if (p <= 0 || p > 65535)
                goto out;
        memset(ss, 0, sizeof(*ss));
        if (inet_pton(AF_INET, host, &((struct sockaddr_in *) ss)->sin_addr) == 1) {
                struct sockaddr_in *a = (struct sockaddr_in *) ss;

                a->sin_family = AF_INET;
                a->sin_port = htons((uint16_t) p);
                *ret_len = sizeof(*a);
                ok = true;
        } else if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) ss;
                char inner[INET6_ADDRSTRLEN];

                if ((size_t) snprintf(inner, sizeof(inner), "%.*s", (int) strlen(host) - 2, host + 1) <
                            sizeof(inner) &&
                    inet_pton(AF_INET6, inner, &a->sin6_addr) == 1) {
                        a->sin6_family = AF_INET6;
                        a->sin6_port = htons((uint16_t) p);
                        *ret_len = sizeof(*a);
                        ok = true;
                }
        }
        /* As libcurl writes it: the port only when it is not 80. */
        if (ok && host_out && (size_t) snprintf(host_out, n, "Host: %s%s%s\r\n", host, p == 80 ? "" : ":",
                                                p == 80 ? "" : port) >= n)
                ok = false;
out:
        curl_free(scheme);
        curl_free(user);
        curl_free(password);
        curl_free(zone);
        curl_free(host);
        curl_free(port);
        return ok;
}

static bool parse_url(const char *url, struct sockaddr_storage *ss, socklen_t *ret_len, char *host_out, size_t n) {
        CURLU *u = curl_url();
        bool ok;

        if (!u)
                return false;
        ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK && url_address(u, ss, ret_len, host_out, n);
        curl_url_cleanup(u);
        return ok;
}

bool h1_client_supports(const char *url, size_t *ret_authority_len) {
        struct sockaddr_storage ss;
        const char *p = url ? strstr(url, "://") : NULL;
        socklen_t len;

        if (!p || !parse_url(url, &ss, &len, NULL, 0))
                return false;
        p += strlen("://");
        if (ret_authority_len)
                *ret_authority_len = (size_t) (p - url) + strcspn(p, "/?#");
        return true;
}

/* ---------------------------------------------------------------- lists */

static void idle_push(H1Client *c, Conn *conn) {
        conn->prev = NULL;
        conn->next = c->idle;
        if (c->idle)
                c->idle->prev = conn;
        c->idle = conn;
}

static void idle_remove(H1Client *c, Conn *conn) {
        if (conn->prev)
                conn->prev->next = conn->next;
        else
                c->idle = conn->next;
        if (conn->next)
                conn->next->prev = conn->prev;
        conn->prev = conn->next = NULL;
}

static void running_add(H1Client *c, Req *r) {
        r->next = NULL;
        r->prev = c->last;
        if (c->last)
                c->last->next = r;
        else
                c->first = r;
        c->last = r;
}

static void running_remove(H1Client *c, Req *r) {
        if (r->prev)
                r->prev->next = r->next;
        else if (c->first == r)
                c->first = r->next;
        if (r->next)
                r->next->prev = r->prev;
        else if (c->last == r)
                c->last = r->prev;
        r->prev = r->next = NULL;
}

static int arm_timer(H1Client *c, uint64_t when) {
        int r = sd_event_source_set_time(c->timer, when);

        if (r >= 0)
                r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        c->timer_armed = r >= 0;
        return r;
}

/* ---------------------------------------------------------------- ending */

/* What the epoll set carries for the connection's socket: its index and
 * its generation, so that on_io() can tell a stale event. */
static uint64_t conn_key(const H1Client *c, const Conn *conn) {
        return (uint64_t) (conn - c->conns) | (uint64_t) conn->gen << 32;
}

static void conn_set_events(H1Client *c, Conn *conn, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.u64 = conn_key(c, conn) };

        if (conn->events == events)
                return;
        /* A failure leaves the old events: the request then ends by its
         * timeout, not by a hang. */
        if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, conn->fd, &ev) == 0)
                conn->events = events;
}

/* NB: the socket leaves the epoll set before it is closed: a child forked
 * meanwhile (another part of the daemon) could hold the file open, and
 * epoll would go on reporting it. */
static void conn_close(H1Client *c, Conn *conn) {
        if (conn->state == CONN_FREE)
                return;
        (void) epoll_ctl(c->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
        close(conn->fd);
        conn->fd = -1;
        conn->gen++;
        conn->state = CONN_FREE;
        conn->served = false;
        conn->req = NULL;
        conn->events = 0;
        conn->next = c->free_conns;
        c->free_conns = conn;
}

/* Ends `r` (its connection already dealt with): at once, or from the
 * defer source when inside h1_client_send(). */
static void req_end(H1Client *c, Req *r, H1Result result, long status) {
        running_remove(c, r);
        if (r->conn) {
                r->conn->req = NULL;
                r->conn = NULL;
        }
        if (c->in_send) {
                r->queued = true;
                r->queued_as = result;
                r->next_queued = c->queued;
                c->queued = r;
                (void) sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
                return;
        }
        r->running = false;
        c->done((unsigned) (r - c->reqs), result, status, r->connected, c->userdata);
}

/* Fails `r` as `result` with `error`, closing its connection. */
static void req_fail(H1Client *c, Req *r, H1Result result, int error) {
        r->error = error;
        if (r->conn)
                conn_close(c, r->conn);
        req_end(c, r, result, 0);
}

/* Reports the failures queued so far, in the order they came; those their
 * callbacks queue (a user sending again at once) wait for the next call,
 * so the loop goes on to its timers meanwhile. */
static void report_queued(H1Client *c) {
        Req *list = NULL;

        while (c->queued) {
                Req *r = c->queued;

                c->queued = r->next_queued;
                r->next_queued = list;
                list = r;
        }
        while (list) {
                Req *r = list;

                list = r->next_queued;
                /* Aborted meanwhile by a callback of this batch? */
                if (!r->queued)
                        continue;
                r->queued = false;
                r->running = false;
                c->done((unsigned) (r - c->reqs), r->queued_as, 0, r->connected, c->userdata);
        }
}

/* NB: the defer source has the lowest priority, so that a user whose every
 * send fails at once cannot keep the loop from its timers (sd-event picks
 * among sources of one priority pending in one iteration as it likes);
 * the socket and timeout handlers report queued failures first, so a busy
 * loop does not keep them waiting either. */
static int on_defer(sd_event_source *s, void *userdata) {
        report_queued(userdata);
        return 0;
}

/* ---------------------------------------------------------------- sending */

static void conn_open(H1Client *c, Req *r);

/* A reused connection that failed before any byte of the answer was
 * probably closed by the server while idle: the request goes again, once,
 * on a new connection, as libcurl does. */
static bool req_retry(H1Client *c, Req *r) {
        if (!r->conn || !r->conn->served || r->got_bytes || r->retried)
                return false;
        conn_close(c, r->conn);
        r->conn = NULL;
        r->retried = true;
        conn_open(c, r);
        return true;
}

static void conn_write(H1Client *c, Conn *conn) {
        Req *r = conn->req;

        while (r->sent < r->len) {
                ssize_t n = send(conn->fd, r->data + r->sent, r->len - r->sent, MSG_NOSIGNAL);

                if (n >= 0) {
                        r->sent += (size_t) n;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno == EAGAIN) {
                        conn_set_events(c, conn, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
                        return;
                }
                if (!req_retry(c, r))
                        req_fail(c, r, H1_SEND, errno);
                return;
        }
        conn_set_events(c, conn, EPOLLIN | EPOLLRDHUP);
}

static void conn_attach(Conn *conn, Req *r) {
        conn->req = r;
        conn->state = CONN_BUSY;
        conn->complete = false;
        conn->status = 0;
        http_parser_init(&conn->parser, HTTP_RESPONSE);
        /* As lenient as libcurl with answers a service really gives: a
         * chunked body wins over a Content-Length beside it (RFC 9112
         * 6.3), and a header value's odd byte is not the load's business. */
        conn->parser.allow_chunked_length = 1;
        conn->parser.lenient_http_headers = 1;
        conn->parser.data = conn;
        r->conn = conn;
        r->sent = 0;
        r->got_bytes = false;
}

/* A new connection for `r`.  NB: there is always a free one: each running
 * request holds at most one connection, and an idle one is used first. */
static void conn_open(H1Client *c, Req *r) {
        Conn *conn = c->free_conns;
        struct epoll_event ev;
        int fd, one = 1;

        r->connected = true;
        if (!conn) {
                req_fail(c, r, H1_CONNECT, EMFILE);
                return;
        }
        fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                req_fail(c, r, H1_CONNECT, errno);
                return;
        }
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *) &c->addr, c->addr_len) < 0 && errno != EINPROGRESS) {
                int e = errno;

                close(fd);
                req_fail(c, r, H1_CONNECT, e);
                return;
        }
        ev = (struct epoll_event) { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u64 = conn_key(c, conn) };
        if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int e = errno;

                close(fd);
                req_fail(c, r, H1_CONNECT, e);
                return;
        }
        c->free_conns = conn->next;
        conn->fd = fd;
        conn->events = ev.events;
        conn->served = false;
        conn_attach(conn, r);
        /* Sent once connected: the socket's first writable event. */
        conn->state = CONN_CONNECTING;
}

void h1_client_send(H1Client *c, unsigned id, const char *data, size_t len, bool head) {
        Req *r = &c->reqs[id];
        Conn *conn = c->idle;

        *r = (Req) { .running = true, .head = head, .data = data, .len = len,
                     .deadline = now_monotonic_usec() + c->timeout_usec };
        running_add(c, r);
        if (!c->timer_armed)
                (void) arm_timer(c, r->deadline);
        c->in_send = true;
        if (conn) {
                idle_remove(c, conn);
                conn_attach(conn, r);
                conn_write(c, conn);
        } else
                conn_open(c, r);
        c->in_send = false;
}

void h1_client_fail(H1Client *c, unsigned id, H1Result result) {
        Req *r = &c->reqs[id];

        *r = (Req) { .running = true };
        c->in_send = true;
        req_end(c, r, result, 0);
        c->in_send = false;
}

/* ---------------------------------------------------------------- answers */

/* 1: the answer has no body, whatever its headers say: the answer to a
 * HEAD, and a 1xx, 204 or 304, whose Content-Length (a 304 may carry one)
 * is the resource's, not a body's (RFC 9110 6.4.1). */
static int on_headers_complete(http_parser *p) {
        Conn *conn = p->data;

        if (p->status_code < 200 || p->status_code == 204 || p->status_code == 304)
                return 1;
        return conn->req && conn->req->head ? 1 : 0;
}

/* An informational answer (100 Continue, 103 Early Hints) comes before the
 * real one and is skipped; the parser goes on with the next.  The real one
 * pauses the parser: bytes after it are not an answer to anything. */
static int on_message_complete(http_parser *p) {
        Conn *conn = p->data;

        if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101)
                return 0;
        conn->status = p->status_code;
        conn->complete = true;
        http_parser_pause(p, 1);
        return 0;
}

static const http_parser_settings parser_settings = {
        .on_headers_complete = on_headers_complete,
        .on_message_complete = on_message_complete,
};

/* The answer is whole: the connection goes back to the idle list when the
 * server keeps it alive, nothing followed the answer, the request went out
 * whole and the connection was not switched to another protocol (101). */
static void conn_answered(H1Client *c, Conn *conn, bool keep) {
        Req *r = conn->req;
        long status = conn->status;

        keep = keep && r->sent == r->len && status != 101 && http_should_keep_alive(&conn->parser);
        conn->served = true;
        if (keep) {
                conn->req = NULL;
                conn->state = CONN_IDLE;
                idle_push(c, conn);
                r->conn = NULL;
        } else
                conn_close(c, conn);
        req_end(c, r, H1_OK, status);
}

/* The connection ended (`error`: 0 for an orderly close). */
static void conn_eof(H1Client *c, Conn *conn, int error) {
        Req *r = conn->req;

        if (!r->got_bytes) {
                if (!req_retry(c, r))
                        req_fail(c, r, H1_NOTHING, error);
                return;
        }
        if (error == 0) {
                /* An answer whose body runs to the close is whole now. */
                (void) http_parser_execute(&conn->parser, &parser_settings, NULL, 0);
                if (conn->complete) {
                        conn_answered(c, conn, false);
                        return;
                }
        }
        req_fail(c, r, H1_PARTIAL, error);
}

static void conn_read(H1Client *c, Conn *conn) {
        for (unsigned i = 0; i < H1_READS_PER_EVENT; i++) {
                ssize_t n = recv(conn->fd, c->buf, sizeof(c->buf), 0);
                enum http_errno e;
                size_t parsed;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                conn_eof(c, conn, errno);
                        return;
                }
                if (n == 0) {
                        conn_eof(c, conn, 0);
                        return;
                }
                conn->req->got_bytes = true;
                parsed = http_parser_execute(&conn->parser, &parser_settings, c->buf, (size_t) n);
                if (conn->complete) {
                        conn_answered(c, conn, parsed == (size_t) n);
                        return;
                }
                e = HTTP_PARSER_ERRNO(&conn->parser);
                if (e != HPE_OK) {
                        conn->req->parse_error = e;
                        req_fail(c, conn->req, H1_BAD_ANSWER, 0);
                        return;
                }
                if ((size_t) n < sizeof(c->buf))
                        return;
        }
}

static void conn_connected(H1Client *c, Conn *conn) {
        int error = 0;
        socklen_t len = sizeof(error);

        if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                error = errno;
        if (error != 0) {
                req_fail(c, conn->req, H1_CONNECT, error);
                return;
        }
        conn->state = CONN_BUSY;
        conn_write(c, conn);
}

static void conn_event(H1Client *c, Conn *conn, uint32_t events) {
        switch (conn->state) {
        case CONN_FREE:
                return;
        case CONN_IDLE:
                /* Closed by the server, or bytes nobody asked for. */
                idle_remove(c, conn);
                conn_close(c, conn);
                return;
        case CONN_CONNECTING:
                conn_connected(c, conn);
                return;
        case CONN_BUSY:
                if ((events & EPOLLOUT) && conn->req->sent < conn->req->len)
                        conn_write(c, conn);
                if (conn->state == CONN_BUSY && conn->req && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                        conn_read(c, conn);
                return;
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        H1Client *c = userdata;
        struct epoll_event ev[H1_EVENTS];
        int n;

        if (c->before)
                c->before(c->before_userdata);
        report_queued(c);
        n = epoll_wait(c->epfd, ev, H1_EVENTS, 0);
        for (int i = 0; i < n; i++) {
                Conn *conn = &c->conns[(uint32_t) ev[i].data.u64];

                if (conn->gen == (uint32_t) (ev[i].data.u64 >> 32))
                        conn_event(c, conn, ev[i].events);
        }
        return 0;
}

/* ---------------------------------------------------------------- timeouts */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        H1Client *c = userdata;
        uint64_t now;

        c->timer_armed = false;
        if (c->before)
                c->before(c->before_userdata);
        report_queued(c);
        now = now_monotonic_usec();
        while (c->first && c->first->deadline <= now)
                req_fail(c, c->first, H1_TIMEOUT, 0);
        if (c->first && !c->timer_armed)
                (void) arm_timer(c, c->first->deadline);
        return 0;
}

/* ---------------------------------------------------------------- the client */

void h1_client_abort(H1Client *c, unsigned id) {
        Req *r = &c->reqs[id];

        if (!r->running)
                return;
        r->running = false;
        if (r->queued) {
                for (Req **p = &c->queued; *p; p = &(*p)->next_queued)
                        if (*p == r) {
                                *p = r->next_queued;
                                break;
                        }
                r->queued = false;
                return;
        }
        running_remove(c, r);
        if (r->conn)
                conn_close(c, r->conn);
        r->conn = NULL;
}

void h1_client_describe(const H1Client *c, unsigned id, H1Result result, char *buf, size_t n) {
        const Req *r = &c->reqs[id];
        const char *error = r->error ? strerror(r->error) : NULL;

        switch (result) {
        case H1_OK:
                snprintf(buf, n, "ok");
                break;
        case H1_CONNECT:
                snprintf(buf, n, "connect failed: %s", error ? error : "unknown error");
                break;
        case H1_TIMEOUT:
                snprintf(buf, n, "timed out after %" PRIu64 " ms", (uint64_t) (c->timeout_usec / USEC_PER_MSEC));
                break;
        case H1_SEND:
                snprintf(buf, n, "request failed: cannot send the request: %s", error ? error : "unknown error");
                break;
        case H1_NOTHING:
                snprintf(buf, n, "request failed: the server closed the connection without answering%s%s",
                         error ? ": " : "", error ? error : "");
                break;
        case H1_PARTIAL:
                snprintf(buf, n, "request failed: the connection ended within the answer%s%s", error ? ": " : "",
                         error ? error : "");
                break;
        case H1_BAD_ANSWER:
                snprintf(buf, n, "request failed: not an HTTP/1.x answer: %s",
                         http_errno_description(r->parse_error));
                break;
        case H1_BAD_REQUEST:
                snprintf(buf, n, "request failed: its URL has a space or a control character");
                break;
        }
}

const char *h1_client_host_header(const H1Client *c) {
        return c->host_header;
}

void h1_client_set_before(H1Client *c, void (*before)(void *userdata), void *userdata) {
        c->before = before;
        c->before_userdata = userdata;
}

int h1_client_new(sd_event *e, const char *url, uint64_t timeout_usec, unsigned max_requests, h1_done_t done,
                  void *userdata, H1Client **ret) {
        H1Client *c;
        int r;

        if (!e || !url || max_requests == 0 || !done || !ret)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->epfd = -1;
        c->timeout_usec = timeout_usec;
        c->max = max_requests;
        c->done = done;
        c->userdata = userdata;
        if (!parse_url(url, &c->addr, &c->addr_len, c->host_header, sizeof(c->host_header))) {
                r = -EINVAL;
                goto fail;
        }
        c->reqs = calloc(max_requests, sizeof(*c->reqs));
        c->conns = calloc(max_requests, sizeof(*c->conns));
        if (!c->reqs || !c->conns) {
                r = -ENOMEM;
                goto fail;
        }
        for (unsigned i = max_requests; i-- > 0;) {
                c->conns[i].fd = -1;
                c->conns[i].next = c->free_conns;
                c->free_conns = &c->conns[i];
        }
        c->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (c->epfd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(e, &c->io, c->epfd, EPOLLIN, on_io, c);
        if (r >= 0)
                r = sd_event_add_time(e, &c->timer, CLOCK_MONOTONIC, 0, H1_TIMER_ACCURACY_USEC, on_timer, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(e, &c->defer, on_defer, c);
        if (r >= 0)
                r = sd_event_source_set_priority(c->defer, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(c->io, "h1-sockets");
        (void) sd_event_source_set_description(c->timer, "h1-timeouts");
        (void) sd_event_source_set_description(c->defer, "h1-failed");
        *ret = c;
        return 0;
fail:
        h1_client_free(c);
        return r;
}

H1Client *h1_client_free(H1Client *c) {
        if (!c)
                return NULL;
        for (unsigned i = 0; c->conns && i < c->max; i++)
                if (c->conns[i].state != CONN_FREE)
                        close(c->conns[i].fd);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->defer);
        if (c->epfd >= 0)
                close(c->epfd);
        free(c->reqs);
        free(c->conns);
        free(c);
        return NULL;
}
