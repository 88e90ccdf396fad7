/* The routes that act (POST /v1/scenarios/NAME/run, POST
 * /v1/runs/ID/cancel, POST /v1/suites/NAME/run): the bearer token is checked on libmicrohttpd's
 * thread, then the request is suspended and queued for the daemon's loop
 * thread, which alone may start or cancel a run: api_control_dispatch()
 * makes the ApiControl call there and resumes the connection with the
 * answer.  The queue is short and bounded: beyond it, 503 and Retry-After. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api-internal.h"
#include "util/log.h"

#define CTL_QUEUE           16U
#define CTL_RETRY_AFTER_SEC 1U

typedef struct CtlJob {
        Request *r;
        char *scenario;              /* start: the scenario's (or suite's) name; NULL: cancel */
        int64_t id;                  /* cancel: the run */
        bool suite;                  /* start: of the suite `scenario` */
} CtlJob;

struct ApiCtl {
        pthread_mutex_t lock;        /* guards everything but fd */
        ApiControl control;
        bool has_control;
        ApiToken token;
        CtlJob queue[CTL_QUEUE];     /* a ring */
        unsigned head, n_queued;
        bool stopping;
        int fd;                      /* eventfd: readable while jobs wait */
};

int api_ctl_new(ApiCtl **ret) {
        ApiCtl *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->fd < 0) {
                int k = -errno;

                free(c);
                return k;
        }
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

/* Resumes a job's connection with the answer its request now holds. */
static void job_finish(CtlJob *job) {
        free(job->scenario);
        job->r->done = true;
        MHD_resume_connection(job->r->conn);
}

void api_ctl_stop(ApiCtl *c) {
        CtlJob jobs[CTL_QUEUE];
        unsigned n;

        if (!c)
                return;
        pthread_mutex_lock(&c->lock);
        c->stopping = true;
        n = c->n_queued;
        for (unsigned i = 0; i < n; i++)
                jobs[i] = c->queue[(c->head + i) % CTL_QUEUE];
        c->n_queued = 0;
        pthread_mutex_unlock(&c->lock);
        for (unsigned i = 0; i < n; i++) {
                api_reply_error(jobs[i].r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down",
                                "perfwatchd is stopping");
                job_finish(&jobs[i]);
        }
}

ApiCtl *api_ctl_free(ApiCtl *c) {
        if (!c)
                return NULL;
        api_ctl_stop(c);
        close(c->fd);
        explicit_bzero(&c->token, sizeof c->token);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

/* ------------------------------------------------------------- api.h */

void api_set_control(Api *a, const ApiControl *control) {
        ApiCtl *c = api_ctl(a);

        pthread_mutex_lock(&c->lock);
        c->has_control = control != NULL;
        if (control)
                c->control = *control;
        pthread_mutex_unlock(&c->lock);
}

int api_control_fd(const Api *a) {
        return api_ctl((Api *) a)->fd;
}

int api_set_token(Api *a, const char *token) {
        ApiCtl *c = api_ctl(a);

        if (token && (!*token || strlen(token) > API_TOKEN_MAX))
                return -EINVAL;
        pthread_mutex_lock(&c->lock);
        api_token_set(&c->token, token);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

/* ----------------------------------------------------------- answers */

static void reply_json(Request *r, unsigned code, json_t *j) {
        r->text = false;
        api_reply_render(r, code, j, NULL);
        json_decref(j);
}

static void set_location(Request *r, int64_t id) {
        free(r->location);
        if (asprintf(&r->location, "/v1/runs/%" PRId64, id) < 0)
                r->location = NULL;
}

static void answer_suite(CtlJob *job, const ApiControl *ctl) {
        Request *r = job->r;
        char *error = NULL, *url = NULL;
        int64_t active;
        int k;

        k = ctl->suite_start ? ctl->suite_start(job->scenario, &error, ctl->userdata) : -EOPNOTSUPP;
        if (asprintf(&url, "/v1/suites/%s", job->scenario) < 0)
                url = NULL;
        if (k >= 0 && url) {
                free(r->location);
                r->location = strdup(url);
                reply_json(r, MHD_HTTP_ACCEPTED, json_pack("{s:s,s:s,s:s}", "suite", job->scenario, "state", "running",
                                                           "url", url));
        } else if (k >= 0)
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out_of_memory", "out of memory");
        else if (k == -EBUSY) {
                active = api_runs_active_id(api_runs(r->api));
                if (active >= 0)
                        api_reply_error(r, MHD_HTTP_CONFLICT, "run_active",
                                        "a run is active (one at a time): run %" PRId64, active);
                else
                        api_reply_error(r, MHD_HTTP_CONFLICT, "suite_active", "a suite is active (one at a time)");
        } else if (k == -ENOENT)
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "suite \"%s\" is not configured", job->scenario);
        else
                api_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "suite_failed", "suite \"%s\" could not start: %s",
                                job->scenario, error ? error : strerror(-k));
        free(error);
        free(url);
}

