/* The profiles tied to a run in terminal mode: run-profiles.c on the
 * terminal's loop, and the wait for them before the terminal goes on. */
#include "core/terminal-profiles.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/run-profiles.h"

struct TerminalProfiles {
        sd_event *event;             /* borrowed */
        Store *store;                /* borrowed */
        char *target;
        RunProfiles *list;           /* what run-profiles.c still takes; empty once written */
        RunProfiles *run;            /* until run_over: the run's, borrowed from the list */
        int64_t id;                  /* the run's id; -1: not recorded */
        int signo;                   /* the signal that stopped the wait; 0: none */
};

/* `sc` with the duration the run has under --duration: the rule of
 * config_scenario_to_load(), so that the CPU profile is cut to what the
 * shortened run leaves after its ramp-up.  The copy's pointers are
 * borrowed from `sc`. */
static ScenarioConfig shortened(const ScenarioConfig *sc, uint64_t duration_usec) {
        ScenarioConfig s = *sc;

        if (duration_usec > 0 && (s.duration_usec == 0 || duration_usec < s.duration_usec))
                s.duration_usec = duration_usec;
        return s;
}

static const TargetConfig *find_target(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_targets; i++)
                if (strcmp(c->targets[i].name, name) == 0)
                        return &c->targets[i];
        return NULL;
}

int terminal_profiles_begin(sd_event *event, CurlGlue *glue, Store *store, const Config *c, const ScenarioConfig *sc,
                            uint64_t duration_usec, TerminalProfiles **ret) {
        const TargetConfig *t;
        TerminalProfiles *tp;
        ScenarioConfig run;
        int r;

        *ret = NULL;
        if (!sc->target)
                return 0;
        /* NB: the config refuses a target = that names no [target]. */
        t = find_target(c, sc->target);
        if (!t) {
                fprintf(stderr, "perfwatchd: [scenario %s]: no [target %s]: the run has no profiles\n", sc->name,
                        sc->target);
                return -ENOENT;
        }
        tp = calloc(1, sizeof *tp);
        if (tp)
                *tp = (TerminalProfiles) { .event = event, .store = store, .target = strdup(t->name), .id = -1 };
        if (!tp || !tp->target) {
                terminal_profiles_free(tp);
                fprintf(stderr, "perfwatchd: [scenario %s]: cannot take the profiles of [target %s]: %s\n",
                        sc->name, t->name, strerror(ENOMEM));
                return -ENOMEM;
        }
        run = shortened(sc, duration_usec);
        r = run_profiles_begin(event, glue, store, &run, t, &tp->list, &tp->run);
        if (r < 0) {
                fprintf(stderr, "perfwatchd: [scenario %s]: cannot take the profiles of [target %s]: %s\n",
                        sc->name, t->name, strerror(-r));
                terminal_profiles_free(tp);
                return r;
        }
        *ret = tp;
        return 0;
}

void terminal_profiles_set_run(TerminalProfiles *tp, int64_t id) {
        if (!tp)
                return;
        tp->id = id;
        run_profiles_set_run(tp->run, id);
}

void terminal_profiles_run_over(TerminalProfiles *tp) {
        RunProfiles *p;

        if (!tp || !tp->run)
                return;
        p = tp->run;
        tp->run = NULL;
        if (tp->id < 0) {
                fprintf(stderr, "perfwatchd: [target %s]: the run was not recorded: its profiles are not kept\n",
                        tp->target);
                run_profiles_discard(p);
                return;
        }
        /* It may write and free them at once (every capture failed). */
        run_profiles_run_over(p);
}

void terminal_profiles_cancel(TerminalProfiles *tp, int signo) {
        if (tp && tp->signo == 0)
                tp->signo = signo;
}

/* The run's extra.profiles as stored, or NULL with the reason in why[n]. */
static json_t *read_back(TerminalProfiles *tp, char *why, size_t n) {
        StoreRunRecord *rec = NULL;
        json_t *extra, *profiles = NULL;
        char *error = NULL;
        int r;

        r = store_run_get(tp->store, tp->id, &rec, &error);
        if (r < 0) {
                snprintf(why, n, "cannot read run %" PRId64 " back: %s", tp->id, error ?: strerror(-r));
                free(error);
                return NULL;
        }
        extra = json_loads(rec->run.extra ?: "{}", 0, NULL);
        profiles = json_incref(json_object_get(extra, "profiles"));
        if (!profiles)
                snprintf(why, n, "run %" PRId64 " has none (see above)", tp->id);
        json_decref(extra);
        store_run_record_free(rec);
        return profiles;
}

json_t *terminal_profiles_wait(TerminalProfiles *tp) {
        char why[512];
        json_t *profiles;
        int r = 0;

        if (!tp || tp->id < 0)
                return NULL;
        if (tp->list && tp->signo == 0)
                fprintf(stderr, "perfwatchd: [target %s]: waiting for the run's profiles\n", tp->target);
        while (tp->list && tp->signo == 0 && r >= 0)
                r = sd_event_run(tp->event, UINT64_MAX);
        if (tp->list) {
                if (tp->signo)
                        fprintf(stderr, "perfwatchd: [target %s]: %s while waiting for the run's profiles: "
                                "recording those taken\n", tp->target, strsignal(tp->signo));
                else
                        fprintf(stderr, "perfwatchd: [target %s]: the loop failed while waiting for the run's "
                                "profiles (%s): recording those taken\n", tp->target, strerror(-r));
                run_profiles_free_all(&tp->list);
        }
        profiles = read_back(tp, why, sizeof why);
        if (!profiles)
                fprintf(stderr, "perfwatchd: [target %s]: no profiles: %s\n", tp->target, why);
        return profiles;
}

TerminalProfiles *terminal_profiles_free(TerminalProfiles *tp) {
        if (!tp)
                return NULL;
        /* A run that never ran: nothing to write. */
        if (tp->run && tp->id < 0)
                run_profiles_discard(tp->run);
        run_profiles_free_all(&tp->list);
        free(tp->target);
        free(tp);
        return NULL;
}
