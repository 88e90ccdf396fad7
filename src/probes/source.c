#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "probes/source.h"
#include "util/units.h"
#include "util/redact.h"
#include "util/utf8.h"
#include "util/util.h"

/* Longest kept failure reason, NUL included: enough for a curl or jansson
 * message with a URL, short enough for a table row in /v1/sources. */
#define SOURCE_ERROR_MAX 300

struct Source {
        SourceSet *set;
        char *name, *kind, *url;
        char *series_up, *series_seconds;    /* "<name>.up", "<name>.poll_seconds" */

        bool polled, up;
        uint64_t last_poll_usec, last_duration_usec, last_error_at_usec;
        char last_error[SOURCE_ERROR_MAX];    /* "" when there never was one */
        uint64_t polls, failures;
        unsigned consecutive_failures;
        json_t *info;                         /* extra facts, see source_set_info() */
};

struct SourceSet {
        Store *store;
        Source **sources;
        size_t n, allocated;
};

int source_set_new(Store *store, SourceSet **ret) {
        SourceSet *set;

        if (!ret)
                return -EINVAL;
        set = calloc(1, sizeof(*set));
        if (!set)
                return -ENOMEM;
        set->store = store;
        *ret = set;
        return 0;
}

static Source *source_free(Source *s) {
        if (!s)
                return NULL;
        free(s->name);
        free(s->kind);
        free(s->url);
        free(s->series_up);
        free(s->series_seconds);
        json_decref(s->info);
        free(s);
        return NULL;
}

SourceSet *source_set_free(SourceSet *set) {
        if (!set)
                return NULL;
        for (size_t i = 0; i < set->n; i++)
                source_free(set->sources[i]);
        free(set->sources);
        free(set);
        return NULL;
}

static int set_reserve(SourceSet *set) {
        Source **p;
        size_t n;

        if (set->n < set->allocated)
                return 0;
        n = set->allocated ? set->allocated * 2 : 8;
        p = reallocarray(set->sources, n, sizeof(*p));
        if (!p)
                return -ENOMEM;
        set->sources = p;
        set->allocated = n;
        return 0;
}

int source_set_add(SourceSet *set, const char *name, const char *kind, const char *url,
                   Source **ret) {
        Source *s;

        if (!set || !name || !*name || !kind)
                return -EINVAL;
        if (set_reserve(set) < 0)
                return -ENOMEM;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->set = set;
        s->name = strdup(name);
        s->kind = strdup(kind);
        s->url = url ? redact_url(url) : NULL;
        s->series_up = strjoin(name, ".up", NULL);
        s->series_seconds = strjoin(name, ".poll_seconds", NULL);
        if (!s->name || !s->kind || (url && !s->url) || !s->series_up || !s->series_seconds) {
                source_free(s);
                return -ENOMEM;
        }

        set->sources[set->n++] = s;
        if (ret)
                *ret = s;
        return 0;
}

static void source_write_series(Source *s, uint64_t started_usec, uint64_t duration_usec, bool up) {
        int64_t ts_ms = (int64_t) (started_usec / 1000);
        int r;

        r = store_append(s->set->store, s->series_up, ts_ms, up ? 1.0 : 0.0);
        if (r >= 0)
                r = store_append(s->set->store, s->series_seconds, ts_ms, (double) duration_usec / 1e6);
        if (r < 0)
                log_source(LOG_WARNING, s->name, "cannot queue the poll's up/poll_seconds samples: %s",
                           strerror(-r));
}

static void source_record(Source *s, uint64_t started_usec, uint64_t duration_usec, bool up) {
        s->polled = true;
        s->up = up;
        s->last_poll_usec = started_usec;
        s->last_duration_usec = duration_usec;
        s->polls++;
        source_write_series(s, started_usec, duration_usec, up);
}

