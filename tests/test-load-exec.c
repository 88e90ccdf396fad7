/* Tests of model = exec without Locust: the command line's words, Locust's
 * CSV files read (and refused, with file and line), and runs of small sh
 * commands through the LoadRun API: one that writes Locust-shaped CSV
 * files, one that exits 1, one that does not exist, one that ignores
 * SIGTERM past its grace, and a cancel. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "load/load-engine.h"
#include "load/load-exec.h"
#include "tap.h"
#include "util/util.h"

#define SEC USEC_PER_SEC

static char dir[] = "/tmp/test-load-exec.XXXXXX";

static const char stats_csv[] =
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
        "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
        "99.99%,100%\n"
        "GET,\"/api/items, all\",66,0,6,7.39,2.40,55.88,528.0,22.17,0.0,7,7,8,8,10,12,14,56,56,56,56\n"
        ",Aggregated,140,74,6,8.23,2.40,61.70,425.98,47.02,24.85,6,7,8,8,10,14,56,61,62,62,62\n";

static const char history_csv[] =
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
        "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
        "Total Min Response Time,Total Max Response Time,Total Average Content Size\n"
        "1796150213,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0\n"
        "1796150214,5,GET,/a,1.0,0.0,6,6,7,8,25,25,27,27,27,27,27,50,26,5,7.4,2.7,26.5,427.6\n"
        "1796150214,5,,Aggregated,0.000000,0.000000,6,6,7,8,25,25,27,27,27,27,27,50,26,5,7.4,2.7,26.5,427.6\n"
        "1796150215,5,,Aggregated,45.0,23.0,5,6,6,7,9,13,25,26,27,27,27,143,74,5,5.9,1.6,26.5,428.1\n";

static void write_file(const char *name, const char *text) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "w");
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static char *path_of(const char *name) {
        static char path[256];

        snprintf(path, sizeof path, "%s/%s", dir, name);
        return path;
}

/* ---------------------------------------------------------------- words */

static void test_split(void) {
        char **argv = NULL, *error = NULL;

        is_int(load_exec_split("locust -f '/a b.py' --csv ${run_dir}/l \"x\\\"y\" a\\ b", "/r", &argv, &error), 0,
               "a command line splits");
        ok(argv && argv[0] && !strcmp(argv[0], "locust") && !strcmp(argv[1], "-f") && !strcmp(argv[2], "/a b.py") &&
           !strcmp(argv[3], "--csv") && !strcmp(argv[4], "/r/l") && !strcmp(argv[5], "x\"y") &&
           !strcmp(argv[6], "a b") && !argv[7],
           "into words as sh would: quotes, escapes, ${run_dir} expanded");
        argv = load_exec_argv_free(argv);
        is_int(load_exec_split("sh -c 'trap \"\" TERM; sleep ${run_dir}'", "/d", &argv, NULL), 0, "sh -c '...'");
        ok(argv && !strcmp(argv[2], "trap \"\" TERM; sleep /d") && !argv[3], "keeps its script whole, expanded");
        argv = load_exec_argv_free(argv);
        is_int(load_exec_split("sh -c 'echo", "/d", &argv, &error), -EINVAL, "an unclosed quote is refused");
        is_str(error, "has a quote that is not closed", "and says so");
        free(error);
        error = NULL;
        is_int(load_exec_split("  ", "/d", &argv, &error), -EINVAL, "a blank command is refused");
        is_str(error, "is empty: no command to run", "and says so");
        free(error);
        {
                char *e = load_exec_expand("${run_dir}/x${run_dir}", "/r");

                is_str(e, "/r/x/r", "every ${run_dir} is expanded");
                free(e);
        }
}

/* ---------------------------------------------------------------- CSV */

static int count_rows(const LocustRow *row, void *userdata) {
        LocustRow *rows = userdata;
        size_t i = 0;

        while (rows[i].timestamp)
                i++;
        if (i < 7)
                rows[i] = *row;
        return 0;
}

