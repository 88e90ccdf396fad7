/* The runs routes end to end: a real Api on a loopback port over a real
 * store with recorded runs, a stand-in ApiControl whose calls are counted,
 * and a thread playing the daemon's loop (poll on api_control_fd, then
 * api_control_dispatch()); requests go through libcurl. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api/api.h"
#include "load/histogram.h"
#include "load/load-report.h"
#include "store/store.h"
#include "tap.h"
#include "util/util.h"

#define TOKEN     "s3cret-Token_42"
#define ACTIVE_ID 99
#define NEW_ID    100

static char base[64];
static Api *api;

/* ------------------------------------------------- the stand-in control */

static atomic_int n_start, n_cancel;
static char last_scenario[64];
static int64_t last_cancel = -1;
static atomic_bool busy;

static int fake_start(const char *scenario, int64_t *ret_id, char **ret_error, void *u) {
        (void) u;
        n_start++;
        snprintf(last_scenario, sizeof last_scenario, "%s", scenario);
        if (strcmp(scenario, "nosuch") == 0)
                return -ENOENT;
        if (strcmp(scenario, "broken") == 0) {
                *ret_error = strdup("store /x.db: disk I/O error");
                return -EIO;
        }
        *ret_id = busy ? ACTIVE_ID : NEW_ID;
        return busy ? -EBUSY : 0;
}

static int fake_cancel(int64_t id, void *u) {
        (void) u;
        n_cancel++;
        last_cancel = id;
        return id == ACTIVE_ID ? 0 : -ENOENT;
}

/* The daemon's loop: dispatches while `looping`, stops when `quit`. */
static atomic_bool looping = true, quit;

static void *loop_main(void *u) {
        struct pollfd p = { .fd = api_control_fd(api), .events = POLLIN };

        (void) u;
        for (unsigned i = 0; i < 3000 && !quit; i++) {
                if (!looping) {
                        usleep(10000);
                        continue;
                }
                if (poll(&p, 1, 10) > 0)
                        api_control_dispatch(api);
        }
        return NULL;
}

/* ------------------------------------------------------------- requests */

typedef struct Reply {
        long code;
        char *body;
        size_t len;
        char headers[2048];
        json_t *json;
} Reply;

static size_t on_body(char *p, size_t size, size_t n, void *u) {
        Reply *r = u;
        char *b = realloc(r->body, r->len + size * n + 1);

        if (!b)
                return 0;
        memcpy(b + r->len, p, size * n);
        r->len += size * n;
        b[r->len] = '\0';
        r->body = b;
        return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *u) {
        Reply *r = u;

        strncat(r->headers, p, sizeof r->headers - strlen(r->headers) - 1 < size * n
                                       ? sizeof r->headers - strlen(r->headers) - 1 : size * n);
        return size * n;
}

static void reply_clear(Reply *r) {
        free(r->body);
        json_decref(r->json);
        memset(r, 0, sizeof *r);
}

