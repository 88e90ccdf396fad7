/* model = exec: the command's life on the run's thread, and the import of
 * Locust's figures once it is over.
 *
 * NB: posix_spawn(), not fork(): the daemon has threads, and between a
 * fork() and its exec() only async-signal-safe calls are allowed; glibc's
 * posix_spawn() (clone + exec, with the exec's error reported back) keeps
 * to that, and tells a command that cannot be executed (ENOENT) from one
 * that ran and failed.  The child is watched through a pidfd on the run's
 * own loop, and reaped by its pid: nothing else in perfwatchd reaps
 * children. */
#include "load/load-exec.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "load/load-internal.h"
#include "util/log.h"
#include "util/units.h"
#include "util/util.h"

#define LINE_MAX_BYTES 1024
#define LAST_LINE_BYTES 200
#define HISTORY_BATCH_ROWS 100
#define HISTORY_BATCH_PAUSE_NSEC (30L * 1000L * 1000L)

extern char **environ;

struct LoadExecRun {
        char *name, *command, *run_dir, *csv, *source;
        char **argv;
        uint64_t duration_usec, grace_usec;
        pid_t pid;
        int pidfd, out_fd;
        sd_event_source *child_io, *out_io, *deadline_timer, *kill_timer;
        bool cancelled, timed_out, killed, exited;
        int status;                     /* waitpid()'s */
        char line[LINE_MAX_BYTES];
        size_t line_len;
        char last[LAST_LINE_BYTES];     /* the command's last line of output */
        char error[LAST_LINE_BYTES];    /* its last line naming an error */
        uint64_t seconds;               /* history rows handed to on_second */
        uint64_t prev_requests, prev_failures;
};

/* Signals the command's whole process group: Locust's workers, or whatever
 * a `sh -c` started, go with it. */
static void signal_group(const LoadExecRun *x, int sig) {
        (void) kill(-x->pid, sig);
}

/* ---------------------------------------------------------------- words */

char *load_exec_expand(const char *text, const char *run_dir) {
        static const char var[] = "${run_dir}";
        size_t n = 0, dir = strlen(run_dir);
        char *out, *w;

        for (const char *p = text; (p = strstr(p, var)); p += sizeof var - 1)
                n++;
        out = malloc(strlen(text) + n * dir + 1);
        if (!out)
                return NULL;
        w = out;
        for (const char *p = text, *q; *p; p = q + sizeof var - 1) {
                q = strstr(p, var);
                if (!q) {
                        strcpy(w, p);
                        return out;
                }
                memcpy(w, p, (size_t) (q - p));
                w += q - p;
                memcpy(w, run_dir, dir);
                w += dir;
        }
        *w = '\0';
        return out;
}

char **load_exec_argv_free(char **argv) {
        for (size_t i = 0; argv && argv[i]; i++)
                free(argv[i]);
        free(argv);
        return NULL;
}

/* The next word of *s into buf (as long as the command: a word is never
 * longer), advancing *s.  1: a word; 0: none left; -EINVAL: a quote is
 * not closed. */
static int next_word(const char **s, char *buf) {
        const char *p = *s + strspn(*s, " \t\n");
        char quote = 0;

        if (!*p) {
                *s = p;
                return 0;
        }
        for (; *p && (quote || !strchr(" \t\n", *p)); p++) {
                if (quote == '\'' && *p == '\'')
                        quote = 0;
                else if (quote == '\'')
                        *buf++ = *p;
                else if (*p == '\\' && p[1] && (!quote || strchr("\"\\$`", p[1])))
                        *buf++ = *++p;
                else if (quote == '"' && *p == '"')
                        quote = 0;
                else if (!quote && (*p == '\'' || *p == '"'))
                        quote = *p;
                else
                        *buf++ = *p;
        }
        *buf = '\0';
        *s = p;
        return quote ? -EINVAL : 1;
}

