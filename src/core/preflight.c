/* Pre-flight checks: one blocking probe each, with its own timeout, so
 * that a suite whose target, service or database is down stops with the
 * reason before it sends any load. */
#include "core/preflight.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/redact.h"

static void check_fail(PreflightCheck *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check_fail(PreflightCheck *k, const char *fmt, ...) {
        va_list ap;
        size_t n;

        k->failed = true;
        va_start(ap, fmt);
        vsnprintf(k->why, sizeof k->why, fmt, ap);
        va_end(ap);
        /* libpq's and libcurl's messages may end in a newline or hold
         * several lines: the first one is the reason. */
        n = strcspn(k->why, "\n");
        k->why[n] = '\0';
        if (n == 0)
                snprintf(k->why, sizeof k->why, "unknown error");
}

/* One line on stderr for check `k`.  Returns 1 when it failed, for the
 * caller's count. */
static unsigned check_report(const PreflightCheck *k) {
        if (k->failed) {
                fprintf(stderr, "perfwatchd: pre-flight: %s: failed: %s\n", k->what, k->why);
                return 1;
        }
        fprintf(stderr, "perfwatchd: pre-flight: %s: ok (%s%s%" PRIu64 " ms)\n", k->what, k->detail,
                k->detail[0] ? ", " : "", k->ms);
        return 0;
}

static size_t discard(char *data, size_t size, size_t n, void *userdata) {
        (void) data;
        (void) userdata;
        return size * n;
}

/* GETs `url` within `timeout_usec`; with `want_200`, any other status
 * fails the check, else any HTTP answer passes. */
static void check_http(const char *url, uint64_t timeout_usec, bool want_200, PreflightCheck *k) {
        char error[CURL_ERROR_SIZE] = "";
        long status = 0;
        CURLcode cc;
        CURL *h;

        h = curl_easy_init();
        if (!h) {
                check_fail(k, "cannot set up libcurl");
                return;
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) (timeout_usec / USEC_PER_MSEC));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "perfwatchd/" PACKAGE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
        if (cc != CURLE_OK)
                check_fail(k, "%s", error[0] ? error : curl_easy_strerror(cc));
        else if (want_200 && status != 200)
                check_fail(k, "HTTP %ld, not 200", status);
        else
                snprintf(k->detail, sizeof k->detail, "HTTP %ld", status);
}

static void check_postgres(const char *conninfo, PreflightCheck *k) {
        char timeout[16];
        /* NB: connect_timeout comes after the expanded conninfo so that it
         * wins over one written there: the check must stay bounded.
         * gssencmode=disable as pg-conn.c does, for the same reason. */
        const char *const keys[] = { "gssencmode", "dbname", "connect_timeout", "fallback_application_name", NULL };
        const char *const values[] = { "disable", conninfo, timeout, "perfwatchd", NULL };
        PGconn *conn;

        snprintf(timeout, sizeof timeout, "%d", PREFLIGHT_POSTGRES_TIMEOUT_SEC);
        conn = PQconnectdbParams(keys, values, 1);
        if (!conn)
                check_fail(k, "out of memory");
        else if (PQstatus(conn) != CONNECTION_OK) {
                check_fail(k, "%s", PQerrorMessage(conn));
                redact_secrets(k->why);
        }
        PQfinish(conn);
}

static void check_database(const char *path, PreflightCheck *k) {
        char *error = NULL;
        Store *s = NULL;
        int r;

        r = store_open(path, &s, &error);
        if (r < 0)
                check_fail(k, "%s", error ?: strerror(-r));
        free(error);
        store_free(s);
}

static bool seen_before(const char *const *names, size_t i) {
        for (size_t j = 0; j < i; j++)
                if (strcmp(names[j], names[i]) == 0)
                        return true;
        return false;
}

/* Appends a check to *checks (room for it was made by the caller). */
static int plan_add(PreflightCheck *checks, size_t *n, PreflightKind kind, char *what, const char *url,
                    uint64_t timeout_usec, bool want_200) {
        PreflightCheck *k = &checks[*n];

        *k = (PreflightCheck) { .kind = kind, .what = what, .url = url ? strdup(url) : NULL,
                                .timeout_usec = timeout_usec, .want_200 = want_200 };
        (*n)++;
        return what && k->url ? 0 : -ENOMEM;
}

