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
#include "util/log.h"
#include "util/units.h"
#include "util/util.h"

/* At most this many /memory fields are copied into each memory object. */
#define MEMORY_FIELDS_MAX 64

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
        TargetConfig target;           /* name and pprof_url owned; no other pointer set */
        bool has_memory;
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

static void profiles_free(RunProfiles *p) {
        for (What w = 0; w < _WHAT_MAX; w++)
                p->slots[w].capture = pprof_capture_cancel(p->slots[w].capture);
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
                log_info("run %" PRId64 ": profiles of [target %s] recorded: %s", p->run_id, p->target.name, text);
        free(text);
}

static void maybe_finish(RunProfiles *p) {
        if (!p->run_over || p->run_id < 0)
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
            strncmp(field, "memory.", 7) == 0 ||
            strcmp(field, "goroutines") == 0)
                return 0;
        if (json_object_size(m->obj) >= MEMORY_FIELDS_MAX)
                return 0;
        (void) json_object_set_new(m->obj, field, json_real(value));
        if (ts_ms > m->newest_ms)
                m->newest_ms = ts_ms;
        return 0;
}

/* The newest /memory figures the store holds, {"at": ..., FIELD: value},
 * or {"error": reason}. */
static json_t *memory_now(RunProfiles *p) {
        MemoryRead m = { .obj = json_object() };
        char prefix[256], at[64];
        int k;

        if (!m.obj)
                return NULL;
        if (!p->has_memory) {
                (void) json_object_set_new(m.obj, "error", json_sprintf("[target %s] has no memory_url",
                                                                        p->target.name));
                return m.obj;
        }
        snprintf(prefix, sizeof prefix, "go.%s.", p->target.name);
        m.prefix_len = strlen(prefix);
        k = store_list_series(p->store, prefix, MEMORY_FIELDS_MAX * 4, memory_field, &m);
        if (k < 0) {
                json_object_clear(m.obj);
                (void) json_object_set_new(m.obj, "error", json_sprintf("cannot read the store: %s", strerror(-k)));
        } else if (json_object_size(m.obj) == 0)
                (void) json_object_set_new(m.obj, "error", json_sprintf("no /memory sample of [target %s] yet",
                                                                        p->target.name));
        else
                (void) json_object_set_new(m.obj, "at", json_string(units_format_iso8601(
                                                   (uint64_t) m.newest_ms * USEC_PER_MSEC, at, sizeof at)));
        return m.obj;
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
        json_t *memory;
        int k;

        if (!p)
                return -ENOMEM;
        p->event = e;
        p->glue = glue;
        p->store = store;
        p->run_id = -1;
        p->target = (TargetConfig) { .name = strdup(t->name), .pprof_url = t->pprof_url ? strdup(t->pprof_url) : NULL,
                                     .timeout_usec = t->timeout_usec, .max_profile = t->max_profile };
        p->has_memory = t->memory_url != NULL;
        p->cpu_seconds = cpu_seconds(sc);
        p->obj = json_pack("{ss sI}", "target", t->name, "cpu_seconds", (json_int_t) p->cpu_seconds);
        p->errors = json_object();
        if (!p->target.name || (t->pprof_url && !p->target.pprof_url) || !p->obj || !p->errors) {
                profiles_free(p);
                return -ENOMEM;
        }
        for (What w = 0; w < _WHAT_MAX; w++)
                p->slots[w] = (Slot) { .owner = p, .what = w };
        p->next = *list;
        if (p->next)
                p->next->pprev = &p->next;
        p->pprev = list;
        *list = p;

        memory = memory_now(p);
        (void) json_object_set_new(p->obj, "memory_before", memory ?: json_null());
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
        json_t *memory;

        if (!p)
                return;
        memory = memory_now(p);
        (void) json_object_set_new(p->obj, "memory_after", memory ?: json_null());
        if (p->cpu_timer) {
                p->cpu_timer = sd_event_source_disable_unref(p->cpu_timer);
                slot_failed(&p->slots[WHAT_CPU], "the run ended before its ramp-up was over");
        }
        slot_start(p, WHAT_HEAP_AFTER, "heap", 0);
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
                if (!json_object_get(p->obj, "memory_after"))
                        (void) json_object_set_new(p->obj, "memory_after",
                                                   json_pack("{ss}", "error", "perfwatchd stopped during the run"));
                if (p->run_id >= 0)
                        write_extra(p);
                profiles_free(p);
        }
}
