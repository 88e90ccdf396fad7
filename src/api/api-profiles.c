/* The /v1/profiles routes: the list of stored pprof profiles, one profile's
 * raw bytes as a download, and its summary (sample totals and top
 * functions). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api-internal.h"
#include "util/units.h"

#define API_PROFILE_SPAN      USEC_PER_DAY
#define API_PROFILE_LIMIT     100UL
#define API_PROFILE_LIMIT_MAX 1000UL
/* Longest target or kind put into a download's file name. */
#define API_FILENAME_PART     64U

#define TYPE_OCTETS "application/octet-stream"

/* The query of /v1/profiles, checked; an empty target or kind means any. */
typedef struct ProfileQuery {
        const char *target, *kind;
        uint64_t from_usec, to_usec;
        size_t limit;
} ProfileQuery;

/* The callback of store_profile_get(). */
typedef int (*ProfileTakeFn)(const StoreProfile *p, const void *data, size_t size, void *u);

static bool profile_kind_known(const char *kind) {
        return strcmp(kind, "heap") == 0 || strcmp(kind, "goroutine") == 0 ||
               strcmp(kind, "cpu") == 0;
}

/* An argument that may be absent or empty, both meaning "any". */
static const char *query_filter(Request *r, const char *key) {
        const char *v = api_query(r, key);

        return v && *v ? v : NULL;
}

static int profile_query(Request *r, ProfileQuery *q) {
        q->target = query_filter(r, "target");
        q->kind = query_filter(r, "kind");
        if (q->kind && !profile_kind_known(q->kind)) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                                "kind: \"%s\" is not heap, goroutine or cpu", q->kind);
                return -EINVAL;
        }
        if (api_query_range(r, API_PROFILE_SPAN, &q->from_usec, &q->to_usec) < 0)
                return -EINVAL;
        if (q->from_usec > q->to_usec) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "from is later than to");
                return -EINVAL;
        }
        return api_query_limit(r, API_PROFILE_LIMIT, API_PROFILE_LIMIT_MAX, &q->limit);
}

/* {"inuse_space": 123, ...} from a stored summary's sample_types; empty when
 * the summary holds none. */
static json_t *profile_totals(const char *summary) {
        json_t *s = summary ? json_loads(summary, 0, NULL) : NULL, *totals = json_object(), *t;
        size_t i;

        json_array_foreach(json_object_get(s, "sample_types"), i, t) {
                const char *type = json_string_value(json_object_get(t, "type"));
                const json_t *total = json_object_get(t, "total");

                if (type && json_is_number(total) &&
                    json_object_set_new(totals, type,
                                        api_json_number(json_number_value(total))) < 0) {
                        json_decref(totals);
                        totals = NULL;
                        break;
                }
        }
        json_decref(s);
        return totals;
}

static const char *profile_time(const StoreProfile *p, char *buf, size_t n) {
        return units_format_iso8601((uint64_t) p->ts_ms * USEC_PER_MSEC, buf, n);
}

static int profile_add(const StoreProfile *p, void *u) {
        char iso[32], url[64];
        json_t *j;

        snprintf(url, sizeof url, "/v1/profiles/%" PRId64, p->id);
        j = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:o,s:s}", "id", (json_int_t) p->id,
                      "target", p->target, "kind", p->kind,
                      "time", profile_time(p, iso, sizeof iso),
                      "duration_ms", (json_int_t) p->duration_ms, "bytes", (json_int_t) p->size,
                      "totals", profile_totals(p->summary), "url", url);
        return json_array_append_new(u, j) < 0 ? -ENOMEM : 0;
}

void api_route_profiles(Request *r) {
        ProfileQuery q;
        json_t *list;
        Store *s;
        int k;

        if (profile_query(r, &q) < 0)
                return;
        s = api_borrow_store(r);
        if (!s)
                return;
        list = json_array();
        k = list ? store_profile_list(s, q.target, q.kind, (int64_t) (q.from_usec / USEC_PER_MSEC),
                                      (int64_t) (q.to_usec / USEC_PER_MSEC), q.limit, profile_add,
                                      list)
                 : -ENOMEM;
        api_release_store(r, s);
        api_reply_list(r, "profiles", list, k, api_render_profiles_text);
}

