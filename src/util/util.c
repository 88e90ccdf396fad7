#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

static uint64_t clock_usec(clockid_t id) {
        struct timespec ts;

        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000ULL;
}

uint64_t now_monotonic_usec(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

uint64_t now_realtime_usec(void) {
        return clock_usec(CLOCK_REALTIME);
}

char *strjoin(const char *first, ...) {
        size_t len = 0, off = 0;
        const char *p;
        va_list ap;
        char *s;

        va_start(ap, first);
        for (p = first; p; p = va_arg(ap, const char *))
                len += strlen(p);
        va_end(ap);
        s = malloc(len + 1);
        if (!s)
                return NULL;
        va_start(ap, first);
        for (p = first; p; p = va_arg(ap, const char *)) {
                size_t n = strlen(p);
                memcpy(s + off, p, n);
                off += n;
        }
        va_end(ap);
        s[off] = '\0';
        return s;
}

int set_error(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return r;
        free(*ret_error);
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}
