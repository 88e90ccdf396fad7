/* The man page documents the config table one to one: every key appears as
 * an `.It Cm KEY` entry under its section, with its default as `.Ql DEFAULT`
 * in that entry, and its bounds as `from .Li MIN to .Li MAX`; the example
 * config uses only documented keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tap.h"

typedef struct Doc {
        char *text;
} Doc;

static char *slurp(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t n = 0;

        if (!f)
                return NULL;
        buf = calloc(1, 1 << 20);
        if (buf)
                n = fread(buf, 1, (1 << 20) - 1, f);
        fclose(f);
        if (buf)
                buf[n] = 0;
        return buf;
}

/* The body of `.It Cm KEY` inside the section that documents `[section]`:
 * from the entry to the next `.It` line.  Returns a pointer into text and the
 * length, or NULL. */
static const char *entry(const char *text, const char *section, const char *key, size_t *len) {
        char marker[128], item[128];
        const char *sec, *p, *end;

        snprintf(marker, sizeof marker, ".Ss [%s", section);
        sec = strstr(text, marker);
        if (!sec)
                return NULL;
        end = strstr(sec + 1, "\n.Ss ");
        snprintf(item, sizeof item, "\n.It Cm %s ", key);
        p = strstr(sec, item);
        if (!p || (end && p > end))
                return NULL;
        end = strstr(p + 1, "\n.It ");
        *len = end ? (size_t) (end - p) : strlen(p);
        return p;
}

static void check_key(const char *section, const char *key, const char *def, void *u) {
        const char *text = ((Doc *) u)->text, *e;
        char want[160];
        size_t len = 0;

        e = entry(text, section, key, &len);
        ok(e != NULL, "perfwatchd.conf(5) documents [%s] %s", section, key);
        if (!e || !def[0])
                return;
        snprintf(want, sizeof want, "\n.Ql %s", def);
        ok(memmem(e, len, want, strlen(want)) != NULL, "perfwatchd.conf(5) gives [%s] %s default %s",
           section, key, def);
}

/* A bounded key's entry says "from .Li MIN to .Li MAX", each on its line. */
static void check_bound(const char *section, const char *key, const char *min, const char *max, void *u) {
        const char *text = ((Doc *) u)->text, *e;
        char want[160];
        size_t len = 0;

        e = entry(text, section, key, &len);
        if (!e)
                return;
        snprintf(want, sizeof want, "\n.Li %s\nto\n.Li %s", min, max);
        ok(memmem(e, len, want, strlen(want)) != NULL, "perfwatchd.conf(5) gives [%s] %s bounds from %s to %s",
           section, key, min, max);
}

int main(void) {
        const char *top = getenv("TOP_SRCDIR");
        char path[1024];
        Doc d;

        snprintf(path, sizeof path, "%s/man/perfwatchd.conf.5", top ? top : ".");
        d.text = slurp(path);
        if (!d.text) {
                printf("Bail out! cannot read %s\n", path);
                return 99;
        }
        config_foreach_key(check_key, &d);
        config_foreach_bound(check_bound, &d);
        free(d.text);
        return tap_done();
}
