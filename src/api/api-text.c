/* The ?format=text answers: each route's JSON laid out as a table of
 * aligned columns, for a person at a terminal (curl ...?format=text). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/api-internal.h"
#include "util/units.h"

#define TABLE_MAX_COLS 8
#define CELL_MAX       256

typedef char Cells[TABLE_MAX_COLS][CELL_MAX];

/* A text table: column headers and a function that fills one row's cells. */
typedef struct TableSpec {
        const char *headers[TABLE_MAX_COLS];
        void (*fill)(const json_t *row, Cells cells);
} TableSpec;

static const char *cell_text(const json_t *v, char *buf, size_t n) {
        size_t k;

        if (!v || json_is_null(v))
                snprintf(buf, n, "-");
        else if (json_is_string(v))
                snprintf(buf, n, "%s", json_string_value(v));
        else if (json_is_boolean(v))
                snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
        else if (json_is_integer(v))
                snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
                snprintf(buf, n, "%.15g", json_real_value(v));
        else {
                k = json_dumpb(v, buf, n - 1, JSON_COMPACT);
                buf[k < n - 1 ? k : n - 1] = '\0';
        }
        return buf;
}

/* Byte counts of 1 MiB and more are shown in MiB, as perfwatchd(8) says, so
 * that a value and its threshold read in one unit; anything else is the
 * number and its unit. */
static void value_text(const json_t *v, const char *unit, char *buf, size_t n) {
        char num[CELL_MAX];
        double x = v ? json_number_value(v) : 0;

        if (!v || json_is_null(v))
                snprintf(buf, n, "-");
        else if (unit && strcmp(unit, "bytes") == 0 && x >= 1048576.0)
                snprintf(buf, n, "%.1f MiB", x / 1048576.0);
        else
                snprintf(buf, n, "%s%s%s", cell_text(v, num, sizeof num),
                         unit && *unit ? " " : "", unit ? unit : "");
}

/* "run=41 scenario=peak requests=143998", or the evidence's own summary
 * line when it has one (acu_scaling's and zero_data_loss's). */
static void evidence_text(const json_t *ev, char *buf, size_t n) {
        char val[CELL_MAX];
        const char *key;
        json_t *v;
        size_t used = 0;

        buf[0] = '\0';
        if (!json_is_object(ev) || json_is_string(json_object_get(ev, "summary"))) {
                cell_text(json_object_get(ev, "summary") ?: ev, buf, n);
                return;
        }
        json_object_foreach((json_t *) ev, key, v) {
                int k = snprintf(buf + used, n - used, "%s%s=%s", used ? " " : "", key,
                                 cell_text(v, val, sizeof val));
                if (k < 0 || (size_t) k >= n - used)
                        break;
                used += (size_t) k;
        }
}

static void criterion_fill(const json_t *c, Cells cells) {
        const char *unit = json_string_value(json_object_get(c, "unit"));
        const json_t *reason = json_object_get(c, "reason");
        char thr[64];

        cell_text(json_object_get(c, "name"), cells[0], CELL_MAX);
        cell_text(json_object_get(c, "state"), cells[1], CELL_MAX);
        value_text(json_object_get(c, "value"), unit, cells[2], CELL_MAX);
        value_text(json_object_get(c, "threshold"), unit, thr, sizeof thr);
        if (json_object_get(c, "op") && json_object_get(c, "threshold"))
                snprintf(cells[3], CELL_MAX, "%s %s",
                         json_string_value(json_object_get(c, "op")) ?: "?", thr);
        else
                snprintf(cells[3], CELL_MAX, "-");
        if (reason)
                cell_text(reason, cells[4], CELL_MAX);
        else
                evidence_text(json_object_get(c, "evidence"), cells[4], CELL_MAX);
}

static void source_fill(const json_t *s, Cells cells) {
        static const char *const keys[] = {
                "name", "kind", "up", "last_poll", "last_duration_ms", "polls", "failures",
                "last_error",
        };

        for (size_t i = 0; i < TABLE_MAX_COLS; i++)
                cell_text(json_object_get(s, keys[i]), cells[i], CELL_MAX);
}

static void metric_fill(const json_t *m, Cells cells) {
        cell_text(json_object_get(m, "name"), cells[0], CELL_MAX);
        cell_text(json_object_get(m, "last"), cells[1], CELL_MAX);
        cell_text(json_object_get(m, "at"), cells[2], CELL_MAX);
}