int load_exec_split(const char *command, const char *run_dir, char ***ret_argv, char **ret_error) {
        size_t n = 0, max = strlen(command) / 2 + 2;
        char **argv = calloc(max, sizeof *argv), *buf = malloc(strlen(command) + 1);
        const char *s = command;
        int r = -ENOMEM;

        while (argv && buf && (r = next_word(&s, buf)) > 0) {
                argv[n] = load_exec_expand(buf, run_dir);
                if (!argv[n++]) {
                        r = -ENOMEM;
                        break;
                }
        }
        free(buf);
        if (r == 0 && n == 0)
                r = set_error(ret_error, -EINVAL, "is empty: no command to run");
        else if (r == -EINVAL)
                set_error(ret_error, r, "has a quote that is not closed");
        if (r < 0) {
                load_exec_argv_free(argv);
                return r;
        }
        *ret_argv = argv;
        return 0;
}

/* ---------------------------------------------------------------- run dir */

/* $STATE_DIRECTORY (its first path), $TMPDIR or /tmp. */
static char *run_dir_parent(void) {
        const char *state = getenv("STATE_DIRECTORY"), *tmp = getenv("TMPDIR");

        if (state && state[0] == '/')
                return strndup(state, strcspn(state, ":"));
        return strdup(tmp && tmp[0] == '/' ? tmp : "/tmp");
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* ---------------------------------------------------------------- output */

static void output_line(LoadExecRun *x, const char *line) {
        if (!line[0])
                return;
        log_source(LOG_INFO, x->source, "%s", line);
        snprintf(x->last, sizeof x->last, "%s", line);
        /* NB: Locust prints its tables of figures after the exception that
         * ended it, so its last line is a table's rule, not the reason. */
        if (strcasestr(line, "error") || strcasestr(line, "exception"))
                snprintf(x->error, sizeof x->error, "%s", line);
}

/* Reads what the command wrote, logging each whole line (a longer one in
 * pieces of LINE_MAX_BYTES - 1). */
static void output_read(LoadExecRun *x) {
        for (;;) {
                ssize_t n = read(x->out_fd, x->line + x->line_len, sizeof x->line - 1 - x->line_len);
                char *nl;

                if (n <= 0) {
                        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                                x->line[x->line_len] = '\0';
                                output_line(x, x->line);
                                x->line_len = 0;
                                x->out_io = sd_event_source_disable_unref(x->out_io);
                        }
                        return;
                }
                x->line_len += (size_t) n;
                x->line[x->line_len] = '\0';
                while ((nl = strchr(x->line, '\n'))) {
                        *nl = '\0';
                        output_line(x, x->line);
                        x->line_len -= (size_t) (nl + 1 - x->line);
                        memmove(x->line, nl + 1, x->line_len + 1);
                }
                if (x->line_len == sizeof x->line - 1) {
                        output_line(x, x->line);
                        x->line_len = 0;
                }
        }
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) s;
        (void) fd;
        (void) revents;
        output_read(((LoadRun *) userdata)->exec);
        return 0;
}

/* ---------------------------------------------------------------- import */

static json_t *ms_json(double v) {
        return isnan(v) ? json_null() : json_real(v);
}

/* Each history row as one second of the run, with the CSV's timestamp:
 * the counts are the differences of Locust's running totals. */