static void answer_start(CtlJob *job, const ApiControl *ctl) {
        Request *r = job->r;
        char *error = NULL, url[48];
        int64_t id = -1;
        int k;

        if (job->suite) {
                answer_suite(job, ctl);
                return;
        }
        k = ctl->run_start(job->scenario, &id, &error, ctl->userdata);
        snprintf(url, sizeof url, "/v1/runs/%" PRId64, id);
        if (k == -EBUSY && id < 0) {
                api_reply_error(r, MHD_HTTP_CONFLICT, "suite_active",
                                "a suite is active: its runs come one at a time, and no other starts before it ends");
                free(error);
                return;
        }
        if (k >= 0) {
                set_location(r, id);
                reply_json(r, MHD_HTTP_ACCEPTED,
                           json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t) id, "scenario", job->scenario,
                                     "state", "running", "url", url));
        } else if (k == -EBUSY)
                reply_json(r, MHD_HTTP_CONFLICT,
                           json_pack("{s:{s:s,s:s+,s:I,s:s}}", "error", "code", "run_active",
                                     "message", "a run is active (one at a time): run ", url + 9,
                                     "active_run", (json_int_t) id, "location", url));
        else if (k == -ENOENT)
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "scenario \"%s\" is not configured",
                                job->scenario);
        else
                api_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "run_failed",
                                "scenario \"%s\" could not start: %s", job->scenario,
                                error ? error : strerror(-k));
        free(error);
}

static void answer_cancel(CtlJob *job, const ApiControl *ctl) {
        Request *r = job->r;
        int64_t active;
        char url[48];
        int k;

        k = ctl->run_cancel(job->id, ctl->userdata);
        snprintf(url, sizeof url, "/v1/runs/%" PRId64, job->id);
        if (k >= 0) {
                reply_json(r, MHD_HTTP_ACCEPTED,
                           json_pack("{s:I,s:s,s:s}", "id", (json_int_t) job->id, "state", "cancelling",
                                     "url", url));
                return;
        }
        active = api_runs_active_id(api_runs(r->api));
        if (active >= 0)
                api_reply_error(r, MHD_HTTP_CONFLICT, "not_active",
                                "run %" PRId64 " is not the active run (run %" PRId64 " is)", job->id, active);
        else
                api_reply_error(r, MHD_HTTP_CONFLICT, "not_active",
                                "run %" PRId64 " is not active (no run is)", job->id);
}

void api_control_dispatch(Api *a) {
        ApiCtl *c = api_ctl(a);
        CtlJob jobs[CTL_QUEUE];
        ApiControl ctl;
        bool has_control;
        uint64_t v;
        unsigned n;

        (void) !read(c->fd, &v, sizeof v);
        pthread_mutex_lock(&c->lock);
        n = c->n_queued;
        for (unsigned i = 0; i < n; i++)
                jobs[i] = c->queue[(c->head + i) % CTL_QUEUE];
        c->n_queued = 0;
        ctl = c->control;
        has_control = c->has_control;
        pthread_mutex_unlock(&c->lock);
        for (unsigned i = 0; i < n; i++) {
                if (!has_control)
                        api_reply_error(jobs[i].r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                        "runs cannot be started or cancelled: the run control was detached");
                else if (jobs[i].scenario)
                        answer_start(&jobs[i], &ctl);
                else
                        answer_cancel(&jobs[i], &ctl);
                job_finish(&jobs[i]);
        }
}

/* ------------------------------------------------------------ routes */