/* `auth` NULL: no Authorization header; `body` NULL: none. */
static Reply http(const char *method, const char *path, const char *auth, const char *body) {
        struct curl_slist *h = NULL;
        char url[512], line[700];
        Reply r = { 0 };
        CURL *c = curl_easy_init();

        snprintf(url, sizeof url, "%s%s", base, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
        if (strcmp(method, "POST") == 0) {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        } else if (strcmp(method, "GET") != 0)
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (auth) {
                snprintf(line, sizeof line, "Authorization: %s", auth);
                h = curl_slist_append(h, line);
        }
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        r.json = r.body ? json_loads(r.body, 0, NULL) : NULL;
        return r;
}

static Reply post(const char *path, const char *auth) {
        return http("POST", path, auth, NULL);
}

static Reply get(const char *path) {
        return http("GET", path, NULL, NULL);
}

static bool has_header(const Reply *r, const char *line) {
        return strcasestr(r->headers, line) != NULL;
}

static const char *message(const Reply *r) {
        return json_string_value(json_object_get(json_object_get(r->json, "error"), "message")) ?: "";
}

static const json_t *path_get(const json_t *j, const char *a, const char *b) {
        j = json_object_get(j, a);
        return b ? json_object_get(j, b) : j;
}

static int64_t int_at(const json_t *j, const char *a, const char *b) {
        const json_t *v = path_get(j, a, b);

        return json_is_integer(v) ? (int64_t) json_integer_value(v) : -12345;
}

static double num_at(const json_t *j, const char *a, const char *b) {
        const json_t *v = path_get(j, a, b);

        return json_is_number(v) ? json_number_value(v) : -1;
}

/* -------------------------------------------------------------- fixture */

static int64_t id_peak, id_spike, id_peak2;
static double p95_peak, p95_svc, p95_get;

static Histogram *hist_of(uint64_t lo_usec, unsigned n) {
        Histogram *h = NULL;

        if (hist_new(&h) < 0)
                return NULL;
        for (unsigned i = 1; i <= n; i++)
                hist_record(h, lo_usec * i);
        return h;
}

static int64_t add_run(Store *s, StoreRun run, StoreRunState state, const StoreRunHistogram *hists,
                       size_t n) {
        int64_t id = -1;

        if (store_run_begin(s, &run, &id) < 0)
                return -1;
        run.state = state;
        run.ended_at_ms = run.started_at_ms + run.duration_ms;
        return store_run_finish(s, id, &run, hists, n) < 0 ? -1 : id;
}

static int fixture(const char *path) {
        Histogram *lat = hist_of(1000, 1000), *svc = hist_of(100, 1000), *get_lat = hist_of(2000, 500),
                  *get_svc = hist_of(200, 500);
        StoreRunHistogram hists[] = {
                { "", STORE_RUN_HIST_LATENCY, lat }, { "", STORE_RUN_HIST_SERVICE, svc },
                { "get", STORE_RUN_HIST_LATENCY, get_lat }, { "get", STORE_RUN_HIST_SERVICE, get_svc },
        };
        StoreRun peak = {
                .scenario = "peak", .model = "open", .started_at_ms = 1700000000000, .duration_ms = 10000,
                .requests = 2000, .ok = 1990, .err_connect = 3, .err_timeout = 2, .err_status = 5,
                .dropped = 7, .target_rps = 200, .achieved_rps = 199.5, .reason = "",
        };
        StoreRun spike = {
                .scenario = "spike", .model = "closed", .started_at_ms = 1700000100000, .duration_ms = 2000,
                .requests = 50, .ok = 50, .reason = "cancelled through the API",
        };
        StoreRun peak2 = peak;
        char *err = NULL;
        Store *s = NULL;
        int k = -1;

        peak2.started_at_ms = 1700000200000;
        if (!lat || !svc || !get_lat || !get_svc || store_open(path, &s, &err) < 0) {
                printf("# fixture: %s\n", err ? err : "out of memory");
                goto out;
        }
        p95_peak = load_report_ms(lat, 95);
        p95_svc = load_report_ms(svc, 95);
        p95_get = load_report_ms(get_lat, 95);
        id_peak = add_run(s, peak, STORE_RUN_COMPLETED, hists, 4);
        id_spike = add_run(s, spike, STORE_RUN_CANCELLED, hists, 1);
        id_peak2 = add_run(s, peak2, STORE_RUN_ABORTED, NULL, 0);
        if (id_peak > 0 && id_spike > 0 && id_peak2 > 0 &&
            store_run_set_extra(s, id_peak, "lost_writes", "{\"lost\":0,\"checked\":120}") >= 0 &&
            store_run_set_extra(s, id_peak, "writes", "{\"attempted\":120,\"acknowledged\":118,\"failed\":1,"
                                "\"indeterminate\":1,\"ok\":117,\"lost\":1,\"unread\":0,\"recovered\":1,"
                                "\"unexpected\":0,\"conflicts\":40,\"conflicts_source\":\"server\","
                                "\"read_back\":true,\"lost_sample\":[]}") >= 0)
                k = 0;
out:
        store_free(s);
        free(err);
        hist_free(lat);
        hist_free(svc);
        hist_free(get_lat);
        hist_free(get_svc);
        return k;
}

/* A loopback socket on a free port, listening. */
static int listen_any(unsigned *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t n = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 64) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &n) < 0)
                return -1;
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