static void test_csv(void) {
        LocustRow row, rows[8] = {};
        char *error = NULL;

        write_file("good_stats.csv", stats_csv);
        is_int(load_exec_read_stats(path_of("good_stats.csv"), &row, &error), 0, "a _stats.csv file reads");
        ok(row.requests == 140 && row.failures == 74 && row.median_ms == 6 && fabs(row.average_ms - 8.23) < 1e-9 &&
           fabs(row.rps - 47.02) < 1e-9, "its Aggregated row: 140 requests, 74 failures, median 6, 47.02/s");
        ok(row.pct_ms[0] == 6 && row.pct_ms[5] == 14 && row.pct_ms[7] == 61 && row.pct_ms[10] == 62,
           "percentiles: 50%% 6, 95%% 14, 99%% 61, 100%% 62");
        write_file("good_stats_history.csv", history_csv);
        is_int(load_exec_read_history(path_of("good_stats_history.csv"), count_rows, rows, &error), 0,
               "a _stats_history.csv file reads");
        ok(rows[0].timestamp == 1796150213 && isnan(rows[0].pct_ms[5]) && rows[1].timestamp == 1796150214 &&
           rows[1].requests == 50 && rows[1].failures == 26 && rows[2].requests == 143 && rows[2].pct_ms[5] == 13 &&
           rows[2].rps == 45 && rows[2].users == 5 && rows[3].timestamp == 0,
           "its three Aggregated rows (not the per-request one), N/A as NaN, the running totals");

        is_int(load_exec_read_stats(path_of("none_stats.csv"), &row, &error), -ENOENT, "a missing file");
        ok(error && strstr(error, "none_stats.csv: cannot be read: No such file or directory"), "is named: %s",
           error ?: "");
        write_file("bad_stats.csv", "Type,Name,Request Count\n,Aggregated,1\n");
        is_int(load_exec_read_stats(path_of("bad_stats.csv"), &row, &error), -EINVAL, "a file of other columns");
        ok(error && strstr(error, "bad_stats.csv:1: no column \"Failure Count\" (is it Locust's CSV?)"),
           "names the missing column: %s", error ?: "");
        write_file("num_stats.csv", "Type,Name,Request Count,Failure Count,Median Response Time,Average Response "
                   "Time,Min Response Time,Max Response Time,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
                   "99.9%,99.99%,100%\nGET,/,1,0,1,1,1,1,1,0,1,1,1,1,1,1,1,1,1,1,1\n"
                   ",Aggregated,12x,0,1,1,1,1,1,0,1,1,1,1,1,1,1,1,1,1,1\n");
        is_int(load_exec_read_stats(path_of("num_stats.csv"), &row, &error), -EINVAL, "a value that is not a count");
        ok(error && strstr(error, "num_stats.csv:3: \"12x\" in column \"Request Count\" is not a count"),
           "names the file, line and column: %s", error ?: "");
        write_file("noagg_stats.csv", "Type,Name,Request Count,Failure Count,Median Response Time,Average Response "
                   "Time,Min Response Time,Max Response Time,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
                   "99.9%,99.99%,100%\n");
        is_int(load_exec_read_stats(path_of("noagg_stats.csv"), &row, &error), -ENODATA, "no Aggregated row");
        ok(error && strstr(error, "noagg_stats.csv: no Aggregated row"), "is said: %s", error ?: "");
        write_file("quote_stats.csv", "Type,Name\n\"GET,/\n");
        is_int(load_exec_read_stats(path_of("quote_stats.csv"), &row, &error), -EINVAL, "an unclosed quote");
        free(error);
}

/* ---------------------------------------------------------------- runs */

typedef struct Seen {
        pthread_mutex_t lock;
        LoadSecond s[8];
        size_t n;
        int done;
} Seen;

static void on_second(const LoadSecond *s, void *userdata) {
        Seen *seen = userdata;

        pthread_mutex_lock(&seen->lock);
        if (seen->n < ELEMENTSOF(seen->s))
                seen->s[seen->n++] = *s;
        pthread_mutex_unlock(&seen->lock);
}

static void on_done(LoadRun *run, void *userdata) {
        Seen *seen = userdata;

        (void) run;
        pthread_mutex_lock(&seen->lock);
        seen->done++;
        pthread_mutex_unlock(&seen->lock);
}

/* Runs `command` to its end (at most `wait_s` seconds, cancelling it after
 * `cancel_s` when > 0); the result, or NULL. */
