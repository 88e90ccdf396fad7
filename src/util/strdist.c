#include <ctype.h>
#include <string.h>

#include "util/strdist.h"

#define STRDIST_MAX_LEN 255

static int same(char x, char y) {
        return tolower((unsigned char) x) == tolower((unsigned char) y);
}

size_t strdist(const char *a, const char *b, size_t max) {
        size_t la = strlen(a), lb = strlen(b);
        size_t rows[3][STRDIST_MAX_LEN + 1], *two = rows[0], *prev = rows[1], *cur = rows[2];

        if (la > STRDIST_MAX_LEN || lb > STRDIST_MAX_LEN || (la > lb ? la - lb : lb - la) > max)
                return max + 1;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t best = cur[0] = i, *t;

                for (size_t j = 1; j <= lb; j++) {
                        size_t d = prev[j - 1] + !same(a[i - 1], b[j - 1]);

                        if (prev[j] + 1 < d)
                                d = prev[j] + 1;
                        if (cur[j - 1] + 1 < d)
                                d = cur[j - 1] + 1;
                        if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]) &&
                            two[j - 2] + 1 < d)
                                d = two[j - 2] + 1;
                        cur[j] = d;
                        if (d < best)
                                best = d;
                }
                /* NB: no later row has a smaller minimum (a swap reaches back
                 * two rows, but never below the row between). */
                if (best > max)
                        return max + 1;
                t = two, two = prev, prev = cur, cur = t;
        }
        return prev[lb] > max ? max + 1 : prev[lb];
}
