/* The load engine's own HTTP/1.1 client (transport/h1-client.h), through
 * real runs against a raw server of this test's own on loopback that
 * answers each request the way a test asks: kept-alive, closing, HTTP/1.0
 * to the close, chunked, 100 Continue first, closing silently after each
 * answer, never answering, garbage, cut short, an oversized header, bytes
 * after the answer.  And the request bytes themselves, held against what
 * libcurl sends for the same scenario. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load/load-engine.h"
#include "tap.h"
#include "transport/curl-glue.h"
#include "transport/h1-client.h"
#include "util/util.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC
#define REQUEST_MAX (16u << 20)

typedef enum Mode {
        MODE_KEEP,              /* 200, Content-Length, kept alive */
        MODE_CLOSE,             /* 200 with Connection: close, then closes after 1.5 s, reading nothing */
        MODE_HTTP10,            /* HTTP/1.0 200, the body runs to the close */
        MODE_CHUNKED,           /* 200, chunked, kept alive */
        MODE_CONTINUE,          /* 100 Continue, then 201 */
        MODE_SILENT_CLOSE,      /* 200 kept alive by its headers, then closes without a word */
        MODE_NOTHING,           /* reads the request, closes */
        MODE_GARBAGE,           /* not HTTP */
        MODE_PARTIAL,           /* Content-Length 100, five bytes, close */
        MODE_BIG_HEADER,        /* a 100 KiB header field */
        MODE_HEAD_LENGTH,       /* 200 with Content-Length 1000 and no body (for HEAD) */
        MODE_NEVER,             /* reads the request, never answers */
        MODE_TRAILING,          /* 200, then bytes nobody asked for */
        MODE_SLOW_READER,       /* reads the body only after 300 ms, then 200 */
        MODE_304_LENGTH,        /* 304 with a Content-Length and no body, kept alive */
        MODE_FLOOD,             /* 200 with a huge Content-Length, the body as fast as it goes */
        MODE_CHUNKED_LENGTH,    /* chunked and a (wrong) Content-Length: chunked wins */
        MODE_NO_REASON,         /* "HTTP/1.1 200" without a reason phrase */
        MODE_BARE_LF,           /* lines ended by LF alone */
        MODE_ODD_HEADER,        /* a header value with a byte strict parsers refuse */
        MODE_TWO_LENGTHS,       /* the same Content-Length twice */
        MODE_UPGRADE,           /* 101 Switching Protocols, then no more HTTP on it */
} Mode;

static _Atomic int mode;
static atomic_uint requests_seen, connections_seen;
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static char *last_request;              /* head of the last request, NUL-terminated */
static size_t last_body_size;
static char *last_body;

/* ---------------------------------------------------------------- the server */

static bool send_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w <= 0)
                        return false;
                p += w;
                n -= (size_t) w;
        }
        return true;
}

static bool send_str(int fd, const char *s) {
        return send_all(fd, s, strlen(s));
}

/* Reads one request into buf (its head, then Content-Length bytes of body):
 * the head's length, or 0 when the client closed. */
static size_t read_request(int fd, char *buf, size_t cap, size_t *have, size_t *ret_total) {
        char *end;
        size_t head, total;

        for (;;) {
                buf[*have] = '\0';
                if ((end = strstr(buf, "\r\n\r\n")))
                        break;
                ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
                if (n <= 0)
                        return 0;
                *have += (size_t) n;
        }
        head = (size_t) (end - buf) + 4;
        total = head;
        for (char *p = buf; p < end; p = strstr(p, "\r\n") + 2)
                if (strncasecmp(p, "Content-Length:", 15) == 0)
                        total += strtoul(p + 15, NULL, 10);
        if ((Mode) atomic_load(&mode) == MODE_SLOW_READER)
                usleep(300 * 1000);
        while (*have < total) {
                ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
                if (n <= 0)
                        return 0;
                *have += (size_t) n;
        }
        *ret_total = total;
        return head;
}

static void record(const char *buf, size_t head, size_t total) {
        pthread_mutex_lock(&last_lock);
        free(last_request);
        free(last_body);
        last_request = strndup(buf, head);
        last_body = strndup(buf + head, total - head);
        last_body_size = total - head;
        pthread_mutex_unlock(&last_lock);
        atomic_fetch_add(&requests_seen, 1);
}

