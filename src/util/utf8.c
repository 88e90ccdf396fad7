#include <string.h>

#include "util/utf8.h"

size_t utf8_sequence_len(const uint8_t *p, size_t left) {
        uint8_t c = p[0], lo = 0x80, hi = 0xBF;
        size_t n;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                n = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
                n = 3;
                lo = c == 0xE0 ? 0xA0 : 0x80;
                hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
                n = 4;
                lo = c == 0xF0 ? 0x90 : 0x80;
                hi = c == 0xF4 ? 0x8F : 0xBF;
        } else
                return 0;

        if (left < n || p[1] < lo || p[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (p[i] < 0x80 || p[i] > 0xBF)
                        return 0;
        return n;
}

void utf8_sanitize(char *text, int one_line) {
        uint8_t *s = (uint8_t *) text;
        size_t left = strlen(text);

        while (left > 0) {
                size_t n = utf8_sequence_len(s, left);

                if (n == 0) {
                        *s = '?';
                        n = 1;
                } else if (one_line && n == 1 && (*s < 0x20 || *s == 0x7f))
                        *s = ' ';
                s += n;
                left -= n;
        }
}
