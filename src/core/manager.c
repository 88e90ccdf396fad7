#include "config/config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "api/api.h"
#include "criteria/criteria.h"
#include "transport/curl-glue.h"
#include "util/log.h"
#include "core/manager.h"
#include "probes/probe-capacity.h"
#include "probes/probe-gomem.h"
#include "probes/probe-pg.h"
#include "probes/poller.h"
#include "probes/probe-pprof.h"
#include "probes/source.h"
#include "store/store.h"
#include "util/units.h"

/* Retention deletes in small steps so a large backlog never holds the loop
 * (or the database's write lock) for long. */
#define RETENTION_STEP_ROWS 2000
#define RETENTION_PERIOD_USEC (1 * USEC_PER_MIN)
#define RETENTION_BACKLOG_USEC (50 * USEC_PER_MSEC)
#define API_READERS 2

/* Every kind of poller: each row builds the pollers its config sections
 * ask for.  A new kind is one file with its PollerKind and one row here. */
static const PollerKind *const poller_kinds[] = {
        &gomem_poller_kind,
        &pprof_poller_kind,
        &pg_poller_kind,
        &capacity_poller_kind,
};

/* Every poller of one configuration and the set of their sources: built
 * whole, swapped whole on reload. */
typedef struct Probes {
        SourceSet *sources;
        PollerList *pollers;
} Probes;

struct Manager {
        sd_event *event;
        Config *config;
        Store *store;
        StorePool *pool;
        CurlGlue *glue;
        Probes probes;
        Api *api;
        sd_event_source *flush_timer;
        sd_event_source *evaluate_timer;
        sd_event_source *retention_timer;
        char *status_line;      /* last STATUS= sent, to send only changes */
        bool flush_failing;
};

static int arm_periodic(Manager *m, sd_event_source **s, uint64_t usec, sd_event_time_handler_t cb,
                        const char *description) {
        int r = sd_event_add_time_relative(m->event, s, CLOCK_MONOTONIC, usec, 0, cb, m);
        if (r < 0)
                return log_error_errno(r, "cannot add %s timer: %s", description, strerror(-r));
        (void) sd_event_source_set_description(*s, description);
        return 0;
}