static int history_row(const LocustRow *row, void *userdata) {
        LoadRun *run = userdata;
        LoadExecRun *x = run->exec;
        uint64_t req = row->requests >= x->prev_requests ? row->requests - x->prev_requests : 0;
        uint64_t fail = row->failures >= x->prev_failures ? row->failures - x->prev_failures : 0;
        LoadSecond sec = {
                .second = ++x->seconds,
                .at_usec = row->timestamp > 0 ? (uint64_t) row->timestamp * USEC_PER_SEC : 0,
                .achieved_rps = row->rps,
                .counts = { .sent = req, .ok = req - (fail < req ? fail : req), .err_status = fail < req ? fail : req },
                .p50_usec = isnan(row->pct_ms[0]) ? 0 : (uint64_t) (row->pct_ms[0] * USEC_PER_MSEC),
                .p95_usec = isnan(row->pct_ms[5]) ? 0 : (uint64_t) (row->pct_ms[5] * USEC_PER_MSEC),
                .p99_usec = isnan(row->pct_ms[7]) ? 0 : (uint64_t) (row->pct_ms[7] * USEC_PER_MSEC),
        };

        x->prev_requests = row->requests;
        x->prev_failures = row->failures;
        if (run->cb.on_second)
                run->cb.on_second(&sec, run->cb.userdata);
        /* NB: a long run's history arrives at once, and the daemon's
         * on_second hands 9 samples a row to the store's inbox (100000 at
         * most, drained and flushed each flush_interval): paced at about
         * 3000 rows a second, a day's history takes half a minute rather
         * than overflowing it.  Only this run's thread waits. */
        if (x->seconds % HISTORY_BATCH_ROWS == 0)
                (void) nanosleep(&(struct timespec) { .tv_nsec = HISTORY_BATCH_PAUSE_NSEC }, NULL);
        return 0;
}

/* The figures of _stats.csv into the run's counts, and as JSON into `o`. */
static int import_stats(LoadRun *run, json_t *o, char **ret_error) {
        LoadExecRun *x = run->exec;
        char *path = strjoin(x->csv, "_stats.csv", NULL);
        json_t *pct;
        LocustRow row;
        int r;

        if (!path)
                return -ENOMEM;
        r = load_exec_read_stats(path, &row, ret_error);
        free(path);
        if (r < 0)
                return r;
        pct = json_object();
        for (size_t i = 0; pct && i < LOAD_EXEC_PERCENTILES; i++)
                (void) json_object_set_new(pct, load_exec_percentiles[i], ms_json(row.pct_ms[i]));
        (void) json_object_set_new(o, "requests", json_integer((json_int_t) row.requests));
        (void) json_object_set_new(o, "failures", json_integer((json_int_t) row.failures));
        (void) json_object_set_new(o, "rps", json_real(row.rps));
        (void) json_object_set_new(o, "failures_per_s", json_real(row.failures_per_s));
        (void) json_object_set_new(o, "response_time_ms",
                                   json_pack("{so so so so}", "median", ms_json(row.median_ms), "average",
                                             ms_json(row.average_ms), "min", ms_json(row.min_ms), "max",
                                             ms_json(row.max_ms)));
        (void) json_object_set_new(o, "percentiles_ms", pct);
        pthread_mutex_lock(&run->lock);
        run->total.counts = (LoadCounts) { .sent = row.requests,
                                           .ok = row.requests - (row.failures < row.requests ? row.failures
                                                                                             : row.requests),
                                           .err_status = row.failures < row.requests ? row.failures : row.requests };
        pthread_mutex_unlock(&run->lock);
        return 0;
}

static int import_history(LoadRun *run, char **ret_error) {
        char *path = strjoin(run->exec->csv, "_stats_history.csv", NULL);
        int r;

        if (!path)
                return -ENOMEM;
        r = load_exec_read_history(path, history_row, run, ret_error);
        free(path);
        return r;
}

/* ---------------------------------------------------------------- the end */

/* Why a command that ran did not complete, with its last line that names
 * an error (else its last line); NULL: it did. */
static char *exit_reason(LoadExecRun *x) {
        char grace[32], duration[32], *s = NULL;
        const char *said = x->error[0] ? x->error : x->last, *tail = said[0] ? ": " : "";

        if (x->timed_out) {
                units_format_duration(x->grace_usec, grace, sizeof grace);
                units_format_duration(x->duration_usec, duration, sizeof duration);
                if (asprintf(&s, "the command did not stop within %s of its duration %s; %s", grace, duration,
                             x->killed ? "killed (SIGKILL after SIGTERM)" : "stopped by SIGTERM") < 0)
                        s = NULL;
        } else if (WIFEXITED(x->status) && WEXITSTATUS(x->status) == 0)
                return NULL;
        else if (WIFEXITED(x->status)) {
                if (asprintf(&s, "the command exited with status %d%s%s", WEXITSTATUS(x->status), tail, said) < 0)
                        s = NULL;
        } else if (asprintf(&s, "the command was killed by signal %d (%s)%s%s", WTERMSIG(x->status),
                            strsignal(WTERMSIG(x->status)), tail, said) < 0)
                s = NULL;
        return s ?: strdup("out of memory");
}

