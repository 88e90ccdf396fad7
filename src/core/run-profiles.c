/* The profiles tied to a run (core/run-profiles.h). */
#include "core/run-profiles.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "probes/probe-pprof.h"
#include "util/json-stream.h"
#include "util/log.h"
#include "util/units.h"
#include "util/util.h"

/* At most this many /memory fields are copied into each memory object. */
#define MEMORY_FIELDS_MAX RUN_PROFILES_MEMORY_FIELDS_MAX
/* The run's own /memory polls parse the whole answer on the loop at once,
 * through the periodic poller's flattener (util/json-stream.h), when it has
 * arrived: answers past this are refused. */
#define MEMORY_BODY_MAX (256u * 1024u)

typedef enum What {
        WHAT_HEAP_BEFORE,
        WHAT_CPU,
        WHAT_HEAP_AFTER,
        _WHAT_MAX,
} What;

static const char *const what_names[_WHAT_MAX] = {
        [WHAT_HEAP_BEFORE] = "heap_before",
        [WHAT_CPU] = "cpu",
        [WHAT_HEAP_AFTER] = "heap_after",
};

/* A /memory poll of its own, right before or after the run. */
typedef struct MemoryPoll {
        RunProfiles *owner;
        const char *key;               /* "memory_before", "memory_after" */
        CURL *easy;
        CurlBuffer body;
        char errbuf[CURL_ERROR_SIZE];
        uint64_t timeout_usec;
        uint64_t started_usec;
        bool over;
} MemoryPoll;

typedef struct Slot {
        RunProfiles *owner;
        What what;
        PprofCapture *capture;
        bool over;
} Slot;

struct RunProfiles {
        RunProfiles *next, **pprev;
        sd_event *event;
        CurlGlue *glue;
        Store *store;
        TargetConfig target;           /* name, pprof_url and memory_url owned; no other pointer set */
        MemoryPoll memory[2];          /* before, after */
        int64_t run_id;
        uint64_t cpu_seconds;
        sd_event_source *cpu_timer;
        Slot slots[_WHAT_MAX];
        json_t *obj;                   /* the "profiles" object being filled */
        json_t *errors;
        bool run_over;
};

static void note_error(RunProfiles *p, const char *key, const char *reason) {
        (void) json_object_set_new(p->errors, key, json_string(reason));
}

static void memory_poll_done(MemoryPoll *m) {
        if (m->easy) {
                curl_glue_remove(m->owner->glue, m->easy);
                curl_easy_cleanup(m->easy);
                m->easy = NULL;
        }
        curl_buffer_done(&m->body);
}

static void profiles_free(RunProfiles *p) {
        for (What w = 0; w < _WHAT_MAX; w++)
                p->slots[w].capture = pprof_capture_cancel(p->slots[w].capture);
        memory_poll_done(&p->memory[0]);
        memory_poll_done(&p->memory[1]);
        sd_event_source_disable_unref(p->cpu_timer);
        if (p->pprev) {
                *p->pprev = p->next;
                if (p->next)
                        p->next->pprev = p->pprev;
        }
        json_decref(p->obj);
        json_decref(p->errors);
        free(p->target.name);
        free(p->target.pprof_url);
        free(p->target.memory_url);
        free(p);
}

static void write_extra(RunProfiles *p) {
        char *text;
        int k;

        if (json_object_size(p->errors) > 0)
                (void) json_object_set(p->obj, "errors", p->errors);
        text = json_dumps(p->obj, JSON_COMPACT);
        k = text ? store_run_set_extra(p->store, p->run_id, "profiles", text) : -ENOMEM;
        if (k < 0)
                log_error("run %" PRId64 ": cannot record its profiles: %s", p->run_id, strerror(-k));
        else
                log_info("run %" PRId64 ": profiles of [target %s] recorded (%zu failed)", p->run_id, p->target.name,
                         json_object_size(p->errors));
        free(text);
}

static void maybe_finish(RunProfiles *p) {
        if (!p->run_over || p->run_id < 0 || !p->memory[0].over || !p->memory[1].over)
                return;
        for (What w = 0; w < _WHAT_MAX; w++)
                if (!p->slots[w].over)
                        return;
        write_extra(p);
        profiles_free(p);
}

