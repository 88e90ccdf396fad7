/* The API's workers: the routes that read the store run here, off
 * libmicrohttpd's threads, so that a slow series or metrics read never
 * delays /healthz or /v1/status.  A request handed over has its connection
 * suspended; a worker answers it and resumes the connection, and
 * libmicrohttpd then sends the answer from its own thread. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <microhttpd.h>

#include "api/api-internal.h"

typedef struct Job {
        Request *request;
        ApiWorkFn fn;
} Job;

struct ApiWork {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        Job *queue;                  /* a ring of queue_max jobs */
        unsigned queue_max, head, n_queued;
        pthread_t *threads;
        unsigned n_threads;
        bool stopping;
};

/* Answers the job and gives the connection back to libmicrohttpd.  NB: the
 * request's fields are written before MHD_resume_connection(), whose mutex
 * makes them visible to the thread that sends the answer. */
static void job_run(const Job *job, bool stopping) {
        Request *r = job->request;

        if (stopping)
                api_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down",
                                "perfwatchd is stopping");
        else
                job->fn(r);
        r->done = true;
        /* A route here may have built a large tree (10000 series make about
         * 10 MB of JSON objects, even for a refusal): hand the freed heap
         * back to the kernel, so that big answers do not leave RSS high. */
        malloc_trim(0);
        MHD_resume_connection(r->conn);
}

static void *work_main(void *u) {
        ApiWork *w = u;
        Job job;
        bool stopping;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (w->n_queued == 0 && !w->stopping)
                        pthread_cond_wait(&w->wake, &w->lock);
                if (w->n_queued == 0)
                        break;
                job = w->queue[w->head];
                w->head = (w->head + 1) % w->queue_max;
                w->n_queued--;
                stopping = w->stopping;
                pthread_mutex_unlock(&w->lock);
                job_run(&job, stopping);
                pthread_mutex_lock(&w->lock);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

int api_work_new(unsigned n_threads, unsigned queue_max, ApiWork **ret) {
        ApiWork *w;
        int k = 0;

        if (n_threads == 0 || queue_max == 0)
                return -EINVAL;
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        w->queue_max = queue_max;
        w->queue = calloc(queue_max, sizeof *w->queue);
        w->threads = calloc(n_threads, sizeof *w->threads);
        if (!w->queue || !w->threads) {
                api_work_free(w);
                return -ENOMEM;
        }
        for (; w->n_threads < n_threads; w->n_threads++) {
                k = -pthread_create(&w->threads[w->n_threads], NULL, work_main, w);
                if (k < 0) {
                        api_work_free(w);
                        return k;
                }
        }
        *ret = w;
        return 0;
}

int api_work_submit(ApiWork *w, Request *r, ApiWorkFn fn) {
        int k = 0;

        pthread_mutex_lock(&w->lock);
        if (w->stopping || w->n_queued == w->queue_max)
                k = -EAGAIN;
        else {
                /* Suspended before a worker can see it, so that no worker
                 * resumes a connection that is not suspended yet. */
                MHD_suspend_connection(r->conn);
                w->queue[(w->head + w->n_queued) % w->queue_max] = (Job) { r, fn };
                w->n_queued++;
                pthread_cond_signal(&w->wake);
        }
        pthread_mutex_unlock(&w->lock);
        return k;
}

ApiWork *api_work_free(ApiWork *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_broadcast(&w->wake);
        pthread_mutex_unlock(&w->lock);
        for (unsigned i = 0; i < w->n_threads; i++)
                pthread_join(w->threads[i], NULL);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w->threads);
        free(w->queue);
        free(w);
        return NULL;
}