static json_t *exec_json_new(const LoadExecRun *x) {
        json_t *o = json_pack("{ss ss ss ss ss}", "tool", "locust", "command", x->command, "run_dir", x->run_dir,
                              "csv", x->csv, "latency_source",
                              "locust (closed loop, whole milliseconds: coordinated omission hides stalls; not "
                              "comparable with an open-model p95)");

        if (!o)
                return NULL;
        if (x->exited && WIFEXITED(x->status))
                (void) json_object_set_new(o, "exit_status", json_integer(WEXITSTATUS(x->status)));
        else
                (void) json_object_set_new(o, "exit_status", json_null());
        (void) json_object_set_new(o, "signal", x->exited && WIFSIGNALED(x->status) ? json_integer(WTERMSIG(x->status))
                                                                                    : json_null());
        return o;
}

/* Imports what Locust wrote; the reason of a failed import in *ret_error. */
static int import(LoadRun *run, json_t *o, char **ret_error) {
        int r = import_stats(run, o, ret_error);

        if (r >= 0)
                r = import_history(run, ret_error);
        (void) json_object_set_new(o, "imported", json_boolean(r >= 0));
        (void) json_object_set_new(o, "import_error", r < 0 && *ret_error ? json_string(*ret_error) : json_null());
        (void) json_object_set_new(o, "history_rows", json_integer((json_int_t) run->exec->seconds));
        return r;
}

