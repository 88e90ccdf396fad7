/* UTF-8 validation for text that comes from outside (targets, profiles,
 * URLs) and must go into JSON, which jansson refuses unless it is valid. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0 when the byte there does not
 * start one.  `left` is how many bytes may be read. */
size_t utf8_sequence_len(const uint8_t *p, size_t left);

/* Makes the NUL-terminated `text` valid UTF-8 in place: each byte that does
 * not start a valid sequence becomes '?'; with `one_line`, control
 * characters become ' ' too.  Never changes the length. */
void utf8_sanitize(char *text, int one_line);
