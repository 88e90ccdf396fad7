#include "config/config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "api/api.h"
#include "criteria/criteria.h"
#include "criteria/evaluator.h"
#include "transport/curl-glue.h"
#include "util/log.h"
#include "core/manager.h"
#include "core/runner.h"
#include "core/suites.h"
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
/* At SIGTERM or SIGINT the pending samples are written, retrying this long
 * (well inside the unit's TimeoutStopSec=30s) while the disk is full. */
#define EXIT_FLUSH_USEC (10 * USEC_PER_SEC)
#define EXIT_FLUSH_RETRY_USEC (250 * USEC_PER_MSEC)
/* How long STATUS= keeps saying that a run's object (its profiles, its
 * acu_window) could not be recorded, as the runner does for its failures. */
#define EXTRA_FAILURE_SHOWN_USEC (10 * USEC_PER_MIN)

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
        Evaluator *evaluator;
        Runner *runner;
        Suites *suites;
        sd_event_source *control_source;
        int64_t active_run;     /* the run last published as active, -1: none */
        bool exiting;           /* the loop is over: no evaluation is asked for */
        sd_event_source *flush_timer;
        sd_event_source *evaluate_timer;
        sd_event_source *retention_timer;
        sd_event_source *inbox_source;
        char *status_line;      /* last STATUS= sent, to send only changes */
        char *criteria_line;    /* its criteria part, sent again when the store's changes */
        char store_reason[400]; /* why the store is failing; "" while it writes */
        bool flush_failing;
        /* The acu_window last hung on a run (hang_acu_window()). */
        int64_t acu_hung_run;
        char *acu_hung;
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

/* "store PATH: N refused writes of run objects, the last: run 12 profiles:
 * REASON; " for EXTRA_FAILURE_SHOWN_USEC after a store_run_set_extra()
 * failed, else "". */
static void extras_status(Manager *m, char *buf, size_t size) {
        int64_t now_ms = (int64_t) (now_realtime_usec() / USEC_PER_MSEC);
        StoreHealth h;

        buf[0] = '\0';
        store_health(m->store, &h);
        if (h.extras_failed > 0 && now_ms - h.extra_failed_ms < (int64_t) (EXTRA_FAILURE_SHOWN_USEC / USEC_PER_MSEC))
                snprintf(buf, size, "store %s: %" PRIu64 " refused writes of run objects, the last: %s; ",
                         m->config->daemon.database, h.extras_failed, h.extra_error);
}

/* Sends STATUS= when it changed: the store's trouble first, then the
 * criteria's `line` (NULL: the last one again). */
static void send_status(Manager *m, const char *line) {
        char extras[600], *full;

        if (line) {
                free(m->criteria_line);
                m->criteria_line = strdup(line);
        }
        const char *runs = m->runner ? runner_status(m->runner) : "";
        const char *suites = m->suites ? suites_status(m->suites) : "";

        extras_status(m, extras, sizeof extras);
        full = strjoin(m->store_reason[0] ? "store " : "", m->store_reason[0] ? m->config->daemon.database : "",
                       m->store_reason[0] ? " failing: " : "", m->store_reason, m->store_reason[0] ? "; " : "",
                       extras, suites, suites[0] ? "; " : "", runs, runs[0] ? "; " : "", m->criteria_line ?: "",
                       NULL);
        if (!full || (m->status_line && strcmp(m->status_line, full) == 0)) {
                free(full);
                return;
        }
        free(m->status_line);
        m->status_line = full;
        (void) sd_notifyf(false, "STATUS=%s", full);
}

/* Writes the queue; logs when the store starts or stops failing and hands
 * its health to the API and STATUS=.  Returns store_flush()'s answer. */
