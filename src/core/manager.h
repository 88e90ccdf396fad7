/* The daemon's core: one sd-event loop that owns the store, the pollers,
 * the criteria evaluator (whose worker thread reports back to the loop) and
 * the API, and handles the signals. */
#pragma once

#include "config/config.h"

typedef struct Manager Manager;

/* Builds everything `config` asks for (taking ownership of it) and opens
 * the store and the API.  On failure logs why and returns a negative errno. */
int manager_new(Config *config, Manager **ret);

/* Runs the loop until SIGTERM/SIGINT, or until the database file is deleted
 * or replaced (-ESTALE); then writes the pending samples, retrying for up to
 * 10 s.  0, or a negative errno on a fatal error or when samples were lost
 * (counted in the log): the exit status must then say failure. */
int manager_run(Manager *m);

/* NULL is a no-op.  Returns NULL. */
Manager *manager_free(Manager *m);
