/* One physical line per inih reader call, screened before inih sees it. */
#include "util/ini-lines.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util/utf8.h"
#include "util/util.h"

_Static_assert(INI_LINE_BUFFER == 8192, "the message below says 8191 characters");

static const char *const problem_names[] = {
        [INI_LINE_OK] = "line is fine",
        [INI_LINE_TOO_LONG] = "line longer than 8191 characters",
        [INI_LINE_NUL] = "line contains a NUL byte",
        [INI_LINE_NOT_UTF8] = "line is not valid UTF-8",
};

const char *ini_line_problem_to_string(IniLineProblem problem) {
        return (size_t) problem < ELEMENTSOF(problem_names) ? problem_names[problem] : "?";
}

/* 1-based column of the first byte of buf[0..len) that is not valid UTF-8;
 * 0: all valid. */
static size_t first_bad_utf8(const char *buf, size_t len) {
        const uint8_t *p = (const uint8_t *) buf;
        size_t i = 0, n;

        while (i < len) {
                n = utf8_sequence_len(p + i, len - i);
                if (n == 0)
                        return i + 1;
                i += n;
        }
        return 0;
}

/* Reads one line into buf (at most size - 1 bytes, newline included when it
 * fits), byte by byte so that a NUL byte is seen rather than taken for the
 * end of the line.  Returns the stored length; *ret_problem and *ret_column
 * say what was wrong; -1 at the end of the file (or on a read error). */
static long read_line(IniLineReader *r, char *buf, size_t size, IniLineProblem *ret_problem,
                      size_t *ret_column) {
        size_t len = 0, seen = 0;
        int c;

        *ret_problem = INI_LINE_OK;
        *ret_column = 0;
        while ((c = getc_unlocked(r->f)) != EOF) {
                seen++;
                if (c == '\0' && *ret_problem == INI_LINE_OK) {
                        *ret_problem = INI_LINE_NUL;
                        *ret_column = seen;
                }
                if (c == '\n') {
                        if (len + 1 < size)
                                buf[len++] = '\n';
                        break;
                }
                if (len + 1 < size)
                        buf[len++] = (char) c;
                else if (*ret_problem == INI_LINE_OK) {
                        *ret_problem = INI_LINE_TOO_LONG;
                        *ret_column = seen;
                }
        }
        buf[len] = '\0';
        if (ferror(r->f))
                r->read_errno = errno > 0 ? errno : EIO;
        if (seen == 0 || r->read_errno > 0)
                return -1;
        return (long) len;
}

/* inih's reader.  A line with a problem reaches inih as an empty line,
 * rather than in pieces (which inih would take for several lines) or cut
 * at a NUL byte. */
static char *reader_read(char *buf, int size, void *userdata) {
        IniLineReader *r = userdata;
        IniLineProblem problem;
        size_t column;
        long len;

        len = read_line(r, buf, (size_t) size, &problem, &column);
        if (len < 0)
                return NULL;
        r->line++;
        if (problem == INI_LINE_OK) {
                column = first_bad_utf8(buf, (size_t) len);
                if (column > 0)
                        problem = INI_LINE_NOT_UTF8;
        }
        if (r->on_line)
                r->on_line(r->userdata, buf, problem, column);
        if (problem != INI_LINE_OK)
                buf[0] = '\0';
        return buf;
}

int ini_lines_parse(IniLineReader *r, ini_handler handler, void *user) {
        ini_use_stack = false;
        ini_allow_realloc = false;
        ini_initial_alloc = INI_LINE_BUFFER;
        ini_max_line = INI_LINE_BUFFER;
        /* An indented line is a key of its own, not the continuation of the
         * previous value (which would read as a duplicate key). */
        ini_allow_multiline = false;
        ini_allow_inline_comments = true;
        ini_stop_on_first_error = false;
        return ini_parse_stream(reader_read, r, handler, user);
}
