/* The bytes of a run's requests for the engine's own HTTP/1.1 client
 * (transport/h1-client.h): the same request line and header fields libcurl
 * sends for the same scenario, rendered once when constant, else per send
 * into the slot's buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load/load-internal.h"
#include "load/load-wire.h"
#include "util/util.h"

#define WIRE_VERSION " HTTP/1.1\r\n"
#define WIRE_CONTENT_LENGTH_MAX (sizeof("Content-Length: 18446744073709551615\r\n") - 1)
#define WIRE_FORM_TYPE "Content-Type: application/x-www-form-urlencoded\r\n"

/* The scenario's `header` line named `name`, or NULL. */
static const char *find_header(const LoadRun *run, const char *name) {
        size_t n = strlen(name);

        for (const struct curl_slist *l = run->headers; l; l = l->next)
                if (strncasecmp(l->data, name, n) == 0 && l->data[n] == ':')
                        return l->data;
        return NULL;
}

/* libcurl's rules: a scenario header replaces the default of its name; one
 * with an empty value ("Accept:") removes it and is not sent itself. */
static char *render_fields(const LoadRun *run, const char *host_line, bool body) {
        static const char *const defaults[] = { "User-Agent: " CURL_GLUE_USER_AGENT "\r\n", "Accept: */*\r\n" };
        size_t cap = strlen(WIRE_VERSION) + strlen(host_line) + strlen(defaults[0]) + strlen(defaults[1]) +
                     strlen(WIRE_FORM_TYPE) + 1, len = 0;
        char *s;

        for (const struct curl_slist *l = run->headers; l; l = l->next)
                cap += strlen(l->data) + 2;
        s = malloc(cap);
        if (!s)
                return NULL;
        len += (size_t) snprintf(s + len, cap - len, "%s", WIRE_VERSION);
        if (!find_header(run, "Host"))
                len += (size_t) snprintf(s + len, cap - len, "%s", host_line);
        if (!find_header(run, "User-Agent"))
                len += (size_t) snprintf(s + len, cap - len, "%s", defaults[0]);
        if (!find_header(run, "Accept"))
                len += (size_t) snprintf(s + len, cap - len, "%s", defaults[1]);
        for (const struct curl_slist *l = run->headers; l; l = l->next) {
                const char *v = strchr(l->data, ':') + 1;

                if (v[strspn(v, " \t")] != '\0')
                        len += (size_t) snprintf(s + len, cap - len, "%s\r\n", l->data);
        }
        if (body && !find_header(run, "Content-Type"))
                len += (size_t) snprintf(s + len, cap - len, "%s", WIRE_FORM_TYPE);
        return s;
}

static size_t max_size(size_t a, size_t b) {
        return a > b ? a : b;
}

int load_wire_setup(LoadRun *run, const char *host_line) {
        run->h1_fields = render_fields(run, host_line, false);
        run->h1_fields_body = render_fields(run, host_line, true);
        if (!run->h1_fields || !run->h1_fields_body)
                return -ENOMEM;
        run->h1_fields_len = strlen(run->h1_fields);
        run->h1_own_length = find_header(run, "Content-Length") != NULL;
        run->h1_fields_body_len = strlen(run->h1_fields_body);
        for (size_t i = 0; i < run->n_reqs; i++) {
                LoadReq *req = &run->reqs[i];
                size_t url = req->url ? strlen(req->url) : run->url_max;
                size_t body = req->body ? (req->body_text ? req->body_size : run->body_max) : 0;
                /* The method, a space, the target (a '/' may be added), the
                 * fields, a Content-Length, the blank line and the body. */
                size_t need = strlen(req->method) + 2 + url + run->h1_fields_body_len + WIRE_CONTENT_LENGTH_MAX +
                              2 + body;

                if (req->url && (!req->body || req->body_text)) {
                        req->wire = malloc(need + 1);
                        if (!req->wire)
                                return -ENOMEM;
                        req->wire_len = load_wire_render(run, req, req->url, req->body_text, req->body_size,
                                                         req->wire, need + 1);
                        if (req->wire_len == 0) {
                                /* Not valid on the wire: refused per send. */
                                free(req->wire);
                                req->wire = NULL;
                                run->wire_max = max_size(run->wire_max, need);
                        }
                } else
                        run->wire_max = max_size(run->wire_max, need);
        }
        return 0;
}

void load_wire_free(LoadRun *run) {
        free(run->h1_fields);
        free(run->h1_fields_body);
        run->h1_fields = run->h1_fields_body = NULL;
        for (size_t i = 0; run->reqs && i < run->n_reqs; i++) {
                free(run->reqs[i].wire);
                run->reqs[i].wire = NULL;
        }
}

/* Appends n bytes at p to out (cap bytes, *len used); false when full. */
static bool put(char *out, size_t cap, size_t *len, const char *p, size_t n) {
        if (n > cap - *len)
                return false;
        memcpy(out + *len, p, n);
        *len += n;
        return true;
}

size_t load_wire_render(const LoadRun *run, const LoadReq *req, const char *url, const char *body, size_t body_size,
                        char *out, size_t cap) {
        const char *target = url + run->authority_len;
        size_t target_len = strcspn(target, "#"), len = 0;
        char cl[WIRE_CONTENT_LENGTH_MAX + 1];

        /* libcurl refuses such a URL too (CURLUE_MALFORMED_INPUT). */
        for (size_t i = 0; i < target_len; i++)
                if ((unsigned char) target[i] <= ' ' || target[i] == 0x7f)
                        return 0;
        if (!put(out, cap, &len, req->method, strlen(req->method)) || !put(out, cap, &len, " ", 1))
                return 0;
        if ((target_len == 0 || target[0] != '/') && !put(out, cap, &len, "/", 1))
                return 0;
        if (!put(out, cap, &len, target, target_len))
                return 0;
        if (!body)
                return put(out, cap, &len, run->h1_fields, run->h1_fields_len) && put(out, cap, &len, "\r\n", 2) ?
                               len : 0;
        if (!put(out, cap, &len, run->h1_fields_body, run->h1_fields_body_len))
                return 0;
        if (!run->h1_own_length &&
            !put(out, cap, &len, cl, (size_t) snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", body_size)))
                return 0;
        if (!put(out, cap, &len, "\r\n", 2) || !put(out, cap, &len, body, body_size))
                return 0;
        return len;
}