static void slot_failed(Slot *s, const char *reason) {
        RunProfiles *p = s->owner;

        s->over = true;
        (void) json_object_set_new(p->obj, what_names[s->what], json_null());
        note_error(p, what_names[s->what], reason);
        log_warning("[target %s]: the run's %s profile: %s", p->target.name, what_names[s->what], reason);
}

static void on_capture(int64_t id, const char *error, void *userdata) {
        Slot *s = userdata;

        s->capture = NULL;
        if (error)
                slot_failed(s, error);
        else {
                s->over = true;
                (void) json_object_set_new(s->owner->obj, what_names[s->what], json_integer(id));
        }
        maybe_finish(s->owner);
}

static void slot_start(RunProfiles *p, What w, const char *kind, uint64_t cpu_seconds) {
        Slot *s = &p->slots[w];
        char error[256];

        if (pprof_capture_start(p->glue, p->store, &p->target, kind, cpu_seconds, on_capture, s, &s->capture, error,
                                sizeof error) < 0)
                slot_failed(s, error);
}

typedef struct MemoryRead {
        json_t *obj;
        size_t prefix_len;
        int64_t newest_ms;
} MemoryRead;

/* The /memory poller's series are go.<target>.<field>; the pprof
 * collectors' go.<target>.heap.*, .cpu.*, .goroutines and the sources'
 * own go.<target>.memory.* (up, poll_seconds) are left out. */
static int memory_field(const char *name, int64_t ts_ms, double value, void *u) {
        MemoryRead *m = u;
        const char *field = name + m->prefix_len;

        if (ts_ms <= 0 || strncmp(field, "heap.", 5) == 0 || strncmp(field, "cpu.", 4) == 0 ||
            strncmp(field, "memory.", 7) == 0 || strcmp(field, "goroutines") == 0)
                return 0;
        if (json_object_size(m->obj) >= MEMORY_FIELDS_MAX)
                return 0;
        (void) json_object_set_new(m->obj, field, json_real(value));
        if (ts_ms > m->newest_ms)
                m->newest_ms = ts_ms;
        return 0;
}

/* When the run's own poll failed: the newest figures the store holds,
 * {"at": ..., "from": "store", "poll_error": why, FIELD: value}, or
 * {"error": reason}. */
static json_t *memory_stored(RunProfiles *p, const char *why) {
        MemoryRead m = { .obj = json_object() };
        char prefix[256], at[64];
        int k;

        if (!m.obj)
                return NULL;
        snprintf(prefix, sizeof prefix, "go.%s.", p->target.name);
        m.prefix_len = strlen(prefix);
        k = store_list_series(p->store, prefix, MEMORY_FIELDS_MAX * 4, memory_field, &m);
        if (k < 0) {
                json_object_clear(m.obj);
                (void) json_object_set_new(m.obj, "error", json_sprintf("%s; cannot read the store: %s", why,
                                                                        strerror(-k)));
        } else if (json_object_size(m.obj) == 0)
                (void) json_object_set_new(m.obj, "error", json_sprintf("%s; no /memory sample in the store", why));
        else {
                (void) json_object_set_new(m.obj, "at", json_string(units_format_iso8601(
                                                   (uint64_t) m.newest_ms * USEC_PER_MSEC, at, sizeof at)));
                (void) json_object_set_new(m.obj, "from", json_string("store"));
                (void) json_object_set_new(m.obj, "poll_error", json_string(why));
        }
        return m.obj;
}

typedef struct MemoryFields {
        json_t *obj;
        bool cut;
} MemoryFields;

static int memory_field_add(const char *name, double value, void *u) {
        MemoryFields *f = u;

        if (json_object_size(f->obj) >= MEMORY_FIELDS_MAX) {
                f->cut = true;
                return -EMSGSIZE;
        }
        return json_object_set_new(f->obj, name, json_real(value)) < 0 ? -ENOMEM : 0;
}