/* Whether r carries the token; else answers 403 (none configured) or 401. */
static bool authorized(Request *r, ApiCtl *c) {
        const char *token = api_token_from_header(api_header(r, MHD_HTTP_HEADER_AUTHORIZATION));
        bool set, ok;

        pthread_mutex_lock(&c->lock);
        set = c->token.set;
        ok = token && api_token_equal(&c->token, token);
        pthread_mutex_unlock(&c->lock);
        if (!set)
                api_reply_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
                                "POST routes are off: set api_token_file in [daemon]");
        else if (!token) {
                r->bearer_challenge = true;
                api_reply_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                                "send Authorization: Bearer TOKEN, the content of api_token_file");
        } else if (!ok) {
                r->bearer_challenge = true;
                api_reply_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                                "the bearer token is not the one in api_token_file");
        }
        return set && ok;
}

/* Queues `job` (its scenario is taken): true, or false after answering. */
static bool enqueue(Request *r, CtlJob job) {
        ApiCtl *c = api_ctl(r->api);
        uint64_t one = 1;
        bool queued = false;

        pthread_mutex_lock(&c->lock);
        if (c->stopping)
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down", "perfwatchd is stopping");
        else if (!c->has_control)
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                "runs cannot be started or cancelled: the daemon's runner is not attached");
        else if (c->n_queued == CTL_QUEUE) {
                r->retry_after = CTL_RETRY_AFTER_SEC;
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
                                "%u run requests are already waiting; retry shortly", CTL_QUEUE);
        } else {
                /* Suspended before the loop can see it, so that the loop
                 * never resumes a connection that is not suspended yet. */
                MHD_suspend_connection(r->conn);
                c->queue[(c->head + c->n_queued) % CTL_QUEUE] = job;
                c->n_queued++;
                queued = true;
                if (write(c->fd, &one, sizeof one) < 0 && errno != EAGAIN)
                        log_warning("API: cannot wake the loop for a run request: %m");
        }
        pthread_mutex_unlock(&c->lock);
        if (!queued)
                free(job.scenario);
        return queued;
}

/* POST /v1/KIND/NAME/run (a scenario, or a suite when `suite`): the name
 * to the loop's queue.  `help` says what the path should be. */
static bool act_named_run(Request *r, const char *kind, const char *help, bool suite) {
        size_t n = strcspn(r->arg, "/");
        char *name;

        if (n == 0 || strcmp(r->arg + n, "/run") != 0) {
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such path: /v1/%s/%s (%s)", kind, r->arg,
                                help);
                return false;
        }
        if (!authorized(r, api_ctl(r->api)))
                return false;
        name = strndup(r->arg, n);
        if (!name) {
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out_of_memory", "out of memory");
                return false;
        }
        return enqueue(r, (CtlJob) { .r = r, .scenario = name, .suite = suite });
}

bool api_act_scenario(Request *r) {
        return act_named_run(r, "scenarios", "POST /v1/scenarios/NAME/run starts a run", false);
}

bool api_act_suite(Request *r) {
        return act_named_run(r, "suites", "POST /v1/suites/NAME/run starts a suite", true);
}

bool api_act_run(Request *r) {
        size_t n = strcspn(r->arg, "/");
        const char *rest = r->arg + n;

        if (*rest == '\0' && n > 0) {
                r->allow = "GET, HEAD";
                api_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                "POST /v1/runs/%s: only GET and HEAD are allowed (POST "
                                "/v1/runs/ID/cancel cancels a run)", r->arg);
                return false;
        }
        if (n == 0 || strcmp(rest, "/cancel") != 0) {
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such path: /v1/runs/%s", r->arg);
                return false;
        }
        if (strspn(r->arg, "0123456789") != n) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "run id: \"%.*s\" is not a number",
                                (int) n, r->arg);
                return false;
        }
        if (!authorized(r, api_ctl(r->api)))
                return false;
        /* Past 18 digits a number may not fit an int64_t: no run is active
         * with such an id. */
        if (n > 18) {
                api_reply_error(r, MHD_HTTP_CONFLICT, "not_active", "run %.*s is not active", (int) n, r->arg);
                return false;
        }
        return enqueue(r, (CtlJob) { .r = r, .id = (int64_t) strtoll(r->arg, NULL, 10) });
}