static void publish(void) {
        json_t *scenarios = json_pack("[{s:s,s:s,s:b,s:n,s:n,s:i,s:n,s:i}]", "name", "peak", "model", "open",
                                      "enabled", 1, "schedule", "next_run_at", "active_run", ACTIVE_ID,
                                      "last_run", "runs_skipped", 0);
        json_t *active = json_pack("{s:i,s:s,s:s,s:s,s:f,s:i,s:i,s:i,s:{s:f,s:f,s:f}}", "id", ACTIVE_ID,
                                   "scenario", "peak", "model", "open", "state", "running",
                                   "duration_s", 3.0, "requests", 123, "ok", 120, "dropped", 0,
                                   "latency_ms", "p50", 1.5, "p95", 4.25, "p99", 9.0);

        api_publish_runs(api, scenarios, active);
}

/* --------------------------------------------------------------- tests */

static void test_token_file(const char *dir) {
        char path[512], *tok = NULL, *err = NULL;
        FILE *f;

        snprintf(path, sizeof path, "%s/token", dir);
        is_int(api_token_read(path, &tok, &err), -ENOENT, "a missing token file: -ENOENT");
        ok(err && strstr(err, path) && strstr(err, "No such file"), "the error names the file: %s", err);
        free(err), err = NULL;

        f = fopen(path, "w");
        fputs(TOKEN "\n", f);
        fclose(f);
        chmod(path, 0644);
        is_int(api_token_read(path, &tok, &err), -EPERM, "a world-readable token file is refused");
        ok(err && strstr(err, path) && strstr(err, "mode 0644"), "the error names file and mode: %s", err);
        ok(err && !strstr(err, TOKEN), "the error does not hold the token");
        free(err), err = NULL;
        chmod(path, 0640);
        is_int(api_token_read(path, &tok, &err), -EPERM, "a group-readable one too");
        free(err), err = NULL;

        setenv("CREDENTIALS_DIRECTORY", dir, 1);
        is_int(api_token_read(path, &tok, &err), 0, "under $CREDENTIALS_DIRECTORY the mode is systemd's");
        is_str(tok, TOKEN, "the trailing newline is stripped");
        free(tok), tok = NULL;
        unsetenv("CREDENTIALS_DIRECTORY");

        chmod(path, 0600);
        is_int(api_token_read(path, &tok, &err), 0, "mode 0600 is read");
        free(tok), tok = NULL;

        f = fopen(path, "w");
        fclose(f);
        is_int(api_token_read(path, &tok, &err), -EINVAL, "an empty file is refused");
        ok(err && strstr(err, "is empty"), "saying so: %s", err);
        free(err), err = NULL;

        f = fopen(path, "w");
        fputs("two words\n", f);
        fclose(f);
        is_int(api_token_read(path, &tok, &err), -EINVAL, "a token with a space is refused");
        free(err), err = NULL;

        is_int(api_token_read(dir, &tok, &err), -EINVAL, "a directory is refused");
        ok(err && strstr(err, "not a regular file"), "saying so: %s", err);
        free(err), err = NULL;
        ok(!tok, "no token is handed out on failure");
}

