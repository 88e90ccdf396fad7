/* The evaluation worker: one thread, one read-only store connection, a
 * one-slot request queue and a one-slot result, guarded by one mutex; an
 * eventfd wakes the loop when a result is ready. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "criteria/evaluator.h"
#include "util/log.h"
#include "util/util.h"

/* The criteria of one request, deep-copied so a reload may free the config. */
typedef struct Job {
        CriterionConfig *list;
        size_t n;
} Job;

struct Evaluator {
        Store *store;                /* the worker's */
        uint64_t limit_usec;
        EvaluatorDoneFn done;
        void *userdata;
        int fd;                      /* eventfd: results ready */
        sd_event_source *source;
        pthread_t thread;
        bool started;

        pthread_mutex_t lock;        /* guards everything below */
        pthread_cond_t cond;
        Job *pending;
        bool running, quit;
        CriteriaReport *result;
};

static Job *job_free(Job *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < j->n; i++) {
                free(j->list[i].name);
                free(j->list[i].series);
                free(j->list[i].unit);
                free(j->list[i].scenario);
        }
        free(j->list);
        free(j);
        return NULL;
}

static Job *job_copy(const CriterionConfig *list, size_t n) {
        Job *j = calloc(1, sizeof *j);

        if (!j || !(j->list = calloc(n + 1, sizeof *j->list)))
                return job_free(j);
        for (size_t i = 0; i < n; i++) {
                CriterionConfig *c = &j->list[i];

                *c = list[i];
                c->name = c->series = c->unit = c->scenario = NULL;
                j->n++;
                if (!(c->name = strdup(list[i].name)) ||
                    (list[i].series && !(c->series = strdup(list[i].series))) ||
                    (list[i].unit && !(c->unit = strdup(list[i].unit))) ||
                    (list[i].scenario && !(c->scenario = strdup(list[i].scenario))))
                        return job_free(j);
        }
        return j;
}

static void run_job(Evaluator *e, Job *job) {
        CriteriaReport *rep = NULL;
        uint64_t one = 1;
        int r;

        r = criteria_evaluate(job->list, job->n, e->store, now_realtime_usec(), e->limit_usec, &rep);
        if (r < 0)
                log_error("cannot evaluate criteria: %s", strerror(-r));
        else
                log_debug("criteria evaluated in %llu us", (unsigned long long) rep->duration_usec);

        pthread_mutex_lock(&e->lock);
        e->running = false;
        if (rep) {
                criteria_report_free(e->result);
                e->result = rep;
        }
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->lock);
        if (rep && write(e->fd, &one, sizeof one) < 0 && errno != EAGAIN)
                log_error("evaluator: cannot wake the loop: %m");
}

static void *worker(void *userdata) {
        Evaluator *e = userdata;

        pthread_mutex_lock(&e->lock);
        for (;;) {
                Job *job;

                while (!e->pending && !e->quit)
                        pthread_cond_wait(&e->cond, &e->lock);
                if (e->quit)
                        break;
                job = e->pending;
                e->pending = NULL;
                e->running = true;
                pthread_mutex_unlock(&e->lock);

                run_job(e, job);
                job_free(job);
                pthread_mutex_lock(&e->lock);
        }
        pthread_mutex_unlock(&e->lock);
        return NULL;
}

static CriteriaReport *take_result(Evaluator *e) {
        CriteriaReport *rep;

        pthread_mutex_lock(&e->lock);
        rep = e->result;
        e->result = NULL;
        pthread_mutex_unlock(&e->lock);
        return rep;
}

static int on_result(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Evaluator *e = userdata;
        CriteriaReport *rep;
        uint64_t n;

        if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
                log_error("evaluator: cannot read its eventfd: %m");
        rep = take_result(e);
        if (rep)
                e->done(rep, e->userdata);
        return 0;
}

static int evaluator_start(Evaluator *e, sd_event *event, char **ret_error) {
        int r;

        e->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (e->fd < 0)
                return set_error(ret_error, -errno, "evaluator: cannot create an eventfd: %s", strerror(errno));
        r = sd_event_add_io(event, &e->source, e->fd, EPOLLIN, on_result, e);
        if (r < 0)
                return set_error(ret_error, r, "evaluator: cannot watch its eventfd: %s", strerror(-r));
        (void) sd_event_source_set_description(e->source, "criteria-results");
        r = -pthread_create(&e->thread, NULL, worker, e);
        if (r < 0)
                return set_error(ret_error, r, "evaluator: cannot start its thread: %s", strerror(-r));
        e->started = true;
        return 0;
}

int evaluator_new(sd_event *event, const char *path, uint64_t limit_usec, EvaluatorDoneFn done,
                  void *userdata, Evaluator **ret, char **ret_error) {
        Evaluator *e;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!event || !path || !done || !ret)
                return -EINVAL;
        e = calloc(1, sizeof *e);
        if (!e)
                return set_error(ret_error, -ENOMEM, "evaluator: out of memory");
        *e = (Evaluator) { .limit_usec = limit_usec, .done = done, .userdata = userdata, .fd = -1 };
        pthread_mutex_init(&e->lock, NULL);
        pthread_cond_init(&e->cond, NULL);

        r = store_open_readonly(path, &e->store, ret_error);
        if (r >= 0)
                r = evaluator_start(e, event, ret_error);
        if (r < 0) {
                evaluator_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

int evaluator_request(Evaluator *e, const CriterionConfig *list, size_t n) {
        Job *job;

        if (!e)
                return -EINVAL;
        job = job_copy(list, n);
        if (!job)
                return -ENOMEM;
        pthread_mutex_lock(&e->lock);
        job_free(e->pending);
        e->pending = job;
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->lock);
        return 0;
}

void evaluator_wait(Evaluator *e, CriteriaReport **ret) {
        pthread_mutex_lock(&e->lock);
        while (e->pending || e->running)
                pthread_cond_wait(&e->cond, &e->lock);
        *ret = e->result;
        e->result = NULL;
        pthread_mutex_unlock(&e->lock);
}

Evaluator *evaluator_free(Evaluator *e) {
        if (!e)
                return NULL;
        if (e->started) {
                pthread_mutex_lock(&e->lock);
                e->quit = true;
                pthread_cond_broadcast(&e->cond);
                pthread_mutex_unlock(&e->lock);
                /* The deadline cuts a long read short: no waiting for it at exit. */
                store_interrupt(e->store);
                pthread_join(e->thread, NULL);
        }
        sd_event_source_disable_unref(e->source);
        if (e->fd >= 0)
                close(e->fd);
        job_free(e->pending);
        criteria_report_free(e->result);
        store_free(e->store);
        pthread_cond_destroy(&e->cond);
        pthread_mutex_destroy(&e->lock);
        free(e);
        return NULL;
}
