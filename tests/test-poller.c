/* The shared poll lifecycle, driven by a kind made up for the test (the way
 * a fifth kind plugs in): a PollerKind row builds it, the in-flight guard
 * skips ticks while a poll runs, failures back off unless the kind opts
 * out, -EBUSY skips quietly, the list frees every poller through its ops,
 * and the source shows the URL redacted. */
#include "config/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probes/poller.h"
#include "tap.h"
#include "util/units.h"

#define INTERVAL (20 * USEC_PER_MSEC)

typedef enum Behaviour { HANG, FAIL, BUSY, SUCCEED } Behaviour;

typedef struct FakePoller {
        Poller base;                   /* first, as in every kind */
        Behaviour behaviour;
        unsigned starts;
} FakePoller;

static unsigned frees;

static int fake_start(Poller *p) {
        FakePoller *f = (FakePoller *) p;

        f->starts++;
        switch (f->behaviour) {
        case HANG:
                return 0;              /* never ends: the guard must skip ticks */
        case FAIL:
                poller_report_down(p, "made to fail");
                return -EIO;
        case BUSY:
                return -EBUSY;
        default:
                poller_report_up(p);
                poller_end(p);
                return 0;
        }
}

static void fake_free(Poller *p) {
        frees++;
        free(p);
}

static const PollerOps fake_ops = { .kind = "fake", .start = fake_start, .free = fake_free };

/* What the test's build makes, one poller per entry. */
static struct { Behaviour behaviour; bool no_backoff; FakePoller *made; } plan[5];
static size_t n_plan;

static int fake_new(const PollerContext *ctx, size_t i, PollerList *list) {
        FakePoller *f = calloc(1, sizeof(*f));
        char name[32];
        int r;

        if (!f)
                return -ENOMEM;
        f->behaviour = plan[i].behaviour;
        f->base.no_backoff = plan[i].no_backoff;
        snprintf(name, sizeof(name), "fake.%zu", i);
        r = poller_init(&f->base, &fake_ops, ctx->event, INTERVAL, USEC_PER_MSEC, name);
        if (r >= 0)
                r = poller_register(&f->base, ctx->sources, name, "fake", "http://user:hunter2@127.0.0.1:1/x");
        if (r < 0) {
                free(f);
                return r;
        }
        plan[i].made = f;
        return poller_list_add(list, &f->base);
}

static int fake_build(const PollerContext *ctx, PollerList *list) {
        for (size_t i = 0; i < n_plan; i++) {
                int r = fake_new(ctx, i, list);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const PollerKind fake_kind = { .name = "fake", .build = fake_build };

static int on_stop(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(void) {
        char path[] = "/tmp/test-poller.XXXXXX", db[64];
        Config config = {};
        SourceSet *sources = NULL;
        PollerList *list = NULL;
        Store *store = NULL;
        sd_event *e = NULL;
        json_t *j;
        char *text;

        if (!mkdtemp(path))
                return 99;
        snprintf(db, sizeof(db), "%s/p.db", path);
        if (store_open(db, &store, NULL) < 0 || sd_event_new(&e) < 0 || source_set_new(store, &sources) < 0 ||
            poller_list_new(&list) < 0)
                return 99;

        plan[0].behaviour = HANG;
        plan[1].behaviour = FAIL;
        plan[2].behaviour = FAIL;
        plan[2].no_backoff = true;
        plan[3].behaviour = BUSY;
        plan[4].behaviour = SUCCEED;
        n_plan = 5;
        PollerContext ctx = { .event = e, .store = store, .sources = sources, .config = &config };
        is_int(fake_kind.build(&ctx, list), 0, "a kind's row builds its pollers into the list");
        is_int((int) poller_list_size(list), 5, "one poller per planned entry");

        (void) sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 400 * USEC_PER_MSEC, 0, on_stop, NULL);
        (void) sd_event_loop(e);

        is_int((int) plan[0].made->starts, 1, "a poll still in flight makes every later tick skip (%u starts)",
               plan[0].made->starts);
        ok(plan[2].made->starts >= 12, "a failing poller that opts out of backoff polls every tick (%u starts)",
           plan[2].made->starts);
        ok(plan[1].made->starts >= 3 && plan[1].made->starts <= plan[2].made->starts / 2,
           "a failing poller backs off: %u starts against %u without backoff", plan[1].made->starts,
           plan[2].made->starts);
        ok(plan[3].made->starts >= 12, "-EBUSY skips a tick but not the next ones (%u starts)",
           plan[3].made->starts);
        ok(plan[4].made->starts >= 12, "a poller whose polls end at once polls every tick (%u starts)",
           plan[4].made->starts);

        j = source_set_to_json(sources);
        text = json_dumps(j, JSON_COMPACT);
        ok(text && strstr(text, "\"polls\":0") && strstr(text, "fake.3"), "a skipped tick is not a poll");
        ok(text && strstr(text, "\"up\":true"), "a poll that reports up shows the source up");
        ok(text && strstr(text, "http://user:***@127.0.0.1:1/x") && !strstr(text, "hunter2"),
           "the source's URL is shown redacted");
        free(text);
        json_decref(j);

        frees = 0;
        list = poller_list_free(list);
        is_int((int) frees, 5, "freeing the list frees every poller through its ops, the hung one included");
        ok(poller_list_free(NULL) == NULL && poller_free(NULL) == NULL, "NULL frees are no-ops");

        source_set_free(sources);
        store_free(store);
        sd_event_unref(e);
        unlink(db);
        rmdir(path);
        return tap_done();
}