static int manager_flush(Manager *m) {
        const char *db = m->config->daemon.database;
        size_t pending = store_pending(m->store);
        StoreHealth h;
        int r;

        r = store_flush(m->store);
        store_health(m->store, &h);
        if (r < 0)
                store_health_reason(&h, m->store_reason, sizeof m->store_reason);
        else
                m->store_reason[0] = '\0';
        /* -ESTALE is on_flush's to log: nothing is kept for a next try. */
        if (r < 0 && r != -ESTALE && !m->flush_failing)
                log_error("store %s: %s (kept for the next try)", db, m->store_reason);
        else if (r >= 0 && m->flush_failing)
                log_info("store %s: writing again (%zu samples written)", db, pending);
        m->flush_failing = r < 0;
        /* NB: also when the flush's state stays: a run's object that could
         * not be recorded since (or the end of its time shown) changes the
         * line, which goes out only when it changed. */
        send_status(m, NULL);
        api_publish_store(m->api, db, &h);
        return r;
}

static int on_flush(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        /* NB: SQLite would go on writing into the unlinked file, or beside
         * a replacement's -wal; stopping lets systemd's restart open the
         * path afresh (a new database, or the replacement if it is ours). */
        if (manager_flush(m) == -ESTALE) {
                log_error("store %s: %s; stopping", m->config->daemon.database, m->store_reason);
                return sd_event_exit(m->event, -ESTALE);
        }
        return rearm(s, m->config->daemon.flush_interval_usec);
}

/* Samples from other threads (store_submit) join the queue at once, so the
 * next flush writes them and the health counts them. */
static int on_inbox(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        int r = store_inbox_drain(m->store, NULL);

        if (r < 0)
                log_warning("store %s: cannot queue submitted samples: %s", m->config->daemon.database,
                            strerror(-r));
        return 0;
}

static int watch_inbox(Manager *m) {
        int r = sd_event_add_io(m->event, &m->inbox_source, store_inbox_fd(m->store), EPOLLIN, on_inbox, m);

        if (r < 0)
                return log_error_errno(r, "cannot watch the store's inbox: %s", strerror(-r));
        (void) sd_event_source_set_description(m->inbox_source, "store-inbox");
        return 0;
}

/* At exit, out of the loop (so waiting blocks no one): writes what is
 * pending, retrying for EXIT_FLUSH_USEC; logs what is lost.  0, or the
 * last error when samples were lost or the file was gone. */
static int manager_flush_at_exit(Manager *m) {
        const char *db = m->config->daemon.database;
        uint64_t deadline = now_monotonic_usec() + EXIT_FLUSH_USEC;
        StoreHealth h;
        size_t n;
        int r;

        for (unsigned i = 0;; i++) {
                r = manager_flush(m);
                if (r >= 0 || r == -ESTALE || now_monotonic_usec() >= deadline)
                        break;
                if (i == 0)
                        log_warning("store %s: %zu samples pending; retrying for up to %llu s",
                                    db, store_pending(m->store), EXIT_FLUSH_USEC / USEC_PER_SEC);
                (void) usleep(EXIT_FLUSH_RETRY_USEC);
        }
        n = store_pending(m->store);
        if (r >= 0 || n == 0)
                return r;
        store_health(m->store, &h);
        log_error("store %s: %zu samples lost at exit: %s", db, n, h.last_error);
        return r;
}

static void notify_status(Manager *m, const CriteriaReport *report) {
        char line[512];
        size_t off = 0;
        unsigned up, total;

        for (size_t i = 0; i < report->n_results; i++) {
                const CriterionResult *c = &report->results[i];

                /* Criteria turned off or without a data source yet would
                 * only add noise here. */
                if (c->cause == CRITERION_CAUSE_NO_SOURCE || c->state == CRITERION_STATE_DISABLED)
                        continue;
                off += snprintf(line + off, sizeof line - off, "%s%s %s", off ? ", " : "", c->name,
                                c->state == CRITERION_STATE_NOT_MET ? "NOT met"
                                                                    : criteria_state_to_string(c->state));
                if (off >= sizeof line)
                        break;
        }
        source_set_count(m->probes.sources, &up, &total);
        if (off < sizeof line)
                snprintf(line + off, sizeof line - off, "%s%u/%u sources up", off ? "; " : "", up, total);

        send_status(m, line);
}

