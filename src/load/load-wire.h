/* The bytes of a run's requests for the engine's own HTTP/1.1 client:
 * load-engine.c's, on a LoadRun (load-internal.h). */
#pragma once

#include <stddef.h>

#include "load/load-internal.h"

/* Renders the run's header fields (`host_line`: "Host: ...\r\n" of
 * h1_client_host_header()) and every constant request whole (LoadReq.wire),
 * and sizes run->wire_max for those rendered per send.  Needs
 * run->authority_len, url_max and body_max.  0 or -ENOMEM. */
int load_wire_setup(LoadRun *run, const char *host_line);
/* Frees what load_wire_setup() made; safe after a partial one. */
void load_wire_free(LoadRun *run);
/* Request `req` to `url` (base_url and the path) with `body` (NULL: none)
 * into out (cap bytes): its length, or 0 when the URL cannot go on the wire
 * (a space or a control character) or out is too small. */
size_t load_wire_render(const LoadRun *run, const LoadReq *req, const char *url, const char *body, size_t body_size,
                        char *out, size_t cap);