static LoadResult *run_command(const char *command, const char *csv, uint64_t duration, uint64_t grace,
                               unsigned cancel_s, unsigned wait_s, Seen *seen) {
        LoadExec exec = { .command = command, .csv = csv, .grace_usec = grace };
        LoadScenario sc = { .name = "t", .model = LOAD_MODEL_EXEC, .duration_usec = duration, .exec = &exec };
        LoadCallbacks cb = { .on_second = on_second, .on_done = on_done, .userdata = seen };
        LoadResult *res = NULL;
        LoadRun *run = NULL;
        char *error = NULL;
        uint64_t start = now_monotonic_usec();

        if (load_run_start(&sc, &cb, &run, &error) < 0) {
                printf("# cannot start: %s\n", error ?: "?");
                free(error);
                return NULL;
        }
        while (!load_run_done(run) && now_monotonic_usec() - start < wait_s * SEC) {
                if (cancel_s && now_monotonic_usec() - start >= cancel_s * SEC) {
                        load_run_cancel(run);
                        cancel_s = 0;
                }
                usleep(20000);
        }
        (void) load_run_snapshot(run, &res);
        load_run_free(run);
        return res;
}

/* Whether a process of group `pgid` is still running: a zombie waiting
 * for its reaper (init, or whoever adopted the orphans) counts as gone. */
static bool group_alive(pid_t pgid) {
        bool found = false;
        DIR *d = opendir("/proc");
        struct dirent *e;

        while (d && !found && (e = readdir(d))) {
                char path[300], state = 0;
                int pgrp = 0;
                FILE *f;

                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
                f = fopen(path, "r");
                if (!f)
                        continue;
                if (fscanf(f, "%*d (%*[^)]) %c %*d %d", &state, &pgrp) == 2 && pgrp == pgid && state != 'Z')
                        found = true;
                fclose(f);
        }
        if (d)
                closedir(d);
        return found;
}

static pid_t read_pid(const char *name) {
        FILE *f = fopen(path_of(name), "r");
        int pid = 0;

        if (f) {
                if (fscanf(f, "%d", &pid) != 1)
                        pid = 0;
                fclose(f);
        }
        return pid;
}

static void test_run_import(void) {
        char command[1024];
        Seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };
        LoadResult *res;

        /* A stand-in for Locust: writes the two files, from the test's dir. */
        snprintf(command, sizeof command, "sh -c 'echo starting; cp %s/good_stats.csv ${run_dir}/l_stats.csv && "
                 "cp %s/good_stats_history.csv ${run_dir}/l_stats_history.csv && pwd > %s/cwd'", dir, dir, dir);
        res = run_command(command, "${run_dir}/l", 5 * SEC, 5 * SEC, 0, 20, &seen);
        ok(res && res->state == LOAD_RUN_COMPLETED && !res->reason, "a command that exits 0 with its CSV files "
           "completes (%s)", res && res->reason ? res->reason : "no reason");
        ok(res && res->total.counts.sent == 140 && res->total.counts.ok == 66 && res->total.counts.err_status == 74,
           "140 requests: 66 ok, 74 failures counted as status errors");
        ok(res && res->exec_json && strstr(res->exec_json, "\"95%\":14.0") && strstr(res->exec_json, "\"requests\":140") &&
           strstr(res->exec_json, "\"exit_status\":0") && strstr(res->exec_json, "closed loop"),
           "the run's locust object: Locust's 95%% of 14 ms, exit status 0, the latency source: %s",
           res && res->exec_json ? res->exec_json : "");
        ok(res && hist_count(res->total.latency) == 0, "and no latency of perfwatchd's own");
        ok(seen.done == 1 && seen.n == 3 && seen.s[0].at_usec == 1796150213 * SEC && seen.s[1].counts.sent == 50 &&
           seen.s[1].counts.err_status == 26 && seen.s[2].counts.sent == 93 && seen.s[2].counts.ok == 45 &&
           seen.s[2].p95_usec == 13000 && seen.s[2].achieved_rps == 45,
           "each history row is a second at its timestamp, with the totals' differences (got %zu)", seen.n);
        {
                char cwd[256] = "";
                FILE *f = fopen(path_of("cwd"), "r");
                struct stat st;

                if (f) {
                        if (!fgets(cwd, sizeof cwd, f))
                                cwd[0] = '\0';
                        fclose(f);
                }
                cwd[strcspn(cwd, "\n")] = '\0';
                ok(strstr(cwd, "/exec-t-") != NULL, "the command ran in the run's directory %s", cwd);
                ok(cwd[0] && stat(cwd, &st) < 0 && errno == ENOENT, "which is removed after a completed run");
        }
        load_result_free(res);
}

