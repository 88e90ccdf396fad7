#include <string.h>

#include "util/strdist.h"

#define STRDIST_MAX_LEN 255

size_t strdist_levenshtein(const char *a, const char *b, size_t max) {
        size_t la = strlen(a), lb = strlen(b), row[STRDIST_MAX_LEN + 1];

        if (la > STRDIST_MAX_LEN || lb > STRDIST_MAX_LEN || (la > lb ? la - lb : lb - la) > max)
                return max + 1;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0], best;

                row[0] = best = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j], d = diag + (a[i - 1] != b[j - 1]);

                        if (up + 1 < d)
                                d = up + 1;
                        if (row[j - 1] + 1 < d)
                                d = row[j - 1] + 1;
                        diag = up;
                        row[j] = d;
                        if (d < best)
                                best = d;
                }
                /* Every later row is at least this row's minimum. */
                if (best > max)
                        return max + 1;
        }
        return row[lb] > max ? max + 1 : row[lb];
}
