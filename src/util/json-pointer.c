/* RFC 6901 JSON pointers. */
#include "util/json-pointer.h"

#include <stdlib.h>
#include <string.h>

bool json_pointer_valid(const char *ptr) {
        if (!ptr || (ptr[0] && ptr[0] != '/'))
                return false;
        for (const char *p = ptr; (p = strchr(p, '~')); p++)
                if (p[1] != '0' && p[1] != '1')
                        return false;
        return true;
}

/* The reference token [s, s + n) unescaped into `buf` (n + 1 bytes). */
static void unescape(const char *s, size_t n, char *buf) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] == '~' && i + 1 < n) {
                        buf[k++] = s[i + 1] == '1' ? '/' : '~';
                        i++;
                } else
                        buf[k++] = s[i];
        }
        buf[k] = 0;
}

/* Array index: "0" or a decimal without a leading zero. */
static bool array_index(const char *tok, size_t *ret) {
        char *end;
        unsigned long long v;

        if (!tok[0] || (tok[0] == '0' && tok[1]) || strspn(tok, "0123456789") != strlen(tok))
                return false;
        v = strtoull(tok, &end, 10);
        *ret = (size_t) v;
        return true;
}

static json_t *step(json_t *v, const char *tok) {
        size_t i;

        if (json_is_object(v))
                return json_object_get(v, tok);
        if (json_is_array(v) && array_index(tok, &i))
                return json_array_get(v, i);
        return NULL;
}

json_t *json_pointer_get(json_t *root, const char *ptr) {
        json_t *v = root;
        char *buf;

        if (!json_pointer_valid(ptr))
                return NULL;
        buf = malloc(strlen(ptr) + 1);
        if (!buf)
                return NULL;
        for (const char *p = ptr; v && *p == '/';) {
                size_t n = strcspn(p + 1, "/");

                unescape(p + 1, n, buf);
                v = step(v, buf);
                p += 1 + n;
        }
        free(buf);
        return v;
}
