#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "transport/curl-glue.h"
#include "util/log.h"
#include "transport/poll-timer.h"
#include "util/units.h"
#if HAVE_LIBSSH2
#include <libssh2.h>
#endif

/* One running transfer and whom to tell when it ends; its easy handle's
 * CURLOPT_PRIVATE points back at it, so finding it costs nothing however
 * many run (a list walk per answer grew with the backlog: 10 % of a load
 * run's CPU when a stall left hundreds in flight). */
typedef struct Transfer {
        CURL *easy;
        curl_glue_done_t done;
        void *userdata;
        struct Transfer *prev, *next;
} Transfer;

/* One socket curl asked us to watch; curl hands it back as `socketp`. */
typedef struct GlueSocket {
        curl_socket_t fd;
        bool watched;           /* in the glue's epoll set */
        struct GlueSocket *prev, *next;
} GlueSocket;

/* NB: curl's sockets sit in an epoll set of the glue's own, watched by one
 * sd-event source that hands every ready socket to curl in one dispatch.
 * With one sd-event source per socket, the loop dispatches one socket per
 * iteration, yet each iteration's epoll_wait returns every ready socket
 * again: with hundreds of transfers in flight (a load run) that cost grows
 * with the square of the backlog.  curl's ephiperfifo.c does the same. */
#define GLUE_EPOLL_BATCH 256

struct CurlGlue {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        int epoll_fd;
        sd_event_source *epoll_io;
        Transfer *transfers;
        GlueSocket *sockets;
        curl_glue_before_t before;
        void *before_userdata;
        bool dispatching;       /* in glue_on_epoll or glue_on_timer */
        bool kick;              /* curl_glue_kick() called meanwhile */
};

static Transfer *glue_unlink_transfer(CurlGlue *g, CURL *easy) {
        Transfer *t = NULL;

        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t) != CURLE_OK || !t || t->easy != easy)
                return NULL;
        (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        if (t->prev)
                t->prev->next = t->next;
        else
                g->transfers = t->next;
        if (t->next)
                t->next->prev = t->prev;
        return t;
}

/* Hands every finished transfer back to its owner.  Each callback may add
 * or remove transfers; curl drops the pending message of a removed handle,
 * and we look each message's transfer up afresh, so nothing stale is used. */
static void glue_check_finished(CurlGlue *g) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(g->multi, &left))) {
                CURL *easy;
                CURLcode result;
                Transfer *t;

                if (msg->msg != CURLMSG_DONE)
                        continue;

                /* The message lives in the easy handle: copy before removing it. */
                easy = msg->easy_handle;
                result = msg->data.result;
                t = glue_unlink_transfer(g, easy);
                curl_multi_remove_handle(g->multi, easy);
                if (!t)
                        continue;

                curl_glue_done_t done = t->done;
                void *userdata = t->userdata;
                free(t);
                done(easy, result, userdata);
        }
}

static void glue_before(CurlGlue *g) {
        if (g->before)
                g->before(g->before_userdata);
}

static void glue_action(CurlGlue *g, curl_socket_t fd, int mask) {
        int running;
        CURLMcode mc;

        glue_before(g);
        mc = curl_multi_socket_action(g->multi, fd, mask, &running);
        if (mc != CURLM_OK)
                log_warning("curl: socket action on %s failed: %s",
                            fd == CURL_SOCKET_TIMEOUT ? "timeout" : "socket",
                            curl_multi_strerror(mc));
        glue_check_finished(g);
}

/* Every ready socket of the glue's epoll set, handed to curl in turn.
 * Only fds go to curl, never GlueSockets: curl may free those
 * (CURL_POLL_REMOVE) while we are inside an action; a socket closed and its
 * fd reused within the batch gets one spurious action, which curl ignores. */
/* The end of a dispatch: the one timeout action a done callback asked for
 * with curl_glue_kick().  Once, not until none is asked for: a chain of
 * them goes through the loop (curl's zero timeout), so the loop's other
 * sources are never starved. */
static void glue_dispatch_end(CurlGlue *g) {
        g->dispatching = false;
        if (!g->kick)
                return;
        g->kick = false;
        g->dispatching = true;
        glue_action(g, CURL_SOCKET_TIMEOUT, 0);
        g->dispatching = false;
}

