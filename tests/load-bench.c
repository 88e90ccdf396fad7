/* A small driver for measuring the load engine by hand (not a test):
 *   load-bench URL PATH RATE SECONDS [MAX_INFLIGHT]
 * runs an open-model GET of URL+PATH at RATE requests per second and prints
 * the achieved rate, the schedule's lateness, latency and the engine
 * thread's CPU time; RATE "users:N" runs the closed model instead, N users
 * without think time (the engine's closed-loop maximum).  CLIENT=libcurl in
 * the environment sends by libcurl instead of the own HTTP/1.1 client. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load/load-engine.h"
#include "transport/curl-glue.h"
#include "util/util.h"

static double ms(uint64_t usec) {
        return (double) usec / 1000.0;
}

int main(int argc, char **argv) {
        LoadRequest req = { .weight = 1, .method = "GET" };
        LoadScenario sc = { .name = "bench", .model = LOAD_MODEL_OPEN, .timeout_usec = 5 * USEC_PER_SEC,
                            .requests = &req, .n_requests = 1, .max_inflight = 100 };
        LoadStages *st = NULL;
        LoadResult *res = NULL;
        LoadRun *run = NULL;
        char *err = NULL;
        double rate;

        if (argc < 5) {
                fprintf(stderr, "usage: load-bench URL PATH RATE SECONDS [MAX_INFLIGHT]\n");
                return 2;
        }
        sc.base_url = argv[1];
        if (getenv("CLIENT") && strcmp(getenv("CLIENT"), "libcurl") == 0)
                sc.client = LOAD_CLIENT_LIBCURL;
        req.path = argv[2];
        rate = strncmp(argv[3], "users:", 6) == 0 ? 0 : atof(argv[3]);
        if (argc > 5)
                sc.max_inflight = (unsigned) atoi(argv[5]);
        if (rate == 0) {
                sc.model = LOAD_MODEL_CLOSED;
                sc.users = (unsigned) atoi(argv[3] + 6);
                sc.duration_usec = (uint64_t) (atof(argv[4]) * USEC_PER_SEC);
                rate = 1;
        }
        if (curl_glue_global_init() < 0 ||
            (sc.model == LOAD_MODEL_OPEN &&
             stages_new_constant(rate, (uint64_t) (atof(argv[4]) * USEC_PER_SEC), &st, &err) < 0)) {
                fprintf(stderr, "load-bench: %s\n", err ? err : "cannot initialise");
                return 2;
        }
        sc.stages = st;
        if (load_run_start(&sc, NULL, &run, &err) < 0) {
                fprintf(stderr, "load-bench: %s\n", err ? err : "cannot start");
                return 2;
        }
        while (!load_run_done(run))
                usleep(50 * 1000);
        if (load_run_snapshot(run, &res) < 0)
                return 2;
        printf("client %s\n", res->own_client ? "own" : "libcurl");
        printf("sent %" PRIu64 " ok %" PRIu64 " dropped %" PRIu64 " errors %" PRIu64 "/%" PRIu64 "/%" PRIu64
               "/%" PRIu64 "\n", res->total.counts.sent, res->total.counts.ok, res->total.counts.dropped,
               res->total.counts.err_connect, res->total.counts.err_timeout, res->total.counts.err_status,
               res->total.counts.err_other);
        if (sc.model == LOAD_MODEL_CLOSED) {
                rate = res->achieved_rps;
                printf("achieved %.2f/s with %u users; %" PRIu64 " connections\n", res->achieved_rps, sc.users,
                       res->connections);
        } else
                printf("achieved %.2f/s of %.2f/s (%.3f%% off); %" PRIu64 " connections\n", res->achieved_rps,
                       res->target_rps, 100.0 * (res->achieved_rps - res->target_rps) / res->target_rps,
                       res->connections);
        printf("lateness p50 %.3f ms p99 %.3f ms p999 %.3f ms max %.3f ms\n",
               ms(hist_percentile(res->lateness, 50)), ms(hist_percentile(res->lateness, 99)),
               ms(hist_percentile(res->lateness, 99.9)), ms(hist_max(res->lateness)));
        printf("latency p50 %.3f ms p99 %.3f ms; service p50 %.3f ms\n",
               ms(hist_percentile(res->total.latency, 50)), ms(hist_percentile(res->total.latency, 99)),
               ms(hist_percentile(res->total.service, 50)));
        printf("engine CPU %.0f ms in %.1f s: %.1f%% of a core, %.1f%% per 1k req/s\n", ms(res->cpu_usec),
               (double) res->elapsed_usec / USEC_PER_SEC, 100.0 * res->cpu_usec / res->elapsed_usec,
               100.0 * res->cpu_usec / res->elapsed_usec * 1000.0 / rate);
        load_result_free(res);
        load_run_free(run);
        stages_free(st);
        curl_glue_global_cleanup();
        return 0;
}
