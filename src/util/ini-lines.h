/* The INI line reader that the configuration file and the AWS credentials
 * file share: libinih does the parsing; this module hands it one physical
 * line per call, so that the caller always knows the line inih is working
 * on, and screens each line first (too long, NUL bytes, invalid UTF-8). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <ini.h>

/* inih's line buffer, in bytes.  Debian's libinih sizes its buffer at run
 * time and defaults to 200 bytes, which STS session tokens (a thousand
 * characters and more) and long URLs or conninfo strings exceed.  Here it is
 * a heap buffer of this size that never grows, so a line is always one
 * reader call: lines of up to 8191 characters are read whole. */
#define INI_LINE_BUFFER 8192

/* Why a line was not handed to inih (it then sees an empty line). */
typedef enum IniLineProblem {
        INI_LINE_OK,
        INI_LINE_TOO_LONG,           /* longer than INI_LINE_BUFFER - 1 characters */
        INI_LINE_NUL,                /* holds a NUL byte */
        INI_LINE_NOT_UTF8,           /* holds a byte that is not valid UTF-8 */
} IniLineProblem;

typedef struct IniLineReader {
        FILE *f;                     /* borrowed: the caller opens and closes it */
        unsigned line;               /* the line read last; 0: none yet */
        int read_errno;              /* > 0: reading failed, and the parse ended early */
        /* Called for every line before inih parses it, with the line as read
         * (up to a NUL byte or the buffer's end).  With a problem, `column`
         * is the 1-based position of the first offending byte. */
        void (*on_line)(void *userdata, const char *text, IniLineProblem problem, size_t column);
        void *userdata;
} IniLineReader;

/* Parses r->f with libinih's settings for both files: the large buffer, no
 * multi-line values, inline "; comments", no stop at the first error.
 * Returns what ini_parse_stream() does: 0, the first line inih could not
 * parse, or -2 when out of memory. */
int ini_lines_parse(IniLineReader *r, ini_handler handler, void *user);

/* A line problem in words, for messages: "line contains a NUL byte". */
const char *ini_line_problem_to_string(IniLineProblem problem);