static void test_auth(void) {
        Reply r;

        r = post("/v1/scenarios/peak/run", "Bearer " TOKEN);
        is_int(r.code, 403, "without api_token_file POST answers 403");
        ok(strstr(message(&r), "POST routes are off: set api_token_file in [daemon]"), "and says why: %s",
           message(&r));
        reply_clear(&r);

        is_int(api_set_token(api, TOKEN), 0, "set the token");
        r = post("/v1/scenarios/peak/run", "Bearer " TOKEN);
        is_int(r.code, 503, "without api_set_control POST answers 503");
        reply_clear(&r);
        api_set_control(api, &(ApiControl) { fake_start, fake_cancel, NULL, NULL });

        r = post("/v1/scenarios/peak/run", NULL);
        is_int(r.code, 401, "no Authorization: 401");
        ok(has_header(&r, "WWW-Authenticate: Bearer"), "with WWW-Authenticate: Bearer");
        reply_clear(&r);
        r = post("/v1/scenarios/peak/run", "Bearer wrong");
        is_int(r.code, 401, "a wrong token: 401");
        ok(has_header(&r, "WWW-Authenticate: Bearer"), "with WWW-Authenticate: Bearer");
        reply_clear(&r);
        r = post("/v1/scenarios/peak/run", "Bearer " TOKEN "x");
        is_int(r.code, 401, "the token with a byte more: 401");
        reply_clear(&r);
        r = post("/v1/scenarios/peak/run", "Bearer s3cret-Token_4");
        is_int(r.code, 401, "the token less its last byte: 401");
        reply_clear(&r);
        r = post("/v1/scenarios/peak/run", "Bearer s3cret-Token_43");
        is_int(r.code, 401, "a token of the same length, its last byte different: 401");
        reply_clear(&r);
        r = post("/v1/scenarios/peak/run", "Basic " TOKEN);
        is_int(r.code, 401, "another scheme: 401");
        reply_clear(&r);
        r = post("/v1/runs/99/cancel", "Bearer nope");
        is_int(r.code, 401, "cancel with a wrong token: 401");
        reply_clear(&r);
        is_int(n_start + n_cancel, 0, "no control call was made for a refused request");
}

static void test_start(void) {
        Reply r;

        r = post("/v1/scenarios/peak/run", "bearer " TOKEN);
        is_int(r.code, 202, "POST /v1/scenarios/peak/run: 202");
        ok(has_header(&r, "Location: /v1/runs/100\r\n"), "Location: /v1/runs/100");
        is_int(int_at(r.json, "id", NULL), NEW_ID, "the body has the new run's id");
        is_int(n_start, 1, "run_start was called once");
        is_str(last_scenario, "peak", "with the scenario's name");
        reply_clear(&r);

        busy = true;
        r = post("/v1/scenarios/peak/run", "Bearer " TOKEN);
        is_int(r.code, 409, "while a run is active: 409");
        is_int(int_at(r.json, "error", "active_run"), ACTIVE_ID, "naming the active run");
        is_str(json_string_value(path_get(r.json, "error", "location")), "/v1/runs/99", "and its location");
        reply_clear(&r);
        busy = false;

        r = post("/v1/scenarios/nosuch/run", "Bearer " TOKEN);
        is_int(r.code, 404, "an unknown scenario: 404");
        ok(strstr(message(&r), "\"nosuch\""), "naming it: %s", message(&r));
        reply_clear(&r);
        r = post("/v1/scenarios/broken/run", "Bearer " TOKEN);
        is_int(r.code, 500, "a run that cannot start: 500");
        ok(strstr(message(&r), "disk I/O error"), "with the runner's reason: %s", message(&r));
        reply_clear(&r);
        is_int(n_start, 4, "one call per accepted request");
}

static void test_cancel(void) {
        Reply r;

        r = post("/v1/runs/99/cancel", "Bearer " TOKEN);
        is_int(r.code, 202, "cancel the active run: 202");
        is_int(last_cancel, ACTIVE_ID, "run_cancel got its id");
        reply_clear(&r);
        r = post("/v1/runs/5/cancel", "Bearer " TOKEN);
        is_int(r.code, 409, "cancel a run that is not active: 409");
        ok(strstr(message(&r), "run 5 is not the active run (run 99 is)"), "saying so: %s", message(&r));
        reply_clear(&r);
        r = post("/v1/runs/x5/cancel", "Bearer " TOKEN);
        is_int(r.code, 400, "a run id that is no number: 400");
        reply_clear(&r);
        is_int(n_cancel, 2, "run_cancel was called twice");
}