/* A finished evaluation, on the loop thread: STATUS= and the API's snapshot. */
/* acu_scaling's judgement of a run's capacity window, once it is final
 * (met or not_met), hangs on that run as its extra "acu_window", so that
 * GET /v1/runs/ID shows it beside the run; written again only when it
 * changes (a reload with other bounds). */
static void hang_acu_window(Manager *m, const CriteriaReport *report) {
        for (size_t i = 0; i < report->n_results; i++) {
                const CriterionResult *c = &report->results[i];
                char *json;
                int r;

                if (!c->has_acu || !c->acu_window || c->run_id <= 0 ||
                    (c->state != CRITERION_STATE_MET && c->state != CRITERION_STATE_NOT_MET))
                        continue;
                json = json_dumps(c->acu_window, JSON_COMPACT | JSON_SORT_KEYS);
                if (!json || (c->run_id == m->acu_hung_run && m->acu_hung && strcmp(json, m->acu_hung) == 0)) {
                        free(json);
                        continue;
                }
                r = store_run_set_extra(m->store, c->run_id, "acu_window", json);
                if (r < 0) {
                        log_warning("cannot hang acu_scaling's window on run %" PRId64 ": %s", c->run_id,
                                    strerror(-r));
                        free(json);
                        continue;
                }
                free(m->acu_hung);
                m->acu_hung = json;
                m->acu_hung_run = c->run_id;
        }
}

static void on_evaluated(CriteriaReport *report, void *userdata) {
        Manager *m = userdata;

        hang_acu_window(m, report);
        notify_status(m, report);
        /* The suites' verdicts are read from this report: before the API
         * takes it. */
        if (m->suites) {
                suites_set_report(m->suites, report);
                api_publish_suites(m->api, suites_json(m->suites));
        }
        api_publish_criteria(m->api, report);
}

/* Asks the evaluator for fresh criteria (it never blocks the loop) and
 * hands a fresh sources snapshot to the API. */
static int manager_evaluate(Manager *m) {
        int r;

        r = evaluator_request(m->evaluator, m->config->criteria, m->config->n_criteria);
        if (r < 0)
                log_error("cannot request a criteria evaluation: %s", strerror(-r));
        api_publish_sources(m->api, source_set_to_json(m->probes.sources));
        return r;
}

/* At startup, before the API answers and before the loop runs: the first
 * evaluation, waited for, so /v1/status never starts empty. */
