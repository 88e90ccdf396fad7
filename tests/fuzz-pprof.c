/* libFuzzer target for the pprof decoder: whatever the bytes, pprof_decode
 * returns 0 with a summary or an error with a message, and never reads out
 * of bounds, leaks or runs into undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "probes/pprof-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PprofSummary *s = NULL;
        char error[256] = "";
        json_t *j;
        int r;

        r = pprof_decode(data, size, 4 * 1024 * 1024, &s, error, sizeof error);
        if (r < 0) {
                if (s || !error[0])
                        abort();
                return 0;
        }
        if (!s || s->top_type >= s->n_types || s->n_top > PPROF_TOP_MAX)
                abort();
        j = pprof_summary_to_json(s);
        if (!j)
                abort();
        free(json_dumps(j, 0));
        json_decref(j);
        pprof_summary_free(s);
        return 0;
}