static void test_methods(void) {
        char big[8192];
        Reply r;

        r = post("/v1/status", "Bearer " TOKEN);
        is_int(r.code, 405, "POST on a GET route: 405");
        ok(has_header(&r, "Allow: GET, HEAD\r\n"), "Allow: GET, HEAD");
        reply_clear(&r);
        r = get("/v1/scenarios/peak/run");
        is_int(r.code, 405, "GET on a POST route: 405");
        ok(has_header(&r, "Allow: POST\r\n"), "Allow: POST");
        reply_clear(&r);
        r = http("DELETE", "/v1/runs/3", "Bearer " TOKEN, NULL);
        is_int(r.code, 405, "DELETE /v1/runs/3: 405");
        ok(has_header(&r, "Allow: GET, HEAD, POST\r\n"), "Allow: GET, HEAD, POST");
        reply_clear(&r);
        r = post("/v1/runs/3", "Bearer " TOKEN);
        is_int(r.code, 405, "POST /v1/runs/3 (no /cancel): 405");
        reply_clear(&r);
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        r = http("POST", "/v1/scenarios/peak/run", "Bearer " TOKEN, big);
        is_int(r.code, 413, "a POST body of 8 KiB: 413");
        reply_clear(&r);
        r = http("POST", "/v1/scenarios/peak/run", "Bearer " TOKEN, "{}");
        is_int(r.code, 202, "a small body is ignored");
        reply_clear(&r);
}

/* With the loop stalled, 16 requests wait; the 17th is refused. */
typedef struct Waiter {
        pthread_t t;
        long code;
} Waiter;

static void *waiter_main(void *u) {
        Waiter *w = u;
        Reply r = post("/v1/scenarios/peak/run", "Bearer " TOKEN);

        w->code = r.code;
        reply_clear(&r);
        return NULL;
}

static unsigned wait_queued(unsigned want) {
        struct pollfd p = { .fd = api_control_fd(api), .events = POLLIN };
        uint64_t got = 0, v;

        for (unsigned i = 0; i < 500 && got < want; i++)
                if (poll(&p, 1, 10) > 0 && read(p.fd, &v, sizeof v) == sizeof v)
                        got += v;
        return (unsigned) got;
}

static void test_queue(void) {
        Waiter w[16];
        uint64_t n;
        int before = n_start;
        Reply r;

        looping = false;
        usleep(50000);
        for (size_t i = 0; i < 16; i++)
                pthread_create(&w[i].t, NULL, waiter_main, &w[i]);
        n = wait_queued(16);
        is_int(n, 16, "16 requests wait for the loop");
        r = post("/v1/scenarios/peak/run", "Bearer " TOKEN);
        is_int(r.code, 503, "the 17th: 503");
        ok(has_header(&r, "Retry-After: 1"), "with Retry-After");
        reply_clear(&r);
        (void) !write(api_control_fd(api), &n, sizeof n);
        looping = true;
        for (size_t i = 0; i < 16; i++)
                pthread_join(w[i].t, NULL);
        n = 0;
        for (size_t i = 0; i < 16; i++)
                n += w[i].code == 202;
        is_int(n, 16, "once the loop runs, all 16 are answered 202");
        is_int(n_start - before, 16, "with 16 calls");
}

static const char *const run_keys[] = {
        "id", "scenario", "model", "state", "started_at", "ended_at", "duration_s", "requests", "ok",
        "errors", "dropped", "aborted", "in_flight", "target_rps", "achieved_rps", "latency_ms",
        "service_ms", "per_request", "connections", "client", "reason", "extra", "url",
        "writes",                    /* this run has a lost-write report */
};

