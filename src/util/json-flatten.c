#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util/json-flatten.h"

typedef struct Walk {
        int (*fn)(const char *name, double value, void *u);
        void *u;
        int count;
        char name[JSON_FLATTEN_NAME_MAX + 1];
} Walk;

static bool key_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == ':' || c == '-';
}

/* Appends "." + the sanitised key to the name of length `len`.  Returns the
 * new length, or -1 when the result would exceed JSON_FLATTEN_NAME_MAX.  An
 * empty key becomes "_" so that no name has an empty component. */
static int name_push(char *name, size_t len, const char *key) {
        size_t klen = strlen(key), need;

        need = len + (len > 0) + (klen > 0 ? klen : 1);
        if (need > JSON_FLATTEN_NAME_MAX)
                return -1;

        if (len > 0)
                name[len++] = '.';
        if (klen == 0)
                name[len++] = '_';
        for (size_t i = 0; i < klen; i++)
                name[len++] = key_char_ok(key[i]) ? key[i] : '_';
        name[len] = '\0';
        return (int) len;
}

static int walk_object(Walk *w, const json_t *obj, size_t len, unsigned depth);

/* Returns 0 to go on, < 0 on an error from fn, > 0 when fn asked to stop. */
static int walk_member(Walk *w, const char *key, const json_t *v, size_t len, unsigned depth) {
        int n;

        if (!json_is_number(v) && !json_is_object(v))
                return 0;

        n = name_push(w->name, len, key);
        if (n < 0)
                return 0;

        if (json_is_object(v)) {
                if (depth >= JSON_FLATTEN_DEPTH_MAX)
                        return 0;
                return walk_object(w, v, (size_t) n, depth + 1);
        }

        w->count++;
        return w->fn(w->name, json_number_value(v), w->u);
}

/* `depth` is the depth of obj's members: 1 for the root's. */
static int walk_object(Walk *w, const json_t *obj, size_t len, unsigned depth) {
        const char *key;
        json_t *v;

        json_object_foreach((json_t *) obj, key, v) {
                int r = walk_member(w, key, v, len, depth);
                if (r != 0)
                        return r;
        }
        return 0;
}

int json_flatten(const json_t *root, const char *prefix,
                 int (*fn)(const char *name, double value, void *u), void *u) {
        Walk w = { .fn = fn, .u = u };
        size_t plen = prefix ? strlen(prefix) : 0;
        int r;

        if (!json_is_object(root) || !fn)
                return -EINVAL;

        /* A prefix that leaves no room for a key makes every name too long. */
        if (plen >= JSON_FLATTEN_NAME_MAX)
                return 0;
        if (plen > 0)
                memcpy(w.name, prefix, plen);
        w.name[plen] = '\0';

        r = walk_object(&w, root, plen, 1);
        if (r < 0)
                return r;
        return w.count;
}
