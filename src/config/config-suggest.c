/* "Did you mean" for unknown keys and section kinds: the nearest candidate
 * by edit distance, and the list of all candidates. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-internal.h"

/* Longer words are not compared: no key or kind is near them. */
#define SUGGEST_MAX_LEN 64

static size_t min3(size_t a, size_t b, size_t c) {
        size_t m = a < b ? a : b;

        return m < c ? m : c;
}

/* Optimal string alignment distance (Levenshtein plus the transposition of
 * two neighbours), ignoring case: "memory_ulr" is 1 from "memory_url". */
static size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b), d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];

        if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
                return SIZE_MAX;
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        int ca = tolower((unsigned char) a[i - 1]), cb = tolower((unsigned char) b[j - 1]);
                        size_t cost = ca != cb;

                        d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
                        if (i > 1 && j > 1 && ca == tolower((unsigned char) b[j - 2]) &&
                            tolower((unsigned char) a[i - 2]) == cb && d[i - 2][j - 2] + 1 < d[i][j])
                                d[i][j] = d[i - 2][j - 2] + 1;
                }
        return d[la][lb];
}

const char *config_suggest(const char *word, const char *const *candidates, size_t n) {
        size_t best = SIZE_MAX, len = strlen(word);
        const char *found = NULL;

        for (size_t i = 0; i < n; i++) {
                size_t d = edit_distance(word, candidates[i]);

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
