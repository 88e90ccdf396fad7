/* model = exec: an outside load tool (Locust) as a run.  The run's thread
 * (load-engine.h's LoadRun, so the runner and the terminal mode drive it as
 * any run) spawns the command in a process group of its own, stdin
 * /dev/null, its stdout and stderr logged line by line; it stops the group
 * (SIGTERM, then SIGKILL LOAD_EXEC_KILL_WAIT_USEC later) on cancel or once
 * duration + grace is over; then it imports Locust's CSV files.
 *
 * The command line is split into words as a shell would split them ('...'
 * and "..." quote, \ escapes), but no shell runs it: no variables, globs,
 * pipes or redirections; write `sh -c '...'` for those.  ${run_dir} is the
 * only placeholder: a new directory per run, $STATE_DIRECTORY (the unit's
 * StateDirectory=), else $TMPDIR, else /tmp, then "/exec-NAME-XXXXXX"; the
 * command runs in it, and it is removed after a completed run (kept, and
 * named in the run's figures, otherwise). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "load/locust-csv.h"

#define LOAD_EXEC_KILL_WAIT_USEC (5ULL * 1000000ULL)

/* What to run, borrowed during load_run_start(), which copies it. */
typedef struct LoadExec {
        const char *command;    /* words, with ${run_dir} */
        const char *csv;        /* Locust's --csv prefix, with ${run_dir}: "${run_dir}/locust" */
        uint64_t grace_usec;    /* past the duration before the command is stopped */
} LoadExec;

/* `text` with each ${run_dir} replaced by run_dir; NULL when out of memory. */
char *load_exec_expand(const char *text, const char *run_dir);

/* Splits `command` into a NULL-terminated argv (the caller frees it with
 * load_exec_argv_free()), ${run_dir} expanded in each word.  0, -ENOMEM,
 * or -EINVAL with a one-line reason (an unclosed quote, no word). */
int load_exec_split(const char *command, const char *run_dir, char ***ret_argv, char **ret_error);
char **load_exec_argv_free(char **argv);
