#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "util/log.h"
#include "transport/pg-conn.h"
#include "transport/poll-timer.h"
#include "util/units.h"

#define PG_CONN_BACKOFF_FIRST_USEC USEC_PER_SEC
#define PG_CONN_BACKOFF_CAP_USEC   (60 * USEC_PER_SEC)
/* Longest kept error, NUL included: a libpq message on one line. */
#define PG_CONN_ERROR_MAX 300
#define PG_CONN_TIMER_ACCURACY_USEC USEC_PER_MSEC

typedef enum PgConnState {
        PG_CONN_DISCONNECTED,   /* no connection: the next query connects */
        PG_CONN_CONNECTING,     /* PQconnectPoll() until the connection is up */
        PG_CONN_SETTING,        /* statement_timeout being set on a new connection */
        PG_CONN_IDLE,           /* connected, nothing in flight */
        PG_CONN_QUERYING,       /* the caller's query in flight */
} PgConnState;

struct PgConn {
        char *conninfo;
        char *description;
        uint64_t timeout_usec;
        char set_timeout_sql[64];

        sd_event *event;
        sd_event_source *io;
        sd_event_source *timer;

        PGconn *conn;
        PgConnState state;
        bool flushing;             /* PQflush() said output is still queued */
        bool is_new;

        char *sql;                 /* the caller's query, sent once connected */
        pg_conn_done_t done;
        void *userdata;
        PGresult *result;          /* last result of the query in flight */
        char query_error[PG_CONN_ERROR_MAX];

        unsigned failures;         /* consecutive connect failures and timeouts */
        uint64_t backoff_until_usec;
        bool have_error;
        char last_error[PG_CONN_ERROR_MAX];
        char notice[PG_CONN_ERROR_MAX];
};

static void conn_connect_step(PgConn *c);
static void conn_io_query(PgConn *c, uint32_t revents);

/* libpq's messages span lines ("...failed: Connection refused\n\tIs the
 * server running...") and pad with double spaces ("FATAL:  ..."): the API
 * and the journal want one line, so the lines are joined with "; ", every
 * other run of white space becomes one space, and the ends are trimmed. */
static void one_line(char *dst, size_t n, const char *src) {
        size_t o = 0;
        bool space = false, newline = false;

        for (; src && *src && o + 1 < n; src++) {
                if (*src == ' ' || *src == '\t' || *src == '\n' || *src == '\r') {
                        space = o > 0;
                        newline = newline || (o > 0 && (*src == '\n' || *src == '\r'));
                        continue;
                }
                if (newline && o + 3 < n && dst[o - 1] != ';')
                        dst[o++] = ';';
                if (space && o + 2 < n)
                        dst[o++] = ' ';
                space = newline = false;
                dst[o++] = *src;
        }
        dst[o] = '\0';
}