/* Re-arms a timer `usec` after now; used by every periodic handler. */
static int rearm(sd_event_source *s, uint64_t usec) {
        int r = sd_event_source_set_time_relative(s, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void manager_flush(Manager *m) {
        size_t n = store_pending(m->store);
        int r;

        if (n == 0)
                return;
        r = store_flush(m->store);
        if (r < 0 && !m->flush_failing)
                log_error("store %s: cannot write %zu samples (kept for the next try): %s",
                          m->config->daemon.database, n, strerror(-r));
        else if (r >= 0 && m->flush_failing)
                log_info("store %s: writing again", m->config->daemon.database);
        m->flush_failing = r < 0;
}

static int on_flush(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_flush(m);
        return rearm(s, m->config->daemon.flush_interval_usec);
}

static void notify_status(Manager *m, const json_t *status) {
        char line[512];
        size_t off = 0;
        unsigned up, total;
        size_t i;
        json_t *c;

        /* Criteria without a data source yet would only add noise here. */
        json_array_foreach(json_object_get(status, "criteria"), i, c) {
                const char *name = json_string_value(json_object_get(c, "name"));
                const char *state = json_string_value(json_object_get(c, "state"));
                const char *reason = json_string_value(json_object_get(c, "reason"));
                if (reason && strcmp(reason, "no data source yet") == 0)
                        continue;
                off += snprintf(line + off, sizeof line - off, "%s%s %s", off ? ", " : "", name,
                                strcmp(state, "not_met") == 0 ? "NOT met" : state);
                if (off >= sizeof line)
                        break;
        }
        source_set_count(m->probes.sources, &up, &total);
        if (off < sizeof line)
                snprintf(line + off, sizeof line - off, "%s%u/%u sources up", off ? "; " : "", up, total);

        if (m->status_line && strcmp(m->status_line, line) == 0)
                return;
        free(m->status_line);
        m->status_line = strdup(line);
        (void) sd_notifyf(false, "STATUS=%s", line);
}

/* Evaluates every criterion and hands fresh snapshots to the API. */
static int manager_evaluate(Manager *m) {
        json_t *status;
        int r;

        r = criteria_evaluate(m->config, m->store, now_realtime_usec(), &status);
        if (r < 0)
                return log_error_errno(r, "cannot evaluate criteria: %s", strerror(-r));
        notify_status(m, status);
        api_publish_status(m->api, status);
        api_publish_sources(m->api, source_set_to_json(m->probes.sources));
        return 0;
}

static int on_evaluate(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) manager_evaluate(m);
        return rearm(s, m->config->daemon.evaluate_interval_usec);
}

static int on_retention(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now = now_realtime_usec(), keep = m->config->daemon.retention_usec;
        unsigned deleted = 0;
        int r = 0;

        /* NB: a retention longer than the clock's age has nothing to delete
         * (and now - keep would wrap to a cutoff in the far future). */
        if (keep < now)
                r = store_retention_step(m->store, (int64_t) ((now - keep) / USEC_PER_MSEC),
                                         RETENTION_STEP_ROWS, &deleted);
        if (r < 0)
                log_warning("store %s: retention step failed: %s", m->config->daemon.database,
                            strerror(-r));
        else if (deleted > 0)
                log_debug("retention: deleted %u samples", deleted);
        return rearm(s, deleted == RETENTION_STEP_ROWS ? RETENTION_BACKLOG_USEC : RETENTION_PERIOD_USEC);
}

static void probes_free(Probes *p) {
        /* The pollers first: they report to the sources. */
        poller_list_free(p->pollers);
        source_set_free(p->sources);
        *p = (Probes) {};
}

/* Builds the sources and pollers `c` asks for into *ret; on failure frees
 * what it built and leaves *ret empty.  `c` must outlive them. */
static int probes_start(Manager *m, const Config *c, Probes *ret) {
        Probes p = {};
        PollerContext ctx;
        int r;

        r = source_set_new(m->store, &p.sources);
        if (r >= 0)
                r = poller_list_new(&p.pollers);
        if (r < 0) {
                probes_free(&p);
                return log_error_errno(r, "cannot create the poller list: %s", strerror(-r));
        }
        ctx = (PollerContext) { .event = m->event, .glue = m->glue, .store = m->store, .sources = p.sources,
                                .config = c };
        for (size_t i = 0; i < ELEMENTSOF(poller_kinds); i++) {
                r = poller_kinds[i]->build(&ctx, p.pollers);
                if (r < 0) {
                        probes_free(&p);
                        return r;
                }
        }
        *ret = p;
        return 0;
}

/* The database and the listening socket are opened once; a reload that
 * changes them keeps the running ones and says a restart is needed. */
static void keep_startup_settings(Manager *m, Config *next) {
        DaemonConfig *old = &m->config->daemon, *new = &next->daemon;

        if (strcmp(old->database, new->database) != 0) {
                log_warning("%s: [daemon] database: change takes effect on restart", next->path);
                free(new->database);
                new->database = strdup(old->database);
        }
        if (strcmp(old->listen, new->listen) != 0)
                log_warning("%s: [daemon] listen: change takes effect on restart", next->path);
}

static void log_config_errors(const char *errors) {
        const char *p = errors;

        while (p && *p) {
                const char *nl = strchr(p, '\n');
                int len = nl ? (int) (nl - p) : (int) strlen(p);
                log_error("%.*s", len, p);
                p = nl ? nl + 1 : NULL;
        }
}

/* Ends a reload, applied or not: READY=1 again and fresh snapshots. */
static int reload_done(Manager *m) {
        free(m->status_line);
        m->status_line = NULL;
        (void) sd_notify(false, "READY=1");
        return manager_evaluate(m);
}

static int manager_reload(Manager *m) {
        Probes fresh = {};
        Config *next = NULL;
        char *errors = NULL;
        int r;

        (void) sd_notify(false, "RELOADING=1\nSTATUS=reloading configuration");
        r = config_load(m->config->path, &next, &errors);
        if (r < 0) {
                log_config_errors(errors);
                log_error("%s: reload failed, keeping the running configuration", m->config->path);
                free(errors);
                config_free(next);
                return reload_done(m);
        }

        keep_startup_settings(m, next);
        /* The new pollers are built before the old ones stop, so a failure
         * here leaves the running configuration untouched. */
        r = probes_start(m, next, &fresh);
        if (r < 0) {
                log_error("%s: reload failed, keeping the running configuration", next->path);
                config_free(next);
                return reload_done(m);
        }
        manager_flush(m);
        probes_free(&m->probes);
        m->probes = fresh;
        config_free(m->config);
        m->config = next;
        log_set_max_level(next->daemon.log_level);
        log_info("%s: configuration reloaded (%zu targets, %zu postgres, %zu capacity, %zu criteria)",
                 next->path, next->n_targets, next->n_postgres, next->n_capacity, next->n_criteria);
        return reload_done(m);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata);
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("received %s, stopping", strsignal((int) si->ssi_signo));
        return sd_event_exit(m->event, 0);
}

