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

/* A check's outcome: `why` is empty when it passed, else the reason;
 * `detail` may say more about a pass ("HTTP 404"). */
typedef struct Check {
        char why[256];
        char detail[64];
} Check;

static void check_fail(Check *k, const char *fmt, ...) {
        va_list ap;
        size_t n;

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

/* One line on stderr for the check of `what`, made since `start_usec`.
 * Returns 1 when it failed, for the caller's count. */
static unsigned check_report(const char *what, const Check *k, uint64_t start_usec) {
        uint64_t ms = (now_monotonic_usec() - start_usec) / USEC_PER_MSEC;

        if (k->why[0]) {
                fprintf(stderr, "perfwatchd: pre-flight: %s: failed: %s\n", what, k->why);
                return 1;
        }
        fprintf(stderr, "perfwatchd: pre-flight: %s: ok (%s%s%" PRIu64 " ms)\n", what, k->detail,
                k->detail[0] ? ", " : "", ms);
        return 0;
}

static size_t discard(char *data, size_t size, size_t n, void *userdata) {
        (void) data;
        (void) userdata;
        return size * n;
}

/* GETs `url` within `timeout_usec`; with `want_200`, any other status
 * fails the check, else any HTTP answer passes. */
static void check_http(const char *url, uint64_t timeout_usec, bool want_200, Check *k) {
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

static void check_postgres(const PostgresConfig *pg, Check *k) {
        char timeout[16];
        /* NB: connect_timeout comes after the expanded conninfo so that it
         * wins over one written there: the check must stay bounded.
         * gssencmode=disable as pg-conn.c does, for the same reason. */
        const char *const keys[] = { "gssencmode", "dbname", "connect_timeout", "fallback_application_name", NULL };
        const char *const values[] = { "disable", pg->conninfo, timeout, "perfwatchd", NULL };
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

static void check_database(const char *path, Check *k) {
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

/* `what` is "KIND NAME URL" with the URL's password redacted. */
static unsigned run_http(const char *kind, const char *name, const char *label, const char *url,
                         uint64_t timeout_usec, bool want_200) {
        char *shown = redact_url(url), what[512];
        uint64_t start = now_monotonic_usec();
        Check k = {};

        snprintf(what, sizeof what, "%s %s %s%s", kind, name, label, shown ?: "(url)");
        free(shown);
        check_http(url, timeout_usec, want_200, &k);
        return check_report(what, &k, start);
}

unsigned preflight_run(const Config *c, const char *const *names, size_t n) {
        unsigned failed = 0;
        char what[512];
        uint64_t start;

        for (size_t i = 0; i < c->n_targets; i++)
                if (c->targets[i].memory_url)
                        failed += run_http("target", c->targets[i].name, "/memory ", c->targets[i].memory_url,
                                           PREFLIGHT_TARGET_TIMEOUT_USEC, true);
        for (size_t i = 0; i < n; i++) {
                const ScenarioConfig *sc = config_find_scenario(c, names[i]);
                char *url;

                if (!sc || !sc->base_url || seen_before(names, i))
                        continue;
                if (asprintf(&url, "%s/", sc->base_url) < 0)
                        return failed + 1;
                failed += run_http("scenario", sc->name, "base_url ", url, PREFLIGHT_BASE_URL_TIMEOUT_USEC, false);
                free(url);
        }
        for (size_t i = 0; i < c->n_postgres; i++) {
                Check k = {};

                start = now_monotonic_usec();
                snprintf(what, sizeof what, "postgres %s", c->postgres[i].name);
                check_postgres(&c->postgres[i], &k);
                failed += check_report(what, &k, start);
        }
        {
                Check k = {};

                start = now_monotonic_usec();
                snprintf(what, sizeof what, "database %s", c->daemon.database);
                check_database(c->daemon.database, &k);
                failed += check_report(what, &k, start);
        }
        return failed;
}