static void conn_set_error(PgConn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_set_error(PgConn *c, const char *fmt, ...) {
        char buf[PG_CONN_ERROR_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        one_line(c->last_error, sizeof(c->last_error), buf);
        c->have_error = true;
}

/* "ERROR: relation "x" does not exist", without libpq's LINE/caret lines. */
static void result_error(const PGresult *res, char *buf, size_t n) {
        const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        char tmp[PG_CONN_ERROR_MAX];

        if (severity && primary)
                (void) snprintf(tmp, sizeof(tmp), "%s: %s", severity, primary);
        else if (*PQresultErrorMessage(res))
                (void) snprintf(tmp, sizeof(tmp), "%s", PQresultErrorMessage(res));
        else
                (void) snprintf(tmp, sizeof(tmp), "unexpected result: %s",
                                PQresStatus(PQresultStatus(res)));
        one_line(buf, n, tmp);
}

static void on_notice(void *arg, const char *message) {
        PgConn *c = arg;

        /* Kept: when the server ends an idle connection, its FATAL message
         * arrives here and is the best reason to show. */
        one_line(c->notice, sizeof(c->notice), message);
        log_source(LOG_DEBUG, c->description, "server says: %s", c->notice);
}

static void conn_drop(PgConn *c) {
        /* The watch goes first, while libpq's socket is still open. */
        c->io = sd_event_source_disable_unref(c->io);
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        if (c->conn)
                PQfinish(c->conn);
        c->conn = NULL;
        c->state = PG_CONN_DISCONNECTED;
        c->flushing = false;
        PQclear(c->result);
        c->result = NULL;
}

/* 1 s, 2 s, 4 s ... up to 60 s after consecutive failures. */
static void conn_backoff(PgConn *c) {
        unsigned shift = c->failures < 6 ? c->failures : 6;
        uint64_t delay = PG_CONN_BACKOFF_FIRST_USEC << shift;

        if (delay > PG_CONN_BACKOFF_CAP_USEC)
                delay = PG_CONN_BACKOFF_CAP_USEC;
        c->failures++;
        c->backoff_until_usec = now_monotonic_usec() + delay;
        log_source(LOG_DEBUG, c->description, "next connection attempt in %" PRIu64 " s",
                   (uint64_t) (delay / USEC_PER_SEC));
}

/* Ends the query in flight: state first, because the callback may start
 * the next query. */
static void conn_complete(PgConn *c, const char *error) {
        pg_conn_done_t done = c->done;
        void *userdata = c->userdata;
        PGresult *res = c->result;
        char reason[PG_CONN_ERROR_MAX];

        c->result = NULL;
        c->done = NULL;
        c->userdata = NULL;
        free(c->sql);
        c->sql = NULL;
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        if (error)
                (void) snprintf(reason, sizeof(reason), "%s", error);

        if (done)
                done(c, error ? NULL : res, error ? reason : NULL, userdata);
        PQclear(res);
}

/* The connection is unusable: drop it, back off when asked to, and fail
 * the query in flight with the reason already in last_error. */
static void conn_fail(PgConn *c, bool backoff) {
        log_source(LOG_DEBUG, c->description, "%s", c->last_error);
        conn_drop(c);
        if (backoff)
                conn_backoff(c);
        conn_complete(c, c->last_error);
}

/* An idle connection only hears the server end it (shutdown, terminated
 * backend): drop it now, and the next query reconnects at once. */
static void conn_io_idle(PgConn *c) {
        bool lost = !PQconsumeInput(c->conn);

        if (!lost) {
                /* Parses what arrived: a FATAL goes to on_notice(). */
                (void) PQisBusy(c->conn);
                lost = PQstatus(c->conn) == CONNECTION_BAD;
        }
        if (!lost)
                return;
        conn_set_error(c, "connection lost: %s", c->notice[0] ? c->notice : PQerrorMessage(c->conn));
        log_source(LOG_DEBUG, c->description, "%s", c->last_error);
        conn_drop(c);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PgConn *c = userdata;

        switch (c->state) {
        case PG_CONN_CONNECTING:
                conn_connect_step(c);
                break;
        case PG_CONN_SETTING:
        case PG_CONN_QUERYING:
                conn_io_query(c, revents);
                break;
        case PG_CONN_IDLE:
                conn_io_idle(c);
                break;
        case PG_CONN_DISCONNECTED:
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                break;
        }
        return 0;
}

/* Watches libpq's socket for `events`.  `fresh` re-registers it: while
 * connecting, libpq may close its socket and open another (next host,
 * SSL refused), possibly under the same number, which epoll would no
 * longer watch. */
static int conn_watch(PgConn *c, uint32_t events, bool fresh) {
        int fd = PQsocket(c->conn), r;

        if (fd < 0)
                return -EBADF;
        if (c->io && !fresh)
                return sd_event_source_set_io_events(c->io, events);

        c->io = sd_event_source_disable_unref(c->io);
        r = sd_event_add_io(c->event, &c->io, fd, events, on_io, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->io, c->description);
        return 0;
}

static int conn_arm_timer(PgConn *c) {
        int r;

        r = sd_event_source_set_time_relative(c->timer, c->timeout_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        return r;
}

/* Sends what PQsendQuery() queued; watches for writability only while
 * libpq still holds output (it never blocks in nonblocking mode). */
static int conn_flush(PgConn *c) {
        int r = PQflush(c->conn);

        if (r < 0) {
                conn_set_error(c, "connection lost: %s", PQerrorMessage(c->conn));
                return -EIO;
        }
        c->flushing = r == 1;
        r = conn_watch(c, EPOLLIN | (c->flushing ? EPOLLOUT : 0), false);
        if (r < 0)
                conn_set_error(c, "cannot watch the connection's socket: %s", strerror(-r));
        return r;
}

static int conn_send(PgConn *c, const char *sql) {
        c->query_error[0] = '\0';
        c->notice[0] = '\0';
        if (!PQsendQuery(c->conn, sql)) {
                conn_set_error(c, "cannot send the query: %s", PQerrorMessage(c->conn));
                return -EIO;
        }
        return conn_flush(c);
}

static void conn_connected(PgConn *c) {
        int r;

        log_source(LOG_DEBUG, c->description, "connected (server %s)",
                   PQparameterStatus(c->conn, "server_version") ?: "of unknown version");
        c->failures = 0;
        c->state = PG_CONN_SETTING;
        r = conn_send(c, c->set_timeout_sql);
        if (r < 0)
                conn_fail(c, true);
}

static void conn_connect_step(PgConn *c) {
        int r;

        switch (PQconnectPoll(c->conn)) {
        case PGRES_POLLING_READING:
                r = conn_watch(c, EPOLLIN, true);
                break;
        case PGRES_POLLING_WRITING:
                r = conn_watch(c, EPOLLOUT, true);
                break;
        case PGRES_POLLING_OK:
                conn_connected(c);
                return;
        default:
                conn_set_error(c, "connect failed: %s", PQerrorMessage(c->conn));
                conn_fail(c, true);
                return;
        }
        if (r < 0) {
                conn_set_error(c, "connect failed: cannot watch the socket: %s", strerror(-r));
                conn_fail(c, true);
        }
}

/* Starts connecting.  0, or a negative errno with the connection dropped
 * (and -EAGAIN with last_error set when libpq refused at once). */
static int conn_start(PgConn *c) {
        const char *const keys[] = { "gssencmode", "dbname", "fallback_application_name", NULL };
        const char *const values[] = { "disable", c->conninfo, "perfwatchd", NULL };
        int r;

        /* expand_dbname = 1: the user's conninfo is expanded and overrides
         * the entries before it.  NB: gssencmode defaults to disable because
         * libpq's "prefer" loads and initialises Kerberos on every connect
         * (0.5 MiB of resident memory) for a daemon that, running as a
         * dynamic user, has no credential cache; gssencmode=prefer in the
         * conninfo turns it back on. */
        c->conn = PQconnectStartParams(keys, values, 1);
        if (!c->conn)
                return -ENOMEM;
        if (PQstatus(c->conn) == CONNECTION_BAD) {
                conn_set_error(c, "connect failed: %s", PQerrorMessage(c->conn));
                conn_drop(c);
                conn_backoff(c);
                return -EAGAIN;
        }
        PQsetNoticeProcessor(c->conn, on_notice, c);
        if (PQsetnonblocking(c->conn, 1) < 0) {
                conn_drop(c);
                return -EIO;
        }
        c->state = PG_CONN_CONNECTING;
        c->is_new = true;
        c->notice[0] = '\0';

        /* libpq: just after PQconnectStart, behave as if it asked to write. */
        r = conn_watch(c, EPOLLOUT, true);
        if (r >= 0)
                r = conn_arm_timer(c);
        if (r < 0)
                conn_drop(c);
        return r;
}

/* Keeps the last result; the first error wins, since later results of a
 * multi-statement query never ran. */
static int conn_take_result(PgConn *c, PGresult *res) {
        ExecStatusType st = PQresultStatus(res);

        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
                PQclear(res);
                conn_set_error(c, "COPY is not supported");
                return -EPROTO;
        }
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && !c->query_error[0])
                result_error(res, c->query_error, sizeof(c->query_error));
        PQclear(c->result);
        c->result = res;
        return 0;
}

static void conn_query_finished(PgConn *c) {
        int r;

        if (c->state == PG_CONN_SETTING) {
                if (c->query_error[0]) {
                        conn_set_error(c, "cannot set statement_timeout: %s", c->query_error);
                        conn_fail(c, true);
                        return;
                }
                PQclear(c->result);
                c->result = NULL;
                c->state = PG_CONN_QUERYING;
                r = conn_send(c, c->sql);
                if (r >= 0)
                        r = conn_arm_timer(c);
                if (r < 0)
                        conn_fail(c, false);
                return;
        }

        c->state = PG_CONN_IDLE;
        if (PQstatus(c->conn) == CONNECTION_BAD) {
                /* The server ended the session (shutdown, terminated backend):
                 * the next query reconnects at once. */
                conn_set_error(c, "connection lost: %s",
                               c->query_error[0] ? c->query_error : PQerrorMessage(c->conn));
                conn_fail(c, false);
                return;
        }
        (void) conn_watch(c, EPOLLIN, false);
        if (c->query_error[0]) {
                conn_set_error(c, "%s", c->query_error);
                conn_complete(c, c->last_error);
        } else
                conn_complete(c, NULL);
}

static void conn_io_query(PgConn *c, uint32_t revents) {
        PGresult *res;

        if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP) && !PQconsumeInput(c->conn)) {
                conn_set_error(c, "connection lost: %s",
                               c->notice[0] ? c->notice : PQerrorMessage(c->conn));
                conn_fail(c, false);
                return;
        }
        /* libpq: output may wait until input is read, so flush after either. */
        if (c->flushing && conn_flush(c) < 0) {
                conn_fail(c, false);
                return;
        }
        while (!PQisBusy(c->conn)) {
                res = PQgetResult(c->conn);
                if (!res) {
                        conn_query_finished(c);
                        return;
                }
                if (conn_take_result(c, res) < 0) {
                        conn_fail(c, false);
                        return;
                }
        }
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        PgConn *c = userdata;
        bool connecting = c->state == PG_CONN_CONNECTING || c->state == PG_CONN_SETTING;

        if (c->state == PG_CONN_DISCONNECTED || c->state == PG_CONN_IDLE)
                return 0;
        /* Dropping the connection is the only way out that never blocks:
         * PQcancel() would open a blocking connection of its own. */
        conn_set_error(c, "timed out after %" PRIu64 " ms %s",
                       (uint64_t) (c->timeout_usec / USEC_PER_MSEC),
                       connecting ? "connecting to the server" : "waiting for the query");
        conn_fail(c, true);
        return 0;
}