static void point_fill(const json_t *p, Cells cells) {
        json_int_t ms = json_integer_value(json_array_get(p, 0));
        char iso[32];

        /* "...:05Z" becomes "...:05.250Z": raw points are milliseconds apart. */
        units_format_iso8601((uint64_t) ms * USEC_PER_MSEC, iso, sizeof iso);
        iso[strcspn(iso, "Z")] = '\0';
        snprintf(cells[0], CELL_MAX, "%s.%03dZ", iso, (int) (ms % 1000));
        cell_text(json_array_get(p, 1), cells[1], CELL_MAX);
}

static void profile_fill(const json_t *p, Cells cells) {
        static const char *const keys[] = {
                "id", "target", "kind", "time", "duration_ms", "bytes",
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                cell_text(json_object_get(p, keys[i]), cells[i], CELL_MAX);
        evidence_text(json_object_get(p, "totals"), cells[6], CELL_MAX);
}

static void sample_type_fill(const json_t *t, Cells cells) {
        const char *unit = json_string_value(json_object_get(t, "unit"));

        cell_text(json_object_get(t, "type"), cells[0], CELL_MAX);
        value_text(json_object_get(t, "total"), unit, cells[1], CELL_MAX);
}

static void route_fill(const json_t *route, Cells cells) {
        const json_t *p;
        size_t i, used = 0;

        cell_text(json_object_get(route, "route"), cells[0], CELL_MAX);
        cells[1][0] = '\0';
        json_array_foreach(json_object_get(route, "params"), i, p) {
                int k = snprintf(cells[1] + used, CELL_MAX - used, "%s%s", i ? "," : "",
                                 json_string_value(p) ?: "?");
                if (k < 0 || (size_t) k >= CELL_MAX - used)
                        break;
                used += (size_t) k;
        }
        cell_text(json_object_get(route, "about"), cells[2], CELL_MAX);
}

/* A row already formatted: an array of strings, one per column. */
static void strings_fill(const json_t *row, Cells cells) {
        for (size_t i = 0; i < TABLE_MAX_COLS; i++)
                cell_text(json_array_get(row, i), cells[i], CELL_MAX);
}

static void scenario_fill(const json_t *sc, Cells cells) {
        static const char *const keys[] = { "name", "model", "enabled", "schedule", "next_run_at" };
        const json_t *last = json_object_get(sc, "last_run");

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                cell_text(json_object_get(sc, keys[i]), cells[i], CELL_MAX);
        if (json_is_object(last))
                snprintf(cells[5], CELL_MAX, "%" JSON_INTEGER_FORMAT " %s",
                         json_integer_value(json_object_get(last, "id")),
                         json_string_value(json_object_get(last, "state")) ?: "?");
        else
                snprintf(cells[5], CELL_MAX, "-");
        cell_text(json_object_get(json_object_get(last, "latency_ms"), "p95"), cells[6], CELL_MAX);
        cell_text(json_object_get(sc, "active_run"), cells[7], CELL_MAX);
}

static void run_fill(const json_t *run, Cells cells) {
        static const char *const keys[] = {
                "id", "scenario", "state", "started_at", "duration_s", "requests", "ok",
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                cell_text(json_object_get(run, keys[i]), cells[i], CELL_MAX);
        cell_text(json_object_get(json_object_get(run, "latency_ms"), "p95"), cells[7], CELL_MAX);
}

static const TableSpec criteria_table = {
        { "NAME", "STATE", "VALUE", "THRESHOLD", "DETAIL" }, criterion_fill,
};
static const TableSpec sources_table = {
        { "NAME", "KIND", "UP", "LAST POLL", "MS", "POLLS", "FAILS", "LAST ERROR" }, source_fill,
};
static const TableSpec metrics_table = { { "NAME", "LAST", "AT" }, metric_fill };
static const TableSpec points_table = { { "TIME", "VALUE" }, point_fill };
static const TableSpec profiles_table = {
        { "ID", "TARGET", "KIND", "TIME", "MS", "BYTES", "TOTALS" }, profile_fill,
};
static const TableSpec sample_types_table = { { "TYPE", "TOTAL" }, sample_type_fill };
static const TableSpec top_table = { { "FLAT", "FLAT%", "FUNCTION" }, strings_fill };
static const TableSpec scenarios_table = {
        { "NAME", "MODEL", "ENABLED", "SCHEDULE", "NEXT RUN", "LAST RUN", "P95 MS", "ACTIVE" }, scenario_fill,
};
static void suite_fill(const json_t *su, Cells cells) {
        const json_t *last = json_object_get(su, "last_run"), *id;
        size_t i, used = 0;

        cell_text(json_object_get(su, "name"), cells[0], CELL_MAX);
        cell_text(json_object_get(su, "schedule"), cells[1], CELL_MAX);
        cell_text(json_object_get(su, "next_run_at"), cells[2], CELL_MAX);
        cell_text(json_object_get(last, "state"), cells[3], CELL_MAX);
        cells[4][0] = '\0';
        json_array_foreach(json_object_get(last, "run_ids"), i, id) {
                int k = snprintf(cells[4] + used, CELL_MAX - used, "%s%" JSON_INTEGER_FORMAT, i ? "," : "",
                                 json_integer_value(id));
                if (k < 0 || (size_t) k >= CELL_MAX - used)
                        break;
                used += (size_t) k;
        }
        if (!cells[4][0])
                snprintf(cells[4], CELL_MAX, "-");
        cell_text(json_object_get(last, "verdict"), cells[5], CELL_MAX);
        cell_text(json_object_get(su, "runs_skipped"), cells[6], CELL_MAX);
        cell_text(json_object_get(last, "reason"), cells[7], CELL_MAX);
}

static const TableSpec suites_table = {
        { "NAME", "SCHEDULE", "NEXT RUN", "STATE", "RUNS", "VERDICT", "SKIPPED", "REASON" }, suite_fill,
};
static const TableSpec runs_table = {
        { "ID", "SCENARIO", "STATE", "STARTED", "SECONDS", "REQUESTS", "OK", "P95 MS" }, run_fill,
};
static const TableSpec index_table = { { "ROUTE", "PARAMETERS", "ABOUT" }, route_fill };

static size_t table_cols(const TableSpec *t) {
        size_t n = 0;

        while (n < TABLE_MAX_COLS && t->headers[n])
                n++;
        return n;
}

static void table_row(FILE *f, size_t n_cols, const size_t *width, Cells cells) {
        for (size_t i = 0; i + 1 < n_cols; i++)
                fprintf(f, "%-*s  ", (int) width[i], cells[i]);
        fprintf(f, "%s\n", cells[n_cols - 1]);
}

/* `rows` is an array of rows, or one object for a one-row table.  Two
 * passes: the first measures the columns, the second prints them. */
static int table_print(FILE *f, const TableSpec *t, const json_t *rows) {
        size_t n_cols = table_cols(t), width[TABLE_MAX_COLS] = { 0 };
        size_t n_rows = json_is_array(rows) ? json_array_size(rows) : 1;
        Cells cells;

        for (size_t i = 0; i < n_cols; i++)
                width[i] = strlen(t->headers[i]);
        for (size_t r = 0; r < n_rows; r++) {
                t->fill(json_is_array(rows) ? json_array_get(rows, r) : rows, cells);
                for (size_t i = 0; i < n_cols; i++)
                        if (strlen(cells[i]) > width[i])
                                width[i] = strlen(cells[i]);
        }
        for (size_t i = 0; i < n_cols; i++)
                snprintf(cells[i], CELL_MAX, "%s", t->headers[i]);
        table_row(f, n_cols, width, cells);
        for (size_t r = 0; r < n_rows; r++) {
                t->fill(json_is_array(rows) ? json_array_get(rows, r) : rows, cells);
                table_row(f, n_cols, width, cells);
        }
        return ferror(f) ? -ENOMEM : 0;
}

int api_render_status_text(const json_t *j, FILE *f) {
        fprintf(f, "ok: %s   evaluated at %s\n\n",
                json_is_true(json_object_get(j, "ok")) ? "yes" : "no",
                json_string_value(json_object_get(j, "evaluated_at")) ?: "-");
        return table_print(f, &criteria_table, json_object_get(j, "criteria"));
}

int api_render_criterion_text(const json_t *j, FILE *f) {
        return table_print(f, &criteria_table, j);
}

int api_render_sources_text(const json_t *j, FILE *f) {
        return table_print(f, &sources_table, json_object_get(j, "sources"));
}

int api_render_metrics_text(const json_t *j, FILE *f) {
        return table_print(f, &metrics_table, json_object_get(j, "metrics"));
}

int api_render_series_text(const json_t *j, FILE *f) {
        fprintf(f, "metric %s from %s to %s step %s%s\n\n",
                json_string_value(json_object_get(j, "metric")),
                json_string_value(json_object_get(j, "from")),
                json_string_value(json_object_get(j, "to")),
                json_string_value(json_object_get(j, "step")) ?: "raw",
                json_is_true(json_object_get(j, "truncated")) ? " (truncated)" : "");
        if (json_is_string(json_object_get(j, "next")))
                fprintf(f, "older points: %s\n\n", json_string_value(json_object_get(j, "next")));
        return table_print(f, &points_table, json_object_get(j, "points"));
}

int api_render_scenarios_text(const json_t *j, FILE *f) {
        return table_print(f, &scenarios_table, json_object_get(j, "scenarios"));
}

int api_render_suites_text(const json_t *j, FILE *f) {
        return table_print(f, &suites_table, json_object_get(j, "suites"));
}

int api_render_runs_text(const json_t *j, FILE *f) {
        int k = table_print(f, &runs_table, json_object_get(j, "runs"));

        if (k >= 0 && json_is_true(json_object_get(j, "more")))
                fprintf(f, "(more runs match: raise limit or narrow from/to)\n");
        return k < 0 ? k : ferror(f) ? -ENOMEM : 0;
}

int api_render_profiles_text(const json_t *j, FILE *f) {
        return table_print(f, &profiles_table, json_object_get(j, "profiles"));
}

/* The rows of the top table: the flat value in the top type's unit, its
 * share of that type's total, and the function. */
static json_t *top_rows(const json_t *top, const char *unit, double total) {
        json_t *rows = json_array(), *e;
        char flat[CELL_MAX], share[32];
        size_t i;

        json_array_foreach(top, i, e) {
                const char *function = json_string_value(json_object_get(e, "function"));
                double v = json_number_value(json_object_get(e, "flat"));

                value_text(json_object_get(e, "flat"), unit, flat, sizeof flat);
                if (total > 0)
                        snprintf(share, sizeof share, "%.1f%%", 100.0 * v / total);
                else
                        snprintf(share, sizeof share, "-");
                if (json_array_append_new(rows, json_pack("[s,s,s?]", flat, share, function)) < 0) {
                        json_decref(rows);
                        return NULL;
                }
        }
        return rows;
}

int api_render_top_text(const json_t *j, FILE *f) {
        const char *top_type = json_string_value(json_object_get(j, "top_type"));
        const json_t *types = json_object_get(j, "sample_types"), *t;
        const char *unit = NULL;
        double total = 0;
        json_t *rows, *none = json_array();
        size_t i;
        int k;

        fprintf(f, "profile %" JSON_INTEGER_FORMAT ": %s %s at %s, %.0f samples\n\n",
                json_integer_value(json_object_get(j, "id")),
                json_string_value(json_object_get(j, "target")) ?: "-",
                json_string_value(json_object_get(j, "kind")) ?: "-",
                json_string_value(json_object_get(j, "time")) ?: "-",
                json_number_value(json_object_get(j, "samples")));
        /* table_print takes a lone object for one row: never hand it one. */
        k = table_print(f, &sample_types_table, json_is_array(types) ? types : none);
        json_array_foreach(types, i, t)
                if (top_type && json_is_string(json_object_get(t, "type")) &&
                    strcmp(json_string_value(json_object_get(t, "type")), top_type) == 0) {
                        unit = json_string_value(json_object_get(t, "unit"));
                        total = json_number_value(json_object_get(t, "total"));
                }
        fprintf(f, "\ntop functions by %s\n", top_type ?: "-");
        rows = top_rows(json_object_get(j, "top"), unit, total);
        if (k >= 0)
                k = rows ? table_print(f, &top_table, rows) : -ENOMEM;
        json_decref(rows);
        json_decref(none);
        return k;
}

int api_render_index_text(const json_t *j, FILE *f) {
        return table_print(f, &index_table, json_object_get(j, "routes"));
}
