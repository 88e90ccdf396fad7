/* The HTTP API (libmicrohttpd, internal threads).  Status (from the
 * criteria's typed report) and sources are published by the loop thread and
 * kept as ready-made JSON snapshots; series and
 * metrics are read from the store through a pool of read-only connections. */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "criteria/criteria.h"
#include "store/store.h"

typedef struct Api Api;

/* Takes `listen_fd` when >= 0 (socket activation), else binds `listen`
 * ("127.0.0.1:9470", "[::1]:9470"), but serves nothing until api_start():
 * connections wait in the backlog while the first snapshots are published.
 * `pool` is borrowed.  On failure *ret_error (caller frees) says why in one
 * line. */
int api_new(const char *listen, int listen_fd, StorePool *pool, Api **ret, char **ret_error);

/* Starts answering (libmicrohttpd's threads).  0, or -EIO with *ret_error. */
int api_start(Api *a, char **ret_error);

/* Stops the server (waits for its threads); NULL is a no-op.  Returns NULL. */
Api *api_free(Api *a);

/* Replaces the criteria of the /v1/status snapshot with `report`, which it
 * takes (freed here or later by the Api).  Call from one thread only (the
 * loop's): the snapshot is assembled there and swapped under the lock. */
void api_publish_criteria(Api *a, CriteriaReport *report);

/* Replaces the /v1/sources snapshot ({"sources":[...]}); takes ownership. */
void api_publish_sources(Api *a, json_t *sources);

/* Replaces the store's health (the loop thread calls it after each flush):
 * /v1/status and /v1/sources JSON answers carry it as their "store" member,
 * and /healthz answers 503 with the reason while it is failing.  Copies what
 * it needs; `path` names the database in the answers. */
void api_publish_store(Api *a, const char *path, const StoreHealth *h);


/* ------------------------------------------------------------------ runs
 * The routes of issue 7.  GET /v1/scenarios answers the published list;
 * GET /v1/runs and GET /v1/runs/{id} read the store on a worker, except the
 * active run, answered from its published object.  The routes that act
 * (POST /v1/scenarios/{name}/run, POST /v1/runs/{id}/cancel) check the
 * bearer token, suspend the connection and wait for the loop thread, which
 * calls the ApiControl there (api_control_dispatch()) and resumes it.
 *
 * The daemon wires it so, all on the loop thread: after api_new(),
 * api_set_token() (from api_token_read() of [daemon] api_token_file, again
 * on each reload), api_set_control(), an sd_event IO source on
 * api_control_fd() whose handler calls api_control_dispatch(), and a first
 * api_publish_runs(); then api_start(); api_publish_runs() again whenever
 * the runner says its figures changed; at the end the IO source goes before
 * api_free(). */

typedef struct ApiControl {
        /* As runner_start(): 0 with *ret_id, -ENOENT, -EBUSY with the
         * active run's id in *ret_id, or another errno with *ret_error. */
        int (*run_start)(const char *scenario, int64_t *ret_id, char **ret_error, void *userdata);
        /* As runner_cancel(): 0 or -ENOENT. */
        int (*run_cancel)(int64_t id, void *userdata);
        void *userdata;
        /* As suites_start(): 0, -ENOENT, -EBUSY, or another errno with
         * *ret_error.  NULL: POST /v1/suites/NAME/run answers 500. */
        int (*suite_start)(const char *suite, char **ret_error, void *userdata);
} ApiControl;

/* Loop thread, before api_start(): `control` (copied) is what the acting
 * routes call; without it they answer 503. */
void api_set_control(Api *a, const ApiControl *control);

/* An eventfd owned by the Api (valid from api_new() to api_free(), which
 * closes it: drop the loop's source on it before), readable while an
 * acting request waits for the loop: the loop watches it (EPOLLIN) and
 * calls api_control_dispatch(). */
int api_control_fd(const Api *a);

/* Loop thread: makes each waiting acting request's control call and
 * resumes its connection with the answer. */
void api_control_dispatch(Api *a);

/* Loop thread: replaces the runs snapshot with `scenarios` (GET
 * /v1/scenarios' list, taken) and `active` (the active run's object as
 * runner_active_json() makes it, taken; NULL: no run is active). */
void api_publish_runs(Api *a, json_t *scenarios, json_t *active);

/* Loop thread: replaces GET /v1/suites' list with `suites` (suites_json(),
 * taken; NULL: keeps the last one). */
void api_publish_suites(Api *a, json_t *suites);

/* Sets the bearer token the acting routes require (copied; any thread);
 * NULL turns them off (403, saying to set api_token_file).  0, or -EINVAL
 * for an empty token or one longer than the API keeps. */
int api_set_token(Api *a, const char *token);

/* Reads the token in `path` ([daemon] api_token_file): the file must be a
 * regular file that neither group nor others may read (unless it lies
 * under $CREDENTIALS_DIRECTORY, systemd's private copies), and hold one
 * token, its trailing newline stripped.  0 with *ret (the caller frees
 * it), or a negative errno with *ret_error (the caller frees it) saying
 * "api_token_file PATH: why" in one line, never the token. */
int api_token_read(const char *path, char **ret, char **ret_error);

/* A run's extra.profiles object `profiles` (core/run-profiles.h; borrowed,
 * may be NULL: nothing is written, nor for one without a target) as the
 * text of GET /v1/runs/{id}?format=text shows it: "Profiles of NAME:
 * heap_before ID cpu ID heap_after ID" (a missing one "failed (REASON)"),
 * "Memory of NAME: Sys B -> A HeapAlloc B -> A" and, with both heaps,
 * "Heap diff: go tool pprof -top -diff_base /v1/profiles/ID /v1/profiles/ID".
 * perfwatchd --run writes it in its summary too.  Any thread. */
void api_render_run_profiles_text(const json_t *profiles, FILE *f);