static int manager_evaluate_first(Manager *m) {
        CriteriaReport *report = NULL;
        int r;

        r = manager_evaluate(m);
        if (r < 0)
                return r;
        evaluator_wait(m->evaluator, &report);
        if (!report)
                return log_error_errno(ENOMEM, "cannot evaluate criteria: %s", strerror(ENOMEM));
        on_evaluated(report, m);
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

/* [daemon] api_token_file into the API, read at start and on each reload:
 * a file that cannot be used stops the start, while a reload keeps the
 * token in force.  Neither message holds the token. */
static int load_api_token(Manager *m, const DaemonConfig *d, bool reload) {
        char *token = NULL, *error = NULL;
        int r;

        if (!d->api_token_file)
                return api_set_token(m->api, NULL);
        r = api_token_read(d->api_token_file, &token, &error);
        if (r >= 0)
                r = api_set_token(m->api, token);
        if (r < 0)
                log_error("%s%s", error ? error : strerror(-r),
                          reload ? "; keeping the previous token" : "");
        if (token)
                explicit_bzero(token, strlen(token));
        free(token);
        free(error);
        return r;
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
        /* NB: a running run goes on untouched: the engine copied its
         * scenario, whatever the new file says about it. */
        r = runner_set_config(m->runner, next);
        if (r >= 0) {
                r = suites_set_config(m->suites, next);
                if (r < 0)
                        (void) runner_set_config(m->runner, m->config);
        }
        if (r < 0) {
                log_error("%s: reload failed, keeping the running configuration: %s", next->path, strerror(-r));
                probes_free(&fresh);
                config_free(next);
                return reload_done(m);
        }
        manager_flush(m);
        probes_free(&m->probes);
        m->probes = fresh;
        config_free(m->config);
        m->config = next;
        (void) load_api_token(m, &next->daemon, true);
        log_set_max_level(next->daemon.log_level);
        log_info("%s: configuration reloaded (%zu targets, %zu postgres, %zu capacity, %zu criteria, %zu scenarios)",
                 next->path, next->n_targets, next->n_postgres, next->n_capacity, next->n_criteria,
                 next->n_scenarios);
        if (next->n_targets + next->n_postgres + next->n_capacity == 0)
                log_warning("%s: configuration has no sources: nothing will be polled", next->path);
        return reload_done(m);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata);
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("received %s, stopping (%zu samples to write)", strsignal((int) si->ssi_signo),
                 store_pending(m->store));
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

/* Any run still `running` when the daemon starts was interrupted (kill -9,
 * a crash): it is marked aborted before a run of ours could begin.  Not
 * fatal: the rows stay `running` and the next start tries again. */
static void abort_interrupted_runs(Manager *m) {
        unsigned n = 0;
        int r;

        r = store_run_abort_interrupted(m->store, &n);
        if (r < 0)
                log_warning("store %s: cannot mark the interrupted runs aborted: %s",
                            m->config->daemon.database, strerror(-r));
        else if (n > 0)
                log_notice("store %s: %u run%s interrupted by the last stop marked aborted",
                           m->config->daemon.database, n, n == 1 ? "" : "s");
}

static int open_store_and_api(Manager *m) {
        const DaemonConfig *d = &m->config->daemon;
        char *error = NULL;
        int r, fd;

        r = store_open(d->database, &m->store, &error);
        if (r >= 0)
                abort_interrupted_runs(m);
        if (r >= 0)
                r = store_pool_new(d->database, API_READERS, &m->pool, &error);
        if (r >= 0)
                r = evaluator_new(m->event, d->database, CRITERIA_TIME_LIMIT_USEC, on_evaluated, m,
                                  &m->evaluator, &error);
        if (r < 0)
                goto fail;
        fd = listen_fd();
        if (fd < -1)
                return fd;
        r = api_new(d->listen, fd, m->pool, &m->api, &error);
        if (r < 0)
                goto fail;
        return load_api_token(m, d, false);
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

/* The runner's figures changed: the API's snapshot and STATUS=; a run
 * that just ended gets the criteria evaluated at once, so that
 * latency_p95 judges it without waiting for the next evaluation. */
static void on_runs_changed(Runner *r, void *userdata) {
        Manager *m = userdata;
        int64_t active = runner_active_id(r);

        api_publish_runs(m->api, runner_scenarios_json(r), runner_active_json(r));
        send_status(m, NULL);
        if (m->active_run >= 0 && active != m->active_run && !m->exiting)
                (void) manager_evaluate(m);
        m->active_run = active;
}

static int control_run_start(const char *scenario, int64_t *ret_id, char **ret_error, void *userdata) {
        Manager *m = userdata;

        /* NB: a suite holds the runner also while one of its runs is
         * active: the answer names the suite, not only that run. */
        if (suites_active(m->suites)) {
                *ret_id = -1;
                return -EBUSY;
        }
        return runner_start(m->runner, scenario, RUN_TRIGGER_API, ret_id, ret_error);
}

static int control_run_cancel(int64_t id, void *userdata) {
        Manager *m = userdata;

        return runner_cancel(m->runner, id);
}

static int control_suite_start(const char *suite, char **ret_error, void *userdata) {
        Manager *m = userdata;

        return suites_start(m->suites, suite, RUN_TRIGGER_API, ret_error);
}

/* A run ended: the active suite goes on or ends. */
static void on_run_ended(Runner *r, int64_t id, const char *scenario, StoreRunState state, void *userdata) {
        Manager *m = userdata;

        (void) r;
        if (m->suites)
                suites_run_ended(m->suites, id, scenario, state);
}

/* The suites changed: the API's list and STATUS=. */
static void on_suites_changed(Suites *s, void *userdata) {
        Manager *m = userdata;

        api_publish_suites(m->api, suites_json(s));
        send_status(m, NULL);
}

static int on_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;

        api_control_dispatch(m->api);
        return 0;
}

/* The scenario runs: their runner, and the API's hand-over to it. */
static int start_runner(Manager *m) {
        ApiControl control = { .run_start = control_run_start, .run_cancel = control_run_cancel,
                               .suite_start = control_suite_start, .userdata = m };
        int r, fd;

        m->active_run = -1;
        r = runner_new(m->event, m->store, on_runs_changed, m, &m->runner);
        if (r >= 0)
                runner_set_glue(m->runner, m->glue);
        if (r >= 0)
                r = runner_set_config(m->runner, m->config);
        if (r >= 0)
                r = suites_new(m->event, m->runner, on_suites_changed, m, &m->suites);
        if (r >= 0) {
                runner_set_ended(m->runner, on_run_ended, m);
                r = suites_set_config(m->suites, m->config);
        }
        if (r < 0)
                return log_error_errno(r, "cannot set up the scenario runs: %s", strerror(-r));
        api_set_control(m->api, &control);
        fd = api_control_fd(m->api);
        if (fd < 0)
                return log_error_errno(fd, "cannot watch the API's run requests: %s", strerror(-fd));
        r = sd_event_add_io(m->event, &m->control_source, fd, EPOLLIN, on_control, m);
        if (r < 0)
                return log_error_errno(r, "cannot watch the API's run requests: %s", strerror(-r));
        (void) sd_event_source_set_description(m->control_source, "api-control");
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
                r = watch_inbox(m);
        if (r >= 0)
                r = start_runner(m);
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
                r = manager_evaluate_first(m);
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
        int r, k;

        (void) sd_notify(false, "READY=1");
        log_info("running: %zu targets, %zu postgres, %zu capacity, %zu criteria", m->config->n_targets,
                 m->config->n_postgres, m->config->n_capacity, m->config->n_criteria);

        r = sd_event_loop(m->event);
        m->exiting = true;
        (void) sd_notify(false, "STOPPING=1\nSTATUS=stopping");
        /* The active run ends aborted, with what it measured, before the
         * last samples (its last seconds among them) are written. */
        runner_stop(m->runner);
        /* After the runner: its active run's end (aborted) ends the suite. */
        suites_stop(m->suites);
        (void) store_inbox_drain(m->store, NULL);
        k = manager_flush_at_exit(m);
        /* -ESTALE: on_flush stopped the loop and said why. */
        if (r < 0 && r != -ESTALE)
                return log_error_errno(r, "event loop failed: %s", strerror(-r));
        return r < 0 ? r : k;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        m->exiting = true;
        /* The suites first: they release the runner they hold. */
        m->suites = suites_free(m->suites);
        m->runner = runner_free(m->runner);
        sd_event_source_disable_unref(m->control_source);
        sd_event_source_disable_unref(m->flush_timer);
        sd_event_source_disable_unref(m->evaluate_timer);
        sd_event_source_disable_unref(m->retention_timer);
        evaluator_free(m->evaluator);
        sd_event_source_disable_unref(m->inbox_source);
        api_free(m->api);
        probes_free(&m->probes);
        curl_glue_free(m->glue);
        store_pool_free(m->pool);
        store_free(m->store);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m->status_line);
        free(m->acu_hung);
        free(m->criteria_line);
        free(m);
        return NULL;
}