static void test_run(void) {
        char path[64], want[160];
        const json_t *get_req;
        size_t n_keys = 0;
        bool all = true;
        Reply r;

        snprintf(path, sizeof path, "/v1/runs/%" PRId64, id_peak);
        r = get(path);
        is_int(r.code, 200, "GET %s: 200", path);
        for (size_t i = 0; i < ELEMENTSOF(run_keys); i++)
                if (!json_object_get(r.json, run_keys[i])) {
                        all = false;
                        printf("# missing %s\n", run_keys[i]);
                }
        n_keys = json_object_size(r.json);
        ok(all && n_keys == ELEMENTSOF(run_keys), "the run object has exactly its %zu fields (got %zu)",
           ELEMENTSOF(run_keys), n_keys);
        is_int(int_at(r.json, "id", NULL), id_peak, "id");
        is_str(json_string_value(json_object_get(r.json, "state")), "completed", "state");
        is_str(json_string_value(json_object_get(r.json, "model")), "open", "model");
        is_str(json_string_value(json_object_get(r.json, "started_at")), "2023-11-14T22:13:20Z", "started_at");
        is_str(json_string_value(json_object_get(r.json, "ended_at")), "2023-11-14T22:13:30Z", "ended_at");
        is_int(int_at(r.json, "requests", NULL), 2000, "requests as stored");
        is_int(int_at(r.json, "ok", NULL), 1990, "ok as stored");
        is_int(int_at(r.json, "errors", "connect"), 3, "errors.connect");
        is_int(int_at(r.json, "errors", "timeout"), 2, "errors.timeout");
        is_int(int_at(r.json, "errors", "status"), 5, "errors.status");
        is_int(int_at(r.json, "dropped", NULL), 7, "dropped");
        is_double(num_at(r.json, "target_rps", NULL), 200, 1e-9, "target_rps");
        is_double(num_at(r.json, "achieved_rps", NULL), 199.5, 1e-9, "achieved_rps");
        is_double(num_at(r.json, "duration_s", NULL), 10, 1e-9, "duration_s");
        is_double(num_at(r.json, "latency_ms", "p95"), p95_peak, 0.001, "latency p95 is the stored one");
        is_double(p95_peak, 950, 9.5, "(which is 950 ms within 1%%)");
        is_double(num_at(r.json, "latency_ms", "max"), 1000, 10, "latency max");
        is_double(num_at(r.json, "service_ms", "p95"), p95_svc, 0.001, "service p95 is the stored one");
        is_int(int_at(json_object_get(r.json, "extra"), "lost_writes", "checked"), 120,
               "extra carries what was hung on the run");
        is_int(int_at(r.json, "writes", "lost"), 1, "the lost-write report as \"writes\", as --run --json has it");
        is_int(int_at(r.json, "writes", "conflicts"), 40, "with its conflicts");
        ok(json_is_null(json_object_get(r.json, "reason")), "no reason: null");
        ok(json_is_null(json_object_get(r.json, "connections")), "connections are not stored: null");
        ok(json_is_null(json_object_get(r.json, "client")), "nor which client sent them: null");
        get_req = path_get(r.json, "per_request", "get");
        is_double(num_at(get_req, "latency_ms", "p95"), p95_get, 0.001, "per_request.get latency p95");
        ok(json_is_null(json_object_get(get_req, "requests")), "per-request counts are not stored: null");
        is_int(json_object_size(json_object_get(r.json, "per_request")), 1, "one request name");
        reply_clear(&r);

        snprintf(path, sizeof path, "/v1/runs/%" PRId64 "?format=text", id_peak);
        r = get(path);
        is_int(r.code, 200, "as text: 200");
        snprintf(want, sizeof want, "Run %" PRId64 ": started 2023-11-14T22:13:20Z, ended 2023-11-14T22:13:30Z\n"
                 "Scenario peak (open model): completed after 10.0s\n", id_peak);
        ok(r.body && strncmp(r.body, want, strlen(want)) == 0, "the summary's head: the run, when, the scenario");
        ok(r.body && strstr(r.body, "2000 requests, 1990 ok, 10 errors"), "its counts");
        ok(r.body && strstr(r.body, "get: p50"), "its per-request line");
        ok(r.body && strstr(r.body, "Writes: 120 attempted, 118 acknowledged, 1 failed"),
           "the lost-write report's block");
        ok(r.body && !strstr(r.body, "Stopped:"), "a completed run: no Stopped line");
        reply_clear(&r);

        snprintf(path, sizeof path, "/v1/runs/%" PRId64, id_spike);
        r = get(path);
        is_str(json_string_value(json_object_get(r.json, "state")), "cancelled", "a cancelled run");
        ok(json_is_null(json_object_get(r.json, "target_rps")), "closed model: target_rps null");
        is_str(json_string_value(json_object_get(r.json, "reason")), "cancelled through the API", "its reason");
        reply_clear(&r);
        snprintf(path, sizeof path, "/v1/runs/%" PRId64 "?format=text", id_spike);
        r = get(path);
        snprintf(want, sizeof want, "Run %" PRId64 ": started 2023-11-14T22:15:00Z, ended 2023-11-14T22:15:02Z\n"
                 "Stopped: cancelled through the API\nScenario spike (closed model): cancelled after 2.0s\n",
                 id_spike);
        ok(r.body && strncmp(r.body, want, strlen(want)) == 0, "a cancelled run's text says who stopped it");
        ok(r.body && !strstr(r.body, "First error"), "and does not call that a first error");
        reply_clear(&r);

        r = get("/v1/runs/99");
        is_int(r.code, 200, "the active run: 200");
        is_int(int_at(r.json, "requests", NULL), 123, "answered from the published object");
        ok(json_is_object(json_object_get(r.json, "extra")), "with an extra object");
        is_str(json_string_value(json_object_get(r.json, "url")), "/v1/runs/99", "and its url");
        reply_clear(&r);
        r = get("/v1/runs/99?format=text");
        ok(r.body && strstr(r.body, "Run 99 peak (open model): running for 3.0s\n") &&
           strstr(r.body, "123 requests, 120 ok"), "the active run as text: its figures so far");
        reply_clear(&r);

        r = get("/v1/runs/12345");
        is_int(r.code, 404, "an unknown run: 404");
        is_str(message(&r), "run 12345 is not known", "saying so");
        reply_clear(&r);
        r = get("/v1/runs/12a");
        is_int(r.code, 400, "a run id that is no number: 400");
        reply_clear(&r);
}