/* The run is over: its state, reason and figures; then the loop ends. */
static void exec_finish(LoadRun *run, LoadRunState state, char *reason) {
        LoadExecRun *x = run->exec;
        char *import_error = NULL, *json = NULL;
        json_t *o;

        load_stats_load_over(run);
        o = x->exited ? exec_json_new(x) : NULL;
        if (o) {
                int r = import(run, o, &import_error);

                if (r < 0 && state == LOAD_RUN_COMPLETED) {
                        state = LOAD_RUN_FAILED;
                        free(reason);
                        reason = strjoin("cannot import Locust's figures: ", import_error ?: strerror(-r), NULL);
                }
                (void) json_object_set_new(o, "run_dir_kept", json_boolean(state != LOAD_RUN_COMPLETED));
                json = json_dumps(o, JSON_COMPACT);
                json_decref(o);
        }
        if (state == LOAD_RUN_COMPLETED)
                (void) nftw(x->run_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        pthread_mutex_lock(&run->lock);
        if (reason && !run->reason) {
                run->reason = reason;
                reason = NULL;
        }
        run->exec_json = json;
        pthread_mutex_unlock(&run->lock);
        free(reason);
        free(import_error);
        load_stats_finish(run, state);
        if (run->cb.on_done)
                run->cb.on_done(run, run->cb.userdata);
        (void) sd_event_exit(run->event, 0);
}

static int on_child(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        LoadRun *run = userdata;
        LoadExecRun *x = run->exec;
        LoadRunState state = LOAD_RUN_COMPLETED;
        pid_t p;

        (void) s;
        (void) fd;
        (void) revents;
        p = waitpid(x->pid, &x->status, WNOHANG);
        if (p == 0 || (p < 0 && errno == EINTR))
                return 0;
        x->exited = p == x->pid;
        x->child_io = sd_event_source_disable_unref(x->child_io);
        /* What its group left behind (a worker it started, say) goes with it. */
        signal_group(x, SIGKILL);
        if (x->out_io)
                output_read(x);
        /* A last line without its newline, the group's writers being gone. */
        if (x->line_len > 0) {
                x->line[x->line_len] = '\0';
                output_line(x, x->line);
                x->line_len = 0;
        }
        if (x->cancelled)
                state = LOAD_RUN_CANCELLED;
        else if (!x->exited || x->timed_out || !WIFEXITED(x->status) || WEXITSTATUS(x->status) != 0)
                state = LOAD_RUN_FAILED;
        exec_finish(run, state, x->exited ? exit_reason(x) : strdup("the command cannot be waited for"));
        return 0;
}

/* ---------------------------------------------------------------- stopping */

static int on_kill(sd_event_source *s, uint64_t usec, void *userdata) {
        LoadExecRun *x = ((LoadRun *) userdata)->exec;

        (void) s;
        (void) usec;
        x->killed = true;
        signal_group(x, SIGKILL);
        return 0;
}

/* SIGTERM to the command's group, SIGKILL LOAD_EXEC_KILL_WAIT_USEC later. */
static void exec_stop(LoadRun *run) {
        LoadExecRun *x = run->exec;

        if (x->kill_timer || x->pid <= 0)
                return;
        signal_group(x, SIGTERM);
        if (sd_event_add_time_relative(run->event, &x->kill_timer, CLOCK_MONOTONIC, LOAD_EXEC_KILL_WAIT_USEC, 0,
                                       on_kill, run) < 0)
                signal_group(x, SIGKILL);
        else
                (void) sd_event_source_set_description(x->kill_timer, "exec-kill");
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        LoadRun *run = userdata;

        (void) s;
        (void) usec;
        run->exec->timed_out = true;
        exec_stop(run);
        return 0;
}

static int on_cancel(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        LoadRun *run = userdata;
        uint64_t v;

        (void) s;
        (void) revents;
        (void) !read(fd, &v, sizeof v);
        run->exec->cancelled = true;
        exec_stop(run);
        return 0;
}

/* ---------------------------------------------------------------- start */

static int spawn(LoadExecRun *x, int out_w) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, defaults;
        static const int reset[] = { SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM };
        int r;

        sigemptyset(&none);
        sigemptyset(&defaults);
        for (size_t i = 0; i < ELEMENTSOF(reset); i++)
                sigaddset(&defaults, reset[i]);
        r = posix_spawn_file_actions_init(&fa);
        if (r)
                return -r;
        r = posix_spawnattr_init(&attr);
        if (r) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        /* The run's thread blocks every signal: the child starts with none
         * blocked, and the signals the daemon handles at their defaults. */
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (!r)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (!r)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (!r)
                r = posix_spawnattr_setsigdefault(&attr, &defaults);
        if (!r)
                r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (!r)
                r = posix_spawn_file_actions_adddup2(&fa, out_w, 1);
        if (!r)
                r = posix_spawn_file_actions_adddup2(&fa, out_w, 2);
        if (!r)
                r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        if (!r)
                r = posix_spawn_file_actions_addchdir_np(&fa, x->run_dir);
        if (!r)
                r = posix_spawnp(&x->pid, x->argv[0], &fa, &attr, x->argv, environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        return -r;
}

static int exec_watch(LoadRun *run) {
        LoadExecRun *x = run->exec;
        int r;

        x->pidfd = pidfd_open(x->pid, 0);
        if (x->pidfd < 0)
                return -errno;
        r = sd_event_add_io(run->event, &x->child_io, x->pidfd, EPOLLIN, on_child, run);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(x->child_io, "exec-child");
        r = sd_event_add_io(run->event, &x->out_io, x->out_fd, EPOLLIN, on_output, run);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(x->out_io, "exec-output");
        r = sd_event_add_time(run->event, &x->deadline_timer, CLOCK_MONOTONIC,
                              run->start_usec + x->duration_usec + x->grace_usec, 0, on_deadline, run);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(x->deadline_timer, "exec-deadline");
        return 0;
}

int load_exec_arm(LoadRun *run) {
        LoadExecRun *x = run->exec;
        int pipefd[2], r;
        char *reason = NULL;

        if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        x->out_fd = pipefd[0];
        r = spawn(x, pipefd[1]);
        close(pipefd[1]);
        if (r == -ENOENT)
                reason = strjoin("command not found: ", x->argv[0], NULL);
        else if (r < 0 && asprintf(&reason, "cannot execute %s: %s", x->argv[0], strerror(-r)) < 0)
                reason = NULL;
        if (r < 0) {
                exec_finish(run, LOAD_RUN_FAILED, reason);
                return 0;
        }
        log_source(LOG_INFO, x->source, "started %s (pid %d) in %s", x->argv[0], (int) x->pid, x->run_dir);
        r = exec_watch(run);
        if (r < 0) {
                /* Not watched, it cannot be left running. */
                (void) kill(-x->pid, SIGKILL);
                (void) waitpid(x->pid, NULL, 0);
                x->pid = 0;
        }
        return r;
}

/* ---------------------------------------------------------------- set-up */

int load_exec_new(LoadRun *run, const LoadScenario *s, char **ret_error) {
        LoadExecRun *x = calloc(1, sizeof *x);
        char *parent, *error = NULL, *csv_template;
        int r;

        if (!x)
                return -ENOMEM;
        run->exec = x;
        x->pidfd = x->out_fd = -1;
        x->duration_usec = s->duration_usec;
        x->grace_usec = s->exec->grace_usec;
        x->name = strdup(s->name ?: "exec");
        x->command = strdup(s->exec->command);
        x->source = x->name ? strjoin("scenario ", x->name, NULL) : NULL;
        parent = run_dir_parent();
        if (!x->name || !x->command || !x->source || !parent ||
            asprintf(&x->run_dir, "%s/exec-%s-XXXXXX", parent, x->name) < 0) {
                free(parent);
                x->run_dir = NULL;
                return -ENOMEM;
        }
        free(parent);
        if (!mkdtemp(x->run_dir)) {
                r = -errno;
                set_error(ret_error, r, "cannot make the run's directory %s: %s", x->run_dir, strerror(-r));
                free(x->run_dir);
                x->run_dir = NULL;
                return r;
        }
        csv_template = (char *) (s->exec->csv ?: "${run_dir}/locust");
        x->csv = load_exec_expand(csv_template, x->run_dir);
        if (!x->csv)
                return -ENOMEM;
        r = load_exec_split(x->command, x->run_dir, &x->argv, &error);
        if (r == -EINVAL)
                set_error(ret_error, r, "command %s", error ?: "is not valid");
        free(error);
        if (r < 0)
                return r;
        r = sd_event_new(&run->event);
        if (r < 0)
                return set_error(ret_error, r, "cannot make the run's event loop: %s", strerror(-r));
        run->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (run->cancel_fd < 0)
                return set_error(ret_error, -errno, "cannot make the run's cancel switch: %s", strerror(errno));
        r = sd_event_add_io(run->event, &run->cancel_io, run->cancel_fd, EPOLLIN, on_cancel, run);
        if (r < 0)
                return set_error(ret_error, r, "cannot watch the run's cancel switch: %s", strerror(-r));
        (void) sd_event_source_set_description(run->cancel_io, "exec-cancel");
        return 0;
}

void load_exec_free(LoadRun *run) {
        LoadExecRun *x = run->exec;

        if (!x)
                return;
        sd_event_source_disable_unref(x->child_io);
        sd_event_source_disable_unref(x->out_io);
        sd_event_source_disable_unref(x->deadline_timer);
        sd_event_source_disable_unref(x->kill_timer);
        if (x->pidfd >= 0)
                close(x->pidfd);
        if (x->out_fd >= 0)
                close(x->out_fd);
        /* An empty directory of a run that never started goes. */
        if (x->run_dir && !x->exited)
                (void) rmdir(x->run_dir);
        load_exec_argv_free(x->argv);
        free(x->name);
        free(x->command);
        free(x->run_dir);
        free(x->csv);
        free(x->source);
        free(x);
        run->exec = NULL;
}