void source_report_up(Source *s, uint64_t started_usec, uint64_t duration_usec) {
        if (!s)
                return;

        if (s->consecutive_failures > 0)
                log_source(LOG_INFO, s->name, "polls succeed again after %u failed (last error: %s)",
                           s->consecutive_failures, s->last_error);
        else if (!s->polled)
                log_source(LOG_DEBUG, s->name, "first poll succeeded");

        s->consecutive_failures = 0;
        source_record(s, started_usec, duration_usec, true);
}

void source_report_down(Source *s, uint64_t started_usec, uint64_t duration_usec,
                        const char *fmt, ...) {
        va_list ap;

        if (!s)
                return;

        va_start(ap, fmt);
        (void) vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
        va_end(ap);
        utf8_sanitize(s->last_error, 1);
        /* An upstream's error text may quote the request's signature or a
         * token: none of it reaches the API or the log. */
        redact_secrets(s->last_error);
        s->last_error_at_usec = started_usec;
        s->failures++;
        s->consecutive_failures++;

        if (s->consecutive_failures == 1)
                log_source(LOG_WARNING, s->name, "poll of %s failed: %s", s->url ? s->url : s->name,
                           s->last_error);
        else
                log_source(LOG_DEBUG, s->name, "poll of %s failed again (%u in a row): %s",
                           s->url ? s->url : s->name, s->consecutive_failures, s->last_error);

        source_record(s, started_usec, duration_usec, false);
}

const char *source_name(const Source *s) {
        return s ? s->name : NULL;
}

unsigned source_consecutive_failures(const Source *s) {
        return s ? s->consecutive_failures : 0;
}

void source_set_count(const SourceSet *set, unsigned *ret_up, unsigned *ret_total) {
        unsigned up = 0;

        for (size_t i = 0; set && i < set->n; i++)
                if (set->sources[i]->polled && set->sources[i]->up)
                        up++;
        if (ret_up)
                *ret_up = up;
        if (ret_total)
                *ret_total = set ? (unsigned) set->n : 0;
}

static json_t *time_or_null(bool have, uint64_t usec) {
        char buf[32];

        return have ? json_string(units_format_iso8601(usec, buf, sizeof(buf))) : NULL;
}

static json_t *source_to_json(const Source *s) {
        bool failed_once = s->failures > 0;
        json_t *o;

        o = json_pack("{s:s, s:s, s:s?, s:o?, s:o?, s:o?, s:s?, s:o?, s:I, s:I}",
                         "name", s->name,
                         "kind", s->kind,
                         "url", s->url,
                         "up", s->polled ? json_boolean(s->up) : NULL,
                         "last_poll", time_or_null(s->polled, s->last_poll_usec),
                         "last_duration_ms",
                         s->polled ? json_real((double) s->last_duration_usec / 1000.0) : NULL,
                         "last_error", failed_once ? s->last_error : NULL,
                         "last_error_at", time_or_null(failed_once, s->last_error_at_usec),
                         "polls", (json_int_t) s->polls,
                         "failures", (json_int_t) s->failures);
        if (o && s->info)
                json_object_update(o, s->info);
        return o;
}

void source_set_info(Source *s, const char *key, json_t *value) {
        if (!value || json_is_null(value)) {
                json_decref(value);
                if (s->info)
                        json_object_del(s->info, key);
                return;
        }
        if (!s->info)
                s->info = json_object();
        if (!s->info)
                json_decref(value);
        if (!s->info || json_object_set_new(s->info, key, value) < 0)
                log_source(LOG_WARNING, s->name, "cannot record %s: out of memory", key);
}

json_t *source_set_to_json(const SourceSet *set) {
        json_t *list;

        list = json_array();
        if (!list)
                return NULL;
        for (size_t i = 0; set && i < set->n; i++)
                if (json_array_append_new(list, source_to_json(set->sources[i])) < 0) {
                        json_decref(list);
                        return NULL;
                }

        return json_pack("{s:o}", "sources", list);
}