static int glue_on_epoll(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct epoll_event ev[GLUE_EPOLL_BATCH];
        CurlGlue *g = userdata;
        int n = epoll_wait(g->epoll_fd, ev, GLUE_EPOLL_BATCH, 0);

        g->dispatching = true;

        for (int i = 0; i < n; i++) {
                int mask = 0, running;

                if (ev[i].events & EPOLLIN)
                        mask |= CURL_CSELECT_IN;
                if (ev[i].events & EPOLLOUT)
                        mask |= CURL_CSELECT_OUT;
                if (ev[i].events & (EPOLLERR | EPOLLHUP))
                        mask |= CURL_CSELECT_ERR;
                glue_before(g);
                if (curl_multi_socket_action(g->multi, ev[i].data.fd, mask, &running) != CURLM_OK)
                        log_warning("curl: socket action on socket %d failed", ev[i].data.fd);
        }
        glue_check_finished(g);
        glue_dispatch_end(g);
        return 0;
}

static int glue_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        CurlGlue *g = userdata;

        g->dispatching = true;
        glue_action(g, CURL_SOCKET_TIMEOUT, 0);
        glue_dispatch_end(g);
        return 0;
}

/* Transfers removed while the owner tears down after the loop ended make
 * curl ask for sockets and timers a finished loop can no longer give. */
static bool glue_loop_finished(CurlGlue *g) {
        return sd_event_get_state(g->event) == SD_EVENT_FINISHED;
}

static void glue_socket_free(CurlGlue *g, GlueSocket *gs) {
        if (!gs)
                return;
        if (gs->watched)
                (void) epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, gs->fd, NULL);
        if (gs->prev)
                gs->prev->next = gs->next;
        else
                g->sockets = gs->next;
        if (gs->next)
                gs->next->prev = gs->prev;
        free(gs);
}

static int glue_socket_new(CurlGlue *g, curl_socket_t fd, GlueSocket **ret) {
        GlueSocket *gs;

        gs = calloc(1, sizeof(*gs));
        if (!gs)
                return -ENOMEM;
        gs->fd = fd;
        gs->next = g->sockets;
        if (g->sockets)
                g->sockets->prev = gs;
        g->sockets = gs;
        *ret = gs;
        return 0;
}

/* Puts the socket in the glue's epoll set for `events`, or takes it out
 * when there are none (CURL_POLL_NONE: EPOLLHUP would still be reported). */
static int glue_socket_watch(CurlGlue *g, GlueSocket *gs, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.fd = gs->fd };
        int op = !events ? EPOLL_CTL_DEL : gs->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

        if (!events && !gs->watched)
                return 0;
        if (epoll_ctl(g->epoll_fd, op, gs->fd, &ev) < 0)
                return -errno;
        gs->watched = events != 0;
        return 0;
}

static int glue_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        CurlGlue *g = userp;
        GlueSocket *gs = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                curl_multi_assign(g->multi, fd, NULL);
                glue_socket_free(g, gs);
                return 0;
        }
        if (glue_loop_finished(g))
                return 0;

        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        if (!gs) {
                r = glue_socket_new(g, fd, &gs);
                if (r < 0) {
                        log_error("curl: cannot watch socket %d: %s", (int) fd, strerror(-r));
                        return -1;
                }
                curl_multi_assign(g->multi, fd, gs);
        }
        r = glue_socket_watch(g, gs, events);
        if (r < 0) {
                log_error("curl: cannot change events of socket %d: %s", (int) fd, strerror(-r));
                return -1;
        }
        return 0;
}

/* curl's single timeout.  A zero timeout arms the timer in the past, so the
 * action runs on the loop's next iteration instead of recursing into curl. */
static int glue_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        CurlGlue *g = userp;
        uint64_t when;
        int r;

        if (glue_loop_finished(g))
                return 0;
        if (timeout_ms < 0) {
                if (g->timer && sd_event_source_set_enabled(g->timer, SD_EVENT_OFF) < 0)
                        return -1;
                return 0;
        }

        when = timeout_ms == 0 ? 1 : now_monotonic_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC;

        if (!g->timer) {
                r = sd_event_add_time(g->event, &g->timer, CLOCK_MONOTONIC, when, 1000,
                                      glue_on_timer, g);
                if (r < 0) {
                        log_error("curl: cannot add timer: %s", strerror(-r));
                        return -1;
                }
                (void) sd_event_source_set_description(g->timer, "curl-timer");
                return 0;
        }

        r = sd_event_source_set_time(g->timer, when);
        if (r >= 0)
                r = sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT);
        if (r < 0) {
                log_error("curl: cannot arm timer: %s", strerror(-r));
                return -1;
        }
        return 0;
}

