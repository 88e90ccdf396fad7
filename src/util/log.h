/* One logging facade for the daemon: journald fields when stderr is the
 * journal, plain lines on a terminal.  Check the level before formatting:
 * the macros below do. */
#pragma once

#include <syslog.h>

/* Decide once where log lines go (journal or stderr). */
void log_open(void);

/* Lines with a priority numerically above this are dropped (LOG_INFO default).
 * Safe from any thread. */
void log_set_max_level(int prio);
int log_get_max_level(void);

/* Writes one line; `source` (may be NULL) becomes PERFWATCH_SOURCE= in the
 * journal and a "source: " prefix on a terminal.  Always returns `ret` so a
 * caller can `return log_internal(..., -EINVAL, ...)`. */
int log_internal(int prio, const char *source, int ret, const char *file, int line,
                 const char *func, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#define log_full_ret(prio, source, ret, ...)                                   \
        ((prio) <= log_get_max_level()                                         \
                 ? log_internal((prio), (source), (ret), __FILE__, __LINE__,   \
                                __func__, __VA_ARGS__)                         \
                 : (ret))

#define log_debug(...)   ((void) log_full_ret(LOG_DEBUG, NULL, 0, __VA_ARGS__))
#define log_info(...)    ((void) log_full_ret(LOG_INFO, NULL, 0, __VA_ARGS__))
#define log_notice(...)  ((void) log_full_ret(LOG_NOTICE, NULL, 0, __VA_ARGS__))
#define log_warning(...) ((void) log_full_ret(LOG_WARNING, NULL, 0, __VA_ARGS__))
#define log_error(...)   ((void) log_full_ret(LOG_ERR, NULL, 0, __VA_ARGS__))

/* Log and return a negative errno in one expression. */
#define log_error_errno(err, ...) log_full_ret(LOG_ERR, NULL, -abs(err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_full_ret(LOG_WARNING, NULL, -abs(err), __VA_ARGS__)

/* Lines about one polled source, with PERFWATCH_SOURCE= set. */
#define log_source(prio, source, ...) ((void) log_full_ret((prio), (source), 0, __VA_ARGS__))