int pg_conn_new(sd_event *e, const char *conninfo, uint64_t timeout_usec, const char *description,
                PgConn **ret) {
        PQconninfoOption *opts;
        uint64_t ms = timeout_usec / USEC_PER_MSEC;
        PgConn *c;
        int r;

        if (!e || !conninfo || timeout_usec == 0 || !description || !ret)
                return -EINVAL;
        opts = PQconninfoParse(conninfo, NULL);
        if (!opts)
                return -EINVAL;
        PQconninfoFree(opts);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->timeout_usec = timeout_usec;
        /* 0 would switch the server's timeout off. */
        (void) snprintf(c->set_timeout_sql, sizeof(c->set_timeout_sql),
                        "SET statement_timeout = %" PRIu64, ms < 1 ? 1 : ms);
        c->conninfo = strdup(conninfo);
        c->description = strdup(description);
        if (!c->conninfo || !c->description) {
                r = -ENOMEM;
                goto fail;
        }

        r = sd_event_add_time_relative(e, &c->timer, CLOCK_MONOTONIC, timeout_usec,
                                       PG_CONN_TIMER_ACCURACY_USEC, on_timeout, c);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(c->timer, description);
        r = sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        if (r < 0)
                goto fail;

        *ret = c;
        return 0;

fail:
        pg_conn_free(c);
        return r;
}

