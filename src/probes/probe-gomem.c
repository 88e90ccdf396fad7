#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/probe-gomem.h"
#include "util/json-stream.h"
#include "util/log.h"
#include "util/redact.h"
#include "util/units.h"
#include "util/util.h"

/* Probes started together spread their first polls over this much time. */
#define GOMEM_FIRST_SPREAD_USEC USEC_PER_SEC

/* A value parsed from the answer, queued only once the whole answer is
 * known to be valid JSON. */
typedef struct Staged {
        char *name;
        double value;
} Staged;

typedef struct GoMemPoller {
        Poller base;                   /* first: a GoMemPoller is a Poller */
        Store *store;
        const TargetConfig *target;
        char *prefix;                  /* "go.<target>" */

        /* The poll in flight. */
        JsonStream *parser;
        int parse_error;               /* what stopped the parse, or 0 */
        Staged *staged;
        size_t n_staged, allocated;
} GoMemPoller;

static void gomem_unstage(GoMemPoller *g) {
        for (size_t i = 0; i < g->n_staged; i++)
                free(g->staged[i].name);
        free(g->staged);
        g->staged = NULL;
        g->n_staged = g->allocated = 0;
        g->parser = json_stream_free(g->parser);
        g->parse_error = 0;
}

static int gomem_stage(const char *name, double value, void *u) {
        GoMemPoller *g = u;
        Staged *s;
        size_t n;

        if (g->n_staged >= GOMEM_FIELDS_MAX)
                return -EMSGSIZE;
        if (g->n_staged == g->allocated) {
                n = g->allocated ? g->allocated * 2 : 64;
                s = reallocarray(g->staged, n, sizeof(*s));
                if (!s)
                        return -ENOMEM;
                g->staged = s;
                g->allocated = n;
        }
        s = &g->staged[g->n_staged];
        s->name = strdup(name);
        if (!s->name)
                return -ENOMEM;
        s->value = value;
        g->n_staged++;
        return 0;
}

/* Queues the staged values; 0 or store_append's error. */
static int gomem_commit(GoMemPoller *g) {
        int64_t ts_ms = (int64_t) (g->base.started_usec / USEC_PER_MSEC);
        int r;

        for (size_t i = 0; i < g->n_staged; i++) {
                r = store_append(g->store, g->staged[i].name, ts_ms, g->staged[i].value);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void gomem_report_queue_error(GoMemPoller *g, int r) {
        if (r == -E2BIG)
                poller_report_down(&g->base, "this target already has %d series names in the store; new fields "
                                   "are dropped (do the JSON keys change on every poll?)",
                                   STORE_SERIES_PER_PREFIX_MAX);
        else
                poller_report_down(&g->base, "cannot queue samples: %s", strerror(-r));
}

static int gomem_start(Poller *p) {
        GoMemPoller *g = (GoMemPoller *) p;
        int r;

        gomem_unstage(g);
        r = json_stream_new(g->prefix, gomem_stage, g, &g->parser);
        if (r < 0) {
                poller_report_down(p, "cannot start the JSON parser: %s", strerror(-r));
                return r;
        }
        return poller_http_send(p);
}

static int gomem_write(Poller *p, const char *data, size_t n) {
        GoMemPoller *g = (GoMemPoller *) p;

        if (g->parse_error == 0)
                g->parse_error = json_stream_feed(g->parser, data, n);
        return g->parse_error;
}

/* The answer ended (or the parse stopped it): report what it gave. */
static int gomem_done(Poller *p, const CurlBuffer *body) {
        GoMemPoller *g = (GoMemPoller *) p;
        unsigned count = 0;
        int r = g->parse_error;

        (void) body;
        if (r == 0)
                r = json_stream_finish(g->parser, &count);
        if (r == -EMSGSIZE) {
                r = gomem_commit(g);
                if (r < 0)
                        gomem_report_queue_error(g, r);
                else
                        poller_report_down(p, "more than %d numeric fields; only the first %d were kept",
                                           GOMEM_FIELDS_MAX, GOMEM_FIELDS_MAX);
        } else if (r == -EBADMSG)
                poller_report_down(p, "%s", json_stream_error(g->parser));
        else if (r < 0)
                poller_report_down(p, "cannot parse the body: %s", strerror(-r));
        else if (count == 0)
                poller_report_down(p, "no numeric fields");
        else if ((r = gomem_commit(g)) < 0)
                gomem_report_queue_error(g, r);
        else
                poller_report_up(p);
        gomem_unstage(g);
        return 0;
}

static void gomem_free(Poller *p) {
        GoMemPoller *g = (GoMemPoller *) p;

        gomem_unstage(g);
        free(g->prefix);
        free(g);
}

static const PollerOps gomem_ops = {
        .kind = "gomem",
        .start = gomem_start,
        .write = gomem_write,
        .done = gomem_done,
        .free = gomem_free,
};

static int gomem_setup(GoMemPoller *g, const PollerContext *ctx) {
        const TargetConfig *t = g->target;
        char *description = NULL, *source = NULL;
        int r = -ENOMEM;

        g->prefix = strjoin("go.", t->name, NULL);
        description = strjoin("gomem:", t->name, NULL);
        source = strjoin("go.", t->name, ".memory", NULL);
        if (!g->prefix || !description || !source)
                goto out;
        r = poller_init(&g->base, &gomem_ops, ctx->event, t->memory_interval_usec, GOMEM_FIRST_SPREAD_USEC,
                        description);
        if (r >= 0)
                r = poller_http_setup(&g->base, ctx->glue, t->memory_url, t->timeout_usec, t->timeout_usec,
                                      (size_t) t->max_body, "body", "max_body");
        if (r >= 0)
                r = poller_register(&g->base, ctx->sources, source, "go_memory", t->memory_url);
out:
        free(description);
        free(source);
        return r;
}

static int gomem_new(const PollerContext *ctx, const TargetConfig *t, PollerList *list) {
        GoMemPoller *g;
        int r;

        if (!t->name || t->memory_interval_usec == 0)
                return -EINVAL;
        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->store = ctx->store;
        g->target = t;
        g->base.ops = &gomem_ops;
        r = gomem_setup(g, ctx);
        if (r < 0) {
                poller_free(&g->base);
                return r;
        }
        return poller_list_add(list, &g->base);
}

static int gomem_build(const PollerContext *ctx, PollerList *list) {
        int r;

        for (size_t i = 0; i < ctx->config->n_targets; i++) {
                const TargetConfig *t = &ctx->config->targets[i];

                if (!t->memory_url)
                        continue;
                r = gomem_new(ctx, t, list);
                if (r < 0) {
                        char *shown = redact_url(t->memory_url);

                        log_error("[target %s]: cannot poll %s: %s", t->name, shown ? shown : "memory_url",
                                  strerror(-r));
                        free(shown);
                        return r;
                }
        }
        return 0;
}

const PollerKind gomem_poller_kind = {
        .name = "gomem",
        .build = gomem_build,
};
