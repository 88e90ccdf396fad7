/* The API's defence against slow clients (slowloris): libmicrohttpd's idle
 * timeout restarts with every byte, so a client sending one header byte
 * every few seconds would hold its connection for ever, and a few hundred
 * of them would fill the connection limit.  The guard follows every
 * connection and shuts down the socket of one whose request headers are
 * not complete within a deadline of its start (or of its previous answer);
 * libmicrohttpd then sees the end of the stream and closes it as usual.
 * It also sizes the connection limit to the descriptors the process may
 * open. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "api/api-internal.h"
#include "util/log.h"
#include "util/util.h"

/* Descriptors kept for everything but API connections: the database, the
 * targets' transfers, PostgreSQL, the listening socket, epoll and logs. */
#define GUARD_FD_RESERVE 256U
#define GUARD_SWEEP_USEC (250 * USEC_PER_MSEC)
#define GUARD_LOG_USEC USEC_PER_MIN

typedef struct Conn {
        struct Conn *prev, *next;
        MHD_socket fd;
        uint64_t since;              /* monotonic: start, or the previous answer */
        bool busy;                   /* headers complete, answer not sent yet */
        bool shut;
} Conn;

struct ApiGuard {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        Conn *conns;
        uint64_t deadline;
        unsigned n_shut;             /* shut down since the last log line */
        uint64_t logged;             /* when that line was written */
        bool stopping;
        pthread_t thread;
};

static Conn *conn_of(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *info =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return info ? info->socket_context : NULL;
}

/* Shuts down every connection past the deadline; the count of this sweep. */
static unsigned guard_sweep(ApiGuard *g, uint64_t now) {
        unsigned n = 0;

        for (Conn *c = g->conns; c; c = c->next)
                if (!c->busy && !c->shut && now - c->since > g->deadline) {
                        /* NB: the descriptor is still this connection's:
                         * libmicrohttpd closes it only after the CLOSED
                         * notification, which takes this lock first. */
                        shutdown(c->fd, SHUT_RDWR);
                        c->shut = true;
                        n++;
                }
        return n;
}

static void *guard_main(void *u) {
        ApiGuard *g = u;
        struct timespec ts;
        uint64_t now;

        pthread_mutex_lock(&g->lock);
        while (!g->stopping) {
                clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
                g->n_shut += guard_sweep(g, now);
                /* At most one line a minute, however many slow clients. */
                if (g->n_shut > 0 && (g->logged == 0 || now - g->logged >= GUARD_LOG_USEC)) {
                        log_warning("API: closed %u connection(s) whose request headers took "
                                    "longer than %llu s (slow or stuck clients)",
                                    g->n_shut, (unsigned long long) (g->deadline / USEC_PER_SEC));
                        g->n_shut = 0;
                        g->logged = now;
                }
                ts.tv_nsec += (long) (GUARD_SWEEP_USEC * 1000);
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        }
        pthread_mutex_unlock(&g->lock);
        return NULL;
}

int api_guard_new(uint64_t deadline_usec, ApiGuard **ret) {
        pthread_condattr_t attr;
        ApiGuard *g;
        int k;

        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->deadline = deadline_usec;
        pthread_mutex_init(&g->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&g->wake, &attr);
        pthread_condattr_destroy(&attr);
        k = -pthread_create(&g->thread, NULL, guard_main, g);
        if (k < 0) {
                pthread_cond_destroy(&g->wake);
                pthread_mutex_destroy(&g->lock);
                free(g);
                return k;
        }
        *ret = g;
        return 0;
}

ApiGuard *api_guard_free(ApiGuard *g) {
        if (!g)
                return NULL;
        pthread_mutex_lock(&g->lock);
        g->stopping = true;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->thread, NULL);
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
}

void api_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code) {
        const union MHD_ConnectionInfo *info;
        ApiGuard *g = cls;
        Conn *conn = *socket_context;

        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
                conn = info ? calloc(1, sizeof *conn) : NULL;
                *socket_context = conn;
                if (!conn)
                        return;
                conn->fd = info->connect_fd;
                conn->since = now_monotonic_usec();
                pthread_mutex_lock(&g->lock);
                conn->next = g->conns;
                if (g->conns)
                        g->conns->prev = conn;
                g->conns = conn;
                pthread_mutex_unlock(&g->lock);
                return;
        }
        if (!conn)
                return;
        pthread_mutex_lock(&g->lock);
        if (conn->prev)
                conn->prev->next = conn->next;
        else if (g->conns == conn)
                g->conns = conn->next;
        if (conn->next)
                conn->next->prev = conn->prev;
        pthread_mutex_unlock(&g->lock);
        free(conn);
        *socket_context = NULL;
}

void api_guard_busy(ApiGuard *g, struct MHD_Connection *c, bool busy) {
        Conn *conn = conn_of(c);

        if (!conn)
                return;
        pthread_mutex_lock(&g->lock);
        conn->busy = busy;
        conn->since = now_monotonic_usec();
        pthread_mutex_unlock(&g->lock);
}

unsigned api_guard_connection_limit(unsigned want) {
        struct rlimit rl;
        rlim_t need = (rlim_t) want + GUARD_FD_RESERVE;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return want;
        /* Raising the soft limit is harmless here: nothing in perfwatchd
         * uses select().  Under systemd, LimitNOFILE= sets it instead
         * (the unit's system call filter refuses setrlimit()). */
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
                struct rlimit raised = { .rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need
                                                             ? need : rl.rlim_max,
                                         .rlim_max = rl.rlim_max };

                if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
                        rl.rlim_cur = raised.rlim_cur;
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
                unsigned limit = rl.rlim_cur > 2 * GUARD_FD_RESERVE
                                         ? (unsigned) (rl.rlim_cur - GUARD_FD_RESERVE)
                                         : (unsigned) (rl.rlim_cur / 2);

                log_warning("API: only %llu file descriptors (RLIMIT_NOFILE): serving at most "
                            "%u connections instead of %u",
                            (unsigned long long) rl.rlim_cur, limit, want);
                return limit;
        }
        return want;
}