PgConn *pg_conn_free(PgConn *c) {
        if (!c)
                return NULL;
        conn_drop(c);
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->event);
        free(c->sql);
        free(c->conninfo);
        free(c->description);
        free(c);
        return NULL;
}

int pg_conn_query(PgConn *c, const char *sql, pg_conn_done_t done, void *userdata) {
        int r;

        if (!c || !sql || !done)
                return -EINVAL;
        if (c->state != PG_CONN_DISCONNECTED && c->state != PG_CONN_IDLE)
                return -EBUSY;
        if (c->state == PG_CONN_DISCONNECTED && now_monotonic_usec() < c->backoff_until_usec)
                return -EAGAIN;

        c->sql = strdup(sql);
        if (!c->sql)
                return -ENOMEM;

        if (c->state == PG_CONN_IDLE) {
                c->is_new = false;
                c->state = PG_CONN_QUERYING;
                r = conn_send(c, sql);
                if (r >= 0)
                        r = conn_arm_timer(c);
                if (r >= 0)
                        goto started;
                /* The idle connection broke unnoticed: connect afresh. */
                conn_drop(c);
        }
        r = conn_start(c);
        if (r < 0) {
                free(c->sql);
                c->sql = NULL;
                return r;
        }
started:
        c->done = done;
        c->userdata = userdata;
        return 0;
}

const char *pg_conn_last_error(const PgConn *c) {
        return c && c->have_error ? c->last_error : NULL;
}

PGconn *pg_conn_get(PgConn *c) {
        if (!c || c->state == PG_CONN_DISCONNECTED || c->state == PG_CONN_CONNECTING)
                return NULL;
        return c->conn;
}

int pg_conn_is_new(const PgConn *c) {
        return c && c->is_new;
}
