/* The daemon's runner driven directly, as the API's control calls drive
 * it, against a port that refuses connections: a run starts and is
 * recorded, a second start is busy, an unknown scenario is not found, a
 * cancel ends it cancelled with its figures, runner_stop() ends one
 * aborted with its histograms and refuses new runs; the scenarios list
 * says which are scheduled, enabled, active and what ran last.  A store
 * that refuses the new run keeps it from starting, and one that loses the
 * run's row makes its end unrecordable: both said in STATUS=. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "core/runner.h"
#include "store/store.h"
#include "transport/curl-glue.h"
#include "util/util.h"
#include "tap.h"
#include "sql-helpers.h"

static char dir[] = "/tmp/test-runner.XXXXXX", db[256], conf[256];
static unsigned changes;

static void on_changed(Runner *r, void *userdata) {
        (void) r;
        (void) userdata;
        changes++;
}

/* Runs the loop until the runner has no active run, for 10 s at most. */
static bool loop_until_idle(sd_event *e, Runner *r) {
        uint64_t end = now_monotonic_usec() + 10 * USEC_PER_SEC;

        while (runner_active_id(r) >= 0 && now_monotonic_usec() < end)
                (void) sd_event_run(e, 100 * USEC_PER_MSEC);
        return runner_active_id(r) < 0;
}

static void loop_for(sd_event *e, uint64_t usec) {
        uint64_t end = now_monotonic_usec() + usec;

        while (now_monotonic_usec() < end)
                (void) sd_event_run(e, 50 * USEC_PER_MSEC);
}

static Config *config_make(unsigned port) {
        char *errors = NULL;
        Config *c = NULL;
        FILE *f = fopen(conf, "we");

        if (!f)
                exit(99);
        fprintf(f, "[daemon]\ndatabase = %s\n"
                "[scenario refused]\nbase_url = http://127.0.0.1:%u\nrate = 20/s\nduration = 30s\ntimeout = 1s\n"
                "request = GET /x\nschedule = 0 3 * * *\n"
                "[scenario off]\nbase_url = http://127.0.0.1:%u\nrate = 20/s\nduration = 1s\nrequest = GET /x\n"
                "schedule = * * * * *\nenabled = no\n", db, port, port);
        fclose(f);
        if (config_load(conf, &c, &errors) < 0) {
                printf("# %s", errors ?: "?");
                exit(99);
        }
        return c;
}

/* state|requests>0|histograms of run `id`, via the store. */
static void run_row(Store *s, int64_t id, char *buf, size_t n) {
        StoreRunRecord *rec = NULL;

        if (store_run_get(s, id, &rec, NULL) < 0) {
                snprintf(buf, n, "none");
                return;
        }
        snprintf(buf, n, "%s|%d|%zu|%s", store_run_state_to_string(rec->run.state), rec->run.requests > 0,
                 rec->n_hists, rec->run.reason);
        store_run_record_free(rec);
}

static json_t *scenario_of(json_t *list, const char *name) {
        size_t i;
        json_t *v;

        json_array_foreach(list, i, v)
                if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
                        return v;
        return NULL;
}

static void test_list(Runner *r, int64_t active) {
        json_t *list = runner_scenarios_json(r), *s;

        is_int(json_array_size(list), 2, "the list has both scenarios");
        s = scenario_of(list, "refused");
        ok(s && json_is_string(json_object_get(s, "next_run_at")) &&
           !strcmp(json_string_value(json_object_get(s, "schedule")), "0 3 * * *") &&
           json_is_true(json_object_get(s, "enabled")) && json_integer_value(json_object_get(s, "runs_skipped")) == 0,
           "a scheduled scenario has its schedule and a next run time");
        ok(s && json_integer_value(json_object_get(s, "active_run")) == active,
           "and its active run's id (%lld)", (long long) active);
        s = scenario_of(list, "off");
        ok(s && json_is_null(json_object_get(s, "next_run_at")) && json_is_false(json_object_get(s, "enabled")) &&
           json_is_null(json_object_get(s, "active_run")), "a disabled one has no next run time");
        json_decref(list);
}

