#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "util/json-flatten.h"
#include "util/json-stream.h"

/* Longest number text read; JSON numbers past it are not measurements. */
#define JSON_STREAM_NUMBER_MAX 64

struct JsonStream {
        yajl_handle yajl;
        int (*fn)(const char *name, double value, void *u);
        void *u;

        size_t level;                  /* containers open */
        size_t ignore_from;            /* level of the array or too-deep object being skipped, or 0 */
        unsigned maps;                 /* objects open whose members are read (1 = the root) */
        size_t lens[JSON_FLATTEN_DEPTH_MAX + 2];   /* name length of each such object */
        int key_len;                   /* name length with the current key, -1 if too long */
        size_t prefix_len;
        char name[JSON_FLATTEN_NAME_MAX + 1];

        unsigned count;
        int fn_error;                  /* fn's negative value that stopped the parse */
        bool not_object;
        size_t fed;                    /* bytes fed before this piece */
        char error[JSON_STREAM_ERROR_MAX];
};

static bool key_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == ':' || c == '-';
}

/* As json_flatten's: "." + the sanitised key after the name of length
 * `len`; -1 when too long.  An empty key becomes "_". */
static int name_push(char *name, size_t len, const unsigned char *key, size_t klen) {
        size_t need = len + (len > 0) + (klen > 0 ? klen : 1);

        if (need > JSON_FLATTEN_NAME_MAX)
                return -1;
        if (len > 0)
                name[len++] = '.';
        if (klen == 0)
                name[len++] = '_';
        for (size_t i = 0; i < klen; i++)
                name[len++] = key_char_ok((char) key[i]) ? (char) key[i] : '_';
        name[len] = '\0';
        return (int) len;
}

static bool skipping(const JsonStream *s) {
        return s->ignore_from > 0;
}

static int on_start_map(void *ctx) {
        JsonStream *s = ctx;

        s->level++;
        if (skipping(s))
                return 1;
        if (s->level == 1) {
                s->maps = 1;
                s->lens[1] = s->prefix_len;
                return 1;
        }
        /* json_flatten's rule: members of the root are at depth 1, and an
         * object at depth JSON_FLATTEN_DEPTH_MAX is not entered. */
        if (s->key_len < 0 || s->maps >= JSON_FLATTEN_DEPTH_MAX) {
                s->ignore_from = s->level;
                return 1;
        }
        s->lens[++s->maps] = (size_t) s->key_len;
        return 1;
}

static int on_start_array(void *ctx) {
        JsonStream *s = ctx;

        s->level++;
        if (s->level == 1) {
                s->not_object = true;
                return 0;
        }
        if (!skipping(s))
                s->ignore_from = s->level;
        return 1;
}

static int on_end(void *ctx) {
        JsonStream *s = ctx;

        if (skipping(s)) {
                if (s->ignore_from == s->level)
                        s->ignore_from = 0;
        } else
                s->maps--;
        s->level--;
        return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len) {
        JsonStream *s = ctx;

        if (!skipping(s))
                s->key_len = name_push(s->name, s->lens[s->maps], key, len);
        return 1;
}

/* A scalar that is not a number: only a root scalar matters. */
static int on_scalar(JsonStream *s) {
        if (s->level == 0) {
                s->not_object = true;
                return 0;
        }
        return 1;
}

static int on_null(void *ctx) {
        return on_scalar(ctx);
}

static int on_boolean(void *ctx, int b) {
        (void) b;
        return on_scalar(ctx);
}

static int on_string(void *ctx, const unsigned char *v, size_t len) {
        (void) v;
        (void) len;
        return on_scalar(ctx);
}

static int on_number(void *ctx, const char *text, size_t len) {
        JsonStream *s = ctx;
        char buf[JSON_STREAM_NUMBER_MAX + 1];
        int r;

        if (s->level == 0)
                return on_scalar(s);
        if (skipping(s) || s->key_len < 0 || len > JSON_STREAM_NUMBER_MAX)
                return 1;
        memcpy(buf, text, len);
        buf[len] = '\0';
        /* The name may have been cut back by a sibling key: rebuild its end. */
        s->name[s->key_len] = '\0';
        s->count++;
        r = s->fn(s->name, strtod(buf, NULL), s->u);
        if (r < 0) {
                s->fn_error = r;
                return 0;
        }
        return 1;
}

static const yajl_callbacks callbacks = {
        .yajl_null = on_null,
        .yajl_boolean = on_boolean,
        .yajl_number = on_number,
        .yajl_string = on_string,
        .yajl_start_map = on_start_map,
        .yajl_map_key = on_map_key,
        .yajl_end_map = on_end,
        .yajl_start_array = on_start_array,
        .yajl_end_array = on_end,
};

int json_stream_new(const char *prefix, int (*fn)(const char *name, double value, void *u), void *u,
                    JsonStream **ret) {
        size_t plen = prefix ? strlen(prefix) : 0;
        JsonStream *s;

        if (!fn || !ret)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fn = fn;
        s->u = u;
        /* A prefix that leaves no room for a key makes every name too long. */
        s->prefix_len = plen < JSON_FLATTEN_NAME_MAX ? plen : JSON_FLATTEN_NAME_MAX;
        memcpy(s->name, prefix ? prefix : "", s->prefix_len);
        s->key_len = -1;
        s->yajl = yajl_alloc(&callbacks, NULL, s);
        if (!s->yajl) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

JsonStream *json_stream_free(JsonStream *s) {
        if (!s)
                return NULL;
        yajl_free(s->yajl);
        free(s);
        return NULL;
}

/* Turns a yajl status into our return value and error text. */
static int stream_status(JsonStream *s, yajl_status st, const char *data, size_t n) {
        unsigned char *text;
        size_t at;

        if (st == yajl_status_ok)
                return 0;
        if (s->fn_error < 0)
                return s->fn_error;
        /* yajl counts the byte it stopped at as consumed. */
        at = s->fed + (data ? yajl_get_bytes_consumed(s->yajl) : 0);
        if (data && at > s->fed)
                at--;
        if (s->not_object) {
                snprintf(s->error, sizeof(s->error), "JSON is not an object");
                return -EBADMSG;
        }
        text = yajl_get_error(s->yajl, 0, (const unsigned char *) data, n);
        snprintf(s->error, sizeof(s->error), "invalid JSON at byte %zu: %.*s", at,
                 text ? (int) strcspn((char *) text, "\r\n") : 7, text ? (char *) text : "unknown");
        if (text)
                yajl_free_error(s->yajl, text);
        return -EBADMSG;
}

int json_stream_feed(JsonStream *s, const char *data, size_t n) {
        int r;

        if (!s || (!data && n > 0))
                return -EINVAL;
        s->error[0] = '\0';
        r = stream_status(s, yajl_parse(s->yajl, (const unsigned char *) data, n), data, n);
        s->fed += n;
        return r;
}

int json_stream_finish(JsonStream *s, unsigned *ret_count) {
        int r;

        if (!s)
                return -EINVAL;
        s->error[0] = '\0';
        r = stream_status(s, yajl_complete_parse(s->yajl), NULL, 0);
        if (ret_count)
                *ret_count = s->count;
        return r;
}

const char *json_stream_error(const JsonStream *s) {
        return s ? s->error : "";
}