static int64_t id_at(const Reply *r, size_t i) {
        return int_at(json_array_get(json_object_get(r->json, "runs"), i), "id", NULL);
}

static size_t n_runs(const Reply *r) {
        return json_array_size(json_object_get(r->json, "runs"));
}

static void bad_filter(const char *query, const char *names) {
        char path[256];
        Reply r;

        snprintf(path, sizeof path, "/v1/runs?%s", query);
        r = get(path);
        is_int(r.code, 400, "GET %s: 400", path);
        ok(strncmp(message(&r), names, strlen(names)) == 0, "naming %s: %s", names, message(&r));
        reply_clear(&r);
}

static void test_runs(void) {
        Reply r;

        r = get("/v1/runs");
        is_int(r.code, 200, "GET /v1/runs: 200");
        is_int(n_runs(&r), 3, "three runs");
        ok(id_at(&r, 0) == id_peak2 && id_at(&r, 1) == id_spike && id_at(&r, 2) == id_peak, "newest first");
        ok(!json_object_get(json_array_get(json_object_get(r.json, "runs"), 2), "per_request"),
           "summaries have no per_request");
        is_double(num_at(json_array_get(json_object_get(r.json, "runs"), 2), "latency_ms", "p95"), p95_peak,
                  0.001, "a summary's p95 is the stored one");
        ok(json_is_null(json_object_get(json_array_get(json_object_get(r.json, "runs"), 0), "latency_ms")),
           "a run without histograms: latency_ms null");
        ok(json_is_false(json_object_get(r.json, "more")), "more: false");
        ok(json_is_null(json_object_get(json_array_get(json_object_get(r.json, "runs"), 1), "reason")) == false &&
           json_is_string(json_object_get(json_array_get(json_object_get(r.json, "runs"), 1), "url")),
           "a summary has its reason and url");
        reply_clear(&r);

        r = get("/v1/runs?scenario=peak");
        ok(n_runs(&r) == 2 && id_at(&r, 0) == id_peak2, "scenario=peak: its two runs");
        reply_clear(&r);
        r = get("/v1/runs?state=cancelled");
        ok(n_runs(&r) == 1 && id_at(&r, 0) == id_spike, "state=cancelled: the spike run");
        reply_clear(&r);
        r = get("/v1/runs?from=1700000050&to=1700000150");
        ok(n_runs(&r) == 1 && id_at(&r, 0) == id_spike, "from/to: the run started between");
        reply_clear(&r);
        r = get("/v1/runs?limit=1");
        ok(n_runs(&r) == 1 && json_is_true(json_object_get(r.json, "more")), "limit=1: one run, more: true");
        reply_clear(&r);
        r = get("/v1/runs?scenario=nosuch");
        ok(r.code == 200 && n_runs(&r) == 0, "an unknown scenario: an empty list");
        reply_clear(&r);
        bad_filter("state=done", "state:");
        bad_filter("limit=0", "limit:");
        bad_filter("limit=1001", "limit:");
        bad_filter("from=yesterday", "from:");
        bad_filter("to=1x", "to:");
        bad_filter("from=1700000150&to=1700000050", "from is later than to");
        r = get("/v1/runs?scenari=peak");
        is_int(r.code, 400, "an unknown parameter: 400");
        reply_clear(&r);

        r = get("/v1/runs?format=text");
        ok(r.body && strncmp(r.body, "ID", 2) == 0 && strstr(r.body, "SCENARIO") && strstr(r.body, "spike"),
           "as text: a table");
        reply_clear(&r);
}

