/* perfwatchd: parse options, load the config, build the manager, run the
 * loop, tear down.  Everything else lives in the modules. */
#include "config/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/manager.h"
#include "core/terminal-run.h"
#include "core/terminal-suite.h"
#include "transport/curl-glue.h"
#include "util/log.h"
#include "util/units.h"

enum {
        EXIT_USAGE = 2,
};

static void help(void) {
        printf("Usage: perfwatchd [OPTIONS]\n"
               "Watch a service under test and answer whether its acceptance criteria hold.\n\n"
               "  -c, --config PATH    configuration file (default %s)\n"
               "      --check-config   check the configuration file, print every problem, exit\n"
               "      --run NAME       run [scenario NAME] in the foreground, print its summary, exit\n"
               "                       0 when its criteria hold, 1 when not, 2 on error\n"
               "      --run A,B,...    run a suite: pre-flight checks, then each scenario in order,\n"
               "                       one combined verdict; the exit status is the worst run's\n"
               "      --no-preflight   with --run A,B,...: skip the pre-flight checks\n"
               "      --duration D     with --run: stop each run after D (e.g. 30s)\n"
               "      --json           with --run: print the run (a suite: an array) as JSON on stdout\n"
               "  -h, --help           show this help\n"
               "      --version        show the version\n\n"
               "See perfwatchd(8) and perfwatchd.conf(5).\n",
               CONFIG_DEFAULT_PATH);
}

typedef struct Options {
        const char *config_path;
        bool config_given;           /* --config was used */
        bool check_config;
        const char *run;             /* --run NAME or --run A,B,... */
        bool no_preflight;
        uint64_t duration_usec;      /* --duration; 0: the scenario's */
        bool json;
} Options;

/* getopt's own messages would start with argv[0], a path perhaps; these
 * start with "perfwatchd:" like every other message. */
static int usage_error(int c, char *argv[]) {
        const char *arg = argv[optind - 1];

        if (c == ':')
                fprintf(stderr, "perfwatchd: option '%s' needs an argument. Try 'perfwatchd --help'.\n", arg);
        else if (strncmp(arg, "--", 2) == 0 && optopt != 0)
                fprintf(stderr, "perfwatchd: option '%.*s' takes no argument. Try 'perfwatchd --help'.\n",
                        (int) strcspn(arg, "="), arg);
        else if (strncmp(arg, "--", 2) == 0)
                fprintf(stderr, "perfwatchd: unknown option '%s'. Try 'perfwatchd --help'.\n", arg);
        else
                fprintf(stderr, "perfwatchd: unknown option '-%c'. Try 'perfwatchd --help'.\n", optopt);
        return -EINVAL;
}

/* 0 to go on, 1 to exit successfully (help, version), -EINVAL on bad usage. */
static int parse_options(int argc, char *argv[], Options *o) {
        enum { ARG_CHECK_CONFIG = 0x100, ARG_VERSION, ARG_RUN, ARG_DURATION, ARG_JSON, ARG_NO_PREFLIGHT };
        static const struct option options[] = {
                { "config",       required_argument, NULL, 'c' },
                { "check-config", no_argument,       NULL, ARG_CHECK_CONFIG },
                { "run",          required_argument, NULL, ARG_RUN },
                { "duration",     required_argument, NULL, ARG_DURATION },
                { "json",         no_argument,       NULL, ARG_JSON },
                { "no-preflight", no_argument,       NULL, ARG_NO_PREFLIGHT },
                { "help",         no_argument,       NULL, 'h' },
                { "version",      no_argument,       NULL, ARG_VERSION },
                {}
        };
        int c;

        o->config_path = CONFIG_DEFAULT_PATH;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        o->config_path = optarg;
                        o->config_given = true;
                        break;
                case ARG_CHECK_CONFIG:
                        o->check_config = true;
                        break;
                case ARG_RUN:
                        o->run = optarg;
                        break;
                case ARG_DURATION:
                        if (units_parse_duration(optarg, &o->duration_usec) < 0 || o->duration_usec == 0) {
                                fprintf(stderr, "perfwatchd: --duration: \"%s\" is not a duration above 0\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_JSON:
                        o->json = true;
                        break;
                case ARG_NO_PREFLIGHT:
                        o->no_preflight = true;
                        break;
                case 'h':
                        help();
                        return 1;
                case ARG_VERSION:
                        printf("perfwatchd %s\n", PACKAGE_VERSION);
                        return 1;
                default:
                        return usage_error(c, argv);
                }
        }
        if (!o->run && (o->duration_usec > 0 || o->json || o->no_preflight)) {
                fprintf(stderr, "perfwatchd: --duration and --json go with --run NAME, as --no-preflight with a list. "
                        "Try 'perfwatchd --help'.\n");
                return -EINVAL;
        }
        if (optind < argc) {
                fprintf(stderr, "perfwatchd: unexpected argument '%s'. Try 'perfwatchd --help'.\n",
                        argv[optind]);
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        Manager *m = NULL;
        Config *config = NULL;
        char *errors = NULL;
        Options o = {};
        int r;

        r = parse_options(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : EXIT_USAGE;

        log_open();
        r = config_load(o.config_path, &config, &errors);
        if (r < 0) {
                fputs(errors ? errors : "", stderr);
                if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
                        fputc('\n', stderr);
                free(errors);
                if (r == -ENOENT && !o.config_given)
                        fprintf(stderr, "perfwatchd: no configuration installed at %s; name one with --config FILE\n",
                                o.config_path);
                return o.run ? TERMINAL_RUN_ERROR : EXIT_FAILURE;
        }
        if (o.check_config) {
                printf("%s: ok\n", o.config_path);
                config_free(config);
                return EXIT_SUCCESS;
        }

        r = curl_glue_global_init();
        if (r < 0) {
                log_error("cannot initialise libcurl");
                config_free(config);
                return o.run ? TERMINAL_RUN_ERROR : EXIT_FAILURE;
        }
        if (o.run) {
                /* One name runs as it always did; a list is a suite. */
                r = strchr(o.run, ',') ? terminal_suite(config, o.run, o.duration_usec, o.json, !o.no_preflight)
                                       : terminal_run(config, o.run, o.duration_usec, o.json);
                curl_glue_global_cleanup();
                config_free(config);
                return r;
        }
        r = manager_new(config, &m);
        if (r >= 0)
                r = manager_run(m);
        manager_free(m);
        curl_glue_global_cleanup();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
