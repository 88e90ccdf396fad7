/* Helpers for C tests that drive the Go demo target: start it on ports the
 * kernel picks (its API address lands in `api`), stop it, set its stall. */
#pragma once

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "transport/curl-glue.h"
#include "util/util.h"

static pid_t target_pid;
static char api[128];


static inline int read_line(int fd, char *buf, size_t n, int timeout_ms) {
        size_t used = 0;

        while (used + 1 < n) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, timeout_ms) <= 0 || read(fd, buf + used, 1) != 1)
                        return -1;
                if (buf[used++] == '\n')
                        break;
        }
        buf[used] = '\0';
        return 0;
}

/* Starts the demo target on ports of the kernel's choice and reads its API
 * address from the line it prints once listening. */
static inline int start_target(void) {
        const char *bin = getenv("DEMO_TARGET");
        char line[512], *p;
        int fds[2];

        if (!bin || pipe(fds) < 0)
                return -1;
        target_pid = fork();
        if (target_pid < 0)
                return -1;
        if (target_pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                close(fds[0]);
                close(fds[1]);
                execl(bin, bin, "-api", "127.0.0.1:0", "-memory", "127.0.0.1:0", "-pprof", "127.0.0.1:0",
                      (char *) NULL);
                _exit(127);
        }
        close(fds[1]);
        if (read_line(fds[0], line, sizeof(line), 10000) < 0 || !(p = strstr(line, "api http://"))) {
                close(fds[0]);
                return -1;
        }
        p += strlen("api ");
        snprintf(api, sizeof(api), "%.*s", (int) strcspn(p, ", \n"), p);
        close(fds[0]);
        return 0;
}

static inline void stop_target(void) {
        if (target_pid <= 0)
                return;
        kill(target_pid, SIGTERM);
        waitpid(target_pid, NULL, 0);
}

/* POST /api/stall?d=D&p=P on the target (blocking: this is a test). */
static inline int set_stall(const char *d, const char *p) {
        char url[256], errbuf[CURL_ERROR_SIZE];
        CURL *e;
        long status = 0;
        CURLcode rc;

        snprintf(url, sizeof(url), "%s/api/stall?d=%s&p=%s", api, d, p);
        if (curl_glue_easy_new(url, 5 * USEC_PER_SEC, 5 * USEC_PER_SEC, errbuf, &e) < 0)
                return -1;
        (void) curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        (void) curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fwrite);
        (void) curl_easy_setopt(e, CURLOPT_WRITEDATA, stderr);
        rc = curl_easy_perform(e);
        (void) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(e);
        return rc == CURLE_OK && status == 200 ? 0 : -1;
}