static void test_runs(sd_event *e, Store *store, Runner *r) {
        int64_t id = -1, busy = -1, id2 = -1;
        char *error = NULL, row[512];
        json_t *j;

        is_int(runner_start(r, "nope", RUN_TRIGGER_API, &id, &error), -ENOENT, "an unknown scenario is -ENOENT");
        is_int(runner_start(r, "refused", RUN_TRIGGER_API, &id, &error), 0, "a run starts");
        ok(id > 0 && runner_active_id(r) == id, "it is the active run (%lld)", (long long) id);
        is_int(runner_start(r, "off", RUN_TRIGGER_API, &busy, &error), -EBUSY,
               "a second run, even of a disabled scenario, is busy");
        is_int(busy, id, "and *ret_id names the active one");
        test_list(r, id);
        loop_for(e, 2500 * USEC_PER_MSEC);
        j = runner_active_json(r);
        ok(j && !strcmp(json_string_value(json_object_get(j, "state")), "running") &&
           json_integer_value(json_object_get(j, "requests")) >= 20 &&
           json_integer_value(json_object_get(json_object_get(j, "errors"), "connect")) >= 20,
           "the active run's object says running, with its connect errors so far");
        json_decref(j);
        ok(!strncmp(runner_status(r), "run ", 4) && strstr(runner_status(r), " refused "),
           "STATUS= says which run is active (\"%s\")", runner_status(r));
        run_row(store, id, row, sizeof row);
        ok(!strncmp(row, "running|1|", 10), "its row is updated while it runs (%s)", row);
        snprintf(row, sizeof row, "SELECT json_extract(extra, '$.trigger') = 'api' FROM runs WHERE id = %lld",
                 (long long) id);
        is_int(sql_int(db, row), 1, "its extra object says the API started it");
        is_int(runner_cancel(r, id + 1), -ENOENT, "cancelling another id is -ENOENT");
        is_int(runner_cancel(r, id), 0, "cancelling it is accepted");
        ok(loop_until_idle(e, r), "and the run ends");
        run_row(store, id, row, sizeof row);
        is_str(row, "cancelled|1|5|cancelled through the API (first error: GET /x: connect failed: Connection refused)", "it is recorded cancelled, with its figures and histograms");

        /* The disabled scenario still runs when asked explicitly. */
        is_int(runner_start(r, "off", RUN_TRIGGER_API, &id2, &error), 0, "a disabled scenario runs when asked");
        ok(loop_until_idle(e, r), "and its 1 s run ends");
        run_row(store, id2, row, sizeof row);
        ok(!strncmp(row, "completed|1|5|", 14), "completed, with its connect errors' reason (%s)", row);

        is_int(runner_start(r, "refused", RUN_TRIGGER_API, &id, &error), 0, "a third run starts");
        loop_for(e, 1500 * USEC_PER_MSEC);
        runner_stop(r);
        ok(runner_active_id(r) < 0, "runner_stop() waits for the run");
        run_row(store, id, row, sizeof row);
        is_str(row, "aborted|1|5|aborted: perfwatchd was stopped during the run (first error: GET /x: connect failed: "
               "Connection refused)",
               "it is recorded aborted, with its figures and histograms");
        is_int(runner_start(r, "refused", RUN_TRIGGER_API, &id, &error), -ESHUTDOWN, "no run starts after");
        ok(error && strstr(error, "stopping"), "and it says why (%s)", error ?: "");
        free(error);
}

/* Store failures are never silent. */
static void test_store_failures(sd_event *e, Config *c) {
        char *error = NULL, row[512];
        Store *ro = NULL, *rw = NULL;
        Runner *r = NULL;
        int64_t id = -1;

        if (store_open_readonly(db, &ro, NULL) < 0 || runner_new(e, ro, NULL, NULL, &r) < 0 ||
            runner_set_config(r, c) < 0)
                exit(99);
        ok(runner_start(r, "refused", RUN_TRIGGER_API, &id, &error) < 0 && runner_active_id(r) < 0,
           "a store that cannot record the run keeps it from starting");
        ok(error && strstr(error, "[scenario refused]: the store cannot record a new run: "), "and says why (%s)",
           error ?: "");
        ok(strstr(runner_status(r), "run of refused not started: ") != NULL, "so does STATUS= (%s)", runner_status(r));
        free(error);
        runner_free(r);
        store_free(ro);

        if (store_open(db, &rw, NULL) < 0 || runner_new(e, rw, NULL, NULL, &r) < 0 || runner_set_config(r, c) < 0)
                exit(99);
        is_int(runner_start(r, "refused", RUN_TRIGGER_API, &id, NULL), 0, "a run starts");
        loop_for(e, 500 * USEC_PER_MSEC);
        /* Its row goes behind the store's back: neither its updates nor its end can be written. */
        snprintf(row, sizeof row, "DELETE FROM runs WHERE id = %lld", (long long) id);
        is_int(raw_exec(db, row), SQLITE_OK, "its row is deleted behind the runner's back");
        loop_for(e, 1500 * USEC_PER_MSEC);
        ok(strstr(runner_status(r), "run ") == runner_status(r), "STATUS= still names the active run");
        runner_cancel(r, id);
        ok(loop_until_idle(e, r), "the run ends");
        snprintf(row, sizeof row, "run %lld refused: cannot record its end (cancelled): ", (long long) id);
        ok(strstr(runner_status(r), row) != NULL, "STATUS= says its end could not be recorded (%s)", runner_status(r));
        runner_free(r);
        store_free(rw);
}

int main(void) {
        sd_event *e = NULL;
        Store *store = NULL;
        Runner *r = NULL;
        Config *c;

        if (!mkdtemp(dir) || curl_glue_global_init() < 0 || sd_event_new(&e) < 0)
                return 99;
        snprintf(db, sizeof db, "%s/pw.db", dir);
        snprintf(conf, sizeof conf, "%s/pw.conf", dir);
        /* Port 1 on loopback: nothing listens there, connections are refused. */
        c = config_make(1);
        if (store_open(db, &store, NULL) < 0)
                return 99;
        is_int(runner_new(e, store, on_changed, NULL, &r), 0, "runner_new");
        is_int(runner_set_config(r, c), 0, "runner_set_config takes the scenarios");
        ok(changes > 0, "and says the list changed");
        is_str(runner_status(r), "", "STATUS= has nothing to say before a run");
        test_runs(e, store, r);
        ok(runner_free(r) == NULL, "runner_free");
        test_store_failures(e, c);
        ok(runner_free(NULL) == NULL, "runner_free(NULL) is a no-op");
        store_free(store);
        config_free(c);
        sd_event_unref(e);
        {
                char cmd[300];

                snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
                (void) !system(cmd);
        }
        return tap_done();
}