static void test_scenarios(void) {
        Reply r;

        r = get("/v1/scenarios");
        is_int(r.code, 200, "GET /v1/scenarios: 200");
        is_str(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "scenarios"), 0), "name")),
               "peak", "the published list");
        reply_clear(&r);
        r = get("/v1/scenarios?format=text");
        ok(r.body && strstr(r.body, "NAME") && strstr(r.body, "peak"), "as text: a table");
        reply_clear(&r);
        r = get("/");
        ok(r.body && strstr(r.body, "POST /v1/scenarios/NAME/run") && strstr(r.body, "POST /v1/runs/ID/cancel") &&
           strstr(r.body, "GET /v1/runs/ID") && strstr(r.body, "GET /v1/scenarios"), "GET / lists the routes");
        reply_clear(&r);
}

/* api_free() lets go of a request still waiting for the loop: it is
 * answered 503, or its connection closes when libmicrohttpd stops before
 * sending that; either way at once, not at the client's timeout.  */
static void test_stop(pthread_t loop) {
        uint64_t t0;
        Waiter w;

        looping = false;
        usleep(50000);
        pthread_create(&w.t, NULL, waiter_main, &w);
        is_int(wait_queued(1), 1, "a request waits for the loop");
        quit = true;
        pthread_join(loop, NULL);
        t0 = now_monotonic_usec();
        api = api_free(api);
        pthread_join(w.t, NULL);
        ok(w.code == 503 || w.code == 0, "api_free() lets go of it (got %ld)", w.code);
        ok(now_monotonic_usec() - t0 < 3 * USEC_PER_SEC, "at once (%.2fs)",
           (double) (now_monotonic_usec() - t0) / USEC_PER_SEC);
}

int main(void) {
        char dir[] = "/tmp/test-api-runs.XXXXXX", db[256], *err = NULL;
        StorePool *pool = NULL;
        pthread_t loop;
        unsigned port = 0;
        int fd;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (!mkdtemp(dir))
                return 99;
        test_token_file(dir);
        snprintf(db, sizeof db, "%s/runs.db", dir);
        fd = listen_any(&port);
        if (fixture(db) < 0 || fd < 0 || store_pool_new(db, 2, &pool, &err) < 0 ||
            api_new("127.0.0.1:0", fd, pool, &api, &err) < 0 || api_start(api, &err) < 0) {
                printf("Bail out! setup: %s\n", err ? err : "?");
                return 99;
        }
        snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
        publish();
        pthread_create(&loop, NULL, loop_main, NULL);

        test_auth();
        test_start();
        test_cancel();
        test_methods();
        test_queue();
        test_run();
        test_runs();
        test_scenarios();
        test_stop(loop);

        store_pool_free(pool);
        snprintf(db, sizeof db, "rm -rf '%s'", dir);
        (void) !system(db);
        curl_global_cleanup();
        return tap_done();
}