int curl_glue_new(sd_event *e, CurlGlue **ret) {
        CurlGlue *g;

        if (!e || !ret)
                return -EINVAL;

        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->event = sd_event_ref(e);
        g->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (g->epoll_fd < 0) {
                int r = -errno;
                curl_glue_free(g);
                return r;
        }
        if (sd_event_add_io(e, &g->epoll_io, g->epoll_fd, EPOLLIN, glue_on_epoll, g) < 0) {
                curl_glue_free(g);
                return -ENOMEM;
        }
        (void) sd_event_source_set_description(g->epoll_io, "curl-io");

        g->multi = curl_multi_init();
        if (!g->multi) {
                curl_glue_free(g);
                return -ENOMEM;
        }

        if (curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, glue_socket_cb) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, glue_timer_cb) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g) != CURLM_OK) {
                curl_glue_free(g);
                return -EINVAL;
        }

        *ret = g;
        return 0;
}

sd_event *curl_glue_get_event(const CurlGlue *g) {
        return g ? g->event : NULL;
}

CurlGlue *curl_glue_free(CurlGlue *g) {
        if (!g)
                return NULL;

        while (g->transfers) {
                Transfer *t = g->transfers;
                g->transfers = t->next;
                (void) curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
                if (g->multi)
                        curl_multi_remove_handle(g->multi, t->easy);
                free(t);
        }

        /* Cleanup may still report sockets removed; free whatever it did not. */
        if (g->multi)
                curl_multi_cleanup(g->multi);
        while (g->sockets)
                glue_socket_free(g, g->sockets);

        sd_event_source_disable_unref(g->epoll_io);
        if (g->epoll_fd >= 0)
                close(g->epoll_fd);
        sd_event_source_disable_unref(g->timer);
        sd_event_unref(g->event);
        free(g);
        return NULL;
}

void curl_glue_set_before(CurlGlue *g, curl_glue_before_t before, void *userdata) {
        if (!g)
                return;
        g->before = before;
        g->before_userdata = userdata;
}

void curl_glue_kick(CurlGlue *g) {
        if (!g)
                return;
        if (g->dispatching) {
                g->kick = true;
                return;
        }
        g->dispatching = true;
        glue_action(g, CURL_SOCKET_TIMEOUT, 0);
        glue_dispatch_end(g);
}

int curl_glue_set_max_connections(CurlGlue *g, unsigned n) {
        if (!g || n == 0)
                return -EINVAL;
        if (curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, (long) n) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) n) != CURLM_OK)
                return -EINVAL;
        return 0;
}

int curl_glue_add(CurlGlue *g, CURL *easy, curl_glue_done_t done, void *userdata) {
        Transfer *t;
        CURLMcode mc;

        if (!g || !easy || !done)
                return -EINVAL;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *t = (Transfer) { .easy = easy, .done = done, .userdata = userdata };

        mc = curl_multi_add_handle(g->multi, easy);
        if (mc != CURLM_OK) {
                free(t);
                return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM :
                       mc == CURLM_ADDED_ALREADY ? -EBUSY : -EINVAL;
        }

        (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
        t->next = g->transfers;
        if (t->next)
                t->next->prev = t;
        g->transfers = t;
        return 0;
}

void curl_glue_remove(CurlGlue *g, CURL *easy) {
        Transfer *t;

        if (!g || !easy)
                return;
        t = glue_unlink_transfer(g, easy);
        if (!t)
                return;
        curl_multi_remove_handle(g->multi, easy);
        free(t);
}

static long usec_to_timeout_ms(uint64_t usec) {
        uint64_t ms = usec / USEC_PER_MSEC;

        /* 0 would mean "no timeout" to curl. */
        return ms < 1 ? 1 : ms > LONG_MAX ? LONG_MAX : (long) ms;
}

int curl_glue_easy_new(const char *url, uint64_t timeout_usec, uint64_t connect_timeout_usec, char *errbuf,
                       CURL **ret) {
        CURL *e;

        if (!url || !errbuf || !ret)
                return -EINVAL;
        e = curl_easy_init();
        if (!e)
                return -ENOMEM;

        if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, usec_to_timeout_ms(timeout_usec)) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, usec_to_timeout_ms(connect_timeout_usec)) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_USERAGENT, CURL_GLUE_USER_AGENT) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
