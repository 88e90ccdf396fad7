#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "util/log.h"

/* NB: API and worker threads log too, so both are atomics (relaxed: a
 * level change may reach another thread a little late, never torn). */
static atomic_int max_level = LOG_INFO;
static atomic_int use_journal = -1;

/* stderr is the journal when JOURNAL_STREAM names its device and inode. */
static int stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_open(void) {
        atomic_store_explicit(&use_journal, stderr_is_journal(), memory_order_relaxed);
}

void log_set_max_level(int prio) {
        atomic_store_explicit(&max_level, prio, memory_order_relaxed);
}

int log_get_max_level(void) {
        return atomic_load_explicit(&max_level, memory_order_relaxed);
}

static const char *prio_name(int prio) {
        static const char *const names[] = {
                "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
        };
        return names[prio & 7];
}

int log_internal(int prio, const char *source, int ret, const char *file, int line,
                 const char *func, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int saved_errno = errno, journal;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        journal = atomic_load_explicit(&use_journal, memory_order_relaxed);
        if (journal < 0) {
                log_open();
                journal = atomic_load_explicit(&use_journal, memory_order_relaxed);
        }

        if (journal) {
                char lf[32];
                snprintf(lf, sizeof lf, "CODE_LINE=%d", line);
                if (source)
                        sd_journal_send("MESSAGE=%s: %s", source, msg, "PRIORITY=%d", prio,
                                        "PERFWATCH_SOURCE=%s", source, "CODE_FILE=%s", file, lf,
                                        "CODE_FUNC=%s", func, NULL);
                else
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, "CODE_FILE=%s",
                                        file, lf, "CODE_FUNC=%s", func, NULL);
        } else if (source) {
                fprintf(stderr, "perfwatchd: %s: %s: %s\n", prio_name(prio), source, msg);
        } else {
                fprintf(stderr, "perfwatchd: %s: %s\n", prio_name(prio), msg);
        }

        errno = saved_errno;
        return ret;
}