/* "KIND NAME LABELURL" with the URL's password redacted. */
static char *http_what(const char *kind, const char *name, const char *label, const char *url) {
        char *shown = redact_url(url), *what = NULL;

        if (asprintf(&what, "%s %s %s%s", kind, name, label, shown ?: "(url)") < 0)
                what = NULL;
        free(shown);
        return what;
}

static char *join_what(const char *kind, const char *name) {
        char *what = NULL;

        if (asprintf(&what, "%s %s", kind, name) < 0)
                return NULL;
        return what;
}

int preflight_plan(const Config *c, const char *const *names, size_t n, bool database, PreflightCheck **ret,
                   size_t *ret_n) {
        size_t max = c->n_targets + n + c->n_postgres + 1, count = 0;
        PreflightCheck *checks = calloc(max, sizeof *checks);
        int k = 0;

        if (!checks)
                return -ENOMEM;
        for (size_t i = 0; k >= 0 && i < c->n_targets; i++)
                if (c->targets[i].memory_url)
                        k = plan_add(checks, &count, PREFLIGHT_HTTP,
                                     http_what("target", c->targets[i].name, "/memory ", c->targets[i].memory_url),
                                     c->targets[i].memory_url, PREFLIGHT_TARGET_TIMEOUT_USEC, true);
        for (size_t i = 0; k >= 0 && i < n; i++) {
                const ScenarioConfig *sc = config_find_scenario(c, names[i]);
                char *url;

                if (!sc || !sc->base_url || seen_before(names, i))
                        continue;
                if (asprintf(&url, "%s/", sc->base_url) < 0) {
                        k = -ENOMEM;
                        break;
                }
                k = plan_add(checks, &count, PREFLIGHT_HTTP, http_what("scenario", sc->name, "base_url ", url), url,
                             PREFLIGHT_BASE_URL_TIMEOUT_USEC, false);
                free(url);
        }
        for (size_t i = 0; k >= 0 && i < c->n_postgres; i++)
                k = plan_add(checks, &count, PREFLIGHT_POSTGRES, join_what("postgres", c->postgres[i].name),
                             c->postgres[i].conninfo, (uint64_t) PREFLIGHT_POSTGRES_TIMEOUT_SEC * USEC_PER_SEC, false);
        if (k >= 0 && database)
                k = plan_add(checks, &count, PREFLIGHT_DATABASE,
                             join_what("database", c->daemon.database), c->daemon.database, 0, false);
        if (k < 0) {
                preflight_plan_free(checks, count);
                return k;
        }
        *ret = checks;
        *ret_n = count;
        return 0;
}

void preflight_check(PreflightCheck *k) {
        uint64_t start = now_monotonic_usec();

        k->failed = false;
        k->why[0] = k->detail[0] = '\0';
        switch (k->kind) {
        case PREFLIGHT_HTTP:
                check_http(k->url, k->timeout_usec, k->want_200, k);
                break;
        case PREFLIGHT_POSTGRES:
                check_postgres(k->url, k);
                break;
        case PREFLIGHT_DATABASE:
                check_database(k->url, k);
                break;
        }
        k->ms = (now_monotonic_usec() - start) / USEC_PER_MSEC;
}

PreflightCheck *preflight_plan_free(PreflightCheck *checks, size_t n) {
        for (size_t i = 0; checks && i < n; i++) {
                if (checks[i].url)
                        explicit_bzero(checks[i].url, strlen(checks[i].url));
                free(checks[i].url);
                free(checks[i].what);
        }
        free(checks);
        return NULL;
}

unsigned preflight_run(const Config *c, const char *const *names, size_t n) {
        PreflightCheck *checks = NULL;
        unsigned failed = 0;
        size_t count = 0;

        if (preflight_plan(c, names, n, true, &checks, &count) < 0) {
                fprintf(stderr, "perfwatchd: pre-flight: out of memory\n");
                return 1;
        }
        for (size_t i = 0; i < count; i++) {
                preflight_check(&checks[i]);
                failed += check_report(&checks[i]);
        }
        preflight_plan_free(checks, count);
        return failed;
}