static void test_run_failures(void) {
        Seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };
        char command[512];
        uint64_t start;
        LoadResult *res;
        pid_t pid;

        res = run_command("sh -c 'echo to stdout; printf \"last words\" >&2; exit 1'", NULL, 5 * SEC, 5 * SEC, 0, 20,
                          &seen);
        ok(res && res->state == LOAD_RUN_FAILED && res->reason &&
           !strcmp(res->reason, "the command exited with status 1: last words"),
           "exit 1: failed, with the status and the last line: %s", res && res->reason ? res->reason : "");
        ok(res && res->exec_json && strstr(res->exec_json, "\"exit_status\":1") &&
           strstr(res->exec_json, "\"imported\":false") && strstr(res->exec_json, "locust_stats.csv: cannot be read"),
           "its locust object: exit 1, nothing imported, and why");
        load_result_free(res);

        /* As Locust does: the exception, then its tables. */
        res = run_command("sh -c 'echo Traceback; echo \"FileNotFoundError: /proc/stat\" >&2; "
                          "echo \"--|--\"; echo \"Aggregated 0\"; exit 2'", NULL, 5 * SEC, 5 * SEC, 0, 20, &seen);
        ok(res && res->state == LOAD_RUN_FAILED && res->reason &&
           !strcmp(res->reason, "the command exited with status 2: FileNotFoundError: /proc/stat"),
           "exit 2 after tables: the reason is the last line naming an error: %s",
           res && res->reason ? res->reason : "");
        load_result_free(res);

        res = run_command("no-such-command-perfwatch --x", NULL, 5 * SEC, 5 * SEC, 0, 20, &seen);
        ok(res && res->state == LOAD_RUN_FAILED && res->reason &&
           !strcmp(res->reason, "command not found: no-such-command-perfwatch"),
           "a command that does not exist: %s", res && res->reason ? res->reason : "");
        load_result_free(res);

        res = run_command("sh -c 'exit 0'", NULL, 5 * SEC, 5 * SEC, 0, 20, &seen);
        ok(res && res->state == LOAD_RUN_FAILED && res->reason &&
           strstr(res->reason, "cannot import Locust's figures: ") && strstr(res->reason, "locust_stats.csv"),
           "exit 0 without CSV files: failed, naming the file: %s", res && res->reason ? res->reason : "");
        load_result_free(res);

        snprintf(command, sizeof command, "sh -c 'trap \"\" TERM; echo $$ > %s/term.pid; sleep 1000'", dir);
        start = now_monotonic_usec();
        res = run_command(command, NULL, 1 * SEC, 1 * SEC, 0, 30, &seen);
        ok(res && res->state == LOAD_RUN_FAILED && res->reason &&
           !strcmp(res->reason, "the command did not stop within 1s of its duration 1s; killed (SIGKILL after "
                   "SIGTERM)"), "a command ignoring SIGTERM: %s", res && res->reason ? res->reason : "");
        ok(now_monotonic_usec() - start >= 7 * SEC && now_monotonic_usec() - start < 12 * SEC,
           "killed 1s + 1s grace + 5s after SIGTERM (%.1fs)", (double) (now_monotonic_usec() - start) / SEC);
        pid = read_pid("term.pid");
        for (int i = 0; i < 100 && pid > 0 && group_alive(pid); i++)
                usleep(20000);
        ok(pid > 0 && !group_alive(pid), "its process group %d is gone (the sleep too)", (int) pid);
        load_result_free(res);

        snprintf(command, sizeof command, "sh -c 'echo $$ > %s/cancel.pid; sleep 1000'", dir);
        start = now_monotonic_usec();
        res = run_command(command, NULL, 60 * SEC, 5 * SEC, 1, 30, &seen);
        ok(res && res->state == LOAD_RUN_CANCELLED, "a cancel stops the command: %s",
           res ? load_run_state_to_string(res->state) : "");
        ok(now_monotonic_usec() - start < 4 * SEC, "at once, by SIGTERM (%.1fs)",
           (double) (now_monotonic_usec() - start) / SEC);
        pid = read_pid("cancel.pid");
        for (int i = 0; i < 100 && pid > 0 && group_alive(pid); i++)
                usleep(20000);
        ok(pid > 0 && !group_alive(pid), "and its process group is gone");
        load_result_free(res);
}

int main(void) {
        if (!mkdtemp(dir)) {
                printf("Bail out! cannot make %s\n", dir);
                return 1;
        }
        /* The runs' directories go under it, and with it. */
        setenv("TMPDIR", dir, 1);
        unsetenv("STATE_DIRECTORY");
        test_split();
        test_csv();
        test_run_import();
        test_run_failures();
        {
                char cmd[300];

                snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
                (void) !system(cmd);
        }
        return tap_done();
}