json_t *run_profiles_memory_parse(const char *body, size_t size, uint64_t at_usec, char *why, size_t n) {
        MemoryFields f = { .obj = json_object() };
        JsonStream *parser = NULL;
        unsigned count = 0;
        char at[64];
        int r;

        if (!f.obj) {
                snprintf(why, n, "/memory: %s", strerror(ENOMEM));
                return NULL;
        }
        r = json_stream_new(NULL, memory_field_add, &f, &parser);
        if (r >= 0)
                r = json_stream_feed(parser, body ?: "", size);
        if (r >= 0)
                r = json_stream_finish(parser, &count);
        if (r == -EBADMSG)
                snprintf(why, n, "/memory: %s", json_stream_error(parser));
        else if (r < 0 && r != -EMSGSIZE)
                snprintf(why, n, "/memory: %s", strerror(-r));
        else if (json_object_size(f.obj) == 0)
                snprintf(why, n, "/memory: no numeric fields");
        json_stream_free(parser);
        if ((r < 0 && r != -EMSGSIZE) || json_object_size(f.obj) == 0) {
                json_decref(f.obj);
                return NULL;
        }
        if (f.cut)
                (void) json_object_set_new(f.obj, "fields_cut", json_true());
        (void) json_object_set_new(f.obj, "at", json_string(units_format_iso8601(at_usec, at, sizeof at)));
        return f.obj;
}

static void memory_poll_over(MemoryPoll *m, json_t *obj) {
        RunProfiles *p = m->owner;

        (void) json_object_set_new(p->obj, m->key, obj ?: json_null());
        m->over = true;
        memory_poll_done(m);
        maybe_finish(p);
}

static void on_memory(CURL *easy, CURLcode result, void *userdata) {
        MemoryPoll *m = userdata;
        char why[CURL_GLUE_REASON_MAX + 64] = "";
        json_t *obj = NULL;
        long code = 0;

        if (result != CURLE_OK)
                curl_glue_describe(easy, result, &m->body, m->errbuf, m->timeout_usec, "body", NULL, why,
                                   sizeof why);
        else if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code), code < 200 || code > 299)
                snprintf(why, sizeof why, "/memory: HTTP %ld", code);
        else
                obj = run_profiles_memory_parse(m->body.data, m->body.size, m->started_usec, why, sizeof why);
        /* NB: the glue has let go of the handle. */
        curl_easy_cleanup(m->easy);
        m->easy = NULL;
        if (!obj) {
                log_warning("[target %s]: the run's %s: %s", m->owner->target.name, m->key, why);
                obj = memory_stored(m->owner, why);
        }
        memory_poll_over(m, obj);
}

/* Polls the target's /memory now; without memory_url the object says so. */
static void memory_poll_start(RunProfiles *p, MemoryPoll *m) {
        char why[128];
        int k;

        m->started_usec = now_realtime_usec();
        if (!p->target.memory_url) {
                memory_poll_over(m, json_pack("{ss}", "error", "the target has no memory_url"));
                return;
        }
        k = curl_glue_easy_new(p->target.memory_url, m->timeout_usec, m->timeout_usec, m->errbuf, &m->easy);
        if (k >= 0) {
                curl_buffer_attach(&m->body, m->easy, MEMORY_BODY_MAX);
                k = curl_glue_add(p->glue, m->easy, on_memory, m);
        }
        if (k < 0) {
                if (m->easy)
                        curl_easy_cleanup(m->easy);
                m->easy = NULL;
                snprintf(why, sizeof why, "cannot request /memory: %s", strerror(-k));
                memory_poll_over(m, memory_stored(p, why));
        }
}

static int on_cpu_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        RunProfiles *p = userdata;

        (void) s;
        (void) usec;
        p->cpu_timer = sd_event_source_disable_unref(p->cpu_timer);
        slot_start(p, WHAT_CPU, "cpu", p->cpu_seconds);
        maybe_finish(p);
        return 0;
}

