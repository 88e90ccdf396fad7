/* The HTTP API (libmicrohttpd, internal threads).  Status (from the
 * criteria's typed report) and sources are published by the loop thread and
 * kept as ready-made JSON snapshots; series and
 * metrics are read from the store through a pool of read-only connections. */
#pragma once

#include <jansson.h>

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

