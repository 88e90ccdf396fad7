/* The parser's state, shared by config.c (reading the file) and
 * config-checks.c (the checks that need the whole file).  Internal to
 * src/config/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config/config-internal.h"
#include "util/ini-lines.h"

typedef struct Section {
        SectionKind kind;
        unsigned line;
        char *title;                 /* the text between the brackets */
        const char *name;            /* the NAME part of the title */
        size_t index;                /* into the Config array of its kind */
        unsigned *key_lines;         /* by config_keys[] index: where each key was set; 0: not */
        bool *key_bad;               /* by config_keys[] index: set, but refused: no cross-checks on it */
} Section;

typedef struct ConfigError {
        unsigned line;               /* 0: about the whole file */
        size_t seq;
        char *text;
} ConfigError;

/* NB: every collection grows geometrically and every lookup by name goes
 * through a tree, so that parsing stays linear in the size of the file
 * (tests/test-config.c times 20,000 sections). */
typedef struct Parser {
        Config *config;
        IniLineReader reader;        /* reader.line: the line inih is working on */
        unsigned daemon_line;        /* header of the [daemon] section; 0: none yet */
        unsigned first_syntax_line;  /* the first syntax error reported; 0: none */
        bool oom;
        Section **sections;          /* in file order; each allocated on its own */
        size_t n_sections, allocated_sections;
        void *section_index;         /* tsearch() tree of the opened sections, by kind and name */
        size_t allocated[_SECTION_KIND_MAX];  /* capacity of each Config array */
        ConfigError *errors;
        size_t n_errors, allocated_errors;
} Parser;

/* The key table (config.c) and its length. */
extern const ConfigKey config_keys[];
extern const size_t config_n_keys;

/* The key of that section kind and name; NULL when there is none. */
const ConfigKey *config_key_lookup(SectionKind kind, const char *name);

/* The earlier section of that kind and name, among those opened so far;
 * NULL when there is none.  Owned by the parser. */
const Section *config_section_find(const Parser *p, SectionKind kind, const char *name);

/* Records the problem "FILE:LINE: [title] key: problem", leaving out what is
 * not known (line 0, s or key NULL).  Out of memory sets p->oom. */
void config_parser_error(Parser *p, unsigned line, const Section *s, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* Once the whole file is read: checks required keys and the rules that tie
 * keys and sections together, reporting each problem, and derives the
 * memory criterion's series.  Returns 0, or -ENOMEM. */
int config_parser_check(Parser *p);