static int add_signals(Manager *m) {
        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&mask, sigs[i]);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "cannot block signals: %m");
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "cannot watch signals: %s", strerror(-r));
        return 0;
}

/* A socket passed by systemd (perfwatchd.socket) wins over `listen`. */
static int listen_fd(void) {
        int n = sd_listen_fds(true);

        if (n < 0)
                return log_error_errno(n, "cannot read passed sockets: %s", strerror(-n));
        if (n > 1)
                return log_error_errno(EINVAL, "%d sockets passed, expected one", n);
        return n == 1 ? SD_LISTEN_FDS_START : -1;
}

static int open_store_and_api(Manager *m) {
        const DaemonConfig *d = &m->config->daemon;
        char *error = NULL;
        int r, fd;

        r = store_open(d->database, &m->store, &error);
        if (r >= 0)
                r = store_pool_new(d->database, API_READERS, &m->pool, &error);
        if (r < 0)
                goto fail;
        fd = listen_fd();
        if (fd < -1)
                return fd;
        r = api_new(d->listen, fd, m->pool, &m->api, &error);
        if (r < 0)
                goto fail;
        return 0;
fail:
        log_error("%s", error ? error : strerror(-r));
        free(error);
        return r;
}

static int start_api(Manager *m) {
        char *error = NULL;
        int r = api_start(m->api, &error);

        if (r < 0) {
                log_error("%s", error ? error : strerror(-r));
                free(error);
                return r;
        }
        log_info("store %s open (schema %d); API on %s", m->config->daemon.database,
                 store_schema_version(m->store), m->config->daemon.listen);
        return 0;
}

int manager_new(Config *config, Manager **ret) {
        Manager *m;
        int r;

        m = calloc(1, sizeof *m);
        if (!m) {
                config_free(config);
                return log_error_errno(ENOMEM, "out of memory");
        }
        m->config = config;
        log_set_max_level(config->daemon.log_level);

        r = sd_event_default(&m->event);
        if (r < 0) {
                log_error("cannot create event loop: %s", strerror(-r));
                goto fail;
        }
        (void) sd_event_set_watchdog(m->event, true);
        r = add_signals(m);
        if (r >= 0)
                r = curl_glue_new(m->event, &m->glue);
        if (r >= 0)
                r = open_store_and_api(m);
        if (r >= 0)
                r = probes_start(m, m->config, &m->probes);
        if (r >= 0)
                r = arm_periodic(m, &m->flush_timer, config->daemon.flush_interval_usec, on_flush, "flush");
        if (r >= 0)
                r = arm_periodic(m, &m->evaluate_timer, 0, on_evaluate, "evaluate");
        if (r >= 0)
                r = arm_periodic(m, &m->retention_timer, USEC_PER_SEC, on_retention, "retention");
        /* The first snapshots exist before the first request is answered. */
        if (r >= 0)
                r = manager_evaluate(m);
        if (r >= 0)
                r = start_api(m);
        if (r < 0)
                goto fail;
        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

int manager_run(Manager *m) {
        int r;

        (void) sd_notify(false, "READY=1");
        log_info("running: %zu targets, %zu postgres, %zu capacity, %zu criteria", m->config->n_targets,
                 m->config->n_postgres, m->config->n_capacity, m->config->n_criteria);

        r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=stopping");
        manager_flush(m);
        if (r < 0)
                return log_error_errno(r, "event loop failed: %s", strerror(-r));
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->flush_timer);
        sd_event_source_disable_unref(m->evaluate_timer);
        sd_event_source_disable_unref(m->retention_timer);
        api_free(m->api);
        probes_free(&m->probes);
        curl_glue_free(m->glue);
        store_pool_free(m->pool);
        store_free(m->store);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m->status_line);
        free(m);
        return NULL;
}
