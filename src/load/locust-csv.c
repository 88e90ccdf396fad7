/* Reading Locust's CSV files: RFC 4180 fields (Python's csv module quotes
 * a field holding a comma, a quote or a line break), columns by name. */
#include "load/locust-csv.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define CSV_MAX_FIELDS 64

const char *const load_exec_percentiles[LOAD_EXEC_PERCENTILES] = {
        "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
};

typedef enum ColumnKind {
        COL_U64,
        COL_I64,
        COL_MS,         /* a number; "N/A" reads NAN */
        COL_NUMBER,
} ColumnKind;

typedef struct Column {
        const char *name;
        ColumnKind kind;
        size_t offset;          /* in LocustRow */
} Column;

#define PCT(i) { NULL, COL_MS, offsetof(LocustRow, pct_ms) + (i) * sizeof(double) }

static const Column stats_columns[] = {
        { "Request Count", COL_U64, offsetof(LocustRow, requests) },
        { "Failure Count", COL_U64, offsetof(LocustRow, failures) },
        { "Median Response Time", COL_MS, offsetof(LocustRow, median_ms) },
        { "Average Response Time", COL_MS, offsetof(LocustRow, average_ms) },
        { "Min Response Time", COL_MS, offsetof(LocustRow, min_ms) },
        { "Max Response Time", COL_MS, offsetof(LocustRow, max_ms) },
        { "Requests/s", COL_NUMBER, offsetof(LocustRow, rps) },
        { "Failures/s", COL_NUMBER, offsetof(LocustRow, failures_per_s) },
        PCT(0), PCT(1), PCT(2), PCT(3), PCT(4), PCT(5), PCT(6), PCT(7), PCT(8), PCT(9), PCT(10),
};

static const Column history_columns[] = {
        { "Timestamp", COL_I64, offsetof(LocustRow, timestamp) },
        { "User Count", COL_U64, offsetof(LocustRow, users) },
        { "Total Request Count", COL_U64, offsetof(LocustRow, requests) },
        { "Total Failure Count", COL_U64, offsetof(LocustRow, failures) },
        { "Total Median Response Time", COL_MS, offsetof(LocustRow, median_ms) },
        { "Total Average Response Time", COL_MS, offsetof(LocustRow, average_ms) },
        { "Total Min Response Time", COL_MS, offsetof(LocustRow, min_ms) },
        { "Total Max Response Time", COL_MS, offsetof(LocustRow, max_ms) },
        { "Requests/s", COL_NUMBER, offsetof(LocustRow, rps) },
        { "Failures/s", COL_NUMBER, offsetof(LocustRow, failures_per_s) },
        PCT(0), PCT(1), PCT(2), PCT(3), PCT(4), PCT(5), PCT(6), PCT(7), PCT(8), PCT(9), PCT(10),
};

#define N_COLUMNS (ELEMENTSOF(history_columns) > ELEMENTSOF(stats_columns) ? ELEMENTSOF(history_columns) \
                                                                              : ELEMENTSOF(stats_columns))

static const char *column_name(const Column *c, size_t i, size_t n) {
        /* The percentiles are the last LOAD_EXEC_PERCENTILES of each table. */
        return c->name ?: load_exec_percentiles[i - (n - LOAD_EXEC_PERCENTILES)];
}

/* Splits `line` in place into at most CSV_MAX_FIELDS fields.  Returns the
 * count, or -EINVAL for an unclosed quote or too many fields. */
static int csv_split(char *line, char **fields) {
        char *r = line, *w = line;
        int n = 0;

        line[strcspn(line, "\r\n")] = '\0';
        for (;;) {
                bool quoted = *r == '"';

                if (n == CSV_MAX_FIELDS)
                        return -EINVAL;
                fields[n++] = w;
                if (quoted) {
                        r++;
                        for (;;) {
                                if (!*r)
                                        return -EINVAL;
                                if (*r == '"' && r[1] == '"') {
                                        *w++ = '"';
                                        r += 2;
                                } else if (*r == '"') {
                                        r++;
                                        break;
                                } else
                                        *w++ = *r++;
                        }
                }
                while (*r && *r != ',')
                        *w++ = *r++;
                if (!*r) {
                        *w = '\0';
                        return n;
                }
                *w++ = '\0';
                r++;
        }
}

static int read_value(const Column *c, const char *text, LocustRow *row) {
        char *end;
        void *p = (char *) row + c->offset;

        if (c->kind == COL_MS && strcmp(text, "N/A") == 0) {
                *(double *) p = NAN;
                return 0;
        }
        errno = 0;
        if (c->kind == COL_U64) {
                if (text[0] == '-')
                        return -EINVAL;
                *(uint64_t *) p = strtoull(text, &end, 10);
        } else if (c->kind == COL_I64)
                *(int64_t *) p = strtoll(text, &end, 10);
        else
                *(double *) p = strtod(text, &end);
        return errno || end == text || *end ? -EINVAL : 0;
}