/* A piece of a file name: target and kind come from the config, but a
 * quote or slash must never reach the Content-Disposition header. */
static void filename_part(const char *in, char *out, size_t n) {
        size_t i;

        for (i = 0; in[i] && i + 1 < n; i++)
                out[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                                in[i]) ? in[i] : '_';
        out[i] = '\0';
}

/* The raw profile, copied while the connection is held: the blob is only
 * valid until the statement resets. */
typedef struct ProfileBytes {
        char *data;
        size_t size;
        char *disposition;
} ProfileBytes;

static int profile_take_bytes(const StoreProfile *p, const void *data, size_t size, void *u) {
        char target[API_FILENAME_PART + 1], kind[API_FILENAME_PART + 1];
        ProfileBytes *b = u;

        filename_part(p->target, target, sizeof target);
        filename_part(p->kind, kind, sizeof kind);
        if (asprintf(&b->disposition, "attachment; filename=\"%s-%s-%" PRId64 ".pb.gz\"",
                     target, kind, p->id) < 0) {
                b->disposition = NULL;
                return -ENOMEM;
        }
        b->data = malloc(size ? size : 1);
        if (!b->data)
                return -ENOMEM;
        memcpy(b->data, data, size);
        b->size = size;
        return 0;
}

/* The stored summary with the profile's identity added. */
static int profile_take_top(const StoreProfile *p, const void *data, size_t size, void *u) {
        json_t *j = p->summary ? json_loads(p->summary, 0, NULL) : NULL;
        char iso[32];

        if (!json_is_object(j)) {
                json_decref(j);
                j = json_object();
        }
        if (!j || json_object_set_new(j, "id", json_integer(p->id)) < 0 ||
            json_object_set_new(j, "target", json_string(p->target)) < 0 ||
            json_object_set_new(j, "kind", json_string(p->kind)) < 0 ||
            json_object_set_new(j, "time", json_string(profile_time(p, iso, sizeof iso))) < 0) {
                json_decref(j);
                return -ENOMEM;
        }
        *(json_t **) u = j;
        return 0;
}

/* Hands profile `id` to `take`: 0 when it was found and taken, else a
 * negative errno after answering 404 or 503. */
static int profile_fetch(Request *r, int64_t id, ProfileTakeFn take, void *u) {
        Store *s;
        int k;

        s = api_borrow_store(r);
        if (!s)
                return -EAGAIN;
        k = store_profile_get(s, id, take, u);
        api_release_store(r, s);
        if (k == -ENOENT)
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                                "profile %" PRId64 " is not known", id);
        else if (k < 0)
                api_reply_store_unavailable(r, k);
        return k < 0 ? k : 0;
}

static void profile_raw(Request *r, int64_t id) {
        ProfileBytes b = {};

        if (profile_fetch(r, id, profile_take_bytes, &b) < 0) {
                free(b.data);
                free(b.disposition);
                return;
        }
        api_reply_take(r, MHD_HTTP_OK, TYPE_OCTETS, b.data, b.size);
        free(r->disposition);
        r->disposition = b.disposition;
}

static void profile_top(Request *r, int64_t id) {
        json_t *j = NULL;

        if (profile_fetch(r, id, profile_take_top, &j) >= 0)
                api_reply_render(r, MHD_HTTP_OK, j, api_render_top_text);
        json_decref(j);
}

void api_route_profile(Request *r) {
        size_t n = strcspn(r->arg, "/");
        const char *rest = r->arg + n;
        int64_t id;

        if (n == 0 || strspn(r->arg, "0123456789") != n) {
                api_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
                                "profile id: \"%.*s\" is not a number", (int) n, r->arg);
                return;
        }
        /* Past 18 digits a number may not fit an int64_t: no id is that large. */
        if (n > 18) {
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "profile %.*s is not known",
                                (int) n, r->arg);
                return;
        }
        id = (int64_t) strtoll(r->arg, NULL, 10);
        if (*rest == '\0')
                profile_raw(r, id);
        else if (strcmp(rest, "/top") == 0)
                profile_top(r, id);
        else
                api_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such path: /v1/profiles/%s",
                                r->arg);
}