/* Answers as the mode says; false: the connection is to be closed. */
static bool answer(int fd) {
        static char big[100 * 1024 + 64];

        switch ((Mode) atomic_load(&mode)) {
        case MODE_KEEP:
        case MODE_SLOW_READER:
                return send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        case MODE_CLOSE:
                /* A client that sends on anyway waits for an answer that
                 * never comes. */
                send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
                usleep(1500 * 1000);
                return false;
        case MODE_HTTP10:
                send_str(fd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body runs to the close");
                return false;
        case MODE_CHUNKED:
                return send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        case MODE_CONTINUE:
                return send_str(fd, "HTTP/1.1 100 Continue\r\n\r\n") &&
                       send_str(fd, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        case MODE_SILENT_CLOSE:
                send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                return false;
        case MODE_NOTHING:
                return false;
        case MODE_GARBAGE:
                send_str(fd, "HELLO THERE\r\n\r\n");
                return false;
        case MODE_PARTIAL:
                send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
                return false;
        case MODE_BIG_HEADER:
                snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX-Big: %0*d\r\nContent-Length: 0\r\n\r\n",
                         100 * 1024, 0);
                send_str(fd, big);
                return false;
        case MODE_HEAD_LENGTH:
                return send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        case MODE_NEVER:
                sleep(2);
                return false;
        case MODE_TRAILING:
                return send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXYZ");
        case MODE_CHUNKED_LENGTH:
                return send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "5\r\nhello\r\n0\r\n\r\n");
        case MODE_NO_REASON:
                return send_str(fd, "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok");
        case MODE_BARE_LF:
                return send_str(fd, "HTTP/1.1 200 OK\nContent-Length: 2\n\nok");
        case MODE_ODD_HEADER:
                return send_str(fd, "HTTP/1.1 200 OK\r\nX-Odd: a\x01b\r\nContent-Length: 2\r\n\r\nok");
        case MODE_TWO_LENGTHS:
                return send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok");
        case MODE_UPGRADE:
                /* What comes after is another protocol's: nothing answers it. */
                send_str(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n");
                usleep(1500 * 1000);
                return false;
        case MODE_304_LENGTH:
                return send_str(fd, "HTTP/1.1 304 Not Modified\r\nContent-Length: 5000\r\n\r\n");
        case MODE_FLOOD:
                memset(big, 'f', sizeof(big));
                if (send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n"))
                        for (int i = 0; i < 1000000 && send_all(fd, big, sizeof(big)); i++)
                                ;
                return false;
        }
        return false;
}

static void *serve_connection(void *userdata) {
        int fd = (int) (intptr_t) userdata;
        char *buf = malloc(REQUEST_MAX + 1);
        size_t have = 0, head, total;
        int one = 1;

        /* Else the 201 after the 100 waits for the client's delayed ACK. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        atomic_fetch_add(&connections_seen, 1);
        while (buf && (head = read_request(fd, buf, REQUEST_MAX + 1, &have, &total)) > 0) {
                record(buf, head, total);
                if (!answer(fd))
                        break;
                memmove(buf, buf + total, have - total);
                have -= total;
        }
        free(buf);
        close(fd);
        return NULL;
}

static void *accept_loop(void *userdata) {
        int lfd = (int) (intptr_t) userdata, fd;

        while ((fd = accept(lfd, NULL, NULL)) >= 0) {
                pthread_t t;

                if (pthread_create(&t, NULL, serve_connection, (void *) (intptr_t) fd) == 0)
                        pthread_detach(t);
                else
                        close(fd);
        }
        return NULL;
}

/* Listens on loopback (IPv4 or IPv6) and serves; its base URL in `url`. */
static int server_start(int family, char *url, size_t n, int *ret_fd) {
        struct sockaddr_storage ss = { .ss_family = (sa_family_t) family };
        socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), port;
        pthread_t t;

        if (family == AF_INET)
                ((struct sockaddr_in *) &ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else
                ((struct sockaddr_in6 *) &ss)->sin6_addr = in6addr_loopback;
        if (fd < 0 || bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, 128) < 0 ||
            getsockname(fd, (struct sockaddr *) &ss, &len) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        port = ntohs(family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                       : ((struct sockaddr_in6 *) &ss)->sin6_port);
        snprintf(url, n, family == AF_INET ? "http://127.0.0.1:%d" : "http://[::1]:%d", port);
        if (pthread_create(&t, NULL, accept_loop, (void *) (intptr_t) fd) != 0)
                return -1;
        pthread_detach(t);
        *ret_fd = fd;
        return 0;
}

/* ---------------------------------------------------------------- running */

static char base[64];

static LoadResult *run_scenario(const LoadScenario *sc) {
        LoadResult *res = NULL;
        LoadRun *r = NULL;
        char *err = NULL;
        uint64_t start = now_monotonic_usec();

        if (load_run_start(sc, NULL, &r, &err) < 0) {
                printf("# load_run_start: %s\n", err ? err : "?");
                free(err);
                return NULL;
        }
        while (!load_run_done(r) && now_monotonic_usec() - start < 20 * SEC)
                usleep(5 * 1000);
        if (load_run_snapshot(r, &res) < 0)
                res = NULL;
        load_run_free(r);
        return res;
}

/* One user sending `path` back to back for `duration`, or `n` requests at
 * 50/s when n > 0.  Only the first reuses its connection whatever the
 * machine's load: at 50/s a request whose forerunner is still in flight
 * opens a connection of its own, so "one connection" is asserted on runs
 * of one user. */
static LoadResult *run_mode_by(Mode m, const char *method, const char *path, uint64_t duration, unsigned n,
                               LoadClient client) {
        LoadRequest req = { .weight = 1, .name = "r", .method = method, .path = path };
        LoadStages *st = NULL;
        LoadScenario sc = { .name = "h1", .base_url = base, .timeout_usec = 1 * SEC, .requests = &req,
                            .n_requests = 1, .client = client };
        LoadResult *res;

        atomic_store(&mode, m);
        atomic_store(&requests_seen, 0);
        atomic_store(&connections_seen, 0);
        if (n > 0) {
                if (stages_new_constant(50, n * SEC / 50, &st, NULL) < 0)
                        abort();
                sc.model = LOAD_MODEL_OPEN;
                sc.stages = st;
                sc.max_inflight = n;
        } else {
                sc.model = LOAD_MODEL_CLOSED;
                sc.users = 1;
                sc.duration_usec = duration;
        }
        res = run_scenario(&sc);
        stages_free(st);
        return res;
}

static LoadResult *run_mode(Mode m, const char *method, const char *path, uint64_t duration, unsigned n) {
        return run_mode_by(m, method, path, duration, n, LOAD_CLIENT_AUTO);
}

static const char *reason(const LoadResult *res) {
        return res && res->reason ? res->reason : "(none)";
}

/* ---------------------------------------------------------------- tests */

static void test_supports(void) {
        size_t n = 0;

        ok(h1_client_supports("http://127.0.0.1:8080", &n) && n == strlen("http://127.0.0.1:8080"),
           "http:// to an IPv4 address goes by the own client");
        ok(h1_client_supports("http://[::1]:8080/api", &n) && n == strlen("http://[::1]:8080"),
           "so does IPv6, the authority ending before the path");
        ok(h1_client_supports("HTTP://127.0.0.1", NULL), "the scheme in any case, port 80 by default");
        ok(!h1_client_supports("https://127.0.0.1:8443", NULL), "https goes by libcurl");
        ok(!h1_client_supports("http://localhost:8080", NULL), "a host name goes by libcurl");
        ok(!h1_client_supports("http://user:pw@127.0.0.1:8080", NULL), "a user name goes by libcurl");
        ok(!h1_client_supports("http://[fe80::1%25eth0]:8080", NULL), "an address with a zone goes by libcurl");
        ok(!h1_client_supports("127.0.0.1:8080", NULL), "no scheme: not the own client's");
}

static void test_keep_alive(void) {
        LoadResult *res = run_mode(MODE_KEEP, "GET", "/k", 300 * MS, 0);

        ok(res && res->own_client, "a run to %s went by the own client", base);
        if (!res)
                return;
        ok(res->total.counts.sent > 100, "one user back to back: %" PRIu64 " requests", res->total.counts.sent);
        is_int(res->total.counts.ok, res->total.counts.sent, "each answered 200");
        is_int(res->connections, 1, "on one kept-alive connection");
        is_int(atomic_load(&connections_seen), 1, "the server saw one connection too");
        is_int(atomic_load(&requests_seen), res->total.counts.sent, "and every request");
        load_result_free(res);
}

static void test_answers(void) {
        static const struct {
                Mode mode;
                const char *what;
                bool one_connection;
        } cases[] = {
                { MODE_CLOSE, "Connection: close: a new connection each time", false },
                { MODE_HTTP10, "HTTP/1.0, the body to the close", false },
                { MODE_CHUNKED, "chunked, kept alive", true },
                { MODE_CONTINUE, "100 Continue before the 201", true },
                { MODE_TRAILING, "bytes after the answer: the connection is not reused", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                LoadResult *res;

                if (cases[i].one_connection) {
                        res = run_mode(cases[i].mode, "GET", "/a", 300 * MS, 0);
                        ok(res != NULL, "%s: ran", cases[i].what);
                        if (!res)
                                continue;
                        ok(res->total.counts.sent >= 5 && res->total.counts.ok == res->total.counts.sent,
                           "%s: %" PRIu64 " of %" PRIu64 " ok (%s)", cases[i].what, res->total.counts.ok,
                           res->total.counts.sent, reason(res));
                        is_int(res->connections, 1, "%s: one connection", cases[i].what);
                } else {
                        res = run_mode(cases[i].mode, "GET", "/a", 0, 20);
                        ok(res != NULL, "%s: ran", cases[i].what);
                        if (!res)
                                continue;
                        is_int(res->total.counts.ok, 20, "%s: 20 of 20 ok (%s)", cases[i].what, reason(res));
                        ok(res->connections >= 20, "%s: %" PRIu64 " connections for 20 requests", cases[i].what,
                           res->connections);
                }
                load_result_free(res);
        }
}

static void test_failures(void) {
        static const struct {
                Mode mode;
                const char *what, *reason;
                bool timeout;
        } cases[] = {
                { MODE_NOTHING, "closed without answering",
                  "r: request failed: the server closed the connection without answering", false },
                { MODE_GARBAGE, "not HTTP", "r: request failed: not an HTTP/1.x answer: ", false },
                { MODE_PARTIAL, "cut within the body",
                  "r: request failed: the connection ended within the answer", false },
                { MODE_BIG_HEADER, "a 100 KiB header", "r: request failed: not an HTTP/1.x answer: ", false },
                { MODE_NEVER, "never answered", "r: timed out after 1000 ms", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                LoadResult *res = run_mode(cases[i].mode, "GET", "/f", 0, 3);
                uint64_t failed;

                ok(res != NULL, "%s: ran", cases[i].what);
                if (!res)
                        continue;
                failed = cases[i].timeout ? res->total.counts.err_timeout : res->total.counts.err_other;
                is_int(failed, 3, "%s: 3 of 3 counted as %s", cases[i].what, cases[i].timeout ? "timeouts" : "other errors");
                is_int(res->total.counts.ok, 0, "%s: none ok", cases[i].what);
                is_int(atomic_load(&requests_seen), 3, "%s: each sent once (a new connection's failure is not "
                       "sent again)", cases[i].what);
                ok(strncmp(reason(res), cases[i].reason, strlen(cases[i].reason)) == 0, "%s: reason: %s",
                   cases[i].what, reason(res));
                if (cases[i].timeout)
                        ok(hist_percentile(res->total.latency, 50) >= 990 * MS &&
                           hist_percentile(res->total.latency, 50) < 1300 * MS,
                           "%s: latency %.0f ms, the timeout", cases[i].what,
                           (double) hist_percentile(res->total.latency, 50) / 1000);
                load_result_free(res);
        }
}

/* The server closes each connection after its answer, saying nothing: the
 * user's next request goes out at once on the kept connection, meets the
 * close before any answer, and goes again on a new one, as libcurl does. */
static void test_silent_close(void) {
        LoadResult *res = run_mode(MODE_SILENT_CLOSE, "GET", "/s", 300 * MS, 0);

        ok(res && res->total.counts.sent > 20, "closed silently after each answer, one user back to back: %" PRIu64
           " requests", res ? res->total.counts.sent : 0);
        if (!res)
                return;
        is_int(res->total.counts.ok, res->total.counts.sent, "each ok, none failed (%s)", reason(res));
        ok(res->connections >= res->total.counts.sent, "%" PRIu64 " connections: each request found its "
           "connection closed and was sent again on a new one", res->connections);
        is_int(atomic_load(&requests_seen), res->total.counts.sent, "the server answered each once");
        load_result_free(res);
}

/* A refused connection fails inside the send (connect(2) says so at once
 * on loopback): the failure still comes on the loop, so a user without
 * think time retries from there, not by recursing into the send. */
static void test_refused_closed(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        char saved[sizeof(base)];
        LoadResult *res;

        if (fd < 0 || bind(fd, (struct sockaddr *) &a, len) < 0 || getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                abort();
        close(fd);
        memcpy(saved, base, sizeof(base));
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", ntohs(a.sin_port));
        res = run_mode(MODE_KEEP, "GET", "/r", 300 * MS, 0);
        memcpy(base, saved, sizeof(base));
        ok(res && res->state == LOAD_RUN_COMPLETED, "one user without think time against a refused port: completed");
        if (!res)
                return;
        ok(res->total.counts.err_connect > 10 && res->total.counts.err_connect == res->total.counts.sent,
           "%" PRIu64 " requests, each a connect error", res->total.counts.sent);
        is_int(res->in_flight, 0, "none left in flight");
        is_str(reason(res), "r: connect failed: Connection refused", "reason");
        load_result_free(res);
}

static void test_head(void) {
        LoadResult *res = run_mode(MODE_HEAD_LENGTH, "HEAD", "/h", 300 * MS, 0);

        ok(res && res->total.counts.sent >= 5 && res->total.counts.ok == res->total.counts.sent,
           "HEAD with Content-Length 1000 and no body, one user back to back: %" PRIu64 " of %" PRIu64 " ok (%s)",
           res ? res->total.counts.ok : 0, res ? res->total.counts.sent : 0, reason(res));
        ok(res && res->connections == 1, "on one connection: the body was not waited for");
        load_result_free(res);

        res = run_mode(MODE_UPGRADE, "GET", "/u", 0, 3);
        ok(res && res->total.counts.err_status == 3 && res->connections == 3,
           "101 Switching Protocols: 3 answered (not expected), the connection never reused: %" PRIu64
           " connections (%s)", res ? res->connections : 0, reason(res));
        load_result_free(res);

        res = run_mode(MODE_304_LENGTH, "GET", "/n", 300 * MS, 0);
        ok(res && res->total.counts.sent >= 5 && res->total.counts.err_status == res->total.counts.sent &&
           res->connections == 1, "304 with Content-Length 5000 and no body: %" PRIu64 " of %" PRIu64
           " answered (not expected) on %" PRIu64 " connection (%s)", res ? res->total.counts.err_status : 0,
           res ? res->total.counts.sent : 0, res ? res->connections : 0, reason(res));
        load_result_free(res);
}

/* A body streamed without end as fast as loopback goes: the loop still
 * gets to the timeout, and the run ends. */
static void test_flood(void) {
        uint64_t start = now_monotonic_usec();
        LoadResult *res = run_mode(MODE_FLOOD, "GET", "/flood", 0, 1);
        uint64_t wall = now_monotonic_usec() - start;

        ok(res && res->total.counts.err_timeout == 1, "an endless body: timed out (%s)", reason(res));
        ok(wall < 3 * SEC, "the 1 s timeout fired while the body poured in: the run took %.0f ms",
           (double) wall / 1000);
        load_result_free(res);
}

/* An 8 MiB body to a server that reads it only after 300 ms: the write
 * waits for the socket, and the body arrives whole.  Two may be in flight,
 * so a machine that takes over 1 s for the first does not drop the second. */
static void test_big_body(void) {
        size_t n = 8u << 20;
        char *body = malloc(n + 1);
        LoadRequest req = { .weight = 1, .name = "big", .method = "POST", .path = "/big" };
        LoadStages *st = NULL;
        LoadScenario sc = { .name = "big", .model = LOAD_MODEL_OPEN, .base_url = base, .timeout_usec = 5 * SEC,
                            .max_inflight = 2, .requests = &req, .n_requests = 1 };
        LoadResult *res;

        memset(body, 'b', n);
        body[n] = '\0';
        req.body = body;
        if (stages_new_constant(2, 1 * SEC, &st, NULL) < 0)
                abort();
        sc.stages = st;
        atomic_store(&mode, MODE_SLOW_READER);
        res = run_scenario(&sc);
        ok(res && res->total.counts.ok == 2, "two 8 MiB POSTs to a slow reader: ok (%s)", reason(res));
        pthread_mutex_lock(&last_lock);
        is_int(last_body_size, n, "the server read the whole body");
        ok(last_body && strspn(last_body, "b") == n, "byte for byte");
        pthread_mutex_unlock(&last_lock);
        load_result_free(res);
        stages_free(st);
        free(body);
}

/* Answers libcurl takes (bent framing, a missing reason phrase, bare LF,
 * an odd byte in a header value): the own client takes them too, on one
 * kept-alive connection. */
static void test_quirks(void) {
        static const struct {
                Mode mode;
                const char *what;
        } cases[] = {
                { MODE_CHUNKED_LENGTH, "chunked with a Content-Length" },
                { MODE_NO_REASON, "no reason phrase" },
                { MODE_BARE_LF, "lines ended by LF" },
                { MODE_ODD_HEADER, "a control byte in a header value" },
        };
        LoadResult *res;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (int c = 0; c < 2; c++) {
                        res = run_mode_by(cases[i].mode, "GET", "/q", 300 * MS, 0,
                                          c == 0 ? LOAD_CLIENT_AUTO : LOAD_CLIENT_LIBCURL);
                        ok(res && res->own_client == (c == 0) && res->total.counts.sent >= 5 &&
                           res->total.counts.ok == res->total.counts.sent && res->connections == 1,
                           "%s, by %s, one user back to back: %" PRIu64 " of %" PRIu64 " ok on %" PRIu64
                           " connection (%s)", cases[i].what, c == 0 ? "the own client" : "libcurl",
                           res ? res->total.counts.ok : 0, res ? res->total.counts.sent : 0,
                           res ? res->connections : 0, reason(res));
                        load_result_free(res);
                }

        /* Where http-parser is stricter than libcurl, as RFC 9110 8.6
         * allows and perfwatchd.conf(5) says: a repeated Content-Length is
         * an error, not a value to pick. */
        res = run_mode(MODE_TWO_LENGTHS, "GET", "/q", 0, 3);
        ok(res && res->total.counts.err_other == 3 && strcmp(reason(res), "r: request failed: not an HTTP/1.x "
           "answer: unexpected content-length header") == 0, "the same Content-Length twice: an error, as "
           "documented (%s)", reason(res));
        load_result_free(res);
}

/* The request's head as sorted lines, the request line first. */
static char *sorted_head(const char *head) {
        char *copy = strdup(head), *lines[64], *out;
        size_t n = 0, len = 0;

        for (char *p = copy, *e; n < 64 && (e = strstr(p, "\r\n")) && e != p; p = e + 2) {
                *e = '\0';
                lines[n++] = p;
        }
        for (size_t i = 1; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (strcasecmp(lines[j], lines[i]) < 0) {
                                char *t = lines[i];
                                lines[i] = lines[j];
                                lines[j] = t;
                        }
        out = calloc(1, strlen(head) + 2);
        for (size_t i = 0; i < n; i++)
                len += (size_t) sprintf(out + len, "%s|", lines[i]);
        free(copy);
        return out;
}

/* The same scenario by the own client and by libcurl: the server receives
 * the same request line, header fields and body. */
static void test_same_as_libcurl(void) {
        static const char *const headers[] = { "X-Test: one", "Accept:", "Content-Type: application/json",
                                               "Authorization: Bearer t0k3n" };
        static const LoadRequest reqs[][1] = {
                { { .weight = 1, .name = "post", .method = "POST", .path = "/items?q=${seq}",
                    .body = "{\"n\":${seq}}" } },
                { { .weight = 1, .name = "get", .method = "GET", .path = "/items/7" } },
                { { .weight = 1, .name = "put", .method = "PUT", .path = "/items/7", .body = "x=1" } },
                { { .weight = 1, .name = "delete", .method = "DELETE", .path = "/items/7" } },
        };

        atomic_store(&mode, MODE_KEEP);
        for (size_t i = 0; i < ELEMENTSOF(reqs); i++) {
                char *got[2] = { NULL, NULL }, *body[2] = { NULL, NULL };

                for (int c = 0; c < 2; c++) {
                        LoadStages *st = NULL;
                        LoadScenario sc = { .name = "same", .model = LOAD_MODEL_OPEN, .base_url = base,
                                            .timeout_usec = SEC, .max_inflight = 1, .requests = reqs[i],
                                            .n_requests = 1, .headers = headers, .n_headers = ELEMENTSOF(headers),
                                            .client = c == 0 ? LOAD_CLIENT_AUTO : LOAD_CLIENT_LIBCURL };
                        LoadResult *res;

                        if (stages_new_constant(10, 100 * MS, &st, NULL) < 0)
                                abort();
                        sc.stages = st;
                        res = run_scenario(&sc);
                        ok(res && res->total.counts.ok == 1 && res->own_client == (c == 0), "%s by %s: answered",
                           reqs[i][0].name, c == 0 ? "the own client" : "libcurl");
                        pthread_mutex_lock(&last_lock);
                        got[c] = last_request ? sorted_head(last_request) : strdup("");
                        body[c] = strdup(last_body ? last_body : "");
                        pthread_mutex_unlock(&last_lock);
                        load_result_free(res);
                        stages_free(st);
                }
                ok(strcmp(got[0], got[1]) == 0, "%s: the same head as libcurl's: %s", reqs[i][0].name, got[0]);
                if (strcmp(got[0], got[1]) != 0)
                        printf("# libcurl's: %s\n", got[1]);
                is_str(body[0], body[1], "%s: the same body", reqs[i][0].name);
                for (int c = 0; c < 2; c++) {
                        free(got[c]);
                        free(body[c]);
                }
        }
}

/* A path a template made invalid on the wire fails that request only. */
static void test_bad_target(void) {
        LoadResult *res;

        setenv("PW_H1_PATH", "a b", 1);
        res = run_mode(MODE_KEEP, "GET", "/x/${env:PW_H1_PATH}", 0, 3);
        unsetenv("PW_H1_PATH");
        ok(res && res->total.counts.err_other == 3, "a space in the path: 3 of 3 refused as other errors");
        is_int(atomic_load(&requests_seen), 0, "none reached the server");
        ok(res && strcmp(reason(res), "r: request failed: its URL has a space or a control character") == 0,
           "reason: %s", reason(res));
        load_result_free(res);

        /* Refused inside the send: the failure still comes on the loop, so
         * a user without think time tries again from there, not by
         * recursing into the send. */
        setenv("PW_H1_PATH", "a b", 1);
        res = run_mode(MODE_KEEP, "GET", "/x/${env:PW_H1_PATH}", 300 * MS, 0);
        unsetenv("PW_H1_PATH");
        ok(res && res->state == LOAD_RUN_COMPLETED && res->total.counts.err_other > 100 &&
           res->total.counts.err_other == res->total.counts.sent && res->in_flight == 0,
           "one user without think time, every path refused: completed, %" PRIu64 " refused, none in flight",
           res ? res->total.counts.err_other : 0);
        load_result_free(res);
}

static void test_ipv6(void) {
        char saved[sizeof(base)];
        int fd;

        if (server_start(AF_INET6, saved, sizeof(saved), &fd) < 0) {
                ok(true, "# SKIP no IPv6 loopback here");
                return;
        }
        memcpy(base, saved, sizeof(base));
        LoadResult *res = run_mode(MODE_KEEP, "GET", "/six", 0, 10);
        ok(res && res->own_client && res->total.counts.ok == 10, "%s: 10 of 10 ok by the own client (%s)", base,
           reason(res));
        pthread_mutex_lock(&last_lock);
        ok(last_request && strstr(last_request, "\r\nHost: [::1]:"), "with Host: [::1]:PORT");
        pthread_mutex_unlock(&last_lock);
        load_result_free(res);
        shutdown(fd, SHUT_RDWR);
}

int main(void) {
        int fd;

        signal(SIGPIPE, SIG_IGN);
        if (curl_glue_global_init() < 0 || server_start(AF_INET, base, sizeof(base), &fd) < 0) {
                printf("Bail out! cannot start the test's server\n");
                return 99;
        }
        test_supports();
        test_keep_alive();
        test_answers();
        test_silent_close();
        test_failures();
        test_head();
        test_flood();
        test_refused_closed();
        test_big_body();
        test_same_as_libcurl();
        test_quirks();
        test_bad_target();
        test_ipv6();
        shutdown(fd, SHUT_RDWR);
        curl_glue_global_cleanup();
        return tap_done();
}