/* cpu_seconds, cut to what the run has left after ramp_up (at least 1 s). */
static uint64_t cpu_seconds(const ScenarioConfig *sc) {
        uint64_t duration = sc->duration_usec > 0 || !sc->stages ? sc->duration_usec : stages_duration(sc->stages);
        uint64_t left = duration > sc->ramp_up_usec ? duration - sc->ramp_up_usec : 0;
        uint64_t want = sc->cpu_seconds_usec < left ? sc->cpu_seconds_usec : left;

        return want / USEC_PER_SEC > 0 ? want / USEC_PER_SEC : 1;
}

int run_profiles_begin(sd_event *e, CurlGlue *glue, Store *store, const ScenarioConfig *sc, const TargetConfig *t,
                       RunProfiles **list, RunProfiles **ret) {
        RunProfiles *p = calloc(1, sizeof *p);
        int k;

        if (!p)
                return -ENOMEM;
        p->event = e;
        p->glue = glue;
        p->store = store;
        p->run_id = -1;
        p->target = (TargetConfig) { .name = strdup(t->name), .pprof_url = t->pprof_url ? strdup(t->pprof_url) : NULL,
                                     .memory_url = t->memory_url ? strdup(t->memory_url) : NULL,
                                     .timeout_usec = t->timeout_usec, .max_profile = t->max_profile };
        p->cpu_seconds = cpu_seconds(sc);
        p->obj = json_pack("{ss sI}", "target", t->name, "cpu_seconds", (json_int_t) p->cpu_seconds);
        p->errors = json_object();
        if (!p->target.name || (t->pprof_url && !p->target.pprof_url) || (t->memory_url && !p->target.memory_url) ||
            !p->obj || !p->errors) {
                profiles_free(p);
                return -ENOMEM;
        }
        for (What w = 0; w < _WHAT_MAX; w++)
                p->slots[w] = (Slot) { .owner = p, .what = w };
        p->memory[0] = (MemoryPoll) { .owner = p, .key = "memory_before", .timeout_usec = t->timeout_usec };
        p->memory[1] = (MemoryPoll) { .owner = p, .key = "memory_after", .timeout_usec = t->timeout_usec };
        p->next = *list;
        if (p->next)
                p->next->pprev = &p->next;
        p->pprev = list;
        *list = p;

        memory_poll_start(p, &p->memory[0]);
        k = sd_event_add_time_relative(e, &p->cpu_timer, CLOCK_MONOTONIC, sc->ramp_up_usec, 0, on_cpu_timer, p);
        if (k < 0)
                slot_failed(&p->slots[WHAT_CPU], "cannot arm the timer of the CPU profile");
        else
                (void) sd_event_source_set_description(p->cpu_timer, "run-cpu-profile");
        slot_start(p, WHAT_HEAP_BEFORE, "heap", 0);
        *ret = p;
        return 0;
}

void run_profiles_set_run(RunProfiles *p, int64_t run_id) {
        if (p)
                p->run_id = run_id;
}

void run_profiles_run_over(RunProfiles *p) {
        if (!p)
                return;
        if (p->cpu_timer) {
                p->cpu_timer = sd_event_source_disable_unref(p->cpu_timer);
                slot_failed(&p->slots[WHAT_CPU], "the run ended before its ramp-up was over");
        }
        slot_start(p, WHAT_HEAP_AFTER, "heap", 0);
        /* NB: before run_over is set, so that nothing it ends frees p. */
        memory_poll_start(p, &p->memory[1]);
        p->run_over = true;
        maybe_finish(p);
}

void run_profiles_discard(RunProfiles *p) {
        if (p)
                profiles_free(p);
}

void run_profiles_free_all(RunProfiles **list) {
        RunProfiles *p;

        while ((p = *list)) {
                for (What w = 0; w < _WHAT_MAX; w++)
                        if (!p->slots[w].over)
                                slot_failed(&p->slots[w], "perfwatchd stopped before the capture ended");
                for (size_t i = 0; i < 2; i++)
                        if (!p->memory[i].over) {
                                p->memory[i].over = true;
                                (void) json_object_set_new(p->obj, p->memory[i].key,
                                                           json_pack("{ss}", "error", "perfwatchd stopped first"));
                        }
                if (p->run_id >= 0)
                        write_extra(p);
                profiles_free(p);
        }
}
