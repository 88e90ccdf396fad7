/* "Did you mean" for unknown keys and section kinds: the nearest candidate
 * by edit distance, and the list of all candidates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-internal.h"
#include "util/strdist.h"

const char *config_suggest(const char *word, const char *const *candidates, size_t n) {
        size_t best = SIZE_MAX, len = strlen(word);
        const char *found = NULL;

        for (size_t i = 0; i < n; i++) {
                size_t d = strdist(word, candidates[i], best == SIZE_MAX ? 2 : best);

                if (d < best) {
                        best = d;
                        found = candidates[i];
                }
        }
        /* At most 2 edits, and at most one per three characters or so:
         * "op" may be a typo of "ox", but "db" is not one of "op". */
        if (!found || best > 2 || best * 3 > len + 1)
                return NULL;
        return found;
}

int config_suggestion(const char *word, const char *const *candidates, size_t n, char *buf, size_t size) {
        const char *near = config_suggest(word, candidates, n);
        size_t at = 0;
        int k;

        k = near ? snprintf(buf, size, ", did you mean \"%s\"?", near) : snprintf(buf, size, "%s", "");
        if (k < 0 || (size_t) k >= size)
                return -ENOBUFS;
        at = (size_t) k;
        for (size_t i = 0; i < n; i++) {
                k = snprintf(buf + at, size - at, "%s%s", i == 0 ? " (one of: " : ", ", candidates[i]);
                if (k < 0 || (size_t) k >= size - at)
                        return -ENOBUFS;
                at += (size_t) k;
        }
        if (n > 0 && snprintf(buf + at, size - at, ")") >= (int) (size - at))
                return -ENOBUFS;
        return 0;
}
