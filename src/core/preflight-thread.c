/* The pre-flight checks on a thread of their own (core/preflight-thread.h). */
#include "core/preflight-thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"

struct PreflightJob {
        pthread_mutex_t lock;        /* guards the three flags and made */
        bool stop;                   /* preflight_job_stop(): no further check */
        bool done;                   /* the thread made its last check */
        bool abandoned;              /* preflight_job_free() before done: the thread frees the job */
        size_t made;
        PreflightCheck *checks;
        size_t n;
        pthread_t thread;
        int fd;                      /* eventfd the thread writes once done */
        sd_event_source *source;
        PreflightDoneFn on_done;
        void *userdata;
};

static void job_release(PreflightJob *job) {
        preflight_plan_free(job->checks, job->n);
        pthread_mutex_destroy(&job->lock);
        free(job);
}

static void *job_thread(void *userdata) {
        PreflightJob *job = userdata;
        uint64_t one = 1;
        bool abandoned;

        for (size_t i = 0; i < job->n; i++) {
                bool stop;

                pthread_mutex_lock(&job->lock);
                stop = job->stop;
                pthread_mutex_unlock(&job->lock);
                if (stop)
                        break;
                preflight_check(&job->checks[i]);
                pthread_mutex_lock(&job->lock);
                job->made = i + 1;
                pthread_mutex_unlock(&job->lock);
        }
        pthread_mutex_lock(&job->lock);
        job->done = true;
        abandoned = job->abandoned;
        /* NB: under the lock, so that the loop cannot close the eventfd
         * between the test and the write. */
        if (!abandoned)
                (void) !write(job->fd, &one, sizeof one);
        pthread_mutex_unlock(&job->lock);
        if (abandoned)
                job_release(job);
        return NULL;
}

static int on_job_fd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PreflightJob *job = userdata;
        uint64_t v;
        bool done;

        (void) s;
        (void) revents;
        (void) !read(fd, &v, sizeof v);
        pthread_mutex_lock(&job->lock);
        done = job->done;
        pthread_mutex_unlock(&job->lock);
        if (done && job->on_done) {
                job->source = sd_event_source_disable_unref(job->source);
                job->on_done(job, job->userdata);
        }
        return 0;
}

int preflight_job_start(sd_event *event, PreflightCheck *checks, size_t n, PreflightDoneFn done, void *userdata,
                        PreflightJob **ret) {
        PreflightJob *job = calloc(1, sizeof *job);
        int k;

        if (!job) {
                preflight_plan_free(checks, n);
                return -ENOMEM;
        }
        *job = (PreflightJob) { .checks = checks, .n = n, .on_done = done, .userdata = userdata,
                                .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        pthread_mutex_init(&job->lock, NULL);
        if (job->fd < 0) {
                k = -errno;
                job_release(job);
                return k;
        }
        k = sd_event_add_io(event, &job->source, job->fd, EPOLLIN, on_job_fd, job);
        if (k >= 0)
                (void) sd_event_source_set_description(job->source, "preflight-done");
        if (k >= 0)
                k = -pthread_create(&job->thread, NULL, job_thread, job);
        if (k < 0) {
                sd_event_source_disable_unref(job->source);
                close(job->fd);
                job_release(job);
                return k;
        }
        *ret = job;
        return 0;
}

PreflightCheck *preflight_job_take(PreflightJob *job, size_t *ret_n, size_t *ret_made) {
        PreflightCheck *checks;
        bool done;

        pthread_mutex_lock(&job->lock);
        done = job->done;
        *ret_made = job->made;
        pthread_mutex_unlock(&job->lock);
        if (!done)
                return NULL;
        checks = job->checks;
        *ret_n = job->n;
        job->checks = NULL;
        job->n = 0;
        return checks;
}

bool preflight_job_stop(PreflightJob *job, uint64_t wait_usec) {
        uint64_t deadline = now_monotonic_usec() + wait_usec;
        bool done;

        for (;;) {
                pthread_mutex_lock(&job->lock);
                job->stop = true;
                done = job->done;
                pthread_mutex_unlock(&job->lock);
                if (done || now_monotonic_usec() >= deadline)
                        return done;
                (void) usleep(10 * 1000);
        }
}

PreflightJob *preflight_job_free(PreflightJob *job) {
        bool done;

        if (!job)
                return NULL;
        job->source = sd_event_source_disable_unref(job->source);
        pthread_mutex_lock(&job->lock);
        job->stop = true;
        done = job->done;
        job->abandoned = !done;
        /* The thread writes into the eventfd only while not abandoned,
         * under the lock: closing it here is safe either way. */
        close(job->fd);
        job->fd = -1;
        pthread_mutex_unlock(&job->lock);
        if (!done) {
                log_warning("pre-flight: abandoning its thread in the middle of a check");
                pthread_detach(job->thread);
                return NULL;
        }
        pthread_join(job->thread, NULL);
        job_release(job);
        return NULL;
}