typedef struct Reader {
        const char *path;
        const Column *columns;
        size_t n_columns;
        int index[N_COLUMNS];
        int name_index;
        unsigned line;
        char **ret_error;
} Reader;

static int read_header(Reader *rd, char *line) {
        char *fields[CSV_MAX_FIELDS];
        int n = csv_split(line, fields);

        if (n < 0)
                return set_error(rd->ret_error, -EINVAL, "%s:1: not a CSV header line", rd->path);
        rd->name_index = -1;
        for (int j = 0; j < n; j++)
                if (strcmp(fields[j], "Name") == 0)
                        rd->name_index = j;
        for (size_t i = 0; i < rd->n_columns; i++) {
                const char *name = column_name(&rd->columns[i], i, rd->n_columns);

                rd->index[i] = -1;
                for (int j = 0; j < n; j++)
                        if (strcmp(fields[j], name) == 0)
                                rd->index[i] = j;
                if (rd->index[i] < 0)
                        return set_error(rd->ret_error, -EINVAL, "%s:1: no column \"%s\" (is it Locust's CSV?)",
                                         rd->path, name);
        }
        if (rd->name_index < 0)
                return set_error(rd->ret_error, -EINVAL, "%s:1: no column \"Name\" (is it Locust's CSV?)", rd->path);
        return 0;
}

/* 1: the line is an Aggregated row, read into *row; 0: another row. */
static int read_row(Reader *rd, char *line, LocustRow *row) {
        char *fields[CSV_MAX_FIELDS];
        int n = csv_split(line, fields);

        if (n < 0)
                return set_error(rd->ret_error, -EINVAL, "%s:%u: not a CSV line (an unclosed quote?)", rd->path,
                                 rd->line);
        if (rd->name_index >= n || strcmp(fields[rd->name_index], "Aggregated") != 0)
                return 0;
        *row = (LocustRow) {};
        for (size_t i = 0; i < rd->n_columns; i++) {
                const char *name = column_name(&rd->columns[i], i, rd->n_columns);

                if (rd->index[i] >= n)
                        return set_error(rd->ret_error, -EINVAL, "%s:%u: no value in column \"%s\"", rd->path,
                                         rd->line, name);
                if (read_value(&rd->columns[i], fields[rd->index[i]], row) < 0)
                        return set_error(rd->ret_error, -EINVAL, "%s:%u: \"%s\" in column \"%s\" is not a %s",
                                         rd->path, rd->line, fields[rd->index[i]], name,
                                         rd->columns[i].kind == COL_U64 ? "count" : "number");
        }
        return 1;
}

/* Reads `path`, calling fn for each Aggregated row; returns how many there
 * were, or a negative errno with a reason. */
static int read_file(Reader *rd, int (*fn)(const LocustRow *row, void *userdata), void *userdata) {
        FILE *f = fopen(rd->path, "re");
        char *line = NULL;
        size_t size = 0;
        int r = 0, count = 0;

        if (!f) {
                int e = errno;

                return set_error(rd->ret_error, -e, "%s: cannot be read: %s", rd->path, strerror(e));
        }
        if (getline(&line, &size, f) < 0)
                r = set_error(rd->ret_error, -EINVAL, "%s: empty, no header line", rd->path);
        else
                r = read_header(rd, line);
        rd->line = 1;
        while (r >= 0 && getline(&line, &size, f) >= 0) {
                LocustRow row;

                rd->line++;
                r = read_row(rd, line, &row);
                if (r > 0) {
                        count++;
                        r = fn(&row, userdata);
                }
        }
        if (r >= 0 && ferror(f))
                r = set_error(rd->ret_error, -EIO, "%s: cannot be read", rd->path);
        free(line);
        fclose(f);
        return r < 0 ? r : count;
}

static int keep_row(const LocustRow *row, void *userdata) {
        *(LocustRow *) userdata = *row;
        return 0;
}

int load_exec_read_stats(const char *path, LocustRow *ret, char **ret_error) {
        Reader rd = { .path = path, .columns = stats_columns, .n_columns = ELEMENTSOF(stats_columns),
                      .ret_error = ret_error };
        int r = read_file(&rd, keep_row, ret);

        if (r == 0)
                return set_error(ret_error, -ENODATA, "%s: no Aggregated row", path);
        return r < 0 ? r : 0;
}

int load_exec_read_history(const char *path, int (*fn)(const LocustRow *row, void *userdata), void *userdata,
                           char **ret_error) {
        Reader rd = { .path = path, .columns = history_columns, .n_columns = ELEMENTSOF(history_columns),
                      .ret_error = ret_error };
        int r = read_file(&rd, fn, userdata);

        return r < 0 ? r : 0;
}