#else
            curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
#endif
            curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
                curl_easy_cleanup(e);
                return -EINVAL;
        }
        *ret = e;
        return 0;
}

void curl_glue_describe(CURL *easy, CURLcode result, const CurlBuffer *body, const char *errbuf,
                        uint64_t timeout_usec, const char *what, const char *cap_name, char *buf, size_t n) {
        const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(result);
        long os_errno = 0;

        switch (result) {
        case CURLE_OPERATION_TIMEDOUT:
                snprintf(buf, n, "timed out after %" PRIu64 " ms", (uint64_t) (timeout_usec / USEC_PER_MSEC));
                break;
        case CURLE_FILESIZE_EXCEEDED:
        case CURLE_WRITE_ERROR:
                /* A write error without overflow is our allocation failing. */
                if (result == CURLE_WRITE_ERROR && !body->overflow)
                        snprintf(buf, n, "cannot keep the %s in memory: %s", what, detail);
                else if (cap_name)
                        snprintf(buf, n, "%s exceeds %s (%zu bytes)", what, cap_name, body->cap);
                else
                        snprintf(buf, n, "%s exceeds %zu bytes", what, body->cap);
                break;
        case CURLE_COULDNT_CONNECT:
                (void) curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
                snprintf(buf, n, "connect failed: %s", os_errno > 0 ? strerror((int) os_errno) : detail);
                break;
        case CURLE_COULDNT_RESOLVE_HOST:
                snprintf(buf, n, "cannot resolve host: %s", detail);
                break;
        default:
                snprintf(buf, n, "request failed: %s", detail);
                break;
        }
}

/* Allocation for `used` bytes: powers of two from 4 KiB, never more than the
 * cap allows.  It depends only on `used`, so the buffer needs no extra field;
 * curl_buffer_reset() frees the data to keep that true. */
static size_t buffer_alloc_size(size_t used, size_t cap) {
        size_t a = 4096, limit = cap == SIZE_MAX ? SIZE_MAX : cap + 1;

        while (a < used && a <= SIZE_MAX / 2)
                a *= 2;
        if (a < used)
                a = used;
        return a < limit ? a : limit;
}

static size_t buffer_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        CurlBuffer *b = userdata;
        size_t n = size * nmemb, want;

        if (n > b->cap - b->size) {
                b->overflow = true;
                return 0;
        }

        want = buffer_alloc_size(b->size + n + 1, b->cap);
        if (!b->data || want > buffer_alloc_size(b->size + 1, b->cap)) {
                char *p = realloc(b->data, want);
                if (!p)
                        return 0;
                b->data = p;
        }

        memcpy(b->data + b->size, ptr, n);
        b->size += n;
        b->data[b->size] = '\0';
        return n;
}

void curl_buffer_reset(CurlBuffer *b) {
        if (!b)
                return;
        free(b->data);
        b->data = NULL;
        b->size = 0;
        b->overflow = false;
}

void curl_buffer_done(CurlBuffer *b) {
        if (!b)
                return;
        curl_buffer_reset(b);
        b->cap = 0;
}

void curl_buffer_attach(CurlBuffer *b, CURL *easy, size_t cap) {
        curl_off_t max = cap > (size_t) INT64_MAX ? (curl_off_t) INT64_MAX : (curl_off_t) cap;

        curl_buffer_reset(b);
        b->cap = cap;
        (void) curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, buffer_write);
        (void) curl_easy_setopt(easy, CURLOPT_WRITEDATA, b);
        /* A cap of 0 means "no limit" to curl; the write callback still refuses. */
        (void) curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, max);
}

int curl_glue_global_init(void) {
#if HAVE_LIBSSH2
        /* NB: perfwatchd only speaks HTTP(S), so libcurl's libssh2 never runs,
         * yet curl_global_init() would have libssh2 initialise OpenSSL: 1.5 MiB
         * of resident memory for nothing.  libssh2 initialises its crypto only
         * on its first init, so claiming that first init without crypto here
         * keeps OpenSSL asleep. */
        (void) libssh2_init(LIBSSH2_INIT_NO_CRYPTO);
#endif
        return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void curl_glue_global_cleanup(void) {
        curl_global_cleanup();
#if HAVE_LIBSSH2
        libssh2_exit();
#endif
}
